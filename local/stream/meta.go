package stream

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/shardmap"
)

// Stream-level limits and defaults.
const (
	DefaultRetentionHours = 24
	MinRetentionHours     = 24
	MaxRetentionHours     = 8760
	// MaxShards is the default Kinesis shard quota (us-east-1); CreateStream
	// with more shards fails with LimitExceededException.
	MaxShards = 500
	// StatusActive is the only status a stream here has: creation and
	// deletion are synchronous.
	StatusActive = "ACTIVE"
)

const metaName = "meta.json"

// metaFile is the persisted form of the engine's streams.
type metaFile struct {
	Version int          `json:"version"`
	NextID  uint64       `json:"nextId"`
	Streams []metaStream `json:"streams"`
}

type metaStream struct {
	ID             uint64      `json:"id"`
	Name           string      `json:"name"`
	CreatedMs      int64       `json:"createdMs"`
	RetentionHours int         `json:"retentionHours"`
	Shards         []metaShard `json:"shards"`
}

type metaShard struct {
	ID    string `json:"id"`
	Start string `json:"startingHashKey"`
	End   string `json:"endingHashKey"`
}

func readMeta(dir string) (metaFile, error) {
	var m metaFile
	b, err := os.ReadFile(filepath.Join(dir, metaName))
	if errors.Is(err, fs.ErrNotExist) {
		return metaFile{Version: 1, NextID: 1}, nil
	}
	if err != nil {
		return m, fmt.Errorf("read %s: %w", metaName, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("decode %s: %w: %w", metaName, ErrCorrupt, err)
	}
	if m.Version != 1 {
		return m, fmt.Errorf("%s has unknown version %d", metaName, m.Version)
	}
	return m, nil
}

// writeMeta atomically replaces meta.json with the engine's current streams.
// Caller holds e.mu for writing.
func (e *Engine) writeMeta() error {
	m := metaFile{Version: 1, NextID: e.nextID}
	for _, st := range e.streams {
		ms := metaStream{ID: st.id, Name: st.name, CreatedMs: st.created, RetentionHours: st.retention}
		for _, sh := range st.shards {
			ms.Shards = append(ms.Shards, metaShard{ID: sh.info.ID, Start: sh.info.StartingHashKey, End: sh.info.EndingHashKey})
		}
		m.Streams = append(m.Streams, ms)
	}
	slices.SortFunc(m.Streams, func(a, b metaStream) int { return cmp.Compare(a.ID, b.ID) })
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", metaName, err)
	}
	return writeFileAtomic(e.dir, metaName, b)
}

// writeFileAtomic replaces dir/name: temp file, fsync, rename, fsync dir.
func writeFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("replace %s: %w", name, err)
	}
	return syncDir(dir)
}

// validStreamName checks [a-zA-Z0-9_.-]{1,128}.
func validStreamName(name string) bool {
	if len(name) < 1 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func checkStreamName(name string) error {
	if !validStreamName(name) {
		return validation("1 validation error detected: Value '%s' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128", name)
	}
	return nil
}

// CreateStream creates an ACTIVE stream with shardCount shards splitting the
// hash-key space evenly (shardmap.Even) and the default 24 h retention.
// Errors: ValidationException (bad name, shardCount < 1),
// LimitExceededException (shardCount > MaxShards), ResourceInUseException
// (wrapping ErrExists) when the name is taken.
func (e *Engine) CreateStream(ctx context.Context, name string, shardCount int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkStreamName(name); err != nil {
		return err
	}
	if shardCount < 1 {
		return validation("1 validation error detected: Value '%d' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1", shardCount)
	}
	if shardCount > MaxShards {
		return &Error{Code: CodeLimitExceeded, Message: fmt.Sprintf("This request would exceed the shard limit for the account %s in %s. Current shard count for the account: 0. Limit: %d.", e.opts.Account, e.opts.Region, MaxShards), Kind: streamproc.ErrInvalid}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return internal(ErrClosed)
	}
	if _, ok := e.streams[name]; ok {
		return &Error{Code: CodeResourceInUse, Message: fmt.Sprintf("Stream %s under account %s already exists.", name, e.opts.Account), Kind: ErrExists}
	}
	ms := metaStream{ID: e.nextID, Name: name, CreatedMs: e.now().UnixMilli(), RetentionHours: DefaultRetentionHours}
	for _, s := range shardmap.Even(shardCount) {
		ms.Shards = append(ms.Shards, metaShard{ID: s.ID, Start: s.StartingHashKey, End: s.EndingHashKey})
	}
	st, err := e.newStream(ms)
	if err != nil {
		return internal(err)
	}
	// Files first, then the metadata commit; Open removes a directory that
	// meta.json does not mention.
	if err := e.createFiles(st); err != nil {
		st.releaseAll()
		_ = os.RemoveAll(st.dir)
		return internal(fmt.Errorf("create stream %s: %w", name, err))
	}
	e.nextID++
	e.streams[name] = st
	if err := e.writeMeta(); err != nil {
		delete(e.streams, name)
		st.releaseAll()
		_ = os.RemoveAll(st.dir)
		return internal(fmt.Errorf("create stream %s: %w", name, err))
	}
	e.log.Info("stream created", "stream", name, "shards", shardCount, "id", st.id)
	return nil
}

// createFiles makes a new stream's directories and first segments durable.
func (e *Engine) createFiles(st *stream) error {
	for _, sh := range st.shards {
		if err := os.MkdirAll(sh.dir, 0o755); err != nil {
			return err
		}
		path := filepath.Join(sh.dir, segName(1))
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		seg := newSegment(path, f, 1)
		sh.segs = []*segment{seg}
		sh.active = seg
		if err := syncDir(sh.dir); err != nil {
			return err
		}
	}
	if err := syncDir(st.dir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(st.dir))
}

func (st *stream) releaseAll() {
	for _, sh := range st.shards {
		sh.release()
	}
}

// DeleteStream deletes a stream and its records. Queued writes to it finish
// first; later calls for it fail with ResourceNotFoundException, and Wait
// calls on its shards return such an error.
func (e *Engine) DeleteStream(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkStreamName(name); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return internal(ErrClosed)
	}
	st := e.streams[name]
	if st == nil {
		return notFound("Stream %s under account %s not found.", name, e.opts.Account)
	}
	delete(e.streams, name)
	if err := e.writeMeta(); err != nil {
		e.streams[name] = st
		return internal(fmt.Errorf("delete stream %s: %w", name, err))
	}
	// Stop new writes, let queued ones finish, then drop the files.
	e.cmu.Lock()
	for _, sh := range st.shards {
		sh.closed = true
	}
	e.cmu.Unlock()
	e.barrier()
	st.releaseAll()
	if err := os.RemoveAll(st.dir); err != nil {
		// The metadata commit happened; Open removes the leftovers.
		e.log.Warn("could not remove deleted stream's files", "stream", name, "err", err)
	}
	e.log.Info("stream deleted", "stream", name, "id", st.id)
	return nil
}

