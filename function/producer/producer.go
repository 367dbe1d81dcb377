// Package producer is the scheduled Lambda that polls a tweet source and
// writes the tweets to the Kinesis stream: the seed's two producers as one
// handler with two modes.
//
//   - "records" (the seed's Python producer): one Kinesis record per tweet,
//     partition key = the author's handle, sent with PutRecords.
//   - "aggregated" (the seed's Java KPL producer): tweets packed into KPL
//     aggregated records. The seed's producer put everything on one hot
//     shard; here every tweet is routed to the shard its own partition key
//     hashes to and only tweets bound for the same shard share an aggregate,
//     so load spreads as in records mode and each tweet sits on the shard a
//     consumer expects.
//
// Delivery rules, both modes: PutRecords calls respect Kinesis's limits
// (500 records, 5 MiB with partition keys); entries that fail are re-sent
// alone with exponential backoff and full jitter, up to MaxAttempts (when
// every failure is throttling — the stream is busy, not broken — up to
// maxThrottledAttempts, about a minute of backoff) and the context
// deadline; a tweet is either written or counted as failed, and any
// failure makes Handle return an error saying how many and why.
//
// Ordering: tweets of one author land in chronological order. PutRecords
// does not keep order across retries (a failed entry re-sent later lands
// after its successors), so a call never carries two records of one
// partition key: the second waits for the first to be acknowledged. After a
// record fails for good, later records of its partition keys are not sent.
package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/shardmap"
)

// Modes.
const (
	ModeRecords    = "records"
	ModeAggregated = "aggregated"
)

const (
	defaultTopN        = 10
	defaultMaxAttempts = 5
	// maxThrottledAttempts bounds retries of entries that only ever failed
	// with ProvisionedThroughputExceeded: a throttled shard frees up within
	// a second, so giving up after five quick attempts loses tweets a busy
	// stream would take moments later.
	maxThrottledAttempts = 25
	backoffBase          = 100 * time.Millisecond
	backoffMax           = 5 * time.Second
	// deadlineMargin is the time kept back from the context deadline so the
	// handler can still report what it did.
	deadlineMargin = 250 * time.Millisecond

	codeThrottled = "ProvisionedThroughputExceededException"
)

// Handler polls the source and writes tweets to the stream. Fields are set
// once before the first Handle; Handle is safe for concurrent use. A Handler
// must not be copied after first use.
type Handler struct {
	Source streamproc.TweetSource
	Writer streamproc.StreamWriter
	Stream string
	// Mode is ModeRecords (default) or ModeAggregated.
	Mode string
	// WOEID is the place whose trends are searched (1 = worldwide).
	WOEID int64
	// TopN is how many trends are searched (default 10).
	TopN int
	// Query, when set, is searched instead of the trends.
	Query   string
	Logger  *slog.Logger       // nil: discard
	Metrics streamproc.Metrics // nil: discard
	// Sleep waits between retries (nil: a real timer); injected so tests
	// don't wait.
	Sleep func(context.Context, time.Duration) error
	// Rand returns the jitter fraction in [0,1) (nil: math/rand/v2).
	Rand func() float64
	// MaxAttempts bounds how often one record is sent (default 5).
	MaxAttempts int

	// sinceIDs remembers the newest tweet id seen per query, so a warm
	// function does not fetch the same tweets again.
	mu       sync.Mutex
	sinceIDs map[string]string
}

// MetricTweetsPut counts the tweets a run wrote to the stream.
const MetricTweetsPut = "TweetsPut"

// Result reports one invocation.
type Result struct {
	Mode string `json:"mode"`
	// TrendsSearched is the number of queries searched (trends or Query).
	TrendsSearched int `json:"trendsSearched"`
	// Tweets is the number of tweets (and stream notices) fetched.
	Tweets int `json:"tweets"`
	// RecordsPut is the number of Kinesis records written; an aggregate
	// counts once.
	RecordsPut int `json:"recordsPut"`
	// TweetsPut is the number of tweets written.
	TweetsPut int `json:"tweetsPut"`
	// Bytes is what the written records count against Kinesis's limits:
	// data plus partition keys.
	Bytes int64 `json:"bytes"`
	// PutCalls is the number of PutRecords calls.
	PutCalls int `json:"putCalls"`
	// ThrottledRetries counts records re-sent after
	// ProvisionedThroughputExceededException; Retries counts all re-sent
	// records (throttling, internal failures, failed calls).
	ThrottledRetries int `json:"throttledRetries"`
	Retries          int `json:"retries"`
	// Failed is the number of tweets not written.
	Failed int `json:"failed"`
}

