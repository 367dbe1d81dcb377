package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/dashboard"
	"github.com/streamproc/streamproc/dashboard/stacksource"
	"github.com/streamproc/streamproc/function/consumer"
	"github.com/streamproc/streamproc/function/producer"
	"github.com/streamproc/streamproc/function/transformer"
	"github.com/streamproc/streamproc/function/trending"
	"github.com/streamproc/streamproc/kinesisapi"
	"github.com/streamproc/streamproc/local/control"
	"github.com/streamproc/streamproc/local/logs"
	"github.com/streamproc/streamproc/local/metrics"
	"github.com/streamproc/streamproc/local/stack"
	"github.com/streamproc/streamproc/source/synthetic"
)

type upFlags struct {
	source       string
	rate         int
	duration     time.Duration
	addr         string
	pollInterval time.Duration
	status       time.Duration
	drain        time.Duration
}

func (m *Main) upCmd(g *globalFlags) *cobra.Command {
	f := &upFlags{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole architecture from template.yaml on this machine",
		Long: `Start a local twin of every resource in template.yaml: the Kinesis stream, the
DynamoDB tables, the bucket and queues, the functions with their event source
mappings (batching, retries, bisect, partial failures, tumbling windows), the
Firehose delivery stream with its transformer and buffering, and the
schedules. The Kinesis API is served on --addr for external producers, with
Prometheus metrics on /metrics.

Ctrl-C (or --duration) stops the source, drains in-flight batches, flushes the
delivery buffers, saves checkpoints and exits 0.`,
		Example: `  streamproc up                              # synthetic tweets at 100/s
  streamproc up --rate 2000 --duration 30s
  streamproc up --source none                # write with: aws --endpoint-url http://127.0.0.1:4566 kinesis put-record …
  streamproc up --parameter-overrides ConsumerBatchSize=500 DeliveryBufferSeconds=10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return m.up(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "synthetic", "built-in tweet source: synthetic or none")
	fl.IntVar(&f.rate, "rate", 100, "tweets per second from the built-in source")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0 = until Ctrl-C)")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:4566", "address of the Kinesis API and /metrics")
	fl.DurationVar(&f.pollInterval, "poll-interval", time.Second, "base poll rate of the event source mappings (AWS: 1s)")
	fl.DurationVar(&f.status, "status-interval", time.Second, "how often the status line is printed")
	fl.DurationVar(&f.drain, "drain-timeout", 30*time.Second, "on stop, how long to let the functions catch up with what was written")
	return cmd
}

func (m *Main) up(ctx context.Context, g *globalFlags, f *upFlags) error {
	if f.source != "synthetic" && f.source != "none" {
		return usagef("--source %q: choose synthetic or none", f.source)
	}
	if f.rate < 1 && f.source == "synthetic" {
		return usagef("--rate must be at least 1")
	}
	if _, err := os.Stat(g.template); err != nil {
		return usagef("streamproc up needs a template: %v (run it where template.yaml is, or pass -t)", err)
	}
	r, err := resolveTemplate(g)
	if err != nil {
		return err
	}
	started := time.Now()
	log := m.logger(g)
	reg := metrics.New()
	durations := stacksource.NewDurations(m.Now)
	reg.OnSet = durations.Observe // per-function duration percentiles for the dashboard and /metrics
	fnLogs, err := logs.Open(filepath.Join(g.dataDir, "logs"), logs.Options{})
	if err != nil {
		return err
	}
	defer fnLogs.Close()
	// Each function's logs also go to <data-dir>/logs/<function>.log, for `streamproc logs`.
	teeLogs := func(ctx context.Context, fp stack.FunctionPlan, deps stack.Deps) (stack.Handlers, error) {
		deps.Logger = slog.New(fnLogs.Handler(deps.Logger.Handler(), fp.Name))
		return m.functions(ctx, fp, deps)
	}
	st, err := stack.Start(ctx, r, stack.Options{Dir: g.dataDir, Now: m.Now, Logger: log, Metrics: reg, Functions: teeLogs, Getenv: m.Getenv, PollInterval: f.pollInterval})
	if err != nil {
		return err
	}
	defer st.Close()

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (another process uses it? pass --addr 127.0.0.1:0)", f.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.Handler())
	mux.Handle(control.Prefix, control.Handler(st.Deps().Tables, st.Deps().DeadLetters, st.Queue()))
	dash := dashboard.New(stacksource.New(st, reg, durations, stacksource.Options{DataDir: g.dataDir, BuiltIn: f.source, Now: m.Now}), dashboard.Options{Logger: log, Now: m.Now})
	defer dash.Start(context.WithoutCancel(ctx))() // live through the drain; stopped before the stack closes
	// GET / is the dashboard; the Kinesis API is POST /.
	mux.Handle("/", dashboard.Route(dash, kinesisapi.New(st.Deps().Stream, kinesisapi.Options{Now: m.Now, Logger: log, Region: localRegion})))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	// Other streamproc commands on this data dir find the running stack here.
	removeAddr, err := control.WriteAddr(g.dataDir, ln.Addr().String())
	if err != nil {
		return err
	}
	defer removeAddr()

	m.printSummary(st, ln.Addr().String(), g.dataDir, time.Since(started))
	if f.duration > 0 {
		// A plain cancel, not a deadline: invocations must not see the
		// end of the run as their own deadline.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		stop := time.AfterFunc(f.duration, cancel)
		defer stop.Stop()
	}
	var produced atomic.Int64
	srcCtx, stopSource := context.WithCancel(ctx)
	defer stopSource()
	srcDone := make(chan error, 1)
	if f.source == "synthetic" {
		go func() { srcDone <- m.runSource(srcCtx, st, f.rate, &produced, reg, log) }()
	} else {
		srcDone <- nil
	}
	statusDone := make(chan struct{})
	go func() { m.statusLoop(ctx, st, reg, &produced, f.status); close(statusDone) }()

	// Run under its own context: when the run ends, the source stops
	// first, the mappings drain what it wrote, then the stack stops.
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- st.Run(runCtx) }()
	var runErr error
	select {
	case runErr = <-runDone:
	case <-ctx.Done():
	}
	stopSource()
	srcErr := <-srcDone
	if runErr == nil {
		fmt.Fprintf(m.Stderr, "\nstopping: draining event source mappings (up to %v; Ctrl-C again to skip)…\n", f.drain)
		dctx, cancel := context.WithTimeout(context.Background(), f.drain)
		dctx, stopSignals := signal.NotifyContext(dctx, os.Interrupt, syscall.SIGTERM)
		_ = st.Drain(dctx, max(2*f.pollInterval, 200*time.Millisecond))
		stopSignals()
		cancel()
		stopRun()
		runErr = <-runDone
	}
	<-statusDone
	fmt.Fprintln(m.Stderr)
	fmt.Fprintln(m.Stderr, "stopped: "+m.statusLine(st, reg, &produced))
	if runErr != nil {
		return runErr
	}
	if srcErr != nil && !errors.Is(srcErr, context.Canceled) && !errors.Is(srcErr, context.DeadlineExceeded) {
		return fmt.Errorf("source: %w", srcErr)
	}
	return nil
}

// functions wires each function package to its Go handler on the embedded
// components — the local counterpart of cmd/lambda/<fn>.
func (m *Main) functions(_ context.Context, fp stack.FunctionPlan, deps stack.Deps) (stack.Handlers, error) {
	log := deps.Logger.With("function", fp.Name)
	met := deps.Metrics.Counter("FunctionName", fp.Name)
	envInt := func(key string, def int) (int, error) {
		v := fp.Env[key]
		if v == "" {
			return def, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("environment %s=%q is not an integer", key, v)
		}
		return n, nil
	}
	switch fp.Package {
	case "consumer":
		ttl, err := envInt(envTTLDays, 0)
		if err != nil {
			return stack.Handlers{}, err
		}
		h := &consumer.Handler{Table: deps.Tables, TableName: fp.Env[envTable], TTLDays: ttl, DeadLetters: deps.DeadLetters,
			FunctionName: fp.Name, Logger: log, Metrics: met, Now: deps.Now}
		return stack.Handlers{Kinesis: func(ctx context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
			resp, err := h.Handle(ctx, ev.KinesisEvent)
			if err != nil {
				return nil, err
			}
			return &events.KinesisTimeWindowEventResponse{BatchItemFailures: resp.BatchItemFailures}, nil
		}}, nil
	case "trending":
		h := &trending.Handler{Table: deps.Tables, TableName: fp.Env[envTrendsTable], Logger: log, Metrics: met}
		return stack.Handlers{Kinesis: func(ctx context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
			resp, err := h.Handle(ctx, *ev)
			if err != nil {
				return nil, err
			}
			return &resp, nil
		}}, nil
	case "transformer":
		h := &transformer.Handler{Logger: log, Metrics: met}
		return stack.Handlers{Firehose: h.Handle}, nil
	case "producer":
		if src := fp.Env[envSource]; src != "" && src != "synthetic" {
			return stack.Handlers{}, fmt.Errorf("TWEET_SOURCE=%s is not available locally; use synthetic", src)
		}
		topN, err := envInt(envTopN, 10)
		if err != nil {
			return stack.Handlers{}, err
		}
		woeid, err := envInt(envWOEID, 1)
		if err != nil {
			return stack.Handlers{}, err
		}
		h := &producer.Handler{Source: synthetic.New(synthetic.Options{Seed: time.Now().UnixNano(), Now: deps.Now}), Writer: deps.Stream,
			Stream: fp.Env[envStream], Mode: fp.Env[envMode], WOEID: int64(woeid), TopN: topN, Query: fp.Env[envQuery], Logger: log, Metrics: met}
		return stack.Handlers{Schedule: func(ctx context.Context, ev events.EventBridgeEvent) error {
			_, err := h.Handle(ctx, ev)
			return err
		}}, nil
	case "bucketcleaner":
		return stack.Handlers{}, nil // a custom resource: runs on AWS only
	}
	return stack.Handlers{}, fmt.Errorf("no local handler for package %q (Metadata Entrypoint of %s)", fp.Package, fp.LogicalID)
}

// runSource writes synthetic tweets into the stack's first stream at rate
// tweets/s, partition key = author handle, as the records-mode producer does.
func (m *Main) runSource(ctx context.Context, st *stack.Stack, rate int, produced *atomic.Int64, reg *metrics.Registry, log *slog.Logger) error {
	plan := st.Plan()
	if len(plan.Streams) == 0 {
		return errors.New("the template has no stream for the built-in source")
	}
	name := plan.Streams[0].Name
	gen := synthetic.New(synthetic.Options{Seed: m.Now().UnixNano(), Now: m.Now})
	eng := st.Deps().Stream
	const tick = 100 * time.Millisecond
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	owed := 0.0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		owed += float64(rate) * tick.Seconds()
		n := int(owed)
		owed -= float64(n)
		for n > 0 {
			batch := make([]streamproc.Record, 0, min(n, streamproc.MaxPutRecords))
			size := 0
			for len(batch) < cap(batch) {
				tw := gen.Next()
				if size+len(tw.Raw)+len(tw.ScreenName) > streamproc.MaxPutRecordsBytes {
					break
				}
				size += len(tw.Raw) + len(tw.ScreenName)
				batch = append(batch, streamproc.Record{PartitionKey: tw.ScreenName, Data: tw.Raw})
			}
			res, err := eng.PutRecords(ctx, name, batch)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
			ok := 0
			for _, r := range res {
				if r.ErrorCode == "" {
					ok++
				}
			}
			if ok < len(batch) {
				log.Warn("source: records throttled and dropped by the built-in source", "failed", len(batch)-ok)
			}
			produced.Add(int64(ok))
			reg.Add("IncomingRecords", "StreamName", name, float64(ok))
			n -= len(batch)
		}
	}
}

func (m *Main) printSummary(st *stack.Stack, addr, dataDir string, took time.Duration) {
	p := st.Plan()
	w := m.Stderr
	fmt.Fprintf(w, "streamproc up — local stack ready in %v\n", took.Round(time.Millisecond))
	for _, s := range p.Streams {
		fmt.Fprintf(w, "  stream     %-34s %d shard(s), retention %dh\n", s.Name, s.Shards, s.RetentionHours)
	}
	for _, t := range p.Tables {
		fmt.Fprintf(w, "  table      %-34s %s/%s", t.Name, t.HashKey, t.RangeKey)
		if t.TTLAttr != "" {
			fmt.Fprintf(w, "  TTL %s", t.TTLAttr)
		}
		fmt.Fprintln(w)
	}
	for _, b := range p.Buckets {
		fmt.Fprintf(w, "  bucket     %-34s %s\n", b, "(directory under the data dir)")
	}
	for _, q := range p.Queues {
		fmt.Fprintf(w, "  queue      %s\n", q)
	}
	for _, fp := range p.Functions {
		fmt.Fprintf(w, "  function   %-34s %s, timeout %v, %d MB\n", fp.Name, fp.Package, fp.Timeout, fp.MemorySize)
	}
	for _, mp := range p.Mappings {
		fmt.Fprintf(w, "  mapping    %-34s %s → %s\n", mp.Name, mp.Stream, mp.Function)
	}
	for _, d := range p.Deliveries {
		fmt.Fprintf(w, "  delivery   %-34s %s → %s → s3://%s/%s\n", d.Name, d.Stream, d.Processor, d.Bucket, d.Prefix)
	}
	for _, s := range p.Schedules {
		fmt.Fprintf(w, "  schedule   %-34s %s → %s\n", s.Name, s.Expression, s.Function)
	}
	if len(p.CloudOnly) > 0 {
		fmt.Fprintf(w, "  cloud only %s\n", strings.Join(p.CloudOnly, ", "))
	}
	for _, u := range p.Unknown {
		fmt.Fprintf(w, "  WARNING    %s is not a resource type streamproc knows; it is ignored locally\n", u)
	}
	fmt.Fprintf(w, "Kinesis API  http://%s   (aws --endpoint-url http://%s kinesis list-streams)\n", addr, addr)
	fmt.Fprintf(w, "metrics      http://%s/metrics\n", addr)
	fmt.Fprintf(w, "dashboard    http://%s/\n", addr)
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	fmt.Fprintf(w, "data dir     %s\n", dataDir)
}

func (m *Main) statusLoop(ctx context.Context, st *stack.Stack, reg *metrics.Registry, produced *atomic.Int64, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	tty := isTerminal(m.Stderr)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		line := m.statusLine(st, reg, produced)
		if tty {
			fmt.Fprintf(m.Stderr, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(m.Stderr, line)
		}
	}
}

// statusLine is one line of live numbers: what went in, what each branch
// did with it, and what went wrong.
func (m *Main) statusLine(st *stack.Stack, reg *metrics.Registry, produced *atomic.Int64) string {
	maps, plans := st.Mappings()
	var consumed, errs, failures int64
	var age time.Duration
	for i, mp := range maps {
		s := mp.Stats()
		if strings.HasPrefix(plans[i].Function, "DataStreamConsumer") || i == 0 {
			consumed += s.RecordsSucceeded
		}
		errs += s.FunctionErrors
		failures += s.FailureRecords
		for _, sh := range s.Shards {
			age = max(age, sh.IteratorAge)
		}
	}
	var objects, delivered, failed int64
	for _, d := range st.Deliveries() {
		s := d.Stats()
		objects += s.Objects
		delivered += s.ObjectRecords
		failed += s.RecordsFailed
	}
	return fmt.Sprintf("produced %d | consumed %d | items %d | delivered %d records in %d objects | processing-failed %d | dead-lettered %d | function errors %d | failed batches %d | iterator age %v",
		produced.Load(), consumed, int64(reg.Sum(consumer.MetricTweets)), delivered, objects, failed,
		int64(reg.Sum(consumer.MetricDeadLettered)), errs, failures, age.Round(time.Millisecond))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
