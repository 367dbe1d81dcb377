package kinesisapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stream"
)

// Request shapes of the operations served, as in the API model
// (research/aws-models/kinesis.json). Optional members are pointers so an
// absent member can be told from a zero value; JSON null counts as absent,
// as it does for Coral. StreamId is a routing hint for AWS's endpoints and
// is accepted and ignored.

type streamRef struct {
	StreamName *string `json:"StreamName"`
	StreamARN  *string `json:"StreamARN"`
	StreamId   *string `json:"StreamId"`
}

type createStreamInput struct {
	StreamName          *string            `json:"StreamName"`
	ShardCount          *int64             `json:"ShardCount"`
	StreamModeDetails   *streamModeDetails `json:"StreamModeDetails"`
	Tags                map[string]string  `json:"Tags"`
	WarmThroughputMiBps *int64             `json:"WarmThroughputMiBps"`
	MaxRecordSizeInKiB  *int64             `json:"MaxRecordSizeInKiB"`
}

type streamModeDetails struct {
	StreamMode *string `json:"StreamMode"`
}

type deleteStreamInput struct {
	streamRef
	EnforceConsumerDeletion *bool `json:"EnforceConsumerDeletion"`
}

type describeStreamInput struct {
	streamRef
	Limit                 *int64  `json:"Limit"`
	ExclusiveStartShardId *string `json:"ExclusiveStartShardId"`
}

type describeStreamSummaryInput struct {
	streamRef
}

type listStreamsInput struct {
	Limit                    *int64  `json:"Limit"`
	ExclusiveStartStreamName *string `json:"ExclusiveStartStreamName"`
	NextToken                *string `json:"NextToken"`
}

type listShardsInput struct {
	streamRef
	NextToken               *string      `json:"NextToken"`
	ExclusiveStartShardId   *string      `json:"ExclusiveStartShardId"`
	MaxResults              *int64       `json:"MaxResults"`
	StreamCreationTimestamp *epochTime   `json:"StreamCreationTimestamp"`
	ShardFilter             *shardFilter `json:"ShardFilter"`
}

type shardFilter struct {
	Type      *string    `json:"Type"`
	ShardId   *string    `json:"ShardId"`
	Timestamp *epochTime `json:"Timestamp"`
}

type putRecordInput struct {
	streamRef
	Data                      *blob   `json:"Data"`
	PartitionKey              *string `json:"PartitionKey"`
	ExplicitHashKey           *string `json:"ExplicitHashKey"`
	SequenceNumberForOrdering *string `json:"SequenceNumberForOrdering"`
}

type putRecordsInput struct {
	streamRef
	Records []putRecordsEntry `json:"Records"`
}

type putRecordsEntry struct {
	Data            *blob   `json:"Data"`
	ExplicitHashKey *string `json:"ExplicitHashKey"`
	PartitionKey    *string `json:"PartitionKey"`
}

type getShardIteratorInput struct {
	streamRef
	ShardId                *string    `json:"ShardId"`
	ShardIteratorType      *string    `json:"ShardIteratorType"`
	StartingSequenceNumber *string    `json:"StartingSequenceNumber"`
	Timestamp              *epochTime `json:"Timestamp"`
}

type getRecordsInput struct {
	ShardIterator *string `json:"ShardIterator"`
	Limit         *int64  `json:"Limit"`
	StreamARN     *string `json:"StreamARN"`
	StreamId      *string `json:"StreamId"`
}

type retentionInput struct {
	streamRef
	RetentionPeriodHours *int64 `json:"RetentionPeriodHours"`
}

type addTagsInput struct {
	streamRef
	Tags map[string]string `json:"Tags"`
}

type listTagsInput struct {
	streamRef
	ExclusiveStartTagKey *string `json:"ExclusiveStartTagKey"`
	Limit                *int64  `json:"Limit"`
}

type removeTagsInput struct {
	streamRef
	TagKeys []string `json:"TagKeys"`
}

// blob is a base64 "Data" member. It decodes itself so a bad encoding is
// reported as a SerializationException naming the member, as Coral does.
type blob []byte

