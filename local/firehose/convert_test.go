package firehose

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/parquet-go/parquet-go"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/function/transformer"
	"github.com/streamproc/streamproc/internal/fixture"
)

// recordsColumns are the columns of the Glue table records in template.yaml.
var recordsColumns = []Column{
	{"created_at", "timestamp"}, {"id", "bigint"}, {"text", "string"}, {"user_name", "string"},
	{"user_screen_name", "string"}, {"source", "string"}, {"retweet_count", "bigint"},
	{"favorite_count", "bigint"}, {"lang", "string"}, {"verified", "boolean"}, {"hashtags", "array<string>"},
}

func recordsConversion() *Conversion {
	return &Conversion{Columns: recordsColumns, Table: CatalogTable{DatabaseName: "streamproc", TableName: "records"}}
}

// parquetRows reads a Parquet object back: its schema and rows.
func parquetRows(t *testing.T, body []byte) (*parquet.Schema, []map[string]any) {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("not a Parquet file: %v", err)
	}
	r := parquet.NewGenericReader[map[string]any](bytes.NewReader(body), f.Schema())
	rows := make([]map[string]any, f.NumRows())
	for i := range rows {
		rows[i] = map[string]any{}
	}
	if n, err := r.Read(rows); n != len(rows) || (err != nil && !errors.Is(err, io.EOF)) {
		t.Fatalf("read %d of %d rows: %v", n, len(rows), err)
	}
	return f.Schema(), rows
}

