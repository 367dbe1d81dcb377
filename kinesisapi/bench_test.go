package kinesisapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/streamproc/streamproc/kinesisapi"
	"github.com/streamproc/streamproc/local/stream"
)

// fakeAuth is a well-formed SigV4 header, which is all a handler without
// credentials checks.
const fakeAuth = "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"

// call sends one request straight to the handler (no network).
func call(h http.Handler, op string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	r.Header.Set("X-Amz-Date", "20261126T120000Z")
	r.Header.Set("Authorization", fakeAuth)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// putBody is a PutRecords request of n records of size bytes, as an SDK
// would send it.
func putBody(streamName string, n, size int, rng *rand.Rand) []byte {
	type entry struct {
		Data         string
		PartitionKey string
	}
	recs := make([]entry, n)
	for i := range recs {
		d := make([]byte, size)
		for k := range d {
			d[k] = byte(rng.Uint32())
		}
		recs[i] = entry{base64.StdEncoding.EncodeToString(d), fmt.Sprintf("user-%d", rng.IntN(1_000_000))}
	}
	b, _ := json.Marshal(map[string]any{"StreamName": streamName, "Records": recs})
	return b
}

func benchHandler(b *testing.B) (http.Handler, *stream.Engine) {
	e, err := stream.Open(b.TempDir(), stream.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return kinesisapi.New(e, kinesisapi.Options{}), e
}

// BenchmarkServePutRecords measures the handler alone (decode, durable
// write, encode) for PutRecords of 500 × 100 B records, 8 callers. One op
// is one call.
func BenchmarkServePutRecords(b *testing.B) {
	h, e := benchHandler(b)
	if err := e.CreateStream(b.Context(), "bench", 4); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, 8)
	for i := range bodies {
		bodies[i] = putBody("bench", 500, 100, rng)
	}
	b.SetBytes(500 * 100)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			w := call(h, "PutRecords", bodies[i%len(bodies)])
			if w.Code != 200 {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkServeGetRecords measures GetRecords of 1,000 records of 100 B.
func BenchmarkServeGetRecords(b *testing.B) {
	h, e := benchHandler(b)
	if err := e.CreateStream(b.Context(), "bench", 1); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		if w := call(h, "PutRecords", putBody("bench", 500, 100, rng)); w.Code != 200 {
			b.Fatal(w.Body)
		}
	}
	w := call(h, "GetShardIterator", []byte(`{"StreamName":"bench","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`))
	var it struct{ ShardIterator string }
	if err := json.Unmarshal(w.Body.Bytes(), &it); err != nil {
		b.Fatal(err)
	}
	req := []byte(`{"ShardIterator":"` + it.ShardIterator + `","Limit":1000}`)
	b.SetBytes(1000 * 100)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := call(h, "GetRecords", req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		_, _ = io.Copy(io.Discard, w.Body)
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "records/s")
}
