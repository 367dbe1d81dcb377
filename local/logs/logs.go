// Package logs keeps each function's structured logs in the data dir, the
// local stand-in for the CloudWatch log group Lambda gives every function:
// `streamproc up` tees every function logger into <dir>/<function>.log (slog
// JSON, one record per line) and `streamproc logs` reads them back like
// `sam logs`.
//
// Files are plain, unlocked and append-only, so a reader in another process
// can follow them while up runs. Size-based rotation keeps disk use bounded:
// when the current file would grow past Options.MaxBytes it is renamed to
// <function>.log.N, N counting up from 1 with each rotation, and a new
// file starts; only Options.Files files are kept per function, the oldest
// deleted first. A reader holding the old file open finishes it before
// moving on (see Follow).
package logs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Ext is the extension of a function's current log file.
const Ext = ".log"

// Defaults of Options.
const (
	DefaultMaxBytes = 10 << 20
	DefaultFiles    = 3
)

// ErrClosed is returned by writes after Dir.Close.
var ErrClosed = errors.New("logs: closed")

// Options configure a Dir.
type Options struct {
	// MaxBytes is the size a file may reach before it is rotated (default
	// DefaultMaxBytes). A single record larger than that still gets written,
	// alone in its file.
	MaxBytes int64
	// Files is how many files are kept per function, the current one
	// included (default DefaultFiles).
	Files int
	// Level is the lowest level written to the files (default Info),
	// whatever the console shows.
	Level slog.Leveler
}

// Dir writes function logs under one directory. Safe for concurrent use.
type Dir struct {
	dir  string
	opts Options

	closed atomic.Bool // set first by Close, so writers never reopen a file after it

	mu    sync.Mutex
	files map[string]*rotator // by file name
}

// Open creates dir if needed and returns a Dir writing into it.
func Open(dir string, opts Options) (*Dir, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Files <= 0 {
		opts.Files = DefaultFiles
	}
	if opts.Level == nil {
		opts.Level = slog.LevelInfo
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("logs dir: %w", err)
	}
	return &Dir{dir: dir, opts: opts, files: map[string]*rotator{}}, nil
}

// Handler returns a handler that appends every record at Options.Level
// or above to function's file, as JSON, and passes to base the records
// base is enabled for: the console can stay quiet (see AtLeast) while the
// file keeps the function's whole story. A nil base writes only the file.
func (d *Dir) Handler(base slog.Handler, function string) slog.Handler {
	d.mu.Lock()
	name := FileName(function)
	w, ok := d.files[name]
	if !ok {
		w = &rotator{dir: d, path: filepath.Join(d.dir, name), maxBytes: d.opts.MaxBytes, keep: d.opts.Files}
		d.files[name] = w
	}
	d.mu.Unlock()
	// slog's JSON handler writes each record with one Write call, which is
	// what lets the rotator cut files only between records.
	file := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: d.opts.Level})
	if base == nil {
		base = slog.DiscardHandler
	}
	return tee{base: base, file: file}
}

// Close closes every open file. Later writes fail with ErrClosed.
func (d *Dir) Close() error {
	d.closed.Store(true)
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, w := range d.files {
		errs = append(errs, w.close())
	}
	return errors.Join(errs...)
}

// FileName is the name of function's current log file: the function name
// with anything but letters, digits, '.', '_' and '-' replaced by '_'.
func FileName(function string) string {
	b := []byte(function)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || b[0] == '.' {
		b = append([]byte{'_'}, b...)
	}
	return string(b) + Ext
}

// Files returns the paths of function's existing log files under dir,
// oldest first: the rotated ones by number (<function>.log.N, N growing
// with each rotation), then the current <function>.log.
func Files(dir, function string) ([]string, error) {
	current := filepath.Join(dir, FileName(function))
	rotated, err := rotatedFiles(current)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rf := range rotated {
		out = append(out, rf.path)
	}
	if _, err := os.Stat(current); err == nil {
		out = append(out, current)
	}
	return out, nil
}

// rotatedFile is one rotated file and its number.
type rotatedFile struct {
	n    int
	path string
}

// rotatedFiles lists the rotated files of the current file at path base
// by number, oldest first.
func rotatedFiles(base string) ([]rotatedFile, error) {
	entries, err := os.ReadDir(filepath.Dir(base))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs dir: %w", err)
	}
	var out []rotatedFile
	for _, e := range entries {
		p := filepath.Join(filepath.Dir(base), e.Name())
		if s, ok := strings.CutPrefix(p, base+"."); ok {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				out = append(out, rotatedFile{n, p})
			}
		}
	}
	slices.SortFunc(out, func(a, b rotatedFile) int { return a.n - b.n })
	return out, nil
}