func (b *blob) UnmarshalJSON(p []byte) error {
	if bytes.Equal(p, []byte("null")) {
		return nil
	}
	if len(p) < 2 || p[0] != '"' {
		return &serialError{msg: jsonKind(p) + " can not be converted to a Blob"}
	}
	s := p[1 : len(p)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		// Escapes are legal JSON; let the standard decoder unescape.
		var str string
		if err := json.Unmarshal(p, &str); err != nil {
			return &serialError{msg: "Invalid Base64 string"}
		}
		s = []byte(str)
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return &serialError{msg: fmt.Sprintf("'%s' can not be converted to a Blob: Invalid Base64 at byte %d", truncate(string(s), 64), int64(ce))}
		}
		return &serialError{msg: "'" + truncate(string(s), 64) + "' can not be converted to a Blob"}
	}
	*b = out[:n]
	return nil
}

// epochTime is a Timestamp member: epoch seconds as a JSON number with an
// optional fraction (AWS JSON 1.1 sends milliseconds as the fraction).
type epochTime struct {
	t time.Time
}

func (e *epochTime) UnmarshalJSON(p []byte) error {
	if bytes.Equal(p, []byte("null")) {
		return nil
	}
	if len(p) == 0 || !(p[0] == '-' || p[0] >= '0' && p[0] <= '9') {
		return &serialError{msg: javaClass(p) + " can not be converted to milliseconds since epoch"}
	}
	t, ok := parseEpoch(string(p))
	if !ok {
		return &serialError{msg: "'" + truncate(string(p), 64) + "' can not be converted to milliseconds since epoch"}
	}
	e.t = t
	return nil
}

// parseEpoch parses a JSON number of epoch seconds to millisecond precision
// without going through float64 for the common "123.456" form.
func parseEpoch(s string) (time.Time, bool) {
	if !strings.ContainsAny(s, "eE") {
		whole, frac, _ := strings.Cut(s, ".")
		neg := strings.HasPrefix(whole, "-")
		sec, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || sec > math.MaxInt64/1000 || sec < math.MinInt64/1000 {
			return time.Time{}, false
		}
		ms := int64(0)
		for i := 0; i < 3; i++ {
			ms *= 10
			if i < len(frac) {
				c := frac[i]
				if c < '0' || c > '9' {
					return time.Time{}, false
				}
				ms += int64(c - '0')
			}
		}
		for i := 3; i < len(frac); i++ {
			if frac[i] < '0' || frac[i] > '9' {
				return time.Time{}, false
			}
		}
		if neg {
			ms = -ms
		}
		return time.UnixMilli(sec*1000 + ms).UTC(), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64/1000 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(math.Round(f * 1000))).UTC(), true
}

// serialError is a body that is JSON but does not fit the request shape.
type serialError struct{ msg string }

func (e *serialError) Error() string { return e.msg }

// decodeJSON decodes body into v and maps every failure to the
// SerializationException Coral sends, with a message in its style.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return clientErr(codeSerialization, "Empty request body: expected a JSON object.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var se *serialError
		var te *json.UnmarshalTypeError
		var syn *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return clientErr(codeSerialization, "%s", se.msg)
		case errors.As(err, &te):
			return clientErr(codeSerialization, "%s", typeErrorMessage(te))
		case errors.As(err, &syn):
			return clientErr(codeSerialization, "Malformed JSON at byte %d: %s", syn.Offset, syn.Error())
		default:
			return clientErr(codeSerialization, "Malformed request body: %s", err.Error())
		}
	}
	return nil
}

// typeErrorMessage words a JSON type mismatch like Coral: the Java class
// of the value found and the type the member wanted.
func typeErrorMessage(te *json.UnmarshalTypeError) string {
	switch te.Value {
	case "array":
		return "Start of list found where not expected"
	case "object":
		return "Start of structure or map found where not expected."
	}
	want := "String"
	switch te.Type.Kind().String() {
	case "int", "int64", "int32":
		want = "Integer"
	case "bool":
		want = "Boolean"
	case "slice":
		return "Expected list or null"
	case "map":
		return "Expected map or null"
	case "struct":
		return "Expected null"
	}
	var from string
	switch {
	case te.Value == "string":
		from = "java.lang.String"
	case te.Value == "bool":
		from = "java.lang.Boolean"
	default: // numbers, including ones out of range
		from = "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
	}
	msg := "class " + from + " can not be converted to an " + want
	if te.Field != "" {
		msg += " (member " + te.Field + ")"
	}
	return msg
}

