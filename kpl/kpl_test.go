package kpl

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/awslabs/kinesis-aggregation/go/v2/deaggregator"
	"github.com/awslabs/kinesis-aggregation/go/v2/records"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/shardmap"
)

// aggregate packs recs with a fresh aggregator that must take them all.
func aggregate(t testing.TB, maxSize int, recs []UserRecord) streamproc.Record {
	t.Helper()
	a := NewAggregator(maxSize)
	for i, r := range recs {
		if !a.Add(r) {
			t.Fatalf("record %d did not fit (size %d, max %d)", i, a.Size(), a.MaxSize())
		}
	}
	out, err := a.Drain()
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	return out
}

func equalRecords(a, b []UserRecord) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].PartitionKey != b[i].PartitionKey || a[i].ExplicitHashKey != b[i].ExplicitHashKey || !bytes.Equal(a[i].Data, b[i].Data) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		recs []UserRecord
	}{
		{"two distinct keys", []UserRecord{{PartitionKey: "alice", Data: []byte("a1")}, {PartitionKey: "bob", Data: []byte("b1")}}},
		{"repeated keys", []UserRecord{
			{PartitionKey: "alice", Data: []byte("a1")}, {PartitionKey: "bob", Data: []byte("b1")},
			{PartitionKey: "alice", Data: []byte("a2")}, {PartitionKey: "alice", Data: []byte("a3")},
		}},
		{"explicit hash keys mixed with none", []UserRecord{
			{PartitionKey: "k", ExplicitHashKey: "0", Data: []byte("x")},
			{PartitionKey: "k", Data: []byte("y")},
			{PartitionKey: "j", ExplicitHashKey: "340282366920938463463374607431768211455", Data: []byte("z")},
			{PartitionKey: "k", ExplicitHashKey: "0", Data: []byte("w")},
		}},
		{"empty data", []UserRecord{{PartitionKey: "a", Data: []byte{}}, {PartitionKey: "a", Data: []byte{}}}},
		{"unicode keys and binary data", []UserRecord{
			{PartitionKey: "오마이걸", Data: []byte{0, 0xff, 0xf3, 0x89}},
			{PartitionKey: "مرحبا", Data: []byte("\x00\x01")},
			{PartitionKey: strings.Repeat("é", MaxPartitionKeyLen), Data: []byte("long key")},
		}},
		{"hundreds of records", func() []UserRecord {
			var rs []UserRecord
			for i := range 300 {
				rs = append(rs, UserRecord{PartitionKey: fmt.Sprintf("user%d", i%17), Data: []byte(fmt.Sprintf(`{"n":%d}`, i))})
			}
			return rs
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := aggregate(t, 0, tc.recs)
			if out.PartitionKey != tc.recs[0].PartitionKey {
				t.Errorf("aggregate partition key = %q, want first record's %q", out.PartitionKey, tc.recs[0].PartitionKey)
			}
			got, aggregated, err := Deaggregate(out.Data)
			if err != nil || !aggregated {
				t.Fatalf("Deaggregate: aggregated=%v err=%v", aggregated, err)
			}
			if !equalRecords(got, tc.recs) {
				t.Errorf("round trip mismatch:\n got %+v\nwant %+v", got, tc.recs)
			}
		})
	}
}

