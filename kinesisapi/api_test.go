package kinesisapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/kinesisapi"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/shardmap"
)

const contentJSON = "application/x-amz-json-1.1"

// rawResponse is an AWS JSON error or result as it came over the wire.
type rawResponse struct {
	status  int
	header  http.Header
	body    map[string]any
	rawBody string
}

// post sends a hand-made request to url.
func post(t *testing.T, url, method, target, contentType, auth, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	r := rawResponse{status: resp.StatusCode, header: resp.Header, rawBody: buf.String()}
	_ = json.Unmarshal(buf.Bytes(), &r.body)
	return r
}

// TestEnvelope checks what happens before an operation runs: method,
// target, content type, authentication and body syntax. The cases marked
// both also run against kinesalite, which copied AWS's answers.
func TestEnvelope(t *testing.T) {
	const json11 = contentJSON
	const listOp = "Kinesis_20131202.ListStreams"
	cases := []envelopeCase{
		{"ok", "POST", listOp, json11, fakeAuth, `{}`, 200, "", "", true},
		{"no authorization", "POST", listOp, json11, "", `{}`, 400, "MissingAuthenticationTokenException", "Missing Authentication Token", true},
		{"unknown operation", "POST", "Kinesis_20131202.Frobnicate", json11, fakeAuth, `{}`, 400, "UnknownOperationException", "", true},
		{"unsupported operation", "POST", "Kinesis_20131202.SplitShard", json11, fakeAuth, `{}`, 400, "UnknownOperationException", "SplitShard is not supported", false},
		{"wrong service", "POST", "DynamoDB_20120810.ListTables", json11, fakeAuth, `{}`, 400, "UnknownOperationException", "", true},
		{"malformed JSON", "POST", listOp, json11, fakeAuth, `{"Limit":`, 400, "SerializationException", "", true},
		{"wrong type", "POST", listOp, json11, fakeAuth, `{"Limit":"5"}`, 400, "SerializationException", "", true},
		{"CBOR", "POST", listOp, "application/x-amz-cbor-1.1", fakeAuth, "\xa0", 400, "SerializationException", "CBOR (application/x-amz-cbor-1.1) is not supported", false},
		{"no content type", "POST", listOp, "", fakeAuth, `{}`, 400, "SerializationException", "send application/x-amz-json-1.1", false},
		{"plain JSON", "POST", listOp, "application/json", fakeAuth, `{}`, 200, "", "", false},
		{"GET", "GET", listOp, json11, fakeAuth, ``, 405, "UnknownOperationException", "POST /", false},
		{"incomplete signature", "POST", listOp, json11, "AWS4-HMAC-SHA256 Credential=AKID/20261126/us-east-1/kinesis/aws4_request", `{}`, 400, "IncompleteSignatureException", "'Signature'", true},
		{"not SigV4", "POST", listOp, json11, "Basic dXNlcjpwYXNz", `{}`, 400, "IncompleteSignatureException", "", false},
	}
	for _, name := range []string{"ours", "kinesalite"} {
		t.Run(name, func(t *testing.T) {
			var tg *target
			if name == "ours" {
				tg = newOurs(t, ourOptions{})
			} else {
				tg = newKinesalite(t) // skips (or fails under CI) when missing
			}
			envelopeCases(t, tg, cases)
		})
	}
}

type envelopeCase = struct {
	name                              string
	method, target, ctype, auth, body string
	status                            int
	code, msg                         string
	both                              bool
}

func envelopeCases(t *testing.T, tg *target, cases []envelopeCase) {
	for _, c := range cases {
		if !c.both && !tg.ours() {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			r := post(t, tg.url, c.method, c.target, c.ctype, c.auth, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.rawBody)
			}
			if c.code == "" {
				return
			}
			if r.body["__type"] != c.code {
				t.Fatalf("__type = %v, want %s (body %s)", r.body["__type"], c.code, r.rawBody)
			}
			if !tg.ours() {
				return
			}
			if msg, _ := r.body["message"].(string); !strings.Contains(msg, c.msg) {
				t.Errorf("message = %q, want it to contain %q", msg, c.msg)
			}
			if r.header.Get("X-Amzn-ErrorType") != c.code || r.header.Get("Content-Type") != contentJSON || r.header.Get("X-Amzn-RequestId") == "" {
				t.Errorf("headers = %v", r.header)
			}
		})
	}
}

