package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// lane runs one batch at a time for the partition keys hashed to it. With
// ParallelizationFactor n a shard has n lanes running concurrently; keys
// never move between lanes, so one key is never in two concurrent batches.
type lane struct {
	s    *shardProc
	m    *Mapping
	idx  int
	kick chan struct{} // cap 1: new records, or the reader is blocked

	// Guarded by s.mu.
	queue    []*rec    // routed, not yet taken into a batch
	hold     []*rec    // taken into the batch in flight and not finished, in order
	winFirst *mark     // window mode: first finished record not yet covered by a final invoke
	lastDone time.Time // Now when the last invocation finished: the next batching window starts there
	busy     bool
	open     *OpenWindow // window mode: the open window's latest state, for OpenWindows

	// Owned by the lane goroutine.
	win *window
}

// window is the open tumbling window of a windowed lane.
type window struct {
	start, end time.Time
	state      map[string]string
	// first, last and count describe the records finished in the window
	// since its last final invocation (for the checkpoint and for an
	// on-failure record if the final invocation is discarded).
	first, last    mark
	count          int
	terminateEarly bool // the state outgrew MaxStateBytes: the next invoke is final
}

func (w *window) span() events.Window {
	return events.Window{Start: events.RFC3339EpochTime{Time: w.start}, End: events.RFC3339EpochTime{Time: w.end}}
}

// action is what a lane does next: invoke a batch, or the final
// invocation of its window.
type action struct {
	recs  []*rec
	final bool
	early bool
}

func (l *lane) wake() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// oldestLocked is the lane's oldest unfinished record; s.mu is held.
func (l *lane) oldestLocked() *mark {
	switch {
	case l.winFirst != nil:
		return l.winFirst
	case len(l.hold) > 0:
		return &l.hold[0].mark
	case len(l.queue) > 0:
		return &l.queue[0].mark
	}
	return nil
}

func (l *lane) run(ctx context.Context) {
	for {
		a, ok := l.next(ctx)
		if !ok {
			return
		}
		var done bool
		if a.final {
			done = l.finalInvoke(ctx, a.early)
		} else {
			done = l.runBatch(ctx, a.recs)
		}
		l.s.mu.Lock()
		l.busy = false
		l.lastDone = l.m.now()
		l.s.mu.Unlock()
		if !done {
			return // ctx ended: the rest of the batch is abandoned
		}
	}
}

// next waits until the lane has something to do. Time-based conditions
// (batching window, window end) are measured with Now and re-checked
// every PollInterval while something is pending.
func (l *lane) next(ctx context.Context) (action, bool) {
	for {
		l.m.evals.Add(1)
		a, tick := l.decide()
		if a != nil {
			return *a, true
		}
		var tc <-chan time.Time
		var t *time.Timer
		if tick {
			t = time.NewTimer(l.m.poll)
			tc = t.C
		}
		select {
		case <-l.kick:
		case <-tc:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return action{}, false
		}
	}
}

