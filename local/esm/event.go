package esm

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
)

// Fixed values of the Kinesis event (research §3.1).
const (
	eventSource          = "aws:kinesis"
	eventName            = "aws:kinesis:record"
	eventVersion         = "1.0"
	kinesisSchemaVersion = "1.0"
)

// Conditions of an on-failure record (FailureRecord.RequestContext.Condition).
const (
	ConditionRetryAttemptsExhausted = "RetryAttemptsExhausted"
	// ConditionRecordAgeExceeded is undocumented by AWS but observed in real
	// failure records and emitted by LocalStack for records discarded for
	// age (MaximumRecordAge, or stream retention when that comes first).
	ConditionRecordAgeExceeded = "RecordAgeExceeded"
)

// FailureRecord is the invocation record the mapping sends to its on-failure
// destination when it discards records (research §3.7). It holds metadata
// only: to recover the data, read the shard from StartSequenceNumber to
// EndSequenceNumber before the records expire.
type FailureRecord struct {
	RequestContext FailureRequestContext `json:"requestContext"`
	// ResponseContext describes the last invocation's response; it is nil
	// when the records were discarded before any invocation reached the
	// function (ApproximateInvokeCount 0), as there is no response to
	// describe.
	ResponseContext  *FailureResponseContext `json:"responseContext,omitempty"`
	Version          string                  `json:"version"`
	Timestamp        string                  `json:"timestamp"`
	KinesisBatchInfo KinesisBatchInfo        `json:"KinesisBatchInfo"`
}

// FailureRequestContext is FailureRecord.requestContext.
type FailureRequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionARN            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// FailureResponseContext is FailureRecord.responseContext. StatusCode is
// 200 because a synchronous invocation that reaches the function succeeds
// at the HTTP level even when the function fails; FunctionError is
// "Unhandled" when the function returned an error (or timed out, or
// panicked) and empty when it returned a response the mapping rejected
// (a partial batch failure, a malformed one, or a missing window state).
type FailureResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// KinesisBatchInfo is FailureRecord.KinesisBatchInfo; every field is
// always present.
type KinesisBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamARN                       string `json:"streamArn"`
}

// isoMillis is the timestamp layout of failure records: ISO-8601 UTC with
// milliseconds.
const isoMillis = "2006-01-02T15:04:05.000Z"

func formatISO(t time.Time) string { return t.UTC().Format(isoMillis) }

// mark is what the mapping remembers of a record once its data is no
// longer needed: its place in the shard and its arrival.
type mark struct {
	ord     uint64 // read order in this run of the shard, from 1
	seq     string
	prevSeq string // the record read just before it ("" = the start position)
	arrival time.Time
}

// rec is a record read from the shard and routed to a lane.
type rec struct {
	mark
	pk   string
	data []byte
	size int       // bytes this record adds to the event's JSON
	seen time.Time // clock time it was routed to its lane
}

// recordJSON estimates the JSON size of one event record. fixed is the
// size of a record with an empty key and no data (computed once per shard
// from a marshalled template, so the field names, ARNs and eventID are
// exact); the key's escaped length and the base64 data are added here.
func recordJSON(fixed int, pk string, data []byte) int {
	return fixed + jsonStringLen(pk) - 2 + base64.StdEncoding.EncodedLen(len(data))
}

// jsonStringLen is the length of s as encoding/json writes it, quotes
// included (HTML-safe escaping, invalid UTF-8 as \ufffd).
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += w
		}
		i += w
	}
	return n
}

// envelopeOverhead covers the event's fields other than Records: the
// brackets, and for window events the window, shardId, eventSourceARN and
// the flags (the state is counted separately). Generous on purpose: the
// cap must hold however the invoker serialises the event.
const envelopeOverhead = 1024

// fixedRecordSize marshals a template record of the shard to learn the
// size of everything but the key and data (plus the separating comma).
func (m *Mapping) fixedRecordSize(shardID string) int {
	seq := strings.Repeat("9", 56) // sequence numbers are 56 digits
	r := m.eventRecord(shardID, &rec{mark: mark{seq: seq, arrival: time.UnixMilli(1_700_000_000_123)}})
	r.Kinesis.Data = []byte{}
	b, err := json.Marshal(&r)
	if err != nil {
		return 512 // cannot happen for these field types; stay conservative
	}
	return len(b) + 1
}

func (m *Mapping) eventRecord(shardID string, r *rec) events.KinesisEventRecord {
	return events.KinesisEventRecord{
		AwsRegion:         m.region,
		EventID:           shardID + ":" + r.seq,
		EventName:         eventName,
		EventSource:       eventSource,
		EventSourceArn:    m.streamARN,
		EventVersion:      eventVersion,
		InvokeIdentityArn: m.roleARN,
		Kinesis: events.KinesisRecord{
			ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: r.arrival},
			Data:                        r.data,
			PartitionKey:                r.pk,
			SequenceNumber:              r.seq,
			KinesisSchemaVersion:        kinesisSchemaVersion,
		},
	}
}

// event builds the invocation event for recs. win is nil for a mapping
// without tumbling windows; the event's TimeWindowProperties then stay
// zero and a caller invoking a plain Kinesis handler serialises only
// ev.KinesisEvent.
func (m *Mapping) event(shardID string, recs []*rec, win *events.TimeWindowProperties) *events.KinesisTimeWindowEvent {
	ev := &events.KinesisTimeWindowEvent{}
	ev.Records = make([]events.KinesisEventRecord, len(recs))
	for i, r := range recs {
		ev.Records[i] = m.eventRecord(shardID, r)
	}
	if win != nil {
		ev.TimeWindowProperties = *win
	}
	return ev
}

// stateSize is the JSON size of a window state.
func stateSize(state map[string]string) int {
	n := 2
	for k, v := range state {
		n += jsonStringLen(k) + 1 + jsonStringLen(v) + 1
	}
	return n
}

// failureRecord builds the on-failure record for discarded records (first
// and last bound the range; count is how many).
func (m *Mapping) failureRecord(shardID, condition string, first, last mark, count, invokes int, funcErr string) FailureRecord {
	fr := FailureRecord{
		RequestContext: FailureRequestContext{
			RequestID:              uuid.NewString(),
			FunctionARN:            m.functionARN,
			Condition:              condition,
			ApproximateInvokeCount: invokes,
		},
		Version:   "1.0",
		Timestamp: formatISO(m.now()),
		KinesisBatchInfo: KinesisBatchInfo{
			ShardID:                         shardID,
			StartSequenceNumber:             first.seq,
			EndSequenceNumber:               last.seq,
			ApproximateArrivalOfFirstRecord: formatISO(first.arrival),
			ApproximateArrivalOfLastRecord:  formatISO(last.arrival),
			BatchSize:                       count,
			StreamARN:                       m.streamARN,
		},
	}
	if invokes > 0 {
		fr.ResponseContext = &FailureResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: funcErr}
	}
	return fr
}
