package deploy

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streamproc/streamproc/local/stack"
)

const (
	templatePath = "../template.yaml"
	queriesDir   = "../queries"
)

func loadTemplate(t *testing.T) (*stack.Template, *stack.Resolved) {
	t.Helper()
	tm, err := stack.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Resolve(stack.Env{StackName: "check"})
	if err != nil {
		t.Fatal(err)
	}
	return tm, r
}

// Every !Ref, !GetAtt, !Sub and condition in every resource and output
// resolves.
func TestTemplateResolves(t *testing.T) {
	tm, r := loadTemplate(t)
	for _, id := range tm.ResourceIDs() {
		if _, err := r.Properties(id); err != nil {
			t.Errorf("resource %s: %v", id, err)
		}
	}
	for name, out := range tm.Outputs {
		if _, err := r.Value(out); err != nil {
			t.Errorf("output %s: %v", name, err)
		}
	}
}

// The seed's resources are all there, with the seed's names.
func TestSeedResourcesPresent(t *testing.T) {
	tm, r := loadTemplate(t)
	want := map[string]string{
		"EventStream":            "AWS::Kinesis::Stream",
		"EventDataTable":         "AWS::DynamoDB::Table",
		"DeliveryBucket":         "AWS::S3::Bucket",
		"FirehoseDeliveryStream": "AWS::KinesisFirehose::DeliveryStream",
		"DataStreamConsumer":     "AWS::Serverless::Function",
		"DataStreamProducer":     "AWS::Serverless::Function",
		"FirehoseTransformer":    "AWS::Serverless::Function",
		"TrendingHashtags":       "AWS::Serverless::Function",
	}
	for id, typ := range want {
		if got := tm.Resources[id].Type; got != typ {
			t.Errorf("%s is %q, want %s", id, got, typ)
		}
	}
	if r.Name("EventDataTable") != "check-EventData" || r.Name("DataStreamConsumer") != "check-DataStreamConsumer" || r.Name("FirehoseTransformer") != "check-FirehoseTransformer" {
		t.Errorf("seed names not kept: %s %s", r.Name("EventDataTable"), r.Name("DataStreamConsumer"))
	}
	for _, id := range tm.ResourceIDs("AWS::Serverless::Function") {
		p, _ := r.Properties(id)
		if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || fmt.Sprint(p["Architectures"]) != "[arm64]" {
			t.Errorf("function %s: runtime %v handler %v arch %v", id, p["Runtime"], p["Handler"], p["Architectures"])
		}
	}
}

// statements returns every IAM statement in the template: role policies,
// SAM inline policies, bucket and queue policies.
func statements(t *testing.T, r *stack.Resolved, tm *stack.Template) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if st, ok := x["Statement"].([]any); ok {
				for _, s := range st {
					if m, ok := s.(map[string]any); ok {
						out[where] = append(out[where], m)
					}
				}
			}
			for k, e := range x {
				if k != "Statement" {
					walk(where, e)
				}
			}
		case []any:
			for _, e := range x {
				walk(where, e)
			}
		}
	}
	for _, id := range tm.ResourceIDs() {
		p, err := r.Properties(id)
		if err != nil {
			t.Fatal(err)
		}
		walk(id, p)
	}
	return out
}

func asList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// Least privilege: no Allow statement grants a wildcard action (the seed had
// logs:* and AmazonSSMReadOnlyAccess); no managed policies beyond what SAM
// event sources add.
func TestNoWildcardActions(t *testing.T) {
	tm, r := loadTemplate(t)
	for where, sts := range statements(t, r, tm) {
		for _, st := range sts {
			if st["Effect"] != "Allow" {
				continue
			}
			for _, a := range asList(st["Action"]) {
				if strings.Contains(a, "*") {
					t.Errorf("%s: Allow of wildcard action %q", where, a)
				}
			}
			if _, ok := st["NotAction"]; ok {
				t.Errorf("%s: NotAction in an Allow statement", where)
			}
		}
	}
	for _, id := range tm.ResourceIDs("AWS::Serverless::Function") {
		p, _ := r.Properties(id)
		pols, _ := p["Policies"].([]any)
		for _, pol := range pols {
			if s, ok := pol.(string); ok {
				t.Errorf("%s: managed policy %s (use a scoped statement or policy template)", id, s)
			}
			if m, ok := pol.(map[string]any); ok {
				for k := range m {
					if k != "Statement" && !slices.Contains([]string{"DynamoDBWritePolicy", "SSMParameterWithSlashPrefixReadPolicy"}, k) {
						t.Errorf("%s: policy template %s is not on the reviewed list", id, k)
					}
				}
				if ssm, ok := m["SSMParameterWithSlashPrefixReadPolicy"].(map[string]any); ok && ssm["ParameterName"] != "/twitter/*" {
					t.Errorf("%s: SSM read is not limited to /twitter/*: %v", id, ssm["ParameterName"])
				}
			}
		}
	}
}

