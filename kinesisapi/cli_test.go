package kinesisapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Smoke tests with clients that do not share our Go code: the AWS CLI and
// boto3 (botocore signs, serialises and parses on its own). The endpoint
// verifies signatures, so botocore's SigV4 is checked too.

const (
	cliKeyID  = "AKIDCLISMOKE"
	cliSecret = "cli/smoke+secret"
)

// awsCLI finds the AWS CLI: the aws command, or python3 -m awscli. Under
// CI=true a missing CLI fails the test (CI installs Debian's awscli).
func awsCLI(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("aws"); err == nil {
		if exec.Command(p, "--version").Run() == nil {
			return []string{p}
		}
	}
	for _, py := range pythons() {
		if exec.Command(py, "-m", "awscli", "--version").Run() == nil {
			return []string{py, "-m", "awscli"}
		}
	}
	msg := "the AWS CLI is not installed (neither `aws` nor `python3 -m awscli` works); install Debian's awscli package"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}

// pythons lists the Python interpreters worth trying: the one on PATH and
// Debian's, which is where apt's python3-boto3 installs.
func pythons() []string {
	var out []string
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if abs, err := exec.LookPath(p); err == nil && !containsStr(out, abs) {
			out = append(out, abs)
		}
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// cliEnv is the environment for the CLI and boto3: ours minus any real AWS
// configuration, plus the test's credentials.
func cliEnv(t *testing.T, keyID, secret string) []string {
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID="+keyID,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_RETRY_MODE=standard",
		"AWS_MAX_ATTEMPTS=1",
	)
}

