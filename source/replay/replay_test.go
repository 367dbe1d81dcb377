package replay_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/source/replay"
	"github.com/streamproc/streamproc/tweet"
)

// fixtureRefs returns the search fixture's statuses as compact JSON lines
// and, per status, the id and author handle the replay must report.
func fixtureRefs(t *testing.T) (jsonl []byte, ids, names []string) {
	t.Helper()
	var buf bytes.Buffer
	for _, s := range fixture.SearchStatuses(t) {
		if err := json.Compact(&buf, s); err != nil {
			t.Fatal(err)
		}
		buf.WriteByte('\n')
		m, err := tweet.Decode(s)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Tweets[0].IDStr)
		names = append(names, m.Tweets[0].User.ScreenName)
	}
	return buf.Bytes(), ids, names
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// drain reads every tweet of it.
func drain(t *testing.T, it replay.Iterator) []streamproc.SourceTweet {
	t.Helper()
	var out []streamproc.SourceTweet
	for {
		tw, err := it.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tw)
		if len(out) > 10000 {
			t.Fatal("no end")
		}
	}
}

// The fixture's 15 statuses come back, in order, with ids and handles,
// from every shape an archive may have.
func TestReplayFixtureShapes(t *testing.T) {
	jsonl, ids, names := fixtureRefs(t)
	page := fixture.Read(t, "x-v1.1-search-tweets.json") // pretty-printed, multi-line
	var statuses []json.RawMessage
	for _, s := range fixture.SearchStatuses(t) {
		statuses = append(statuses, s)
	}
	array, _ := json.Marshal(statuses)
	tests := []struct {
		name  string
		paths func(t *testing.T) []string
		stdin []byte
	}{
		{"JSON Lines", func(t *testing.T) []string { return []string{write(t, "t.jsonl", jsonl)} }, nil},
		{"gzip", func(t *testing.T) []string { return []string{write(t, "t.jsonl.gz", gz(t, jsonl))} }, nil},
		{"gzip without the extension", func(t *testing.T) []string { return []string{write(t, "t.data", gz(t, jsonl))} }, nil},
		{"CRLF and blank lines", func(t *testing.T) []string {
			return []string{write(t, "t.jsonl", bytes.ReplaceAll(jsonl, []byte("\n"), []byte("\r\n\r\n")))}
		}, nil},
		{"v1.1 search page as saved", func(t *testing.T) []string { return []string{write(t, "page.json", page)} }, nil},
		{"JSON array", func(t *testing.T) []string { return []string{write(t, "a.json", array)} }, nil},
		{"stdin", func(*testing.T) []string { return []string{replay.Stdin} }, jsonl},
		{"gzip on stdin", func(*testing.T) []string { return []string{replay.Stdin} }, gz(t, jsonl)},
		{"two files", func(t *testing.T) []string {
			lines := bytes.SplitAfter(jsonl, []byte("\n"))
			return []string{write(t, "a.jsonl", bytes.Join(lines[:6], nil)), write(t, "b.jsonl.gz", gz(t, bytes.Join(lines[6:], nil)))}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := replay.Open(tc.paths(t), replay.Options{Stdin: bytes.NewReader(tc.stdin)})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := drain(t, r)
			if len(got) != 15 {
				t.Fatalf("%d tweets, want 15", len(got))
			}
			for i, tw := range got {
				if tw.ID != ids[i] || tw.ScreenName != names[i] {
					t.Errorf("tweet %d: %s @%s, want %s @%s", i, tw.ID, tw.ScreenName, ids[i], names[i])
				}
				if bytes.ContainsAny(tw.Raw, "\r\n") {
					t.Errorf("tweet %d spans lines", i)
				}
				m, err := tweet.Decode(tw.Raw)
				if err != nil || m.Tweets[0].IDStr != ids[i] {
					t.Errorf("tweet %d does not decode: %v", i, err)
				}
			}
		})
	}
}

