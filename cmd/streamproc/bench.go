package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/kinesisapi"
	"github.com/streamproc/streamproc/local/stream"
)

func (m *Main) benchCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput: the Kinesis API against a peer, or the whole local stack",
	}
	cmd.AddCommand(m.benchKinesisCmd(g), m.benchE2ECmd(g))
	return cmd
}

type benchFlags struct {
	endpoint   string
	producers  int
	consumers  int
	duration   time.Duration
	recordSize int
	stream     string
	shards     int
	compare    string
	cpuProfile string
}

func (m *Main) benchKinesisCmd(g *globalFlags) *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "kinesis",
		Short: "Drive a Kinesis endpoint with PutRecords producers and GetRecords consumers",
		Long: `Create a stream on a Kinesis endpoint (AWS SDK for Go v2), run producers
calling PutRecords with 500 records each and consumers calling GetRecords on
every shard for --duration, and print records/s, MB/s of record data and
p50/p99 call latency; then delete the stream.

Without --endpoint the benchmark starts streamproc's own endpoint in-process
over a temporary directory (durable writes: fsync per group commit). With
--compare kinesalite it also starts kinesalite (node and ./node_modules, as
'npm ci' installs them) and runs the same load against it in the same run,
printing the ratio. Credentials come from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY when set (for 'kinesis serve --credentials').`,
		Example: `  streamproc bench kinesis --compare kinesalite
  streamproc bench kinesis --endpoint http://127.0.0.1:4566 --producers 4 --duration 30s`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.benchKinesis(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint", "", "Kinesis endpoint URL (default: start streamproc's endpoint in-process)")
	fl.IntVar(&f.producers, "producers", 4, "concurrent PutRecords callers")
	fl.IntVar(&f.consumers, "consumers", 2, "concurrent GetRecords callers (shards are split among them; 0 = none)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long to run the load against each endpoint")
	fl.IntVar(&f.recordSize, "record-size", 100, "bytes of data per record")
	fl.StringVar(&f.stream, "stream", "", "stream to create and use (default bench-<time>); it is deleted afterwards")
	fl.IntVar(&f.shards, "shards", 4, "shards of the benchmark stream")
	fl.StringVar(&f.compare, "compare", "", "also run against this peer started locally: kinesalite")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process (client, and the in-process endpoint) to this file")
	return cmd
}

// benchResult is one endpoint's measurements.
type benchResult struct {
	name     string
	elapsed  time.Duration
	put, get opStats
}

// opStats aggregates one kind of call.
type opStats struct {
	calls, records, failed, errors int64
	bytes                          int64
	lat                            []time.Duration
	firstErr                       error
}

func (s *opStats) merge(o *opStats) {
	s.calls += o.calls
	s.records += o.records
	s.failed += o.failed
	s.errors += o.errors
	s.bytes += o.bytes
	s.lat = append(s.lat, o.lat...)
	if s.firstErr == nil {
		s.firstErr = o.firstErr
	}
}

func (s *opStats) percentile(p float64) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	return s.lat[min(len(s.lat)-1, int(float64(len(s.lat))*p))]
}

