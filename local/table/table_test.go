package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/table/tabletest"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func openStore(t *testing.T, dir string, opts Options, specs ...streamproc.TableSpec) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	for _, spec := range specs {
		if err := s.CreateTable(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestConformance(t *testing.T) {
	tabletest.Run(t, func(t *testing.T, specs ...streamproc.TableSpec) streamproc.Table {
		return openStore(t, t.TempDir(), Options{}, specs...)
	})
}

var events = streamproc.TableSpec{
	Name:    "EventData",
	Key:     streamproc.KeySchema{HashKey: "Username", HashType: "S", RangeKey: "Id", RangeType: "S"},
	TTLAttr: "ExpirationTime",
}

func TestCreateTable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	counters := streamproc.TableSpec{Name: "Counters", Key: streamproc.KeySchema{HashKey: "K", HashType: "N"}}
	for _, spec := range []streamproc.TableSpec{events, counters, events} {
		if err := s.CreateTable(ctx, spec); err != nil {
			t.Fatalf("CreateTable(%+v): %v", spec, err)
		}
	}
	changed := events
	changed.TTLAttr = "Other"
	if err := s.CreateTable(ctx, changed); !errors.Is(err, streamproc.ErrInvalid) || !strings.Contains(err.Error(), "different schema") {
		t.Fatalf("CreateTable with another schema: %v", err)
	}
	if _, err := s.DescribeTable("Nope"); !errors.Is(err, streamproc.ErrNotFound) {
		t.Fatalf("DescribeTable(Nope): %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Schemas are durable.
	s = openStore(t, dir, Options{})
	got, err := s.DescribeTable("EventData")
	if err != nil || got != events {
		t.Fatalf("DescribeTable after reopen = %+v, %v", got, err)
	}
	if tables := s.Tables(); !reflect.DeepEqual(tables, []streamproc.TableSpec{counters, events}) {
		t.Fatalf("Tables() = %+v", tables)
	}
}

func TestCreateTableInvalid(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	key := streamproc.KeySchema{HashKey: "H", HashType: "S"}
	tests := []struct {
		name string
		spec streamproc.TableSpec
		msg  string
	}{
		{"short name", streamproc.TableSpec{Name: "ab", Key: key}, "table name"},
		{"bad character", streamproc.TableSpec{Name: "a b c", Key: key}, "table name"},
		{"NUL in name", streamproc.TableSpec{Name: "abc\x00", Key: key}, "table name"},
		{"no hash key", streamproc.TableSpec{Name: "abc", Key: streamproc.KeySchema{HashType: "S"}}, "hash key"},
		{"bad hash type", streamproc.TableSpec{Name: "abc", Key: streamproc.KeySchema{HashKey: "H", HashType: "BOOL"}}, "type"},
		{"range type without name", streamproc.TableSpec{Name: "abc", Key: streamproc.KeySchema{HashKey: "H", HashType: "S", RangeType: "S"}}, "range key"},
		{"range same as hash", streamproc.TableSpec{Name: "abc", Key: streamproc.KeySchema{HashKey: "H", HashType: "S", RangeKey: "H", RangeType: "S"}}, "both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateTable(context.Background(), tc.spec)
			if !errors.Is(err, streamproc.ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tc.msg)
			}
		})
	}
}

