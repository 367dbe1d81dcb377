package kinesisapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stream"
)

// operations lists every operation decodeRequest knows.
func operations() []string {
	return []string{"CreateStream", "DeleteStream", "DescribeStream", "DescribeStreamSummary", "ListStreams",
		"ListShards", "PutRecord", "PutRecords", "GetShardIterator", "GetRecords", "IncreaseStreamRetentionPeriod",
		"DecreaseStreamRetentionPeriod", "AddTagsToStream", "ListTagsForStream", "RemoveTagsFromStream"}
}

// seedBodies are valid requests of each operation, as SDKs send them.
func seedBodies() map[string][]string {
	return map[string][]string{
		"CreateStream":                  {`{"StreamName":"s","ShardCount":2}`, `{"StreamName":"s","StreamModeDetails":{"StreamMode":"ON_DEMAND"},"Tags":{"a":"b"}}`},
		"DeleteStream":                  {`{"StreamName":"s"}`, `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","EnforceConsumerDeletion":true}`},
		"DescribeStream":                {`{"StreamName":"s","Limit":10,"ExclusiveStartShardId":"shardId-000000000000"}`},
		"DescribeStreamSummary":         {`{"StreamName":"s"}`},
		"ListStreams":                   {`{}`, `{"Limit":5,"ExclusiveStartStreamName":"a"}`, `{"NextToken":"abc"}`},
		"ListShards":                    {`{"StreamName":"s","MaxResults":2}`, `{"NextToken":"x"}`, `{"StreamName":"s","ShardFilter":{"Type":"AT_TIMESTAMP","Timestamp":1764158400.123}}`},
		"PutRecord":                     {`{"StreamName":"s","PartitionKey":"k","Data":"aGk=","ExplicitHashKey":"12","SequenceNumberForOrdering":"1"}`},
		"PutRecords":                    {`{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k"},{"Data":"","PartitionKey":"ü","ExplicitHashKey":"0"}]}`, ` { "Records" : [ ] , "StreamARN" : "arn:aws:kinesis:us-east-1:000000000000:stream/s" } `},
		"GetShardIterator":              {`{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1764158400}`},
		"GetRecords":                    {`{"ShardIterator":"AAAA","Limit":100}`},
		"IncreaseStreamRetentionPeriod": {`{"StreamName":"s","RetentionPeriodHours":48}`},
		"DecreaseStreamRetentionPeriod": {`{"StreamName":"s","RetentionPeriodHours":24}`},
		"AddTagsToStream":               {`{"StreamName":"s","Tags":{"k":"v"}}`},
		"ListTagsForStream":             {`{"StreamName":"s","Limit":5,"ExclusiveStartTagKey":"a"}`},
		"RemoveTagsFromStream":          {`{"StreamName":"s","TagKeys":["k"]}`},
	}
}

// FuzzDecodeRequest feeds arbitrary bodies to every operation's decoder.
// It must never panic, must fail only with a client error (4xx) that has
// a code and a message, and its PutRecords fast path must agree with
// encoding/json whenever it accepts a body.
func FuzzDecodeRequest(f *testing.F) {
	ops := operations()
	for i, op := range ops {
		for _, b := range seedBodies()[op] {
			f.Add(uint8(i), []byte(b))
		}
	}
	f.Add(uint8(7), []byte(`{"Records":[{"Data":"!!","PartitionKey":"k"}]}`))
	f.Add(uint8(7), []byte(`{"Records":[{"Data":"aGk=","PartitionKey":"k\u0000"}],"StreamName":"s"}`))
	f.Add(uint8(7), []byte(`{"records":[{"data":"aGk=","partitionkey":"k"}],"streamname":"s"}`))
	f.Add(uint8(0), []byte(`{"StreamName":"s","ShardCount":"2"}`))
	f.Add(uint8(8), []byte(`{"Timestamp":"2026-01-01","StreamName":"s"}`))
	f.Fuzz(func(t *testing.T, opIdx uint8, body []byte) {
		op := ops[int(opIdx)%len(ops)]
		in, err := decodeRequest(op, body)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || ae.status != http.StatusBadRequest || ae.code == "" || ae.msg == "" {
				t.Fatalf("%s %q: error %#v is not a 400 API error", op, body, err)
			}
			if !utf8.ValidString(ae.msg) && utf8.Valid(body) {
				t.Fatalf("%s: message is not UTF-8: %q", op, ae.msg)
			}
		} else if in == nil {
			t.Fatalf("%s: no input and no error", op)
		}
		if op != "PutRecords" {
			return
		}
		fast, ok := decodePutRecordsFast(body)
		if !ok {
			return
		}
		slow := new(putRecordsInput)
		if err := decodeJSON(body, slow); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json says %v", body, err)
		}
		if msg := diffPutRecords(fast, slow); msg != "" {
			t.Fatalf("fast and slow decoders disagree on %q: %s", body, msg)
		}
	})
}

