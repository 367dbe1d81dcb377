package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/local/firehose"
)

// startStack starts the project template with overrides and the spy
// functions (the real transformer), and runs it until the test ends.
func startStack(t *testing.T, overrides map[string]string) (*Stack, *Resolved, string) {
	t.Helper()
	tm, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Resolve(Env{Overrides: overrides})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := Start(context.Background(), r, Options{Dir: dir, Functions: (&spy{}).factory, Logger: slog.New(slog.DiscardHandler), PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
		st.Close()
	})
	return st, r, dir
}

// Every property the template sets on the delivery stream's S3 destination
// reaches the local delivery stream, in both delivery formats: the plan
// fails on a property it does not know (nothing is silently ignored), and
// the running delivery stream's configuration holds each value.
func TestDeliveryPropertiesReachTheRuntime(t *testing.T) {
	for _, format := range []string{"JSON", "PARQUET"} {
		t.Run(format, func(t *testing.T) {
			st, r, _ := startStack(t, map[string]string{"DeliveryFormat": format, "DeliveryBufferSeconds": "30", "DeliveryBufferMB": "7"})
			props, err := r.Properties("FirehoseDeliveryStream")
			if err != nil {
				t.Fatal(err)
			}
			s3 := props["ExtendedS3DestinationConfiguration"].(map[string]any)
			for k := range s3 {
				if !s3Applied[k] && !s3CloudOnly[k] {
					t.Errorf("ExtendedS3DestinationConfiguration.%s is neither applied locally nor cloud-only", k)
				}
			}
			if len(st.Deliveries()) != 1 {
				t.Fatalf("%d delivery streams", len(st.Deliveries()))
			}
			c := st.Deliveries()[0].Config()
			if c.Prefix != s3["Prefix"] || c.ErrorOutputPrefix != s3["ErrorOutputPrefix"] || c.BufferInterval != 30*time.Second {
				t.Errorf("prefixes/interval: %q %q %v", c.Prefix, c.ErrorOutputPrefix, c.BufferInterval)
			}
			p := c.Processor
			if p == nil || p.BufferSize != 3<<20 || p.BufferInterval != 30*time.Second || p.NumberOfRetries != 3 || !strings.HasSuffix(p.FunctionARN, ":function:streamproc-FirehoseTransformer") {
				t.Errorf("processor %+v", p)
			}
			if format == "JSON" {
				if c.Conversion != nil || c.BufferSize != 7<<20 || c.Compression != firehose.Uncompressed || c.FileExtension != "" {
					t.Errorf("JSON delivery: conversion %v, buffer %d, compression %s, extension %q", c.Conversion, c.BufferSize, c.Compression, c.FileExtension)
				}
				return
			}
			// PARQUET: the template's !If raises the buffer to 64 MB and
			// forces UNCOMPRESSED; the schema is the Glue records table.
			if c.BufferSize != 64<<20 || c.Compression != firehose.Uncompressed || c.FileExtension != ".parquet" {
				t.Errorf("PARQUET delivery: buffer %d, compression %s, extension %q", c.BufferSize, c.Compression, c.FileExtension)
			}
			conv := c.Conversion
			if conv == nil {
				t.Fatal("no format conversion")
			}
			table, err := r.Properties("RecordsTable")
			if err != nil {
				t.Fatal(err)
			}
			var want []firehose.Column
			for _, col := range table["TableInput"].(map[string]any)["StorageDescriptor"].(map[string]any)["Columns"].([]any) {
				m := col.(map[string]any)
				want = append(want, firehose.Column{Name: m["Name"].(string), Type: m["Type"].(string)})
			}
			if !slices.Equal(conv.Columns, want) || len(want) != 11 {
				t.Errorf("columns %v, want the records table's %v", conv.Columns, want)
			}
			if conv.Compression != firehose.ParquetSnappy || conv.CaseSensitive || conv.Table != (firehose.CatalogTable{
				CatalogID: "000000000000", DatabaseName: "streamproc", TableName: "records", Region: "us-east-1", VersionID: "LATEST"}) {
				t.Errorf("conversion %+v", conv)
			}
			sd := table["TableInput"].(map[string]any)["StorageDescriptor"].(map[string]any)
			if sd["SerdeInfo"].(map[string]any)["SerializationLibrary"] != "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" ||
				sd["InputFormat"] != "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat" {
				t.Errorf("the Glue table does not read Parquet: %v", sd)
			}
		})
	}
}

