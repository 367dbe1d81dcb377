package tweet

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add(seedTweet(f))
	for _, s := range searchStatuses(f) {
		f.Add(s)
	}
	f.Add([]byte(`{"delete":{"status":{"id":1}}}`))
	f.Add([]byte(`{"data":{"id":"1","text":"x #a","created_at":"2024-01-15T10:30:00Z","author_id":"9"},"includes":{"users":[{"id":"9","username":"u"}]}}`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrNotUTF8) && !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrNotTweet) {
				t.Fatalf("error %v is none of the documented kinds", err)
			}
			return
		}
		for i := range m.Tweets {
			tw := &m.Tweets[i]
			if tw.ID <= 0 || tw.User.ScreenName == "" {
				t.Fatalf("accepted a tweet without id or author: %+v", tw)
			}
			line := tw.AppendCondensed(nil)
			if !stdjson.Valid(line) || bytes.IndexByte(line, '\n') != len(line)-1 {
				t.Fatalf("condensed record is not one JSON line: %q", line)
			}
		}
	})
}
