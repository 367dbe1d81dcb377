package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	"github.com/streamproc/streamproc/source/replay"
	"github.com/streamproc/streamproc/source/synthetic"
	"github.com/streamproc/streamproc/source/xapi"
)

type upFlags struct {
	source       string
	rate         int
	loop         bool
	params       string
	xAPIURL      string
	duration     time.Duration
	addr         string
	uiAddr       string
	pollInterval time.Duration
	status       time.Duration
	drain        time.Duration
	limits       bool
	credentials  []string
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
Prometheus metrics on /metrics; the live dashboard on --ui-addr.

Tweets come from --source:
  synthetic        generated tweets at --rate (the default; no account needed)
  replay:FILE,…    archived tweets from JSON Lines files (.gz too; - is stdin),
                   v1.1 or v2 shapes, at --rate (0 = as fast as possible),
                   again from the start with --loop
  xapi             the X API v2: the template's producer function runs with
                   ProducerSource=xapi, once at start and then on its
                   schedule; credentials from --params or TWITTER_BEARER_TOKEN
                   (or the four TWITTER_CONSUMER_*/TWITTER_ACCESS_* variables)
  none             nothing built in: write through the Kinesis API

Ctrl-C (or --duration) stops the source, drains in-flight batches, flushes the
delivery buffers, saves checkpoints and exits 0. A tumbling window still open
at the stop (TrendsWindowSeconds, 60 s by default) is not written to Trends,
as on AWS, where a window's result comes when it ends; its checkpoint stays
before it, so the next 'up' reads it again and finishes it. Run at least one
window long to see trends.`,
		Example: `  streamproc up                              # synthetic tweets at 100/s
  streamproc up --rate 2000 --duration 30s
  streamproc up --source replay:archive.jsonl.gz --rate 0
  TWITTER_BEARER_TOKEN=… streamproc up --source xapi
  streamproc up --source none                # write with: aws --endpoint-url http://127.0.0.1:4566 kinesis put-record …
  streamproc up --parameter-overrides "ConsumerBatchSize=500 DeliveryBufferSeconds=10"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return m.up(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "synthetic", "tweet source: synthetic, replay:FILE[,FILE…], xapi or none")
	fl.IntVar(&f.rate, "rate", 100, "tweets per second from synthetic or replay (replay: 0 = as fast as possible)")
	fl.BoolVar(&f.loop, "loop", false, "replay: start again after the last file")
	fl.StringVar(&f.params, "params", "", "local parameters file, mode 0600, the local SSM /twitter/* (default <data-dir>/params)")
	fl.StringVar(&f.xAPIURL, "x-api-url", "", "xapi: API base URL (default $"+xapi.EnvBaseURL+", else "+xapi.DefaultBaseURL+")")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0 = until Ctrl-C)")
	fl.StringVar(&f.addr, "addr", "127.0.0.1:4566", "address of the Kinesis API and /metrics")
	fl.StringVar(&f.uiAddr, "ui-addr", "127.0.0.1:4567", "address of the live dashboard (off = no dashboard)")
	fl.DurationVar(&f.pollInterval, "poll-interval", time.Second, "base poll rate of the event source mappings (AWS: 1s)")
	fl.DurationVar(&f.status, "status-interval", time.Second, "how often the status line is printed")
	fl.DurationVar(&f.drain, "drain-timeout", 30*time.Second, "on stop, how long to let the functions catch up with what was written")
	fl.BoolVar(&f.limits, "enforce-limits", false, "enforce Kinesis per-shard throughput limits (1,000 records/s and 1 MiB/s writes, 5 reads/s and 2 MiB/s), to exercise producers' retry paths")
	fl.StringArrayVar(&f.credentials, "credentials", nil, "Kinesis API: accept only this access key, as KEY:SECRET, and verify signatures (repeatable)")
	return cmd
}

