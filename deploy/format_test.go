package deploy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/streamproc/streamproc/local/stack"
)

// resolveWith resolves the template with parameter overrides.
func resolveWith(t *testing.T, overrides map[string]string) (*stack.Template, *stack.Resolved) {
	t.Helper()
	tm, err := stack.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Resolve(stack.Env{StackName: "check", Overrides: overrides})
	if err != nil {
		t.Fatal(err)
	}
	return tm, r
}

// DeliveryFormat=PARQUET is a valid deployment: with its conditions
// resolved, every property of the resources it changes is in
// CloudFormation's specification (TestTemplateMatchesCloudFormationSpec
// cannot look inside !If), and it follows AWS's rules for format conversion
// (research/aws-semantics.md §4.2, §4.7, §4.9): at least 64 MB of buffer,
// UNCOMPRESSED objects, a schema from the Glue records table, which reads
// Parquet, and a Firehose role that may read that table's schema and
// nothing else of Glue. JSON, the default, has none of it.
func TestDeliveryFormatParquet(t *testing.T) {
	spec := loadSpec(t)
	for _, format := range []string{"JSON", "PARQUET"} {
		t.Run(format, func(t *testing.T) {
			tm, r := resolveWith(t, map[string]string{"DeliveryFormat": format, "DeliveryCompression": "GZIP"})
			var errs []string
			for _, id := range []string{"FirehoseDeliveryStream", "FirehoseRole", "RecordsTable"} {
				props, err := r.Properties(id)
				if err != nil {
					t.Fatal(err)
				}
				spec.checkProps(id, props, spec.resources[tm.Resources[id].Type], &errs)
			}
			for _, e := range errs {
				t.Error(e)
			}
			fh, _ := r.Properties("FirehoseDeliveryStream")
			s3 := fh["ExtendedS3DestinationConfiguration"].(map[string]any)
			table, _ := r.Properties("RecordsTable")
			sd := table["TableInput"].(map[string]any)["StorageDescriptor"].(map[string]any)
			var glue []map[string]any
			for _, st := range statements(t, r, tm)["FirehoseRole"] {
				for _, a := range asList(st["Action"]) {
					if strings.HasPrefix(a, "glue:") {
						glue = append(glue, st)
						break
					}
				}
			}
			if format == "JSON" {
				if s3["DataFormatConversionConfiguration"] != nil || s3["CompressionFormat"] != "GZIP" || len(glue) != 0 ||
					sd["SerdeInfo"].(map[string]any)["SerializationLibrary"] != "org.openx.data.jsonserde.JsonSerDe" {
					t.Errorf("JSON delivery changed: %v / %v / glue statements %v", s3, sd, glue)
				}
				return
			}
			size, _ := strconv.Atoi(fmt.Sprint(s3["BufferingHints"].(map[string]any)["SizeInMBs"]))
			if size < 64 {
				t.Errorf("SizeInMBs %d: format conversion needs at least 64", size)
			}
			if s3["CompressionFormat"] != "UNCOMPRESSED" {
				t.Errorf("CompressionFormat %v: format conversion needs UNCOMPRESSED", s3["CompressionFormat"])
			}
			dfc, _ := s3["DataFormatConversionConfiguration"].(map[string]any)
			sc, _ := dfc["SchemaConfiguration"].(map[string]any)
			role, _ := r.ARN("FirehoseRole")
			if dfc["Enabled"] != true || sc["DatabaseName"] != table["DatabaseName"] || sc["TableName"] != table["TableInput"].(map[string]any)["Name"] || sc["RoleARN"] != role {
				t.Errorf("conversion %v does not read the records table with the Firehose role", dfc)
			}
			ser := dfc["OutputFormatConfiguration"].(map[string]any)["Serializer"].(map[string]any)
			de := dfc["InputFormatConfiguration"].(map[string]any)["Deserializer"].(map[string]any)
			if ser["ParquetSerDe"] == nil || de["OpenXJsonSerDe"] == nil {
				t.Errorf("serializer %v deserializer %v", ser, de)
			}
			if sd["InputFormat"] != "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat" ||
				sd["OutputFormat"] != "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat" ||
				sd["SerdeInfo"].(map[string]any)["SerializationLibrary"] != "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" ||
				table["TableInput"].(map[string]any)["Parameters"].(map[string]any)["classification"] != "parquet" {
				t.Errorf("the records table does not read Parquet: %v", sd)
			}
			if params := sd["SerdeInfo"].(map[string]any)["Parameters"].(map[string]any); params["ignore.malformed.json"] != nil || params["case.insensitive"] != nil {
				t.Errorf("JSON SerDe parameters on the Parquet table: %v", params)
			}
			if len(glue) != 1 {
				t.Fatalf("Firehose role Glue statements %v, want one", glue)
			}
			actions := asList(glue[0]["Action"])
			slices.Sort(actions)
			if !slices.Equal(actions, []string{"glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"}) {
				t.Errorf("Glue actions %v", actions)
			}
			prefix := "arn:aws:glue:us-east-1:000000000000:"
			want := []string{prefix + "catalog", prefix + "database/streamproc", prefix + "table/streamproc/records"}
			if got := asList(glue[0]["Resource"]); !slices.Equal(got, want) {
				t.Errorf("Glue resources %v, want %v", got, want)
			}
		})
	}
}
