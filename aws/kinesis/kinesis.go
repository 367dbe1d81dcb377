// Package kinesis implements streamproc.StreamWriter on Amazon Kinesis Data
// Streams with aws-sdk-go-v2.
//
// Streams are named by stream name or stream ARN. The adapter always sends
// StreamName (derived from the ARN when given one) because kinesalite, which
// the tests run against, rejects requests that carry only StreamARN; AWS
// accepts both together as long as they agree.
package kinesis

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/internal/awserr"
)

var _ streamproc.StreamWriter = (*Writer)(nil)

// Writer writes records to Kinesis data streams. It is safe for concurrent
// use; it holds no state besides its client and settings.
type Writer struct {
	client *awskinesis.Client

	// ShardPageSize is the ListShards page size (MaxResults). Zero leaves it
	// to the service, which returns up to 1000 shards a page.
	ShardPageSize int32
}

// New returns a Writer using client. The client's retryer applies to each
// call; per-entry PutRecords failures are not retried here but returned, so
// the caller decides (it must re-send only the failed entries).
func New(client *awskinesis.Client) *Writer {
	return &Writer{client: client}
}

// PutRecords writes records with one PutRecords call and returns one result
// per record, in order.
//
// Kinesis answers HTTP 200 even when entries fail
// (ProvisionedThroughputExceededException, InternalFailure); those come back
// as results with ErrorCode and ErrorMessage set. An error is returned only
// when the call as a whole failed, wrapping streamproc.ErrNotFound (missing
// stream), ErrInvalid (ValidationException, InvalidArgumentException: too
// many records, bad partition or hash key; a record or call over the size
// limits is refused before sending) or ErrUnavailable (throttling, 5xx,
// network). No records means no call and no results.
func (w *Writer) PutRecords(ctx context.Context, stream string, records []streamproc.Record) ([]streamproc.PutResult, error) {
	if len(records) == 0 {
		return []streamproc.PutResult{}, nil
	}
	name, arn, err := parseStream(stream)
	if err != nil {
		return nil, err
	}
	if err := checkSizes(records); err != nil {
		return nil, fmt.Errorf("kinesis PutRecords of %d records to stream %q: %w", len(records), stream, err)
	}
	entries := make([]types.PutRecordsRequestEntry, len(records))
	for i, r := range records {
		data := r.Data
		if data == nil {
			// Kinesis takes empty records, but the SDK's validator
			// rejects a nil blob as a missing required field.
			data = []byte{}
		}
		entries[i] = types.PutRecordsRequestEntry{
			PartitionKey: aws.String(r.PartitionKey),
			Data:         data,
		}
		if r.ExplicitHashKey != "" {
			entries[i].ExplicitHashKey = aws.String(r.ExplicitHashKey)
		}
	}
	out, err := w.client.PutRecords(ctx, &awskinesis.PutRecordsInput{
		StreamName: aws.String(name),
		StreamARN:  arn,
		Records:    entries,
	})
	if err != nil {
		return nil, awserr.Wrap(fmt.Sprintf("kinesis PutRecords of %d records to stream %q", len(records), stream), err)
	}
	if len(out.Records) != len(records) {
		// Which entries landed is unknowable, so the caller must treat the
		// whole call as failed and re-send: duplicates are acceptable on a
		// Kinesis stream, lost records are not.
		return nil, fmt.Errorf("kinesis PutRecords to stream %q: %w: response has %d entries for %d records",
			stream, streamproc.ErrUnavailable, len(out.Records), len(records))
	}
	results := make([]streamproc.PutResult, len(records))
	for i, e := range out.Records {
		switch {
		case aws.ToString(e.ErrorCode) != "":
			results[i] = streamproc.PutResult{ErrorCode: *e.ErrorCode, ErrorMessage: aws.ToString(e.ErrorMessage)}
		case aws.ToString(e.SequenceNumber) != "":
			results[i] = streamproc.PutResult{ShardID: aws.ToString(e.ShardId), SequenceNumber: *e.SequenceNumber}
		default:
			// The contract promises exactly one of the two; an entry with
			// neither is reported as failed so that it gets re-sent.
			results[i] = streamproc.PutResult{ErrorCode: "InternalFailure", ErrorMessage: "response entry has neither a sequence number nor an error code"}
		}
	}
	return results, nil
}

