package table

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

// benchItem is an EventData item of about 1 KB, shaped like the reference
// consumer's output.
func benchItem(user, id int) streamproc.Item {
	return streamproc.Item{
		"Username":       fmt.Sprintf("user_%04d", user),
		"Id":             fmt.Sprintf("%019d", 1800000000000000000+id),
		"Timestamp":      time.Unix(1_750_000_000+int64(id), 0).UTC().Format(time.RFC3339),
		"Message":        strings.Repeat("Streaming tweets through Kinesis into DynamoDB 🚀 #aws #serverless ", 13),
		"Name":           "Display Name",
		"Lang":           "en",
		"Hashtags":       []string{"aws", "serverless"},
		"ExpirationTime": 1_750_000_000 + 7*86400,
	}
}

func benchStore(b *testing.B) *Store {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.CreateTable(context.Background(), events); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkBatchPut: one goroutine, one synced 25-item batch per op, so it
// measures fsync latency.
func BenchmarkBatchPut(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	id := 0
	batch := make([]streamproc.Item, streamproc.MaxBatchPut)
	b.SetBytes(int64(len(benchItem(0, 0)["Message"].(string))) * streamproc.MaxBatchPut)
	for b.Loop() {
		for i := range batch {
			batch[i] = benchItem(id%100, id)
			id++
		}
		if _, err := s.BatchPut(ctx, events.Name, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(id)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkBatchPutParallel: concurrent writers share fsyncs through Pebble's
// group commit.
func BenchmarkBatchPutParallel(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		batch := make([]streamproc.Item, streamproc.MaxBatchPut)
		for pb.Next() {
			base := int(next.Add(streamproc.MaxBatchPut))
			for i := range batch {
				batch[i] = benchItem((base+i)%100, base+i)
			}
			if _, err := s.BatchPut(ctx, events.Name, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkQuery reads from 100 partitions of 100 items each.
func BenchmarkQuery(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const users, perUser = 100, 100
	var batch []streamproc.Item
	for u := range users {
		for i := range perUser {
			batch = append(batch, benchItem(u, u*perUser+i))
			if len(batch) == streamproc.MaxBatchPut {
				if _, err := s.BatchPut(ctx, events.Name, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	for _, tc := range []struct {
		name string
		q    func(u int) streamproc.Query
		want int
	}{
		{"latest20", func(u int) streamproc.Query {
			return streamproc.Query{Hash: fmt.Sprintf("user_%04d", u), Descending: true, Limit: 20}
		}, 20},
		{"partition100", func(u int) streamproc.Query {
			return streamproc.Query{Hash: fmt.Sprintf("user_%04d", u)}
		}, perUser},
	} {
		b.Run(tc.name, func(b *testing.B) {
			u := 0
			for b.Loop() {
				items, err := s.Query(ctx, events.Name, tc.q(u%users))
				if err != nil || len(items) != tc.want {
					b.Fatalf("Query: %d items, %v", len(items), err)
				}
				u++
			}
			b.ReportMetric(float64(u*tc.want)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
