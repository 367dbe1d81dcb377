// Package dashboard is the local stand-in for the CloudWatch dashboard and
// the console pages the seed used to validate the pipeline: one web page
// that shows the stack's topology with live rates and health, charts of the
// last minutes, trending hashtags, the newest stored items and the newest
// failures, updated every second over Server-Sent Events.
//
// It works offline: the page, its script and its styles are embedded in the
// binary, charts are inline SVG drawn by a few lines of script, and the
// topology is SVG rendered on the server.
//
// Cost to the pipeline is bounded whatever the number of open pages: one
// goroutine samples the Source once per interval and keeps the history;
// table reads happen once per TablesInterval while at least one page is
// open, shared by all of them; each page gets the same pre-encoded
// messages, and a page that cannot keep up is disconnected (its browser
// reconnects and starts from a fresh snapshot) rather than buffered for.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

//go:embed assets
var assets embed.FS

// Options configure a Dashboard.
type Options struct {
	// Interval between samples (default 1 s).
	Interval time.Duration
	// History is how far back the charts go (default 5 minutes).
	History time.Duration
	// TablesInterval is how often trends, items and failures are re-read
	// while a page is open (default 2 s).
	TablesInterval time.Duration
	// Items and Failures are how many of each the page lists (default 20
	// and 30).
	Items, Failures int
	// MaxSearches bounds concurrent item searches (default 2).
	MaxSearches int
	Logger      *slog.Logger
	Now         func() time.Time
}

// Dashboard serves the page. Create it with New; it shows live numbers once
// Start (or Run) runs.
type Dashboard struct {
	src      Source
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	page     *template.Template
	searches chan struct{}
	wake     chan struct{} // asks the tables loop for a refresh now

	mu      sync.Mutex
	topo    Topology
	loaded  bool // topo is set
	nodes   map[string]*nodeState
	hist    history
	prev    map[string]float64 // last cumulative value of each rate series
	prevAt  time.Time
	tables  []byte    // encoded trends/items/failures, "" until first read
	readAt  time.Time // when tables were last read
	clients map[*client]struct{}
}

