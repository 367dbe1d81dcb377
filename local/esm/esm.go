package esm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stream"
)

// Invoker invokes the mapped function synchronously with one event.
//
// ev carries the records of one shard in order; for a mapping with a
// tumbling window its TimeWindowProperties are set too, otherwise they are
// zero. The event's slices are reused when the mapping retries, so the
// invoker must not modify them.
//
// Outcomes: a non-nil response with a nil error is the function's
// response (nil means an empty one). An error is a function error
// ("Unhandled"): the function returned an error, panicked, crashed or ran
// out of time — the caller applies the function's Timeout through ctx, so
// a deadline it set is a function error too. An error wrapping ErrThrottled
// means the invocation never reached the function (no concurrency, the
// runtime is not ready); it is retried without using up a retry attempt.
//
// ctx is the mapping's own: when Run's context ends, the invoker should
// return promptly (Run waits for it). An error returned then is not held
// against the function: the batch is abandoned and delivered again after a
// restart. A success returned then still counts.
type Invoker func(ctx context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error)

// ErrThrottled marks an invocation that failed before reaching the
// function. Invokers wrap it: fmt.Errorf("%w: concurrency limit", esm.ErrThrottled).
var ErrThrottled = errors.New("invocation throttled")

// Destination receives on-failure records (JSON, see FailureRecord), like
// an SQS queue or SNS topic named in DestinationConfig.OnFailure.
//
// Contract: Send returns nil only once the body is durably stored. The
// mapping retries a failed Send with backoff and does not move its
// checkpoint past the discarded records until the record is sent, so a
// record is never both discarded and unreported.
type Destination interface {
	Send(ctx context.Context, body []byte) error
}

// Metric names passed to Options.Metrics.
const (
	MetricIteratorAge    = "IteratorAge" // ms from the arrival of a batch's last record to its invocation
	MetricInvocations    = "Invocations" // invocations that reached the function (incl. errors)
	MetricErrors         = "Errors"      // function errors
	MetricThrottles      = "Throttles"   // invocations that failed before reaching the function
	MetricDuration       = "Duration"    // ms the invoker took (wall time)
	MetricBatchSize      = "BatchSize"   // records in an invocation
	MetricBatchBytes     = "BatchBytes"  // estimated JSON bytes of an invocation's records
	MetricDiscarded      = "RecordsDiscarded"
	MetricFailureRecords = "OnFailureRecords" // records sent to the on-failure destination
)

// Options configure a Mapping. The zero value is usable.
type Options struct {
	// Now is the clock for batching windows, record age, tumbling windows
	// and timestamps; nil means time.Now. It should be the clock of the
	// stream engine, whose arrival times it is compared with.
	Now streamproc.Clock
	// Logger receives discards, retries and read errors; nil discards.
	Logger *slog.Logger
	// Checkpoints persists progress; nil keeps it in memory only.
	Checkpoints Checkpoints
	// OnFailure receives a FailureRecord for every discarded batch; nil
	// means none (the discard is only logged, as on AWS without a
	// destination).
	OnFailure Destination
	// Region and Account appear in default ARNs and in events
	// (awsRegion); defaults us-east-1 and 000000000000.
	Region, Account string
	// PollInterval is the base poll rate (AWS polls each shard once per
	// second): how often an idle shard is read again and pending time-based
	// decisions (batching window, window end) are re-checked against Now.
	// New records wake the mapping at once. Default 1 s; tests set it small.
	PollInterval time.Duration
	// Backoff returns the wait before the n-th consecutive retry (n ≥ 1)
	// of a failed or throttled invocation, on-failure send or shard read.
	// Default 200 ms doubling up to 10 s. It is real time, not Now: it
	// exists so a failing function is not called in a tight loop.
	Backoff func(n int) time.Duration
	// Metrics, when set, receives the Metric* values; it must be safe for
	// concurrent use and fast.
	Metrics func(name string, v float64)
	// CheckpointInterval, when positive, saves a shard's checkpoint at most
	// this often while batches complete (each save costs fsyncs), instead of
	// after every batch; the last progress is always saved when Run ends. A
	// crash then redelivers up to one interval of batches — at-least-once,
	// as on AWS. Real time, not Now.
	CheckpointInterval time.Duration
}

