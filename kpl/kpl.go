// Package kpl reads and writes the Kinesis Producer Library's aggregated-record
// format: many user records packed into one Kinesis record so that small
// records do not each pay for a whole PUT payload unit and a per-shard record
// slot.
//
// Byte layout (amazon-kinesis-producer/aggregation-format.md):
//
//	magic F3 89 9A C2 | protobuf AggregatedRecord | MD5(protobuf bytes), 16 B
//
// Kinesis itself knows nothing about the format: the aggregate is routed by its
// own partition key / explicit hash key, so every user record inside lands on
// the aggregate's shard whatever its own key says. Callers must therefore only
// aggregate records bound for the same shard.
package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/awslabs/kinesis-aggregation/go/v2/records"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/shardmap"
)

// magic starts every aggregated record.
const magic = "\xf3\x89\x9a\xc2"

const (
	magicLen  = len(magic)
	digestLen = md5.Size
	// overhead is what an aggregate adds around its protobuf message.
	overhead = magicLen + digestLen
)

const (
	// DefaultMaxSize is the KPL's default AggregationMaxSize.
	DefaultMaxSize = 51200
	// MaxSize is the largest record Kinesis accepts by default (1 MiB,
	// partition key included); an aggregate is never built above it.
	MaxSize = streamproc.MaxRecordBytes
	// MaxPartitionKeyLen is Kinesis's limit on a partition key, in Unicode
	// characters.
	MaxPartitionKeyLen = 256
)

// Protobuf field numbers of AggregatedRecord and Record (aggregation-format.md).
const (
	fieldPartitionKeyTable    protowire.Number = 1
	fieldExplicitHashKeyTable protowire.Number = 2
	fieldRecords              protowire.Number = 3

	fieldPartitionKeyIndex    protowire.Number = 1
	fieldExplicitHashKeyIndex protowire.Number = 2
	fieldData                 protowire.Number = 3
)

var (
	// ErrEmpty is returned by Drain when nothing was added.
	ErrEmpty = errors.New("kpl: aggregator is empty")
	// ErrCorrupt marks data that carries the aggregation magic and a matching
	// MD5 but cannot be unpacked. Nothing can be recovered from it, so a
	// consumer dead-letters the whole Kinesis record.
	ErrCorrupt = errors.New("corrupt KPL aggregated record")
)

// UserRecord is one record as the application produced it, before
// aggregation or after deaggregation.
type UserRecord struct {
	PartitionKey string
	// ExplicitHashKey is a decimal 128-bit integer overriding MD5(PartitionKey)
	// for routing; empty when unset.
	ExplicitHashKey string
	Data            []byte
}

// Validate reports whether Kinesis would accept r's keys: a partition key of
// 1 to 256 Unicode characters and, when set, a decimal explicit hash key in
// [0, 2^128-1]. Errors wrap streamproc.ErrInvalid.
func (r UserRecord) Validate() error {
	if r.PartitionKey == "" {
		return fmt.Errorf("partition key is empty: %w", streamproc.ErrInvalid)
	}
	if n := utf8.RuneCountInString(r.PartitionKey); n > MaxPartitionKeyLen {
		return fmt.Errorf("partition key has %d characters, more than Kinesis's %d: %w", n, MaxPartitionKeyLen, streamproc.ErrInvalid)
	}
	if r.ExplicitHashKey != "" {
		if _, err := shardmap.ParseExplicitHashKey(r.ExplicitHashKey); err != nil {
			return err
		}
	}
	return nil
}

// plainSize is what r counts against Kinesis's record-size limit when put
// on its own.
func (r UserRecord) plainSize() int { return len(r.PartitionKey) + len(r.Data) }

// entry is one user record inside an Aggregator.
type entry struct {
	pk, ehk int // indices into the key tables; ehk is -1 when unset
	data    []byte
	size    int // encoded size of the Record message body
}

// Aggregator packs user records into one aggregated Kinesis record, as the
// KPL does, keeping the result within a size limit.
//
// The size counted is the one Kinesis limits: the drained record's partition
// key plus its data. Key tables are de-duplicated, so a batch from few
// authors costs little more than its payloads.
//
// An Aggregator is not safe for concurrent use. The zero value aggregates up
// to DefaultMaxSize.
type Aggregator struct {
	maxSize int

	entries []entry
	pks     []string
	ehks    []string
	pkIdx   map[string]int
	ehkIdx  map[string]int
	pbSize  int // size of the AggregatedRecord protobuf message so far

	// invalid holds why the only record held cannot be put, so Drain can say
	// so; Add never lets such a record share an aggregate with others.
	invalid error
}