func TestDedupKeyTables(t *testing.T) {
	recs := []UserRecord{
		{PartitionKey: "a", ExplicitHashKey: "7", Data: []byte("1")},
		{PartitionKey: "b", ExplicitHashKey: "7", Data: []byte("2")},
		{PartitionKey: "a", Data: []byte("3")},
		{PartitionKey: "b", ExplicitHashKey: "8", Data: []byte("4")},
	}
	out := aggregate(t, 0, recs)
	var agg records.AggregatedRecord
	if err := proto.Unmarshal(out.Data[4:len(out.Data)-16], protoadapt.MessageV2Of(&agg)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(agg.PartitionKeyTable, ","); got != "a,b" {
		t.Errorf("partition key table = %s, want a,b", got)
	}
	if got := strings.Join(agg.ExplicitHashKeyTable, ","); got != "7,8" {
		t.Errorf("explicit hash key table = %s, want 7,8", got)
	}
	if agg.Records[2].ExplicitHashKeyIndex != nil {
		t.Errorf("record without explicit hash key got index %d", *agg.Records[2].ExplicitHashKeyIndex)
	}
}

func TestSingleRecordIsPlain(t *testing.T) {
	tests := []struct {
		name string
		rec  UserRecord
	}{
		{"partition key only", UserRecord{PartitionKey: "alice", Data: []byte(`{"id":1}`)}},
		{"explicit hash key kept", UserRecord{PartitionKey: "alice", ExplicitHashKey: "42", Data: []byte(`{"id":1}`)}},
		{"over the aggregation limit", UserRecord{PartitionKey: "big", Data: bytes.Repeat([]byte("x"), DefaultMaxSize+1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(0)
			if !a.Add(tc.rec) {
				t.Fatal("empty aggregator refused a record")
			}
			if got, want := a.Size(), len(tc.rec.PartitionKey)+len(tc.rec.Data); got != want {
				t.Errorf("Size = %d, want %d", got, want)
			}
			out, err := a.Drain()
			if err != nil {
				t.Fatal(err)
			}
			want := streamproc.Record{PartitionKey: tc.rec.PartitionKey, ExplicitHashKey: tc.rec.ExplicitHashKey, Data: tc.rec.Data}
			if out.PartitionKey != want.PartitionKey || out.ExplicitHashKey != want.ExplicitHashKey || !bytes.Equal(out.Data, want.Data) {
				t.Errorf("Drain = %+v, want the record unchanged", out)
			}
			if IsAggregated(out.Data) {
				t.Error("single record came out aggregated")
			}
			if a.Len() != 0 || a.Size() != 0 {
				t.Errorf("after Drain Len=%d Size=%d, want 0", a.Len(), a.Size())
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	tests := []struct {
		name    string
		maxSize int
		want    int
		dataLen int
	}{
		{"default", 0, DefaultMaxSize, 2500},
		{"small", 1000, 1000, 90},
		{"negative means default", -5, DefaultMaxSize, 4000},
		{"capped at 1 MiB", 8 << 20, MaxSize, 60000},
		{"exactly 1 MiB", MaxSize, MaxSize, 33333},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(tc.maxSize)
			if a.MaxSize() != tc.want {
				t.Fatalf("MaxSize = %d, want %d", a.MaxSize(), tc.want)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			var added []UserRecord
			for {
				r := UserRecord{
					PartitionKey: fmt.Sprintf("user-%d", rng.IntN(40)),
					Data:         bytes.Repeat([]byte{'d'}, 1+rng.IntN(tc.dataLen)),
				}
				if rng.IntN(4) == 0 {
					r.ExplicitHashKey = shardmap.HashKey(r.PartitionKey).String()
				}
				if !a.Add(r) {
					if a.Len() < 2 {
						t.Fatalf("refused record %d with only %d held", len(added), a.Len())
					}
					break
				}
				added = append(added, r)
				if a.Len() > 1 && a.Size() > tc.want {
					t.Fatalf("Size %d exceeds limit %d after %d records", a.Size(), tc.want, a.Len())
				}
			}
			size := a.Size()
			out, err := a.Drain()
			if err != nil {
				t.Fatal(err)
			}
			// Size must be exact, not an estimate: the producer sums it
			// against the 5 MiB PutRecords limit.
			if got := len(out.PartitionKey) + len(out.Data); got != size {
				t.Errorf("Size() = %d but the drained record counts %d bytes", size, got)
			}
			if got := len(out.PartitionKey) + len(out.Data); got > tc.want {
				t.Errorf("drained record counts %d bytes, limit %d", got, tc.want)
			}
			got, _, err := Deaggregate(out.Data)
			if err != nil {
				t.Fatal(err)
			}
			if !equalRecords(got, added) {
				t.Error("deaggregated records differ from those added")
			}
		})
	}
}

func TestRecordsThatCannotBePut(t *testing.T) {
	good := UserRecord{PartitionKey: "ok", Data: []byte("fine")}
	tests := []struct {
		name string
		rec  UserRecord
	}{
		{"empty partition key", UserRecord{Data: []byte("x")}},
		{"partition key too long", UserRecord{PartitionKey: strings.Repeat("k", MaxPartitionKeyLen+1), Data: []byte("x")}},
		{"bad explicit hash key", UserRecord{PartitionKey: "k", ExplicitHashKey: "0x10", Data: []byte("x")}},
		{"explicit hash key above 2^128-1", UserRecord{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456", Data: []byte("x")}},
		{"over 1 MiB", UserRecord{PartitionKey: "k", Data: make([]byte, MaxSize)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(MaxSize)
			if !a.Add(good) {
				t.Fatal("good record refused")
			}
			if a.Add(tc.rec) {
				t.Fatal("bad record joined an aggregate holding a good one")
			}
			if _, err := a.Drain(); err != nil {
				t.Fatalf("draining the good record: %v", err)
			}
			if !a.Add(tc.rec) {
				t.Fatal("empty aggregator refused the bad record")
			}
			if a.Add(good) {
				t.Fatal("good record joined an aggregate holding a bad one")
			}
			_, err := a.Drain()
			if !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("Drain error = %v, want ErrInvalid", err)
			}
			if a.Len() != 0 {
				t.Errorf("Len after failed Drain = %d", a.Len())
			}
			if !a.Add(good) {
				t.Error("aggregator unusable after a failed Drain")
			}
		})
	}
}

func TestDrainEmpty(t *testing.T) {
	if _, err := NewAggregator(0).Drain(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("Drain on empty = %v, want ErrEmpty", err)
	}
}

func TestZeroValueAggregator(t *testing.T) {
	var a Aggregator
	if a.MaxSize() != DefaultMaxSize {
		t.Errorf("MaxSize = %d, want %d", a.MaxSize(), DefaultMaxSize)
	}
	recs := []UserRecord{{PartitionKey: "a", Data: []byte("1")}, {PartitionKey: "b", Data: []byte("2")}, {PartitionKey: "a", Data: []byte("3")}}
	for _, r := range recs {
		if !a.Add(r) {
			t.Fatal("record refused")
		}
	}
	out, err := a.Drain()
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := Deaggregate(out.Data); err != nil || !equalRecords(got, recs) {
		t.Fatalf("round trip: %v", err)
	}
}

// The aggregate must land where its first user record would have landed on
// its own, whatever the shard layout.
func TestAggregateRoutesLikeFirstRecord(t *testing.T) {
	for _, shards := range []int{1, 2, 3, 7, 64} {
		m, err := shardmap.New(shardmap.Even(shards))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			first := UserRecord{PartitionKey: fmt.Sprintf("author-%d", i), Data: []byte("x")}
			if i%3 == 0 {
				first.ExplicitHashKey = shardmap.HashKey(fmt.Sprintf("other-%d", i)).String()
			}
			out := aggregate(t, 0, []UserRecord{first, {PartitionKey: "someone-else", Data: []byte("y")}})
			want, err := m.Route(first.PartitionKey, first.ExplicitHashKey)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Route(out.PartitionKey, out.ExplicitHashKey)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%d shards, record %d: aggregate goes to shard %d, first record to %d", shards, i, got, want)
			}
		}
	}
}

func mustMD5Aggregate(pb []byte) []byte {
	sum := md5.Sum(pb)
	return append(append([]byte(magic), pb...), sum[:]...)
}

func TestDetectionRule(t *testing.T) {
	valid := aggregate(t, 0, []UserRecord{{PartitionKey: "a", Data: []byte("1")}, {PartitionKey: "b", Data: []byte("2")}}).Data
	wrongMD5 := bytes.Clone(valid)
	wrongMD5[len(wrongMD5)-1] ^= 1
	wrongMagic := bytes.Clone(valid)
	wrongMagic[0] = 0xf4
	flippedBody := bytes.Clone(valid)
	flippedBody[6] ^= 0x20

	tests := []struct {
		name           string
		data           []byte
		wantAggregated bool
	}{
		{"nil", nil, false},
		{"empty", []byte{}, false},
		{"three bytes of magic", []byte(magic[:3]), false},
		{"magic only", []byte(magic), false},
		{"magic and 16 bytes", append([]byte(magic), make([]byte, 16)...), false},
		// MD5 of an empty protobuf, but the rule needs more than 16 bytes
		// after the magic, so this is plain data.
		{"magic and md5 of nothing", mustMD5Aggregate(nil), false},
		{"wrong md5", wrongMD5, false},
		{"wrong magic", wrongMagic, false},
		{"body changed after md5", flippedBody, false},
		{"json tweet", []byte(`{"id":1,"text":"hi"}`), false},
		{"valid", valid, true},
		{"magic, one protobuf byte, md5", mustMD5Aggregate([]byte{0x0a, 0x00}), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsAggregated(tc.data); got != tc.wantAggregated {
				t.Errorf("IsAggregated = %v, want %v", got, tc.wantAggregated)
			}
			recs, aggregated, err := Deaggregate(tc.data)
			if err != nil {
				t.Fatalf("Deaggregate: %v", err)
			}
			if aggregated != tc.wantAggregated {
				t.Errorf("aggregated = %v, want %v", aggregated, tc.wantAggregated)
			}
			if !tc.wantAggregated {
				if len(recs) != 1 || !bytes.Equal(recs[0].Data, tc.data) || recs[0].PartitionKey != "" {
					t.Errorf("plain data should come back as itself, got %+v", recs)
				}
			}
		})
	}
}

// pbRecord encodes one Record message body by hand so tests can build
// protobufs the Aggregator would never write.
func pbRecord(fields ...[]byte) []byte { return bytes.Join(fields, nil) }

func varintField(n protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, n, protowire.VarintType), v)
}

func bytesField(n protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, n, protowire.BytesType), v)
}

