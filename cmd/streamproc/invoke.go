package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/function/consumer"
	"github.com/streamproc/streamproc/function/transformer"
	"github.com/streamproc/streamproc/function/trending"
	"github.com/streamproc/streamproc/local/control"
	"github.com/streamproc/streamproc/local/stack"
)

func (m *Main) invokeCmd(g *globalFlags) *cobra.Command {
	var eventPath string
	cmd := &cobra.Command{
		Use:   "invoke FUNCTION -e EVENT.json",
		Short: "Run one function in-process on the embedded components of the data dir",
		Long: `Run one function in-process, like 'sam local invoke', against the tables,
stream and dead-letter store in --data-dir. The function's JSON response goes
to stdout, its logs to stderr.

FUNCTION is a package name (consumer, transformer, producer, trending), a
logical ID from the template (DataStreamConsumer, …) or a physical name
(<stack>-DataStreamConsumer). Its environment comes from template.yaml when
it exists, and from the same defaults otherwise.`,
		Example: `  streamproc generate-event kinesis --file tweets.jsonl > event.json
  streamproc invoke consumer -e event.json
  streamproc generate-event firehose | streamproc invoke transformer -e -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if eventPath == "" {
				return usagef("an event is required: -e EVENT.json, or -e - to read stdin (make one with 'streamproc generate-event')")
			}
			return m.invoke(cmd.Context(), g, args[0], eventPath)
		},
	}
	cmd.Flags().StringVarP(&eventPath, "event", "e", "", "event file, or - for stdin")
	return cmd
}

func (m *Main) readInput(path string) ([]byte, error) {
	return m.readFlagInput("-e", path, "make an event with 'streamproc generate-event'")
}

// readFlagInput reads the file a flag names ("-" is stdin); a missing file
// is a usage error naming the flag, with hint.
func (m *Main) readFlagInput(flag, path, hint string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(m.Stdin)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		// A file that is not there is the user's to fix: a usage error.
		return nil, usagef("%s %s: %v (%s)", flag, path, err, hint)
	}
	return b, nil
}

func (m *Main) invoke(ctx context.Context, g *globalFlags, name, eventPath string) error {
	st, err := loadStack(g)
	if err != nil {
		return err
	}
	fn, err := st.function(name)
	if err != nil {
		return err
	}
	raw, err := m.readInput(eventPath)
	if err != nil {
		return err
	}
	log := m.logger(g).With("function", st.Name+"-"+fn.LogicalID)
	rt, err := openRuntime(ctx, g.dataDir, st, m.Getenv, m.Now, log)
	if errors.Is(err, streamproc.ErrUnavailable) {
		// A running stack holds the data dir: it runs the function.
		if c, derr := control.Dial(g.dataDir); derr == nil {
			return m.invokeThrough(ctx, c, fn, raw)
		}
	}
	if err != nil {
		return err
	}
	defer rt.Close()

	ctx, cancel := context.WithTimeout(ctx, fn.Timeout)
	defer cancel()
	resp, err := m.call(ctx, st, fn, rt, raw, log)
	if err != nil {
		// Lambda's error shape, so scripts can parse it either way.
		out, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": errorType(err)})
		fmt.Fprintln(m.Stdout, string(out))
		return fmt.Errorf("function %s failed: %w", fn.LogicalID, err)
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	fmt.Fprintln(m.Stdout, string(out))
	return nil
}

// invokeThrough has the running stack run fn on raw and prints what it
// answers the way a local invocation would.
func (m *Main) invokeThrough(ctx context.Context, c *control.Client, fn fnDef, raw []byte) error {
	ctx, cancel := context.WithTimeout(ctx, fn.Timeout+5*time.Second)
	defer cancel()
	res, err := c.Invoke(ctx, fn.LogicalID, raw)
	if err != nil {
		return fmt.Errorf("invoke %s through the running stack: %w", fn.LogicalID, err)
	}
	fmt.Fprint(m.Stderr, res.Logs)
	if res.Error != "" {
		out, _ := json.Marshal(map[string]string{"errorMessage": res.Error, "errorType": res.ErrorType})
		fmt.Fprintln(m.Stdout, string(out))
		return fmt.Errorf("function %s failed: %s", fn.LogicalID, res.Error)
	}
	fmt.Fprintln(m.Stdout, string(res.Response))
	return nil
}

// invokeHandler runs invocations for other processes while up holds the
// data dir (control.InvokePath): the same call as `streamproc invoke`, on
// the running stack's components, answering the response, or Lambda's
// error fields, and the function's logs.
//
// fileLog, when set, also keeps the function's logs in its log file (as
// `streamproc logs` reads them), over the handler that answers them.
func (m *Main) invokeHandler(g *globalFlags, deps stack.Deps, fileLog func(base slog.Handler, function string) slog.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := loadStack(g)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fn, err := st.function(strings.TrimPrefix(r.URL.Path, control.Prefix+control.InvokePath))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		logs := &lockedBuffer{}
		var h slog.Handler = slog.NewTextHandler(logs, nil)
		if fileLog != nil {
			h = fileLog(h, st.Name+"-"+fn.LogicalID)
		}
		log := slog.New(h).With("function", st.Name+"-"+fn.LogicalID)
		rt := &runtime{dir: g.dataDir, tables: deps.Tables, dead: deps.DeadLetters, params: deps.Params, stream: deps.Stream, metrics: deps.Metrics}
		ctx, cancel := context.WithTimeout(r.Context(), fn.Timeout)
		defer cancel()
		var res control.InvokeResult
		resp, err := m.call(ctx, st, fn, rt, raw, log)
		if err == nil {
			res.Response, err = json.Marshal(resp)
		}
		if err != nil {
			res.Error, res.ErrorType = err.Error(), errorType(err)
		}
		res.Logs = logs.String()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
}

// lockedBuffer is a bytes.Buffer for concurrent writers (a function's
// goroutines all log) and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func errorType(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "Sandbox.Timedout"
	case errors.Is(err, errBadEvent):
		return "InvalidEvent"
	}
	return "FunctionError"
}

var errBadEvent = errors.New("bad event")

// decodeEvent decodes raw into ev, rejecting input that cannot be the event
// the function expects, with a hint to the generator.
func decodeEvent(raw []byte, ev any, kind string, ok func() bool) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(ev); err != nil {
		return fmt.Errorf("%w: not a %s event: %v (make one with 'streamproc generate-event %s')", errBadEvent, kind, err, kind)
	}
	if !ok() {
		return fmt.Errorf("%w: not a %s event: no records found (make one with 'streamproc generate-event %s')", errBadEvent, kind, kind)
	}
	// Go matches JSON keys without regard to case, so a Firehose event
	// ("records") would pass for a Kinesis one ("Records") with empty
	// records: check the keys as Lambda's events spell them.
	if want, ok := eventKeys[kind]; ok {
		var top map[string]json.RawMessage
		_ = json.Unmarshal(raw, &top)
		var recs []map[string]json.RawMessage
		if _, has := top[want.records]; has {
			if err := json.Unmarshal(top[want.records], &recs); err != nil {
				return fmt.Errorf("%w: not a %s event: %q is not a list of records (make one with 'streamproc generate-event %s')", errBadEvent, kind, want.records, kind)
			}
		} else if len(top) > 0 && !want.optional(top) {
			return fmt.Errorf("%w: not a %s event: it has no %q list (make one with 'streamproc generate-event %s')", errBadEvent, kind, want.records, kind)
		}
		for i, r := range recs {
			for _, k := range want.fields {
				if _, has := r[k]; !has {
					return fmt.Errorf("%w: not a %s event: record %d has no %q (make one with 'streamproc generate-event %s')", errBadEvent, kind, i, k, kind)
				}
			}
		}
	}
	return nil
}

// eventKeys is how each event spells its records list and the fields
// every record has.
var eventKeys = map[string]struct {
	records  string
	fields   []string
	optional func(top map[string]json.RawMessage) bool // records may be absent
}{
	"kinesis": {records: "Records", fields: []string{"kinesis", "eventSource"}, optional: func(top map[string]json.RawMessage) bool {
		// A tumbling window's final invocation may come without records.
		return string(top["isFinalInvokeForWindow"]) == "true"
	}},
	"firehose": {records: "records", fields: []string{"recordId", "data"}, optional: func(map[string]json.RawMessage) bool { return false }},
}

// call builds the function's handler on the runtime and invokes it.
func (m *Main) call(ctx context.Context, st stackDef, fn fnDef, rt *runtime, raw []byte, log *slog.Logger) (any, error) {
	switch fn.Name {
	case "consumer":
		var ev events.KinesisEvent
		if err := decodeEvent(raw, &ev, "kinesis", func() bool { return len(ev.Records) > 0 }); err != nil {
			return nil, err
		}
		ttl, err := fn.envInt(envTTLDays, 0)
		if err != nil {
			return nil, err
		}
		h := &consumer.Handler{Table: rt.tables, TableName: fn.Env[envTable], TTLDays: ttl, DeadLetters: rt.dead, FunctionName: st.Name + "-" + fn.LogicalID, Logger: log, Now: m.Now, Metrics: rt.metricsFor(st.Name + "-" + fn.LogicalID)}
		return h.Handle(ctx, ev)
	case "transformer":
		var ev events.KinesisFirehoseEvent
		if err := decodeEvent(raw, &ev, "firehose", func() bool { return len(ev.Records) > 0 }); err != nil {
			return nil, err
		}
		return (&transformer.Handler{Logger: log, Metrics: rt.metricsFor(st.Name + "-" + fn.LogicalID)}).HandleWire(ctx, ev)
	case "trending":
		var ev events.KinesisTimeWindowEvent
		if err := decodeEvent(raw, &ev, "kinesis", func() bool { return len(ev.Records) > 0 || ev.IsFinalInvokeForWindow }); err != nil {
			return nil, err
		}
		return (&trending.Handler{Table: rt.tables, TableName: fn.Env[envTrendsTable], Logger: log, Metrics: rt.metricsFor(st.Name + "-" + fn.LogicalID)}).Handle(ctx, ev)
	case "producer":
		var ev events.EventBridgeEvent
		if err := decodeEvent(raw, &ev, "schedule", func() bool { return true }); err != nil {
			return nil, err
		}
		return m.runProducer(ctx, st, fn, rt, ev, log)
	}
	return nil, fmt.Errorf("function %s has no local handler", fn.Name)
}

// parseInt64 parses an optional integer setting.
func parseInt64(key, v string, def int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer", key, v)
	}
	return n, nil
}
