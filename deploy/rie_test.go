package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/dynamodb"
	"github.com/streamproc/streamproc/function/trending"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/tweet"
)

// These tests run the real bootstrap binaries under aws-lambda-rie, Lambda's
// own runtime interface emulator, invoked over its HTTP API with real events,
// and talking to the npm emulators through AWS_ENDPOINT_URL_<SERVICE>.

// rieBinary finds aws-lambda-rie (installed by make tools).
func rieBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "aws-lambda-rie")
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	requireTool(t, "aws-lambda-rie", "make tools", err)
	return ""
}

// buildBootstrap builds cmd/lambda/<pkg> as Lambda would run it, for this
// machine's architecture.
func buildBootstrap(t *testing.T, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, "./cmd/lambda/"+pkg)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lambdaUnderRIE is one bootstrap running under the emulator.
type lambdaUnderRIE struct {
	url string
	out *lockedBuffer // the function's stdout/stderr: logs and EMF lines
}

func startRIE(t *testing.T, pkg string, env map[string]string) *lambdaUnderRIE {
	t.Helper()
	rieBinary(t) // skip (or fail under CI) before building
	return runRIE(t, pkg, buildBootstrap(t, pkg), env)
}

// runRIE runs an already built bootstrap of cmd/lambda/<pkg> under the
// emulator: each call is a fresh process, as after a Lambda cold start.
func runRIE(t *testing.T, pkg, boot string, env map[string]string) *lambdaUnderRIE {
	t.Helper()
	rie := rieBinary(t)
	port, apiPort := freePort(t), freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, rie,
		"--runtime-interface-emulator-address", fmt.Sprintf("127.0.0.1:%d", port),
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", apiPort),
		boot)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDEMULATOR", "AWS_SECRET_ACCESS_KEY=emulator-secret",
		"AWS_LAMBDA_FUNCTION_NAME=check-"+pkg)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s under RIE:\n%s", pkg, out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie did not listen: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &lambdaUnderRIE{url: fmt.Sprintf("http://127.0.0.1:%d/2015-03-31/functions/function/invocations", port), out: out}
}

func (l *lambdaUnderRIE) invoke(t *testing.T, event any) []byte {
	t.Helper()
	body, err := json.Marshal(event)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(l.url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errorMessage"`)) {
		t.Fatalf("invoke: %s %s", resp.Status, b)
	}
	return b
}

func kinesisEvent(datas ...[]byte) events.KinesisEvent {
	var ev events.KinesisEvent
	for i, d := range datas {
		seq := fmt.Sprintf("4960%052d", i)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventID: "shardId-000000000000:" + seq, EventSource: "aws:kinesis", EventName: "aws:kinesis:record", EventVersion: "1.0",
			EventSourceArn: "arn:aws:kinesis:us-east-1:000000000000:stream/check-EventStream", AwsRegion: "us-east-1",
			Kinesis: events.KinesisRecord{Data: d, SequenceNumber: seq, PartitionKey: "pk", KinesisSchemaVersion: "1.0",
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Now()}},
		})
	}
	return ev
}

func TestTransformerUnderRIE(t *testing.T) {
	fn := startRIE(t, "transformer", nil)
	ev := fixture.SeedFirehoseEvent(t)
	ev.Records = append(ev.Records, events.KinesisFirehoseEventRecord{RecordID: "garbage", Data: []byte{0xff, 0x00}})
	var resp events.KinesisFirehoseResponse
	if err := json.Unmarshal(fn.invoke(t, ev), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Records) != 2 || resp.Records[0].Result != "Ok" || resp.Records[1].Result != "ProcessingFailed" || resp.Records[1].RecordID != "garbage" {
		t.Fatalf("response = %+v", resp)
	}
	if !bytes.Contains(resp.Records[0].Data, []byte(`"id":1174681441692635136,`)) || !bytes.HasSuffix(resp.Records[0].Data, []byte("}\n")) {
		t.Fatalf("record = %s", resp.Records[0].Data)
	}
	waitFor(t, func() bool { return strings.Contains(fn.out.String(), `"RecordsProcessingFailed":1`) }, "an EMF metrics line")
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestConsumerUnderRIEWritesDynalite(t *testing.T) {
	ddbURL := emulator.Dynalite(t)
	s3URL := emulator.S3rver(t, "check-bucket")
	ctx := context.Background()
	ddb := emulator.DynamoDBClient(ddbURL)
	spec := tweet.EventDataSpec("check-EventData")
	spec.TTLAttr = "" // dynalite has no UpdateTimeToLive
	if err := dynamodb.CreateTable(ctx, ddb, spec, time.Minute); err != nil {
		t.Fatal(err)
	}
	fn := startRIE(t, "consumer", map[string]string{
		"DDB_TABLE": "check-EventData", "DDB_TTL_DAYS": "7", "DEAD_LETTER_BUCKET": "check-bucket",
		"AWS_ENDPOINT_URL_DYNAMODB": ddbURL, "AWS_ENDPOINT_URL_S3": s3URL, "S3_USE_PATH_STYLE": "true",
		// s3rver accepts only its own key; dynalite accepts any.
		"AWS_ACCESS_KEY_ID": emulator.S3rverKey, "AWS_SECRET_ACCESS_KEY": emulator.S3rverKey,
	})
	sts := fixture.SearchStatuses(t)
	ev := kinesisEvent(append(sts, []byte("garbage \xff"))...)
	var resp events.KinesisEventResponse
	for range 2 { // re-delivery is idempotent
		if err := json.Unmarshal(fn.invoke(t, ev), &resp); err != nil {
			t.Fatal(err)
		}
		if len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batchItemFailures = %+v", resp.BatchItemFailures)
		}
	}
	table := dynamodb.New(ddb)
	page, err := table.Scan(ctx, "check-EventData", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != len(sts) {
		t.Fatalf("dynalite holds %d items, want %d", len(page.Items), len(sts))
	}
	for _, it := range page.Items {
		if it[tweet.AttrMessage] == "" || it[tweet.AttrExpirationTime] == nil {
			t.Errorf("item %v", it)
		}
	}
	objs, err := emulator.S3Client(s3URL).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("check-bucket"), Prefix: aws.String("dead-letter/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Contents) != 2 { // one object per invocation
		t.Fatalf("%d dead-letter objects, want 2", len(objs.Contents))
	}
	got, err := emulator.S3Client(s3URL).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("check-bucket"), Key: objs.Contents[0].Key})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	var dl streamproc.DeadLetter
	if err := json.NewDecoder(got.Body).Decode(&dl); err != nil {
		t.Fatal(err)
	}
	if string(dl.Data) != "garbage \xff" || dl.ShardID != "shardId-000000000000" || !strings.Contains(dl.Reason, "UTF-8") {
		t.Errorf("dead letter = %+v", dl)
	}
}