func TestDeaggregateCorrupt(t *testing.T) {
	pkTable := bytesField(1, []byte("pk"))
	tests := []struct {
		name string
		pb   []byte
	}{
		{"truncated protobuf", []byte{0x0a, 0x05, 'a'}},
		{"bad wire type", []byte{0x0f, 0x01}},
		{"field number zero", []byte{0x02, 0x00}},
		{"record missing data", append(bytes.Clone(pkTable), bytesField(3, varintField(1, 0))...)},
		{"record missing partition key index", append(bytes.Clone(pkTable), bytesField(3, bytesField(3, []byte("d")))...)},
		{"partition key index out of range", append(bytes.Clone(pkTable), bytesField(3, pbRecord(varintField(1, 1), bytesField(3, []byte("d"))))...)},
		{"partition key index huge", append(bytes.Clone(pkTable), bytesField(3, pbRecord(varintField(1, 1<<63), bytesField(3, []byte("d"))))...)},
		{"no partition key table", bytesField(3, pbRecord(varintField(1, 0), bytesField(3, []byte("d"))))},
		{"explicit hash key index out of range", append(bytes.Clone(pkTable), bytesField(3, pbRecord(varintField(1, 0), varintField(2, 0), bytesField(3, []byte("d"))))...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := mustMD5Aggregate(tc.pb)
			if !IsAggregated(data) {
				t.Fatal("test input is not detected as aggregated")
			}
			recs, aggregated, err := Deaggregate(data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if !aggregated || recs != nil {
				t.Errorf("aggregated=%v recs=%v, want true and nil", aggregated, recs)
			}
		})
	}
}

func TestDeaggregateToleratesUnknownFieldsAndTags(t *testing.T) {
	rec := pbRecord(varintField(1, 0), bytesField(3, []byte("d")), bytesField(4, bytesField(1, []byte("tagkey"))), varintField(9, 5))
	pb := append(bytesField(1, []byte("pk")), bytesField(3, rec)...)
	pb = append(pb, bytesField(15, []byte("future field"))...)
	recs, aggregated, err := Deaggregate(mustMD5Aggregate(pb))
	if err != nil || !aggregated {
		t.Fatalf("aggregated=%v err=%v", aggregated, err)
	}
	if want := []UserRecord{{PartitionKey: "pk", Data: []byte("d")}}; !equalRecords(recs, want) {
		t.Errorf("got %+v, want %+v", recs, want)
	}
}

// Aggregated records written by other implementations, verbatim.
func TestReferenceAggregates(t *testing.T) {
	tests := []struct {
		name   string
		base64 string
		want   []UserRecord
	}{
		{
			// awslabs/aws-lambda-fanout test suite: one user record.
			name:   "lambda-fanout single record",
			base64: "84mawgoFa2V5LTAaJQgAGiFUZXN0aW5nIEtQTCBBZ2dyZWdhdGVkIFJlY29yZCAxLTBlW2Hfd6iL1WkMbznr8jc2",
			want:   []UserRecord{{PartitionKey: "key-0", Data: []byte("Testing KPL Aggregated Record 1-0")}},
		},
		{
			// Built by awslabs/kinesis-aggregation: three keys.
			name:   "kinesis-aggregation three keys",
			base64: "84mawgoEcGstMAoEcGstMQoEcGstMhoTCAAaD3sibXNnIjoibGluZTAifRoTCAEaD3sibXNnIjoibGluZTEifRoTCAIaD3sibXNnIjoibGluZTIifZ8hyadI+v2KZPZrUGim6cQ=",
			want: []UserRecord{
				{PartitionKey: "pk-0", Data: []byte(`{"msg":"line0"}`)},
				{PartitionKey: "pk-1", Data: []byte(`{"msg":"line1"}`)},
				{PartitionKey: "pk-2", Data: []byte(`{"msg":"line2"}`)},
			},
		},
		{
			// kpl-deagg (TypeScript) test suite: one key, three records.
			name:   "kpl-deagg one key",
			base64: "84mawgoCcDEaGAgAGhQwMTIzNDU2Nzg5MDEyMzQ1NjdfQRoYCAAaFDAxMjM0NTY3ODkwMTIzNDU2N19CGhgIABoUMDEyMzQ1Njc4OTAxMjM0NTY3X0NHjL02iyRk3D+kO2UC2X6u",
			want: []UserRecord{
				{PartitionKey: "p1", Data: []byte("012345678901234567_A")},
				{PartitionKey: "p1", Data: []byte("012345678901234567_B")},
				{PartitionKey: "p1", Data: []byte("012345678901234567_C")},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := base64.StdEncoding.DecodeString(tc.base64)
			if err != nil {
				t.Fatal(err)
			}
			got, aggregated, err := Deaggregate(data)
			if err != nil || !aggregated {
				t.Fatalf("aggregated=%v err=%v", aggregated, err)
			}
			if !equalRecords(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(tc.want) < 2 {
				return // we send a single record plain, so there is nothing to compare
			}
			if ours := aggregate(t, 0, tc.want); !bytes.Equal(ours.Data, data) {
				t.Errorf("our aggregate differs from the reference bytes:\n ours %x\n ref  %x", ours.Data, data)
			}
		})
	}
}

// The sample event of awslabs/kinesis-aggregation's Java README: 100 user
// records with partition key "abc" and, as the KPL writes it, an explicit hash
// key equal to MD5("abc") in decimal. Our bytes must be identical; the MD5
// trailer and length pin them down without pasting 3.4 KB of base64.
func TestKPLSampleEventLayout(t *testing.T) {
	const (
		wantLen     = 3466
		wantTrailer = "0I8WvwEDJiGD4YsiKIfUOw=="
		wantPrefix  = "84mawgoDYWJjEicxOTE0MTU2NTgzNDQxNTg3NjYxNjgwMzE0NzMyNzc5MjI4MDM1NzAaIAgAEAAaGmFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6"
	)
	hashKey := shardmap.HashKey("abc").String()
	if hashKey != "191415658344158766168031473277922803570" {
		t.Fatalf("MD5(abc) = %s", hashKey)
	}
	fwd := "abcdefghijklmnopqrstuvwxyz"
	rev := "zyxwvutsrqponmlkjihgfedcba"
	var recs []UserRecord
	for i := range 100 {
		d := fwd
		if i%2 == 1 {
			d = rev
		}
		recs = append(recs, UserRecord{PartitionKey: "abc", ExplicitHashKey: hashKey, Data: []byte(d)})
	}
	out := aggregate(t, 0, recs)
	if len(out.Data) != wantLen {
		t.Errorf("length %d, want %d", len(out.Data), wantLen)
	}
	if got := base64.StdEncoding.EncodeToString(out.Data[len(out.Data)-16:]); got != wantTrailer {
		t.Errorf("MD5 trailer %s, want %s", got, wantTrailer)
	}
	if got := base64.StdEncoding.EncodeToString(out.Data); !strings.HasPrefix(got, wantPrefix) {
		t.Errorf("prefix %s, want %s", got[:len(wantPrefix)], wantPrefix)
	}
	if out.ExplicitHashKey != hashKey {
		t.Errorf("aggregate explicit hash key %s, want %s", out.ExplicitHashKey, hashKey)
	}
}

func randomRecords(rng *rand.Rand, n int) []UserRecord {
	recs := make([]UserRecord, n)
	for i := range recs {
		recs[i] = UserRecord{PartitionKey: fmt.Sprintf("pk%d", rng.IntN(n)), Data: make([]byte, rng.IntN(300))}
		for j := range recs[i].Data {
			recs[i].Data[j] = byte(rng.Uint32())
		}
		if rng.IntN(3) == 0 {
			recs[i].ExplicitHashKey = fmt.Sprint(rng.Uint64())
		}
	}
	return recs
}

// Our hand-written encoder must produce exactly what the generated protobuf
// code would, so any protobuf-based reader agrees with us.
func TestEncodingMatchesGeneratedCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for n := 2; n < 60; n += 7 {
		recs := randomRecords(rng, n)
		out := aggregate(t, MaxSize, recs)

		var want records.AggregatedRecord
		pkIdx, ehkIdx := map[string]uint64{}, map[string]uint64{}
		for _, r := range recs {
			i, ok := pkIdx[r.PartitionKey]
			if !ok {
				i = uint64(len(want.PartitionKeyTable))
				pkIdx[r.PartitionKey] = i
				want.PartitionKeyTable = append(want.PartitionKeyTable, r.PartitionKey)
			}
			pr := &records.Record{PartitionKeyIndex: proto.Uint64(i), Data: r.Data}
			if r.ExplicitHashKey != "" {
				j, ok := ehkIdx[r.ExplicitHashKey]
				if !ok {
					j = uint64(len(want.ExplicitHashKeyTable))
					ehkIdx[r.ExplicitHashKey] = j
					want.ExplicitHashKeyTable = append(want.ExplicitHashKeyTable, r.ExplicitHashKey)
				}
				pr.ExplicitHashKeyIndex = proto.Uint64(j)
			}
			want.Records = append(want.Records, pr)
		}
		pb, err := proto.MarshalOptions{Deterministic: true}.Marshal(protoadapt.MessageV2Of(&want))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Data, mustMD5Aggregate(pb)) {
			t.Fatalf("%d records: encoding differs from generated code", n)
		}
	}
}

