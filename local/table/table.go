// Package table is the local target's DynamoDB: a durable, embedded table
// store on Pebble that implements streamproc.Table with DynamoDB's rules —
// BatchWriteItem validation, key order, replace-on-put, TTL expiry that is
// visible until a sweep deletes the item, and an unprocessed-items knob to
// exercise callers' retry paths.
//
// Durability: every acknowledged write (BatchPut, Add, CreateTable) is
// committed with pebble.Sync, so it is in the fsynced WAL before the call
// returns. Concurrent synced commits share one fsync inside Pebble (group
// commit), so parallel writers do not pay one fsync each.
//
// Concurrency: a Store is safe for concurrent use. Lock order, outermost
// first, never taken in the other direction:
//
//  1. closeMu (read side, held for a whole public call; Close takes the write
//     side, so Close waits for calls in flight and later calls fail with
//     ErrUnavailable instead of touching a closed Pebble);
//  2. schemaMu (held only to read or install a TableSpec, never while taking
//     another lock);
//  3. key stripes, always in ascending stripe order (lockStripes), which rules
//     out deadlock between multi-key BatchPuts and Adds.
//
// Stripes make read-modify-write (Add) atomic against every other write to
// the same key: each write to key k happens under stripe(k), so an Add's read
// and write cannot straddle another write of k.
package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/streamproc/streamproc"
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Now is the clock for TTL expiry; nil means time.Now.
	Now streamproc.Clock
	// Logger receives Pebble's messages (its routine start-up chatter at
	// Debug level) and sweeper errors; nil means slog.Default().
	Logger *slog.Logger
	// ReadOnly opens an existing store without writing to it. Pebble still
	// takes its exclusive directory lock, so this fails with ErrUnavailable
	// while another process has the store open (see Open).
	ReadOnly bool
	// Unprocessed is a test knob: when it returns true for an item, BatchPut
	// does not write that item and hands it back as unprocessed, like
	// DynamoDB under throttling. It is called after the batch is validated,
	// possibly from several goroutines at once.
	Unprocessed func(item streamproc.Item) bool
}

// Store is a set of tables in one Pebble database directory.
type Store struct {
	db     *pebble.DB
	dir    string
	opts   Options
	now    streamproc.Clock
	log    *slog.Logger
	seed   maphash.Seed
	stripe [numStripes]sync.Mutex

	closeMu sync.RWMutex
	closed  bool

	schemaMu sync.RWMutex
	tables   map[string]streamproc.TableSpec
}

var _ streamproc.Table = (*Store)(nil)

// numStripes is large enough that two concurrent 25-item batches rarely share
// a stripe (expected overlap 25·25/4096 ≈ 0.15), so unrelated writers reach
// Pebble's commit pipeline together and share fsyncs.
const numStripes = 4096