func TestAWSCLI(t *testing.T) {
	cli := awsCLI(t)
	tg := newOurs(t, ourOptions{credentials: map[string]string{cliKeyID: cliSecret}})
	ver, _ := exec.Command(cli[0], append(cli[1:], "--version")...).CombinedOutput()
	t.Logf("AWS CLI: %s", strings.TrimSpace(string(ver)))
	// CLI v2 treats blob arguments as base64 unless told otherwise; v1
	// takes them raw and has no such option.
	var rawBlobs []string
	if strings.Contains(string(ver), "aws-cli/2") {
		rawBlobs = []string{"--cli-binary-format", "raw-in-base64-out"}
	}
	run := func(env []string, args ...string) (map[string]any, string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		full := append(append([]string{}, cli[1:]...), append([]string{"--endpoint-url", tg.url, "--region", "us-east-1", "--output", "json", "kinesis"}, args...)...)
		cmd := exec.CommandContext(ctx, cli[0], full...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var m map[string]any
		if out.Len() > 0 {
			if jerr := json.Unmarshal(out.Bytes(), &m); jerr != nil {
				t.Fatalf("aws %s: output is not JSON: %s", strings.Join(args, " "), out.String())
			}
		}
		return m, errb.String(), err
	}
	env := cliEnv(t, cliKeyID, cliSecret)
	must := func(args ...string) map[string]any {
		t.Helper()
		m, stderr, err := run(env, args...)
		if err != nil {
			t.Fatalf("aws kinesis %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return m
	}

	must("create-stream", "--stream-name", "cli", "--shard-count", "2")
	sum := must("describe-stream-summary", "--stream-name", "cli")["StreamDescriptionSummary"].(map[string]any)
	if sum["StreamStatus"] != "ACTIVE" || sum["OpenShardCount"] != float64(2) {
		t.Fatalf("summary = %v", sum)
	}
	put := must(append([]string{"put-record", "--stream-name", "cli", "--partition-key", "k1", "--data", "hello from the aws cli"}, rawBlobs...)...)
	shard, _ := put["ShardId"].(string)
	seq, _ := put["SequenceNumber"].(string)
	if !strings.HasPrefix(shard, "shardId-") || len(seq) != 56 {
		t.Fatalf("put-record = %v", put)
	}
	must(append([]string{"put-records", "--stream-name", "cli", "--records", `[{"PartitionKey":"k1","Data":"second"}]`}, rawBlobs...)...)
	it := must("get-shard-iterator", "--stream-name", "cli", "--shard-id", shard, "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"].(string)
	got := must("get-records", "--shard-iterator", it)
	recs, _ := got["Records"].([]any)
	if len(recs) != 2 {
		t.Fatalf("get-records = %v", got)
	}
	first := recs[0].(map[string]any)
	data, err := base64.StdEncoding.DecodeString(first["Data"].(string))
	if err != nil || string(data) != "hello from the aws cli" || first["SequenceNumber"] != seq || first["PartitionKey"] != "k1" {
		t.Fatalf("record = %v (data %q)", first, data)
	}
	// botocore's timestamp serialisation, through AT_TIMESTAMP.
	ts := fmt.Sprintf("%d", time.Now().Add(-time.Hour).Unix())
	it = must("get-shard-iterator", "--stream-name", "cli", "--shard-id", shard, "--shard-iterator-type", "AT_TIMESTAMP", "--timestamp", ts)["ShardIterator"].(string)
	if recs, _ := must("get-records", "--shard-iterator", it)["Records"].([]any); len(recs) != 2 {
		t.Fatalf("AT_TIMESTAMP an hour ago read %d records", len(recs))
	}
	names, _ := must("list-streams")["StreamNames"].([]any)
	if len(names) != 1 || names[0] != "cli" {
		t.Fatalf("list-streams = %v", names)
	}

	// Errors come back as the CLI's "An error occurred (Code)" lines.
	if _, stderr, err := run(env, "describe-stream", "--stream-name", "nope"); err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("describe-stream of a missing stream: %v %s", err, stderr)
	}
	if _, stderr, err := run(cliEnv(t, cliKeyID, "wrong"), "list-streams"); err == nil || !strings.Contains(stderr, "InvalidSignatureException") {
		t.Errorf("wrong secret: %v %s", err, stderr)
	}
}

// boto3Script exercises boto3 against the endpoint and prints a JSON
// summary for the Go side to check.
const boto3Script = `
import json, sys, time, boto3
c = boto3.client("kinesis", endpoint_url=sys.argv[1], region_name="us-east-1")
out = {}
c.create_stream(StreamName="boto", ShardCount=3)
c.get_waiter("stream_exists").wait(StreamName="boto", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
r = c.put_records(StreamName="boto", Records=[{"PartitionKey": "pk-%d" % i, "Data": ("boto-%d" % i).encode()} for i in range(20)])
out["failed"] = r["FailedRecordCount"]
first = r["Records"][0]
it = c.get_shard_iterator(StreamName="boto", ShardId=first["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
                          StartingSequenceNumber=first["SequenceNumber"])["ShardIterator"]
got = c.get_records(ShardIterator=it, Limit=100)
out["first"] = got["Records"][0]["Data"].decode()
out["arrival_type"] = type(got["Records"][0]["ApproximateArrivalTimestamp"]).__name__
out["shards"] = len(c.list_shards(StreamName="boto")["Shards"])
c.add_tags_to_stream(StreamName="boto", Tags={"team": "data"})
out["tags"] = c.list_tags_for_stream(StreamName="boto")["Tags"]
out["mode"] = c.describe_stream_summary(StreamName="boto")["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"]
try:
    c.describe_stream(StreamName="missing")
except c.exceptions.ResourceNotFoundException as e:
    out["missing"] = e.response["Error"]["Code"]
try:
    c.get_records(ShardIterator=it[:-4] + "AAAA")
except c.exceptions.InvalidArgumentException as e:
    out["tampered"] = e.response["Error"]["Code"]
print(json.dumps(out))
`

func TestBoto3(t *testing.T) {
	var py string
	for _, p := range pythons() {
		if exec.Command(p, "-c", "import boto3").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("boto3 is not importable by python3 (Debian package python3-boto3); the AWS CLI test still covers botocore")
	}
	tg := newOurs(t, ourOptions{credentials: map[string]string{cliKeyID: cliSecret}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", boto3Script, tg.url)
	cmd.Env = cliEnv(t, cliKeyID, cliSecret)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("boto3 script: %v\n%s", err, errb.String())
	}
	var got struct {
		Failed      int                 `json:"failed"`
		First       string              `json:"first"`
		ArrivalType string              `json:"arrival_type"`
		Shards      int                 `json:"shards"`
		Tags        []map[string]string `json:"tags"`
		Mode        string              `json:"mode"`
		Missing     string              `json:"missing"`
		Tampered    string              `json:"tampered"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("boto3 output %q: %v", out.String(), err)
	}
	if got.Failed != 0 || got.First != "boto-0" || got.ArrivalType != "datetime" || got.Shards != 3 || len(got.Tags) != 1 ||
		got.Mode != "PROVISIONED" || got.Missing != "ResourceNotFoundException" || got.Tampered != "InvalidArgumentException" {
		t.Fatalf("boto3 saw %+v", got)
	}
}
