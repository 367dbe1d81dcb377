package dynamodb_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/dynamodb"
	"github.com/streamproc/streamproc/internal/emulator"
)

// env is one dynalite. direct talks to it; proxied goes through an
// emulator.Proxy with SDK retries off, so each injected fault is seen once.
type env struct {
	client  *awsddb.Client
	direct  *dynamodb.Table
	proxy   *emulator.Proxy
	proxied *dynamodb.Table
}

func setup(t *testing.T) env {
	t.Helper()
	ep := emulator.Dynalite(t)
	proxy := emulator.NewProxy(t, ep)
	proxy.Rewrite = unprocessedRewrite
	client := emulator.DynamoDBClient(ep)
	return env{
		client:  client,
		direct:  dynamodb.New(client),
		proxy:   proxy,
		proxied: dynamodb.New(emulator.DynamoDBClient(proxy.URL(), func(o *awsddb.Options) { o.Retryer = aws.NopRetryer{} })),
	}
}

// unprocessedRewrite makes the proxy answer BatchWriteItem as DynamoDB does
// under partial throttling, which dynalite never does: puts of items with
// the attribute Unprocessed=true are not forwarded (so not written) and come
// back in UnprocessedItems, in the request's shape, with HTTP 200.
func unprocessedRewrite(c *emulator.Call) (int, map[string]any) {
	if c.Op != "BatchWriteItem" {
		return c.Forward(c.Request)
	}
	reqItems, _ := c.Request["RequestItems"].(map[string]any)
	keep := map[string]any{}
	unprocessed := map[string]any{}
	for table, v := range reqItems {
		var k, u []any
		for _, wr := range v.([]any) {
			item, _ := wr.(map[string]any)["PutRequest"].(map[string]any)["Item"].(map[string]any)
			if flag, ok := item["Unprocessed"].(map[string]any); ok && flag["BOOL"] == true {
				u = append(u, wr)
			} else {
				k = append(k, wr)
			}
		}
		if len(k) > 0 {
			keep[table] = k
		}
		if len(u) > 0 {
			unprocessed[table] = u
		}
	}
	resp := map[string]any{"UnprocessedItems": map[string]any{}}
	if len(keep) > 0 {
		c.Request["RequestItems"] = keep
		var status int
		if status, resp = c.Forward(c.Request); status != http.StatusOK {
			return status, resp
		}
	}
	resp["UnprocessedItems"] = unprocessed
	return http.StatusOK, resp
}

var events = streamproc.TableSpec{Name: "Events", Key: streamproc.KeySchema{HashKey: "Username", HashType: "S", RangeKey: "Id", RangeType: "S"}}

// TestBatchPutUnprocessed: items DynamoDB leaves unprocessed come back as
// items, converted to the types reads return, and were not written; the
// rest were.
func TestBatchPutUnprocessed(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	item := func(id string, unprocessed bool) streamproc.Item {
		return streamproc.Item{"Username": "u", "Id": id, "Count": 7, "Tags": []string{"a", "b"}, "Unprocessed": unprocessed}
	}
	// What an item reads back as: numbers as Number, lists as []any.
	stored := func(id string, unprocessed bool) streamproc.Item {
		return streamproc.Item{"Username": "u", "Id": id, "Count": streamproc.Number("7"), "Tags": []any{"a", "b"}, "Unprocessed": unprocessed}
	}
	tests := []struct {
		name     string
		unproc   []bool // per item: left unprocessed
		wantBack []int  // indexes of the items returned
	}{
		{"some", []bool{false, true, false, true}, []int{1, 3}},
		{"all", []bool{true, true}, []int{0, 1}},
		{"none", []bool{false, false, false}, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			createTables(t, e.client, events)
			var items []streamproc.Item
			for j, u := range tc.unproc {
				items = append(items, item(fmt.Sprintf("%d-%d", i, j), u))
			}
			un, err := e.proxied.BatchPut(ctx, events.Name, items)
			if err != nil {
				t.Fatal(err)
			}
			var want []streamproc.Item
			for _, j := range tc.wantBack {
				want = append(want, stored(items[j]["Id"].(string), true))
			}
			if !reflect.DeepEqual(un, want) {
				t.Fatalf("unprocessed = %#v\nwant %#v", un, want)
			}
			for j, it := range items {
				got, ok, err := e.direct.Get(ctx, events.Name, streamproc.Item{"Username": "u", "Id": it["Id"]})
				if err != nil {
					t.Fatal(err)
				}
				if ok == tc.unproc[j] {
					t.Fatalf("item %d (unprocessed %v) found = %v: %v", j, tc.unproc[j], ok, got)
				}
			}
			// The returned items are ready to be sent again as they are.
			if len(un) > 0 {
				if again, err := e.direct.BatchPut(ctx, events.Name, un); err != nil || len(again) != 0 {
					t.Fatalf("re-sending unprocessed items: %v, %v", again, err)
				}
				got, _, err := e.direct.Get(ctx, events.Name, streamproc.Item{"Username": "u", "Id": un[0]["Id"]})
				if err != nil || !reflect.DeepEqual(got, un[0]) {
					t.Fatalf("after re-sending: %v, %v; want %v", got, err, un[0])
				}
			}
		})
	}
}

