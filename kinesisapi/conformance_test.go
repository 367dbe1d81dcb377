package kinesisapi_test

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/shardmap"
)

// The conformance suite: one set of test bodies run through the real
// aws-sdk-go-v2 Kinesis client against our endpoint and against kinesalite,
// an independent implementation of the wire protocol. The bodies assert
// AWS's documented behaviour (research/aws-semantics.md §1). Where
// kinesalite departs from it, the check asks tg.quirk, which is true only on
// kinesalite for the differences listed in kinesaliteQuirks; the body then
// asserts what kinesalite actually does, so a kinesalite upgrade that
// changes it makes the table stale loudly rather than silently.

// kinesaliteQuirks is the table of known differences between kinesalite
// 3.3.3 and AWS. Key → what kinesalite does instead of what AWS documents.
func kinesaliteQuirks() map[string]string {
	return map[string]string{
		"mode-details": "DescribeStream, DescribeStreamSummary and ListStreams omit StreamModeDetails " +
			"(AWS reports {StreamMode: PROVISIONED}); CreateStream ignores StreamModeDetails and requires ShardCount.",
		"millis-behind-latest": "GetRecords always reports MillisBehindLatest 0 on an open shard, even with " +
			"unread records behind the returned batch (AWS: ms between the response and the tip).",
		"stream-arn": "Operations given only StreamARN fail with ValidationException \"Value null at " +
			"'streamName'\" (AWS accepts StreamARN instead of StreamName everywhere).",
		"list-shards-paging": "ListShards ignores MaxResults and never returns a NextToken; a NextToken " +
			"request without StreamName fails (AWS pages with NextToken, §1.9).",
		"list-streams-summaries": "ListStreams returns no StreamSummaries and no NextToken (AWS returns both).",
		"at-timestamp-after-tip": "GetShardIterator AT_TIMESTAMP with a timestamp after the newest record " +
			"(but not in the future) never answers: its lazy stream's head() has nothing to call back with " +
			"(AWS returns an iterator at the tip).",
		"request-size": "PutRecords over 5 MiB of data and keys is accepted; only bodies over 7 MiB are " +
			"refused, with a bare HTTP 413 (AWS: InvalidArgumentException).",
		"retention-max": "RetentionPeriodHours above 168 fails validation (ValidationException); AWS allows " +
			"up to 8760 (365 days).",
		"describe-paging": "DescribeStream ignores Limit and ExclusiveStartShardId and always returns every " +
			"shard with HasMoreShards false (AWS pages, default Limit 100).",
		"hash-key-pattern": "The ExplicitHashKey pattern 0|([1-9]\\d{0,38}) is matched as ^0|([1-9]\\d{0,38})$, " +
			"so any value starting with 0 (\"0x10\") passes validation and is read as a number " +
			"(AWS: ValidationException).",
		"unauthenticated-iterator": "Shard iterators are AES-CBC ciphertext without a MAC: a changed character " +
			"can decrypt to a still-parseable iterator and GetRecords answers it (AWS rejects any altered " +
			"iterator with InvalidArgumentException).",
		"tags-per-call": "AddTagsToStream takes at most 10 tags per call and ListTagsForStream Limit at most 10 " +
			"(ValidationException); AWS allows 200 per call, 50 per stream, Limit up to 50.",
	}
}

// quirk reports whether tg is kinesalite and differs from AWS as described
// under key, logging the difference.
func (tg *target) quirk(t testing.TB, key string) bool {
	t.Helper()
	d, ok := kinesaliteQuirks()[key]
	if !ok {
		t.Fatalf("unknown quirk %q", key)
	}
	if tg.ours() {
		return false
	}
	t.Logf("kinesalite quirk %s: %s", key, d)
	return true
}

type conformanceCase struct {
	name string
	run  func(t *testing.T, tg *target)
	// oursOnly marks checks kinesalite cannot take part in: an injected
	// clock (expiry, retention trimming) or enforced throughput limits.
	oursOnly bool
}

func conformanceCases() []conformanceCase {
	return []conformanceCase{
		{name: "Describe", run: testDescribe},
		{name: "Routing", run: testRouting},
		{name: "OrderingAndSequenceNumbers", run: testOrdering},
		{name: "IteratorTypes", run: testIteratorTypes},
		{name: "AtTimestampAfterTip", run: testAtTimestampAfterTip},
		{name: "MillisBehindLatest", run: testMillisBehindLatest},
		{name: "ErrorCodes", run: testErrorCodes},
		{name: "ValidationMessages", run: testValidationMessages},
		{name: "TamperedIterator", run: testTamperedIterator},
		{name: "Retention", run: testRetention},
		{name: "Tags", run: testTags},
		{name: "StreamARN", run: testStreamARN},
		{name: "ListShardsPaging", run: testListShardsPaging},
		{name: "ListStreams", run: testListStreams},
		{name: "DeleteStream", run: testDeleteStream},
		{name: "IteratorExpiry", run: testIteratorExpiry, oursOnly: true},
		{name: "RetentionTrimsRecords", run: testRetentionTrims, oursOnly: true},
		{name: "PartialFailuresUnderLimits", run: testPartialFailures, oursOnly: true},
		{name: "OnDemand", run: testOnDemand, oursOnly: true},
	}
}

