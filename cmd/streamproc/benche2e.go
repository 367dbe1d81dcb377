package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/dashboard/stacksource"
	"github.com/streamproc/streamproc/function/consumer"
	"github.com/streamproc/streamproc/local/esm"
	"github.com/streamproc/streamproc/local/metrics"
	"github.com/streamproc/streamproc/local/stack"
	"github.com/streamproc/streamproc/source/synthetic"
)

type benchE2EFlags struct {
	rate       string
	duration   time.Duration
	keep       bool
	cpuProfile string
	uiAddr     string
	browser    string
}

func (m *Main) benchE2ECmd(g *globalFlags) *cobra.Command {
	f := &benchE2EFlags{}
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Push realistic tweets through the whole local stack and report sustained throughput",
		Long: `Start the stack of template.yaml in a scratch data dir, write synthetic tweets
(2.5–6 KB, 40 % retweets) into its stream at --rate tweets/s or as fast as it
absorbs them (max), and report after --duration: tweets/s produced, written to
EventData, delivered to the bucket and counted by the trending function;
produce→EventData latency p50/p99 (record arrival to the end of the consumer
invocation that wrote it); and peak RSS.

With --ui-addr the dashboard is served during the run, and with --browser a
headless browser keeps the page open, so the cost of watching can be
measured: compare a run with them and one without.`,
		Example: `  streamproc bench e2e --rate max --duration 30s
  streamproc bench e2e --rate 5000 --duration 30s
  streamproc bench e2e --rate max --ui-addr 127.0.0.1:0 --browser /usr/bin/chromium`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return m.benchE2E(cmd.Context(), g, f) },
	}
	cmd.Flags().StringVar(&f.rate, "rate", "max", "tweets per second, or max")
	cmd.Flags().DurationVar(&f.duration, "duration", 20*time.Second, "how long to produce")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "keep the scratch data dir")
	cmd.Flags().StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	cmd.Flags().StringVar(&f.uiAddr, "ui-addr", "off", "serve the dashboard on this address during the run")
	cmd.Flags().StringVar(&f.browser, "browser", "", "open the dashboard in this headless Chromium during the run (needs --ui-addr)")
	return cmd
}

