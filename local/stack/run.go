package stack

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/deadletter"
	"github.com/streamproc/streamproc/local/esm"
	"github.com/streamproc/streamproc/local/firehose"
	"github.com/streamproc/streamproc/local/metrics"
	"github.com/streamproc/streamproc/local/params"
	"github.com/streamproc/streamproc/local/queue"
	"github.com/streamproc/streamproc/local/schedule"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/local/table"
)

// Handlers are a function's entry points for the event sources that call
// it. Only the ones its events need must be set.
type Handlers struct {
	Kinesis  esm.Invoker
	Firehose firehose.Processor
	Schedule func(ctx context.Context, ev events.EventBridgeEvent) error
}

// Deps are the embedded components a function may use.
type Deps struct {
	Stream      *stream.Engine
	Tables      *table.Store
	DeadLetters *deadletter.Queue
	Params      *params.Store
	// Getenv is the process environment as the stack sees it.
	Getenv  func(string) (string, bool)
	Metrics *metrics.Registry
	Logger  *slog.Logger
	Now     streamproc.Clock
}

// FunctionFactory builds a function's handlers; the wiring in cmd/ knows
// which Go handler belongs to which package.
type FunctionFactory func(ctx context.Context, fn FunctionPlan, deps Deps) (Handlers, error)

// Options configure a local stack.
type Options struct {
	// Dir is the data directory (created if missing).
	Dir       string
	Now       streamproc.Clock
	Logger    *slog.Logger
	Metrics   *metrics.Registry
	Functions FunctionFactory
	// Getenv is the process environment (for local parameters).
	Getenv func(string) (string, bool)
	// ParamsFile is the local parameters file (default Dir/params): the
	// local SSM Parameter Store, see local/params.
	ParamsFile string
	// PollInterval is the event source mappings' base poll rate (default 1 s).
	PollInterval time.Duration
	// FireSchedulesAtStart fires every schedule once when Run starts, then
	// on the schedule. EventBridge's first firing comes one rate after the
	// rule is created; locally nobody wants to wait ten minutes for data.
	FireSchedulesAtStart bool
	// HoldSchedule, when it reports true for a schedule, keeps it from
	// firing (it is still parsed and validated): `up` holds the producer's
	// schedule while its own --source stands in for the producer.
	HoldSchedule func(sched SchedulePlan, fn FunctionPlan) bool
	// EnforceLimits turns on the streams' per-shard throughput limits
	// (see stream.Options).
	EnforceLimits bool
}

// Stack is a running local twin of a template.
type Stack struct {
	plan  *Plan
	deps  Deps
	env   Env
	log   *slog.Logger
	queue *queue.Queue

	buckets     map[string]*blob.Bucket
	functions   map[string]FunctionPlan
	mappings    []*esm.Mapping
	mapPlans    []MappingPlan
	deliveries  []*firehose.DeliveryStream
	schedules   []scheduled
	closers     []func() error
	fireAtStart bool
}

type scheduled struct {
	plan  SchedulePlan
	sched schedule.Schedule
	fire  func(ctx context.Context, ev events.EventBridgeEvent) error
}

