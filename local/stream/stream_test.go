package stream

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/shardmap"
)

func TestRoutingMatchesMD5Ranges(t *testing.T) {
	e := mustOpen(t, "", Options{})
	mustCreate(t, e, "s", 3)
	tests := []struct {
		name string
		rec  streamproc.Record
		want string
	}{
		{"key 1", rec("1", "a"), shardID(2)},
		{"key user-42", rec("user-42", "b"), shardID(1)},
		{"explicit 0", streamproc.Record{PartitionKey: "x", ExplicitHashKey: "0"}, shardID(0)},
		{"explicit top of shard 0", streamproc.Record{PartitionKey: "x", ExplicitHashKey: "113427455640312821154458202477256070484"}, shardID(0)},
		{"explicit bottom of shard 1", streamproc.Record{PartitionKey: "x", ExplicitHashKey: "113427455640312821154458202477256070485"}, shardID(1)},
		{"explicit max", streamproc.Record{PartitionKey: "1", ExplicitHashKey: "340282366920938463463374607431768211455"}, shardID(2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := mustPut(t, e, "s", tc.rec)
			if res[0].ShardID != tc.want {
				t.Fatalf("ShardID = %s, want %s", res[0].ShardID, tc.want)
			}
		})
	}
	// Every partition key lands where shardmap says, for many keys.
	m, err := shardmap.New(shardmap.Even(3))
	if err != nil {
		t.Fatal(err)
	}
	var recs []streamproc.Record
	for i := range 500 {
		recs = append(recs, rec(fmt.Sprintf("key-%d", i), "v"))
	}
	res := mustPut(t, e, "s", recs...)
	for i, r := range res {
		want, _ := m.Route(recs[i].PartitionKey, "")
		if r.ShardID != shardID(want) {
			t.Fatalf("record %d went to %s, want %s", i, r.ShardID, shardID(want))
		}
	}
}

