package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc"
	kinesiswriter "github.com/streamproc/streamproc/aws/kinesis"
	"github.com/streamproc/streamproc/function/producer"
	"github.com/streamproc/streamproc/local/control"
	"github.com/streamproc/streamproc/local/params"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/source/replay"
	"github.com/streamproc/streamproc/source/synthetic"
	"github.com/streamproc/streamproc/source/xapi"
)

// Targets of produce.
const (
	targetLocal = "local"
	targetAWS   = "aws"
)

const (
	// maxChunk is the most tweets handed to the producer at once: one full
	// PutRecords call in records mode.
	maxChunk = streamproc.MaxPutRecords
	// linger is how long a partly filled chunk waits for more tweets before
	// it is written, so a slow source (a pipe, the X API waiting out a rate
	// limit) does not hold back what it already gave.
	linger = 250 * time.Millisecond
	// chunkTimeout bounds the writing of one chunk, retries included.
	chunkTimeout = 2 * time.Minute
	// produceQuery is the query the producer is run with: produce feeds it
	// tweets through a source that ignores the query.
	produceQuery = "produce"
)

type produceFlags struct {
	source      string
	stream      string
	target      string
	endpointURL string
	region      string
	mode        string
	count       int
	rate        float64
	loop        bool
	seed        int64
	query       string
	woeid       int64
	trends      int
	maxPages    int
	xAPIURL     string
	paramsFile  string
	progress    time.Duration
}

