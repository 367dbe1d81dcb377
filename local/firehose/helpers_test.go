package firehose

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
	"github.com/streamproc/streamproc/local/stream"
)

// t0 is the fake clock's start: every record written before the clock moves
// arrives at 2024-05-06 13:14:15.678 UTC.
var t0 = time.Date(2024, 5, 6, 13, 14, 15, 678_000_000, time.UTC)

// clock is a manually advanced clock shared by the stream engine and the
// delivery stream.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testStream = "events"

// env is one test's world: a real stream engine, a fileblob bucket and a
// checkpoint dir, all in t.TempDir().
type env struct {
	t         *testing.T
	clk       *clock
	eng       *stream.Engine
	bucketDir string
	bucket    *blob.Bucket
	ckptDir   string
	shards    []streamproc.Shard
	seed      uint64
}

func newEnv(t *testing.T, shards int) *env {
	t.Helper()
	return newEnvWith(t, shards, stream.Options{})
}

// newEnvWith is newEnv with engine options (its clock is always the env's).
func newEnvWith(t *testing.T, shards int, so stream.Options) *env {
	t.Helper()
	e := &env{t: t, clk: &clock{t: t0}, bucketDir: t.TempDir(), ckptDir: t.TempDir()}
	so.Now = e.clk.Now
	eng, err := stream.Open(t.TempDir(), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	e.eng = eng
	if err := eng.CreateStream(context.Background(), testStream, shards); err != nil {
		t.Fatal(err)
	}
	if e.shards, err = eng.Shards(context.Background(), testStream); err != nil {
		t.Fatal(err)
	}
	e.bucket, err = fileblob.OpenBucket(e.bucketDir, &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.bucket.Close() })
	return e
}

// cfg is a valid base configuration reading testStream.
func (e *env) cfg() Config {
	return Config{Name: "fh", StreamName: testStream, BufferSize: MinBufferSize, BufferInterval: time.Minute}
}

func (e *env) opts() Options {
	e.seed++
	return Options{
		Now:           e.clk.Now,
		CheckpointDir: e.ckptDir,
		BucketDir:     e.bucketDir,
		Rand:          rand.NewChaCha8([32]byte{byte(e.seed)}),
		Retry:         backoff.Policy{Base: time.Millisecond, Max: 5 * time.Millisecond},
		Logger:        testLogger(e.t),
	}
}

// open creates a delivery stream; it does not run it.
func (e *env) open(cfg Config, proc Processor, opts Options) *DeliveryStream {
	e.t.Helper()
	d, err := New(cfg, e.eng, proc, e.bucket, opts)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return d
}

// running is a delivery stream whose Run goroutine the test controls.
type running struct {
	*DeliveryStream
	cancel context.CancelFunc
	errc   chan error
	once   sync.Once
	err    error
}

// start runs d until the test stops it (or ends).
func (e *env) start(d *DeliveryStream) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{DeliveryStream: d, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- d.Run(ctx) }()
	e.t.Cleanup(func() { _ = r.stop() })
	return r
}

// stop cancels Run and returns its error.
func (r *running) stop() error {
	r.cancel()
	return r.wait()
}

// wait returns Run's error once it has returned by itself.
func (r *running) wait() error {
	r.once.Do(func() { r.err = <-r.errc })
	return r.err
}

// run is open + start.
func (e *env) run(cfg Config, proc Processor) *running {
	e.t.Helper()
	return e.start(e.open(cfg, proc, e.opts()))
}

func (e *env) flush(d *running) {
	e.t.Helper()
	if err := d.Flush(context.Background()); err != nil {
		e.t.Fatalf("Flush: %v", err)
	}
}

func (e *env) tick(d *running) {
	e.t.Helper()
	if err := d.Tick(context.Background()); err != nil {
		e.t.Fatalf("Tick: %v", err)
	}
}