func (m *Main) up(ctx context.Context, g *globalFlags, f *upFlags) error {
	kind, files, _ := strings.Cut(f.source, ":")
	switch {
	case kind != "synthetic" && kind != "none" && kind != "replay" && kind != "xapi":
		return usagef("--source %q: choose synthetic, replay:FILE[,FILE…], xapi or none", f.source)
	case kind == "replay" && files == "":
		return usagef("--source replay needs files: replay:FILE[,FILE…] (replay:- reads stdin)")
	case kind != "replay" && files != "":
		return usagef("--source %q: only replay takes files", f.source)
	case kind == "synthetic" && f.rate < 1:
		return usagef("--rate must be at least 1")
	case f.rate < 0:
		return usagef("--rate must not be negative")
	case f.loop && kind != "replay":
		return usagef("--loop applies to --source replay:FILE only")
	case f.xAPIURL != "" && kind != "xapi":
		return usagef("--x-api-url applies to --source xapi only")
	case f.duration < 0:
		return usagef("--duration must not be negative (0 runs until Ctrl-C)")
	case f.status < 0 || f.drain < 0:
		return usagef("--status-interval and --drain-timeout must not be negative")
	case f.pollInterval <= 0:
		return usagef("--poll-interval must be positive (AWS polls each shard once a second)")
	}
	if err := checkListenAddr("--addr", f.addr, "127.0.0.1:4566"); err != nil {
		return err
	}
	if f.uiAddr != "off" && f.uiAddr != "" {
		if err := checkListenAddr("--ui-addr", f.uiAddr, "127.0.0.1:4567"); err != nil {
			return err
		}
	}
	creds, err := parseCredentials(f.credentials)
	if err != nil {
		return err
	}
	if f.params != "" {
		if _, err := os.Stat(f.params); err != nil {
			return usagef("--params: %v", err)
		}
	}
	getenv := m.Getenv
	if f.xAPIURL != "" {
		getenv = func(k string) (string, bool) {
			if k == xapi.EnvBaseURL {
				return f.xAPIURL, true
			}
			return m.Getenv(k)
		}
	}
	if kind == "xapi" {
		// The template's producer function is the X API client, as on AWS.
		g.parameterOverrides = append(slices.Clone(g.parameterOverrides), "ProducerSource=xapi")
	}
	if _, err := os.Stat(g.template); err != nil {
		return usagef("streamproc up needs a template: %v (run it where template.yaml is, or pass -t)", err)
	}
	r, err := resolveTemplate(g)
	if err != nil {
		return err
	}
	// Everything the template asks for is checked before anything starts.
	if _, err := r.Plan(); err != nil {
		return overrideUsage(err)
	}
	// The source's files are checked before anything starts, too.
	var src replay.Iterator
	switch kind {
	case "synthetic":
		src = synthIter{synthetic.New(synthetic.Options{Seed: m.Now().UnixNano(), Now: m.Now})}
	case "replay":
		rd, err := replay.Open(strings.Split(files, ","), replay.Options{Loop: f.loop, Stdin: m.Stdin, Logger: m.logger(g)})
		if err != nil {
			if errors.Is(err, streamproc.ErrInvalid) || errors.Is(err, fs.ErrNotExist) {
				return usagef("--source %s: %v", f.source, err)
			}
			return err
		}
		defer rd.Close()
		src = rd
	}
	// Take the ports before anything is started or written: a busy port is
	// found before the data dir is touched.
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another 'streamproc up' running? pass --addr 127.0.0.1:0 for any free port)", f.addr, err)
	}
	defer ln.Close()
	var uiLn net.Listener
	if f.uiAddr != "off" && f.uiAddr != "" {
		if uiLn, err = net.Listen("tcp", f.uiAddr); err != nil {
			return fmt.Errorf("listen on %s: %w (is another 'streamproc up' running? pass --ui-addr 127.0.0.1:0, or --ui-addr off)", f.uiAddr, err)
		}
		defer uiLn.Close()
	}
	started := time.Now()
	log := m.logger(g)
	reg := metrics.New()
	durations := stacksource.NewDurations(m.Now)
	reg.OnSet = durations.Observe // per-function duration percentiles for the dashboard and /metrics
	// The console shows a function's warnings and errors, at most
	// consoleLinesPerSecond of them: a burst of bad records is summed up
	// instead of printed a line each (its log file keeps every line).
	var throttles throttleSet
	fileLevel, quiet := slog.LevelInfo, func(h slog.Handler, name string) slog.Handler {
		return throttles.add(logs.Throttle(logs.AtLeast(h, slog.LevelWarn), consoleLinesPerSecond, m.Now, "'streamproc logs "+name+"' shows them all"))
	}
	if g.debug {
		fileLevel, quiet = slog.LevelDebug, func(h slog.Handler, _ string) slog.Handler { return h }
	}
	// A burst's "N more log lines" note comes within a second, not only
	// before the function's next line (there may be none).
	flushDone := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-flushDone:
				return
			case <-t.C:
				throttles.flush()
			}
		}
	}()
	defer func() { close(flushDone); throttles.flush() }()
	fnLogs, err := logs.Open(filepath.Join(g.dataDir, "logs"), logs.Options{Level: fileLevel})
	if err != nil {
		return err
	}
	defer fnLogs.Close()
	// Each function's logs go to <data-dir>/logs/<function>.log, for
	// `streamproc logs`; the console shows only their warnings and errors
	// (everything with --debug), so the status line stays readable.
	teeLogs := func(ctx context.Context, fp stack.FunctionPlan, deps stack.Deps) (stack.Handlers, error) {
		deps.Logger = slog.New(fnLogs.Handler(quiet(deps.Logger.Handler(), fp.Name), fp.Name))
		return m.functions(ctx, fp, deps)
	}
	// The built-in source's log is kept the same way, as `streamproc logs source`.
	srcLog := slog.New(fnLogs.Handler(quiet(log.Handler(), sourceLog), sourceLog))
	// The template's producer is the X API client; any other --source
	// stands in for it, so its schedule is held (--source none means no
	// tweets but the ones you write).
	hold := func(_ stack.SchedulePlan, fn stack.FunctionPlan) bool {
		return kind != "xapi" && fn.Package == "producer"
	}
	st, err := stack.Start(ctx, r, stack.Options{Dir: g.dataDir, Now: m.Now, Logger: log, Metrics: reg, Functions: teeLogs, Getenv: getenv,
		ParamsFile: f.params, PollInterval: f.pollInterval, FireSchedulesAtStart: kind == "xapi", HoldSchedule: hold, EnforceLimits: f.limits})
	if err != nil {
		return err
	}
	defer st.Close()
	builtIn := kind
	if kind == "xapi" {
		builtIn = "" // the producer function is the X API client; the topology shows it
	}
	// One sampler computes what the page shows and publishes it to the
	// registry; a /metrics scrape samples first, so it sees the same
	// numbers as of now, dashboard or not.
	sampler := stacksource.New(st, reg, durations, stacksource.Options{DataDir: g.dataDir, BuiltIn: builtIn, Now: m.Now})
	gatherCtx := context.WithoutCancel(ctx)
	reg.BeforeGather = func() { _, _ = sampler.Sample(gatherCtx) }

	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.Handler())
	// Other streamproc commands read tables and queues through the control
	// API; it has no credentials, so it answers this machine only.
	mux.Handle(control.Prefix, loopbackOnly(control.Handler(st.Deps().Tables, st.Deps().DeadLetters, st.Queue())))
	mux.Handle("POST "+control.Prefix+control.InvokePath+"{function}", loopbackOnly(m.invokeHandler(g, st.Deps(), fnLogs.Handler)))
	kin, err := kinesisapi.NewHandler(st.Deps().Stream, kinesisapi.Options{Now: m.Now, Logger: log, Region: localRegion,
		Credentials: creds, StateFile: filepath.Join(g.dataDir, kinesisStateFile),
		OnPut: func(stream string, n int) { reg.Add(stacksource.MetricAPIRecords, "StreamName", stream, float64(n)) }})
	if err != nil {
		return err
	}
	mux.Handle("/", kin)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	ui := m.serveDashboard(ctx, sampler, reg, uiLn, log)
	defer ui.stop()
	// Other streamproc commands on this data dir find the running stack here.
	removeAddr, err := control.WriteAddr(g.dataDir, ln.Addr().String())
	if err != nil {
		return err
	}
	defer removeAddr()

	heldNote := func(sp stack.SchedulePlan) string {
		for _, fp := range st.Plan().Functions {
			if fp.LogicalID == sp.Function && hold(sp, fp) {
				if kind == "none" {
					return "   (held: --source none; --source xapi runs it)"
				}
				return fmt.Sprintf("   (held: --source %s stands in for it; --source xapi runs it)", kind)
			}
		}
		return ""
	}
	m.printSummary(st, ln.Addr().String(), ui.url, g.dataDir, time.Since(started), heldNote)
	if _, exposed := reachable(ln.Addr().String()); exposed && len(creds) == 0 {
		m.exposedWarning(ln.Addr().String())
	}
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
	written := streamWritten(st) // the status line counts this run's records
	srcCtx, stopSource := context.WithCancel(ctx)
	defer stopSource()
	srcDone := make(chan error, 1)
	if src != nil {
		go func() { srcDone <- m.runSource(srcCtx, st, src, f.rate, &produced, reg, srcLog) }()
	} else {
		srcDone <- nil
	}
	statusDone := make(chan struct{})
	go func() { m.statusLoop(ctx, st, reg, &produced, written, f.status); close(statusDone) }()

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
	throttles.flush()
	fmt.Fprintln(m.Stderr)
	fmt.Fprintln(m.Stderr, "stopped: "+m.statusLine(st, reg, &produced, streamWritten(st)-written))
	m.openWindowsNote(st)
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
		src, err := m.producerSource(fp, deps, log)
		if err != nil {
			return stack.Handlers{}, err
		}
		topN, err := envInt(envTopN, 10)
		if err != nil {
			return stack.Handlers{}, err
		}
		woeid, err := envInt(envWOEID, 1)
		if err != nil {
			return stack.Handlers{}, err
		}
		h := &producer.Handler{Source: src, Writer: deps.Stream,
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

// producerSource is the producer function's TweetSource for its
// TWEET_SOURCE, as cmd/lambda/producer builds it on AWS: the X API with the
// local parameters and since_ids kept in the template's state table.
func (m *Main) producerSource(fp stack.FunctionPlan, deps stack.Deps, log *slog.Logger) (streamproc.TweetSource, error) {
	switch src := fp.Env[envSource]; src {
	case "", "synthetic":
		return synthetic.New(synthetic.Options{Seed: time.Now().UnixNano(), Now: deps.Now}), nil
	case "xapi":
		c, err := xapi.New(xapi.Options{Getenv: deps.Getenv, Params: deps.Params, Now: deps.Now, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fp.LogicalID, err)
		}
		name := fp.Env[envStateTable]
		if name == "" {
			log.Warn("no " + envStateTable + " in the function's environment: every run searches from scratch")
			return c, nil
		}
		return xapi.WithSinceIDs(c, &xapi.TableSinceIDs{Table: deps.Tables, Name: name}, log), nil
	default:
		return nil, fmt.Errorf("%s: TWEET_SOURCE=%s: choose synthetic or xapi", fp.LogicalID, src)
	}
}

// liveDashboard is a served dashboard; the zero value is none.
type liveDashboard struct {
	url  string
	dash *dashboard.Dashboard
	stop func()
}

// serveDashboard serves st's live dashboard, with /metrics, on addr ("off"
// or "" = none). Call stop before the stack closes: the page reads it.
func (m *Main) serveDashboard(ctx context.Context, sampler *stacksource.Source, reg *metrics.Registry, ln net.Listener, log *slog.Logger) liveDashboard {
	if ln == nil {
		return liveDashboard{stop: func() {}}
	}
	dash := dashboard.New(sampler, dashboard.Options{Logger: log, Now: m.Now})
	stopDash := dash.Start(context.WithoutCancel(ctx)) // live through the drain
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.Handler()) // the dashboard's numbers, in Prometheus form
	mux.Handle("/", dash)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return liveDashboard{url: "http://" + ln.Addr().String() + "/", dash: dash, stop: func() { srv.Close(); stopDash() }}
}