// Every store is encrypted at rest and the bucket is private and TLS-only.
func TestEncryptionEverywhere(t *testing.T) {
	tm, r := loadTemplate(t)
	get := func(id string) map[string]any {
		p, err := r.Properties(id)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, id := range tm.ResourceIDs("AWS::Kinesis::Stream") {
		enc, _ := get(id)["StreamEncryption"].(map[string]any)
		if enc["EncryptionType"] != "KMS" || enc["KeyId"] != "alias/aws/kinesis" {
			t.Errorf("stream %s not KMS-encrypted: %v", id, enc)
		}
	}
	for _, id := range tm.ResourceIDs("AWS::DynamoDB::Table") {
		sse, _ := get(id)["SSESpecification"].(map[string]any)
		pitr, _ := get(id)["PointInTimeRecoverySpecification"].(map[string]any)
		if sse["SSEEnabled"] != true || pitr["PointInTimeRecoveryEnabled"] != true {
			t.Errorf("table %s: SSE %v PITR %v", id, sse, pitr)
		}
	}
	for _, id := range tm.ResourceIDs("AWS::S3::Bucket") {
		p := get(id)
		if _, ok := p["BucketEncryption"]; !ok {
			t.Errorf("bucket %s not encrypted", id)
		}
		pab, _ := p["PublicAccessBlockConfiguration"].(map[string]any)
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if pab[k] != true {
				t.Errorf("bucket %s: %s not set", id, k)
			}
		}
		if _, ok := p["LifecycleConfiguration"]; !ok {
			t.Errorf("bucket %s has no lifecycle", id)
		}
		tlsOnly := false
		for _, pid := range tm.ResourceIDs("AWS::S3::BucketPolicy") {
			bp := get(pid)
			if bp["Bucket"] != r.Name(id) {
				continue
			}
			for _, st := range asMaps(bp["PolicyDocument"].(map[string]any)["Statement"]) {
				cond, _ := st["Condition"].(map[string]any)
				b, _ := cond["Bool"].(map[string]any)
				tlsOnly = tlsOnly || st["Effect"] == "Deny" && b["aws:SecureTransport"] == "false"
			}
		}
		if !tlsOnly {
			t.Errorf("bucket %s has no TLS-only policy", id)
		}
	}
	for _, id := range tm.ResourceIDs("AWS::SQS::Queue") {
		if get(id)["SqsManagedSseEnabled"] != true {
			t.Errorf("queue %s not encrypted", id)
		}
	}
	for _, id := range tm.ResourceIDs("AWS::SNS::Topic") {
		if get(id)["KmsMasterKeyId"] == nil {
			t.Errorf("topic %s not encrypted", id)
		}
	}
	if tm.Resources["EmptyDeliveryBucketOnDelete"].Type != "Custom::EmptyBucket" {
		t.Errorf("no custom resource empties the bucket on stack deletion")
	}
}

