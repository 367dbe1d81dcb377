package firehose

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"gocloud.dev/blob"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
	"github.com/streamproc/streamproc/local/stream"
)

// Processor is a Lambda transformation function called synchronously. An
// error is an invocation failure (function error, timeout, throttle); the
// caller applies the function's timeout through ctx.
type Processor func(ctx context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error)

// Options are a delivery stream's dependencies and operational knobs.
type Options struct {
	// Now is the clock of buffer intervals, timestamps in error records and
	// data freshness; nil means time.Now. Object names use the records'
	// arrival times, which come from the stream.
	Now streamproc.Clock
	// Logger receives delivery events and failures; nil discards.
	Logger *slog.Logger
	// CheckpointDir holds <Name>.json, the per-shard checkpoints (required).
	CheckpointDir string
	// Rand feeds object UUIDs, invocation ids and !{firehose:random-string};
	// nil means crypto/rand. Used from Run's goroutine only.
	Rand io.Reader
	// Metrics receives the Metric* values as they happen (optional); it is
	// called from Run's goroutine only.
	Metrics func(name string, v float64)
	// BucketDir is the directory behind a fileblob bucket, if that is what
	// bucket is. fileblob renames a finished object into place without any
	// fsync; the delivery stream fsyncs the object's data itself (through
	// WriterOptions.BeforeWrite) and, when BucketDir is set, the directories
	// from the object's up to BucketDir, so that a checkpoint never survives
	// a power failure that its object did not. Without it an OS crash (not a
	// process crash) can lose an acknowledged object's directory entry.
	BucketDir string
	// Retry paces retries of failed object writes and throttled reads; the
	// zero value means 100 ms doubling to 10 s.
	Retry backoff.Policy
	// ShutdownTimeout bounds the final flush when Run's context ends
	// (default 1 minute). What it cannot deliver stays unacknowledged and is
	// read again after a restart.
	ShutdownTimeout time.Duration
}

// Metric names: those of the AWS/Firehose CloudWatch namespace, plus
// IncomingRecords/Bytes for user records after KPL de-aggregation and two
// local counters (ProcessingFailed.Records, Dropped.Records).
const (
	MetricReadRecords      = "DataReadFromKinesisStream.Records" // Kinesis records read
	MetricReadBytes        = "DataReadFromKinesisStream.Bytes"
	MetricMillisBehind     = "KinesisMillisBehindLatest"
	MetricIncomingRecords  = "IncomingRecords"
	MetricIncomingBytes    = "IncomingBytes"
	MetricExecuteSuccess   = "ExecuteProcessing.Success"  // 1 or 0 per invocation attempt
	MetricExecuteDuration  = "ExecuteProcessing.Duration" // ms per attempt, by Options.Now
	MetricSucceedRecords   = "SucceedProcessing.Records"  // Ok + Dropped
	MetricSucceedBytes     = "SucceedProcessing.Bytes"    // Ok data bytes
	MetricDeliveryRecords  = "DeliveryToS3.Records"       // records in data objects
	MetricDeliveryBytes    = "DeliveryToS3.Bytes"         // before compression
	MetricDeliverySuccess  = "DeliveryToS3.Success"       // 1 or 0 per object write attempt
	MetricDataFreshness    = "DeliveryToS3.DataFreshness" // seconds: age of the oldest undelivered record
	MetricProcessingFailed = "ProcessingFailed.Records"   // records written to the error output
	MetricDroppedRecords   = "Dropped.Records"
	// Format conversion (AWS/Firehose names): records and bytes (before
	// conversion) that converted or went to format-conversion-failed.
	MetricSucceedConversionRecords = "SucceedConversion.Records"
	MetricSucceedConversionBytes   = "SucceedConversion.Bytes"
	MetricFailedConversionRecords  = "FailedConversion.Records"
	MetricFailedConversionBytes    = "FailedConversion.Bytes"
)

const (
	defaultShutdownTimeout  = time.Minute
	maxIdleWait             = time.Second
	defaultRetryBase        = 100 * time.Millisecond
	defaultRetryMax         = 10 * time.Second
	checkpointFileExtension = ".json"
)

