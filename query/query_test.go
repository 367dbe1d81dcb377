package query

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stack"
	"github.com/streamproc/streamproc/queries"
	"github.com/streamproc/streamproc/source/synthetic"
	"github.com/streamproc/streamproc/tweet"
)

// now is the clock of the generated data: the named queries look at the
// last hour, so the data is stamped just before the wall clock.
var now = time.Now().UTC().Add(-time.Minute).Truncate(time.Second)

// condensed returns n condensed records of synthetic tweets, as the
// transformer writes them, and the tweets.
func condensed(t *testing.T, n int, seed int64) ([]byte, []*tweet.Tweet) {
	t.Helper()
	gen := synthetic.New(synthetic.Options{Seed: seed, DeleteRate: -1, Now: func() time.Time { return now }})
	var out []byte
	var tws []*tweet.Tweet
	for len(tws) < n {
		msg, err := tweet.Decode(gen.Next().Raw)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Kind != tweet.KindTweet {
			continue
		}
		out = msg.Tweets[0].AppendCondensed(out)
		tws = append(tws, &msg.Tweets[0])
	}
	return out, tws
}

func writeObject(t *testing.T, bucket, key string, body []byte, gz bool) {
	t.Helper()
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		body = buf.Bytes()
	}
	p := filepath.Join(bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
}

func envelope(t *testing.T, raw []byte) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"attemptsMade": 1, "arrivalTimestamp": 1764150000000, "errorCode": "Lambda.ProcessingFailedStatus",
		"errorMessage": "not JSON", "attemptEndingTimestamp": 1764150001000,
		"rawData": base64.StdEncoding.EncodeToString(raw), "lambdaArn": "arn:aws:lambda:us-east-1:000000000000:function:streamproc-FirehoseTransformer",
	})
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// memTable is a streamproc.Table over fixed items, two per scan page so
// paging is exercised; a table not in it is ErrNotFound.
type memTable map[string][]streamproc.Item

func (m memTable) Scan(_ context.Context, table string, start streamproc.Item, _ int) (streamproc.Page, error) {
	items, ok := m[table]
	if !ok {
		return streamproc.Page{}, fmt.Errorf("table %s: %w", table, streamproc.ErrNotFound)
	}
	i := 0
	if start != nil {
		i = int(start["i"].(streamproc.Number)[0] - '0')
	}
	end := min(i+2, len(items))
	p := streamproc.Page{Items: items[i:end]}
	if end < len(items) {
		p.LastKey = streamproc.Item{"i": streamproc.Number(fmt.Sprint(end))}
	}
	return p, nil
}

func (m memTable) BatchPut(context.Context, string, []streamproc.Item) ([]streamproc.Item, error) {
	return nil, errors.ErrUnsupported
}
func (m memTable) Get(context.Context, string, streamproc.Item) (streamproc.Item, bool, error) {
	return nil, false, errors.ErrUnsupported
}
func (m memTable) Query(context.Context, string, streamproc.Query) ([]streamproc.Item, error) {
	return nil, errors.ErrUnsupported
}
func (m memTable) Add(context.Context, string, streamproc.Item, string, int64) (int64, error) {
	return 0, errors.ErrUnsupported
}

var eventDataSpec = tweet.EventDataSpec("streamproc-EventData")

var trendsSpec = streamproc.TableSpec{Name: "streamproc-Trends", Key: streamproc.KeySchema{HashKey: "Window", HashType: "S", RangeKey: "Hashtag", RangeType: "S"}}