func TestPutRecordsValidation(t *testing.T) {
	e := mustOpen(t, "", Options{})
	mustCreate(t, e, "s", 2)
	many := func(n int) []streamproc.Record {
		out := make([]streamproc.Record, n)
		for i := range out {
			out[i] = rec("k", "v")
		}
		return out
	}
	big := func(n int) []byte { return make([]byte, n) }
	tests := []struct {
		name   string
		stream string
		recs   []streamproc.Record
		code   string
		kind   error
	}{
		{"501 records", "s", many(501), CodeValidation, streamproc.ErrInvalid},
		{"empty partition key", "s", []streamproc.Record{rec("", "v")}, CodeValidation, streamproc.ErrInvalid},
		{"257-char partition key", "s", []streamproc.Record{rec(strings.Repeat("k", 257), "v")}, CodeValidation, streamproc.ErrInvalid},
		{"data over 1 MiB", "s", []streamproc.Record{{PartitionKey: "k", Data: big(1<<20 + 1)}}, CodeValidation, streamproc.ErrInvalid},
		{"key+data over 1 MiB", "s", []streamproc.Record{{PartitionKey: "kk", Data: big(1 << 20)}}, CodeInvalidArgument, streamproc.ErrInvalid},
		{"request over 5 MiB", "s", []streamproc.Record{
			{PartitionKey: "k", Data: big(1<<20 - 1)}, {PartitionKey: "k", Data: big(1<<20 - 1)}, {PartitionKey: "k", Data: big(1<<20 - 1)},
			{PartitionKey: "k", Data: big(1<<20 - 1)}, {PartitionKey: "k", Data: big(1<<20 - 1)}, {PartitionKey: "k", Data: big(10)},
		}, CodeInvalidArgument, streamproc.ErrInvalid},
		{"explicit hash key with leading zero", "s", []streamproc.Record{{PartitionKey: "k", ExplicitHashKey: "01"}}, CodeValidation, streamproc.ErrInvalid},
		{"explicit hash key not a number", "s", []streamproc.Record{{PartitionKey: "k", ExplicitHashKey: "-1"}}, CodeValidation, streamproc.ErrInvalid},
		{"explicit hash key above 2^128-1", "s", []streamproc.Record{{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456"}}, CodeInvalidArgument, streamproc.ErrInvalid},
		{"unknown stream", "nope", []streamproc.Record{rec("k", "v")}, CodeResourceNotFound, streamproc.ErrNotFound},
		{"bad stream name", "a/b", []streamproc.Record{rec("k", "v")}, CodeValidation, streamproc.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.PutRecords(t.Context(), tc.stream, tc.recs)
			if res != nil {
				t.Errorf("results = %v, want nil on a whole-call error", res)
			}
			wantCode(t, err, tc.code, tc.kind)
		})
	}
	// Limits that are exactly met are fine.
	ok := []struct {
		name string
		recs []streamproc.Record
	}{
		{"500 records", many(500)},
		{"256 multi-byte chars", []streamproc.Record{rec(strings.Repeat("é", 256), "v")}},
		{"key+data exactly 1 MiB", []streamproc.Record{{PartitionKey: "k", Data: big(1<<20 - 1)}}},
		{"empty data", []streamproc.Record{{PartitionKey: "k"}}},
		{"exactly 5 MiB", []streamproc.Record{
			{PartitionKey: "k", Data: big(1<<20 - 1)}, {PartitionKey: "k", Data: big(1<<20 - 1)}, {PartitionKey: "k", Data: big(1<<20 - 1)},
			{PartitionKey: "k", Data: big(1<<20 - 1)}, {PartitionKey: "k", Data: big(1<<20 - 1)},
		}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) { mustPut(t, e, "s", tc.recs...) })
	}
}

func TestStreamLifecycle(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	clk := newClock()
	e := mustOpen(t, dir, Options{Now: clk.Now, Region: "eu-west-1", Account: "123456789012"})
	mustCreate(t, e, "orders", 3)

	tests := []struct {
		name string
		err  error
		code string
		kind error
	}{
		{"duplicate name", e.CreateStream(ctx, "orders", 1), CodeResourceInUse, ErrExists},
		{"zero shards", e.CreateStream(ctx, "x", 0), CodeValidation, streamproc.ErrInvalid},
		{"too many shards", e.CreateStream(ctx, "x", MaxShards+1), CodeLimitExceeded, streamproc.ErrInvalid},
		{"bad name", e.CreateStream(ctx, "bad name", 1), CodeValidation, streamproc.ErrInvalid},
		{"name too long", e.CreateStream(ctx, strings.Repeat("a", 129), 1), CodeValidation, streamproc.ErrInvalid},
		{"retention too low", e.SetRetention(ctx, "orders", 23), CodeInvalidArgument, streamproc.ErrInvalid},
		{"retention too high", e.SetRetention(ctx, "orders", 8761), CodeInvalidArgument, streamproc.ErrInvalid},
		{"retention unknown stream", e.SetRetention(ctx, "nope", 48), CodeResourceNotFound, streamproc.ErrNotFound},
		{"delete unknown stream", e.DeleteStream(ctx, "nope"), CodeResourceNotFound, streamproc.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err, tc.code, tc.kind) })
	}
	if !errors.Is(e.CreateStream(ctx, "orders", 1), streamproc.ErrInvalid) {
		t.Error("ResourceInUse should also be ErrInvalid")
	}

	if err := e.SetRetention(ctx, "orders", 48); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, "a.b_c-1", 1)
	names, err := e.ListStreams(ctx)
	if err != nil || !slices.Equal(names, []string{"a.b_c-1", "orders"}) {
		t.Fatalf("ListStreams = %v, %v", names, err)
	}

	check := func(e *Engine) {
		t.Helper()
		info, err := e.DescribeStream(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if info.ARN != "arn:aws:kinesis:eu-west-1:123456789012:stream/orders" || info.Status != "ACTIVE" || info.RetentionHours != 48 || !info.Created.Equal(clk.Now()) {
			t.Errorf("DescribeStream = %+v", info)
		}
		want := shardmap.Even(3)
		if len(info.Shards) != 3 {
			t.Fatalf("shards = %d", len(info.Shards))
		}
		for i, s := range info.Shards {
			if s.Shard != want[i] || len(s.StartingSequenceNumber) != 56 || s.EndingSequenceNumber != "" {
				t.Errorf("shard %d = %+v", i, s)
			}
		}
		shards, err := e.Shards(ctx, "orders")
		if err != nil || !slices.Equal(shards, want) {
			t.Errorf("Shards = %v, %v", shards, err)
		}
	}
	check(e)
	arns := []struct {
		arn, want string
		ok        bool
	}{
		{"arn:aws:kinesis:eu-west-1:123456789012:stream/orders", "orders", true},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/orders", "", false},
		{"arn:aws:kinesis:eu-west-1:123456789012:stream/", "", false},
		{"orders", "", false},
	}
	for _, a := range arns {
		got, err := e.StreamNameFromARN(a.arn)
		if got != a.want || (err == nil) != a.ok {
			t.Errorf("StreamNameFromARN(%s) = %q, %v", a.arn, got, err)
		}
		if err != nil {
			wantCode(t, err, CodeInvalidArgument, streamproc.ErrInvalid)
		}
	}
	res := mustPut(t, e, "orders", rec("user-42", "before restart"))

	// Metadata persists.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir, Options{Now: clk.Now, Region: "eu-west-1", Account: "123456789012"})
	check(e)

	// Deleting and recreating gives a new incarnation: old sequence numbers
	// are rejected and new ones differ.
	if err := e.DeleteStream(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	_, err = e.DescribeStream(ctx, "orders")
	wantCode(t, err, CodeResourceNotFound, streamproc.ErrNotFound)
	mustCreate(t, e, "orders", 3)
	_, err = e.Iterator(ctx, "orders", res[0].ShardID, Position{Type: AtSequenceNumber, SequenceNumber: res[0].SequenceNumber})
	wantCode(t, err, CodeInvalidArgument, streamproc.ErrInvalid)
	got, _ := readAll(t, e, "orders", res[0].ShardID, mustIter(t, e, "orders", res[0].ShardID, Position{Type: TrimHorizon}))
	if len(got) != 0 {
		t.Fatalf("recreated stream has %d old records", len(got))
	}
	res2 := mustPut(t, e, "orders", rec("user-42", "after"))
	if res2[0].SequenceNumber == res[0].SequenceNumber {
		t.Fatal("sequence number reused across incarnations")
	}
	// Only the live incarnation's directory remains.
	ents, _ := os.ReadDir(filepath.Join(dir, "streams"))
	if len(ents) != 2 {
		t.Fatalf("streams dir has %d entries, want 2", len(ents))
	}
}

func TestOpenTwiceFails(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, Options{})
	if e, err := Open(dir, Options{}); err == nil {
		_ = e.Close()
		t.Fatal("second Open of the same directory succeeded")
	}
}

