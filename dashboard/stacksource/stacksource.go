// Package stacksource is the dashboard.Source of a running local stack
// (`streamproc up`): the topology comes from the stack's plan, live numbers
// from the event source mappings' and delivery streams' counters and from
// the metrics registry, and the tables, dead letters, queues and error
// output are read with bounded work per call.
//
// Two derived families are written back into the registry, so /metrics
// and the page show the same numbers: per-shard IncomingRecords
// (dimension ShardId = <stream>/<shard>) and Duration.p50/.p90/.p99 per
// function (dimension FunctionName).
package stacksource

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamproc/streamproc/dashboard"
	"github.com/streamproc/streamproc/function/consumer"
	"github.com/streamproc/streamproc/function/trending"
	"github.com/streamproc/streamproc/local/esm"
	"github.com/streamproc/streamproc/local/firehose"
	"github.com/streamproc/streamproc/local/metrics"
	"github.com/streamproc/streamproc/local/stack"
	"github.com/streamproc/streamproc/local/stream"
)

// Options configure a Source.
type Options struct {
	// DataDir is the stack's data dir; dead letters and queue messages are
	// read from its files (required for the failures list).
	DataDir string
	// BuiltIn names the built-in tweet source writing to the first stream
	// ("synthetic"); empty or "none" when there is none.
	BuiltIn string
	// Title names the stack on the page (default: the first stream's name
	// without its suffix).
	Title string
	Now   func() time.Time
}

// Node IDs of things that are not template resources.
// Series the page shows that no component counts itself: an event source
// mapping's totals, under the dimension EventSourceMapping (the template's
// <function>.<event> name), as gauges of running totals.
const (
	MetricMappingBatches   = "EventSourceMappingBatches"
	MetricMappingDiscarded = "EventSourceMappingRecordsDiscarded"
	MetricMappingOnFailure = "EventSourceMappingOnFailureRecords"
	dimMapping             = "EventSourceMapping"
	// MetricAPIRecords counts the records Kinesis API clients wrote, per
	// StreamName; whoever serves the API adds to it (kinesisapi.Options.OnPut).
	MetricAPIRecords = "KinesisAPIRecords"
	// MetricBuiltInRecords counts the records up's built-in source wrote,
	// per StreamName (IncomingRecords per StreamName counts every writer,
	// as on AWS).
	MetricBuiltInRecords = "BuiltInSourceRecords"
)

const (
	nodeBuiltIn     = "source:builtin"
	nodeAPI         = "source:kinesis-api"
	nodeDeadLetters = "deadletters"
)

// Source reads a running stack. Safe for concurrent use.
type Source struct {
	// heldBy is the --source that holds the producer's schedule ("": none).
	heldBy string
	st     *stack.Stack
	reg    *metrics.Registry
	dur    *Durations
	opts   Options
	plan   *stack.Plan

	byLogical    map[string]stack.FunctionPlan
	itemsTable   string          // the table the consumer writes (EventData)
	itemsStreams []string        // streams the consumer reads
	trendsTable  string          // the table the trending function writes
	trendsWindow time.Duration   // its tumbling window
	consumers    []string        // physical names of consumer-package functions
	trenders     []string        // physical names of trending-package functions
	invoked      map[string]bool // logical IDs of functions something invokes locally

	mu      sync.Mutex
	base    map[string]uint64 // per-shard tip at the first sample
	lastTip map[string]uint64
	files   fileCache
	reasons reasonLog
}

