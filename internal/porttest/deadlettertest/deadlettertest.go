// Package deadlettertest is the conformance suite for
// streamproc.DeadLetterSink: the same test bodies run against every backend
// (the embedded local/deadletter queue, and the object-store sink of
// aws/deadletter on s3rver and on a directory), which is how we show that a
// dead letter set aside locally can be read back as faithfully as one set
// aside on AWS.
//
// The sink port has no read side, so each backend supplies one: Stored reads
// back what an operator would find. The suite asserts only what the
// contract promises — every letter of a successful Put is stored, field for
// field — and not where or in what layout.
package deadlettertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

// Backend is one DeadLetterSink implementation under test.
type Backend struct {
	Sink streamproc.DeadLetterSink
	// Stored returns every letter stored so far, in any order, read the
	// way an operator reads them (decoding what is at rest, not a copy the
	// sink kept in memory).
	Stored func(t *testing.T) []streamproc.DeadLetter
}

// Run runs the whole suite. open returns a Backend holding no letters and
// registers its own cleanup with t.Cleanup. Subtests run sequentially, so a
// backend may share one server between them as long as open hands out an
// empty store.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	s := suite{open: open}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RoundTrip", s.roundTrip},
		{"Accumulates", s.accumulates},
		{"Empty", s.empty},
		{"Concurrent", s.concurrent},
		{"Canceled", s.canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open func(t *testing.T) Backend
}

// letter is a dead letter as the consumer writes one; seq makes it unique.
func letter(function string, seq int) streamproc.DeadLetter {
	return streamproc.DeadLetter{
		Time:           time.Date(2026, 11, 26, 8, 15, 30, 123456789, time.UTC),
		Function:       function,
		Reason:         "decode tweet: unexpected end of JSON input",
		EventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/tweets",
		ShardID:        "shardId-000000000003",
		SequenceNumber: fmt.Sprintf("49651234567890123456789012345678901234567890%012d", seq),
		SubSequence:    -1,
		PartitionKey:   "alice",
		Data:           fmt.Appendf(nil, `{"id_str":"%d"`, seq),
	}
}

// with returns l changed by f, so a table row reads as "the usual letter,
// but ...".
func with(l streamproc.DeadLetter, f func(*streamproc.DeadLetter)) streamproc.DeadLetter {
	f(&l)
	return l
}

// same compares what a reader of a letter relies on: the instant (not the
// zone's representation) and the bytes of Data (nil and empty are both no
// data).
func same(a, b streamproc.DeadLetter) bool {
	return a.Time.Equal(b.Time) && bytes.Equal(a.Data, b.Data) &&
		a.Function == b.Function && a.Reason == b.Reason && a.EventSourceARN == b.EventSourceARN &&
		a.ShardID == b.ShardID && a.SequenceNumber == b.SequenceNumber && a.SubSequence == b.SubSequence &&
		a.PartitionKey == b.PartitionKey
}

// describe shows a letter in a failure, its data abbreviated.
func describe(l streamproc.DeadLetter) string {
	d := l.Data
	if len(d) > 40 {
		d = d[:40]
	}
	return fmt.Sprintf("{%s %q %q %s %s seq=%s sub=%d pk=%q data[%d]=%q}",
		l.Time.Format(time.RFC3339Nano), l.Function, l.Reason, l.EventSourceARN, l.ShardID, l.SequenceNumber, l.SubSequence, l.PartitionKey, len(l.Data), d)
}