// Start opens the embedded components in opts.Dir, creates every stream,
// table, bucket and queue of the plan, and builds the functions, event
// source mappings, delivery streams and schedules. Nothing runs until Run.
func Start(ctx context.Context, r *Resolved, opts Options) (_ *Stack, err error) {
	plan, err := r.Plan()
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	if opts.Getenv == nil {
		opts.Getenv = os.LookupEnv
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// s is not the named result: an early return sets that to nil, and the
	// deferred Close must still see what was opened.
	s := &Stack{plan: plan, env: r.Env, log: opts.Logger, buckets: map[string]*blob.Bucket{}, functions: map[string]FunctionPlan{}, fireAtStart: opts.FireSchedulesAtStart}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.deps = Deps{Metrics: opts.Metrics, Logger: opts.Logger, Now: opts.Now, Getenv: opts.Getenv}
	if s.deps.Stream, err = stream.Open(filepath.Join(opts.Dir, "streams"), stream.Options{Now: opts.Now, Logger: opts.Logger, Region: r.Env.Region, Account: r.Env.Account, EnforceLimits: opts.EnforceLimits}); err != nil {
		return nil, InUse(opts.Dir, err)
	}
	s.closers = append(s.closers, s.deps.Stream.Close)
	if s.deps.Tables, err = table.Open(filepath.Join(opts.Dir, "tables"), table.Options{Now: opts.Now, Logger: opts.Logger}); err != nil {
		return nil, InUse(opts.Dir, err)
	}
	s.closers = append(s.closers, s.deps.Tables.Close)
	if s.deps.DeadLetters, err = deadletter.Open(filepath.Join(opts.Dir, "deadletter")); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.deps.DeadLetters.Close)
	if opts.ParamsFile == "" {
		opts.ParamsFile = filepath.Join(opts.Dir, "params")
	}
	if s.deps.Params, err = params.New(opts.ParamsFile, opts.Getenv); err != nil {
		return nil, err
	}
	if s.queue, err = queue.OpenWithOptions(filepath.Join(opts.Dir, "queues"), queue.Options{Now: opts.Now}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.queue.Close)

	for _, sp := range plan.Streams {
		err := s.deps.Stream.CreateStream(ctx, sp.Name, sp.Shards)
		if err != nil && stream.ErrorCode(err) != stream.CodeResourceInUse {
			return nil, fmt.Errorf("stream %s: %w", sp.LogicalID, err)
		}
		if err != nil {
			// It exists from an earlier run: its shards must be what the
			// template asks for, or the run would silently differ from it.
			shards, err := s.deps.Stream.Shards(ctx, sp.Name)
			if err != nil {
				return nil, fmt.Errorf("stream %s: %w", sp.LogicalID, err)
			}
			if open := len(shards); open != sp.Shards { // no resharding: every shard is open
				return nil, fmt.Errorf("stream %s (%s) in %s has %d shard(s), the template asks for %d: resharding an existing local stream is not supported; "+
					"run 'streamproc down --purge' to start empty, use another --data-dir, or keep ShardCount=%d", sp.LogicalID, sp.Name, opts.Dir, open, sp.Shards, open)
			}
		}
		if err == nil && sp.RetentionHours != 24 {
			if err := s.deps.Stream.SetRetention(ctx, sp.Name, sp.RetentionHours); err != nil {
				return nil, fmt.Errorf("stream %s: %w", sp.LogicalID, err)
			}
		}
	}
	for _, tp := range plan.Tables {
		spec := streamproc.TableSpec{Name: tp.Name, Key: streamproc.KeySchema{HashKey: tp.HashKey, HashType: tp.HashType, RangeKey: tp.RangeKey, RangeType: tp.RangeType}, TTLAttr: tp.TTLAttr}
		if err := s.deps.Tables.CreateTable(ctx, spec); err != nil {
			return nil, fmt.Errorf("table %s: %w", tp.LogicalID, err)
		}
	}
	for _, name := range plan.Buckets {
		dir := filepath.Join(opts.Dir, "buckets", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		// Objects are written in place (fsynced by the delivery stream before
		// the rename) and carry no metadata sidecars, so the bucket dir holds
		// exactly the objects, as S3 would.
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
		if err != nil {
			return nil, fmt.Errorf("bucket %s: %w", name, err)
		}
		s.buckets[name] = b
		s.closers = append(s.closers, b.Close)
	}

	handlers := map[string]Handlers{}
	for _, fp := range plan.Functions {
		s.functions[fp.LogicalID] = fp
		h, err := opts.Functions(ctx, fp, s.deps)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fp.LogicalID, err)
		}
		handlers[fp.LogicalID] = h
	}
	cps, err := esm.NewFileCheckpoints(filepath.Join(opts.Dir, "checkpoints", "esm"))
	if err != nil {
		return nil, err
	}
	for _, mp := range plan.Mappings {
		fp := s.functions[mp.Function]
		inv := handlers[mp.Function].Kinesis
		if inv == nil {
			return nil, fmt.Errorf("function %s has a Kinesis event but no Kinesis handler locally", mp.Function)
		}
		cfg, err := mappingConfig(mp, fp, r)
		if err != nil {
			return nil, err
		}
		eo := esm.Options{Now: opts.Now, Logger: opts.Logger.With("mapping", mp.Name), Checkpoints: cps, Region: r.Env.Region, Account: r.Env.Account,
			PollInterval: opts.PollInterval, Metrics: s.fnMetrics(fp.Name), CheckpointInterval: 250 * time.Millisecond}
		if mp.Destination != "" {
			eo.OnFailure = s.queue.Destination(mp.Destination)
		}
		m, err := esm.New(cfg, s.deps.Stream, withTimeout(fp.Timeout, inv), eo)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", mp.Name, err)
		}
		s.mappings = append(s.mappings, m)
		s.mapPlans = append(s.mapPlans, mp)
	}
	for _, dp := range plan.Deliveries {
		d, err := s.delivery(dp, handlers, opts, r)
		if err != nil {
			return nil, err
		}
		s.deliveries = append(s.deliveries, d)
	}
	for _, sp := range plan.Schedules {
		sch, err := schedule.Parse(sp.Expression)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sp.Name, err)
		}
		fire := handlers[sp.Function].Schedule
		if fire == nil {
			return nil, fmt.Errorf("function %s has a Schedule event but no schedule handler locally", sp.Function)
		}
		if sp.Enabled && (opts.HoldSchedule == nil || !opts.HoldSchedule(sp, s.functions[sp.Function])) {
			s.schedules = append(s.schedules, scheduled{plan: sp, sched: sch, fire: fire})
		}
	}
	return s, nil
}