func (m *Main) benchKinesis(ctx context.Context, g *globalFlags, f *benchFlags) error {
	switch {
	case f.producers < 1:
		return usagef("--producers must be at least 1")
	case f.consumers < 0:
		return usagef("--consumers must not be negative")
	case f.duration <= 0:
		return usagef("--duration must be positive")
	case f.recordSize < 0 || f.recordSize > streamproc.MaxRecordBytes-64:
		return usagef("--record-size must be between 0 and %d", streamproc.MaxRecordBytes-64)
	case f.recordSize*streamproc.MaxPutRecords > streamproc.MaxPutRecordsBytes-64*streamproc.MaxPutRecords:
		return usagef("--record-size %d makes a 500-record PutRecords call exceed 5 MiB", f.recordSize)
	case f.shards < 1:
		return usagef("--shards must be at least 1")
	case f.compare != "" && f.compare != "kinesalite":
		return usagef("--compare takes kinesalite")
	}
	log := m.logger(g)
	name := f.stream
	if name == "" {
		name = fmt.Sprintf("bench-%d", m.Now().UnixMilli())
	}

	ourURL, ourName := f.endpoint, f.endpoint
	if ourURL == "" {
		url, stop, err := m.startBenchEndpoint(log)
		if err != nil {
			return err
		}
		defer stop()
		ourURL, ourName = url, "streamproc"
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	var results []benchResult
	fmt.Fprintf(m.Stdout, "bench: %d producers × PutRecords(500 × %d B), %d consumers, %d shards, %v per endpoint\n",
		f.producers, f.recordSize, f.consumers, f.shards, f.duration)
	r, err := m.runKinesisLoad(ctx, ourName, ourURL, name, f)
	if err != nil {
		return err
	}
	results = append(results, r)
	if f.compare == "kinesalite" {
		url, stop, err := startKinesalite(ctx)
		if err != nil {
			return err
		}
		r, err := m.runKinesisLoad(ctx, "kinesalite", url, name, f)
		stop()
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	m.printBench(results)
	return nil
}

// startBenchEndpoint runs streamproc's endpoint in-process on a loopback
// port over a fresh temporary directory.
func (m *Main) startBenchEndpoint(log *slog.Logger) (string, func(), error) {
	dir, err := os.MkdirTemp("", "streamproc-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	e, err := stream.Open(filepath.Join(dir, "streams"), stream.Options{Now: m.Now, Logger: log, Region: localRegion, Account: localAccount})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	h := kinesisapi.New(e, kinesisapi.Options{Now: m.Now, Logger: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.Close()
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		_ = srv.Close()
		_ = e.Close()
		_ = os.RemoveAll(dir)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func (m *Main) benchClient(endpoint string, conns int) *kinesis.Client {
	id, secret := "bench", "bench"
	if v, ok := m.Getenv("AWS_ACCESS_KEY_ID"); ok && v != "" {
		id = v
		secret, _ = m.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = conns
	})
	return kinesis.New(kinesis.Options{
		Region:       localRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   hc,
		// Throttling or a transient failure is retried as a producer
		// would; the latency then includes the retry.
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 3 }),
	})
}

// runKinesisLoad creates the stream, runs the producers and consumers for
// f.duration and deletes the stream.
func (m *Main) runKinesisLoad(ctx context.Context, label, endpoint, name string, f *benchFlags) (benchResult, error) {
	c := m.benchClient(endpoint, f.producers+f.consumers+2)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(f.shards))}); err != nil {
		return benchResult{}, fmt.Errorf("bench %s: create stream %s: %w", label, name, err)
	}
	defer func() {
		if _, err := c.DeleteStream(context.WithoutCancel(ctx), &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
			fmt.Fprintf(m.Stderr, "bench %s: delete stream %s: %v\n", label, name, err)
		}
	}()
	w := kinesis.NewStreamExistsWaiter(c, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		return benchResult{}, fmt.Errorf("bench %s: stream %s not active: %w", label, name, err)
	}
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		return benchResult{}, fmt.Errorf("bench %s: list shards: %w", label, err)
	}

	batches := benchBatches(8, f.recordSize)
	runCtx, cancel := context.WithTimeout(ctx, f.duration)
	defer cancel()
	start := time.Now()
	var (
		mu  sync.Mutex
		res = benchResult{name: label}
		wg  sync.WaitGroup
	)
	for p := range f.producers {
		wg.Go(func() {
			var st opStats
			for i := p; runCtx.Err() == nil; i++ {
				b := batches[i%len(batches)]
				t0 := time.Now()
				out, err := c.PutRecords(runCtx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: b.entries})
				if runCtx.Err() != nil {
					break // the deadline cut this call short: not a sample
				}
				st.lat = append(st.lat, time.Since(t0))
				st.calls++
				if err != nil {
					st.errors++
					if st.firstErr == nil {
						st.firstErr = err
					}
					continue
				}
				failed := int64(aws.ToInt32(out.FailedRecordCount))
				st.failed += failed
				st.records += int64(len(b.entries)) - failed
				st.bytes += b.bytes * (int64(len(b.entries)) - failed) / int64(len(b.entries))
			}
			mu.Lock()
			res.put.merge(&st)
			mu.Unlock()
		})
	}
	for ci := range f.consumers {
		var mine []string
		for i, s := range shards.Shards {
			if i%f.consumers == ci {
				mine = append(mine, aws.ToString(s.ShardId))
			}
		}
		if len(mine) == 0 {
			continue
		}
		wg.Go(func() {
			st := consume(runCtx, c, name, mine)
			mu.Lock()
			res.get.merge(&st)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.put.lat)
	slices.Sort(res.get.lat)
	if res.put.records == 0 && res.put.firstErr != nil {
		return res, fmt.Errorf("bench %s: every PutRecords failed: %w", label, res.put.firstErr)
	}
	return res, nil
}

// consume reads the shards round-robin from TRIM_HORIZON until ctx ends.
func consume(ctx context.Context, c *kinesis.Client, name string, shards []string) opStats {
	var st opStats
	its := make([]*string, len(shards))
	for i, s := range shards {
		out, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String(s), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			st.errors++
			st.firstErr = err
			return st
		}
		its[i] = out.ShardIterator
	}
	for ctx.Err() == nil {
		empty := true
		for i := range its {
			t0 := time.Now()
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: its[i], Limit: aws.Int32(stream.MaxGetRecords)})
			if ctx.Err() != nil {
				return st
			}
			st.lat = append(st.lat, time.Since(t0))
			st.calls++
			if err != nil {
				st.errors++
				if st.firstErr == nil {
					st.firstErr = err
				}
				continue
			}
			its[i] = out.NextShardIterator
			st.records += int64(len(out.Records))
			for _, r := range out.Records {
				st.bytes += int64(len(r.Data))
			}
			if len(out.Records) > 0 {
				empty = false
			}
		}
		if empty {
			// Caught up on every shard: poll again shortly rather than spin
			// (AWS consumers wait about a second; the bench keeps lag low).
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return st
}

