package xapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/source/xapi/v2doc"
)

// SinceIDs remembers, per search query, the newest tweet id already
// fetched, so scheduled runs (each a fresh Lambda, possibly) ask only for
// newer tweets.
//
// Contract: Get returns "" (and no error) for a query never seen. Put
// records id for query; it never needs to be called with an older id than
// the stored one, but an implementation must tolerate it.
type SinceIDs interface {
	Get(ctx context.Context, query string) (string, error)
	Put(ctx context.Context, query, id string) error
}

// State table layout. The since_id store is a small table of its own,
// <stack>-ProducerState, rather than items in EventData or Trends: those
// tables are read by consumers (scans, Athena exports, the trending merge)
// that must not meet items that are not tweets or counts, and a table of its
// own can carry other producer state later under other key prefixes.
const (
	// StateKeyAttr is the table's hash key (S): "since_id#" + the query, or
	// "since_id#sha256:" + its hex digest for queries too long for a key.
	StateKeyAttr = "StateKey"
	// SinceIDAttr holds the newest tweet id (S; ids exceed 2^53).
	SinceIDAttr = "SinceId"
	// QueryAttr holds the query text; UpdatedAtAttr an RFC 3339 time.
	QueryAttr     = "Query"
	UpdatedAtAttr = "UpdatedAt"

	sinceIDPrefix = "since_id#"
	// maxKeyBytes keeps keys well under DynamoDB's 2048-byte partition key
	// limit; search queries may be up to 4096 characters.
	maxKeyBytes = 1024
)

// StateTableSpec is the producer state table's schema, for local stacks
// and tests (on AWS it comes from the template).
func StateTableSpec(name string) streamproc.TableSpec {
	return streamproc.TableSpec{Name: name, Key: streamproc.KeySchema{HashKey: StateKeyAttr, HashType: "S"}}
}

// TableSinceIDs stores since_ids in a streamproc.Table with StateTableSpec's
// key schema: DynamoDB on AWS, the local table store locally.
type TableSinceIDs struct {
	Table streamproc.Table
	Name  string           // physical table name, e.g. <stack>-ProducerState
	Now   streamproc.Clock // stamps UpdatedAt (nil: time.Now)
}

var _ SinceIDs = (*TableSinceIDs)(nil)

func stateKey(query string) string {
	k := sinceIDPrefix + query
	if len(k) <= maxKeyBytes {
		return k
	}
	sum := sha256.Sum256([]byte(query))
	return sinceIDPrefix + "sha256:" + hex.EncodeToString(sum[:])
}

// Get returns the stored since_id of query, "" when there is none.
func (s *TableSinceIDs) Get(ctx context.Context, query string) (string, error) {
	it, ok, err := s.Table.Get(ctx, s.Name, streamproc.Item{StateKeyAttr: stateKey(query)})
	if err != nil {
		return "", fmt.Errorf("since_id of %q from table %s: %w", query, s.Name, err)
	}
	if !ok {
		return "", nil
	}
	id, _ := it[SinceIDAttr].(string)
	return id, nil
}

// Put stores id as query's since_id unless a newer one is stored already
// (two overlapping runs can finish out of order). The read-then-write is
// not atomic; losing that race costs one re-fetch, never a missed tweet.
func (s *TableSinceIDs) Put(ctx context.Context, query, id string) error {
	cur, err := s.Get(ctx, query)
	if err != nil {
		return err
	}
	if !v2doc.Newer(id, cur) {
		return nil
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	item := streamproc.Item{
		StateKeyAttr:  stateKey(query),
		SinceIDAttr:   id,
		QueryAttr:     query,
		UpdatedAtAttr: now().UTC().Format(time.RFC3339),
	}
	unprocessed, err := s.Table.BatchPut(ctx, s.Name, []streamproc.Item{item})
	if err != nil {
		return fmt.Errorf("since_id of %q to table %s: %w", query, s.Name, err)
	}
	if len(unprocessed) > 0 {
		return fmt.Errorf("since_id of %q to table %s: not written (throttled): %w", query, s.Name, streamproc.ErrUnavailable)
	}
	return nil
}

// WithSinceIDs returns a TweetSource that searches from the newer of the
// caller's sinceID and the stored one, and stores the newest id each search
// returns. Any TweetSource works; the producer function needs no change:
//
//	Source: xapi.WithSinceIDs(client, &xapi.TableSinceIDs{Table: t, Name: "<stack>-ProducerState"}, log)
//
// The store is advisory: when it cannot be read or written the search still
// runs (logged at Warn), at worst fetching tweets again, which the pipeline
// tolerates (EventData writes are idempotent).
//
// The id is stored by CommitSinceID (streamproc.SinceIDCommitter), which the
// producer calls once the query's tweets are in the stream: a run whose
// writes failed leaves the stored id where it was, and the next run fetches
// those tweets again.
func WithSinceIDs(src streamproc.TweetSource, ids SinceIDs, log *slog.Logger) streamproc.TweetSource {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &rememberingSource{src: src, ids: ids, log: log}
}

type rememberingSource struct {
	src streamproc.TweetSource
	ids SinceIDs
	log *slog.Logger
}

var _ streamproc.TweetSource = (*rememberingSource)(nil)

func (r *rememberingSource) Trends(ctx context.Context, woeid int64, n int) ([]streamproc.Trend, error) {
	return r.src.Trends(ctx, woeid, n)
}

func (r *rememberingSource) Search(ctx context.Context, query, sinceID string) ([]streamproc.SourceTweet, string, error) {
	stored, err := r.ids.Get(ctx, query)
	if err != nil {
		r.log.Warn("since_id store unreadable; searching without it", "query", query, "err", err)
	}
	since := sinceID
	if v2doc.Newer(stored, since) {
		since = stored
	}
	return r.src.Search(ctx, query, since)
}

var _ streamproc.SinceIDCommitter = (*rememberingSource)(nil)

// CommitSinceID stores newest for query unless the stored id is newer. A
// store that fails is logged and not fatal: the next run fetches the tweets
// again, which the pipeline tolerates (EventData writes are idempotent).
func (r *rememberingSource) CommitSinceID(ctx context.Context, query, newest string) error {
	if newest == "" {
		return nil
	}
	stored, err := r.ids.Get(ctx, query)
	if err == nil && !v2doc.Newer(newest, stored) {
		return nil
	}
	if err := r.ids.Put(ctx, query, newest); err != nil {
		r.log.Warn("since_id not stored; the next run may fetch these tweets again", "query", query, "err", err)
	}
	return nil
}
