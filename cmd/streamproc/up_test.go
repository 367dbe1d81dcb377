package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/source/synthetic"
	"github.com/streamproc/streamproc/source/xapi/xapitest"
	"github.com/streamproc/streamproc/tweet"
)

// The whole pipeline in-process: `up` with no built-in source, tweets,
// garbage and stream notices written by an independent Kinesis client
// through the Kinesis API; after the run the table, the delivered objects,
// the error output, the dead letters and the Trends table all agree with what
// was written.
func TestUpEndToEnd(t *testing.T) {
	u := startUp(t, "--source", "none", "--ui-addr", "off", "--duration", "9s", "--poll-interval", "50ms",
		"--parameter-overrides", "DeliveryBufferSeconds=1 TrendsWindowSeconds=1 ConsumerBatchingWindowSeconds=0 ShardCount=2")
	dir, endpoint := u.dir, u.endpoint
	client := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	gen := synthetic.New(synthetic.Options{Seed: 7, DeleteRate: 0.05})
	var entries []types.PutRecordsRequestEntry
	tweets := map[string]bool{}
	hashtags := 0
	for range 300 {
		tw := gen.Next()
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(tw.ScreenName), Data: tw.Raw})
		if msg, err := tweet.Decode(tw.Raw); err == nil && msg.Kind == tweet.KindTweet {
			tweets[msg.Tweets[0].User.ScreenName+"/"+msg.Tweets[0].IDStr] = true
			hashtags += len(msg.Tweets[0].Hashtags)
		}
	}
	garbage := [][]byte{[]byte("not json at all"), {0xff, 0xfe, 0x00}, []byte(`{"valid":"json, not a tweet"}`)}
	for _, g := range garbage {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("garbage"), Data: g})
	}
	for i := 0; i < len(entries); i += 100 {
		out, err := client.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("streamproc-EventStream"), Records: entries[i:min(i+100, len(entries))]})
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("PutRecords: %v %+v", err, out)
		}
	}
	// While up runs the data dir is locked; other commands read through
	// the running process.
	c := &cli{t: t, dir: dir}
	live := 0
	// Margins for a slow, shared CI machine: up runs 9 s, the poll stops at the first full scan.
	for deadline := time.Now().Add(7 * time.Second); time.Now().Before(deadline) && live < len(tweets); time.Sleep(100 * time.Millisecond) {
		live = len(jsonLines(t, c.mustRun("", "table", "scan", "EventData")))
	}
	if live != len(tweets) {
		t.Errorf("live table scan through the running stack saw %d items, want %d", live, len(tweets))
	}
	// down refuses to purge the data dir of a running stack, and says so.
	if _, errs, code := c.run("", "down", "--purge"); code == 0 || !strings.Contains(errs, "in use by 'streamproc up'") {
		t.Errorf("down --purge while up runs: exit %d, %q", code, errs)
	}
	if code, stderr := u.wait(t); code != 0 {
		t.Fatalf("up exited %d:\n%s", code, stderr)
	}

	items := jsonLines(t, c.mustRun("", "table", "scan", "EventData"))
	if len(items) != len(tweets) {
		t.Errorf("EventData holds %d items, %d distinct tweets were written", len(items), len(tweets))
	}
	// Delivered objects: every good tweet exactly once, one JSON line each.
	delivered := map[string]int{}
	var envelopes []map[string]any
	bucket := filepath.Join(dir, "buckets", "streamproc-deliverybucket-local")
	err := filepath.Walk(bucket, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(path, ".attrs") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(bucket, path)
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var rec map[string]any
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.UseNumber()
			if err := dec.Decode(&rec); err != nil {
				t.Errorf("%s: not a JSON line: %q", rel, sc.Text())
				continue
			}
			switch {
			case strings.HasPrefix(rel, "tweets/"):
				delivered[rec["user_screen_name"].(string)+"/"+string(rec["id"].(json.Number))]++
			case strings.HasPrefix(rel, "errors/processing-failed/"):
				envelopes = append(envelopes, rec)
			default:
				t.Errorf("unexpected object %s", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range tweets {
		if delivered[k] != 1 {
			t.Errorf("tweet %s delivered %d times", k, delivered[k])
		}
	}
	if len(delivered) != len(tweets) {
		t.Errorf("%d tweets delivered, %d written", len(delivered), len(tweets))
	}
	if len(envelopes) != len(garbage) {
		t.Fatalf("%d processing-failed envelopes, want %d", len(envelopes), len(garbage))
	}
	for _, e := range envelopes {
		if e["errorCode"] != "Lambda.ProcessingFailedStatus" || e["rawData"] == "" || e["attemptsMade"] == nil || e["lambdaArn"] == nil {
			t.Errorf("envelope = %v", e)
		}
	}
	dls := jsonLines(t, c.mustRun("", "dlq", "consumer"))
	if len(dls) != len(garbage) {
		t.Errorf("%d dead letters, want %d: %v", len(dls), len(garbage), dls)
	}
	// The transformer's failures, through dlq, with their bytes and object.
	failed := jsonLines(t, c.mustRun("", "dlq", "transformer"))
	var got []string
	for _, f := range failed {
		data, _ := base64.StdEncoding.DecodeString(f["data"].(string))
		got = append(got, string(data))
		// The reason is the transformer's own (from its log), not
		// Firehose's generic Lambda.ProcessingFailedStatus.
		reason := f["reason"].(string)
		if f["function"] != "streamproc-FirehoseTransformer" || !strings.HasPrefix(reason, "processing failed: not ") ||
			!strings.HasPrefix(f["object"].(string), "errors/processing-failed/") {
			t.Errorf("dlq transformer line %v", f)
		}
	}
	var want []string
	for _, g := range garbage {
		want = append(want, string(g))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("dlq transformer data %q, want %q", got, want)
	}
	if all := jsonLines(t, c.mustRun("", "dlq")); len(all) < len(dls)+len(failed) {
		t.Errorf("dlq without a function: %d lines, want at least %d", len(all), len(dls)+len(failed))
	}
	// Trends: the per-window counts add up to the tweets and hashtags written.
	trends := jsonLines(t, c.mustRun("", "table", "scan", "Trends"))
	var tw, tags int64
	for _, it := range trends {
		n, _ := it["Count"].(json.Number).Int64()
		switch h := it["Hashtag"].(string); {
		case h == "#tweets":
			tw += n
		case !strings.HasPrefix(h, "#"):
			tags += n
		}
	}
	if tw != int64(len(tweets)) || tags != int64(hashtags) {
		t.Errorf("Trends count %d tweets and %d hashtags, want %d and %d", tw, tags, len(tweets), hashtags)
	}
}

// up with the other tweet sources: the fixture's 15 statuses replayed from
// JSON Lines, and found by the X API (the template's producer function with
// ProducerSource=xapi, fired at start against a fake X API), all reach
// EventData; credentials stay out of the output.
func TestUpSources(t *testing.T) {
	jsonl, _ := statusesJSONL(t)
	tests := []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"replay", func(t *testing.T) []string {
			p := filepath.Join(t.TempDir(), "tweets.jsonl.gz")
			if err := os.WriteFile(p, gzipped(t, jsonl), 0o600); err != nil {
				t.Fatal(err)
			}
			return []string{"--source", "replay:" + p, "--rate", "0"}
		}},
		{"xapi", func(t *testing.T) []string {
			srv := fakeX(t, time.Now())
			srv.SetTrends(xapitest.Trend{Name: "#golang"})
			return []string{"--source", "xapi", "--x-api-url", srv.URL, "--params", writeParams(t, "/twitter/bearer_token="+testBearer+"\n")}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var stdout, stderr bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) (string, bool) { return "", false }}
			args := append([]string{"--data-dir", dir, "-t", "../../template.yaml", "up", "--addr", "127.0.0.1:0", "--ui-addr", "off",
				"--duration", "4s", "--poll-interval", "50ms", "--status-interval", "0",
				"--parameter-overrides", `ConsumerBatchingWindowSeconds=0 ProducerSchedule="rate(1 hour)"`}, tc.args(t)...)
			if code := m.Run(context.Background(), args); code != 0 {
				t.Fatalf("up exited %d:\n%s", code, stderr.String())
			}
			if strings.Contains(stderr.String(), testBearer) {
				t.Fatalf("the bearer token is in up's output:\n%s", stderr.String())
			}
			c := &cli{t: t, dir: dir}
			got := map[string]bool{}
			for _, it := range jsonLines(t, c.mustRun("", "table", "scan", "EventData")) {
				got[fmt.Sprint(it["Username"])+"/"+fmt.Sprint(it["Id"])] = true
			}
			for _, k := range fixtureKeys(t) {
				if !got[k] {
					t.Errorf("%s is not in EventData", k)
				}
			}
			if len(got) != 15 {
				t.Errorf("EventData holds %d items, want the fixture's 15\n%s", len(got), stderr.String())
			}
			// produced counts the source's tweets, the producer function's too.
			if !strings.Contains(stderr.String(), "stopped: produced 15 |") {
				t.Errorf("the stop line does not count the 15 tweets produced:\n%s", stderr.String())
			}
			// A run shorter than the 60 s trend window ends with the window
			// open: Trends may be empty, but not without saying why.
			if trends := jsonLines(t, c.mustRun("", "table", "scan", "Trends")); len(trends) == 0 && !strings.Contains(stderr.String(), "was still open at stop") {
				t.Errorf("Trends is empty and up did not say the window was open:\n%s", stderr.String())
			}
		})
	}
}