type benchBatch struct {
	entries []types.PutRecordsRequestEntry
	bytes   int64 // record data bytes in the batch
}

// benchBatches makes n batches of 500 records of random data with random
// partition keys (so records spread over every shard).
func benchBatches(n, size int) []benchBatch {
	rng := rand.New(rand.NewPCG(7, 11))
	out := make([]benchBatch, n)
	for i := range out {
		b := &out[i]
		b.entries = make([]types.PutRecordsRequestEntry, streamproc.MaxPutRecords)
		for j := range b.entries {
			d := make([]byte, size)
			for k := range d {
				d[k] = byte(rng.Uint32())
			}
			b.entries[j] = types.PutRecordsRequestEntry{PartitionKey: aws.String("user-" + strconv.Itoa(rng.IntN(1_000_000))), Data: d}
			b.bytes += int64(size)
		}
	}
	return out
}

func (m *Main) printBench(results []benchResult) {
	tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(label string, f func(r benchResult) string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, r := range results {
			fmt.Fprintf(tw, "%s\t", f(r))
		}
		if len(results) == 2 {
			fmt.Fprintf(tw, "%s\t", ratio(f(results[0]), f(results[1])))
		}
		fmt.Fprintln(tw)
	}
	rate := func(n int64, d time.Duration) string { return fmt.Sprintf("%.0f", float64(n)/d.Seconds()) }
	mbps := func(n int64, d time.Duration) string { return fmt.Sprintf("%.2f", float64(n)/1e6/d.Seconds()) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(tw, "\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t", r.name)
	}
	if len(results) == 2 {
		fmt.Fprintf(tw, "ratio\t")
	}
	fmt.Fprintln(tw)
	row("PutRecords records/s", func(r benchResult) string { return rate(r.put.records, r.elapsed) })
	row("PutRecords MB/s", func(r benchResult) string { return mbps(r.put.bytes, r.elapsed) })
	row("PutRecords p50 ms", func(r benchResult) string { return ms(r.put.percentile(0.50)) })
	row("PutRecords p99 ms", func(r benchResult) string { return ms(r.put.percentile(0.99)) })
	row("PutRecords calls", func(r benchResult) string { return strconv.FormatInt(r.put.calls, 10) })
	row("PutRecords failed records", func(r benchResult) string { return strconv.FormatInt(r.put.failed, 10) })
	row("PutRecords errors", func(r benchResult) string { return strconv.FormatInt(r.put.errors, 10) })
	row("GetRecords records/s", func(r benchResult) string { return rate(r.get.records, r.elapsed) })
	row("GetRecords MB/s", func(r benchResult) string { return mbps(r.get.bytes, r.elapsed) })
	row("GetRecords p50 ms", func(r benchResult) string { return ms(r.get.percentile(0.50)) })
	row("GetRecords p99 ms", func(r benchResult) string { return ms(r.get.percentile(0.99)) })
	row("GetRecords calls", func(r benchResult) string { return strconv.FormatInt(r.get.calls, 10) })
	row("GetRecords errors", func(r benchResult) string { return strconv.FormatInt(r.get.errors, 10) })
	// A slow server that starves its consumers spends its time on writes;
	// the sum compares the work each side actually did.
	row("Put+Get records/s", func(r benchResult) string { return rate(r.put.records+r.get.records, r.elapsed) })
	_ = tw.Flush()
	for _, r := range results {
		for _, e := range []error{r.put.firstErr, r.get.firstErr} {
			if e != nil {
				fmt.Fprintf(m.Stdout, "%s: first error: %v\n", r.name, e)
			}
		}
	}
	if len(results) == 2 {
		fmt.Fprintf(m.Stdout, "PutRecords throughput: %s is %s× %s\n", results[0].name,
			ratio(rate(results[0].put.records, results[0].elapsed), rate(results[1].put.records, results[1].elapsed)), results[1].name)
	}
}

