package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync/atomic"

	"github.com/streamproc/streamproc"
)

// Frame format: see the package documentation ("Storage layout").
const (
	frameMagic = 0x53504C47
	headerLen  = 36
	// maxFrameBody bounds bodyLen when reading, so a garbage header can never
	// make us allocate gigabytes: one PutRecords call's bytes plus two
	// maximal varints per record.
	maxFrameBody = streamproc.MaxPutRecordsBytes + streamproc.MaxPutRecords*2*binary.MaxVarintLen64

	// DefaultSegmentBytes is the size at which a shard's segment is sealed
	// and a new one started (a single frame may overshoot it).
	DefaultSegmentBytes = 64 << 20
	// indexEvery is the distance in bytes between sparse index entries.
	indexEvery = 64 << 10
	// readAhead is the minimum number of bytes a frameReader reads at once.
	readAhead = 128 << 10
)

// castagnoli is read-only after package initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errBadFrame marks a frame that does not check out (torn, garbage, or an
// offset that is not a frame boundary).
var errBadFrame = errors.New("bad frame")

type frameHeader struct {
	bodyLen uint32
	first   uint64
	count   uint32
	arrival int64
	bodyCRC uint32
}

func (h *frameHeader) size() int64 { return headerLen + int64(h.bodyLen) }
func (h *frameHeader) end() uint64 { return h.first + uint64(h.count) }

// put writes the header, including its own CRC, into b[:headerLen].
func (h *frameHeader) put(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], frameMagic)
	binary.LittleEndian.PutUint32(b[4:], h.bodyLen)
	binary.LittleEndian.PutUint64(b[8:], h.first)
	binary.LittleEndian.PutUint32(b[16:], h.count)
	binary.LittleEndian.PutUint64(b[20:], uint64(h.arrival))
	binary.LittleEndian.PutUint32(b[28:], h.bodyCRC)
	binary.LittleEndian.PutUint32(b[32:], crc32.Checksum(b[:32], castagnoli))
}

func decodeHeader(b []byte) (frameHeader, error) {
	var h frameHeader
	if len(b) < headerLen || binary.LittleEndian.Uint32(b[0:]) != frameMagic {
		return h, errBadFrame
	}
	if crc32.Checksum(b[:32], castagnoli) != binary.LittleEndian.Uint32(b[32:]) {
		return h, errBadFrame
	}
	h.bodyLen = binary.LittleEndian.Uint32(b[4:])
	h.first = binary.LittleEndian.Uint64(b[8:])
	h.count = binary.LittleEndian.Uint32(b[16:])
	h.arrival = int64(binary.LittleEndian.Uint64(b[20:]))
	h.bodyCRC = binary.LittleEndian.Uint32(b[28:])
	if h.count == 0 || h.bodyLen > maxFrameBody {
		return h, errBadFrame
	}
	return h, nil
}

// forEachRecord calls fn for every record of a verified body, in order.
func forEachRecord(body []byte, count uint32, fn func(i int, pk, data []byte) bool) error {
	for i := 0; i < int(count); i++ {
		n, w := binary.Uvarint(body)
		if w <= 0 || uint64(len(body)-w) < n {
			return errBadFrame
		}
		pk := body[w : w+int(n)]
		body = body[w+int(n):]
		n, w = binary.Uvarint(body)
		if w <= 0 || uint64(len(body)-w) < n {
			return errBadFrame
		}
		data := body[w : w+int(n) : w+int(n)]
		body = body[w+int(n):]
		if !fn(i, pk, data) {
			return nil
		}
	}
	if len(body) != 0 {
		return errBadFrame
	}
	return nil
}

// indexEntry is one sparse-index point of a segment.
type indexEntry struct {
	off     int64
	first   uint64
	arrival int64
}

// segment is one file of a shard's log.
type segment struct {
	first uint64 // counter of the first record it holds (its file name)
	path  string
	f     *os.File
	// refs: one for the shard's segment list plus one per reader; the file
	// is closed when it drops to zero.
	refs atomic.Int32

	// Published state, guarded by shard.mu. Readers never look past size.
	size        int64
	next        uint64 // counter after the last published record (first if none)
	lastArrival int64  // arrival of the last published record (if next > first)
	index       []indexEntry

	// Written-but-unpublished state, owned by the committer goroutine.
	wsize        int64
	wnext        uint64
	wlastArrival int64
	windex       []indexEntry
	lastIndexed  int64 // offset of the newest index entry, -1 if none
}

func newSegment(path string, f *os.File, first uint64) *segment {
	s := &segment{first: first, path: path, f: f, next: first, wnext: first, lastIndexed: -1}
	s.refs.Store(1)
	return s
}

func (s *segment) acquire() { s.refs.Add(1) }

func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		_ = s.f.Close() // read-only use by now; nothing to lose
	}
}

