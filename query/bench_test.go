package query

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/streamproc/streamproc/queries"
	"github.com/streamproc/streamproc/source/synthetic"
	"github.com/streamproc/streamproc/tweet"
)

// benchRecords is how many condensed records BenchmarkQuery writes
// (STREAMPROC_BENCH_RECORDS overrides it).
const benchRecords = 1_000_000

// BenchmarkQuery times statements over a bucket of delivered records laid
// out as Firehose does (5 MB objects under tweets/yyyy/MM/dd/HH/, the
// template's DeliveryBufferMB), generated from synthetic tweets through the
// transformer's encoding. Run it with
//
//	go test -run x -bench BenchmarkQuery -benchtime 3x ./query/
//
// It reports the data size; generating it takes a while and is not timed.
func BenchmarkQuery(b *testing.B) {
	n := benchRecords
	if s := os.Getenv("STREAMPROC_BENCH_RECORDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	bucket := b.TempDir()
	size, objects := writeBenchBucket(b, bucket, n)
	b.Logf("%d records in %d objects, %.1f MB", n, objects, float64(size)/1e6)
	ctx := context.Background()
	topHashtags, err := queries.Get("top_hashtags")
	if err != nil {
		b.Fatal(err)
	}
	languageMix, err := queries.Get("language_mix")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			db, err := Open(ctx, Options{BucketDir: bucket})
			if err != nil {
				b.Fatal(err)
			}
			_ = db.Close()
		}
	})
	db, err := Open(ctx, Options{BucketDir: bucket})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, q := range []struct{ name, sql string }{
		{"count", "SELECT count(*) FROM records"},
		{"top_hashtags", topHashtags.SQL},
		{"language_mix", languageMix.SQL},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				res, err := db.Query(ctx, q.sql)
				if err != nil {
					b.Fatal(err)
				}
				if q.name == "count" && res.Rows[0][0] != int64(n) {
					b.Fatalf("count = %v, want %d", res.Rows[0][0], n)
				}
			}
		})
	}
}

// writeBenchBucket writes n condensed records into objects of about 5 MB
// in the last two hourly partitions and returns their total size.
func writeBenchBucket(b *testing.B, bucket string, n int) (size int64, objects int) {
	b.Helper()
	now := time.Now().UTC()
	gen := synthetic.New(synthetic.Options{Seed: 1, DeleteRate: -1, Now: func() time.Time { return now }})
	var f *os.File
	var w *bufio.Writer
	var written int64
	closeObject := func() {
		if f == nil {
			return
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		f = nil
	}
	var line []byte
	for i := 0; i < n; {
		msg, err := tweet.Decode(gen.Next().Raw)
		if err != nil {
			b.Fatal(err)
		}
		if msg.Kind != tweet.KindTweet {
			continue
		}
		if f == nil || written >= 5<<20 {
			closeObject()
			hour := now.Add(-time.Duration(i*2/n) * time.Hour) // first half an hour earlier
			dir := filepath.Join(bucket, "tweets", hour.Format("2006/01/02/15"))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("streamproc-FirehoseDeliveryStream-1-%s-%08d", hour.Format("2006-01-02-15-04-05"), objects)
			if f, err = os.Create(filepath.Join(dir, name)); err != nil {
				b.Fatal(err)
			}
			w = bufio.NewWriterSize(f, 1<<20)
			written = 0
			objects++
		}
		line = msg.Tweets[0].AppendCondensed(line[:0])
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		written += int64(len(line))
		size += int64(len(line))
		i++
	}
	closeObject()
	return size, objects
}