// Mapping is one event source mapping. Build it with New and drive it with
// Run; Stats may be called at any time.
type Mapping struct {
	cfg    Config
	src    *stream.Engine
	invoke Invoker
	opts   Options
	now    streamproc.Clock
	log    *slog.Logger
	ckpts  Checkpoints
	poll   time.Duration

	functionARN, streamARN, roleARN, region string

	running atomic.Bool
	c       counters
	// evals counts lane scheduling decisions; tests use it to know a lane
	// has looked at its records and chosen to wait.
	evals atomic.Int64

	mu     sync.Mutex // guards shards
	shards []*shardProc
}

type counters struct {
	invocations, errors, rejected, throttles       atomic.Int64
	read, succeeded, discarded, failureRecords     atomic.Int64
	windowsClosed, windowsTerminatedEarly, retries atomic.Int64
}

// New checks cfg (see Config.Validate) and returns a mapping that reads
// cfg.StreamName from src and calls invoke.
func New(cfg Config, src *stream.Engine, invoke Invoker, opts Options) (*Mapping, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src == nil || invoke == nil {
		return nil, fmt.Errorf("%w: esm.New needs a stream engine and an invoker", streamproc.ErrInvalid)
	}
	cfg = cfg.withDefaults()
	m := &Mapping{cfg: cfg, src: src, invoke: invoke, opts: opts, now: opts.Now, log: opts.Logger, ckpts: opts.Checkpoints, poll: opts.PollInterval}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.ckpts == nil {
		m.ckpts = NewMemoryCheckpoints()
	}
	if m.poll <= 0 {
		m.poll = time.Second
	}
	if m.opts.Backoff == nil {
		m.opts.Backoff = defaultBackoff
	}
	m.region = opts.Region
	if m.region == "" {
		m.region = "us-east-1"
	}
	account := opts.Account
	if account == "" {
		account = "000000000000"
	}
	m.functionARN = cfg.FunctionARN
	if m.functionARN == "" {
		m.functionARN = "arn:aws:lambda:" + m.region + ":" + account + ":function:" + cfg.FunctionName
	}
	m.streamARN = cfg.StreamARN
	if m.streamARN == "" {
		m.streamARN = src.StreamARN(cfg.StreamName)
	}
	m.roleARN = cfg.RoleARN
	if m.roleARN == "" {
		m.roleARN = "arn:aws:iam::" + account + ":role/" + cfg.FunctionName + "Role"
	}
	if m.cfg.UUID == "" {
		m.cfg.UUID = uuid.NewSHA1(uuid.NameSpaceURL, []byte("streamproc:esm:"+cfg.FunctionName+":"+m.streamARN)).String()
	}
	m.log = m.log.With("esm", m.cfg.UUID, "function", cfg.FunctionName, "stream", cfg.StreamName)
	return m, nil
}

func defaultBackoff(n int) time.Duration {
	d := 200 * time.Millisecond << min(max(n-1, 0), 6)
	return min(d, 10*time.Second)
}

// Config returns the mapping's configuration with defaults filled in
// (UUID included).
func (m *Mapping) Config() Config { return m.cfg }

