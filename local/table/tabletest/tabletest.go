// Package tabletest is the conformance suite for streamproc.Table: the same
// test bodies run against every backend (the embedded local/table store, and
// the DynamoDB adapter against an emulator), which is how we show that local
// behaves like DynamoDB.
//
// The suite only uses what the streamproc.Table contract promises: no TTL
// sweeping, no throttling knobs, no exact error texts beyond "names the
// table", so any faithful backend passes it.
package tabletest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/streamproc/streamproc"
)

// Table names the suite uses. open must create exactly the specs it is
// given, empty.
const (
	// Events mirrors the reference app's EventData table.
	Events = "Events"
	// Numbers has a numeric sort key.
	Numbers = "Numbers"
	// Binary has binary hash and sort keys.
	Binary = "Binary"
	// Counters has a hash-only string key.
	Counters = "Counters"
	// NumHash has a hash-only numeric key.
	NumHash = "NumHash"
)

// Specs returns the table specs the suite uses, by name.
func Specs() map[string]streamproc.TableSpec {
	return map[string]streamproc.TableSpec{
		Events:   {Name: Events, Key: streamproc.KeySchema{HashKey: "Username", HashType: "S", RangeKey: "Id", RangeType: "S"}},
		Numbers:  {Name: Numbers, Key: streamproc.KeySchema{HashKey: "P", HashType: "S", RangeKey: "N", RangeType: "N"}},
		Binary:   {Name: Binary, Key: streamproc.KeySchema{HashKey: "H", HashType: "B", RangeKey: "R", RangeType: "B"}},
		Counters: {Name: Counters, Key: streamproc.KeySchema{HashKey: "K", HashType: "S"}},
		NumHash:  {Name: NumHash, Key: streamproc.KeySchema{HashKey: "K", HashType: "N"}},
	}
}

// Run runs the whole suite. open returns a fresh Table holding the given
// tables, empty, and registers its own cleanup with t.Cleanup. Subtests run
// sequentially, so a backend may share one server between them as long as
// open hands out empty tables.
func Run(t *testing.T, open func(t *testing.T, specs ...streamproc.TableSpec) streamproc.Table) {
	s := suite{open: open}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RoundTripTypes", s.roundTripTypes},
		{"EmptyNonKeyValues", s.emptyNonKeyValues},
		{"IdempotentPut", s.idempotentPut},
		{"Replace", s.replace},
		{"BatchValidation", s.batchValidation},
		{"BatchLimitsAccepted", s.batchLimitsAccepted},
		{"NotFoundTable", s.notFoundTable},
		{"GetMissingItem", s.getMissingItem},
		{"BadKeys", s.badKeys},
		{"QueryStringOrder", s.queryStringOrder},
		{"QueryNumberOrder", s.queryNumberOrder},
		{"QueryBinaryOrder", s.queryBinaryOrder},
		{"QueryPrefixDescendingLimit", s.queryPrefixDescendingLimit},
		{"HashOnlyTable", s.hashOnlyTable},
		{"ScanPagination", s.scanPagination},
		{"ScanEmpty", s.scanEmpty},
		{"Add", s.add},
		{"AddErrors", s.addErrors},
		{"AddConcurrent", s.addConcurrent},
		{"BigNumbers", s.bigNumbers},
		{"UTF8ByteExact", s.utf8ByteExact},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open func(t *testing.T, specs ...streamproc.TableSpec) streamproc.Table
}

func (s suite) table(t *testing.T, names ...string) streamproc.Table {
	t.Helper()
	all := Specs()
	specs := make([]streamproc.TableSpec, 0, len(names))
	for _, n := range names {
		specs = append(specs, all[n])
	}
	return s.open(t, specs...)
}

// put writes items in batches of 25, retrying unprocessed items a bounded
// number of times, as a real caller does.
func put(t *testing.T, tbl streamproc.Table, table string, items ...streamproc.Item) {
	t.Helper()
	ctx := context.Background()
	for len(items) > 0 {
		n := min(len(items), streamproc.MaxBatchPut)
		batch := items[:n]
		items = items[n:]
		for attempt := 0; len(batch) > 0; attempt++ {
			if attempt == 20 {
				t.Fatalf("BatchPut(%s): %d items still unprocessed after %d attempts", table, len(batch), attempt)
			}
			un, err := tbl.BatchPut(ctx, table, batch)
			if err != nil {
				t.Fatalf("BatchPut(%s): %v", table, err)
			}
			batch = un
		}
	}
}

