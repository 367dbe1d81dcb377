package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

// benchBatches builds n PutRecords batches of 500 records of size bytes
// (random data, random 8-12 character partition keys).
func benchBatches(n, size int) [][]streamproc.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]streamproc.Record, n)
	for i := range out {
		out[i] = make([]streamproc.Record, streamproc.MaxPutRecords)
		for j := range out[i] {
			d := make([]byte, size)
			for k := range d {
				d[k] = byte(rng.Uint32())
			}
			out[i][j] = streamproc.Record{PartitionKey: fmt.Sprintf("user-%d", rng.IntN(1_000_000)), Data: d}
		}
	}
	return out
}

// BenchmarkPutRecords measures durable (fsynced, group-committed) writes:
// 8 concurrent writers (parallelism 4 × GOMAXPROCS 2 on the reference box)
// each calling PutRecords with 500 records. One op = one call.
func BenchmarkPutRecords(b *testing.B) {
	for _, size := range []int{1 << 10, 5 << 10} {
		for _, shards := range []int{1, 4} {
			b.Run(fmt.Sprintf("%dKiB/shards=%d", size>>10, shards), func(b *testing.B) {
				e := mustOpen(b, "", Options{})
				mustCreate(b, e, "bench", shards)
				batches := benchBatches(16, size)
				b.SetBytes(int64(streamproc.MaxPutRecords * size))
				b.ReportAllocs()
				b.SetParallelism(4)
				cpu0 := processCPU()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := rand.IntN(len(batches))
					for pb.Next() {
						res, err := e.PutRecords(context.Background(), "bench", batches[i%len(batches)])
						if err != nil {
							b.Error(err)
							return
						}
						if res[0].ErrorCode != "" {
							b.Error(res[0].ErrorCode)
							return
						}
						i++
					}
				})
				b.ReportMetric(float64(b.N*streamproc.MaxPutRecords)/b.Elapsed().Seconds(), "records/s")
				reportCPU(b, cpu0, b.N*streamproc.MaxPutRecords)
			})
		}
	}
}

// BenchmarkRead measures GetRecords-style reads of 1 KiB records from one
// shard holding 100,000 of them (warm page cache). One op = one Read.
func BenchmarkRead(b *testing.B) {
	const total = 100_000
	for _, limit := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("1KiB/limit=%d", limit), func(b *testing.B) {
			e := mustOpen(b, "", Options{})
			mustCreate(b, e, "bench", 1)
			batches := benchBatches(total/streamproc.MaxPutRecords, 1<<10)
			for _, recs := range batches {
				mustPut(b, e, "bench", recs...)
			}
			start := mustIter(b, e, "bench", shardID(0), Position{Type: TrimHorizon})
			c := start
			b.SetBytes(int64(limit << 10))
			b.ReportAllocs()
			cpu0 := processCPU()
			b.ResetTimer()
			for b.Loop() {
				batch, err := e.Read(context.Background(), "bench", shardID(0), c, limit, 0)
				if err != nil {
					b.Fatal(err)
				}
				if len(batch.Records) != limit {
					b.Fatalf("read %d records", len(batch.Records))
				}
				c = batch.Next
				if batch.MillisBehindLatest == 0 { // reached the tip: start over
					c = start
				}
			}
			b.ReportMetric(float64(b.N*limit)/b.Elapsed().Seconds(), "records/s")
			reportCPU(b, cpu0, b.N*limit)
		})
	}
}

// reportCPU reports process CPU time (user+system, all threads) per record
// since cpu0: a cost that, unlike records/s, does not depend on how busy a
// shared machine is.
func reportCPU(b *testing.B, cpu0 time.Duration, records int) {
	if cpu := processCPU(); cpu > 0 && records > 0 {
		b.ReportMetric(float64(cpu-cpu0)/float64(records), "cpu-ns/record")
	}
}
