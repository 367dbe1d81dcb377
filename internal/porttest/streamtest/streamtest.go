// Package streamtest is the conformance suite for streamproc.StreamWriter:
// the same test bodies run against every backend (the embedded local/stream
// engine, and the Kinesis adapter against kinesalite), which is how we show
// that records written locally are routed, numbered and ordered as Kinesis
// does it.
//
// The writer port has no read side, so each backend supplies one: Records
// reads a shard back from the trim horizon. The suite asserts only what the
// streamproc.StreamWriter contract and Kinesis's documented routing
// promise; it never compares exact error texts, shard ids or sequence
// number formats, and computes the expected routing itself from MD5 rather
// than trusting shardmap (which the producer packs aggregates with, so it
// must not be its own referee).
package streamtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/streamproc/streamproc"
)

// Spec is a stream a subtest needs: open must create it, ACTIVE and empty,
// with Shards open shards splitting the hash-key space as CreateStream does.
type Spec struct {
	Name   string
	Shards int
}

// Stored is a record read back from a shard.
type Stored struct {
	PartitionKey   string
	Data           []byte
	SequenceNumber string
}

// Backend is one StreamWriter implementation under test.
type Backend struct {
	Writer streamproc.StreamWriter
	// Records returns every record of one shard, oldest first.
	Records func(t *testing.T, stream, shardID string) []Stored
}

// Run runs the whole suite. open returns a Backend holding exactly the
// given streams, empty, and registers its own cleanup with t.Cleanup.
// Subtests run sequentially, so a backend may share one server between
// them as long as open hands out fresh streams.
func Run(t *testing.T, open func(t *testing.T, streams ...Spec) Backend) {
	s := suite{open: open}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"ShardsTileHashSpace", s.shardsTileHashSpace},
		{"RoutesByMD5", s.routesByMD5},
		{"ResultsInOrder", s.resultsInOrder},
		{"PartitionKeyOrder", s.partitionKeyOrder},
		{"ConcurrentWriters", s.concurrentWriters},
		{"DataRoundTrip", s.dataRoundTrip},
		{"Empty", s.empty},
		{"MissingStream", s.missingStream},
		{"Invalid", s.invalid},
		{"Canceled", s.canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open func(t *testing.T, streams ...Spec) Backend
}

// maxHashKey is 2^128-1, the top of the hash-key space.
func maxHashKey() *big.Int {
	return new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
}

func bigInt(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 {
		t.Fatalf("%q is not a non-negative decimal integer", s)
	}
	return v
}

// hashKey is where Kinesis routes a record: its explicit hash key, or else
// the MD5 of its partition key read as a big-endian 128-bit integer.
func hashKey(t *testing.T, r streamproc.Record) *big.Int {
	t.Helper()
	if r.ExplicitHashKey != "" {
		return bigInt(t, r.ExplicitHashKey)
	}
	sum := md5.Sum([]byte(r.PartitionKey))
	return new(big.Int).SetBytes(sum[:])
}

// owner returns the id of the shard whose range holds r's hash key.
func owner(t *testing.T, shards []streamproc.Shard, r streamproc.Record) string {
	t.Helper()
	h := hashKey(t, r)
	for _, s := range shards {
		if h.Cmp(bigInt(t, s.StartingHashKey)) >= 0 && h.Cmp(bigInt(t, s.EndingHashKey)) <= 0 {
			return s.ID
		}
	}
	t.Fatalf("no shard of %v holds hash key %s", shards, h)
	return ""
}

func shards(t *testing.T, w streamproc.StreamWriter, stream string) []streamproc.Shard {
	t.Helper()
	sh, err := w.Shards(context.Background(), stream)
	if err != nil {
		t.Fatalf("Shards(%s): %v", stream, err)
	}
	return sh
}

// put writes records in one call and fails the test unless every entry
// succeeded with a shard and a sequence number.
func put(t *testing.T, w streamproc.StreamWriter, stream string, records []streamproc.Record) []streamproc.PutResult {
	t.Helper()
	res, err := w.PutRecords(context.Background(), stream, records)
	if err != nil {
		t.Fatalf("PutRecords(%s, %d records): %v", stream, len(records), err)
	}
	if len(res) != len(records) {
		t.Fatalf("PutRecords(%s): %d results for %d records", stream, len(res), len(records))
	}
	for i, r := range res {
		if r.ErrorCode != "" || r.SequenceNumber == "" || r.ShardID == "" {
			t.Fatalf("PutRecords(%s): result %d = %+v, want a shard and a sequence number", stream, i, r)
		}
	}
	return res
}

