package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// serve runs `streamproc kinesis serve` in-process until the returned stop
// is called, which returns the exit code and stderr.
func serve(t *testing.T, dir string, args ...string) (url string, stop func() (int, string)) {
	t.Helper()
	var out, errb lockedBuffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(string) (string, bool) { return "", false }, Now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"--data-dir", dir, "kinesis", "serve", "--addr", "127.0.0.1:0"}, args...))
	}()
	re := regexp.MustCompile(`Endpoint: (http://\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case code := <-done:
			cancel()
			t.Fatalf("kinesis serve exited %d before listening:\n%s", code, errb.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("kinesis serve did not print its endpoint:\n%s\n%s", out.String(), errb.String())
		}
	}
	if !strings.Contains(out.String(), "aws --endpoint-url "+url+" --region us-east-1 kinesis list-streams") {
		t.Errorf("banner lacks an example aws command:\n%s", out.String())
	}
	var once sync.Once
	var code int
	stop = func() (int, string) {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("kinesis serve did not stop within 30 s of cancellation")
			}
		})
		return code, errb.String()
	}
	t.Cleanup(func() { stop() })
	return url, stop
}

func sdkClient(url, id, secret string) *kinesis.Client {
	return kinesis.New(kinesis.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""),
		BaseEndpoint: aws.String(url), Retryer: aws.NopRetryer{}})
}

// TestKinesisServe runs the endpoint, uses it through the SDK, stops it the
// way SIGINT does (context cancellation) and finds the data again after a
// restart.
func TestKinesisServe(t *testing.T) {
	dir := t.TempDir()
	url, stop := serve(t, dir)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("endpoint %s is not on loopback", url)
	}
	ctx := context.Background()
	c := sdkClient(url, "any", "thing")
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("cli-stream"), ShardCount: aws.Int32(2),
		Tags: map[string]string{"owner": "test"}}); err != nil {
		t.Fatal(err)
	}
	put, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("cli-stream"), PartitionKey: aws.String("k"), Data: []byte("durable")})
	if err != nil {
		t.Fatal(err)
	}
	if code, stderr := stop(); code != 0 {
		t.Fatalf("exit %d after cancellation:\n%s", code, stderr)
	}
	if _, err := os.Stat(dir + "/streams/meta.json"); err != nil {
		t.Fatalf("the engine did not use <data-dir>/streams: %v", err)
	}

	url, _ = serve(t, dir)
	c = sdkClient(url, "any", "thing")
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("cli-stream"), ShardId: put.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 1 || string(out.Records[0].Data) != "durable" {
		t.Fatalf("after restart: %v, %v", out, err)
	}
	tags, err := c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("cli-stream")})
	if err != nil || len(tags.Tags) != 1 {
		t.Fatalf("tags after restart: %v, %v", tags, err)
	}
}

func TestKinesisServeCredentials(t *testing.T) {
	url, _ := serve(t, t.TempDir(), "--credentials", "AKIDSERVE:serve-secret", "--enforce-limits")
	ctx := context.Background()
	if _, err := sdkClient(url, "AKIDSERVE", "serve-secret").ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
		t.Fatalf("configured key: %v", err)
	}
	_, err := sdkClient(url, "AKIDSERVE", "wrong").ListStreams(ctx, &kinesis.ListStreamsInput{})
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestKinesisServeUsage(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--credentials", "nocolon"}, "--credentials takes KEY:SECRET"},
		{[]string{"--credentials", "A:x", "--credentials", "A:y"}, "given twice"},
		{[]string{"--addr", "nonsense"}, "--addr"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, c := range cases {
		c2 := newCLI(t)
		_, stderr, code := c2.run("", append([]string{"kinesis", "serve"}, c.args...)...)
		if code != exitUsage || !strings.Contains(stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q", c.args, code, stderr)
		}
		if strings.Contains(stderr, "nocolon") || strings.Contains(stderr, ":x") {
			t.Errorf("%v: a secret reached stderr: %q", c.args, stderr)
		}
	}
}

// A server reachable from other machines without credentials is loud about
// it; one on loopback or with credentials is not.
func TestKinesisBannerWarning(t *testing.T) {
	cases := []struct {
		ip    string
		creds map[string]string
		warn  bool
	}{
		{"127.0.0.1", nil, false},
		{"0.0.0.0", nil, true},
		{"192.168.1.5", nil, true},
		{"0.0.0.0", map[string]string{"AKID": "secret-value"}, false},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errb}
		m.kinesisBanner(&net.TCPAddr{IP: net.ParseIP(c.ip), Port: 4566}, "d/streams", c.creds, false)
		if got := strings.Contains(errb.String(), "WARNING"); got != c.warn {
			t.Errorf("%s creds=%v: warning %v, want %v:\n%s", c.ip, c.creds != nil, got, c.warn, errb.String())
		}
		if strings.Contains(out.String()+errb.String(), "secret-value") {
			t.Errorf("the secret was printed:\n%s", out.String())
		}
		if !strings.Contains(out.String(), "Endpoint: http://") {
			t.Errorf("no endpoint line:\n%s", out.String())
		}
	}
}

// TestBenchKinesis runs a short benchmark against the in-process endpoint
// and, when kinesalite is installed, the comparison.
func TestBenchKinesis(t *testing.T) {
	c := newCLI(t)
	out := c.mustRun("", "bench", "kinesis", "--duration", "500ms", "--producers", "1", "--consumers", "1", "--shards", "2", "--record-size", "64")
	for _, want := range []string{"PutRecords records/s", "PutRecords p99 ms", "GetRecords records/s", "streamproc"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
	if _, err := findNodeModule("kinesalite"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs kinesalite for bench --compare: %v", err)
		}
		t.Skipf("skipping --compare kinesalite: %v", err)
	}
	out = c.mustRun("", "bench", "kinesis", "--duration", "500ms", "--producers", "1", "--consumers", "0", "--shards", "1", "--compare", "kinesalite")
	if !strings.Contains(out, "kinesalite") || !strings.Contains(out, "PutRecords throughput: streamproc is") {
		t.Errorf("compare output:\n%s", out)
	}
	_, stderr, code := c.run("", "bench", "kinesis", "--compare", "localstack")
	if code != exitUsage || !strings.Contains(stderr, "--compare takes kinesalite") {
		t.Errorf("bad --compare: exit %d %s", code, stderr)
	}
}

// The address printed for clients must be dialable, and the exposure
// warning must fire for anything other machines can reach.
func TestReachable(t *testing.T) {
	tests := []struct {
		addr, host string
		exposed    bool
	}{
		{"127.0.0.1:4566", "127.0.0.1:4566", false},
		{"[::1]:4566", "[::1]:4566", false},
		{"localhost:4566", "localhost:4566", false},
		{"[::]:4566", "127.0.0.1:4566", true},
		{"0.0.0.0:4566", "127.0.0.1:4566", true},
		{"192.168.1.5:4566", "192.168.1.5:4566", true},
	}
	for _, tc := range tests {
		host, exposed := reachable(tc.addr)
		if host != tc.host || exposed != tc.exposed {
			t.Errorf("reachable(%q) = %q, %v; want %q, %v", tc.addr, host, exposed, tc.host, tc.exposed)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	h := loopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for remote, want := range map[string]int{"127.0.0.1:5000": http.StatusNoContent, "[::1]:5000": http.StatusNoContent, "10.0.0.7:5000": http.StatusForbidden} {
		r := httptest.NewRequest(http.MethodGet, "/streamproc/tables", nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("from %s: status %d, want %d", remote, w.Code, want)
		}
	}
}