func get(t *testing.T, tbl streamproc.Table, table string, key streamproc.Item) (streamproc.Item, bool) {
	t.Helper()
	it, ok, err := tbl.Get(context.Background(), table, key)
	if err != nil {
		t.Fatalf("Get(%s, %v): %v", table, key, err)
	}
	return it, ok
}

func mustGet(t *testing.T, tbl streamproc.Table, table string, key streamproc.Item) streamproc.Item {
	t.Helper()
	it, ok := get(t, tbl, table, key)
	if !ok {
		t.Fatalf("Get(%s, %v): not found", table, key)
	}
	return it
}

func query(t *testing.T, tbl streamproc.Table, table string, q streamproc.Query) []streamproc.Item {
	t.Helper()
	items, err := tbl.Query(context.Background(), table, q)
	if err != nil {
		t.Fatalf("Query(%s, %+v): %v", table, q, err)
	}
	return items
}

// scanAll pages through a table with the given page limit and returns every
// item, checking the page invariants on the way.
func scanAll(t *testing.T, tbl streamproc.Table, table string, limit int, keyAttrs ...string) []streamproc.Item {
	t.Helper()
	var all []streamproc.Item
	var start streamproc.Item
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("Scan(%s, limit %d): no end after %d pages", table, limit, pages)
		}
		p, err := tbl.Scan(context.Background(), table, start, limit)
		if err != nil {
			t.Fatalf("Scan(%s, start %v, limit %d): %v", table, start, limit, err)
		}
		if limit > 0 && len(p.Items) > limit {
			t.Fatalf("Scan(%s, limit %d): page of %d items", table, limit, len(p.Items))
		}
		all = append(all, p.Items...)
		if p.LastKey == nil {
			return all
		}
		if len(p.LastKey) != len(keyAttrs) {
			t.Fatalf("Scan(%s): LastKey %v should hold only the key attributes %v", table, p.LastKey, keyAttrs)
		}
		for _, k := range keyAttrs {
			if _, ok := p.LastKey[k]; !ok {
				t.Fatalf("Scan(%s): LastKey %v lacks key attribute %s", table, p.LastKey, k)
			}
		}
		start = p.LastKey
	}
}

func equalItems(t *testing.T, what string, got, want []streamproc.Item) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d items, want %d\ngot:  %v\nwant: %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("%s: item %d:\ngot:  %#v\nwant: %#v", what, i, got[i], want[i])
		}
	}
}

func equalItem(t *testing.T, what string, got, want streamproc.Item) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\ngot:  %#v\nwant: %#v", what, got, want)
	}
}

func ev(user, id string, attrs ...any) streamproc.Item {
	it := streamproc.Item{"Username": user, "Id": id}
	for i := 0; i+1 < len(attrs); i += 2 {
		it[attrs[i].(string)] = attrs[i+1]
	}
	return it
}

func (s suite) roundTripTypes(t *testing.T) {
	tbl := s.table(t, Events)
	in := ev("alice", "1",
		"S", "text",
		"N", streamproc.Number("42"),
		"Int", 7,
		"Int64", int64(-3),
		"Uint", uint32(9),
		"Float", 1.5,
		"True", true,
		"False", false,
		"Bin", []byte{0, 1, 2, 0xff},
		"Null", nil,
		"Strings", []string{"b", "a", "b"},
		"List", []any{"a", streamproc.Number("1"), true, nil, []any{"x"}, map[string]any{"k": "v"}, []byte{7}},
		"Map", map[string]any{"nested": map[string]any{"deep": streamproc.Number("3")}, "list": []any{false}},
	)
	want := ev("alice", "1",
		"S", "text",
		"N", streamproc.Number("42"),
		"Int", streamproc.Number("7"),
		"Int64", streamproc.Number("-3"),
		"Uint", streamproc.Number("9"),
		"Float", streamproc.Number("1.5"),
		"True", true,
		"False", false,
		"Bin", []byte{0, 1, 2, 0xff},
		"Null", nil,
		"Strings", []any{"b", "a", "b"},
		"List", []any{"a", streamproc.Number("1"), true, nil, []any{"x"}, map[string]any{"k": "v"}, []byte{7}},
		"Map", map[string]any{"nested": map[string]any{"deep": streamproc.Number("3")}, "list": []any{false}},
	)
	put(t, tbl, Events, in)
	equalItem(t, "Get", mustGet(t, tbl, Events, ev("alice", "1")), want)
	equalItems(t, "Query", query(t, tbl, Events, streamproc.Query{Hash: "alice"}), []streamproc.Item{want})
	equalItems(t, "Scan", scanAll(t, tbl, Events, 0, "Username", "Id"), []streamproc.Item{want})

	// The caller's item must not be aliased by the store.
	in["Bin"].([]byte)[0] = 99
	equalItem(t, "Get after mutating the input", mustGet(t, tbl, Events, ev("alice", "1")), want)
}

