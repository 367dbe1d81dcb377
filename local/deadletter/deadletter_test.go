package deadletter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

func letter(function string, seq int, data []byte) streamproc.DeadLetter {
	return streamproc.DeadLetter{
		Time:           time.Date(2025, 6, 1, 12, 0, seq%60, 123456789, time.UTC),
		Function:       function,
		Reason:         fmt.Sprintf("parse: bad tweet %d", seq),
		EventSourceARN: "arn:aws:kinesis:local:000000000000:stream/tweets",
		ShardID:        "shardId-000000000001",
		SequenceNumber: fmt.Sprintf("4962%052d", seq),
		SubSequence:    -1,
		PartitionKey:   "alice",
		Data:           data,
	}
}

func open(t *testing.T, dir string) *Queue {
	t.Helper()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func readAll(t *testing.T, q *Queue, function string) []streamproc.DeadLetter {
	t.Helper()
	var out []streamproc.DeadLetter
	if err := q.Read(context.Background(), function, func(l streamproc.DeadLetter) error {
		out = append(out, l)
		return nil
	}); err != nil {
		t.Fatalf("Read(%s): %v", function, err)
	}
	return out
}

func TestPutRead(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "dlq")
	q := open(t, dir)
	binary := []byte{0, 0xff, 0xfe, '\n', '"', 0x80}
	first := []streamproc.DeadLetter{letter("consumer", 1, []byte(`{"id":1}`)), letter("transformer", 2, binary), letter("consumer", 3, nil)}
	agg := letter("consumer", 4, []byte("x"))
	agg.SubSequence = 3
	if err := q.Put(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, []streamproc.DeadLetter{agg}); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		function string
		want     []streamproc.DeadLetter
	}{
		{"consumer", []streamproc.DeadLetter{first[0], first[2], agg}},
		{"transformer", []streamproc.DeadLetter{first[1]}},
		{"nobody", nil},
	}
	for _, tc := range tests {
		if got := readAll(t, q, tc.function); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Read(%s):\ngot  %+v\nwant %+v", tc.function, got, tc.want)
		}
	}
	fns, err := q.Functions()
	if err != nil || !reflect.DeepEqual(fns, []string{"consumer", "transformer"}) {
		t.Fatalf("Functions() = %v, %v", fns, err)
	}
	st, err := os.Stat(filepath.Join(dir, "consumer.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o, want 0600", st.Mode().Perm())
	}
	// Another Queue (a `streamproc dlq` command) reads the same files.
	if got := readAll(t, open(t, dir), "consumer"); len(got) != 3 {
		t.Errorf("second reader found %d letters", len(got))
	}
}

func TestFileName(t *testing.T) {
	tests := map[string]string{
		"consumer":                 "consumer.jsonl",
		"streamproc-Consumer_1.v2": "streamproc-Consumer_1.v2.jsonl",
		"a/b":                      "a_b.jsonl",
		"../../etc/passwd":         ".._.._etc_passwd.jsonl",
		"..":                       "__.jsonl",
		".":                        "_.jsonl",
		"":                         "_.jsonl",
		"fünf":                     "f_nf.jsonl",
		"a\x00b":                   "a_b.jsonl",
	}
	for in, want := range tests {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTornTail simulates a crash in the middle of a write: the partial last
// line is skipped by readers and cut off by the next writer.
func TestTornTail(t *testing.T) {
	ctx := context.Background()
	big := bytes.Repeat([]byte("b"), 100<<10)
	tests := []struct {
		name   string
		before []streamproc.DeadLetter
		torn   func(full []byte) []byte // a prefix of a line, written raw
	}{
		{"half a line", []streamproc.DeadLetter{letter("consumer", 1, []byte("a")), letter("consumer", 2, []byte("b"))},
			func(full []byte) []byte { return full[:len(full)/2] }},
		{"line without its newline", []streamproc.DeadLetter{letter("consumer", 1, []byte("a"))},
			func(full []byte) []byte { return full[:len(full)-1] }},
		{"torn first line", nil,
			func(full []byte) []byte { return full[:10] }},
		{"torn line longer than the repair block", []streamproc.DeadLetter{letter("consumer", 1, big)},
			func(full []byte) []byte { return full[:len(full)-5] }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			q := open(t, dir)
			if err := q.Put(ctx, tc.before); err != nil {
				t.Fatal(err)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			// The crash: part of one more line reaches the disk.
			full, err := os.ReadFile(filepath.Join(dir, "consumer.jsonl"))
			if err != nil && len(tc.before) > 0 {
				t.Fatal(err)
			}
			next := letter("consumer", 99, big)
			line, _ := jsonLine(next)
			f, err := os.OpenFile(filepath.Join(dir, "consumer.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(tc.torn(line)); err != nil {
				t.Fatal(err)
			}
			f.Close()

			// After the restart readers skip the torn line...
			q = open(t, dir)
			if got := readAll(t, q, "consumer"); !reflect.DeepEqual(got, tc.before) {
				t.Fatalf("read %d letters, want the %d complete ones", len(got), len(tc.before))
			}
			// ...and the next Put cuts it off rather than gluing onto it.
			after := letter("consumer", 7, []byte("after"))
			if err := q.Put(ctx, []streamproc.DeadLetter{after}); err != nil {
				t.Fatal(err)
			}
			want := append(append([]streamproc.DeadLetter(nil), tc.before...), after)
			if got := readAll(t, q, "consumer"); !reflect.DeepEqual(got, want) {
				t.Fatalf("after repair: read %d letters, want %d", len(got), len(want))
			}
			content, _ := os.ReadFile(filepath.Join(dir, "consumer.jsonl"))
			if !bytes.HasPrefix(content, full) || !bytes.HasSuffix(content, []byte("\n")) {
				t.Fatal("repair changed the complete lines or left a partial line")
			}
		})
	}
}

func jsonLine(l streamproc.DeadLetter) ([]byte, error) {
	b, err := json.Marshal(l)
	return append(b, '\n'), err
}

func TestCorruptLine(t *testing.T) {
	dir := t.TempDir()
	content := `{"function":"consumer","reason":"ok","subSequenceNumber":-1,"data":null,"time":"2025-06-01T00:00:00Z"}
not json
{"function":"consumer","reason":"later","subSequenceNumber":-1,"data":null,"time":"2025-06-01T00:00:00Z"}
`
	if err := os.WriteFile(filepath.Join(dir, "consumer.jsonl"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	q := open(t, dir)
	n := 0
	err := q.Read(context.Background(), "consumer", func(streamproc.DeadLetter) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "consumer.jsonl:2") || n != 1 {
		t.Fatalf("Read = %v after %d letters; want an error naming line 2 after 1 letter", err, n)
	}
}

func TestReadStops(t *testing.T) {
	ctx := context.Background()
	q := open(t, t.TempDir())
	if err := q.Put(ctx, []streamproc.DeadLetter{letter("f", 1, nil), letter("f", 2, nil), letter("f", 3, nil)}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	n := 0
	if err := q.Read(ctx, "f", func(streamproc.DeadLetter) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Read = %v after %d letters", err, n)
	}
}

// TestClosed: a closed queue refuses Puts as unavailable (a canceled
// context is in the conformance suite).
func TestClosed(t *testing.T) {
	q := open(t, t.TempDir())
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(context.Background(), []streamproc.DeadLetter{letter("f", 1, nil)}); !errors.Is(err, streamproc.ErrUnavailable) {
		t.Fatalf("Put after Close: %v", err)
	}
}
