package esm

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stream"
)

// shardProc runs the mapping on one shard: a reader goroutine that reads
// the shard in order and routes each record to a lane by partition key,
// one goroutine per lane that batches and invokes, and the checkpoint.
//
// Checkpoint rule. Every record read gets an increasing ord and remembers
// prevSeq, the sequence number read just before it. A lane owns its
// records from routing until they are finished (succeeded or discarded
// with an on-failure record) and finishes them strictly in order: one
// batch at a time; a partial response finishes a prefix; bisected halves
// run depth-first, left half first. So the unfinished records of a lane
// always start at its oldest one, and every record older than the oldest
// unfinished record over all lanes is finished. The safe checkpoint is
// that record's prevSeq (or the last record read when no lane holds
// anything). It only moves forward, because new records are younger than
// every record held.
//
// Granularity: one checkpoint per shard — the safe minimum over lanes —
// rather than one per lane. A restart redelivers what faster lanes
// finished beyond it (at-least-once, as on AWS, where the docs also only
// promise per-key order) and needs no lane layout on disk, so changing
// ParallelizationFactor between runs is safe.
//
// Tumbling windows: records of the open window count as unfinished until
// the window's final invocation succeeds (or is discarded); lane.winFirst
// keeps the first of them after their data is dropped. A restart
// therefore replays the whole open window with a fresh state, which is
// the only way to rebuild a state that was never persisted.
//
// Locks: saveMu before mu. mu guards the fields marked below and the
// lanes' shared fields; it is never held during I/O, invocations or
// sleeps. saveMu serialises checkpoint saves (held across Save) so saves
// of one shard never race each other out of order.
type shardProc struct {
	m         *Mapping
	id        string
	retention time.Duration
	windowed  bool
	fixed     int // JSON bytes of an event record with an empty key and no data
	lanes     []*lane
	maxRecs   int // read-ahead bound: records held in memory
	maxBytes  int // read-ahead bound: estimated JSON bytes held in memory
	space     chan struct{}

	saveMu sync.Mutex
	// lastSave is when save last wrote a checkpoint (UnixNano, real time),
	// for Options.CheckpointInterval.
	lastSave atomic.Int64

	mu         sync.Mutex
	nextOrd    uint64    // mu
	lastRead   string    // mu: sequence number of the last record read
	saved      string    // mu (written under saveMu too): last saved checkpoint
	buffered   int       // mu: records held by lanes (queued or in flight)
	bufBytes   int       // mu
	blocked    bool      // mu: the reader waits for room, so batches cannot grow
	caughtUpAt time.Time // mu: Now when the latest read that reached the tip started
}

func newShardProc(m *Mapping, id string, retention time.Duration) *shardProc {
	s := &shardProc{m: m, id: id, retention: retention, windowed: m.cfg.TumblingWindow > 0, space: make(chan struct{}, 1)}
	s.fixed = m.fixedRecordSize(id)
	n := m.cfg.ParallelizationFactor
	if s.windowed {
		// The window state is per shard (research §3.8), so two batches
		// of one shard can never run at once without losing updates.
		n = 1
	}
	for i := range n {
		s.lanes = append(s.lanes, &lane{s: s, m: m, idx: i, kick: make(chan struct{}, 1)})
	}
	// Enough read-ahead for every lane to fill two batches, bounded in
	// bytes so a slow lane cannot pull a whole backlog into memory.
	s.maxRecs = max(2*m.cfg.BatchSize*n, 500)
	s.maxBytes = min(2*n*MaxPayloadBytes, 64<<20)
	return s
}

