package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/function/trending"
	"github.com/streamproc/streamproc/local/deadletter"
	"github.com/streamproc/streamproc/local/metrics"
	"github.com/streamproc/streamproc/local/params"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/local/table"
	"github.com/streamproc/streamproc/tweet"
)

// Local stand-ins for the pseudo parameters of a deployed stack.
const (
	localRegion  = "us-east-1"
	localAccount = "000000000000"
)

// Environment variable names the functions are configured with, on AWS by
// template.yaml and locally by the same defaults.
const (
	envTable       = "DDB_TABLE"
	envTTLDays     = "DDB_TTL_DAYS"
	envTrendsTable = "TRENDS_TABLE"
	envStream      = "STREAM_NAME"
	envMode        = "PRODUCER_MODE"
	envWOEID       = "TWITTER_WOEID"
	envTopN        = "TOP_N"
	envQuery       = "SEARCH_QUERY"
	envSource      = "TWEET_SOURCE"
	envStateTable  = "PRODUCER_STATE_TABLE"
)

// fnDef is one function of the stack.
type fnDef struct {
	Name      string // package name under function/
	LogicalID string // resource name in template.yaml
	Timeout   time.Duration
	Env       map[string]string
}

// tableDef is one table of the stack.
type tableDef struct {
	Short     string // EventData, Trends
	LogicalID string
	Spec      streamproc.TableSpec
}

// stackDef is everything a local command needs to know about the stack.
type stackDef struct {
	Name      string
	Functions []fnDef
	Tables    []tableDef
	Stream    string
	Shards    int
}

// defaultStack mirrors template.yaml's defaults, so commands work before a
// template exists and agree with it after.
func defaultStack(name string) stackDef {
	eventData := name + "-EventData"
	trends := name + "-Trends"
	stream := name + "-EventStream"
	return stackDef{
		Name:   name,
		Stream: stream,
		Shards: 1,
		Tables: []tableDef{
			{Short: "EventData", LogicalID: "EventDataTable", Spec: tweet.EventDataSpec(eventData)},
			{Short: "Trends", LogicalID: "TrendsTable", Spec: trending.TrendsSpec(trends)},
		},
		Functions: []fnDef{
			{Name: "consumer", LogicalID: "DataStreamConsumer", Timeout: 60 * time.Second, Env: map[string]string{envTable: eventData, envTTLDays: "7"}},
			{Name: "transformer", LogicalID: "FirehoseTransformer", Timeout: 60 * time.Second, Env: map[string]string{}},
			{Name: "producer", LogicalID: "DataStreamProducer", Timeout: 300 * time.Second, Env: map[string]string{envStream: stream, envMode: "records", envWOEID: "1", envTopN: "10"}},
			{Name: "trending", LogicalID: "TrendingHashtags", Timeout: 60 * time.Second, Env: map[string]string{envTrendsTable: trends}},
		},
	}
}

// loadStack returns the stack for g: template.yaml's when it exists,
// the defaults otherwise.
func loadStack(g *globalFlags) (stackDef, error) {
	st := defaultStack(g.stackName)
	overrides, err := parseOverrides(g.parameterOverrides)
	if err != nil {
		return st, err
	}
	if _, err := os.Stat(g.template); errors.Is(err, os.ErrNotExist) {
		if g.templateSet {
			return st, usagef("-t %s: no such file", g.template)
		}
		if len(overrides) > 0 {
			return st, usagef("--parameter-overrides needs a template; %s does not exist", g.template)
		}
		return st, nil
	}
	return applyTemplate(st, g.template, overrides)
}

// parseOverrides reads sam-style Key=Value pairs (also "Key=Value Key2=Value2"
// in one argument, as sam deploy accepts).
func parseOverrides(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		fields, err := overrideFields(a)
		if err != nil {
			return nil, err
		}
		for _, kv := range fields {
			kv = strings.TrimPrefix(kv, "ParameterKey=")
			k, v, ok := strings.Cut(kv, "=")
			v = strings.TrimPrefix(v, "ParameterValue=")
			if k2, v2, ok2 := strings.Cut(kv, ",ParameterValue="); ok2 {
				k, v, ok = k2, v2, true
			}
			if !ok || k == "" {
				return nil, usagef("--parameter-overrides %q: expected Key=Value (a value with spaces keeps its quotes inside single quotes: 'Key=\"a b\"')", kv)
			}
			out[k] = v
		}
	}
	return out, nil
}

