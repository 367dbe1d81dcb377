package stream

import (
	"sync"
	"time"
)

// Per-shard throughput limits of a provisioned Kinesis stream, enforced only
// with Options.EnforceLimits.
const (
	WriteRecordsPerSecond = 1000
	WriteBytesPerSecond   = 1 << 20
	ReadCallsPerSecond    = 5
	ReadBytesPerSecond    = 2 << 20
)

// bucket is a token bucket refilled continuously from an injected clock. A
// clock that goes backwards refills nothing.
type bucket struct {
	tokens float64
	last   time.Time
	init   bool
}

func (b *bucket) refill(now time.Time, rate, burst float64) {
	if !b.init {
		b.tokens, b.last, b.init = burst, now, true
		return
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(burst, b.tokens+d.Seconds()*rate)
		b.last = now
	}
}

// writeLimiter charges records and bytes (partition key + data) per shard.
type writeLimiter struct {
	mu           sync.Mutex
	recs, nbytes bucket
}

// take admits one record of size bytes, or reports false and charges nothing.
func (l *writeLimiter) take(now time.Time, size int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs.refill(now, WriteRecordsPerSecond, WriteRecordsPerSecond)
	l.nbytes.refill(now, WriteBytesPerSecond, WriteBytesPerSecond)
	if l.recs.tokens < 1 || l.nbytes.tokens < float64(size) {
		return false
	}
	l.recs.tokens--
	l.nbytes.tokens -= float64(size)
	return true
}

// readLimiter admits calls (5/s) while the byte budget (2 MiB/s) is not in
// debt. A large read may drive the budget negative, which blocks the next
// calls until it has refilled, like AWS's "calls in the next 5 seconds fail"
// after a 10 MiB response.
type readLimiter struct {
	mu           sync.Mutex
	calls, bytes bucket
}

func (l *readLimiter) admit(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls.refill(now, ReadCallsPerSecond, ReadCallsPerSecond)
	l.bytes.refill(now, ReadBytesPerSecond, ReadBytesPerSecond)
	if l.calls.tokens < 1 || l.bytes.tokens < 0 {
		return false
	}
	l.calls.tokens--
	return true
}

func (l *readLimiter) charge(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes.tokens -= float64(n)
}
