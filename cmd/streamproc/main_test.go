package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/tweet"
)

// cli runs the program in-process on one data dir and the project template.
type cli struct {
	t   *testing.T
	dir string
	now time.Time
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, dir: t.TempDir(), now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
}

// run executes one command line with stdin and returns stdout, stderr and
// the exit code.
func (c *cli) run(stdin string, args ...string) (string, string, int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false },
		Now:    func() time.Time { return c.now }}
	full := append([]string{"--data-dir", c.dir, "-t", "../../template.yaml"}, args...)
	code := m.Run(context.Background(), full)
	return out.String(), errb.String(), code
}

func (c *cli) mustRun(stdin string, args ...string) string {
	c.t.Helper()
	out, errs, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("streamproc %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// statusesJSONL writes the search fixture's statuses one per line.
func statusesJSONL(t *testing.T) (string, []map[string]any) {
	t.Helper()
	var lines []string
	var refs []map[string]any
	for _, s := range fixture.SearchStatuses(t) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, s); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, buf.String())
		dec := json.NewDecoder(bytes.NewReader(s))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, m)
	}
	return strings.Join(lines, "\n") + "\n", refs
}

func TestInvokeTransformerSeedEvent(t *testing.T) {
	c := newCLI(t)
	out := c.mustRun("", "invoke", "transformer", "-e", fixture.Path("firehose-event-seed.json"))
	var resp events.KinesisFirehoseResponse
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, out)
	}
	if len(resp.Records) != 1 || resp.Records[0].Result != "Ok" {
		t.Fatalf("response = %s", out)
	}
	line := string(resp.Records[0].Data)
	if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("record data is not one line ending in \\n: %q", line)
	}
	rec := jsonLines(t, line)[0]
	if rec["id"] != json.Number("1174681441692635136") || rec["created_at"] != "2019-09-19 13:47:34" || rec["source"] != "Twitter for iPhone" {
		t.Errorf("condensed = %v", rec)
	}
	if !strings.Contains(rec["text"].(string), "오마이걸") || rec["user_name"] != "기적은너야🌈" {
		t.Errorf("Korean text or emoji lost: %q %q", rec["text"], rec["user_name"])
	}
}

func TestConsumerStoresEveryFixtureStatusOnce(t *testing.T) {
	c := newCLI(t)
	jsonl, refs := statusesJSONL(t)
	event := c.mustRun(jsonl, "generate-event", "kinesis", "--file", "-")
	for range 2 {
		out := c.mustRun(event, "invoke", "consumer", "-e", "-")
		if !strings.Contains(out, `"batchItemFailures":[]`) {
			t.Fatalf("consumer response = %s", out)
		}
	}
	scan := c.mustRun("", "table", "scan", "EventData")
	if !strings.Contains(scan, "Build tip & test!") {
		t.Errorf("table scan escapes & (or lost it):\n%.300s", scan)
	}
	items := jsonLines(t, scan)
	if len(items) != len(refs) {
		t.Fatalf("%d items after two deliveries of %d tweets", len(items), len(refs))
	}
	byID := map[string]map[string]any{}
	for _, it := range items {
		byID[it["Id"].(string)] = it
	}
	for _, ref := range refs {
		id := ref["id_str"].(string)
		it, ok := byID[id]
		if !ok {
			t.Errorf("tweet %s missing from EventData", id)
			continue
		}
		want := ref["full_text"].(string)
		if rt, ok := ref["retweeted_status"].(map[string]any); ok {
			want = "RT @" + rt["user"].(map[string]any)["screen_name"].(string) + ": " + rt["full_text"].(string)
		}
		want = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(want) // X escapes them; the item holds the text as typed
		if it["Message"] != want || it["Username"] != ref["user"].(map[string]any)["screen_name"] {
			t.Errorf("item %s = %v", id, it)
		}
	}
	// The fixture file itself — one search response, pretty-printed — is
	// split into its statuses and writes the very same items.
	event = c.mustRun("", "generate-event", "kinesis", "--file", fixture.Path("x-v1.1-search-tweets.json"))
	if out := c.mustRun(event, "invoke", "consumer", "-e", "-"); !strings.Contains(out, `"batchItemFailures":[]`) {
		t.Fatalf("consumer response = %s", out)
	}
	if n := len(jsonLines(t, c.mustRun("", "table", "scan", "EventData"))); n != len(refs) {
		t.Errorf("%d items after the search response file, want %d", n, len(refs))
	}
	// The same table by its physical and logical names.
	for _, name := range []string{"streamproc-EventData", "EventDataTable"} {
		if n := len(jsonLines(t, c.mustRun("", "table", "scan", name))); n != len(refs) {
			t.Errorf("table scan %s: %d items", name, n)
		}
	}
	first := refs[0]
	got := jsonLines(t, c.mustRun("", "table", "get", "EventData", first["user"].(map[string]any)["screen_name"].(string), first["id_str"].(string)))
	if len(got) != 1 || got[0]["Id"] != first["id_str"] {
		t.Errorf("table get = %v", got)
	}
}