func TestRequestTooLarge(t *testing.T) {
	tg := newOurs(t, ourOptions{})
	r := post(t, tg.url, "POST", "Kinesis_20131202.PutRecords", "application/x-amz-json-1.1", fakeAuth, `{"x":"`+strings.Repeat("a", kinesisapi.MaxRequestBytes)+`"}`)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %s", r.status, r.rawBody)
	}
}

// A write that reaches a closed engine is an InternalFailure with HTTP 500,
// and the detail stays out of the response.
func TestInternalFailure(t *testing.T) {
	tg := newOurs(t, ourOptions{})
	createStream(t, tg, "s", 1)
	if err := tg.engine.Close(); err != nil {
		t.Fatal(err)
	}
	r := post(t, tg.url, "POST", "Kinesis_20131202.PutRecord", "application/x-amz-json-1.1", fakeAuth, `{"StreamName":"s","PartitionKey":"k","Data":"aGk="}`)
	if r.status != 500 || r.body["__type"] != "InternalFailure" || r.body["message"] != "Internal service failure." {
		t.Fatalf("closed engine: %d %s", r.status, r.rawBody)
	}
}

// Responses use AWS's JSON shapes: timestamps are epoch seconds with a
// millisecond fraction, data is base64.
func TestWireShapes(t *testing.T) {
	tg := newOurs(t, ourOptions{})
	createStream(t, tg, "s", 1)
	r := post(t, tg.url, "POST", "Kinesis_20131202.PutRecord", "application/x-amz-json-1.1", fakeAuth, `{"StreamName":"s","PartitionKey":"k","Data":"aGk="}`)
	if r.status != 200 || r.body["ShardId"] != "shardId-000000000000" || len(r.body["SequenceNumber"].(string)) != 56 || r.body["EncryptionType"] != "NONE" {
		t.Fatalf("PutRecord = %s", r.rawBody)
	}
	r = post(t, tg.url, "POST", "Kinesis_20131202.DescribeStreamSummary", "application/x-amz-json-1.1", fakeAuth, `{"StreamName":"s"}`)
	if !strings.Contains(r.rawBody, `"StreamCreationTimestamp":`) || !strings.Contains(r.rawBody, `"EnhancedMonitoring":[{"ShardLevelMetrics":[]}]`) {
		t.Fatalf("summary = %s", r.rawBody)
	}
	ts := r.rawBody[strings.Index(r.rawBody, `"StreamCreationTimestamp":`)+len(`"StreamCreationTimestamp":`):]
	ts = ts[:strings.IndexAny(ts, ",}")]
	if dot := strings.IndexByte(ts, '.'); dot < 0 || len(ts)-dot-1 != 3 {
		t.Errorf("timestamp %s is not epoch seconds with milliseconds", ts)
	}
	r = post(t, tg.url, "POST", "Kinesis_20131202.GetShardIterator", "application/x-amz-json-1.1", fakeAuth, `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}`)
	it, _ := r.body["ShardIterator"].(string)
	r = post(t, tg.url, "POST", "Kinesis_20131202.GetRecords", "application/x-amz-json-1.1", fakeAuth, `{"ShardIterator":"`+it+`"}`)
	recs, _ := r.body["Records"].([]any)
	if r.status != 200 || len(recs) != 1 || recs[0].(map[string]any)["Data"] != "aGk=" {
		t.Fatalf("GetRecords = %s", r.rawBody)
	}
	if _, ok := recs[0].(map[string]any)["ApproximateArrivalTimestamp"].(float64); !ok {
		t.Errorf("arrival is not a number: %s", r.rawBody)
	}
}