func kinesisRecord(pk string, data []byte) types.Record {
	seq := "49545115243490985018280067714973144582180062593244200961"
	return types.Record{PartitionKey: &pk, Data: data, SequenceNumber: &seq}
}

// awslabs' Go deaggregator (what a consumer on the official libraries runs)
// must read our aggregates, and both readers must agree on plain data.
func TestInteropAwslabsDeaggregator(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 1; n < 40; n += 3 {
		recs := randomRecords(rng, n)
		out := aggregate(t, MaxSize, recs)
		got, err := deaggregator.DeaggregateRecords([]types.Record{kinesisRecord(out.PartitionKey, out.Data)})
		if err != nil {
			t.Fatalf("%d records: awslabs deaggregator: %v", n, err)
		}
		if len(got) != n {
			t.Fatalf("%d records: awslabs deaggregator returned %d", n, len(got))
		}
		for i, r := range got {
			if *r.PartitionKey != recs[i].PartitionKey || !bytes.Equal(r.Data, recs[i].Data) {
				t.Errorf("%d records: record %d = (%q, %x), want (%q, %x)", n, i, *r.PartitionKey, r.Data, recs[i].PartitionKey, recs[i].Data)
			}
		}
	}
}

func FuzzDeaggregate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte(magic))
	f.Add([]byte(`{"id":1}`))
	f.Add(mustMD5Aggregate([]byte{0x0a, 0x00}))
	f.Add(mustMD5Aggregate(append(bytesField(1, []byte("pk")), bytesField(3, pbRecord(varintField(1, 0), varintField(2, 0), bytesField(3, []byte("d"))))...)))
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{2, 3, 10} {
		a := NewAggregator(MaxSize)
		for _, r := range randomRecords(rng, n) {
			a.Add(r)
		}
		out, _ := a.Drain()
		f.Add(out.Data)
	}
	// Mutations almost always break the MD5, which would keep the fuzzer on
	// the plain-data path; so each input is also tried as the protobuf body
	// of a correctly framed aggregate.
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDeaggregate(t, data)
		checkDeaggregate(t, mustMD5Aggregate(data))
	})
}

