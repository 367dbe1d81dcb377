// Package control lets CLI commands read the live data of a running stack.
//
// A data dir can be open in one process only (its stores hold exclusive
// locks), so while `streamproc up` runs, `streamproc table …` and
// `streamproc dlq` in another terminal ask the running process instead: up
// serves Handler under /_streamproc/ on its address and writes that address
// to <data-dir>/up.addr; Client reads it. Handler only reads; the one call
// that writes is an invocation (InvokePath), which the running process
// serves with its own functions, as `streamproc invoke` would.
package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/deadletter"
	"github.com/streamproc/streamproc/local/queue"
	"github.com/streamproc/streamproc/local/table"
)

// AddrFile is the file in the data dir holding the running stack's address.
const AddrFile = "up.addr"

// Prefix is where Handler is mounted.
const Prefix = "/_streamproc/"

// WriteAddr records addr for other processes; the returned func removes it.
func WriteAddr(dataDir, addr string) (func(), error) {
	p := filepath.Join(dataDir, AddrFile)
	if err := os.WriteFile(p, []byte(addr+"\n"), 0o600); err != nil {
		return nil, err
	}
	return func() { _ = os.Remove(p) }, nil
}

// Handler serves reads of the stack's tables, dead letters and queues.
func Handler(tables *table.Store, dead *deadletter.Queue, queues *queue.Queue) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"table/{name}/scan", func(w http.ResponseWriter, r *http.Request) {
		var start streamproc.Item
		if s := r.URL.Query().Get("start"); s != "" {
			if err := json.Unmarshal([]byte(s), &start); err != nil {
				http.Error(w, "bad start key: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		page, err := tables.Scan(r.Context(), r.PathValue("name"), start, 0)
		reply(w, page, err)
	})
	mux.HandleFunc("POST "+Prefix+"table/{name}/get", func(w http.ResponseWriter, r *http.Request) {
		var key streamproc.Item
		if err := json.NewDecoder(r.Body).Decode(&key); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		it, ok, err := tables.Get(r.Context(), r.PathValue("name"), key)
		reply(w, map[string]any{"item": it, "found": ok}, err)
	})
	mux.HandleFunc("POST "+Prefix+"table/{name}/query", func(w http.ResponseWriter, r *http.Request) {
		var q streamproc.Query
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		items, err := tables.Query(r.Context(), r.PathValue("name"), q)
		reply(w, items, err)
	})
	mux.HandleFunc("GET "+Prefix+"deadletters", func(w http.ResponseWriter, r *http.Request) {
		fns, err := dead.Functions()
		if err != nil {
			reply(w, nil, err)
			return
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // tweets hold & < >: print them as they are
		for _, fn := range fns {
			if f := r.URL.Query().Get("function"); f != "" && f != fn {
				continue
			}
			_ = dead.Read(r.Context(), fn, func(dl streamproc.DeadLetter) error { return enc.Encode(dl) })
		}
	})
	mux.HandleFunc("GET "+Prefix+"queues", func(w http.ResponseWriter, r *http.Request) {
		names, err := queues.Queues()
		if err != nil {
			reply(w, nil, err)
			return
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // tweets hold & < >: print them as they are
		for _, q := range names {
			_ = queues.Read(r.Context(), q, func(m queue.Message) error {
				return enc.Encode(map[string]any{"queue": q, "message": m})
			})
		}
	})
	return mux
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		code := http.StatusInternalServerError
		switch {
		case errors.Is(err, streamproc.ErrNotFound):
			code = http.StatusNotFound
		case errors.Is(err, streamproc.ErrInvalid):
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// InvokePath is where a running stack takes invocations: POST
// Prefix+InvokePath+FUNCTION with the event as the body answers an
// InvokeResult.
const InvokePath = "invoke/"

// InvokeResult is a function's answer to an invocation through the running
// stack: its response, or Lambda's error fields, and the logs it wrote.
type InvokeResult struct {
	Response  json.RawMessage `json:"response,omitempty"`
	Error     string          `json:"errorMessage,omitempty"`
	ErrorType string          `json:"errorType,omitempty"`
	Logs      string          `json:"logs"`
}

// Invoke runs function on event in the running stack. The call lasts as long
// as the function may (ctx bounds it), not the Client's read timeout.
func (c *Client) Invoke(ctx context.Context, function string, event []byte) (InvokeResult, error) {
	var res InvokeResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+Prefix+InvokePath+url.PathEscape(function), bytes.NewReader(event))
	if err != nil {
		return res, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, fmt.Errorf("running stack at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		kind := streamproc.ErrUnavailable
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest {
			kind = streamproc.ErrInvalid
		}
		return res, fmt.Errorf("%s: %w", strings.TrimSpace(string(b)), kind)
	}
	err = json.NewDecoder(resp.Body).Decode(&res)
	return res, err
}

// Client reads a running stack's data.
type Client struct {
	base string
	http *http.Client
}

// Dial finds the running stack of dataDir. It fails when none runs.
func Dial(dataDir string) (*Client, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, AddrFile))
	if err != nil {
		return nil, fmt.Errorf("no running stack found for %s: %w", dataDir, err)
	}
	c := &Client{base: "http://" + strings.TrimSpace(string(b)), http: &http.Client{Timeout: 30 * time.Second}}
	return c, nil
}

var _ streamproc.Table = (*Client)(nil)

// BatchPut is refused: the control API is read-only.
func (c *Client) BatchPut(context.Context, string, []streamproc.Item) ([]streamproc.Item, error) {
	return nil, fmt.Errorf("the running stack's tables are read-only from other processes: %w", streamproc.ErrInvalid)
}

// Add is refused: the control API is read-only.
func (c *Client) Add(context.Context, string, streamproc.Item, string, int64) (int64, error) {
	return 0, fmt.Errorf("the running stack's tables are read-only from other processes: %w", streamproc.ErrInvalid)
}

// Get reads one item.
func (c *Client) Get(ctx context.Context, tbl string, key streamproc.Item) (streamproc.Item, bool, error) {
	var out struct {
		Item  streamproc.Item `json:"item"`
		Found bool            `json:"found"`
	}
	err := c.do(ctx, http.MethodPost, "table/"+url.PathEscape(tbl)+"/get", key, &out)
	return numbers(out.Item), out.Found, err
}

// Query reads one partition.
func (c *Client) Query(ctx context.Context, tbl string, q streamproc.Query) ([]streamproc.Item, error) {
	var out []streamproc.Item
	err := c.do(ctx, http.MethodPost, "table/"+url.PathEscape(tbl)+"/query", q, &out)
	for i := range out {
		out[i] = numbers(out[i])
	}
	return out, err
}

// Scan reads one page.
func (c *Client) Scan(ctx context.Context, tbl string, startKey streamproc.Item, _ int) (streamproc.Page, error) {
	path := "table/" + url.PathEscape(tbl) + "/scan"
	if startKey != nil {
		b, _ := json.Marshal(startKey)
		path += "?start=" + url.QueryEscape(string(b))
	}
	var page streamproc.Page
	err := c.do(ctx, http.MethodGet, path, nil, &page)
	for i := range page.Items {
		page.Items[i] = numbers(page.Items[i])
	}
	page.LastKey = numbers(page.LastKey)
	return page, err
}

// Lines streams a JSON-lines endpoint ("deadletters", "queues") to w.
func (c *Client) Lines(ctx context.Context, path string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+Prefix+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("running stack at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("running stack: %s", strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(w, bufio.NewReader(resp.Body))
	return err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+Prefix+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("running stack at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		kind := streamproc.ErrUnavailable
		switch resp.StatusCode {
		case http.StatusNotFound:
			kind = streamproc.ErrNotFound
		case http.StatusBadRequest:
			kind = streamproc.ErrInvalid
		}
		return fmt.Errorf("%s: %w", strings.TrimSpace(string(b)), kind)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	return dec.Decode(out)
}

// numbers turns json.Number values back into streamproc.Number, the type the
// table returns in-process.
func numbers(it streamproc.Item) streamproc.Item {
	for k, v := range it {
		it[k] = number(v)
	}
	return it
}

func number(v any) any {
	switch x := v.(type) {
	case json.Number:
		return streamproc.Number(x)
	case map[string]any:
		for k, e := range x {
			x[k] = number(e)
		}
	case []any:
		for i, e := range x {
			x[i] = number(e)
		}
	}
	return v
}