// NewAggregator returns an aggregator whose drained records stay within
// maxSize bytes (partition key + data). maxSize <= 0 selects DefaultMaxSize;
// a value above MaxSize is lowered to MaxSize, because Kinesis would reject
// anything bigger.
func NewAggregator(maxSize int) *Aggregator {
	switch {
	case maxSize <= 0:
		maxSize = DefaultMaxSize
	case maxSize > MaxSize:
		maxSize = MaxSize
	}
	return &Aggregator{maxSize: maxSize}
}

// MaxSize returns the aggregator's size limit.
func (a *Aggregator) MaxSize() int {
	if a.maxSize == 0 {
		return DefaultMaxSize
	}
	return a.maxSize
}

// Len returns the number of user records held.
func (a *Aggregator) Len() int { return len(a.entries) }

// Size returns the bytes (partition key + data) of the record Drain would
// return now: a single record is drained plain, more are aggregated.
func (a *Aggregator) Size() int {
	switch len(a.entries) {
	case 0:
		return 0
	case 1:
		e := a.entries[0]
		return len(a.pks[e.pk]) + len(e.data)
	}
	return a.aggregatedSize(a.pbSize)
}

// aggregatedSize is the Kinesis size of an aggregate whose protobuf message
// has pbSize bytes. The aggregate's partition key is the first record's.
func (a *Aggregator) aggregatedSize(pbSize int) int {
	return len(a.pks[0]) + overhead + pbSize
}

// Add adds r and reports whether it fit. When it did not, nothing changed:
// the caller drains the aggregator and adds r again.
//
// An empty aggregator accepts any record, even one over the size limit (the
// KPL sends those un-aggregated) or one Kinesis would reject (bad key, over
// 1 MiB). A record that cannot be put never joins other records: Drain then
// reports it alone, so one bad record does not spoil an aggregate of good
// ones.
//
// The aggregator keeps r.Data until the next Drain; the caller must not
// modify it in between.
func (a *Aggregator) Add(r UserRecord) (fits bool) {
	invalid := r.Validate()
	if invalid == nil && r.plainSize() > MaxSize {
		invalid = fmt.Errorf("user record of %d bytes (partition key + data) exceeds Kinesis's %d-byte record limit: %w", r.plainSize(), MaxSize, streamproc.ErrInvalid)
	}
	if len(a.entries) > 0 && (invalid != nil || a.invalid != nil) {
		return false
	}

	pk, knownPK := a.pkIdx[r.PartitionKey]
	if !knownPK {
		pk = len(a.pks)
	}
	ehk, newEHK := -1, false
	if r.ExplicitHashKey != "" {
		var known bool
		ehk, known = a.ehkIdx[r.ExplicitHashKey]
		if !known {
			ehk, newEHK = len(a.ehks), true
		}
	}

	grow := 0
	if !knownPK {
		grow += protowire.SizeTag(fieldPartitionKeyTable) + protowire.SizeBytes(len(r.PartitionKey))
	}
	if newEHK {
		grow += protowire.SizeTag(fieldExplicitHashKeyTable) + protowire.SizeBytes(len(r.ExplicitHashKey))
	}
	body := protowire.SizeTag(fieldPartitionKeyIndex) + protowire.SizeVarint(uint64(pk)) +
		protowire.SizeTag(fieldData) + protowire.SizeBytes(len(r.Data))
	if ehk >= 0 {
		body += protowire.SizeTag(fieldExplicitHashKeyIndex) + protowire.SizeVarint(uint64(ehk))
	}
	grow += protowire.SizeTag(fieldRecords) + protowire.SizeBytes(body)

	if len(a.entries) > 0 && a.aggregatedSize(a.pbSize+grow) > a.MaxSize() {
		return false
	}
	if a.pkIdx == nil {
		a.pkIdx, a.ehkIdx = make(map[string]int), make(map[string]int)
	}

	if !knownPK {
		a.pkIdx[r.PartitionKey] = pk
		a.pks = append(a.pks, r.PartitionKey)
	}
	if newEHK {
		a.ehkIdx[r.ExplicitHashKey] = ehk
		a.ehks = append(a.ehks, r.ExplicitHashKey)
	}
	a.entries = append(a.entries, entry{pk: pk, ehk: ehk, data: r.Data, size: body})
	a.pbSize += grow
	a.invalid = invalid
	return true
}

