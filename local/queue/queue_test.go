package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

func fixedClock() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 891_234_567, time.UTC) }

func mustOpen(t *testing.T, dir string) *Queue {
	t.Helper()
	q, err := OpenWithOptions(dir, Options{Now: fixedClock})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func readAll(t *testing.T, q *Queue, name string) []Message {
	t.Helper()
	var out []Message
	if err := q.Read(context.Background(), name, func(m Message) error {
		out = append(out, m)
		return nil
	}); err != nil {
		t.Fatalf("Read(%s): %v", name, err)
	}
	return out
}

func TestSendReadRoundTrip(t *testing.T) {
	q := mustOpen(t, t.TempDir())
	ctx := context.Background()
	bodies := []string{`{"a":1}`, "plain text ünïcödé", strings.Repeat("x", 1000)}
	for _, b := range bodies {
		if err := q.Send(ctx, "dlq", []byte(b)); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	got := readAll(t, q, "dlq")
	if len(got) != len(bodies) {
		t.Fatalf("read %d messages, want %d", len(got), len(bodies))
	}
	ids := map[string]bool{}
	for i, m := range got {
		if m.Body != bodies[i] {
			t.Errorf("message %d body = %q, want %q", i, m.Body, bodies[i])
		}
		if want := fixedClock().Truncate(time.Millisecond); !m.Timestamp.Equal(want) {
			t.Errorf("message %d timestamp = %v, want %v", i, m.Timestamp, want)
		}
		if len(m.ID) != 36 || ids[m.ID] {
			t.Errorf("message %d id %q is not a fresh UUID", i, m.ID)
		}
		ids[m.ID] = true
	}
}

func TestOneJSONLinePerMessage(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir)
	if err := q.Send(context.Background(), "q1", []byte("line\nbreak")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "q1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 1 || !strings.HasSuffix(string(b), "\n") {
		t.Fatalf("file has %d newlines: %q", n, b)
	}
	for _, key := range []string{`"id":`, `"timestamp":"2026-03-04T05:06:07.891Z"`, `"body":"line\nbreak"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("line %s lacks %s", b, key)
		}
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir)
	for i := range 3 {
		if err := q.Send(context.Background(), "q", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2 := mustOpen(t, dir)
	if got := readAll(t, q2, "q"); len(got) != 3 || got[2].Body != "m2" {
		t.Fatalf("after reopen: %+v", got)
	}
}

func TestTornTailSkippedThenRepaired(t *testing.T) {
	dir := t.TempDir()
	q := mustOpen(t, dir)
	ctx := context.Background()
	if err := q.Send(ctx, "q", []byte("first")); err != nil {
		t.Fatal(err)
	}
	q.Close()
	// A crash mid-append leaves half a line.
	f, err := os.OpenFile(filepath.Join(dir, "q.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"x","timest`)
	f.Close()

	q2 := mustOpen(t, dir)
	if got := readAll(t, q2, "q"); len(got) != 1 || got[0].Body != "first" {
		t.Fatalf("torn tail not skipped: %+v", got)
	}
	if err := q2.Send(ctx, "q", []byte("second")); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, q2, "q")
	if len(got) != 2 || got[1].Body != "second" {
		t.Fatalf("after repair: %+v", got)
	}
}

func TestCorruptLineFailsRead(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "q.jsonl"), []byte("not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := mustOpen(t, dir)
	err := q.Read(context.Background(), "q", func(Message) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("Read = %v, want a line-1 error", err)
	}
}

func TestSendRejects(t *testing.T) {
	q := mustOpen(t, t.TempDir())
	for _, tc := range []struct {
		name, queue string
		body        []byte
	}{
		{"empty name", "", []byte("x")},
		{"path escape", "../x", []byte("x")},
		{"bad char", "a b", []byte("x")},
		{"too long name", strings.Repeat("a", 81), []byte("x")},
		{"bare fifo suffix", ".fifo", []byte("x")},
		{"empty body", "q", nil},
		{"too large", "q", make([]byte, MaxMessageBytes+1)},
		{"invalid utf8", "q", []byte{0xff, 0xfe}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := q.Send(context.Background(), tc.queue, tc.body); !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("Send = %v, want ErrInvalid", err)
			}
		})
	}
	if err := q.Send(context.Background(), "orders-dlq.fifo", []byte("ok")); err != nil {
		t.Fatalf("valid FIFO name rejected: %v", err)
	}
}

func TestQueuesAndMissing(t *testing.T) {
	q := mustOpen(t, t.TempDir())
	ctx := context.Background()
	for _, n := range []string{"b", "a", "c_1"} {
		if err := q.Send(ctx, n, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	names, err := q.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "a,b,c_1" {
		t.Fatalf("Queues = %v", names)
	}
	if err := q.Read(ctx, "nope", func(Message) error { return nil }); !errors.Is(err, streamproc.ErrNotFound) {
		t.Fatalf("Read missing = %v, want ErrNotFound", err)
	}
}

func TestReadStopsOnCallbackError(t *testing.T) {
	q := mustOpen(t, t.TempDir())
	ctx := context.Background()
	for range 3 {
		q.Send(ctx, "q", []byte("x"))
	}
	stop := errors.New("stop")
	n := 0
	err := q.Read(ctx, "q", func(Message) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Read = %v after %d calls", err, n)
	}
}

func TestConcurrentSends(t *testing.T) {
	q := mustOpen(t, t.TempDir())
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				if err := q.Send(ctx, "q", fmt.Appendf(nil, "w%d-%d", w, i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := readAll(t, q, "q"); len(got) != 100 {
		t.Fatalf("read %d messages, want 100", len(got))
	}
}

func TestClosedAndDestination(t *testing.T) {
	q := mustOpen(t, t.TempDir())
	d := q.Destination("dlq")
	if err := d.Send(context.Background(), []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if d.Name() != "dlq" || len(readAll(t, q, "dlq")) != 1 {
		t.Fatal("destination did not write to its queue")
	}
	q.Close()
	if err := d.Send(context.Background(), []byte("x")); !errors.Is(err, streamproc.ErrUnavailable) {
		t.Fatalf("Send after Close = %v, want ErrUnavailable", err)
	}
}
