// Package streamproc holds the domain types of the stream-processing reference
// application and the ports its handlers depend on.
//
// Handlers in function/... are written against these interfaces only. The aws/...
// packages implement them on AWS services; the local/... packages implement them
// on embedded components. Nothing here imports an AWS SDK.
package streamproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors that drive decisions. Implementations wrap them with %w so callers can
// test with errors.Is while users still see the context.
var (
	// ErrNotFound: a named table, stream or parameter does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: a transient failure (throttling, a store that is closing,
	// a network error). The operation may succeed when retried later.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrInvalid: the request itself is wrong (bad key, too many items, too
	// large). Retrying the same request cannot succeed.
	ErrInvalid = errors.New("invalid request")
	// ErrRefused: the service refuses this caller as a whole (credentials
	// rejected, usage cap reached): every further call fails the same way
	// until someone acts, so callers stop instead of trying the next one.
	ErrRefused = errors.New("refused until someone acts")
)

// KindError is an error of a kind (ErrInvalid, …) whose message is complete
// without the kind's name: errors.Is finds Kind, the text does not end in
// ": invalid request". Errorf makes one.
type KindError struct {
	Kind error
	Err  error
}

func (e *KindError) Error() string   { return e.Err.Error() }
func (e *KindError) Unwrap() []error { return []error{e.Err, e.Kind} }

// Errorf formats an error as fmt.Errorf does (%w included) and gives it
// kind, for messages meant for people.
func Errorf(kind error, format string, a ...any) error {
	return &KindError{Kind: kind, Err: fmt.Errorf(format, a...)}
}

// Item is one table item: attribute name → value.
//
// Values are limited to the types a DynamoDB attribute can hold:
// string (S), Number or any Go integer/float (N), bool (BOOL), []byte (B),
// []string (L of S, order kept), []any (L), map[string]any (M) and nil (NULL).
// Implementations return strings as string, numbers as Number, lists as []any
// and maps as map[string]any.
type Item map[string]any

// Number is a DynamoDB number in its decimal string form, so integers wider
// than 53 bits and exact decimals survive a round trip.
type Number string

// MarshalJSON writes n as a JSON number with every digit, so an Item
// encodes as the JSON a user expects (and decodes back with UseNumber). A
// string that is not a valid JSON number is written as a JSON string
// rather than producing invalid JSON.
func (n Number) MarshalJSON() ([]byte, error) {
	if json.Valid([]byte(n)) && len(n) > 0 && (n[0] == '-' || n[0] >= '0' && n[0] <= '9') {
		return []byte(n), nil
	}
	return json.Marshal(string(n))
}

// KeySchema describes a table's primary key like DynamoDB's KeySchema.
type KeySchema struct {
	HashKey  string
	HashType string // "S", "N" or "B"
	// RangeKey is empty for a table with a simple (hash-only) key.
	RangeKey  string
	RangeType string
}

// TableSpec is what a table needs at creation.
type TableSpec struct {
	Name    string
	Key     KeySchema
	TTLAttr string // top-level Number attribute holding epoch seconds; "" = no TTL
}

// Query selects items of one partition, in range-key order.
type Query struct {
	// Hash is the partition key value (required).
	Hash any
	// RangePrefix keeps only items whose (string) range key starts with it.
	RangePrefix string
	// Descending reverses the range-key order (ScanIndexForward=false).
	Descending bool
	// Limit caps the number of items returned; 0 means no cap.
	Limit int
}

// Page is one page of a scan. LastKey is nil on the last page; pass it back as
// the start key to read the next one.
type Page struct {
	Items   []Item
	LastKey Item
}

// Table is a key-value table with DynamoDB's semantics.
//
// Contract:
//   - BatchPut writes up to 25 items, each one atomically; the batch as a whole
//     is not atomic. An item with the key of an existing item replaces it, so
//     writing the same item twice is idempotent. Items it could not write now
//     come back as unprocessed (the caller retries them with backoff); a batch
//     that breaks the rules (more than 25 items, two items with one key,
//     missing or wrongly typed key attributes, an item over 400 KB) fails as a
//     whole with ErrInvalid. A missing table is ErrNotFound.
//   - An acknowledged write survives a crash of the process.
//   - Reads return expired-but-not-yet-swept TTL items, as DynamoDB does.
//   - Add atomically adds delta to a Number attribute (creating the item and
//     the attribute at 0 when absent) and returns the new value; concurrent
//     Adds to one item never lose an update.
type Table interface {
	BatchPut(ctx context.Context, table string, items []Item) (unprocessed []Item, err error)
	Get(ctx context.Context, table string, key Item) (Item, bool, error)
	Query(ctx context.Context, table string, q Query) ([]Item, error)
	Scan(ctx context.Context, table string, startKey Item, limit int) (Page, error)
	Add(ctx context.Context, table string, key Item, attr string, delta int64) (int64, error)
}

// MaxBatchPut is DynamoDB's BatchWriteItem limit.
const MaxBatchPut = 25

// Record is one record to write to a stream.
type Record struct {
	PartitionKey string
	// ExplicitHashKey, when set, overrides MD5(PartitionKey) for routing
	// (a decimal 128-bit integer, as in Kinesis).
	ExplicitHashKey string
	Data            []byte
}