func checkDeaggregate(t *testing.T, data []byte) {
	recs, aggregated, err := Deaggregate(data)
	if aggregated != IsAggregated(data) {
		t.Fatalf("aggregated=%v but IsAggregated=%v", aggregated, IsAggregated(data))
	}
	if !aggregated {
		if err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Data, data) {
			t.Fatalf("plain data: recs=%v err=%v", recs, err)
		}
		return
	}
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error does not wrap ErrCorrupt: %v", err)
		}
		return
	}
	// What we accept, the reference reader must accept identically.
	ref, rerr := deaggregator.DeaggregateRecords([]types.Record{kinesisRecord("outer", data)})
	if rerr != nil {
		t.Fatalf("we decoded %d records, awslabs failed: %v", len(recs), rerr)
	}
	if len(ref) != len(recs) {
		t.Fatalf("we decoded %d records, awslabs %d", len(recs), len(ref))
	}
	for i := range recs {
		if recs[i].PartitionKey != *ref[i].PartitionKey || !bytes.Equal(recs[i].Data, ref[i].Data) {
			t.Fatalf("record %d differs from awslabs", i)
		}
	}
	// What we decoded must survive our own round trip, for keys Kinesis
	// would accept (the format itself does not care).
	if len(recs) < 2 {
		return
	}
	a := NewAggregator(MaxSize)
	for _, r := range recs {
		if r.Validate() != nil || !a.Add(r) {
			return
		}
	}
	out, err := a.Drain()
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := Deaggregate(out.Data)
	if err != nil || !equalRecords(again, recs) {
		t.Fatalf("re-aggregation round trip failed: %v", err)
	}
}

