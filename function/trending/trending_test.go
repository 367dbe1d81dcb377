package trending

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/table"
)

const trends = "streamproc-Trends"

func newHandler(t *testing.T) (*Handler, *table.Store) {
	t.Helper()
	s, err := table.Open(filepath.Join(t.TempDir(), "t"), table.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.CreateTable(context.Background(), TrendsSpec(trends)); err != nil {
		t.Fatal(err)
	}
	return &Handler{Table: s, TableName: trends}, s
}

func tweetWith(id int, tags ...string) []byte {
	var ents []string
	text := "t"
	for _, tag := range tags {
		ents = append(ents, fmt.Sprintf(`{"text":%q}`, tag))
		text += " #" + tag
	}
	return fmt.Appendf(nil, `{"id_str":"%d","full_text":%q,"created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"screen_name":"u"},"entities":{"hashtags":[%s]}}`, id, text, strings.Join(ents, ","))
}

func windowEvent(shard string, state map[string]string, final bool, datas ...[]byte) events.KinesisTimeWindowEvent {
	var ev events.KinesisTimeWindowEvent
	for _, d := range datas {
		ev.Records = append(ev.Records, events.KinesisEventRecord{Kinesis: events.KinesisRecord{Data: d}})
	}
	start := time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC)
	ev.Window.Start = events.RFC3339EpochTime{Time: start}
	ev.Window.End = events.RFC3339EpochTime{Time: start.Add(time.Minute)}
	ev.State = state
	ev.ShardID = shard
	ev.IsFinalInvokeForWindow = final
	return ev
}

func TestShardsMergeInTrendsTable(t *testing.T) {
	h, s := newHandler(t)
	ctx := context.Background()
	// Shard 0: two invocations then the final one; shard 1: one, then final.
	r1, err := h.Handle(ctx, windowEvent("shardId-0", nil, false, tweetWith(1, "Go", "kinesis"), tweetWith(2, "go"), []byte("junk")))
	if err != nil {
		t.Fatal(err)
	}
	if r1.State["go"] != "2" || r1.State["kinesis"] != "1" || r1.State[KeyInvalid] != "1" || r1.State[KeyTweets] != "2" {
		t.Fatalf("state after first invoke = %v", r1.State)
	}
	r2, err := h.Handle(ctx, windowEvent("shardId-0", r1.State, false, tweetWith(3, "go")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Handle(ctx, windowEvent("shardId-0", r2.State, true)); err != nil {
		t.Fatal(err)
	}
	r3, err := h.Handle(ctx, windowEvent("shardId-1", nil, false, tweetWith(4, "Go", "lambda")))
	if err != nil {
		t.Fatal(err)
	}
	final, err := h.Handle(ctx, windowEvent("shardId-1", r3.State, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(final.State) != 0 {
		t.Errorf("state after the final invoke = %v, want empty", final.State)
	}
	items, err := s.Query(ctx, trends, streamproc.Query{Hash: "2026-11-26T10:05:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range items {
		got[it[AttrHashtag].(string)] = string(it[AttrCount].(streamproc.Number))
	}
	want := map[string]string{"go": "4", "kinesis": "1", "lambda": "1", KeyTweets: "4", KeyInvalid: "1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Trends[%s] = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

func TestBadStateFailsInvocation(t *testing.T) {
	h, _ := newHandler(t)
	if _, err := h.Handle(context.Background(), windowEvent("s", map[string]string{"go": "282.5"}, false)); err == nil {
		t.Fatal("a non-integer state value must fail the invocation")
	}
}

func TestStateStaysUnderLimit(t *testing.T) {
	h, _ := newHandler(t)
	h.StateLimit = 4 << 10
	var datas [][]byte
	for i := range 2000 {
		tags := []string{"hot"}
		tags = append(tags, "tag"+strconv.Itoa(i))
		datas = append(datas, tweetWith(i+1, tags...))
	}
	r, err := h.Handle(context.Background(), windowEvent("s", nil, false, datas...))
	if err != nil {
		t.Fatal(err)
	}
	size := 0
	total := int64(0)
	for k, v := range r.State {
		size += len(k) + len(v) + 6
		n, _ := strconv.ParseInt(v, 10, 64)
		if !strings.HasPrefix(k, "#") || k == KeyOther {
			total += n
		}
	}
	if size > h.StateLimit {
		t.Errorf("state is %d bytes, over the %d limit", size, h.StateLimit)
	}
	if r.State["hot"] != "2000" {
		t.Errorf("the frequent hashtag was folded away: %q", r.State["hot"])
	}
	if total != 4000 {
		t.Errorf("hashtag occurrences after folding = %d, want 4000 (nothing lost, only merged into %s)", total, KeyOther)
	}
}
