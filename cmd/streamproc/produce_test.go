package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/local/control"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/source/xapi/xapitest"
	"github.com/streamproc/streamproc/tweet"
)

const testBearer = "AAAAAAAAAAAAAAAAAAAAA-produce-test-bearer-SECRET"

// runEnv runs one command line like cli.run, with an environment.
func (c *cli) runEnv(env map[string]string, stdin string, args ...string) (string, string, int) {
	c.t.Helper()
	return c.runEnvCtx(context.Background(), env, stdin, args...)
}

func (c *cli) runEnvCtx(ctx context.Context, env map[string]string, stdin string, args ...string) (string, string, int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:    func() time.Time { return c.now }}
	code := m.Run(ctx, append([]string{"--data-dir", c.dir, "-t", "../../template.yaml"}, args...))
	return out.String(), errb.String(), code
}

// streamTweets returns the tweets in the local stream's records (aggregates
// unpacked), in stream order, by "handle/id".
func (c *cli) streamTweets() (records int, tweets []string) {
	c.t.Helper()
	var ev events.KinesisEvent
	if err := json.Unmarshal([]byte(c.mustRun("", "generate-event", "kinesis", "--from-stream", "--count", "10000")), &ev); err != nil {
		c.t.Fatal(err)
	}
	for _, r := range ev.Records {
		users, aggregated, err := kpl.Deaggregate(r.Kinesis.Data)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, u := range users {
			if !aggregated {
				u.PartitionKey = r.Kinesis.PartitionKey
			}
			m, err := tweet.Decode(u.Data)
			if err != nil {
				c.t.Fatalf("record does not decode: %v\n%s", err, u.Data)
			}
			if m.Kind == tweet.KindTweet {
				tw := m.Tweets[0]
				if u.PartitionKey != tw.User.ScreenName {
					c.t.Errorf("tweet %s has partition key %q, want its author %q", tw.IDStr, u.PartitionKey, tw.User.ScreenName)
				}
				tweets = append(tweets, tw.User.ScreenName+"/"+tw.IDStr)
			}
		}
	}
	return len(ev.Records), tweets
}

// consume runs the consumer on the whole stream and returns EventData's
// items by "Username/Id".
func (c *cli) consume() map[string]map[string]any {
	c.t.Helper()
	event := c.mustRun("", "generate-event", "kinesis", "--from-stream", "--count", "10000")
	if out := c.mustRun(event, "invoke", "consumer", "-e", "-"); !strings.Contains(out, `"batchItemFailures":[]`) {
		c.t.Fatalf("consumer = %s", out)
	}
	items := map[string]map[string]any{}
	for _, it := range jsonLines(c.t, c.mustRun("", "table", "scan", "EventData")) {
		items[it["Username"].(string)+"/"+it["Id"].(string)] = it
	}
	return items
}

// fixtureKeys are the fixture statuses as "handle/id", in file order.
func fixtureKeys(t *testing.T) []string {
	var keys []string
	for _, s := range fixture.SearchStatuses(t) {
		m, err := tweet.Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, m.Tweets[0].User.ScreenName+"/"+m.Tweets[0].IDStr)
	}
	return keys
}

func gzipped(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Acceptance: the fixture's 15 statuses replayed as JSON Lines all reach
// EventData, through either producer mode, from a file, a gzip file or
// stdin.
func TestProduceReplayToEventData(t *testing.T) {
	jsonl, refs := statusesJSONL(t)
	want := fixtureKeys(t)
	tests := []struct {
		name  string
		mode  string
		file  func(t *testing.T, dir string) string
		stdin string
	}{
		{"records from JSON Lines", "records", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "tweets.jsonl")
			if err := os.WriteFile(p, []byte(jsonl), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, ""},
		{"aggregated from gzip", "aggregated", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "tweets.jsonl.gz")
			if err := os.WriteFile(p, gzipped(t, jsonl), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, ""},
		{"records from stdin, paced", "records", func(*testing.T, string) string { return "-" }, jsonl},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			args := []string{"produce", "--source", "replay:" + tc.file(t, t.TempDir()), "--mode", tc.mode}
			if tc.stdin != "" {
				args = append(args, "--rate", "2000")
			}
			_, errs, code := c.run(tc.stdin, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errs)
			}
			if !strings.Contains(errs, "produce: 15 tweets written") || !strings.Contains(errs, "0 tweets failed") {
				t.Errorf("summary:\n%s", errs)
			}
			records, tweets := c.streamTweets()
			if !slices.Equal(tweets, want) {
				t.Errorf("stream holds %v\nwant %v (file order)", tweets, want)
			}
			if tc.mode == "aggregated" && records >= 15 {
				t.Errorf("aggregated mode wrote %d records for 15 tweets", records)
			}
			items := c.consume()
			if len(items) != len(refs) {
				t.Fatalf("%d EventData items, want %d", len(items), len(refs))
			}
			for _, k := range want {
				if _, ok := items[k]; !ok {
					t.Errorf("%s missing from EventData", k)
				}
			}
		})
	}
}