// landed reads back every shard of stream: shard id → records, oldest
// first.
func landed(t *testing.T, b Backend, stream string) map[string][]Stored {
	t.Helper()
	out := map[string][]Stored{}
	for _, s := range shards(t, b.Writer, stream) {
		out[s.ID] = b.Records(t, stream, s.ID)
	}
	return out
}

func count(m map[string][]Stored) int {
	n := 0
	for _, recs := range m {
		n += len(recs)
	}
	return n
}

// shardsTileHashSpace: the open shards own the whole 128-bit hash-key space
// between them, without gaps or overlaps, so every record has exactly one
// destination (the producer relies on it to pack aggregates by shard).
func (s suite) shardsTileHashSpace(t *testing.T) {
	counts := []int{1, 2, 3, 7, 16}
	var specs []Spec
	for _, n := range counts {
		specs = append(specs, Spec{Name: fmt.Sprintf("tile-%d", n), Shards: n})
	}
	b := s.open(t, specs...)
	for _, spec := range specs {
		t.Run(spec.Name, func(t *testing.T) {
			got := shards(t, b.Writer, spec.Name)
			if len(got) != spec.Shards {
				t.Fatalf("%d shards, want %d: %v", len(got), spec.Shards, got)
			}
			ids := map[string]bool{}
			for _, sh := range got {
				if sh.ID == "" || ids[sh.ID] {
					t.Fatalf("shard ids %v are not distinct and non-empty", got)
				}
				ids[sh.ID] = true
			}
			sorted := slices.Clone(got)
			slices.SortFunc(sorted, func(a, b streamproc.Shard) int {
				return bigInt(t, a.StartingHashKey).Cmp(bigInt(t, b.StartingHashKey))
			})
			next := big.NewInt(0)
			for _, sh := range sorted {
				start, end := bigInt(t, sh.StartingHashKey), bigInt(t, sh.EndingHashKey)
				if start.Cmp(next) != 0 {
					t.Fatalf("shards %v do not tile the hash-key space: %s starts at %s, want %s", got, sh.ID, start, next)
				}
				if end.Cmp(start) < 0 {
					t.Fatalf("shard %s ends at %s, before its start %s", sh.ID, end, start)
				}
				next = new(big.Int).Add(end, big.NewInt(1))
			}
			if last := new(big.Int).Sub(next, big.NewInt(1)); last.Cmp(maxHashKey()) != 0 {
				t.Fatalf("shards %v end at %s, want 2^128-1", got, last)
			}
		})
	}
}

// routesByMD5: every record lands on the shard whose range holds
// MD5(partition key), or its explicit hash key when it has one, and the
// result names that shard.
func (s suite) routesByMD5(t *testing.T) {
	const stream = "routing"
	b := s.open(t, Spec{Name: stream, Shards: 5})
	sh := shards(t, b.Writer, stream)
	var records []streamproc.Record
	for k := range 300 {
		records = append(records, streamproc.Record{PartitionKey: fmt.Sprintf("user-%d", k), Data: fmt.Appendf(nil, "md5-%d", k)})
	}
	// Explicit hash keys on both edges of every shard and of the space,
	// all under one partition key: the key must not matter, and an
	// off-by-one at a boundary shows here.
	explicit := []string{"0", maxHashKey().String()}
	for _, x := range sh {
		explicit = append(explicit, x.StartingHashKey, x.EndingHashKey)
	}
	for i, h := range explicit {
		records = append(records, streamproc.Record{PartitionKey: "same-key", ExplicitHashKey: h, Data: fmt.Appendf(nil, "explicit-%d", i)})
	}

	want := map[string][]string{} // shard → data, in order
	for i, res := range put(t, b.Writer, stream, records) {
		r := records[i]
		dest := owner(t, sh, r)
		if res.ShardID != dest {
			t.Fatalf("record %d (key %q, explicit %q): result names %s, want %s", i, r.PartitionKey, r.ExplicitHashKey, res.ShardID, dest)
		}
		want[dest] = append(want[dest], string(r.Data))
	}
	for id, recs := range landed(t, b, stream) {
		var got []string
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
		if !slices.Equal(got, want[id]) {
			t.Fatalf("shard %s holds %q\nwant %q", id, got, want[id])
		}
	}
}

