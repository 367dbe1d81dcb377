package kinesis_test

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/kinesis"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/shardmap"
)

// env is one kinesalite with a fault proxy in front of it. raw talks to
// kinesalite directly, for setup and for reading back what landed; writer
// goes through the proxy with SDK retries off, so each injected fault is
// seen exactly once.
type env struct {
	raw    *awskinesis.Client
	proxy  *emulator.Proxy
	writer *kinesis.Writer
}

func setup(t *testing.T) env {
	t.Helper()
	ep := emulator.Kinesalite(t)
	proxy := newFaultProxy(t, ep)
	return env{
		raw:    emulator.KinesisClient(ep),
		proxy:  proxy,
		writer: kinesis.New(emulator.KinesisClient(proxy.URL(), noRetries)),
	}
}

func noRetries(o *awskinesis.Options) { o.Retryer = aws.NopRetryer{} }

func streamARN(name string) string { return "arn:aws:kinesis:us-east-1:000000000000:stream/" + name }

func createStream(t *testing.T, c *awskinesis.Client, name string, shards int32) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	waitActive(t, c, name)
}

func waitActive(t *testing.T, c *awskinesis.Client, name string) {
	t.Helper()
	w := awskinesis.NewStreamExistsWaiter(c, func(o *awskinesis.StreamExistsWaiterOptions) { o.MinDelay = 10 * time.Millisecond })
	if err := w.Wait(context.Background(), &awskinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatalf("stream %s not ACTIVE: %v", name, err)
	}
}

// landed reads every record of every shard (open or closed) from the trim
// horizon, keyed by shard id.
func landed(t *testing.T, c *awskinesis.Client, stream string) map[string][]types.Record {
	t.Helper()
	ctx := context.Background()
	shards, err := c.ListShards(ctx, &awskinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]types.Record{}
	for _, s := range shards.Shards {
		it, err := c.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			got, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			out[*s.ShardId] = append(out[*s.ShardId], got.Records...)
			if len(got.Records) == 0 {
				break
			}
			iter = got.NextShardIterator
		}
	}
	return out
}

func put(t *testing.T, w *kinesis.Writer, stream string, records []streamproc.Record) []streamproc.PutResult {
	t.Helper()
	var all []streamproc.PutResult
	for chunk := range slices.Chunk(records, streamproc.MaxPutRecords) {
		res, err := w.PutRecords(context.Background(), stream, chunk)
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		if len(res) != len(chunk) {
			t.Fatalf("PutRecords returned %d results for %d records", len(res), len(chunk))
		}
		all = append(all, res...)
	}
	return all
}

// maxHashKey is 2^128-1, the top of the hash-key space.
func maxHashKey() *big.Int {
	return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
}

func bigInt(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("%q is not a decimal integer", s)
	}
	return v
}

// checkCover fails unless shards tile [0, 2^128-1] without gaps or overlaps,
// which is what the open shards of a stream always do.
func checkCover(t *testing.T, shards []streamproc.Shard) {
	t.Helper()
	sorted := slices.Clone(shards)
	slices.SortFunc(sorted, func(a, b streamproc.Shard) int {
		return bigInt(t, a.StartingHashKey).Cmp(bigInt(t, b.StartingHashKey))
	})
	next := big.NewInt(0)
	for _, s := range sorted {
		if bigInt(t, s.StartingHashKey).Cmp(next) != 0 {
			t.Fatalf("open shards %v do not tile the hash-key space: %s starts at %s, want %s", shards, s.ID, s.StartingHashKey, next)
		}
		next = new(big.Int).Add(bigInt(t, s.EndingHashKey), big.NewInt(1))
	}
	if new(big.Int).Sub(next, big.NewInt(1)).Cmp(maxHashKey()) != 0 {
		t.Fatalf("open shards %v end at %s, want 2^128-1", shards, new(big.Int).Sub(next, big.NewInt(1)))
	}
}

