package kinesisapi

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"unicode/utf8"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/internal/jsonenc"
	"github.com/streamproc/streamproc/local/stream"
)

// The hot path of a Kinesis endpoint is PutRecords in and GetRecords out.
// encoding/json spends most of a PutRecords call validating and reflecting
// (about half the handler's CPU in BenchmarkServePutRecords), so these two
// shapes get hand-written code:
//
//   - decodePutRecordsFast parses the request the way SDKs send it and
//     gives up (ok=false) on anything else — escapes, nulls, unknown or
//     repeated keys, invalid UTF-8, bad base64 — leaving it to
//     encoding/json, which produces the right error. FuzzDecodeRequest
//     checks that whenever it succeeds it agrees with encoding/json.
//   - appendPutRecordsOutput and appendGetRecordsOutput write the responses
//     directly; tests decode them back and compare.

// scanner reads JSON tokens from b.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string without escapes and returns its bytes (a sub-slice
// of the input); ok is false for anything else.
func (s *scanner) str() ([]byte, bool) {
	v, ok := s.rawStr()
	if !ok {
		return nil, false
	}
	ascii := true
	for _, c := range v {
		if c < 0x20 {
			return nil, false
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(v) {
		return nil, false // encoding/json would substitute U+FFFD
	}
	return v, true
}

// rawStr reads a string's bytes up to the closing quote, giving up on any
// escape. The caller checks the content.
func (s *scanner) rawStr() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	n := bytes.IndexByte(s.b[s.i:], '"')
	if n < 0 {
		return nil, false
	}
	v := s.b[s.i : s.i+n]
	if bytes.IndexByte(v, '\\') >= 0 {
		return nil, false
	}
	s.i += n + 1
	return v, true
}

// base64Str reads a string that must be base64. The decoder rejects every
// byte outside the alphabet except CR and LF, which it skips but JSON
// forbids raw in a string, so only those need a look here.
func (s *scanner) base64Str() ([]byte, bool) {
	v, ok := s.rawStr()
	if !ok || bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 {
		return nil, false
	}
	return v, true
}

// fastEntry collects one record before pointers into it are handed out.
// The partition key is first a range of the input; all keys become one
// string at the end, so 500 records cost one allocation, not 500.
type fastEntry struct {
	data                   blob
	pkStart, pkEnd         int
	pk, ehk                string
	hasData, hasPK, hasEHK bool
}

// decodePutRecordsFast parses {"StreamName"|"StreamARN"|"StreamId": "…",
// "Records": [{"Data": "b64", "PartitionKey": "…", "ExplicitHashKey": "…"}…]}.
func decodePutRecordsFast(body []byte) (*putRecordsInput, bool) {
	s := scanner{b: body}
	if !s.next('{') {
		return nil, false
	}
	in := &putRecordsInput{}
	var (
		entries  []fastEntry
		seenRecs bool
		buf      []byte // decoded data of every record, back to back
	)
	if s.next('}') {
		return nil, false // no Records: the slow path words the error
	}
	for {
		key, ok := s.str()
		if !ok || !s.next(':') {
			return nil, false
		}
		switch string(key) {
		case "StreamName", "StreamARN", "StreamId":
			v, ok := s.str()
			if !ok {
				return nil, false
			}
			p := &in.StreamName
			if key[6] == 'A' {
				p = &in.StreamARN
			} else if key[6] == 'I' {
				p = &in.StreamId
			}
			if *p != nil {
				return nil, false
			}
			str := string(v)
			*p = &str
		case "Records":
			if seenRecs || !s.next('[') {
				return nil, false
			}
			seenRecs = true
			// About 40 bytes of JSON per record at the least.
			entries = make([]fastEntry, 0, min(streamproc.MaxPutRecords, len(body)/40+1))
			if buf == nil {
				buf = make([]byte, 0, len(body)/4*3)
			}
			if !s.next(']') {
				for {
					e, nbuf, ok := s.entry(buf)
					if !ok {
						return nil, false
					}
					buf = nbuf
					entries = append(entries, e)
					if s.next(']') {
						break
					}
					if !s.next(',') {
						return nil, false
					}
				}
			}
		default:
			return nil, false
		}
		if s.next('}') {
			break
		}
		if !s.next(',') {
			return nil, false
		}
	}
	s.ws()
	if s.i != len(s.b) || !seenRecs {
		return nil, false
	}
	keys := 0
	for i := range entries {
		keys += entries[i].pkEnd - entries[i].pkStart
	}
	all := make([]byte, 0, keys)
	for i := range entries {
		all = append(all, body[entries[i].pkStart:entries[i].pkEnd]...)
	}
	allKeys := string(all)
	in.Records = make([]putRecordsEntry, len(entries))
	off := 0
	for i := range entries {
		e, r := &entries[i], &in.Records[i]
		if e.hasPK {
			n := e.pkEnd - e.pkStart
			e.pk = allKeys[off : off+n]
			off += n
		}
		if e.hasData {
			r.Data = &e.data
		}
		if e.hasPK {
			r.PartitionKey = &e.pk
		}
		if e.hasEHK {
			r.ExplicitHashKey = &e.ehk
		}
	}
	return in, true
}

// entry parses one record object, decoding its data onto buf.
func (s *scanner) entry(buf []byte) (fastEntry, []byte, bool) {
	var e fastEntry
	if !s.next('{') {
		return e, buf, false
	}
	if s.next('}') {
		return e, buf, true
	}
	for {
		key, ok := s.str()
		if !ok || !s.next(':') {
			return e, buf, false
		}
		var v []byte
		if string(key) == "Data" {
			v, ok = s.base64Str()
		} else {
			v, ok = s.str()
		}
		if !ok {
			return e, buf, false
		}
		switch string(key) {
		case "Data":
			if e.hasData {
				return e, buf, false
			}
			start := len(buf)
			n := base64.StdEncoding.DecodedLen(len(v))
			if cap(buf)-start < n {
				nb := make([]byte, start, max(2*cap(buf), start+n))
				copy(nb, buf)
				// Earlier entries keep pointing into the old array, which
				// stays valid: nothing writes to it again.
				buf = nb
			}
			m, err := base64.StdEncoding.Decode(buf[start:start+n], v)
			if err != nil {
				return e, buf, false
			}
			e.data = blob(buf[start : start+m : start+m])
			buf = buf[:start+m]
			e.hasData = true
		case "PartitionKey":
			if e.hasPK {
				return e, buf, false
			}
			// v is a sub-slice of the input, so its offset locates it.
			e.pkEnd = s.i - 1
			e.pkStart = e.pkEnd - len(v)
			e.hasPK = true
		case "ExplicitHashKey":
			if e.hasEHK {
				return e, buf, false
			}
			e.ehk, e.hasEHK = string(v), true
		default:
			return e, buf, false
		}
		if s.next('}') {
			return e, buf, true
		}
		if !s.next(',') {
			return e, buf, false
		}
	}
}

// appendEpoch appends epoch seconds with a millisecond fraction.
func appendEpoch(b []byte, ms int64) []byte {
	out, _ := epochMillis(ms).MarshalJSON()
	return append(b, out...)
}

// appendPutRecordsOutput writes PutRecords' response.
func appendPutRecordsOutput(b []byte, res []streamproc.PutResult) []byte {
	failed := 0
	for i := range res {
		if res[i].ErrorCode != "" {
			failed++
		}
	}
	b = append(b, `{"FailedRecordCount":`...)
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, `,"Records":[`...)
	for i := range res {
		r := &res[i]
		if i > 0 {
			b = append(b, ',')
		}
		if r.ErrorCode != "" {
			b = append(b, `{"ErrorCode":`...)
			b = jsonenc.AppendString(b, r.ErrorCode)
			b = append(b, `,"ErrorMessage":`...)
			b = jsonenc.AppendString(b, r.ErrorMessage)
		} else {
			b = append(b, `{"SequenceNumber":`...)
			b = jsonenc.AppendString(b, r.SequenceNumber)
			b = append(b, `,"ShardId":`...)
			b = jsonenc.AppendString(b, r.ShardID)
		}
		b = append(b, '}')
	}
	return append(b, `],"EncryptionType":"NONE"}`...)
}