// ListStreams returns the names of all streams, sorted.
func (e *Engine) ListStreams(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return nil, internal(ErrClosed)
	}
	names := make([]string, 0, len(e.streams))
	for n := range e.streams {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// StreamInfo describes a stream like DescribeStream.
type StreamInfo struct {
	Name           string
	ARN            string
	Status         string // always StatusActive
	RetentionHours int
	Created        time.Time
	Shards         []ShardInfo
}

// ShardInfo is one shard of StreamInfo.
type ShardInfo struct {
	streamproc.Shard
	// StartingSequenceNumber is below every sequence number of the shard.
	StartingSequenceNumber string
	// EndingSequenceNumber is empty: shards never close (no resharding).
	EndingSequenceNumber string
}

// StreamARN returns the ARN of a stream name in the engine's region and
// account.
func (e *Engine) StreamARN(name string) string {
	return "arn:aws:kinesis:" + e.opts.Region + ":" + e.opts.Account + ":stream/" + name
}

// StreamNameFromARN returns the stream name in a Kinesis stream ARN of this
// engine's region and account (InvalidArgumentException otherwise), for API
// calls that pass StreamARN instead of StreamName.
func (e *Engine) StreamNameFromARN(arn string) (string, error) {
	prefix := e.StreamARN("")
	name, ok := strings.CutPrefix(arn, prefix)
	if !ok || !validStreamName(name) {
		return "", invalidArg("StreamARN %s is not a stream ARN of account %s in %s.", arn, e.opts.Account, e.opts.Region)
	}
	return name, nil
}

// DescribeStream returns a stream's description, or ResourceNotFoundException.
func (e *Engine) DescribeStream(ctx context.Context, name string) (StreamInfo, error) {
	if err := ctx.Err(); err != nil {
		return StreamInfo{}, err
	}
	if err := checkStreamName(name); err != nil {
		return StreamInfo{}, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return StreamInfo{}, internal(ErrClosed)
	}
	st := e.streams[name]
	if st == nil {
		return StreamInfo{}, notFound("Stream %s under account %s not found.", name, e.opts.Account)
	}
	info := StreamInfo{
		Name:           st.name,
		ARN:            e.StreamARN(st.name),
		Status:         StatusActive,
		RetentionHours: st.retention,
		Created:        time.UnixMilli(st.created).UTC(),
	}
	for _, sh := range st.shards {
		info.Shards = append(info.Shards, ShardInfo{Shard: sh.info, StartingSequenceNumber: sh.startSeq})
	}
	return info, nil
}

// SetRetention sets a stream's retention period (24–8760 hours, else
// InvalidArgumentException). Shortening it trims records on the next read.
func (e *Engine) SetRetention(ctx context.Context, name string, hours int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkStreamName(name); err != nil {
		return err
	}
	if hours < MinRetentionHours || hours > MaxRetentionHours {
		return invalidArg("Retention period of %d hours is out of range: must be between %d and %d hours.", hours, MinRetentionHours, MaxRetentionHours)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return internal(ErrClosed)
	}
	st := e.streams[name]
	if st == nil {
		return notFound("Stream %s under account %s not found.", name, e.opts.Account)
	}
	old := st.retention
	st.retention = hours
	if err := e.writeMeta(); err != nil {
		st.retention = old
		return internal(fmt.Errorf("set retention of %s: %w", name, err))
	}
	return nil
}