// The transformer's condensed tweets are delivered as one Parquet object
// with the records table's columns; the key ends in .parquet.
func TestFormatConversionDeliversParquet(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.cfg()
	cfg.BufferSize = MinConversionBufferSize
	cfg.Prefix = "tweets/!{timestamp:yyyy/MM/dd/HH}/"
	cfg.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
	cfg.Processor = processorCfg()
	cfg.AppendDelimiter = true // ignored for converted records
	cfg.Conversion = recordsConversion()
	d := e.run(cfg, (&transformer.Handler{}).Handle)

	statuses := fixture.SearchStatuses(t)
	for i, s := range statuses {
		e.put(i%2, s)
	}
	e.clk.Advance(2 * time.Second)
	e.flush(d)

	objs := e.objects("tweets/")
	if len(objs) != 1 {
		t.Fatalf("%d data objects, want 1", len(objs))
	}
	if re := regexp.MustCompile(`^tweets/2024/05/06/13/fh-1-2024-05-06-13-14-15-` + uuidRE + `\.parquet$`); !re.MatchString(objs[0].key) {
		t.Errorf("data key %q does not match %s", objs[0].key, re)
	}
	schema, rows := parquetRows(t, objs[0].body)
	if len(rows) != len(statuses) {
		t.Fatalf("%d rows, want %d", len(rows), len(statuses))
	}
	var names []string
	for _, f := range schema.Fields() {
		names = append(names, f.Name())
	}
	for _, col := range recordsColumns {
		if !slices.Contains(names, col.Name) {
			t.Errorf("column %s missing from %s", col.Name, schema)
		}
	}
	if len(names) != len(recordsColumns) {
		t.Errorf("schema has columns %v, want %d", names, len(recordsColumns))
	}
	// Each row holds what the transformer's JSON line held, typed.
	want := map[int64]map[string]any{}
	for _, s := range statuses {
		resp, err := (&transformer.Handler{}).Handle(t.Context(), firehoseEvent(s))
		if err != nil {
			t.Fatal(err)
		}
		var line map[string]any
		dec := json.NewDecoder(bytes.NewReader(resp.Records[0].Data))
		dec.UseNumber()
		if err := dec.Decode(&line); err != nil {
			t.Fatal(err)
		}
		id, _ := line["id"].(json.Number).Int64()
		want[id] = line
	}
	for _, row := range rows {
		id, _ := row["id"].(int64)
		line, ok := want[id]
		if !ok {
			t.Errorf("row with id %v was not sent", row["id"])
			continue
		}
		created, err := time.Parse("2006-01-02 15:04:05", line["created_at"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if row["created_at"] != created.UnixMicro() {
			t.Errorf("id %d: created_at %v, want %v (µs of %s)", id, row["created_at"], created.UnixMicro(), line["created_at"])
		}
		for _, k := range []string{"text", "user_name", "user_screen_name", "source", "lang"} {
			if row[k] != line[k] {
				t.Errorf("id %d: %s = %q, want %q", id, k, row[k], line[k])
			}
		}
		if row["verified"] != line["verified"] {
			t.Errorf("id %d: verified = %v, want %v", id, row["verified"], line["verified"])
		}
		rc, _ := line["retweet_count"].(json.Number).Int64()
		if row["retweet_count"] != rc {
			t.Errorf("id %d: retweet_count = %v, want %d", id, row["retweet_count"], rc)
		}
		var tags []string
		for _, h := range row["hashtags"].([]any) {
			tags = append(tags, h.(string))
		}
		var wantTags []string
		for _, h := range line["hashtags"].([]any) {
			wantTags = append(wantTags, h.(string))
		}
		if strings.Join(tags, ",") != strings.Join(wantTags, ",") {
			t.Errorf("id %d: hashtags %v, want %v", id, tags, wantTags)
		}
		delete(want, id)
	}
	st := d.Stats()
	if st.Objects != 1 || st.ObjectRecords != int64(len(statuses)) || st.ConversionFailed != 0 || st.ErrorObjects != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func firehoseEvent(data []byte) events.KinesisFirehoseEvent {
	return events.KinesisFirehoseEvent{Records: []events.KinesisFirehoseEventRecord{{RecordID: "1", Data: data}}}
}

// Records the processor returned Ok that do not fit the schema go to the
// format-conversion-failed error output, as JSON lines without an
// extension, with the original bytes and the table; the others are rows.
func TestFormatConversionFailures(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.BufferSize = MinConversionBufferSize
	cfg.Prefix = "tweets/!{timestamp:yyyy/MM/dd/HH}/"
	cfg.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
	cfg.Processor = processorCfg()
	cfg.Conversion = recordsConversion()
	d := e.run(cfg, byPrefix)

	good := []byte(`{"id": 1, "text": "ok", "hashtags": ["a"]}` + "\n")
	two := []byte(`{"ID": 2, "Text": "upper-case keys"}{"id": "3", "verified": "TRUE"}`)
	badType := []byte(`{"id": "not a number", "text": "x"}`)
	notObject := []byte(`[1, 2, 3]`)
	notJSON := []byte("fine words, no JSON")
	failed := []byte("fail: the processor fails this one")
	seqs := e.put(0, good, two, badType, notObject, notJSON, failed)
	e.flush(d)

	data := e.objects("tweets/")
	if len(data) != 1 || !strings.HasSuffix(data[0].key, ".parquet") {
		t.Fatalf("data objects %+v, want one .parquet", data)
	}
	_, rows := parquetRows(t, data[0].body)
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r["id"].(int64))
	}
	if len(ids) != 3 || ids[0] != 1 || ids[1] != 2 || ids[2] != 3 {
		t.Errorf("row ids %v, want [1 2 3] (two objects in one record are two rows)", ids)
	}
	if rows[1]["text"] != "upper-case keys" || rows[2]["verified"] != true || rows[0]["verified"] != nil {
		t.Errorf("rows %v: keys match without regard to case, strings convert, missing is NULL", rows)
	}

	convErrs := e.objects("errors/format-conversion-failed/2024/05/06/13/")
	if len(convErrs) != 1 {
		t.Fatalf("%d format-conversion-failed objects, want 1", len(convErrs))
	}
	if re := regexp.MustCompile(`/fh-1-2024-05-06-13-14-15-` + uuidRE + `$`); !re.MatchString(convErrs[0].key) {
		t.Errorf("error key %q has an extension or the wrong name", convErrs[0].key)
	}
	dec := json.NewDecoder(bytes.NewReader(convErrs[0].body))
	dec.DisallowUnknownFields()
	var got []ConversionErrorRecord
	for dec.More() {
		var r ConversionErrorRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	wantErrs := []struct {
		raw  []byte
		code string
		seq  string
	}{
		{badType, CodeConversionMalformedData, seqs[2]},
		{notObject, CodeConversionParseError, seqs[3]},
		{notJSON, CodeConversionParseError, seqs[4]},
	}
	if len(got) != len(wantErrs) {
		t.Fatalf("%d conversion error records, want %d: %+v", len(got), len(wantErrs), got)
	}
	for i, w := range wantErrs {
		r := got[i]
		if !bytes.Equal(r.RawData, w.raw) || r.LastErrorCode != w.code || r.LastErrorMessage == "" || r.SequenceNumber != w.seq ||
			r.AttemptsMade != 1 || r.ArrivalTimestamp != t0.UnixMilli() || r.AttemptEndingTimestamp == 0 {
			t.Errorf("error record %d = %+v, want raw %q code %s sequence %s", i, r, w.raw, w.code, w.seq)
		}
		if tb := r.DataCatalogTable; tb.DatabaseName != "streamproc" || tb.TableName != "records" || tb.VersionID != "LATEST" ||
			tb.CatalogID != "000000000000" || tb.Region != "us-east-1" || tb.CatalogARN != "arn:aws:glue:us-east-1:000000000000:catalog" {
			t.Errorf("dataCatalogTable = %+v", tb)
		}
	}
	if !strings.Contains(got[0].LastErrorMessage, "id") {
		t.Errorf("message %q does not name the column", got[0].LastErrorMessage)
	}
	// ProcessingFailed still goes to its own output.
	if pf := e.errorRecords("errors/processing-failed/"); len(pf) != 1 || !bytes.Equal(pf[0].RawData, failed) {
		t.Errorf("processing-failed records %+v", pf)
	}
	st := d.Stats()
	if st.ConversionFailed != 3 || st.RecordsFailed != 1 || st.ObjectRecords != 2 || st.ErrorObjects != 2 {
		t.Errorf("stats = %+v", st)
	}
	// Every record is in an object: the checkpoint passed them all.
	if cp := e.checkpoint("fh"); cp.Shards[e.shards[0].ID].SequenceNumber != seqs[len(seqs)-1] {
		t.Errorf("checkpoint %+v, want %s", cp, seqs[len(seqs)-1])
	}
}

// Without a processor, records are converted as read.
func TestFormatConversionWithoutProcessor(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.BufferSize = 0 // the conversion default, 128 MiB
	cfg.Conversion = &Conversion{Columns: []Column{{"n", "int"}}, Compression: ParquetGZIP, Table: CatalogTable{DatabaseName: "d", TableName: "t"}}
	d := e.run(cfg, nil)
	if d.Config().BufferSize != DefaultConversionBufferSize || d.Config().FileExtension != ParquetFileExtension || d.Config().Conversion.Compression != ParquetGZIP {
		t.Errorf("defaults %+v", d.Config())
	}
	e.put(0, []byte(`{"n": 7}`), []byte(`{"n": 2147483648}`))
	e.flush(d)
	objs := e.objects("")
	var data, errs []object
	for _, o := range objs {
		if strings.HasPrefix(o.key, ErrorOutputTypeFormatConversionFailed+"/") {
			errs = append(errs, o)
		} else {
			data = append(data, o)
		}
	}
	if len(data) != 1 || len(errs) != 1 {
		t.Fatalf("objects %v", objs)
	}
	_, rows := parquetRows(t, data[0].body)
	if len(rows) != 1 || !equalValue(rows[0]["n"], 7) {
		t.Errorf("rows %v", rows)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data[0].body), int64(len(data[0].body)))
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Metadata().RowGroups[0].Columns[0].MetaData.Codec.String(); c != "GZIP" {
		t.Errorf("codec %s, want GZIP", c)
	}
}

func TestConvertValues(t *testing.T) {
	cv, err := newConverter(Conversion{Columns: []Column{
		{"s", "string"}, {"b", "bigint"}, {"i", "int"}, {"sm", "smallint"}, {"ti", "tinyint"}, {"ok", "boolean"},
		{"d", "double"}, {"f", "float"}, {"ts", "timestamp"}, {"day", "date"}, {"tags", "array<string>"}, {"ns", "array<bigint>"},
		{"v", "varchar(10)"}, {"a_b", "string"}, {"renamed", "string"},
	}, ConvertDotsToUnderscores: true, ColumnToJSONKey: map[string]string{"renamed": "Original"}, Table: CatalogTable{DatabaseName: "d", TableName: "t"}}, "r", "a")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 5, 6, 13, 14, 15, 0, time.UTC)
	tests := []struct {
		in   string
		col  string
		want any
	}{
		{`{"s": "x"}`, "s", "x"},
		{`{"s": 12.50}`, "s", "12.50"},
		{`{"s": true}`, "s", "true"},
		{`{"s": {"a": [1]}}`, "s", `{"a":[1]}`},
		{`{"s": null}`, "s", nil},
		{`{}`, "s", nil},
		{`{"b": 9007199254740993}`, "b", int64(9007199254740993)}, // beyond float64's integers
		{`{"b": "-5"}`, "b", int64(-5)},
		{`{"i": 2147483647}`, "i", int32(2147483647)},
		{`{"sm": -32768}`, "sm", int32(-32768)},
		{`{"ti": 127}`, "ti", int32(127)},
		{`{"ok": false}`, "ok", false},
		{`{"ok": "True"}`, "ok", true},
		{`{"d": 1.5e3}`, "d", 1500.0},
		{`{"d": "2.25"}`, "d", 2.25},
		{`{"f": 0.5}`, "f", float32(0.5)},
		{`{"ts": "2024-05-06 13:14:15"}`, "ts", ts.UnixMicro()},
		{`{"ts": "2024-5-6 13:14:15.123456"}`, "ts", ts.UnixMicro() + 123456},
		{`{"ts": "2024-05-06T13:14:15Z"}`, "ts", ts.UnixMicro()},
		{`{"ts": "2024-05-06T15:14:15+02:00"}`, "ts", ts.UnixMicro()},
		{`{"ts": 1715001255}`, "ts", ts.UnixMicro()},
		{`{"ts": 1715001255000}`, "ts", ts.UnixMicro()},
		{`{"ts": 1715001255.5}`, "ts", ts.UnixMicro() + 500000},
		{`{"day": "2024-05-06"}`, "day", int32(19849)},
		{`{"tags": ["a", null, "b"]}`, "tags", []any{"a", nil, "b"}},
		{`{"tags": []}`, "tags", []any{}},
		{`{"ns": [1, "2"]}`, "ns", []any{int64(1), int64(2)}},
		{`{"v": "longer than ten characters"}`, "v", "longer than ten characters"},
		{`{"A.B": "dots"}`, "a_b", "dots"},
		{`{"original": "mapped"}`, "renamed", "mapped"},
	}
	var all []map[string]any
	for _, tt := range tests {
		rows, cerr := cv.rows([]byte(tt.in))
		if cerr != nil {
			t.Errorf("%s: %v", tt.in, cerr)
			continue
		}
		if got := rows[0][tt.col]; !equalValue(got, tt.want) {
			t.Errorf("%s: %s = %#v, want %#v", tt.in, tt.col, got, tt.want)
		}
		all = append(all, rows...)
	}
	// Every value survives the Parquet file: zero values stay values, and
	// absent ones are NULL.
	body, err := cv.encode(all)
	if err != nil {
		t.Fatal(err)
	}
	_, back := parquetRows(t, body)
	if len(back) != len(tests) {
		t.Fatalf("%d rows back, want %d", len(back), len(tests))
	}
	for i, tt := range tests {
		if got := back[i][tt.col]; !equalValue(got, tt.want) {
			t.Errorf("%s: read back %s = %#v, want %#v", tt.in, tt.col, got, tt.want)
		}
		for col, v := range back[i] {
			if col != tt.col && v != nil {
				t.Errorf("%s: column %s = %#v, want NULL", tt.in, col, v)
			}
		}
	}
	bad := []struct{ in, code string }{
		{`{"b": 1.5}`, CodeConversionMalformedData},
		{`{"b": 9223372036854775808}`, CodeConversionMalformedData},
		{`{"i": 2147483648}`, CodeConversionMalformedData},
		{`{"ti": 128}`, CodeConversionMalformedData},
		{`{"b": true}`, CodeConversionMalformedData},
		{`{"ok": "yes"}`, CodeConversionMalformedData},
		{`{"ok": 1}`, CodeConversionMalformedData},
		{`{"d": "abc"}`, CodeConversionMalformedData},
		{`{"ts": "yesterday"}`, CodeConversionMalformedData},
		{`{"ts": true}`, CodeConversionMalformedData},
		{`{"day": "06/05/2024"}`, CodeConversionMalformedData},
		{`{"tags": "a"}`, CodeConversionMalformedData},
		{`{"ns": ["x"]}`, CodeConversionMalformedData},
		{`{"s": "x"} trailing`, CodeConversionParseError},
		{`{"s": `, CodeConversionParseError},
		{`"just a string"`, CodeConversionParseError},
		{`  `, CodeConversionParseError},
		{``, CodeConversionParseError},
	}
	for _, tt := range bad {
		if _, cerr := cv.rows([]byte(tt.in)); cerr == nil || cerr.code != tt.code {
			t.Errorf("%q: error %v, want %s", tt.in, cerr, tt.code)
		}
	}
}