// decide picks the lane's next action, taking a batch's records from the
// queue into hold. tick says a time-based condition is pending.
//
// A batch is ready when it cannot grow (BatchSize, the 6 MB payload, the
// end of its tumbling window, or the reader has no room to read more) or
// when it may not wait (no batching window, the window elapsed since its
// first record was seen or the last invocation ended, whichever is later,
// or a tumbling window that can get no more records).
func (l *lane) decide() (*action, bool) {
	s, cfg := l.s, &l.m.cfg
	s.mu.Lock()
	defer s.mu.Unlock()
	now := l.m.now()
	if w := l.win; w != nil {
		if w.terminateEarly {
			l.busy = true
			return &action{final: true, early: true}, false
		}
		var closed bool
		if len(l.queue) > 0 {
			closed = !s.windowStart(l.queue[0].arrival).Equal(w.start)
		} else {
			// Arrival times never decrease along a shard, so once a read
			// that started at or after the window end found nothing, the
			// window can get no more records.
			closed = !s.caughtUpAt.Before(w.end)
		}
		if closed {
			if w.count == 0 {
				l.win = nil // nothing arrived since an early termination
			} else {
				l.busy = true
				return &action{final: true}, false
			}
		}
	}
	if len(l.queue) == 0 {
		return nil, l.win != nil
	}

	budget := MaxPayloadBytes - envelopeOverhead
	var winEnd time.Time
	if s.windowed {
		winStart := s.windowStart(l.queue[0].arrival)
		winEnd = winStart.Add(cfg.TumblingWindow)
		if l.win == nil {
			l.win = &window{start: winStart, end: winEnd, state: map[string]string{}}
		}
		budget -= stateSize(l.win.state)
	}
	n, size, full := 0, 0, false
	for n < len(l.queue) {
		r := l.queue[n]
		if n == cfg.BatchSize || (s.windowed && !r.arrival.Before(winEnd)) || (n > 0 && size+r.size > budget) {
			full = true
			break
		}
		size += r.size
		n++
	}
	full = full || n == cfg.BatchSize
	first := l.queue[0].seen
	if l.lastDone.After(first) {
		first = l.lastDone
	}
	ready := full || cfg.MaximumBatchingWindow == 0 || s.blocked ||
		!now.Before(first.Add(cfg.MaximumBatchingWindow)) ||
		(s.windowed && !s.caughtUpAt.Before(winEnd))
	if !ready {
		return nil, true
	}
	batch := make([]*rec, n)
	copy(batch, l.queue)
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	l.hold = append(l.hold, batch...)
	l.busy = true
	return &action{recs: batch}, false
}

// job is a batch (or a bisected part of one) with its retry state.
type job struct {
	recs      []*rec
	attempts  int    // invocations that failed (function error, rejected response, partial failure)
	throttles int    // consecutive throttles, for the backoff
	funcErr   string // of the last failed invocation
}

// runBatch is the retry state machine of research §3.5/§3.9 for one batch.
// It returns false when ctx ended (the unfinished records are abandoned).
func (l *lane) runBatch(ctx context.Context, recs []*rec) bool {
	m, cfg := l.m, &l.m.cfg
	stack := []*job{{recs: recs}}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		if l.win != nil && l.win.terminateEarly {
			if !l.finalInvoke(ctx, true) {
				return false
			}
		}
		if !l.dropExpired(ctx, j) {
			return false
		}
		if len(j.recs) == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		res := l.call(ctx, j.recs)
		switch res.kind {
		case resAbandoned:
			return false
		case resThrottled:
			j.throttles++
			if !sleep(ctx, m.opts.Backoff(j.throttles)) {
				return false
			}
			continue
		case resSuccess:
			l.adopt(res.state)
			l.finish(ctx, j.recs, false)
			stack = stack[:len(stack)-1]
			continue
		}
		j.throttles = 0
		if res.kind == resPartial && res.failedAt > 0 {
			// Everything before the lowest reported failure succeeded.
			l.adopt(res.state)
			l.finish(ctx, j.recs[:res.failedAt], false)
			j.recs = j.recs[res.failedAt:]
			if cfg.BisectBatchOnFunctionError {
				// Bisect at the returned sequence number: the remainder is
				// retried as a split, not as an attempt. It shrank, so this
				// cannot loop for ever.
				continue
			}
		} else if cfg.BisectBatchOnFunctionError && len(j.recs) > 1 {
			h := len(j.recs) / 2
			stack = stack[:len(stack)-1]
			// Right half pushed first so the left (older) half runs first:
			// records must finish in order (see shardProc).
			stack = append(stack,
				&job{recs: j.recs[h:], attempts: j.attempts, funcErr: j.funcErr},
				&job{recs: j.recs[:h], attempts: j.attempts, funcErr: j.funcErr})
			continue
		}
		j.attempts++
		j.funcErr = res.funcErr
		if cfg.MaximumRetryAttempts >= 0 && j.attempts > cfg.MaximumRetryAttempts {
			if !l.discard(ctx, j.recs, ConditionRetryAttemptsExhausted, j.attempts, j.funcErr) {
				return false
			}
			stack = stack[:len(stack)-1]
			continue
		}
		m.c.retries.Add(1)
		if !sleep(ctx, m.opts.Backoff(j.attempts)) {
			return false
		}
	}
	return true
}