// ErrStopped is returned by Flush and Tick once Run has returned.
var ErrStopped = fmt.Errorf("%w: delivery stream is not running", streamproc.ErrUnavailable)

// Stats are a delivery stream's counters since New.
type Stats struct {
	RecordsIn              int64 // user records read (after KPL de-aggregation)
	Invocations            int64 // processor invocation attempts
	InvocationFailures     int64 // attempts that errored or returned an invalid response
	RecordsOk              int64
	RecordsDropped         int64
	RecordsFailed          int64 // records written to the processing-failed error output
	ConversionFailed       int64 // records written to the format-conversion-failed error output
	Objects                int64 // data objects written
	ObjectRecords          int64
	ObjectBytes            int64 // before compression (and before conversion to Parquet)
	ErrorObjects           int64 // error-output objects written
	DataFreshness          time.Duration
	LastCheckpointAdvanced time.Time // by Options.Now; zero until the first
}

// DeliveryStream is a Firehose delivery stream reading a Kinesis-like stream
// and writing objects to a bucket. Create it with New, then call Run once.
// Flush, Tick and Stats are safe to call from other goroutines while Run
// runs.
type DeliveryStream struct {
	cfg      Config // defaults applied
	stream   string // source stream name
	region   string
	src      *stream.Engine
	proc     Processor
	bucket   *blob.Bucket
	opts     Options
	now      streamproc.Clock
	log      *slog.Logger
	ckptPath string

	// Owned by Run's goroutine (and by New before Run starts): nothing else
	// touches them, so they need no lock.
	shards   []*shardState
	procBuf  procBatch
	data     objectBuffer
	errs     objectBuffer // processing-failed
	convErrs objectBuffer // format-conversion-failed
	// conv converts records to Parquet rows; nil without Config.Conversion.
	conv *converter

	reqs    chan *request
	done    chan struct{} // closed when Run returns
	started atomic.Bool
	// abandon makes Run return without the final flush, as a killed process
	// would (tests only).
	abandon bool
	// syncFile fsyncs an object's temp file before it is renamed into
	// place; a seam so tests can check that it happens, and when.
	syncFile func(*os.File) error

	mu            sync.Mutex // guards stats and oldestPending
	stats         Stats
	oldestPending time.Time // arrival of the oldest record not yet durable
}

// shardState is one shard's read position and unacknowledged records.
type shardState struct {
	id     string
	cursor stream.Cursor
	// pending holds the Kinesis records read but not yet checkpointed, in
	// shard order. Invariant: ckpt.SequenceNumber is older than every entry,
	// and entries leave only from the front, once left reaches 0.
	pending []*kinesisRec
	ckpt    shardCheckpoint
}

// kinesisRec is one Kinesis record (possibly a KPL aggregate) in flight.
type kinesisRec struct {
	shard   *shardState
	seq     string
	arrival time.Time
	// left counts this record's user records that are neither durably in an
	// object nor Dropped. The record may be checkpointed only at 0.
	left int
}

type request struct {
	flush bool
	done  chan error // buffered: Run never blocks replying
}