// New returns the Source of st. Point reg.OnSet at dur.Observe before the
// stack runs, or the duration percentiles stay empty.
func New(st *stack.Stack, reg *metrics.Registry, dur *Durations, opts Options) *Source {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Any --source but xapi stands in for the producer function: up
	// holds its schedule (--source none too, which draws no source node).
	heldBy := opts.BuiltIn
	if opts.BuiltIn == "none" {
		opts.BuiltIn = ""
	}
	if dur == nil {
		dur = NewDurations(opts.Now)
	}
	s := &Source{heldBy: heldBy, st: st, reg: reg, dur: dur, opts: opts, plan: st.Plan(), byLogical: map[string]stack.FunctionPlan{},
		invoked: map[string]bool{}, base: map[string]uint64{}, lastTip: map[string]uint64{}, files: fileCache{m: map[string]cachedFile{}}}
	if s.opts.Title == "" {
		s.opts.Title = "streamproc"
		if len(s.plan.Streams) > 0 {
			name := s.plan.Streams[0].Name
			if i := strings.LastIndex(name, "-"); i > 0 {
				name = name[:i]
			}
			s.opts.Title = name
		}
	}
	tables := map[string]bool{}
	for _, t := range s.plan.Tables {
		tables[t.Name] = true
	}
	for _, fp := range s.plan.Functions {
		s.byLogical[fp.LogicalID] = fp
		for _, v := range sortedValues(fp.Env) {
			if !tables[v] {
				continue
			}
			switch fp.Package {
			case "consumer":
				s.itemsTable = v
			case "trending":
				s.trendsTable = v
			}
		}
		switch fp.Package {
		case "consumer":
			s.consumers = append(s.consumers, fp.Name)
		case "trending":
			s.trenders = append(s.trenders, fp.Name)
		}
	}
	maps, plans := st.Mappings()
	for i, mp := range plans {
		s.invoked[mp.Function] = true
		switch s.byLogical[mp.Function].Package {
		case "consumer":
			s.itemsStreams = append(s.itemsStreams, mp.Stream)
		case "trending":
			s.trendsWindow = maps[i].Config().TumblingWindow
		}
	}
	for _, sp := range s.plan.Schedules {
		s.invoked[sp.Function] = true
	}
	for _, dp := range s.plan.Deliveries {
		if dp.Processor != "" {
			s.invoked[dp.Processor] = true
		}
	}
	return s
}