// fakeX is a fake X API with the fixture's statuses on pages of 4.
func fakeX(t *testing.T, now time.Time) *xapitest.Server {
	t.Helper()
	srv := xapitest.New(t, xapitest.Config{BearerToken: testBearer, PageSize: 4, Now: func() time.Time { return now }})
	if err := srv.AddV1(fixture.SearchStatuses(t)...); err != nil {
		t.Fatal(err)
	}
	return srv
}

func writeParams(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "params")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Acceptance: produce --source xapi ends with every tweet in the stream
// exactly once, across pages, a rate limit and several trends matching the
// same tweets.
func TestProduceXAPIExactlyOnce(t *testing.T) {
	tests := []struct {
		name  string
		env   func(srv *xapitest.Server) map[string]string
		args  func(srv *xapitest.Server, t *testing.T) []string
		setup func(srv *xapitest.Server, now time.Time)
		reqs  int
		waits string
	}{
		{
			name: "query, params file, 429 after two pages",
			env:  func(*xapitest.Server) map[string]string { return nil },
			args: func(srv *xapitest.Server, t *testing.T) []string {
				return []string{"--query", "golang", "--x-api-url", srv.URL, "--params", writeParams(t, "/twitter/bearer_token="+testBearer+"\n")}
			},
			setup: func(srv *xapitest.Server, now time.Time) {
				srv.Inject(xapitest.Search, xapitest.Fault{Pass: true}, xapitest.Fault{Pass: true}, xapitest.RateLimited(now))
			},
			reqs:  5, // 4 pages, one of them twice
			waits: "1 rate-limit waits",
		},
		{
			name: "trends, environment, aggregated",
			env: func(srv *xapitest.Server) map[string]string {
				return map[string]string{"X_API_BASE_URL": srv.URL, "TWITTER_BEARER_TOKEN": testBearer}
			},
			args: func(*xapitest.Server, *testing.T) []string {
				return []string{"--trends", "2", "--woeid", "23424977", "--mode", "aggregated"}
			},
			setup: func(srv *xapitest.Server, _ time.Time) {
				srv.SetTrends(xapitest.Trend{Name: "#golang", Count: 100}, xapitest.Trend{Name: "Go lang"}, xapitest.Trend{Name: "third"})
			},
			reqs:  9, // trends, then 4 pages per trend; both trends match every tweet
			waits: "0 rate-limit waits",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			srv := fakeX(t, c.now)
			tc.setup(srv, c.now)
			_, errs, code := c.runEnv(tc.env(srv), "", append([]string{"produce", "--source", "xapi"}, tc.args(srv, t)...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errs)
			}
			if strings.Contains(errs, testBearer) {
				t.Fatalf("the bearer token is in the output:\n%s", errs)
			}
			if !strings.Contains(errs, "produce: 15 tweets written") || !strings.Contains(errs, tc.waits) {
				t.Errorf("summary:\n%s", errs)
			}
			if got := len(srv.Requests()); got != tc.reqs {
				t.Errorf("%d requests to the X API, want %d", got, tc.reqs)
			}
			_, tweets := c.streamTweets()
			seen := map[string]int{}
			for _, k := range tweets {
				seen[k]++
			}
			for _, k := range fixtureKeys(t) {
				if seen[k] != 1 {
					t.Errorf("%s is in the stream %d times", k, seen[k])
				}
			}
			if len(tweets) != 15 {
				t.Errorf("%d tweets in the stream, want 15", len(tweets))
			}
			if items := c.consume(); len(items) != 15 {
				t.Errorf("%d EventData items", len(items))
			}
		})
	}
}