// tee passes each record to base and to file, each if it is enabled for
// its level.
type tee struct{ base, file slog.Handler }

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.base.Enabled(ctx, l) || t.file.Enabled(ctx, l)
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if t.base.Enabled(ctx, r.Level) {
		errs = append(errs, t.base.Handle(ctx, r))
	}
	if t.file.Enabled(ctx, r.Level) {
		errs = append(errs, t.file.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	return tee{base: t.base.WithAttrs(as), file: t.file.WithAttrs(as)}
}

func (t tee) WithGroup(name string) slog.Handler {
	return tee{base: t.base.WithGroup(name), file: t.file.WithGroup(name)}
}

// AtLeast returns h restricted to records at level or above: a console
// that shows warnings and errors while the files keep everything.
func AtLeast(h slog.Handler, level slog.Leveler) slog.Handler {
	return atLeast{h: h, level: level}
}

type atLeast struct {
	h     slog.Handler
	level slog.Leveler
}

func (a atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= a.level.Level() && a.h.Enabled(ctx, l)
}

func (a atLeast) Handle(ctx context.Context, r slog.Record) error { return a.h.Handle(ctx, r) }

func (a atLeast) WithAttrs(as []slog.Attr) slog.Handler {
	return atLeast{h: a.h.WithAttrs(as), level: a.level}
}

func (a atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h: a.h.WithGroup(name), level: a.level}
}

// rotator is one function's current file, opened on the first write.
type rotator struct {
	dir      *Dir
	path     string
	maxBytes int64
	keep     int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Write appends one record (one line).
func (r *rotator) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		// Checked only when opening: Close marks the Dir closed before it
		// closes the files, so a write after Close lands here.
		if r.dir.closed.Load() {
			return 0, ErrClosed
		}
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxBytes {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("function log %s: %w", r.path, err)
	}
	return n, nil
}

func (r *rotator) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("function log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("function log: %w", err)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// rotate renames the current file to <path>.N, N one more than the newest
// rotated file, deletes the oldest rotated files beyond Options.Files, and
// starts a new current file. A rotated file is never renamed again, which
// is what lets readers in other processes follow without missing one (see
// Follow); a reader holding the old file open keeps reading it.
func (r *rotator) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("function log %s: %w", r.path, err)
	}
	r.f = nil
	if r.keep <= 1 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("function log rotation: %w", err)
		}
		return r.open()
	}
	rotated, err := rotatedFiles(r.path)
	if err != nil {
		return fmt.Errorf("function log rotation: %w", err)
	}
	next := 1
	if len(rotated) > 0 {
		next = rotated[len(rotated)-1].n + 1
	}
	to := r.path + "." + strconv.Itoa(next)
	if err := os.Rename(r.path, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("function log rotation: %w", err)
	}
	rotated = append(rotated, rotatedFile{next, to})
	for _, old := range rotated[:max(0, len(rotated)-(r.keep-1))] {
		if err := os.Remove(old.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("function log rotation: %w", err)
		}
	}
	return r.open()
}

func (r *rotator) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// Throttle passes at most perSecond records a second to h and drops the
// rest, then says how many it dropped, with hint (where to read them all),
// before the next record it passes: a burst of bad records must not bury a
// console under one line each. Handlers derived with WithAttrs or
// WithGroup share the budget. Flush says what was dropped without waiting
// for a next record (call it now and then, and at the end).
func Throttle(h slog.Handler, perSecond int, now func() time.Time, hint string) *Throttled {
	return &Throttled{throttle{h: h, s: &throttleState{per: perSecond, now: now, hint: hint}}}
}

// Throttled is a Throttle handler.
type Throttled struct{ throttle }

// Flush writes the note on lines dropped since the last one, if any.
func (t *Throttled) Flush(ctx context.Context) error {
	t.s.mu.Lock()
	dropped := t.s.dropped
	t.s.dropped = 0
	t.s.mu.Unlock()
	return t.note(ctx, t.s.now(), dropped)
}

func (t throttle) note(ctx context.Context, now time.Time, dropped int) error {
	if dropped == 0 {
		return nil
	}
	return t.h.Handle(ctx, slog.NewRecord(now, slog.LevelWarn, fmt.Sprintf("%d more log lines not shown here; %s", dropped, t.s.hint), 0))
}

type throttleState struct {
	per  int
	now  func() time.Time
	hint string

	mu      sync.Mutex
	window  time.Time // start of the current second
	passed  int
	dropped int
}

type throttle struct {
	h slog.Handler
	s *throttleState
}

func (t throttle) Enabled(ctx context.Context, l slog.Level) bool { return t.h.Enabled(ctx, l) }

func (t throttle) Handle(ctx context.Context, r slog.Record) error {
	s := t.s
	s.mu.Lock()
	now := s.now()
	if now.Sub(s.window) >= time.Second {
		s.window, s.passed = now, 0
	}
	if s.passed >= s.per {
		s.dropped++
		s.mu.Unlock()
		return nil
	}
	s.passed++
	dropped := s.dropped
	s.dropped = 0
	s.mu.Unlock()
	if err := t.note(ctx, now, dropped); err != nil {
		return err
	}
	return t.h.Handle(ctx, r)
}

func (t throttle) WithAttrs(as []slog.Attr) slog.Handler {
	return throttle{h: t.h.WithAttrs(as), s: t.s}
}

func (t throttle) WithGroup(name string) slog.Handler {
	return throttle{h: t.h.WithGroup(name), s: t.s}
}
