// Package queue is the local target's SQS-like queue, used as the on-failure
// destination of event source mappings: one append-only JSON Lines file
// per queue, <dir>/<queue>.jsonl, one Message per line.
//
// Durability, torn-line repair and locking are package jsonl's: Send
// returns only when the message is fsynced, and a message cut short by a
// crash was never acknowledged and is skipped. A Queue is safe for
// concurrent use.
package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/jsonl"
)

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
	dir *jsonl.Dir
	now streamproc.Clock
}

// Open returns the queues stored in dir, creating it.
func Open(dir string) (*Queue, error) { return OpenWithOptions(dir, Options{}) }

// OpenWithOptions is Open with a clock.
func OpenWithOptions(dir string, opts Options) (*Queue, error) {
	d, err := jsonl.Open(dir, "queue")
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Queue{dir: d, now: now}, nil
}

// Close closes the open files; later Sends fail with ErrUnavailable.
func (q *Queue) Close() error { return q.dir.Close() }

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
	return q.dir.Append(queueName, append(line, '\n'))
}

// Queues returns the names of the queues that have a file, sorted.
func (q *Queue) Queues() ([]string, error) {
	names, err := q.dir.Names()
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if CheckName(n) == nil {
			out = append(out, n)
		}
	}
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
	found, err := q.dir.Read(ctx, queueName, func(line []byte, n int) error {
		var m Message
		if err := json.Unmarshal(line, &m); err != nil {
			return fmt.Errorf("queue file %s line %d: %w", q.dir.Path(queueName), n, err)
		}
		return fn(m)
	})
	if err == nil && !found {
		return fmt.Errorf("queue %s: %w", queueName, streamproc.ErrNotFound)
	}
	return err
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