func seqLess(a, b string) bool {
	x, _ := new(big.Int).SetString(a, 10)
	y, _ := new(big.Int).SetString(b, 10)
	return x.Cmp(y) < 0
}

func TestSequenceNumbersAndOrder(t *testing.T) {
	clk := newClock()
	e := mustOpen(t, "", Options{Now: clk.Now})
	mustCreate(t, e, "s", 2)
	// Clock going backwards must not break ordering.
	var all []streamproc.PutResult
	for i, step := range []time.Duration{0, time.Millisecond, time.Second, -time.Hour, 0, 3 * time.Hour} {
		clk.Advance(step)
		all = append(all, mustPut(t, e, "s", toShard(0, 2, fmt.Sprint("a", i)), toShard(0, 2, fmt.Sprint("b", i)))...)
	}
	for i, r := range all {
		if len(r.SequenceNumber) != 56 || r.SequenceNumber[0] == '0' {
			t.Fatalf("sequence number %q is not 56 digits", r.SequenceNumber)
		}
		if i > 0 {
			prev := all[i-1].SequenceNumber
			if !(prev < r.SequenceNumber) || !seqLess(prev, r.SequenceNumber) {
				t.Fatalf("sequence %d not increasing: %s then %s", i, prev, r.SequenceNumber)
			}
		}
	}
	got, _ := readAll(t, e, "s", shardID(0), mustIter(t, e, "s", shardID(0), Position{Type: TrimHorizon}))
	if len(got) != len(all) {
		t.Fatalf("read %d records, want %d", len(got), len(all))
	}
	for i, r := range got {
		if r.SequenceNumber != all[i].SequenceNumber || r.PartitionKey != "pk" {
			t.Fatalf("record %d = %s, want %s", i, r.SequenceNumber, all[i].SequenceNumber)
		}
		if i > 0 && r.ArrivalTime.Before(got[i-1].ArrivalTime) {
			t.Fatalf("arrival went backwards at %d", i)
		}
	}
	// The shard's StartingSequenceNumber sorts below every record.
	info, _ := e.DescribeStream(t.Context(), "s")
	if !seqLess(info.Shards[0].StartingSequenceNumber, got[0].SequenceNumber) {
		t.Fatal("StartingSequenceNumber is not below the first record")
	}
}

