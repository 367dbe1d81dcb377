package stream

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unicode/utf8"

	"github.com/streamproc/streamproc"
)

// MaxPartitionKeyLen is the partition key limit in Unicode characters.
const MaxPartitionKeyLen = 256

var _ streamproc.StreamWriter = (*Engine)(nil)

// Shards returns the stream's open shards (all of them: there is no
// resharding) in shard-index order.
func (e *Engine) Shards(ctx context.Context, name string) ([]streamproc.Shard, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkStreamName(name); err != nil {
		return nil, err
	}
	st, err := e.lookup(name)
	if err != nil {
		return nil, err
	}
	out := make([]streamproc.Shard, len(st.shards))
	for i, sh := range st.shards {
		out[i] = sh.info
	}
	return out, nil
}

// validateRecords checks a PutRecords request against the API model
// (ValidationException) and the Kinesis size rules (InvalidArgumentException).
func validateRecords(recs []streamproc.Record) error {
	if len(recs) < 1 || len(recs) > streamproc.MaxPutRecords {
		return validation("1 validation error detected: Value '%d' at 'records' failed to satisfy constraint: Member must have length less than or equal to %d and greater than or equal to 1", len(recs), streamproc.MaxPutRecords)
	}
	total := 0
	for i, r := range recs {
		if n := utf8.RuneCountInString(r.PartitionKey); n < 1 || n > MaxPartitionKeyLen {
			return validation("1 validation error detected: Value at 'records.%d.member.partitionKey' failed to satisfy constraint: Member must have length between 1 and %d", i+1, MaxPartitionKeyLen)
		}
		if len(r.Data) > streamproc.MaxRecordBytes {
			return validation("1 validation error detected: Value at 'records.%d.member.data' failed to satisfy constraint: Member must have length less than or equal to %d", i+1, streamproc.MaxRecordBytes)
		}
		if r.ExplicitHashKey != "" && !isHashKeySyntax(r.ExplicitHashKey) {
			return validation("1 validation error detected: Value '%s' at 'records.%d.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})", r.ExplicitHashKey, i+1)
		}
		size := len(r.PartitionKey) + len(r.Data)
		if size > streamproc.MaxRecordBytes {
			return invalidArg("Record %d has size %d bytes (partition key + data), above the limit of %d bytes.", i, size, streamproc.MaxRecordBytes)
		}
		total += size
	}
	if total > streamproc.MaxPutRecordsBytes {
		return invalidArg("Records size %d bytes exceeds the limit of %d bytes per PutRecords request.", total, streamproc.MaxPutRecordsBytes)
	}
	return nil
}