// checkListenAddr refuses an address net.Listen cannot take before
// anything starts: host:port, the host optional.
func checkListenAddr(flag, addr, example string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("%s %q: want host:port, e.g. %s (port 0 picks a free one)", flag, addr, example)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("%s %q: the port must be a number from 0 to 65535", flag, addr)
	}
	return nil
}

// runSource writes src's tweets into the stack's first stream at rate
// tweets/s (0 = as fast as the stream takes them) through the producer's
// code, in the mode the template gives the producer function (records:
// partition key = author handle; aggregated: KPL aggregates), throttled
// entries retried. It returns nil when src ends; a stop lets the batch in
// hand finish.
func (m *Main) runSource(ctx context.Context, st *stack.Stack, src replay.Iterator, rate int, produced *atomic.Int64, reg *metrics.Registry, log *slog.Logger) error {
	plan := st.Plan()
	if len(plan.Streams) == 0 {
		return errors.New("the template has no stream for the built-in source")
	}
	name := plan.Streams[0].Name
	mode := producer.ModeRecords
	for _, fp := range plan.Functions {
		if fp.Package == "producer" && fp.Env[envMode] != "" {
			mode = fp.Env[envMode]
		}
	}
	chunk := &chunkSource{}
	h := &producer.Handler{Source: chunk, Writer: st.Deps().Stream, Stream: name, Mode: mode, Query: produceQuery, Logger: log}
	const tick = 100 * time.Millisecond
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	owed := 0.0
	batch := make([]streamproc.SourceTweet, 0, maxChunk)
	write := func() error {
		if len(batch) == 0 || ctx.Err() != nil {
			// Stopping: tweets not yet sent were never produced.
			batch = batch[:0]
			return ctx.Err()
		}
		chunk.set(batch)
		// A batch begun is written to the end: a stop must not cut it.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), chunkTimeout)
		res, err := h.Handle(wctx, events.EventBridgeEvent{})
		cancel()
		batch = batch[:0]
		produced.Add(int64(res.TweetsPut))
		reg.Add(stacksource.MetricBuiltInRecords, "StreamName", name, float64(res.RecordsPut))
		if res.Failed > 0 {
			log.Warn("source: tweets the stream did not take (streamproc logs source says why)", "failed", res.Failed)
		}
		return err
	}
	for total := 0; ; {
		n := maxChunk
		if rate > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-ticker.C:
			}
			owed += float64(rate) * tick.Seconds()
			n = int(owed)
			owed -= float64(n)
		}
		for ; n > 0; n-- {
			tw, err := src.Next(ctx)
			if err == io.EOF {
				if err := write(); err != nil {
					return err
				}
				log.Info("source: all tweets written", "tweets", total)
				// Said on the console too: its logs only show warnings.
				fmt.Fprintf(m.Stderr, "\nsource: all %d tweets written; the stack keeps running (Ctrl-C stops it)\n", total)
				return nil
			}
			if err != nil {
				return errors.Join(err, write())
			}
			total++
			batch = append(batch, tw)
			if len(batch) == cap(batch) {
				if err := write(); err != nil {
					return err
				}
			}
		}
		if err := write(); err != nil {
			return err
		}
	}
}

