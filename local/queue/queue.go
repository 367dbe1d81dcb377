// Package queue is the local target's SQS-like queue, used as the on-failure
// destination of event source mappings: one append-only JSON Lines file
// per queue, <dir>/<queue>.jsonl, one Message per line.
//
// Durability: Send appends the message's line with a single write(2) on an
// O_APPEND file and fsyncs it (and, for a new file, the directory) before
// it returns, so an acknowledged message survives a crash.
//
// Torn lines: a crash mid-write can leave a last line without its '\n'.
// That message was never acknowledged. Read skips it, and the first Send to
// the file after a restart (or after a failed write) truncates it back to
// its last complete line before appending.
//
// Concurrency: a Queue is safe for concurrent use. Lock order: Queue.mu
// (guards the file map; never held during I/O) before file.mu (serialises
// appends to one queue). Queues are written in parallel. One process
// appends to a directory at a time; readers may be anywhere.
package queue

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
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/streamproc/streamproc"
)

const ext = ".jsonl"

// MaxMessageBytes is SQS's message size limit (1 MiB since August 2025;
// it was 256 KiB before).
const MaxMessageBytes = 1 << 20

// Message is one stored message.
type Message struct {
	// ID is a random UUID, like an SQS MessageId.
	ID string `json:"id"`
	// Timestamp is when Send stored it (UTC, RFC 3339 with milliseconds).
	Timestamp time.Time `json:"timestamp"`
	// Body is the message text as sent.
	Body string `json:"body"`
}

// Options configure a Queue.
type Options struct {
	// Now stamps messages; nil means time.Now.
	Now streamproc.Clock
}

// Queue is a directory of durable queues.
type Queue struct {
	dir string
	now streamproc.Clock

	mu     sync.Mutex
	files  map[string]*file
	closed bool
}

type file struct {
	mu sync.Mutex
	f  *os.File // nil until opened, and again after a failed write
}

// Open returns the queues stored in dir, creating it.
func Open(dir string) (*Queue, error) { return OpenWithOptions(dir, Options{}) }

// OpenWithOptions is Open with a clock.
func OpenWithOptions(dir string, opts Options) (*Queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("queue dir: %w", err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Queue{dir: dir, now: now, files: map[string]*file{}}, nil
}

// Close closes the open files; later Sends fail with ErrUnavailable.
func (q *Queue) Close() error {
	q.mu.Lock()
	q.closed = true
	files := q.files
	q.files = map[string]*file{}
	q.mu.Unlock()
	var errs []error
	for _, h := range files {
		h.mu.Lock()
		if h.f != nil {
			errs = append(errs, h.f.Close())
			h.f = nil
		}
		h.mu.Unlock()
	}
	return errors.Join(errs...)
}

// CheckName validates a queue name with SQS's rules: 1 to 80 characters,
// letters, digits, '-' and '_', optionally ending in ".fifo". Names that
// pass can never escape the directory.
func CheckName(name string) error {
	base := strings.TrimSuffix(name, ".fifo")
	ok := base != "" && len(name) <= 80
	for _, r := range base {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("%w: queue name %q: can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length", streamproc.ErrInvalid, name)
	}
	return nil
}

// Send durably appends body to the queue, creating the queue on first use.
// The body must be valid UTF-8 (SQS bodies are text) of at most
// MaxMessageBytes; otherwise the error wraps streamproc.ErrInvalid.
func (q *Queue) Send(ctx context.Context, queueName string, body []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := CheckName(queueName); err != nil {
		return err
	}
	if len(body) == 0 || len(body) > MaxMessageBytes {
		return fmt.Errorf("%w: message to %s is %d bytes; it must be 1 to %d", streamproc.ErrInvalid, queueName, len(body), MaxMessageBytes)
	}
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: message to %s is not valid UTF-8", streamproc.ErrInvalid, queueName)
	}
	line, err := json.Marshal(Message{ID: uuid.NewString(), Timestamp: q.now().UTC().Truncate(time.Millisecond), Body: string(body)})
	if err != nil {
		return fmt.Errorf("queue %s: %w", queueName, err)
	}
	return q.append(queueName, append(line, '\n'))
}

func (q *Queue) handle(name string) (*file, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, q.errClosed()
	}
	h, ok := q.files[name]
	if !ok {
		h = &file{}
		q.files[name] = h
	}
	return h, nil
}

func (q *Queue) errClosed() error {
	return fmt.Errorf("queue dir %s is closed: %w", q.dir, streamproc.ErrUnavailable)
}

func (q *Queue) append(name string, line []byte) error {
	h, err := q.handle(name)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	q.mu.Lock()
	closed := q.closed
	q.mu.Unlock()
	if closed {
		// Close ran between handle and h.mu.Lock: do not reopen the file.
		return q.errClosed()
	}
	path := filepath.Join(q.dir, name+ext)
	if h.f == nil {
		f, err := q.openForAppend(path)
		if err != nil {
			return err
		}
		h.f = f
	}
	_, werr := h.f.Write(line)
	if werr == nil {
		werr = h.f.Sync()
	}
	if werr != nil {
		// The file may now end in a partial line; dropping the handle makes
		// the next Send repair the tail first.
		_ = h.f.Close()
		h.f = nil
		return fmt.Errorf("queue file %s: %w", path, werr)
	}
	return nil
}

// openForAppend opens path for appending after truncating a torn last
// line, and makes a new file's directory entry durable.
func (q *Queue) openForAppend(path string) (*os.File, error) {
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("queue file: %w", err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("queue file %s: repair torn tail: %w", path, err)
	}
	if created {
		if err := syncDir(q.dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("queue dir %s: %w", q.dir, err)
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
	const block = 64 << 10
	buf := make([]byte, block)
	for end := st.Size(); end > 0; {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		chunk := buf[:n]
		if end == st.Size() && n > 0 && chunk[n-1] == '\n' {
			return nil // ends cleanly: the common case
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return truncate(f, start+int64(i)+1)
		}
		end = start
	}
	if st.Size() == 0 {
		return nil
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

// Queues returns the names of the queues that have a file, sorted.
func (q *Queue) Queues() ([]string, error) {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("queue dir: %w", err)
	}
	var out []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ext)
		if ok && e.Type().IsRegular() && CheckName(name) == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Read calls fn for each message of the queue, oldest first, and stops at
// the first error fn returns (returned as is). A queue that was never sent
// to is ErrNotFound. A torn last line (a write cut short by a crash, or
// one in progress) is skipped; a malformed complete line is corruption and
// fails the read with its line number.
func (q *Queue) Read(ctx context.Context, queueName string, fn func(Message) error) error {
	if err := CheckName(queueName); err != nil {
		return err
	}
	path := filepath.Join(q.dir, queueName+ext)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("queue %s: %w", queueName, streamproc.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("queue file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // no line, or a torn one
		}
		if err != nil {
			return fmt.Errorf("queue file %s: %w", path, err)
		}
		var m Message
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("queue file %s line %d: %w", path, n, err)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
}

// Destination is one queue as an on-failure destination: it has the
// Send(ctx, body) method esm.Destination asks for, without this package
// importing esm.
type Destination struct {
	q    *Queue
	name string
}

// Destination returns the named queue as a destination. The name is
// checked on every Send.
func (q *Queue) Destination(name string) Destination { return Destination{q: q, name: name} }

// Send appends body to the queue.
func (d Destination) Send(ctx context.Context, body []byte) error {
	return d.q.Send(ctx, d.name, body)
}

// Name is the queue's name.
func (d Destination) Name() string { return d.name }
