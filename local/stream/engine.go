package stream

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/shardmap"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Now is the clock for arrival timestamps, retention and rate limits;
	// nil means time.Now.
	Now streamproc.Clock
	// Logger receives recovery, trimming and failure events; nil discards.
	Logger *slog.Logger
	// EnforceLimits turns on the per-shard throughput limits of a
	// provisioned stream: writes 1,000 records/s and 1 MiB/s (entries over
	// the limit fail with ProvisionedThroughputExceededException), reads 5
	// calls/s and 2 MiB/s (the Read call fails). Off by default.
	EnforceLimits bool
	// Region and Account appear in ARNs and messages; defaults us-east-1 and
	// 000000000000.
	Region, Account string
	// SegmentBytes is the size at which a shard's segment file is sealed;
	// 0 means DefaultSegmentBytes.
	SegmentBytes int64
}

// Engine is an open data directory holding any number of streams. It is safe
// for concurrent use. Locking and durability rules are in the package
// documentation.
type Engine struct {
	dir      string
	opts     Options
	log      *slog.Logger
	now      streamproc.Clock
	segBytes int64
	unlock   func() error

	mu      sync.RWMutex
	streams map[string]*stream
	nextID  uint64
	closed  bool
	closing chan struct{} // closed when Close starts; wakes Wait

	cmu      sync.Mutex
	dirty    []*shard   // shards with queued frames, in queueing order
	gen      *commitGen // the generation queued frames will be committed in
	inflight *commitGen // the generation being written, if any
	failed   error      // set once a write or fsync failed: no more writes
	stopped  bool       // set when the committer drains for Close

	kick     chan struct{}
	quit     chan struct{}
	loopDone chan struct{}

	bufs bufPool
}

// commitGen is one group commit. done is closed after every frame queued
// in it is durable and published (err == nil) or has failed (err != nil).
type commitGen struct {
	done chan struct{}
	err  error
}

func newGen() *commitGen { return &commitGen{done: make(chan struct{})} }

// stream is one stream incarnation.
type stream struct {
	id        uint64
	name      string
	created   int64 // unix ms
	retention int   // hours; guarded by Engine.mu
	dir       string
	shards    []*shard
	byID      map[string]*shard
	router    *shardmap.Map
}

// shard is one shard's log. Field groups are guarded as documented in the
// package documentation ("Locks").
type shard struct {
	st       *stream
	idx      int
	info     streamproc.Shard
	dir      string
	startSeq string

	// Write side, guarded by Engine.cmu.
	nextCounter uint64
	lastArrival int64
	pending     []pendingWrite
	dirty       bool
	closed      bool

	// Owned by the committer goroutine (set up by Open/CreateStream before
	// the shard is reachable).
	active *segment

	wlim writeLimiter
	rlim readLimiter

	// Read side, guarded by mu.
	mu         sync.RWMutex
	segs       []*segment // by first counter; the last one is active
	tip        uint64     // counter after the newest durable record
	tipArrival int64
	notify     chan struct{} // closed and replaced whenever tip moves
	gone       bool          // stream deleted or engine closed
}

// pendingWrite is one PutRecords call's share of a shard: consecutive
// encoded frames in one buffer, waiting for the committer.
type pendingWrite struct {
	buf  []byte        // the frames, back to back
	hdrs []frameHeader // their headers, in order
}

// Open opens (creating if needed) the data directory dir, recovers every
// shard's log (truncating a torn tail of the newest segment) and starts the
// committer. Only one Engine may have a directory open at a time.
func Open(dir string, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	e := &Engine{
		dir:      dir,
		opts:     opts,
		log:      opts.Logger.With("component", "local/stream"),
		now:      opts.Now,
		segBytes: opts.SegmentBytes,
		streams:  map[string]*stream{},
		nextID:   1,
		closing:  make(chan struct{}),
		gen:      newGen(),
		kick:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	if err := os.MkdirAll(filepath.Join(dir, "streams"), 0o755); err != nil {
		return nil, fmt.Errorf("open stream dir: %w", err)
	}
	unlock, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, fmt.Errorf("open stream dir %s: %w", dir, err)
	}
	e.unlock = unlock
	if err := e.recover(); err != nil {
		e.closeFiles()
		_ = unlock()
		return nil, fmt.Errorf("open stream dir %s: %w", dir, err)
	}
	go e.commitLoop()
	return e, nil
}

