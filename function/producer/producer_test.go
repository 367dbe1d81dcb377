package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/shardmap"
	"github.com/streamproc/streamproc/source/synthetic"
)

const testStream = "tweets"

// fakeWriter is an in-memory stream that routes like Kinesis, enforces
// PutRecords limits, and fails chosen entries.
type fakeWriter struct {
	mu     sync.Mutex
	shards []streamproc.Shard
	m      *shardmap.Map
	logs   [][]streamproc.Record // per shard, in landing order
	calls  [][]streamproc.Record // every request, as sent
	seq    int

	// failEntry returns the error code for entry i of call n (0-based), or
	// "" to write it.
	failEntry func(call, i int, r streamproc.Record) string
	// callErr fails call n as a whole.
	callErr   func(call int) error
	shardsErr error
}

func newFakeWriter(t *testing.T, shards int) *fakeWriter {
	t.Helper()
	m, err := shardmap.New(shardmap.Even(shards))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeWriter{shards: m.Shards(), m: m, logs: make([][]streamproc.Record, shards)}
}

func (w *fakeWriter) Shards(ctx context.Context, stream string) ([]streamproc.Shard, error) {
	if w.shardsErr != nil {
		return nil, w.shardsErr
	}
	return w.shards, nil
}

func (w *fakeWriter) PutRecords(ctx context.Context, stream string, recs []streamproc.Record) ([]streamproc.PutResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.calls)
	w.calls = append(w.calls, slices.Clone(recs))
	if stream != testStream {
		return nil, fmt.Errorf("stream %s: %w", stream, streamproc.ErrNotFound)
	}
	if len(recs) == 0 || len(recs) > streamproc.MaxPutRecords {
		return nil, fmt.Errorf("%d records in one call: %w", len(recs), streamproc.ErrInvalid)
	}
	total := 0
	route := make([]int, len(recs))
	for i, r := range recs {
		size := len(r.PartitionKey) + len(r.Data)
		if r.PartitionKey == "" || size > streamproc.MaxRecordBytes {
			return nil, fmt.Errorf("record %d: bad key or %d bytes: %w", i, size, streamproc.ErrInvalid)
		}
		total += size
		idx, err := w.m.Route(r.PartitionKey, r.ExplicitHashKey)
		if err != nil {
			return nil, err
		}
		route[i] = idx
	}
	if total > streamproc.MaxPutRecordsBytes {
		return nil, fmt.Errorf("%d bytes in one call: %w", total, streamproc.ErrInvalid)
	}
	if w.callErr != nil {
		if err := w.callErr(n); err != nil {
			return nil, err
		}
	}
	out := make([]streamproc.PutResult, len(recs))
	for i, r := range recs {
		if w.failEntry != nil {
			if code := w.failEntry(n, i, r); code != "" {
				out[i] = streamproc.PutResult{ErrorCode: code, ErrorMessage: "Rate exceeded for shard " + w.shards[route[i]].ID}
				continue
			}
		}
		w.seq++
		w.logs[route[i]] = append(w.logs[route[i]], r)
		out[i] = streamproc.PutResult{ShardID: w.shards[route[i]].ID, SequenceNumber: fmt.Sprintf("%056d", w.seq)}
	}
	return out, nil
}

// landed returns every record written, shard by shard.
func (w *fakeWriter) landed() []streamproc.Record {
	var all []streamproc.Record
	for _, l := range w.logs {
		all = append(all, l...)
	}
	return all
}

// fakeSource serves fixed pages and records what was asked.
type fakeSource struct {
	mu        sync.Mutex
	trends    []streamproc.Trend
	pages     map[string][]streamproc.SourceTweet // newest first, as Search returns
	searchErr map[string]error
	trendArgs [][2]int64
	searched  []string // "query|since"
}

func (s *fakeSource) Trends(ctx context.Context, woeid int64, n int) ([]streamproc.Trend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trendArgs = append(s.trendArgs, [2]int64{woeid, int64(n)})
	return s.trends[:min(n, len(s.trends))], nil
}