// entry is one Kinesis record to put and the tweets it carries.
type entry struct {
	rec    streamproc.Record
	keys   []string // partition keys of the tweets inside, for ordering
	tweets int
	size   int // partition key + data
}

// failure is why some tweets were not written.
type failure struct {
	tweets int
	reason string
	err    error // cause, for errors.Is
}

// Handle runs one scheduled invocation: search, then write.
func (h *Handler) Handle(ctx context.Context, ev events.EventBridgeEvent) (Result, error) {
	mode := h.Mode
	if mode == "" {
		mode = ModeRecords
	}
	res := Result{Mode: mode}
	if err := h.check(mode); err != nil {
		return res, err
	}
	log := h.logger().With("stream", h.Stream, "mode", mode)
	if ev.ID != "" {
		log = log.With("event", ev.ID)
	}

	queries, err := h.queries(ctx)
	if err != nil {
		return res, err
	}
	var tweets []streamproc.SourceTweet
	var searchErrs []error
	seen := make(map[string]bool) // a tweet matching two trends is written once
	newest := make(map[string]string)
	for qi, q := range queries {
		if err := ctx.Err(); err != nil {
			searchErrs = append(searchErrs, fmt.Errorf("search %q not started: %w", q, err))
			break
		}
		page, newestID, err := h.search(ctx, q)
		if errors.Is(err, streamproc.ErrRefused) {
			log.Error("search refused; not searching the remaining queries", "query", q, "remaining", len(queries)-qi-1, "err", err)
			searchErrs = append(searchErrs, err)
			break
		}
		if err != nil {
			log.Warn("search failed", "query", q, "err", err)
			searchErrs = append(searchErrs, err)
			continue
		}
		res.TrendsSearched++
		if newestID != "" {
			newest[q] = newestID
		}
		// Search returns newest first; write oldest first so each author's
		// tweets land in the order they were written.
		for i := len(page) - 1; i >= 0; i-- {
			// A delete notice carries the id of the tweet it deletes, so
			// the author (a handle for tweets, a user id for notices)
			// keeps them apart.
			// Only across queries: one query's results are the source's to
			// give (a replay may repeat a tweet on purpose).
			if id := page[i].ID; id != "" && len(queries) > 1 {
				k := id + "\x00" + page[i].ScreenName
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			tweets = append(tweets, page[i])
		}
	}
	res.Tweets = len(tweets)
	h.metrics().Count("TweetsFetched", int64(len(tweets)))

	entries, failures := h.build(ctx, mode, tweets)
	failures = append(failures, h.put(ctx, log, entries, &res)...)
	if len(failures) == 0 {
		h.commitSinceIDs(ctx, log, newest)
	}
	return h.finish(log, res, failures, searchErrs)
}

func (h *Handler) check(mode string) error {
	switch {
	case h.Source == nil:
		return fmt.Errorf("producer: no tweet source configured: %w", streamproc.ErrInvalid)
	case h.Writer == nil:
		return fmt.Errorf("producer: no stream writer configured: %w", streamproc.ErrInvalid)
	case h.Stream == "":
		return fmt.Errorf("producer: no stream name configured: %w", streamproc.ErrInvalid)
	case mode != ModeRecords && mode != ModeAggregated:
		return fmt.Errorf("producer: mode %q is neither %q nor %q: %w", mode, ModeRecords, ModeAggregated, streamproc.ErrInvalid)
	}
	return nil
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) metrics() streamproc.Metrics {
	if h.Metrics == nil {
		return streamproc.NopMetrics{}
	}
	return h.Metrics
}

// queries returns Query, or the queries of the top trends.
func (h *Handler) queries(ctx context.Context) ([]string, error) {
	if h.Query != "" {
		return []string{h.Query}, nil
	}
	n := h.TopN
	if n <= 0 {
		n = defaultTopN
	}
	woeid := h.WOEID
	if woeid == 0 {
		woeid = 1
	}
	trends, err := h.Source.Trends(ctx, woeid, n)
	if err != nil {
		return nil, fmt.Errorf("producer: trends for woeid %d: %w", woeid, err)
	}
	qs := make([]string, 0, len(trends))
	for _, t := range trends {
		q := t.Query
		if q == "" {
			q = t.Name
		}
		if q != "" && !slices.Contains(qs, q) {
			qs = append(qs, q)
		}
	}
	return qs, nil
}

// search runs one query from the last newest id seen for it.
func (h *Handler) search(ctx context.Context, q string) ([]streamproc.SourceTweet, string, error) {
	h.mu.Lock()
	since := h.sinceIDs[q]
	h.mu.Unlock()
	page, newest, err := h.Source.Search(ctx, q, since)
	if err != nil {
		return nil, "", fmt.Errorf("search %q: %w", q, err)
	}
	return page, newest, nil
}

// commitSinceIDs advances each query's since_id — in memory, and in the
// source's store when it keeps one — once the run wrote every tweet: after a
// failed write the next run fetches the same tweets again rather than
// skipping them (EventData writes are idempotent; the stream may see a
// tweet twice, which is at-least-once as Kinesis is).
func (h *Handler) commitSinceIDs(ctx context.Context, log *slog.Logger, newest map[string]string) {
	h.mu.Lock()
	if h.sinceIDs == nil {
		h.sinceIDs = make(map[string]string)
	}
	for q, id := range newest {
		h.sinceIDs[q] = id
	}
	h.mu.Unlock()
	c, ok := h.Source.(streamproc.SinceIDCommitter)
	if !ok {
		return
	}
	for q, id := range newest {
		if err := c.CommitSinceID(ctx, q, id); err != nil {
			log.Warn("since_id not committed; the next run may fetch these tweets again", "query", q, "err", err)
		}
	}
}

// partitionKey is the author's handle. A source that cannot name the author
// gets the tweet id, which still spreads load and keeps the tweet.
func partitionKey(t streamproc.SourceTweet) string {
	if t.ScreenName != "" {
		return t.ScreenName
	}
	return t.ID
}

// build turns tweets into Kinesis records for mode. Tweets that can never be
// put (bad key, too large) come back as failures.
func (h *Handler) build(ctx context.Context, mode string, tweets []streamproc.SourceTweet) ([]entry, []failure) {
	if len(tweets) == 0 {
		return nil, nil
	}
	if mode == ModeAggregated {
		return h.buildAggregated(ctx, tweets)
	}
	var entries []entry
	var failures []failure
	for _, t := range tweets {
		ur := kpl.UserRecord{PartitionKey: partitionKey(t), Data: t.Raw}
		if err := checkRecord(ur); err != nil {
			failures = append(failures, failure{tweets: 1, reason: "tweet " + t.ID + ": " + err.Error(), err: err})
			continue
		}
		entries = append(entries, entry{
			rec:    streamproc.Record{PartitionKey: ur.PartitionKey, Data: ur.Data},
			keys:   []string{ur.PartitionKey},
			tweets: 1,
			size:   len(ur.PartitionKey) + len(ur.Data),
		})
	}
	return entries, failures
}

// checkRecord reports whether Kinesis would accept ur as a record of its own.
func checkRecord(ur kpl.UserRecord) error {
	if err := ur.Validate(); err != nil {
		return err
	}
	if n := len(ur.PartitionKey) + len(ur.Data); n > streamproc.MaxRecordBytes {
		return fmt.Errorf("record of %d bytes exceeds Kinesis's %d-byte limit: %w", n, streamproc.MaxRecordBytes, streamproc.ErrInvalid)
	}
	return nil
}

// buildAggregated routes every tweet to its shard and packs the tweets of
// each shard into KPL aggregates. Aggregates are interleaved across shards so
// each PutRecords call spreads over the stream.
func (h *Handler) buildAggregated(ctx context.Context, tweets []streamproc.SourceTweet) ([]entry, []failure) {
	shards, err := h.Writer.Shards(ctx, h.Stream)
	if err == nil && len(shards) == 0 {
		err = fmt.Errorf("stream %s has no open shards: %w", h.Stream, streamproc.ErrUnavailable)
	}
	var m *shardmap.Map
	if err == nil {
		m, err = shardmap.New(shards)
	}
	if err != nil {
		err = fmt.Errorf("listing shards of %s: %w", h.Stream, err)
		return nil, []failure{{tweets: len(tweets), reason: err.Error(), err: err}}
	}

	type packer struct {
		agg     *kpl.Aggregator
		keys    []string
		tweets  int
		entries []entry
	}
	packers := make([]packer, len(shards))
	var failures []failure
	drain := func(p *packer) {
		rec, err := p.agg.Drain()
		if err != nil {
			// Only a record that cannot be put is drained alone with an
			// error (kpl.Aggregator never mixes it with others).
			failures = append(failures, failure{tweets: p.tweets, reason: err.Error(), err: err})
		} else {
			p.entries = append(p.entries, entry{rec: rec, keys: p.keys, tweets: p.tweets, size: len(rec.PartitionKey) + len(rec.Data)})
		}
		p.keys, p.tweets = nil, 0
	}
	for _, t := range tweets {
		ur := kpl.UserRecord{PartitionKey: partitionKey(t), Data: t.Raw}
		if err := ur.Validate(); err != nil {
			failures = append(failures, failure{tweets: 1, reason: "tweet " + t.ID + ": " + err.Error(), err: err})
			continue
		}
		shard, err := m.Route(ur.PartitionKey, "")
		if err != nil {
			failures = append(failures, failure{tweets: 1, reason: "tweet " + t.ID + ": " + err.Error(), err: err})
			continue
		}
		p := &packers[shard]
		if p.agg == nil {
			p.agg = kpl.NewAggregator(kpl.DefaultMaxSize)
		}
		if !p.agg.Add(ur) {
			drain(p)
			p.agg.Add(ur) // an empty aggregator takes any record
		}
		if !slices.Contains(p.keys, ur.PartitionKey) {
			p.keys = append(p.keys, ur.PartitionKey)
		}
		p.tweets++
	}
	for i := range packers {
		if p := &packers[i]; p.agg != nil && p.agg.Len() > 0 {
			drain(p)
		}
	}
	var entries []entry
	for round := 0; ; round++ {
		added := false
		for i := range packers {
			if round < len(packers[i].entries) {
				entries = append(entries, packers[i].entries[round])
				added = true
			}
		}
		if !added {
			return entries, failures
		}
	}
}

// put writes entries, batching and retrying, and returns what failed.
func (h *Handler) put(ctx context.Context, log *slog.Logger, pending []entry, res *Result) []failure {
	var failures []failure
	// poisoned holds partition keys with a record that failed for good:
	// writing their later records would break the authors' order.
	poisoned := map[string]bool{}
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			for _, e := range pending {
				failures = append(failures, failure{tweets: e.tweets, reason: "not sent: " + err.Error(), err: err})
			}
			return failures
		}
		var batch, rest []entry
		inBatch := map[string]bool{}
		bytes := 0
		for _, e := range pending {
			if hasAny(poisoned, e.keys) {
				failures = append(failures, failure{tweets: e.tweets, reason: "not sent: an earlier record of the same author failed"})
				continue
			}
			full := len(batch) == streamproc.MaxPutRecords || bytes+e.size > streamproc.MaxPutRecordsBytes
			if full || hasAny(inBatch, e.keys) {
				// Deferred; later records of its keys must wait too.
				rest = append(rest, e)
				addAll(inBatch, e.keys)
				continue
			}
			batch = append(batch, e)
			bytes += e.size
			addAll(inBatch, e.keys)
		}
		for _, f := range h.putBatch(ctx, log, batch, res) {
			failures = append(failures, f.failure)
			addAll(poisoned, f.keys)
		}
		pending = rest
	}
	return failures
}

