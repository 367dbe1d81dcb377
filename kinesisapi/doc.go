// Package kinesisapi serves the Amazon Kinesis Data Streams API (AWS JSON
// 1.1 over HTTP) on top of the embedded stream engine (local/stream), so the
// AWS SDKs, the AWS CLI and boto3 work against streamproc's local target
// unchanged: point them at the endpoint with --endpoint-url / BaseEndpoint.
//
// # Protocol
//
// Every call is POST / with X-Amz-Target: Kinesis_20131202.<Operation> and
// Content-Type: application/x-amz-json-1.1 (plain application/json is also
// taken). CBOR (application/x-amz-cbor-1.1, the Java SDK's default) is
// answered with a SerializationException saying how to turn it off. Blobs
// are base64 strings, timestamps epoch seconds with a millisecond fraction.
// Errors are {"__type": code, "message": text} with the code repeated in
// X-Amzn-ErrorType, HTTP 400 for client errors and 500 for InternalFailure.
// Model constraints produce Coral's ValidationException wording ("1
// validation error detected: Value 'x' at 'streamName' failed to satisfy
// constraint: Member must …"); a body that does not fit the shapes is a
// SerializationException.
//
// Operations: CreateStream, DeleteStream, DescribeStream,
// DescribeStreamSummary, ListStreams, ListShards, PutRecord, PutRecords,
// GetShardIterator, GetRecords, IncreaseStreamRetentionPeriod,
// DecreaseStreamRetentionPeriod, AddTagsToStream, ListTagsForStream and
// RemoveTagsFromStream. Each takes StreamName or StreamARN (ARNs of the
// engine's region and account). Anything else is UnknownOperationException:
// there is no resharding, enhanced fan-out, encryption or resource policy.
//
// # State beside the engine
//
// The engine stores streams and records. Tags, the mode a stream was created
// in (ON_DEMAND streams get 4 shards) and the key that seals iterators live
// in Options.StateFile — a small JSON file, mode 0600, replaced atomically —
// or in memory when it is empty. Entries remember the stream's creation time,
// so a stream created again under the same name starts untagged.
//
// # Iterators and tokens
//
// A shard iterator is base64 of (version, kind, issue time, stream, shard,
// engine cursor) sealed with an HMAC-SHA256 under the state's key. An edited
// or foreign iterator is an InvalidArgumentException; one older than
// IteratorTTL (5 minutes, by Options.Now) is an ExpiredIteratorException.
// ListShards and ListStreams NextTokens are sealed the same way and expire
// after 300 s (ExpiredNextTokenException), as on AWS.
//
// # Authentication
//
// Requests must carry a SigV4 Authorization header. With
// Options.Credentials empty any well-formed one is accepted (like
// kinesalite); otherwise the canonical request is rebuilt from what arrived
// and the signature checked under the named key's secret: unknown key IDs
// are UnrecognizedClientException, wrong scope, dates more than 15 minutes
// away and mismatched signatures InvalidSignatureException.
//
// # Differences from AWS
//
// Everything is synchronous (streams are ACTIVE on return from
// CreateStream). GetRecords never blocks. Throughput limits apply only when
// the engine was opened with EnforceLimits. Records are at most 1 MiB
// (MaxRecordSizeInKiB 1024); WarmThroughputMiBps is accepted and ignored.
// Only header SigV4 is understood (no presigned URLs, which Kinesis clients
// do not use).
package kinesisapi