// v2 pages are split into single-tweet documents; other values pass as
// they are, with whatever key they can give.
func TestReplayOtherShapes(t *testing.T) {
	in := strings.Join([]string{
		`{"data":[{"id":"2","text":"b","created_at":"2024-01-15T10:30:00Z","author_id":"9"},{"id":"1","text":"a","created_at":"2024-01-15T10:29:00Z","author_id":"8"}],"includes":{"users":[{"id":"9","name":"N","username":"nine"},{"id":"8","name":"E","username":"eight"}]},"meta":{"result_count":2}}`,
		`{"data":{"id":"3","text":"c","created_at":"2024-01-15T10:31:00Z","author_id":"9"},"includes":{"users":[{"id":"9","name":"N","username":"nine"}]}}`,
		`{"meta":{"result_count":0}}`,
		`{"statuses":[],"search_metadata":{}}`,
		`{"delete":{"status":{"id":1,"id_str":"1","user_id":2,"user_id_str":"2"},"timestamp_ms":"1"}}`,
		`{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921728,"text":"no id_str","user":{"screen_name":"numeric"}}`,
		`{"not":"a tweet"}`,
		`"a string"`,
	}, "\n")
	r, err := replay.Open([]string{write(t, "mixed.jsonl", []byte(in))}, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, r)
	want := []struct{ id, name string }{
		{"2", "nine"}, {"1", "eight"}, {"3", "nine"}, {"1", "2"}, {"1050118621198921728", "numeric"},
		{"6", ""}, {"7", ""}, // keyless records: their position among the records
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].ScreenName != w.name {
			t.Errorf("record %d: %q @%q, want %q @%q (%s)", i, got[i].ID, got[i].ScreenName, w.id, w.name, got[i].Raw)
		}
	}
	m, err := tweet.Decode(got[1].Raw)
	if err != nil || m.Tweets[0].User.ScreenName != "eight" {
		t.Errorf("split v2 tweet: %+v %v", m, err)
	}
}

func TestReplayErrors(t *testing.T) {
	good, _, _ := fixtureRefs(t)
	first := bytes.SplitAfter(good, []byte("\n"))[0]
	tests := []struct {
		name    string
		paths   func(t *testing.T) []string
		opts    replay.Options
		openErr string
		nextErr string
		after   int // tweets read before the error
	}{
		{"missing file", func(*testing.T) []string { return []string{"/nonexistent/t.jsonl"} }, replay.Options{}, "no such file", "", 0},
		{"no file", func(*testing.T) []string { return nil }, replay.Options{}, "no file given", "", 0},
		{"stdin twice", func(*testing.T) []string { return []string{"-", "-"} }, replay.Options{Stdin: strings.NewReader("")}, "stdin given 2 times", "", 0},
		{"loop over stdin", func(*testing.T) []string { return []string{"-"} }, replay.Options{Stdin: strings.NewReader(""), Loop: true}, "cannot be replayed in a loop", "", 0},
		{"a file of no JSON", func(t *testing.T) []string {
			return []string{write(t, "text.txt", append(slices.Clone(first), strings.Repeat("some prose\n", replay.MaxBadLines+1)...))}
		}, replay.Options{}, "", "text.txt: more than 100 lines are not JSON (line 102", 1},
		{"truncated gzip", func(t *testing.T) []string {
			z := gz(t, good)
			return []string{write(t, "cut.jsonl.gz", z[:len(z)/2])}
		}, replay.Options{}, "", "cut.jsonl.gz", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := replay.Open(tc.paths(t), tc.opts)
			if tc.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.openErr) {
					t.Fatalf("Open: %v, want %q", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				_, err = r.Next(context.Background())
				if err != nil {
					break
				}
				n++
			}
			if err == io.EOF || !strings.Contains(err.Error(), tc.nextErr) {
				t.Fatalf("after %d tweets: %v, want %q", n, err, tc.nextErr)
			}
			if tc.after >= 0 && n != tc.after {
				t.Errorf("%d tweets before the error, want %d", n, tc.after)
			}
			if _, again := r.Next(context.Background()); again == nil || again == io.EOF {
				t.Errorf("the error is not sticky: %v", again)
			}
		})
	}
}

// A line that is not JSON (a write cut short in an archive) is skipped with
// a warning naming its line; the lines around it are replayed.
func TestReplaySkipsBadLines(t *testing.T) {
	good, _, _ := fixtureRefs(t)
	lines := bytes.SplitAfter(good, []byte("\n"))
	in := slices.Concat(lines[0], []byte("{\"id_str\": \"12\", \"text\": \"cut sh\n"), lines[1],
		[]byte("\n  \n"), []byte("not json either\n"), lines[2], []byte("{\"unterminated\": "))
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, gzipped := range []bool{false, true} {
		logs.Reset()
		data := in
		if gzipped {
			data = gz(t, in)
		}
		r, err := replay.Open([]string{write(t, "cut.jsonl", data)}, replay.Options{Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, r)
		if len(got) != 3 {
			t.Fatalf("gzip %v: %d tweets, want the 3 good lines", gzipped, len(got))
		}
		if r.Skipped() != 3 {
			t.Errorf("gzip %v: Skipped %d, want 3", gzipped, r.Skipped())
		}
		for _, want := range []string{"line=2 ", "line=6 ", "line=8 "} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("gzip %v: no warning with %q:\n%s", gzipped, want, logs.String())
			}
		}
	}
}

