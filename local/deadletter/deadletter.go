// Package deadletter is the local target's dead-letter store (Lambda's
// OnFailure destination): one append-only JSON Lines file per function,
// <dir>/<function>.jsonl, one streamproc.DeadLetter per line.
//
// Durability, torn-line repair and locking are package jsonl's: Put returns
// only when its letters are fsynced, and a letter cut short by a crash was
// never acknowledged and is skipped. A Queue is safe for concurrent use.
package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/jsonl"
)

// Queue stores dead letters under one directory.
type Queue struct {
	dir *jsonl.Dir
}

var _ streamproc.DeadLetterSink = (*Queue)(nil)

// Open returns a Queue storing letters in dir, creating it (mode 0700:
// letters hold raw record data) when needed.
func Open(dir string) (*Queue, error) {
	d, err := jsonl.Open(dir, "dead-letter")
	if err != nil {
		return nil, err
	}
	return &Queue{dir: d}, nil
}

// Close closes the open files. Later Puts fail with ErrUnavailable.
func (q *Queue) Close() error { return q.dir.Close() }

// FileName returns the file name letters of function go to: characters
// other than letters, digits, '-', '_' and '.' become '_', so a function
// name can never escape the directory. Lambda names only use the allowed
// characters, so for them it is the name itself.
func FileName(function string) string { return baseName(function) + jsonl.Ext }

func baseName(function string) string {
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
	return name
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
		name := baseName(letters[i].Function)
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
		if err := q.dir.Append(name, byFile[name].Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// Functions returns the (file-name form of the) functions that have a
// dead-letter file, sorted.
func (q *Queue) Functions() ([]string, error) { return q.dir.Names() }

// Read calls fn for each stored letter of function, oldest first, and stops
// at the first error fn returns. A function without letters is no error. A
// torn last line (a write cut short by a crash, or one in progress) is
// skipped; a malformed complete line is corruption and fails the read with
// its line number.
func (q *Queue) Read(ctx context.Context, function string, fn func(streamproc.DeadLetter) error) error {
	name := baseName(function)
	_, err := q.dir.Read(ctx, name, func(line []byte, n int) error {
		var l streamproc.DeadLetter
		if err := json.Unmarshal(line, &l); err != nil {
			return fmt.Errorf("dead-letter file %s:%d: %w", q.dir.Path(name), n, err)
		}
		return fn(l)
	})
	return err
}