func equalValue(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y) && (a == nil) == (b == nil)
}

func TestValidateConversion(t *testing.T) {
	valid := func() Config {
		return Config{Name: "fh", StreamName: "s", BufferSize: MinConversionBufferSize, Conversion: recordsConversion()}
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"GZIP with conversion", func(c *Config) { c.Compression = GZIP }, "Compression must be UNCOMPRESSED with format conversion"},
		{"buffer below 64 MiB", func(c *Config) { c.BufferSize = 5 << 20 }, "below the 64 MiB"},
		{"no columns", func(c *Config) { c.Conversion.Columns = nil }, "the schema has no columns"},
		{"unsupported type", func(c *Config) { c.Conversion.Columns = []Column{{"m", "map<string,int>"}} }, `type "map<string,int>" is not supported`},
		{"decimal", func(c *Config) { c.Conversion.Columns = []Column{{"d", "decimal(10,2)"}} }, "not supported"},
		{"upper-case column", func(c *Config) { c.Conversion.Columns = []Column{{"ID", "bigint"}} }, "must be lower case"},
		{"duplicate column", func(c *Config) { c.Conversion.Columns = []Column{{"a", "int"}, {"a", "string"}} }, "appears twice"},
		{"parquet compression", func(c *Config) { c.Conversion.Compression = "ZSTD" }, `Conversion.Compression "ZSTD"`},
		{"table", func(c *Config) { c.Conversion.Table = CatalogTable{} }, "DatabaseName and TableName are required"},
		{"mapping to no column", func(c *Config) { c.Conversion.ColumnToJSONKey = map[string]string{"nope": "x"} }, `"nope" is not a column`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			conv := *c.Conversion
			c.Conversion = &conv
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v\nwant an error containing %q", err, tt.want)
			}
			if !errors.Is(err, streamproc.ErrInvalid) {
				t.Errorf("not ErrInvalid: %v", err)
			}
		})
	}
}
