// Package backoff computes exponential backoff with full jitter, the retry
// pacing AWS recommends for throttled batch writes (PutRecords,
// BatchWriteItem UnprocessedItems).
package backoff

import (
	"context"
	"time"
)

// Policy is an exponential backoff with full jitter: the n-th wait (n from 0)
// is uniform in [0, min(Max, Base·2^n)).
type Policy struct {
	Base time.Duration
	Max  time.Duration
	// Rand returns a number in [0,1); injected so tests are deterministic.
	Rand func() float64
	// Sleep waits for d or until ctx is done; injected so tests don't wait.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Delay returns the wait before retry n (0-based).
func (p Policy) Delay(n int) time.Duration {
	ceil := p.Base
	for i := 0; i < n && ceil < p.Max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, p.Max)
	if p.Rand == nil {
		return ceil
	}
	return time.Duration(p.Rand() * float64(ceil))
}

// Wait sleeps before retry n. It returns ctx's error if the context ends
// first, or if the wait would run past ctx's deadline less margin — a retry
// that cannot finish before the deadline is not worth starting.
func (p Policy) Wait(ctx context.Context, n int, margin time.Duration) error {
	d := p.Delay(n)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl)-margin < d {
		return context.DeadlineExceeded
	}
	sleep := p.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	return sleep(ctx, d)
}

// Sleep waits for d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