func (s suite) emptyNonKeyValues(t *testing.T) {
	// DynamoDB has allowed empty strings, binaries, lists and maps outside
	// keys since 2020.
	tbl := s.table(t, Events)
	in := ev("alice", "1", "Empty", "", "EmptyBin", []byte{}, "EmptyList", []any{}, "EmptyMap", map[string]any{})
	put(t, tbl, Events, in)
	equalItem(t, "Get", mustGet(t, tbl, Events, ev("alice", "1")), in)
}

func (s suite) idempotentPut(t *testing.T) {
	tbl := s.table(t, Events)
	it := ev("alice", "1", "Message", "hi", "Count", streamproc.Number("1"))
	for range 3 {
		put(t, tbl, Events, it)
	}
	equalItems(t, "Scan after three identical puts", scanAll(t, tbl, Events, 0, "Username", "Id"), []streamproc.Item{it})
}

func (s suite) replace(t *testing.T) {
	tbl := s.table(t, Events)
	put(t, tbl, Events, ev("alice", "1", "A", "1", "B", "2"), ev("alice", "2", "A", "x"))
	second := ev("alice", "1", "A", "3", "C", "4")
	put(t, tbl, Events, second)
	equalItem(t, "Get after replace (B must be gone)", mustGet(t, tbl, Events, ev("alice", "1")), second)
	equalItem(t, "unrelated item", mustGet(t, tbl, Events, ev("alice", "2")), ev("alice", "2", "A", "x"))
}