func (s *fakeSource) Search(ctx context.Context, query, sinceID string) ([]streamproc.SourceTweet, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searched = append(s.searched, query+"|"+sinceID)
	if err := s.searchErr[query]; err != nil {
		return nil, "", err
	}
	page := s.pages[query]
	if len(page) == 0 {
		return nil, sinceID, nil
	}
	return page, page[0].ID, nil
}

// tweets makes n tweets, ids increasing, newest first (as Search returns
// them); author(i) names the author of the i-th oldest and size is the
// payload size.
func tweets(n, size int, author func(i int) string) []streamproc.SourceTweet {
	return tweetsFrom(1000, n, size, author)
}

// tweetsFrom numbers the tweets from first: pages of different queries
// hold different tweets unless a test means them to overlap.
func tweetsFrom(first, n, size int, author func(i int) string) []streamproc.SourceTweet {
	out := make([]streamproc.SourceTweet, n)
	for i := range n {
		id := fmt.Sprint(first + i)
		raw := fmt.Appendf(nil, `{"id":%s,"pad":"`, id)
		raw = append(raw, bytes.Repeat([]byte{'x'}, max(0, size-len(raw)-2))...)
		raw = append(raw, `"}`...)
		out[n-1-i] = streamproc.SourceTweet{ID: id, ScreenName: author(i), Raw: raw}
	}
	return out
}

func distinct(i int) string { return fmt.Sprintf("user%d", i) }

// sleeps records the injected backoff waits.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func newHandler(src streamproc.TweetSource, w streamproc.StreamWriter, mode string, sl *sleeps) *Handler {
	return &Handler{
		Source: src, Writer: w, Stream: testStream, Mode: mode, Query: "#q",
		Logger: slog.New(slog.DiscardHandler),
		Sleep:  sl.sleep,
		Rand:   func() float64 { return 0.5 },
	}
}

// inputOrder is the order the producer must write src's pages in: each page
// oldest first.
func inputOrder(pages ...[]streamproc.SourceTweet) []streamproc.SourceTweet {
	var out []streamproc.SourceTweet
	for _, p := range pages {
		for i := len(p) - 1; i >= 0; i-- {
			out = append(out, p[i])
		}
	}
	return out
}

// userRecords expands landed records into user records (aggregates
// deaggregated), checking that each one sits on the shard its own key routes
// to.
func userRecords(t *testing.T, w *fakeWriter) []kpl.UserRecord {
	t.Helper()
	var out []kpl.UserRecord
	for shard, log := range w.logs {
		for _, r := range log {
			urs, aggregated, err := kpl.Deaggregate(r.Data)
			if err != nil {
				t.Fatalf("landed record does not deaggregate: %v", err)
			}
			if !aggregated {
				urs[0].PartitionKey = r.PartitionKey
			}
			for _, u := range urs {
				if got, _ := w.m.Route(u.PartitionKey, u.ExplicitHashKey); got != shard {
					t.Fatalf("user record of %q sits on shard %d, its key routes to %d", u.PartitionKey, shard, got)
				}
			}
			out = append(out, urs...)
		}
	}
	return out
}

// checkDelivery asserts that exactly want landed, each author's tweets in
// the order of want.
func checkDelivery(t *testing.T, w *fakeWriter, want []streamproc.SourceTweet) {
	t.Helper()
	got := userRecords(t, w)
	if len(got) != len(want) {
		t.Fatalf("%d tweets landed, want %d", len(got), len(want))
	}
	perKey := map[string][][]byte{}
	for _, u := range got {
		perKey[u.PartitionKey] = append(perKey[u.PartitionKey], u.Data)
	}
	wantPerKey := map[string][][]byte{}
	for _, tw := range want {
		pk := tw.ScreenName
		if pk == "" {
			pk = tw.ID
		}
		wantPerKey[pk] = append(wantPerKey[pk], tw.Raw)
	}
	for pk, w := range wantPerKey {
		if !slices.EqualFunc(perKey[pk], w, bytes.Equal) {
			t.Fatalf("tweets of %q landed as %d records out of order or altered (want %d)", pk, len(perKey[pk]), len(w))
		}
	}
}

