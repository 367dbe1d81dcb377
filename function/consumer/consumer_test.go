package consumer

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/local/deadletter"
	"github.com/streamproc/streamproc/local/table"
	"github.com/streamproc/streamproc/tweet"
)

const tableName = "streamproc-EventData"

var (
	testNow     = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	testArrival = testNow.Add(-3 * time.Second) // when the records reached the stream
)

func statuses(t *testing.T) [][]byte { return fixture.SearchStatuses(t) }

func kinesisEvent(datas ...[]byte) events.KinesisEvent {
	var ev events.KinesisEvent
	for i, d := range datas {
		seq := fmt.Sprintf("4960000000000000000000000000000000000000000000000000%04d", i)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventID:        "shardId-000000000001:" + seq,
			EventSourceArn: "arn:aws:kinesis:us-east-1:000000000000:stream/s",
			Kinesis: events.KinesisRecord{Data: d, SequenceNumber: seq, PartitionKey: "pk",
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: testArrival}},
		})
	}
	return ev
}

type env struct {
	tables *table.Store
	dead   *deadletter.Queue
	h      *Handler
}

// flakyTable wraps the real table to inject the failures AWS can produce:
// batches for which fail is true return err.
type flakyTable struct {
	streamproc.Table
	fail func(items []streamproc.Item) bool
	err  error
}

func (f *flakyTable) BatchPut(ctx context.Context, tbl string, items []streamproc.Item) ([]streamproc.Item, error) {
	if f.fail(items) {
		return nil, f.err
	}
	return f.Table.BatchPut(ctx, tbl, items)
}

