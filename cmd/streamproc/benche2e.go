package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	compare    string
	rounds     int
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
headless browser keeps the page open. --compare dashboard measures what
watching costs: it runs --rounds pairs of runs, alternating without and with
the page open (served on 127.0.0.1:0, in --browser), and reports the
ratio of the medians — the machine's noise hits both sides alike — and the
CPU the browser and this process used. Whenever the dashboard is served,
the run also follows its event stream and searches it by user twice a
second, and reports the longest gap between live updates and the search
latency: whether the page stays responsive under the load (that probe's
own small cost is counted on the page-open side).`,
		Example: `  streamproc bench e2e --rate max --duration 30s
  streamproc bench e2e --rate 5000 --duration 30s
  streamproc bench e2e --rate max --ui-addr 127.0.0.1:0 --browser /usr/bin/chromium
  streamproc bench e2e --compare dashboard --browser /usr/bin/chromium --rounds 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return m.benchE2E(cmd.Context(), g, f) },
	}
	cmd.Flags().StringVar(&f.rate, "rate", "max", "tweets per second, or max")
	cmd.Flags().DurationVar(&f.duration, "duration", 20*time.Second, "how long to produce")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "keep the scratch data dir")
	cmd.Flags().StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	cmd.Flags().StringVar(&f.uiAddr, "ui-addr", "off", "serve the dashboard on this address during the run")
	cmd.Flags().StringVar(&f.browser, "browser", "", "open the dashboard in this headless Chromium during the run (needs --ui-addr)")
	cmd.Flags().StringVar(&f.compare, "compare", "", "compare runs without and with this open: dashboard (needs --browser)")
	cmd.Flags().IntVar(&f.rounds, "rounds", 3, "with --compare: pairs of runs")
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
	switch {
	case f.compare != "" && f.compare != "dashboard":
		return usagef("--compare takes dashboard")
	case f.compare != "" && f.browser == "":
		return usagef("--compare dashboard needs --browser (e.g. --browser /usr/bin/chromium)")
	case f.compare != "" && f.rounds < 1:
		return usagef("--rounds must be at least 1")
	case f.compare == "" && f.browser != "" && (f.uiAddr == "off" || f.uiAddr == ""):
		return usagef("--browser needs --ui-addr (e.g. --ui-addr 127.0.0.1:0)")
	}
	r, err := resolveTemplate(g)
	if err != nil {
		return err
	}
	if f.compare == "" {
		res, err := m.runE2E(ctx, r, f, rate, f.uiAddr, f.browser, f.cpuProfile)
		if err != nil {
			return err
		}
		res.print(m.Stdout)
		return nil
	}
	var closed, open []e2eResult
	for round := 1; round <= f.rounds; round++ {
		for _, watched := range []bool{false, true} {
			addr, browser, what := "off", "", "page closed"
			if watched {
				addr, browser, what = "127.0.0.1:0", f.browser, "page open"
			}
			fmt.Fprintf(m.Stderr, "bench e2e: round %d/%d, %s\n", round, f.rounds, what)
			res, err := m.runE2E(ctx, r, f, rate, addr, browser, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stderr, "  %.0f tweets/s sustained, p99 %v, CPU %.1f s here + %.1f s browser\n", res.sustained(), res.p99, res.cpu.Seconds(), res.browserCPU.Seconds())
			if watched {
				open = append(open, res)
			} else {
				closed = append(closed, res)
			}
		}
	}
	med := func(rs []e2eResult, v func(e2eResult) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = v(r)
		}
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	sustained := func(r e2eResult) float64 { return r.sustained() }
	p99 := func(r e2eResult) float64 { return r.p99.Seconds() }
	perSec := func(d func(e2eResult) time.Duration) func(e2eResult) float64 {
		return func(r e2eResult) float64 { return d(r).Seconds() / r.total.Seconds() }
	}
	cpu := perSec(func(r e2eResult) time.Duration { return r.cpu })
	bcpu := perSec(func(r e2eResult) time.Duration { return r.browserCPU })
	fmt.Fprintf(m.Stdout, "%-22s %14s %14s %8s\n", "median of "+strconv.Itoa(f.rounds), "page closed", "page open", "ratio")
	fmt.Fprintf(m.Stdout, "%-22s %14.0f %14.0f %8.2f\n", "sustained tweets/s", med(closed, sustained), med(open, sustained), med(open, sustained)/med(closed, sustained))
	fmt.Fprintf(m.Stdout, "%-22s %14.3f %14.3f %8.2f\n", "p99 latency s", med(closed, p99), med(open, p99), med(open, p99)/med(closed, p99))
	fmt.Fprintf(m.Stdout, "%-22s %14.2f %14.2f\n", "CPU cores here", med(closed, cpu), med(open, cpu))
	fmt.Fprintf(m.Stdout, "%-22s %14s %14.2f\n", "CPU cores browser", "-", med(open, bcpu))
	var worst uiProbeResult
	for _, r := range open {
		worst.MaxGap = max(worst.MaxGap, r.ui.MaxGap)
		worst.SearchP99 = max(worst.SearchP99, r.ui.SearchP99)
		worst.Failed += r.ui.Failed
	}
	fmt.Fprintf(m.Stdout, "page open, worst round: longest gap between live updates %v, search by user p99 %v, %d failed requests\n",
		worst.MaxGap.Round(time.Millisecond), worst.SearchP99.Round(100*time.Microsecond), worst.Failed)
	return nil
}