// recover loads meta.json, opens every shard and removes leftovers of
// interrupted creations and deletions.
func (e *Engine) recover() error {
	m, err := readMeta(e.dir)
	if err != nil {
		return err
	}
	e.nextID = max(m.NextID, 1)
	keep := map[string]bool{}
	for _, ms := range m.Streams {
		st, err := e.newStream(ms)
		if err != nil {
			return err
		}
		keep[filepath.Base(st.dir)] = true
		for _, sh := range st.shards {
			if err := e.openShard(sh); err != nil {
				e.streams[st.name] = st // so closeFiles sees what was opened
				return fmt.Errorf("stream %s: %w", st.name, err)
			}
		}
		e.streams[st.name] = st
	}
	ents, err := os.ReadDir(filepath.Join(e.dir, "streams"))
	if err != nil {
		return fmt.Errorf("list streams: %w", err)
	}
	for _, ent := range ents {
		if !keep[ent.Name()] {
			p := filepath.Join(e.dir, "streams", ent.Name())
			e.log.Info("removing leftover stream directory", "path", p)
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("remove leftover %s: %w", p, err)
			}
		}
	}
	_ = os.Remove(filepath.Join(e.dir, metaName+".tmp"))
	return nil
}

// newStream builds the in-memory stream of a metadata entry (no files).
func (e *Engine) newStream(ms metaStream) (*stream, error) {
	st := &stream{
		id:        ms.ID,
		name:      ms.Name,
		created:   ms.CreatedMs,
		retention: ms.RetentionHours,
		dir:       filepath.Join(e.dir, "streams", fmt.Sprintf("%010d", ms.ID)),
		byID:      map[string]*shard{},
	}
	infos := make([]streamproc.Shard, len(ms.Shards))
	for i, s := range ms.Shards {
		infos[i] = streamproc.Shard{ID: s.ID, StartingHashKey: s.Start, EndingHashKey: s.End}
	}
	router, err := shardmap.New(infos)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", ms.Name, err)
	}
	st.router = router
	for i, info := range infos {
		sh := &shard{
			st:          st,
			idx:         i,
			info:        info,
			dir:         filepath.Join(st.dir, info.ID),
			startSeq:    encodeSeq(st.id, i, st.created, 0),
			nextCounter: 1,
			lastArrival: st.created,
			tip:         1,
			tipArrival:  st.created,
			notify:      make(chan struct{}),
		}
		st.shards = append(st.shards, sh)
		st.byID[info.ID] = sh
	}
	return st, nil
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// openShard opens the segments of a shard and verifies them. Only the
// newest segment may have a torn tail, which is cut off; anything else that
// does not check out is ErrCorrupt.
func (e *Engine) openShard(sh *shard) error {
	ents, err := os.ReadDir(sh.dir)
	if err != nil {
		return fmt.Errorf("shard %s: %w", sh.info.ID, err)
	}
	var firsts []uint64
	for _, ent := range ents {
		var first uint64
		if n, err := fmt.Sscanf(ent.Name(), "%020d.seg", &first); err != nil || n != 1 || ent.Name() != segName(first) {
			e.log.Warn("ignoring unexpected file in shard directory", "path", filepath.Join(sh.dir, ent.Name()))
			continue
		}
		firsts = append(firsts, first)
	}
	slices.Sort(firsts)
	if len(firsts) == 0 {
		return fmt.Errorf("shard %s has no segment files: %w", sh.info.ID, ErrCorrupt)
	}
	for i, first := range firsts {
		path := filepath.Join(sh.dir, segName(first))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("open segment: %w", err)
		}
		seg := newSegment(path, f, first)
		sh.segs = append(sh.segs, seg)
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat segment: %w", err)
		}
		if i > 0 && sh.segs[i-1].next != first {
			return fmt.Errorf("segment %s starts at counter %d but the previous one ends at %d: %w", path, first, sh.segs[i-1].next, ErrCorrupt)
		}
		good, err := scanSegment(seg, fi.Size())
		last := i == len(firsts)-1
		switch {
		case err != nil && !last:
			return fmt.Errorf("segment %s at offset %d: %w: %w", path, good, ErrCorrupt, err)
		case err != nil && !errors.Is(err, errBadFrame):
			return fmt.Errorf("read segment %s: %w", path, err)
		case good < fi.Size():
			e.log.Warn("truncating torn tail of segment", "path", path, "size", fi.Size(), "good", good, "dropped_bytes", fi.Size()-good)
			if err := f.Truncate(good); err != nil {
				return fmt.Errorf("truncate torn tail of %s: %w", path, err)
			}
		}
		if last {
			// Make whatever survived durable before anyone reads it, so a
			// sequence number a reader has seen is never reused.
			if err := f.Sync(); err != nil {
				return fmt.Errorf("sync segment %s: %w", path, err)
			}
		}
	}
	for _, seg := range sh.segs {
		if seg.next > seg.first {
			sh.lastArrival = max(sh.lastArrival, seg.lastArrival)
		}
	}
	sh.active = sh.segs[len(sh.segs)-1]
	sh.nextCounter = sh.active.next
	sh.tip = sh.nextCounter
	sh.tipArrival = sh.lastArrival
	return nil
}