func asMaps(v any) []map[string]any {
	var out []map[string]any
	for _, e := range v.([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

// The alarms the operator needs exist and point at the stack's resources.
func TestAlarms(t *testing.T) {
	tm, r := loadTemplate(t)
	want := map[string]bool{"IteratorAge": false, "GetRecords.IteratorAgeMilliseconds": false, "Errors": false, "ApproximateNumberOfMessagesVisible": false, "DeliveryToS3.DataFreshness": false, "WriteProvisionedThroughputExceeded": false}
	topic, _ := r.Value(map[string]any{"Ref": "AlarmTopic"})
	for _, id := range tm.ResourceIDs("AWS::CloudWatch::Alarm") {
		p, _ := r.Properties(id)
		want[fmt.Sprint(p["MetricName"])] = true
		if !slices.Contains(p["AlarmActions"].([]any), topic) {
			t.Errorf("alarm %s does not notify the alarm topic", id)
		}
	}
	for m, ok := range want {
		if !ok {
			t.Errorf("no alarm on %s", m)
		}
	}
	if len(tm.ResourceIDs("AWS::CloudWatch::Dashboard")) == 0 {
		t.Error("no dashboard")
	}
}

// The named queries in the template are exactly the files the local query
// command runs. UPDATE_TEMPLATE=1 (make template-queries) rewrites them.
func TestNamedQueriesMatchFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(queriesDir, "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no queries in %s: %v", queriesDir, err)
	}
	if os.Getenv("UPDATE_TEMPLATE") == "1" {
		writeNamedQueries(t, files)
	}
	tm, _ := loadTemplate(t)
	byName := map[string]string{}
	for _, id := range tm.ResourceIDs("AWS::Athena::NamedQuery") {
		p := tm.Resources[id].Properties
		byName[fmt.Sprint(p["Name"])] = fmt.Sprint(p["QueryString"])
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		sql, _ := os.ReadFile(f)
		got, ok := byName[name]
		if !ok {
			t.Errorf("queries/%s.sql has no AWS::Athena::NamedQuery (run make template-queries)", name)
			continue
		}
		if strings.TrimRight(got, "\n") != strings.TrimRight(string(sql), "\n") {
			t.Errorf("named query %s differs from queries/%s.sql (run make template-queries)", name, name)
		}
		delete(byName, name)
	}
	for name := range byName {
		t.Errorf("named query %s has no queries/%s.sql", name, name)
	}
}

var namedQueriesBlock = regexp.MustCompile(`(?s)  # NAMED QUERIES.*?  # END NAMED QUERIES`)

func writeNamedQueries(t *testing.T, files []string) {
	var b strings.Builder
	b.WriteString("  # NAMED QUERIES (generated from queries/*.sql by `make template-queries`; a test keeps them equal)\n")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sql := strings.TrimRight(string(raw), "\n")
		desc := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(sql, "\n", 2)[0], "--"))
		var id strings.Builder
		for _, part := range strings.Split(name, "_") {
			id.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
		fmt.Fprintf(&b, "  Query%s:\n    Type: AWS::Athena::NamedQuery\n    Properties:\n      Name: %s\n      Description: %q\n      Database: !Ref GlueDatabase\n      WorkGroup: !Ref AthenaWorkGroup\n      QueryString: |\n", id.String(), name, desc)
		for _, line := range strings.Split(sql, "\n") {
			if line == "" {
				b.WriteString("\n")
				continue
			}
			b.WriteString("        " + line + "\n")
		}
	}
	b.WriteString("  # END NAMED QUERIES")
	tmpl, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	if !namedQueriesBlock.Match(tmpl) {
		t.Fatal("template.yaml lost its NAMED QUERIES markers")
	}
	out := namedQueriesBlock.ReplaceAllLiteral(tmpl, []byte(b.String()))
	if err := os.WriteFile(templatePath, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Every function has a Makefile target sam build can call and an
// entrypoint package that exists.
func TestMakefileBuildsEveryFunction(t *testing.T) {
	tm, _ := loadTemplate(t)
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range tm.ResourceIDs("AWS::Serverless::Function") {
		res := tm.Resources[id]
		if res.Metadata["BuildMethod"] != "makefile" {
			t.Errorf("%s: BuildMethod %v, want makefile", id, res.Metadata["BuildMethod"])
		}
		entry, _ := res.Metadata["Entrypoint"].(string)
		pkg := filepath.Base(entry)
		if _, err := os.Stat(filepath.Join("..", entry, "main.go")); err != nil {
			t.Errorf("%s: entrypoint %s: %v", id, entry, err)
		}
		target := regexp.MustCompile(`(?m)^build-` + id + `:.*build-lambda,` + pkg + `,`)
		if !target.Match(mk) {
			t.Errorf("Makefile has no build-%s target building %s", id, pkg)
		}
	}
}

// The bootstraps are static linux/arm64 binaries (CGO_ENABLED=0,
// lambda.norpc), as provided.al2023 on Graviton needs.
func TestLambdaBinariesAreStaticArm64(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function for linux/arm64")
	}
	tm, _ := loadTemplate(t)
	dir := t.TempDir()
	for _, id := range tm.ResourceIDs("AWS::Serverless::Function") {
		entry, _ := tm.Resources[id].Metadata["Entrypoint"].(string)
		out := filepath.Join(dir, id)
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, entry)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%s: build failed: %v\n%s", id, err, stderr.String())
			continue
		}
		f, err := elf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != elf.EM_AARCH64 {
			t.Errorf("%s: machine %v, want aarch64", id, f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: dynamically linked", id)
			}
		}
		f.Close()
	}
}