var _ dashboard.Source = (*Source)(nil)

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Topology draws the plan: producers → stream → mappings → functions →
// tables; stream → delivery stream → transformer → bucket; failures to the
// on-failure queue, the dead-letter store and the error output.
func (s *Source) Topology(context.Context) (dashboard.Topology, error) {
	p := s.plan
	t := dashboard.Topology{Title: s.opts.Title}
	node := func(n dashboard.Node) { t.Nodes = append(t.Nodes, n) }
	edge := func(from, to, label string, failure bool) {
		t.Edges = append(t.Edges, dashboard.Edge{From: from, To: to, Label: label, Failure: failure})
	}
	streamID := map[string]string{}
	for _, sp := range p.Streams {
		streamID[sp.Name] = sp.LogicalID
	}
	tableID := map[string]string{}
	for _, tp := range p.Tables {
		tableID[tp.Name] = tp.LogicalID
	}
	if s.opts.BuiltIn != "" && len(p.Streams) > 0 {
		node(dashboard.Node{ID: nodeBuiltIn, Label: s.opts.BuiltIn + " source", Type: "built-in tweet source (streamproc up --source " + s.opts.BuiltIn + ")", Kind: "source", Unit: "records/s"})
		edge(nodeBuiltIn, p.Streams[0].LogicalID, "", false)
	}
	node(dashboard.Node{ID: nodeAPI, Label: "Kinesis API clients", Type: "PutRecord / PutRecords on the up address", Kind: "source", Unit: "records/s"})
	for _, sp := range p.Streams {
		edge(nodeAPI, sp.LogicalID, "", false)
	}
	for _, sc := range p.Schedules {
		detail, idle := sc.Expression, false
		switch {
		case !sc.Enabled:
			detail, idle = detail+" (disabled)", true
		case s.heldBy != "" && s.byLogical[sc.Function].Package == "producer":
			detail, idle = detail+" (held: --source "+s.heldBy+")", true
		}
		node(dashboard.Node{ID: sc.Name, Label: sc.Name, Name: sc.RuleARN, Type: "AWS::Events::Rule", Kind: "schedule", Detail: detail, Idle: idle})
		edge(sc.Name, sc.Function, "", false)
	}
	for _, fp := range p.Functions {
		n := dashboard.Node{ID: fp.LogicalID, Label: fp.LogicalID, Name: fp.Name, Type: "AWS::Serverless::Function", Kind: "function",
			Detail: fp.Package, Unit: "inv/s",
			Help: "Red: the function returned errors in the last seconds. See `streamproc logs " + fp.LogicalID + "`; failed batches are retried, bisected, then sent to the on-failure destination."}
		if fp.Package == "producer" {
			n.Unit = "records/s"
		}
		if !s.invoked[fp.LogicalID] {
			// Nothing invokes it locally (BucketCleaner: a custom resource).
			n.CloudOnly, n.Type = true, "AWS::Serverless::Function, invoked on AWS only"
		}
		node(n)
		if n.CloudOnly {
			continue
		}
		for _, v := range sortedValues(fp.Env) {
			if id, ok := tableID[v]; ok {
				edge(fp.LogicalID, id, "", false)
			}
			if id, ok := streamID[v]; ok {
				edge(fp.LogicalID, id, "", false)
			}
		}
		if fp.Package == "consumer" {
			edge(fp.LogicalID, nodeDeadLetters, "bad records", true)
		}
	}
	for _, sp := range p.Streams {
		node(dashboard.Node{ID: sp.LogicalID, Label: sp.LogicalID, Name: sp.Name, Type: "AWS::Kinesis::Stream", Kind: "stream",
			Detail: plural(sp.Shards, "shard"), Unit: "records/s"})
	}
	maps, plans := s.st.Mappings()
	for i, mp := range plans {
		cfg := maps[i].Config()
		detail := "batch " + strconv.Itoa(cfg.BatchSize)
		if cfg.TumblingWindow > 0 {
			detail += ", window " + cfg.TumblingWindow.String()
		}
		if cfg.ParallelizationFactor > 1 {
			detail += fmt.Sprintf(", ×%d", cfg.ParallelizationFactor)
		}
		warn := 2*(cfg.MaximumBatchingWindow+time.Second) + 10*time.Second
		node(dashboard.Node{ID: mp.Name, Label: mp.Name, Type: "AWS::Lambda::EventSourceMapping", Kind: "mapping", Detail: detail, Unit: "records/s",
			LagName: "iterator age", LagWarn: warn, LagBad: 6 * warn,
			Help: "Amber/red: iterator age is growing, the function cannot keep up. Raise this mapping's ParallelizationFactor" + paramHint(s.byLogical[mp.Function].Package) + " or ShardCount (or BatchSize), and check the function's errors and duration."})
		edge(streamID[mp.Stream], mp.Name, "", false)
		edge(mp.Name, mp.Function, "", false)
		if mp.Destination != "" {
			edge(mp.Name, "queue:"+mp.Destination, "on failure", true)
		}
	}
	for _, dp := range p.Deliveries {
		fresh := 2*(dp.BufferInterval+dp.ProcessorBufferInterval) + 10*time.Second
		node(dashboard.Node{ID: dp.LogicalID, Label: dp.LogicalID, Name: dp.Name, Type: "AWS::KinesisFirehose::DeliveryStream", Kind: "delivery",
			Detail: "buffer " + dp.BufferInterval.String() + "/" + strconv.Itoa(dp.BufferSizeMB) + " MB", Unit: "records/s",
			LagName: "data freshness", LagWarn: fresh, LagBad: 5 * fresh,
			Help: "Amber/red: data freshness is high, records wait too long for delivery. Check the transformer's errors and duration; lower DeliveryBufferSeconds."})
		edge(streamID[dp.Stream], dp.LogicalID, "", false)
		last := dp.LogicalID
		if dp.Processor != "" || dp.Conversion != nil {
			errID := "errors:" + dp.LogicalID
			help := "Records the transformer marked ProcessingFailed, with their original bytes, under the error output prefix of the bucket. They are listed below."
			if dp.Conversion != nil {
				help = "Records that failed processing or did not convert to the table's schema, with their bytes, under the error output prefix of the bucket. They are listed below."
			}
			node(dashboard.Node{ID: errID, Label: "error output", Name: staticPrefix(dp.ErrorOutputPrefix), Type: "ErrorOutputPrefix of " + dp.LogicalID, Kind: "failures",
				Detail: staticPrefix(dp.ErrorOutputPrefix), Failure: true, Help: help})
			label := "processing failed"
			if dp.Processor != "" {
				edge(dp.LogicalID, dp.Processor, "transform", false)
				last = dp.Processor
			}
			switch {
			case dp.Processor == "":
				label = "conversion failed"
			case dp.Conversion != nil:
				label = "processing or conversion failed"
			}
			edge(last, errID, label, true)
		}
		edge(last, "bucket:"+dp.Bucket, strings.TrimSuffix(staticPrefix(dp.Prefix), "/"), false)
	}
	for _, tp := range p.Tables {
		n := dashboard.Node{ID: tp.LogicalID, Label: tp.LogicalID, Name: tp.Name, Type: "AWS::DynamoDB::Table", Kind: "table", Detail: tp.HashKey}
		if tp.RangeKey != "" {
			n.Detail += "/" + tp.RangeKey
		}
		switch tp.Name {
		case s.itemsTable:
			n.Unit = "items/s"
		case s.trendsTable:
			n.Unit = "updates/s"
		}
		node(n)
	}
	for _, b := range p.Buckets {
		node(dashboard.Node{ID: "bucket:" + b, Label: b, Name: b, Type: "AWS::S3::Bucket", Kind: "bucket", Detail: "data dir", Unit: "records/s"})
	}
	for _, q := range p.Queues {
		node(dashboard.Node{ID: "queue:" + q, Label: q, Name: q, Type: "AWS::SQS::Queue", Kind: "queue", Failure: true,
			Help: "Batches the mapping gave up on after its retries; the records are still in the stream until retention ends. `streamproc dlq` shows their shard and sequence range."})
	}
	node(dashboard.Node{ID: nodeDeadLetters, Label: "dead letters", Type: "dead-letter store (dead-letter/ in the bucket on AWS)", Kind: "failures", Failure: true,
		Help: "Records that are not tweets (bad bytes, not JSON, rejected items), kept with their reason. They are listed below and by `streamproc dlq`; fix the producer."})
	for _, c := range p.CloudOnly {
		id, typ, _ := strings.Cut(c, " (")
		node(dashboard.Node{ID: "cloud:" + id, Label: id, Type: strings.TrimSuffix(typ, ")"), CloudOnly: true})
	}
	for _, c := range p.Off {
		id, why, _ := strings.Cut(c, " (")
		node(dashboard.Node{ID: "off:" + id, Label: id, Type: "not created: " + strings.TrimSuffix(why, ")"), CloudOnly: true})
	}
	for _, c := range p.Unknown {
		id, typ, _ := strings.Cut(c, " (")
		node(dashboard.Node{ID: "cloud:" + id, Label: id, Type: strings.TrimSuffix(typ, ")") + ", unknown to streamproc, ignored locally", CloudOnly: true})
	}

	t.Charts = append(t.Charts,
		dashboard.Chart{ID: "in", Title: "Records in per shard", Unit: "records", Rate: true, Help: "Records written to each shard (IncomingRecords per ShardId). A shard far above the others is hot: spread partition keys."},
		dashboard.Chart{ID: "batches", Title: "Batches per event source mapping", Unit: "batches", Rate: true, Help: "Invocations per mapping."},
		dashboard.Chart{ID: "age", Title: "Iterator age per event source mapping", Unit: "s", Help: "Age of the oldest record read but not yet processed. Growing: the function cannot keep up."},
		dashboard.Chart{ID: "invocations", Title: "Invocations per function", Unit: "invocations", Rate: true},
		dashboard.Chart{ID: "errors", Title: "Errors per function", Unit: "errors", Rate: true, Help: "Function errors (returned errors, timeouts, panics)."},
	)
	for _, fp := range p.Functions {
		if s.invoked[fp.LogicalID] && fp.Package != "producer" {
			t.Charts = append(t.Charts, dashboard.Chart{ID: "duration:" + fp.LogicalID, Title: "Duration " + fp.LogicalID, Unit: "ms",
				Help: "Invocation duration percentiles over the last 10 s (Duration.p50/.p90/.p99 on /metrics)."})
		}
	}
	t.Charts = append(t.Charts,
		dashboard.Chart{ID: "delivered", Title: "Delivered records per delivery stream", Unit: "records", Rate: true, Help: "Records written to the bucket (DeliveryToS3.Records). Steps follow the buffer interval."},
		dashboard.Chart{ID: "freshness", Title: "Data freshness per delivery stream", Unit: "s", Help: "Age of the oldest record not yet delivered (DeliveryToS3.DataFreshness)."},
		dashboard.Chart{ID: "failed", Title: "Failed records (total)", Unit: "records", Help: "Dead letters, processing-failed records, records discarded by a mapping and on-failure records sent."},
	)
	return t, nil
}