// checkSizes enforces the size limits that count partition keys, before
// anything is sent. Kinesis rejects a record whose key and data together
// exceed 1 MiB and a call over 5 MiB with InvalidArgumentException, but
// what a service answers to an oversized body varies (kinesalite ignores
// the key and answers a 413 without an error code), and a malformed call
// must be ErrInvalid whatever is on the other end.
func checkSizes(records []streamproc.Record) error {
	total := 0
	for i, r := range records {
		n := len(r.PartitionKey) + len(r.Data)
		if n > streamproc.MaxRecordBytes {
			return fmt.Errorf("%w: record %d has %d bytes of partition key and data, above the limit of %d", streamproc.ErrInvalid, i, n, streamproc.MaxRecordBytes)
		}
		total += n
	}
	if total > streamproc.MaxPutRecordsBytes {
		return fmt.Errorf("%w: %d bytes of partition keys and data, above the limit of %d per call", streamproc.ErrInvalid, total, streamproc.MaxPutRecordsBytes)
	}
	return nil
}

// Shards returns the open shards of stream (closed parents of a reshard are
// left out), following ListShards pagination. The filter is applied here, on
// SequenceNumberRange.EndingSequenceNumber, rather than with ShardFilter
// AT_LATEST, because kinesalite does not implement ShardFilter.
func (w *Writer) Shards(ctx context.Context, stream string) ([]streamproc.Shard, error) {
	name, arn, err := parseStream(stream)
	if err != nil {
		return nil, err
	}
	var pageSize *int32
	if w.ShardPageSize > 0 {
		pageSize = aws.Int32(w.ShardPageSize)
	}
	in := &awskinesis.ListShardsInput{StreamName: aws.String(name), StreamARN: arn, MaxResults: pageSize}
	var shards []streamproc.Shard
	for page := 1; ; page++ {
		out, err := w.client.ListShards(ctx, in)
		if err != nil {
			return nil, awserr.Wrap(fmt.Sprintf("kinesis ListShards of stream %q (page %d)", stream, page), err)
		}
		for _, s := range out.Shards {
			if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
				continue
			}
			if s.HashKeyRange == nil {
				return nil, fmt.Errorf("kinesis ListShards of stream %q: shard %s has no hash key range", stream, aws.ToString(s.ShardId))
			}
			shards = append(shards, streamproc.Shard{
				ID:              aws.ToString(s.ShardId),
				StartingHashKey: aws.ToString(s.HashKeyRange.StartingHashKey),
				EndingHashKey:   aws.ToString(s.HashKeyRange.EndingHashKey),
			})
		}
		next := aws.ToString(out.NextToken)
		if next == "" {
			return shards, nil
		}
		if next == aws.ToString(in.NextToken) {
			return nil, fmt.Errorf("kinesis ListShards of stream %q: %w: the service returned the same NextToken twice", stream, streamproc.ErrUnavailable)
		}
		// With NextToken the request must carry neither StreamName nor
		// StreamARN: the token names the stream, and AWS rejects both
		// (InvalidArgumentException).
		in = &awskinesis.ListShardsInput{NextToken: aws.String(next), MaxResults: pageSize}
	}
}

// parseStream accepts a stream name or a stream ARN
// (arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME) and returns the name,
// plus the ARN when one was given.
func parseStream(stream string) (name string, arn *string, err error) {
	if !strings.HasPrefix(stream, "arn:") {
		if stream == "" {
			return "", nil, fmt.Errorf("kinesis: %w: empty stream name", streamproc.ErrInvalid)
		}
		return stream, nil, nil
	}
	parts := strings.SplitN(stream, ":", 6)
	if len(parts) != 6 || parts[2] != "kinesis" {
		return "", nil, fmt.Errorf("kinesis: %w: %q is not a Kinesis stream ARN", streamproc.ErrInvalid, stream)
	}
	name, ok := strings.CutPrefix(parts[5], "stream/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", nil, fmt.Errorf("kinesis: %w: %q is not a Kinesis stream ARN (want arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)", streamproc.ErrInvalid, stream)
	}
	return name, aws.String(stream), nil
}