// New creates (or, when its checkpoint exists, reopens) a delivery stream.
//
// A new delivery stream starts every shard at LATEST, as on AWS: records
// written before New are never delivered. The starting positions are
// checkpointed here, so a restart before the first delivery resumes from
// them rather than from a later LATEST. A reopened one resumes after each
// shard's checkpoint. A checkpoint that does not belong to the stream's
// current incarnation (the stream was deleted and created again) restarts
// that shard at TRIM_HORIZON, so nothing the new stream holds is skipped.
//
// proc must be nil exactly when cfg.Processor is nil.
func New(cfg Config, src *stream.Engine, proc Processor, bucket *blob.Bucket, opts Options) (*DeliveryStream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case src == nil:
		return nil, fmt.Errorf("%w: firehose: a source stream engine is required", streamproc.ErrInvalid)
	case bucket == nil:
		return nil, fmt.Errorf("%w: firehose: a bucket is required", streamproc.ErrInvalid)
	case cfg.Processor != nil && proc == nil:
		return nil, fmt.Errorf("%w: firehose: Config.Processor is set but no Processor function was given", streamproc.ErrInvalid)
	case cfg.Processor == nil && proc != nil:
		return nil, fmt.Errorf("%w: firehose: a Processor function was given without Config.Processor", streamproc.ErrInvalid)
	case opts.CheckpointDir == "":
		return nil, fmt.Errorf("%w: firehose: Options.CheckpointDir is required", streamproc.ErrInvalid)
	}
	if opts.BucketDir != "" {
		// A wrong BucketDir would fail every delivery's directory fsync and
		// stall the stream; say so now instead.
		if fi, err := os.Stat(opts.BucketDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%w: firehose: Options.BucketDir %s is not a directory (%v)", streamproc.ErrInvalid, opts.BucketDir, err)
		}
	}
	cfg = cfg.withDefaults()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Retry.Base == 0 {
		opts.Retry.Base, opts.Retry.Max = defaultRetryBase, defaultRetryMax
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = defaultShutdownTimeout
	}
	d := &DeliveryStream{
		src: src, proc: proc, bucket: bucket, opts: opts, now: opts.Now,
		reqs: make(chan *request), done: make(chan struct{}),
	}
	d.errs.errorType = ErrorOutputTypeProcessingFailed
	d.convErrs.errorType = ErrorOutputTypeFormatConversionFailed
	d.syncFile = (*os.File).Sync
	// Resolving positions is a handful of local, non-blocking engine calls;
	// New has no context of its own to offer them.
	ctx := context.Background()
	name := cfg.StreamName
	if name == "" {
		n, err := src.StreamNameFromARN(cfg.StreamARN)
		if err != nil {
			return nil, fmt.Errorf("firehose %s: source stream: %w", cfg.Name, err)
		}
		name = n
	}
	if arn := src.StreamARN(name); cfg.StreamARN == "" {
		cfg.StreamARN = arn
	} else if cfg.StreamARN != arn {
		return nil, fmt.Errorf("%w: firehose %s: StreamARN %s does not name stream %s (%s)", streamproc.ErrInvalid, cfg.Name, cfg.StreamARN, name, arn)
	}
	region, account := "", ""
	if f := strings.Split(cfg.StreamARN, ":"); len(f) >= 6 {
		region, account = f[3], f[4]
	}
	if cfg.ARN == "" {
		cfg.ARN = fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/%s", region, account, cfg.Name)
	}
	if cfg.Conversion != nil {
		conv, err := newConverter(*cfg.Conversion, region, account)
		if err != nil {
			return nil, fmt.Errorf("%w: firehose %s: format conversion: %v", streamproc.ErrInvalid, cfg.Name, err)
		}
		d.conv = conv
	}
	d.cfg, d.stream, d.region = cfg, name, region
	d.log = opts.Logger.With("deliveryStream", cfg.Name)
	d.ckptPath = filepath.Join(opts.CheckpointDir, cfg.Name+checkpointFileExtension)

	shards, err := src.Shards(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("firehose %s: list shards of %s: %w", cfg.Name, name, err)
	}
	if err := os.MkdirAll(opts.CheckpointDir, 0o700); err != nil {
		return nil, fmt.Errorf("firehose %s: checkpoint dir: %w", cfg.Name, err)
	}
	cp, err := readCheckpoint(d.ckptPath)
	if err != nil {
		return nil, fmt.Errorf("firehose %s: %w", cfg.Name, err)
	}
	if cp != nil && cp.StreamARN != cfg.StreamARN {
		return nil, fmt.Errorf("%w: firehose %s: checkpoint %s belongs to source %s, not %s (a delivery stream cannot change its source; remove the file to create it again)",
			streamproc.ErrInvalid, cfg.Name, d.ckptPath, cp.StreamARN, cfg.StreamARN)
	}
	created := cp == nil
	rewrite := created
	for _, sh := range shards {
		s := &shardState{id: sh.ID}
		var c shardCheckpoint
		if cp != nil {
			c = cp.Shards[sh.ID]
		}
		var p stream.Position
		switch {
		case created:
			p = stream.Position{Type: stream.Latest}
		case c.SequenceNumber != "":
			p = stream.Position{Type: stream.AfterSequenceNumber, SequenceNumber: c.SequenceNumber}
		case c.Cursor == "":
			d.log.Warn("shard missing from the checkpoint; reading it from TRIM_HORIZON", "shard", sh.ID)
			p = stream.Position{Type: stream.TrimHorizon}
		}
		var cur stream.Cursor
		if p.Type != "" {
			cur, err = src.Iterator(ctx, name, sh.ID, p)
		} else if cur, err = stream.ParseCursor(c.Cursor); err == nil {
			// A cursor's incarnation is only checked by Read.
			_, err = src.Read(ctx, name, sh.ID, cur, 1, 0)
		}
		if stream.ErrorCode(err) == stream.CodeInvalidArgument {
			d.log.Warn("checkpoint does not belong to the current stream (deleted and created again?); reading the shard from TRIM_HORIZON",
				"shard", sh.ID, "checkpoint", c, "err", err)
			cur, err = src.Iterator(ctx, name, sh.ID, stream.Position{Type: stream.TrimHorizon})
			c, rewrite = shardCheckpoint{}, true
		}
		if err != nil {
			return nil, fmt.Errorf("firehose %s: position in %s/%s: %w", cfg.Name, name, sh.ID, err)
		}
		if c.SequenceNumber == "" && c.Cursor == "" {
			c, rewrite = shardCheckpoint{Cursor: cur.String()}, true
		}
		s.cursor, s.ckpt = cur, c
		d.shards = append(d.shards, s)
	}
	if rewrite {
		if err := d.writeCheckpoint(); err != nil {
			return nil, fmt.Errorf("firehose %s: %w", cfg.Name, err)
		}
	}
	d.log.Info("delivery stream ready", "source", name, "shards", len(shards), "created", created,
		"bufferSize", cfg.BufferSize, "bufferInterval", cfg.BufferInterval, "processor", cfg.Processor != nil, "formatConversion", cfg.Conversion != nil)
	return d, nil
}