// isHashKeySyntax matches 0|([1-9]\d{0,38}).
func isHashKeySyntax(s string) bool {
	if s == "0" {
		return true
	}
	if len(s) < 1 || len(s) > 39 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maxFrameTarget caps a frame's body when a call's share of a shard is
// split into frames (a single larger record gets a frame of its own), so a
// small Read never has to load and checksum a whole 5 MiB call.
const maxFrameTarget = 64 << 10

// shardPart is one destination shard's share of a PutRecords call.
type shardPart struct {
	sh     *shard
	idxs   []int         // request indexes, in request order
	buf    []byte        // encoded frames, back to back
	hdrs   []frameHeader // one per frame; first/arrival set when queued
	hdrOff []int         // offset of each frame in buf
}

// encode splits the part into frames of at most maxFrameTarget body bytes
// and encodes them into one buffer, leaving the headers to be completed
// under the commit lock (they need the counters).
func (p *shardPart) encode(recs []streamproc.Record, bufs *bufPool) {
	recLen := func(r *streamproc.Record) int {
		return uvarintLen(len(r.PartitionKey)) + len(r.PartitionKey) + uvarintLen(len(r.Data)) + len(r.Data)
	}
	total, body := 0, 0
	for k, i := range p.idxs {
		n := recLen(&recs[i])
		if k == 0 || body+n > maxFrameTarget {
			total += headerLen
			body = 0
		}
		body += n
		total += n
	}
	buf := bufs.get(total)
	var h *frameHeader
	closeFrame := func() {
		if h != nil {
			start := p.hdrOff[len(p.hdrOff)-1] + headerLen
			h.bodyLen = uint32(len(buf) - start)
			h.bodyCRC = crc32.Checksum(buf[start:], castagnoli)
		}
	}
	for _, i := range p.idxs {
		r := &recs[i]
		if n := recLen(r); h == nil || int(h.bodyLen)+n > maxFrameTarget {
			closeFrame()
			p.hdrOff = append(p.hdrOff, len(buf))
			p.hdrs = append(p.hdrs, frameHeader{})
			h = &p.hdrs[len(p.hdrs)-1]
			buf = buf[:len(buf)+headerLen]
		}
		start := len(buf)
		buf = binary.AppendUvarint(buf, uint64(len(r.PartitionKey)))
		buf = append(buf, r.PartitionKey...)
		buf = binary.AppendUvarint(buf, uint64(len(r.Data)))
		buf = append(buf, r.Data...)
		h.bodyLen += uint32(len(buf) - start)
		h.count++
	}
	closeFrame()
	p.buf = buf
}

// Written is how many records the stream has durably taken since it was
// created, over all its shards (trimmed records included): a cheap counter
// for progress lines, whoever the writer was.
func (e *Engine) Written(name string) (uint64, error) {
	st, err := e.lookup(name)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, sh := range st.shards {
		sh.mu.RLock()
		n += sh.tip - 1 // counters start at 1
		sh.mu.RUnlock()
	}
	return n, nil
}

// PutRecords writes records like Kinesis PutRecords and returns one result
// per record, in order. Entries are routed by MD5(PartitionKey) or
// ExplicitHashKey; records that land on one shard keep their request order.
// An entry with a SequenceNumber is durable (fsynced) when PutRecords
// returns. Failed entries carry ErrorCode ProvisionedThroughputExceededException
// (EnforceLimits; not written) or InternalFailure (a write or fsync failed;
// as on AWS the record may or may not be stored, and it shows up after a
// reopen if its bytes made it to disk) and may be retried: delivery is
// at-least-once across retries, as with Kinesis. No records is no call: no
// results and no error.
//
// Whole-call errors, when nothing was written: ValidationException /
// InvalidArgumentException (ErrInvalid) for a malformed request,
// ResourceNotFoundException (ErrNotFound), InternalFailure wrapping
// ErrClosed once the engine is closed or has failed. The context is only
// checked before anything is queued: once queued, a call waits for its
// commit, so a SequenceNumber in the result is always true.
func (e *Engine) PutRecords(ctx context.Context, name string, recs []streamproc.Record) ([]streamproc.PutResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		// The port's contract, as the Kinesis adapter keeps it: nothing to
		// write is not a malformed request. The Kinesis API in front of
		// the engine rejects an empty Records list itself, as AWS does.
		return []streamproc.PutResult{}, nil
	}
	if err := checkStreamName(name); err != nil {
		return nil, err
	}
	if err := validateRecords(recs); err != nil {
		return nil, err
	}
	st, err := e.lookup(name)
	if err != nil {
		return nil, err
	}

	// Route. Entries rejected by the rate limiter get their result now.
	results := make([]streamproc.PutResult, len(recs))
	partOf := make([]int, len(st.shards)) // shard index → index in parts + 1
	var parts []shardPart
	now := e.now()
	for i, r := range recs {
		si, err := st.router.Route(r.PartitionKey, r.ExplicitHashKey)
		if err != nil {
			return nil, invalidArg("Invalid ExplicitHashKey for record %d: %v", i, err)
		}
		sh := st.shards[si]
		if e.opts.EnforceLimits && !sh.wlim.take(now, len(r.PartitionKey)+len(r.Data)) {
			results[i] = streamproc.PutResult{
				ErrorCode:    CodeThroughputExceeded,
				ErrorMessage: fmt.Sprintf("Rate exceeded for shard %s in stream %s under account %s.", sh.info.ID, name, e.opts.Account),
			}
			continue
		}
		if partOf[si] == 0 {
			parts = append(parts, shardPart{sh: sh})
			partOf[si] = len(parts)
		}
		p := &parts[partOf[si]-1]
		p.idxs = append(p.idxs, i)
	}
	if len(parts) == 0 {
		return results, nil
	}

	// Encode each shard's frames outside any lock.
	for pi := range parts {
		parts[pi].encode(recs, &e.bufs)
	}

	// Queue: assign counters and arrival times under e.cmu (see commitOnce
	// for why the generation read here covers these frames).
	nowMs := now.UnixMilli()
	e.cmu.Lock()
	if e.stopped || e.failed != nil {
		e.cmu.Unlock()
		return nil, internal(ErrClosed)
	}
	for pi := range parts {
		if parts[pi].sh.closed {
			e.cmu.Unlock()
			return nil, notFound("Stream %s under account %s not found.", name, e.opts.Account)
		}
	}
	for pi := range parts {
		p := &parts[pi]
		sh := p.sh
		sh.lastArrival = max(sh.lastArrival, nowMs)
		for k := range p.hdrs {
			h := &p.hdrs[k]
			h.first = sh.nextCounter
			h.arrival = sh.lastArrival
			sh.nextCounter += uint64(h.count)
			h.put(p.buf[p.hdrOff[k]:])
		}
		sh.pending = append(sh.pending, pendingWrite{buf: p.buf, hdrs: p.hdrs})
		if !sh.dirty {
			sh.dirty = true
			e.dirty = append(e.dirty, sh)
		}
	}
	g := e.gen
	e.cmu.Unlock()
	e.wake()

	<-g.done
	for pi := range parts {
		p := &parts[pi]
		if g.err != nil {
			for _, i := range p.idxs {
				results[i] = streamproc.PutResult{ErrorCode: CodeInternalFailure, ErrorMessage: "Internal service failure."}
			}
			continue
		}
		prefix := seqPrefixFor(st.id, p.sh.idx, p.hdrs[0].arrival)
		first := p.hdrs[0].first // the part's counters are contiguous
		for j, i := range p.idxs {
			results[i] = streamproc.PutResult{ShardID: p.sh.info.ID, SequenceNumber: formatSeq(&prefix, first+uint64(j))}
		}
	}
	return results, nil
}

func uvarintLen(n int) int {
	l := 1
	for v := uint64(n); v >= 0x80; v >>= 7 {
		l++
	}
	return l
}
