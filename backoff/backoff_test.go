package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for n, w := range want {
		if got := p.Delay(n); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	p.Rand = func() float64 { return 0.5 }
	if got := p.Delay(2); got != 200*time.Millisecond {
		t.Errorf("jittered Delay(2) = %v, want 200ms", got)
	}
}

func TestWaitRespectsDeadline(t *testing.T) {
	slept := time.Duration(0)
	p := Policy{Base: time.Second, Max: time.Minute, Sleep: func(_ context.Context, d time.Duration) error { slept += d; return nil }}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if err := p.Wait(ctx, 0, 0); err != nil || slept != time.Second {
		t.Fatalf("Wait = %v after %v", err, slept)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	if err := p.Wait(short, 0, time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past the deadline margin = %v, want DeadlineExceeded", err)
	}
}
