package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Shard iterator types (Position.Type).
const (
	TrimHorizon         = "TRIM_HORIZON"
	Latest              = "LATEST"
	AtSequenceNumber    = "AT_SEQUENCE_NUMBER"
	AfterSequenceNumber = "AFTER_SEQUENCE_NUMBER"
	AtTimestamp         = "AT_TIMESTAMP"
)

// GetRecords limits.
const (
	MaxGetRecords      = 10000
	MaxGetRecordsBytes = 10 << 20
)

// Position is where an iterator starts, as in GetShardIterator.
type Position struct {
	Type           string // TrimHorizon, Latest, AtSequenceNumber, AfterSequenceNumber, AtTimestamp
	SequenceNumber string // for AT_/AFTER_SEQUENCE_NUMBER
	Timestamp      time.Time
}

// Cursor is a resolved read position in one shard: the counter of the next
// record to return plus a hint (segment and byte offset) that lets the next
// Read skip the index lookup. It is a plain value: String and ParseCursor
// round-trip it, and a cursor stays valid across restarts (a stale or
// forged hint is ignored, never trusted). The zero Cursor is invalid.
type Cursor struct {
	stream   uint64 // stream incarnation
	shard    int
	next     uint64
	segFirst uint64 // hint: first counter of the segment holding next; 0 = none
	off      int64  // hint: offset of the frame holding next (or of the end)
}

// IsZero reports whether c is the zero Cursor.
func (c Cursor) IsZero() bool { return c == Cursor{} }

// String encodes c as "1.<stream>.<shard>.<next>.<segment>.<offset>".
func (c Cursor) String() string {
	b := make([]byte, 0, 64)
	b = append(b, '1')
	for _, v := range []uint64{c.stream, uint64(c.shard), c.next, c.segFirst, uint64(c.off)} {
		b = append(b, '.')
		b = strconv.AppendUint(b, v, 10)
	}
	return string(b)
}

// ParseCursor decodes Cursor.String. A malformed string is an
// InvalidArgumentException (wrapping streamproc.ErrInvalid).
func ParseCursor(s string) (Cursor, error) {
	parts := strings.Split(s, ".")
	bad := invalidArg("Invalid ShardIterator.")
	if len(parts) != 6 || parts[0] != "1" {
		return Cursor{}, bad
	}
	var v [5]uint64
	for i, p := range parts[1:] {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return Cursor{}, bad
		}
		v[i] = n
	}
	if v[0] == 0 || v[1] > 1<<31 || v[4] > 1<<62 {
		return Cursor{}, bad
	}
	return Cursor{stream: v[0], shard: int(v[1]), next: v[2], segFirst: v[3], off: int64(v[4])}, nil
}

// Record is one record read from a shard.
type Record struct {
	SequenceNumber string
	ArrivalTime    time.Time // ApproximateArrivalTimestamp, ms precision, UTC
	PartitionKey   string
	Data           []byte
}

// Batch is the result of Read.
type Batch struct {
	Records []Record
	// Next continues after the last returned record (or where the read
	// started, for an empty batch).
	Next Cursor
	// MillisBehindLatest is Now minus the arrival of the oldest record not
	// yet returned, 0 when the batch reaches the tip of the shard.
	MillisBehindLatest int64
}