// splitAndMerge reshards a 4-shard stream: shard 0 splits into 4 and 5,
// shards 2 and 3 merge into 6. Closed parents 0, 2 and 3 stay listed by
// ListShards but must not be returned by Shards.
func splitAndMerge(t *testing.T, c *awskinesis.Client, stream string) {
	t.Helper()
	ctx := context.Background()
	first := shardmap.Even(4)[0]
	mid := new(big.Int).Div(bigInt(t, first.EndingHashKey), big.NewInt(3))
	if _, err := c.SplitShard(ctx, &awskinesis.SplitShardInput{
		StreamName: aws.String(stream), ShardToSplit: aws.String(first.ID), NewStartingHashKey: aws.String(mid.String()),
	}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	waitActive(t, c, stream)
	if _, err := c.MergeShards(ctx, &awskinesis.MergeShardsInput{
		StreamName: aws.String(stream), ShardToMerge: aws.String(shardmap.ShardID(2)), AdjacentShardToMerge: aws.String(shardmap.ShardID(3)),
	}); err != nil {
		t.Fatalf("MergeShards: %v", err)
	}
	waitActive(t, c, stream)
}

// TestShardsAndRouting: Shards returns exactly the open shards, and every
// record lands on the shard shardmap computes from those shards — the
// producer packs KPL aggregates by that computation, so the two must agree
// with Kinesis bit for bit. Routing on a freshly created stream is in the
// conformance suite; these cases add a stream named by ARN and the closed
// parents a reshard leaves.
func TestShardsAndRouting(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		shards   int32
		reshard  func(t *testing.T, c *awskinesis.Client, stream string)
		byARN    bool
		wantOpen []string // nil: the CreateStream layout, shardmap.Even
	}{
		{name: "seven shards named by ARN", shards: 7, byARN: true},
		{name: "after split and merge", shards: 4, reshard: splitAndMerge,
			wantOpen: []string{shardmap.ShardID(1), shardmap.ShardID(4), shardmap.ShardID(5), shardmap.ShardID(6)}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("routing-%d", i)
			createStream(t, e.raw, name, tc.shards)
			if tc.reshard != nil {
				tc.reshard(t, e.raw, name)
			}
			stream := name
			if tc.byARN {
				stream = streamARN(name)
			}

			shards, err := e.writer.Shards(ctx, stream)
			if err != nil {
				t.Fatal(err)
			}
			checkCover(t, shards)
			if tc.wantOpen == nil {
				if want := shardmap.Even(int(tc.shards)); !slices.Equal(shards, want) {
					t.Fatalf("Shards = %v\nwant shardmap.Even(%d) = %v", shards, tc.shards, want)
				}
			} else {
				var ids []string
				for _, s := range shards {
					ids = append(ids, s.ID)
				}
				slices.Sort(ids)
				if !slices.Equal(ids, tc.wantOpen) {
					t.Fatalf("open shards %v, want %v", ids, tc.wantOpen)
				}
			}

			m, err := shardmap.New(shards)
			if err != nil {
				t.Fatal(err)
			}
			var records []streamproc.Record
			for k := range 300 {
				records = append(records, streamproc.Record{PartitionKey: fmt.Sprintf("user-%d", k), Data: []byte{byte(k)}})
			}
			// Explicit hash keys on every shard boundary and at both ends of
			// the space: an off-by-one in either implementation shows here.
			for _, s := range shards {
				for _, h := range []string{s.StartingHashKey, s.EndingHashKey} {
					records = append(records, streamproc.Record{PartitionKey: "explicit", ExplicitHashKey: h, Data: []byte(h)})
				}
			}
			records = append(records,
				streamproc.Record{PartitionKey: "explicit", ExplicitHashKey: "0"},
				streamproc.Record{PartitionKey: "explicit", ExplicitHashKey: maxHashKey().String()})

			for i, res := range put(t, e.writer, stream, records) {
				r := records[i]
				idx, err := m.Route(r.PartitionKey, r.ExplicitHashKey)
				if err != nil {
					t.Fatal(err)
				}
				if res.ErrorCode != "" || res.SequenceNumber == "" {
					t.Fatalf("record %d: %+v, want success", i, res)
				}
				if want := shards[idx].ID; res.ShardID != want {
					t.Fatalf("record %d (key %q, explicit %q) landed on %s; shardmap routes it to %s",
						i, r.PartitionKey, r.ExplicitHashKey, res.ShardID, want)
				}
			}
			for _, req := range e.proxy.Requests("PutRecords") {
				if req.Body["StreamName"] == nil {
					t.Fatalf("PutRecords sent without StreamName: %v", req.Body)
				}
			}
		})
	}
}