func (s suite) batchValidation(t *testing.T) {
	tooMany := make([]streamproc.Item, 26)
	for i := range tooMany {
		tooMany[i] = ev("alice", fmt.Sprint(i))
	}
	valid := ev("valid", "1")
	tests := []struct {
		name  string
		table string
		items []streamproc.Item
	}{
		{"more than 25 items", Events, tooMany},
		{"duplicate keys", Events, []streamproc.Item{valid, ev("alice", "1", "A", "1"), ev("alice", "1", "A", "2")}},
		{"missing hash key", Events, []streamproc.Item{valid, {"Id": "1"}}},
		{"missing range key", Events, []streamproc.Item{valid, {"Username": "alice"}}},
		{"hash key wrong type", Events, []streamproc.Item{valid, {"Username": streamproc.Number("1"), "Id": "1"}}},
		{"range key wrong type", Events, []streamproc.Item{valid, {"Username": "alice", "Id": []byte("1")}}},
		{"empty string hash key", Events, []streamproc.Item{valid, ev("", "1")}},
		{"empty string range key", Events, []streamproc.Item{valid, ev("alice", "")}},
		{"hash key over 2048 bytes", Events, []streamproc.Item{valid, ev(strings.Repeat("h", 2049), "1")}},
		{"range key over 1024 bytes", Events, []streamproc.Item{valid, ev("alice", strings.Repeat("r", 1025))}},
		{"item over 400 KB", Events, []streamproc.Item{valid, ev("alice", "1", "Big", strings.Repeat("x", 400<<10))}},
		{"invalid number", Events, []streamproc.Item{valid, ev("alice", "1", "N", streamproc.Number("twelve"))}},
		{"number over 38 digits", Events, []streamproc.Item{valid, ev("alice", "1", "N", streamproc.Number("1"+strings.Repeat("1", 38)))}},
		{"number key wrong type", Numbers, []streamproc.Item{{"P": "valid", "N": 1}, {"P": "p", "N": "1"}}},
		{"empty binary key", Binary, []streamproc.Item{{"H": []byte("valid"), "R": []byte{1}}, {"H": []byte{}, "R": []byte{1}}}},
		{"binary key wrong type", Binary, []streamproc.Item{{"H": []byte("valid"), "R": []byte{1}}, {"H": "s", "R": []byte{1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := s.table(t, tc.table)
			un, err := tbl.BatchPut(context.Background(), tc.table, tc.items)
			if !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("BatchPut: err = %v, want one wrapping ErrInvalid", err)
			}
			if un != nil {
				t.Errorf("BatchPut returned unprocessed items with an error: %v", un)
			}
			// The batch fails as a whole: not even its valid first item lands.
			if got := scanAll(t, tbl, tc.table, 0); len(got) != 0 {
				t.Fatalf("a rejected batch wrote %d items: %v", len(got), got)
			}
		})
	}
}

func (s suite) batchLimitsAccepted(t *testing.T) {
	full := make([]streamproc.Item, streamproc.MaxBatchPut)
	for i := range full {
		full[i] = ev("alice", fmt.Sprintf("%02d", i))
	}
	tests := []struct {
		name  string
		items []streamproc.Item
	}{
		{"exactly 25 items", full},
		{"hash key of 2048 bytes", []streamproc.Item{ev(strings.Repeat("h", 2048), "1")}},
		{"range key of 1024 bytes", []streamproc.Item{ev("alice", strings.Repeat("r", 1024))}},
		{"item just under 400 KB", []streamproc.Item{ev("alice", "1", "Big", strings.Repeat("x", 400<<10-100))}},
		{"multi-byte hash key of 2048 bytes", []streamproc.Item{ev(strings.Repeat("é", 1024), "1")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := s.table(t, Events)
			un, err := tbl.BatchPut(context.Background(), Events, tc.items)
			if err != nil {
				t.Fatal(err)
			}
			put(t, tbl, Events, un...)
			got := scanAll(t, tbl, Events, 0, "Username", "Id")
			if len(got) != len(tc.items) {
				t.Fatalf("wrote %d items, scan finds %d", len(tc.items), len(got))
			}
			for _, it := range tc.items {
				equalItem(t, "Get", mustGet(t, tbl, Events, ev(it["Username"].(string), it["Id"].(string))), it)
			}
		})
	}
}

func (s suite) notFoundTable(t *testing.T) {
	tbl := s.table(t, Events)
	ctx := context.Background()
	const missing = "NoSuchTable"
	tests := []struct {
		name string
		call func() error
	}{
		{"BatchPut", func() error { _, err := tbl.BatchPut(ctx, missing, []streamproc.Item{ev("a", "1")}); return err }},
		{"Get", func() error { _, _, err := tbl.Get(ctx, missing, ev("a", "1")); return err }},
		{"Query", func() error { _, err := tbl.Query(ctx, missing, streamproc.Query{Hash: "a"}); return err }},
		{"Scan", func() error { _, err := tbl.Scan(ctx, missing, nil, 0); return err }},
		{"Add", func() error {
			_, err := tbl.Add(ctx, missing, streamproc.Item{"Username": "a", "Id": "1"}, "N", 1)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, streamproc.ErrNotFound) {
				t.Fatalf("err = %v, want one wrapping ErrNotFound", err)
			}
			if !strings.Contains(err.Error(), missing) {
				t.Fatalf("error %q does not name the table %s", err, missing)
			}
		})
	}
}

func (s suite) getMissingItem(t *testing.T) {
	tbl := s.table(t, Events)
	put(t, tbl, Events, ev("alice", "1"))
	for _, key := range []streamproc.Item{ev("alice", "2"), ev("bob", "1"), ev("alic", "1")} {
		if it, ok := get(t, tbl, Events, key); ok {
			t.Fatalf("Get(%v) = %v, want not found", key, it)
		}
	}
}

func (s suite) badKeys(t *testing.T) {
	tbl := s.table(t, Events, Numbers)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"Get missing range key", func() error { _, _, err := tbl.Get(ctx, Events, streamproc.Item{"Username": "a"}); return err }},
		{"Get extra attribute", func() error { _, _, err := tbl.Get(ctx, Events, ev("a", "1", "X", "y")); return err }},
		{"Get wrong key type", func() error { _, _, err := tbl.Get(ctx, Numbers, streamproc.Item{"P": "a", "N": "1"}); return err }},
		{"Query wrong hash type", func() error { _, err := tbl.Query(ctx, Events, streamproc.Query{Hash: 1}); return err }},
		{"Query nil hash", func() error { _, err := tbl.Query(ctx, Events, streamproc.Query{}); return err }},
		{"Query empty hash", func() error { _, err := tbl.Query(ctx, Events, streamproc.Query{Hash: ""}); return err }},
		{"Scan start key missing range", func() error {
			_, err := tbl.Scan(ctx, Events, streamproc.Item{"Username": "a"}, 1)
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("err = %v, want one wrapping ErrInvalid", err)
			}
		})
	}
}