// e2eResult is what one bench e2e run measured.
type e2eResult struct {
	produced, throttled, delivered, trendRecords int64
	consumed                                     float64
	produceTime, total                           time.Duration
	p50, p99                                     time.Duration
	batches                                      int
	// cpu is what this process used during the run; browserCPU what the
	// browser's processes used (zero without one).
	cpu, browserCPU time.Duration
	pages           int // dashboard pages connected at the end; -1: no dashboard
	ui              uiProbeResult
}

func (r e2eResult) sustained() float64 { return r.consumed / r.total.Seconds() }

func (r e2eResult) print(w io.Writer) {
	fmt.Fprintf(w, "produced       %d tweets in %v: %.0f tweets/s (%d throttled)\n", r.produced, r.produceTime.Round(time.Millisecond), float64(r.produced)/r.produceTime.Seconds(), r.throttled)
	fmt.Fprintf(w, "EventData      %.0f records consumed in %v: %.0f tweets/s sustained\n", r.consumed, r.total.Round(time.Millisecond), r.sustained())
	fmt.Fprintf(w, "delivery       %d records read by the delivery stream: %.0f/s\n", r.delivered, float64(r.delivered)/r.total.Seconds())
	fmt.Fprintf(w, "trending       %d records counted: %.0f/s\n", r.trendRecords, float64(r.trendRecords)/r.total.Seconds())
	fmt.Fprintf(w, "latency        produce→EventData p50 %v, p99 %v (%d batches)\n", r.p50, r.p99, r.batches)
	fmt.Fprintf(w, "CPU            %.1f s in this process (%.2f cores)\n", r.cpu.Seconds(), r.cpu.Seconds()/r.total.Seconds())
	if r.browserCPU > 0 {
		fmt.Fprintf(w, "browser CPU    %.1f s (%.2f cores)\n", r.browserCPU.Seconds(), r.browserCPU.Seconds()/r.total.Seconds())
	}
	fmt.Fprintf(w, "peak RSS       %s\n", peakRSS())
	if r.pages >= 0 {
		fmt.Fprintf(w, "dashboard      served, %d page(s) connected at the end; %s\n", r.pages, r.ui)
	}
}

