package esm

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stream"
)

// wait is how long a test waits for something that should happen; it only
// bounds a failing test, no assertion depends on it.
const wait = 20 * time.Second

// clock is a manually advanced clock shared by the engine and the mapping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// t0 is deliberately not aligned to a minute, so window alignment shows.
var t0 = time.Date(2026, 11, 26, 12, 0, 7, 0, time.UTC)

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

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type harness struct {
	t     *testing.T
	clk   *clock
	eng   *stream.Engine
	dest  *memDest
	ckpts Checkpoints
}

const streamName = "events"

func newHarness(t *testing.T, shards int) *harness {
	t.Helper()
	h := &harness{t: t, clk: &clock{t: t0}, dest: &memDest{changed: make(chan struct{})}, ckpts: NewMemoryCheckpoints()}
	eng, err := stream.Open(filepath.Join(t.TempDir(), "stream"), stream.Options{Now: h.clk.Now, Region: "us-east-2", Account: "123456789012"})
	if err != nil {
		t.Fatalf("stream.Open: %v", err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	if err := eng.CreateStream(context.Background(), streamName, shards); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	h.eng = eng
	return h
}

func (h *harness) config() Config {
	c := DefaultConfig()
	c.FunctionName = "consumer"
	c.StreamName = streamName
	c.StartingPosition = TrimHorizon
	return c
}

// put writes records (key, data pairs) in one PutRecords call and returns
// their sequence numbers.
func (h *harness) put(kv ...string) []string {
	h.t.Helper()
	var recs []streamproc.Record
	for i := 0; i < len(kv); i += 2 {
		recs = append(recs, streamproc.Record{PartitionKey: kv[i], Data: []byte(kv[i+1])})
	}
	return h.putRecords(recs...)
}

func (h *harness) putRecords(recs ...streamproc.Record) []string {
	h.t.Helper()
	res, err := h.eng.PutRecords(context.Background(), streamName, recs)
	if err != nil {
		h.t.Fatalf("PutRecords: %v", err)
	}
	seqs := make([]string, len(res))
	for i, r := range res {
		if r.ErrorCode != "" {
			h.t.Fatalf("PutRecords entry %d: %s", i, r.ErrorMessage)
		}
		seqs[i] = r.SequenceNumber
	}
	return seqs
}

func (h *harness) options() Options {
	return Options{
		Now:          h.clk.Now,
		Checkpoints:  h.ckpts,
		OnFailure:    h.dest,
		Region:       "us-east-2",
		Account:      "123456789012",
		PollInterval: 2 * time.Millisecond,
		Backoff:      func(int) time.Duration { return time.Millisecond },
	}
}

// running is a Mapping whose Run goroutine the test controls.
type running struct {
	*Mapping
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func (h *harness) start(cfg Config, inv Invoker, opts Options) *running {
	h.t.Helper()
	m, err := New(cfg, h.eng, inv, opts)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Mapping: m, t: h.t, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- m.Run(ctx) }()
	h.t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels Run and returns its result.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(wait):
			r.t.Errorf("Run did not return after cancel")
		}
	})
	return r.err
}

// settle waits until the lanes have made n more scheduling decisions, so
// a test can assert that something did not happen.
func (r *running) settle(n int64) {
	r.t.Helper()
	target := r.evals.Load() + n
	waitUntil(r.t, "lanes to settle", func() bool { return r.evals.Load() >= target })
}

func (r *running) checkpoint() string {
	st := r.Stats()
	if len(st.Shards) == 0 {
		return ""
	}
	return st.Shards[0].Checkpoint
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// call is what the recorder keeps of one invocation.
type call struct {
	ev     *events.KinesisTimeWindowEvent
	seqs   []string
	data   []string
	keys   []string
	state  map[string]string
	final  bool
	early  bool
	window events.Window
}

// recorder is an Invoker that records every invocation and answers with
// fn (nil = success).
type recorder struct {
	mu      sync.Mutex
	calls   []call
	changed chan struct{}
	fn      func(n int, c call) (*events.KinesisTimeWindowEventResponse, error)
}

func newRecorder(fn func(n int, c call) (*events.KinesisTimeWindowEventResponse, error)) *recorder {
	return &recorder{changed: make(chan struct{}), fn: fn}
}

func (r *recorder) invoke(ctx context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
	c := call{ev: ev, state: maps.Clone(ev.State), final: ev.IsFinalInvokeForWindow, early: ev.IsWindowTerminatedEarly, window: ev.Window}
	for _, rec := range ev.Records {
		c.seqs = append(c.seqs, rec.Kinesis.SequenceNumber)
		c.data = append(c.data, string(rec.Kinesis.Data))
		c.keys = append(c.keys, rec.Kinesis.PartitionKey)
	}
	r.mu.Lock()
	n := len(r.calls)
	r.calls = append(r.calls, c)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	if r.fn == nil {
		return nil, nil
	}
	return r.fn(n, c)
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// waitCalls waits until at least n invocations happened and returns them.
func (r *recorder) waitCalls(t *testing.T, n int) []call {
	t.Helper()
	deadline := time.After(wait)
	for {
		r.mu.Lock()
		if len(r.calls) >= n {
			out := append([]call(nil), r.calls...)
			r.mu.Unlock()
			return out
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %d invocations; got %d", n, len(r.snapshot()))
		}
	}
}

// memDest is an on-failure destination in memory; the first fail sends
// fail.
type memDest struct {
	mu      sync.Mutex
	bodies  [][]byte
	fail    int
	changed chan struct{}
}

func (d *memDest) Send(ctx context.Context, body []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail > 0 {
		d.fail--
		return errors.New("destination unavailable")
	}
	d.bodies = append(d.bodies, append([]byte(nil), body...))
	close(d.changed)
	d.changed = make(chan struct{})
	return nil
}

func (d *memDest) records(t *testing.T) []FailureRecord {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]FailureRecord, len(d.bodies))
	for i, b := range d.bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("failure record %d: %v", i, err)
		}
	}
	return out
}

func (d *memDest) waitRecords(t *testing.T, n int) []FailureRecord {
	t.Helper()
	deadline := time.After(wait)
	for {
		d.mu.Lock()
		got, ch := len(d.bodies), d.changed
		d.mu.Unlock()
		if got >= n {
			return d.records(t)
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %d failure records; got %d", n, got)
		}
	}
}

// laneFor mirrors shardProc.laneOf.
func laneFor(pk string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(pk))
	return int(h.Sum64() % uint64(n))
}

func flatten(calls []call) (seqs, data []string) {
	for _, c := range calls {
		seqs = append(seqs, c.seqs...)
		data = append(data, c.data...)
	}
	return seqs, data
}

func partial(seqs ...string) *events.KinesisTimeWindowEventResponse {
	r := &events.KinesisTimeWindowEventResponse{}
	for _, s := range seqs {
		r.BatchItemFailures = append(r.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: s})
	}
	return r
}

func withState(state map[string]string) *events.KinesisTimeWindowEventResponse {
	return &events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: state}}
}