func TestConcurrentWritersKeepPerKeyOrder(t *testing.T) {
	e := mustOpen(t, "", Options{})
	mustCreate(t, e, "s", 4)
	const writers, calls, per = 8, 30, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for c := range calls {
				var recs []streamproc.Record
				for i := range per {
					recs = append(recs, rec(fmt.Sprintf("w%d-k%d", w, i%3), fmt.Sprintf("w%d-k%d-%06d", w, i%3, c*per+i)))
				}
				if _, err := e.PutRecords(context.Background(), "s", recs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range 4 {
		got, _ := readAll(t, e, "s", shardID(i), mustIter(t, e, "s", shardID(i), Position{Type: TrimHorizon}))
		total += len(got)
		last := map[string]string{}
		for j, r := range got {
			if j > 0 && !(got[j-1].SequenceNumber < r.SequenceNumber) {
				t.Fatalf("shard %d: sequence numbers not increasing at %d", i, j)
			}
			d := string(r.Data)
			if prev, ok := last[r.PartitionKey]; ok && !(prev < d) {
				t.Fatalf("shard %d key %s: %s after %s", i, r.PartitionKey, d, prev)
			}
			last[r.PartitionKey] = d
		}
	}
	if total != writers*calls*per {
		t.Fatalf("read %d records, want %d", total, writers*calls*per)
	}
}

func TestIteratorPositions(t *testing.T) {
	clk := newClock()
	e := mustOpen(t, "", Options{Now: clk.Now})
	mustCreate(t, e, "s", 2)
	t0 := clk.Now()
	var res []streamproc.PutResult
	for i := range 5 { // one record per second: r0 at t0 … r4 at t0+4s
		res = append(res, mustPut(t, e, "s", toShard(0, 2, fmt.Sprint("r", i)))...)
		clk.Advance(time.Second)
	}
	other := mustPut(t, e, "s", toShard(1, 2, "other"))[0]
	sh := shardID(0)
	info, _ := e.DescribeStream(t.Context(), "s")

	tests := []struct {
		name string
		pos  Position
		want []string
	}{
		{"trim horizon", Position{Type: TrimHorizon}, []string{"r0", "r1", "r2", "r3", "r4"}},
		{"latest", Position{Type: Latest}, nil},
		{"at sequence", Position{Type: AtSequenceNumber, SequenceNumber: res[2].SequenceNumber}, []string{"r2", "r3", "r4"}},
		{"after sequence", Position{Type: AfterSequenceNumber, SequenceNumber: res[2].SequenceNumber}, []string{"r3", "r4"}},
		{"after last", Position{Type: AfterSequenceNumber, SequenceNumber: res[4].SequenceNumber}, nil},
		{"at starting sequence number", Position{Type: AtSequenceNumber, SequenceNumber: info.Shards[0].StartingSequenceNumber}, []string{"r0", "r1", "r2", "r3", "r4"}},
		{"after starting sequence number", Position{Type: AfterSequenceNumber, SequenceNumber: info.Shards[0].StartingSequenceNumber}, []string{"r0", "r1", "r2", "r3", "r4"}},
		{"at timestamp exact", Position{Type: AtTimestamp, Timestamp: t0.Add(2 * time.Second)}, []string{"r2", "r3", "r4"}},
		{"at timestamp between", Position{Type: AtTimestamp, Timestamp: t0.Add(2500 * time.Millisecond)}, []string{"r3", "r4"}},
		{"at timestamp before all", Position{Type: AtTimestamp, Timestamp: t0.Add(-time.Hour)}, []string{"r0", "r1", "r2", "r3", "r4"}},
		{"at timestamp after all", Position{Type: AtTimestamp, Timestamp: t0.Add(time.Hour)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustIter(t, e, "s", sh, tc.pos)
			// Round-trip through the serialised form, as the HTTP layer will.
			c2, err := ParseCursor(c.String())
			if err != nil || c2 != c {
				t.Fatalf("ParseCursor(%q) = %+v, %v", c.String(), c2, err)
			}
			got, _ := readAll(t, e, "s", sh, c2)
			if !slices.Equal(datas(got), tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %v, want %v", datas(got), tc.want)
			}
		})
	}

	// LATEST sees only records written after the call.
	latest := mustIter(t, e, "s", sh, Position{Type: Latest})
	mustPut(t, e, "s", toShard(0, 2, "r5"))
	got, _ := readAll(t, e, "s", sh, latest)
	if !slices.Equal(datas(got), []string{"r5"}) {
		t.Fatalf("LATEST read %v", datas(got))
	}

	errs := []struct {
		name  string
		shard string
		pos   Position
		code  string
		kind  error
	}{
		{"unknown type", sh, Position{Type: "OLDEST"}, CodeValidation, streamproc.ErrInvalid},
		{"at sequence missing", sh, Position{Type: AtSequenceNumber}, CodeInvalidArgument, streamproc.ErrInvalid},
		{"sequence syntax", sh, Position{Type: AtSequenceNumber, SequenceNumber: "12ab"}, CodeValidation, streamproc.ErrInvalid},
		{"sequence of another shard", sh, Position{Type: AtSequenceNumber, SequenceNumber: other.SequenceNumber}, CodeInvalidArgument, streamproc.ErrInvalid},
		{"foreign sequence number", sh, Position{Type: AtSequenceNumber, SequenceNumber: "49590338271490256608559692538361571095921575989136588898"}, CodeInvalidArgument, streamproc.ErrInvalid},
		{"sequence not yet assigned", sh, Position{Type: AtSequenceNumber, SequenceNumber: encodeSeq(1, 0, 0, 999)}, CodeInvalidArgument, streamproc.ErrInvalid},
		{"at timestamp missing", sh, Position{Type: AtTimestamp}, CodeInvalidArgument, streamproc.ErrInvalid},
		{"unknown shard", shardID(7), Position{Type: TrimHorizon}, CodeResourceNotFound, streamproc.ErrNotFound},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Iterator(t.Context(), "s", tc.shard, tc.pos)
			wantCode(t, err, tc.code, tc.kind)
		})
	}
}