// Bad flags and busy ports are refused (exit 2 for usage) before the data
// dir is created or anything starts.
func TestUpRefusesBeforeStarting(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"negative duration", []string{"--duration", "-3s"}, exitUsage, "--duration must not be negative"},
		{"zero poll interval", []string{"--poll-interval", "0s"}, exitUsage, "--poll-interval must be positive"},
		{"bogus ui address", []string{"--ui-addr", "bogus"}, exitUsage, `--ui-addr "bogus": want host:port`},
		{"bad port", []string{"--addr", "127.0.0.1:99999"}, exitUsage, "port must be a number from 0 to 65535"},
		{"record age AWS refuses", []string{"--parameter-overrides", "ConsumerMaximumRecordAgeSeconds=30"}, exitUsage, "is parameter ConsumerMaximumRecordAgeSeconds=30"},
		{"name against AllowedPattern", []string{"--parameter-overrides", "GlueDatabaseName=Bad-Name"}, exitUsage, "does not match the pattern"},
		{"schedule EventBridge refuses", []string{"--parameter-overrides", `ProducerSchedule="rate(0 hours)"`}, exitUsage, "is parameter ProducerSchedule=rate(0 hours)"},
		{"fractional shard count", []string{"--parameter-overrides", "ShardCount=2.5"}, exitUsage, "is parameter ShardCount=2.5"},
		{"replay file missing", []string{"--source", "replay:/nonexistent.jsonl"}, exitUsage, "/nonexistent.jsonl"},
		{"busy API port", []string{"--addr", busy.Addr().String()}, exitError, "is another 'streamproc up' running?"},
		{"busy dashboard port", []string{"--addr", "127.0.0.1:0", "--ui-addr", busy.Addr().String()}, exitError, "--ui-addr off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			var stderr bytes.Buffer
			m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) (string, bool) { return "", false }}
			code := m.Run(context.Background(), append([]string{"--data-dir", dir, "-t", "../../template.yaml", "up", "--status-interval", "0"}, tc.args...))
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", code, tc.code, tc.want, stderr.String())
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("the data dir was created")
			}
		})
	}
}