func TestConformance(t *testing.T) {
	// Each target starts inside its own subtest, so a missing kinesalite
	// (a skip outside CI) skips only its half.
	targets := map[string]func(t *testing.T) *target{
		"ours":       func(t *testing.T) *target { return newOurs(t, ourOptions{}) },
		"kinesalite": func(t *testing.T) *target { return newKinesalite(t) },
	}
	for _, name := range []string{"ours", "kinesalite"} {
		t.Run(name, func(t *testing.T) {
			tg := targets[name](t)
			for _, c := range conformanceCases() {
				if c.oursOnly && !tg.ours() {
					continue
				}
				t.Run(c.name, func(t *testing.T) { c.run(t, tg) })
			}
		})
	}
}

func testDescribe(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("describe")
	createStream(t, tg, name, 3)
	d, err := tg.client.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	sd := d.StreamDescription
	if sd.StreamStatus != types.StreamStatusActive || aws.ToInt32(sd.RetentionPeriodHours) != 24 || aws.ToBool(sd.HasMoreShards) {
		t.Errorf("description = status %s, retention %d, more %v", sd.StreamStatus, aws.ToInt32(sd.RetentionPeriodHours), aws.ToBool(sd.HasMoreShards))
	}
	if want := "arn:aws:kinesis:us-east-1:000000000000:stream/" + name; aws.ToString(sd.StreamARN) != want {
		t.Errorf("StreamARN = %s, want %s", aws.ToString(sd.StreamARN), want)
	}
	if sd.StreamCreationTimestamp == nil || time.Since(*sd.StreamCreationTimestamp) > time.Minute {
		t.Errorf("StreamCreationTimestamp = %v", sd.StreamCreationTimestamp)
	}
	// §1.3: the hash-key layout AWS produces for N shards.
	even := shardmap.Even(3)
	if len(sd.Shards) != len(even) {
		t.Fatalf("%d shards, want %d", len(sd.Shards), len(even))
	}
	for i, s := range sd.Shards {
		if aws.ToString(s.ShardId) != even[i].ID || aws.ToString(s.HashKeyRange.StartingHashKey) != even[i].StartingHashKey ||
			aws.ToString(s.HashKeyRange.EndingHashKey) != even[i].EndingHashKey {
			t.Errorf("shard %d = %s [%s, %s], want %+v", i, aws.ToString(s.ShardId), aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey), even[i])
		}
		if s.SequenceNumberRange == nil || s.SequenceNumberRange.StartingSequenceNumber == nil || s.SequenceNumberRange.EndingSequenceNumber != nil {
			t.Errorf("shard %d sequence range = %+v, want open with a start", i, s.SequenceNumberRange)
		}
	}
	// DescribeStream pages with Limit / ExclusiveStartShardId.
	p, err := tg.client.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name), Limit: aws.Int32(1), ExclusiveStartShardId: aws.String(even[0].ID)})
	if err != nil {
		t.Fatal(err)
	}
	if tg.quirk(t, "describe-paging") {
		if len(p.StreamDescription.Shards) != 3 {
			t.Errorf("kinesalite now pages DescribeStream: update the quirk table")
		}
	} else if got := p.StreamDescription.Shards; len(got) != 1 || aws.ToString(got[0].ShardId) != even[1].ID || !aws.ToBool(p.StreamDescription.HasMoreShards) {
		t.Errorf("page after %s with Limit 1 = %d shards, more %v", even[0].ID, len(got), aws.ToBool(p.StreamDescription.HasMoreShards))
	}

	s, err := tg.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	sum := s.StreamDescriptionSummary
	if aws.ToInt32(sum.OpenShardCount) != 3 || sum.StreamStatus != types.StreamStatusActive || aws.ToInt32(sum.RetentionPeriodHours) != 24 {
		t.Errorf("summary = %+v", sum)
	}
	if tg.quirk(t, "mode-details") {
		if sum.StreamModeDetails != nil || sd.StreamModeDetails != nil {
			t.Errorf("kinesalite now reports StreamModeDetails: update the quirk table")
		}
	} else if sum.StreamModeDetails == nil || sum.StreamModeDetails.StreamMode != types.StreamModeProvisioned ||
		sd.StreamModeDetails == nil || sd.StreamModeDetails.StreamMode != types.StreamModeProvisioned {
		t.Errorf("StreamModeDetails = %+v / %+v, want PROVISIONED", sum.StreamModeDetails, sd.StreamModeDetails)
	}

	ls, err := tg.client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Shards) != 3 || ls.NextToken != nil {
		t.Errorf("ListShards = %d shards, NextToken %v", len(ls.Shards), ls.NextToken)
	}
}

func testRouting(t *testing.T, tg *target) {
	name := tg.stream("routing")
	createStream(t, tg, name, 4)
	even := shardmap.Even(4)
	m, err := shardmap.New(even)
	if err != nil {
		t.Fatal(err)
	}
	var entries []types.PutRecordsRequestEntry
	for i := range 200 {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("user-%d", i)), Data: []byte{byte(i)}})
	}
	// ExplicitHashKey overrides the MD5 of the key: both ends of each range.
	for _, s := range even {
		for _, h := range []string{s.StartingHashKey, s.EndingHashKey} {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("explicit"), ExplicitHashKey: aws.String(h), Data: []byte("x")})
		}
	}
	out := putRecords(t, tg, name, entries)
	if aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("FailedRecordCount = %d", aws.ToInt32(out.FailedRecordCount))
	}
	seen := map[string]bool{}
	for i, r := range out.Records {
		idx, err := m.Route(aws.ToString(entries[i].PartitionKey), aws.ToString(entries[i].ExplicitHashKey))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := aws.ToString(r.ShardId), shardmap.ShardID(idx); got != want {
			t.Errorf("record %d (key %q, hash %q) went to %s, want %s", i, aws.ToString(entries[i].PartitionKey), aws.ToString(entries[i].ExplicitHashKey), got, want)
		}
		seen[aws.ToString(r.ShardId)] = true
	}
	if len(seen) != 4 {
		t.Errorf("records reached %d shards, want all 4", len(seen))
	}
	// PutRecord routes the same way.
	pr, err := tg.client.PutRecord(ctxT(t), &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("user-7"), Data: []byte("y")})
	if err != nil {
		t.Fatal(err)
	}
	if idx, _ := m.Route("user-7", ""); aws.ToString(pr.ShardId) != shardmap.ShardID(idx) {
		t.Errorf("PutRecord user-7 went to %s, want %s", aws.ToString(pr.ShardId), shardmap.ShardID(idx))
	}
}

func seqInt(t testing.TB, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("sequence number %q is not a decimal integer", s)
	}
	return n
}

func testOrdering(t *testing.T, tg *target) {
	name := tg.stream("order")
	createStream(t, tg, name, 2)
	type put struct{ data, seq string }
	want := map[string][]put{} // shard → records in write order
	n := 0
	for batch := range 4 {
		var entries []types.PutRecordsRequestEntry
		for range 120 {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", n%7)), Data: []byte(fmt.Sprintf("r%05d", n))})
			n++
		}
		out := putRecords(t, tg, name, entries)
		for i, r := range out.Records {
			want[aws.ToString(r.ShardId)] = append(want[aws.ToString(r.ShardId)], put{string(entries[i].Data), aws.ToString(r.SequenceNumber)})
		}
		// Single PutRecord calls between the batches.
		pr, err := tg.client.PutRecord(ctxT(t), &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("single"),
			Data: []byte(fmt.Sprintf("s%d", batch))})
		if err != nil {
			t.Fatal(err)
		}
		want[aws.ToString(pr.ShardId)] = append(want[aws.ToString(pr.ShardId)], put{fmt.Sprintf("s%d", batch), aws.ToString(pr.SequenceNumber)})
	}
	for _, shard := range []string{shardmap.ShardID(0), shardmap.ShardID(1)} {
		recs, _ := readAll(t, tg, iterator(t, tg, shardIter(name, shard, types.ShardIteratorTypeTrimHorizon)))
		w := want[shard]
		if len(recs) != len(w) {
			t.Fatalf("%s: read %d records, wrote %d", shard, len(recs), len(w))
		}
		var prev *big.Int
		for i, r := range recs {
			if string(r.Data) != w[i].data || aws.ToString(r.SequenceNumber) != w[i].seq {
				t.Fatalf("%s record %d = %q %s, want %q %s", shard, i, r.Data, aws.ToString(r.SequenceNumber), w[i].data, w[i].seq)
			}
			s := seqInt(t, aws.ToString(r.SequenceNumber))
			if prev != nil && s.Cmp(prev) <= 0 {
				t.Fatalf("%s: sequence number %s after %s does not increase", shard, s, prev)
			}
			prev = s
			if r.ApproximateArrivalTimestamp == nil || time.Since(*r.ApproximateArrivalTimestamp) > time.Minute {
				t.Errorf("%s record %d arrival %v", shard, i, r.ApproximateArrivalTimestamp)
			}
		}
	}
}

func testIteratorTypes(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("iters")
	createStream(t, tg, name, 1)
	shard := shardmap.ShardID(0)
	mk := func(prefix string, n int) []types.PutRecordsRequestEntry {
		var e []types.PutRecordsRequestEntry
		for i := range n {
			e = append(e, types.PutRecordsRequestEntry{PartitionKey: aws.String("pk"), Data: []byte(fmt.Sprintf("%s%d", prefix, i))})
		}
		return e
	}
	putRecords(t, tg, name, mk("a", 3))
	time.Sleep(30 * time.Millisecond) // distinct arrival times for AT_TIMESTAMP
	putRecords(t, tg, name, mk("b", 3))

	all, _ := readAll(t, tg, iterator(t, tg, shardIter(name, shard, types.ShardIteratorTypeTrimHorizon)))
	if len(all) != 6 {
		t.Fatalf("TRIM_HORIZON read %d records, want 6", len(all))
	}
	first := func(in *kinesis.GetShardIteratorInput) []types.Record {
		recs, _ := readAll(t, tg, iterator(t, tg, in))
		return recs
	}
	check := func(what string, got []types.Record, from int) {
		t.Helper()
		if len(got) != len(all)-from || (len(got) > 0 && !bytes.Equal(got[0].Data, all[from].Data)) {
			t.Errorf("%s: got %d records, want the %d from %q", what, len(got), len(all)-from, all[from].Data)
		}
	}
	in := shardIter(name, shard, types.ShardIteratorTypeAtSequenceNumber)
	in.StartingSequenceNumber = all[2].SequenceNumber
	check("AT_SEQUENCE_NUMBER", first(in), 2)
	in = shardIter(name, shard, types.ShardIteratorTypeAfterSequenceNumber)
	in.StartingSequenceNumber = all[2].SequenceNumber
	check("AFTER_SEQUENCE_NUMBER", first(in), 3)
	in = shardIter(name, shard, types.ShardIteratorTypeAtTimestamp)
	in.Timestamp = all[3].ApproximateArrivalTimestamp
	check("AT_TIMESTAMP of the 4th record", first(in), 3)
	in = shardIter(name, shard, types.ShardIteratorTypeAtTimestamp)
	in.Timestamp = aws.Time(all[0].ApproximateArrivalTimestamp.Add(-time.Hour))
	check("AT_TIMESTAMP before every record", first(in), 0)

	// LATEST sees only what is written after it was issued.
	latest := iterator(t, tg, shardIter(name, shard, types.ShardIteratorTypeLatest))
	out, err := tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(latest)})
	if err != nil || len(out.Records) != 0 {
		t.Fatalf("LATEST before a write: %v records, err %v", len(out.Records), err)
	}
	putRecords(t, tg, name, mk("c", 1))
	got, _ := readAll(t, tg, aws.ToString(out.NextShardIterator))
	if len(got) != 1 || string(got[0].Data) != "c0" {
		t.Fatalf("LATEST then a write: got %d records", len(got))
	}
	// Records keep their partition key and arrival time.
	if aws.ToString(got[0].PartitionKey) != "pk" || got[0].ApproximateArrivalTimestamp.Before(*all[5].ApproximateArrivalTimestamp) {
		t.Errorf("record = key %q arrival %v", aws.ToString(got[0].PartitionKey), got[0].ApproximateArrivalTimestamp)
	}
}

func testAtTimestampAfterTip(t *testing.T, tg *target) {
	if tg.quirk(t, "at-timestamp-after-tip") {
		// Calling it would leave a request hanging in kinesalite.
		return
	}
	name := tg.stream("ts-tip")
	createStream(t, tg, name, 1)
	shard := shardmap.ShardID(0)
	putRecords(t, tg, name, []types.PutRecordsRequestEntry{{PartitionKey: aws.String("pk"), Data: []byte("old")}})
	time.Sleep(20 * time.Millisecond)
	in := shardIter(name, shard, types.ShardIteratorTypeAtTimestamp)
	in.Timestamp = aws.Time(tg.now().Add(-5 * time.Millisecond))
	it := iterator(t, tg, in)
	putRecords(t, tg, name, []types.PutRecordsRequestEntry{{PartitionKey: aws.String("pk"), Data: []byte("new")}})
	got, _ := readAll(t, tg, it)
	if len(got) != 1 || string(got[0].Data) != "new" {
		t.Fatalf("AT_TIMESTAMP after the tip read %d records, want only the new one", len(got))
	}
}

func testMillisBehindLatest(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("behind")
	createStream(t, tg, name, 1)
	var e []types.PutRecordsRequestEntry
	for i := range 3 {
		e = append(e, types.PutRecordsRequestEntry{PartitionKey: aws.String("pk"), Data: []byte{byte(i)}})
	}
	putRecords(t, tg, name, e)
	const lag = 100 * time.Millisecond
	time.Sleep(lag)
	wantMin := lag
	if tg.ours() {
		tg.clock.Advance(10 * time.Second)
		wantMin = 10 * time.Second
	}
	it := iterator(t, tg, shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeTrimHorizon))
	out, err := tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	behind := time.Duration(aws.ToInt64(out.MillisBehindLatest)) * time.Millisecond
	if tg.quirk(t, "millis-behind-latest") {
		if behind != 0 {
			t.Errorf("kinesalite now reports MillisBehindLatest %v: update the quirk table", behind)
		}
	} else if behind < wantMin || behind > wantMin+time.Minute {
		t.Errorf("MillisBehindLatest with 2 unread records written %v ago = %v", wantMin, behind)
	}
	out, err = tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 2 || aws.ToInt64(out.MillisBehindLatest) != 0 {
		t.Errorf("read to the tip: %d records, MillisBehindLatest %d, want 2 and 0", len(out.Records), aws.ToInt64(out.MillisBehindLatest))
	}
}

func testErrorCodes(t *testing.T, tg *target) {
	name := tg.stream("errors")
	createStream(t, tg, name, 2)
	put := putRecords(t, tg, name, []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), ExplicitHashKey: aws.String("0"), Data: []byte("x")},
	})
	seq0 := aws.ToString(put.Records[0].SequenceNumber)
	mb := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	entries := func(n, size int) []types.PutRecordsRequestEntry {
		e := make([]types.PutRecordsRequestEntry, n)
		for i := range e {
			e[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", i)), Data: mb(size)}
		}
		return e
	}
	s := aws.String(name)
	cases := []struct {
		name  string
		call  func(ctx context.Context, c *kinesis.Client) error
		code  string
		quirk string // kinesalite answers this one with success
	}{
		{"PutRecords 501 records", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: s, Records: entries(501, 1)})
			return err
		}, "ValidationException", ""},
		{"PutRecords no records", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: s, Records: []types.PutRecordsRequestEntry{}})
			return err
		}, "ValidationException", ""},
		{"PutRecords over 5 MiB", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: s, Records: entries(5, 1<<20)})
			return err
		}, "InvalidArgumentException", "request-size"},
		{"PutRecord data over 1 MiB", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: s, PartitionKey: aws.String("k"), Data: mb(1<<20 + 1)})
			return err
		}, "ValidationException", ""},
		{"PutRecord partition key of 257 characters", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: s, PartitionKey: aws.String(strings.Repeat("k", 257)), Data: mb(1)})
			return err
		}, "ValidationException", ""},
		{"PutRecord explicit hash key 2^128", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: s, PartitionKey: aws.String("k"), Data: mb(1),
				ExplicitHashKey: aws.String(new(big.Int).Lsh(big.NewInt(1), 128).String())})
			return err
		}, "InvalidArgumentException", ""},
		{"PutRecord explicit hash key not decimal", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: s, PartitionKey: aws.String("k"), Data: mb(1), ExplicitHashKey: aws.String("0x10")})
			return err
		}, "ValidationException", "hash-key-pattern"},
		{"PutRecord unknown stream", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name + "-nope"), PartitionKey: aws.String("k"), Data: mb(1)})
			return err
		}, "ResourceNotFoundException", ""},
		{"DescribeStream unknown stream", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name + "-nope")})
			return err
		}, "ResourceNotFoundException", ""},
		{"CreateStream existing", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: s, ShardCount: aws.Int32(1)})
			return err
		}, "ResourceInUseException", ""},
		{"CreateStream bad name", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bad name!"), ShardCount: aws.Int32(1)})
			return err
		}, "ValidationException", ""},
		{"CreateStream zero shards", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name + "-zero"), ShardCount: aws.Int32(0)})
			return err
		}, "ValidationException", ""},
		{"GetShardIterator unknown shard", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.GetShardIterator(ctx, shardIter(name, shardmap.ShardID(9), types.ShardIteratorTypeTrimHorizon))
			return err
		}, "ResourceNotFoundException", ""},
		{"GetShardIterator unknown stream", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.GetShardIterator(ctx, shardIter(name+"-nope", shardmap.ShardID(0), types.ShardIteratorTypeTrimHorizon))
			return err
		}, "ResourceNotFoundException", ""},
		{"GetShardIterator bad type", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.GetShardIterator(ctx, shardIter(name, shardmap.ShardID(0), "SOMEWHERE"))
			return err
		}, "ValidationException", ""},
		{"AT_SEQUENCE_NUMBER of another shard", func(ctx context.Context, c *kinesis.Client) error {
			in := shardIter(name, shardmap.ShardID(1), types.ShardIteratorTypeAtSequenceNumber)
			in.StartingSequenceNumber = aws.String(seq0)
			_, err := c.GetShardIterator(ctx, in)
			return err
		}, "InvalidArgumentException", ""},
		{"AT_SEQUENCE_NUMBER without a number", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.GetShardIterator(ctx, shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeAtSequenceNumber))
			return err
		}, "InvalidArgumentException", ""},
		{"TRIM_HORIZON with a sequence number", func(ctx context.Context, c *kinesis.Client) error {
			in := shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeTrimHorizon)
			in.StartingSequenceNumber = aws.String(seq0)
			_, err := c.GetShardIterator(ctx, in)
			return err
		}, "InvalidArgumentException", ""},
		{"AT_TIMESTAMP without a timestamp", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.GetShardIterator(ctx, shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeAtTimestamp))
			return err
		}, "InvalidArgumentException", ""},
		{"AT_TIMESTAMP in the future", func(ctx context.Context, c *kinesis.Client) error {
			in := shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeAtTimestamp)
			in.Timestamp = aws.Time(tg.now().Add(time.Hour))
			_, err := c.GetShardIterator(ctx, in)
			return err
		}, "InvalidArgumentException", ""},
		{"GetRecords Limit 10001", func(ctx context.Context, c *kinesis.Client) error {
			it, err := c.GetShardIterator(ctx, shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeTrimHorizon))
			if err != nil {
				return err
			}
			_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10001)})
			return err
		}, "ValidationException", ""},
		{"GetRecords garbage iterator", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String("AAAAAAAAAAGarbage=")})
			return err
		}, "InvalidArgumentException", ""},
		{"GetRecords iterator over 512 characters", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(strings.Repeat("A", 513))})
			return err
		}, "ValidationException", ""},
		{"DeleteStream unknown stream", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name + "-nope")})
			return err
		}, "ResourceNotFoundException", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(ctxT(t), tg.client)
			if c.quirk != "" && tg.quirk(t, c.quirk) {
				if err != nil {
					t.Errorf("kinesalite now fails with %v: update the quirk table", err)
				}
				return
			}
			wantCode(t, err, c.code)
		})
	}
}

// testValidationMessages checks the exact wording of model-constraint
// errors, which kinesalite copied from AWS.
func testValidationMessages(t *testing.T, tg *target) {
	name := tg.stream("messages")
	createStream(t, tg, name, 1)
	cases := []struct {
		name string
		call func(ctx context.Context, c *kinesis.Client) error
		msg  string
	}{
		{"stream name pattern", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("bad name!"), ShardCount: aws.Int32(1)})
			return err
		}, "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"},
		{"shard count", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("x"), ShardCount: aws.Int32(0)})
			return err
		}, "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"limit", func(ctx context.Context, c *kinesis.Client) error {
			it, err := c.GetShardIterator(ctx, shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeLatest))
			if err != nil {
				return err
			}
			_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(10001)})
			return err
		}, "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"data size", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: make([]byte, 1<<20+1)})
			return err
		}, "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576"},
		{"iterator type", func(ctx context.Context, c *kinesis.Client) error {
			_, err := c.GetShardIterator(ctx, shardIter(name, shardmap.ShardID(0), "SOMEWHERE"))
			return err
		}, "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(ctxT(t), tg.client)
			wantCode(t, err, "ValidationException")
			msg := errMessage(err)
			if c.name == "iterator type" && !tg.ours() {
				// kinesalite lists the enum in another order; the set is the same.
				if !strings.HasPrefix(msg, "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [") {
					t.Errorf("message = %q", msg)
				}
				return
			}
			if msg != c.msg {
				t.Errorf("message =\n%q\nwant\n%q", msg, c.msg)
			}
		})
	}
}