func benchRecords(n, size int) []UserRecord {
	rng := rand.New(rand.NewPCG(9, 9))
	recs := make([]UserRecord, n)
	for i := range recs {
		recs[i] = UserRecord{PartitionKey: fmt.Sprintf("screen_name_%d", rng.IntN(n/2+1)), Data: bytes.Repeat([]byte{'t'}, size)}
	}
	return recs
}

func BenchmarkAggregate(b *testing.B) {
	for _, size := range []int{100, 4000} {
		b.Run(fmt.Sprintf("record=%dB", size), func(b *testing.B) {
			recs := benchRecords(1000, size)
			a := NewAggregator(0)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := recs[i%len(recs)]
				i++
				if !a.Add(r) {
					if _, err := a.Drain(); err != nil {
						b.Fatal(err)
					}
					a.Add(r)
				}
			}
		})
	}
}

func BenchmarkDeaggregate(b *testing.B) {
	for _, size := range []int{100, 4000} {
		b.Run(fmt.Sprintf("record=%dB", size), func(b *testing.B) {
			a := NewAggregator(0)
			n := 0
			for _, r := range benchRecords(1000, size) {
				if !a.Add(r) {
					break
				}
				n++
			}
			out, err := a.Drain()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(out.Data)))
			b.ReportAllocs()
			b.ReportMetric(float64(n), "records/aggregate")
			for b.Loop() {
				if _, _, err := Deaggregate(out.Data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