// InUse turns a failure to open a data dir that another process holds
// into advice; other errors pass unchanged.
func InUse(dir string, err error) error {
	if errors.Is(err, streamproc.ErrUnavailable) || strings.Contains(err.Error(), "lock") {
		return fmt.Errorf("%w\nanother streamproc process is using %s; stop it or pass a different --data-dir", err, dir)
	}
	return err
}

func (s *Stack) delivery(dp DeliveryPlan, handlers map[string]Handlers, opts Options, r *Resolved) (*firehose.DeliveryStream, error) {
	cfg := firehose.Config{
		Name: dp.Name, ARN: dp.ARN, StreamName: dp.Stream,
		BufferSize: int64(dp.BufferSizeMB) << 20, BufferInterval: dp.BufferInterval,
		Prefix: dp.Prefix, ErrorOutputPrefix: dp.ErrorOutputPrefix, Compression: dp.Compression,
		FileExtension: dp.FileExtension, AppendDelimiter: dp.AppendDelimiter,
	}
	if dp.BufferInterval == 0 {
		cfg.BufferInterval = firehose.ZeroBuffering
	}
	if c := dp.Conversion; c != nil {
		cfg.Conversion = &firehose.Conversion{Columns: c.Columns, Compression: c.Compression, CaseSensitive: c.CaseSensitive,
			ConvertDotsToUnderscores: c.ConvertDotsToUnderscores, ColumnToJSONKey: c.ColumnToJSONKey, Table: c.Catalog}
	}
	if dp.CustomTimeZone != "" {
		loc, err := time.LoadLocation(dp.CustomTimeZone) // checked by Plan
		if err != nil {
			return nil, fmt.Errorf("delivery stream %s: CustomTimeZone: %w", dp.LogicalID, err)
		}
		cfg.CustomTimeZone = loc
	}
	var proc firehose.Processor
	if dp.Processor != "" {
		fp := s.functions[dp.Processor]
		h := handlers[dp.Processor].Firehose
		if h == nil {
			return nil, fmt.Errorf("delivery stream %s: function %s has no Firehose handler locally", dp.LogicalID, dp.Processor)
		}
		cfg.Processor = &firehose.ProcessorConfig{FunctionARN: fp.ARN, BufferSize: int64(dp.ProcessorBufferMB * (1 << 20)), BufferInterval: dp.ProcessorBufferInterval, NumberOfRetries: dp.ProcessorRetries}
		if dp.ProcessorBufferInterval == 0 {
			cfg.Processor.BufferInterval = firehose.ZeroBuffering
		}
		if dp.ProcessorRetries == 0 {
			cfg.Processor.NumberOfRetries = firehose.NoRetries
		}
		timeout := fp.Timeout
		metrics := s.fnMetrics(fp.Name)
		proc = func(ctx context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
			ctx, cancel := invocationContext(ctx, timeout)
			defer cancel()
			start := time.Now()
			resp, err := h(ctx, ev)
			metrics(esm.MetricInvocations, 1)
			metrics(esm.MetricDuration, float64(time.Since(start).Milliseconds()))
			if err != nil {
				metrics(esm.MetricErrors, 1)
			}
			return resp, err
		}
	}
	dir := filepath.Join(opts.Dir, "buckets", dp.Bucket)
	return firehose.New(cfg, s.deps.Stream, proc, s.buckets[dp.Bucket], firehose.Options{
		Now: opts.Now, Logger: opts.Logger, CheckpointDir: filepath.Join(opts.Dir, "checkpoints", "firehose"),
		BucketDir: dir, Metrics: func(name string, v float64) { s.record(name, "DeliveryStreamName", dp.Name, v) },
	})
}