func open(t *testing.T, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func one(t *testing.T, db *DB, sql string) any {
	t.Helper()
	res, err := db.Query(context.Background(), sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 1 {
		t.Fatalf("%s: want one value, got %v", sql, res.Rows)
	}
	return res.Rows[0][0]
}

func columns(t *testing.T, db *DB, view string) []Column {
	t.Helper()
	res, err := db.Query(context.Background(), "SELECT * FROM "+view+" LIMIT 0")
	if err != nil {
		t.Fatal(err)
	}
	return res.Columns
}

var wantRecords = []Column{
	{"created_at", "TIMESTAMP"}, {"id", "BIGINT"}, {"text", "VARCHAR"}, {"user_name", "VARCHAR"},
	{"user_screen_name", "VARCHAR"}, {"source", "VARCHAR"}, {"retweet_count", "BIGINT"}, {"favorite_count", "BIGINT"},
	{"lang", "VARCHAR"}, {"verified", "BOOLEAN"}, {"hashtags", "VARCHAR[]"}, {"datehour", "VARCHAR"},
}

var wantErrors = []Column{
	{"attemptsmade", "BIGINT"}, {"arrivaltimestamp", "BIGINT"}, {"errorcode", "VARCHAR"}, {"errormessage", "VARCHAR"},
	{"attemptendingtimestamp", "BIGINT"}, {"rawdata", "VARCHAR"}, {"lambdaarn", "VARCHAR"}, {"datehour", "VARCHAR"},
	{"rawdata_text", "VARCHAR"},
}

// The views have the Glue tables' columns and types whether or not
// anything was delivered, and every named query binds and runs on them.
func TestViewsWithAndWithoutData(t *testing.T) {
	full := t.TempDir()
	lines, _ := condensed(t, 10, 1)
	writeObject(t, full, "tweets/2026/11/26/10/s-1-2026-11-26-10-00-00-a", lines, false)
	writeObject(t, full, "errors/processing-failed/2026/11/26/10/s-1-2026-11-26-10-00-00-b", envelope(t, []byte("x")), false)
	for _, tc := range []struct {
		name    string
		bucket  string
		records int64
	}{
		{"no bucket dir", "", 0},
		{"bucket without objects", t.TempDir(), 0},
		{"bucket with objects", full, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t, Options{BucketDir: tc.bucket, Tables: memTable{}, TableSpecs: []TableSource{{"eventdata", eventDataSpec}, {"trends", trendsSpec}}})
			if got := columns(t, db, "records"); !reflect.DeepEqual(got, wantRecords) {
				t.Errorf("records columns = %v\nwant %v", got, wantRecords)
			}
			if got := columns(t, db, "errors"); !reflect.DeepEqual(got, wantErrors) {
				t.Errorf("errors columns = %v\nwant %v", got, wantErrors)
			}
			if got := one(t, db, "SELECT count(*) FROM records"); got != tc.records {
				t.Errorf("count = %v, want %d", got, tc.records)
			}
			// Empty tables (memTable has none: ErrNotFound) still have their key columns.
			if got := columns(t, db, "eventdata"); !reflect.DeepEqual(got, []Column{{"Username", "VARCHAR"}, {"Id", "VARCHAR"}}) {
				t.Errorf("eventdata columns = %v", got)
			}
			all, err := queries.All()
			if err != nil || len(all) == 0 {
				t.Fatalf("named queries: %v %v", all, err)
			}
			for _, q := range all {
				if _, err := db.Query(context.Background(), q.SQL); err != nil {
					t.Errorf("named query %s: %v", q.Name, err)
				}
			}
		})
	}
}

