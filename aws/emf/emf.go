// Package emf records handler metrics as CloudWatch Embedded Metric Format
// log lines: CloudWatch Logs extracts them into metrics, so a Lambda publishes
// metrics without any extra API call.
package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/streamproc/streamproc"
)

// Namespace is the CloudWatch namespace of the handlers' metrics.
const Namespace = "streamproc"

// Metrics accumulates counters during one invocation; Flush writes them as
// one EMF line. Safe for concurrent use.
type Metrics struct {
	// Dimensions are attached to every metric, e.g. {"FunctionName": "…"}.
	Dimensions map[string]string
	Now        streamproc.Clock

	mu     sync.Mutex
	counts map[string]int64
}

var _ streamproc.Metrics = (*Metrics)(nil)

// Count adds n to a counter.
func (m *Metrics) Count(name string, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counts == nil {
		m.counts = map[string]int64{}
	}
	m.counts[name] += n
}

// Flush writes the counters as one EMF JSON line and resets them. Nothing is
// written when no counter was touched.
func (m *Metrics) Flush(w io.Writer) error {
	m.mu.Lock()
	counts := m.counts
	m.counts = nil
	m.mu.Unlock()
	if len(counts) == 0 {
		return nil
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	dims := slices.Sorted(maps.Keys(m.Dimensions))
	names := slices.Sorted(maps.Keys(counts))
	defs := make([]map[string]string, len(names))
	for i, n := range names {
		defs[i] = map[string]string{"Name": n, "Unit": "Count"}
	}
	doc := map[string]any{
		"_aws": map[string]any{
			"Timestamp": now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  Namespace,
				"Dimensions": [][]string{dims},
				"Metrics":    defs,
			}},
		},
	}
	for k, v := range m.Dimensions {
		doc[k] = v
	}
	for k, v := range counts {
		if _, clash := doc[k]; clash {
			return fmt.Errorf("metric %q clashes with a dimension or the _aws key", k)
		}
		doc[k] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