// run processes the shard until ctx ends or the shard cannot be read.
func (s *shardProc) run(ctx context.Context) error {
	m := s.m
	if s.windowed && m.cfg.ParallelizationFactor > 1 {
		m.log.InfoContext(ctx, "tumbling window: processing the shard with one lane", "shard", s.id, "parallelizationFactor", m.cfg.ParallelizationFactor)
	}
	cursor, err := s.start(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, l := range s.lanes {
		wg.Go(func() { l.run(lctx) })
	}
	rerr := s.read(lctx, cursor)
	cancel()
	wg.Wait()
	// Lanes abandoned what they had in flight, so the safe checkpoint
	// excludes it; save the rest even though ctx has ended.
	serr := s.save(context.WithoutCancel(ctx))
	return errors.Join(rerr, serr)
}

// start resolves where to read: after the checkpoint, or at the
// StartingPosition for a shard without one.
func (s *shardProc) start(ctx context.Context) (stream.Cursor, error) {
	m := s.m
	for n := 1; ; n++ {
		c, err := s.resolve(ctx)
		if err == nil || fatal(err) || ctx.Err() != nil {
			return c, err
		}
		m.log.WarnContext(ctx, "cannot resolve the shard position; retrying", "shard", s.id, "err", err)
		if !sleep(ctx, m.opts.Backoff(n)) {
			return c, ctx.Err()
		}
	}
}

func (s *shardProc) resolve(ctx context.Context) (stream.Cursor, error) {
	m := s.m
	seq, ok, err := m.ckpts.Load(ctx, m.cfg.UUID, s.id)
	if err != nil {
		return stream.Cursor{}, fmt.Errorf("esm %s: shard %s: %w", m.cfg.UUID, s.id, err)
	}
	if ok {
		c, err := m.src.Iterator(ctx, m.cfg.StreamName, s.id, stream.Position{Type: stream.AfterSequenceNumber, SequenceNumber: seq})
		if err == nil {
			s.mu.Lock()
			s.lastRead, s.saved = seq, seq
			s.mu.Unlock()
			return c, nil
		}
		if !errors.Is(err, streamproc.ErrInvalid) {
			return stream.Cursor{}, fmt.Errorf("esm %s: shard %s: resume after %s: %w", m.cfg.UUID, s.id, seq, err)
		}
		// The checkpoint names a record of an earlier incarnation of the
		// stream (deleted and created again): its position means nothing now.
		m.log.WarnContext(ctx, "checkpoint does not belong to the stream; using StartingPosition", "shard", s.id, "checkpoint", seq, "err", err)
	}
	p := stream.Position{Type: m.cfg.StartingPosition, Timestamp: m.cfg.StartingPositionTimestamp}
	c, err := m.src.Iterator(ctx, m.cfg.StreamName, s.id, p)
	if err != nil {
		return stream.Cursor{}, fmt.Errorf("esm %s: shard %s: starting position %s: %w", m.cfg.UUID, s.id, p.Type, err)
	}
	return c, nil
}

// fatal reports whether a stream error ends the mapping rather than being
// retried: the stream or shard is gone, the engine closed, the log is
// corrupt, or the request itself is wrong.
func fatal(err error) bool {
	return errors.Is(err, streamproc.ErrNotFound) || errors.Is(err, stream.ErrClosed) ||
		errors.Is(err, stream.ErrCorrupt) || errors.Is(err, streamproc.ErrInvalid)
}

// read is the reader loop: read, route, and when at the tip wait for new
// records (or PollInterval, to re-read and move caughtUpAt along Now).
func (s *shardProc) read(ctx context.Context, c stream.Cursor) error {
	m := s.m
	fails := 0
	for ctx.Err() == nil {
		s.mu.Lock()
		room, roomBytes := s.maxRecs-s.buffered, s.maxBytes-s.bufBytes
		s.blocked = room <= 0 || roomBytes <= 0
		blocked := s.blocked
		s.mu.Unlock()
		if blocked {
			// Batches waiting for a batching window cannot grow now; the
			// lanes treat blocked as "ready" so room is made.
			s.kickLanes()
			select {
			case <-s.space:
			case <-ctx.Done():
			}
			continue
		}
		t0 := m.now()
		// Read's byte limit counts keys and data; the JSON estimate is
		// about 4/3 of that.
		b, err := m.src.Read(ctx, m.cfg.StreamName, s.id, c, min(room, stream.MaxGetRecords), max(roomBytes*3/4, 1))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if fatal(err) {
				return fmt.Errorf("esm %s: read shard %s: %w", m.cfg.UUID, s.id, err)
			}
			fails++
			m.log.WarnContext(ctx, "shard read failed; retrying", "shard", s.id, "err", err, "failures", fails)
			sleep(ctx, m.opts.Backoff(fails))
			continue
		}
		fails = 0
		c = b.Next
		s.route(b.Records, b.MillisBehindLatest == 0, t0)
		if len(b.Records) > 0 {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, m.poll)
		err = m.src.Wait(wctx, m.cfg.StreamName, s.id, c)
		cancel()
		if err != nil && ctx.Err() == nil && fatal(err) {
			return fmt.Errorf("esm %s: wait on shard %s: %w", m.cfg.UUID, s.id, err)
		}
	}
	return nil
}