func TestProducerUnderRIEPutsToKinesalite(t *testing.T) {
	kURL := emulator.Kinesalite(t)
	ctx := context.Background()
	kc := emulator.KinesisClient(kURL)
	if _, err := kc.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String("check-EventStream"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"records", "aggregated"} {
		t.Run(mode, func(t *testing.T) {
			fn := startRIE(t, "producer", map[string]string{"STREAM_NAME": "check-EventStream", "PRODUCER_MODE": mode, "TOP_N": "2", "AWS_ENDPOINT_URL_KINESIS": kURL})
			var res struct {
				Mode       string `json:"mode"`
				TweetsPut  int    `json:"tweetsPut"`
				RecordsPut int    `json:"recordsPut"`
				Failed     int    `json:"failed"`
			}
			if err := json.Unmarshal(fn.invoke(t, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}), &res); err != nil {
				t.Fatal(err)
			}
			if res.Mode != mode || res.TweetsPut == 0 || res.Failed != 0 {
				t.Fatalf("result = %+v", res)
			}
			if mode == "aggregated" && res.RecordsPut >= res.TweetsPut {
				t.Errorf("aggregated mode put %d records for %d tweets", res.RecordsPut, res.TweetsPut)
			}
		})
	}
	// Both runs' records are in the stream.
	total := 0
	shards, err := kc.ListShards(ctx, &awskinesis.ListShardsInput{StreamName: aws.String("check-EventStream")})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String("check-EventStream"), ShardId: sh.ShardId, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := kc.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		total += len(out.Records)
	}
	if total == 0 {
		t.Fatal("kinesalite holds no records")
	}
}

func TestTrendingUnderRIEAddsToDynalite(t *testing.T) {
	ddbURL := emulator.Dynalite(t)
	ctx := context.Background()
	ddb := emulator.DynamoDBClient(ddbURL)
	if err := dynamodb.CreateTable(ctx, ddb, trending.TrendsSpec("check-Trends"), time.Minute); err != nil {
		t.Fatal(err)
	}
	fn := startRIE(t, "trending", map[string]string{"TRENDS_TABLE": "check-Trends", "AWS_ENDPOINT_URL_DYNAMODB": ddbURL})
	start := time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC)
	ev := events.KinesisTimeWindowEvent{KinesisEvent: kinesisEvent(fixture.SearchStatuses(t)...)}
	ev.Window = events.Window{Start: events.RFC3339EpochTime{Time: start}, End: events.RFC3339EpochTime{Time: start.Add(time.Minute)}}
	ev.ShardID = "shardId-000000000000"
	var r events.KinesisTimeWindowEventResponse
	if err := json.Unmarshal(fn.invoke(t, ev), &r); err != nil {
		t.Fatal(err)
	}
	if r.State["golang"] == "" {
		t.Fatalf("state = %v", r.State)
	}
	final := events.KinesisTimeWindowEvent{}
	final.Window, final.ShardID, final.State, final.IsFinalInvokeForWindow = ev.Window, ev.ShardID, r.State, true
	fn.invoke(t, final)
	items, err := dynamodb.New(ddb).Query(ctx, "check-Trends", streamproc.Query{Hash: "2026-11-26T10:05:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range items {
		got[it[trending.AttrHashtag].(string)] = fmt.Sprint(it[trending.AttrCount])
	}
	if got["golang"] != r.State["golang"] || got[trending.KeyTweets] != "15" {
		t.Fatalf("Trends = %v, state was %v", got, r.State)
	}
}