// Sample reads counters only: mapping and delivery stats, registry values
// and each shard's tip. It also publishes per-shard IncomingRecords and the
// duration percentiles to the registry.
func (s *Source) Sample(ctx context.Context) (dashboard.Sample, error) {
	now := s.opts.Now()
	out := dashboard.Sample{Time: now}
	node := func(ns dashboard.NodeSample) { out.Nodes = append(out.Nodes, ns) }
	point := func(chart, series string, v float64) {
		out.Points = append(out.Points, dashboard.Point{Chart: chart, Series: series, Value: v})
	}
	p := s.plan
	eng := s.st.Deps().Stream
	s.mu.Lock()
	for _, sp := range p.Streams {
		shards, err := eng.Shards(ctx, sp.Name)
		if err != nil {
			s.mu.Unlock()
			return out, fmt.Errorf("stream %s: %w", sp.Name, err)
		}
		var in float64
		for _, sh := range shards {
			tip, err := shardTip(ctx, eng, sp.Name, sh.ID)
			if err != nil {
				s.mu.Unlock()
				return out, err
			}
			key := sp.Name + "/" + sh.ID
			if _, ok := s.base[key]; !ok {
				s.base[key], s.lastTip[key] = tip, tip
			}
			if d := tip - s.lastTip[key]; tip > s.lastTip[key] {
				s.reg.Add("IncomingRecords", "ShardId", key, float64(d))
				s.reg.Add("IncomingRecords", "StreamName", sp.Name, float64(d))
			}
			s.lastTip[key] = tip
			series := sh.ID
			if len(p.Streams) > 1 {
				series = sp.LogicalID + "/" + sh.ID
			}
			point("in", series, float64(tip))
			in += float64(tip)
		}
		node(dashboard.NodeSample{ID: sp.LogicalID, Count: in})
	}
	builtIn := 0.0
	if s.opts.BuiltIn != "" && len(p.Streams) > 0 {
		builtIn = s.reg.Get(MetricBuiltInRecords, "StreamName", p.Streams[0].Name)
		node(dashboard.NodeSample{ID: nodeBuiltIn, Count: builtIn})
	}
	// What the API clients wrote, as the Kinesis API counted it (see
	// MetricAPIRecords): a difference of counters read at different
	// moments would drift.
	api := 0.0
	for _, sp := range p.Streams {
		api += s.reg.Get(MetricAPIRecords, "StreamName", sp.Name)
	}
	node(dashboard.NodeSample{ID: nodeAPI, Count: api})
	s.mu.Unlock()

	for _, fp := range p.Functions {
		if !s.invoked[fp.LogicalID] {
			continue
		}
		// Zero until the first error, but there: a dashboard on /metrics
		// shows 0, not "no data".
		s.reg.Add(esm.MetricErrors, "FunctionName", fp.Name, 0)
		inv := s.reg.Get(esm.MetricInvocations, "FunctionName", fp.Name)
		errs := s.reg.Get(esm.MetricErrors, "FunctionName", fp.Name)
		count := inv
		if fp.Package == "producer" {
			count = s.reg.Get("RecordsPut", "FunctionName", fp.Name)
		} else {
			point("invocations", fp.LogicalID, inv)
			point("errors", fp.LogicalID, errs)
			chart := "duration:" + fp.LogicalID
			for _, q := range []struct {
				name string
				p    float64
			}{{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}} {
				v, ok := s.dur.Percentile(fp.Name, q.p, 10*time.Second)
				if !ok {
					continue
				}
				point(chart, q.name, v)
				s.reg.Set(esm.MetricDuration+"."+q.name, "FunctionName", fp.Name, v)
			}
		}
		node(dashboard.NodeSample{ID: fp.LogicalID, Count: count, Errors: errs})
	}

	var discarded, onFailure float64
	perQueue := map[string]float64{}
	maps, plans := s.st.Mappings()
	for i, m := range maps {
		st := m.Stats()
		var age time.Duration
		for _, sh := range st.Shards {
			age = max(age, sh.IteratorAge)
		}
		name := plans[i].Name
		point("batches", name, float64(st.Invocations))
		point("age", name, age.Seconds())
		// The page's numbers, on /metrics too (IteratorAge in CloudWatch's
		// milliseconds; the per-function series is the last batch's).
		s.reg.Set(esm.MetricIteratorAge, dimMapping, name, float64(age.Milliseconds()))
		s.reg.Set(MetricMappingBatches, dimMapping, name, float64(st.Invocations))
		s.reg.Set(MetricMappingDiscarded, dimMapping, name, float64(st.RecordsDiscarded))
		s.reg.Set(MetricMappingOnFailure, dimMapping, name, float64(st.FailureRecords))
		node(dashboard.NodeSample{ID: name, Count: float64(st.RecordsRead), Errors: float64(st.FunctionErrors + st.RejectedResponses), Lag: age})
		discarded += float64(st.RecordsDiscarded)
		onFailure += float64(st.FailureRecords)
		if d := plans[i].Destination; d != "" {
			perQueue[d] += float64(st.FailureRecords)
		}
	}
	var failed, convFailed float64
	converts := false
	perBucket := map[string]float64{}
	objects := map[string]int64{}
	for i, d := range s.st.Deliveries() {
		st := d.Stats()
		dp := p.Deliveries[i]
		point("delivered", dp.LogicalID, float64(st.ObjectRecords))
		point("freshness", dp.LogicalID, st.DataFreshness.Seconds())
		// Live, as the page shows it: the delivery only sets it when an
		// object lands, and a stalled delivery must show a growing age.
		s.reg.Set(firehose.MetricDataFreshness, "DeliveryStreamName", dp.Name, st.DataFreshness.Seconds())
		node(dashboard.NodeSample{ID: dp.LogicalID, Count: float64(st.RecordsIn), Errors: float64(st.InvocationFailures), Lag: st.DataFreshness})
		if n := st.RecordsFailed + st.ConversionFailed; dp.Processor != "" || dp.Conversion != nil {
			node(dashboard.NodeSample{ID: "errors:" + dp.LogicalID, Count: float64(n), Text: plural(int(n), "record")})
		}
		failed += float64(st.RecordsFailed)
		convFailed += float64(st.ConversionFailed)
		converts = converts || dp.Conversion != nil
		perBucket[dp.Bucket] += float64(st.ObjectRecords)
		objects[dp.Bucket] += st.Objects
	}
	for _, b := range p.Buckets {
		node(dashboard.NodeSample{ID: "bucket:" + b, Count: perBucket[b], Text: plural(int(objects[b]), "object")})
	}
	for _, q := range p.Queues {
		node(dashboard.NodeSample{ID: "queue:" + q, Count: perQueue[q], Text: plural(int(perQueue[q]), "record")})
	}
	for _, tp := range p.Tables {
		var c float64
		switch tp.Name {
		case s.itemsTable:
			for _, fn := range s.consumers {
				c += s.reg.Get(consumer.MetricTweets, "FunctionName", fn)
			}
		case s.trendsTable:
			for _, fn := range s.trenders {
				c += s.reg.Get(trending.MetricFlushed, "FunctionName", fn)
			}
		}
		node(dashboard.NodeSample{ID: tp.LogicalID, Count: c})
	}
	dead := s.reg.Sum(consumer.MetricDeadLettered)
	node(dashboard.NodeSample{ID: nodeDeadLetters, Count: dead, Text: plural(int(dead), "record")})
	point("failed", "dead letters", dead)
	point("failed", "processing failed", failed)
	if converts {
		point("failed", "format conversion failed", convFailed)
	}
	point("failed", "discarded by mapping", discarded)
	point("failed", "on-failure records", onFailure)
	return out, nil
}