// Config returns the configuration with defaults applied.
func (d *DeliveryStream) Config() Config { return d.cfg }

// Run reads the source and delivers until ctx ends or a non-retryable error
// occurs (the source stream deleted, the engine closed, a checkpoint that
// cannot be written). Then it flushes: the processor buffer is processed,
// every buffered record written and the checkpoint saved, within
// Options.ShutdownTimeout. It returns ctx's error after a clean shutdown.
// Run may be called once.
//
// Failed object writes are retried with backoff for as long as Run runs, as
// Firehose retries S3 (bounded on AWS by the stream's retention, here by
// Run's lifetime: what is undelivered at the end is read again on restart).
func (d *DeliveryStream) Run(ctx context.Context) error {
	if !d.started.CompareAndSwap(false, true) {
		return fmt.Errorf("firehose %s: Run may be called only once", d.cfg.Name)
	}
	defer close(d.done)
	err := d.loop(ctx) // never nil
	if ctx.Err() == nil {
		d.log.Error("delivery stream stopped", "err", err)
	}
	if d.abandon {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.ShutdownTimeout)
	defer cancel()
	if ferr := d.flushAll(sctx); ferr != nil {
		d.log.Error("final flush failed; undelivered records will be read again after a restart", "err", ferr)
		err = errors.Join(err, fmt.Errorf("firehose %s: final flush: %w", d.cfg.Name, ferr))
	}
	return err
}

// Flush makes Run read every shard up to its tip, process the processor
// buffer, write every buffered record whatever the buffering hints say, and
// checkpoint. It returns when that is done (or failed), when ctx ends (the
// work goes on in Run), or with ErrStopped once Run has returned.
func (d *DeliveryStream) Flush(ctx context.Context) error { return d.request(ctx, true) }

// Tick makes Run read every shard up to its tip and then deliver what the
// buffering hints make due by Options.Now, as its own timer would. It lets
// a caller with a simulated clock advance time deterministically.
func (d *DeliveryStream) Tick(ctx context.Context) error { return d.request(ctx, false) }

