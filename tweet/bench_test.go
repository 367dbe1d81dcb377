package tweet

import (
	stdjson "encoding/json"
	"testing"
	"time"

	json "github.com/goccy/go-json"
)

// corpus is the fixtures' real tweets: the seed's Korean retweet and the 15
// search statuses (7 retweets, en and ru).
func corpus(b *testing.B) ([][]byte, int64) {
	recs := append([][]byte{seedTweet(b)}, searchStatuses(b)...)
	var n int64
	for _, r := range recs {
		n += int64(len(r))
	}
	return recs, n
}

func benchDecode(b *testing.B, unmarshal unmarshalFunc, sink func(*Tweet)) {
	recs, size := corpus(b)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range recs {
			m, err := decode(r, unmarshal)
			if err != nil {
				b.Fatal(err)
			}
			sink(&m.Tweets[0])
		}
	}
}

// BenchmarkDecodeItem is the consumer's hot path: bytes → EventData item.
func BenchmarkDecodeItem(b *testing.B) {
	now := time.Now()
	for _, lib := range []struct {
		name string
		fn   unmarshalFunc
	}{{"goccy", json.Unmarshal}, {"stdlib", stdjson.Unmarshal}} {
		b.Run(lib.name, func(b *testing.B) {
			benchDecode(b, lib.fn, func(t *Tweet) { _ = t.Item(now, 7) })
		})
	}
}

// BenchmarkDecodeCondensed is the transformer's hot path: bytes → one line.
func BenchmarkDecodeCondensed(b *testing.B) {
	buf := make([]byte, 0, 4096)
	for _, lib := range []struct {
		name string
		fn   unmarshalFunc
	}{{"goccy", json.Unmarshal}, {"stdlib", stdjson.Unmarshal}} {
		b.Run(lib.name, func(b *testing.B) {
			benchDecode(b, lib.fn, func(t *Tweet) { buf = t.AppendCondensed(buf[:0]) })
		})
	}
}
