// Package consumer is the DataStreamConsumer Lambda: Kinesis records → tweets
// → EventData items.
//
// Delivery rules (the ESM must have FunctionResponseTypes
// [ReportBatchItemFailures]; without it Lambda ignores the response):
//   - Bad data — not UTF-8, not JSON, not a tweet, a corrupt KPL aggregate, an
//     item the table rejects — never blocks the shard: it goes to the
//     dead-letter sink with its reason and shard/sequence, and is counted.
//   - Stream notices (delete, limit, …) are counted and dropped.
//   - Transient failures (table throttling or unavailable, the invocation
//     deadline) are reported as a batchItemFailure at the first record not
//     fully processed, so the ESM retries from there. Records before it are
//     done; records after it are rewritten on retry, which is harmless:
//     writes are idempotent (same key, same item).
package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/tweet"
)

// Metric names (CloudWatch EMF on AWS, Prometheus locally).
const (
	MetricRecords      = "RecordsReceived"
	MetricTweets       = "TweetsWritten"
	MetricNotices      = "NoticesDropped"
	MetricDeadLettered = "RecordsDeadLettered"
	MetricRetries      = "WriteRetries"
	MetricUnprocessed  = "RecordsReturnedForRetry"
)

// Handler consumes Kinesis batches. Zero values of optional fields get
// sensible defaults; Table, TableName and DeadLetters are required.
type Handler struct {
	Table       streamproc.Table
	TableName   string
	TTLDays     int // EventData ExpirationTime = arrival in the stream + TTLDays days; 0 = no TTL
	DeadLetters streamproc.DeadLetterSink
	// FunctionName labels dead letters.
	FunctionName string
	Logger       *slog.Logger
	Metrics      streamproc.Metrics
	Now          streamproc.Clock
	// Backoff paces retries of unprocessed items (default 50 ms .. 2 s).
	Backoff backoff.Policy
	// MaxAttempts caps write attempts per batch of 25 (default 10).
	MaxAttempts int
	// DeadlineMargin: no write is started closer than this to the invocation
	// deadline, so the response still reaches Lambda (default 500 ms).
	DeadlineMargin time.Duration
	// WriteConcurrency is how many batch writes run at once (default 4).
	WriteConcurrency int
}

// pending is one item to write and the record it came from.
type pending struct {
	item   streamproc.Item
	record int // index into the event's records
	// origin describes the source bytes, for a dead letter if the table
	// rejects the item.
	origin streamproc.DeadLetter
}

// letter is a dead letter waiting to be stored.
type letter struct {
	dl     streamproc.DeadLetter
	record int
}

// Handle processes one batch from one shard. It is safe for concurrent use.
func (h *Handler) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	c := *h // defaults are filled in a copy so concurrent calls don't race
	c.defaults()
	return c.handle(ctx, ev)
}

