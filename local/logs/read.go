package logs

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
	"slices"
	"strconv"
	"strings"
	"time"
)

// Entry is one log record read back from a file.
type Entry struct {
	// Time is the record's time; zero when the line is not a slog record.
	Time  time.Time
	Level string
	Msg   string
	// Attrs are the other fields in file order; groups are flattened with
	// dots (group.key).
	Attrs []Attr
}

// Attr is one field of an Entry, its value rendered as text (strings as
// is, anything else as compact JSON).
type Attr struct{ Key, Value string }

// Parse decodes one line written by a Dir's handler. A line that is not a
// JSON object comes back whole as the message, so nothing is hidden.
func Parse(line []byte) Entry {
	line = bytes.TrimSpace(line)
	var e Entry
	var attrs []Attr
	if err := flatten(line, "", &attrs); err != nil {
		return Entry{Msg: string(line)}
	}
	for _, a := range attrs {
		switch a.Key {
		case "time":
			if t, err := time.Parse(time.RFC3339Nano, a.Value); err == nil {
				e.Time = t
				continue
			}
		case "level":
			e.Level = a.Value
			continue
		case "msg":
			e.Msg = a.Value
			continue
		}
		e.Attrs = append(e.Attrs, a)
	}
	return e
}

// flatten appends the fields of the JSON object obj to out, nested objects
// as prefix.key.
func flatten(obj []byte, prefix string, out *[]Attr) error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		switch raw[0] {
		case '{':
			if err := flatten(raw, prefix+key+".", out); err != nil {
				return err
			}
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			*out = append(*out, Attr{prefix + key, s})
		default:
			*out = append(*out, Attr{prefix + key, string(raw)})
		}
	}
	_, err = dec.Token() // the closing brace
	return err
}

// String renders e as one line, as `sam logs` does: time (UTC, ms), level,
// message, then key=value attributes. The function attribute is left out:
// every line of a file has the same one.
func (e Entry) String() string {
	var b strings.Builder
	if !e.Time.IsZero() {
		b.WriteString(e.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
		b.WriteByte(' ')
	}
	if e.Level != "" {
		fmt.Fprintf(&b, "%-5s ", e.Level)
	}
	b.WriteString(e.Msg)
	for _, a := range e.Attrs {
		if a.Key == "function" {
			continue
		}
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		if a.Value == "" || strings.ContainsAny(a.Value, " \t\n\"=") {
			b.WriteString(strconv.Quote(a.Value))
		} else {
			b.WriteString(a.Value)
		}
	}
	return b.String()
}

// ReadOptions select entries.
type ReadOptions struct {
	// Since drops entries older than it (zero: keep all).
	Since time.Time
	// Filter keeps only entries whose rendered line contains it.
	Filter string
}

func (o ReadOptions) keep(e Entry) bool {
	if !o.Since.IsZero() && !e.Time.IsZero() && e.Time.Before(o.Since) {
		return false
	}
	return o.Filter == "" || strings.Contains(e.String(), o.Filter)
}

// emitLines passes every complete line of r (after the partial line carried
// over from the previous call) to fn, and returns the new partial line.
func emitLines(ctx context.Context, r *bufio.Reader, partial []byte, opts ReadOptions, fn func(Entry) error) ([]byte, error) {
	for {
		if err := ctx.Err(); err != nil {
			return partial, err
		}
		chunk, err := r.ReadBytes('\n')
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			line := chunk
			if len(partial) > 0 {
				line = append(partial, chunk...)
				partial = nil
			}
			if len(bytes.TrimSpace(line)) > 0 {
				if e := Parse(line); opts.keep(e) {
					if err := fn(e); err != nil {
						return nil, err
					}
				}
			}
		} else {
			// A record still being written: finish it on the next call.
			partial = append(partial, chunk...)
		}
		if errors.Is(err, io.EOF) {
			return partial, nil
		}
		if err != nil {
			return partial, fmt.Errorf("function log: %w", err)
		}
	}
}

// Read calls fn with each entry of function's files under dir, oldest
// first, and stops at the first error fn returns. No files is no error.
// It is safe to run while the stack writes and rotates: every entry
// written before Read started is read once, unless retention deleted its
// file first.
func Read(ctx context.Context, dir, function string, opts ReadOptions, fn func(Entry) error) error {
	t := newTail(dir, function, opts, fn)
	defer t.close()
	if err := t.catchUp(ctx); err != nil {
		return err
	}
	if t.f == nil {
		return nil
	}
	_, err := emitLines(ctx, t.r, nil, opts, fn)
	return err
}