// Run processes every shard of the stream until ctx ends, then abandons the
// invocations in flight (it waits for the invoker to return; their records
// are delivered again after a restart: at-least-once, as on AWS), saves
// the checkpoints and returns nil. It returns an error when the stream cannot be read any more
// (deleted, engine closed) or a final checkpoint cannot be saved. A
// disabled mapping (Enabled false) does nothing until ctx ends. Run may be
// called again after it returned, not concurrently.
func (m *Mapping) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("esm: Run is already running")
	}
	defer m.running.Store(false)
	if !m.cfg.Enabled {
		m.log.InfoContext(ctx, "mapping disabled")
		<-ctx.Done()
		return nil
	}
	name := m.cfg.StreamName
	info, err := m.src.DescribeStream(ctx, name)
	if err != nil {
		return fmt.Errorf("esm %s: %w", m.cfg.UUID, err)
	}
	retention := time.Duration(info.RetentionHours) * time.Hour
	// A failing shard stops the others: every fatal read error (stream
	// deleted, engine closed) concerns the whole stream.
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	procs := make([]*shardProc, len(info.Shards))
	for i, sh := range info.Shards {
		procs[i] = newShardProc(m, sh.ID, retention)
	}
	m.mu.Lock()
	m.shards = procs
	m.mu.Unlock()

	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Go(func() {
			errs[i] = p.run(runCtx)
			if errs[i] != nil {
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stats is a snapshot of a mapping's counters.
type Stats struct {
	Invocations    int64 // invocations that reached the function
	FunctionErrors int64 // of which the function failed (error, timeout, panic)
	// RejectedResponses counts responses that failed the invocation
	// although the function succeeded: a malformed batchItemFailures, or a
	// tumbling-window response without state.
	RejectedResponses      int64
	Throttles              int64 // invocations that did not reach the function
	Retries                int64 // invocations repeated after a failure (not bisections)
	RecordsRead            int64
	RecordsSucceeded       int64 // records of successful invocations
	RecordsDiscarded       int64 // records given up (retries exhausted, too old)
	FailureRecords         int64 // on-failure records sent
	WindowsClosed          int64 // final window invocations that succeeded or were discarded
	WindowsTerminatedEarly int64
	Shards                 []ShardStats
}

// ShardStats describes one shard of a running mapping.
type ShardStats struct {
	ShardID string
	// Checkpoint is the last saved sequence number ("" = none yet).
	Checkpoint string
	// IteratorAge is Now minus the arrival of the oldest record read but not
	// yet successfully processed; 0 when the shard is caught up.
	IteratorAge time.Duration
	// Pending counts records read and held in memory (queued or in flight).
	Pending int
	// Busy counts lanes with an invocation in flight.
	Busy int
}

// Stats returns the counters and, while Run runs (or after it returned),
// per-shard progress.
func (m *Mapping) Stats() Stats {
	s := Stats{
		Invocations:            m.c.invocations.Load(),
		FunctionErrors:         m.c.errors.Load(),
		RejectedResponses:      m.c.rejected.Load(),
		Throttles:              m.c.throttles.Load(),
		Retries:                m.c.retries.Load(),
		RecordsRead:            m.c.read.Load(),
		RecordsSucceeded:       m.c.succeeded.Load(),
		RecordsDiscarded:       m.c.discarded.Load(),
		FailureRecords:         m.c.failureRecords.Load(),
		WindowsClosed:          m.c.windowsClosed.Load(),
		WindowsTerminatedEarly: m.c.windowsTerminatedEarly.Load(),
	}
	m.mu.Lock()
	procs := m.shards
	m.mu.Unlock()
	now := m.now()
	for _, p := range procs {
		s.Shards = append(s.Shards, p.stats(now))
	}
	return s
}

// OpenWindow is a tumbling window not closed yet, with the state its
// function returned last (the state must not be modified).
type OpenWindow struct {
	Start, End time.Time
	State      map[string]string
}

// OpenWindows returns, for a mapping with TumblingWindowInSeconds, the open
// windows of every shard and lane with the state their function returned
// last: what a window's final invocation will be handed. Nothing for other
// mappings.
func (m *Mapping) OpenWindows() []OpenWindow {
	m.mu.Lock()
	procs := m.shards
	m.mu.Unlock()
	var out []OpenWindow
	for _, p := range procs {
		p.mu.Lock()
		for _, l := range p.lanes {
			if l.open != nil {
				out = append(out, *l.open)
			}
		}
		p.mu.Unlock()
	}
	return out
}

func (m *Mapping) metric(name string, v float64) {
	if m.opts.Metrics != nil {
		m.opts.Metrics(name, v)
	}
}

// sleep waits d of real time; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