// With DeliveryFormat=PARQUET the stack delivers the transformed tweets as
// valid Parquet objects under tweets/, one row per tweet.
func TestParquetDelivery(t *testing.T) {
	st, _, dir := startStack(t, map[string]string{"DeliveryFormat": "PARQUET"})
	ctx := context.Background()
	statuses := fixture.SearchStatuses(t)
	var recs []streamproc.Record
	want := map[int64]bool{}
	for _, s := range statuses {
		recs = append(recs, streamproc.Record{PartitionKey: "k", Data: s})
		var id struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(s, &id); err != nil {
			t.Fatal(err)
		}
		want[id.ID] = true
	}
	if _, err := st.Deps().Stream.PutRecords(ctx, "streamproc-EventStream", recs); err != nil {
		t.Fatal(err)
	}
	for _, d := range st.Deliveries() {
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "buckets", "streamproc-deliverybucket-local")
	var objects []string
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			objects = append(objects, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) != 1 {
		t.Fatalf("objects %v, want one", objects)
	}
	rel, _ := filepath.Rel(root, objects[0])
	if !strings.HasPrefix(filepath.ToSlash(rel), "tweets/20") || !strings.HasSuffix(rel, ".parquet") {
		t.Errorf("object key %q", rel)
	}
	body, err := os.ReadFile(objects[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, []byte("PAR1")) || !bytes.HasSuffix(body, []byte("PAR1")) {
		t.Fatal("not a Parquet file")
	}
	f, err := parquet.OpenFile(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]map[string]any, f.NumRows())
	for i := range rows {
		rows[i] = map[string]any{}
	}
	n, err := parquet.NewGenericReader[map[string]any](bytes.NewReader(body), f.Schema()).Read(rows)
	if n != len(statuses) || (err != nil && !errors.Is(err, io.EOF)) {
		t.Fatalf("read %d rows (%v), want %d", n, err, len(statuses))
	}
	for _, row := range rows {
		id, _ := row["id"].(int64)
		if !want[id] || row["user_screen_name"] == nil || row["created_at"] == nil || row["lang"] == nil {
			t.Errorf("row %v", row)
		}
		delete(want, id)
	}
	if len(want) != 0 {
		t.Errorf("tweets missing from the Parquet object: %v", want)
	}
}

// A delivery stream setting the local target cannot honour fails the plan
// with the property's name instead of running with different output.
func TestDeliveryPlanRejects(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, old, new, want string }{
		{"Hive JSON SerDe", "OpenXJsonSerDe:\n                  CaseInsensitive: true", "HiveJsonSerDe: {}", "HiveJsonSerDe does not run locally"},
		{"ORC", "ParquetSerDe:\n                  Compression: SNAPPY", "OrcSerDe: {}", "OrcSerDe does not run locally"},
		{"schema table not in the template", "TableName: !Ref RecordsTable", "TableName: elsewhere", "names table streamproc.elsewhere, which is not an AWS::Glue::Table of this template"},
		{"unknown destination property", "        CloudWatchLoggingOptions:\n          Enabled: true\n          LogGroupName: !Ref FirehoseLogGroup", "        S3Frobnicate: true\n        CloudWatchLoggingOptions:\n          Enabled: true\n          LogGroupName: !Ref FirehoseLogGroup", "ExtendedS3DestinationConfiguration.S3Frobnicate does not run locally"},
		{"dynamic partitioning", "        CloudWatchLoggingOptions:\n          Enabled: true\n          LogGroupName: !Ref FirehoseLogGroup", "        DynamicPartitioningConfiguration: {Enabled: true}\n        CloudWatchLoggingOptions:\n          Enabled: true\n          LogGroupName: !Ref FirehoseLogGroup", "dynamic partitioning does not run locally"},
		{"time zone", "        CloudWatchLoggingOptions:\n          Enabled: true\n          LogGroupName: !Ref FirehoseLogGroup", "        CustomTimeZone: Mars/Olympus\n        CloudWatchLoggingOptions:\n          Enabled: true\n          LogGroupName: !Ref FirehoseLogGroup", `CustomTimeZone "Mars/Olympus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Count(string(raw), tt.old) != 1 {
				t.Fatalf("template has %d of %q", strings.Count(string(raw), tt.old), tt.old)
			}
			tm, err := Parse([]byte(strings.Replace(string(raw), tt.old, tt.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			r, err := tm.Resolve(Env{Overrides: map[string]string{"DeliveryFormat": "PARQUET"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Plan(); err == nil || !errors.Is(err, ErrTemplate) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Plan() = %v, want an ErrTemplate containing %q", err, tt.want)
			}
		})
	}
}