// TestQueryPagination: Query follows LastEvaluatedKey across DynamoDB's
// 1 MB pages until the partition ends or Limit items are collected.
func TestQueryPagination(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	createTables(t, e.client, events)
	// 30 items of ~100 KB: about 3 MB, so at least three pages.
	const n = 30
	big := strings.Repeat("x", 100<<10)
	var ids []string
	for i := range n {
		id := fmt.Sprintf("2024-%02d", i)
		ids = append(ids, id)
		if un, err := e.direct.BatchPut(ctx, events.Name, []streamproc.Item{{"Username": "u", "Id": id, "Big": big}}); err != nil || len(un) > 0 {
			t.Fatalf("BatchPut: %v, %v", un, err)
		}
	}
	if un, err := e.direct.BatchPut(ctx, events.Name, []streamproc.Item{{"Username": "other", "Id": "2024-00"}}); err != nil || len(un) > 0 {
		t.Fatalf("BatchPut: %v, %v", un, err)
	}
	rev := func(s []string) []string {
		out := make([]string, len(s))
		for i, v := range s {
			out[len(s)-1-i] = v
		}
		return out
	}
	tests := []struct {
		name      string
		q         streamproc.Query
		want      []string
		wantPages int // at least
	}{
		{"whole partition", streamproc.Query{Hash: "u"}, ids, 3},
		{"whole partition descending", streamproc.Query{Hash: "u", Descending: true}, rev(ids), 3},
		{"limit across pages", streamproc.Query{Hash: "u", Limit: 25}, ids[:25], 3},
		{"limit descending", streamproc.Query{Hash: "u", Limit: 12, Descending: true}, rev(ids)[:12], 2},
		{"limit within a page", streamproc.Query{Hash: "u", Limit: 3}, ids[:3], 1},
		{"prefix across pages", streamproc.Query{Hash: "u", RangePrefix: "2024-1"}, ids[10:20], 1},
		{"limit above count", streamproc.Query{Hash: "u", Limit: 100}, ids, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.proxy.Requests("Query"))
			items, err := e.proxied.Query(ctx, events.Name, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it["Id"].(string))
				if it["Big"] != big {
					t.Fatalf("item %s lost its attribute", it["Id"])
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Query(%+v) ids %v\nwant %v", tc.q, got, tc.want)
			}
			if pages := len(e.proxy.Requests("Query")) - before; pages < tc.wantPages {
				t.Fatalf("%d Query calls, want at least %d", pages, tc.wantPages)
			}
		})
	}
}