// overrideFields splits s at spaces outside quotes and drops the quotes,
// as sam deploy reads Key="rate(1 hour)" or Key='a b'.
func overrideFields(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, usagef("--parameter-overrides %q: unclosed %c", s, quote)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// function finds a function by package name, logical ID or physical name.
func (s stackDef) function(name string) (fnDef, error) {
	var names []string
	for _, f := range s.Functions {
		if strings.EqualFold(name, f.Name) || strings.EqualFold(name, f.LogicalID) || strings.EqualFold(name, s.Name+"-"+f.LogicalID) {
			return f, nil
		}
		names = append(names, f.Name+" ("+f.LogicalID+")")
	}
	if strings.Contains(strings.ToLower(name), "bucketcleaner") {
		return fnDef{}, usagef("%s is a CloudFormation custom resource that empties the bucket when the stack is deleted on AWS; locally, 'streamproc down --purge' does that", name)
	}
	return fnDef{}, usagef("unknown function %q; choose one of %s", name, strings.Join(names, ", "))
}

// table finds a table by short name, logical ID or physical name.
func (s stackDef) table(name string) (tableDef, error) {
	var names []string
	for _, t := range s.Tables {
		if strings.EqualFold(name, t.Short) || name == t.LogicalID || name == t.Spec.Name {
			return t, nil
		}
		names = append(names, t.Short)
	}
	return tableDef{}, usagef("unknown table %q; choose one of %s, a logical ID or a physical name", name, strings.Join(names, ", "))
}

func (s stackDef) streamARN() string {
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", localRegion, localAccount, s.Stream)
}

func (f fnDef) envInt(key string, def int) (int, error) {
	v, ok := f.Env[key]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("function %s: environment %s=%q is not an integer", f.LogicalID, key, v)
	}
	return n, nil
}

// runtime is the embedded components of one data dir.
type runtime struct {
	dir    string
	tables *table.Store
	dead   *deadletter.Queue
	params *params.Store
	// stream is the running stack's engine when invoked through it; nil
	// means the producer opens the data dir's own.
	stream *stream.Engine
	// metrics is the running stack's registry when invoked through it, so
	// its counts include the invocation; nil counts nothing.
	metrics *metrics.Registry
	closers []func() error
}

// metricsFor is what function's handler counts with.
func (rt *runtime) metricsFor(function string) streamproc.Metrics {
	if rt.metrics == nil {
		return streamproc.NopMetrics{}
	}
	return rt.metrics.Counter("FunctionName", function)
}

// openRuntime opens the data dir's components and creates the stack's tables.
// haveData fails, saying what to do, when dir does not exist: a command
// that only reads has nothing to read, and should not create it.
func haveData(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no local data in %s: start the stack with 'streamproc up' first, or point --data-dir at its data dir", dir)
	}
	return nil
}

func openRuntime(ctx context.Context, dir string, st stackDef, getenv func(string) (string, bool), now streamproc.Clock, log *slog.Logger) (*runtime, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	rt := &runtime{dir: dir}
	tables, err := table.Open(filepath.Join(dir, "tables"), table.Options{Now: now, Logger: log})
	if err != nil {
		if errors.Is(err, streamproc.ErrUnavailable) {
			return nil, fmt.Errorf("%w\nAnother streamproc process is using %s; stop it or pass a different --data-dir", err, dir)
		}
		return nil, err
	}
	rt.tables = tables
	rt.closers = append(rt.closers, tables.Close)
	for _, t := range st.Tables {
		if err := tables.CreateTable(ctx, t.Spec); err != nil {
			rt.Close()
			return nil, err
		}
	}
	if rt.dead, err = deadletter.Open(filepath.Join(dir, "deadletter")); err != nil {
		rt.Close()
		return nil, err
	}
	if rt.params, err = params.New(filepath.Join(dir, "params"), getenv); err != nil {
		rt.Close()
		return nil, err
	}
	return rt, nil
}

// Close closes every component, newest first.
func (rt *runtime) Close() error {
	var errs []error
	for i := len(rt.closers) - 1; i >= 0; i-- {
		errs = append(errs, rt.closers[i]())
	}
	rt.closers = nil
	return errors.Join(errs...)
}