// shuffled returns a copy of items in a random order, so that insertion order
// cannot masquerade as key order.
func shuffled(items []streamproc.Item) []streamproc.Item {
	out := slices.Clone(items)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func reversed(items []streamproc.Item) []streamproc.Item {
	out := slices.Clone(items)
	slices.Reverse(out)
	return out
}

func (s suite) queryStringOrder(t *testing.T) {
	tbl := s.table(t, Events)
	// DynamoDB orders S sort keys by UTF-8 bytes: upper case before lower
	// case, multi-byte characters after ASCII, shorter prefixes first.
	ids := []string{"B", "a", "aa", "ab", "b", "z", "é", "ö", "日本", "🐦"}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("test ids must be listed in byte order")
	}
	var want []streamproc.Item
	for _, id := range ids {
		want = append(want, ev("alice", id, "Message", "m-"+id))
	}
	// Partitions whose names share a prefix with "alice" must not leak in.
	others := []streamproc.Item{ev("alic", "a"), ev("alicea", "a"), ev("alice ", "a"), ev("Alice", "a")}
	put(t, tbl, Events, shuffled(append(slices.Clone(want), others...))...)
	equalItems(t, "ascending", query(t, tbl, Events, streamproc.Query{Hash: "alice"}), want)
	equalItems(t, "descending", query(t, tbl, Events, streamproc.Query{Hash: "alice", Descending: true}), reversed(want))
	equalItems(t, "other partition", query(t, tbl, Events, streamproc.Query{Hash: "alic"}), []streamproc.Item{ev("alic", "a")})
	if got := query(t, tbl, Events, streamproc.Query{Hash: "nobody"}); len(got) != 0 {
		t.Fatalf("query of an empty partition returned %v", got)
	}
}

func (s suite) queryNumberOrder(t *testing.T) {
	tbl := s.table(t, Numbers)
	// Inputs in canonical form; numeric order, not string order.
	nums := []any{
		streamproc.Number("-18446744073709551616"), streamproc.Number("-9007199254740993"), streamproc.Number("-100"),
		streamproc.Number("-9.5"), int64(-9), streamproc.Number("-0.001"), 0, streamproc.Number("0.000000000000000000000000000001"),
		streamproc.Number("0.001"), streamproc.Number("0.5"), 1, streamproc.Number("1.5"), streamproc.Number("2"), streamproc.Number("10"),
		streamproc.Number("99"), streamproc.Number("100"), streamproc.Number("9007199254740992"), streamproc.Number("9007199254740993"),
		uint64(math.MaxUint64), streamproc.Number("100000000000000000000000000000000000000"),
	}
	wantN := []streamproc.Number{
		"-18446744073709551616", "-9007199254740993", "-100", "-9.5", "-9", "-0.001", "0", "0.000000000000000000000000000001",
		"0.001", "0.5", "1", "1.5", "2", "10", "99", "100", "9007199254740992", "9007199254740993",
		"18446744073709551615", "100000000000000000000000000000000000000",
	}
	var in, want []streamproc.Item
	for i, n := range nums {
		in = append(in, streamproc.Item{"P": "p", "N": n})
		want = append(want, streamproc.Item{"P": "p", "N": wantN[i]})
	}
	put(t, tbl, Numbers, shuffled(in)...)
	equalItems(t, "ascending", query(t, tbl, Numbers, streamproc.Query{Hash: "p"}), want)
	equalItems(t, "descending", query(t, tbl, Numbers, streamproc.Query{Hash: "p", Descending: true}), reversed(want))
	equalItems(t, "limit 3", query(t, tbl, Numbers, streamproc.Query{Hash: "p", Limit: 3}), want[:3])
	got := mustGet(t, tbl, Numbers, streamproc.Item{"P": "p", "N": streamproc.Number("9007199254740993")})
	equalItem(t, "Get 2^53+1", got, streamproc.Item{"P": "p", "N": streamproc.Number("9007199254740993")})
	got = mustGet(t, tbl, Numbers, streamproc.Item{"P": "p", "N": -9})
	equalItem(t, "Get by Go int", got, streamproc.Item{"P": "p", "N": streamproc.Number("-9")})
}

