// Package deadletter implements streamproc.DeadLetterSink on an object
// store: each Put becomes one JSON-lines object (one streamproc.DeadLetter
// per line) under
//
//	<prefix><function>/YYYY/MM/DD/HH/<time>-<uuid>.jsonl
//
// in UTC, the Firehose-style hourly layout, so Athena or DuckDB can read the
// dead letters with the same partitioning as the delivered records.
//
// The sink writes through Objects: S3 is the S3 SDK's PutObject (one
// request per object, acknowledged once S3 stored it: the durability point
// the port's contract needs). The SDK alone keeps the consumer's Lambda
// small; gocloud's blob layer pulled in gRPC and OpenTelemetry.
package deadletter

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/internal/awserr"
)

var _ streamproc.DeadLetterSink = (*Sink)(nil)

// DefaultPrefix is where dead letters go when Options.Prefix is empty.
const DefaultPrefix = "dead-letter/"

// Options configure a Sink. The zero value is usable.
type Options struct {
	// Prefix starts every key; "" means DefaultPrefix. A non-empty prefix
	// should end with "/".
	Prefix string
	// Now stamps object keys; nil means time.Now.
	Now streamproc.Clock
	// Logger receives one line per object written (key and count, never the
	// data); nil logs nothing.
	Logger *slog.Logger
}

// Objects is the store a Sink writes to. Put stores one whole object under
// key and returns nil only once it is durably stored; errors wrap
// streamproc.ErrNotFound (no such bucket), ErrUnavailable (transient) or
// ErrInvalid.
type Objects interface {
	Put(ctx context.Context, key string, body []byte, contentType string) error
}

// S3 returns Objects in an S3 bucket.
func S3(client *s3.Client, bucket string) Objects { return s3Objects{client, bucket} }

type s3Objects struct {
	client *s3.Client
	bucket string
}

func (o s3Objects) Put(ctx context.Context, key string, body []byte, contentType string) error {
	_, err := o.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(o.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String(contentType),
	})
	if err != nil {
		return awserr.Wrap(fmt.Sprintf("s3 PutObject s3://%s/%s", o.bucket, key), err)
	}
	return nil
}

// Sink stores dead letters in a bucket. It is safe for concurrent use: every
// object gets a fresh random name, so concurrent Puts never overwrite each
// other.
type Sink struct {
	bucket Objects
	prefix string
	now    streamproc.Clock
	log    *slog.Logger
}

// New returns a Sink writing to bucket.
func New(bucket Objects, opts Options) *Sink {
	s := &Sink{bucket: bucket, prefix: opts.Prefix, now: opts.Now, log: opts.Logger}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Put writes letters as one object per function named in them (normally
// exactly one), in the order given. It returns nil only when every object
// was stored; on error some objects may exist and the caller retries the
// whole call — a duplicate dead letter is harmless, as each carries its
// shard and sequence number. Errors wrap streamproc.ErrNotFound for a
// missing bucket and ErrUnavailable for transient store failures.
func (s *Sink) Put(ctx context.Context, letters []streamproc.DeadLetter) error {
	if len(letters) == 0 {
		return nil
	}
	now := s.now().UTC()
	var order []string
	groups := map[string][]streamproc.DeadLetter{}
	for _, l := range letters {
		fn := pathSegment(l.Function)
		if _, ok := groups[fn]; !ok {
			order = append(order, fn)
		}
		groups[fn] = append(groups[fn], l)
	}
	for _, fn := range order {
		if err := s.write(ctx, fn, now, groups[fn]); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) write(ctx context.Context, fn string, now time.Time, letters []streamproc.DeadLetter) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one object per line, newline-terminated
	for i, l := range letters {
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("dead letter: encode letter %d of %s: %w", i, fn, err)
		}
	}
	key := fmt.Sprintf("%s%s/%s/%s-%s.jsonl", s.prefix, fn, now.Format("2006/01/02/15"),
		now.Format("20060102T150405.000000000Z"), uuid())
	if err := s.bucket.Put(ctx, key, buf.Bytes(), "application/x-ndjson"); err != nil {
		return fmt.Errorf("dead letter: write %d letters to %s: %w", len(letters), key, err)
	}
	s.log.WarnContext(ctx, "dead letters stored", "key", key, "function", fn, "letters", len(letters))
	return nil
}

// pathSegment makes a function name safe as one key segment. Lambda names
// are already [A-Za-z0-9_-]; an ARN keeps only its name part.
func pathSegment(fn string) string {
	if i := strings.LastIndex(fn, ":function:"); i >= 0 {
		fn = fn[i+len(":function:"):]
	}
	fn = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, fn)
	if fn == "" || strings.Trim(fn, ".") == "" {
		return "unknown"
	}
	return fn
}

// uuid returns a random (version 4) UUID.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
