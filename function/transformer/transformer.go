// Package transformer is the FirehoseTransformer Lambda: each record becomes
// one condensed JSON line ('\n'-terminated, so Athena can read the objects).
//
// Contract with Firehose: every input recordId comes back exactly once, in
// order. Tweets → Ok with their condensed lines; stream notices (delete,
// limit, …) → Dropped; bytes that are not a tweet → ProcessingFailed with the
// original data, which Firehose writes under the error prefix. One bad record
// never fails the batch, and the handler never returns an error for bad
// data — an error would make Firehose retry, then fail, the whole batch.
package transformer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/tweet"
)

// MaxResponseBytes is Lambda's synchronous response limit. Data is base64 in
// the response, hence the 4/3 in the accounting below.
const MaxResponseBytes = 6 << 20

// Metric names.
const (
	MetricOk      = "RecordsOk"
	MetricDropped = "RecordsDropped"
	MetricFailed  = "RecordsProcessingFailed"
)

// Handler transforms Firehose batches. Zero value is usable.
type Handler struct {
	Logger  *slog.Logger
	Metrics streamproc.Metrics
}

// responseOverhead is a generous per-record allowance for the JSON around the
// data (recordId, result, metadata).
const responseOverhead = 256

// Handle transforms one batch.
func (h *Handler) Handle(ctx context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
	log, metrics := h.Logger, h.Metrics
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = streamproc.NopMetrics{}
	}
	// Firehose gives every record an id. Records without one are another
	// event (a Kinesis event decodes into this type too: Go matches JSON
	// keys in any case), which no answer could map back.
	for i, r := range ev.Records {
		if r.RecordID == "" {
			return events.KinesisFirehoseResponse{}, fmt.Errorf("not a Firehose transformation event: record %d has no recordId (is the function wired to a Kinesis stream instead of a delivery stream?): %w", i, streamproc.ErrInvalid)
		}
	}
	out := events.KinesisFirehoseResponse{Records: make([]events.KinesisFirehoseResponseRecord, len(ev.Records))}
	var ok, dropped, failed int64
	// Every record's envelope is reserved up front, so only data can push
	// the response over the limit and dropping data always brings it back.
	size := 64
	for _, r := range ev.Records {
		size += responseOverhead + len(r.RecordID)
	}
	for i, r := range ev.Records {
		rec := events.KinesisFirehoseResponseRecord{RecordID: r.RecordID}
		msg, err := tweet.Decode(r.Data)
		switch {
		case err != nil:
			rec.Result, rec.Data = events.KinesisFirehoseTransformedStateProcessingFailed, r.Data
			failed++
			// The error output's envelope carries only Firehose's generic
			// code; the fingerprint lets a reader find this reason for it.
			log.WarnContext(ctx, MsgFailed, "recordId", r.RecordID, "reason", err.Error(), "data", Fingerprint(r.Data))
		case msg.Kind == tweet.KindNotice:
			// Firehose requires data on every record, whatever its result:
			// one without it fails the whole batch's transformation.
			rec.Result, rec.Data = events.KinesisFirehoseTransformedStateDropped, []byte{}
			dropped++
		default:
			var line []byte
			for t := range msg.Tweets {
				line = msg.Tweets[t].AppendCondensed(line)
			}
			rec.Result, rec.Data = events.KinesisFirehoseTransformedStateOk, line
			ok++
		}
		size += (len(rec.Data) + 2) / 3 * 4
		if size > MaxResponseBytes {
			// Lambda would reject the whole response and Firehose would
			// fail the whole batch. Return this record as failed with empty
			// data instead: Firehose writes its own copy of the original
			// bytes under the error prefix, so nothing is lost.
			size -= (len(rec.Data) + 2) / 3 * 4
			if rec.Result == events.KinesisFirehoseTransformedStateOk {
				ok--
				failed++
			} else if rec.Result == events.KinesisFirehoseTransformedStateDropped {
				dropped--
				failed++
			}
			rec.Result, rec.Data = events.KinesisFirehoseTransformedStateProcessingFailed, []byte{}
			log.ErrorContext(ctx, "response would exceed 6 MB; record returned as ProcessingFailed (lower the processor BufferSizeInMBs)", "recordId", r.RecordID)
		}
		out.Records[i] = rec
	}
	metrics.Count(MetricOk, ok)
	metrics.Count(MetricDropped, dropped)
	metrics.Count(MetricFailed, failed)
	log.InfoContext(ctx, "batch transformed", "records", len(ev.Records), "ok", ok, "dropped", dropped, "processingFailed", failed)
	return out, nil
}

// Response is the transformer's answer as it goes over the wire: the
// aws-lambda-go type always carries a "metadata" object (dynamic
// partitioning keys, Iceberg routing) that this transformer never sets.
type Response struct {
	Records []ResponseRecord `json:"records"`
}

// ResponseRecord is one record of Response.
type ResponseRecord struct {
	RecordID string `json:"recordId"`
	Result   string `json:"result"`
	Data     []byte `json:"data"`
}

// Wire returns r without the empty metadata objects.
func Wire(r events.KinesisFirehoseResponse) Response {
	out := Response{Records: make([]ResponseRecord, len(r.Records))}
	for i, rec := range r.Records {
		out.Records[i] = ResponseRecord{RecordID: rec.RecordID, Result: rec.Result, Data: rec.Data}
	}
	return out
}

// HandleWire is Handle answering in the wire form, for the Lambda
// bootstrap.
func (h *Handler) HandleWire(ctx context.Context, ev events.KinesisFirehoseEvent) (Response, error) {
	r, err := h.Handle(ctx, ev)
	return Wire(r), err
}

// MsgFailed is the log message of a record that failed processing; its
// "reason" attribute says why and "data" is the record's Fingerprint.
const MsgFailed = "record failed processing"

// Fingerprint names a record's bytes in logs without repeating them: the
// first 8 bytes of their SHA-256, in hex. The error output's rawData has
// the same bytes, so its reason can be found in the log.
func Fingerprint(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