// Plain and gzip objects read alike (gzip is recognised by its bytes, not
// its name), datehour is the object's partition path, and what Athena
// would not read — files outside a yyyy/MM/dd/HH directory, Hive's hidden
// files, fileblob's temporary files — is not read here either.
func TestRecordsObjects(t *testing.T) {
	bucket := t.TempDir()
	a, tws := condensed(t, 30, 2)
	split := len(a) / 2
	split += bytes.IndexByte(a[split:], '\n') + 1
	writeObject(t, bucket, "tweets/2026/11/26/10/s-1-2026-11-26-10-00-00-plain", a[:split], false)
	writeObject(t, bucket, "tweets/2026/11/26/11/s-1-2026-11-26-11-00-00-zipped.gz", a[split:], true)
	writeObject(t, bucket, "tweets/2026/11/26/11/s-1-2026-11-26-11-05-00-noext", a[:split], true)
	writeObject(t, bucket, "tweets/2026/11/26/11/s-1-x.18b2c3.tmp", []byte("half an obj"), false)
	writeObject(t, bucket, "tweets/2026/11/26/11/_SUCCESS", []byte("junk"), false)
	writeObject(t, bucket, "tweets/2026/11/26/11/.hidden", []byte("junk"), false)
	writeObject(t, bucket, "tweets/stray-object", []byte("junk"), false)
	writeObject(t, bucket, "tweets/2026/11/26/12/empty", nil, false)
	db := open(t, Options{BucketDir: bucket})

	firstHalf := int64(bytes.Count(a[:split], []byte("\n")))
	if got := one(t, db, "SELECT count(*) FROM records"); got != int64(len(tws))+firstHalf {
		t.Errorf("count = %v, want %d", got, int64(len(tws))+firstHalf)
	}
	res, err := db.Query(context.Background(), "SELECT datehour, count(*) FROM records GROUP BY 1 ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]any{{"2026/11/26/10", firstHalf}, {"2026/11/26/11", int64(len(tws))}}
	if !reflect.DeepEqual(res.Rows, want) {
		t.Errorf("per datehour = %v, want %v", res.Rows, want)
	}
	// One record, field by field, against the tweet it came from.
	tw := tws[len(tws)-1]
	res, err = db.Query(context.Background(), fmt.Sprintf("SELECT created_at, id, text, user_name, user_screen_name, source, retweet_count, favorite_count, lang, verified, hashtags FROM records WHERE id = %d AND datehour = '2026/11/26/11'", tw.ID))
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("record %d: %v %v", tw.ID, res, err)
	}
	var tags []any
	for _, h := range tw.Hashtags {
		tags = append(tags, h)
	}
	if tags == nil {
		tags = []any{}
	}
	wantRow := []any{tw.CreatedAt.UTC().Truncate(time.Second), tw.ID, tw.Text, tw.User.Name, tw.User.ScreenName, tw.Source,
		tw.RetweetCount, tw.FavoriteCount, tw.Lang, tw.User.Verified, tags}
	if !reflect.DeepEqual(res.Rows[0], wantRow) {
		t.Errorf("record = %#v\nwant     %#v", res.Rows[0], wantRow)
	}
	if v := db.Views(); v[0].Source != "4 objects under tweets/" {
		t.Errorf("Views()[0] = %+v", v[0])
	}
}

// Objects delivered under a prefix no Glue location covers are counted, so
// the CLI can say why records is empty; those under a location are not.
func TestElsewhere(t *testing.T) {
	bucket := t.TempDir()
	a, _ := condensed(t, 3, 1)
	writeObject(t, bucket, "raw/2026/11/26/10/s-1-2026-11-26-10-00-00-a", a, false)
	writeObject(t, bucket, "raw/2026/11/26/10/s-1-x.18b2c3.tmp", a, false)
	writeObject(t, bucket, "tweets/2026/11/26/10/s-1-2026-11-26-10-00-00-b", a, false)
	writeObject(t, bucket, "errors/processing-failed/2026/11/26/10/s-1-c", []byte("{}\n"), false)
	db := open(t, Options{BucketDir: bucket})
	if n := db.Elsewhere(); n != 1 {
		t.Errorf("Elsewhere() = %d, want 1 (raw/…/a)", n)
	}
}

// Refresh makes objects delivered after Open visible.
func TestRefresh(t *testing.T) {
	bucket := t.TempDir()
	db := open(t, Options{BucketDir: bucket})
	if got := one(t, db, "SELECT count(*) FROM records"); got != int64(0) {
		t.Fatalf("count = %v", got)
	}
	lines, _ := condensed(t, 5, 3)
	writeObject(t, bucket, "tweets/2026/11/26/10/s-1-x", lines, false)
	if got := one(t, db, "SELECT count(*) FROM records"); got != int64(0) {
		t.Errorf("count before Refresh = %v", got)
	}
	if err := db.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := one(t, db, "SELECT count(*) FROM records"); got != int64(5) {
		t.Errorf("count after Refresh = %v", got)
	}
}