// gauges are the metrics whose latest value matters, not their sum.
var gauges = map[string]bool{
	esm.MetricIteratorAge: true, esm.MetricDuration: true, esm.MetricBatchSize: true, esm.MetricBatchBytes: true,
	firehose.MetricDataFreshness: true, firehose.MetricMillisBehind: true, firehose.MetricExecuteDuration: true,
}

func (s *Stack) record(name, dim, value string, v float64) {
	if gauges[name] {
		s.deps.Metrics.Set(name, dim, value, v)
		return
	}
	s.deps.Metrics.Add(name, dim, value, v)
}

func (s *Stack) fnMetrics(fn string) func(string, float64) {
	return func(name string, v float64) { s.record(name, "FunctionName", fn, v) }
}

// invocationContext is the context of one invocation: the function's
// Timeout, as Lambda enforces it (a timed-out invocation is a function
// error), and not the stack's shutdown — an invocation in flight when the
// stack stops runs to completion, so shutdown drains instead of failing
// batches half-written.
func invocationContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), timeout)
}

func withTimeout(d time.Duration, inv esm.Invoker) esm.Invoker {
	return func(ctx context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
		ctx, cancel := invocationContext(ctx, d)
		defer cancel()
		return inv(ctx, ev)
	}
}

// mappingConfig turns a Kinesis event's properties into the ESM's settings,
// starting from AWS's defaults.
func mappingConfig(mp MappingPlan, fp FunctionPlan, r *Resolved) (esm.Config, error) {
	cfg := esm.DefaultConfig()
	cfg.FunctionName, cfg.FunctionARN, cfg.StreamName = fp.Name, fp.ARN, mp.Stream
	cfg.StreamARN = fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", r.Env.Region, r.Env.Account, mp.Stream)
	sum := sha1.Sum([]byte(r.Env.StackName + "/" + mp.Name))
	cfg.UUID = fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	p := mp.Properties
	ints := map[string]*int{"BatchSize": &cfg.BatchSize, "ParallelizationFactor": &cfg.ParallelizationFactor, "MaximumRetryAttempts": &cfg.MaximumRetryAttempts}
	for k, dst := range ints {
		if v, ok := p[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return cfg, fmt.Errorf("%s: %s %q is not an integer", mp.Name, k, v)
			}
			if n == 0 && k != "MaximumRetryAttempts" {
				// esm.Config reads 0 as "unset"; the API rejects it.
				return cfg, fmt.Errorf("%s: 1 validation error detected: Value '0' at '%s' failed to satisfy constraint: Member must have value greater than or equal to 1: %w",
					mp.Name, lowerFirst(k), streamproc.ErrInvalid)
			}
			*dst = n
		}
	}
	durs := map[string]*time.Duration{"MaximumBatchingWindowInSeconds": &cfg.MaximumBatchingWindow, "MaximumRecordAgeInSeconds": &cfg.MaximumRecordAge, "TumblingWindowInSeconds": &cfg.TumblingWindow}
	for k, dst := range durs {
		if v, ok := p[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return cfg, fmt.Errorf("%s: %s %q is not a whole number of seconds", mp.Name, k, v)
			}
			if n == 0 && k == "MaximumRecordAgeInSeconds" {
				// esm.Config reads 0 as "forever"; the API rejects it.
				return cfg, fmt.Errorf("%s: MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive): %w", mp.Name, streamproc.ErrInvalid)
			}
			*dst = time.Duration(n) * time.Second
		}
	}
	if v, ok := p["StartingPosition"]; ok {
		cfg.StartingPosition = v
	}
	if v, ok := p["StartingPositionTimestamp"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return cfg, fmt.Errorf("%s: StartingPositionTimestamp %q is not epoch seconds", mp.Name, v)
		}
		cfg.StartingPositionTimestamp = time.UnixMilli(int64(f * 1000))
	}
	if v, ok := p["BisectBatchOnFunctionError"]; ok {
		cfg.BisectBatchOnFunctionError = v == "true"
	}
	if v, ok := p["Enabled"]; ok {
		cfg.Enabled = v != "false"
	}
	for _, t := range strings.Split(p["FunctionResponseTypes"], ",") {
		if t == "ReportBatchItemFailures" {
			cfg.ReportBatchItemFailures = true
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%s: %w", mp.Name, err)
	}
	return cfg, nil
}