func diffPutRecords(a, b *putRecordsInput) string {
	eq := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	if !eq(a.StreamName, b.StreamName) || !eq(a.StreamARN, b.StreamARN) || !eq(a.StreamId, b.StreamId) {
		return "stream reference"
	}
	if (a.Records == nil) != (b.Records == nil) || len(a.Records) != len(b.Records) {
		return "record count"
	}
	for i := range a.Records {
		x, y := a.Records[i], b.Records[i]
		if !eq(x.PartitionKey, y.PartitionKey) || !eq(x.ExplicitHashKey, y.ExplicitHashKey) ||
			(x.Data == nil) != (y.Data == nil) || (x.Data != nil && !bytes.Equal(*x.Data, *y.Data)) {
			return "record " + string(rune('0'+i%10))
		}
	}
	return ""
}

func TestDecodeRequestErrors(t *testing.T) {
	cases := []struct {
		op, body, code, msg string
	}{
		{"CreateStream", ``, "SerializationException", "Empty request body"},
		{"CreateStream", `{"StreamName":`, "SerializationException", "Malformed JSON"},
		{"CreateStream", `{"StreamName":"s","ShardCount":"2"}`, "SerializationException", "class java.lang.String can not be converted to an Integer"},
		{"CreateStream", `{"StreamName":5,"ShardCount":2}`, "SerializationException", "TruncatingBigNumber can not be converted to an String"},
		{"CreateStream", `{"StreamName":"s","ShardCount":1.5e99}`, "SerializationException", "can not be converted to an Integer"},
		{"CreateStream", `[]`, "SerializationException", "Start of list found where not expected"},
		{"CreateStream", `{"ShardCount":1}`, "ValidationException", "1 validation error detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null"},
		{"CreateStream", `{"StreamName":"","ShardCount":0}`, "ValidationException",
			"3 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; " +
				"Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"CreateStream", `{"StreamName":"s","ShardCount":1,"StreamModeDetails":{"StreamMode":"FAST"}}`, "ValidationException", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]"},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"a"}`, "SerializationException", "can not be converted to a Blob"},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":5}`, "SerializationException", "can not be converted to a Blob"},
		{"PutRecord", `{"StreamName":"s","Data":"aGk="}`, "ValidationException", "Value null at 'partitionKey' failed to satisfy constraint: Member must not be null"},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"","Data":"aGk="}`, "ValidationException", "Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"k","Data":"aGk=","ExplicitHashKey":"340282366920938463463374607431768211456"}`, "InvalidArgumentException", "ExplicitHashKey must be in the range: [0, 2^128-1]"},
		{"PutRecords", `{"StreamName":"s"}`, "ValidationException", "Value null at 'records' failed to satisfy constraint: Member must not be null"},
		{"PutRecords", `{"StreamName":"s","Records":[{"Data":"aGk="},{"PartitionKey":"k"}]}`, "ValidationException",
			"2 validation errors detected: Value null at 'records.1.member.partitionKey' failed to satisfy constraint: Member must not be null; Value null at 'records.2.member.data' failed to satisfy constraint: Member must not be null"},
		{"PutRecords", `{"StreamName":"s","Records":{}}`, "SerializationException", "Start of structure or map found where not expected."},
		{"PutRecords", `{"StreamName":"s","Records":"x"}`, "SerializationException", "Expected list or null"},
		{"GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":"2026-01-01T00:00:00Z"}`, "SerializationException", "can not be converted to milliseconds since epoch"},
		{"GetShardIterator", `{"StreamName":"s","ShardIteratorType":"LATEST"}`, "ValidationException", "Value null at 'shardId'"},
		{"GetRecords", `{}`, "ValidationException", "Value null at 'shardIterator' failed to satisfy constraint: Member must not be null"},
		{"GetRecords", `{"ShardIterator":"","Limit":0}`, "ValidationException", "2 validation errors detected"},
		{"AddTagsToStream", `{"StreamName":"s","Tags":{}}`, "ValidationException", "Member must have length greater than or equal to 1"},
		{"RemoveTagsFromStream", `{"StreamName":"s","TagKeys":[]}`, "ValidationException", "Member must have length greater than or equal to 1"},
		{"DescribeStream", `{}`, "ValidationException", "Value null at 'streamName' failed to satisfy constraint: Member must not be null"},
		{"DescribeStream", `{"StreamARN":"arn:aws:s3:::bucket"}`, "ValidationException", "Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"},
		{"SplitShard", `{}`, "UnknownOperationException", "SplitShard is not supported"},
	}
	for _, c := range cases {
		t.Run(c.op+" "+c.body, func(t *testing.T) {
			_, err := decodeRequest(c.op, []byte(c.body))
			var ae *apiError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want %s", err, c.code)
			}
			if ae.code != c.code || !strings.Contains(ae.msg, c.msg) || ae.status != http.StatusBadRequest {
				t.Fatalf("error = %d %s: %s\nwant %s containing %q", ae.status, ae.code, ae.msg, c.code, c.msg)
			}
		})
	}
}

func TestDecodeSeeds(t *testing.T) {
	for op, bodies := range seedBodies() {
		for _, b := range bodies {
			if _, err := decodeRequest(op, []byte(b)); err != nil && !strings.Contains(b, `"Records" : [ ]`) {
				t.Errorf("%s %s: %v", op, b, err)
			}
		}
	}
}

func TestParseEpoch(t *testing.T) {
	cases := []struct {
		in   string
		ms   int64
		fail bool
	}{
		{"1764158400", 1764158400000, false},
		{"1764158400.123", 1764158400123, false},
		{"1764158400.1239", 1764158400123, false},
		{"1764158400.5", 1764158400500, false},
		{"1.764158400123E9", 1764158400123, false},
		{"-1.5", -1500, false},
		{"1e400", 0, true},
		{"99999999999999999999", 0, true},
	}
	for _, c := range cases {
		got, ok := parseEpoch(c.in)
		if ok == c.fail || (ok && got.UnixMilli() != c.ms) {
			t.Errorf("parseEpoch(%s) = %v %v, want %d (fail %v)", c.in, got.UnixMilli(), ok, c.ms, c.fail)
		}
	}
}

func TestEpochMillisJSON(t *testing.T) {
	for ms, want := range map[int64]string{1764158400123: "1764158400.123", 1764158400000: "1764158400.000", 5: "0.005", -1500: "-1.500"} {
		b, _ := epochMillis(ms).MarshalJSON()
		if string(b) != want {
			t.Errorf("epochMillis(%d) = %s, want %s", ms, b, want)
		}
		got, ok := parseEpoch(string(b))
		if !ok || got.UnixMilli() != ms {
			t.Errorf("round trip of %d: %v", ms, got.UnixMilli())
		}
	}
}

// The hand-written responses must decode to what encoding/json would.
func TestAppendOutputs(t *testing.T) {
	res := []streamproc.PutResult{
		{ShardID: "shardId-000000000001", SequenceNumber: "4900000000010000000000000000000000000000000000000000001"},
		{ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: `Rate exceeded for shard "x" \ y`},
	}
	var put struct {
		FailedRecordCount int
		Records           []map[string]string
		EncryptionType    string
	}
	if err := json.Unmarshal(appendPutRecordsOutput(nil, res), &put); err != nil {
		t.Fatal(err)
	}
	if put.FailedRecordCount != 1 || put.Records[0]["ShardId"] != res[0].ShardID || put.Records[1]["ErrorMessage"] != res[1].ErrorMessage || len(put.Records[1]) != 2 {
		t.Errorf("PutRecords output = %+v", put)
	}

	keys := []string{"plain", "quote\" back\\ nl\n tab\t ctl\x01", "ünï ✓ 😀", "bad \xff utf8", "js \u2028\u2029", "<&>"}
	var recs []stream.Record
	for i, k := range keys {
		recs = append(recs, stream.Record{SequenceNumber: "49" + strings.Repeat("0", 53) + string(rune('0'+i)), ArrivalTime: time.UnixMilli(1764158400123 + int64(i)), PartitionKey: k, Data: []byte(k)})
	}
	out := appendGetRecordsOutput(nil, recs, "ITER", 42)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	var get struct {
		Records []struct {
			SequenceNumber              string
			ApproximateArrivalTimestamp json.Number
			Data                        []byte
			PartitionKey                string
		}
		NextShardIterator  string
		MillisBehindLatest int64
	}
	if err := json.Unmarshal(out, &get); err != nil {
		t.Fatal(err)
	}
	if get.NextShardIterator != "ITER" || get.MillisBehindLatest != 42 || len(get.Records) != len(keys) {
		t.Fatalf("GetRecords output = %+v", get)
	}
	for i, r := range get.Records {
		want := strings.ToValidUTF8(keys[i], "\uFFFD")
		if r.PartitionKey != want || !bytes.Equal(r.Data, []byte(keys[i])) || r.SequenceNumber != recs[i].SequenceNumber {
			t.Errorf("record %d = %q %q", i, r.PartitionKey, r.Data)
		}
		if ts, ok := parseEpoch(string(r.ApproximateArrivalTimestamp)); !ok || !ts.Equal(recs[i].ArrivalTime) {
			t.Errorf("record %d arrival %s", i, r.ApproximateArrivalTimestamp)
		}
	}
}

func TestTokens(t *testing.T) {
	s := sealer{key: []byte("0123456789abcdef0123456789abcdef")}
	now := time.UnixMilli(1764158400123).UTC()
	tok := s.seal(kindShardsPage, now, "stream", "", "shardId-000000000001")
	issued, f, ok := s.open(kindShardsPage, tok, 3)
	if !ok || !issued.Equal(now) || f[0] != "stream" || f[1] != "" || f[2] != "shardId-000000000001" {
		t.Fatalf("open = %v %q %v", issued, f, ok)
	}
	if _, _, ok := s.open(kindIterator, tok, 3); ok {
		t.Error("a NextToken opened as an iterator")
	}
	if _, _, ok := s.open(kindShardsPage, tok, 2); ok {
		t.Error("wrong field count accepted")
	}
	other := sealer{key: []byte("another key, another server.....")}
	if _, _, ok := other.open(kindShardsPage, tok, 3); ok {
		t.Error("token of another key accepted")
	}
	if len(s.sealIterator(now, strings.Repeat("n", 128), "shardId-000000000000", stream.Cursor{})) > 512 {
		t.Error("longest iterator exceeds the model's 512 characters")
	}
	if _, err := s.openPage(kindShardsPage, tok, 3, now.Add(IteratorTTL+time.Millisecond)); !isCode(err, codeExpiredNextToken) {
		t.Errorf("expired token: %v", err)
	}
	if _, err := s.openPage(kindShardsPage, tok+"A", 3, now); !isCode(err, "InvalidArgumentException") {
		t.Errorf("bad token: %v", err)
	}
}

func isCode(err error, code string) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == code
}
