package kinesisapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/streamproc/streamproc/local/stream"
)

// Shard iterators and NextTokens are opaque to clients but carry state:
// which stream and shard, the engine cursor, and when they were issued.
// They are sealed with an HMAC so a client cannot forge or edit one (the
// engine would reject a cursor of another stream anyway, but an edited
// issue time would defeat expiry), and base64-encoded like AWS's:
//
//	version(1) kind(1) issued-unix-ms(8) fields… mac(16)
//
// where each field is a uvarint length and its bytes. A full iterator is at
// most about 290 bytes (388 base64 characters), within the model's 512.
const (
	tokenVersion = 1
	macLen       = 16

	kindIterator   = 'I'
	kindShardsPage = 'S'
	kindStreamPage = 'L'
)

// sealer seals and opens tokens with one key.
type sealer struct {
	key []byte
}

func (s sealer) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}

// seal encodes fields issued at t.
func (s sealer) seal(kind byte, t time.Time, fields ...string) string {
	b := make([]byte, 0, 64)
	b = append(b, tokenVersion, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixMilli()))
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = append(b, s.mac(b)...)
	return base64.StdEncoding.EncodeToString(b)
}

// open checks a token's MAC and kind and returns its issue time and
// fields; ok is false for anything that was not sealed by this key as
// this kind with n fields.
func (s sealer) open(kind byte, tok string, n int) (issued time.Time, fields []string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(b) < 2+8+macLen {
		return time.Time{}, nil, false
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(sum, s.mac(body)) || body[0] != tokenVersion || body[1] != kind {
		return time.Time{}, nil, false
	}
	issued = time.UnixMilli(int64(binary.BigEndian.Uint64(body[2:10]))).UTC()
	rest := body[10:]
	for len(rest) > 0 {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return time.Time{}, nil, false
		}
		fields = append(fields, string(rest[k:k+int(l)]))
		rest = rest[k+int(l):]
	}
	if len(fields) != n {
		return time.Time{}, nil, false
	}
	return issued, fields, true
}

// shardIterator is an opened iterator.
type shardIterator struct {
	issued  time.Time
	stream  string
	shardID string
	cursor  stream.Cursor
}

func (s sealer) sealIterator(now time.Time, streamName, shardID string, c stream.Cursor) string {
	return s.seal(kindIterator, now, streamName, shardID, c.String())
}

// openIterator decodes an iterator and checks its age against now.
func (s sealer) openIterator(tok string, now time.Time) (shardIterator, error) {
	issued, f, ok := s.open(kindIterator, tok, 3)
	if !ok {
		return shardIterator{}, invalidArg("Invalid ShardIterator.")
	}
	c, err := stream.ParseCursor(f[2])
	if err != nil {
		return shardIterator{}, invalidArg("Invalid ShardIterator.")
	}
	if now.Sub(issued) > IteratorTTL {
		return shardIterator{}, clientErr(codeExpiredIterator,
			"Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			amzTime(issued), amzTime(now), IteratorTTL.Milliseconds())
	}
	return shardIterator{issued: issued, stream: f[0], shardID: f[1], cursor: c}, nil
}

// amzTime formats like AWS's messages: "Thu Jan 22 01:22:02 UTC 2015".
func amzTime(t time.Time) string {
	return t.UTC().Format("Mon Jan 2 15:04:05 UTC 2006")
}

// openPage decodes a NextToken of kind with n fields and checks its age.
func (s sealer) openPage(kind byte, tok string, n int, now time.Time) ([]string, error) {
	issued, f, ok := s.open(kind, tok, n)
	if !ok {
		return nil, invalidArg("Invalid NextToken.")
	}
	if now.Sub(issued) > IteratorTTL {
		return nil, clientErr(codeExpiredNextToken, "The NextToken has expired: it was issued at %s and is valid for %d seconds.", amzTime(issued), int(IteratorTTL.Seconds()))
	}
	return f, nil
}