// equalSets fails unless got and want hold the same letters, each as often,
// in any order.
func equalSets(t *testing.T, what string, got, want []streamproc.DeadLetter) {
	t.Helper()
	left := append([]streamproc.DeadLetter(nil), got...)
	for _, w := range want {
		found := false
		for i, g := range left {
			if same(g, w) {
				left = append(left[:i], left[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("%s: %d letters stored, %d expected; this one is missing or altered:\n%s", what, len(got), len(want), describe(w))
		}
	}
	if len(left) > 0 {
		t.Fatalf("%s: %d letters stored, %d expected; unexpected:\n%s", what, len(got), len(want), describe(left[0]))
	}
}

func put(t *testing.T, sink streamproc.DeadLetterSink, letters []streamproc.DeadLetter) {
	t.Helper()
	if err := sink.Put(context.Background(), letters); err != nil {
		t.Fatalf("Put of %d letters: %v", len(letters), err)
	}
}

// roundTrip: every field of every letter of a successful Put is stored as
// given — the raw record bytes above all, since reprocessing a dead letter
// means decoding them again.
func (s suite) roundTrip(t *testing.T) {
	base := letter("consumer", 1)
	invalidUTF8 := []byte{0xff, 0xfe, 0x00, '\n', '"', '\\', 0xc3, 0x28, 0xe2, 0x82}
	tests := []struct {
		name    string
		letters []streamproc.DeadLetter
	}{
		{"typical", []streamproc.DeadLetter{base}},
		{"invalid UTF-8, NUL, newline and quotes in data", []streamproc.DeadLetter{with(base, func(l *streamproc.DeadLetter) { l.Data = invalidUTF8 })}},
		{"every byte value", []streamproc.DeadLetter{with(base, func(l *streamproc.DeadLetter) {
			l.Data = make([]byte, 256)
			for i := range l.Data {
				l.Data[i] = byte(i)
			}
		})}},
		{"no data", []streamproc.DeadLetter{
			with(base, func(l *streamproc.DeadLetter) { l.Data = nil }),
			with(letter("consumer", 2), func(l *streamproc.DeadLetter) { l.Data = []byte{} }),
		}},
		{"a whole Kinesis record", []streamproc.DeadLetter{with(base, func(l *streamproc.DeadLetter) {
			l.Data = bytes.Repeat([]byte{0x80, 'a', 0}, (streamproc.MaxRecordBytes-1)/3)
		})}},
		{"aggregated record positions", []streamproc.DeadLetter{
			with(base, func(l *streamproc.DeadLetter) { l.SubSequence = 0 }),
			with(letter("consumer", 2), func(l *streamproc.DeadLetter) { l.SubSequence = 7 }),
			with(letter("consumer", 3), func(l *streamproc.DeadLetter) { l.SubSequence = -1 }),
		}},
		{"reason with newlines, quotes and unicode", []streamproc.DeadLetter{with(base, func(l *streamproc.DeadLetter) {
			l.Reason = "line 1\nline 2\t\"quoted\" \\ — ünïcødé 🚀 <html>&amp;"
		})}},
		{"time in another zone, nanoseconds", []streamproc.DeadLetter{with(base, func(l *streamproc.DeadLetter) {
			l.Time = time.Date(2026, 3, 29, 2, 30, 0, 999999999, time.FixedZone("CEST", 2*3600))
		})}},
		{"time at the Unix epoch", []streamproc.DeadLetter{with(base, func(l *streamproc.DeadLetter) { l.Time = time.Unix(0, 0).UTC() })}},
		{"unicode partition key", []streamproc.DeadLetter{with(base, func(l *streamproc.DeadLetter) { l.PartitionKey = strings.Repeat("é", 256) })}},
		{"only the required fields", []streamproc.DeadLetter{{Time: base.Time, Function: "consumer", Reason: "r", SubSequence: -1}}},
		{"function as an ARN and unsafe as a path", []streamproc.DeadLetter{
			letter("arn:aws:lambda:us-east-1:123456789012:function:stack-Consumer-AbC1", 1),
			letter("../../etc/passwd", 2),
			letter("a b/c", 3),
			letter("", 4),
		}},
		{"several functions in one call", []streamproc.DeadLetter{letter("consumer", 1), letter("transformer", 2), letter("consumer", 3)}},
		{"same letter twice", []streamproc.DeadLetter{base, base}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := s.open(t)
			put(t, b.Sink, tc.letters)
			equalSets(t, "after Put", b.Stored(t), tc.letters)
		})
	}
}

// accumulates: a Put adds to what earlier Puts stored, never replaces it,
// even within the same second and for the same function.
func (s suite) accumulates(t *testing.T) {
	b := s.open(t)
	var want []streamproc.DeadLetter
	for i := range 5 {
		batch := []streamproc.DeadLetter{letter("consumer", 2*i), letter("consumer", 2*i+1)}
		put(t, b.Sink, batch)
		want = append(want, batch...)
		equalSets(t, fmt.Sprintf("after Put %d", i+1), b.Stored(t), want)
	}
}

// empty: a Put of nothing succeeds and stores nothing.
func (s suite) empty(t *testing.T) {
	tests := []struct {
		name    string
		letters []streamproc.DeadLetter
	}{
		{"nil", nil},
		{"empty slice", []streamproc.DeadLetter{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := s.open(t)
			put(t, b.Sink, tc.letters)
			if got := b.Stored(t); len(got) != 0 {
				t.Fatalf("%d letters stored after an empty Put", len(got))
			}
		})
	}
}

// concurrent: the consumer's shards write dead letters at the same time;
// no letter of a successful Put is lost or stored twice, whatever the
// interleaving.
func (s suite) concurrent(t *testing.T) {
	b := s.open(t)
	const writers, puts, per = 6, 5, 3
	var (
		mu   sync.Mutex
		want []streamproc.DeadLetter
		wg   sync.WaitGroup
	)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for p := range puts {
				var batch []streamproc.DeadLetter
				for i := range per {
					fn := []string{"consumer", "transformer"}[(p+i)%2]
					l := letter(fn, (w*puts+p)*per+i)
					l.Data = bytes.Repeat([]byte{byte(w), 0xff}, 2000)
					batch = append(batch, l)
				}
				if err := b.Sink.Put(context.Background(), batch); err != nil {
					errs <- fmt.Errorf("writer %d, Put %d: %w", w, p, err)
					return
				}
				mu.Lock()
				want = append(want, batch...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	equalSets(t, "after concurrent Puts", b.Stored(t), want)
}

// canceled: a Put under a canceled or expired context fails with the
// context's error, not as a store failure (the caller gave up; a retry
// classifier must not count it against the store).
func (s suite) canceled(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), -1)
	defer cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := s.open(t)
			err := b.Sink.Put(tc.ctx, []streamproc.DeadLetter{letter("consumer", 1)})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Put = %v, want %v", err, tc.want)
			}
			for _, k := range []error{streamproc.ErrNotFound, streamproc.ErrUnavailable, streamproc.ErrInvalid} {
				if errors.Is(err, k) {
					t.Fatalf("error %q also wraps %v", err, k)
				}
			}
		})
	}
}