// A usage cap stops produce with exit 1 and a message saying so; what was
// fetched before it is written.
func TestProduceXAPIFailures(t *testing.T) {
	tests := []struct {
		name    string
		faults  []xapitest.Fault
		bearer  string
		written int
		want    []string
	}{
		{"usage cap at once", []xapitest.Fault{xapitest.UsageCapped()}, testBearer, 0,
			[]string{"usage cap exceeded", "Monthly product cap", "not retrying"}},
		{"usage cap on page 3", []xapitest.Fault{{Pass: true}, {Pass: true}, xapitest.UsageCapped()}, testBearer, 8,
			[]string{"usage cap exceeded", "page 3"}},
		{"rejected token", nil, "AAAA-wrong-token-SECRET", 0,
			[]string{"401 Unauthorized", "check the bearer token"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			srv := fakeX(t, c.now)
			srv.Inject(xapitest.Search, tc.faults...)
			env := map[string]string{"TWITTER_BEARER_TOKEN": tc.bearer}
			_, errs, code := c.runEnv(env, "", "produce", "--source", "xapi", "--query", "golang", "--x-api-url", srv.URL)
			if code != exitError {
				t.Fatalf("exit %d, want 1\n%s", code, errs)
			}
			for _, s := range tc.want {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr does not say %q:\n%s", s, errs)
				}
			}
			if strings.Contains(errs, tc.bearer) {
				t.Errorf("the token is in the output:\n%s", errs)
			}
			if tc.written == 0 {
				if _, _, code := c.run("", "generate-event", "kinesis", "--from-stream"); code == 0 {
					t.Error("tweets were written")
				}
				return
			}
			if _, tweets := c.streamTweets(); len(tweets) != tc.written {
				t.Errorf("%d tweets written, want %d", len(tweets), tc.written)
			}
		})
	}
}

// Ctrl-C while produce waits out an X rate limit: the pages already read
// are written, the run says it was interrupted (exit 1), and the time
// waited is what was waited, not the planned wait.
func TestProduceXAPIInterruptedWait(t *testing.T) {
	c := newCLI(t)
	srv := fakeX(t, c.now)
	srv.Inject(xapitest.Search, xapitest.Fault{Pass: true}, xapitest.Fault{Pass: true}, xapitest.RateLimited(c.now.Add(15*time.Minute)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for len(srv.Requests()) < 3 {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	env := map[string]string{"TWITTER_BEARER_TOKEN": testBearer}
	_, errs, code := c.runEnvCtx(ctx, env, "", "produce", "--source", "xapi", "--query", "golang", "--x-api-url", srv.URL)
	if code != exitError {
		t.Fatalf("exit %d, want 1\n%s", code, errs)
	}
	// Main's clock stands still in tests: the wait measured is 0s, the
	// wait planned was over 15 minutes.
	for _, want := range []string{"produce: 8 tweets written", "interrupted", "1 rate-limit waits, 0s waited"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errs)
		}
	}
	if _, tweets := c.streamTweets(); len(tweets) != 8 {
		t.Errorf("%d tweets in the stream, want the 8 of the two pages read", len(tweets))
	}
}

// A stream that does not exist is found before the X API is asked (its
// requests are a budget) and the error says what to do.
func TestProduceMissingStream(t *testing.T) {
	for _, source := range []string{"xapi", "synthetic"} {
		t.Run(source, func(t *testing.T) {
			c := newCLI(t)
			srv := fakeX(t, c.now)
			args := []string{"produce", "--source", source, "--stream", "nosuch", "--count", "5"}
			if source == "xapi" {
				args = append(args, "--query", "golang", "--x-api-url", srv.URL)
			}
			_, errs, code := c.runEnv(map[string]string{"TWITTER_BEARER_TOKEN": testBearer}, "", args...)
			if code != exitError {
				t.Fatalf("exit %d, want 1\n%s", code, errs)
			}
			for _, want := range []string{"stream nosuch does not exist", "aws kinesis create-stream", "--stream"} {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr does not say %q:\n%s", want, errs)
				}
			}
			if strings.Contains(errs, "tweets written") {
				t.Errorf("a run summary after a setup error:\n%s", errs)
			}
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d X API requests before the stream was checked", n)
			}
		})
	}
}