// TestPutRecordsPartialFailure: entries Kinesis fails inside an HTTP 200
// response come back as results with ErrorCode and ErrorMessage, in their
// positions, with no error for the call; only the others were written.
func TestPutRecordsPartialFailure(t *testing.T) {
	e := setup(t)
	tests := []struct {
		name string
		keys []string
	}{
		{"mixed", []string{"ok-0", "fail-throttle-1", "ok-2", "fail-internal-3", "ok-4", "fail-throttle-5"}},
		{"all failed", []string{"fail-throttle-0", "fail-internal-1"}},
		{"none failed", []string{"ok-0", "ok-1"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := fmt.Sprintf("partial-%d", i)
			createStream(t, e.raw, stream, 1)
			var recs []streamproc.Record
			var wantLanded []string
			for _, k := range tc.keys {
				recs = append(recs, streamproc.Record{PartitionKey: k, Data: []byte("data-" + k)})
				if strings.HasPrefix(k, "ok") {
					wantLanded = append(wantLanded, "data-"+k)
				}
			}
			res, err := e.writer.PutRecords(context.Background(), stream, recs)
			if err != nil {
				t.Fatalf("PutRecords: %v (a partial failure is not a call error)", err)
			}
			if len(res) != len(recs) {
				t.Fatalf("%d results for %d records", len(res), len(recs))
			}
			for j, r := range res {
				k := tc.keys[j]
				var wantCode string
				switch {
				case strings.HasPrefix(k, "fail-throttle"):
					wantCode = "ProvisionedThroughputExceededException"
				case strings.HasPrefix(k, "fail-internal"):
					wantCode = "InternalFailure"
				}
				if wantCode == "" {
					if r.ErrorCode != "" || r.SequenceNumber == "" || r.ShardID == "" {
						t.Fatalf("result %d (%s) = %+v, want a sequence number and shard", j, k, r)
					}
					continue
				}
				if r.ErrorCode != wantCode || r.ErrorMessage == "" || r.SequenceNumber != "" || r.ShardID != "" {
					t.Fatalf("result %d (%s) = %+v, want only ErrorCode %s and a message", j, k, r, wantCode)
				}
			}
			var got []string
			for _, r := range landed(t, e.raw, stream)[shardmap.ShardID(0)] {
				got = append(got, string(r.Data))
			}
			if !slices.Equal(got, wantLanded) {
				t.Fatalf("stream holds %q, want %q", got, wantLanded)
			}
		})
	}
}

// TestPutRecordsEmpty: no records, no call, no results.
func TestPutRecordsEmpty(t *testing.T) {
	e := setup(t)
	res, err := e.writer.PutRecords(context.Background(), "no-such-stream", nil)
	if err != nil || len(res) != 0 {
		t.Fatalf("PutRecords(nil) = %v, %v; want no results and no error", res, err)
	}
	if n := len(e.proxy.Requests("PutRecords")); n != 0 {
		t.Fatalf("%d PutRecords requests sent for no records", n)
	}
}

// TestShardsPagination: Shards follows NextToken to the end whatever the
// page size, sending the token without the stream name on later pages.
func TestShardsPagination(t *testing.T) {
	e := setup(t)
	const stream = "paged"
	createStream(t, e.raw, stream, 7)
	for _, size := range []int32{0, 1, 2, 3, 6, 7, 8, 1000} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			before := len(e.proxy.Requests("ListShards"))
			w := kinesis.New(emulator.KinesisClient(e.proxy.URL(), noRetries))
			w.ShardPageSize = size
			shards, err := w.Shards(context.Background(), stream)
			if err != nil {
				t.Fatal(err)
			}
			if want := shardmap.Even(7); !slices.Equal(shards, want) {
				t.Fatalf("Shards = %v\nwant %v", shards, want)
			}
			reqs := e.proxy.Requests("ListShards")[before:]
			wantPages := 1
			if size > 0 {
				wantPages = (7 + int(size) - 1) / int(size)
			}
			if len(reqs) != wantPages {
				t.Fatalf("%d ListShards calls, want %d", len(reqs), wantPages)
			}
			for i, r := range reqs {
				if i == 0 && (r.Body["StreamName"] != stream || r.Body["NextToken"] != nil) {
					t.Fatalf("first page request %v, want StreamName and no NextToken", r.Body)
				}
				if i > 0 && (r.Body["StreamName"] != nil || r.Body["NextToken"] == nil) {
					t.Fatalf("page %d request %v, want NextToken and no StreamName", i+1, r.Body)
				}
			}
		})
	}
}

