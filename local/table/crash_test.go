package table

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

// The crash and lock tests re-execute this test binary as a child process;
// childEnv selects what the child does.
const (
	childEnv    = "STREAMPROC_TABLE_TEST_CHILD"
	childDirEnv = "STREAMPROC_TABLE_TEST_DIR"
)

// TestMain dispatches to the child roles before any test runs, so a child
// never runs the suite itself.
func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "writer":
		os.Exit(crashWriter(os.Getenv(childDirEnv)))
	case "holder":
		os.Exit(lockHolder(os.Getenv(childDirEnv)))
	default:
		fmt.Fprintln(os.Stderr, "unknown child role", os.Getenv(childEnv))
		os.Exit(2)
	}
}

const (
	crashWriters = 4
	crashItems   = 25
)

func crashItemID(round string, writer, batch, i int) string {
	return fmt.Sprintf("%s-w%d-b%06d-i%02d", round, writer, batch, i)
}

// crashWriter writes full batches from several goroutines (so commits are
// grouped) and prints "ack <writer> <batch>" only after BatchPut returned.
// It runs until killed, with a safety timeout in case the parent died.
func crashWriter(dir string) int {
	ctx := context.Background()
	s, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	if err := s.CreateTable(ctx, events); err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
		return 1
	}
	round := os.Getenv("STREAMPROC_TABLE_TEST_ROUND")
	msg := strings.Repeat("crash-safe ", 20)
	var out sync.Mutex
	for w := range crashWriters {
		go func() {
			for b := 0; ; b++ {
				items := make([]streamproc.Item, crashItems)
				for i := range items {
					items[i] = streamproc.Item{"Username": fmt.Sprintf("user%d", i%5), "Id": crashItemID(round, w, b, i), "Message": msg}
				}
				un, err := s.BatchPut(ctx, events.Name, items)
				if err != nil || len(un) != 0 {
					fmt.Fprintln(os.Stderr, "put:", err, len(un))
					os.Exit(1)
				}
				out.Lock()
				// One write(2) per line, shorter than PIPE_BUF: a kill cannot
				// tear it.
				fmt.Fprintf(os.Stdout, "ack %d %d\n", w, b)
				out.Unlock()
			}
		}()
	}
	time.Sleep(60 * time.Second)
	return 3
}

// TestCrashRecovery SIGKILLs a writer process at random moments and checks
// that every acknowledged item survived and the store reopens cleanly.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	const rounds = 20
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	ctx := context.Background()
	// The table exists before the first child, which may die before it
	// gets to create it.
	s, err := Open(dir, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	totalAcked := 0
	for round := range rounds {
		roundID := fmt.Sprintf("r%02d", round)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=writer", childDirEnv+"="+dir, "STREAMPROC_TABLE_TEST_ROUND="+roundID)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		type ack struct{ w, b int }
		acks := make(chan ack, 1<<16)
		readDone := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				var a ack
				if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &a.w, &a.b); err != nil {
					readDone <- fmt.Errorf("bad child line %q", sc.Text())
					return
				}
				acks <- a
			}
			readDone <- sc.Err()
		}()
		// Kill anywhere from start-up (before the store is open) to well into
		// steady writing; later rounds also replay earlier rounds' WALs.
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		// Read everything the child wrote before it died.
		if err := <-readDone; err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		werr := cmd.Wait()
		if ee, ok := werr.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
			t.Fatalf("round %d: child ended with %v before it was killed; stderr:\n%s", round, werr, stderr.String())
		}
		close(acks)

		s, err := Open(dir, Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		n := 0
		for a := range acks {
			for i := range crashItems {
				key := streamproc.Item{"Username": fmt.Sprintf("user%d", i%5), "Id": crashItemID(roundID, a.w, a.b, i)}
				if _, ok, err := s.Get(ctx, events.Name, key); err != nil || !ok {
					t.Fatalf("round %d: acknowledged item %v lost (found %v, err %v)", round, key, ok, err)
				}
				n++
			}
		}
		// Every few rounds, the whole store must still read cleanly. (Not
		// every round: the store grows, and the acked-item Gets above are
		// the essential check.)
		var start streamproc.Item
		for scanned := 0; round%5 == 4; {
			p, err := s.Scan(ctx, events.Name, start, 0)
			if err != nil {
				t.Fatalf("round %d: scan after reopen: %v", round, err)
			}
			scanned += len(p.Items)
			if p.LastKey == nil {
				if scanned < totalAcked+n {
					t.Fatalf("round %d: scan found %d items, fewer than the %d acknowledged", round, scanned, totalAcked+n)
				}
				break
			}
			start = p.LastKey
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		totalAcked += n
	}
	t.Logf("%d rounds, %d acknowledged items verified", rounds, totalAcked)
	if totalAcked == 0 {
		t.Fatal("no child acknowledged a write; the test proved nothing")
	}
}

// lockHolder opens the store for writing, says "ready", and holds it until
// its stdin closes.
func lockHolder(dir string) int {
	s, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	if err := s.CreateTable(context.Background(), events); err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
		return 1
	}
	return 0
}

// TestReadOnlyWhileAnotherProcessWrites records the Pebble finding: a
// second process cannot open a live store, not even read-only, because the
// directory lock is exclusive in both modes.
func TestReadOnlyWhileAnotherProcessWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=holder", childDirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %q %v; stderr:\n%s", line, err, stderr.String())
	}
	_, err = Open(dir, Options{ReadOnly: true, Logger: testLogger(t)})
	if !errors.Is(err, streamproc.ErrUnavailable) {
		t.Errorf("read-only open of a store another process has open: %v, want ErrUnavailable", err)
	} else {
		t.Logf("as expected: %v", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("holder: %v; stderr:\n%s", err, stderr.String())
	}
	s := openStore(t, dir, Options{ReadOnly: true})
	if _, err := s.DescribeTable(events.Name); err != nil {
		t.Fatalf("read-only open after the writer exited: %v", err)
	}
}
