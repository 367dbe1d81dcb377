package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/shardmap"
)

// clock is an injectable, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// mustOpen opens an engine in dir (a fresh temp dir when empty) and closes
// it when the test ends.
func mustOpen(tb testing.TB, dir string, opts Options) *Engine {
	tb.Helper()
	if dir == "" {
		dir = tb.TempDir()
	}
	e, err := Open(dir, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	return e
}

func mustCreate(tb testing.TB, e *Engine, name string, shards int) {
	tb.Helper()
	if err := e.CreateStream(context.Background(), name, shards); err != nil {
		tb.Fatalf("CreateStream(%s, %d): %v", name, shards, err)
	}
}

// mustPut writes records and fails the test on any error or failed entry.
func mustPut(tb testing.TB, e *Engine, name string, recs ...streamproc.Record) []streamproc.PutResult {
	tb.Helper()
	res, err := e.PutRecords(context.Background(), name, recs)
	if err != nil {
		tb.Fatalf("PutRecords: %v", err)
	}
	for i, r := range res {
		if r.ErrorCode != "" {
			tb.Fatalf("PutRecords entry %d: %s %s", i, r.ErrorCode, r.ErrorMessage)
		}
	}
	return res
}

func rec(pk, data string) streamproc.Record {
	return streamproc.Record{PartitionKey: pk, Data: []byte(data)}
}

// toShard returns a record routed to shard i of an n-shard stream.
func toShard(i, n int, data string) streamproc.Record {
	m := evenStarts(n)
	return streamproc.Record{PartitionKey: "pk", ExplicitHashKey: m[i], Data: []byte(data)}
}

func evenStarts(n int) []string {
	var out []string
	for _, s := range shardmap.Even(n) {
		out = append(out, s.StartingHashKey)
	}
	return out
}

func mustIter(tb testing.TB, e *Engine, name, shardID string, p Position) Cursor {
	tb.Helper()
	c, err := e.Iterator(context.Background(), name, shardID, p)
	if err != nil {
		tb.Fatalf("Iterator(%s, %+v): %v", shardID, p, err)
	}
	return c
}

// readAll reads from c until the tip and returns the records' data.
func readAll(tb testing.TB, e *Engine, name, shardID string, c Cursor) ([]Record, Cursor) {
	tb.Helper()
	var out []Record
	for {
		b, err := e.Read(context.Background(), name, shardID, c, 0, 0)
		if err != nil {
			tb.Fatalf("Read: %v", err)
		}
		out = append(out, b.Records...)
		c = b.Next
		if len(b.Records) == 0 && b.MillisBehindLatest == 0 {
			return out, c
		}
	}
}

func datas(recs []Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Data)
	}
	return out
}

// wantCode checks err's Kinesis code and root kind.
func wantCode(tb testing.TB, err error, code string, kind error) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got nil error, want %s", code)
	}
	if got := ErrorCode(err); got != code {
		tb.Fatalf("error code = %s (%v), want %s", got, err, code)
	}
	if kind != nil && !errors.Is(err, kind) {
		tb.Fatalf("error %v is not %v", err, kind)
	}
}

func shardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }
