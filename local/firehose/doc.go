// Package firehose is the local target's Amazon Data Firehose: a delivery
// stream with a Kinesis source (local/stream), an optional Lambda processor
// (any Go function with the Firehose event contract) and an S3 destination
// (a gocloud.dev/blob bucket, fileblob locally). It follows AWS's semantics
// as written down in research/aws-semantics.md §4.
//
// # Pipeline
//
// One goroutine (Run) does everything, in order:
//
//	read a batch from every shard (GetRecords; Wait when all are idle)
//	→ KPL de-aggregation (user records keep their subsequence number)
//	→ processor buffer (ProcessorConfig size/interval, ≤ 6 MB request)
//	→ invocation, retries, response validation
//	→ Ok: data buffer (+ '\n' with AppendDelimiter)   Dropped: done
//	  ProcessingFailed / failed batch: error records in the error buffer
//	→ with Config.Conversion: each Ok record becomes Parquet rows, or an
//	  error record in the format-conversion-failed buffer
//	→ objects (BufferingHints size/interval, whichever first; size counted
//	  before compression or conversion; GZIP optional; Parquet with
//	  Conversion)
//	→ checkpoint
//
// A single goroutine keeps ordering and accounting simple and gives natural
// back-pressure: while the processor runs or an object is written, nothing
// is read. AWS runs up to five invocations per shard at once; locally one
// at a time is enough, and it is a documented deviation.
//
// Flush and Tick are requests served by the same goroutine, so their effect
// is deterministic: both first read every shard to its tip (everything
// PutRecords acknowledged before the call), then Tick delivers what is due
// by Options.Now and Flush delivers everything. Tests drive buffer intervals
// with an injected clock and Tick, never with sleeps.
//
// # Object keys
//
//	<KeyPrefix><Name>-<Version>-yyyy-MM-dd-HH-mm-ss-<UUID><ext>
//
// The timestamp, in the prefix and the name, is the arrival time of the
// oldest record in the object, in CustomTimeZone (UTC by default). See
// Config.KeyPrefix for the prefix rules (default yyyy/MM/dd/HH/, the
// no-trailing-slash quirk, error prefixes) and EvaluatePrefix for the
// expressions. Error-output objects use the same buffering, compression and
// naming as data objects (AWS does not document otherwise), except that with
// format conversion they are JSON lines without the .parquet extension.
//
// # Checkpoints and delivery semantics
//
// <CheckpointDir>/<Name>.json holds, per shard, the sequence number of the
// last Kinesis record that is done, replaced atomically (temp file, fsync,
// rename, fsync of the directory).
//
// Invariant: a Kinesis record is done when every one of its user records is
// durably in a written object (data or error output) or was Dropped, and the
// checkpoint only ever names a record that is done and all of whose
// predecessors in the shard are done. Each shard keeps its records in flight
// in read order with a count of user records still outstanding; the count
// drops only after the object holding the record was written (and fsynced),
// and the checkpoint advances over the front of that list while counts are
// zero. So objects are written before the checkpoint that covers them, never
// after.
//
// A restart reads each shard from just after its checkpoint. Whatever was
// in a buffer, or in an object written after the last checkpoint, is read
// and delivered again: delivery is at-least-once with possible duplicates,
// as on AWS (§4.11), and never loses an acknowledged record. On a clean
// shutdown (Run's context ends) the buffers are flushed first.
//
// A new delivery stream (no checkpoint file) starts at LATEST, resolved and
// checkpointed in New.
//
// # Not implemented
//
// Dynamic partitioning (partitionKeyFromQuery/Lambda), format conversion
// to ORC or with the Hive JSON SerDe, reading the schema from Glue (the
// columns are given in Config), ZIP/Snappy compression, multi-record
// de-aggregation, S3 backup, destinations other than S3, DirectPut,
// resharding, and concurrent invocations per shard.
package firehose
