package schedule

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock whose Sleep advances it instead of waiting.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	// step, when set, is how much of each requested sleep actually passes,
	// to model timers that fire early.
	step func(d time.Duration) time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	if c.step != nil {
		d = c.step(d)
	}
	c.now = c.now.Add(d)
	return nil
}

// runFor runs sched on a fake clock from start, calling body at each firing,
// until body has been called n times; it returns the firing times, the
// clock readings at each call and the log.
func runFor(t *testing.T, clk *fakeClock, expr string, n int, body func(i int, at time.Time) error) (ats, nows []time.Time, log string) {
	t.Helper()
	sched, err := Parse(expr)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	r := &Runner{Now: clk.Now, Sleep: clk.Sleep, Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = r.Run(ctx, sched, func(ctx context.Context, at time.Time) error {
		ats = append(ats, at)
		nows = append(nows, clk.Now())
		i := len(ats) - 1
		if len(ats) == n {
			cancel()
		}
		if body != nil {
			return body(i, at)
		}
		return nil
	})
	if n > 0 && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	return ats, nows, buf.String()
}

func wantTimes(t *testing.T, what string, got []time.Time, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range want {
		if w := utc(t, want[i]); !got[i].Equal(w) {
			t.Fatalf("%s[%d]: got %v, want %v (all: %v)", what, i, got[i], w, got)
		}
	}
}

func TestRunnerFiresOnSchedule(t *testing.T) {
	clk := &fakeClock{now: utc(t, "2024-02-29T23:37:10")}
	ats, nows, _ := runFor(t, clk, "cron(0/15 * * * ? *)", 4, nil)
	wantTimes(t, "at", ats, "2024-02-29T23:45", "2024-03-01T00:00", "2024-03-01T00:15", "2024-03-01T00:30")
	wantTimes(t, "now", nows, "2024-02-29T23:45", "2024-03-01T00:00", "2024-03-01T00:15", "2024-03-01T00:30")
	for _, d := range clk.sleeps {
		if d > maxSleep || d <= 0 {
			t.Errorf("slept %v; every wait must be in (0, %v]", d, maxSleep)
		}
	}
}

func TestRunnerBindsRateAtStart(t *testing.T) {
	clk := &fakeClock{now: utc(t, "2024-02-29T10:07:30")}
	ats, _, _ := runFor(t, clk, "rate(5 minutes)", 3, nil)
	wantTimes(t, "at", ats, "2024-02-29T10:12:30", "2024-02-29T10:17:30", "2024-02-29T10:22:30")
}

func TestRunnerCoalescesMissedFirings(t *testing.T) {
	clk := &fakeClock{now: utc(t, "2024-03-01T10:07")}
	ats, nows, log := runFor(t, clk, "cron(0/15 * * * ? *)", 3, func(i int, at time.Time) error {
		if i == 0 {
			clk.Advance(40 * time.Minute) // runs through 10:30 and 10:45
		}
		return nil
	})
	wantTimes(t, "at", ats, "2024-03-01T10:15", "2024-03-01T11:00", "2024-03-01T11:15")
	wantTimes(t, "now", nows, "2024-03-01T10:15", "2024-03-01T11:00", "2024-03-01T11:15")
	if !strings.Contains(log, "skipped firings") || !strings.Contains(log, "firstSkipped=2024-03-01T10:30:00.000Z") {
		t.Errorf("log does not report the skip:\n%s", log)
	}
}

func TestRunnerRunEndingOnAFiringDoesNotSkipIt(t *testing.T) {
	clk := &fakeClock{now: utc(t, "2024-03-01T10:07")}
	ats, nows, log := runFor(t, clk, "cron(0/15 * * * ? *)", 3, func(i int, at time.Time) error {
		if i == 0 {
			clk.Advance(15 * time.Minute) // returns exactly at 10:30
		}
		return nil
	})
	wantTimes(t, "at", ats, "2024-03-01T10:15", "2024-03-01T10:30", "2024-03-01T10:45")
	wantTimes(t, "now", nows, "2024-03-01T10:15", "2024-03-01T10:30", "2024-03-01T10:45")
	if strings.Contains(log, "skipped") {
		t.Errorf("nothing was skipped, but:\n%s", log)
	}
}

func TestRunnerCoalescesAfterOversleeping(t *testing.T) {
	// A suspended machine wakes three hours late: one run, not twelve.
	clk := &fakeClock{now: utc(t, "2024-03-01T10:07")}
	clk.step = func(d time.Duration) time.Duration {
		if len(clk.sleeps) == 1 {
			return 3 * time.Hour
		}
		return d
	}
	ats, nows, log := runFor(t, clk, "cron(0/15 * * * ? *)", 2, nil)
	wantTimes(t, "at", ats, "2024-03-01T10:15", "2024-03-01T13:15")
	wantTimes(t, "now", nows, "2024-03-01T13:07", "2024-03-01T13:15")
	if !strings.Contains(log, "skipped firings") {
		t.Errorf("log does not report the skip:\n%s", log)
	}
}

func TestRunnerNeverFiresEarly(t *testing.T) {
	// Timers that end early (here after a third of the wait) make the
	// runner wait again, not fire.
	clk := &fakeClock{now: utc(t, "2024-03-01T10:07")}
	clk.step = func(d time.Duration) time.Duration { return max(d/3, time.Nanosecond) }
	ats, nows, _ := runFor(t, clk, "cron(0 * * * ? *)", 2, nil)
	wantTimes(t, "at", ats, "2024-03-01T11:00", "2024-03-01T12:00")
	for i := range ats {
		if nows[i].Before(ats[i]) {
			t.Errorf("fired for %v at %v", ats[i], nows[i])
		}
		if nows[i].Sub(ats[i]) > time.Microsecond {
			t.Errorf("fired for %v only at %v", ats[i], nows[i])
		}
	}
}

func TestRunnerLogsErrorsAndContinues(t *testing.T) {
	clk := &fakeClock{now: utc(t, "2024-03-01T10:07")}
	ats, _, log := runFor(t, clk, "cron(0/15 * * * ? *)", 3, func(i int, at time.Time) error {
		if i == 0 {
			return errors.New("target exploded")
		}
		return nil
	})
	wantTimes(t, "at", ats, "2024-03-01T10:15", "2024-03-01T10:30", "2024-03-01T10:45")
	if !strings.Contains(log, "scheduled run failed") || !strings.Contains(log, "target exploded") {
		t.Errorf("log does not report the error:\n%s", log)
	}
}

func TestRunnerEndsWithSchedule(t *testing.T) {
	clk := &fakeClock{now: utc(t, "2022-12-01T00:00")}
	sched, _ := Parse("cron(15 10 ? * 6L 2019-2022)")
	var ats []time.Time
	r := &Runner{Now: clk.Now, Sleep: clk.Sleep, Logger: slog.New(slog.DiscardHandler)}
	err := r.Run(context.Background(), sched, func(_ context.Context, at time.Time) error {
		ats = append(ats, at)
		return nil
	})
	if err != nil {
		t.Fatalf("Run = %v, want nil once the years are over", err)
	}
	wantTimes(t, "at", ats, "2022-12-30T10:15")
}

func TestRunnerStopsWhileWaiting(t *testing.T) {
	clk := &fakeClock{now: utc(t, "2024-03-01T10:07")}
	ctx, cancel := context.WithCancel(context.Background())
	clk.step = func(d time.Duration) time.Duration {
		if len(clk.sleeps) == 3 {
			cancel()
		}
		return d
	}
	sched, _ := Parse("cron(0 0 1 1 ? *)")
	r := &Runner{Now: clk.Now, Sleep: clk.Sleep, Logger: slog.New(slog.DiscardHandler)}
	err := r.Run(ctx, sched, func(context.Context, time.Time) error {
		t.Error("fired")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

// soon fires a few times, a few milliseconds apart, then never again.
type soon struct {
	first time.Time
	n     int
}

func (s soon) Next(after time.Time) time.Time {
	for i := range s.n {
		if at := s.first.Add(time.Duration(i) * 5 * time.Millisecond); at.After(after) {
			return at
		}
	}
	return time.Time{}
}

func (soon) String() string { return "soon" }

func TestRunnerRealClock(t *testing.T) {
	// The zero Runner uses the real clock and timers.
	var r Runner
	var ats []time.Time
	sched := soon{first: time.Now().Add(10 * time.Millisecond), n: 3}
	err := r.Run(context.Background(), sched, func(_ context.Context, at time.Time) error {
		if now := time.Now(); now.Before(at) {
			t.Errorf("fired for %v at %v", at, now)
		}
		ats = append(ats, at)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ats) == 0 || len(ats) > 3 {
		t.Fatalf("fired %d times", len(ats))
	}
}
