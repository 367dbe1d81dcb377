// Package emulator starts independent implementations of AWS wire protocols
// (kinesalite, dynalite, s3rver from npm; moto's server from pip for SSM)
// for tests, and builds SDK clients that talk to them.
//
// The npm emulators come from the repository's package.json and are
// installed into node_modules at the repository root by `npm ci`; moto
// (pinned in .ci/run) provides the moto_server command. Each one runs as a
// child process bound to 127.0.0.1 on a port the kernel picks, so parallel
// test binaries never collide, and is stopped by t.Cleanup.
//
// When a tool is missing, tests skip with a message saying how to install
// it — except under CI=true, where they fail: CI must never pass by
// skipping the integration tests.
//
// KinesisClient, DynamoDBClient, S3Client and SSMClient build SDK clients
// for an endpoint (static fake credentials, us-east-1, path-style S3 with
// the credentials s3rver wants). Proxy goes between a client and an emulator to
// inject what the emulators cannot produce (throttling, partial failures,
// pagination) while the emulator still supplies everything else.
package emulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long an emulator may take to start listening. They
// are ready in under a second on our machines; a slow CI box gets headroom.
const startTimeout = 30 * time.Second

// stopTimeout bounds how long an emulator may take to exit after its stdin
// closes before it is killed.
const stopTimeout = 5 * time.Second

// Each script reads its options as JSON from argv, listens on 127.0.0.1 with
// port 0 and prints "listening <port>" once the server accepts connections.
// It exits when its stdin closes, so an emulator never outlives a test binary
// that died without running its cleanups.
const (
	watchStdin = `process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume();`

	// kinesalite's CLI has no --host flag and binds every interface, so it is
	// started through its module API instead (toolchain.md, quirks).
	kinesaliteScript = watchStdin + `
const o = JSON.parse(process.argv[1]);
const srv = require(o.module)({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100});
srv.listen(0, '127.0.0.1', () => console.log('listening ' + srv.address().port));
`
	dynaliteScript = watchStdin + `
const o = JSON.parse(process.argv[1]);
const srv = require(o.module)({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
srv.listen(0, '127.0.0.1', () => console.log('listening ' + srv.address().port));
`
	s3rverScript = watchStdin + `
const o = JSON.parse(process.argv[1]);
const S3rver = require(o.module);
new S3rver({address: '127.0.0.1', port: 0, silent: true, directory: o.dir,
	configureBuckets: o.buckets.map(name => ({name, configs: []}))})
	.run().then(a => console.log('listening ' + a.port), e => { console.error(e); process.exit(1); });
`

	// motoScript runs moto_server ($0) under sh, because moto_server never
	// reads its stdin: a watcher in the background kills it once stdin
	// closes, and sh exits when moto_server does, so a server that dies
	// early is seen at once. A background job's stdin is /dev/null in a
	// non-interactive shell, hence the copy of the real one on fd 3.
	motoScript = `exec 3<&0
"$0" -H 127.0.0.1 -p 0 </dev/null 3<&- &
pid=$!
(cat <&3 >/dev/null; kill "$pid") >/dev/null 2>&1 &
exec 3<&-
wait "$pid"
`
)

// npmHint and motoHint say how to install what is missing.
const (
	npmHint  = "install Node.js 20 and run `npm ci` at the repository root to install the emulators"
	motoHint = "install moto's server (python3 -m pip install --user 'moto[server]==5.2.1', as .ci/run does) so moto_server is on PATH"
)

// motoListening matches the line werkzeug, under moto_server, logs to
// stderr once its socket is bound: " * Running on http://127.0.0.1:PORT".
var motoListening = regexp.MustCompile(`Running on http://127\.0\.0\.1:(\d+)`)

// Kinesalite starts kinesalite (Kinesis, JSON 1.1) and returns its endpoint
// URL, e.g. "http://127.0.0.1:41234". Streams become ACTIVE at once.
func Kinesalite(t testing.TB) string {
	t.Helper()
	return start(t, "kinesalite", kinesaliteScript, map[string]any{})
}

// Dynalite starts dynalite (DynamoDB, JSON 1.0, in memory) and returns its
// endpoint URL. Tables are created and deleted at once.
func Dynalite(t testing.TB) string {
	t.Helper()
	return start(t, "dynalite", dynaliteScript, map[string]any{})
}

// S3rver starts s3rver (S3, REST/XML) over a fresh directory with the given
// buckets already created, and returns its endpoint URL. Clients must use
// path-style addressing and the credentials S3RVER/S3RVER (see S3Client).
func S3rver(t testing.TB, buckets ...string) string {
	t.Helper()
	if buckets == nil {
		buckets = []string{}
	}
	return start(t, "s3rver", s3rverScript, map[string]any{"dir": t.TempDir(), "buckets": buckets})
}