func (s suite) queryBinaryOrder(t *testing.T) {
	tbl := s.table(t, Binary)
	keys := [][]byte{{0x00}, {0x00, 0x00}, {0x00, 0x01}, {0x01}, {0x7f}, {0x80}, {0xff}, {0xff, 0x00}, {0xff, 0xff}}
	var want []streamproc.Item
	for _, k := range keys {
		want = append(want, streamproc.Item{"H": []byte("h"), "R": k})
	}
	others := []streamproc.Item{{"H": []byte("h\x00"), "R": []byte{1}}, {"H": []byte("hh"), "R": []byte{1}}}
	put(t, tbl, Binary, shuffled(append(slices.Clone(want), others...))...)
	equalItems(t, "ascending", query(t, tbl, Binary, streamproc.Query{Hash: []byte("h")}), want)
	equalItems(t, "descending", query(t, tbl, Binary, streamproc.Query{Hash: []byte("h"), Descending: true}), reversed(want))
	equalItem(t, "Get", mustGet(t, tbl, Binary, streamproc.Item{"H": []byte("h"), "R": []byte{0x00, 0x01}}), want[2])
}

func (s suite) queryPrefixDescendingLimit(t *testing.T) {
	tbl := s.table(t, Events)
	ids := []string{"2024-01-01#a", "2024-01-01#b", "2024-01-02#a", "2024-02-01#a", "2024-02-01#b", "2025-01-01#a"}
	var items []streamproc.Item
	for _, id := range ids {
		items = append(items, ev("bob", id))
	}
	put(t, tbl, Events, shuffled(append(slices.Clone(items), ev("bobby", "2024-01-01#a"), ev("bo", "2024-01-01#a")))...)
	pick := func(idx ...int) []streamproc.Item {
		var out []streamproc.Item
		for _, i := range idx {
			out = append(out, items[i])
		}
		return out
	}
	tests := []struct {
		name string
		q    streamproc.Query
		want []streamproc.Item
	}{
		{"all", streamproc.Query{Hash: "bob"}, pick(0, 1, 2, 3, 4, 5)},
		{"descending", streamproc.Query{Hash: "bob", Descending: true}, pick(5, 4, 3, 2, 1, 0)},
		{"limit", streamproc.Query{Hash: "bob", Limit: 2}, pick(0, 1)},
		{"limit descending", streamproc.Query{Hash: "bob", Limit: 2, Descending: true}, pick(5, 4)},
		{"limit above count", streamproc.Query{Hash: "bob", Limit: 100}, pick(0, 1, 2, 3, 4, 5)},
		{"prefix", streamproc.Query{Hash: "bob", RangePrefix: "2024-01"}, pick(0, 1, 2)},
		{"prefix descending", streamproc.Query{Hash: "bob", RangePrefix: "2024-01", Descending: true}, pick(2, 1, 0)},
		{"prefix limit descending", streamproc.Query{Hash: "bob", RangePrefix: "2024-02", Descending: true, Limit: 1}, pick(4)},
		{"prefix is a whole key", streamproc.Query{Hash: "bob", RangePrefix: "2024-02-01#a"}, pick(3)},
		{"prefix matches nothing", streamproc.Query{Hash: "bob", RangePrefix: "2023"}, nil},
		{"prefix past every key", streamproc.Query{Hash: "bob", RangePrefix: "2025-01-01#a~"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			equalItems(t, fmt.Sprintf("Query(%+v)", tc.q), query(t, tbl, Events, tc.q), tc.want)
		})
	}
}

func (s suite) hashOnlyTable(t *testing.T) {
	tbl := s.table(t, Counters)
	put(t, tbl, Counters, streamproc.Item{"K": "a", "V": "1"}, streamproc.Item{"K": "b", "V": "2"})
	put(t, tbl, Counters, streamproc.Item{"K": "a", "W": "3"})
	equalItem(t, "replaced", mustGet(t, tbl, Counters, streamproc.Item{"K": "a"}), streamproc.Item{"K": "a", "W": "3"})
	equalItems(t, "Query", query(t, tbl, Counters, streamproc.Query{Hash: "b"}), []streamproc.Item{{"K": "b", "V": "2"}})
	if got := scanAll(t, tbl, Counters, 1, "K"); len(got) != 2 {
		t.Fatalf("scan found %d items, want 2", len(got))
	}
}