func testTamperedIterator(t *testing.T, tg *target) {
	name := tg.stream("tamper")
	createStream(t, tg, name, 1)
	it := iterator(t, tg, shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeTrimHorizon))
	for _, pos := range []int{12, len(it) / 2, len(it) - 6} {
		b := []byte(it)
		if b[pos] == 'A' {
			b[pos] = 'B'
		} else {
			b[pos] = 'A'
		}
		_, err := tg.client.GetRecords(ctxT(t), &kinesis.GetRecordsInput{ShardIterator: aws.String(string(b))})
		if err == nil && tg.quirk(t, "unauthenticated-iterator") {
			continue
		}
		wantCode(t, err, "InvalidArgumentException")
	}
	// The untouched iterator still works.
	if _, err := tg.client.GetRecords(ctxT(t), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)}); err != nil {
		t.Fatal(err)
	}
}

func retention(t testing.TB, tg *target, name string) int32 {
	t.Helper()
	s, err := tg.client.DescribeStreamSummary(ctxT(t), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToInt32(s.StreamDescriptionSummary.RetentionPeriodHours)
}

func testRetention(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("retention")
	createStream(t, tg, name, 1)
	inc := func(h int32) error {
		_, err := tg.client.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(h)})
		return err
	}
	dec := func(h int32) error {
		_, err := tg.client.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String(name), RetentionPeriodHours: aws.Int32(h)})
		return err
	}
	if err := inc(72); err != nil {
		t.Fatal(err)
	}
	if got := retention(t, tg, name); got != 72 {
		t.Fatalf("retention after increase to 72 = %d", got)
	}
	wantCode(t, inc(48), "InvalidArgumentException")  // shorter than current
	wantCode(t, dec(100), "InvalidArgumentException") // longer than current
	if err := dec(48); err != nil {
		t.Fatal(err)
	}
	if got := retention(t, tg, name); got != 48 {
		t.Fatalf("retention after decrease to 48 = %d", got)
	}
	wantCode(t, dec(12), "InvalidArgumentException") // below the 24 h minimum
	err := inc(8760)
	if tg.quirk(t, "retention-max") {
		wantCode(t, err, "ValidationException")
		return
	}
	if err != nil {
		t.Fatalf("increase to 8760 h: %v", err)
	}
	wantCode(t, inc(8761), "InvalidArgumentException")
	if got := retention(t, tg, name); got != 8760 {
		t.Fatalf("retention = %d, want 8760", got)
	}
}

func testTags(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("tags")
	createStream(t, tg, name, 1)
	list := func(limit *int32, start *string) *kinesis.ListTagsForStreamOutput {
		t.Helper()
		out, err := tg.client.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(name), Limit: limit, ExclusiveStartTagKey: start})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := list(nil, nil); len(out.Tags) != 0 || aws.ToBool(out.HasMoreTags) {
		t.Fatalf("new stream has tags %v", out.Tags)
	}
	if _, err := tg.client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name),
		Tags: map[string]string{"team": "data", "env": "dev", "cost-center": "42", "empty": ""}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	out := list(nil, nil)
	got := map[string]string{}
	var keys []string
	for _, tag := range out.Tags {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		keys = append(keys, aws.ToString(tag.Key))
	}
	if len(got) != 4 || got["env"] != "prod" || got["team"] != "data" || got["empty"] != "" || !slices.IsSorted(keys) {
		t.Fatalf("tags = %v (order %v)", got, keys)
	}
	page := list(aws.Int32(2), aws.String("cost-center"))
	if len(page.Tags) != 2 || aws.ToString(page.Tags[0].Key) != "empty" || !aws.ToBool(page.HasMoreTags) {
		t.Errorf("page after cost-center = %+v more %v", page.Tags, aws.ToBool(page.HasMoreTags))
	}
	if _, err := tg.client.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String(name), TagKeys: []string{"env", "absent"}}); err != nil {
		t.Fatal(err)
	}
	if out := list(nil, nil); len(out.Tags) != 3 {
		t.Fatalf("after removing env: %d tags", len(out.Tags))
	}
	_, err := tg.client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: map[string]string{"bad": "semi;colon"}})
	wantCode(t, err, "InvalidArgumentException")
	_, err = tg.client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name + "-nope"), Tags: map[string]string{"a": "b"}})
	wantCode(t, err, "ResourceNotFoundException")

	many := map[string]string{}
	for i := range 48 {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	_, err = tg.client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: many})
	if tg.quirk(t, "tags-per-call") {
		wantCode(t, err, "ValidationException")
		return
	}
	wantCode(t, err, "InvalidArgumentException") // 3 + 48 > 50 per stream
}

func testStreamARN(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("arn")
	createStream(t, tg, name, 1)
	arn := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/" + name)
	pr, err := tg.client.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: arn, PartitionKey: aws.String("k"), Data: []byte("by-arn")})
	if tg.quirk(t, "stream-arn") {
		wantCode(t, err, "ValidationException")
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamARN: arn, Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("2")}}}); err != nil {
		t.Fatal(err)
	}
	s, err := tg.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: arn})
	if err != nil || aws.ToString(s.StreamDescriptionSummary.StreamName) != name {
		t.Fatalf("DescribeStreamSummary by ARN: %v", err)
	}
	it, err := tg.client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamARN: arn, ShardId: pr.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{StreamARN: arn, ShardIterator: it.ShardIterator})
	if err != nil || len(out.Records) != 2 || string(out.Records[0].Data) != "by-arn" {
		t.Fatalf("GetRecords by ARN: %v", err)
	}
	other := aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/" + name + "-other")
	_, err = tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{StreamARN: other, ShardIterator: it.ShardIterator})
	wantCode(t, err, "InvalidArgumentException")
	_, err = tg.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamARN: other})
	wantCode(t, err, "ResourceNotFoundException")
}