// Close stops accepting work, waits for queued writes to become durable and
// closes every file. Reads in progress finish on their open files.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closing)
	e.mu.Unlock()

	close(e.quit)
	<-e.loopDone
	e.closeFiles()
	e.cmu.Lock()
	err := e.failed
	e.cmu.Unlock()
	if uerr := e.unlock(); uerr != nil {
		return fmt.Errorf("close stream dir: %w", uerr)
	}
	if err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("close stream dir: earlier write failure: %w", err)
	}
	return nil
}

// closeFiles drops the segment lists' references of every stream.
func (e *Engine) closeFiles() {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, st := range e.streams {
		for _, sh := range st.shards {
			sh.release()
		}
	}
}

// release marks the shard gone and drops the segment list's references.
func (sh *shard) release() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gone {
		return
	}
	sh.gone = true
	close(sh.notify)
	for _, seg := range sh.segs {
		seg.release()
	}
	sh.segs = nil
}

// lookup returns an open stream by name.
func (e *Engine) lookup(name string) (*stream, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, internal(ErrClosed)
	}
	st := e.streams[name]
	if st == nil {
		return nil, notFound("Stream %s under account %s not found.", name, e.opts.Account)
	}
	return st, nil
}

// lookupShard returns an open shard and the stream's retention in ms.
func (e *Engine) lookupShard(name, shardID string) (*shard, int64, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, 0, internal(ErrClosed)
	}
	st := e.streams[name]
	if st == nil {
		return nil, 0, notFound("Stream %s under account %s not found.", name, e.opts.Account)
	}
	sh := st.byID[shardID]
	if sh == nil {
		return nil, 0, notFound("Shard %s in stream %s under account %s does not exist", shardID, name, e.opts.Account)
	}
	return sh, int64(st.retention) * int64(time.Hour/time.Millisecond), nil
}

// commitLoop is the committer goroutine: one generation at a time.
func (e *Engine) commitLoop() {
	defer close(e.loopDone)
	for {
		select {
		case <-e.kick:
			e.commitOnce()
		case <-e.quit:
			e.cmu.Lock()
			e.stopped = true
			e.cmu.Unlock()
			e.commitOnce()
			return
		}
	}
}

// shardWork is one shard's part of a generation.
type shardWork struct {
	sh      *shard
	writes  []pendingWrite
	touched []*segment
}