// resultsInOrder: a full call (500 records over several shards) returns one
// result per record in input order: result i is the shard and sequence
// number under which record i is stored.
func (s suite) resultsInOrder(t *testing.T) {
	const stream = "results"
	b := s.open(t, Spec{Name: stream, Shards: 4})
	records := make([]streamproc.Record, streamproc.MaxPutRecords)
	for i := range records {
		records[i] = streamproc.Record{PartitionKey: fmt.Sprintf("k%d", i%37), Data: fmt.Appendf(nil, "record-%03d", i)}
	}
	res := put(t, b.Writer, stream, records)
	type at struct{ shard, seq string }
	stored := map[at]string{}
	for id, recs := range landed(t, b, stream) {
		for _, r := range recs {
			stored[at{id, r.SequenceNumber}] = string(r.Data)
		}
	}
	if len(stored) != len(records) {
		t.Fatalf("stream holds %d records, want %d", len(stored), len(records))
	}
	for i, r := range res {
		if got, want := stored[at{r.ShardID, r.SequenceNumber}], string(records[i].Data); got != want {
			t.Fatalf("result %d (%s, %s) is the record %q, want %q", i, r.ShardID, r.SequenceNumber, got, want)
		}
	}
}

// partitionKeyOrder: records of one partition key land in the order given,
// within a call and across calls, and their sequence numbers increase in
// that order (consumers checkpoint by sequence number).
func (s suite) partitionKeyOrder(t *testing.T) {
	const stream = "order"
	b := s.open(t, Spec{Name: stream, Shards: 3})
	keys := []string{"alice", "bob", "carol", "dave", "erin"}
	lastSeq := map[string]*big.Int{}
	wantData := map[string][]string{}
	for c := range 3 {
		var records []streamproc.Record
		for i := range 60 {
			k := keys[(i*7+c)%len(keys)] // keys interleaved differently in each call
			records = append(records, streamproc.Record{PartitionKey: k, Data: fmt.Appendf(nil, "%s-%d-%02d", k, c, i)})
		}
		for i, res := range put(t, b.Writer, stream, records) {
			k := records[i].PartitionKey
			seq := bigInt(t, res.SequenceNumber)
			if prev := lastSeq[k]; prev != nil && seq.Cmp(prev) <= 0 {
				t.Fatalf("call %d, key %s: sequence number %s after %s", c, k, seq, prev)
			}
			lastSeq[k] = seq
			wantData[k] = append(wantData[k], string(records[i].Data))
		}
	}
	gotData := map[string][]string{}
	for id, recs := range landed(t, b, stream) {
		for j, r := range recs {
			if j > 0 && bigInt(t, r.SequenceNumber).Cmp(bigInt(t, recs[j-1].SequenceNumber)) <= 0 {
				t.Fatalf("shard %s: sequence numbers do not increase at record %d", id, j)
			}
			gotData[r.PartitionKey] = append(gotData[r.PartitionKey], string(r.Data))
		}
	}
	for _, k := range keys {
		if !slices.Equal(gotData[k], wantData[k]) {
			t.Fatalf("key %s: stream holds %q\nwant %q", k, gotData[k], wantData[k])
		}
	}
}

