package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSource counts up by 10 records and one invocation per sample, on a
// clock that moves one second per sample.
type fakeSource struct {
	mu          sync.Mutex
	n           int
	errorsFrom  int // the function errors from this sample on (0: never)
	tableReads  int
	searchUsers []string
}

func (f *fakeSource) Topology(context.Context) (Topology, error) {
	return Topology{
		Title: "test-stack",
		Nodes: []Node{
			{ID: "Stream", Label: "Stream", Type: "AWS::Kinesis::Stream", Kind: "stream", Unit: "records/s"},
			{ID: "Fn", Label: "Fn", Type: "AWS::Serverless::Function", Kind: "function", Unit: "inv/s", LagName: "iterator age", LagWarn: 5 * time.Second, LagBad: time.Minute},
			{ID: "Table", Label: "Table", Type: "AWS::DynamoDB::Table", Kind: "table"},
			{ID: "Dead", Label: "dead letters", Type: "dead letters", Kind: "failures", Failure: true},
			{ID: "Src", Label: "source", Type: "synthetic", Kind: "source"},
			{ID: "Role", Label: "Role", Type: "AWS::IAM::Role", CloudOnly: true},
		},
		Edges: []Edge{{From: "Stream", To: "Fn"}, {From: "Fn", To: "Table"}, {From: "Fn", To: "Dead", Failure: true}, {From: "Src", To: "Stream"}},
		Charts: []Chart{
			{ID: "in", Title: "Records in", Unit: "records", Rate: true},
			{ID: "age", Title: "Iterator age", Unit: "ms"},
		},
	}, nil
}

func (f *fakeSource) Sample(context.Context) (Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	errs := 0.0
	if f.errorsFrom > 0 && f.n >= f.errorsFrom {
		errs = float64(f.n - f.errorsFrom + 1)
	}
	return Sample{
		Time: time.Unix(1700000000+int64(f.n), 0),
		Nodes: []NodeSample{
			{ID: "Stream", Count: float64(10 * f.n)},
			{ID: "Fn", Count: float64(f.n), Errors: errs, Lag: 6 * time.Second},
		},
		Points: []Point{
			{Chart: "in", Series: "shard-0", Value: float64(10 * f.n)},
			{Chart: "age", Series: "Fn", Value: float64(f.n)},
		},
	}, nil
}

func (f *fakeSource) Trends(context.Context, int) ([]TrendWindow, error) {
	f.mu.Lock()
	f.tableReads++
	f.mu.Unlock()
	return []TrendWindow{{Start: time.Unix(1700000000, 0).UTC(), Tweets: 3, Hashtags: []Hashtag{{"golang", 2}}}}, nil
}

func (f *fakeSource) Items(_ context.Context, user string, _ int) ([]Item, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if user != "" {
		f.searchUsers = append(f.searchUsers, user)
	}
	return []Item{{User: "gopher", ID: "1", Time: "2024-01-01T00:00:00Z", Text: "hi #golang"}}, nil
}

func (f *fakeSource) Failures(context.Context, int) ([]Failure, error) {
	return []Failure{{Kind: "dead letter", Where: "Fn", Reason: "not JSON", Data: "garbage"}}, nil
}

func (f *fakeSource) reads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tableReads
}

func start(t *testing.T, src Source) (*Dashboard, *httptest.Server) {
	t.Helper()
	d := New(src, Options{Interval: 10 * time.Millisecond, TablesInterval: 10 * time.Millisecond, History: time.Second})
	stop := d.Start(context.Background())
	srv := httptest.NewServer(d)
	t.Cleanup(func() { srv.Close(); stop() })
	return d, srv
}

type sse struct {
	name string
	data map[string]any
}

// events reads the event stream until fn returns true.
func events(t *testing.T, url string, fn func(sse) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var ev sse
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			ev.data = nil
			if err := json.Unmarshal([]byte(line[len("data: "):]), &ev.data); err != nil {
				t.Fatalf("event %s: %v", ev.name, err)
			}
		case line == "" && ev.name != "":
			if fn(ev) {
				return
			}
			ev = sse{}
		}
	}
	t.Fatalf("event stream ended: %v", sc.Err())
}

func TestEventsCarryRatesHealthAndTables(t *testing.T) {
	src := &fakeSource{errorsFrom: 1 << 30}
	_, srv := start(t, src)
	var init, tables bool
	ticks := 0
	events(t, srv.URL, func(ev sse) bool {
		switch ev.name {
		case "init":
			init = true
			topo := ev.data["topology"].(map[string]any)
			if topo["title"] != "test-stack" || len(topo["nodes"].([]any)) != 6 {
				t.Errorf("init topology = %v", topo)
			}
		case "tick":
			ticks++
			pts := ev.data["points"].(map[string]any)
			// A rate: 10 records per one-second sample.
			if v, ok := pts["in\x1fshard-0"].(float64); ok && v != 10 {
				t.Errorf("records-in rate = %v, want 10", v)
			}
			for _, n := range ev.data["nodes"].([]any) {
				n := n.(map[string]any)
				switch n["id"] {
				case "Fn":
					if n["health"] != "warn" || !strings.Contains(n["why"].(string), "iterator age 6s") {
						t.Errorf("Fn = %v, want warn for its iterator age", n)
					}
				case "Stream":
					if r := n["rate"].(float64); ticks > 3 && r != 10 {
						t.Errorf("Stream rate = %v, want 10", r)
					}
				case "Role":
					t.Errorf("a cloud-only node has live state")
				}
			}
		case "tables":
			tables = true
			if len(ev.data["trends"].([]any)) != 1 || len(ev.data["failures"].([]any)) != 1 || len(ev.data["items"].([]any)) != 1 {
				t.Errorf("tables = %v", ev.data)
			}
		}
		return init && tables && ticks >= 5
	})
}

