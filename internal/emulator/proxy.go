package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Proxy sits between an SDK client and an emulator speaking an AWS JSON
// protocol (Kinesis JSON 1.1, DynamoDB JSON 1.0) and adds what the emulator
// cannot be made to do: whole-call faults (throttling, 5xx, a load
// balancer's HTML page) and, through Rewrite, per-operation rewrites such as
// partial failures. Everything it does not change comes from the emulator,
// so tests keep an independent implementation behind the fault.
//
// It records every request it receives for assertions on request shapes.
type Proxy struct {
	upstream string
	srv      *httptest.Server

	// Rewrite, when set, handles a call instead of forwarding it verbatim.
	// It may change the request, Forward it (any number of times) and
	// change the answer. Set it before the first call.
	Rewrite func(c *Call) (status int, resp map[string]any)

	mu       sync.Mutex
	faults   []Fault
	requests []Request
}

// Fault is a whole-call failure the proxy answers with instead of
// forwarding. An empty Code sends a non-JSON body, as a load balancer does.
type Fault struct {
	Status int
	Code   string
}

// Request is one request the proxy received: the operation (X-Amz-Target
// without its service prefix) and the decoded JSON body.
type Request struct {
	Op   string
	Body map[string]any
}

// Call is one request being rewritten.
type Call struct {
	Op      string
	Request map[string]any

	proxy *Proxy
	orig  *http.Request
}

// NewProxy starts a proxy to upstream, closed when t ends.
func NewProxy(t testing.TB, upstream string) *Proxy {
	p := &Proxy{upstream: upstream}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the proxy's endpoint URL.
func (p *Proxy) URL() string { return p.srv.URL }

// Queue makes the next len(faults) calls fail, one fault each, in order.
func (p *Proxy) Queue(faults ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, faults...)
}

// Requests returns the requests received for op so far.
func (p *Proxy) Requests(op string) []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Request
	for _, r := range p.requests {
		if r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// ErrorBody is an AWS JSON protocol error body.
func ErrorBody(code, message string) map[string]any {
	return map[string]any{"__type": code, "message": message}
}

// Forward sends req to the emulator and returns its status and decoded
// JSON answer.
func (c *Call) Forward(req map[string]any) (int, map[string]any) {
	body, err := json.Marshal(req)
	if err != nil {
		return http.StatusInternalServerError, ErrorBody("InternalFailure", err.Error())
	}
	resp, err := c.proxy.send(c.orig, body)
	if err != nil {
		return http.StatusBadGateway, ErrorBody("InternalFailure", err.Error())
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return http.StatusBadGateway, ErrorBody("InternalFailure", fmt.Sprintf("decode emulator answer: %v", err))
	}
	return resp.StatusCode, out
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndex(target, ".")+1:]
	var req map[string]any
	_ = json.Unmarshal(body, &req)

	p.mu.Lock()
	p.requests = append(p.requests, Request{Op: op, Body: req})
	var fault *Fault
	if len(p.faults) > 0 {
		fault = &p.faults[0]
		p.faults = p.faults[1:]
	}
	p.mu.Unlock()

	switch {
	case fault != nil && fault.Code == "":
		http.Error(w, "<html><body>Service Unavailable</body></html>", fault.Status)
	case fault != nil:
		writeJSON(w, r, fault.Status, ErrorBody(fault.Code, "injected by the test proxy"))
	case p.Rewrite != nil && req != nil:
		status, resp := p.Rewrite(&Call{Op: op, Request: req, proxy: p, orig: r})
		writeJSON(w, r, status, resp)
	default:
		resp, err := p.send(r, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}
}

// send re-issues a request to the emulator. A rewritten body no longer
// matches the signature; the emulators check that one is present, not its
// value.
func (p *Proxy) send(r *http.Request, body []byte) (*http.Response, error) {
	up, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, h := range []string{"Content-Type", "X-Amz-Target", "Authorization", "X-Amz-Date"} {
		up.Header.Set(h, r.Header.Get(h))
	}
	return http.DefaultClient.Do(up)
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	// Answer in the request's protocol version (1.0 for DynamoDB, 1.1 for
	// Kinesis).
	w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