func (m *Main) produceCmd(g *globalFlags) *cobra.Command {
	f := &produceFlags{}
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Write tweets from a source to the stream (local, any Kinesis endpoint, or AWS)",
		Long: `Read tweets from a source and write them to a Kinesis stream through the
producer function's own batching and retry code: records mode puts one record
per tweet (partition key = author handle, ≤ 500 records / 5 MiB per call,
failed entries re-sent with backoff); aggregated mode packs KPL aggregates per
destination shard.

Sources:
  synthetic        realistic generated tweets (--seed; runs until --count or Ctrl-C)
  replay:FILE      JSON Lines (optionally gzip), a saved search page, or - for
                   stdin; several files separated by commas; --loop repeats them
  xapi             X API v2 recent search of --query, or of the top --trends
                   trends of --woeid; credentials from --params FILE
                   (/twitter/bearer_token=…, or the four OAuth 1.0a parameters)
                   or the environment (TWITTER_BEARER_TOKEN, …); --x-api-url or
                   X_API_BASE_URL points it at another server

Targets:
  --target local (default)  the stack's stream in --data-dir; with --endpoint-url,
                            the Kinesis API at that URL (streamproc up serves one on
                            http://127.0.0.1:4566) with any credentials
  --target aws              Amazon Kinesis with the default credential chain and
                            region (--region to override; --endpoint-url for a VPC
                            endpoint)

--stream defaults to the stack's stream (<stack-name>-EventStream), which is
also the name the template gives it on AWS. Progress goes to stderr, then a
summary. Exit codes: 0 every tweet written, 1 a tweet not written or the
source failed, 2 bad usage.`,
		Example: `  streamproc produce --count 1000
  streamproc produce --source replay:tweets.jsonl.gz --rate 50
  streamproc produce --source replay:- < archive.jsonl
  streamproc produce --source xapi --query '#golang' --params ~/.x-params
  streamproc produce --endpoint-url http://127.0.0.1:4566 --count 500   # while 'streamproc up' runs
  streamproc produce --target aws --stack-name prod --mode aggregated --count 10000`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return m.produce(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", "synthetic", "synthetic, replay:FILE[,FILE…] (- is stdin) or xapi")
	fl.StringVar(&f.stream, "stream", "", "stream name or ARN (default: the stack's stream)")
	fl.StringVar(&f.target, "target", targetLocal, "local (the data dir, or --endpoint-url) or aws (default credential chain)")
	fl.StringVar(&f.endpointURL, "endpoint-url", "", "Kinesis API endpoint, e.g. http://127.0.0.1:4566")
	fl.StringVar(&f.region, "region", "", "AWS region (default: us-east-1 locally, the AWS configuration with --target aws)")
	fl.StringVar(&f.mode, "mode", producer.ModeRecords, "records or aggregated (KPL)")
	fl.IntVar(&f.count, "count", 0, "stop after this many tweets (0 = all the source has; synthetic: until Ctrl-C)")
	fl.Float64Var(&f.rate, "rate", 0, "tweets per second (0 = as fast as possible)")
	fl.BoolVar(&f.loop, "loop", false, "replay: start again after the last file")
	fl.Int64Var(&f.seed, "seed", 0, "synthetic: seed (0 = from the clock)")
	fl.StringVar(&f.query, "query", "", "xapi: search this query instead of the trends")
	fl.Int64Var(&f.woeid, "woeid", 1, "xapi: place whose trends are searched (1 = worldwide)")
	fl.IntVar(&f.trends, "trends", 10, "xapi: how many top trends are searched")
	fl.IntVar(&f.maxPages, "max-pages", 0, "xapi: most result pages (100 tweets each) read per query (default 5)")
	fl.StringVar(&f.xAPIURL, "x-api-url", "", "xapi: API base URL (default $"+xapi.EnvBaseURL+", else "+xapi.DefaultBaseURL+")")
	fl.StringVar(&f.paramsFile, "params", "", "xapi: params file with the credentials, mode 0600 (default <data-dir>/params)")
	fl.DurationVar(&f.progress, "progress-interval", 5*time.Second, "how often a progress line is printed when stderr is not a terminal")
	return cmd
}

func (f *produceFlags) check() error {
	kind, _, _ := strings.Cut(f.source, ":")
	switch {
	case kind != "synthetic" && kind != "replay" && kind != "xapi":
		return usagef("--source %q: choose synthetic, replay:FILE or xapi", f.source)
	case kind == "replay" && strings.TrimPrefix(f.source, "replay:") == f.source:
		return usagef("--source replay needs files: replay:FILE[,FILE…] (replay:- reads stdin)")
	case f.mode != producer.ModeRecords && f.mode != producer.ModeAggregated:
		return usagef("--mode %q: choose records or aggregated", f.mode)
	case f.target != targetLocal && f.target != targetAWS:
		return usagef("--target %q: choose local or aws", f.target)
	case f.count < 0:
		return usagef("--count must not be negative")
	case f.rate < 0:
		return usagef("--rate must not be negative")
	case f.loop && kind != "replay":
		return usagef("--loop applies to --source replay:FILE only")
	case kind != "xapi" && (f.query != "" || f.xAPIURL != "" || f.paramsFile != ""):
		return usagef("--query, --x-api-url and --params apply to --source xapi only")
	case f.trends < 1 || f.trends > 50:
		return usagef("--trends must be between 1 and 50")
	case f.maxPages < 0:
		return usagef("--max-pages must not be negative")
	}
	if f.endpointURL != "" {
		u, err := url.Parse(f.endpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--endpoint-url %q: want http(s)://host:port", f.endpointURL)
		}
	}
	return nil
}

// produceRun is one produce invocation's state.
type produceRun struct {
	m       *Main
	f       *produceFlags
	stream  string
	where   string // the target, for the summary
	handler *producer.Handler
	chunk   *chunkSource
	xapi    *xapi.Client   // nil unless --source xapi
	replay  *replay.Reader // nil unless --source replay
	res     producer.Result
	started time.Time
	lastOut time.Time
	tty     bool
	// readerStuck is set when the source could not be stopped (a read of
	// stdin that waits for input); it is then not closed.
	readerStuck bool
}

func (m *Main) produce(ctx context.Context, g *globalFlags, f *produceFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	st, err := loadStack(g)
	if err != nil {
		return err
	}
	log := m.logger(g)
	r := &produceRun{m: m, f: f, stream: f.stream, started: m.Now(), tty: isTerminal(m.Stderr)}
	if r.stream == "" {
		r.stream = st.Stream
	}
	src, closeSrc, err := m.produceSource(ctx, g, f, log, r)
	if err != nil {
		return err
	}
	defer func() {
		if !r.readerStuck {
			closeSrc()
		}
	}()
	w, where, closeW, err := m.produceWriter(ctx, g, f, st, log)
	if err != nil {
		return err
	}
	defer closeW()
	r.where = where
	if e, ok := w.(*stream.Engine); ok && strings.HasPrefix(r.stream, "arn:") {
		// The data dir's engine takes names; the API endpoints take both.
		name, err := e.StreamNameFromARN(r.stream)
		if err != nil {
			return usagef("--stream %s: %v", r.stream, err)
		}
		r.stream = name
	}
	// Find a missing stream before reading anything (an X API search
	// spends the app's request budget).
	if _, err := w.Shards(ctx, r.stream); err != nil {
		if errors.Is(err, streamproc.ErrNotFound) {
			other := "or pass --stream"
			if f.stream != "" {
				other = "or check --stream"
			}
			return fmt.Errorf("stream %s does not exist at %s: start the stack ('streamproc up'), create it (aws kinesis create-stream --stream-name %s --shard-count 1), %s: %w", r.stream, where, r.stream, other, err)
		}
		return fmt.Errorf("stream %s at %s: %w", r.stream, where, err)
	}

	// The producer logs every run at Info; here a run is one chunk, so only
	// its warnings are shown unless --debug.
	plog := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if g.debug {
		plog = log
	}
	r.chunk = &chunkSource{}
	r.handler = &producer.Handler{Source: r.chunk, Writer: w, Stream: r.stream, Mode: f.mode, Query: produceQuery, Logger: plog}

	if f.rate > 0 {
		// Pacing sleeps on the wall clock, so it reads the wall clock too.
		src = replay.Limit(src, f.rate, time.Now, nil)
	}
	srcErr, writeErr, interrupted := r.pump(ctx, src)
	r.summary(interrupted)
	var errs []error
	if writeErr != nil {
		errs = append(errs, writeErr)
	}
	if srcErr != nil {
		// Source errors name their source ("xapi: search …", "replay: FILE: …").
		errs = append(errs, srcErr)
	}
	if interrupted && r.finite() {
		errs = append(errs, fmt.Errorf("%w: %d tweets written; what the source had not read yet was not", errInterrupted, r.res.TweetsPut))
	}
	if r.replay != nil {
		if n := r.replay.Skipped(); n > 0 {
			// The rest was written; the exit code says not everything was.
			errs = append(errs, fmt.Errorf("replay: %d input line(s) were not JSON and were skipped (each is named in a warning above)", n))
		}
	}
	return errors.Join(errs...)
}

// item is what the reading goroutine hands the writer.
type item struct {
	t   streamproc.SourceTweet
	err error
}

// errInterrupted ends a produce that Ctrl-C stopped before a source with an
// end (a replay, an X API search) was read to it.
var errInterrupted = errors.New("interrupted before the source's end")

// drainTimeout bounds how long, after Ctrl-C, the tweets a source already
// holds (the pages of a search cut short) are taken from it.
const drainTimeout = 2 * time.Second

// pump reads tweets on one goroutine and writes them in chunks on this
// one, so a chunk goes out when full or after linger, whatever the source
// does meanwhile. It stops at the source's end, --count, Ctrl-C, a source
// error (returned first) or a chunk with tweets not written (second).
//
// Ctrl-C cancels the reading (a rate-limit wait ends at once) but not the
// hand-over: what the source already read is written before pump returns,
// and interrupted says whether the source was cut short.
func (r *produceRun) pump(ctx context.Context, src replay.Iterator) (srcErr, writeErr error, interrupted bool) {
	chunkMax := maxChunk
	if r.f.rate > 0 {
		// About ten writes a second at low rates, so tweets flow smoothly.
		chunkMax = min(max(int(r.f.rate/10), 1), maxChunk)
	}
	rctx, stopReading := context.WithCancel(ctx)
	items := make(chan item, chunkMax)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		send := func(it item) bool {
			select {
			case items <- it:
				return true
			case <-stop:
				return false
			}
		}
		for n := 0; r.f.count == 0 || n < r.f.count; n++ {
			t, err := src.Next(rctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				send(item{err: err})
				return
			}
			if !send(item{t: t}) {
				return
			}
		}
		send(item{err: io.EOF})
	}()
	defer func() {
		close(stop)
		stopReading()
		// A reader blocked on a terminal or pipe cannot be interrupted;
		// leave it (the process is about to exit) rather than hang.
		select {
		case <-readerDone:
		case <-time.After(time.Second):
			r.readerStuck = true
		}
	}()

	var pending []streamproc.SourceTweet
	timer := time.NewTimer(linger)
	timer.Stop()
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := r.write(ctx, pending)
		pending = pending[:0]
		r.progressLine(false)
		return err
	}
	done := ctx.Done()
	var drainEnd <-chan time.Time
	for {
		var it item
		select {
		case it = <-items:
		case <-timer.C:
			if err := flush(); err != nil {
				return nil, err, false
			}
			continue
		case <-done:
			// Ctrl-C: take what the source still hands out (it stops
			// reading now), then write it.
			done = nil
			drainEnd = time.After(drainTimeout)
			continue
		case <-drainEnd:
			return nil, flush(), true
		}
		switch {
		case it.err == io.EOF:
			return nil, flush(), false
		case it.err != nil && ctx.Err() != nil:
			return nil, flush(), true
		case it.err != nil:
			return it.err, flush(), false
		}
		if len(pending) == 0 {
			timer.Reset(linger)
		}
		pending = append(pending, it.t)
		if len(pending) >= chunkMax {
			timer.Stop()
			if err := flush(); err != nil {
				return nil, err, false
			}
		}
	}
}