// TestValidationMessages checks what the conformance suite leaves to each
// backend: the local error text names the problem and the item.
func TestValidationMessages(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{}, events)
	ok := streamproc.Item{"Username": "u", "Id": "1"}
	tooMany := make([]streamproc.Item, 26)
	for i := range tooMany {
		tooMany[i] = streamproc.Item{"Username": "u", "Id": fmt.Sprint(i)}
	}
	tests := []struct {
		name  string
		items []streamproc.Item
		msg   string
	}{
		{"too many", tooMany, "batch of 26 items, more than 25"},
		{"duplicate", []streamproc.Item{ok, {"Username": "x", "Id": "1"}, ok}, "items 0 and 2 have the same key"},
		{"missing hash", []streamproc.Item{ok, {"Id": "1"}}, "item 1: missing key attribute (hash) Username"},
		{"missing range", []streamproc.Item{{"Username": "u"}}, "item 0: missing key attribute (range) Id"},
		{"wrong type", []streamproc.Item{ok, {"Username": "v", "Id": "1"}, {"Username": 5, "Id": "1"}}, "item 2: key attribute (hash) Username must be a string (S), got int"},
		{"empty key", []streamproc.Item{{"Username": "u", "Id": ""}}, "item 0: key attribute (range) Id is an empty string"},
		{"long hash", []streamproc.Item{{"Username": strings.Repeat("x", 2049), "Id": "1"}}, "item 0: hash key Username is 2049 bytes, more than DynamoDB's 2048"},
		{"long range", []streamproc.Item{{"Username": "u", "Id": strings.Repeat("x", 1025)}}, "item 0: range key Id is 1025 bytes, more than DynamoDB's 1024"},
		{"big item", []streamproc.Item{{"Username": "u", "Id": "1", "M": strings.Repeat("x", 400<<10)}}, "item 0 is 409613 bytes, more than DynamoDB's 400 KB"},
		{"bad number", []streamproc.Item{{"Username": "u", "Id": "1", "N": streamproc.Number("1e")}}, `item 0: attribute "N": number "1e": bad exponent`},
		{"nested bad type", []streamproc.Item{{"Username": "u", "Id": "1", "M": map[string]any{"a": []any{1, struct{}{}}}}}, `item 0: attribute "M": .a: [1]: unsupported type struct {}`},
		{"NaN", []streamproc.Item{{"Username": "u", "Id": "1", "F": math.NaN()}}, "not finite"},
		{"empty attribute name", []streamproc.Item{{"Username": "u", "Id": "1", "": "x"}}, "empty attribute name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.BatchPut(context.Background(), events.Name, tc.items)
			if !errors.Is(err, streamproc.ErrInvalid) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "EventData") {
				t.Fatalf("err = %v\nwant ErrInvalid naming the table and containing %q", err, tc.msg)
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{}, events)
	nest := func(depth int) any {
		var v any = "leaf"
		for range depth {
			v = []any{v}
		}
		return v
	}
	if _, err := s.BatchPut(context.Background(), events.Name, []streamproc.Item{{"Username": "u", "Id": "1", "L": nest(31)}}); err != nil {
		t.Fatalf("31 levels: %v", err)
	}
	if _, err := s.BatchPut(context.Background(), events.Name, []streamproc.Item{{"Username": "u", "Id": "2", "L": nest(40)}}); !errors.Is(err, streamproc.ErrInvalid) {
		t.Fatalf("40 levels: %v", err)
	}
	// A map that contains itself must fail, not recurse forever.
	loop := map[string]any{}
	loop["self"] = loop
	if _, err := s.BatchPut(context.Background(), events.Name, []streamproc.Item{{"Username": "u", "Id": "3", "M": loop}}); !errors.Is(err, streamproc.ErrInvalid) {
		t.Fatalf("cyclic map: %v", err)
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in, want string // want "" = invalid
	}{
		{"0", "0"}, {"-0", "0"}, {"+0.000", "0"}, {"0e5", "0"},
		{"1", "1"}, {"+1", "1"}, {"01", "1"}, {"1.0", "1"}, {"1.", "1"}, {".5", "0.5"}, {"-.5", "-0.5"},
		{"1e2", "100"}, {"1E+2", "100"}, {"1.5e-3", "0.0015"}, {"12345e-2", "123.45"}, {"-0012.3400", "-12.34"},
		{"9007199254740993", "9007199254740993"},
		{"1e125", "1" + strings.Repeat("0", 125)},
		{"9.9999999999999999999999999999999999999E+125", "99999999999999999999999999999999999999" + strings.Repeat("0", 88)},
		{"1e-130", "0." + strings.Repeat("0", 129) + "1"},
		{"1e126", ""}, {"1e-131", ""}, {"1" + strings.Repeat("2", 38), ""},
		{"1" + strings.Repeat("0", 60), "1" + strings.Repeat("0", 60)}, // trailing zeros are not significant
		{"", ""}, {"-", ""}, {".", ""}, {"e5", ""}, {"1e", ""}, {"1e+", ""}, {"1.2.3", ""}, {"abc", ""}, {" 1", ""},
		{"1_000", ""}, {"0x10", ""}, {"Inf", ""}, {"NaN", ""}, {"1e9999999", ""}, {"--1", ""},
	}
	for _, tc := range tests {
		d, err := parseDecimal(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("parseDecimal(%q) = %s, want an error", tc.in, d)
		case tc.want == "":
			if !errors.Is(err, streamproc.ErrInvalid) {
				t.Errorf("parseDecimal(%q): error %v does not wrap ErrInvalid", tc.in, err)
			}
		case err != nil:
			t.Errorf("parseDecimal(%q): %v", tc.in, err)
		case d.String() != tc.want:
			t.Errorf("parseDecimal(%q) = %s, want %s", tc.in, d, tc.want)
		}
	}
}