func (m *Main) benchE2E(ctx context.Context, g *globalFlags, f *benchE2EFlags) error {
	rate := 0
	if f.rate != "max" {
		n, err := strconv.Atoi(f.rate)
		if err != nil || n < 1 {
			return usagef("--rate %q: a positive number of tweets per second, or max", f.rate)
		}
		rate = n
	}
	if f.browser != "" && (f.uiAddr == "off" || f.uiAddr == "") {
		return usagef("--browser needs --ui-addr (e.g. --ui-addr 127.0.0.1:0)")
	}
	r, err := resolveTemplate(g)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "streamproc-bench-")
	if err != nil {
		return err
	}
	if !f.keep {
		defer os.RemoveAll(dir)
	}
	reg := metrics.New()
	lat := &latencies{}
	// The consumer's mapping reports IteratorAge (arrival → invoke) and
	// Duration per batch; their sum is the produce→EventData latency of the
	// batch's last record.
	durations := stacksource.NewDurations(m.Now)
	reg.OnSet = func(name, dim, value string, v float64) {
		if dim == "FunctionName" && strings.HasSuffix(value, "-DataStreamConsumer") {
			lat.observe(name, v)
		}
		if f.uiAddr != "off" {
			durations.Observe(name, dim, value, v)
		}
	}
	st, err := stack.Start(ctx, r, stack.Options{Dir: dir, Now: m.Now, Logger: slog.New(slog.DiscardHandler), Metrics: reg, Functions: m.functions, Getenv: m.Getenv, PollInterval: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	defer st.Close()
	ui, err := m.serveDashboard(ctx, st, reg, durations, f.uiAddr, "bench", dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer ui.stop()
	if f.browser != "" {
		stopBrowser, err := openHeadless(ctx, f.browser, ui.url)
		if err != nil {
			return err
		}
		defer stopBrowser()
		// Measure with the page open: wait until it has connected.
		for deadline := time.Now().Add(30 * time.Second); ui.dash.Clients() == 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("the browser did not open %s within 30s", ui.url)
			}
		}
	}
	if ui.url != "" {
		fmt.Fprintf(m.Stderr, "bench e2e: dashboard %s\n", ui.url)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- st.Run(runCtx) }()

	plan := st.Plan()
	name := plan.Streams[0].Name
	gen := synthetic.New(synthetic.Options{Seed: 1, Now: m.Now})
	eng := st.Deps().Stream
	// Pre-generate so the generator never limits the measurement.
	pool := make([]streamproc.Record, 20000)
	for i := range pool {
		tw := gen.Next()
		pool[i] = streamproc.Record{PartitionKey: tw.ScreenName, Data: tw.Raw}
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		stopRun()
		<-runDone
		return err
	}
	defer stopProfile()
	fmt.Fprintf(m.Stderr, "bench e2e: %d shard(s), rate %s, %v …\n", plan.Streams[0].Shards, f.rate, f.duration)
	start := time.Now()
	var produced, throttled int64
	deadline := start.Add(f.duration)
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; {
		if rate > 0 {
			due := int64(time.Since(start).Seconds() * float64(rate))
			if produced >= due {
				time.Sleep(5 * time.Millisecond)
				continue
			}
		}
		batch := make([]streamproc.Record, 0, streamproc.MaxPutRecords)
		size := 0
		for len(batch) < streamproc.MaxPutRecords {
			rec := pool[i%len(pool)]
			i++
			if size+len(rec.Data)+len(rec.PartitionKey) > streamproc.MaxPutRecordsBytes {
				break
			}
			size += len(rec.Data) + len(rec.PartitionKey)
			batch = append(batch, rec)
		}
		res, err := eng.PutRecords(ctx, name, batch)
		if err != nil {
			stopRun()
			<-runDone
			return err
		}
		for _, x := range res {
			if x.ErrorCode != "" {
				throttled++
			} else {
				produced++
			}
		}
	}
	produceTime := time.Since(start)
	// The pool repeats tweets, so count records processed, not items.
	consumed := func() float64 { return reg.Sum(consumer.MetricRecords) }
	drainStart := time.Now()
	for consumed() < float64(produced) && time.Since(drainStart) < 2*time.Minute && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	total := time.Since(start)
	stopRun()
	<-runDone
	var delivered int64
	for _, d := range st.Deliveries() {
		delivered += d.Stats().RecordsIn
	}
	maps, plans := st.Mappings()
	var trendRecords int64
	for i, mp := range maps {
		if strings.Contains(plans[i].Function, "Trending") {
			trendRecords += mp.Stats().RecordsSucceeded
		}
	}
	p50, p99 := lat.percentiles()
	fmt.Fprintf(m.Stdout, "produced       %d tweets in %v: %.0f tweets/s (%d throttled)\n", produced, produceTime.Round(time.Millisecond), float64(produced)/produceTime.Seconds(), throttled)
	fmt.Fprintf(m.Stdout, "EventData      %.0f records consumed in %v: %.0f tweets/s sustained\n", consumed(), total.Round(time.Millisecond), consumed()/total.Seconds())
	fmt.Fprintf(m.Stdout, "delivery       %d records read by the delivery stream: %.0f/s\n", delivered, float64(delivered)/total.Seconds())
	fmt.Fprintf(m.Stdout, "trending       %d records counted: %.0f/s\n", trendRecords, float64(trendRecords)/total.Seconds())
	fmt.Fprintf(m.Stdout, "latency        produce→EventData p50 %v, p99 %v (%d batches)\n", p50, p99, lat.n())
	fmt.Fprintf(m.Stdout, "peak RSS       %s\n", peakRSS())
	if ui.dash != nil {
		fmt.Fprintf(m.Stdout, "dashboard      served, %d page(s) connected at the end\n", ui.dash.Clients())
	}
	return nil
}

// openHeadless starts a headless Chromium on url in a scratch profile; stop
// ends it.
func openHeadless(ctx context.Context, path, url string) (stop func(), err error) {
	profile, err := os.MkdirTemp("", "streamproc-browser-")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--remote-debugging-port=0", "--user-data-dir="+profile, url)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("--browser: %w", err)
	}
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		os.RemoveAll(profile)
	}, nil
}

// latencies pairs each batch's IteratorAge with the Duration that follows.
type latencies struct {
	mu      sync.Mutex
	pending float64
	samples []time.Duration
}

func (l *latencies) observe(name string, v float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch name {
	case esm.MetricIteratorAge:
		l.pending = v
	case esm.MetricDuration:
		l.samples = append(l.samples, time.Duration((l.pending+v)*float64(time.Millisecond)))
	}
}

func (l *latencies) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.samples)
}

func (l *latencies) percentiles() (p50, p99 time.Duration) {
	l.mu.Lock()
	s := slices.Clone(l.samples)
	l.mu.Unlock()
	if len(s) == 0 {
		return 0, 0
	}
	slices.Sort(s)
	return s[len(s)*50/100], s[min(len(s)-1, len(s)*99/100)]
}

// peakRSS reads the process's high-water resident set size (Linux).
func peakRSS() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
