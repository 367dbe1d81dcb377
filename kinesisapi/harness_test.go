package kinesisapi_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/kinesisapi"
	"github.com/streamproc/streamproc/local/stream"
)

// testClock is real time plus an offset tests can move forward, so the
// engine still sees time pass between calls (arrival order, AT_TIMESTAMP)
// while expiry and retention can be jumped over.
type testClock struct {
	off atomic.Int64
}

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// fixedClock is a clock that only moves when told to, for rate limits.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// target is one implementation of the Kinesis API under test: ours over an
// engine in a temp dir, or kinesalite.
type target struct {
	name   string
	url    string
	client *kinesis.Client
	// For ours only: the engine behind it and the clock both share.
	engine *stream.Engine
	clock  *testClock
	seq    atomic.Int64
}

func (tg *target) ours() bool { return tg.engine != nil }

// now is the target's idea of the current time: our injected clock, or
// the wall clock kinesalite uses.
func (tg *target) now() time.Time {
	if tg.clock != nil {
		return tg.clock.Now()
	}
	return time.Now()
}

// stream returns a stream name unique within the target.
func (tg *target) stream(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, tg.seq.Add(1))
}

// ourOptions tweak the server newOurs starts.
type ourOptions struct {
	enforceLimits bool
	now           func() time.Time // overrides the testClock
	credentials   map[string]string
	stateFile     string
}

// newOurs starts our endpoint on 127.0.0.1 over a fresh engine.
func newOurs(t testing.TB, o ourOptions) *target {
	t.Helper()
	tg := &target{name: "ours", clock: &testClock{}}
	now := tg.clock.Now
	if o.now != nil {
		now = o.now
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e, err := stream.Open(t.TempDir(), stream.Options{Now: now, Logger: log, EnforceLimits: o.enforceLimits})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	h, err := kinesisapi.NewHandler(e, kinesisapi.Options{Now: now, Logger: log, Credentials: o.credentials, Region: "us-east-1", StateFile: o.stateFile})
	if err != nil {
		t.Fatal(err)
	}
	srv := newLoopbackServer(h)
	t.Cleanup(srv.Close)
	tg.engine, tg.url = e, srv.URL
	tg.client = emulator.KinesisClient(srv.URL, noRetries)
	return tg
}

// newLoopbackServer serves h on 127.0.0.1 (httptest's default) with a
// fresh port.
func newLoopbackServer(h http.Handler) *httptest.Server {
	return httptest.NewServer(h)
}

// newKinesalite starts kinesalite (skipped when npm packages are missing,
// failed under CI=true — the emulator package decides).
func newKinesalite(t testing.TB) *target {
	t.Helper()
	url := emulator.Kinesalite(t)
	return &target{name: "kinesalite", url: url, client: emulator.KinesisClient(url, noRetries)}
}

func noRetries(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }

// testWriter sends the server's log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// errCode is the AWS error code of err ("" if it is not an API error).
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// errMessage is the AWS error message of err.
func errMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := errCode(err); got != code {
		t.Fatalf("error = %v (code %q), want %s", err, got, code)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createStream(t testing.TB, tg *target, name string, shards int32) {
	t.Helper()
	if _, err := tg.client.CreateStream(ctxT(t), &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(tg.client, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := w.Wait(ctxT(t), &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 20*time.Second); err != nil {
		t.Fatalf("stream %s not ACTIVE: %v", name, err)
	}
}

func putRecords(t testing.TB, tg *target, name string, entries []types.PutRecordsRequestEntry) *kinesis.PutRecordsOutput {
	t.Helper()
	out, err := tg.client.PutRecords(ctxT(t), &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if len(out.Records) != len(entries) {
		t.Fatalf("PutRecords returned %d results for %d records", len(out.Records), len(entries))
	}
	return out
}

func iterator(t testing.TB, tg *target, in *kinesis.GetShardIteratorInput) string {
	t.Helper()
	out, err := tg.client.GetShardIterator(ctxT(t), in)
	if err != nil {
		t.Fatalf("GetShardIterator %s: %v", in.ShardIteratorType, err)
	}
	return aws.ToString(out.ShardIterator)
}

// readAll follows an iterator until a GetRecords call comes back empty,
// returning every record and the last NextShardIterator.
func readAll(t testing.TB, tg *target, it string) ([]types.Record, string) {
	t.Helper()
	var recs []types.Record
	for range 1000 {
		out, err := tg.client.GetRecords(ctxT(t), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		it = aws.ToString(out.NextShardIterator)
		if len(out.Records) == 0 {
			return recs, it
		}
		recs = append(recs, out.Records...)
	}
	t.Fatal("GetRecords never reached the tip")
	return nil, ""
}

func shardIter(name, shard string, typ types.ShardIteratorType) *kinesis.GetShardIteratorInput {
	return &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(shard), ShardIteratorType: typ}
}