// ratio divides two printed numbers ("-" when it has no meaning).
func ratio(a, b string) string {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil || y == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", x/y)
}

// kinesaliteScript starts kinesalite on a free loopback port (its CLI binds
// every interface) and exits when stdin closes, so it never outlives us.
const kinesaliteScript = `process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume();
const srv = require(process.argv[1])({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000});
srv.listen(0, '127.0.0.1', () => console.log('listening ' + srv.address().port));`

// startKinesalite runs kinesalite from the node_modules of the working
// directory or one above it.
func startKinesalite(ctx context.Context) (string, func(), error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", nil, fmt.Errorf("--compare kinesalite needs node on PATH: %w", err)
	}
	mod, err := findNodeModule("kinesalite")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, node, "-e", kinesaliteScript, mod)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, fmt.Errorf("start kinesalite: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, fmt.Errorf("start kinesalite: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start kinesalite: %w", err)
	}
	portc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				portc <- p
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	stop := func() {
		_ = stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	select {
	case p := <-portc:
		return "http://127.0.0.1:" + p, stop, nil
	case err := <-done:
		return "", nil, fmt.Errorf("kinesalite exited before listening: %v: %s", err, stderr.String())
	case <-time.After(30 * time.Second):
		stop()
		return "", nil, errors.New("kinesalite did not start listening within 30s")
	}
}

// findNodeModule looks for node_modules/<pkg> in the working directory and
// its parents, as node's own resolution does.
func findNodeModule(pkg string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", pkg, err)
	}
	for {
		p := filepath.Join(dir, "node_modules", pkg)
		if b, err := os.ReadFile(filepath.Join(p, "package.json")); err == nil && json.Valid(b) {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("npm package %s not found in node_modules here or above: run 'npm ci' at the repository root", pkg)
		}
		dir = parent
	}
}

// limitedWriter keeps at most n bytes of a child's stderr.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// startCPUProfile profiles this process into path ("" = no profile) until
// the returned func is called.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}