func newEnv(t *testing.T, opts table.Options) *env {
	t.Helper()
	dir := t.TempDir()
	opts.Now = func() time.Time { return testNow }
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := table.Open(filepath.Join(dir, "tables"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateTable(context.Background(), tweet.EventDataSpec(tableName)); err != nil {
		t.Fatal(err)
	}
	dq, err := deadletter.Open(filepath.Join(dir, "dead"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{tables: s, dead: dq, h: &Handler{
		Table: s, TableName: tableName, TTLDays: 7, DeadLetters: dq, FunctionName: "consumer",
		Now:     func() time.Time { return testNow },
		Backoff: backoff.Policy{Base: time.Millisecond, Max: time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }},
	}}
}

func (e *env) scan(t *testing.T) []streamproc.Item {
	t.Helper()
	var all []streamproc.Item
	var start streamproc.Item
	for {
		p, err := e.tables.Scan(context.Background(), tableName, start, 0)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Items...)
		if p.LastKey == nil {
			return all
		}
		start = p.LastKey
	}
}

func (e *env) letters(t *testing.T) []streamproc.DeadLetter {
	t.Helper()
	var out []streamproc.DeadLetter
	if err := e.dead.Read(context.Background(), "consumer", func(d streamproc.DeadLetter) error { out = append(out, d); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustSucceed(t *testing.T, resp events.KinesisEventResponse, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures = %+v, want none", resp.BatchItemFailures)
	}
}

func TestFixtureTweetsLandExactlyOnce(t *testing.T) {
	e := newEnv(t, table.Options{})
	sts := statuses(t)
	ev := kinesisEvent(sts...)
	for i := range 2 { // a re-delivery, minutes later, writes the very same items
		e.h.Now = func() time.Time { return testNow.Add(time.Duration(i) * 5 * time.Minute) }
		resp, err := e.h.Handle(context.Background(), ev)
		mustSucceed(t, resp, err)
	}
	items := e.scan(t)
	if len(items) != len(sts) {
		t.Fatalf("%d items, want %d", len(items), len(sts))
	}
	byID := map[string]streamproc.Item{}
	for _, it := range items {
		byID[it[tweet.AttrID].(string)] = it
	}
	for _, raw := range sts {
		var ref struct {
			IDStr string `json:"id_str"`
			User  struct {
				ScreenName string `json:"screen_name"`
			} `json:"user"`
		}
		if err := stdjson.Unmarshal(raw, &ref); err != nil {
			t.Fatal(err)
		}
		it, ok := byID[ref.IDStr]
		if !ok {
			t.Errorf("tweet %s missing", ref.IDStr)
			continue
		}
		msg, _ := tweet.Decode(raw)
		if it[tweet.AttrMessage] != msg.Tweets[0].Text || it[tweet.AttrUsername] != ref.User.ScreenName {
			t.Errorf("item %s = %v", ref.IDStr, it)
		}
		if it[tweet.AttrExpirationTime] != streamproc.Number(fmt.Sprint(testArrival.Add(7*24*time.Hour).Unix())) {
			t.Errorf("ExpirationTime = %v", it[tweet.AttrExpirationTime])
		}
	}
	if n := len(e.letters(t)); n != 0 {
		t.Errorf("%d dead letters for good tweets", n)
	}
}

func TestBadDataIsDeadLetteredNotBlocking(t *testing.T) {
	e := newEnv(t, table.Options{})
	sts := statuses(t)
	garbage := []byte{0xde, 0xad, 0xbe, 0xef, 0xff}
	notice := []byte(`{"delete":{"status":{"id":1,"id_str":"1","user_id":2,"user_id_str":"2"},"timestamp_ms":"1"}}`)
	notTweet := []byte(`{"hello":"world"}`)
	ev := kinesisEvent(sts[0], garbage, notice, sts[1], notTweet, sts[2])
	resp, err := e.h.Handle(context.Background(), ev)
	mustSucceed(t, resp, err)
	if n := len(e.scan(t)); n != 3 {
		t.Errorf("%d items, want 3", n)
	}
	dls := e.letters(t)
	if len(dls) != 2 {
		t.Fatalf("%d dead letters, want 2 (garbage, not-a-tweet): %+v", len(dls), dls)
	}
	got := map[string]streamproc.DeadLetter{}
	for _, d := range dls {
		got[string(d.Data)] = d
	}
	g, ok := got[string(garbage)]
	if !ok || g.ShardID != "shardId-000000000001" || g.SequenceNumber != ev.Records[1].Kinesis.SequenceNumber || !errors.Is(decodeErr(garbage), tweet.ErrNotUTF8) || g.Reason == "" {
		t.Errorf("garbage dead letter = %+v", g)
	}
	if _, ok := got[string(notTweet)]; !ok {
		t.Errorf("not-a-tweet record was not dead-lettered")
	}
}

func decodeErr(b []byte) error { _, err := tweet.Decode(b); return err }

func TestKPLAggregatedRecordsAreDeaggregated(t *testing.T) {
	e := newEnv(t, table.Options{})
	sts := statuses(t)
	agg := kpl.NewAggregator(1 << 20)
	for _, s := range sts {
		if !agg.Add(kpl.UserRecord{PartitionKey: "p", Data: s}) {
			t.Fatal("fixture does not fit one aggregate")
		}
	}
	rec, err := agg.Drain()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.h.Handle(context.Background(), kinesisEvent(rec.Data))
	mustSucceed(t, resp, err)
	if n := len(e.scan(t)); n != len(sts) {
		t.Errorf("%d items from one aggregate of %d tweets", n, len(sts))
	}
}

func TestUnprocessedItemsAreRetried(t *testing.T) {
	var mu sync.Mutex
	refused := map[string]int{}
	e := newEnv(t, table.Options{Unprocessed: func(it streamproc.Item) bool {
		mu.Lock()
		defer mu.Unlock()
		id := it[tweet.AttrID].(string)
		refused[id]++
		return refused[id] <= 2 // throttled twice, then accepted
	}})
	sts := statuses(t)
	resp, err := e.h.Handle(context.Background(), kinesisEvent(sts...))
	mustSucceed(t, resp, err)
	if n := len(e.scan(t)); n != len(sts) {
		t.Errorf("%d items after retries, want %d", n, len(sts))
	}
}

func TestTransientFailureReportsFirstUnprocessedRecord(t *testing.T) {
	tests := []struct {
		name string
		set  func(e *env)
		want int // index of the record reported
	}{
		{"table unavailable for the second batch", func(e *env) {
			// Items are written 25 per batch in record order; record 3 is
			// garbage, so the second batch starts at record 26 (id 1026).
			e.h.Table = &flakyTable{Table: e.tables, err: fmt.Errorf("throttled: %w", streamproc.ErrUnavailable), fail: func(items []streamproc.Item) bool {
				for _, it := range items {
					if it[tweet.AttrID] == "1026" {
						return true
					}
				}
				return false
			}}
		}, 26},
		{"table unavailable for the first batch only", func(e *env) {
			// Later batches are written concurrently and succeed; the
			// response still points at the first record not written.
			e.h.Table = &flakyTable{Table: e.tables, err: fmt.Errorf("throttled: %w", streamproc.ErrUnavailable), fail: func(items []streamproc.Item) bool {
				return items[0][tweet.AttrID] == "1000"
			}}
		}, 0},
		{"table missing", func(e *env) { e.h.TableName = "nope" }, 0},
		{"throttled past MaxAttempts", func(e *env) {
			e.h.MaxAttempts = 3
		}, 0},
		{"dead-letter sink down", func(e *env) { e.h.DeadLetters = failingSink{} }, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := table.Options{}
			if tc.name == "throttled past MaxAttempts" {
				opts.Unprocessed = func(streamproc.Item) bool { return true }
			}
			e := newEnv(t, opts)
			tc.set(e)
			// 40 distinct tweets (two batches of 25) with garbage at index 3.
			var datas [][]byte
			for i := range 40 {
				if i == 3 {
					datas = append(datas, []byte("garbage"))
					continue
				}
				datas = append(datas, fmt.Appendf(nil, `{"id_str":"%d","full_text":"t","created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"screen_name":"u%d"}}`, 1000+i, i))
			}
			ev := kinesisEvent(datas...)
			resp, err := e.h.Handle(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[tc.want].Kinesis.SequenceNumber {
				t.Fatalf("batchItemFailures = %+v, want record %d", resp.BatchItemFailures, tc.want)
			}
		})
	}
}

type failingSink struct{}

func (failingSink) Put(context.Context, []streamproc.DeadLetter) error {
	return fmt.Errorf("disk full: %w", streamproc.ErrUnavailable)
}

func TestDeadlineStopsBeforeWriting(t *testing.T) {
	e := newEnv(t, table.Options{})
	e.h.DeadlineMargin = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ev := kinesisEvent(statuses(t)...)
	resp, err := e.h.Handle(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].Kinesis.SequenceNumber {
		t.Fatalf("batchItemFailures = %+v, want the first record", resp.BatchItemFailures)
	}
}

// stalledTable never answers a write: the handler must give up in time to
// answer Lambda itself, reporting the batch for retry, instead of timing out.
type stalledTable struct{ streamproc.Table }

func (stalledTable) BatchPut(ctx context.Context, _ string, _ []streamproc.Item) ([]streamproc.Item, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestStalledTableAnswersBeforeTheDeadline(t *testing.T) {
	e := newEnv(t, table.Options{})
	e.h.Table = stalledTable{e.tables}
	e.h.DeadlineMargin = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	ev := kinesisEvent(statuses(t)...)
	resp, err := e.h.Handle(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the handler answered after the invocation deadline; Lambda would time out the batch")
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[0].Kinesis.SequenceNumber {
		t.Fatalf("batchItemFailures = %+v, want the first record", resp.BatchItemFailures)
	}
}

func TestRejectedItemIsDeadLetteredOthersWritten(t *testing.T) {
	e := newEnv(t, table.Options{})
	long := make([]byte, 3000) // partition key over DynamoDB's 2048 bytes
	for i := range long {
		long[i] = 'a'
	}
	bad := fmt.Appendf(nil, `{"id_str":"5","full_text":"t","created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"screen_name":"%s"}}`, long)
	sts := statuses(t)
	resp, err := e.h.Handle(context.Background(), kinesisEvent(sts[0], bad, sts[1]))
	mustSucceed(t, resp, err)
	if n := len(e.scan(t)); n != 2 {
		t.Errorf("%d items, want 2", n)
	}
	dls := e.letters(t)
	if len(dls) != 1 || string(dls[0].Data) != string(bad) {
		t.Fatalf("dead letters = %+v", dls)
	}
}