func javaClass(p []byte) string {
	switch {
	case len(p) > 0 && p[0] == '"':
		return "class java.lang.String"
	case bytes.Equal(p, []byte("true")) || bytes.Equal(p, []byte("false")):
		return "class java.lang.Boolean"
	case len(p) > 0 && (p[0] == '[' || p[0] == '{'):
		return "A list or structure"
	}
	return "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
}

func jsonKind(p []byte) string {
	switch {
	case len(p) > 0 && p[0] == '[':
		return "Start of list found where not expected:"
	case len(p) > 0 && p[0] == '{':
		return "Start of structure or map found where not expected:"
	}
	return javaClass(p)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Model patterns, checked without regexp on the hot path.

const (
	patName     = "[a-zA-Z0-9_.-]+"
	patHashKey  = "0|([1-9]\\d{0,38})"
	patSeq      = "0|([1-9]\\d{0,128})"
	patARN      = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"
	maxARNLen   = 2048
	maxNameLen  = 128
	maxIterLen  = 512
	maxTagKey   = 128
	maxTagValue = 256
)

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// isDecimal matches 0|([1-9]\d{0,maxDigits-1}).
func isDecimal(s string, maxDigits int) bool {
	if s == "0" {
		return true
	}
	if s == "" || len(s) > maxDigits || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHashKey(s string) bool { return isDecimal(s, 39) }
func isSeq(s string) bool     { return isDecimal(s, 129) }

// arnRE is the model's StreamARN pattern, anchored.
func isARN(s string) bool {
	return arnPattern.MatchString(s)
}

// arnPattern is compiled once; regexp.Regexp is safe for concurrent use and
// never mutated, so sharing it is not shared mutable state.
var arnPattern = regexp.MustCompile(`\Aarn:aws.*:kinesis:.*:\d{12}:stream/\S+\z`)

// checkStreamRef validates the StreamName/StreamARN pair common to most
// operations. One of the two must be present.
func (v *validator) streamRef(r *streamRef) {
	v.str(r.StreamName, "streamName", patName, isName, 1, maxNameLen)
	v.str(r.StreamARN, "streamARN", patARN, isARN, 1, maxARNLen)
	if r.StreamName == nil && r.StreamARN == nil {
		v.fail("null", "streamName", "Member must not be null")
	}
}

// checkHashKey validates an explicit hash key's value range, which the
// model pattern alone does not bound (39 digits reach past 2^128-1).
func checkHashKey(s string) error {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 0 || n.BitLen() > 128 {
		return invalidArg("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", s)
	}
	return nil
}

// decodeRequest decodes and validates the body of one operation. It returns
// a pointer to the operation's input shape, or an *apiError
// (SerializationException, ValidationException, InvalidArgumentException,
// UnknownOperationException). It has no side effects.
func decodeRequest(op string, body []byte) (any, error) {
	var v validator
	switch op {
	case "CreateStream":
		in := new(createStreamInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		if v.notNull(in.StreamName != nil, "streamName") {
			v.str(in.StreamName, "streamName", patName, isName, 1, maxNameLen)
		}
		v.intRange(in.ShardCount, "shardCount", 1, math.MaxInt32)
		if in.StreamModeDetails != nil {
			if v.notNull(in.StreamModeDetails.StreamMode != nil, "streamModeDetails.streamMode") {
				v.enum(in.StreamModeDetails.StreamMode, "streamModeDetails.streamMode", modeProvisioned, modeOnDemand)
			}
		}
		v.tagMap(in.Tags, "tags")
		v.intRange(in.WarmThroughputMiBps, "warmThroughputMiBps", 0, math.MaxInt32)
		v.intRange(in.MaxRecordSizeInKiB, "maxRecordSizeInKiB", 1024, 10240)
		return in, v.err()
	case "DeleteStream":
		in := new(deleteStreamInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		return in, v.err()
	case "DescribeStream":
		in := new(describeStreamInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		v.intRange(in.Limit, "limit", 1, 10000)
		v.str(in.ExclusiveStartShardId, "exclusiveStartShardId", patName, isName, 1, maxNameLen)
		return in, v.err()
	case "DescribeStreamSummary":
		in := new(describeStreamSummaryInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		return in, v.err()
	case "ListStreams":
		in := new(listStreamsInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.intRange(in.Limit, "limit", 1, 10000)
		v.str(in.ExclusiveStartStreamName, "exclusiveStartStreamName", patName, isName, 1, maxNameLen)
		v.str(in.NextToken, "nextToken", "", nil, 1, 1<<20)
		return in, v.err()
	case "ListShards":
		in := new(listShardsInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		// StreamName is optional here: a NextToken replaces it.
		v.str(in.StreamName, "streamName", patName, isName, 1, maxNameLen)
		v.str(in.StreamARN, "streamARN", patARN, isARN, 1, maxARNLen)
		v.str(in.NextToken, "nextToken", "", nil, 1, 1<<20)
		v.str(in.ExclusiveStartShardId, "exclusiveStartShardId", patName, isName, 1, maxNameLen)
		v.intRange(in.MaxResults, "maxResults", 1, 10000)
		if f := in.ShardFilter; f != nil {
			if v.notNull(f.Type != nil, "shardFilter.type") {
				v.enum(f.Type, "shardFilter.type", "AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST", "AT_TIMESTAMP", "FROM_TIMESTAMP")
			}
			v.str(f.ShardId, "shardFilter.shardId", patName, isName, 1, maxNameLen)
		}
		return in, v.err()
	case "PutRecord":
		in := new(putRecordInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		v.record(in.Data, in.PartitionKey, in.ExplicitHashKey, "")
		v.str(in.SequenceNumberForOrdering, "sequenceNumberForOrdering", patSeq, isSeq, 0, -1)
		if err := v.err(); err != nil {
			return nil, err
		}
		if in.ExplicitHashKey != nil {
			if err := checkHashKey(*in.ExplicitHashKey); err != nil {
				return nil, err
			}
		}
		return in, nil
	case "PutRecords":
		in, ok := decodePutRecordsFast(body)
		if !ok {
			in = new(putRecordsInput)
			if err := decodeJSON(body, in); err != nil {
				return nil, err
			}
		}
		return in, checkPutRecords(in)
	case "GetShardIterator":
		in := new(getShardIteratorInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		if v.notNull(in.ShardId != nil, "shardId") {
			v.str(in.ShardId, "shardId", patName, isName, 1, maxNameLen)
		}
		if v.notNull(in.ShardIteratorType != nil, "shardIteratorType") {
			v.enum(in.ShardIteratorType, "shardIteratorType", stream.AtSequenceNumber, stream.AfterSequenceNumber, stream.TrimHorizon, stream.Latest, stream.AtTimestamp)
		}
		v.str(in.StartingSequenceNumber, "startingSequenceNumber", patSeq, isSeq, 0, -1)
		return in, v.err()
	case "GetRecords":
		in := new(getRecordsInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		if v.notNull(in.ShardIterator != nil, "shardIterator") {
			v.str(in.ShardIterator, "shardIterator", "", nil, 1, maxIterLen)
		}
		v.intRange(in.Limit, "limit", 1, stream.MaxGetRecords)
		v.str(in.StreamARN, "streamARN", patARN, isARN, 1, maxARNLen)
		return in, v.err()
	case "IncreaseStreamRetentionPeriod", "DecreaseStreamRetentionPeriod":
		in := new(retentionInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		v.notNull(in.RetentionPeriodHours != nil, "retentionPeriodHours")
		return in, v.err()
	case "AddTagsToStream":
		in := new(addTagsInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		if v.notNull(in.Tags != nil, "tags") {
			v.tagMap(in.Tags, "tags")
		}
		return in, v.err()
	case "ListTagsForStream":
		in := new(listTagsInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		v.str(in.ExclusiveStartTagKey, "exclusiveStartTagKey", "", nil, 1, maxTagKey)
		v.intRange(in.Limit, "limit", 1, 50)
		return in, v.err()
	case "RemoveTagsFromStream":
		in := new(removeTagsInput)
		if err := decodeJSON(body, in); err != nil {
			return nil, err
		}
		v.streamRef(&in.streamRef)
		if v.notNull(in.TagKeys != nil, "tagKeys") {
			if n := len(in.TagKeys); n < 1 || n > 50 {
				rel := "less than or equal to 50"
				if n < 1 {
					rel = "greater than or equal to 1"
				}
				v.fail(quote("["+strings.Join(in.TagKeys, ", ")+"]"), "tagKeys", "Member must have length "+rel)
			}
			for i := range in.TagKeys {
				v.str(&in.TagKeys[i], fmt.Sprintf("tagKeys.%d.member", i+1), "", nil, 1, maxTagKey)
			}
		}
		return in, v.err()
	}
	return nil, clientErr(codeUnknownOperation, "Operation %s is not supported by this endpoint.", op)
}

// checkPutRecords validates a decoded PutRecords request.
func checkPutRecords(in *putRecordsInput) error {
	var v validator
	v.streamRef(&in.streamRef)
	if v.notNull(in.Records != nil, "records") {
		if n := len(in.Records); n < 1 || n > streamproc.MaxPutRecords {
			rel := "less than or equal to 500"
			if n < 1 {
				rel = "greater than or equal to 1"
			}
			v.fail(quote(fmt.Sprintf("[%d records]", n)), "records", "Member must have length "+rel)
		}
		for i := range in.Records {
			r := &in.Records[i]
			if recordOK(r) {
				continue // the common case, without building member paths
			}
			v.record(r.Data, r.PartitionKey, r.ExplicitHashKey, "records."+strconv.Itoa(i+1)+".member.")
			if len(v.errs) >= maxValidationErrors {
				break
			}
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	for i := range in.Records {
		if h := in.Records[i].ExplicitHashKey; h != nil {
			if err := checkHashKey(*h); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordOK is a quick pass over what record checks, true when record
// would find nothing to report.
func recordOK(r *putRecordsEntry) bool {
	if r.PartitionKey == nil || r.Data == nil || len(*r.Data) > streamproc.MaxRecordBytes {
		return false
	}
	if n := len(*r.PartitionKey); n < 1 || n > stream.MaxPartitionKeyLen && runeLen(*r.PartitionKey) > stream.MaxPartitionKeyLen {
		return false
	}
	return r.ExplicitHashKey == nil || isHashKey(*r.ExplicitHashKey)
}

// record validates one PutRecord(s) entry; prefix is "" for PutRecord and
// "records.N.member." for PutRecords.
func (v *validator) record(data *blob, pk, ehk *string, prefix string) {
	if v.notNull(pk != nil, prefix+"partitionKey") {
		v.str(pk, prefix+"partitionKey", "", nil, 1, stream.MaxPartitionKeyLen)
	}
	if v.notNull(data != nil, prefix+"data") && len(*data) > streamproc.MaxRecordBytes {
		v.fail(blobValue(len(*data)), prefix+"data", fmt.Sprintf("Member must have length less than or equal to %d", streamproc.MaxRecordBytes))
	}
	v.str(ehk, prefix+"explicitHashKey", patHashKey, isHashKey, 0, -1)
}

// tagMap validates a TagMap member: 1–200 entries, keys 1–128 and values
// 0–256 characters.
func (v *validator) tagMap(tags map[string]string, path string) {
	if tags == nil {
		return
	}
	if n := len(tags); n < 1 || n > 200 {
		rel := "less than or equal to 200"
		if n < 1 {
			rel = "greater than or equal to 1"
		}
		v.fail("'{...}'", path, "Member must have length "+rel)
	}
	for k, val := range tags {
		if n := runeLen(k); n < 1 || n > maxTagKey {
			v.fail("'"+k+"'", path, fmt.Sprintf("Map keys must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to 1]", maxTagKey))
		}
		if runeLen(val) > maxTagValue {
			v.fail("'"+val+"'", path+"."+k, fmt.Sprintf("Member must have length less than or equal to %d", maxTagValue))
		}
	}
}
