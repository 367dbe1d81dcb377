package stream

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
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

// The crash test re-executes the test binary as a writer child (selected by
// crashDirEnv in TestMain), SIGKILLs it at random moments and checks, after
// every kill, that every record the child saw acknowledged is readable
// exactly once and in order.

const (
	crashDirEnv   = "STREAMPROC_STREAM_CRASH_DIR"
	crashRoundEnv = "STREAMPROC_STREAM_CRASH_ROUND"
	crashStream   = "crash"
	crashShards   = 3
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir, os.Getenv(crashRoundEnv))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashPayload builds a record whose content can be checked: the id, a
// bar, then padding that repeats one byte derived from the id.
func crashPayload(id string, pad int) []byte {
	return append([]byte(id+"|"), strings.Repeat(string(rune('a'+len(id)%26)), pad)...)
}

func checkCrashPayload(d []byte) (string, bool) {
	id, pad, ok := strings.Cut(string(d), "|")
	if !ok {
		return "", false
	}
	return id, strings.Trim(pad, string(rune('a'+len(id)%26))) == ""
}

// crashChild writes until it is killed. After each PutRecords returns it
// prints one line per acknowledged entry: "<shardId> <sequence> <id>".
func crashChild(dir, round string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(1)
	}
	e, err := Open(dir, Options{SegmentBytes: 256 << 10})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	if err := e.CreateStream(ctx, crashStream, crashShards); err != nil && !errors.Is(err, ErrExists) {
		fail(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			var line []byte
			for n := 0; ; n++ {
				recs := make([]streamproc.Record, 1+rng.IntN(200))
				for i := range recs {
					id := fmt.Sprintf("r%s-w%d-%d-%d", round, w, n, i)
					recs[i] = streamproc.Record{PartitionKey: fmt.Sprint(rng.IntN(50)), Data: crashPayload(id, rng.IntN(1500))}
				}
				res, err := e.PutRecords(ctx, crashStream, recs)
				if err != nil {
					fail(err)
				}
				line = line[:0]
				for i, r := range res {
					if r.ErrorCode != "" {
						fail(fmt.Errorf("entry failed: %s", r.ErrorCode))
					}
					id, _ := checkCrashPayload(recs[i].Data)
					line = fmt.Appendf(line, "%s %s %s\n", r.ShardID, r.SequenceNumber, id)
				}
				mu.Lock()
				_, err = os.Stdout.Write(line)
				mu.Unlock()
				if err != nil {
					fail(err)
				}
			}
		})
	}
	wg.Wait()
}

type ack struct{ shard, seq string }

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs child processes; skipped with -short")
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	acked := map[string]ack{}
	const rounds = 20
	start := time.Now()
	var log strings.Builder // recovery log of the verifying opens
	tears := 0
	for round := range rounds {
		lines, stderr := runCrashChild(t, dir, round, rng)
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) != 3 {
				t.Fatalf("round %d: bad child line %q", round, l)
			}
			acked[f[2]] = ack{f[0], f[1]}
		}
		if strings.Contains(stderr, "crash child:") {
			t.Fatalf("round %d: child failed: %s", round, stderr)
		}
		if round%3 == 2 && tearTail(t, dir, rng) {
			tears++
		}
		n := verifyCrashDir(t, dir, acked, &log)
		t.Logf("round %d: %d acknowledged this round, %d total, %d stored", round, len(lines), len(acked), n)
	}
	if len(acked) == 0 {
		t.Fatal("no record was ever acknowledged")
	}
	if got := strings.Count(log.String(), "truncating torn tail"); got < tears {
		t.Fatalf("recovery truncated %d torn tails, want at least the %d injected", got, tears)
	}
	t.Logf("%d rounds in %v", rounds, time.Since(start).Round(time.Millisecond))
}

// runCrashChild starts a writer child and SIGKILLs it at a random moment:
// in half the rounds anywhere from its start (possibly during recovery),
// otherwise after it has acknowledged something. It returns the complete
// acknowledgement lines.
func runCrashChild(t *testing.T, dir string, round int, rng *rand.Rand) ([]string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan struct{})
	var lines []string
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		r := bufio.NewReaderSize(out, 1<<20)
		once := sync.OnceFunc(func() { close(first) })
		for {
			l, err := r.ReadString('\n')
			if err != nil { // EOF; a partial last line is not an acknowledgement
				once()
				return
			}
			lines = append(lines, strings.TrimSuffix(l, "\n"))
			once()
		}
	}()
	if round%2 == 0 {
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	} else {
		select {
		case <-first:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: child acknowledged nothing in 10s: %s", round, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
	}
	_ = cmd.Process.Kill() // SIGKILL
	<-readDone
	_ = cmd.Wait()
	return lines, stderr.String()
}

// tearTail appends something that looks like an interrupted write to the
// newest segment of a random shard, reporting whether there was one.
func tearTail(t *testing.T, dir string, rng *rand.Rand) bool {
	t.Helper()
	shards, _ := filepath.Glob(filepath.Join(dir, "streams", "*", "shardId-*"))
	if len(shards) == 0 {
		return false
	}
	sh := shards[rng.IntN(len(shards))]
	ents, _ := os.ReadDir(sh)
	if len(ents) == 0 {
		return false
	}
	path := filepath.Join(sh, ents[len(ents)-1].Name())
	h := frameHeader{bodyLen: 5000, first: 1 << 40, count: 3, arrival: 1}
	tail := make([]byte, headerLen, headerLen+100)
	h.put(tail)
	tail = append(tail, make([]byte, rng.IntN(100))...)
	tail = tail[:1+rng.IntN(len(tail))]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write(tail)
	_ = f.Close()
	return true
}

// verifyCrashDir opens the directory and checks every acknowledged record
// is stored exactly once, where it was acknowledged, with per-shard
// increasing sequence numbers. It returns the number of records stored.
func verifyCrashDir(t *testing.T, dir string, acked map[string]ack, log io.Writer) int {
	t.Helper()
	e, err := Open(dir, Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatalf("reopen after crash: %v", err)
	}
	defer e.Close()
	ctx := context.Background()
	seen := map[string]ack{}
	for i := range crashShards {
		sh := shardID(i)
		c, err := e.Iterator(ctx, crashStream, sh, Position{Type: TrimHorizon})
		if errors.Is(err, streamproc.ErrNotFound) {
			break // killed before CreateStream committed
		}
		if err != nil {
			t.Fatal(err)
		}
		prev := ""
		for {
			b, err := e.Read(ctx, crashStream, sh, c, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range b.Records {
				id, ok := checkCrashPayload(r.Data)
				if !ok {
					t.Fatalf("%s %s: payload damaged", sh, r.SequenceNumber)
				}
				if _, dup := seen[id]; dup {
					t.Fatalf("record %s stored twice", id)
				}
				if !(prev < r.SequenceNumber) {
					t.Fatalf("%s: sequence %s after %s", sh, r.SequenceNumber, prev)
				}
				prev = r.SequenceNumber
				seen[id] = ack{sh, r.SequenceNumber}
			}
			c = b.Next
			if len(b.Records) == 0 {
				break
			}
		}
	}
	for id, a := range acked {
		if got, ok := seen[id]; !ok || got != a {
			t.Fatalf("acknowledged record %s (%s %s) not found (got %+v)", id, a.shard, a.seq, got)
		}
	}
	return len(seen)
}
