package deadletter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/deadletter"
	"github.com/streamproc/streamproc/internal/emulator"
)

const bucketName = "dead-letters"

// backends are the stores the sink runs on: S3 (s3rver, an independent
// implementation of the S3 REST API, through the SDK's PutObject) and any
// other Objects (a directory through gocloud's fileblob, as a second,
// simple implementation). Each gives the sink's Objects and a bucket to
// read the result back.
func backends() []backend {
	return []backend{
		{"s3rver", func(t *testing.T) (deadletter.Objects, *blob.Bucket) {
			endpoint := emulator.S3rver(t, bucketName)
			return deadletter.S3(emulator.S3Client(endpoint), bucketName), openS3(t, endpoint, bucketName)
		}},
		{"fileblob", func(t *testing.T) (deadletter.Objects, *blob.Bucket) {
			b, err := fileblob.OpenBucket(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return blobObjects{b}, b
		}},
	}
}

type backend struct {
	name string
	open func(t *testing.T) (deadletter.Objects, *blob.Bucket)
}

// blobObjects is deadletter.Objects on a gocloud bucket.
type blobObjects struct{ b *blob.Bucket }

func (o blobObjects) Put(ctx context.Context, key string, body []byte, contentType string) error {
	return o.b.WriteAll(ctx, key, body, &blob.WriterOptions{ContentType: contentType})
}

func openS3(t *testing.T, endpoint, bucket string) *blob.Bucket {
	t.Helper()
	b, err := s3blob.OpenBucket(context.Background(), emulator.S3Client(endpoint), bucket, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// now is the sink's clock in every test: a non-UTC zone, so the keys show
// the sink converts to UTC.
func now() time.Time {
	return time.Date(2026, 11, 26, 9, 45, 27, 123456789, time.FixedZone("CET", 3600))
}

func letter(fn string, seq string, data []byte) streamproc.DeadLetter {
	return streamproc.DeadLetter{
		Time:           time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
		Function:       fn,
		Reason:         "decode tweet: unexpected end of JSON input",
		EventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/tweets",
		ShardID:        "shardId-000000000001",
		SequenceNumber: seq,
		SubSequence:    -1,
		PartitionKey:   "alice",
		Data:           data,
	}
}

// objects reads every object of the bucket: key → decoded letters.
func objects(t *testing.T, b *blob.Bucket) map[string][]streamproc.DeadLetter {
	t.Helper()
	ctx := context.Background()
	out := map[string][]streamproc.DeadLetter{}
	it := b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		data, err := b.ReadAll(ctx, obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(data, []byte("\n")) {
			t.Fatalf("object %s does not end with a newline", obj.Key)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 10<<20)
		var letters []streamproc.DeadLetter
		for sc.Scan() {
			var l streamproc.DeadLetter
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("object %s: line %q: %v", obj.Key, sc.Text(), err)
			}
			letters = append(letters, l)
		}
		out[obj.Key] = letters
	}
	return out
}

// TestPut: each Put stores its letters as one JSON-lines object per
// function under the hourly UTC prefix, exactly as given.
func TestPut(t *testing.T) {
	binary := []byte{0xff, 0x00, '\n', '"', 0xc3}
	tests := []struct {
		name    string
		prefix  string
		letters []streamproc.DeadLetter
		// wantKeys are key patterns (regexps) → the letters in that object.
		want map[string][]streamproc.DeadLetter
	}{
		{name: "one letter",
			letters: []streamproc.DeadLetter{letter("consumer", "1", []byte(`{"id":`))},
			want: map[string][]streamproc.DeadLetter{
				`^dead-letter/consumer/2026/11/26/08/20261126T084527\.123456789Z-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.jsonl$`: {letter("consumer", "1", []byte(`{"id":`))},
			}},
		{name: "several letters, binary data, one object",
			letters: []streamproc.DeadLetter{letter("consumer", "1", binary), letter("consumer", "2", nil), letter("consumer", "3", []byte{})},
			want: map[string][]streamproc.DeadLetter{
				`^dead-letter/consumer/2026/11/26/08/.*\.jsonl$`: {letter("consumer", "1", binary), letter("consumer", "2", nil), letter("consumer", "3", []byte{})},
			}},
		{name: "two functions, two objects",
			letters: []streamproc.DeadLetter{letter("consumer", "1", nil), letter("trending", "2", nil), letter("consumer", "3", nil)},
			want: map[string][]streamproc.DeadLetter{
				`^dead-letter/consumer/`: {letter("consumer", "1", nil), letter("consumer", "3", nil)},
				`^dead-letter/trending/`: {letter("trending", "2", nil)},
			}},
		{name: "function names made safe",
			prefix:  "errors/dl/",
			letters: []streamproc.DeadLetter{letter("arn:aws:lambda:us-east-1:123456789012:function:stack-Consumer-AbC1", "1", nil), letter("../x y", "2", nil), letter("", "3", nil)},
			want: map[string][]streamproc.DeadLetter{
				`^errors/dl/stack-Consumer-AbC1/2026/`: {letter("arn:aws:lambda:us-east-1:123456789012:function:stack-Consumer-AbC1", "1", nil)},
				`^errors/dl/.._x_y/2026/`:              {letter("../x y", "2", nil)},
				`^errors/dl/unknown/2026/`:             {letter("", "3", nil)},
			}},
	}
	for _, be := range backends() {
		for _, tc := range tests {
			t.Run(be.name+"/"+tc.name, func(t *testing.T) {
				objs, b := be.open(t)
				sink := deadletter.New(objs, deadletter.Options{Prefix: tc.prefix, Now: now})
				if err := sink.Put(context.Background(), tc.letters); err != nil {
					t.Fatal(err)
				}
				got := objects(t, b)
				if len(got) != len(tc.want) {
					t.Fatalf("%d objects %v, want %d", len(got), keys(got), len(tc.want))
				}
				for pattern, want := range tc.want {
					re := regexp.MustCompile(pattern)
					var matched []string
					for k := range got {
						if re.MatchString(k) {
							matched = append(matched, k)
						}
					}
					if len(matched) != 1 {
						t.Fatalf("objects %v: %d match %s, want 1", keys(got), len(matched), pattern)
					}
					if !reflect.DeepEqual(got[matched[0]], want) {
						t.Fatalf("object %s holds\n%+v\nwant\n%+v", matched[0], got[matched[0]], want)
					}
				}
			})
		}
	}
}

// TestPutConcurrentSameInstant: Puts at the same instant never overwrite
// each other.
func TestPutConcurrentSameInstant(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			objs, b := be.open(t)
			sink := deadletter.New(objs, deadletter.Options{Now: now})
			const n = 8
			errs := make(chan error, n)
			for i := range n {
				go func() {
					errs <- sink.Put(context.Background(), []streamproc.DeadLetter{letter("consumer", string(rune('a'+i)), nil)})
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if got := objects(t, b); len(got) != n {
				t.Fatalf("%d objects after %d Puts", len(got), n)
			}
		})
	}
}

// TestPutErrors: a failed Put returns an error of the right kind naming the
// object it could not write.
func TestPutErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedEndpoint := "http://" + l.Addr().String()
	l.Close()
	tests := []struct {
		name string
		open func(t *testing.T) deadletter.Objects
		want error
	}{
		{"missing bucket", func(t *testing.T) deadletter.Objects {
			return deadletter.S3(emulator.S3Client(emulator.S3rver(t)), "no-such-bucket")
		}, streamproc.ErrNotFound},
		{"store unreachable", func(t *testing.T) deadletter.Objects {
			return deadletter.S3(emulator.S3Client(closedEndpoint, func(o *s3.Options) { o.RetryMaxAttempts = 1 }), bucketName)
		}, streamproc.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := deadletter.New(tc.open(t), deadletter.Options{})
			err := sink.Put(context.Background(), []streamproc.DeadLetter{letter("consumer", "1", []byte("x"))})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Put = %v, want an error wrapping %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), "dead-letter/consumer/") {
				t.Fatalf("error %q does not name the object", err)
			}
		})
	}
}

func keys(m map[string][]streamproc.DeadLetter) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