// PutResult is the outcome of one entry of a PutRecords call. Exactly one of
// SequenceNumber or ErrorCode is set.
type PutResult struct {
	ShardID        string
	SequenceNumber string
	ErrorCode      string // e.g. ProvisionedThroughputExceededException, InternalFailure
	ErrorMessage   string
}

// Shard is one shard of a stream and the part of the 128-bit hash-key space it
// owns (decimal strings, inclusive on both ends, as Kinesis reports them).
type Shard struct {
	ID              string
	StartingHashKey string
	EndingHashKey   string
}

// Stream limits of Kinesis PutRecords.
const (
	MaxPutRecords      = 500
	MaxPutRecordsBytes = 5 << 20 // data + partition keys
	MaxRecordBytes     = 1 << 20
)

// StreamWriter writes records to a Kinesis-like stream.
//
// Contract: PutRecords takes at most MaxPutRecords records and
// MaxPutRecordsBytes bytes and returns one result per record, in order (no
// records: no results and no error, nothing is called). A
// failed entry (ErrorCode set) was not written and may be retried; the call
// itself returns an error only when nothing was attempted (ErrNotFound for a
// missing stream, ErrInvalid for a malformed request, ErrUnavailable for a
// transient failure). Records of one partition key that succeed land in the
// order given. Shards returns the open shards, used to pack aggregated records
// by destination shard.
type StreamWriter interface {
	PutRecords(ctx context.Context, stream string, records []Record) ([]PutResult, error)
	Shards(ctx context.Context, stream string) ([]Shard, error)
}

// DeadLetter is a record that could not be processed and was set aside with
// the reason, so nothing is silently dropped.
type DeadLetter struct {
	Time           time.Time `json:"time"`
	Function       string    `json:"function"`
	Reason         string    `json:"reason"`
	EventSourceARN string    `json:"eventSourceArn,omitempty"`
	ShardID        string    `json:"shardId,omitempty"`
	SequenceNumber string    `json:"sequenceNumber,omitempty"`
	// SubSequence is the index of a user record inside a KPL aggregate
	// (-1 when the record was not aggregated).
	SubSequence  int    `json:"subSequenceNumber"`
	PartitionKey string `json:"partitionKey,omitempty"`
	Data         []byte `json:"data"` // raw bytes, base64 in JSON
}

// DeadLetterSink stores dead letters.
//
// Contract: when Put returns nil every letter is durably stored; on error
// none or some may be, so the caller must treat the whole call as failed and
// retry (letters are idempotent to consumers: they carry shard/sequence).
type DeadLetterSink interface {
	Put(ctx context.Context, letters []DeadLetter) error
}

// Params reads configuration secrets (SSM Parameter Store on AWS).
//
// Contract: Get returns every requested name or fails; a missing name is an
// error wrapping ErrNotFound that names it. Values are never logged.
type Params interface {
	Get(ctx context.Context, names ...string) (map[string]string, error)
}

// Parameter names used by the producer, as in the seed.
const (
	ParamConsumerKey       = "/twitter/consumer_key"
	ParamConsumerSecret    = "/twitter/consumer_secret"
	ParamAccessTokenKey    = "/twitter/access_token_key"
	ParamAccessTokenSecret = "/twitter/access_token_secret"
	ParamBearerToken       = "/twitter/bearer_token"
)

// SourceTweet is one raw tweet from a source, with the fields a producer
// needs to route it without decoding it again.
type SourceTweet struct {
	ID         string // decimal tweet id
	ScreenName string // author handle, the partition key
	Raw        []byte // the tweet as JSON (v1.1 or v2 shape) or a stream notice
}

// Trend is one trending topic.
type Trend struct {
	Name  string
	Query string
}

// TweetSource yields tweets, like the X API's trends and recent search.
//
// Contract: Trends returns at most n trends for a WOEID, most popular first.
// Search returns tweets matching query newer than sinceID ("" = no bound),
// newest first, and the newest id seen (to pass as sinceID next time). Errors
// wrap ErrUnavailable when a retry later may succeed, and ErrRefused when no
// further call can succeed either (a usage cap, rejected credentials).
type TweetSource interface {
	Trends(ctx context.Context, woeid int64, n int) ([]Trend, error)
	Search(ctx context.Context, query, sinceID string) (tweets []SourceTweet, newestID string, err error)
}

// SinceIDCommitter is implemented by a TweetSource that remembers across
// runs, per query, the newest tweet id fetched (the X API's since_id), so a
// scheduled run asks only for newer tweets.
//
// Contract: Search does not move what is remembered; the caller commits
// newest with CommitSinceID once the query's tweets are durably written, so
// tweets whose write failed are fetched again by the next run instead of
// being skipped for good. Committing an id older than the remembered one
// keeps the newer.
type SinceIDCommitter interface {
	CommitSinceID(ctx context.Context, query, newest string) error
}

// Metrics records counters that end up as CloudWatch metrics (EMF) on AWS and
// Prometheus counters locally. Implementations must be safe for concurrent
// use and must never fail the caller.
type Metrics interface {
	Count(name string, n int64)
}

// NopMetrics discards every metric.
type NopMetrics struct{}

// Count does nothing.
func (NopMetrics) Count(string, int64) {}

// Clock returns the current time. Injected so TTLs, windows and timestamps are
// deterministic in tests.
type Clock func() time.Time