// batchFailure is a failure plus the keys it poisons.
type batchFailure struct {
	failure
	keys []string
}

// putBatch sends one batch (within PutRecords limits, one record per key)
// until every entry is written or attempts run out.
func (h *Handler) putBatch(ctx context.Context, log *slog.Logger, batch []entry, res *Result) []batchFailure {
	maxAttempts := h.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = defaultMaxAttempts
	}
	policy := backoff.Policy{Base: backoffBase, Max: backoffMax, Rand: h.Rand, Sleep: h.Sleep}
	if policy.Rand == nil {
		policy.Rand = rand.Float64
	}
	m := h.metrics()

	fail := func(entries []entry, reason string, err error) []batchFailure {
		out := make([]batchFailure, 0, len(entries))
		for _, e := range entries {
			out = append(out, batchFailure{failure: failure{tweets: e.tweets, reason: reason, err: err}, keys: e.keys})
		}
		return out
	}

	recs := make([]streamproc.Record, len(batch))
	onlyThrottled := true // every failure so far was throttling
	for attempt := 1; ; attempt++ {
		recs = recs[:len(batch)]
		for i, e := range batch {
			recs[i] = e.rec
		}
		res.PutCalls++
		results, err := h.Writer.PutRecords(ctx, h.Stream, recs)
		if err == nil && len(results) != len(recs) {
			err = fmt.Errorf("PutRecords returned %d results for %d records: %w", len(results), len(recs), streamproc.ErrUnavailable)
		}
		var failed []entry
		var lastCode, lastMsg string
		throttled := 0
		if err != nil {
			if !errors.Is(err, streamproc.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return fail(batch, "PutRecords failed: "+err.Error(), err)
			}
			failed, lastCode, lastMsg = batch, "call failed", err.Error()
		} else {
			for i, r := range results {
				if r.ErrorCode == "" {
					e := batch[i]
					res.RecordsPut++
					res.TweetsPut += e.tweets
					res.Bytes += int64(e.size)
					continue
				}
				failed = append(failed, batch[i])
				lastCode, lastMsg = r.ErrorCode, r.ErrorMessage
				if r.ErrorCode == codeThrottled {
					throttled++
				}
			}
			m.Count("RecordsPut", int64(len(results)-len(failed)))
		}
		if len(failed) == 0 {
			return nil
		}
		reason := fmt.Sprintf("%s: %s", lastCode, lastMsg)
		if throttled < len(failed) {
			onlyThrottled = false
		}
		budget := maxAttempts
		if onlyThrottled {
			budget = max(maxAttempts, maxThrottledAttempts)
		}
		if attempt >= budget {
			log.Error("giving up on records", "records", len(failed), "attempts", attempt, "reason", reason)
			return fail(failed, fmt.Sprintf("still failing after %d attempts (%s)", attempt, reason), streamproc.ErrUnavailable)
		}
		if err := policy.Wait(ctx, attempt-1, deadlineMargin); err != nil {
			log.Error("no time left to retry records", "records", len(failed), "attempts", attempt, "reason", reason, "err", err)
			return fail(failed, fmt.Sprintf("not retried after %d attempts (%s): %v", attempt, reason, err), err)
		}
		log.Warn("retrying records", "records", len(failed), "of", len(batch), "attempt", attempt+1, "reason", reason)
		res.Retries += len(failed)
		res.ThrottledRetries += throttled
		m.Count("ThrottledRetries", int64(throttled))
		batch = failed
	}
}

