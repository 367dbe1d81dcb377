package stream

import (
	"context"
	"errors"
	"os"
	"time"
)

// Trim deletes, in every shard, the sealed segments whose newest record is
// older than the stream's retention period. Records in the remaining
// segments that are past retention are already invisible to reads; Trim
// only frees their space. The active segment is never deleted.
func (e *Engine) Trim(ctx context.Context) error {
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return internal(ErrClosed)
	}
	type target struct {
		sh     *shard
		cutoff int64
	}
	nowMs := e.now().UnixMilli()
	var targets []target
	for _, st := range e.streams {
		cutoff := nowMs - int64(st.retention)*int64(time.Hour/time.Millisecond)
		for _, sh := range st.shards {
			targets = append(targets, target{sh, cutoff})
		}
	}
	e.mu.RUnlock()

	var errs []error
	for _, t := range targets {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, seg := range t.sh.trim(t.cutoff) {
			if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			e.log.Debug("trimmed segment", "stream", t.sh.st.name, "shard", t.sh.info.ID, "path", seg.path, "records", seg.next-seg.first)
			seg.release()
		}
	}
	return errors.Join(errs...)
}

// trim unlinks from the shard's list the leading segments that hold only
// records older than cutoff and returns them (each still holding the
// list's reference). A segment qualifies only when the one after it has
// published records: then its own publication is complete, because a
// generation publishes all segments it touched at once and in order.
func (sh *shard) trim(cutoff int64) []*segment {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := 0
	for n+1 < len(sh.segs) {
		s, after := sh.segs[n], sh.segs[n+1]
		if after.next == after.first || s.lastArrival >= cutoff {
			break
		}
		n++
	}
	if n == 0 {
		return nil
	}
	out := append([]*segment(nil), sh.segs[:n]...)
	sh.segs = append([]*segment(nil), sh.segs[n:]...)
	return out
}

// RunTrimmer calls Trim every interval until ctx ends, logging failures,
// and returns ctx's error.
func (e *Engine) RunTrimmer(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.closing:
			return internal(ErrClosed)
		case <-t.C:
			if err := e.Trim(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("trim failed", "err", err)
			}
		}
	}
}