// shardTip is the counter of the next record of a shard: the number of
// records the shard has ever taken. The stream engine has no call for it,
// so it is read off a LATEST cursor, whose text form is documented
// ("1.<stream>.<shard>.<next>.<segment>.<offset>").
func shardTip(ctx context.Context, eng *stream.Engine, name, shardID string) (uint64, error) {
	c, err := eng.Iterator(ctx, name, shardID, stream.Position{Type: stream.Latest})
	if err != nil {
		return 0, fmt.Errorf("stream %s %s: %w", name, shardID, err)
	}
	parts := strings.Split(c.String(), ".")
	if len(parts) != 6 {
		return 0, fmt.Errorf("stream %s %s: unexpected cursor %q", name, shardID, c.String())
	}
	return strconv.ParseUint(parts[3], 10, 64)
}

// cursorAt is c moved to the record with counter next (no position hint:
// the engine looks it up).
func cursorAt(c stream.Cursor, next uint64) (stream.Cursor, error) {
	parts := strings.Split(c.String(), ".")
	if len(parts) != 6 {
		return stream.Cursor{}, fmt.Errorf("unexpected cursor %q", c.String())
	}
	parts[3], parts[4], parts[5] = strconv.FormatUint(next, 10), "0", "0"
	return stream.ParseCursor(strings.Join(parts, "."))
}