// commitOnce writes, syncs and publishes everything queued so far.
//
// Invariant: a writer's frames are in the generation it waits on, because
// queueing a frame and reading e.gen happen under e.cmu, and commitOnce
// swaps e.gen in the same critical section in which it takes the frames.
func (e *Engine) commitOnce() {
	e.cmu.Lock()
	if len(e.dirty) == 0 {
		e.cmu.Unlock()
		return
	}
	g := e.gen
	e.gen = newGen()
	work := make([]shardWork, len(e.dirty))
	for i, sh := range e.dirty {
		work[i] = shardWork{sh: sh, writes: sh.pending}
		sh.pending = nil
		sh.dirty = false
	}
	e.dirty = e.dirty[:0]
	e.inflight = g
	failed := e.failed
	e.cmu.Unlock()

	err := failed
	if err == nil {
		err = e.writeAndSync(work)
		if err != nil {
			e.log.Error("stream write failed; refusing further writes until reopened", "err", err)
		}
	}
	if err == nil {
		for i := range work {
			w := &work[i]
			lw := w.writes[len(w.writes)-1]
			last := lw.hdrs[len(lw.hdrs)-1]
			w.sh.mu.Lock()
			for _, seg := range w.touched {
				seg.publish()
			}
			w.sh.tip = last.end()
			w.sh.tipArrival = last.arrival
			if !w.sh.gone {
				close(w.sh.notify)
				w.sh.notify = make(chan struct{})
			}
			w.sh.mu.Unlock()
		}
	}
	for i := range work {
		for _, pw := range work[i].writes {
			e.bufs.put(pw.buf) // written (or failed): nobody refers to it now
		}
	}
	g.err = err
	e.cmu.Lock()
	if err != nil && e.failed == nil {
		e.failed = err
	}
	e.inflight = nil
	e.cmu.Unlock()
	close(g.done)
}

// writeAndSync appends every frame of a generation to its shard's active
// segment (rolling when full) and fsyncs every file written. Shards are
// independent files, so they are written and synced in parallel: buffered
// writes to one file serialise on its inode, writes to different files
// spread over the cores and the device queue.
func (e *Engine) writeAndSync(work []shardWork) error {
	if len(work) == 1 {
		return e.writeShard(&work[0])
	}
	errs := make([]error, len(work))
	sem := make(chan struct{}, maxParallelIO)
	var wg sync.WaitGroup
	for i := range work {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = e.writeShard(&work[i])
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// maxParallelIO bounds the goroutines (and so OS threads blocked in
// syscalls) the committer uses at once.
const maxParallelIO = 16

// writeShard writes one shard's part of a generation and fsyncs it.
func (e *Engine) writeShard(w *shardWork) error {
	sh := w.sh
	for _, pw := range w.writes {
		seg := sh.active
		if seg.wsize > 0 && seg.wsize+int64(len(pw.buf)) > e.segBytes {
			if err := e.roll(sh); err != nil {
				return err
			}
			seg = sh.active
		}
		if len(w.touched) == 0 || w.touched[len(w.touched)-1] != seg {
			w.touched = append(w.touched, seg)
		}
		if _, err := seg.f.WriteAt(pw.buf, seg.wsize); err != nil {
			return fmt.Errorf("write %s: %w", seg.path, err)
		}
		for i := range pw.hdrs {
			seg.noteFrame(seg.wsize, &pw.hdrs[i])
		}
	}
	if err := sh.active.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", sh.active.path, err)
	}
	return nil
}

// roll seals the active segment of sh and starts a new one. Order matters
// (see "Durability and acknowledgement"): sync the old file, create the new
// one, sync the directory, and only then write to the new file.
func (e *Engine) roll(sh *shard) error {
	old := sh.active
	if err := old.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", old.path, err)
	}
	path := filepath.Join(sh.dir, segName(old.wnext))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if err := syncDir(sh.dir); err != nil {
		_ = f.Close()
		return err
	}
	seg := newSegment(path, f, old.wnext)
	sh.mu.Lock()
	sh.segs = append(sh.segs, seg)
	sh.mu.Unlock()
	sh.active = seg
	return nil
}

// syncDir fsyncs a directory so entries created or renamed in it persist.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// barrier waits until every frame queued before the call is committed (or
// failed). It does not take a context: callers release files afterwards and
// must not do so while the committer may still write to them.
func (e *Engine) barrier() {
	e.cmu.Lock()
	var g *commitGen
	switch {
	case len(e.dirty) > 0:
		g = e.gen
	case e.inflight != nil:
		g = e.inflight
	}
	e.cmu.Unlock()
	if g == nil {
		return
	}
	e.wake()
	<-g.done
}

func (e *Engine) wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}