func (d *DeliveryStream) request(ctx context.Context, flush bool) error {
	req := &request{flush: flush, done: make(chan error, 1)}
	select {
	case d.reqs <- req:
	case <-d.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the counters; DataFreshness is computed now.
func (d *DeliveryStream) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	if !d.oldestPending.IsZero() {
		s.DataFreshness = max(d.now().Sub(d.oldestPending), 0)
	}
	return s
}

func (d *DeliveryStream) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}

func (d *DeliveryStream) metric(name string, v float64) {
	if d.opts.Metrics != nil {
		d.opts.Metrics(name, v)
	}
}

// loop is Run's main loop: read a batch from every shard, deliver what is
// due, and when no shard had anything, wait for records, a deadline, a
// request or the end of ctx.
//
// Every error it returns ends Run: errors are either ctx's or not worth
// retrying. That matters for correctness: a batch whose ingestion failed
// half-way is not read again in this run, and only ending the run (whose
// checkpoint never passes an unprocessed record) makes that safe.
func (d *DeliveryStream) loop(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		got := false
		for _, s := range d.shards {
			n, _, err := d.readShard(ctx, s)
			if err != nil {
				return err
			}
			got = got || n > 0
		}
		if err := d.deliverDue(ctx); err != nil {
			return err
		}
		var req *request
		if got {
			select {
			case req = <-d.reqs:
			default:
			}
		} else {
			var err error
			if req, err = d.idle(ctx); err != nil {
				return err
			}
		}
		if req != nil {
			if err := d.serve(ctx, req); err != nil {
				return err
			}
		}
	}
}

func (d *DeliveryStream) serve(ctx context.Context, req *request) error {
	err := d.catchUp(ctx)
	if err == nil {
		if req.flush {
			err = d.flushAll(ctx)
		} else {
			err = d.deliverDue(ctx)
		}
	}
	req.done <- err
	return err
}