// getRecordsSize estimates the response size of a batch, to allocate once.
func getRecordsSize(recs []stream.Record) int {
	n := 128
	for i := range recs {
		n += 140 + len(recs[i].PartitionKey) + base64.StdEncoding.EncodedLen(len(recs[i].Data))
	}
	return n
}

// appendGetRecordsOutput writes GetRecords' response.
func appendGetRecordsOutput(b []byte, recs []stream.Record, next string, behind int64) []byte {
	b = append(b, `{"Records":[`...)
	for i := range recs {
		r := &recs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"SequenceNumber":`...)
		b = jsonenc.AppendString(b, r.SequenceNumber)
		b = append(b, `,"ApproximateArrivalTimestamp":`...)
		b = appendEpoch(b, r.ArrivalTime.UnixMilli())
		b = append(b, `,"Data":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.Data)
		b = append(b, `","PartitionKey":`...)
		b = jsonenc.AppendString(b, r.PartitionKey)
		b = append(b, '}')
	}
	b = append(b, `],"NextShardIterator":`...)
	b = jsonenc.AppendString(b, next)
	b = append(b, `,"MillisBehindLatest":`...)
	b = strconv.AppendInt(b, behind, 10)
	return append(b, '}')
}

// rawJSON is a response already encoded.
type rawJSON []byte