// Moto starts moto's server (every service moto mocks, in memory; the
// tests use SSM Parameter Store) and returns its endpoint URL. POST
// /moto-api/reset on it drops all state.
func Moto(t testing.TB) string {
	t.Helper()
	server, err := exec.LookPath("moto_server")
	if err != nil {
		unavailable(t, fmt.Errorf("%w: moto_server is not on PATH: %v", errMissing, err), motoHint)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("emulator moto: %v", err)
	}
	cmd := exec.Command(sh, "-c", motoScript, server)
	// Python before 3.9 block-buffers a piped stderr, which would hold
	// back the port line.
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1")
	return launch(t, "moto", cmd, true, func(line string) (string, bool) {
		m := motoListening.FindStringSubmatch(line)
		if m == nil {
			return "", false
		}
		return m[1], true
	})
}

// start runs script under node with opts (plus the module's path) and waits
// until it reports its port.
func start(t testing.TB, pkg, script string, opts map[string]any) string {
	t.Helper()
	node, modDir, err := locate(pkg)
	if err != nil {
		unavailable(t, err, npmHint)
	}
	opts["module"] = modDir
	arg, err := json.Marshal(opts)
	if err != nil {
		t.Fatalf("emulator %s: encode options: %v", pkg, err)
	}
	cmd := exec.Command(node, "-e", script, string(arg))
	cmd.Dir = filepath.Dir(filepath.Dir(modDir))
	return launch(t, pkg, cmd, false, func(line string) (string, bool) {
		return strings.CutPrefix(line, "listening ")
	})
}

// launch starts cmd, which must exit when its stdin closes, and waits until
// port finds the port it listens on in a line of its stdout (or stderr,
// with onStderr). It returns the endpoint URL and stops the process when t
// ends.
func launch(t testing.TB, name string, cmd *exec.Cmd, onStderr bool, port func(line string) (string, bool)) string {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("emulator %s: %v", name, err)
	}
	diag := &syncBuffer{}
	var announced io.ReadCloser
	if onStderr {
		cmd.Stdout = diag
		announced, err = cmd.StderrPipe()
	} else {
		cmd.Stderr = diag
		announced, err = cmd.StdoutPipe()
	}
	if err != nil {
		t.Fatalf("emulator %s: %v", name, err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("emulator %s: start %s: %v", name, cmd.Path, err)
	}

	exited := make(chan error, 1)
	portc := make(chan int, 1)
	go func() {
		// Keep draining the pipe after the port line so the child never
		// blocks on a full pipe (moto logs every request to stderr). What
		// comes from stderr is kept for the failure message.
		sc := bufio.NewScanner(announced)
		sent := false
		for sc.Scan() {
			if onStderr {
				_, _ = diag.Write(append(sc.Bytes(), '\n'))
			}
			if sent {
				continue
			}
			if p, ok := port(sc.Text()); ok {
				if n, err := strconv.Atoi(p); err == nil {
					portc <- n
					sent = true
				}
			}
		}
		_, _ = io.Copy(io.Discard, announced)
		exited <- cmd.Wait()
	}()

	stop := func() {
		_ = stdin.Close()
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	select {
	case port := <-portc:
		t.Cleanup(stop)
		return "http://127.0.0.1:" + strconv.Itoa(port)
	case err := <-exited:
		t.Fatalf("emulator %s exited before listening: %v\noutput:\n%s", name, err, diag.String())
	case <-time.After(startTimeout):
		stop()
		t.Fatalf("emulator %s did not listen within %v\noutput:\n%s", name, startTimeout, diag.String())
	}
	panic("unreachable")
}

// errMissing marks an emulator that is not installed, as opposed to one that
// is installed but broken (which always fails the test).
var errMissing = errors.New("emulator not installed")

// locate finds the node binary and the package's directory under the
// repository's node_modules.
func locate(pkg string) (node, modDir string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", "", fmt.Errorf("%w: node is not on PATH: %v", errMissing, err)
	}
	root, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	modDir = filepath.Join(root, "node_modules", pkg)
	if _, err := os.Stat(filepath.Join(modDir, "package.json")); err != nil {
		return "", "", fmt.Errorf("%w: npm package %s is not installed in %s", errMissing, pkg, filepath.Join(root, "node_modules"))
	}
	return node, modDir, nil
}

// repoRoot walks up from the working directory (a test's package directory)
// to the directory holding both go.mod and package.json.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("emulator: find repository root: %w", err)
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isFile(filepath.Join(dir, "package.json")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no directory above the working directory holds go.mod and package.json", errMissing)
		}
		dir = parent
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// unavailable skips the test, or fails it under CI=true. hint says how to
// install what is missing.
func unavailable(t testing.TB, err error, hint string) {
	t.Helper()
	msg := fmt.Sprintf("%v; %s", err, hint)
	if !errors.Is(err, errMissing) || os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// syncBuffer collects a child's diagnostic output; the exec package writes
// it from its own goroutine while a failing test may read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A chatty emulator must not grow the buffer without bound.
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