// runE2E runs the stack of r in a scratch data dir and measures it.
func (m *Main) runE2E(ctx context.Context, r *stack.Resolved, f *benchE2EFlags, rate int, uiAddr, browserPath, cpuProfile string) (e2eResult, error) {
	res := e2eResult{pages: -1}
	dir, err := os.MkdirTemp("", "streamproc-bench-")
	if err != nil {
		return res, err
	}
	if !f.keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintf(m.Stderr, "data dir kept: %s (streamproc query --data-dir %s …)\n", dir, dir)
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
		if uiAddr != "off" {
			durations.Observe(name, dim, value, v)
		}
	}
	st, err := stack.Start(ctx, r, stack.Options{Dir: dir, Now: m.Now, Logger: slog.New(slog.DiscardHandler), Metrics: reg, Functions: m.functions, Getenv: m.Getenv, PollInterval: 100 * time.Millisecond})
	if err != nil {
		return res, err
	}
	defer st.Close()
	var uiLn net.Listener
	if uiAddr != "off" && uiAddr != "" {
		if uiLn, err = net.Listen("tcp", uiAddr); err != nil {
			return res, fmt.Errorf("dashboard: listen on %s: %w", uiAddr, err)
		}
		defer uiLn.Close()
	}
	ui := m.serveDashboard(ctx, stacksource.New(st, reg, durations, stacksource.Options{DataDir: dir, BuiltIn: "bench", Now: m.Now}), reg, uiLn, slog.New(slog.DiscardHandler))
	defer ui.stop()
	var browser *headless
	if browserPath != "" {
		browser, err = openHeadless(ctx, browserPath, ui.url)
		if err != nil {
			return res, err
		}
		defer browser.stop()
		// Measure with the page open: wait until it has connected.
		for deadline := time.Now().Add(30 * time.Second); ui.dash.Clients() == 0; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				return res, fmt.Errorf("the browser did not open %s within 30s", ui.url)
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
	stopProfile, err := startCPUProfile(cpuProfile)
	if err != nil {
		stopRun()
		<-runDone
		return res, err
	}
	defer stopProfile()
	fmt.Fprintf(m.Stderr, "bench e2e: %d shard(s), rate %s, %v …\n", plan.Streams[0].Shards, f.rate, f.duration)
	var probe *uiProbe
	if ui.url != "" {
		probe = startUIProbe(ctx, ui.url, pool[0].PartitionKey)
		defer probe.stop()
	}
	start := time.Now()
	cpuStart, browserStart := processCPU(), browser.cpu()
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
		put, err := eng.PutRecords(ctx, name, batch)
		if err != nil {
			stopRun()
			<-runDone
			return res, err
		}
		for _, x := range put {
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
	res.cpu, res.browserCPU = processCPU()-cpuStart, browser.cpu()-browserStart
	if probe != nil {
		res.ui = probe.stop()
	}
	stopRun()
	<-runDone
	for _, d := range st.Deliveries() {
		res.delivered += d.Stats().RecordsIn
	}
	maps, plans := st.Mappings()
	for i, mp := range maps {
		if strings.Contains(plans[i].Function, "Trending") {
			res.trendRecords += mp.Stats().RecordsSucceeded
		}
	}
	res.p50, res.p99 = lat.percentiles()
	res.batches = lat.n()
	res.produced, res.throttled, res.consumed = produced, throttled, consumed()
	res.produceTime, res.total = produceTime, total
	if ui.dash != nil {
		res.pages = ui.dash.Clients()
	}
	return res, nil
}

// uiProbe watches the dashboard during a run as a page would: it follows
// the event stream, noting when each tick arrives, and searches EventData
// by user every half second, timing the answer.
type uiProbe struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
	once   sync.Once
	result uiProbeResult

	mu       sync.Mutex
	ticks    []time.Time
	searches []time.Duration
	failed   int
}

// uiProbeResult is what a uiProbe saw.
type uiProbeResult struct {
	Ticks            int
	MaxGap           time.Duration // longest time between two ticks
	Searches, Failed int
	SearchP50        time.Duration
	SearchP99        time.Duration
}

