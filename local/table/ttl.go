package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/streamproc/streamproc"
)

// sweepChunk bounds how many candidates one sweep step locks and deletes in
// one synced batch, so writers are never blocked behind a whole-table sweep.
const sweepChunk = 256

// expired applies DynamoDB's TTL rule to item at now: the TTL attribute must
// be a top-level Number of epoch seconds at or before now. Other types and
// values more than five years in the past are ignored (never expire), as on
// DynamoDB, which protects items whose attribute holds something else (such
// as a small counter) from being deleted.
func expired(spec *streamproc.TableSpec, item streamproc.Item, now time.Time) bool {
	if spec.TTLAttr == "" {
		return false
	}
	n, ok := item[spec.TTLAttr].(streamproc.Number)
	if !ok {
		return false
	}
	ttl, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return false
	}
	nowSec := float64(now.UnixNano()) / 1e9
	return ttl <= nowSec && ttl >= float64(now.AddDate(-5, 0, 0).Unix())
}

// Sweep deletes every expired item (see expired) of every table with a TTL
// attribute and returns how many it deleted. Until an item is swept, reads
// still return it, as on DynamoDB.
//
// An item is re-read under its key stripe before it is deleted, so an item
// rewritten with a later expiry between the scan and the delete survives.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	leave, err := s.enter()
	if err != nil {
		return 0, err
	}
	defer leave()
	if err := s.writable(); err != nil {
		return 0, err
	}
	deleted := 0
	for _, spec := range s.Tables() {
		if spec.TTLAttr == "" {
			continue
		}
		n, err := s.sweepTable(ctx, &spec)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

func (s *Store) sweepTable(ctx context.Context, spec *streamproc.TableSpec) (int, error) {
	p := tablePrefix(spec.Name)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, fmt.Errorf("table %s: sweep: %w", spec.Name, err)
	}
	defer it.Close()
	deleted := 0
	var candidates [][]byte
	flush := func() error {
		n, err := s.deleteExpired(spec, candidates)
		deleted += n
		candidates = candidates[:0]
		return err
	}
	now := s.now()
	for ok := it.First(); ok; ok = it.Next() {
		item, err := decodeItem(it.Value())
		if err != nil {
			return deleted, fmt.Errorf("table %s: key %x: %w", spec.Name, it.Key(), err)
		}
		if !expired(spec, item, now) {
			continue
		}
		candidates = append(candidates, bytes.Clone(it.Key()))
		if len(candidates) == sweepChunk {
			if err := ctx.Err(); err != nil {
				return deleted, err
			}
			if err := flush(); err != nil {
				return deleted, err
			}
			now = s.now()
		}
	}
	if err := it.Error(); err != nil {
		return deleted, fmt.Errorf("table %s: sweep: %w", spec.Name, err)
	}
	if len(candidates) > 0 {
		if err := flush(); err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

// deleteExpired deletes those of keys whose current item is still expired.
func (s *Store) deleteExpired(spec *streamproc.TableSpec, keys [][]byte) (int, error) {
	unlock := s.lockStripes(keys...)
	defer unlock()
	now := s.now()
	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	for _, k := range keys {
		item, found, err := s.get(spec.Name, k)
		if err != nil {
			return 0, err
		}
		if !found || !expired(spec, item, now) {
			continue
		}
		if err := b.Delete(k, nil); err != nil {
			return 0, err
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("table %s: sweep: %w", spec.Name, err)
	}
	return n, nil
}

// RunSweeper calls Sweep every interval until ctx is done (then it returns
// nil) or the store is closed (then it returns the ErrUnavailable error);
// a read-only store returns at once.
// Other sweep errors are logged and retried on the next tick: expiry is
// best-effort on DynamoDB too.
func (s *Store) RunSweeper(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("sweep interval %v: %w", every, streamproc.ErrInvalid)
	}
	if err := s.writable(); err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		n, err := s.Sweep(ctx)
		switch {
		case err == nil:
			if n > 0 {
				s.log.Debug("swept expired items", "deleted", n)
			}
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, streamproc.ErrUnavailable):
			return err
		default:
			s.log.Error("TTL sweep failed; retrying next interval", "err", err, "deleted", n)
		}
	}
}
