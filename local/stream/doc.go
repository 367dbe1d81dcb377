// Package stream is the embedded, durable, sharded log behind streamproc's
// local target. It gives Kinesis Data Streams semantics through a Go API:
// streams made of shards that own ranges of the 128-bit hash-key space,
// MD5 routing, 56-digit per-shard increasing sequence numbers, the five
// shard-iterator positions, retention trimming, the PutRecords/GetRecords
// limits and (optionally) the per-shard throughput limits.
//
// The Kinesis JSON HTTP API and the Lambda event-source-mapping poller are
// built on top of this package elsewhere; they map the codes of *Error
// (ErrorCode) to AWS error types and wrap Cursor.String in their own opaque,
// expiring iterator strings.
//
// Out of scope for now: resharding (SplitShard, MergeShards,
// UpdateShardCount — every shard is open and has no parent), enhanced
// fan-out, on-demand capacity mode, encryption, tags, and the per-account
// GetShardIterator rate limit.
//
// # Storage layout
//
//	<dir>/LOCK                          flock'ed while an Engine has the dir open
//	<dir>/meta.json                     streams, shards, retention (atomic replace)
//	<dir>/streams/<id>/<shardId>/<first>.seg
//
// <id> is the stream's incarnation number (never reused, so a stream deleted
// and created again under the same name gets a fresh directory and fresh
// sequence numbers). Each shard is an append-only log split into segment
// files of at most Options.SegmentBytes; <first> is the 20-digit counter of
// the first record the segment holds. A segment is a sequence of frames. A
// PutRecords call's records for one shard become one or more consecutive
// frames (bodies of at most 64 KiB unless a single record is larger, so a
// small Read never loads a whole 5 MiB call), written with one pwrite:
//
//	header (36 bytes, little endian)
//	  0  magic      u32  0x53504C47
//	  4  bodyLen    u32
//	  8  first      u64  counter of the frame's first record
//	  16 count      u32  records in the frame (≥ 1)
//	  20 arrival    i64  ApproximateArrivalTimestamp, unix ms, of every record
//	  28 bodyCRC    u32  CRC-32C of the body
//	  32 headerCRC  u32  CRC-32C of header bytes [0, 32)
//	body: count × (uvarint len(pk), pk, uvarint len(data), data)
//
// The in-memory index is sparse: the first frame of a segment and then a
// frame every indexEvery bytes. Lookups binary-search it and scan forward.
// Open rebuilds it by scanning every segment (verifying both CRCs).
//
// # Sequence numbers
//
// Within a shard every record has a counter (1, 2, 3, … with no gaps) and an
// arrival time in ms that never decreases (arrival = max(Now, previous
// arrival)). Its sequence number is 56 decimal digits, fixed width:
//
//	[0,2)   "49"                 constant prefix (non-zero lead digit keeps the width)
//	[2,12)  stream incarnation    10 digits
//	[12,20) shard index           8 digits
//	[20,36) arrival, unix ms      16 digits
//	[36,56) counter               20 digits (uint64)
//
// Because every field has a fixed width, comparing two sequence numbers of
// one shard as strings gives the same answer as comparing them as big
// integers, and later writes get larger numbers (the first 20 digits are
// constant in a shard, arrival never decreases and the counter always
// increases). Longer pauses between writes give bigger gaps, as on AWS.
// Counter 0 is never a record: it forms the shard's StartingSequenceNumber.
//
// # Durability and acknowledgement
//
// PutRecords encodes its frames per destination shard outside any lock,
// then, under the commit lock, assigns counters and arrival times and queues
// them. A single committer goroutine takes everything queued (a generation),
// writes and fsyncs each shard's segment file (shards in parallel: they are
// separate files) and only then publishes the records to readers and
// releases the writers: a result with a SequenceNumber is on disk, and
// concurrent writers share fsyncs (group commit). While one generation is
// being synced the next one accumulates. Frame buffers are recycled through
// a per-engine pool once written. Readers never see a record that is not yet durable, so a
// sequence number that was ever returned by Read is never reused. If a write
// or fsync fails the engine refuses further writes (the page cache can no
// longer be trusted); the affected entries report InternalFailure and the
// operator reopens the directory.
//
// Segment roll: the full segment is fsynced, then the new file is created and
// the directory fsynced, before any record is written to the new file. So
// only the newest segment of a shard can have a torn tail; Open truncates it
// at the first frame whose header or body does not check out (those bytes
// were never acknowledged) and fails loudly on corruption anywhere else.
//
// meta.json is replaced atomically (temp file, fsync, rename, fsync dir).
// CreateStream creates the shard directories first and commits by writing
// meta.json; DeleteStream commits by writing meta.json and removes the files
// afterwards. Open removes stream directories meta.json does not mention.
//
// # Retention
//
// A record is trimmed once its arrival is older than Now − retention.
// Trimming is logical on every read (TRIM_HORIZON and a cursor that fell
// behind both start at the oldest untrimmed record) and physical in Trim /
// RunTrimmer, which deletes whole sealed segments whose newest record is
// trimmed. The active (newest) segment of a shard is never deleted.
//
// # Locks
//
// Lock order: Engine.mu → Engine.cmu → shard.mu. The limiter mutexes are
// leaves. No lock is held across file I/O except by the committer, which
// holds none while writing or syncing, and metadata operations, which hold
// Engine.mu while writing meta.json (so metadata changes are serialised).
//
//   - Engine.mu (RW) guards the stream map, retention values, nextID and the
//     closed flag.
//   - Engine.cmu guards the write side of every shard (next counter, last
//     arrival, queued frames, the closed flag) plus the dirty list, the current
//     commit generation and the failed state.
//   - shard.mu (RW) guards the read side: the segment list, each segment's
//     durable size and index, the durable tip and the notification channel.
//   - The committer goroutine alone writes segment files and owns each
//     segment's written-but-unpublished state.
//
// Segments are reference counted: the shard's segment list holds one
// reference, every reader takes one (under shard.mu) while it reads, and the
// file is closed when the count reaches zero, so trimming and DeleteStream
// never close a file under a reader.
package stream