func (m *Main) printSummary(st *stack.Stack, addr, uiURL, dataDir string, took time.Duration, scheduleNote func(stack.SchedulePlan) string) {
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
		fmt.Fprintf(w, "  schedule   %-34s %s → %s%s\n", s.Name, s.Expression, s.Function, scheduleNote(s))
	}
	if len(p.CloudOnly) > 0 {
		fmt.Fprintf(w, "  cloud only %s\n", strings.Join(p.CloudOnly, ", "))
	}
	for _, u := range p.Unknown {
		fmt.Fprintf(w, "  WARNING    %s is not a resource type streamproc knows; it is ignored locally\n", u)
	}
	if len(p.Off) > 0 {
		fmt.Fprintf(w, "  not created %s\n", strings.Join(p.Off, ", "))
	}
	host, _ := reachable(addr)
	fmt.Fprintf(w, "Kinesis API  http://%s   (aws --endpoint-url http://%s kinesis list-streams)\n", host, host)
	fmt.Fprintf(w, "metrics      http://%s/metrics\n", host)
	if uiURL != "" {
		fmt.Fprintf(w, "dashboard    %s\n", uiURL)
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	fmt.Fprintf(w, "data dir     %s\n", dataDir)
}

func (m *Main) statusLoop(ctx context.Context, st *stack.Stack, reg *metrics.Registry, produced *atomic.Int64, base int64, every time.Duration) {
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
		line := m.statusLine(st, reg, produced, streamWritten(st)-base)
		if tty {
			fmt.Fprintf(m.Stderr, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(m.Stderr, line)
		}
	}
}