func (h *Handler) handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	now := h.Now()
	var (
		items   []pending
		letters []letter
		notices int
	)
	seen := make(map[string]int) // item key → index in items
	for i := range ev.Records {
		r := &ev.Records[i]
		users, aggregated, err := kpl.Deaggregate(r.Kinesis.Data)
		if err != nil {
			letters = append(letters, letter{h.deadLetter(r, -1, r.Kinesis.PartitionKey, r.Kinesis.Data, err, now), i})
			continue
		}
		for sub, u := range users {
			subSeq := -1
			if aggregated {
				subSeq = sub
			}
			msg, err := tweet.Decode(u.Data)
			if err != nil {
				letters = append(letters, letter{h.deadLetter(r, subSeq, u.PartitionKey, u.Data, err, now), i})
				continue
			}
			if msg.Kind == tweet.KindNotice {
				notices++
				continue
			}
			for t := range msg.Tweets {
				it := msg.Tweets[t].Item(arrival(r, now), h.TTLDays)
				// BatchWriteItem rejects two writes of one key in a batch;
				// the duplicate carries the same tweet, so keep one and the
				// earliest record index (a failure must replay from there).
				k := it[tweet.AttrUsername].(string) + "\x00" + it[tweet.AttrID].(string)
				if j, ok := seen[k]; ok {
					items[j].item = it
					continue
				}
				seen[k] = len(items)
				items = append(items, pending{it, i, h.deadLetter(r, subSeq, u.PartitionKey, u.Data, nil, now)})
			}
		}
	}
	h.Metrics.Count(MetricRecords, int64(len(ev.Records)))
	h.Metrics.Count(MetricNotices, int64(notices))

	failAt := len(ev.Records) // index of the first record not fully processed
	written, rejected, itemFail := h.write(ctx, items)
	failAt = min(failAt, itemFail)
	letters = append(letters, rejected...)
	if len(letters) > 0 {
		dls := make([]streamproc.DeadLetter, len(letters))
		for i, l := range letters {
			dls[i] = l.dl
		}
		dctx, cancel := h.bounded(ctx)
		err := h.DeadLetters.Put(dctx, dls)
		cancel()
		if err != nil {
			h.Logger.ErrorContext(ctx, "dead-letter sink failed; records will be retried", "err", err, "letters", len(letters))
			for _, l := range letters {
				failAt = min(failAt, l.record)
			}
		} else {
			h.Metrics.Count(MetricDeadLettered, int64(len(letters)))
			for _, l := range letters {
				h.Logger.WarnContext(ctx, "record dead-lettered", "reason", l.dl.Reason, "shard", l.dl.ShardID, "sequenceNumber", l.dl.SequenceNumber, "subSequence", l.dl.SubSequence)
			}
		}
	}
	h.Metrics.Count(MetricTweets, int64(written))
	resp := events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{}}
	if failAt < len(ev.Records) {
		h.Metrics.Count(MetricUnprocessed, int64(len(ev.Records)-failAt))
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: ev.Records[failAt].Kinesis.SequenceNumber})
	}
	h.Logger.InfoContext(ctx, "batch processed", "records", len(ev.Records), "written", written, "notices", notices, "deadLettered", len(letters), "retryFrom", retryFrom(ev, failAt))
	return resp, nil
}

func retryFrom(ev events.KinesisEvent, at int) string {
	if at >= len(ev.Records) {
		return ""
	}
	return ev.Records[at].Kinesis.SequenceNumber
}

// write stores items in batches of 25, up to WriteConcurrency batches at a
// time (concurrent BatchWriteItem calls are how a consumer keeps up: each
// call waits on a durable write), retrying unprocessed items with backoff
// inside the deadline. It returns how many were written, the items the
// table rejected as invalid (to dead-letter), and the lowest record index
// whose items could not be written (a large sentinel when all were: callers
// take the min with their own bound). A batch that fails does not stop the
// others; whatever they wrote is rewritten, harmlessly, on the retry.
func (h *Handler) write(ctx context.Context, items []pending) (written int, rejected []letter, failAt int) {
	failAt = int(^uint(0) >> 1)
	type result struct {
		n   int
		rej []letter
		err error
	}
	nb := (len(items) + streamproc.MaxBatchPut - 1) / streamproc.MaxBatchPut
	results := make([]result, nb)
	sem := make(chan struct{}, h.WriteConcurrency)
	var wg sync.WaitGroup
	for b := range nb {
		batch := items[b*streamproc.MaxBatchPut : min((b+1)*streamproc.MaxBatchPut, len(items))]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			n, rej, err := h.writeBatch(ctx, batch)
			results[b] = result{n, rej, err}
		}()
	}
	wg.Wait()
	for b, r := range results {
		written += r.n
		rejected = append(rejected, r.rej...)
		if r.err == nil {
			continue
		}
		h.Logger.WarnContext(ctx, "table write failed; its records will be retried", "table", h.TableName, "err", r.err)
		for _, p := range items[b*streamproc.MaxBatchPut : min((b+1)*streamproc.MaxBatchPut, len(items))] {
			if !isWritten(p) {
				failAt = min(failAt, p.record)
			}
		}
	}
	return written, rejected, failAt
}

// isWritten reports whether writeBatch marked p as done.
func isWritten(p pending) bool { return p.item == nil }