func TestErrorsTurnNodeRed(t *testing.T) {
	src := &fakeSource{errorsFrom: 3}
	_, srv := start(t, src)
	events(t, srv.URL, func(ev sse) bool {
		if ev.name != "tick" {
			return false
		}
		for _, n := range ev.data["nodes"].([]any) {
			n := n.(map[string]any)
			if n["id"] == "Fn" && n["health"] == "bad" {
				return strings.Contains(n["why"].(string), "errors")
			}
		}
		return false
	})
}

// Tables are read only while a page is open.
func TestTablesReadOnlyWhileWatched(t *testing.T) {
	src := &fakeSource{}
	d, srv := start(t, src)
	waitFor(t, func() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.hist.len() >= 5 })
	if n := src.reads(); n != 0 {
		t.Fatalf("%d table reads with no page open", n)
	}
	events(t, srv.URL, func(ev sse) bool { return ev.name == "tables" })
	if src.reads() == 0 {
		t.Fatal("no table reads with a page open")
	}
}

func TestPageRoutesAndSearch(t *testing.T) {
	src := &fakeSource{}
	_, srv := start(t, src)
	body := get(t, srv.URL+"/")
	for _, want := range []string{`id="n-Stream"`, `id="n-Fn"`, `id="n-Table"`, `id="n-Dead"`, `<span class="chip" title="AWS::IAM::Role">Role</span>`, `/assets/app.js`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, asset := range []string{"/assets/app.js", "/assets/app.css"} {
		if b := get(t, srv.URL+asset); len(b) < 500 {
			t.Errorf("%s: %d bytes", asset, len(b))
		}
	}
	if got := get(t, srv.URL+"/api/items?user=@gopher"); !strings.Contains(got, `"user":"gopher"`) {
		t.Errorf("search = %s", got)
	}
	if len(src.searchUsers) != 1 || src.searchUsers[0] != "gopher" {
		t.Errorf("searched %v", src.searchUsers)
	}
	resp, err := http.Post(srv.URL+"/", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST / = %s, want 405: the page is read-only", resp.Status)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/api/state")), &st); err != nil {
		t.Fatal(err)
	}
	if st["topology"] == nil || st["series"] == nil {
		t.Errorf("state = %v", st)
	}
}

// A page that stops reading is dropped instead of buffered for.
func TestSlowPageIsDropped(t *testing.T) {
	d := New(&fakeSource{}, Options{})
	c := &client{ch: make(chan []byte, clientBuffer)}
	d.clients[c] = struct{}{}
	for range clientBuffer + 1 {
		d.broadcastLocked([]byte("x"))
	}
	if _, ok := d.clients[c]; ok {
		t.Fatal("slow client still registered")
	}
	n := 0
	for range c.ch {
		n++
	}
	if n != clientBuffer {
		t.Errorf("%d messages queued, want %d", n, clientBuffer)
	}
}

func TestLayoutArrowsGoRight(t *testing.T) {
	topo, _ := (&fakeSource{}).Topology(context.Background())
	nodes, w, h := layout(topo)
	if len(nodes) != 5 || w <= 0 || h <= 0 {
		t.Fatalf("layout: %d nodes, %dx%d", len(nodes), w, h)
	}
	col := map[string]int{}
	for _, p := range nodes {
		col[p.ID] = p.col
	}
	for _, e := range topo.Edges {
		if col[e.From] >= col[e.To] {
			t.Errorf("edge %s→%s goes from column %d to %d", e.From, e.To, col[e.From], col[e.To])
		}
	}
	if col["Src"] != col["Stream"]-1 {
		t.Errorf("source in column %d, stream in %d", col["Src"], col["Stream"])
	}
}

func TestHistoryRing(t *testing.T) {
	h := newHistory(3)
	for i := range 5 {
		vals := map[string]float64{"a": float64(i)}
		if i >= 3 {
			vals["b"] = float64(10 * i)
		}
		h.add(time.Unix(int64(i), 0), vals)
	}
	if h.len() != 3 || h.at(0).Unix() != 2 || h.value("a", 0) != 2 || h.value("a", 2) != 4 {
		t.Errorf("ring = %v %v", h.times, h.vals)
	}
	if v := h.value("b", 0); v == v { // NaN: b did not exist yet
		t.Errorf("b before it existed = %v", v)
	}
	if h.value("b", 2) != 40 {
		t.Errorf("b = %v", h.value("b", 2))
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(errors.New("condition not met in 30 s"))
		}
	}
}
