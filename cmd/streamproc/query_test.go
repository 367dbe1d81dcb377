package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/queries"
)

// deliveredTweets reads the delivered objects under the bucket's tweets/
// the way a reader that is not DuckDB would: every line, gzip or not. It
// returns the number of lines, the distinct user/id pairs and whether any
// object was gzip.
func deliveredTweets(t *testing.T, bucket string) (lines int, distinct map[string]bool, gz bool) {
	t.Helper()
	distinct = map[string]bool{}
	err := filepath.Walk(filepath.Join(bucket, "tweets"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		var r io.Reader
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
		if strings.HasSuffix(path, ".gz") {
			gz = true
			if r, err = gzip.NewReader(f); err != nil {
				return err
			}
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var rec struct {
				ID   json.Number `json:"id"`
				User string      `json:"user_screen_name"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			lines++
			distinct[rec.User+"/"+rec.ID.String()] = true
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines, distinct, gz
}

// csvRows runs a query with --format csv and returns its rows without the
// header.
func (c *cli) csvRows(args ...string) [][]string {
	c.t.Helper()
	out := c.mustRun("", append([]string{"query", "--format", "csv"}, args...)...)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) == 0 {
		c.t.Fatalf("query %v: not CSV with a header: %v\n%s", args, err, out)
	}
	return recs[1:]
}

func (c *cli) count(sql string) int {
	c.t.Helper()
	rows := c.csvRows(sql)
	if len(rows) != 1 || len(rows[0]) != 1 {
		c.t.Fatalf("%s: %v", sql, rows)
	}
	n, err := strconv.Atoi(rows[0][0])
	if err != nil {
		c.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// The acceptance of issue 6 on data made by the real pipeline: `up` runs
// in-process with synthetic tweets plus garbage written through the Kinesis
// API, delivering plain or gzip objects. Afterwards SELECT count(*) FROM
// records equals the good tweets delivered, eventdata holds one item per
// distinct tweet, errors holds the garbage with its bytes decoded, and
// every named query runs. While up runs, query reads the tables through it.
func TestQueryAfterUp(t *testing.T) {
	for _, compression := range []string{"UNCOMPRESSED", "GZIP"} {
		t.Run(compression, func(t *testing.T) {
			// The live query below needs up running: generous margins for a slow, shared CI machine.
			u := startUp(t, "--rate", "300", "--ui-addr", "off", "--duration", "7s", "--poll-interval", "50ms",
				"--parameter-overrides", "DeliveryBufferSeconds=1 ConsumerBatchingWindowSeconds=0 DeliveryCompression="+compression)
			dir, endpoint := u.dir, u.endpoint
			client := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
				Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
			var entries []types.PutRecordsRequestEntry
			for _, g := range []string{"not json at all", "\xff\xfe\x00", `{"valid":"json, not a tweet"}`} {
				entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("garbage"), Data: []byte(g)})
			}
			out, err := client.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("streamproc-EventStream"), Records: entries})
			if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
				t.Fatalf("PutRecords: %v %+v", err, out)
			}
			c := &cli{t: t, dir: dir}
			// Live: the data dir is locked by up, the tables are read through it.
			live := 0
			for deadline := time.Now().Add(6 * time.Second); live == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				live = c.count("SELECT count(*) FROM eventdata")
			}
			if live == 0 {
				t.Error("a query while up runs saw no EventData items")
			}
			if code, stderr := u.wait(t); code != 0 {
				t.Fatalf("up exited %d:\n%s", code, stderr)
			}

			lines, distinct, gz := deliveredTweets(t, filepath.Join(dir, "buckets", "streamproc-deliverybucket-local"))
			if lines == 0 || gz != (compression == "GZIP") {
				t.Fatalf("delivered %d lines, gzip %v", lines, gz)
			}
			if n := c.count("SELECT count(*) FROM records"); n != lines {
				t.Errorf("records: %d, delivered good tweets: %d", n, lines)
			}
			if n := c.count("SELECT count(*) FROM eventdata"); n != len(distinct) {
				t.Errorf("eventdata: %d items, distinct tweets delivered: %d", n, len(distinct))
			}
			if n := c.count("SELECT count(DISTINCT (r.user_screen_name, r.id)) FROM records r JOIN eventdata e ON e.Username = r.user_screen_name AND e.Id = CAST(r.id AS VARCHAR)"); n != len(distinct) {
				t.Errorf("records matching an EventData item: %d, want %d", n, len(distinct))
			}
			errs := c.csvRows("SELECT errorcode, rawdata_text FROM errors ORDER BY rawdata_text NULLS LAST")
			want := [][]string{{"Lambda.ProcessingFailedStatus", "not json at all"}, {"Lambda.ProcessingFailedStatus", `{"valid":"json, not a tweet"}`}, {"Lambda.ProcessingFailedStatus", ""}}
			if len(errs) != 3 || errs[0][1] != want[0][1] || errs[1][1] != want[1][1] || errs[2][1] != "" {
				t.Errorf("errors = %q, want %q", errs, want)
			}
			all, err := queries.All()
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range all {
				rows := c.csvRows("--named", q.Name)
				if len(rows) == 0 {
					t.Errorf("named query %s returned no rows on %d tweets", q.Name, lines)
				}
			}
			// The three garbage records, with one of them as a sample.
			if rows := c.csvRows("--named", "failed_records"); len(rows) != 1 || rows[0][1] != "3" ||
				!slices.Contains([]string{"not json at all", `{"valid":"json, not a tweet"}`, ""}, rows[0][3]) {
				t.Errorf("failed_records = %v", rows)
			}
		})
	}
}

// Usage, the zero-data case, the formats and the prompt, on a data dir
// nothing ran in.
func TestQueryCommand(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		name     string
		stdin    string
		args     []string
		code     int
		stdout   []string // substrings
		stderr   []string
		nostderr string
	}{
		{name: "list", args: []string{"query", "--list"}, stdout: []string{"top_hashtags", "The 20 most used hashtags in the last hour.", "failed_records"}},
		{name: "empty records", args: []string{"query", "SELECT count(*) AS n FROM records"}, stdout: []string{"n\n-\n0\n(1 row)\n"},
			stderr: []string{"nothing is delivered yet", "DeliveryBufferSeconds"}},
		{name: "empty named query", args: []string{"query", "--named", "language_mix"}, stdout: []string{"lang | tweets | percent", "(0 rows)"}},
		{name: "no delivery note without records", args: []string{"query", "SELECT 1 AS records"}, stdout: []string{"records"}, nostderr: "nothing is delivered"},
		{name: "empty table view", args: []string{"query", "SELECT * FROM trends"}, stdout: []string{"Window | Hashtag", "(0 rows)"}},
		{name: "every statement of a script", args: []string{"query", "--format", "csv", "SELECT 1 AS one; SELECT 'a;b' AS two;"}, stdout: []string{"one\n1\ntwo\na;b\n"}},
		{name: "SQL from stdin", stdin: "SELECT 1 AS one, 'two' AS two", args: []string{"query", "--format", "csv"}, stdout: []string{"one,two\n1,two\n"}},
		{name: "SQL from file", args: []string{"query", "-f", "../../queries/retweet_share.sql", "--format", "json"}, stdout: []string{`{"tweets":0,"retweets":null,"retweet_percent":null}`}},
		{name: "json types", args: []string{"query", "--format", "json", "SELECT TIMESTAMP '2026-11-26 10:00:01' AS t, [1, 2] AS l, NULL AS n, 1.50 AS d, 'a<b' AS s"},
			stdout: []string{`{"t":"2026-11-26 10:00:01","l":[1,2],"n":null,"d":1.5,"s":"a<b"}`}},
		{name: "table cuts long values", args: []string{"query", "--max-width", "5", "SELECT 'abcdefgh' AS s, 42 AS n"}, stdout: []string{"s     | n\n------+---\nabcd… | 42\n"}},
		{name: "SQL error lists views", args: []string{"query", "SELECT * FROM tweets"}, code: exitError,
			stderr: []string{"Catalog Error: Table with name tweets does not exist", "available views: records, errors, conversion_errors, eventdata, producerstate, trends"}},
		{name: "unknown named query", args: []string{"query", "--named", "nope"}, code: exitUsage, stderr: []string{`no named query "nope"; choose one of failed_records, `}},
		{name: "two sources", args: []string{"query", "--named", "top_authors", "SELECT 1"}, code: exitUsage},
		{name: "bad format", args: []string{"query", "--format", "xml", "SELECT 1"}, code: exitUsage},
		{name: "no SQL", stdin: "  \n", args: []string{"query"}, code: exitUsage, stderr: []string{"no SQL to run"}},
		{name: "prompt", args: []string{"query", "-i"}, code: exitError, stderr: []string{"2 statement(s) or command(s) of the input failed"},
			stdin: ".views\nSELECT count(*) AS n\n  FROM records;\n.format csv\nSELECT 7 AS x;\nSELEC 1;\n.named failed_records\n.bogus\n.quit\nSELECT 'not reached';\n",
			stdout: []string{"records      0 objects under tweets/", "trends       table streamproc-Trends", "streamproc> ", "       ...> ", "n\n-\n0\n(1 row)", "x\n7\n",
				`Error: Parser Error: syntax error at or near "SELEC"`, "error_code,records,last_attempt_ms,sample\n", "unknown command .bogus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errs, code := c.run(tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errs)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errs)
				}
			}
			if tc.nostderr != "" && strings.Contains(errs, tc.nostderr) {
				t.Errorf("stderr has %q:\n%s", tc.nostderr, errs)
			}
			if strings.Contains(out, "not reached") {
				t.Errorf("the prompt went on after .quit:\n%s", out)
			}
		})
	}
}