func TestReadLimitsAndCursors(t *testing.T) {
	e := mustOpen(t, "", Options{})
	mustCreate(t, e, "s", 2)
	var recs []streamproc.Record
	for i := range 100 {
		recs = append(recs, toShard(0, 2, fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 96)))) // 100 bytes data + 2 pk
	}
	mustPut(t, e, "s", recs[:50]...)
	mustPut(t, e, "s", recs[50:]...)
	sh := shardID(0)
	start := mustIter(t, e, "s", sh, Position{Type: TrimHorizon})

	tests := []struct {
		name     string
		limit    int
		maxBytes int
		want     int
	}{
		{"limit 1", 1, 0, 1},
		{"limit 7", 7, 0, 7},
		{"limit across frames", 70, 0, 70},
		{"default limit", 0, 0, 100},
		{"bytes cap", 0, 102 * 5, 5},
		{"bytes cap not multiple", 0, 102*5 + 50, 5},
		{"bytes cap below one record still returns one", 0, 10, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := e.Read(t.Context(), "s", sh, start, tc.limit, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Records) != tc.want {
				t.Fatalf("got %d records, want %d", len(b.Records), tc.want)
			}
			// Continuing from Next returns the rest, in order, once.
			rest, _ := readAll(t, e, "s", sh, b.Next)
			all := append(datas(b.Records), datas(rest)...)
			if len(all) != 100 {
				t.Fatalf("total %d records", len(all))
			}
			for i, d := range all {
				if d[:3] != fmt.Sprintf("%03d", i) {
					t.Fatalf("record %d = %s", i, d[:3])
				}
			}
		})
	}

	bad := []struct {
		name  string
		limit int
		max   int
		c     Cursor
		shard string
		code  string
	}{
		{"limit negative", -1, 0, start, sh, CodeValidation},
		{"limit too big", MaxGetRecords + 1, 0, start, sh, CodeValidation},
		{"cursor of another shard", 1, 0, start, shardID(1), CodeInvalidArgument},
		{"zero cursor", 1, 0, Cursor{}, sh, CodeInvalidArgument},
		{"unknown shard", 1, 0, start, shardID(9), CodeResourceNotFound},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Read(t.Context(), "s", tc.shard, tc.c, tc.limit, tc.max)
			wantCode(t, err, tc.code, nil)
		})
	}

	// Forged or stale hints are ignored, never trusted.
	b, _ := e.Read(t.Context(), "s", sh, start, 10, 0)
	for _, off := range []int64{1, 7, 1000, 1 << 40} {
		c := b.Next
		c.off = off
		got, _ := readAll(t, e, "s", sh, c)
		if len(got) != 90 || string(got[0].Data[:3]) != "010" {
			t.Fatalf("hint %d: read %d records starting %q", off, len(got), got[0].Data[:3])
		}
	}
	for _, s := range []string{"", "1", "2.1.0.1.1.0", "1.x.0.1.1.0", "1.0.0.1.1.0", "1.1.0.1.1"} {
		if _, err := ParseCursor(s); ErrorCode(err) != CodeInvalidArgument {
			t.Errorf("ParseCursor(%q) = %v", s, err)
		}
	}
}