func (s suite) scanPagination(t *testing.T) {
	tbl := s.table(t, Events)
	var items []streamproc.Item
	for u := range 10 {
		for i := range 5 + u*3 {
			items = append(items, ev(fmt.Sprintf("user%d", u), fmt.Sprintf("%04d", i), "Message", strings.Repeat("m", i)))
		}
	}
	put(t, tbl, Events, shuffled(items)...)
	want := map[string]streamproc.Item{}
	for _, it := range items {
		want[it["Username"].(string)+"/"+it["Id"].(string)] = it
	}
	for _, limit := range []int{1, 2, 7, 50, len(items) - 1, len(items), len(items) + 1, 0} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			seen := map[string]bool{}
			for _, it := range scanAll(t, tbl, Events, limit, "Username", "Id") {
				k := it["Username"].(string) + "/" + it["Id"].(string)
				if seen[k] {
					t.Fatalf("item %s returned twice", k)
				}
				seen[k] = true
				equalItem(t, "scanned item "+k, it, want[k])
			}
			if len(seen) != len(want) {
				t.Fatalf("scan returned %d distinct items, want %d", len(seen), len(want))
			}
		})
	}
}

func (s suite) scanEmpty(t *testing.T) {
	tbl := s.table(t, Events)
	p, err := tbl.Scan(context.Background(), Events, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 0 || p.LastKey != nil {
		t.Fatalf("scan of an empty table = %+v", p)
	}
}

func (s suite) add(t *testing.T) {
	tbl := s.table(t, Counters, Events)
	ctx := context.Background()
	steps := []struct {
		key   string
		delta int64
		want  int64
	}{
		{"c1", 5, 5},
		{"c1", -2, 3},
		{"c1", 0, 3},
		{"c2", -7, -7},
		{"c1", math.MaxInt64 - 3, math.MaxInt64},
	}
	for _, st := range steps {
		got, err := tbl.Add(ctx, Counters, streamproc.Item{"K": st.key}, "N", st.delta)
		if err != nil {
			t.Fatalf("Add(%s, %d): %v", st.key, st.delta, err)
		}
		if got != st.want {
			t.Fatalf("Add(%s, %d) = %d, want %d", st.key, st.delta, got, st.want)
		}
	}
	equalItem(t, "created item", mustGet(t, tbl, Counters, streamproc.Item{"K": "c2"}), streamproc.Item{"K": "c2", "N": streamproc.Number("-7")})

	// Add keeps the item's other attributes, and works on a composite key.
	put(t, tbl, Events, ev("alice", "1", "Message", "hi", "Likes", 10))
	if got, err := tbl.Add(ctx, Events, ev("alice", "1"), "Likes", 1); err != nil || got != 11 {
		t.Fatalf("Add = %d, %v; want 11", got, err)
	}
	if got, err := tbl.Add(ctx, Events, ev("alice", "1"), "Shares", 2); err != nil || got != 2 {
		t.Fatalf("Add of a new attribute = %d, %v; want 2", got, err)
	}
	equalItem(t, "item after Add", mustGet(t, tbl, Events, ev("alice", "1")),
		ev("alice", "1", "Message", "hi", "Likes", streamproc.Number("11"), "Shares", streamproc.Number("2")))
}

func (s suite) addErrors(t *testing.T) {
	tbl := s.table(t, Counters)
	ctx := context.Background()
	put(t, tbl, Counters, streamproc.Item{"K": "s", "Name": "text"})
	tests := []struct {
		name  string
		key   streamproc.Item
		attr  string
		delta int64
	}{
		{"key attribute", streamproc.Item{"K": "s"}, "K", 1},
		{"string attribute", streamproc.Item{"K": "s"}, "Name", 1},
		{"missing key attribute", streamproc.Item{}, "N", 1},
		{"wrong key type", streamproc.Item{"K": 1}, "N", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tbl.Add(ctx, Counters, tc.key, tc.attr, tc.delta); !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("err = %v, want one wrapping ErrInvalid", err)
			}
		})
	}
	equalItem(t, "item after failed Adds", mustGet(t, tbl, Counters, streamproc.Item{"K": "s"}),
		streamproc.Item{"K": "s", "Name": "text"})
}

