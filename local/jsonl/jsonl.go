// Package jsonl is a directory of durable, append-only JSON Lines files:
// the storage under the local dead-letter store and the local queues.
//
// Durability: Append writes its lines with a single write(2) on an O_APPEND
// file and fsyncs it (and, for a new file, the directory) before it
// returns, so acknowledged lines survive a crash.
//
// Torn lines: a crash mid-write can leave a last line without its '\n'.
// That line was never acknowledged. Read skips it, and the first Append to
// the file after a restart (or after a failed write) truncates the file back
// to its last complete line first, so a torn tail never swallows the next
// line.
//
// Concurrency: a Dir is safe for concurrent use. Lock order: Dir.mu (guards
// the file map; never held during I/O) before file.mu (serialises appends
// to one file); closed is atomic so an append can check it while holding
// only its file's lock. Files are written in parallel. One process appends
// to a directory at a time; readers may be anywhere.
package jsonl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/streamproc/streamproc"
)

// Ext is the extension of every file.
const Ext = ".jsonl"

// Dir is a directory of JSON Lines files, one per name.
type Dir struct {
	dir  string
	what string // "dead-letter", "queue": names the store in errors

	mu     sync.Mutex
	files  map[string]*file
	closed atomic.Bool
}

type file struct {
	mu sync.Mutex
	f  *os.File // nil until opened, and again after a failed write
}

// Open returns the files in dir, creating it with mode 0700 (lines can hold
// raw record data). what names the store in error messages.
func Open(dir, what string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s dir: %w", what, err)
	}
	return &Dir{dir: dir, what: what, files: map[string]*file{}}, nil
}

// Close closes the open files; later Appends fail with ErrUnavailable.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed.Store(true)
	var errs []error
	for _, h := range d.files {
		h.mu.Lock()
		if h.f != nil {
			errs = append(errs, h.f.Close())
			h.f = nil
		}
		h.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (d *Dir) errClosed() error {
	return fmt.Errorf("%s dir %s is closed: %w", d.what, d.dir, streamproc.ErrUnavailable)
}

// Path is the file of name. Callers make sure name cannot escape the
// directory.
func (d *Dir) Path(name string) string { return filepath.Join(d.dir, name+Ext) }

// Append durably appends lines (complete, '\n'-terminated) to name's file.
func (d *Dir) Append(name string, lines []byte) error {
	d.mu.Lock()
	if d.closed.Load() {
		d.mu.Unlock()
		return d.errClosed()
	}
	h, ok := d.files[name]
	if !ok {
		h = &file{}
		d.files[name] = h
	}
	d.mu.Unlock()

	h.mu.Lock()
	defer h.mu.Unlock()
	if d.closed.Load() {
		// Close ran between the map lookup and h.mu: do not reopen.
		return d.errClosed()
	}
	path := d.Path(name)
	if h.f == nil {
		f, err := d.openForAppend(path)
		if err != nil {
			return err
		}
		h.f = f
	}
	_, werr := h.f.Write(lines)
	if werr == nil {
		werr = h.f.Sync()
	}
	if werr != nil {
		// The file may now end in a partial line; dropping the handle makes
		// the next Append repair the tail first.
		_ = h.f.Close()
		h.f = nil
		return fmt.Errorf("%s file %s: %w", d.what, path, werr)
	}
	return nil
}

// openForAppend opens path for appending after truncating a torn last line,
// and makes a new file's directory entry durable.
func (d *Dir) openForAppend(path string) (*os.File, error) {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s file: %w", d.what, err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s file %s: repair torn tail: %w", d.what, path, err)
	}
	if created {
		if err := syncDir(d.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s dir %s: %w", d.what, d.dir, err)
		}
	}
	return f, nil
}

// repairTail truncates f after its last '\n' when its last line is torn.
func repairTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		return nil
	}
	// Scan backwards in blocks for the last newline.
	const block = 64 << 10
	buf := make([]byte, block)
	for end := size; end > 0; {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		chunk := buf[:n]
		if end == size && n > 0 && chunk[n-1] == '\n' {
			return nil // ends cleanly: the common case
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return truncate(f, start+int64(i)+1)
		}
		end = start
	}
	return truncate(f, 0)
}

func truncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Names returns the names that have a file, sorted.
func (d *Dir) Names() ([]string, error) {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("%s dir: %w", d.what, err)
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), Ext); ok && e.Type().IsRegular() {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Read calls fn with each complete line of name's file (without its '\n')
// and its 1-based line number, oldest first, and stops at the first error fn
// returns (returned as is). found is false when the file does not exist. A
// torn last line is skipped.
func (d *Dir) Read(ctx context.Context, name string, fn func(line []byte, n int) error) (found bool, err error) {
	path := d.Path(name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s file: %w", d.what, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return true, nil // no more lines, or a torn one
		}
		if err != nil {
			return true, fmt.Errorf("%s file %s: %w", d.what, path, err)
		}
		if err := fn(line[:len(line)-1], n); err != nil {
			return true, err
		}
	}
}
