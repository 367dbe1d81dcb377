package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTeeWritesFileAndBase(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var console bytes.Buffer
	base := slog.NewTextHandler(&console, &slog.HandlerOptions{Level: slog.LevelInfo})
	log := slog.New(d.Handler(base, "stack-Consumer")).With("function", "stack-Consumer")
	log.Debug("not recorded: base is at Info")
	log.WithGroup("batch").Info("batch processed", "records", 100, "note", "two words")
	log.Warn("record dead-lettered", "reason", `not JSON: invalid character 'o'`)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(console.String(), "\n"); n != 2 {
		t.Errorf("console has %d lines, want 2:\n%s", n, console.String())
	}
	var got []string
	err = Read(context.Background(), dir, "stack-Consumer", ReadOptions{}, func(e Entry) error {
		if e.Time.IsZero() {
			t.Errorf("entry without time: %+v", e)
		}
		got = append(got, e.String()[len("2006-01-02T15:04:05.000Z "):])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`INFO  batch processed batch.records=100 batch.note="two words"`,
		`WARN  record dead-lettered reason="not JSON: invalid character 'o'"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	log.Error("after close")
	if got := len(readAll(t, dir, "stack-Consumer", ReadOptions{})); got != 2 {
		t.Errorf("a write after Close reached the file: %d entries", got)
	}
}

// A quiet console (AtLeast Warn) still leaves every Info record in the
// file, and Options.Level decides what the file keeps.
func TestQuietConsoleFullFile(t *testing.T) {
	for _, tc := range []struct {
		level       slog.Level
		fileEntries int
	}{{slog.LevelInfo, 2}, {slog.LevelDebug, 3}} {
		dir := t.TempDir()
		d, err := Open(dir, Options{Level: tc.level})
		if err != nil {
			t.Fatal(err)
		}
		var console bytes.Buffer
		base := slog.NewTextHandler(&console, &slog.HandlerOptions{Level: slog.LevelDebug})
		log := slog.New(d.Handler(AtLeast(base, slog.LevelWarn), "fn")).With("function", "fn")
		log.Debug("details")
		log.Info("batch processed", "records", 100)
		log.WithGroup("g").Warn("record dead-lettered", "reason", "not UTF-8")
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if got := console.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "g.reason=") || !strings.Contains(got, "function=fn") {
			t.Errorf("file level %v: console has %q, want the warning alone", tc.level, got)
		}
		if got := readAll(t, dir, "fn", ReadOptions{}); len(got) != tc.fileEntries {
			t.Errorf("file level %v: file has %d entries, want %d: %v", tc.level, len(got), tc.fileEntries, got)
		}
	}
}

func TestRotationKeepsFilesAndOrder(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, Options{MaxBytes: 1000, Files: 3})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(d.Handler(nil, "fn"))
	for i := range 100 {
		log.Info("line", "i", i)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := Files(dir, "fn")
	if err != nil {
		t.Fatal(err)
	}
	// Rotated files keep the number they got, counting up; the oldest
	// are deleted.
	want := []string{"fn.log.6", "fn.log.7", "fn.log"}
	if len(files) != len(want) {
		t.Fatalf("files %v, want %v", files, want)
	}
	for i, f := range files {
		if filepath.Base(f) != want[i] {
			t.Errorf("files[%d] = %s, want %s", i, filepath.Base(f), want[i])
		}
		if fi, err := os.Stat(f); err != nil || fi.Size() > 1000 {
			t.Errorf("%s: %v, size over the limit", f, err)
		}
	}
	entries := readAll(t, dir, "fn", ReadOptions{})
	if len(entries) == 0 || entries[len(entries)-1].Attrs[0].Value != "99" {
		t.Fatalf("newest entry missing: %v", entries)
	}
	for i := 1; i < len(entries); i++ {
		if a, b := entries[i-1].Attrs[0].Value, entries[i].Attrs[0].Value; len(a) > len(b) || len(a) == len(b) && a >= b {
			t.Errorf("entries out of order: %s then %s", a, b)
		}
	}
}

func TestReadFilters(t *testing.T) {
	dir := t.TempDir()
	old := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	lines := fmt.Sprintf(`{"time":%q,"level":"INFO","msg":"old batch","records":1}
{"time":%q,"level":"WARN","msg":"record dead-lettered","reason":"not UTF-8"}
{"time":%q,"level":"INFO","msg":"new batch","records":2}
not json at all
{"time":"2026-01-01T11:00:00Z","msg":"torn`, old.Format(time.RFC3339Nano), old.Add(time.Hour).Format(time.RFC3339Nano), old.Add(time.Hour).Format(time.RFC3339Nano))
	if err := os.WriteFile(filepath.Join(dir, FileName("fn")), []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, dir, "fn", ReadOptions{}); len(got) != 4 || got[3].Msg != "not json at all" {
		t.Errorf("all: %v", got)
	}
	if got := readAll(t, dir, "fn", ReadOptions{Since: old.Add(time.Minute)}); len(got) != 3 || got[0].Msg != "record dead-lettered" {
		t.Errorf("since: %v", got)
	}
	if got := readAll(t, dir, "fn", ReadOptions{Filter: "UTF-8"}); len(got) != 1 || got[0].Attrs[0] != (Attr{"reason", "not UTF-8"}) {
		t.Errorf("filter: %v", got)
	}
	if got := readAll(t, dir, "nobody", ReadOptions{}); len(got) != 0 {
		t.Errorf("a function without logs: %v", got)
	}
}

// Follow sees records written after it started, across rotations, each
// exactly once and in order: in bursts of several rotations between two
// polls, and with a rotation every few records while the follower lists
// the directory (a rename during a listing must not reorder or repeat).
func TestFollowAcrossRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int64
		n        int
		pause    func(i int) // between writes
		poll     time.Duration
	}{
		{"bursts", 2000, 300, func(i int) {
			if i%50 == 0 {
				time.Sleep(10 * time.Millisecond)
			}
		}, 5 * time.Millisecond},
		{"rotation every few records", 300, 3000, func(int) {}, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, err := Open(dir, Options{MaxBytes: tc.maxBytes, Files: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			log := slog.New(d.Handler(nil, "fn"))
			log.Info("before", "i", -1)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			seen := map[string]int{}
			last, outOfOrder := -1, 0
			done := make(chan error, 1)
			go func() {
				done <- Follow(ctx, dir, "fn", ReadOptions{Filter: "tick"}, tc.poll, func(e Entry) error {
					mu.Lock()
					defer mu.Unlock()
					seen[e.Attrs[0].Value]++
					if v, _ := strconv.Atoi(e.Attrs[0].Value); v < last {
						outOfOrder++
					} else {
						last = v
					}
					return nil
				})
			}()
			for i := range tc.n {
				log.Info("tick", "i", i)
				tc.pause(i)
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				mu.Lock()
				got := len(seen)
				mu.Unlock()
				if got == tc.n {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("follow saw %d of %d records", got, tc.n)
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Follow returned %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for k, c := range seen {
				if c != 1 {
					t.Errorf("record %s seen %d times", k, c)
				}
			}
			if outOfOrder > 0 {
				t.Errorf("%d records came after a newer one", outOfOrder)
			}
			if files, _ := Files(dir, "fn"); len(files) < 3 {
				t.Errorf("expected rotations, have files %v", files)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"streamproc-DataStreamConsumer": "streamproc-DataStreamConsumer.log",
		"../etc/passwd":                 "_.._etc_passwd.log",
		"":                              "_.log",
	} {
		if got := FileName(in); got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func readAll(t *testing.T, dir, fn string, opts ReadOptions) []Entry {
	t.Helper()
	var out []Entry
	if err := Read(context.Background(), dir, fn, opts, func(e Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// A burst is cut to perSecond lines a second, and the next line that passes
// says how many were left out and where to read them.
func TestThrottle(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	log := slog.New(Throttle(slog.NewTextHandler(&buf, nil), 3, func() time.Time { return now }, "see the file"))
	sub := log.With("function", "f") // derived handlers share the budget
	for i := range 10 {
		sub.Warn("dead-lettered", "i", i)
	}
	now = now.Add(time.Second)
	log.Warn("later")
	out := buf.String()
	if n := strings.Count(out, "dead-lettered"); n != 3 {
		t.Errorf("%d of 10 burst lines passed, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "7 more log lines not shown here; see the file") || !strings.Contains(out, "later") {
		t.Errorf("no summary of the dropped lines before the next one:\n%s", out)
	}
}

// A burst that ends the run is summed up by Flush: no next line comes.
func TestThrottleFlush(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	th := Throttle(slog.NewTextHandler(&buf, nil), 2, func() time.Time { return now }, "see the file")
	log := slog.New(th)
	for i := range 5 {
		log.Warn("dead-lettered", "i", i)
	}
	if err := th.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := th.Flush(context.Background()); err != nil { // nothing new: no second note
		t.Fatal(err)
	}
	if out := buf.String(); strings.Count(out, "3 more log lines not shown here") != 1 || strings.Count(out, "more log lines") != 1 {
		t.Errorf("Flush did not sum up the dropped lines once:\n%s", out)
	}
}