// TestNumberKeyOrder checks the key encoding against exact rational
// comparison on random and edge-case numbers.
func TestNumberKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nums := []string{"0", "1", "-1", "0.1", "-0.1", "10", "9", "-9", "-10", "1e-130", "-1e-130", "1e125", "-1e125",
		"0.12", "0.123", "-0.12", "-0.123", "9007199254740992", "9007199254740993", "100", "99.99999"}
	for range 20000 {
		digits := make([]byte, 1+r.IntN(20))
		for i := range digits {
			digits[i] = byte('0' + r.IntN(10))
		}
		s := string(digits)
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		nums = append(nums, fmt.Sprintf("%se%d", s, r.IntN(60)-30))
	}
	type parsed struct {
		key []byte
		rat *big.Rat
		s   string
	}
	var ps []parsed
	for _, s := range nums {
		d, err := parseDecimal(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		rat, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat cannot parse %s", s)
		}
		ps = append(ps, parsed{d.appendKey(nil), rat, s})
	}
	// Sorted by value, neighbours must compare the same way by key; by
	// transitivity that makes the two orders identical.
	slices.SortFunc(ps, func(a, b parsed) int { return a.rat.Cmp(b.rat) })
	for i := 1; i < len(ps); i++ {
		want := ps[i-1].rat.Cmp(ps[i].rat)
		if got := bytes.Compare(ps[i-1].key, ps[i].key); got != want {
			t.Fatalf("%s vs %s: key order %d, numeric order %d", ps[i-1].s, ps[i].s, got, want)
		}
	}
}

func TestBytesKeyOrder(t *testing.T) {
	vals := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "a", "a\x00", "a\x00b", "a\x01", "aa", "b", "\xff", "\xff\x00"}
	for i := range vals {
		for j := range vals {
			ki := appendBytesKey(nil, []byte(vals[i]))
			kj := appendBytesKey(nil, []byte(vals[j]))
			if got, want := bytes.Compare(ki, kj), strings.Compare(vals[i], vals[j]); got != want {
				t.Fatalf("%q vs %q: key order %d, byte order %d", vals[i], vals[j], got, want)
			}
			// Self-delimiting: no encoding is a proper prefix of another.
			if i != j && bytes.HasPrefix(kj, ki) {
				t.Fatalf("encoding of %q is a prefix of that of %q", vals[i], vals[j])
			}
		}
	}
}

