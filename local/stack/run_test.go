package stack

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/function/transformer"
)

// spy records what the stack's functions were invoked with.
type spy struct {
	mu       sync.Mutex
	batches  []int
	windows  int
	schedule int
}

func (s *spy) factory(_ context.Context, fp FunctionPlan, _ Deps) (Handlers, error) {
	switch fp.Package {
	case "consumer", "trending":
		consumer := fp.Package == "consumer"
		return Handlers{Kinesis: func(_ context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if consumer {
				s.batches = append(s.batches, len(ev.Records))
				return &events.KinesisTimeWindowEventResponse{}, nil
			}
			if ev.IsFinalInvokeForWindow {
				s.windows++
			}
			return &events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: map[string]string{}}}, nil
		}}, nil
	case "transformer":
		return Handlers{Firehose: (&transformer.Handler{}).Handle}, nil
	case "producer":
		return Handlers{Schedule: func(context.Context, events.EventBridgeEvent) error {
			s.mu.Lock()
			s.schedule++
			s.mu.Unlock()
			return nil
		}}, nil
	}
	return Handlers{}, nil
}

// Template variations change local behaviour the way they would on AWS:
// batch size, the delivery prefix and buffering, the tumbling window.
func TestTemplateVariationsChangeBehaviour(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A static prefix: Firehose appends the default yyyy/MM/dd/HH/ path.
	src := strings.Replace(string(raw), "Prefix: tweets/!{timestamp:yyyy/MM/dd/HH}/", "Prefix: custom/", 1)
	src = strings.Replace(src, "ErrorOutputPrefix: errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/", "ErrorOutputPrefix: failed/", 1)
	tm, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Resolve(Env{Overrides: map[string]string{"ConsumerBatchSize": "7", "ConsumerBatchingWindowSeconds": "0",
		"DeliveryBufferSeconds": "1", "TrendsWindowSeconds": "1", "ProducerSchedule": "rate(1 minute)"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sp := &spy{}
	st, err := Start(context.Background(), r, Options{Dir: dir, Functions: sp.factory, Logger: slog.New(slog.DiscardHandler), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	var recs []streamproc.Record
	for i := range 50 {
		recs = append(recs, streamproc.Record{PartitionKey: "k", Data: []byte(`{"id_str":"` + string(rune('1'+i%9)) + `","full_text":"x","created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"screen_name":"u"}}`)})
	}
	if _, err := st.Deps().Stream.PutRecords(ctx, "streamproc-EventStream", recs); err != nil {
		t.Fatal(err)
	}
	if err := st.Drain(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // let the 1 s window and buffer expire
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	total := 0
	for _, n := range sp.batches {
		if n > 7 {
			t.Errorf("a batch of %d records with BatchSize 7", n)
		}
		total += n
	}
	if total != 50 {
		t.Errorf("consumer saw %d records, want 50", total)
	}
	if sp.windows == 0 {
		t.Error("no tumbling window closed with TrendsWindowSeconds=1")
	}
	var keys []string
	root := filepath.Join(dir, "buckets", "streamproc-deliverybucket-local")
	_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(root, p)
			keys = append(keys, rel)
		}
		return err
	})
	if len(keys) == 0 {
		t.Fatal("nothing delivered")
	}
	for _, k := range keys {
		// custom/ + Firehose's default yyyy/MM/dd/HH/ + name-version-timestamp-uuid
		if !strings.HasPrefix(k, "custom/20") || !strings.Contains(k, "/streamproc-FirehoseDeliveryStream-1-20") {
			t.Errorf("object key %q does not follow the static-prefix rule", k)
		}
	}
}

// With FireSchedulesAtStart a schedule's function runs when the stack
// starts, not one rate later; without it, nothing runs before the rate.
func TestFireSchedulesAtStart(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Resolve(Env{Overrides: map[string]string{"ProducerSchedule": "rate(1 hour)"}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		atStart, held bool
	}{{false, false}, {true, false}, {true, true}}
	for _, tc := range cases {
		atStart := tc.atStart
		sp := &spy{}
		var hold func(SchedulePlan, FunctionPlan) bool
		if tc.held {
			// A held schedule never fires, not even at start.
			hold = func(_ SchedulePlan, fn FunctionPlan) bool { return fn.Package == "producer" }
		}
		st, err := Start(context.Background(), r, Options{Dir: t.TempDir(), Functions: sp.factory, Logger: slog.New(slog.DiscardHandler), FireSchedulesAtStart: atStart, HoldSchedule: hold})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- st.Run(ctx) }()
		deadline := time.Now().Add(5 * time.Second)
		for atStart && !tc.held && time.Now().Before(deadline) {
			sp.mu.Lock()
			n := sp.schedule
			sp.mu.Unlock()
			if n > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !atStart || tc.held {
			time.Sleep(200 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		st.Close()
		want := 0
		if atStart && !tc.held {
			want = 1
		}
		if sp.schedule != want {
			t.Errorf("FireSchedulesAtStart=%v held=%v: the producer ran %d times before its first rate(1 hour) firing, want %d", atStart, tc.held, sp.schedule, want)
		}
	}
}

// A data dir another stack holds, a shard count the existing stream does
// not have, or a template the engine refuses, are errors that say what to
// do, never a crash; and a refused Start leaves the dir usable.
func TestStartRefusals(t *testing.T) {
	tm, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(over map[string]string) *Resolved {
		r, err := tm.Resolve(Env{Overrides: over})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	start := func(dir string, r *Resolved) (*Stack, error) {
		return Start(context.Background(), r, Options{Dir: dir, Functions: (&spy{}).factory, Logger: slog.New(slog.DiscardHandler)})
	}
	dir := t.TempDir()
	first, err := start(dir, resolve(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start(dir, resolve(nil)); err == nil || !strings.Contains(err.Error(), "another streamproc process is using") {
		t.Errorf("second Start on a held dir: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := start(dir, resolve(map[string]string{"ShardCount": "3"})); err == nil || !strings.Contains(err.Error(), "has 1 shard(s), the template asks for 3") ||
		!strings.Contains(err.Error(), "down --purge") {
		t.Errorf("Start with another shard count: %v", err)
	}
	if _, err := start(t.TempDir(), resolve(map[string]string{"ShardCount": "99999"})); err == nil || !strings.Contains(err.Error(), "shard limit") {
		t.Errorf("Start over the shard limit: %v", err)
	}
	// Zero is "unset" inside esm.Config, but the API rejects it: it must not
	// silently become "forever".
	if _, err := start(t.TempDir(), resolve(map[string]string{"ConsumerMaximumRecordAgeSeconds": "0"})); err == nil || !strings.Contains(err.Error(), "-1 (forever) or between 60 and 604800") {
		t.Errorf("Start with MaximumRecordAgeInSeconds 0: %v", err)
	}
	again, err := start(dir, resolve(nil))
	if err != nil {
		t.Fatalf("the dir is not usable after refusals: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