// put writes records to shard i (by explicit hash key) and returns their
// sequence numbers.
func (e *env) put(shard int, data ...[]byte) []string {
	e.t.Helper()
	recs := make([]streamproc.Record, len(data))
	for i, b := range data {
		recs[i] = streamproc.Record{PartitionKey: "pk", ExplicitHashKey: e.shards[shard].StartingHashKey, Data: b}
	}
	return e.putRecords(recs...)
}

func (e *env) putRecords(recs ...streamproc.Record) []string {
	e.t.Helper()
	res, err := e.eng.PutRecords(context.Background(), testStream, recs)
	if err != nil {
		e.t.Fatal(err)
	}
	seqs := make([]string, len(res))
	for i, r := range res {
		if r.ErrorCode != "" {
			e.t.Fatalf("put %d: %s %s", i, r.ErrorCode, r.ErrorMessage)
		}
		seqs[i] = r.SequenceNumber
	}
	return seqs
}

type object struct {
	key  string
	body []byte // decompressed when the key ends in .gz
}

// objects lists every object under prefix, sorted by key, with its body.
func (e *env) objects(prefix string) []object {
	e.t.Helper()
	ctx := context.Background()
	var out []object
	it := e.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e.t.Fatal(err)
		}
		b, err := e.bucket.ReadAll(ctx, o.Key)
		if err != nil {
			e.t.Fatal(err)
		}
		if strings.HasSuffix(o.Key, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				e.t.Fatalf("%s: %v", o.Key, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				e.t.Fatalf("%s: %v", o.Key, err)
			}
		}
		out = append(out, object{key: o.Key, body: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// errorRecords decodes every error record under prefix.
func (e *env) errorRecords(prefix string) []ErrorRecord {
	e.t.Helper()
	var out []ErrorRecord
	for _, o := range e.objects(prefix) {
		dec := json.NewDecoder(bytes.NewReader(o.body))
		dec.DisallowUnknownFields()
		for dec.More() {
			var r ErrorRecord
			if err := dec.Decode(&r); err != nil {
				e.t.Fatalf("%s: %v", o.key, err)
			}
			out = append(out, r)
		}
	}
	return out
}

// checkpoint reads the checkpoint file of delivery stream name.
func (e *env) checkpoint(name string) checkpointFile {
	e.t.Helper()
	cp, err := readCheckpoint(filepath.Join(e.ckptDir, name+".json"))
	if err != nil || cp == nil {
		e.t.Fatalf("checkpoint: %v (%v)", cp, err)
	}
	return *cp
}

// recorder wraps a processor and keeps every event it was called with.
type recorder struct {
	mu     sync.Mutex
	events []events.KinesisFirehoseEvent
	next   Processor
}

func (r *recorder) Process(ctx context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	return r.next(ctx, ev)
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n []int
	for _, ev := range r.events {
		n = append(n, len(ev.Records))
	}
	return n
}

// passthrough returns every record Ok and unchanged.
func passthrough(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	out := events.KinesisFirehoseResponse{}
	for _, r := range ev.Records {
		out.Records = append(out.Records, events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateOk, Data: r.Data})
	}
	return out, nil
}

// byPrefix returns each record's result from its data's first word:
// "drop…" → Dropped, "fail…" → ProcessingFailed, anything else Ok.
func byPrefix(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	out := events.KinesisFirehoseResponse{}
	for _, r := range ev.Records {
		res := events.KinesisFirehoseTransformedStateOk
		switch {
		case bytes.HasPrefix(r.Data, []byte("drop")):
			res = events.KinesisFirehoseTransformedStateDropped
		case bytes.HasPrefix(r.Data, []byte("fail")):
			res = events.KinesisFirehoseTransformedStateProcessingFailed
		}
		out.Records = append(out.Records, events.KinesisFirehoseResponseRecord{RecordID: r.RecordID, Result: res, Data: r.Data})
	}
	return out, nil
}

func processorCfg() *ProcessorConfig {
	return &ProcessorConfig{FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:transformer"}
}

// testLogger sends warnings and errors of the delivery stream to t.Log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