// TestNumericKeyEquality: DynamoDB compares N keys by value, so every
// spelling of a number addresses one item, stored in canonical form.
func TestNumericKeyEquality(t *testing.T) {
	ctx := context.Background()
	spec := streamproc.TableSpec{Name: "Nums", Key: streamproc.KeySchema{HashKey: "K", HashType: "N"}}
	s := openStore(t, t.TempDir(), Options{}, spec)
	for _, k := range []any{streamproc.Number("1.0"), 1, streamproc.Number("1e0"), 1.0, streamproc.Number("+01.000")} {
		if _, err := s.BatchPut(ctx, spec.Name, []streamproc.Item{{"K": k, "V": streamproc.Number("2.50")}}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Scan(ctx, spec.Name, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []streamproc.Item{{"K": streamproc.Number("1"), "V": streamproc.Number("2.5")}}
	if !reflect.DeepEqual(p.Items, want) {
		t.Fatalf("Scan = %v, want %v", p.Items, want)
	}
	// Two spellings of one key in a batch are duplicates.
	_, err = s.BatchPut(ctx, spec.Name, []streamproc.Item{{"K": 10}, {"K": streamproc.Number("1e1")}})
	if !errors.Is(err, streamproc.ErrInvalid) {
		t.Fatalf("duplicate numeric keys: %v", err)
	}
}

// TestNULInKeys covers the escaping of 0x00 in string keys, which the
// conformance suite leaves out because emulators differ on it.
func TestNULInKeys(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{}, events)
	ids := []string{"a", "a\x00", "a\x00\x00", "a\x00b", "a\x01", "ab"}
	var items []streamproc.Item
	for _, id := range ids {
		items = append(items, streamproc.Item{"Username": "u\x00", "Id": id})
	}
	items = append(items, streamproc.Item{"Username": "u", "Id": "a"}, streamproc.Item{"Username": "u\x00\x00", "Id": "a"})
	if _, err := s.BatchPut(ctx, events.Name, items); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(ctx, events.Name, streamproc.Query{Hash: "u\x00"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, items[:len(ids)]) {
		t.Fatalf("Query = %q", got)
	}
	got, err = s.Query(ctx, events.Name, streamproc.Query{Hash: "u\x00", RangePrefix: "a\x00"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, items[1:4]) {
		t.Fatalf("Query with prefix a\\x00 = %q", got)
	}
}

func TestRangePrefixInvalid(t *testing.T) {
	nums := streamproc.TableSpec{Name: "Nums", Key: streamproc.KeySchema{HashKey: "P", HashType: "S", RangeKey: "N", RangeType: "N"}}
	flat := streamproc.TableSpec{Name: "Flat", Key: streamproc.KeySchema{HashKey: "P", HashType: "S"}}
	s := openStore(t, t.TempDir(), Options{}, nums, flat)
	for _, table := range []string{"Nums", "Flat"} {
		if _, err := s.Query(context.Background(), table, streamproc.Query{Hash: "p", RangePrefix: "1"}); !errors.Is(err, streamproc.ErrInvalid) {
			t.Errorf("%s: RangePrefix: %v", table, err)
		}
	}
	if _, err := s.Query(context.Background(), "Nums", streamproc.Query{Hash: "p", Limit: -1}); !errors.Is(err, streamproc.ErrInvalid) {
		t.Errorf("negative limit: %v", err)
	}
}

func TestAddLocalErrors(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{}, events)
	if _, err := s.BatchPut(ctx, events.Name, []streamproc.Item{{"Username": "u", "Id": "1", "Max": int64(math.MaxInt64), "Min": int64(math.MinInt64), "F": 1.5}}); err != nil {
		t.Fatal(err)
	}
	key := streamproc.Item{"Username": "u", "Id": "1"}
	tests := []struct {
		attr  string
		delta int64
		msg   string
	}{
		{"Max", 1, "overflows"},
		{"Min", -1, "overflows"},
		{"F", 1, "not an int64"},
		{"Id", 1, "key attribute"},
	}
	for _, tc := range tests {
		if _, err := s.Add(ctx, events.Name, key, tc.attr, tc.delta); !errors.Is(err, streamproc.ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Add(%s, %d): %v, want ErrInvalid containing %q", tc.attr, tc.delta, err, tc.msg)
		}
	}
	if n, err := s.Add(ctx, events.Name, key, "Max", -1); err != nil || n != math.MaxInt64-1 {
		t.Errorf("Add(Max, -1) = %d, %v", n, err)
	}
}

func TestUnprocessedKnob(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	calls := 0
	s := openStore(t, t.TempDir(), Options{Unprocessed: func(it streamproc.Item) bool {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return strings.HasPrefix(it["Id"].(string), "throttle")
	}}, events)
	items := []streamproc.Item{
		{"Username": "u", "Id": "1"},
		{"Username": "u", "Id": "throttle-2"},
		{"Username": "u", "Id": "3"},
		{"Username": "u", "Id": "throttle-4"},
	}
	un, err := s.BatchPut(ctx, events.Name, items)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(un, []streamproc.Item{items[1], items[3]}) {
		t.Fatalf("unprocessed = %v", un)
	}
	got, _ := s.Query(ctx, events.Name, streamproc.Query{Hash: "u"})
	if !reflect.DeepEqual(got, []streamproc.Item{items[0], items[2]}) {
		t.Fatalf("written = %v", got)
	}
	// An invalid batch fails before the knob sees it.
	calls = 0
	if _, err := s.BatchPut(ctx, events.Name, []streamproc.Item{items[0], items[0]}); !errors.Is(err, streamproc.ErrInvalid) || calls != 0 {
		t.Fatalf("invalid batch: err %v, knob called %d times", err, calls)
	}
}

func TestTTLSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	noTTL := streamproc.TableSpec{Name: "NoTTL", Key: streamproc.KeySchema{HashKey: "K", HashType: "S"}}
	s := openStore(t, t.TempDir(), Options{Now: clock}, events, noTTL)
	epoch := func(d time.Duration) streamproc.Number {
		return streamproc.Number(fmt.Sprint(now.Add(d).Unix()))
	}
	items := []struct {
		id      string
		ttl     any
		expires bool // after the clock moves 2h on
	}{
		{"past", epoch(-time.Hour), true},
		{"now", epoch(0), true},
		{"in-1h", epoch(time.Hour), true},
		{"in-3h", epoch(3 * time.Hour), false},
		{"string", string(epoch(-time.Hour)), false},                            // not a Number: ignored
		{"ancient", epoch(-6 * 365 * 24 * time.Hour), false},                    // > 5 years old: ignored
		{"milliseconds", streamproc.Number(fmt.Sprint(now.UnixMilli())), false}, // far future
		{"none", nil, false},
		{"decimal", streamproc.Number(fmt.Sprintf("%d.5", now.Add(-time.Minute).Unix())), true},
	}
	var batch []streamproc.Item
	for _, it := range items {
		item := streamproc.Item{"Username": "u", "Id": it.id}
		if it.ttl != nil {
			item["ExpirationTime"] = it.ttl
		}
		batch = append(batch, item)
	}
	if _, err := s.BatchPut(ctx, events.Name, batch); err != nil {
		t.Fatal(err)
	}
	// Expired items stay readable until swept.
	if _, ok, _ := s.Get(ctx, events.Name, streamproc.Item{"Username": "u", "Id": "past"}); !ok {
		t.Fatal("expired item not readable before the sweep")
	}
	// noTTL items whose attribute would look expired are never touched.
	if _, err := s.BatchPut(ctx, noTTL.Name, []streamproc.Item{{"K": "k", "ExpirationTime": epoch(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Hour)
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, it := range items {
		_, ok, err := s.Get(ctx, events.Name, streamproc.Item{"Username": "u", "Id": it.id})
		if err != nil {
			t.Fatal(err)
		}
		if ok == it.expires {
			t.Errorf("%s: present = %v after sweep, want %v", it.id, ok, !it.expires)
		}
		if it.expires {
			want++
		}
	}
	if n != want {
		t.Errorf("Sweep deleted %d, want %d", n, want)
	}
	if _, ok, _ := s.Get(ctx, noTTL.Name, streamproc.Item{"K": "k"}); !ok {
		t.Error("sweep deleted from a table without TTL")
	}
	if n, err := s.Sweep(ctx); n != 0 || err != nil {
		t.Errorf("second Sweep = %d, %v", n, err)
	}
}

// TestSweepRechecks: an item rewritten with a later expiry after the sweep
// picked it as a candidate survives.
func TestSweepRechecks(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_750_000_000, 0)
	s := openStore(t, t.TempDir(), Options{Now: func() time.Time { return now }}, events)
	item := func(ttl int64) streamproc.Item {
		return streamproc.Item{"Username": "u", "Id": "1", "ExpirationTime": ttl}
	}
	if _, err := s.BatchPut(ctx, events.Name, []streamproc.Item{item(now.Unix() - 10)}); err != nil {
		t.Fatal(err)
	}
	key, _, err := encodeKey(&events, item(0), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BatchPut(ctx, events.Name, []streamproc.Item{item(now.Unix() + 10)}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.deleteExpired(&events, [][]byte{key}); n != 0 || err != nil {
		t.Fatalf("deleteExpired = %d, %v; want the rewritten item kept", n, err)
	}
}

func TestRunSweeper(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	s := openStore(t, t.TempDir(), Options{Now: func() time.Time { return now }}, events)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := s.BatchPut(ctx, events.Name, []streamproc.Item{{"Username": "u", "Id": "1", "ExpirationTime": now.Unix() - 1}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.RunSweeper(ctx, time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := s.Get(ctx, events.Name, streamproc.Item{"Username": "u", "Id": "1"})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sweeper did not delete the expired item")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunSweeper after cancel: %v", err)
	}
	if err := s.RunSweeper(context.Background(), 0); !errors.Is(err, streamproc.ErrInvalid) {
		t.Fatalf("RunSweeper(0): %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx, events); err != nil {
		t.Fatal(err)
	}
	it := streamproc.Item{"Username": "u", "Id": "1", "Message": "hello 🐦", "N": streamproc.Number("9007199254740993")}
	if _, err := s.BatchPut(ctx, events.Name, []streamproc.Item{it}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, Options{})
	got, ok, err := s.Get(ctx, events.Name, streamproc.Item{"Username": "u", "Id": "1"})
	if err != nil || !ok || !reflect.DeepEqual(got, it) {
		t.Fatalf("after reopen: %v %v %v", got, ok, err)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	key := streamproc.Item{"Username": "u", "Id": "1"}
	calls := map[string]func() error{
		"BatchPut": func() error { _, err := s.BatchPut(ctx, events.Name, []streamproc.Item{key}); return err },
		"Get":      func() error { _, _, err := s.Get(ctx, events.Name, key); return err },
		"Query":    func() error { _, err := s.Query(ctx, events.Name, streamproc.Query{Hash: "u"}); return err },
		"Scan":     func() error { _, err := s.Scan(ctx, events.Name, nil, 0); return err },
		"Add":      func() error { _, err := s.Add(ctx, events.Name, key, "N", 1); return err },
		"Sweep":    func() error { _, err := s.Sweep(ctx); return err },
		"Create":   func() error { return s.CreateTable(ctx, events) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, streamproc.ErrUnavailable) {
			t.Errorf("%s after Close: %v, want ErrUnavailable", name, err)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{}, events)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.BatchPut(ctx, events.Name, []streamproc.Item{{"Username": "u", "Id": "1"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("BatchPut with canceled ctx: %v", err)
	}
	if _, ok, err := s.Get(context.Background(), events.Name, streamproc.Item{"Username": "u", "Id": "1"}); ok || err != nil {
		t.Fatalf("item written despite canceled ctx: %v %v", ok, err)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(filepath.Join(t.TempDir(), "missing"), Options{ReadOnly: true, Logger: testLogger(t)}); !errors.Is(err, streamproc.ErrNotFound) {
		t.Fatalf("read-only open of a missing store: %v", err)
	}
	dir := t.TempDir()
	w := openStore(t, dir, Options{}, events)
	it := streamproc.Item{"Username": "u", "Id": "1"}
	if _, err := w.BatchPut(ctx, events.Name, []streamproc.Item{it}); err != nil {
		t.Fatal(err)
	}
	// Pebble's lock is exclusive even for read-only opens.
	if _, err := Open(dir, Options{ReadOnly: true, Logger: testLogger(t)}); !errors.Is(err, streamproc.ErrUnavailable) {
		t.Fatalf("read-only open while the writer has it: %v, want ErrUnavailable", err)
	}
	// A checkpoint of the live store can be opened read-only.
	ck := filepath.Join(t.TempDir(), "ck")
	if err := w.Checkpoint(ctx, ck); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, ck} {
		r := openStore(t, d, Options{ReadOnly: true})
		got, ok, err := r.Get(ctx, events.Name, it)
		if err != nil || !ok || !reflect.DeepEqual(got, it) {
			t.Fatalf("%s: read-only Get = %v %v %v", d, got, ok, err)
		}
		if spec, err := r.DescribeTable(events.Name); err != nil || spec != events {
			t.Fatalf("%s: DescribeTable = %+v, %v", d, spec, err)
		}
		if _, err := r.BatchPut(ctx, events.Name, []streamproc.Item{it}); !errors.Is(err, streamproc.ErrInvalid) {
			t.Fatalf("%s: BatchPut on a read-only store: %v", d, err)
		}
		if _, err := r.Add(ctx, events.Name, it, "N", 1); !errors.Is(err, streamproc.ErrInvalid) {
			t.Fatalf("%s: Add on a read-only store: %v", d, err)
		}
		other := events
		other.Name = "Other"
		if err := r.CreateTable(ctx, other); !errors.Is(err, streamproc.ErrInvalid) {
			t.Fatalf("%s: CreateTable on a read-only store: %v", d, err)
		}
	}
}

// captureHandler records log records at Info and above.
type captureHandler struct {
	mu   *sync.Mutex
	msgs *[]string
}

func (h captureHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.msgs = append(*h.msgs, r.Message)
	return nil
}
func (h captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h captureHandler) WithGroup(string) slog.Handler      { return h }

// TestQuietOpen: Pebble's routine start-up messages ("Found 0 WALs") stay
// below Info.
func TestQuietOpen(t *testing.T) {
	var msgs []string
	log := slog.New(captureHandler{mu: &sync.Mutex{}, msgs: &msgs})
	dir := t.TempDir()
	for range 2 {
		s, err := Open(dir, Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTable(context.Background(), events); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if len(msgs) != 0 {
		t.Fatalf("open/close logged at Info or above: %q", msgs)
	}
}

func FuzzDecodeItem(f *testing.F) {
	e := encoder{}
	if err := e.item(streamproc.Item{"a": "x", "b": []any{1, map[string]any{"c": []byte{1}}, nil, true}}); err != nil {
		f.Fatal(err)
	}
	f.Add(e.buf)
	f.Add([]byte{itemFormatV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		it, err := decodeItem(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes.
		var e encoder
		if err := e.item(it); err != nil {
			return
		}
		if !bytes.Equal(e.buf, b) {
			t.Skip("non-canonical input (e.g. unsorted names)")
		}
	})
}

// TestScanPageBytes: without a limit a page stops after about 1 MB, like
// DynamoDB, and LastKey resumes after it.
func TestScanPageBytes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{}, events)
	big := strings.Repeat("x", 100<<10)
	for b := range 2 {
		var batch []streamproc.Item
		for i := range 15 {
			batch = append(batch, streamproc.Item{"Username": "u", "Id": fmt.Sprintf("%02d", b*15+i), "Big": big})
		}
		if _, err := s.BatchPut(ctx, events.Name, batch); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Scan(ctx, events.Name, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Items); n < 10 || n > 11 || p.LastKey == nil {
		t.Fatalf("first page: %d items, LastKey %v; want about 1 MB (10-11 items) and a LastKey", n, p.LastKey)
	}
	want := streamproc.Item{"Username": "u", "Id": p.Items[len(p.Items)-1]["Id"]}
	if !reflect.DeepEqual(p.LastKey, want) {
		t.Fatalf("LastKey = %v, want %v", p.LastKey, want)
	}
}