// route hands records to their lanes. atTip says the read that returned
// them reached the end of the shard; it started at t0.
func (s *shardProc) route(recs []stream.Record, atTip bool, t0 time.Time) {
	if len(recs) == 0 && !atTip {
		return
	}
	var touched [MaxParallelizationFactor]bool
	s.mu.Lock()
	now := s.m.now()
	for _, r := range recs {
		s.nextOrd++
		x := &rec{
			mark: mark{ord: s.nextOrd, seq: r.SequenceNumber, prevSeq: s.lastRead, arrival: r.ArrivalTime},
			pk:   r.PartitionKey,
			data: r.Data,
			size: recordJSON(s.fixed, r.PartitionKey, r.Data),
			seen: now,
		}
		s.lastRead = r.SequenceNumber
		l := s.lanes[s.laneOf(r.PartitionKey)]
		l.queue = append(l.queue, x)
		s.buffered++
		s.bufBytes += x.size
		touched[l.idx] = true
	}
	if atTip && t0.After(s.caughtUpAt) {
		s.caughtUpAt = t0
	}
	s.mu.Unlock()
	s.m.c.read.Add(int64(len(recs)))
	for i, l := range s.lanes {
		if touched[i] {
			l.wake()
		}
	}
}

// laneOf maps a partition key to a lane; one key always maps to the same
// lane, which is what keeps per-key order.
func (s *shardProc) laneOf(pk string) int {
	if len(s.lanes) == 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(pk))
	return int(h.Sum64() % uint64(len(s.lanes)))
}

func (s *shardProc) kickLanes() {
	for _, l := range s.lanes {
		l.wake()
	}
}

// madeRoom tells a blocked reader that lanes released records.
func (s *shardProc) madeRoom() {
	select {
	case s.space <- struct{}{}:
	default:
	}
}

// maxAge is how old a record may get before it is discarded: the
// mapping's MaximumRecordAge, or the stream's retention when that is
// shorter or no age is set (the record would be gone from the stream).
func (s *shardProc) maxAge() time.Duration {
	age := s.retention
	if a := s.m.cfg.MaximumRecordAge; a > 0 && (age <= 0 || a < age) {
		age = a
	}
	return age
}

// windowStart aligns t to the tumbling window containing it:
// floor(t / W) * W in Unix time.
func (s *shardProc) windowStart(t time.Time) time.Time {
	w := s.m.cfg.TumblingWindow.Milliseconds()
	ms := t.UnixMilli()
	return time.UnixMilli(ms - ((ms%w)+w)%w).UTC()
}

// safeLocked is the checkpoint rule (see shardProc); s.mu is held.
func (s *shardProc) safeLocked() string {
	var oldest *mark
	for _, l := range s.lanes {
		if o := l.oldestLocked(); o != nil && (oldest == nil || o.ord < oldest.ord) {
			oldest = o
		}
	}
	if oldest == nil {
		return s.lastRead
	}
	return oldest.prevSeq
}

// save persists the safe checkpoint when it moved. Sequence numbers of one
// shard have a fixed width, so string order is numeric order.
func (s *shardProc) save(ctx context.Context) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	seq, saved := s.safeLocked(), s.saved
	s.mu.Unlock()
	if seq == "" || (len(seq) == len(saved) && seq <= saved) {
		return nil
	}
	if err := s.m.ckpts.Save(ctx, s.m.cfg.UUID, s.id, seq); err != nil {
		return fmt.Errorf("esm %s: save checkpoint of %s: %w", s.m.cfg.UUID, s.id, err)
	}
	s.mu.Lock()
	s.saved = seq
	s.mu.Unlock()
	s.lastSave.Store(time.Now().UnixNano())
	return nil
}

func (s *shardProc) stats(now time.Time) ShardStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ShardStats{ShardID: s.id, Checkpoint: s.saved, Pending: s.buffered}
	var oldest *rec
	for _, l := range s.lanes {
		if l.busy {
			st.Busy++
		}
		var r *rec
		if len(l.hold) > 0 {
			r = l.hold[0]
		} else if len(l.queue) > 0 {
			r = l.queue[0]
		}
		if r != nil && (oldest == nil || r.ord < oldest.ord) {
			oldest = r
		}
	}
	if oldest != nil {
		st.IteratorAge = max(now.Sub(oldest.arrival), 0)
	}
	return st
}
