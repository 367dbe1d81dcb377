package stack

import (
	"strings"
	"testing"
)

func load(t *testing.T) *Resolved {
	t.Helper()
	tmpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Resolve(Env{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolveProjectTemplate(t *testing.T) {
	r := load(t)
	tests := []struct {
		id, name, arn string
	}{
		{"EventStream", "streamproc-EventStream", "arn:aws:kinesis:us-east-1:000000000000:stream/streamproc-EventStream"},
		{"EventDataTable", "streamproc-EventData", "arn:aws:dynamodb:us-east-1:000000000000:table/streamproc-EventData"},
		{"DataStreamConsumer", "streamproc-DataStreamConsumer", "arn:aws:lambda:us-east-1:000000000000:function:streamproc-DataStreamConsumer"},
		{"FirehoseDeliveryStream", "streamproc-FirehoseDeliveryStream", "arn:aws:firehose:us-east-1:000000000000:deliverystream/streamproc-FirehoseDeliveryStream"},
		{"DeliveryBucket", "streamproc-deliverybucket-local", "arn:aws:s3:::streamproc-deliverybucket-local"},
	}
	for _, tc := range tests {
		if got := r.Name(tc.id); got != tc.name {
			t.Errorf("Name(%s) = %q, want %q", tc.id, got, tc.name)
		}
		if got, err := r.ARN(tc.id); err != nil || got != tc.arn {
			t.Errorf("ARN(%s) = %q, %v, want %q", tc.id, got, err, tc.arn)
		}
	}
	props, err := r.Properties("DataStreamConsumer")
	if err != nil {
		t.Fatal(err)
	}
	env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
	if env["DDB_TABLE"] != "streamproc-EventData" || env["DDB_TTL_DAYS"] != "7" || env["STACK_NAME"] != "streamproc" {
		t.Errorf("consumer environment = %v (Globals must merge)", env)
	}
	if props["Runtime"] != "provided.al2023" || props["Timeout"] != int64(60) {
		t.Errorf("Globals not merged: Runtime %v Timeout %v", props["Runtime"], props["Timeout"])
	}
	ev := props["Events"].(map[string]any)["Stream"].(map[string]any)["Properties"].(map[string]any)
	want := map[string]any{
		"Stream": "arn:aws:kinesis:us-east-1:000000000000:stream/streamproc-EventStream", "StartingPosition": "TRIM_HORIZON",
		"BatchSize": "100", "MaximumBatchingWindowInSeconds": "1", "ParallelizationFactor": "1", "BisectBatchOnFunctionError": "true",
		"MaximumRetryAttempts": "3", "MaximumRecordAgeInSeconds": "3600",
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("Kinesis event %s = %#v, want %#v", k, ev[k], v)
		}
	}
	dest := ev["DestinationConfig"].(map[string]any)["OnFailure"].(map[string]any)["Destination"]
	if dest != "arn:aws:sqs:us-east-1:000000000000:streamproc-ConsumerFailures" {
		t.Errorf("OnFailure destination = %v", dest)
	}
	fh, err := r.Properties("FirehoseDeliveryStream")
	if err != nil {
		t.Fatal(err)
	}
	s3 := fh["ExtendedS3DestinationConfiguration"].(map[string]any)
	if s3["Prefix"] != "tweets/!{timestamp:yyyy/MM/dd/HH}/" || !strings.Contains(s3["ErrorOutputPrefix"].(string), "!{firehose:error-output-type}") {
		t.Errorf("prefixes = %v / %v", s3["Prefix"], s3["ErrorOutputPrefix"])
	}
	glue, err := r.Properties("RecordsTable")
	if err != nil {
		t.Fatal(err)
	}
	loc := glue["TableInput"].(map[string]any)["Parameters"].(map[string]any)["storage.location.template"]
	if loc != "s3://streamproc-deliverybucket-local/tweets/${datehour}/" {
		t.Errorf("${!literal} escape: %v", loc)
	}
}

func TestOverridesAndErrors(t *testing.T) {
	tmpl, err := Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := tmpl.Resolve(Env{StackName: "demo", Overrides: map[string]string{"ConsumerBatchSize": "500", "AlarmEmail": "a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name("EventDataTable") != "demo-EventData" || r.Param("ConsumerBatchSize") != "500" || !r.Condition("HasAlarmEmail") || !r.Enabled("AlarmEmailSubscription") {
		t.Errorf("overrides not applied")
	}
	bad := []struct {
		o    map[string]string
		want string
	}{
		{map[string]string{"NoSuchParam": "1"}, "NoSuchParam"},
		{map[string]string{"ProducerMode": "batch"}, "not one of"},
		{map[string]string{"ConsumerBatchSize": "20000"}, "outside"},
		{map[string]string{"ShardCount": "two"}, "not a number"},
		{map[string]string{"GlueDatabaseName": "Bad-Name"}, `GlueDatabaseName="Bad-Name" does not match the pattern [a-z0-9_]+`},
		{map[string]string{"GlueDatabaseName": "ok_name but not whole"}, "does not match"},
		{map[string]string{"ProducerSearchQuery": strings.Repeat("x", 1025)}, "1025 characters long"},
	}
	for _, b := range bad {
		if _, err := tmpl.Resolve(Env{Overrides: b.o}); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("override %.60v: %v, want an error with %q", b.o, err, b.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]string{
		"no resources":  "Parameters: {}\n",
		"no type":       "Resources:\n  A:\n    Properties: {}\n",
		"unknown tag":   "Resources:\n  A:\n    Type: X\n    Properties:\n      P: !Frob x\n",
		"duplicate key": "Resources:\n  A:\n    Type: X\n  A:\n    Type: Y\n",
		"bad GetAtt":    "Resources:\n  A:\n    Type: X\n    Properties:\n      P: !GetAtt NoDot\n",
	}
	for name, in := range tests {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
	tm, err := Parse([]byte("Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      P: !Ref Missing\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := tm.Resolve(Env{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Properties("A"); err == nil || !strings.Contains(err.Error(), "Missing") {
		t.Errorf("dangling Ref error = %v", err)
	}
}

func TestPlanProjectTemplate(t *testing.T) {
	p, err := load(t).Plan()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Streams) != 1 || p.Streams[0].Name != "streamproc-EventStream" || p.Streams[0].Shards != 1 {
		t.Errorf("streams = %+v", p.Streams)
	}
	if len(p.Tables) != 3 || len(p.Buckets) != 1 || len(p.Queues) != 1 || len(p.Functions) != 5 {
		t.Errorf("tables %d buckets %d queues %d functions %d", len(p.Tables), len(p.Buckets), len(p.Queues), len(p.Functions))
	}
	if len(p.Mappings) != 2 || len(p.Deliveries) != 1 || len(p.Schedules) != 1 || len(p.Unknown) != 0 {
		t.Fatalf("mappings %+v deliveries %+v schedules %+v unknown %v", p.Mappings, p.Deliveries, p.Schedules, p.Unknown)
	}
	// Every property the template sets on the consumer's Kinesis event
	// reaches the plan (typed SAM models drop unknown keys silently).
	m := p.Mappings[0]
	want := map[string]string{"StartingPosition": "TRIM_HORIZON", "BatchSize": "100", "MaximumBatchingWindowInSeconds": "1",
		"ParallelizationFactor": "1", "BisectBatchOnFunctionError": "true", "MaximumRetryAttempts": "3",
		"MaximumRecordAgeInSeconds": "3600", "FunctionResponseTypes": "ReportBatchItemFailures"}
	if m.Function != "DataStreamConsumer" || m.Destination != "streamproc-ConsumerFailures" || len(m.Properties) != len(want) {
		t.Errorf("mapping = %+v", m)
	}
	for k, v := range want {
		if m.Properties[k] != v {
			t.Errorf("mapping %s = %q, want %q", k, m.Properties[k], v)
		}
	}
	if p.Mappings[1].Properties["TumblingWindowInSeconds"] != "60" {
		t.Errorf("trending mapping = %+v", p.Mappings[1])
	}
	d := p.Deliveries[0]
	if d.Processor != "FirehoseTransformer" || d.Bucket != "streamproc-deliverybucket-local" || d.Prefix != "tweets/!{timestamp:yyyy/MM/dd/HH}/" ||
		d.BufferInterval.Seconds() != 60 || d.BufferSizeMB != 5 || d.ProcessorBufferMB != 3 || d.ProcessorRetries != 3 {
		t.Errorf("delivery = %+v", d)
	}
	if s := p.Schedules[0]; s.Expression != "rate(10 minutes)" || s.Function != "DataStreamProducer" || !s.Enabled {
		t.Errorf("schedule = %+v", s)
	}
	if len(p.CloudOnly) < 10 {
		t.Errorf("cloud-only = %v", p.CloudOnly)
	}
}