// concurrentWriters: producers run concurrently (one per trend); no record
// of a successful call is lost or duplicated, and each writer's keys keep
// its order.
func (s suite) concurrentWriters(t *testing.T) {
	const stream = "concurrent"
	b := s.open(t, Spec{Name: stream, Shards: 4})
	const writers, calls, per = 4, 5, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for c := range calls {
				var records []streamproc.Record
				for i := range per {
					records = append(records, streamproc.Record{
						PartitionKey: fmt.Sprintf("w%d-k%d", w, i%3),
						Data:         fmt.Appendf(nil, "w%d-k%d-%04d", w, i%3, c*per+i),
					})
				}
				res, err := b.Writer.PutRecords(context.Background(), stream, records)
				if err == nil && len(res) != len(records) {
					err = fmt.Errorf("%d results for %d records", len(res), len(records))
				}
				for i := 0; err == nil && i < len(res); i++ {
					if res[i].ErrorCode != "" {
						err = fmt.Errorf("entry %d failed: %s %s", i, res[i].ErrorCode, res[i].ErrorMessage)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d, call %d: %w", w, c, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := landed(t, b, stream)
	if n := count(got); n != writers*calls*per {
		t.Fatalf("stream holds %d records, want %d", n, writers*calls*per)
	}
	for id, recs := range got {
		last := map[string]string{}
		for _, r := range recs {
			// Data sorts in the order each writer wrote its key.
			if prev, ok := last[r.PartitionKey]; ok && string(r.Data) <= prev {
				t.Fatalf("shard %s, key %s: %q after %q", id, r.PartitionKey, r.Data, prev)
			}
			last[r.PartitionKey] = string(r.Data)
		}
	}
}

// dataRoundTrip: data is opaque bytes and comes back exactly, at every
// size Kinesis takes, and so do partition keys up to their limit.
func (s suite) dataRoundTrip(t *testing.T) {
	const stream = "data"
	b := s.open(t, Spec{Name: stream, Shards: 2})
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	tests := []struct {
		name string
		rec  streamproc.Record
	}{
		{"every byte value", streamproc.Record{PartitionKey: "bytes", Data: every}},
		{"invalid UTF-8", streamproc.Record{PartitionKey: "utf8", Data: []byte{0xff, 0xfe, 0xc3, 0x28, '\n', 0}}},
		{"empty data", streamproc.Record{PartitionKey: "empty", Data: []byte{}}},
		{"nil data", streamproc.Record{PartitionKey: "nil"}},
		{"largest record", streamproc.Record{PartitionKey: "k", Data: bytes.Repeat([]byte{0xa5}, streamproc.MaxRecordBytes-1)}},
		{"256-character multi-byte partition key", streamproc.Record{PartitionKey: strings.Repeat("é", 256), Data: []byte("x")}},
		{"partition key with spaces and symbols", streamproc.Record{PartitionKey: " a/b\\c:d #ü ", Data: []byte("y")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := put(t, b.Writer, stream, []streamproc.Record{tc.rec})
			for _, r := range b.Records(t, stream, res[0].ShardID) {
				if r.SequenceNumber != res[0].SequenceNumber {
					continue
				}
				if r.PartitionKey != tc.rec.PartitionKey {
					t.Fatalf("partition key %q came back as %q", tc.rec.PartitionKey, r.PartitionKey)
				}
				if !bytes.Equal(r.Data, tc.rec.Data) {
					t.Fatalf("%d bytes of data came back as %d different bytes", len(tc.rec.Data), len(r.Data))
				}
				return
			}
			t.Fatalf("no record with sequence number %s in shard %s", res[0].SequenceNumber, res[0].ShardID)
		})
	}
}

// empty: writing no records is no call: no results and no error (a
// producer whose batch turned out empty need not special-case it).
func (s suite) empty(t *testing.T) {
	const stream = "empty"
	b := s.open(t, Spec{Name: stream, Shards: 1})
	for _, records := range [][]streamproc.Record{nil, {}} {
		res, err := b.Writer.PutRecords(context.Background(), stream, records)
		if err != nil || len(res) != 0 {
			t.Fatalf("PutRecords(%#v) = %v, %v; want no results and no error", records, res, err)
		}
	}
	if n := count(landed(t, b, stream)); n != 0 {
		t.Fatalf("stream holds %d records", n)
	}
}

// missingStream: a stream that does not exist is ErrNotFound, named in the
// error, for both calls.
func (s suite) missingStream(t *testing.T) {
	b := s.open(t, Spec{Name: "present", Shards: 1})
	const missing = "no-such-stream"
	tests := []struct {
		name string
		call func() error
	}{
		{"PutRecords", func() error {
			_, err := b.Writer.PutRecords(context.Background(), missing, []streamproc.Record{{PartitionKey: "k", Data: []byte("v")}})
			return err
		}},
		{"Shards", func() error { _, err := b.Writer.Shards(context.Background(), missing); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, streamproc.ErrNotFound) {
				t.Fatalf("%s of a missing stream: %v, want ErrNotFound", tc.name, err)
			}
			if errors.Is(err, streamproc.ErrInvalid) || errors.Is(err, streamproc.ErrUnavailable) {
				t.Fatalf("error %q is also another kind", err)
			}
			if !strings.Contains(err.Error(), missing) {
				t.Fatalf("error %q does not name the stream", err)
			}
		})
	}
}

// invalid: a request that breaks Kinesis's rules fails as a whole with
// ErrInvalid (retrying cannot help) and writes nothing.
func (s suite) invalid(t *testing.T) {
	const stream = "invalid"
	b := s.open(t, Spec{Name: stream, Shards: 2})
	ok := streamproc.Record{PartitionKey: "k", Data: []byte("v")}
	tooMany := slices.Repeat([]streamproc.Record{ok}, streamproc.MaxPutRecords+1)
	tests := []struct {
		name    string
		records []streamproc.Record
	}{
		{"too many records", tooMany},
		{"empty partition key", []streamproc.Record{ok, {Data: []byte("v")}}},
		{"partition key over 256 characters", []streamproc.Record{ok, {PartitionKey: strings.Repeat("k", 257), Data: []byte("v")}}},
		{"data over 1 MiB", []streamproc.Record{ok, {PartitionKey: "k", Data: make([]byte, streamproc.MaxRecordBytes+1)}}},
		{"partition key and data over 1 MiB", []streamproc.Record{ok, {PartitionKey: "kk", Data: make([]byte, streamproc.MaxRecordBytes-1)}}},
		{"call over 5 MiB", slices.Repeat([]streamproc.Record{{PartitionKey: "k", Data: make([]byte, streamproc.MaxRecordBytes-1)}}, streamproc.MaxPutRecordsBytes/streamproc.MaxRecordBytes+1)},
		{"explicit hash key 2^128", []streamproc.Record{ok, {PartitionKey: "k", ExplicitHashKey: new(big.Int).Add(maxHashKey(), big.NewInt(1)).String()}}},
		{"explicit hash key not a number", []streamproc.Record{ok, {PartitionKey: "k", ExplicitHashKey: "12ab"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := count(landed(t, b, stream))
			res, err := b.Writer.PutRecords(context.Background(), stream, tc.records)
			if !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("PutRecords = %d results, %v; want ErrInvalid", len(res), err)
			}
			if errors.Is(err, streamproc.ErrUnavailable) || errors.Is(err, streamproc.ErrNotFound) {
				t.Fatalf("error %q is also another kind", err)
			}
			if res != nil {
				t.Fatalf("%d results with a whole-call error", len(res))
			}
			if n := count(landed(t, b, stream)) - before; n != 0 {
				t.Fatalf("a rejected call wrote %d records", n)
			}
		})
	}
}

// canceled: a canceled or expired context fails either call with the
// context's error, not as a stream failure, and writes nothing.
func (s suite) canceled(t *testing.T) {
	const stream = "canceled"
	b := s.open(t, Spec{Name: stream, Shards: 2})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), -1)
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	} {
		calls := []struct {
			name string
			call func() error
		}{
			{"PutRecords", func() error {
				_, err := b.Writer.PutRecords(c.ctx, stream, []streamproc.Record{{PartitionKey: "k", Data: []byte("v")}})
				return err
			}},
			{"Shards", func() error { _, err := b.Writer.Shards(c.ctx, stream); return err }},
		}
		for _, tc := range calls {
			t.Run(c.name+" "+tc.name, func(t *testing.T) {
				err := tc.call()
				if !errors.Is(err, c.want) {
					t.Fatalf("%s = %v, want %v", tc.name, err, c.want)
				}
				for _, k := range []error{streamproc.ErrNotFound, streamproc.ErrUnavailable, streamproc.ErrInvalid} {
					if errors.Is(err, k) {
						t.Fatalf("error %q also wraps %v", err, k)
					}
				}
			})
		}
	}
	if n := count(landed(t, b, stream)); n != 0 {
		t.Fatalf("calls under a done context wrote %d records", n)
	}
}