func TestMixedBatchDeadLettersGarbage(t *testing.T) {
	c := newCLI(t)
	jsonl, refs := statusesJSONL(t)
	lines := strings.Split(strings.TrimSpace(jsonl), "\n")
	mixed := strings.Join([]string{lines[0], "this is not json \xff\xfe", `{"delete":{"status":{"id":1,"id_str":"1","user_id":2,"user_id_str":"2"},"timestamp_ms":"1"}}`, lines[1]}, "\n")
	event := c.mustRun(mixed, "generate-event", "kinesis", "--file", "-")
	out := c.mustRun(event, "invoke", "DataStreamConsumer", "-e", "-")
	if !strings.Contains(out, `"batchItemFailures":[]`) {
		t.Fatalf("a bad record must not fail the batch: %s", out)
	}
	if n := len(jsonLines(t, c.mustRun("", "table", "scan", "EventData"))); n != 2 {
		t.Errorf("%d items, want 2", n)
	}
	dls := jsonLines(t, c.mustRun("", "dlq", "consumer"))
	if len(dls) != 1 || !strings.Contains(dls[0]["reason"].(string), "UTF-8") || dls[0]["shardId"] != "shardId-000000000000" || dls[0]["sequenceNumber"] == "" {
		t.Fatalf("dead letters = %v", dls)
	}
	_ = refs
}

func TestUsageErrors(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args []string
		code int
		hint string
	}{
		{[]string{"invoke", "nosuchfn", "-e", "x.json"}, exitUsage, "choose one of consumer"},
		{[]string{"invoke", "consumer"}, exitUsage, "-e EVENT.json"},
		{[]string{"invoke", "consumer", "--bogus"}, exitUsage, "unknown flag"},
		{[]string{"table", "scan", "Nope"}, exitUsage, "choose one of EventData"},
		{[]string{"generate-event", "sqs"}, exitUsage, "kinesis, firehose or schedule"},
		{[]string{"--parameter-overrides", "Nope=1", "table", "list"}, exitUsage, "no such parameter"},
		{[]string{"--parameter-overrides", "ConsumerBatchSize=abc", "table", "list"}, exitUsage, "is not a number"},
		{[]string{"--parameter-overrides", "ProducerSchedule=rate(1 hour)", "table", "list"}, exitUsage, "single quotes"},
		{[]string{"tabel", "list"}, exitUsage, `unknown command "tabel"`},
		{[]string{"-t", "nosuch.yaml", "table", "list"}, exitUsage, "-t nosuch.yaml: no such file"},
		{[]string{"table", "scan"}, exitUsage, "accepts 1 arg(s), received 0"},
		{[]string{"dlq", "a", "b"}, exitUsage, "--help"},
		{[]string{"--data-dir", filepath.Join(c.dir, "none"), "table", "scan", "EventData"}, exitError, "start the stack with 'streamproc up' first"},
		{[]string{"--data-dir", filepath.Join(c.dir, "none"), "dlq"}, exitError, "start the stack with 'streamproc up' first"},
		{[]string{"produce", "--count", "1", "--endpoint-url", "http://127.0.0.1:1"}, exitError, "is 'streamproc up' running?"},
		{[]string{"invoke", "consumer", "-e", "-"}, exitError, "generate-event kinesis"},
	}
	for _, tc := range tests {
		_, errs, code := c.run(`{"not":"an event"}`, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.hint) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errs, tc.code, tc.hint)
		}
	}
}