// Iterator resolves a position in a shard now, like GetShardIterator:
//   - TRIM_HORIZON: the oldest untrimmed record.
//   - LATEST: just after the newest durable record at call time.
//   - AT_/AFTER_SEQUENCE_NUMBER: at / right after that record; the number
//     must belong to this shard (InvalidArgumentException otherwise) and be
//     one that was assigned, or the shard's StartingSequenceNumber. A number
//     that has since been trimmed starts at the trim horizon.
//   - AT_TIMESTAMP: the first record whose arrival is ≥ Timestamp; a
//     timestamp older than the trim horizon acts as TRIM_HORIZON, one newer
//     than the newest record acts as LATEST.
//
// Errors: ValidationException (unknown type, malformed sequence number),
// InvalidArgumentException, ResourceNotFoundException (stream or shard).
func (e *Engine) Iterator(ctx context.Context, name, shardID string, p Position) (Cursor, error) {
	if err := ctx.Err(); err != nil {
		return Cursor{}, err
	}
	if err := checkStreamName(name); err != nil {
		return Cursor{}, err
	}
	sh, retMs, err := e.lookupShard(name, shardID)
	if err != nil {
		return Cursor{}, err
	}
	c := Cursor{stream: sh.st.id, shard: sh.idx}
	cutoff := e.now().UnixMilli() - retMs
	switch p.Type {
	case TrimHorizon:
		c.next, err = e.locateTime(sh, cutoff)
	case Latest:
		sh.mu.RLock()
		if sh.gone {
			err = e.goneErr(sh)
		} else {
			last := sh.segs[len(sh.segs)-1]
			c.next, c.segFirst, c.off = sh.tip, last.first, last.size
		}
		sh.mu.RUnlock()
	case AtSequenceNumber, AfterSequenceNumber:
		c.next, err = e.resolveSeq(sh, p)
	case AtTimestamp:
		if p.Timestamp.IsZero() {
			return Cursor{}, invalidArg("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
		}
		c.next, err = e.locateTime(sh, max(p.Timestamp.UnixMilli(), cutoff))
	default:
		return Cursor{}, validation("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]", p.Type)
	}
	if err != nil {
		return Cursor{}, err
	}
	return c, nil
}

// resolveSeq maps an AT_/AFTER_SEQUENCE_NUMBER position to a counter.
func (e *Engine) resolveSeq(sh *shard, p Position) (uint64, error) {
	if p.SequenceNumber == "" {
		return 0, invalidArg("Must specify a StartingSequenceNumber for iterator of type %s.", p.Type)
	}
	if !isSeqSyntax(p.SequenceNumber) {
		return 0, validation("1 validation error detected: Value '%s' at 'startingSequenceNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})", p.SequenceNumber)
	}
	bad := invalidArg("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid.", p.SequenceNumber, sh.info.ID, sh.st.name, e.opts.Account)
	f, ok := parseSeq(p.SequenceNumber)
	if !ok || f.stream != sh.st.id || f.shard != uint64(sh.idx) {
		return 0, bad
	}
	sh.mu.RLock()
	tip, gone := sh.tip, sh.gone
	sh.mu.RUnlock()
	if gone {
		return 0, e.goneErr(sh)
	}
	switch {
	case p.Type == AfterSequenceNumber && f.counter < tip:
		return f.counter + 1, nil
	case p.Type == AtSequenceNumber && (f.counter < tip || f.counter == 0):
		return f.counter, nil
	}
	return 0, bad
}

func (e *Engine) goneErr(sh *shard) error {
	select {
	case <-e.closing:
		return internal(ErrClosed)
	default:
		return notFound("Stream %s under account %s not found.", sh.st.name, e.opts.Account)
	}
}

func corrupt(seg *segment, off int64, err error) error {
	if errors.Is(err, errBadFrame) {
		err = fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return internal(fmt.Errorf("segment %s at offset %d: %w", seg.path, off, err))
}

// locateTime returns the counter of the first durable record whose arrival
// is ≥ ms, or the tip when there is none. Arrival times never decrease
// along a shard, which is what makes the binary searches valid.
func (e *Engine) locateTime(sh *shard, ms int64) (uint64, error) {
	sh.mu.RLock()
	if sh.gone {
		sh.mu.RUnlock()
		return 0, e.goneErr(sh)
	}
	segs, tip := sh.segs, sh.tip
	i := sort.Search(len(segs), func(i int) bool {
		s := segs[i]
		return s.next == s.first || s.lastArrival >= ms
	})
	if i == len(segs) || segs[i].next == segs[i].first {
		sh.mu.RUnlock()
		return tip, nil
	}
	seg := segs[i]
	off, end := seg.entryForTime(ms), seg.size
	seg.acquire()
	sh.mu.RUnlock()
	defer seg.release()

	fr := newFrameReader(seg.f, off, end, readAhead, true)
	for {
		h, err := fr.header()
		if err != nil {
			if err == io.EOF {
				err = errBadFrame // lastArrival promised a frame
			}
			return 0, corrupt(seg, fr.off, err)
		}
		if h.arrival >= ms {
			return h.first, nil
		}
		fr.skip(&h)
	}
}

// position finds where to start reading counter start: the segment holding
// it (with a reference the caller releases), an offset at or before its
// frame, the segment's durable end, and start clamped to the oldest stored
// record. A valid hint from c replaces the index lookup.
func (sh *shard) position(start uint64, c Cursor) (seg *segment, off, end int64, newStart uint64, ok bool) {
	sh.mu.RLock()
	if sh.gone {
		sh.mu.RUnlock()
		return nil, 0, 0, 0, false
	}
	segs := sh.segs
	start = max(start, segs[0].first)
	i := sort.Search(len(segs), func(i int) bool { return segs[i].first > start }) - 1
	seg = segs[i]
	off, end = seg.entryForCounter(start), seg.size
	hint := c.segFirst == seg.first && c.off > off && c.off <= end
	seg.acquire()
	sh.mu.RUnlock()

	if hint {
		if c.off == end {
			return seg, c.off, end, start, true // sizes are always frame boundaries
		}
		var b [headerLen]byte
		if _, err := seg.f.ReadAt(b[:], c.off); err == nil {
			if h, err := decodeHeader(b[:]); err == nil && h.first <= start && c.off+h.size() <= end {
				return seg, c.off, end, start, true
			}
		}
	}
	return seg, off, end, start, true
}

// Read returns up to limit records (0 means MaxGetRecords) and about
// maxBytes bytes of partition keys + data (0 or more than
// MaxGetRecordsBytes means MaxGetRecordsBytes; at least one record is
// returned when one is available) starting at c, like GetRecords. Only
// durable records are returned. Records older than the retention period are
// skipped: a cursor that fell behind the trim horizon continues there. An
// empty batch is normal at the tip; use Wait to block for more.
//
// Errors: ValidationException (limit out of range), InvalidArgumentException
// (a cursor of another shard or stream incarnation),
// ResourceNotFoundException, ProvisionedThroughputExceededException
// (EnforceLimits), InternalFailure (I/O error or ErrCorrupt).
func (e *Engine) Read(ctx context.Context, name, shardID string, c Cursor, limit, maxBytes int) (Batch, error) {
	if err := ctx.Err(); err != nil {
		return Batch{}, err
	}
	if err := checkStreamName(name); err != nil {
		return Batch{}, err
	}
	if limit == 0 {
		limit = MaxGetRecords
	}
	if limit < 0 || limit > MaxGetRecords {
		return Batch{}, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", limit, MaxGetRecords)
	}
	if maxBytes < 0 {
		return Batch{}, validation("maxBytes %d is negative", maxBytes)
	}
	if maxBytes == 0 || maxBytes > MaxGetRecordsBytes {
		maxBytes = MaxGetRecordsBytes
	}
	sh, retMs, err := e.lookupShard(name, shardID)
	if err != nil {
		return Batch{}, err
	}
	if c.stream != sh.st.id || c.shard != sh.idx {
		return Batch{}, invalidArg("Invalid ShardIterator: it is not an iterator of shard %s in stream %s under account %s.", shardID, name, e.opts.Account)
	}
	now := e.now()
	if e.opts.EnforceLimits && !sh.rlim.admit(now) {
		return Batch{}, throttled("Rate exceeded for shard %s in stream %s under account %s.", shardID, name, e.opts.Account)
	}
	b, n, err := e.readShard(sh, c, now.UnixMilli(), now.UnixMilli()-retMs, limit, maxBytes)
	if e.opts.EnforceLimits {
		sh.rlim.charge(n)
	}
	return b, err
}

// readShard is Read after validation; it also returns the bytes read.
func (e *Engine) readShard(sh *shard, c Cursor, nowMs, cutoff int64, limit, maxBytes int) (Batch, int, error) {
	start := c.next
	seg, off, end, start, ok := sh.position(start, c)
	if !ok {
		return Batch{}, 0, e.goneErr(sh)
	}
	defer func() {
		if seg != nil {
			seg.release()
		}
	}()

	var (
		recs      []Record
		nbytes    int
		behind    int64
		relocated bool
	)
	next := Cursor{stream: c.stream, shard: c.shard}
	for {
		fr := newFrameReader(seg.f, off, end, readAhead, false)
		full := false
		for !full {
			frameOff := fr.off
			h, err := fr.header()
			if err == io.EOF {
				break
			}
			if err != nil {
				return Batch{}, nbytes, corrupt(seg, frameOff, err)
			}
			if h.end() <= start {
				fr.skip(&h)
				continue
			}
			if h.arrival < cutoff {
				// Trimmed by retention. Jump to the horizon once rather than
				// walk through expired data.
				if !relocated {
					relocated = true
					hz, err := e.locateTime(sh, cutoff)
					if err != nil {
						return Batch{}, nbytes, err
					}
					if hz > h.end() {
						seg.release()
						seg, off, end, start, ok = sh.position(hz, Cursor{})
						if !ok {
							seg = nil
							return Batch{}, nbytes, e.goneErr(sh)
						}
						start = max(start, hz)
						fr = newFrameReader(seg.f, off, end, readAhead, false)
						continue
					}
				}
				start = h.end()
				fr.skip(&h)
				continue
			}
			if len(recs) >= limit || (len(recs) > 0 && nbytes >= maxBytes) {
				behind, next.segFirst, next.off = nowMs-h.arrival, seg.first, frameOff
				full = true
				break
			}
			body, err := fr.body(&h)
			if err != nil {
				return Batch{}, nbytes, corrupt(seg, frameOff, err)
			}
			if recs == nil {
				recs = make([]Record, 0, min(limit, max(int(h.count), 64)))
			}
			prefix := seqPrefixFor(c.stream, c.shard, h.arrival)
			arrival := time.UnixMilli(h.arrival).UTC()
			err = forEachRecord(body, h.count, func(i int, pk, data []byte) bool {
				ctr := h.first + uint64(i)
				if ctr < start {
					return true
				}
				if len(recs) >= limit || (len(recs) > 0 && nbytes+len(pk)+len(data) > maxBytes) {
					full = true
					return false
				}
				recs = append(recs, Record{SequenceNumber: formatSeq(&prefix, ctr), ArrivalTime: arrival, PartitionKey: string(pk), Data: data})
				nbytes += len(pk) + len(data)
				start = ctr + 1
				return true
			})
			if err != nil {
				return Batch{}, nbytes, corrupt(seg, frameOff, err)
			}
			if full {
				behind, next.segFirst, next.off = nowMs-h.arrival, seg.first, frameOff
			}
		}
		if full {
			break
		}
		// End of what was durable in seg when we looked: continue in seg if
		// it grew, else in the next segment, else we are at the tip.
		sh.mu.RLock()
		if sh.gone {
			sh.mu.RUnlock()
			return Batch{}, nbytes, e.goneErr(sh)
		}
		if seg.size > end {
			off, end = fr.off, seg.size
			sh.mu.RUnlock()
			continue
		}
		segs := sh.segs
		j := sort.Search(len(segs), func(j int) bool { return segs[j].first > seg.first })
		if j == len(segs) {
			sh.mu.RUnlock()
			next.segFirst, next.off = seg.first, fr.off
			break
		}
		nseg := segs[j]
		nseg.acquire()
		off, end = 0, nseg.size
		sh.mu.RUnlock()
		seg.release()
		seg = nseg
	}
	next.next = start
	return Batch{Records: recs, Next: next, MillisBehindLatest: max(behind, 0)}, nbytes, nil
}

// Wait blocks until the shard has a durable record at or after cursor
// after, the context ends (its error is returned), the stream is deleted
// (ResourceNotFoundException) or the engine closes (InternalFailure wrapping
// ErrClosed). Pollers call it between empty reads instead of sleeping.
func (e *Engine) Wait(ctx context.Context, name, shardID string, after Cursor) error {
	if err := checkStreamName(name); err != nil {
		return err
	}
	sh, _, err := e.lookupShard(name, shardID)
	if err != nil {
		return err
	}
	if after.stream != sh.st.id || after.shard != sh.idx {
		return invalidArg("Invalid ShardIterator: it is not an iterator of shard %s in stream %s under account %s.", shardID, name, e.opts.Account)
	}
	for {
		sh.mu.RLock()
		tip, gone, ch := sh.tip, sh.gone, sh.notify
		sh.mu.RUnlock()
		if gone {
			return e.goneErr(sh)
		}
		if tip > after.next {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-e.closing:
			return internal(ErrClosed)
		}
	}
}
