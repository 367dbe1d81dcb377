package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob/fileblob"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/firehose"
	"github.com/streamproc/streamproc/local/stack"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/queries"
)

// deliverParquet runs records through a local delivery stream configured
// as template.yaml's with DeliveryFormat=PARQUET (no processor: the records
// are already the transformer's lines) into bucketDir; failed records
// must not convert.
func deliverParquet(t *testing.T, bucketDir string, records [][]byte, failed int) {
	t.Helper()
	ctx := context.Background()
	tpl, err := stack.Load("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tpl.Resolve(stack.Env{Overrides: map[string]string{"DeliveryFormat": "PARQUET"}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := r.Plan()
	if err != nil {
		t.Fatal(err)
	}
	dp := plan.Deliveries[0]
	if dp.Conversion == nil {
		t.Fatal("DeliveryFormat=PARQUET planned no format conversion")
	}
	eng, err := stream.Open(t.TempDir(), stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.CreateStream(ctx, "events", 1); err != nil {
		t.Fatal(err)
	}
	bucket, err := fileblob.OpenBucket(bucketDir, &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	cfg := firehose.Config{
		Name: "streamproc-FirehoseDeliveryStream", StreamName: "events", Prefix: dp.Prefix, ErrorOutputPrefix: dp.ErrorOutputPrefix,
		BufferSize: int64(dp.BufferSizeMB) << 20, Compression: dp.Compression,
		Conversion: &firehose.Conversion{Columns: dp.Conversion.Columns, Compression: dp.Conversion.Compression, Table: dp.Conversion.Catalog},
	}
	d, err := firehose.New(cfg, eng, nil, bucket, firehose.Options{CheckpointDir: t.TempDir(), BucketDir: bucketDir})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	var recs []streamproc.Record
	for _, b := range records {
		recs = append(recs, streamproc.Record{PartitionKey: "k", Data: b})
	}
	if _, err := eng.PutRecords(ctx, "events", recs); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if st := d.Stats(); st.Objects != 1 || st.ConversionFailed != int64(failed) {
		t.Fatalf("delivery stats %+v", st)
	}
}

// Parquet objects from the local Firehose's format conversion read into
// the records view like JSON ones, side by side with them: same columns
// and types, datehour from the key, every value intact, and the named
// queries run over both.
func TestParquetRecords(t *testing.T) {
	bucket := t.TempDir()
	lines, tws := condensed(t, 20, 4)
	records := splitLines(lines)
	before := time.Now().UTC().Format("2006/01/02/15") // the records' arrival hour
	deliverParquet(t, bucket, records, 0)
	after := time.Now().UTC().Format("2006/01/02/15")
	// JSON objects from before the switch to PARQUET, in another hour.
	older, _ := condensed(t, 5, 5)
	writeObject(t, bucket, "tweets/2026/11/26/10/s-1-2026-11-26-10-00-00-json", older, false)

	var parquetKeys []string
	_ = filepath.WalkDir(filepath.Join(bucket, "tweets"), func(p string, e os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			parquetKeys = append(parquetKeys, p)
		}
		return err
	})
	if len(parquetKeys) != 1 {
		t.Fatalf("parquet objects %v, want one", parquetKeys)
	}
	db := open(t, Options{BucketDir: bucket})
	if got := columns(t, db, "records"); !reflect.DeepEqual(got, wantRecords) {
		t.Errorf("records columns = %v\nwant %v", got, wantRecords)
	}
	if got := one(t, db, "SELECT count(*) FROM records WHERE datehour = '2026/11/26/10'"); got != int64(5) {
		t.Errorf("JSON rows = %v, want 5", got)
	}
	if got := one(t, db, fmt.Sprintf("SELECT count(*) FROM records WHERE datehour IN ('%s', '%s')", before, after)); got != int64(len(tws)) {
		t.Errorf("Parquet rows in %s = %v, want %d", after, got, len(tws))
	}
	for _, tw := range tws {
		res, err := db.Query(context.Background(), fmt.Sprintf("SELECT created_at, id, text, user_name, user_screen_name, source, retweet_count, favorite_count, lang, verified, hashtags FROM records WHERE id = %d AND datehour <> '2026/11/26/10'", tw.ID))
		if err != nil || len(res.Rows) != 1 {
			t.Fatalf("record %d: %v %v", tw.ID, res, err)
		}
		tags := []any{}
		for _, h := range tw.Hashtags {
			tags = append(tags, h)
		}
		want := []any{tw.CreatedAt.UTC().Truncate(time.Second), tw.ID, tw.Text, tw.User.Name, tw.User.ScreenName, tw.Source,
			tw.RetweetCount, tw.FavoriteCount, tw.Lang, tw.User.Verified, tags}
		if !reflect.DeepEqual(res.Rows[0], want) {
			t.Errorf("record = %#v\nwant     %#v", res.Rows[0], want)
		}
	}
	if v := db.Views(); v[0].Source != "2 objects under tweets/" {
		t.Errorf("Views()[0] = %+v", v[0])
	}
	all, err := queries.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range all {
		if _, err := db.Query(context.Background(), q.SQL); err != nil {
			t.Errorf("named query %s: %v", q.Name, err)
		}
	}
	// Timestamps compare with current_timestamp as the named queries do.
	if got := one(t, db, "SELECT count(*) FROM records WHERE created_at >= CAST(current_timestamp - INTERVAL '1' HOUR AS timestamp) AND datehour <> '2026/11/26/10'"); got != int64(len(tws)) {
		t.Errorf("rows of the last hour = %v, want %d", got, len(tws))
	}
}

// Records that do not convert land in the error output and read through
// conversion_errors, with Firehose's error code and the record's bytes.
func TestConversionErrorsView(t *testing.T) {
	bucket := t.TempDir()
	lines, _ := condensed(t, 3, 3)
	records := splitLines(lines)
	bad := []string{"not json at all\n", `{"id":"twelve","created_at":"2026-11-26 10:00:00"}` + "\n"}
	for _, b := range bad {
		records = append(records, []byte(b))
	}
	hour := time.Now().UTC().Format("2006/01/02/15")
	deliverParquet(t, bucket, records, len(bad))
	db := open(t, Options{BucketDir: bucket})
	if got := one(t, db, "SELECT count(*) FROM records"); got != int64(3) {
		t.Errorf("records = %v, want the 3 that converted", got)
	}
	res, err := db.Query(context.Background(), "SELECT rawdata_text, lasterrorcode, lasterrormessage, attemptsmade, datehour, sequencenumber FROM conversion_errors ORDER BY rawdata_text")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != len(bad) {
		t.Fatalf("conversion_errors = %v, want %d rows", res.Rows, len(bad))
	}
	for i, row := range res.Rows {
		if row[0] != bad[i] {
			t.Errorf("row %d rawdata_text = %q", i, row[0])
		}
		code, _ := row[1].(string)
		msg, _ := row[2].(string)
		dh, _ := row[4].(string)
		if !strings.HasPrefix(code, "DataFormatConversion.") || msg == "" || row[3] != int64(1) || dh < hour || row[5] == "" {
			t.Errorf("row %d = %v", i, row)
		}
	}
}

// splitLines cuts newline-delimited records into one record per line,
// each keeping its newline, as the transformer emits them.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}
