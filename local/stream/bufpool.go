package stream

import (
	"math/bits"
	"sync"
)

// bufPool recycles frame buffers between PutRecords calls: a buffer goes
// back once the committer has written it. Buffers come in power-of-two
// capacities from 4 KiB to 8 MiB; other sizes are plain allocations.
type bufPool struct {
	classes [bufMaxShift - bufMinShift + 1]sync.Pool
}

const (
	bufMinShift = 12
	bufMaxShift = 23
)

// get returns an empty buffer with capacity ≥ n.
func (p *bufPool) get(n int) []byte {
	shift := max(bits.Len(uint(n-1)), bufMinShift)
	if n <= 0 || shift > bufMaxShift {
		return make([]byte, 0, n)
	}
	if b, ok := p.classes[shift-bufMinShift].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<shift)
}

// put returns a buffer obtained from get. The caller must not use it again.
func (p *bufPool) put(b []byte) {
	c := cap(b)
	if c == 0 || c&(c-1) != 0 || c < 1<<bufMinShift || c > 1<<bufMaxShift {
		return
	}
	b = b[:0]
	p.classes[bits.Len(uint(c))-1-bufMinShift].Put(&b)
}