func hasAny(set map[string]bool, keys []string) bool {
	for _, k := range keys {
		if set[k] {
			return true
		}
	}
	return false
}

func addAll(set map[string]bool, keys []string) {
	for _, k := range keys {
		set[k] = true
	}
}

// finish logs the outcome and turns failures into the returned error.
func (h *Handler) finish(log *slog.Logger, res Result, failures []failure, searchErrs []error) (Result, error) {
	m := h.metrics()
	m.Count(MetricTweetsPut, int64(res.TweetsPut))
	m.Count("BytesPut", res.Bytes)
	for _, f := range failures {
		res.Failed += f.tweets
	}
	m.Count("TweetsFailed", int64(res.Failed))

	var errs []error
	if res.Failed > 0 {
		// Group reasons so the message stays short however many failed.
		byReason := map[string]int{}
		var order []string
		var causes []error
		for _, f := range failures {
			if byReason[f.reason] == 0 {
				order = append(order, f.reason)
			}
			byReason[f.reason] += f.tweets
			if f.err != nil && !slices.ContainsFunc(causes, func(e error) bool { return errors.Is(e, f.err) }) {
				causes = append(causes, f.err)
			}
		}
		parts := make([]string, len(order))
		for i, r := range order {
			parts[i] = fmt.Sprintf("%d: %s", byReason[r], r)
		}
		msg := fmt.Sprintf("producer: %d of %d tweets not written to stream %s (%s)", res.Failed, res.Tweets, h.Stream, strings.Join(parts, "; "))
		errs = append(errs, errors.Join(append([]error{errors.New(msg)}, causes...)...))
	}
	if len(searchErrs) > 0 {
		errs = append(errs, fmt.Errorf("producer: %d of %d searches failed: %w", len(searchErrs), len(searchErrs)+res.TrendsSearched, errors.Join(searchErrs...)))
	}
	attrs := []any{"trends", res.TrendsSearched, "tweets", res.Tweets, "tweetsPut", res.TweetsPut, "records", res.RecordsPut,
		"bytes", res.Bytes, "calls", res.PutCalls, "throttledRetries", res.ThrottledRetries, "failed", res.Failed}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		if errors.Is(err, context.Canceled) {
			// Stopped by the caller (a shutdown), not a failure: what was
			// not written is in the result and the error.
			log.Info("producer run stopped before it finished", append(attrs, "err", err)...)
		} else {
			log.Error("producer run incomplete", append(attrs, "err", err)...)
		}
		return res, err
	}
	log.Info("producer run", attrs...)
	return res, nil
}