func testListShardsPaging(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("paging")
	createStream(t, tg, name, 5)
	first, err := tg.client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if tg.quirk(t, "list-shards-paging") {
		if len(first.Shards) != 5 || first.NextToken != nil {
			t.Errorf("kinesalite now pages ListShards: update the quirk table")
		}
		return
	}
	var ids []string
	for _, s := range first.Shards {
		ids = append(ids, aws.ToString(s.ShardId))
	}
	tok := first.NextToken
	if len(first.Shards) != 2 || tok == nil {
		t.Fatalf("first page: %d shards, NextToken %v", len(first.Shards), tok)
	}
	// §1.9: NextToken excludes StreamName, ExclusiveStartShardId and
	// StreamCreationTimestamp.
	for _, bad := range []*kinesis.ListShardsInput{
		{NextToken: tok, StreamName: aws.String(name)},
		{NextToken: tok, ExclusiveStartShardId: aws.String(shardmap.ShardID(0))},
		{NextToken: tok, StreamCreationTimestamp: aws.Time(time.Now())},
	} {
		_, err := tg.client.ListShards(ctx, bad)
		wantCode(t, err, "InvalidArgumentException")
	}
	for tok != nil {
		page, err := tg.client.ListShards(ctx, &kinesis.ListShardsInput{NextToken: tok, MaxResults: aws.Int32(2)})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Shards {
			ids = append(ids, aws.ToString(s.ShardId))
		}
		tok = page.NextToken
	}
	want := []string{shardmap.ShardID(0), shardmap.ShardID(1), shardmap.ShardID(2), shardmap.ShardID(3), shardmap.ShardID(4)}
	if !slices.Equal(ids, want) {
		t.Fatalf("paged shards = %v", ids)
	}
	// ExclusiveStartShardId and the AFTER_SHARD_ID filter.
	after, err := tg.client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name), ExclusiveStartShardId: aws.String(shardmap.ShardID(2))})
	if err != nil || len(after.Shards) != 2 {
		t.Fatalf("after shard 2: %v shards, %v", len(after.Shards), err)
	}
	filt, err := tg.client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(shardmap.ShardID(3))}})
	if err != nil || len(filt.Shards) != 1 {
		t.Fatalf("AFTER_SHARD_ID 3: %v shards, %v", len(filt.Shards), err)
	}
	// A NextToken expires after 300 s.
	if tg.ours() {
		tg.clock.Advance(5*time.Minute + time.Second)
		_, err := tg.client.ListShards(ctx, &kinesis.ListShardsInput{NextToken: first.NextToken})
		wantCode(t, err, "ExpiredNextTokenException")
	}
}

func testListStreams(t *testing.T, tg *target) {
	ctx := ctxT(t)
	var names []string
	for range 3 {
		n := tg.stream("list")
		createStream(t, tg, n, 1)
		names = append(names, n)
	}
	all, err := tg.client.ListStreams(ctx, &kinesis.ListStreamsInput{Limit: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !slices.Contains(all.StreamNames, n) {
			t.Errorf("ListStreams lacks %s", n)
		}
	}
	if !slices.IsSorted(all.StreamNames) {
		t.Errorf("ListStreams not sorted: %v", all.StreamNames)
	}
	page, err := tg.client.ListStreams(ctx, &kinesis.ListStreamsInput{Limit: aws.Int32(1), ExclusiveStartStreamName: aws.String(names[0])})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.StreamNames) != 1 || page.StreamNames[0] <= names[0] || !aws.ToBool(page.HasMoreStreams) && page.StreamNames[0] != all.StreamNames[len(all.StreamNames)-1] {
		t.Errorf("page after %s = %v more %v", names[0], page.StreamNames, aws.ToBool(page.HasMoreStreams))
	}
	if tg.quirk(t, "list-streams-summaries") {
		if len(all.StreamSummaries) != 0 || page.NextToken != nil {
			t.Errorf("kinesalite now returns summaries or tokens: update the quirk table")
		}
		return
	}
	if len(all.StreamSummaries) != len(all.StreamNames) {
		t.Fatalf("%d summaries for %d names", len(all.StreamSummaries), len(all.StreamNames))
	}
	for i, s := range all.StreamSummaries {
		if aws.ToString(s.StreamName) != all.StreamNames[i] || s.StreamStatus != types.StreamStatusActive || s.StreamCreationTimestamp == nil ||
			!strings.HasSuffix(aws.ToString(s.StreamARN), ":stream/"+all.StreamNames[i]) {
			t.Errorf("summary %d = %+v", i, s)
		}
	}
	// The SDK paginator follows NextToken.
	var paged []string
	p := kinesis.NewListStreamsPaginator(tg.client, &kinesis.ListStreamsInput{Limit: aws.Int32(1)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, out.StreamNames...)
	}
	if !slices.Equal(paged, all.StreamNames) {
		t.Errorf("paginated = %v, want %v", paged, all.StreamNames)
	}
}

func testDeleteStream(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("delete")
	createStream(t, tg, name, 1)
	if _, err := tg.client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.client.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	w := kinesis.NewStreamNotExistsWaiter(tg.client, func(o *kinesis.StreamNotExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 100 * time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	_, err := tg.client.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: []byte("x")})
	wantCode(t, err, "ResourceNotFoundException")
	// A stream created again under the name starts empty and untagged.
	createStream(t, tg, name, 1)
	tags, err := tg.client.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(name)})
	if err != nil || len(tags.Tags) != 0 {
		t.Fatalf("recreated stream tags = %v, %v", tags, err)
	}
}

// Ours only from here: these need an injected clock or enforced limits.