// TestErrors: failures map to the streamproc kinds and name the table.
func TestErrors(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	numbers := streamproc.TableSpec{Name: "Numbers", Key: streamproc.KeySchema{HashKey: "P", HashType: "S", RangeKey: "N", RangeType: "N"}}
	counters := streamproc.TableSpec{Name: "Counters", Key: streamproc.KeySchema{HashKey: "K", HashType: "S"}}
	createTables(t, e.client, events, numbers, counters)
	key := streamproc.Item{"Username": "u", "Id": "1"}
	if _, err := e.proxied.Query(ctx, events.Name, streamproc.Query{Hash: "u"}); err != nil {
		t.Fatal(err) // caches the key schema, so faults hit the Query itself
	}
	ops := map[string]func() error{
		"BatchPut": func() error { _, err := e.proxied.BatchPut(ctx, events.Name, []streamproc.Item{key}); return err },
		"Get":      func() error { _, _, err := e.proxied.Get(ctx, events.Name, key); return err },
		"Query":    func() error { _, err := e.proxied.Query(ctx, events.Name, streamproc.Query{Hash: "u"}); return err },
		"Scan":     func() error { _, err := e.proxied.Scan(ctx, events.Name, nil, 10); return err },
		"Add":      func() error { _, err := e.proxied.Add(ctx, events.Name, key, "N", 1); return err },
	}
	type tcase struct {
		name   string
		faults []emulator.Fault
		call   func() error
		want   error // nil: none of the three kinds
		names  string
	}
	var tests []tcase
	for _, f := range []struct {
		fault emulator.Fault
		want  error
	}{
		{emulator.Fault{Status: 400, Code: "ProvisionedThroughputExceededException"}, streamproc.ErrUnavailable},
		{emulator.Fault{Status: 400, Code: "ThrottlingException"}, streamproc.ErrUnavailable},
		{emulator.Fault{Status: 400, Code: "RequestLimitExceeded"}, streamproc.ErrUnavailable},
		{emulator.Fault{Status: 500, Code: "InternalServerError"}, streamproc.ErrUnavailable},
		{emulator.Fault{Status: 503}, streamproc.ErrUnavailable},
		{emulator.Fault{Status: 400, Code: "ValidationException"}, streamproc.ErrInvalid},
		{emulator.Fault{Status: 400, Code: "ResourceNotFoundException"}, streamproc.ErrNotFound},
		{emulator.Fault{Status: 400, Code: "AccessDeniedException"}, nil},
	} {
		for _, op := range []string{"BatchPut", "Get", "Query", "Scan", "Add"} {
			code := f.fault.Code
			if code == "" {
				code = "HTML"
			}
			tests = append(tests, tcase{name: op + " " + code, faults: []emulator.Fault{f.fault}, call: ops[op], want: f.want, names: events.Name})
		}
	}
	tests = append(tests,
		tcase{name: "RangePrefix on a number range key", call: func() error {
			_, err := e.proxied.Query(ctx, numbers.Name, streamproc.Query{Hash: "p", RangePrefix: "1"})
			return err
		}, want: streamproc.ErrInvalid, names: numbers.Name},
		tcase{name: "RangePrefix without a range key", call: func() error {
			_, err := e.proxied.Query(ctx, counters.Name, streamproc.Query{Hash: "k", RangePrefix: "a"})
			return err
		}, want: streamproc.ErrInvalid, names: counters.Name},
		tcase{name: "Query missing table", call: func() error {
			_, err := e.proxied.Query(ctx, "Missing", streamproc.Query{Hash: "k"})
			return err
		}, want: streamproc.ErrNotFound, names: "Missing"},
		tcase{name: "unsupported value type", call: func() error {
			_, err := e.proxied.BatchPut(ctx, events.Name, []streamproc.Item{{"Username": "u", "Id": "1", "M": map[string]any{"x": struct{}{}}}})
			return err
		}, want: streamproc.ErrInvalid, names: "M.x"},
		tcase{name: "NaN", call: func() error {
			_, err := e.proxied.BatchPut(ctx, events.Name, []streamproc.Item{{"Username": "u", "Id": "1", "F": math.NaN()}})
			return err
		}, want: streamproc.ErrInvalid, names: "F"},
		tcase{name: "negative scan limit", call: func() error {
			_, err := e.proxied.Scan(ctx, events.Name, nil, -1)
			return err
		}, want: streamproc.ErrInvalid, names: events.Name},
		tcase{name: "Add result beyond int64", call: func() error {
			if _, err := e.direct.Add(ctx, counters.Name, streamproc.Item{"K": "big"}, "N", math.MaxInt64); err != nil {
				return err
			}
			_, err := e.proxied.Add(ctx, counters.Name, streamproc.Item{"K": "big"}, "N", 1)
			return err
		}, want: streamproc.ErrInvalid, names: "9223372036854775808"},
	)
	kinds := []error{streamproc.ErrNotFound, streamproc.ErrInvalid, streamproc.ErrUnavailable}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.proxy.Queue(tc.faults...)
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			for _, k := range kinds {
				if got, want := errors.Is(err, k), k == tc.want; got != want {
					t.Fatalf("errors.Is(%v, %v) = %v, want %v", err, k, got, want)
				}
			}
			if !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("error %q does not name %q", err, tc.names)
			}
		})
	}
}