func TestRecordsModeBatching(t *testing.T) {
	tests := []struct {
		name      string
		page      []streamproc.SourceTweet
		wantCalls []int // records per call
	}{
		{"500 records per call", tweets(1201, 100, distinct), []int{500, 500, 201}},
		{"5 MiB per call", tweets(60, 200_000, distinct), []int{26, 26, 8}},
		// 500 records of 10,485 data bytes fit 5 MiB only if partition keys
		// are forgotten; with their 8–10 bytes they do not.
		{"partition keys count", tweets(500, 10_485, func(i int) string { return fmt.Sprintf("author%04d", i) }), []int{499, 1}},
		{"one author waits for its previous record", tweets(4, 100, func(int) string { return "same" }), []int{1, 1, 1, 1}},
		{"authors interleave", tweets(6, 100, func(i int) string { return []string{"a", "b"}[i%2] }), []int{2, 2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWriter(t, 3)
			src := &fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": tc.page}}
			h := newHandler(src, w, ModeRecords, &sleeps{})
			res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, c := range w.calls {
				got = append(got, len(c))
			}
			if !slices.Equal(got, tc.wantCalls) {
				t.Errorf("records per call %v, want %v", got, tc.wantCalls)
			}
			checkDelivery(t, w, inputOrder(tc.page))
			if res.TweetsPut != len(tc.page) || res.RecordsPut != len(tc.page) || res.Failed != 0 || res.PutCalls != len(tc.wantCalls) {
				t.Errorf("result %+v", res)
			}
			var bytes int64
			for _, r := range w.landed() {
				bytes += int64(len(r.PartitionKey) + len(r.Data))
			}
			if res.Bytes != bytes {
				t.Errorf("result bytes %d, landed %d", res.Bytes, bytes)
			}
		})
	}
}

func TestPartialFailureResendsOnlyFailedEntries(t *testing.T) {
	for _, mode := range []string{ModeRecords, ModeAggregated} {
		t.Run(mode, func(t *testing.T) {
			w := newFakeWriter(t, 4)
			var failedFirst []streamproc.Record
			w.failEntry = func(call, i int, r streamproc.Record) string {
				if call == 0 && i%3 == 0 {
					failedFirst = append(failedFirst, r)
					return codeThrottled
				}
				return ""
			}
			page := tweets(40, 3000, distinct)
			src := &fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": page}}
			sl := &sleeps{}
			h := newHandler(src, w, mode, sl)
			res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
			if err != nil {
				t.Fatal(err)
			}
			if len(w.calls) != 2 {
				t.Fatalf("%d calls, want 2", len(w.calls))
			}
			if !slices.EqualFunc(w.calls[1], failedFirst, func(a, b streamproc.Record) bool {
				return a.PartitionKey == b.PartitionKey && a.ExplicitHashKey == b.ExplicitHashKey && bytes.Equal(a.Data, b.Data)
			}) {
				t.Errorf("retry call sent %d records, want exactly the %d that failed", len(w.calls[1]), len(failedFirst))
			}
			if res.ThrottledRetries != len(failedFirst) || res.Retries != len(failedFirst) {
				t.Errorf("throttled retries %d (retries %d), want %d", res.ThrottledRetries, res.Retries, len(failedFirst))
			}
			// Full jitter with Rand 0.5: half the first ceiling.
			if want := []time.Duration{backoffBase / 2}; !slices.Equal(sl.d, want) {
				t.Errorf("slept %v, want %v", sl.d, want)
			}
			checkDelivery(t, w, inputOrder(page))
			if res.TweetsPut != len(page) || res.Failed != 0 {
				t.Errorf("result %+v", res)
			}
		})
	}
}