// --count reads no search page beyond the tweets it needs (pages of 4).
func TestProduceXAPICountPages(t *testing.T) {
	for _, tc := range []struct{ count, reqs int }{{4, 1}, {5, 2}, {15, 4}} {
		c := newCLI(t)
		srv := fakeX(t, c.now)
		env := map[string]string{"TWITTER_BEARER_TOKEN": testBearer}
		_, errs, code := c.runEnv(env, "", "produce", "--source", "xapi", "--query", "golang", "--x-api-url", srv.URL, "--count", strconv.Itoa(tc.count))
		if code != 0 {
			t.Fatalf("--count %d: exit %d\n%s", tc.count, code, errs)
		}
		if n := len(srv.Requests()); n != tc.reqs {
			t.Errorf("--count %d: %d X API requests, want %d", tc.count, n, tc.reqs)
		}
		// X bills posts read: a request asks for what is still needed
		// (at least the endpoint's 10).
		if got, want := srv.Requests()[0].Query.Get("max_results"), strconv.Itoa(max(tc.count, 10)); got != want {
			t.Errorf("--count %d: max_results=%s, want %s", tc.count, got, want)
		}
		if !strings.Contains(errs, fmt.Sprintf("produce: %d tweets written", tc.count)) {
			t.Errorf("--count %d: summary:\n%s", tc.count, errs)
		}
	}
}

// A replayed line that is not JSON is skipped and named; the rest is
// written and the summary counts what was skipped.
func TestProduceReplaySkipsBadLine(t *testing.T) {
	jsonl, _ := statusesJSONL(t)
	lines := strings.SplitAfter(jsonl, "\n")
	in := lines[0] + "{\"truncated\": tr\n" + strings.Join(lines[1:], "")
	p := filepath.Join(t.TempDir(), "cut.jsonl")
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	_, errs, code := c.run("", "produce", "--source", "replay:"+p)
	if code != exitError {
		t.Fatalf("exit %d, want 1: a line was not written\n%s", code, errs)
	}
	for _, want := range []string{"produce: 15 tweets written", "1 input lines skipped", "line=2", "1 input line(s) were not JSON"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not say %q:\n%s", want, errs)
		}
	}
}

// A replay in a loop writes --count records, repeats included (a tweet
// is deduplicated only across the searches of one producer run), and a
// stream ARN works on the local data dir too.
func TestProduceReplayLoopCount(t *testing.T) {
	jsonl, _ := statusesJSONL(t)
	p := filepath.Join(t.TempDir(), "t.jsonl")
	if err := os.WriteFile(p, []byte(jsonl), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	_, errs, code := c.run("", "produce", "--source", "replay:"+p, "--loop", "--count", "40",
		"--stream", "arn:aws:kinesis:us-east-1:000000000000:stream/streamproc-EventStream")
	if code != 0 || !strings.Contains(errs, "produce: 40 tweets written as 40 records") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if records, _ := c.streamTweets(); records != 40 {
		t.Errorf("%d records in the stream, want 40", records)
	}
}

func TestProduceSyntheticCount(t *testing.T) {
	for _, mode := range []string{"records", "aggregated"} {
		t.Run(mode, func(t *testing.T) {
			c := newCLI(t)
			_, errs, code := c.run("", "produce", "--count", "40", "--seed", "3", "--mode", mode)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, errs)
			}
			if !strings.Contains(errs, "produce: 40 tweets written") {
				t.Errorf("summary:\n%s", errs)
			}
			records, _ := c.streamTweets()
			if mode == "records" && records != 40 || mode == "aggregated" && records >= 40 {
				t.Errorf("%d records for 40 tweets in %s mode", records, mode)
			}
			// A Firehose event from the stream holds user records, as
			// Firehose hands them to the transformer: all 40 transform.
			var ev struct {
				Records []struct{ Data []byte } `json:"records"`
			}
			if err := json.Unmarshal([]byte(c.mustRun("", "generate-event", "firehose", "--from-stream", "--count", "100")), &ev); err != nil || len(ev.Records) != 40 {
				t.Fatalf("firehose event from the stream: %d records, want 40 (%v)", len(ev.Records), err)
			}
			out := c.mustRun(c.mustRun("", "generate-event", "firehose", "--from-stream", "--count", "100"), "invoke", "transformer", "-e", "-")
			if strings.Contains(out, "ProcessingFailed") {
				t.Errorf("%s mode: the transformer failed records of the stream", mode)
			}
		})
	}
}