// New returns a dashboard of src.
func New(src Source, opts Options) *Dashboard {
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.History <= 0 {
		opts.History = 5 * time.Minute
	}
	if opts.TablesInterval <= 0 {
		opts.TablesInterval = 2 * time.Second
	}
	if opts.Items <= 0 {
		opts.Items = 20
	}
	if opts.Failures <= 0 {
		opts.Failures = 30
	}
	if opts.MaxSearches <= 0 {
		opts.MaxSearches = 2
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Dashboard{
		src: src, opts: opts, log: opts.Logger,
		page:     template.Must(template.New("index.html").Funcs(template.FuncMap{"topology": renderTopology}).ParseFS(assets, "assets/index.html")),
		searches: make(chan struct{}, opts.MaxSearches),
		wake:     make(chan struct{}, 1),
		nodes:    map[string]*nodeState{},
		hist:     newHistory(int(opts.History / opts.Interval)),
		prev:     map[string]float64{},
		clients:  map[*client]struct{}{},
	}
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	d.mux = http.NewServeMux()
	d.mux.HandleFunc("GET /{$}", d.serveIndex)
	d.mux.Handle("GET /assets/", http.StripPrefix("/assets/", noCache(files)))
	d.mux.HandleFunc("GET /events", d.serveEvents)
	d.mux.HandleFunc("GET /api/state", d.serveState)
	d.mux.HandleFunc("GET /api/items", d.serveItems)
	return d
}

// ServeHTTP serves the page (/), its assets (/assets/…), the event stream
// (/events), the current state as JSON (/api/state) and item search
// (/api/items?user=…). Only GET and HEAD.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// Start runs Run in the background and returns a func that stops it and
// waits until it has returned — call it before the Source's components
// close.
func (d *Dashboard) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			d.log.Warn("dashboard stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }
}

// Run samples the Source every Interval, and re-reads its tables every
// TablesInterval while a page is open, until ctx ends. It returns ctx's
// error.
func (d *Dashboard) Run(ctx context.Context) error {
	if err := d.loadTopology(ctx); err != nil {
		d.log.Warn("dashboard: topology", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.tablesLoop(ctx) }()
	defer wg.Wait()
	t := time.NewTicker(d.opts.Interval)
	defer t.Stop()
	d.sample(ctx)
	for {
		select {
		case <-ctx.Done():
			d.closeClients()
			return ctx.Err()
		case <-t.C:
		}
		d.sample(ctx)
	}
}

func (d *Dashboard) loadTopology(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.loaded {
		return nil
	}
	topo, err := d.src.Topology(ctx)
	if err != nil {
		return err
	}
	d.topo, d.loaded = topo, true
	for _, n := range topo.Nodes {
		d.nodes[n.ID] = &nodeState{node: n, counts: newHistory(healthWindow + 1)}
	}
	return nil
}

// healthWindow is how many samples back an error or a failure still makes
// a node red.
const healthWindow = 10

// sample reads the Source once and sends the new points to every page.
func (d *Dashboard) sample(ctx context.Context) {
	s, err := d.src.Sample(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("dashboard: sample", "err", err)
		}
		return
	}
	if s.Time.IsZero() {
		s.Time = d.opts.Now()
	}
	d.mu.Lock()
	rate := map[string]bool{}
	for _, c := range d.topo.Charts {
		rate[c.ID] = c.Rate
	}
	dt := s.Time.Sub(d.prevAt).Seconds()
	vals := make(map[string]float64, len(s.Points))
	for _, p := range s.Points {
		key := seriesKey(p.Chart, p.Series)
		v := p.Value
		if rate[p.Chart] {
			last, ok := d.prev[key]
			d.prev[key] = p.Value
			switch {
			case !ok || dt <= 0:
				v = math.NaN()
			default:
				v = max(p.Value-last, 0) / dt
			}
		}
		vals[key] = v
	}
	d.prevAt = s.Time
	d.hist.add(s.Time, vals)
	for _, ns := range s.Nodes {
		if st := d.nodes[ns.ID]; st != nil {
			st.update(ns, s.Time)
		}
	}
	msg := d.encodeTick(s.Time, vals)
	d.broadcastLocked(msg)
	d.mu.Unlock()
}

// tablesLoop re-reads trends, items and failures while pages are open.
func (d *Dashboard) tablesLoop(ctx context.Context) {
	t := time.NewTicker(d.opts.TablesInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
		d.mu.Lock()
		watched := len(d.clients) > 0
		d.mu.Unlock()
		if watched {
			d.readTables(ctx)
		}
	}
}

type tablesMsg struct {
	Trends   []TrendWindow `json:"trends"`
	Items    []Item        `json:"items"`
	Failures []Failure     `json:"failures"`
	Errors   []string      `json:"errors,omitempty"`
}

func (d *Dashboard) readTables(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var m tablesMsg
	var err error
	// One failing read must not blank the others.
	if m.Trends, err = d.src.Trends(ctx, 2); err != nil {
		m.Errors = append(m.Errors, "trends: "+err.Error())
	}
	if m.Items, err = d.src.Items(ctx, "", d.opts.Items); err != nil {
		m.Errors = append(m.Errors, "items: "+err.Error())
	}
	if m.Failures, err = d.src.Failures(ctx, d.opts.Failures); err != nil {
		m.Errors = append(m.Errors, "failures: "+err.Error())
	}
	if ctx.Err() != nil {
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		d.log.Warn("dashboard: encode tables", "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.readAt = d.opts.Now()
	if bytes.Equal(b, d.tables) {
		return
	}
	d.tables = b
	d.broadcastLocked(event("tables", b))
}

// nodeState is a node's live state.
type nodeState struct {
	node   Node
	last   NodeSample
	counts history // Count and Errors over the last healthWindow samples
	rate   float64 // per second, over the history
}

func (n *nodeState) update(s NodeSample, at time.Time) {
	n.last = s
	n.counts.add(at, map[string]float64{"c": s.Count, "e": s.Errors})
	// The rate spans the whole history (healthWindow samples): records
	// move in batches and objects, so shorter deltas jump between 0 and
	// bursts.
	end := n.counts.len() - 1
	from := 0
	if span := n.counts.at(end).Sub(n.counts.at(from)).Seconds(); span > 0 {
		n.rate = max(n.counts.value("c", end)-n.counts.value("c", from), 0) / span
	}
}

// health is ok, warn or bad, and why.
func (n *nodeState) health() (string, string) {
	grew := func(key string) bool {
		l := n.counts.len()
		return l > 1 && n.counts.value(key, l-1) > n.counts.value(key, 0)
	}
	switch {
	case n.node.Idle:
		return "idle", "not running"
	case n.node.Failure && grew("c"):
		return "bad", "new failures in the last " + strconv.Itoa(healthWindow) + " s"
	case grew("e"):
		return "bad", "errors in the last " + strconv.Itoa(healthWindow) + " s"
	case n.node.LagBad > 0 && n.last.Lag >= n.node.LagBad:
		return "bad", n.node.LagName + " " + n.last.Lag.Round(time.Millisecond).String()
	case n.node.LagWarn > 0 && n.last.Lag >= n.node.LagWarn:
		return "warn", n.node.LagName + " " + n.last.Lag.Round(time.Millisecond).String()
	case n.node.Failure && n.last.Count > 0:
		return "warn", "failures earlier"
	}
	return "ok", ""
}

type nodeMsg struct {
	ID     string  `json:"id"`
	Rate   float64 `json:"rate"`
	Count  float64 `json:"count"`
	Errors float64 `json:"errors"`
	LagMS  int64   `json:"lagMs"`
	Text   string  `json:"text,omitempty"`
	Health string  `json:"health"`
	Why    string  `json:"why,omitempty"`
}

func (d *Dashboard) nodeMsgsLocked() []nodeMsg {
	out := make([]nodeMsg, 0, len(d.topo.Nodes))
	for _, n := range d.topo.Nodes {
		st := d.nodes[n.ID]
		if st == nil || n.CloudOnly {
			continue
		}
		h, why := st.health()
		out = append(out, nodeMsg{ID: n.ID, Rate: round(st.rate), Count: st.last.Count, Errors: st.last.Errors,
			LagMS: st.last.Lag.Milliseconds(), Text: st.last.Text, Health: h, Why: why})
	}
	return out
}

func round(v float64) float64 { return math.Round(v*10) / 10 }

// encodeTick builds the per-sample event: the time, each series' new value
// and the nodes' states.
func (d *Dashboard) encodeTick(at time.Time, vals map[string]float64) []byte {
	var b bytes.Buffer
	b.WriteString(`{"t":`)
	b.WriteString(strconv.FormatInt(at.UnixMilli(), 10))
	b.WriteString(`,"points":{`)
	for i, k := range d.hist.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		writeNumber(&b, valueOr(vals, k))
	}
	b.WriteString(`},"nodes":`)
	nodes, _ := json.Marshal(d.nodeMsgsLocked())
	b.Write(nodes)
	b.WriteByte('}')
	return event("tick", b.Bytes())
}

func valueOr(m map[string]float64, k string) float64 {
	if v, ok := m[k]; ok {
		return v
	}
	return math.NaN()
}

// stateLocked encodes everything a new page needs.
func (d *Dashboard) stateLocked() []byte {
	var b bytes.Buffer
	b.WriteString(`{"topology":`)
	topo, _ := json.Marshal(d.topo)
	b.Write(topo)
	b.WriteString(`,"intervalMs":`)
	b.WriteString(strconv.FormatInt(d.opts.Interval.Milliseconds(), 10))
	b.WriteString(`,"historySize":`)
	b.WriteString(strconv.Itoa(d.hist.size))
	b.WriteString(`,"times":[`)
	for i := range d.hist.len() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(d.hist.at(i).UnixMilli(), 10))
	}
	b.WriteString(`],"series":{`)
	for i, k := range d.hist.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteString(":[")
		for j := range d.hist.len() {
			if j > 0 {
				b.WriteByte(',')
			}
			writeNumber(&b, d.hist.value(k, j))
		}
		b.WriteByte(']')
	}
	b.WriteString(`},"nodes":`)
	nodes, _ := json.Marshal(d.nodeMsgsLocked())
	b.Write(nodes)
	if d.tables != nil {
		b.WriteString(`,"tables":`)
		b.Write(d.tables)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// seriesKey names a series in messages: chart id and series name.
func seriesKey(chart, series string) string { return chart + "\x1f" + series }

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// writeNumber writes v compactly; NaN (no value) becomes null.
func writeNumber(b *bytes.Buffer, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		b.WriteString("null")
		return
	}
	b.Write(strconv.AppendFloat(nil, math.Round(v*1000)/1000, 'f', -1, 64))
}

func event(name string, data []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "event: %s\ndata: ", name)
	b.Write(data) // JSON from encoding/json holds no raw newlines
	b.WriteString("\n\n")
	return b.Bytes()
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