// Follow is Read, then it waits for new entries until ctx ends, checking
// every poll (default 250 ms). It survives rotation, however many happen
// between two looks: rotated files keep their name once rotated and are
// numbered in order, so a follower that finds its file rotated reads every
// file rotated after it, then the new current one. A function that has
// not logged yet is waited for. It returns ctx's error.
func Follow(ctx context.Context, dir, function string, opts ReadOptions, poll time.Duration, fn func(Entry) error) error {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	t := newTail(dir, function, opts, fn)
	defer t.close()
	for {
		if t.f == nil {
			if err := t.catchUp(ctx); err != nil {
				return err
			}
		}
		if t.f != nil {
			more, err := t.step(ctx)
			if err != nil {
				return err
			}
			if more {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// tail reads one function's files in order, the state of Read and Follow.
type tail struct {
	current string // path of the current file
	opts    ReadOptions
	fn      func(Entry) error

	// last is the number of the newest rotated file read to its end.
	last int

	// The file being read as the current one, once opened.
	f       *os.File
	info    os.FileInfo
	r       *bufio.Reader
	partial []byte
	offset  int64
}

func newTail(dir, function string, opts ReadOptions, fn func(Entry) error) *tail {
	return &tail{current: filepath.Join(dir, FileName(function)), opts: opts, fn: fn}
}

func (t *tail) close() {
	if t.f != nil {
		t.f.Close()
		t.f = nil
	}
}

// catchUp opens the current file, then reads every rotated file newer than
// t.last up to it. Opening the current file first is what makes this
// race-free: a file rotated before that open already has its final name
// when the directory is listed, and one rotated after it is the file just
// opened or newer, where reading stops.
func (t *tail) catchUp(ctx context.Context) (err error) {
	cur, err := os.Open(t.current)
	var curInfo os.FileInfo
	switch {
	case err == nil:
		defer func() {
			if t.f != cur {
				cur.Close() // not handed over: an error ended the catch-up
			}
		}()
		if curInfo, err = cur.Stat(); err != nil {
			return fmt.Errorf("function log: %w", err)
		}
	case errors.Is(err, fs.ErrNotExist):
		cur = nil // not logged yet, or between a rotation's rename and the next write
	default:
		return fmt.Errorf("function log: %w", err)
	}
	rotated, err := rotatedFiles(t.current)
	if err != nil {
		return err
	}
	if cur != nil {
		// A directory listing is no snapshot: if the file opened as current
		// was renamed while it ran, the listing may lack it and hold newer
		// ones. The rename is done once the name points elsewhere, so a
		// second listing has it.
		if st, err := os.Stat(t.current); err != nil || !os.SameFile(st, curInfo) {
			if rotated, err = rotatedFiles(t.current); err != nil {
				return err
			}
		}
	}
	if cur == nil {
		// No anchor: a rotation may be between its rename and its new
		// file. A listing may then miss a file renamed while it ran yet
		// hold a newer one, and reading past the missed one would lose it.
		// Two equal listings in a row rule that out: whatever the second
		// missed came after the first was complete, so it is newer than
		// every listed file and is read next time.
		for {
			again, err := rotatedFiles(t.current)
			if err != nil {
				return err
			}
			if slices.Equal(again, rotated) {
				break
			}
			rotated = again
		}
	}
	if n := len(rotated); n > 0 && rotated[n-1].n < t.last {
		t.last = 0 // numbering restarted: the data dir was cleared
	}
	for _, rf := range rotated {
		if rf.n <= t.last {
			continue
		}
		f, err := os.Open(rf.path)
		if err != nil {
			continue // deleted by retention since it was listed
		}
		fi, err := f.Stat()
		if err == nil && cur != nil && os.SameFile(fi, curInfo) {
			f.Close()
			break // the file opened as current has been rotated: read it as current
		}
		if err == nil {
			_, err = emitLines(ctx, bufio.NewReaderSize(f, 64<<10), nil, t.opts, t.fn)
		} else {
			err = fmt.Errorf("function log: %w", err)
		}
		f.Close()
		if err != nil {
			return err
		}
		t.last = rf.n
	}
	if cur != nil {
		t.f, t.info, t.r, t.partial, t.offset = cur, curInfo, bufio.NewReaderSize(cur, 64<<10), nil, 0
	}
	return nil
}

// step reads what was appended to the current file and handles its
// rotation or truncation. It reports whether to look again at once.
func (t *tail) step(ctx context.Context) (bool, error) {
	var err error
	if t.partial, err = emitLines(ctx, t.r, t.partial, t.opts, t.fn); err != nil {
		return false, err
	}
	// emitLines read to EOF, so the file position is what was read.
	if pos, err := t.f.Seek(0, io.SeekCurrent); err == nil && pos != t.offset {
		t.offset = pos
		return true, nil // more may have arrived while we read
	}
	st, err := os.Stat(t.current)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Between a rotation's rename and the new file's first write: keep
		// the old one until a new file appears.
	case err != nil:
		return false, fmt.Errorf("function log: %w", err)
	case !os.SameFile(t.info, st):
		// Rotated: drain what the writer added before the rename, learn
		// the number our file was rotated to, and let catchUp read the
		// newer ones. If retention already deleted it, every rotated file
		// above t.last is newer than it.
		if _, err := emitLines(ctx, t.r, t.partial, t.opts, t.fn); err != nil {
			return false, err
		}
		rotated, err := rotatedFiles(t.current)
		if err != nil {
			return false, err
		}
		for _, rf := range rotated {
			if fi, err := os.Stat(rf.path); err == nil && os.SameFile(fi, t.info) {
				// Never back: catchUp may have read newer files first when
				// retention deleted ours before it listed.
				t.last = max(t.last, rf.n)
				break
			}
		}
		t.close()
		return true, nil
	case st.Size() < t.offset:
		// Truncated by someone: start over.
		if _, err := t.f.Seek(0, io.SeekStart); err != nil {
			return false, fmt.Errorf("function log: %w", err)
		}
		t.r.Reset(t.f)
		t.partial, t.offset = nil, 0
	}
	return false, nil
}