// Open opens (creating it unless ReadOnly) the store in dir.
//
// Only one process can have a store open, read-only or not: Pebble takes an
// exclusive fcntl lock on dir/LOCK in both modes. A second Open fails with an
// error wrapping streamproc.ErrUnavailable; a process that needs to read a
// live store must ask the process that owns it (or read a Checkpoint).
func Open(dir string, opts Options) (*Store, error) {
	s := &Store{
		dir:    dir,
		opts:   opts,
		now:    opts.Now,
		log:    opts.Logger,
		seed:   maphash.MakeSeed(),
		tables: map[string]streamproc.TableSpec{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "table", "dir", dir)
	popts := &pebble.Options{
		Logger:   pebbleLogger{s.log},
		ReadOnly: opts.ReadOnly,
	}
	if opts.ReadOnly {
		popts.ErrorIfNotExists = true
		// Pebble reports a missing directory with an unwrapped message; check
		// first so the caller gets ErrNotFound.
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open table store %s: %w", dir, streamproc.ErrNotFound)
		}
	} else {
		popts.FormatMajorVersion = pebble.FormatNewest
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		switch {
		case opts.ReadOnly && errors.Is(err, pebble.ErrDBDoesNotExist):
			return nil, fmt.Errorf("open table store %s: %w (%v)", dir, streamproc.ErrNotFound, err)
		case isLocked(err):
			return nil, fmt.Errorf("open table store %s: in use by another process (Pebble locks the directory even for read-only opens): %w (%v)", dir, streamproc.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("open table store %s: %w", dir, err)
	}
	s.db = db
	if err := s.loadSchemas(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// isLocked reports whether err is Pebble failing to take the directory lock:
// fcntl's EAGAIN/EACCES from another process, or Pebble's own in-process
// check, which has no sentinel.
func isLocked(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}

func (s *Store) loadSchemas() error {
	p := schemaPrefix()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return fmt.Errorf("load table schemas: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		var spec streamproc.TableSpec
		if err := json.Unmarshal(it.Value(), &spec); err != nil {
			return fmt.Errorf("load table schema %q: %w", it.Key()[len(p):], err)
		}
		s.tables[spec.Name] = spec
	}
	return it.Error()
}

// Close waits for calls in flight and closes the store. Later calls fail
// with ErrUnavailable. Closing twice is a no-op.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close table store %s: %w", s.dir, err)
	}
	return nil
}

// enter starts a public call: it holds closeMu's read side until the
// returned func runs.
func (s *Store) enter() (func(), error) {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return nil, fmt.Errorf("table store %s is closed: %w", s.dir, streamproc.ErrUnavailable)
	}
	return s.closeMu.RUnlock, nil
}

func (s *Store) writable() error {
	if s.opts.ReadOnly {
		return fmt.Errorf("table store %s is open read-only: %w", s.dir, streamproc.ErrInvalid)
	}
	return nil
}

// Checkpoint writes a consistent copy of the store to destDir (which must
// not exist), mostly as hard links, while the store stays open for writes.
// This is how another process can read a live store: ask the owner for a
// checkpoint and Open that read-only.
func (s *Store) Checkpoint(ctx context.Context, destDir string) error {
	leave, err := s.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.Checkpoint(destDir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpoint table store %s to %s: %w", s.dir, destDir, err)
	}
	return nil
}

var tableNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

func validateSpec(spec streamproc.TableSpec) error {
	if !tableNameRE.MatchString(spec.Name) {
		return invalidf("table name %q: must be 3-255 characters of a-z, A-Z, 0-9, '_', '-', '.'", clip(spec.Name, 64))
	}
	k := spec.Key
	checkAttr := func(role, name, typ string) error {
		if name == "" || len(name) > 255 {
			return invalidf("table %s: %s key attribute name must be 1-255 bytes", spec.Name, role)
		}
		if typ != "S" && typ != "N" && typ != "B" {
			return invalidf("table %s: %s key %s has type %q, want S, N or B", spec.Name, role, name, typ)
		}
		return nil
	}
	if err := checkAttr("hash", k.HashKey, k.HashType); err != nil {
		return err
	}
	if k.RangeKey != "" || k.RangeType != "" {
		if err := checkAttr("range", k.RangeKey, k.RangeType); err != nil {
			return err
		}
		if k.RangeKey == k.HashKey {
			return invalidf("table %s: hash and range key are both %q", spec.Name, k.HashKey)
		}
	}
	return nil
}

// CreateTable creates a table. Creating a table that exists with an equal
// spec is a no-op, so start-up code can call it unconditionally; a different
// spec is an error wrapping ErrInvalid. The schema is stored durably.
func (s *Store) CreateTable(ctx context.Context, spec streamproc.TableSpec) error {
	leave, err := s.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateSpec(spec); err != nil {
		return err
	}
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	if old, ok := s.tables[spec.Name]; ok {
		if old == spec {
			return nil
		}
		return invalidf("table %s already exists with a different schema (%+v, requested %+v)", spec.Name, old, spec)
	}
	if err := s.writable(); err != nil {
		return err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := s.db.Set(schemaKey(spec.Name), b, pebble.Sync); err != nil {
		return fmt.Errorf("create table %s: %w", spec.Name, err)
	}
	s.tables[spec.Name] = spec
	return nil
}

// DescribeTable returns the spec of a table, or an error wrapping
// ErrNotFound.
func (s *Store) DescribeTable(name string) (streamproc.TableSpec, error) {
	spec, err := s.spec(name)
	if err != nil {
		return streamproc.TableSpec{}, err
	}
	return *spec, nil
}

// Tables returns the specs of all tables, sorted by name.
func (s *Store) Tables() []streamproc.TableSpec {
	s.schemaMu.RLock()
	defer s.schemaMu.RUnlock()
	out := make([]streamproc.TableSpec, 0, len(s.tables))
	for _, spec := range s.tables {
		out = append(out, spec)
	}
	slices.SortFunc(out, func(a, b streamproc.TableSpec) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Store) spec(name string) (*streamproc.TableSpec, error) {
	s.schemaMu.RLock()
	spec, ok := s.tables[name]
	s.schemaMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("table %s: %w", name, streamproc.ErrNotFound)
	}
	return &spec, nil
}

// lockStripes locks the stripes of keys in ascending order (the lock-order
// invariant in the package doc) and returns the unlock function.
func (s *Store) lockStripes(keys ...[]byte) func() {
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, int(maphash.Bytes(s.seed, k)%numStripes))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.stripe[i].Lock()
	}
	return func() {
		for _, i := range slices.Backward(idx) {
			s.stripe[i].Unlock()
		}
	}
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, streamproc.ErrInvalid)...)
}

// pebbleLogger sends Pebble's printf-style logging to slog. Pebble's Infof
// is routine chatter ("Found 0 WALs" on every open), so it goes to Debug.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "source", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "source", "pebble")
}

// Fatalf is Pebble reporting an invariant violation it cannot continue
// from; its default logger exits the process, we panic so deferred cleanup
// and test harnesses see it.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "source", "pebble")
	panic("pebble: " + msg)
}

var _ io.Closer = (*Store)(nil)
