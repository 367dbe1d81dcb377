package dashboard

import (
	"math"
	"slices"
	"time"
)

// history is a fixed-size ring of samples: a time and one value per series
// (NaN where a series had none). Not safe for concurrent use.
type history struct {
	size  int
	times []time.Time
	start int // index of the oldest sample
	keys  []string
	vals  map[string][]float64 // rings aligned with times
}

func newHistory(size int) history {
	return history{size: max(size, 2), vals: map[string][]float64{}}
}

func (h *history) len() int { return len(h.times) }

// index maps the i-th oldest sample to its slot.
func (h *history) index(i int) int { return (h.start + i) % h.size }

func (h *history) at(i int) time.Time { return h.times[h.index(i)] }

func (h *history) value(key string, i int) float64 {
	v, ok := h.vals[key]
	if !ok {
		return math.NaN()
	}
	return v[h.index(i)]
}

// add appends a sample, dropping the oldest when full. Series seen for the
// first time get NaN for the past, and are kept in sorted order of arrival
// so messages list them stably.
func (h *history) add(t time.Time, vals map[string]float64) {
	var fresh []string
	for k := range vals {
		if _, ok := h.vals[k]; !ok {
			fresh = append(fresh, k)
		}
	}
	slices.Sort(fresh)
	for _, k := range fresh {
		ring := make([]float64, h.size)
		for i := range ring {
			ring[i] = math.NaN()
		}
		h.vals[k] = ring
		h.keys = append(h.keys, k)
	}
	var slot int
	if len(h.times) < h.size {
		slot = len(h.times)
		h.times = append(h.times, t)
	} else {
		slot = h.start
		h.times[slot] = t
		h.start = (h.start + 1) % h.size
	}
	for _, k := range h.keys {
		v, ok := vals[k]
		if !ok {
			v = math.NaN()
		}
		h.vals[k][slot] = v
	}
}