// write hands one chunk to the producer. Ctrl-C does not cut a chunk in
// half: it is written to the end, within chunkTimeout.
func (r *produceRun) write(ctx context.Context, tweets []streamproc.SourceTweet) error {
	r.chunk.set(tweets)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), chunkTimeout)
	defer cancel()
	res, err := r.handler.Handle(wctx, events.EventBridgeEvent{})
	r.res.Tweets += res.Tweets
	r.res.TweetsPut += res.TweetsPut
	r.res.RecordsPut += res.RecordsPut
	r.res.Bytes += res.Bytes
	r.res.PutCalls += res.PutCalls
	r.res.ThrottledRetries += res.ThrottledRetries
	r.res.Retries += res.Retries
	r.res.Failed += res.Failed
	if err != nil {
		return fmt.Errorf("stopped after a failed write: %w", err)
	}
	return nil
}

// progressLine prints the running totals: in place on a terminal, every
// --progress-interval otherwise.
func (r *produceRun) progressLine(final bool) {
	now := r.m.Now()
	every := r.f.progress
	if r.tty {
		every = 200 * time.Millisecond
	}
	if !final && (every <= 0 || now.Sub(r.lastOut) < every) {
		return
	}
	r.lastOut = now
	line := fmt.Sprintf("produced %d tweets | %d records | %s | %s | throttled retries %d | failed %d",
		r.res.TweetsPut, r.res.RecordsPut, humanBytes(r.res.Bytes), r.rate(now), r.res.ThrottledRetries, r.res.Failed)
	if r.xapi != nil {
		s := r.xapi.Stats()
		line += fmt.Sprintf(" | X API requests %d, rate-limit waits %d", s.Requests, s.RateLimitWaits)
	}
	if r.tty {
		fmt.Fprintf(r.m.Stderr, "\r\033[K%s%s", progressBar(r.res.TweetsPut+r.res.Failed, r.f.count), line)
	} else if !final {
		fmt.Fprintln(r.m.Stderr, line)
	}
}