func testIteratorExpiry(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("expiry")
	createStream(t, tg, name, 1)
	it := iterator(t, tg, shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeTrimHorizon))
	tg.clock.Advance(4*time.Minute + 59*time.Second)
	out, err := tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	if err != nil {
		t.Fatalf("iterator 4:59 old: %v", err)
	}
	// The next iterator is fresh: it lives 5 minutes from now.
	tg.clock.Advance(2 * time.Second)
	_, err = tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	wantCode(t, err, "ExpiredIteratorException")
	if !strings.Contains(err.Error(), "tolerated delay of 300000 milliseconds") {
		t.Errorf("message = %v", err)
	}
	if _, err := tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator}); err != nil {
		t.Fatalf("NextShardIterator 2 s old: %v", err)
	}
	tg.clock.Advance(5 * time.Minute)
	_, err = tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
	wantCode(t, err, "ExpiredIteratorException")
}

func testRetentionTrims(t *testing.T, tg *target) {
	name := tg.stream("trim")
	createStream(t, tg, name, 1)
	putRecords(t, tg, name, []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("old")}})
	tg.clock.Advance(25 * time.Hour)
	putRecords(t, tg, name, []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: []byte("new")}})
	recs, _ := readAll(t, tg, iterator(t, tg, shardIter(name, shardmap.ShardID(0), types.ShardIteratorTypeTrimHorizon)))
	if len(recs) != 1 || string(recs[0].Data) != "new" {
		t.Fatalf("after 25 h with 24 h retention read %d records", len(recs))
	}
}

func testPartialFailures(t *testing.T, _ *target) {
	clk := &fixedClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	tg := newOurs(t, ourOptions{enforceLimits: true, now: clk.Now})
	ctx := ctxT(t)
	name := tg.stream("limits")
	createStream(t, tg, name, 2)
	// 3 KiB records: a shard's 1 MiB/s budget takes 341 of them, so 500 on
	// one shard must partly fail while the other shard is untouched.
	data := make([]byte, 3<<10)
	var entries []types.PutRecordsRequestEntry
	for i := range 500 {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("hot"), ExplicitHashKey: aws.String("0"), Data: data})
		if i%50 == 0 {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("cold"), ExplicitHashKey: aws.String(shardmap.Even(2)[1].StartingHashKey), Data: []byte("c")})
		}
	}
	entries = entries[:500]
	out := putRecords(t, tg, name, entries)
	failed := 0
	for i, r := range out.Records {
		switch {
		case r.ErrorCode == nil:
			if r.SequenceNumber == nil || r.ShardId == nil {
				t.Fatalf("entry %d neither failed nor succeeded", i)
			}
		case aws.ToString(r.ErrorCode) == "ProvisionedThroughputExceededException":
			failed++
			if !strings.HasPrefix(aws.ToString(r.ErrorMessage), "Rate exceeded for shard shardId-000000000000 in stream "+name) || r.SequenceNumber != nil {
				t.Errorf("entry %d: %s %s", i, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
			}
			if aws.ToString(entries[i].PartitionKey) != "hot" {
				t.Errorf("entry %d for the idle shard failed", i)
			}
		default:
			t.Fatalf("entry %d: unexpected %s", i, aws.ToString(r.ErrorCode))
		}
	}
	if failed == 0 || int32(failed) != aws.ToInt32(out.FailedRecordCount) {
		t.Fatalf("failed entries %d, FailedRecordCount %d", failed, aws.ToInt32(out.FailedRecordCount))
	}
	// PutRecord on the exhausted shard fails as a whole call.
	_, err := tg.client.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("hot"), ExplicitHashKey: aws.String("0"), Data: data})
	wantCode(t, err, "ProvisionedThroughputExceededException")
	// A second later the budget is back: retrying only the failed entries
	// (what a producer does) succeeds.
	clk.Advance(time.Second)
	var retry []types.PutRecordsRequestEntry
	for i, r := range out.Records {
		if r.ErrorCode != nil {
			retry = append(retry, entries[i])
		}
	}
	again := putRecords(t, tg, name, retry)
	if aws.ToInt32(again.FailedRecordCount) != 0 {
		t.Fatalf("retry of %d entries: %d failed", len(retry), aws.ToInt32(again.FailedRecordCount))
	}
	// Reads are limited to 5 calls per second per shard.
	it := iterator(t, tg, shardIter(name, shardmap.ShardID(1), types.ShardIteratorTypeTrimHorizon))
	var rerr error
	for range 6 {
		var o *kinesis.GetRecordsOutput
		o, rerr = tg.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if rerr != nil {
			break
		}
		it = aws.ToString(o.NextShardIterator)
	}
	wantCode(t, rerr, "ProvisionedThroughputExceededException")
}

func testOnDemand(t *testing.T, tg *target) {
	ctx := ctxT(t)
	name := tg.stream("ondemand")
	_, err := tg.client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name),
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}, Tags: map[string]string{"mode": "od"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tg.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if s.StreamDescriptionSummary.StreamModeDetails.StreamMode != types.StreamModeOnDemand || aws.ToInt32(s.StreamDescriptionSummary.OpenShardCount) != 4 {
		t.Errorf("on-demand stream summary = %+v", s.StreamDescriptionSummary)
	}
	tags, err := tg.client.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: aws.String(name)})
	if err != nil || len(tags.Tags) != 1 {
		t.Errorf("tags from CreateStream = %v, %v", tags, err)
	}
	_, err = tg.client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name + "-2")})
	wantCode(t, err, "ValidationException") // provisioned needs ShardCount
}