func TestMillisBehindLatest(t *testing.T) {
	clk := newClock()
	e := mustOpen(t, "", Options{Now: clk.Now})
	mustCreate(t, e, "s", 1)
	for i := range 3 {
		mustPut(t, e, "s", rec("k", fmt.Sprint(i)))
		clk.Advance(10 * time.Second)
	}
	// Now = t0+30s; records at t0, t0+10s, t0+20s.
	c := mustIter(t, e, "s", shardID(0), Position{Type: TrimHorizon})
	steps := []struct{ want int64 }{{20000}, {10000}, {0}, {0}}
	for i, s := range steps {
		b, err := e.Read(t.Context(), "s", shardID(0), c, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if b.MillisBehindLatest != s.want {
			t.Fatalf("read %d: MillisBehindLatest = %d, want %d", i, b.MillisBehindLatest, s.want)
		}
		c = b.Next
	}
}

func TestRetention(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	e := mustOpen(t, dir, Options{Now: clk.Now, SegmentBytes: 1024})
	mustCreate(t, e, "s", 1)
	sh := shardID(0)
	t0 := clk.Now()
	for i := range 20 { // 20 × ~200 bytes: several 1 KiB segments
		mustPut(t, e, "s", rec("k", fmt.Sprintf("old-%02d-%s", i, strings.Repeat("o", 180))))
	}
	oldCursor := mustIter(t, e, "s", sh, Position{Type: TrimHorizon})
	clk.Advance(23 * time.Hour)
	for i := range 20 {
		mustPut(t, e, "s", rec("k", fmt.Sprintf("new-%02d-%s", i, strings.Repeat("n", 180))))
	}
	countSegs := func() int {
		ents, _ := os.ReadDir(filepath.Join(dir, "streams", "0000000001", sh))
		return len(ents)
	}
	before := countSegs()
	if before < 4 {
		t.Fatalf("only %d segments; test needs several", before)
	}
	clk.Advance(90 * time.Minute) // old records are now 24.5 h old, new ones 1.5 h

	check := func(name string) {
		t.Run(name, func(t *testing.T) {
			got, _ := readAll(t, e, "s", sh, mustIter(t, e, "s", sh, Position{Type: TrimHorizon}))
			if len(got) != 20 || !strings.HasPrefix(string(got[0].Data), "new-00") {
				t.Fatalf("TRIM_HORIZON read %d records, first %q", len(got), got[0].Data[:6])
			}
			got, _ = readAll(t, e, "s", sh, oldCursor)
			if len(got) != 20 || !strings.HasPrefix(string(got[0].Data), "new-00") {
				t.Fatalf("stale cursor read %d records", len(got))
			}
			got, _ = readAll(t, e, "s", sh, mustIter(t, e, "s", sh, Position{Type: AtTimestamp, Timestamp: t0}))
			if len(got) != 20 {
				t.Fatalf("AT_TIMESTAMP before horizon read %d records", len(got))
			}
		})
	}
	check("logical trim")
	if err := e.Trim(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := countSegs()
	if after >= before {
		t.Fatalf("Trim left %d of %d segments", after, before)
	}
	check("after physical trim")

	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = mustOpen(t, dir, Options{Now: clk.Now, SegmentBytes: 1024})
	check("after reopen")

	// Longer retention: everything still on disk within 48 h is readable.
	if err := e.SetRetention(t.Context(), "s", 48); err != nil {
		t.Fatal(err)
	}
	clk.Advance(24 * time.Hour)
	check("48h retention")
	clk.Advance(24 * time.Hour)
	got, c := readAll(t, e, "s", sh, mustIter(t, e, "s", sh, Position{Type: TrimHorizon}))
	if len(got) != 0 {
		t.Fatalf("after 48h read %d records", len(got))
	}
	mustPut(t, e, "s", rec("k", "fresh"))
	got, _ = readAll(t, e, "s", sh, c)
	if !slices.Equal(datas(got), []string{"fresh"}) {
		t.Fatalf("read %v", datas(got))
	}
}

func TestThroughputLimits(t *testing.T) {
	clk := newClock()
	e := mustOpen(t, "", Options{Now: clk.Now, EnforceLimits: true})
	mustCreate(t, e, "s", 2)
	batch := func(shard, n, size int) []streamproc.Record {
		out := make([]streamproc.Record, n)
		for i := range out {
			out[i] = toShard(shard, 2, strings.Repeat("x", size))
		}
		return out
	}
	put := func(recs []streamproc.Record) []streamproc.PutResult {
		t.Helper()
		res, err := e.PutRecords(t.Context(), "s", recs)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	codes := func(res []streamproc.PutResult) (ok, throttled int) {
		for _, r := range res {
			switch r.ErrorCode {
			case "":
				ok++
			case CodeThroughputExceeded:
				throttled++
				if !strings.HasPrefix(r.ErrorMessage, "Rate exceeded for shard shardId-") || r.SequenceNumber != "" {
					t.Fatalf("bad throttle entry %+v", r)
				}
			default:
				t.Fatalf("unexpected code %s", r.ErrorCode)
			}
		}
		return
	}
	steps := []struct {
		name          string
		advance       time.Duration
		recs          []streamproc.Record
		ok, throttled int
	}{
		{"first 500", 0, batch(0, 500, 1), 500, 0},
		{"next 500 reaches 1000/s", 0, batch(0, 500, 1), 500, 0},
		{"shard 0 throttled, shard 1 not", 0, append(batch(0, 3, 1), batch(1, 2, 1)...), 2, 3},
		{"half a second refills 500", 500 * time.Millisecond, batch(0, 501, 1)[:500], 500, 0},
		{"full again", 0, batch(0, 1, 1), 0, 1},
		{"bytes: 700 KiB fits", 10 * time.Second, batch(0, 1, 700<<10), 1, 0},
		{"bytes: second 700 KiB does not", 0, batch(0, 1, 700<<10), 0, 1},
		{"bytes: small one still fits", 0, batch(0, 1, 1000), 1, 0},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		ok, th := codes(put(s.recs))
		if ok != s.ok || th != s.throttled {
			t.Fatalf("%s: ok=%d throttled=%d, want %d/%d", s.name, ok, th, s.ok, s.throttled)
		}
	}

	// Reads: 5 calls per second per shard.
	clk.Advance(time.Minute)
	c := mustIter(t, e, "s", shardID(1), Position{Type: TrimHorizon})
	for i := range 5 {
		if _, err := e.Read(t.Context(), "s", shardID(1), c, 1, 0); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	_, err := e.Read(t.Context(), "s", shardID(1), c, 1, 0)
	wantCode(t, err, CodeThroughputExceeded, streamproc.ErrUnavailable)
	clk.Advance(time.Second)
	if _, err := e.Read(t.Context(), "s", shardID(1), c, 1, 0); err != nil {
		t.Fatal(err)
	}

	// Reads: 2 MiB/s. Put 3 MiB on shard 0 over time, read it in one call,
	// then the next call is refused until the debt is paid.
	clk.Advance(time.Minute)
	c = mustIter(t, e, "s", shardID(0), Position{Type: Latest})
	for range 6 {
		clk.Advance(time.Second)
		mustPut(t, e, "s", batch(0, 1, 512<<10)...)
	}
	clk.Advance(time.Second)
	b, err := e.Read(t.Context(), "s", shardID(0), c, 0, 0)
	if err != nil || len(b.Records) != 6 {
		t.Fatalf("big read: %d records, %v", len(b.Records), err)
	}
	_, err = e.Read(t.Context(), "s", shardID(0), b.Next, 0, 0)
	wantCode(t, err, CodeThroughputExceeded, streamproc.ErrUnavailable)
	clk.Advance(time.Second)
	if _, err := e.Read(t.Context(), "s", shardID(0), b.Next, 0, 0); err != nil {
		t.Fatalf("read after refill: %v", err)
	}
}

func TestLimitsOffByDefault(t *testing.T) {
	clk := newClock()
	e := mustOpen(t, "", Options{Now: clk.Now})
	mustCreate(t, e, "s", 1)
	for range 5 {
		recs := make([]streamproc.Record, 500)
		for i := range recs {
			recs[i] = rec("k", "v")
		}
		mustPut(t, e, "s", recs...)
	}
	c := mustIter(t, e, "s", shardID(0), Position{Type: TrimHorizon})
	for range 20 {
		if _, err := e.Read(t.Context(), "s", shardID(0), c, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWait(t *testing.T) {
	e := mustOpen(t, "", Options{})
	mustCreate(t, e, "s", 1)
	sh := shardID(0)
	c := mustIter(t, e, "s", sh, Position{Type: Latest})

	done := make(chan error, 1)
	go func() { done <- e.Wait(context.Background(), "s", sh, c) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned before any write: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	mustPut(t, e, "s", rec("k", "v"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Data is available now: Wait returns at once.
	if err := e.Wait(t.Context(), "s", sh, c); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	b, _ := e.Read(t.Context(), "s", sh, c, 0, 0)
	go func() { done <- e.Wait(ctx, "s", sh, b.Next) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v", err)
	}

	go func() { done <- e.Wait(context.Background(), "s", sh, b.Next) }()
	time.Sleep(10 * time.Millisecond)
	if err := e.DeleteStream(t.Context(), "s"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, <-done, CodeResourceNotFound, streamproc.ErrNotFound)

	mustCreate(t, e, "s2", 1)
	c = mustIter(t, e, "s2", sh, Position{Type: Latest})
	go func() { done <- e.Wait(context.Background(), "s2", sh, c) }()
	time.Sleep(10 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close = %v", err)
	}
	_, err := e.PutRecords(t.Context(), "s2", []streamproc.Record{rec("k", "v")})
	if !errors.Is(err, streamproc.ErrUnavailable) {
		t.Fatalf("PutRecords after Close = %v", err)
	}
}

func TestReopenContinuesSequence(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	e := mustOpen(t, dir, Options{Now: clk.Now, SegmentBytes: 512})
	mustCreate(t, e, "s", 2)
	var seqs []string
	for i := range 30 {
		seqs = append(seqs, mustPut(t, e, "s", toShard(1, 2, fmt.Sprintf("%02d-%s", i, strings.Repeat("z", 100))))[0].SequenceNumber)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(-time.Minute) // a clock behind the log must not reorder
	e = mustOpen(t, dir, Options{Now: clk.Now, SegmentBytes: 512})
	for i := 30; i < 40; i++ {
		seqs = append(seqs, mustPut(t, e, "s", toShard(1, 2, fmt.Sprintf("%02d-%s", i, strings.Repeat("z", 100))))[0].SequenceNumber)
	}
	if !slices.IsSorted(seqs) {
		t.Fatal("sequence numbers not increasing across reopen")
	}
	got, _ := readAll(t, e, "s", shardID(1), mustIter(t, e, "s", shardID(1), Position{Type: TrimHorizon}))
	if len(got) != 40 {
		t.Fatalf("read %d records", len(got))
	}
	if n, err := e.Written("s"); err != nil || n != 40 {
		t.Fatalf("Written = %d, %v; want 40 across the reopen", n, err)
	}
	// Every sequence number resolves, across all segments.
	for i, s := range seqs {
		got, _ := readAll(t, e, "s", shardID(1), mustIter(t, e, "s", shardID(1), Position{Type: AtSequenceNumber, SequenceNumber: s}))
		if len(got) != 40-i || got[0].SequenceNumber != s {
			t.Fatalf("AT %d: read %d records", i, len(got))
		}
	}
}

// lastSegment returns the path of the newest segment of a shard.
func lastSegment(t *testing.T, dir string, streamID int, shard string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "streams", fmt.Sprintf("%010d", streamID), shard))
	if err != nil || len(ents) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	return filepath.Join(dir, "streams", fmt.Sprintf("%010d", streamID), shard, ents[len(ents)-1].Name())
}

func TestTornTailIsTruncated(t *testing.T) {
	validHeader := func() []byte {
		h := frameHeader{bodyLen: 100, first: 11, count: 1, arrival: 1}
		b := make([]byte, headerLen)
		h.put(b)
		return append(b, 1, 2, 3) // body cut short
	}
	tails := []struct {
		name string
		tail []byte
	}{
		{"garbage", []byte("this is not a frame at all, just noise")},
		{"partial header", validHeader()[:20]},
		{"header with short body", validHeader()},
		{"zeros", make([]byte, 4096)},
	}
	for _, tc := range tails {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := mustOpen(t, dir, Options{})
			mustCreate(t, e, "s", 1)
			for i := range 10 {
				mustPut(t, e, "s", rec("k", fmt.Sprint(i)))
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			path := lastSegment(t, dir, 1, shardID(0))
			fi, _ := os.Stat(path)
			f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			_, _ = f.Write(tc.tail)
			_ = f.Close()

			e = mustOpen(t, dir, Options{})
			if fi2, _ := os.Stat(path); fi2.Size() != fi.Size() {
				t.Fatalf("size after open = %d, want %d", fi2.Size(), fi.Size())
			}
			res := mustPut(t, e, "s", rec("k", "10"))
			got, _ := readAll(t, e, "s", shardID(0), mustIter(t, e, "s", shardID(0), Position{Type: TrimHorizon}))
			if len(got) != 11 || got[10].SequenceNumber != res[0].SequenceNumber {
				t.Fatalf("read %v", datas(got))
			}
		})
	}
}

func TestCorruptSealedSegmentFailsOpen(t *testing.T) {
	dir := t.TempDir()
	e := mustOpen(t, dir, Options{SegmentBytes: 256})
	mustCreate(t, e, "s", 1)
	for i := range 10 {
		mustPut(t, e, "s", rec("k", fmt.Sprintf("%d-%s", i, strings.Repeat("q", 200))))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "streams", "0000000001", shardID(0), segName(1))
	b, _ := os.ReadFile(first)
	b[len(b)-5] ^= 0xff
	_ = os.WriteFile(first, b, 0o644)
	if e, err := Open(dir, Options{}); !errors.Is(err, ErrCorrupt) {
		if e != nil {
			_ = e.Close()
		}
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
}

func TestDeleteWhileWritingAndReading(t *testing.T) {
	e := mustOpen(t, "", Options{SegmentBytes: 4096})
	for round := range 5 {
		name := fmt.Sprint("s", round)
		mustCreate(t, e, name, 2)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 3 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					_, err := e.PutRecords(context.Background(), name, []streamproc.Record{rec(fmt.Sprint(w, i), "data")})
					if err != nil {
						if !errors.Is(err, streamproc.ErrNotFound) {
							t.Error(err)
						}
						return
					}
				}
			})
		}
		wg.Go(func() {
			c, err := e.Iterator(context.Background(), name, shardID(0), Position{Type: TrimHorizon})
			if err != nil {
				if !errors.Is(err, streamproc.ErrNotFound) { // deleted before we started
					t.Error(err)
				}
				return
			}
			for {
				b, err := e.Read(context.Background(), name, shardID(0), c, 100, 0)
				if err != nil {
					if !errors.Is(err, streamproc.ErrNotFound) {
						t.Error(err)
					}
					return
				}
				c = b.Next
			}
		})
		time.Sleep(20 * time.Millisecond)
		if err := e.DeleteStream(t.Context(), name); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
	}
}

func TestLargeCallSpansFrames(t *testing.T) {
	e := mustOpen(t, "", Options{SegmentBytes: 200 << 10})
	mustCreate(t, e, "s", 1)
	var recs []streamproc.Record
	for i := range 500 { // ~1 MiB in one call: many frames, several segments
		recs = append(recs, rec(fmt.Sprint(i), fmt.Sprintf("%03d-%s", i, strings.Repeat("d", 2000))))
	}
	res := mustPut(t, e, "s", recs...)
	res = append(res, mustPut(t, e, "s", recs[:100]...)...)
	sh := shardID(0)
	for _, limit := range []int{1, 99, 100, 333, 10000} {
		c := mustIter(t, e, "s", sh, Position{Type: TrimHorizon})
		n := 0
		for {
			b, err := e.Read(t.Context(), "s", sh, c, limit, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range b.Records {
				if r.SequenceNumber != res[n].SequenceNumber || string(r.Data[:3]) != fmt.Sprintf("%03d", n%500) {
					t.Fatalf("limit %d: record %d = %s", limit, n, r.Data[:3])
				}
				n++
			}
			c = b.Next
			if len(b.Records) == 0 {
				break
			}
		}
		if n != 600 {
			t.Fatalf("limit %d: read %d records", limit, n)
		}
	}
	for i := 0; i < len(res); i += 37 {
		c := mustIter(t, e, "s", sh, Position{Type: AfterSequenceNumber, SequenceNumber: res[i].SequenceNumber})
		b, err := e.Read(t.Context(), "s", sh, c, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if i+1 < len(res) && b.Records[0].SequenceNumber != res[i+1].SequenceNumber {
			t.Fatalf("AFTER %d returned the wrong record", i)
		}
	}
}

func TestTrimWhileWritingAndReading(t *testing.T) {
	clk := newClock()
	e := mustOpen(t, "", Options{Now: clk.Now, SegmentBytes: 2048})
	mustCreate(t, e, "s", 1)
	sh := shardID(0)
	c := mustIter(t, e, "s", sh, Position{Type: TrimHorizon})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() { // trimmer
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := e.Trim(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() { // writer: one hour per call, so retention trims as it goes
		defer close(stop)
		for i := range 200 {
			mustPut(t, e, "s", rec("k", fmt.Sprintf("%04d-%s", i, strings.Repeat("w", 300))))
			clk.Advance(time.Hour)
		}
	})
	prev := ""
	for reading := true; reading; {
		select {
		case <-stop:
			reading = false
		default:
		}
		b, err := e.Read(t.Context(), "s", sh, c, 7, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range b.Records {
			if !(prev < r.SequenceNumber) {
				t.Fatalf("sequence %s after %s", r.SequenceNumber, prev)
			}
			prev = r.SequenceNumber
		}
		c = b.Next
	}
	wg.Wait()
	got, _ := readAll(t, e, "s", sh, mustIter(t, e, "s", sh, Position{Type: TrimHorizon}))
	if len(got) < 23 || len(got) > 25 || string(got[len(got)-1].Data[:4]) != "0199" {
		t.Fatalf("after trimming: %d records, last %q", len(got), got[len(got)-1].Data[:4])
	}
}