func (r uiProbeResult) String() string {
	return fmt.Sprintf("%d ticks, longest gap %v; %d searches by user, p50 %v p99 %v, %d failed",
		r.Ticks, r.MaxGap.Round(time.Millisecond), r.Searches, r.SearchP50.Round(100*time.Microsecond), r.SearchP99.Round(100*time.Microsecond), r.Failed)
}

func startUIProbe(ctx context.Context, base, user string) *uiProbe {
	ctx, cancel := context.WithCancel(ctx)
	p := &uiProbe{cancel: cancel}
	p.done.Add(2)
	go func() {
		defer p.done.Done()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"events", nil)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if sc.Text() == "event: tick" {
				p.mu.Lock()
				p.ticks = append(p.ticks, time.Now())
				p.mu.Unlock()
			}
		}
	}()
	go func() {
		defer p.done.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"api/items?user="+url.QueryEscape(user), nil)
			resp, err := http.DefaultClient.Do(req)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			d := time.Since(start)
			p.mu.Lock()
			if ok {
				p.searches = append(p.searches, d)
			} else if ctx.Err() == nil {
				p.failed++
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// stop ends the probe and returns what it saw; later calls return the
// same.
func (p *uiProbe) stop() uiProbeResult {
	p.once.Do(func() {
		p.cancel()
		p.done.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		r := uiProbeResult{Ticks: len(p.ticks), Searches: len(p.searches), Failed: p.failed}
		for i := 1; i < len(p.ticks); i++ {
			r.MaxGap = max(r.MaxGap, p.ticks[i].Sub(p.ticks[i-1]))
		}
		if s := slices.Sorted(slices.Values(p.searches)); len(s) > 0 {
			r.SearchP50, r.SearchP99 = s[len(s)/2], s[min(len(s)-1, len(s)*99/100)]
		}
		p.result = r
	})
	return p.result
}

// headless is a headless Chromium showing one page.
type headless struct {
	cmd     *exec.Cmd
	profile string
}

// openHeadless starts a headless Chromium on url in a scratch profile, in
// its own process group so its CPU can be counted and it can be ended
// whole.
func openHeadless(ctx context.Context, path, url string) (*headless, error) {
	profile, err := os.MkdirTemp("", "streamproc-browser-")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-quic", "--disable-component-update", "--disable-sync", "--disable-breakpad", "--disable-crash-reporter", "--remote-debugging-port=0", "--user-data-dir="+profile, url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("--browser: %w", err)
	}
	return &headless{cmd: cmd, profile: profile}, nil
}

// cpu is the CPU time the browser's processes have used so far (Linux:
// user+system of every process in its group; zero elsewhere or when h is
// nil).
func (h *headless) cpu() time.Duration {
	if h == nil {
		return 0
	}
	return groupCPU(h.cmd.Process.Pid)
}

func (h *headless) stop() {
	_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
	_ = h.cmd.Wait()
	os.RemoveAll(h.profile)
}

// processCPU is the CPU time (user+system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// groupCPU sums utime+stime of the live processes of process group pgid,
// plus the leader's cutime+cstime for those that exited, from /proc
// (clock ticks of 1/100 s, the Linux default USER_HZ). A process that
// exits unreaped by the leader is missed; Chromium reaps its children.
func groupCPU(pgid int) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces: fields
		// are counted from the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:]))
		// After the name: state(3) ppid(4) pgrp(5) … utime(14) stime(15)
		// cutime(16) cstime(17).
		if len(fields) < 15 || fields[2] != strconv.Itoa(pgid) {
			continue
		}
		for i, f := range fields[11:15] {
			if i >= 2 && e.Name() != strconv.Itoa(pgid) {
				// Children's time counts once, at the leader: what its
				// exited children (and theirs, once reaped) used.
				break
			}
			n, _ := strconv.ParseInt(f, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
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