// throttleSet is the console throttles of up's functions, to flush.
type throttleSet struct {
	mu sync.Mutex
	ts []*logs.Throttled
}

func (s *throttleSet) add(t *logs.Throttled) *logs.Throttled {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ts = append(s.ts, t)
	return t
}

func (s *throttleSet) flush() {
	s.mu.Lock()
	ts := slices.Clone(s.ts)
	s.mu.Unlock()
	for _, t := range ts {
		_ = t.Flush(context.Background())
	}
}

// consoleLinesPerSecond bounds the function log lines up prints a second.
const consoleLinesPerSecond = 5

// sourceLog names the built-in source's log file (streamproc logs source).
const sourceLog = "source"

// streamWritten is the records the stack's streams hold, whoever wrote them
// (built-in source, producer function, Kinesis API clients).
func streamWritten(st *stack.Stack) int64 {
	var n uint64
	for _, sp := range st.Plan().Streams {
		if w, err := st.Deps().Stream.Written(sp.Name); err == nil {
			n += w
		}
	}
	return int64(n)
}

// statusLine is one line of live numbers: what went in, what each branch
// did with it, and what went wrong. produced counts the built-in source's
// tweets, inStream every record written to the streams during this run.
func (m *Main) statusLine(st *stack.Stack, reg *metrics.Registry, produced *atomic.Int64, inStream int64) string {
	maps, plans := st.Mappings()
	var consumed, errs, failures int64
	var age time.Duration
	for i, mp := range maps {
		s := mp.Stats()
		if strings.HasPrefix(plans[i].Function, "DataStreamConsumer") || i == 0 {
			consumed += s.RecordsSucceeded
			// The consumer's lag: a tumbling-window mapping's age also
			// holds its batching window, which is no lag.
			for _, sh := range s.Shards {
				age = max(age, sh.IteratorAge)
			}
		}
		errs += s.FunctionErrors
		failures += s.FailureRecords
	}
	var objects, delivered, failed, convFailed int64
	converts := false
	for _, d := range st.Deliveries() {
		s := d.Stats()
		objects += s.Objects
		delivered += s.ObjectRecords
		failed += s.RecordsFailed
		convFailed += s.ConversionFailed
		converts = converts || d.Config().Conversion != nil
	}
	conversion := ""
	if converts {
		conversion = fmt.Sprintf(" | conversion-failed %d", convFailed)
	}
	objectsWord := "objects"
	if objects == 1 {
		objectsWord = "object"
	}
	return fmt.Sprintf("produced %d | in stream %d | consumed %d | items %d | notices %d | delivered %d records in %d %s | processing-failed %d%s | dead-lettered %d | function errors %d | failed batches %d | consumer iterator age %v",
		produced.Load()+int64(reg.Sum(producer.MetricTweetsPut)), inStream, consumed, int64(reg.Sum(consumer.MetricTweets)), int64(reg.Sum(consumer.MetricNotices)), delivered, objects, objectsWord, failed, conversion,
		int64(reg.Sum(consumer.MetricDeadLettered)), errs, failures, age.Round(time.Millisecond))
}

// openWindowsNote says at stop which tumbling windows were still open: as
// on AWS, a window's result is written (to Trends) only when it ends, so a
// short run can stop with nothing there yet. The checkpoint stays before
// the window, so the next 'up' reads its records again and finishes it.
func (m *Main) openWindowsNote(st *stack.Stack) {
	maps, plans := st.Mappings()
	for i, mp := range maps {
		wins := mp.OpenWindows()
		if len(wins) == 0 {
			continue
		}
		start, end := wins[0].Start, wins[0].End
		for _, w := range wins[1:] {
			start, end = minTime(start, w.Start), maxTime(end, w.End)
		}
		fmt.Fprintf(m.Stderr, "note: %s's tumbling window %s–%s was still open at stop; its result is written when the window ends, so the next 'streamproc up' reads it again and finishes it (AWS does the same)\n",
			plans[i].Function, start.UTC().Format(time.TimeOnly), end.UTC().Format(time.TimeOnly))
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