// rawdata stays base64 as on Athena; rawdata_text decodes it when it is
// UTF-8 and is NULL when it is not.
func TestErrorsView(t *testing.T) {
	bucket := t.TempDir()
	body := append(envelope(t, []byte("not json at all")), envelope(t, []byte{0xff, 0xfe, 0x00})...)
	writeObject(t, bucket, "errors/processing-failed/2026/11/26/10/s-1-x.gz", body, true)
	db := open(t, Options{BucketDir: bucket})
	res, err := db.Query(context.Background(), "SELECT attemptsmade, errorcode, rawdata, rawdata_text, lambdaarn, datehour FROM errors ORDER BY rawdata DESC")
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:lambda:us-east-1:000000000000:function:streamproc-FirehoseTransformer"
	want := [][]any{
		{int64(1), "Lambda.ProcessingFailedStatus", base64.StdEncoding.EncodeToString([]byte("not json at all")), "not json at all", arn, "2026/11/26/10"},
		{int64(1), "Lambda.ProcessingFailedStatus", "//4A", nil, arn, "2026/11/26/10"},
	}
	if !reflect.DeepEqual(res.Rows, want) {
		t.Errorf("errors = %v\nwant %v", res.Rows, want)
	}
}

// Tables are scanned page by page on first use; attribute types follow
// what the values have in common, keys first, then by name.
func TestTableViews(t *testing.T) {
	store := memTable{
		"streamproc-Trends": {
			{"Window": "2026-11-26T10:00:00Z", "Hashtag": "go", "Count": streamproc.Number("3")},
			{"Window": "2026-11-26T10:00:00Z", "Hashtag": "#tweets", "Count": streamproc.Number("12")},
			{"Window": "2026-11-26T10:01:00Z", "Hashtag": "go", "Count": streamproc.Number("4"), "Score": streamproc.Number("1.5")},
			{"Window": "2026-11-26T10:01:00Z", "Hashtag": "duck", "Count": streamproc.Number("1"), "Score": streamproc.Number("2"),
				"Tags": []any{"a", "b"}, "Meta": map[string]any{"k": streamproc.Number("1")}, "Mixed": "s", "Flag": true},
			{"Window": "2026-11-26T10:02:00Z", "Hashtag": "x", "Count": streamproc.Number("1"), "Mixed": streamproc.Number("7"), "Tags": []any{}},
		},
	}
	db := open(t, Options{Tables: store, TableSpecs: []TableSource{{"trends", trendsSpec}, {"eventdata", eventDataSpec}}})
	if got := one(t, db, "SELECT sum(count) FROM trends WHERE hashtag <> '#tweets'"); fmt.Sprint(got) != "9" {
		t.Errorf("sum = %v", got)
	}
	want := []Column{{"Window", "VARCHAR"}, {"Hashtag", "VARCHAR"}, {"Count", "BIGINT"}, {"Flag", "BOOLEAN"},
		{"Meta", "JSON"}, {"Mixed", "JSON"}, {"Score", "DOUBLE"}, {"Tags", "VARCHAR[]"}}
	if got := columns(t, db, "trends"); !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v\nwant %v", got, want)
	}
	res, err := db.Query(context.Background(), `SELECT Meta, Mixed, Tags FROM trends WHERE hashtag = 'duck'`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, v := range res.Rows[0] {
		got = append(got, FormatValue(res.Columns[i], v))
	}
	if want := []string{`{"k":1}`, `"s"`, "[a, b]"}; !slices.Equal(got, want) {
		t.Errorf("row = %q, want %q", got, want)
	}
	if got := len(db.Views()); got != 5 {
		t.Errorf("Views = %v", db.Views())
	}
}