func TestGenerateEventShapes(t *testing.T) {
	c := newCLI(t)
	var kin struct {
		Records []struct {
			Kinesis struct {
				SequenceNumber              string          `json:"sequenceNumber"`
				ApproximateArrivalTimestamp json.RawMessage `json:"approximateArrivalTimestamp"`
				Data                        []byte          `json:"data"`
				PartitionKey                string          `json:"partitionKey"`
			} `json:"kinesis"`
			EventID        string `json:"eventID"`
			EventSourceARN string `json:"eventSourceARN"`
		} `json:"Records"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("", "generate-event", "kinesis", "--count", "3")), &kin); err != nil {
		t.Fatal(err)
	}
	prev := ""
	for _, r := range kin.Records {
		k := r.Kinesis
		if len(k.SequenceNumber) != 56 || k.SequenceNumber <= prev || r.EventID != "shardId-000000000000:"+k.SequenceNumber {
			t.Errorf("sequence number %q / eventID %q", k.SequenceNumber, r.EventID)
		}
		prev = k.SequenceNumber
		if !regexp.MustCompile(`^1795687200\.00[0-2]$`).Match(k.ApproximateArrivalTimestamp) {
			t.Errorf("arrival timestamp %s is not epoch seconds with millis", k.ApproximateArrivalTimestamp)
		}
		if len(k.Data) < 1000 || k.PartitionKey == "" || r.EventSourceARN != "arn:aws:kinesis:us-east-1:000000000000:stream/streamproc-EventStream" {
			t.Errorf("record = %+v", r)
		}
	}
	var fh struct {
		Records []struct {
			ApproximateArrivalTimestamp json.RawMessage `json:"approximateArrivalTimestamp"`
		} `json:"records"`
		SourceKinesisStreamArn string `json:"sourceKinesisStreamArn"`
	}
	if err := json.Unmarshal([]byte(c.mustRun("", "generate-event", "firehose", "--count", "1")), &fh); err != nil {
		t.Fatal(err)
	}
	if string(fh.Records[0].ApproximateArrivalTimestamp) != "1795687200000" || fh.SourceKinesisStreamArn == "" {
		t.Errorf("firehose event = %+v", fh)
	}
}

// The seed's Java producer path: KPL-aggregated records written to the
// local stream are consumed as individual tweets.
func TestAggregatedProducerToConsumer(t *testing.T) {
	for _, mode := range []string{"records", "aggregated"} {
		t.Run(mode, func(t *testing.T) {
			c := newCLI(t)
			ov := []string{"--parameter-overrides", "ProducerMode=" + mode, "--parameter-overrides", "ProducerTopTrends=2"}
			sched := c.mustRun("", "generate-event", "schedule")
			var res struct {
				Mode       string `json:"mode"`
				Tweets     int    `json:"tweets"`
				TweetsPut  int    `json:"tweetsPut"`
				RecordsPut int    `json:"recordsPut"`
				Failed     int    `json:"failed"`
			}
			if err := json.Unmarshal([]byte(c.mustRun(sched, append(ov, "invoke", "producer", "-e", "-")...)), &res); err != nil {
				t.Fatal(err)
			}
			if res.Mode != mode || res.TweetsPut != res.Tweets || res.Failed != 0 || res.Tweets == 0 {
				t.Fatalf("producer result = %+v", res)
			}
			if mode == "aggregated" && res.RecordsPut >= res.TweetsPut {
				t.Fatalf("aggregated mode put %d records for %d tweets", res.RecordsPut, res.TweetsPut)
			}
			event := c.mustRun("", "generate-event", "kinesis", "--from-stream", "--count", "10000")
			var ev events.KinesisEvent
			if err := json.Unmarshal([]byte(event), &ev); err != nil {
				t.Fatal(err)
			}
			if len(ev.Records) != res.RecordsPut {
				t.Fatalf("stream holds %d records, producer put %d", len(ev.Records), res.RecordsPut)
			}
			// Records from the stream keep their arrival time (tumbling
			// windows and TTLs count from it), not one made up now.
			for i, r := range ev.Records {
				if at := r.Kinesis.ApproximateArrivalTimestamp.Time; !at.Equal(c.now) {
					t.Fatalf("record %d arrived %v, the stream says %v", i, at, c.now)
				}
			}
			out := c.mustRun(event, "invoke", "consumer", "-e", "-")
			if !strings.Contains(out, `"batchItemFailures":[]`) {
				t.Fatalf("consumer = %s", out)
			}
			// What the stream holds: user records inside the aggregates,
			// minus the delete notices the synthetic source mixes in.
			want := map[string]bool{}
			users := 0
			for _, r := range ev.Records {
				recs, _, err := kpl.Deaggregate(r.Kinesis.Data)
				if err != nil {
					t.Fatal(err)
				}
				for _, u := range recs {
					users++
					if msg, err := tweet.Decode(u.Data); err == nil && msg.Kind == tweet.KindTweet {
						want[msg.Tweets[0].User.ScreenName+"/"+msg.Tweets[0].IDStr] = true
					}
				}
			}
			if users != res.TweetsPut {
				t.Fatalf("the stream's records hold %d user records, producer put %d tweets", users, res.TweetsPut)
			}
			items := jsonLines(t, c.mustRun("", "table", "scan", "EventData"))
			if len(items) != len(want) {
				t.Fatalf("%d EventData items for %d distinct tweets", len(items), len(want))
			}
			seen := map[string]bool{}
			for _, it := range items {
				k := it["Username"].(string) + "/" + it["Id"].(string)
				if seen[k] {
					t.Fatalf("duplicate item %s", k)
				}
				seen[k] = true
				if !want[k] {
					t.Fatalf("item %s was not produced", k)
				}
			}
		})
	}
}

func TestDownPurgesDataDir(t *testing.T) {
	c := newCLI(t)
	c.mustRun("", "table", "list")
	c.mustRun(`{"Records":[]}`, "generate-event", "schedule")
	if out := c.mustRun("", "down"); !strings.Contains(out, "--purge") {
		t.Fatalf("down without --purge = %q", out)
	}
	if out := c.mustRun("", "down", "--purge"); !strings.Contains(out, "removed") {
		t.Fatalf("down --purge = %q", out)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Fatalf("data dir still there: %v", err)
	}
}

// The params file holds the user's credentials: a purge keeps it.
func TestDownPurgeKeepsParams(t *testing.T) {
	c := newCLI(t)
	c.mustRun("", "produce", "--count", "2")
	p := filepath.Join(c.dir, "params")
	if err := os.WriteFile(p, []byte("/twitter/bearer_token=secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := c.mustRun("", "down", "--purge")
	if !strings.Contains(out, "kept "+p) {
		t.Errorf("down --purge = %q", out)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the params file is gone: %v", err)
	}
	if ents, _ := os.ReadDir(c.dir); len(ents) != 1 {
		t.Errorf("the data dir holds %d entries after the purge, want the params file only", len(ents))
	}
	// With only the params file left there is nothing to remove, and down says so.
	for _, args := range [][]string{{"down"}, {"down", "--purge"}} {
		if out := c.mustRun("", args...); !strings.Contains(out, "nothing to remove") {
			t.Errorf("%v with only params left = %q", args, out)
		}
	}
}

// Commands that only read refuse a data dir that does not exist instead of
// creating it (a mistyped --data-dir).
func TestReadersRefuseMissingDataDir(t *testing.T) {
	for _, args := range [][]string{
		{"query", "SELECT 1"},
		{"generate-event", "kinesis", "--from-stream"},
		{"table", "scan", "EventData"},
		{"logs", "consumer"},
	} {
		c := newCLI(t)
		c.dir = filepath.Join(c.dir, "typo")
		_, errs, code := c.run("", args...)
		if code == 0 || !strings.Contains(errs, "no local data in "+c.dir) {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
		if _, err := os.Stat(c.dir); err == nil {
			t.Errorf("%v created the data dir", args)
		}
	}
}

// A mistyped --data-dir must never be emptied: down --purge removes only a
// directory holding nothing but streamproc's own entries, and never the
// working directory or a parent of it.
func TestDownRefusesWhatIsNotADataDir(t *testing.T) {
	c := newCLI(t)
	home := t.TempDir()
	notes := filepath.Join(home, "notes.txt")
	if err := os.WriteFile(notes, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(home, "tables"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, errs, code := c.run("", "down", "--purge", "--data-dir", home)
	if code == 0 || !strings.Contains(errs, "notes.txt") || !strings.Contains(errs, "nothing was removed") {
		t.Fatalf("down --purge on a foreign dir: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(notes); err != nil {
		t.Fatalf("foreign file gone: %v", err)
	}

	// An empty-looking data dir that is the working directory's parent.
	parent := t.TempDir()
	work := filepath.Join(parent, "logs")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	_, errs, code = c.run("", "down", "--purge", "--data-dir", parent)
	if code == 0 || !strings.Contains(errs, "working directory") {
		t.Fatalf("down --purge on the working directory's parent: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(work); err != nil {
		t.Fatalf("working directory gone: %v", err)
	}
}

// --parameter-overrides reads values the ways sam deploy does: Key=Value
// pairs split at spaces, quoted values with spaces, the long form.
func TestParseOverrides(t *testing.T) {
	tests := []struct {
		in   []string
		want map[string]string
		bad  bool
	}{
		{in: []string{"A=1 B=2", "C=x=y"}, want: map[string]string{"A": "1", "B": "2", "C": "x=y"}},
		{in: []string{`ProducerSchedule="rate(1 hour)" A=1`}, want: map[string]string{"ProducerSchedule": "rate(1 hour)", "A": "1"}},
		{in: []string{`Q='#go lang'`}, want: map[string]string{"Q": "#go lang"}},
		{in: []string{"ParameterKey=A,ParameterValue=7"}, want: map[string]string{"A": "7"}},
		{in: []string{`A="open`}, bad: true},
		{in: []string{"novalue"}, bad: true},
	}
	for _, tc := range tests {
		got, err := parseOverrides(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%q = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// sam deploy's unquoted form: --parameter-overrides A=1 B=2, each word after
// the flag a value, up to the next flag or a word that is not Key=Value.
func TestSpreadOverrides(t *testing.T) {
	tests := []struct{ in, want []string }{
		{[]string{"up", "--parameter-overrides", "A=1", "B=2", "--duration", "1s"},
			[]string{"up", "--parameter-overrides", "A=1", "--parameter-overrides", "B=2", "--duration", "1s"}},
		{[]string{"--parameter-overrides", "A=1", "invoke", "producer"},
			[]string{"--parameter-overrides", "A=1", "invoke", "producer"}},
		{[]string{"query", "--parameter-overrides", "A=1", "SELECT a=1"},
			[]string{"query", "--parameter-overrides", "A=1", "SELECT a=1"}},
		{[]string{"up", "--", "--parameter-overrides", "A=1", "B=2"},
			[]string{"up", "--", "--parameter-overrides", "A=1", "B=2"}},
	}
	for _, tc := range tests {
		if got := spreadOverrides(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("spreadOverrides(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDaysDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "90s": 90 * time.Second, "2h30m": 150 * time.Minute, "0": 0} {
		var d daysDuration
		if err := d.Set(in); err != nil || time.Duration(d) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	for _, in := range []string{"1.5d", "d", "soon"} {
		var d daysDuration
		if err := d.Set(in); err == nil {
			t.Errorf("Set(%q) accepted", in)
		}
	}
}

// An event of the wrong kind is refused by name, not run with empty
// records (Go's JSON matching ignores case: "records" fills "Records").
// Function names match in any case, by package, logical ID or full name.
func TestInvokeChecksEventShape(t *testing.T) {
	c := newCLI(t)
	firehose := c.mustRun("", "generate-event", "firehose", "--count", "2")
	kinesis := c.mustRun("", "generate-event", "kinesis", "--count", "2")
	tests := []struct {
		fn, event string
		code      int
		want      string
	}{
		{"consumer", firehose, exitError, `not a kinesis event: it has no "Records" list`},
		{"trending", firehose, exitError, `not a kinesis event: it has no "Records" list`},
		{"transformer", kinesis, exitError, `not a firehose event: it has no "records" list`},
		{"consumer", `{"Records":[{"Kinesis":{"data":"eA=="}}]}`, exitError, `record 0 has no "kinesis"`},
		{"firehosetransformer", firehose, 0, `"result":"Ok"`},
		{"STREAMPROC-DataStreamConsumer", kinesis, 0, `"batchItemFailures":[]`},
	}
	for _, tc := range tests {
		out, errs, code := c.run(tc.event, "invoke", tc.fn, "-e", "-")
		if code != tc.code || !strings.Contains(out+errs, tc.want) {
			t.Errorf("invoke %s: exit %d, want %d with %q\n%s%s", tc.fn, code, tc.code, tc.want, out, errs)
		}
	}
	// Nothing failed yet: dlq says so on stderr and prints no lines.
	out, errs, code := c.run("", "dlq", "transformer")
	if code != 0 || out != "" || !strings.Contains(errs, "no dead letters for transformer") {
		t.Errorf("dlq on nothing: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