func TestReplayLoop(t *testing.T) {
	jsonl, ids, _ := fixtureRefs(t)
	r, err := replay.Open([]string{write(t, "t.jsonl", jsonl)}, replay.Options{Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := range 40 {
		tw, err := r.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if tw.ID != ids[i%15] {
			t.Fatalf("tweet %d is %s, want %s", i, tw.ID, ids[i%15])
		}
	}
	// Looping over nothing ends instead of spinning.
	empty, err := replay.Open([]string{write(t, "empty.jsonl", []byte("\n\n"))}, replay.Options{Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.Next(context.Background()); err != io.EOF {
		t.Errorf("empty loop: %v", err)
	}
}

// fakeClock advances when slept on.
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// At a rate of 4/s the n-th tweet is released at n × 250ms; a stall makes
// at most one second's worth come at once.
func TestReplayRate(t *testing.T) {
	jsonl, _, _ := fixtureRefs(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		stall map[int]time.Duration // before reading tweet i, the consumer is busy this long
		want  []time.Duration       // release times, from start
	}{
		{
			name: "steady",
			want: []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond, 750 * time.Millisecond, time.Second},
		},
		{
			name:  "a short stall is caught up",
			stall: map[int]time.Duration{2: 600 * time.Millisecond},
			// Tweet 2 is due at 500ms but read at 850ms; 3 and 4 keep
			// their schedule.
			want: []time.Duration{0, 250 * time.Millisecond, 850 * time.Millisecond, 850 * time.Millisecond, time.Second},
		},
		{
			name:  "a long stall re-anchors",
			stall: map[int]time.Duration{2: 5 * time.Second},
			want:  []time.Duration{0, 250 * time.Millisecond, 5250 * time.Millisecond, 5500 * time.Millisecond, 5750 * time.Millisecond},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, viaLimit := range []bool{false, true} {
				c := &fakeClock{t: start}
				opts := replay.Options{Now: c.Now, Sleep: c.Sleep}
				if !viaLimit {
					opts.Rate = 4
				}
				r, err := replay.Open([]string{write(t, "t.jsonl", jsonl)}, opts)
				if err != nil {
					t.Fatal(err)
				}
				var it replay.Iterator = r
				if viaLimit {
					it = replay.Limit(r, 4, c.Now, c.Sleep)
				}
				var got []time.Duration
				for i := range tc.want {
					c.advance(tc.stall[i])
					if _, err := it.Next(context.Background()); err != nil {
						t.Fatal(err)
					}
					got = append(got, c.Now().Sub(start))
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("limit=%v: released at %v, want %v", viaLimit, got, tc.want)
				}
			}
		})
	}
}

// As a TweetSource the replay hands out pages, newest first, so the
// producer writes them in file order.
func TestReplayAsTweetSource(t *testing.T) {
	jsonl, ids, _ := fixtureRefs(t)
	r, err := replay.Open([]string{write(t, "t.jsonl", jsonl)}, replay.Options{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	trends, err := r.Trends(ctx, 1, 10)
	if err != nil || len(trends) != 1 {
		t.Fatalf("trends %v %v", trends, err)
	}
	var order []string
	for range 3 {
		page, newest, err := r.Search(ctx, trends[0].Query, "")
		if err != nil || newest != "" {
			t.Fatal(err, newest)
		}
		for i := len(page) - 1; i >= 0; i-- {
			order = append(order, page[i].ID)
		}
	}
	if !slices.Equal(order, ids) {
		t.Errorf("file order through Search: %v\nwant %v", order, ids)
	}
}

func TestReplayContextCanceled(t *testing.T) {
	jsonl, _, _ := fixtureRefs(t)
	r, err := replay.Open([]string{write(t, "t.jsonl", jsonl)}, replay.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a canceled context: %v", err)
	}
}