// staticPrefix is the part of a Firehose prefix before its first
// expression.
func staticPrefix(p string) string {
	if i := strings.Index(p, "!{"); i >= 0 {
		return p[:i]
	}
	return p
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// Durations keeps recent invocation durations per function, for
// percentiles. Its Observe is a metrics.Registry OnSet hook.
type Durations struct {
	now func() time.Time
	mu  sync.Mutex
	fns map[string]*durRing
}

// durRingSize bounds the samples kept per function: enough for a
// percentile over the last seconds at thousands of invocations per second.
const durRingSize = 4096

type durRing struct {
	at   [durRingSize]int64 // unix ms
	ms   [durRingSize]float64
	next int
	n    int
}

// NewDurations returns an empty Durations; now is the clock (nil: time.Now).
func NewDurations(now func() time.Time) *Durations {
	if now == nil {
		now = time.Now
	}
	return &Durations{now: now, fns: map[string]*durRing{}}
}

// Observe records Duration gauges (ms) of FunctionName dimensions and
// ignores every other series. It has the signature of metrics.Registry.OnSet.
func (d *Durations) Observe(name, dim, value string, v float64) {
	if name != esm.MetricDuration || dim != "FunctionName" {
		return
	}
	at := d.now().UnixMilli()
	d.mu.Lock()
	r := d.fns[value]
	if r == nil {
		r = &durRing{}
		d.fns[value] = r
	}
	r.at[r.next], r.ms[r.next] = at, v
	r.next = (r.next + 1) % durRingSize
	r.n = min(r.n+1, durRingSize)
	d.mu.Unlock()
}

// Percentile returns the q-quantile (0–1) of fn's durations observed within
// the last window; false when there are none.
func (d *Durations) Percentile(fn string, q float64, window time.Duration) (float64, bool) {
	since := d.now().Add(-window).UnixMilli()
	d.mu.Lock()
	r := d.fns[fn]
	var vals []float64
	if r != nil {
		for i := range r.n {
			if r.at[i] >= since {
				vals = append(vals, r.ms[i])
			}
		}
	}
	d.mu.Unlock()
	if len(vals) == 0 {
		return 0, false
	}
	slices.Sort(vals)
	i := int(math.Ceil(q*float64(len(vals)))) - 1
	return vals[max(0, min(i, len(vals)-1))], true
}

// paramHint names the template parameter behind a mapping's
// ParallelizationFactor, where the project's template has one.
func paramHint(pkg string) string {
	if pkg == "consumer" {
		return " (ConsumerParallelizationFactor)"
	}
	return ""
}