// A statement DuckDB refuses comes back as DuckDB words it, with the
// views that exist.
func TestSQLError(t *testing.T) {
	db := open(t, Options{Tables: memTable{}, TableSpecs: []TableSource{{"eventdata", eventDataSpec}, {"trends", trendsSpec}}})
	for _, tc := range []struct{ sql, duck string }{
		{"SELECT * FROM tweets", "Table with name tweets does not exist"},
		{"SELEC 1", `syntax error at or near "SELEC"`},
		{"SELECT nope FROM records", `Referenced column "nope" not found`},
	} {
		_, err := db.Query(context.Background(), tc.sql)
		var se *SQLError
		if !errors.As(err, &se) {
			t.Fatalf("%s: err = %v, want *SQLError", tc.sql, err)
		}
		if !strings.Contains(err.Error(), tc.duck) || !strings.Contains(err.Error(), "available views: records, errors, conversion_errors, eventdata, trends") {
			t.Errorf("%s: %v", tc.sql, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Query(ctx, "SELECT 1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// The views' columns are the Glue tables' columns in template.yaml, so a
// change to one without the other fails here.
func TestViewsMatchGlueTables(t *testing.T) {
	tpl, err := stack.Load("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tpl.Resolve(stack.Env{})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, id := range tpl.ResourceIDs("AWS::Glue::Table") {
		props, err := r.Properties(id)
		if err != nil {
			t.Fatal(err)
		}
		in := props["TableInput"].(map[string]any)
		name := in["Name"].(string)
		var def objectTable
		switch name {
		case ViewRecords:
			def = recordsTable
		case ViewErrors:
			def = errorsTable
		case ViewConversionErrors:
			def = conversionErrorsTable
		default:
			t.Errorf("Glue table %s has no local view", name)
			continue
		}
		found[name] = true
		var got, want []string
		for _, c := range in["StorageDescriptor"].(map[string]any)["Columns"].([]any) {
			c := c.(map[string]any)
			got = append(got, c["Name"].(string)+" "+c["Type"].(string))
		}
		for _, c := range def.Columns {
			want = append(want, c.Name+" "+c.Glue)
			if !strings.EqualFold(c.Key, c.Name) {
				t.Errorf("%s.%s reads JSON key %s: the SerDe matches keys without case only", name, c.Name, c.Key)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Glue table %s columns\n%v\nlocal view\n%v", name, got, want)
		}
		var parts []string
		for _, p := range in["PartitionKeys"].([]any) {
			parts = append(parts, p.(map[string]any)["Name"].(string))
		}
		if !slices.Equal(parts, []string{PartitionColumn}) || in["Parameters"].(map[string]any)["projection.datehour.format"] != "yyyy/MM/dd/HH" {
			t.Errorf("Glue table %s partitioning changed: %v %v", name, parts, in["Parameters"])
		}
	}
	if !found[ViewRecords] || !found[ViewErrors] || !found[ViewConversionErrors] {
		t.Errorf("Glue tables found: %v", found)
	}
}

func TestFormatValue(t *testing.T) {
	ts := time.Date(2026, 11, 26, 10, 0, 1, 500000000, time.UTC)
	for _, tc := range []struct {
		typ  string
		v    any
		text string
		json string
	}{
		{"VARCHAR", nil, "NULL", "null"},
		{"VARCHAR", "héllo", "héllo", `"héllo"`},
		{"BIGINT", int64(1174681441692635136), "1174681441692635136", "1174681441692635136"},
		{"DOUBLE", 50.25, "50.25", "50.25"},
		{"DOUBLE", 1e21, "1000000000000000000000", "1e+21"},
		{"TIMESTAMP", ts, "2026-11-26 10:00:01.5", `"2026-11-26 10:00:01.5"`},
		{"TIMESTAMPTZ", ts, "2026-11-26 10:00:01.5Z", `"2026-11-26 10:00:01.5Z"`},
		{"DATE", ts, "2026-11-26", `"2026-11-26"`},
		{"VARCHAR[]", []any{"a", "b"}, "[a, b]", `["a","b"]`},
		{"BLOB", []byte{0xff, 0x00}, `\xff00`, `"\\xff00"`},
		{"JSON", map[string]any{"k": 1.0}, `{"k":1}`, `{"k":1}`},
		{"JSON", "s", `"s"`, `"s"`},
		{"BOOLEAN", true, "true", "true"},
	} {
		c := Column{"c", tc.typ}
		if got := FormatValue(c, tc.v); got != tc.text {
			t.Errorf("FormatValue(%s, %v) = %q, want %q", tc.typ, tc.v, got, tc.text)
		}
		b, err := json.Marshal(JSONValue(c, tc.v))
		if err != nil || string(b) != tc.json {
			t.Errorf("JSONValue(%s, %v) = %s %v, want %s", tc.typ, tc.v, b, err, tc.json)
		}
	}
}
