package main

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	// apiAddr finds the Kinesis API's address in up's summary.
	apiAddr = regexp.MustCompile(`Kinesis API  (http://127\.0\.0\.1:\d+)`)
	// uiAddr finds the dashboard's address in up's summary.
	uiAddr = regexp.MustCompile(`dashboard    (http://127\.0\.0\.1:\d+)/`)
)

// runningUp is `streamproc up` running in-process.
type runningUp struct {
	dir      string // its data dir
	endpoint string // the Kinesis API's base URL
	ui       string // the dashboard's base URL, when served
	stderr   *lockedBuffer
	done     chan int
	cancel   context.CancelFunc
	code     int
	exited   bool
}

// startUp runs `streamproc up` in-process on a scratch data dir with the
// repository's template, the Kinesis API on a free port and no status
// lines, then args (the test's flags: source, --ui-addr, --duration, …).
// It returns once the API's address is printed, and the dashboard's when
// args serve one.
func startUp(t *testing.T, args ...string) *runningUp {
	t.Helper()
	u := &runningUp{dir: t.TempDir(), stderr: &lockedBuffer{}, done: make(chan int, 1)}
	m := &Main{Stdin: strings.NewReader(""), Stdout: &lockedBuffer{}, Stderr: u.stderr, Getenv: func(string) (string, bool) { return "", false }}
	var ctx context.Context
	ctx, u.cancel = context.WithCancel(context.Background())
	full := append([]string{"--data-dir", u.dir, "-t", "../../template.yaml", "up", "--addr", "127.0.0.1:0", "--status-interval", "0"}, args...)
	go func() { u.done <- m.Run(ctx, full) }()
	t.Cleanup(func() { u.stop(t) })
	i := slices.Index(args, "--ui-addr")
	wantUI := i >= 0 && i+1 < len(args) && args[i+1] != "off"
	for deadline := time.Now().Add(60 * time.Second); u.endpoint == "" || wantUI && u.ui == ""; time.Sleep(20 * time.Millisecond) {
		if mm := apiAddr.FindStringSubmatch(u.stderr.String()); mm != nil {
			u.endpoint = mm[1]
		}
		if mm := uiAddr.FindStringSubmatch(u.stderr.String()); mm != nil {
			u.ui = mm[1]
		}
		select {
		case u.code = <-u.done:
			u.exited = true
			t.Fatalf("up exited %d:\n%s", u.code, u.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("up did not start:\n%s", u.stderr.String())
		}
	}
	return u
}

// wait waits for up to end by itself (a --duration run) and returns its
// exit code and what it wrote to stderr.
func (u *runningUp) wait(t *testing.T) (int, string) {
	t.Helper()
	return u.end(t, false)
}

// stop interrupts up, as Ctrl-C does, and waits for it.
func (u *runningUp) stop(t *testing.T) (int, string) {
	t.Helper()
	return u.end(t, true)
}

func (u *runningUp) end(t *testing.T, interrupt bool) (int, string) {
	t.Helper()
	if !u.exited {
		if interrupt {
			u.cancel()
		}
		select {
		case u.code = <-u.done:
			u.exited = true
		case <-time.After(2 * time.Minute):
			t.Errorf("up did not stop:\n%s", u.stderr.String())
		}
		u.cancel()
	}
	return u.code, u.stderr.String()
}