// idle waits for a record on any shard, the next buffer deadline (at most
// maxIdleWait, so a clock that jumps is noticed), a request, or ctx's end.
func (d *DeliveryStream) idle(ctx context.Context) (*request, error) {
	wctx, cancel := context.WithCancel(ctx)
	woke := make(chan error, len(d.shards))
	var wg sync.WaitGroup
	for _, s := range d.shards {
		wg.Add(1)
		go func(id string, c stream.Cursor) {
			defer wg.Done()
			woke <- d.src.Wait(wctx, d.stream, id, c)
		}(s.id, s.cursor)
	}
	// The waiters must be gone before Run touches the shards again.
	defer func() {
		cancel()
		wg.Wait()
	}()
	var timeout <-chan time.Time
	if deadline, ok := d.nextDeadline(); ok {
		t := time.NewTimer(min(max(deadline.Sub(d.now()), 0), maxIdleWait))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-woke:
		if err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("firehose %s: wait for records in %s: %w", d.cfg.Name, d.stream, err)
		}
		return nil, nil
	case <-timeout:
		return nil, nil
	case req := <-d.reqs:
		return req, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// nextDeadline is the earliest time a non-empty buffer becomes due.
func (d *DeliveryStream) nextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(n int, started time.Time, interval time.Duration) {
		if n == 0 {
			return
		}
		if t := started.Add(interval); next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if d.cfg.Processor != nil {
		consider(len(d.procBuf.recs), d.procBuf.started, d.cfg.Processor.BufferInterval)
	}
	consider(d.data.records, d.data.started, d.cfg.BufferInterval)
	consider(d.errs.records, d.errs.started, d.cfg.BufferInterval)
	consider(d.convErrs.records, d.convErrs.started, d.cfg.BufferInterval)
	return next, !next.IsZero()
}

// catchUp reads every shard until a read reaches its tip.
func (d *DeliveryStream) catchUp(ctx context.Context) error {
	for _, s := range d.shards {
		for {
			n, behind, err := d.readShard(ctx, s)
			if err != nil {
				return err
			}
			if n == 0 || behind == 0 {
				break
			}
		}
	}
	return nil
}

// readShard reads one batch from s and ingests it. Throttled reads (an
// engine enforcing Kinesis's read limits) are retried with backoff; other
// errors are returned.
func (d *DeliveryStream) readShard(ctx context.Context, s *shardState) (n int, behind int64, err error) {
	var b stream.Batch
	for attempt := 0; ; attempt++ {
		b, err = d.src.Read(ctx, d.stream, s.id, s.cursor, 0, 0)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
		if stream.ErrorCode(err) != stream.CodeThroughputExceeded {
			return 0, 0, fmt.Errorf("firehose %s: read %s/%s: %w", d.cfg.Name, d.stream, s.id, err)
		}
		d.log.Warn("read throttled; retrying", "shard", s.id, "attempt", attempt+1)
		if werr := d.opts.Retry.Wait(ctx, attempt, 0); werr != nil {
			return 0, 0, werr
		}
	}
	if len(b.Records) > 0 {
		var bytes int
		for _, r := range b.Records {
			bytes += len(r.Data)
		}
		d.metric(MetricReadRecords, float64(len(b.Records)))
		d.metric(MetricReadBytes, float64(bytes))
		d.metric(MetricMillisBehind, float64(b.MillisBehindLatest))
	}
	// The cursor moves first: should ingestion fail, Run ends (see loop).
	s.cursor = b.Next
	for _, r := range b.Records {
		if err := d.ingest(ctx, s, r); err != nil {
			return 0, 0, err
		}
	}
	return len(b.Records), b.MillisBehindLatest, nil
}

// deliverDue processes or writes every buffer whose interval has passed.
// The processor buffer goes first: its output may land in the others.
func (d *DeliveryStream) deliverDue(ctx context.Context) error {
	now := d.now()
	if p := d.cfg.Processor; p != nil && len(d.procBuf.recs) > 0 && !now.Before(d.procBuf.started.Add(p.BufferInterval)) {
		if err := d.invoke(ctx); err != nil {
			return err
		}
	}
	for _, b := range []*objectBuffer{&d.data, &d.errs, &d.convErrs} {
		if b.records > 0 && !now.Before(b.started.Add(d.cfg.BufferInterval)) {
			if err := d.deliver(ctx, b); err != nil {
				return err
			}
		}
	}
	return d.commit()
}

// flushAll processes and writes everything buffered, whatever the hints.
func (d *DeliveryStream) flushAll(ctx context.Context) error {
	if err := d.invoke(ctx); err != nil {
		return err
	}
	for _, b := range []*objectBuffer{&d.data, &d.errs, &d.convErrs} {
		if err := d.deliver(ctx, b); err != nil {
			return err
		}
	}
	return d.commit()
}

// commit advances every shard's checkpoint over the records that are done
// and, when one moved, writes the checkpoint file. It is called only after
// the objects holding those records were written, which is what makes the
// checkpoint safe to trust after a crash.
func (d *DeliveryStream) commit() error {
	changed := false
	var oldest time.Time
	for _, s := range d.shards {
		for len(s.pending) > 0 && s.pending[0].left == 0 {
			s.ckpt = shardCheckpoint{SequenceNumber: s.pending[0].seq}
			s.pending[0] = nil
			s.pending = s.pending[1:]
			changed = true
		}
		if len(s.pending) > 0 && (oldest.IsZero() || s.pending[0].arrival.Before(oldest)) {
			oldest = s.pending[0].arrival
		}
	}
	now := d.now()
	d.mu.Lock()
	d.oldestPending = oldest
	if changed {
		d.stats.LastCheckpointAdvanced = now
	}
	d.mu.Unlock()
	if !changed {
		return nil
	}
	if err := d.writeCheckpoint(); err != nil {
		return fmt.Errorf("firehose %s: %w", d.cfg.Name, err)
	}
	return nil
}

func (d *DeliveryStream) writeCheckpoint() error {
	cp := &checkpointFile{DeliveryStream: d.cfg.Name, StreamARN: d.cfg.StreamARN, Shards: make(map[string]shardCheckpoint, len(d.shards))}
	for _, s := range d.shards {
		cp.Shards[s.id] = s.ckpt
	}
	return writeCheckpoint(d.ckptPath, cp)
}
