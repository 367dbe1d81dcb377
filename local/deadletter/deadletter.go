// Package deadletter is the local target's dead-letter store (Lambda's
// OnFailure destination): one append-only JSON Lines file per function,
// <dir>/<function>.jsonl, one streamproc.DeadLetter per line.
//
// Durability: Put writes each function's lines with a single write(2) on an
// O_APPEND file and fsyncs it (and, for a new file, the directory) before it
// returns, so an acknowledged letter survives a crash.
//
// Torn lines: a crash mid-write can leave a last line without its '\n'. That
// line was never acknowledged. Read skips it, and the first Put after a
// restart (or after a failed write) truncates the file back to its last
// complete line before appending, so a torn tail never swallows the next
// letter.
//
// Concurrency: a Queue is safe for concurrent use. Lock order: Queue.mu
// (guards the handle map, never held during I/O) before fileHandle.mu
// (serializes appends to one file). Letters of different functions are
// written in parallel. One process appends to a directory at a time;
// readers in other processes are fine.
package deadletter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

const ext = ".jsonl"

// Queue stores dead letters under one directory.
type Queue struct {
	dir string

	mu    sync.Mutex
	files map[string]*fileHandle
	// closed is atomic so an append can check it while holding only its
	// file's lock (taking mu there would invert the lock order).
	closed atomic.Bool
}

type fileHandle struct {
	mu sync.Mutex
	f  *os.File // nil until opened, and again after a failed write
}

var _ streamproc.DeadLetterSink = (*Queue)(nil)

// Open returns a Queue storing letters in dir, creating it (mode 0700:
// letters hold raw record data) when needed.
func Open(dir string) (*Queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dead-letter dir: %w", err)
	}
	return &Queue{dir: dir, files: map[string]*fileHandle{}}, nil
}

// Close closes the open files. Later Puts fail with ErrUnavailable.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed.Store(true)
	var errs []error
	for _, h := range q.files {
		h.mu.Lock()
		if h.f != nil {
			errs = append(errs, h.f.Close())
			h.f = nil
		}
		h.mu.Unlock()
	}
	return errors.Join(errs...)
}

// FileName returns the file name letters of function go to: characters
// other than letters, digits, '-', '_' and '.' become '_', so a function
// name can never escape the directory. Lambda names only use the allowed
// characters, so for them it is the name itself.
func FileName(function string) string {
	var b strings.Builder
	for _, r := range function {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == "" || strings.Trim(name, ".") == "" {
		// "", "." and ".." are not file names we may create.
		name = strings.Repeat("_", max(len(name), 1))
	}
	return name + ext
}

// Put durably appends letters, grouped by function, and returns only when
// all of them are fsynced. On error some letters may be stored; the caller
// retries the whole call (letters carry shard and sequence, so readers can
// spot duplicates).
func (q *Queue) Put(ctx context.Context, letters []streamproc.DeadLetter) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	byFile := map[string]*bytes.Buffer{}
	var order []string
	for i := range letters {
		name := FileName(letters[i].Function)
		buf, ok := byFile[name]
		if !ok {
			buf = &bytes.Buffer{}
			byFile[name] = buf
			order = append(order, name)
		}
		line, err := json.Marshal(&letters[i])
		if err != nil {
			return fmt.Errorf("dead letter %d: %w", i, err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	for _, name := range order {
		if err := q.append(name, byFile[name].Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func (q *Queue) handle(name string) (*fileHandle, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed.Load() {
		return nil, q.errClosed()
	}
	h, ok := q.files[name]
	if !ok {
		h = &fileHandle{}
		q.files[name] = h
	}
	return h, nil
}

func (q *Queue) errClosed() error {
	return fmt.Errorf("dead-letter queue %s is closed: %w", q.dir, streamproc.ErrUnavailable)
}

func (q *Queue) append(name string, data []byte) error {
	h, err := q.handle(name)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if q.closed.Load() {
		// Close ran between handle and h.mu.Lock; do not reopen the file.
		return q.errClosed()
	}
	path := filepath.Join(q.dir, name)
	if h.f == nil {
		f, err := q.openForAppend(path)
		if err != nil {
			return err
		}
		h.f = f
	}
	_, werr := h.f.Write(data)
	if werr == nil {
		werr = h.f.Sync()
	}
	if werr != nil {
		// The file may now end in a partial line. Dropping the handle makes
		// the next Put repair the tail before appending.
		_ = h.f.Close()
		h.f = nil
		return fmt.Errorf("dead-letter file %s: %w", path, werr)
	}
	return nil
}

// openForAppend opens path for appending, first truncating a torn last line
// (see the package doc), and makes a newly created file's directory entry
// durable.
func (q *Queue) openForAppend(path string) (*os.File, error) {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dead-letter file: %w", err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("dead-letter file %s: repair torn tail: %w", path, err)
	}
	if created {
		if err := syncDir(q.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("dead-letter dir %s: %w", q.dir, err)
		}
	}
	return f, nil
}

// repairTail truncates f after its last '\n' when the last line is torn.
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
	end := size
	for end > 0 {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		chunk := buf[:n]
		if end == size && len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			return nil // the common case: the file ends cleanly
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

// Functions returns the (file-name form of the) functions that have a
// dead-letter file, sorted.
func (q *Queue) Functions() ([]string, error) {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("dead-letter dir: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ext) {
			out = append(out, strings.TrimSuffix(e.Name(), ext))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Read calls fn for each stored letter of function, oldest first, and stops
// at the first error fn returns. A function without letters is no error. A
// torn last line (a write cut short by a crash, or one in progress) is
// skipped; a malformed complete line is corruption and fails the read with
// its line number.
func (q *Queue) Read(ctx context.Context, function string, fn func(streamproc.DeadLetter) error) error {
	path := filepath.Join(q.dir, FileName(function))
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // len(line) > 0 here is a torn last line
		}
		if err != nil {
			return fmt.Errorf("dead-letter file %s: %w", path, err)
		}
		var l streamproc.DeadLetter
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("dead-letter file %s:%d: %w", path, n, err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}