// TestErrors: whole-call failures wrap exactly one of the streamproc kinds
// (or none, for failures that are neither the caller's fault nor transient)
// and name the stream. A missing stream and malformed records are in the
// conformance suite; these are the ARN forms and the faults only the proxy
// can inject.
func TestErrors(t *testing.T) {
	e := setup(t)
	const stream = "errors"
	createStream(t, e.raw, stream, 2)
	ctx := context.Background()
	one := []streamproc.Record{{PartitionKey: "k", Data: []byte("v")}}
	putTo := func(w *kinesis.Writer, stream string, recs []streamproc.Record) func() error {
		return func() error { _, err := w.PutRecords(ctx, stream, recs); return err }
	}
	shardsOf := func(w *kinesis.Writer, stream string) func() error {
		return func() error { _, err := w.Shards(ctx, stream); return err }
	}
	// A writer whose endpoint refuses connections: a port that was free a
	// moment ago.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := kinesis.New(emulator.KinesisClient("http://"+l.Addr().String(), noRetries))
	l.Close()
	// A writer that retries like the SDK default (without the waiting), so
	// the error it returns is the SDK's "retry quota/attempts exhausted"
	// wrapping.
	retrying := kinesis.New(emulator.KinesisClient(e.proxy.URL(), func(o *awskinesis.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 2
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}))

	tests := []struct {
		name   string
		faults []emulator.Fault // injected into the next requests, in order
		call   func() error
		want   error // nil: none of the three kinds
		names  string
	}{
		{name: "PutRecords missing stream ARN", call: putTo(e.writer, streamARN("missing"), one), want: streamproc.ErrNotFound, names: "stream/missing"},
		{name: "not a stream ARN", call: putTo(e.writer, "arn:aws:kinesis:us-east-1:000000000000:stream/a/consumer/b", one), want: streamproc.ErrInvalid, names: "consumer/b"},
		{name: "Shards of a non-Kinesis ARN", call: shardsOf(e.writer, "arn:aws:sqs:us-east-1:000000000000:q"), want: streamproc.ErrInvalid, names: "sqs"},
		{name: "InternalFailure 500", faults: []emulator.Fault{{Status: 500, Code: "InternalFailure"}}, call: putTo(e.writer, stream, one), want: streamproc.ErrUnavailable, names: stream},
		{name: "throughput exceeded", faults: []emulator.Fault{{Status: 400, Code: "ProvisionedThroughputExceededException"}}, call: putTo(e.writer, stream, one), want: streamproc.ErrUnavailable, names: stream},
		{name: "KMS throttling", faults: []emulator.Fault{{Status: 400, Code: "KMSThrottlingException"}}, call: putTo(e.writer, stream, one), want: streamproc.ErrUnavailable, names: stream},
		{name: "503 without a JSON body", faults: []emulator.Fault{{Status: 503, Code: ""}}, call: putTo(e.writer, stream, one), want: streamproc.ErrUnavailable, names: stream},
		{name: "Shards limit exceeded", faults: []emulator.Fault{{Status: 400, Code: "LimitExceededException"}}, call: shardsOf(e.writer, stream), want: streamproc.ErrUnavailable, names: stream},
		{name: "connection refused", call: putTo(closed, stream, one), want: streamproc.ErrUnavailable, names: stream},
		{name: "retries exhausted", faults: []emulator.Fault{{Status: 500, Code: "InternalFailure"}, {Status: 500, Code: "InternalFailure"}}, call: putTo(retrying, stream, one), want: streamproc.ErrUnavailable, names: stream},
		{name: "access denied", faults: []emulator.Fault{{Status: 400, Code: "AccessDeniedException"}}, call: putTo(e.writer, stream, one), want: nil, names: stream},
	}
	kinds := []error{streamproc.ErrNotFound, streamproc.ErrInvalid, streamproc.ErrUnavailable}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.proxy.Queue(tc.faults...)
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			for _, k := range kinds {
				if got, want := errors.Is(err, k), k == tc.want; got != want {
					t.Fatalf("errors.Is(%v, %v) = %v, want %v", err, k, got, want)
				}
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("error %q does not name %q", err, tc.names)
			}
		})
	}
}
