package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// client is one open event stream.
type client struct {
	ch chan []byte
}

// clientBuffer is how many messages a page may fall behind before it is
// dropped (it reconnects and starts from a fresh snapshot).
const clientBuffer = 16

// broadcastLocked queues msg for every page; d.mu is held.
func (d *Dashboard) broadcastLocked(msg []byte) {
	for c := range d.clients {
		select {
		case c.ch <- msg:
		default:
			delete(d.clients, c)
			close(c.ch)
		}
	}
}

func (d *Dashboard) closeClients() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for c := range d.clients {
		delete(d.clients, c)
		close(c.ch)
	}
}

func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c := &client{ch: make(chan []byte, clientBuffer)}
	d.mu.Lock()
	init := event("init", d.stateLocked())
	// Tables are read only while a page is open: a page opened after a
	// quiet spell asks for a read now rather than in TablesInterval.
	stale := d.tables == nil || d.opts.Now().Sub(d.readAt) > d.opts.TablesInterval
	d.clients[c] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		if _, ok := d.clients[c]; ok {
			delete(d.clients, c)
			close(c.ch)
		}
		d.mu.Unlock()
	}()
	if stale {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	// Tell the browser how soon to come back after a drop.
	if _, err := w.Write(append([]byte("retry: 1000\n\n"), init...)); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case msg, ok := <-c.ch:
			if !ok {
				return
			}
			if _, err := w.Write(msg); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}

func (d *Dashboard) serveState(w http.ResponseWriter, r *http.Request) {
	if err := d.loadTopology(r.Context()); err != nil {
		http.Error(w, "topology: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	d.mu.Lock()
	b := d.stateLocked()
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// serveItems searches the items of one user.
func (d *Dashboard) serveItems(w http.ResponseWriter, r *http.Request) {
	user := strings.TrimPrefix(strings.TrimSpace(r.URL.Query().Get("user")), "@")
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 100 {
		limit = d.opts.Items
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	select {
	case d.searches <- struct{}{}:
		defer func() { <-d.searches }()
	case <-ctx.Done():
		http.Error(w, "too many searches at once", http.StatusServiceUnavailable)
		return
	}
	items, err := d.src.Items(ctx, user, limit)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if items == nil {
		items = []Item{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(items)
}

func (d *Dashboard) serveIndex(w http.ResponseWriter, r *http.Request) {
	if err := d.loadTopology(r.Context()); err != nil {
		http.Error(w, "topology: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	d.mu.Lock()
	topo := d.topo
	d.mu.Unlock()
	var b bytes.Buffer
	if err := d.page.Execute(&b, topo); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b.Bytes())
}

// Clients is how many pages are connected to the event stream now.
func (d *Dashboard) Clients() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.clients)
}