// Plan returns what the stack runs.
func (s *Stack) Plan() *Plan { return s.plan }

// Deps returns the embedded components.
func (s *Stack) Deps() Deps { return s.deps }

// Queue returns the local SQS-like queues (on-failure destinations).
func (s *Stack) Queue() *queue.Queue { return s.queue }

// Bucket returns a bucket by name.
func (s *Stack) Bucket(name string) *blob.Bucket { return s.buckets[name] }

// Run runs every mapping, delivery stream and schedule, the TTL sweeper and
// the retention trimmer until ctx ends; then each component drains (mappings
// finish in-flight batches and save checkpoints, delivery streams flush
// their buffers) before Run returns. The first component error cancels the
// rest.
func (s *Stack) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Once the stack is stopping, a component returning the
			// context's error has stopped cleanly.
			if err := f(ctx); err != nil && (ctx.Err() == nil || !errors.Is(err, ctx.Err()) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)) {
				err = fmt.Errorf("%s: %w", name, err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel(err)
			}
		}()
	}
	for i, m := range s.mappings {
		run(s.mapPlans[i].Name, m.Run)
	}
	for _, d := range s.deliveries {
		run(d.Config().Name, d.Run)
	}
	for _, sc := range s.schedules {
		runner := schedule.Runner{Now: s.deps.Now, Logger: s.log.With("schedule", sc.plan.Name)}
		sched := schedule.Bind(sc.sched, s.deps.Now())
		fire := func(ctx context.Context, at time.Time) error {
			ev := schedule.Event(sc.plan.RuleARN, s.env.Region, s.env.Account, at, "")
			if sc.plan.Input != "" {
				// SAM's Input replaces the whole event.
				if err := json.Unmarshal([]byte(sc.plan.Input), &ev); err != nil {
					return fmt.Errorf("schedule Input is not an event: %w", err)
				}
			}
			ctx, cancel := invocationContext(ctx, s.functions[sc.plan.Function].Timeout)
			defer cancel()
			return sc.fire(ctx, ev)
		}
		run(sc.plan.Name, func(ctx context.Context) error {
			if s.fireAtStart {
				// As a failed scheduled run does, a failure here is logged
				// and the schedule goes on.
				if err := fire(ctx, s.deps.Now()); err != nil && ctx.Err() == nil {
					s.log.Error("scheduled run at start failed", "schedule", sc.plan.Name, "err", err)
				}
			}
			return runner.Run(ctx, sched, fire)
		})
	}
	run("ttl-sweeper", func(ctx context.Context) error { return s.deps.Tables.RunSweeper(ctx, 30*time.Second) })
	run("retention-trimmer", func(ctx context.Context) error { return s.deps.Stream.RunTrimmer(ctx, time.Minute) })
	<-ctx.Done()
	wg.Wait()
	return errors.Join(errs...)
}

// Mappings returns the event source mappings with their plans.
func (s *Stack) Mappings() ([]*esm.Mapping, []MappingPlan) { return s.mappings, s.mapPlans }

// Deliveries returns the delivery streams.
func (s *Stack) Deliveries() []*firehose.DeliveryStream { return s.deliveries }

// Close closes every component, newest first.
func (s *Stack) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Drain waits until every event source mapping has caught up with its
// stream — nothing pending or in flight and nothing new read for idleFor —
// or ctx ends. Stopping the producers, draining, then cancelling Run leaves
// the tables consistent with what was written (delivery streams flush on
// cancel). Tumbling windows still open are not forced closed: as on AWS they
// close when their time is up, or are replayed after a restart.
func (s *Stack) Drain(ctx context.Context, idleFor time.Duration) error {
	tick := max(idleFor/4, 10*time.Millisecond)
	var lastRead int64 = -1
	var since time.Time
	for {
		read, idle := int64(0), true
		for _, m := range s.mappings {
			st := m.Stats()
			read += st.RecordsRead
			for _, sh := range st.Shards {
				idle = idle && sh.Pending == 0 && sh.Busy == 0
			}
		}
		switch {
		case !idle || read != lastRead:
			lastRead, since = read, time.Now()
		case time.Since(since) >= idleFor:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tick):
		}
	}
}

// lowerFirst turns a CloudFormation property name into the API member name
// AWS's validation messages use (BatchSize → batchSize).
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
