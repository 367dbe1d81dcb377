// Package esm is the local target's Lambda event source mapping for
// Kinesis: it polls every shard of a local/stream stream, builds batches
// and invokes a function with AWS's semantics (research/aws-semantics.md
// §3): BatchSize, MaximumBatchingWindow, the 6 MB payload cap,
// StartingPosition, ParallelizationFactor with per-key order,
// BisectBatchOnFunctionError, MaximumRetryAttempts, MaximumRecordAge,
// ReportBatchItemFailures, an on-failure destination with AWS's invocation
// record, tumbling windows, and durable checkpoints.
//
// # Per shard
//
// A reader goroutine reads the shard from just after its checkpoint (or
// the StartingPosition) and routes each record to one of
// ParallelizationFactor lanes by a hash of its partition key. Each lane
// runs one batch at a time, so records of one key are never in two
// concurrent invocations and are delivered in order; different lanes run
// concurrently. Read-ahead is bounded (records and bytes held), so a lane
// blocked by a poison record eventually holds the shard up, as on AWS.
//
// A lane invokes when the batch cannot grow (BatchSize records, the 6 MB
// cap counted as the event's JSON — base64 data plus each record's fixed
// fields — or the end of its tumbling window) or must not wait any longer
// (no batching window, or the window has elapsed since the first record
// was seen or the previous invocation ended). Then the retry state machine
// (§3.5, §3.9) runs on it:
//
//   - Head records older than MaximumRecordAge (or the stream retention)
//     are discarded first: on-failure record "RecordAgeExceeded".
//   - Success (and, with ReportBatchItemFailures, an empty or null list):
//     the batch is finished and the checkpoint moves.
//   - Partial failure (ReportBatchItemFailures only): the records before
//     the lowest reported sequence number are finished; the rest is
//     retried — as a bisection (no attempt used) when
//     BisectBatchOnFunctionError is on, else as an attempt. An identifier
//     that is "" or not in the batch fails the whole batch.
//   - Function error (returned error, panic, timeout) or a rejected
//     response: with BisectBatchOnFunctionError and more than one record
//     the batch is split in halves, each retried on its own (no attempt
//     used, left half first); otherwise it is an attempt, and after
//     MaximumRetryAttempts retries (when ≥ 0) the batch is discarded:
//     on-failure record "RetryAttemptsExhausted" with
//     approximateInvokeCount = attempts, checkpoint past it.
//   - Throttled (the invoker returned ErrThrottled): retried with backoff;
//     attempts unchanged.
//
// # Checkpoints
//
// One checkpoint per shard: the sequence number below which every record
// is finished in every lane (the rule and why it is sound are on
// shardProc). It is saved after each finished batch or part of one and at
// shutdown. Restarts resume strictly after it; records finished by a
// faster lane beyond it are delivered again (at-least-once).
//
// # Tumbling windows
//
// With TumblingWindow W, records belong to the window
// [floor(arrival/W)·W, +W) of their arrival time, a batch never spans two
// windows, and the shard runs a single lane (the state is per shard). The
// first invocation of a window gets an empty state, each later one the
// state of the previous response. A response without state fails the
// invocation. The window closes when a record of a later window is read or
// when a read that started after the window end finds the shard caught up;
// then the final invocation carries no records, the state and
// isFinalInvokeForWindow. When a response's state exceeds 1 MB the next
// invocation is that final one with isWindowTerminatedEarly, and the
// window goes on with a fresh state. The checkpoint moves past a window's
// records only when its final invocation succeeded (or was discarded
// under the retry policy), so a restart replays the open window from its
// first record with a fresh state; the state itself is never persisted.
//
// A record committed to the stream with an arrival before the window end
// but made durable just after the read that closed the window would start
// a second instance of that window; the stream's group commit makes the
// gap a few milliseconds.
//
// # Locks
//
// Lock order: shardProc.saveMu → shardProc.mu. Mapping.mu (guards the
// shard list for Stats) is a leaf. No lock is held while reading the
// stream, invoking, sending an on-failure record, saving or sleeping.
// Lane fields are guarded by their shard's mu except the open window,
// which only its lane goroutine touches.
package esm
