package schedule

import (
	"context"
	"log/slog"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
)

// Runner calls a function at each firing of a schedule, as EventBridge invokes
// a rule's target. The zero value is usable.
type Runner struct {
	// Now is the clock; nil means time.Now.
	Now streamproc.Clock
	// Sleep waits for d or until ctx is done; nil means backoff.Sleep.
	// Injected, with Now, so tests run days of a schedule without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives failed runs and skipped firings; nil means slog.Default().
	Logger *slog.Logger
}

// maxSleep bounds one wait. Schedules are in wall-clock time but timers run
// on the monotonic clock, which stands still while a machine is suspended and
// ignores clock corrections; waking at least once a minute to re-read the
// clock keeps a firing from being hours late after either.
const maxSleep = time.Minute

// Run calls fire at every firing of sched strictly after Run starts, with
// at set to the scheduled time, until ctx ends (Run returns ctx's error) or
// the schedule has no more firings (Run returns nil). An unanchored Rate is
// bound to the time Run starts: that is when the local rule is "created".
//
// Runs never overlap and never pile up. EventBridge invokes a target once per
// scheduled time, so firings that pass while fire is still running are
// skipped and logged, and the next run is the first firing not yet past.
// After waking late (a suspended machine), Run fires once for the first
// missed time and skips the rest the same way. An error from fire is logged
// and does not stop the schedule, as a failed invocation does not disable a
// rule.
func (r *Runner) Run(ctx context.Context, sched Schedule, fire func(ctx context.Context, at time.Time) error) error {
	now, sleep, log := r.Now, r.Sleep, r.Logger
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = backoff.Sleep
	}
	if log == nil {
		log = slog.Default()
	}
	start := now()
	if rt, ok := sched.(Rate); ok && !rt.bound {
		sched = rt.Bind(start)
	}
	log = log.With("component", "schedule", "schedule", sched.String())

	next := sched.Next(start)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if next.IsZero() {
			log.Info("schedule has no more firings")
			return nil
		}
		t := now()
		if t.Before(next) {
			if err := sleep(ctx, min(next.Sub(t), maxSleep)); err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil {
					return ctxErr
				}
				return err
			}
			continue // re-read the clock: a sleep may end early or late
		}
		at := next
		if err := fire(ctx, at); err != nil {
			log.Error("scheduled run failed", "at", at, "err", err)
		}
		next = sched.Next(at)
		if t := now(); !next.IsZero() && next.Before(t) {
			skipped := next
			// A firing exactly at t is not missed yet, hence t minus 1ns.
			next = sched.Next(t.Add(-time.Nanosecond))
			log.Warn("skipped firings that passed while the previous run was busy",
				"firstSkipped", skipped, "next", next)
		}
	}
}