// TestSchemaRefresh: the cached key schema is dropped when a call fails, so
// a table recreated with another key works again on the next call.
func TestSchemaRefresh(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	tbl := dynamodb.New(e.client)
	first := streamproc.TableSpec{Name: "Recreated", Key: streamproc.KeySchema{HashKey: "H", HashType: "S", RangeKey: "Id", RangeType: "S"}}
	second := streamproc.TableSpec{Name: "Recreated", Key: streamproc.KeySchema{HashKey: "H", HashType: "S", RangeKey: "Ts", RangeType: "S"}}
	t.Run("first", func(t *testing.T) {
		createTables(t, e.client, first)
		if _, err := tbl.Query(ctx, "Recreated", streamproc.Query{Hash: "h", RangePrefix: "a"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("recreated", func(t *testing.T) {
		createTables(t, e.client, second)
		if un, err := tbl.BatchPut(ctx, "Recreated", []streamproc.Item{{"H": "h", "Ts": "a1"}}); err != nil || len(un) > 0 {
			t.Fatalf("BatchPut: %v, %v", un, err)
		}
		// The stale schema names the old range key: DynamoDB rejects that.
		if _, err := tbl.Query(ctx, "Recreated", streamproc.Query{Hash: "h", RangePrefix: "a"}); !errors.Is(err, streamproc.ErrInvalid) {
			t.Fatalf("query with the stale schema: %v, want ErrInvalid", err)
		}
		items, err := tbl.Query(ctx, "Recreated", streamproc.Query{Hash: "h", RangePrefix: "a"})
		if err != nil || len(items) != 1 {
			t.Fatalf("query after the refresh: %v, %v; want the one item", items, err)
		}
	})
}

// TestCreateTable: creating an existing table with the same key schema is a
// no-op; with another key schema it is ErrInvalid.
func TestCreateTable(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	createTables(t, e.client, events)
	if err := dynamodb.CreateTable(ctx, e.client, events, 10*time.Second); err != nil {
		t.Fatalf("same schema again: %v", err)
	}
	other := events
	other.Key.RangeKey = "Other"
	if err := dynamodb.CreateTable(ctx, e.client, other, 10*time.Second); !errors.Is(err, streamproc.ErrInvalid) {
		t.Fatalf("other schema: %v, want ErrInvalid", err)
	}
}

// TestNumbersRoundTrip: Go numbers are written exactly and read back in the
// canonical form DynamoDB stores.
func TestNumbersRoundTrip(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	createTables(t, e.client, events)
	tests := []struct {
		in   any
		want streamproc.Number
	}{
		{1.5, "1.5"},
		{float32(1.1), "1.1"},
		{-2.25, "-2.25"},
		{0.0, "0"},
		{1e21, "1000000000000000000000"},
		{1.25e-7, "0.000000125"},
		{math.MaxInt64, "9223372036854775807"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{int8(-128), "-128"},
		{streamproc.Number("1.50"), "1.5"},
		{streamproc.Number("-0"), "0"},
		{streamproc.Number("1E+2"), "100"},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%T %v", tc.in, tc.in), func(t *testing.T) {
			id := fmt.Sprint(i)
			if un, err := e.direct.BatchPut(ctx, events.Name, []streamproc.Item{{"Username": "n", "Id": id, "V": tc.in}}); err != nil || len(un) > 0 {
				t.Fatalf("BatchPut: %v, %v", un, err)
			}
			got, _, err := e.direct.Get(ctx, events.Name, streamproc.Item{"Username": "n", "Id": id})
			if err != nil {
				t.Fatal(err)
			}
			if got["V"] != tc.want {
				t.Fatalf("%v read back as %#v, want %#v", tc.in, got["V"], tc.want)
			}
		})
	}
}