// Drain returns the records added so far as one Kinesis record and empties
// the aggregator.
//
// A single record comes back plain, as the KPL sends it; two or more come back
// aggregated, with the first record's partition key and an explicit hash key
// equal to the first record's hash (its own explicit key or MD5 of its
// partition key), so the aggregate lands on the first record's shard.
//
// Errors: ErrEmpty when nothing was added; an error wrapping
// streamproc.ErrInvalid when the one record held cannot be put (see Add).
// The aggregator is empty afterwards in every case.
func (a *Aggregator) Drain() (streamproc.Record, error) {
	defer a.reset()
	switch len(a.entries) {
	case 0:
		return streamproc.Record{}, ErrEmpty
	case 1:
		if a.invalid != nil {
			return streamproc.Record{}, a.invalid
		}
		e := a.entries[0]
		rec := streamproc.Record{PartitionKey: a.pks[e.pk], Data: e.data}
		if e.ehk >= 0 {
			rec.ExplicitHashKey = a.ehks[e.ehk]
		}
		return rec, nil
	}

	first := a.entries[0]
	hashKey := ""
	if first.ehk >= 0 {
		hashKey = a.ehks[first.ehk]
	} else {
		hashKey = shardmap.HashKey(a.pks[first.pk]).String()
	}

	b := make([]byte, 0, overhead+a.pbSize)
	b = append(b, magic...)
	// Field order matches what protoc-generated marshallers emit (by field
	// number), so our bytes equal the reference implementation's.
	for _, pk := range a.pks {
		b = protowire.AppendTag(b, fieldPartitionKeyTable, protowire.BytesType)
		b = protowire.AppendString(b, pk)
	}
	for _, ehk := range a.ehks {
		b = protowire.AppendTag(b, fieldExplicitHashKeyTable, protowire.BytesType)
		b = protowire.AppendString(b, ehk)
	}
	for _, e := range a.entries {
		b = protowire.AppendTag(b, fieldRecords, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(e.size))
		b = protowire.AppendTag(b, fieldPartitionKeyIndex, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(e.pk))
		if e.ehk >= 0 {
			b = protowire.AppendTag(b, fieldExplicitHashKeyIndex, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(e.ehk))
		}
		b = protowire.AppendTag(b, fieldData, protowire.BytesType)
		b = protowire.AppendBytes(b, e.data)
	}
	sum := md5.Sum(b[magicLen:])
	b = append(b, sum[:]...)
	return streamproc.Record{PartitionKey: a.pks[first.pk], ExplicitHashKey: hashKey, Data: b}, nil
}

// reset empties the aggregator, keeping its allocations for the next batch
// but dropping references to the caller's data.
func (a *Aggregator) reset() {
	clear(a.entries)
	a.entries = a.entries[:0]
	a.pks = a.pks[:0]
	a.ehks = a.ehks[:0]
	clear(a.pkIdx)
	clear(a.ehkIdx)
	a.pbSize = 0
	a.invalid = nil
}

// IsAggregated applies the deaggregators' detection rule: data is an aggregate
// only if it starts with the magic, has more than 16 bytes after it, and ends
// with the MD5 of the bytes between. Anything else is a plain record, even if
// it happens to start with the magic.
func IsAggregated(data []byte) bool {
	if len(data) < magicLen || string(data[:magicLen]) != magic {
		return false
	}
	rest := data[magicLen:]
	if len(rest) <= digestLen {
		return false
	}
	pb := rest[:len(rest)-digestLen]
	sum := md5.Sum(pb)
	return bytes.Equal(sum[:], rest[len(rest)-digestLen:])
}

// Deaggregate unpacks a Kinesis record's data.
//
// Data that is not an aggregate (see IsAggregated) comes back as one record
// holding data itself, with aggregated=false and empty keys: the caller takes
// the key from the Kinesis record. An aggregate comes back as its user
// records in order, each with its partition key and explicit hash key from
// the tables, and fresh Data slices.
//
// An aggregate whose protobuf does not decode (including a missing required
// field) or that points outside its key tables fails with an error wrapping
// ErrCorrupt; nothing in it can be trusted.
func Deaggregate(data []byte) (recs []UserRecord, aggregated bool, err error) {
	if !IsAggregated(data) {
		return []UserRecord{{Data: data}}, false, nil
	}
	var agg records.AggregatedRecord
	if err := proto.Unmarshal(data[magicLen:len(data)-digestLen], protoadapt.MessageV2Of(&agg)); err != nil {
		return nil, true, fmt.Errorf("%w: decoding protobuf: %w", ErrCorrupt, err)
	}
	recs = make([]UserRecord, len(agg.Records))
	for i, r := range agg.Records {
		pk := r.GetPartitionKeyIndex()
		if pk >= uint64(len(agg.PartitionKeyTable)) {
			return nil, true, fmt.Errorf("%w: user record %d has partition key index %d, table has %d entries", ErrCorrupt, i, pk, len(agg.PartitionKeyTable))
		}
		recs[i] = UserRecord{PartitionKey: agg.PartitionKeyTable[pk], Data: r.Data}
		if r.ExplicitHashKeyIndex != nil {
			ehk := *r.ExplicitHashKeyIndex
			if ehk >= uint64(len(agg.ExplicitHashKeyTable)) {
				return nil, true, fmt.Errorf("%w: user record %d has explicit hash key index %d, table has %d entries", ErrCorrupt, i, ehk, len(agg.ExplicitHashKeyTable))
			}
			recs[i].ExplicitHashKey = agg.ExplicitHashKeyTable[ehk]
		}
	}
	return recs, true, nil
}