// /metrics carries the dashboard's numbers even with the dashboard off:
// every function's error count (0 before the first error), each event
// source mapping's batches and live iterator age, and a data freshness that
// keeps growing while nothing is delivered — sampled at scrape time.
func TestMetricsWithoutDashboard(t *testing.T) {
	u := startUp(t, "--source", "synthetic", "--rate", "50", "--ui-addr", "off",
		"--parameter-overrides", "DeliveryBufferSeconds=900", "ConsumerBatchingWindowSeconds=0")
	scrape := func() string {
		t.Helper()
		resp, err := http.Get(u.endpoint + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	freshness := regexp.MustCompile(`streamproc_delivery_to_s3_data_freshness\{dimension="DeliveryStreamName",value="streamproc-FirehoseDeliveryStream"\} ([0-9.e+]+)`)
	var first float64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if m := freshness.FindStringSubmatch(scrape()); m != nil {
			if v, _ := strconv.ParseFloat(m[1], 64); v > 0 {
				first = v
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no data freshness on /metrics:\n%s", scrape())
		}
	}
	time.Sleep(1500 * time.Millisecond)
	body := scrape()
	m := freshness.FindStringSubmatch(body)
	if v, _ := strconv.ParseFloat(m[1], 64); v < first+1 {
		t.Errorf("data freshness went from %v to %v in 1.5 s with nothing delivered: not live", first, v)
	}
	for _, want := range []string{
		`streamproc_errors_total{dimension="FunctionName",value="streamproc-DataStreamConsumer"} 0`,
		`streamproc_event_source_mapping_batches{dimension="EventSourceMapping",value="DataStreamConsumer.Stream"}`,
		`streamproc_iterator_age{dimension="EventSourceMapping",value="DataStreamConsumer.Stream"}`,
		`streamproc_incoming_records_total{dimension="ShardId",value="streamproc-EventStream/shardId-000000000000"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The stream's IncomingRecords counts every writer, as on AWS: the sum
	// of its shards (one here), read in the same scrape.
	value := func(re string) string {
		m := regexp.MustCompile(regexp.QuoteMeta(re) + ` ([0-9.e+]+)`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("/metrics lacks %s", re)
		}
		return m[1]
	}
	stream := value(`streamproc_incoming_records_total{dimension="StreamName",value="streamproc-EventStream"}`)
	shard := value(`streamproc_incoming_records_total{dimension="ShardId",value="streamproc-EventStream/shardId-000000000000"}`)
	if stream != shard {
		t.Errorf("IncomingRecords: stream %s, its one shard %s", stream, shard)
	}
}

// While up holds the data dir, invoke in another process runs the function
// through it, on the live tables, and prints what a local invoke prints.
func TestInvokeWhileUpRuns(t *testing.T) {
	u := startUp(t, "--source", "none", "--ui-addr", "off")
	c := &cli{t: t, dir: u.dir, now: time.Now()}
	event := c.mustRun("", "generate-event", "kinesis", "--file", fixture.Path("x-v1.1-search-tweets.json"))
	out := c.mustRun(event, "invoke", "consumer", "-e", "-")
	if strings.TrimSpace(out) != `{"batchItemFailures":[]}` {
		t.Fatalf("invoke through the running stack = %q", out)
	}
	if n := len(jsonLines(t, c.mustRun("", "table", "scan", "EventData"))); n != 15 {
		t.Errorf("EventData holds %d items after the invocation, want 15", n)
	}
	// The running stack counts it as it counts its own invocations.
	resp, err := http.Get(u.endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `streamproc_tweets_written_total{dimension="FunctionName",value="streamproc-DataStreamConsumer"} 15`; !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %s after the invocation", want)
	}
	// Its logs are kept with the function's others, for streamproc logs.
	if out := c.mustRun("", "logs", "consumer", "--since", "0"); !strings.Contains(out, "batch processed") {
		t.Errorf("logs consumer after an invocation through up = %q", out)
	}
	// The producer writes through the running stack, and generate-event
	// --from-stream reads the live stream through its Kinesis API.
	c.mustRun(c.mustRun("", "generate-event", "schedule"), "invoke", "producer", "-e", "-")
	var ev events.KinesisEvent
	if err := json.Unmarshal([]byte(c.mustRun("", "generate-event", "kinesis", "--from-stream", "--count", "50")), &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != 50 || ev.Records[0].Kinesis.ApproximateArrivalTimestamp.IsZero() {
		t.Errorf("generate-event --from-stream while up runs: %d records", len(ev.Records))
	}
	stdout, stderr, code := c.run(`{"Records":[]}`, "invoke", "transformer", "-e", "-")
	if code != exitError || !strings.Contains(stdout, `"errorType":"InvalidEvent"`) || !strings.Contains(stderr, "generate-event firehose") {
		t.Errorf("a bad event through the running stack: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
