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

// Read calls fn with each entry of function's files under dir, oldest
// first, and stops at the first error fn returns. No files is no error. A
// rotation while Read runs can make it skip or repeat a file's worth of
// entries; Follow is the way to watch a running stack.
func Read(ctx context.Context, dir, function string, opts ReadOptions, fn func(Entry) error) error {
	files, err := Files(dir, function)
	if err != nil {
		return err
	}
	for _, p := range files {
		if err := readFile(ctx, p, opts, fn); err != nil {
			return err
		}
	}
	return nil
}

func readFile(ctx context.Context, path string, opts ReadOptions, fn func(Entry) error) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // rotated away since it was listed
	}
	if err != nil {
		return fmt.Errorf("function log: %w", err)
	}
	defer f.Close()
	_, err = emitLines(ctx, bufio.NewReaderSize(f, 64<<10), nil, opts, fn)
	return err
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

// Follow is Read, then it waits for new entries until ctx ends, checking
// every poll (default 250 ms). It survives rotation: when the current file
// is renamed away it reads what is left of it and continues with the new
// one. A function that has not logged yet is waited for. It returns
// ctx's error.
func Follow(ctx context.Context, dir, function string, opts ReadOptions, poll time.Duration, fn func(Entry) error) error {
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	current := filepath.Join(dir, FileName(function))
	files, err := Files(dir, function)
	if err != nil {
		return err
	}
	for _, p := range files {
		if p != current {
			if err := readFile(ctx, p, opts, fn); err != nil {
				return err
			}
		}
	}
	var (
		f       *os.File
		info    os.FileInfo
		r       *bufio.Reader
		partial []byte
		offset  int64
	)
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		if f == nil {
			nf, err := os.Open(current)
			switch {
			case err == nil:
				if info, err = nf.Stat(); err != nil {
					nf.Close()
					return fmt.Errorf("function log: %w", err)
				}
				f, r, partial, offset = nf, bufio.NewReaderSize(nf, 64<<10), nil, 0
			case !errors.Is(err, fs.ErrNotExist):
				return fmt.Errorf("function log: %w", err)
			}
		}
		if f != nil {
			if partial, err = emitLines(ctx, r, partial, opts, fn); err != nil {
				return err
			}
			// emitLines read to EOF, so the file position is what was read.
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil && pos != offset {
				offset = pos
				continue // more may have arrived while we read
			}
			st, err := os.Stat(current)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				// Between the rename and the new file's first write: keep
				// the old one until a new file appears.
			case err != nil:
				return fmt.Errorf("function log: %w", err)
			case !os.SameFile(info, st):
				// Rotated: drain what the writer added before the rename,
				// read the files rotated after ours (several rotations may
				// have happened since the last look), then switch to the new
				// current file.
				if _, err := emitLines(ctx, r, partial, opts, fn); err != nil {
					return err
				}
				f.Close()
				f = nil
				if err := readNewer(ctx, dir, function, current, info, opts, fn); err != nil {
					return err
				}
				continue
			case st.Size() < offset:
				// Truncated by someone: start over.
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return fmt.Errorf("function log: %w", err)
				}
				r.Reset(f)
				partial, offset = nil, 0
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// readNewer reads the rotated files of function that are newer than the
// file identified by seen, oldest first. Files are opened before any is
// read, so a rotation while reading cannot shift one away from under us;
// only a writer that rotates more than Options.Files times between two
// looks can make a follower miss entries.
func readNewer(ctx context.Context, dir, function, current string, seen os.FileInfo, opts ReadOptions, fn func(Entry) error) error {
	files, err := Files(dir, function)
	if err != nil {
		return err
	}
	var newer []*os.File
	defer func() {
		for _, f := range newer {
			f.Close()
		}
	}()
	found := false
	for _, p := range files {
		if p == current {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue // rotated out of existence since it was listed
		}
		fi, err := f.Stat()
		switch {
		case err != nil:
			f.Close()
		case os.SameFile(fi, seen):
			found = true
			f.Close()
		case found:
			newer = append(newer, f)
		default:
			f.Close()
		}
	}
	for _, f := range newer {
		if _, err := emitLines(ctx, bufio.NewReaderSize(f, 64<<10), nil, opts, fn); err != nil {
			return err
		}
	}
	return nil
}