// noteFrame records a frame written at off in the committer's unpublished
// state, adding a sparse index entry when due.
func (s *segment) noteFrame(off int64, h *frameHeader) {
	if s.lastIndexed < 0 || off-s.lastIndexed >= indexEvery {
		s.windex = append(s.windex, indexEntry{off: off, first: h.first, arrival: h.arrival})
		s.lastIndexed = off
	}
	s.wsize = off + h.size()
	s.wnext = h.end()
	s.wlastArrival = h.arrival
}

// publish makes the committer's writes visible. Caller holds shard.mu.
func (s *segment) publish() {
	s.size = s.wsize
	s.next = s.wnext
	s.lastArrival = s.wlastArrival
	s.index = append(s.index, s.windex...)
	s.windex = s.windex[:0]
}

// entryForCounter returns the offset of the last index entry whose first
// counter is ≤ c (0 when there is none). Caller holds shard.mu.
func (s *segment) entryForCounter(c uint64) int64 {
	lo, hi := 0, len(s.index) // find first entry with first > c
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.index[m].first <= c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return s.index[lo-1].off
}

// entryForTime returns the offset of the last index entry whose arrival is
// < ms (0 when there is none): the first frame with arrival ≥ ms is at or
// after it. Caller holds shard.mu.
func (s *segment) entryForTime(ms int64) int64 {
	lo, hi := 0, len(s.index) // find first entry with arrival >= ms
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.index[m].arrival < ms {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return s.index[lo-1].off
}

// frameReader reads frames sequentially from a segment file up to a durable
// end offset, buffering ahead. Unless reuse is set, every refill allocates a
// fresh buffer, so body slices handed out stay valid.
type frameReader struct {
	r      io.ReaderAt
	end    int64
	off    int64 // offset of the next frame
	buf    []byte
	bufOff int64
	reuse  bool
	ahead  int
}

func newFrameReader(r io.ReaderAt, off, end int64, ahead int, reuse bool) *frameReader {
	return &frameReader{r: r, off: off, end: end, ahead: max(ahead, headerLen), reuse: reuse}
}

// window returns file bytes [off, off+n), reading when needed. n must not
// reach past fr.end.
func (fr *frameReader) window(off int64, n int) ([]byte, error) {
	if off >= fr.bufOff && off+int64(n) <= fr.bufOff+int64(len(fr.buf)) {
		i := off - fr.bufOff
		return fr.buf[i : i+int64(n)], nil
	}
	want := int64(max(n, fr.ahead))
	want = min(want, fr.end-off)
	var b []byte
	if fr.reuse && int64(cap(fr.buf)) >= want {
		b = fr.buf[:want]
	} else {
		b = make([]byte, want)
	}
	if _, err := fr.r.ReadAt(b, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("segment shorter than its durable size: %w", ErrCorrupt)
		}
		return nil, err
	}
	fr.buf, fr.bufOff = b, off
	return b[:n], nil
}

// header returns the header of the frame at fr.off without consuming it:
// io.EOF at the durable end, errBadFrame for bytes that are not a frame or a
// frame reaching past the durable end.
func (fr *frameReader) header() (frameHeader, error) {
	if fr.off >= fr.end {
		return frameHeader{}, io.EOF
	}
	if fr.end-fr.off < headerLen {
		return frameHeader{}, errBadFrame
	}
	b, err := fr.window(fr.off, headerLen)
	if err != nil {
		return frameHeader{}, err
	}
	h, err := decodeHeader(b)
	if err != nil {
		return h, err
	}
	if fr.off+h.size() > fr.end {
		return h, errBadFrame
	}
	return h, nil
}

// body returns the verified body of the frame whose header was just
// returned by header, and moves to the next frame.
func (fr *frameReader) body(h *frameHeader) ([]byte, error) {
	b, err := fr.window(fr.off+headerLen, int(h.bodyLen))
	if err != nil {
		return nil, err
	}
	if crc32.Checksum(b, castagnoli) != h.bodyCRC {
		return nil, errBadFrame
	}
	fr.off += h.size()
	return b, nil
}

// skip moves past the frame whose header was just returned.
func (fr *frameReader) skip(h *frameHeader) { fr.off += h.size() }

// scanSegment verifies every frame of s from the start of its file and fills
// its published state (and the committer's mirror of it). It returns the
// offset just past the last good frame; err is non-nil when the file has
// bytes after that point that are not a good frame or frames that break the
// counter/arrival invariants.
func scanSegment(s *segment, fileSize int64) (good int64, err error) {
	defer s.publish()
	fr := newFrameReader(s.f, 0, fileSize, 1<<20, true)
	next := s.first
	var arrival int64 = -1 << 63
	for {
		h, err := fr.header()
		if err == io.EOF {
			break
		}
		if err == nil {
			_, err = fr.body(&h)
		}
		if err == nil && (h.first != next || h.arrival < arrival) {
			err = fmt.Errorf("frame at %d holds counters from %d (want %d), arrival %d (previous %d): %w", fr.off-h.size(), h.first, next, h.arrival, arrival, errBadFrame)
		}
		if err != nil {
			return good, err
		}
		s.noteFrame(good, &h)
		next, arrival = h.end(), h.arrival
		good = fr.off
	}
	return good, nil
}
