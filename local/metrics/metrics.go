// Package metrics is the local stand-in for CloudWatch metrics: every
// component reports under CloudWatch's metric names (IncomingRecords,
// IteratorAge, Invocations, Errors, Duration, DeliveryToS3.Records,
// DataFreshness, …) and the registry serves them in the Prometheus format on
// /metrics. The same numbers feed the `up` status line, so there is one
// source of truth.
//
// A CloudWatch name N with dimension D=v becomes the Prometheus series
// streamproc_<snake(N)>{D="v"}: counters get a _total suffix, e.g.
// streamproc_incoming_records_total{stream="streamproc-EventStream"}.
package metrics

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamproc/streamproc"
)

// Registry holds every series. Safe for concurrent use.
type Registry struct {
	reg *prometheus.Registry
	// OnSet, when set before use, sees every gauge value as it is set (for
	// benchmarks that need the distribution, not the latest value). It must
	// be safe for concurrent use.
	OnSet func(name, dim, value string, v float64)
	// BeforeGather, when set before use, runs before every /metrics scrape:
	// it publishes values that are computed rather than counted (a data
	// freshness that grows while nothing is delivered), so a scrape sees
	// them as of now.
	BeforeGather func()

	mu       sync.Mutex // guards the maps; the series themselves are atomic
	counters map[string]*prometheus.CounterVec
	gauges   map[string]*prometheus.GaugeVec
	values   map[string]float64 // last value per series key, for Snapshot
}

// New returns an empty registry with the Go runtime and process collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg, counters: map[string]*prometheus.CounterVec{}, gauges: map[string]*prometheus.GaugeVec{}, values: map[string]float64{}}
}

// Handler serves /metrics.
func (r *Registry) Handler() http.Handler {
	h := promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.BeforeGather != nil {
			r.BeforeGather()
		}
		h.ServeHTTP(w, req)
	})
}

// Add adds v to the counter name{dim=value}.
func (r *Registry) Add(name, dim, value string, v float64) {
	r.mu.Lock()
	cv, ok := r.counters[name]
	if !ok {
		cv = prometheus.NewCounterVec(prometheus.CounterOpts{Name: promName(name) + "_total", Help: "CloudWatch metric " + name + " (sum)."}, []string{"dimension", "value"})
		r.reg.MustRegister(cv)
		r.counters[name] = cv
	}
	r.values[key(name, dim, value)] += v
	r.mu.Unlock()
	cv.WithLabelValues(dim, value).Add(v)
}

// Set sets the gauge name{dim=value} (IteratorAge, DataFreshness, …).
func (r *Registry) Set(name, dim, value string, v float64) {
	r.mu.Lock()
	gv, ok := r.gauges[name]
	if !ok {
		gv = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: promName(name), Help: "CloudWatch metric " + name + " (latest)."}, []string{"dimension", "value"})
		r.reg.MustRegister(gv)
		r.gauges[name] = gv
	}
	r.values[key(name, dim, value)] = v
	r.mu.Unlock()
	gv.WithLabelValues(dim, value).Set(v)
	if r.OnSet != nil {
		r.OnSet(name, dim, value, v)
	}
}

// Get returns the current value of a series (0 if never reported).
func (r *Registry) Get(name, dim, value string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.values[key(name, dim, value)]
}

// Sum returns the sum of a metric over every dimension value.
func (r *Registry) Sum(name string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	total := 0.0
	for k, v := range r.values {
		if strings.HasPrefix(k, name+"\x00") {
			total += v
		}
	}
	return total
}

// Max returns the largest value of a metric over every dimension value.
func (r *Registry) Max(name string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := 0.0
	for k, v := range r.values {
		if strings.HasPrefix(k, name+"\x00") && v > m {
			m = v
		}
	}
	return m
}

// Names lists the metric names reported so far.
func (r *Registry) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for k := range r.values {
		seen[strings.SplitN(k, "\x00", 2)[0]] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Counter returns a streamproc.Metrics that adds to counters with a fixed
// dimension, e.g. FunctionName=streamproc-DataStreamConsumer, so handlers
// report locally through the same port they use on AWS.
func (r *Registry) Counter(dim, value string) streamproc.Metrics {
	return counter{r: r, dim: dim, value: value}
}

type counter struct {
	r          *Registry
	dim, value string
}

func (c counter) Count(name string, n int64) { c.r.Add(name, c.dim, c.value, float64(n)) }

func key(name, dim, value string) string { return name + "\x00" + dim + "\x00" + value }

// promName turns "DeliveryToS3.Records" into "streamproc_delivery_to_s3_records".
func promName(name string) string {
	var b strings.Builder
	b.WriteString("streamproc_")
	prevLower := false
	for _, r := range name {
		switch {
		case r == '.' || r == '-' || r == ' ':
			b.WriteByte('_')
			prevLower = false
		case unicode.IsUpper(r):
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			prevLower = false
		default:
			b.WriteRune(r)
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		}
	}
	return b.String()
}
