package dashboard

import (
	"context"
	"time"
)

// Source is what the dashboard shows. The dashboard calls Topology once,
// Sample once per Options.Interval from one goroutine whether or not anyone
// watches, and Trends, Items(ctx, "", n) and Failures once per
// Options.TablesInterval only while a page is open — one call shared by
// every open page. Items with a user runs once per search request, at most
// Options.MaxSearches at a time. Implementations must be safe for
// concurrent use and keep Sample cheap (counters, no table reads).
type Source interface {
	// Topology describes the resources, the arrows between them and the
	// charts.
	Topology(ctx context.Context) (Topology, error)
	// Sample reads the live counters and gauges.
	Sample(ctx context.Context) (Sample, error)
	// Trends returns up to n of the newest tumbling windows that have
	// counts, newest first: the open one (if any) and closed ones.
	Trends(ctx context.Context, n int) ([]TrendWindow, error)
	// Items returns up to limit of the newest items, of user only when user
	// is not empty.
	Items(ctx context.Context, user string, limit int) ([]Item, error)
	// Failures returns up to limit of the newest failed records, newest
	// first.
	Failures(ctx context.Context, limit int) ([]Failure, error)
}

// Topology is the stack as a graph.
type Topology struct {
	// Title names the stack.
	Title  string  `json:"title"`
	Nodes  []Node  `json:"nodes"`
	Edges  []Edge  `json:"edges"`
	Charts []Chart `json:"charts"`
}

// Node is one resource.
type Node struct {
	// ID is unique; the template's logical ID when the resource has one.
	ID string `json:"id"`
	// Label is shown in bold (the logical ID); Name is the physical name.
	Label string `json:"label"`
	Name  string `json:"name,omitempty"`
	// Type is the CloudFormation type, or what the thing is ("event source
	// mapping").
	Type string `json:"type"`
	// Kind picks the node's colour: source, schedule, stream, mapping,
	// function, delivery, table, bucket, queue, failures.
	Kind string `json:"kind"`
	// Detail is static text under the name ("2 shards", "rate(10 minutes)").
	Detail string `json:"detail,omitempty"`
	// Unit of the node's live rate ("records/s"); empty: no rate.
	Unit string `json:"unit,omitempty"`
	// Failure marks a place where failed records land: any growth is bad.
	Failure bool `json:"failure,omitempty"`
	// CloudOnly resources exist only on AWS: they are listed, not drawn.
	CloudOnly bool `json:"cloudOnly,omitempty"`
	// Idle nodes do not run (a disabled or held schedule): drawn grey.
	Idle bool `json:"idle,omitempty"`
	// LagName says what NodeSample.Lag means ("iterator age"); LagWarn and
	// LagBad are the thresholds that turn the node amber and red.
	LagName string        `json:"lagName,omitempty"`
	LagWarn time.Duration `json:"-"`
	LagBad  time.Duration `json:"-"`
	// Help says what to do when the node turns red.
	Help string `json:"help,omitempty"`
}

// Edge is an arrow: data flows From → To.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label,omitempty"`
	// Failure edges carry failed records (drawn dashed).
	Failure bool `json:"failure,omitempty"`
}

// Chart is one time-series chart.
type Chart struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Unit  string `json:"unit"`
	// Rate: the points are cumulative totals and the chart shows their
	// change per second.
	Rate bool `json:"rate,omitempty"`
	// Help is shown as the chart's tooltip.
	Help string `json:"help,omitempty"`
}

// Sample is one reading of the live numbers.
type Sample struct {
	Time   time.Time
	Nodes  []NodeSample
	Points []Point
}

// NodeSample is the live state of one node.
type NodeSample struct {
	ID string
	// Count is cumulative: what passed through the node, in its Unit.
	Count float64
	// Errors is cumulative; any growth turns the node red.
	Errors float64
	// Lag is compared with the node's LagWarn and LagBad.
	Lag time.Duration
	// Text is live detail ("12 objects").
	Text string
}

// Point is one series' value in a chart.
type Point struct {
	Chart, Series string
	Value         float64
}

// TrendWindow is one tumbling window of the trending function.
type TrendWindow struct {
	Start time.Time `json:"start"`
	// End is set for an open window: past it, the window only waits to be
	// closed (the mapping's batching window, the next record).
	End      time.Time `json:"end,omitzero"`
	Tweets   int64     `json:"tweets"`
	Hashtags []Hashtag `json:"hashtags"`
	// Open marks the window still counting: its numbers grow until it
	// closes and lands in the Trends table.
	Open bool `json:"open,omitempty"`
}

// Hashtag is a hashtag and its count in a window.
type Hashtag struct {
	Tag   string `json:"tag"`
	Count int64  `json:"count"`
}

// Item is one stored tweet.
type Item struct {
	User     string   `json:"user"`
	ID       string   `json:"id"`
	Time     string   `json:"time"`
	Name     string   `json:"name,omitempty"`
	Lang     string   `json:"lang,omitempty"`
	Text     string   `json:"text"`
	Hashtags []string `json:"hashtags,omitempty"`
}

// Failure is one record the pipeline set aside.
type Failure struct {
	Time time.Time `json:"time"`
	// Kind is "dead letter", "on-failure record" or "processing failed".
	Kind string `json:"kind"`
	// Where is the function, queue or object that holds it.
	Where  string `json:"where"`
	Reason string `json:"reason"`
	// Data is the raw record, as printable text (bytes that are not UTF-8
	// escaped), cut to a few hundred bytes.
	Data string `json:"data"`
}