// progressBar draws "[#####·····]  50% " for done of total; nothing when
// the total is not known (no --count).
func progressBar(done, total int) string {
	if total <= 0 {
		return ""
	}
	const width = 20
	frac := min(float64(done)/float64(total), 1)
	n := int(frac * width)
	return fmt.Sprintf("[%s%s] %3.0f%% ", strings.Repeat("#", n), strings.Repeat("·", width-n), frac*100)
}

func (r *produceRun) rate(now time.Time) string {
	el := now.Sub(r.started).Seconds()
	if el <= 0 {
		return "- tweets/s"
	}
	return fmt.Sprintf("%.0f tweets/s", float64(r.res.TweetsPut)/el)
}

// finite says whether the source has an end that Ctrl-C can cut short:
// synthetic tweets and a looping replay run until stopped.
func (r *produceRun) finite() bool {
	kind, _, _ := strings.Cut(r.f.source, ":")
	return kind == "xapi" || (kind == "replay" && !r.f.loop)
}

// summary prints what was written, where, and what went wrong.
func (r *produceRun) summary(interrupted bool) {
	if r.tty {
		r.progressLine(true)
		fmt.Fprintln(r.m.Stderr)
	}
	now := r.m.Now()
	w := r.m.Stderr
	fmt.Fprintf(w, "produce: %d tweets written as %d records (%s) to stream %s (%s), mode %s, in %v (%s)\n",
		r.res.TweetsPut, r.res.RecordsPut, humanBytes(r.res.Bytes), r.stream, r.where, r.f.mode,
		now.Sub(r.started).Round(time.Millisecond), r.rate(now))
	fmt.Fprintf(w, "produce: %d PutRecords calls, %d throttled retries, %d retries in all, %d tweets failed\n",
		r.res.PutCalls, r.res.ThrottledRetries, r.res.Retries, r.res.Failed)
	if r.replay != nil {
		if n := r.replay.Skipped(); n > 0 {
			fmt.Fprintf(w, "produce: %d input lines skipped as not JSON (each is named in a warning above)\n", n)
		}
	}
	if interrupted && r.finite() {
		fmt.Fprintln(w, "produce: interrupted: the source was not read to its end")
	}
	if r.xapi != nil {
		s := r.xapi.Stats()
		fmt.Fprintf(w, "produce: X API %s: %d requests, %d pages, %d retries, %d rate-limit waits, %v waited, %d partial errors\n",
			r.xapi.BaseURL(), s.Requests, s.Pages, s.Retries, s.RateLimitWaits, s.Waited.Round(time.Millisecond), s.PartialErrors)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// chunkSource is the TweetSource the producer is run with: each run
// "searches" the chunk produce read. Runs are sequential.
type chunkSource struct {
	tweets []streamproc.SourceTweet
}

func (c *chunkSource) set(tweets []streamproc.SourceTweet) { c.tweets = tweets }

// Trends is never called: the producer runs with a fixed query.
func (c *chunkSource) Trends(context.Context, int64, int) ([]streamproc.Trend, error) {
	return nil, errors.New("produce: no trends")
}

// Search returns the chunk newest first, as the contract says; the
// producer reverses it and writes the tweets in the order they were read.
// No newest id: there is nothing to resume.
func (c *chunkSource) Search(context.Context, string, string) ([]streamproc.SourceTweet, string, error) {
	out := slices.Clone(c.tweets)
	slices.Reverse(out)
	return out, "", nil
}

// produceSource builds the iterator for --source.
func (m *Main) produceSource(ctx context.Context, g *globalFlags, f *produceFlags, log *slog.Logger, r *produceRun) (replay.Iterator, func(), error) {
	kind, arg, _ := strings.Cut(f.source, ":")
	switch kind {
	case "synthetic":
		seed := f.seed
		if seed == 0 {
			seed = m.Now().UnixNano()
		}
		return synthIter{synthetic.New(synthetic.Options{Seed: seed, Now: m.Now})}, func() {}, nil
	case "replay":
		rd, err := replay.Open(strings.Split(arg, ","), replay.Options{Loop: f.loop, Stdin: m.Stdin, Logger: log})
		if err != nil {
			if errors.Is(err, streamproc.ErrInvalid) || errors.Is(err, fs.ErrNotExist) {
				return nil, nil, usagef("--source %s: %v", f.source, err)
			}
			return nil, nil, err
		}
		r.replay = rd
		return rd, func() { _ = rd.Close() }, nil
	}
	path := f.paramsFile
	if path == "" {
		path = filepath.Join(g.dataDir, "params")
	} else if _, err := os.Stat(path); err != nil {
		return nil, nil, usagef("--params: %v", err)
	}
	ps, err := params.New(path, m.Getenv)
	if err != nil {
		return nil, nil, err
	}
	c, err := xapi.New(xapi.Options{BaseURL: f.xAPIURL, Getenv: m.Getenv, Params: ps, MaxPages: f.maxPages, Now: m.Now, Logger: log})
	if err != nil {
		if errors.Is(err, streamproc.ErrInvalid) {
			return nil, nil, usagef("%v", err)
		}
		return nil, nil, err
	}
	r.xapi = c
	return &searchIter{src: c, limit: f.count, query: f.query, woeid: f.woeid, trends: f.trends, seen: map[string]bool{}, log: log}, func() {}, nil
}

// synthIter is the synthetic generator as an endless iterator.
type synthIter struct{ g *synthetic.Generator }

func (s synthIter) Next(ctx context.Context) (streamproc.SourceTweet, error) {
	if err := ctx.Err(); err != nil {
		return streamproc.SourceTweet{}, err
	}
	return s.g.Next(), nil
}

// searchIter runs the searches one by one — --query, or the top trends —
// and hands out their tweets oldest first, each tweet once even when it
// matches several trends.
type searchIter struct {
	src     streamproc.TweetSource
	query   string
	woeid   int64
	trends  int
	log     *slog.Logger
	limit   int // --count (0: none)
	given   int // tweets handed out
	queries []string
	started bool
	buf     []streamproc.SourceTweet
	seen    map[string]bool
	err     error
}

func (s *searchIter) Next(ctx context.Context) (streamproc.SourceTweet, error) {
	for len(s.buf) == 0 {
		if s.err != nil {
			return streamproc.SourceTweet{}, s.err
		}
		if !s.started {
			s.started = true
			if err := s.plan(ctx); err != nil {
				return streamproc.SourceTweet{}, err
			}
		}
		if len(s.queries) == 0 {
			return streamproc.SourceTweet{}, io.EOF
		}
		q := s.queries[0]
		s.queries = s.queries[1:]
		var tweets []streamproc.SourceTweet
		var err error
		if l, ok := s.src.(limitedSearcher); ok && s.limit > 0 {
			// Read no page beyond what --count still needs.
			tweets, _, err = l.SearchLimit(ctx, q, "", max(s.limit-s.given, 1))
		} else {
			tweets, _, err = s.src.Search(ctx, q, "")
		}
		// Pages read before a failure are still written; the error
		// comes after them.
		for i := len(tweets) - 1; i >= 0; i-- {
			if t := tweets[i]; !s.seen[t.ID] {
				s.seen[t.ID] = true
				s.buf = append(s.buf, t)
			}
		}
		if err != nil {
			s.err = err
		}
		s.log.Debug("searched", "query", q, "tweets", len(tweets))
	}
	t := s.buf[0]
	s.buf = s.buf[1:]
	s.given++
	return t, nil
}

// limitedSearcher is a source that can stop paging at a number of tweets.
type limitedSearcher interface {
	SearchLimit(ctx context.Context, query, sinceID string, limit int) ([]streamproc.SourceTweet, string, error)
}

func (s *searchIter) plan(ctx context.Context) error {
	if s.query != "" {
		s.queries = []string{s.query}
		return nil
	}
	trends, err := s.src.Trends(ctx, s.woeid, s.trends)
	if err != nil {
		return err
	}
	for _, t := range trends {
		q := t.Query
		if q == "" {
			q = t.Name
		}
		if q != "" && !slices.Contains(s.queries, q) {
			s.queries = append(s.queries, q)
		}
	}
	s.log.Info("searching the top trends", "woeid", s.woeid, "queries", s.queries)
	return nil
}

// produceWriter opens the stream writer for --target / --endpoint-url and
// says where it writes.
func (m *Main) produceWriter(ctx context.Context, g *globalFlags, f *produceFlags, st stackDef, log *slog.Logger) (streamproc.StreamWriter, string, func(), error) {
	switch {
	case f.target == targetAWS:
		var opts []func(*config.LoadOptions) error
		if f.region != "" {
			opts = append(opts, config.WithRegion(f.region))
		}
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, "", nil, fmt.Errorf("AWS configuration: %w", err)
		}
		if cfg.Region == "" {
			return nil, "", nil, usagef("--target aws needs a region: pass --region or set AWS_REGION (or a region in ~/.aws/config)")
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return nil, "", nil, fmt.Errorf("--target aws: no AWS credentials from the default chain (environment, ~/.aws, SSO, instance role): %w", err)
		}
		client := awskinesis.NewFromConfig(cfg, func(o *awskinesis.Options) {
			if f.endpointURL != "" {
				o.BaseEndpoint = aws.String(f.endpointURL)
			}
		})
		where := "AWS Kinesis in " + cfg.Region
		if f.endpointURL != "" {
			where += " via " + f.endpointURL
		}
		return kinesiswriter.New(client), where, func() {}, nil
	case f.endpointURL != "":
		// Local endpoints (streamproc up, kinesis serve, kinesalite) take
		// any key unless told otherwise; real keys are used when exported.
		id, secret := "local", "local"
		if v, ok := m.Getenv("AWS_ACCESS_KEY_ID"); ok && v != "" {
			id = v
			secret, _ = m.Getenv("AWS_SECRET_ACCESS_KEY")
		}
		region := f.region
		if region == "" {
			region = localRegion
		}
		// Fail at once, with the likely cause, rather than after every
		// retry of every record.
		u, _ := url.Parse(f.endpointURL) // checked by f.check
		hostPort := u.Host
		if u.Port() == "" {
			hostPort = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
		}
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", hostPort)
		if err != nil {
			return nil, "", nil, fmt.Errorf("nothing answers at %s (%w): is 'streamproc up' running? It prints its Kinesis API address", f.endpointURL, err)
		}
		conn.Close()
		client := awskinesis.New(awskinesis.Options{
			Region:       region,
			Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
			BaseEndpoint: aws.String(f.endpointURL),
			Retryer:      retry.NewStandard(),
		})
		return kinesiswriter.New(client), "Kinesis API at " + f.endpointURL, func() {}, nil
	}
	e, err := m.openStream(ctx, g.dataDir, st, log)
	if err != nil {
		if b, rerr := os.ReadFile(filepath.Join(g.dataDir, control.AddrFile)); rerr == nil {
			addr := strings.TrimSpace(string(b))
			return nil, "", nil, fmt.Errorf("%w\nThe data dir %s is in use by 'streamproc up'; write through its Kinesis API instead: --endpoint-url http://%s", err, g.dataDir, addr)
		}
		return nil, "", nil, fmt.Errorf("%w\nIf 'streamproc up' (or 'kinesis serve') runs on %s, write through its Kinesis API instead: --endpoint-url http://127.0.0.1:4566", err, g.dataDir)
	}
	return e, "local data dir " + g.dataDir, func() { _ = e.Close() }, nil
}