func (s suite) addConcurrent(t *testing.T) {
	tbl := s.table(t, Counters)
	ctx := context.Background()
	const workers, each = 8, 10
	results := make(chan int64, workers*each)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n, err := tbl.Add(ctx, Counters, streamproc.Item{"K": "hot"}, "N", 1)
				if err != nil {
					errs <- err
					return
				}
				results <- n
				// Interleave puts of other keys and Adds of a second
				// attribute, which must not disturb the counter.
				if i%3 == 0 {
					if _, err := tbl.BatchPut(ctx, Counters, []streamproc.Item{{"K": fmt.Sprintf("w%d-%d", w, i)}}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Linearizable increments hand out every value from 1 to n exactly once.
	var got []int64
	for n := range results {
		got = append(got, n)
	}
	slices.Sort(got)
	for i, n := range got {
		if n != int64(i+1) {
			t.Fatalf("Add results %v: want each of 1..%d exactly once", got, workers*each)
		}
	}
	equalItem(t, "counter", mustGet(t, tbl, Counters, streamproc.Item{"K": "hot"}),
		streamproc.Item{"K": "hot", "N": streamproc.Number(fmt.Sprint(workers * each))})
}

func (s suite) bigNumbers(t *testing.T) {
	tbl := s.table(t, NumHash)
	tests := []struct {
		in   any
		want streamproc.Number
	}{
		{streamproc.Number("9007199254740993"), "9007199254740993"}, // 2^53+1: not a float64
		{streamproc.Number("9007199254740992"), "9007199254740992"},
		{int64(math.MaxInt64), "9223372036854775807"},
		{int64(math.MinInt64), "-9223372036854775808"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{streamproc.Number("12345678901234567890123456789012345678"), "12345678901234567890123456789012345678"},
		{streamproc.Number("-0.12345678901234567890123456789012345678"), "-0.12345678901234567890123456789012345678"},
		{streamproc.Number("3.14159265358979323846264338327950288"), "3.14159265358979323846264338327950288"},
	}
	var items []streamproc.Item
	for i, tc := range tests {
		// Both as hash key and as plain attribute.
		items = append(items, streamproc.Item{"K": tc.in, "V": tc.in, "I": i})
	}
	put(t, tbl, NumHash, items...)
	for i, tc := range tests {
		got := mustGet(t, tbl, NumHash, streamproc.Item{"K": tc.in})
		want := streamproc.Item{"K": tc.want, "V": tc.want, "I": streamproc.Number(fmt.Sprint(i))}
		equalItem(t, fmt.Sprintf("number %v", tc.in), got, want)
	}
	if got := scanAll(t, tbl, NumHash, 3, "K"); len(got) != len(tests) {
		t.Fatalf("scan found %d items, want %d (distinct big numbers must be distinct keys)", len(got), len(tests))
	}
}

func (s suite) utf8ByteExact(t *testing.T) {
	tbl := s.table(t, Events)
	texts := []string{
		"naïve café",
		"日本語のテキスト",
		"emoji 🐦🔥👩‍👩‍👧",
		"e\u0301",   // NFD é
		"\u00e9",    // NFC é: a different string, a different key
		"עברית RTL", // right to left
		"line\u2028sep\u2029para",
		"tab\tnewline\nquote\" backslash\\",
		"<b>&amp;</b>",
		"\ufeffbom",
		"replacement \ufffd char",
	}
	var items []streamproc.Item
	for _, s := range texts {
		items = append(items, ev("ü-ser", s, "Message", s+" / "+s))
	}
	put(t, tbl, Events, items...)
	for _, s := range texts {
		got := mustGet(t, tbl, Events, ev("ü-ser", s))
		if got["Id"] != s || got["Message"] != s+" / "+s {
			t.Fatalf("text %q came back as Id %q, Message %q", s, got["Id"], got["Message"])
		}
		if !bytes.Equal([]byte(got["Id"].(string)), []byte(s)) {
			t.Fatalf("key bytes changed: % x vs % x", got["Id"], s)
		}
	}
	if got := query(t, tbl, Events, streamproc.Query{Hash: "ü-ser"}); len(got) != len(texts) {
		t.Fatalf("query found %d items, want %d (NFC and NFD forms are distinct keys)", len(got), len(texts))
	}
}