// dropExpired discards the job's head records that are older than the
// maximum age (arrivals never decrease, so they are a prefix).
func (l *lane) dropExpired(ctx context.Context, j *job) bool {
	maxAge := l.s.maxAge()
	if maxAge <= 0 {
		return true
	}
	now := l.m.now()
	k := 0
	for k < len(j.recs) && now.Sub(j.recs[k].arrival) > maxAge {
		k++
	}
	if k == 0 {
		return true
	}
	if !l.discard(ctx, j.recs[:k], ConditionRecordAgeExceeded, j.attempts, j.funcErr) {
		return false
	}
	j.recs = j.recs[k:]
	return true
}

// discard gives records up: on-failure record first, then they are
// finished, so the checkpoint never passes records that were neither
// processed nor reported.
func (l *lane) discard(ctx context.Context, recs []*rec, condition string, invokes int, funcErr string) bool {
	first, last := recs[0].mark, recs[len(recs)-1].mark
	if !l.report(ctx, condition, first, last, len(recs), invokes, funcErr) {
		return false
	}
	l.finish(ctx, recs, true)
	return true
}

// report sends the on-failure record for discarded records, retrying until
// it is stored or ctx ends.
func (l *lane) report(ctx context.Context, condition string, first, last mark, count, invokes int, funcErr string) bool {
	m := l.m
	fr := m.failureRecord(l.s.id, condition, first, last, count, invokes, funcErr)
	attrs := []any{"shard", l.s.id, "condition", condition, "startSequenceNumber", first.seq, "endSequenceNumber", last.seq, "batchSize", count, "approximateInvokeCount", invokes}
	m.c.discarded.Add(int64(count))
	m.metric(MetricDiscarded, float64(count))
	if m.opts.OnFailure == nil {
		m.log.WarnContext(ctx, "records discarded; no on-failure destination", attrs...)
		return true
	}
	body, err := json.Marshal(&fr)
	if err != nil {
		panic(fmt.Sprintf("esm: marshal failure record: %v", err)) // plain strings and ints: cannot fail
	}
	for n := 1; ; n++ {
		err := m.opts.OnFailure.Send(ctx, body)
		if err == nil {
			m.c.failureRecords.Add(1)
			m.metric(MetricFailureRecords, 1)
			m.log.WarnContext(ctx, "records discarded; on-failure record sent", attrs...)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		m.log.WarnContext(ctx, "on-failure destination failed; retrying", append(attrs, "err", err)...)
		if !sleep(ctx, m.opts.Backoff(n)) {
			return false
		}
	}
}

// finish marks the oldest held records finished and saves the checkpoint
// if it moved.
func (l *lane) finish(ctx context.Context, recs []*rec, discarded bool) {
	if len(recs) == 0 {
		return
	}
	s := l.s
	bytes := 0
	for _, r := range recs {
		bytes += r.size
	}
	s.mu.Lock()
	// Invariant (see shardProc): a lane finishes its records in order.
	if len(l.hold) < len(recs) || l.hold[0] != recs[0] {
		s.mu.Unlock()
		panic("esm: lane finished records out of order")
	}
	clear(l.hold[:len(recs)])
	l.hold = l.hold[len(recs):]
	s.buffered -= len(recs)
	s.bufBytes -= bytes
	if l.win != nil && l.winFirst == nil {
		// Still unfinished for the checkpoint until the final invoke.
		first := recs[0].mark
		l.winFirst = &first
	}
	s.mu.Unlock()
	if w := l.win; w != nil {
		if w.count == 0 {
			w.first = recs[0].mark
		}
		w.last = recs[len(recs)-1].mark
		w.count += len(recs)
	}
	if !discarded {
		l.m.c.succeeded.Add(int64(len(recs)))
	}
	s.madeRoom()
	l.checkpoint(ctx)
}

func (l *lane) checkpoint(ctx context.Context) {
	if iv := l.m.opts.CheckpointInterval; iv > 0 && time.Since(time.Unix(0, l.s.lastSave.Load())) < iv {
		return // saved recently; the next batch or Run's final save covers it
	}
	if err := l.s.save(context.WithoutCancel(ctx)); err != nil {
		// Not fatal: the next save (or the one at shutdown) covers it, and
		// meanwhile a restart would only redeliver.
		l.m.log.WarnContext(ctx, "checkpoint save failed", "shard", l.s.id, "err", err)
	}
}

// adopt takes the state of a successful window invocation.
func (l *lane) adopt(state map[string]string) {
	w := l.win
	if w == nil {
		return
	}
	w.state = state
	if stateSize(state) > MaxStateBytes {
		w.terminateEarly = true
	}
	// The function handed the state over; neither side changes it after,
	// so the snapshot shares the map.
	l.s.mu.Lock()
	l.open = &OpenWindow{Start: w.start, End: w.end, State: state}
	l.s.mu.Unlock()
}

// finalInvoke sends the window's final invocation (no records, the
// state) and closes the window: for good, or — early — to continue it
// with a fresh state. It returns false when ctx ended.
func (l *lane) finalInvoke(ctx context.Context, early bool) bool {
	m, cfg, w := l.m, &l.m.cfg, l.win
	attempts, throttles := 0, 0
	funcErr := ""
	for {
		if maxAge := l.s.maxAge(); maxAge > 0 && m.now().Sub(w.last.arrival) > maxAge {
			if !l.report(ctx, ConditionRecordAgeExceeded, w.first, w.last, w.count, attempts, funcErr) {
				return false
			}
			break
		}
		res := l.callFinal(ctx, early)
		if res.kind == resAbandoned {
			return false
		}
		if res.kind == resThrottled {
			throttles++
			if !sleep(ctx, m.opts.Backoff(throttles)) {
				return false
			}
			continue
		}
		if res.kind == resSuccess || res.kind == resPartial {
			break
		}
		throttles = 0
		attempts++
		funcErr = res.funcErr
		if cfg.MaximumRetryAttempts >= 0 && attempts > cfg.MaximumRetryAttempts {
			if !l.report(ctx, ConditionRetryAttemptsExhausted, w.first, w.last, w.count, attempts, funcErr) {
				return false
			}
			break
		}
		m.c.retries.Add(1)
		if !sleep(ctx, m.opts.Backoff(attempts)) {
			return false
		}
	}
	l.s.mu.Lock()
	l.winFirst = nil
	l.open = nil // its counts are the function's now (flushed on the final invoke)
	l.s.mu.Unlock()
	m.c.windowsClosed.Add(1)
	if early {
		m.c.windowsTerminatedEarly.Add(1)
		w.state, w.count, w.terminateEarly = map[string]string{}, 0, false
	} else {
		l.win = nil
	}
	l.checkpoint(ctx)
	return true
}

type resultKind int

const (
	resSuccess resultKind = iota
	resPartial
	resFailed
	resThrottled
	resAbandoned
)

type result struct {
	kind     resultKind
	failedAt int // resPartial: index of the lowest failed record
	state    map[string]string
	funcErr  string // "Unhandled" for a function error
}

// call invokes the function with a batch and classifies the outcome.
func (l *lane) call(ctx context.Context, recs []*rec) result {
	m := l.m
	var win *events.TimeWindowProperties
	if w := l.win; w != nil {
		win = &events.TimeWindowProperties{
			Window:         w.span(),
			State:          w.state,
			ShardID:        l.s.id,
			EventSourceARN: m.streamARN,
		}
	}
	ev := m.event(l.s.id, recs, win)
	bytes := 0
	for _, r := range recs {
		bytes += r.size
	}
	m.metric(MetricIteratorAge, float64(max(m.now().Sub(recs[len(recs)-1].arrival), 0).Milliseconds()))
	m.metric(MetricBatchSize, float64(len(recs)))
	m.metric(MetricBatchBytes, float64(bytes))
	return l.classify(ctx, ev, recs)
}

func (l *lane) callFinal(ctx context.Context, early bool) result {
	m, w := l.m, l.win
	ev := m.event(l.s.id, nil, &events.TimeWindowProperties{
		Window:                  w.span(),
		State:                   w.state,
		ShardID:                 l.s.id,
		EventSourceARN:          m.streamARN,
		IsFinalInvokeForWindow:  true,
		IsWindowTerminatedEarly: early,
	})
	return l.classify(ctx, ev, nil)
}

// classify invokes and maps the outcome onto the state machine's cases
// (research §3.5, §3.6, §3.8).
func (l *lane) classify(ctx context.Context, ev *events.KinesisTimeWindowEvent, recs []*rec) result {
	m := l.m
	start := time.Now()
	resp, err := l.invoke(ctx, ev)
	took := time.Since(start)
	if err != nil && ctx.Err() != nil {
		return result{kind: resAbandoned}
	}
	if errors.Is(err, ErrThrottled) {
		m.c.throttles.Add(1)
		m.metric(MetricThrottles, 1)
		m.log.DebugContext(ctx, "invocation throttled", "shard", l.s.id, "err", err)
		return result{kind: resThrottled}
	}
	m.c.invocations.Add(1)
	m.metric(MetricInvocations, 1)
	m.metric(MetricDuration, float64(took)/float64(time.Millisecond))
	failed := func(funcErr, why string, args ...any) result {
		if funcErr != "" {
			m.c.errors.Add(1)
			m.metric(MetricErrors, 1)
		} else {
			m.c.rejected.Add(1)
		}
		m.log.WarnContext(ctx, "invocation failed", append([]any{"shard", l.s.id, "records", len(recs), "reason", why}, args...)...)
		return result{kind: resFailed, funcErr: funcErr}
	}
	if err != nil {
		return failed("Unhandled", "function error", "err", err)
	}
	if l.s.windowed && (resp == nil || resp.State == nil) {
		return failed("", "the response of a tumbling-window invocation has no state")
	}
	var state map[string]string
	if resp != nil {
		state = resp.State
	}
	if !m.cfg.ReportBatchItemFailures || resp == nil || len(resp.BatchItemFailures) == 0 || len(recs) == 0 {
		return result{kind: resSuccess, state: state}
	}
	idx := make(map[string]int, len(recs))
	for i, r := range recs {
		idx[r.seq] = i
	}
	lowest := len(recs)
	for _, f := range resp.BatchItemFailures {
		i, ok := idx[f.ItemIdentifier]
		if !ok {
			// "" and identifiers outside the batch fail the whole batch.
			return failed("", "malformed batchItemFailures", "itemIdentifier", f.ItemIdentifier)
		}
		lowest = min(lowest, i)
	}
	m.log.DebugContext(ctx, "partial batch failure", "shard", l.s.id, "records", len(recs), "failedAt", recs[lowest].seq)
	return result{kind: resPartial, failedAt: lowest, state: state}
}

// invoke calls the Invoker, turning a panic into a function error as the
// Lambda runtime would report it.
func (l *lane) invoke(ctx context.Context, ev *events.KinesisTimeWindowEvent) (resp *events.KinesisTimeWindowEventResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			l.m.log.ErrorContext(ctx, "function panicked", "shard", l.s.id, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("function panicked: %v", p)
		}
	}()
	return l.m.invoke(ctx, ev)
}