// Tags, stream modes and the iterator key survive a restart with a state
// file: an iterator issued before the restart still reads after it.
func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "kinesis-api.json")
	open := func() (*stream.Engine, *kinesis.Client, func()) {
		e, err := stream.Open(filepath.Join(dir, "streams"), stream.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h, err := kinesisapi.NewHandler(e, kinesisapi.Options{StateFile: state})
		if err != nil {
			t.Fatal(err)
		}
		srv := httpServer(t, h)
		return e, emulator.KinesisClient(srv, noRetries), func() { e.Close() }
	}
	_, c, stop := open()
	ctx := ctxT(t)
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(1), Tags: map[string]string{"team": "data"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"), ShardId: aws.String(shardmap.ShardID(0)), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}

	_, c, stop = open()
	defer stop()
	tags, err := c.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String("s")})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "data" {
		t.Fatalf("tags after restart = %v, %v", tags, err)
	}
	out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 1 {
		t.Fatalf("iterator from before the restart: %v, %v", out, err)
	}

	// A corrupt state file: NewHandler says so, New serves InternalFailure.
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	e2, err := stream.Open(t.TempDir(), stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if _, err := kinesisapi.NewHandler(e2, kinesisapi.Options{StateFile: state}); err == nil {
		t.Fatal("NewHandler accepted a corrupt state file")
	}
	bad := httpServer(t, kinesisapi.New(e2, kinesisapi.Options{StateFile: state}))
	r := post(t, bad, "POST", "Kinesis_20131202.ListStreams", "application/x-amz-json-1.1", fakeAuth, `{}`)
	if r.status != 500 || r.body["__type"] != "InternalFailure" {
		t.Fatalf("handler over a corrupt state file: %d %s", r.status, r.rawBody)
	}
}

func httpServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := newLoopbackServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// clientWith returns an SDK client for url signing with the given key.
func clientWith(url, keyID, secret, region string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		BaseEndpoint: aws.String(url),
		Retryer:      aws.NopRetryer{},
	})
}