func TestProduceUsageErrors(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args []string
		hint string
	}{
		{[]string{"--source", "firehose"}, "choose synthetic, replay:FILE or xapi"},
		{[]string{"--source", "replay"}, "replay:FILE"},
		{[]string{"--source", "replay:/nonexistent.jsonl"}, "no such file"},
		{[]string{"--source", "replay:-", "--loop"}, "cannot be replayed in a loop"},
		{[]string{"--mode", "kpl"}, "records or aggregated"},
		{[]string{"--target", "gcp"}, "local or aws"},
		{[]string{"--loop"}, "replay:FILE only"},
		{[]string{"--query", "x"}, "--source xapi only"},
		{[]string{"--endpoint-url", "127.0.0.1:4566"}, "http(s)://host:port"},
		{[]string{"--count", "-1"}, "--count"},
		{[]string{"--source", "xapi", "--params", "/nonexistent/params"}, "--params"},
		{[]string{"--source", "xapi", "--x-api-url", "ftp://x"}, "not an http(s) URL"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, tc := range tests {
		_, errs, code := c.run("", append([]string{"produce"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errs, tc.hint) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, errs, tc.hint)
		}
	}
}

// While up holds the data dir, produce says how to write through up's
// Kinesis API instead.
func TestProduceDataDirInUse(t *testing.T) {
	c := newCLI(t)
	e, err := stream.Open(filepath.Join(c.dir, "streams"), stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := control.WriteAddr(c.dir, "127.0.0.1:45666"); err != nil {
		t.Fatal(err)
	}
	_, errs, code := c.run("", "produce", "--count", "1")
	if code != exitError || !strings.Contains(errs, "--endpoint-url http://127.0.0.1:45666") {
		t.Errorf("exit %d\n%s", code, errs)
	}
}

// Through the Kinesis API (the aws/kinesis adapter over aws-sdk-go-v2) to a
// stream of two shards: every tweet lands once.
func TestProduceToKinesisEndpoint(t *testing.T) {
	c := newCLI(t)
	m := &Main{Stderr: &bytes.Buffer{}, Getenv: func(string) (string, bool) { return "", false }, Now: time.Now}
	url, stop, err := m.startBenchEndpoint(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client := m.benchClient(url, 2)
	ctx := context.Background()
	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("ext"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	jsonl, _ := statusesJSONL(t)
	_, errs, code := c.run(jsonl, "produce", "--source", "replay:-", "--endpoint-url", url, "--stream", "ext")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, "Kinesis API at "+url) {
		t.Errorf("summary does not name the endpoint:\n%s", errs)
	}
	shards, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("ext")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sh := range shards.Shards {
		it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("ext"), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Records {
			m, err := tweet.Decode(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, m.Tweets[0].User.ScreenName+"/"+m.Tweets[0].IDStr)
		}
	}
	want := fixtureKeys(t)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("stream holds %v\nwant %v", got, want)
	}
	// --target aws takes credentials and region from the default chain (the
	// process environment here) and, with --endpoint-url, talks to that
	// endpoint: the same 15 tweets again, now through that path.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDPRODUCETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "produce-test-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	_, errs, code = c.run(jsonl, "produce", "--target", "aws", "--source", "replay:-", "--endpoint-url", url, "--stream", "ext")
	if code != 0 || !strings.Contains(errs, "AWS Kinesis in eu-west-1 via "+url) || !strings.Contains(errs, "15 tweets written") {
		t.Errorf("--target aws: exit %d\n%s", code, errs)
	}

	// A missing stream fails with exit 1 and the service's message.
	_, errs, code = c.run(jsonl, "produce", "--source", "replay:-", "--endpoint-url", url, "--stream", "nope")
	if code != exitError || !strings.Contains(errs, "nope") {
		t.Errorf("missing stream: exit %d\n%s", code, errs)
	}
}

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		done, total int
		want        string
	}{
		{0, 0, ""},
		{0, 10, "[····················]   0% "},
		{5, 10, "[##########··········]  50% "},
		{12, 10, "[####################] 100% "},
	} {
		if got := progressBar(tc.done, tc.total); got != tc.want {
			t.Errorf("progressBar(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}

// invoke producer runs the template's producer with ProducerSource=xapi as
// up does: it writes the search results, and a second run asks only for
// newer tweets (since_id kept in the state table).
func TestInvokeProducerXAPI(t *testing.T) {
	c := newCLI(t)
	srv := fakeX(t, c.now)
	srv.SetTrends(xapitest.Trend{Name: "#golang"})
	env := map[string]string{"TWITTER_BEARER_TOKEN": testBearer, "X_API_BASE_URL": srv.URL}
	schedule := c.mustRun("", "generate-event", "schedule")
	for run, want := range []string{`"tweetsPut":15`, `"tweetsPut":0`} {
		out, errs, code := c.runEnv(env, schedule, "--parameter-overrides", "ProducerSource=xapi", "invoke", "producer", "-e", "-")
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("run %d: exit %d, want %s\n%s\n%s", run+1, code, want, out, errs)
		}
	}
	if _, tweets := c.streamTweets(); len(tweets) != 15 {
		t.Errorf("%d tweets in the stream after two runs, want 15", len(tweets))
	}
}