func TestBackoffGrowsExponentially(t *testing.T) {
	w := newFakeWriter(t, 1)
	w.failEntry = func(call, i int, r streamproc.Record) string {
		if call < 4 && r.PartitionKey == "user0" {
			return "InternalFailure"
		}
		return ""
	}
	page := tweets(3, 100, distinct)
	sl := &sleeps{}
	h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": page}}, w, ModeRecords, sl)
	res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	if !slices.Equal(sl.d, want) {
		t.Errorf("slept %v, want %v", sl.d, want)
	}
	if res.Retries != 4 || res.ThrottledRetries != 0 {
		t.Errorf("retries %d, throttled %d; want 4 and 0 (InternalFailure is not throttling)", res.Retries, res.ThrottledRetries)
	}
	checkDelivery(t, w, inputOrder(page))
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	for _, mode := range []string{ModeRecords, ModeAggregated} {
		t.Run(mode, func(t *testing.T) {
			w := newFakeWriter(t, 2)
			// "hot" always fails inside Kinesis; in aggregated mode that
			// fails the aggregates holding its tweets.
			w.failEntry = func(call, i int, r streamproc.Record) string {
				if carries(r, "hot") {
					return "InternalFailure"
				}
				return ""
			}
			author := func(i int) string {
				if i == 2 || i == 5 {
					return "hot"
				}
				return distinct(i)
			}
			page := tweets(8, 100, author)
			h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": page}}, w, mode, &sleeps{})
			h.MaxAttempts = 3
			res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
			if err == nil {
				t.Fatal("lost records reported as success")
			}
			if !errors.Is(err, streamproc.ErrUnavailable) {
				t.Errorf("error %v does not wrap ErrUnavailable", err)
			}
			for _, want := range []string{"not written", "InternalFailure", "after 3 attempts"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if res.Failed == 0 || res.Failed+res.TweetsPut != len(page) {
				t.Errorf("failed %d + put %d != %d tweets", res.Failed, res.TweetsPut, len(page))
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%d of %d tweets", res.Failed, len(page))) {
				t.Errorf("error %q does not say how many tweets", err)
			}
			got := userRecords(t, w)
			for _, u := range got {
				if u.PartitionKey == "hot" {
					t.Fatal("a tweet of the failing author landed")
				}
			}
			if len(got) != res.TweetsPut {
				t.Errorf("%d tweets landed, result says %d", len(got), res.TweetsPut)
			}
			// The first hot record is tried MaxAttempts times; the second
			// is never sent, since it would land before its predecessor.
			hotSends := 0
			for _, c := range w.calls {
				for _, r := range c {
					if carries(r, "hot") {
						hotSends++
					}
				}
			}
			if hotSends != 3 {
				t.Errorf("records with hot tweets sent %d times, want 3", hotSends)
			}
		})
	}
}

// carries reports whether r holds a tweet with partition key pk, plain or
// inside an aggregate.
func carries(r streamproc.Record, pk string) bool {
	urs, aggregated, _ := kpl.Deaggregate(r.Data)
	if !aggregated {
		return r.PartitionKey == pk
	}
	for _, u := range urs {
		if u.PartitionKey == pk {
			return true
		}
	}
	return false
}

func TestWholeCallErrors(t *testing.T) {
	tests := []struct {
		name      string
		stream    string
		callErr   func(int) error
		wantErr   error
		wantCalls int
	}{
		{"transient error is retried", testStream, func(n int) error {
			if n == 0 {
				return fmt.Errorf("throttled: %w", streamproc.ErrUnavailable)
			}
			return nil
		}, nil, 2},
		{"invalid request is not retried", testStream, func(int) error { return fmt.Errorf("bad: %w", streamproc.ErrInvalid) }, streamproc.ErrInvalid, 1},
		{"missing stream", "nope", nil, streamproc.ErrNotFound, 1},
		{"transient error until attempts run out", testStream, func(int) error { return streamproc.ErrUnavailable }, streamproc.ErrUnavailable, defaultMaxAttempts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newFakeWriter(t, 1)
			w.callErr = tc.callErr
			page := tweets(5, 100, distinct)
			h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": page}}, w, ModeRecords, &sleeps{})
			h.Stream = tc.stream
			res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if len(w.calls) != tc.wantCalls {
				t.Errorf("%d calls, want %d", len(w.calls), tc.wantCalls)
			}
			if tc.wantErr != nil && res.Failed != len(page) {
				t.Errorf("failed %d, want %d", res.Failed, len(page))
			}
		})
	}
}