// writeBatch writes ≤ 25 items. Written items are marked by setting their
// item to nil, so the caller can find the ones left.
func (h *Handler) writeBatch(ctx context.Context, batch []pending) (written int, rejected []letter, err error) {
	todo := make([]int, len(batch))
	for i := range batch {
		todo[i] = i
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt > 0 {
			h.Metrics.Count(MetricRetries, 1)
			if attempt >= h.MaxAttempts {
				return written, rejected, fmt.Errorf("%d items still unprocessed after %d attempts: %w", len(todo), attempt, streamproc.ErrUnavailable)
			}
			if err := h.Backoff.Wait(ctx, attempt-1, h.DeadlineMargin); err != nil {
				return written, rejected, fmt.Errorf("%d items unprocessed at the invocation deadline: %w", len(todo), err)
			}
		} else if dl, ok := ctx.Deadline(); ok && time.Until(dl) < h.DeadlineMargin {
			return written, rejected, fmt.Errorf("too close to the invocation deadline to start a write: %w", context.DeadlineExceeded)
		}
		its := make([]streamproc.Item, len(todo))
		for i, j := range todo {
			its[i] = batch[j].item
		}
		wctx, cancel := h.bounded(ctx)
		unprocessed, err := h.Table.BatchPut(wctx, h.TableName, its)
		cancel()
		if errors.Is(err, streamproc.ErrInvalid) && len(todo) > 1 {
			// One item broke a rule; find it by writing one at a time so
			// the good ones still land and only the bad one is set aside.
			n, rej, err := h.writeEach(ctx, batch, todo)
			return written + n, append(rejected, rej...), err
		}
		if errors.Is(err, streamproc.ErrInvalid) {
			rejected = append(rejected, h.rejectedItem(batch[todo[0]], err))
			batch[todo[0]].item = nil
			return written, rejected, nil
		}
		if err != nil {
			return written, rejected, err
		}
		left := todo[:0]
		for _, j := range todo {
			if containsItem(unprocessed, batch[j].item) {
				left = append(left, j)
				continue
			}
			batch[j].item = nil
			written++
		}
		todo = left
	}
	return written, rejected, nil
}

// bounded gives a call to the table or the dead-letter sink a deadline half
// the margin before the invocation's: a write that stalls is abandoned (its
// records are reported for retry) while the response can still reach
// Lambda, rather than timing out the whole batch.
func (h *Handler) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, dl.Add(-h.DeadlineMargin/2))
}

// arrival is when the record reached the stream, which TTLs count from: a
// re-delivered record then writes the very same item. Events without the
// timestamp fall back to now.
func arrival(r *events.KinesisEventRecord, now time.Time) time.Time {
	if t := r.Kinesis.ApproximateArrivalTimestamp.Time; !t.IsZero() {
		return t
	}
	return now
}

func (h *Handler) writeEach(ctx context.Context, batch []pending, todo []int) (written int, rejected []letter, err error) {
	for _, j := range todo {
		n, rej, err := h.writeBatch(ctx, batch[j:j+1])
		written += n
		rejected = append(rejected, rej...)
		if err != nil {
			return written, rejected, err
		}
	}
	return written, rejected, nil
}

// containsItem matches by key: the table hands back the items it did not write.
func containsItem(items []streamproc.Item, it streamproc.Item) bool {
	for _, u := range items {
		if u[tweet.AttrUsername] == it[tweet.AttrUsername] && u[tweet.AttrID] == it[tweet.AttrID] {
			return true
		}
	}
	return false
}

func (h *Handler) rejectedItem(p pending, err error) letter {
	dl := p.origin
	dl.Reason = "table rejected item: " + err.Error()
	return letter{dl, p.record}
}

func (h *Handler) deadLetter(r *events.KinesisEventRecord, sub int, pk string, data []byte, err error, now time.Time) streamproc.DeadLetter {
	shard, _, _ := strings.Cut(r.EventID, ":")
	reason := ""
	if err != nil {
		reason = err.Error()
	}
	return streamproc.DeadLetter{
		Time:           now,
		Function:       h.FunctionName,
		Reason:         reason,
		EventSourceARN: r.EventSourceArn,
		ShardID:        shard,
		SequenceNumber: r.Kinesis.SequenceNumber,
		SubSequence:    sub,
		PartitionKey:   pk,
		Data:           data,
	}
}

func (h *Handler) defaults() {
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	if h.Metrics == nil {
		h.Metrics = streamproc.NopMetrics{}
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	if h.Backoff.Base == 0 {
		h.Backoff.Base = 50 * time.Millisecond
	}
	if h.Backoff.Max == 0 {
		h.Backoff.Max = 2 * time.Second
	}
	if h.MaxAttempts == 0 {
		h.MaxAttempts = 10
	}
	if h.DeadlineMargin == 0 {
		h.DeadlineMargin = 500 * time.Millisecond
	}
	if h.WriteConcurrency < 1 {
		h.WriteConcurrency = 4
	}
	if h.FunctionName == "" {
		h.FunctionName = "consumer"
	}
}