// TestSigV4 verifies signatures made by the real SDK signer and rejects
// tampered, foreign and stale ones.
func TestSigV4(t *testing.T) {
	clk := &testClock{}
	creds := map[string]string{"AKIDSTREAMPROC": "s3cr3t/with+chars", "AKIDOTHER": "other"}
	tg := newOurs(t, ourOptions{credentials: creds, now: clk.Now})
	good := clientWith(tg.url, "AKIDSTREAMPROC", creds["AKIDSTREAMPROC"], "us-east-1")
	ctx := ctxT(t)
	if _, err := good.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("signed"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatalf("correctly signed CreateStream: %v", err)
	}
	if _, err := good.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("signed"), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k ü"), Data: []byte("x")}}}); err != nil {
		t.Fatalf("correctly signed PutRecords: %v", err)
	}
	cases := []struct {
		name   string
		client *kinesis.Client
		code   string
		msg    string
	}{
		{"wrong secret", clientWith(tg.url, "AKIDSTREAMPROC", "guess", "us-east-1"), "InvalidSignatureException", "signature we calculated does not match"},
		{"other key's secret", clientWith(tg.url, "AKIDOTHER", creds["AKIDSTREAMPROC"], "us-east-1"), "InvalidSignatureException", "does not match"},
		{"unknown key", clientWith(tg.url, "AKIDNOBODY", "x", "us-east-1"), "UnrecognizedClientException", "security token included in the request is invalid"},
		{"wrong region", clientWith(tg.url, "AKIDSTREAMPROC", creds["AKIDSTREAMPROC"], "eu-west-1"), "InvalidSignatureException", "scoped to a valid region, not 'eu-west-1'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.client.ListStreams(ctx, &kinesis.ListStreamsInput{})
			wantCode(t, err, c.code)
			if !strings.Contains(errMessage(err), c.msg) {
				t.Errorf("message = %q", errMessage(err))
			}
		})
	}
	t.Run("other key", func(t *testing.T) {
		if _, err := clientWith(tg.url, "AKIDOTHER", "other", "us-east-1").ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("skew", func(t *testing.T) {
		clk.Advance(16 * time.Minute) // the request now looks 16 minutes old
		_, err := good.ListStreams(ctx, &kinesis.ListStreamsInput{})
		wantCode(t, err, "InvalidSignatureException")
		if !strings.Contains(errMessage(err), "Signature expired") {
			t.Errorf("message = %q", errMessage(err))
		}
		clk.Advance(-32 * time.Minute) // and now 16 minutes early
		_, err = good.ListStreams(ctx, &kinesis.ListStreamsInput{})
		if !strings.Contains(errMessage(err), "Signature not yet current") {
			t.Errorf("message = %q", errMessage(err))
		}
		clk.Advance(30 * time.Minute) // 14 minutes: still fine
		if _, err := good.ListStreams(ctx, &kinesis.ListStreamsInput{}); err != nil {
			t.Errorf("request 14 minutes old: %v", err)
		}
		clk.Advance(-14 * time.Minute)
	})
	t.Run("tampered", func(t *testing.T) {
		// A proxy between the SDK and the server changes one thing after
		// signing; each change must break the signature.
		for _, tamper := range []struct {
			name string
			fn   func(*http.Request)
		}{
			{"body", func(r *http.Request) { setBody(r, strings.Replace(readBody(r), `"signed"`, `"signee"`, 1)) }},
			{"target", func(r *http.Request) { r.Header.Set("X-Amz-Target", "Kinesis_20131202.DescribeStream") }},
			{"date", func(r *http.Request) {
				d, _ := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
				r.Header.Set("X-Amz-Date", d.Add(time.Second).Format("20060102T150405Z"))
			}},
			{"signature", func(r *http.Request) {
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:len(a)-1]+string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", a[len(a)-1])+1)%16]))
			}},
			{"signed headers", func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "content-type;", "", 1))
			}},
		} {
			t.Run(tamper.name, func(t *testing.T) {
				c := kinesis.New(kinesis.Options{
					Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSTREAMPROC", creds["AKIDSTREAMPROC"], ""),
					BaseEndpoint: aws.String(tg.url), Retryer: aws.NopRetryer{},
					HTTPClient: tamperClient{fn: tamper.fn},
				})
				_, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("signed")})
				wantCode(t, err, "InvalidSignatureException")
			})
		}
		// An unsigned header added on the way is harmless.
		c := kinesis.New(kinesis.Options{
			Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDSTREAMPROC", creds["AKIDSTREAMPROC"], ""),
			BaseEndpoint: aws.String(tg.url), Retryer: aws.NopRetryer{},
			HTTPClient: tamperClient{fn: func(r *http.Request) { r.Header.Set("X-Forwarded-For", "10.0.0.1") }},
		})
		if _, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("signed")}); err != nil {
			t.Errorf("unsigned extra header: %v", err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		r := post(t, tg.url, "POST", "Kinesis_20131202.ListStreams", "application/x-amz-json-1.1", "", `{}`)
		if r.body["__type"] != "MissingAuthenticationTokenException" {
			t.Fatalf("unsigned request: %s", r.rawBody)
		}
	})
}

// tamperClient changes a signed request before sending it.
type tamperClient struct{ fn func(*http.Request) }

func (c tamperClient) Do(r *http.Request) (*http.Response, error) {
	c.fn(r)
	return http.DefaultClient.Do(r)
}

func readBody(r *http.Request) string {
	var b bytes.Buffer
	_, _ = b.ReadFrom(r.Body)
	return b.String()
}

func setBody(r *http.Request, s string) {
	r.Body = ioNopCloser{strings.NewReader(s)}
	r.ContentLength = int64(len(s))
}

type ioNopCloser struct{ *strings.Reader }

func (ioNopCloser) Close() error { return nil }
