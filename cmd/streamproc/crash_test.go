package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/tweet"
)

// Crash safety of the whole stack, tested by killing it: `up` is SIGKILLed
// while tweets flow, started again on the same data dir, and then every
// tweet in the stream is in EventData and in a delivered object (at least
// once — duplicates are allowed after a crash, as on AWS; losses are not).
func TestUpSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "streamproc")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	tmpl, _ := filepath.Abs("../../template.yaml")
	args := func(extra ...string) []string {
		return append([]string{"--data-dir", dir, "-t", tmpl, "up", "--addr", "127.0.0.1:0", "--ui-addr", "off", "--poll-interval", "50ms", "--status-interval", "0",
			"--parameter-overrides", "DeliveryBufferSeconds=1 TrendsWindowSeconds=1 ConsumerBatchingWindowSeconds=0 ShardCount=2"}, extra...)
	}
	for round := range 3 {
		var out bytes.Buffer
		cmd := exec.Command(bin, args("--rate", "400")...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(1200+round*500) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if !strings.Contains(out.String(), "ready in") {
			t.Fatalf("round %d: up did not start:\n%s", round, out.String())
		}
	}
	// Restart without a source: it must catch up on everything.
	out, err := exec.Command(bin, args("--source", "none", "--duration", "3s")...).CombinedOutput()
	if err != nil {
		t.Fatalf("restart: %v\n%s", err, out)
	}

	// What the stream holds.
	eng, err := stream.Open(filepath.Join(dir, "streams"), stream.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := map[string]bool{}
	shards, err := eng.Shards(ctx, "streamproc-EventStream")
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		cur, err := eng.Iterator(ctx, "streamproc-EventStream", sh.ID, stream.Position{Type: stream.TrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for {
			b, err := eng.Read(ctx, "streamproc-EventStream", sh.ID, cur, stream.MaxGetRecords, stream.MaxGetRecordsBytes)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range b.Records {
				users, _, _ := kpl.Deaggregate(r.Data)
				for _, u := range users {
					if msg, err := tweet.Decode(u.Data); err == nil && msg.Kind == tweet.KindTweet {
						want[msg.Tweets[0].User.ScreenName+"/"+msg.Tweets[0].IDStr] = true
					}
				}
			}
			if len(b.Records) == 0 {
				break
			}
			cur = b.Next
		}
	}
	eng.Close()
	if len(want) < 500 {
		t.Fatalf("only %d tweets were written before the kills; the test proves nothing", len(want))
	}

	c := &cli{t: t, dir: dir}
	got := map[string]bool{}
	for _, it := range jsonLines(t, c.mustRun("", "table", "scan", "EventData")) {
		got[it["Username"].(string)+"/"+it["Id"].(string)] = true
	}
	missing := 0
	for k := range want {
		if !got[k] {
			missing++
		}
	}
	if missing > 0 || len(got) != len(want) {
		t.Errorf("EventData: %d of %d tweets missing, %d items", missing, len(want), len(got))
	}
	delivered := map[string]int{}
	bucket := filepath.Join(dir, "buckets", "streamproc-deliverybucket-local", "tweets")
	_ = filepath.Walk(bucket, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(path, ".attrs") {
			return err
		}
		f, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(f))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var rec struct {
				ID   json.Number `json:"id"`
				User string      `json:"user_screen_name"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			delivered[rec.User+"/"+rec.ID.String()]++
		}
		return nil
	})
	lost := 0
	for k := range want {
		if delivered[k] == 0 {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("delivery stream lost %d of %d tweets across the kills", lost, len(want))
	}
}