func TestStopsRetryingAtDeadline(t *testing.T) {
	w := newFakeWriter(t, 1)
	w.failEntry = func(int, int, streamproc.Record) string { return codeThrottled }
	h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": tweets(3, 100, distinct)}}, w, ModeRecords, nil)
	h.Sleep = func(ctx context.Context, d time.Duration) error { return context.DeadlineExceeded }
	res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if len(w.calls) != 1 || res.Failed != 3 {
		t.Errorf("calls %d, failed %d; want 1 and 3", len(w.calls), res.Failed)
	}

	// A deadline too close for the next wait stops retries without sleeping.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	h.Sleep = func(context.Context, time.Duration) error { t.Error("slept past the deadline"); return nil }
	h.Rand = func() float64 { return 0.999 }
	w.calls = nil
	short, cancel2 := context.WithDeadline(ctx, time.Now().Add(deadlineMargin))
	defer cancel2()
	if _, err := h.Handle(short, events.EventBridgeEvent{}); err == nil {
		t.Fatal("no error at the deadline")
	}
}

func TestAggregatedMode(t *testing.T) {
	tests := []struct {
		name   string
		shards int
		failP  float64 // share of entries throttled on each of the first calls
	}{
		{"one shard", 1, 0},
		{"four shards", 4, 0},
		{"eight shards with throttling", 8, 0.3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			clock := func() time.Time { now = now.Add(time.Second); return now }
			src := &recordingSource{TweetSource: synthetic.New(synthetic.Options{Seed: 5, Now: clock})}
			w := newFakeWriter(t, tc.shards)
			rng := rand.New(rand.NewPCG(1, 2))
			w.failEntry = func(call, i int, r streamproc.Record) string {
				if call < 6 && rng.Float64() < tc.failP {
					return codeThrottled
				}
				return ""
			}
			h := newHandler(src, w, ModeAggregated, &sleeps{})
			h.Query = ""
			h.TopN = 3
			h.MaxAttempts = 10
			res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
			if err != nil {
				t.Fatal(err)
			}
			want := inputOrder(src.pages...)
			if len(want) != 300 {
				t.Fatalf("source gave %d tweets", len(want))
			}
			checkDelivery(t, w, want)

			landed := w.landed()
			if res.RecordsPut != len(landed) || res.TweetsPut != len(want) || res.Tweets != len(want) || res.TrendsSearched != 3 {
				t.Errorf("result %+v, %d records landed", res, len(landed))
			}
			if len(landed) >= len(want)/2 {
				t.Errorf("%d records for %d tweets: barely aggregated", len(landed), len(want))
			}
			for _, r := range landed {
				if len(r.PartitionKey)+len(r.Data) > kpl.DefaultMaxSize && kpl.IsAggregated(r.Data) {
					t.Errorf("aggregate of %d bytes over the %d limit", len(r.PartitionKey)+len(r.Data), kpl.DefaultMaxSize)
				}
			}
			// No hot shard: every shard gets a fair part.
			for i, l := range w.logs {
				if n := len(userRecordsOf(t, l)); n < len(want)/tc.shards/3 {
					t.Errorf("shard %d holds %d of %d tweets", i, n, len(want))
				}
			}
			if tc.failP > 0 && res.ThrottledRetries == 0 {
				t.Error("no throttled retries reported")
			}
		})
	}
}

func userRecordsOf(t *testing.T, recs []streamproc.Record) []kpl.UserRecord {
	var out []kpl.UserRecord
	for _, r := range recs {
		urs, _, err := kpl.Deaggregate(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, urs...)
	}
	return out
}

// recordingSource keeps the pages it served.
type recordingSource struct {
	streamproc.TweetSource
	pages [][]streamproc.SourceTweet
}

func (s *recordingSource) Search(ctx context.Context, q, since string) ([]streamproc.SourceTweet, string, error) {
	page, newest, err := s.TweetSource.Search(ctx, q, since)
	s.pages = append(s.pages, page)
	return page, newest, err
}

func TestOrderKeptUnderRandomFailures(t *testing.T) {
	for _, mode := range []string{ModeRecords, ModeAggregated} {
		t.Run(mode, func(t *testing.T) {
			w := newFakeWriter(t, 3)
			rng := rand.New(rand.NewPCG(9, 9))
			w.failEntry = func(call, i int, r streamproc.Record) string {
				if rng.IntN(4) == 0 {
					return codeThrottled
				}
				return ""
			}
			// Few authors, so each has many tweets in flight.
			page := tweets(400, 2000, func(i int) string { return fmt.Sprintf("a%d", (i*7)%13) })
			h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": page}}, w, mode, &sleeps{})
			h.MaxAttempts = 50
			if _, err := h.Handle(context.Background(), events.EventBridgeEvent{}); err != nil {
				t.Fatal(err)
			}
			checkDelivery(t, w, inputOrder(page))
		})
	}
}

func TestAggregatedModeWithoutShards(t *testing.T) {
	w := newFakeWriter(t, 2)
	w.shardsErr = fmt.Errorf("describe: %w", streamproc.ErrUnavailable)
	h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": tweets(5, 100, distinct)}}, w, ModeAggregated, &sleeps{})
	res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
	if !errors.Is(err, streamproc.ErrUnavailable) || res.Failed != 5 || len(w.calls) != 0 {
		t.Fatalf("err %v, failed %d, calls %d", err, res.Failed, len(w.calls))
	}
}

func TestUnputtableTweets(t *testing.T) {
	for _, mode := range []string{ModeRecords, ModeAggregated} {
		t.Run(mode, func(t *testing.T) {
			page := tweets(4, 100, distinct)
			page[1].Raw = bytes.Repeat([]byte("x"), streamproc.MaxRecordBytes) // too big with its key
			page[2].ScreenName = ""                                            // falls back to the id
			w := newFakeWriter(t, 2)
			h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": page}}, w, mode, &sleeps{})
			res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
			if !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if res.Failed != 1 || res.TweetsPut != 3 {
				t.Errorf("failed %d, put %d; want 1 and 3", res.Failed, res.TweetsPut)
			}
			if !strings.Contains(err.Error(), "1 of 4 tweets not written") {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestQueries(t *testing.T) {
	trends := []streamproc.Trend{{Name: "#a", Query: "#a"}, {Name: "#b"}, {Name: "#a", Query: "#a"}, {Name: "#c", Query: "%23c"}}
	pages := map[string][]streamproc.SourceTweet{"#a": tweetsFrom(1000, 2, 100, distinct), "#b": tweetsFrom(2000, 3, 100, distinct), "%23c": tweetsFrom(3000, 1, 100, distinct)}

	t.Run("trends", func(t *testing.T) {
		src := &fakeSource{trends: trends, pages: pages}
		h := newHandler(src, newFakeWriter(t, 1), ModeRecords, &sleeps{})
		h.Query = ""
		res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
		if err != nil {
			t.Fatal(err)
		}
		if want := [][2]int64{{1, defaultTopN}}; !slices.Equal(src.trendArgs, want) {
			t.Errorf("Trends called with %v, want %v", src.trendArgs, want)
		}
		if want := []string{"#a|", "#b|", "%23c|"}; !slices.Equal(src.searched, want) {
			t.Errorf("searched %v, want %v", src.searched, want)
		}
		if res.TrendsSearched != 3 || res.Tweets != 6 {
			t.Errorf("result %+v", res)
		}
		// A warm function searches from the newest id it saw.
		if _, err := h.Handle(context.Background(), events.EventBridgeEvent{}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"#a|1001", "#b|2002", "%23c|3000"}; !slices.Equal(src.searched[3:], want) {
			t.Errorf("second run searched %v, want %v", src.searched[3:], want)
		}
	})

	t.Run("fixed query and woeid", func(t *testing.T) {
		src := &fakeSource{trends: trends, pages: pages}
		h := newHandler(src, newFakeWriter(t, 1), ModeRecords, &sleeps{})
		h.Query, h.WOEID, h.TopN = "#b", 23424977, 2
		if _, err := h.Handle(context.Background(), events.EventBridgeEvent{}); err != nil {
			t.Fatal(err)
		}
		if len(src.trendArgs) != 0 || !slices.Equal(src.searched, []string{"#b|"}) {
			t.Errorf("trends %v, searched %v", src.trendArgs, src.searched)
		}
		h.Query = ""
		if _, err := h.Handle(context.Background(), events.EventBridgeEvent{}); err != nil {
			t.Fatal(err)
		}
		if want := [][2]int64{{23424977, 2}}; !slices.Equal(src.trendArgs, want) {
			t.Errorf("Trends called with %v, want %v", src.trendArgs, want)
		}
	})

	t.Run("a failed search does not stop the others", func(t *testing.T) {
		src := &fakeSource{trends: trends, pages: pages, searchErr: map[string]error{"#b": fmt.Errorf("rate limited: %w", streamproc.ErrUnavailable)}}
		w := newFakeWriter(t, 1)
		h := newHandler(src, w, ModeRecords, &sleeps{})
		h.Query = ""
		res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
		if !errors.Is(err, streamproc.ErrUnavailable) || !strings.Contains(err.Error(), `"#b"`) {
			t.Fatalf("err = %v, want the failed query named", err)
		}
		if res.TrendsSearched != 2 || res.TweetsPut != 3 || len(w.landed()) != 3 {
			t.Errorf("result %+v", res)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	src := &fakeSource{}
	tests := []struct {
		name string
		h    *Handler
	}{
		{"no source", &Handler{Writer: &fakeWriter{}, Stream: testStream}},
		{"no writer", &Handler{Source: src, Stream: testStream}},
		{"no stream", &Handler{Source: src, Writer: &fakeWriter{}}},
		{"bad mode", &Handler{Source: src, Writer: &fakeWriter{}, Stream: testStream, Mode: "kpl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.h.Handle(context.Background(), events.EventBridgeEvent{}); !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Result{Mode: ModeRecords, TrendsSearched: 1, Tweets: 2, RecordsPut: 3, TweetsPut: 2, Bytes: 4, PutCalls: 5, ThrottledRetries: 6, Retries: 7, Failed: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"mode":"records","trendsSearched":1,"tweets":2,"recordsPut":3,"tweetsPut":2,"bytes":4,"putCalls":5,"throttledRetries":6,"retries":7,"failed":8}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
}

type countingMetrics struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *countingMetrics) Count(name string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[name] += n
}

func TestMetrics(t *testing.T) {
	w := newFakeWriter(t, 2)
	w.failEntry = func(call, i int, r streamproc.Record) string {
		if call == 0 && i == 0 {
			return codeThrottled
		}
		return ""
	}
	m := &countingMetrics{m: map[string]int64{}}
	h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": tweets(10, 100, distinct)}}, w, ModeRecords, &sleeps{})
	h.Metrics = m
	res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"TweetsFetched": 10, "RecordsPut": 10, "TweetsPut": 10, "BytesPut": res.Bytes, "ThrottledRetries": 1, "TweetsFailed": 0}
	for k, v := range want {
		if m.m[k] != v {
			t.Errorf("metric %s = %d, want %d", k, m.m[k], v)
		}
	}
}

// nopWriter acknowledges everything; it isolates the producer's own cost.
type nopWriter struct{ shards []streamproc.Shard }

func (w nopWriter) Shards(context.Context, string) ([]streamproc.Shard, error) { return w.shards, nil }

func (w nopWriter) PutRecords(_ context.Context, _ string, recs []streamproc.Record) ([]streamproc.PutResult, error) {
	out := make([]streamproc.PutResult, len(recs))
	for i := range out {
		out[i] = streamproc.PutResult{ShardID: "shardId-000000000000", SequenceNumber: "1"}
	}
	return out, nil
}

// BenchmarkHandle measures one invocation over 1,000 synthetic tweets
// (10 trends × 100), source generation included.
func BenchmarkHandle(b *testing.B) {
	for _, mode := range []string{ModeRecords, ModeAggregated} {
		b.Run(mode, func(b *testing.B) {
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			src := synthetic.New(synthetic.Options{Seed: 1, Now: func() time.Time { now = now.Add(time.Second); return now }})
			h := &Handler{Source: src, Writer: nopWriter{shardmap.Even(4)}, Stream: testStream, Mode: mode}
			var tweets int
			for b.Loop() {
				res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
				if err != nil {
					b.Fatal(err)
				}
				tweets += res.TweetsPut
			}
			b.ReportMetric(float64(tweets)/b.Elapsed().Seconds(), "tweets/s")
		})
	}
}

// A stream that only throttles is busy, not broken: entries are retried
// past MaxAttempts (up to maxThrottledAttempts) and all tweets land.
func TestThrottlingOutlastsMaxAttempts(t *testing.T) {
	w := newFakeWriter(t, 2)
	hotTries := 0
	w.failEntry = func(call, i int, r streamproc.Record) string {
		if carries(r, "hot") {
			hotTries++
			if hotTries < 8 {
				return codeThrottled
			}
		}
		return ""
	}
	author := func(i int) string {
		if i == 2 {
			return "hot"
		}
		return distinct(i)
	}
	page := tweets(8, 100, author)
	h := newHandler(&fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": page}}, w, ModeRecords, &sleeps{})
	h.MaxAttempts = 3
	res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if res.TweetsPut != len(page) || res.ThrottledRetries != 7 {
		t.Errorf("put %d of %d tweets with %d throttled retries, want all with 7", res.TweetsPut, len(page), res.ThrottledRetries)
	}
}

// A tweet matching two trends is written once; a delete notice carrying
// the id of a tweet it deletes is not mistaken for it.
func TestTweetInTwoTrendsWrittenOnce(t *testing.T) {
	shared := tweetsFrom(5000, 1, 100, distinct)[0]
	notice := streamproc.SourceTweet{ID: shared.ID, ScreenName: "12345", Raw: []byte(`{"delete":{"status":{"id_str":"5000","user_id_str":"12345"}}}`)}
	pages := map[string][]streamproc.SourceTweet{
		"#a": append(tweetsFrom(1000, 2, 100, distinct), shared),
		"#b": {shared, notice},
	}
	w := newFakeWriter(t, 1)
	src := &fakeSource{trends: []streamproc.Trend{{Name: "#a", Query: "#a"}, {Name: "#b", Query: "#b"}}, pages: pages}
	h := newHandler(src, w, ModeRecords, &sleeps{})
	h.Query = ""
	res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if res.TweetsPut != 4 || len(userRecords(t, w)) != 4 {
		t.Errorf("put %d tweets (%d records landed), want 4: two, the shared one once, the notice", res.TweetsPut, len(userRecords(t, w)))
	}
}

// A refused search (usage cap, rejected credentials) stops the run: the
// remaining trends would fail the same way.
func TestRefusedSearchStopsTheRun(t *testing.T) {
	trends := []streamproc.Trend{{Name: "#a", Query: "#a"}, {Name: "#b", Query: "#b"}, {Name: "#c", Query: "#c"}}
	pages := map[string][]streamproc.SourceTweet{"#a": tweetsFrom(1000, 2, 100, distinct), "#b": tweetsFrom(2000, 2, 100, distinct), "#c": tweetsFrom(3000, 2, 100, distinct)}
	src := &fakeSource{trends: trends, pages: pages, searchErr: map[string]error{"#b": fmt.Errorf("usage cap exceeded: %w", streamproc.ErrRefused)}}
	h := newHandler(src, newFakeWriter(t, 1), ModeRecords, &sleeps{})
	h.Query = ""
	res, err := h.Handle(context.Background(), events.EventBridgeEvent{})
	if !errors.Is(err, streamproc.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	if want := []string{"#a|", "#b|"}; !slices.Equal(src.searched, want) {
		t.Errorf("searched %v, want %v", src.searched, want)
	}
	if res.TweetsPut != 2 {
		t.Errorf("put %d tweets, want #a's 2", res.TweetsPut)
	}
}

// A run whose writes failed does not advance since_id: the next run asks
// for the same tweets again instead of skipping them for good.
func TestFailedWriteKeepsSinceID(t *testing.T) {
	src := &fakeSource{pages: map[string][]streamproc.SourceTweet{"#q": tweetsFrom(1000, 3, 100, distinct)}}
	w := newFakeWriter(t, 1)
	w.failEntry = func(call, i int, r streamproc.Record) string { return "InternalFailure" }
	h := newHandler(src, w, ModeRecords, &sleeps{})
	if _, err := h.Handle(context.Background(), events.EventBridgeEvent{}); err == nil {
		t.Fatal("failed writes reported as success")
	}
	w.failEntry = nil
	if _, err := h.Handle(context.Background(), events.EventBridgeEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(context.Background(), events.EventBridgeEvent{}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"#q|", "#q|", "#q|1002"}; !slices.Equal(src.searched, want) {
		t.Errorf("searched %v, want %v: only a run that wrote everything moves since_id", src.searched, want)
	}
}
