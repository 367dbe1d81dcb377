package firehose

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/local/stream"
)

// Error codes and messages of processing failures, as Firehose reports them
// in error records and its CloudWatch logs (research/aws-semantics.md §4.4).
const (
	CodeProcessingFailedStatus = "Lambda.ProcessingFailedStatus"
	CodeFunctionError          = "Lambda.FunctionError"
	CodeMissingRecordID        = "Lambda.MissingRecordId"
	CodeDuplicatedRecordID     = "Lambda.DuplicatedRecordId"
	CodeJSONProcessing         = "Lambda.JsonProcessingException"

	MsgFunctionError    = "The Lambda function was successfully invoked but it returned an error result."
	MsgMissingRecordID  = "One or more record Ids were not returned. Ensure that the Lambda function returns all received record Ids."
	MsgDuplicatedRecord = "Multiple records were returned with the same record Id. Ensure that the Lambda function returns unique record Ids for each record."
	MsgJSONProcessing   = "There was an error parsing returned records from the Lambda function. Ensure that the returned records follow the status model required by Kinesis Firehose."
	// MsgProcessingFailedStatus is our wording: AWS documents the code of a
	// record the function marked ProcessingFailed, not its message.
	MsgProcessingFailedStatus = "The Lambda function returned ProcessingFailed for this record."
)

// ErrorRecord is one line of an error-output object (§4.5): a record that
// failed processing, with its original bytes.
type ErrorRecord struct {
	AttemptsMade           int    `json:"attemptsMade"`
	ArrivalTimestamp       int64  `json:"arrivalTimestamp"` // ms, the Kinesis record's arrival
	ErrorCode              string `json:"errorCode"`
	ErrorMessage           string `json:"errorMessage"`
	AttemptEndingTimestamp int64  `json:"attemptEndingTimestamp"` // ms, when Firehose stopped trying
	RawData                []byte `json:"rawData"`                // base64 in JSON: the record before processing
	LambdaArn              string `json:"lambdaArn"`
}

// userRec is one user record (after KPL de-aggregation) not yet delivered.
type userRec struct {
	src    *kinesisRec
	subseq int
	pk     string
	data   []byte // original bytes: what an error record's rawData holds
}

// procBatch is the processor buffer.
type procBatch struct {
	recs    []userRec
	bytes   int64     // sum of data lengths, against ProcessorConfig.BufferSize
	payload int64     // estimated request JSON size, against MaxInvocationPayload
	started time.Time // Options.Now when the first record entered
}

// Request size accounting: the event envelope, and per record the JSON
// around its base64 data (ids, timestamps, metadata; the partition key may
// grow six-fold when escaped).
const (
	eventOverhead  = 512
	recordOverhead = 400
)

func recordPayload(u userRec) int64 {
	return recordOverhead + int64(6*len(u.pk)) + int64((len(u.data)+2)/3*4)
}

// ingest de-aggregates one Kinesis record and buffers its user records.
func (d *DeliveryStream) ingest(ctx context.Context, s *shardState, r stream.Record) error {
	users, aggregated, err := kpl.Deaggregate(r.Data)
	if err != nil {
		// The magic and MD5 check out but the contents do not decode.
		// Firehose documents nothing for this; passing the bytes on as one
		// record loses nothing (a processor can fail it to the error output).
		d.log.Warn("corrupt KPL aggregate; delivering it as one record", "shard", s.id, "sequenceNumber", r.SequenceNumber, "err", err)
		users, aggregated = []kpl.UserRecord{{Data: r.Data}}, false
	}
	k := &kinesisRec{shard: s, seq: r.SequenceNumber, arrival: r.ArrivalTime, left: len(users)}
	s.pending = append(s.pending, k)
	var bytes int
	for _, u := range users {
		bytes += len(u.Data)
	}
	d.count(func(st *Stats) { st.RecordsIn += int64(len(users)) })
	d.metric(MetricIncomingRecords, float64(len(users)))
	d.metric(MetricIncomingBytes, float64(bytes))
	for i, u := range users {
		pk := r.PartitionKey
		if aggregated {
			pk = u.PartitionKey
		}
		ur := userRec{src: k, subseq: i, pk: pk, data: u.Data}
		if d.cfg.Processor == nil {
			if err := d.output(ctx, ur, ur.data); err != nil {
				return err
			}
			continue
		}
		if err := d.addToProcessor(ctx, ur); err != nil {
			return err
		}
	}
	return nil
}

// addToProcessor buffers u for the processor. A batch is sent when the next
// record would take it past the size hint or the 6 MB request limit (so it
// never exceeds them unless a single record does), when it reaches the size
// hint, or when its interval has passed (deliverDue).
func (d *DeliveryStream) addToProcessor(ctx context.Context, u userRec) error {
	b, limit := &d.procBuf, d.cfg.Processor.BufferSize
	size, payload := int64(len(u.data)), recordPayload(u)
	if len(b.recs) > 0 && (b.bytes+size > limit || eventOverhead+b.payload+payload > MaxInvocationPayload) {
		if err := d.invoke(ctx); err != nil {
			return err
		}
	}
	if len(b.recs) == 0 {
		b.started = d.now()
	}
	b.recs = append(b.recs, u)
	b.bytes += size
	b.payload += payload
	if b.bytes >= limit {
		return d.invoke(ctx)
	}
	return nil
}

// recordID is the opaque recordId of a user record: its Kinesis sequence
// number (unique across shards here, as it embeds the shard) followed by
// its subsequence number.
func recordID(u userRec) string {
	return u.src.seq + fmt.Sprintf("%06d", u.subseq)
}

// invoke sends the processor buffer to the processor, with retries, and
// routes each record by its result: Ok → data buffer, Dropped → done,
// ProcessingFailed → error buffer. When every attempt failed, the whole
// batch goes to the error buffer with the last attempt's error code.
//
// A ctx error during an invocation leaves the batch buffered (it is not a
// function failure: Run is stopping). Once routing starts the batch is
// consumed; a failure there ends Run, and the records not yet routed stay
// unacknowledged in their shard's pending list, so the checkpoint never
// passes them.
func (d *DeliveryStream) invoke(ctx context.Context) error {
	b := &d.procBuf
	if len(b.recs) == 0 {
		return nil
	}
	p := d.cfg.Processor
	// Lambda hands the function its own decoded copy of the request, so a
	// function that transforms in place cannot touch the original bytes
	// (rawData of error records) or the next attempt's input.
	ids := make([]string, len(b.recs))
	for i, u := range b.recs {
		ids[i] = recordID(u)
	}
	newEvent := func() (events.KinesisFirehoseEvent, error) {
		id, err := uuid.NewRandomFromReader(d.opts.Rand)
		if err != nil {
			return events.KinesisFirehoseEvent{}, fmt.Errorf("firehose %s: invocation id: %w", d.cfg.Name, err)
		}
		ev := events.KinesisFirehoseEvent{
			InvocationID:           id.String(),
			DeliveryStreamArn:      d.cfg.ARN,
			SourceKinesisStreamArn: d.cfg.StreamARN,
			Region:                 d.region,
			Records:                make([]events.KinesisFirehoseEventRecord, len(b.recs)),
		}
		data := make([]byte, 0, b.bytes)
		for i, u := range b.recs {
			data = append(data, u.data...)
			arrival := events.MilliSecondsEpochTime{Time: u.src.arrival}
			ev.Records[i] = events.KinesisFirehoseEventRecord{
				RecordID:                    ids[i],
				ApproximateArrivalTimestamp: arrival,
				Data:                        data[len(data)-len(u.data) : len(data) : len(data)],
				KinesisFirehoseRecordMetadata: events.KinesisFirehoseRecordMetadata{
					ShardID:                     u.src.shard.id,
					PartitionKey:                u.pk,
					SequenceNumber:              u.src.seq,
					SubsequenceNumber:           int64(u.subseq),
					ApproximateArrivalTimestamp: arrival,
				},
			}
		}
		return ev, nil
	}

	var (
		results    []*events.KinesisFirehoseResponseRecord
		code, msg  string
		attempts   int
		maxAttempt = 1 + p.NumberOfRetries
	)
	for attempts = 1; attempts <= maxAttempt; attempts++ {
		ev, err := newEvent()
		if err != nil {
			return err
		}
		start := d.now()
		resp, err := d.call(ctx, ev)
		d.metric(MetricExecuteDuration, float64(d.now().Sub(start).Milliseconds()))
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("firehose %s: invoke processor: %w", d.cfg.Name, ctx.Err())
		}
		var detail string
		if err != nil {
			code, msg, detail = CodeFunctionError, MsgFunctionError, err.Error()
		} else {
			results, code, msg, detail = validateResponse(ids, resp)
		}
		d.count(func(s *Stats) {
			s.Invocations++
			if code != "" {
				s.InvocationFailures++
			}
		})
		if code == "" {
			d.metric(MetricExecuteSuccess, 1)
			break
		}
		d.metric(MetricExecuteSuccess, 0)
		d.log.Warn("processor invocation failed", "attempt", attempts, "of", maxAttempt, "records", len(b.recs),
			"errorCode", code, "detail", detail, "lambdaArn", p.FunctionARN)
	}
	ended := d.now()
	recs := b.recs
	*b = procBatch{}

	var ok, dropped, failed, okBytes int64
	envelope := func(u userRec, attempts int, code, msg string) []byte {
		line, _ := json.Marshal(ErrorRecord{
			AttemptsMade:           attempts,
			ArrivalTimestamp:       u.src.arrival.UnixMilli(),
			ErrorCode:              code,
			ErrorMessage:           msg,
			AttemptEndingTimestamp: ended.UnixMilli(),
			RawData:                u.data,
			LambdaArn:              lambdaARN(p.FunctionARN),
		})
		return append(line, '\n')
	}
	for i, u := range recs {
		var err error
		switch {
		case code != "":
			failed++
			err = d.add(ctx, &d.errs, u.src, envelope(u, maxAttempt, code, msg), false)
		case results[i].Result == events.KinesisFirehoseTransformedStateOk:
			ok++
			okBytes += int64(len(results[i].Data))
			err = d.output(ctx, u, results[i].Data)
		case results[i].Result == events.KinesisFirehoseTransformedStateDropped:
			dropped++
			u.src.left--
		default:
			failed++
			err = d.add(ctx, &d.errs, u.src, envelope(u, attempts, CodeProcessingFailedStatus, MsgProcessingFailedStatus), false)
		}
		if err != nil {
			return err
		}
	}
	if code != "" {
		d.log.Error("processor failed after all attempts; batch written to the error output",
			"records", len(recs), "attempts", maxAttempt, "errorCode", code)
	}
	d.count(func(s *Stats) { s.RecordsOk += ok; s.RecordsDropped += dropped; s.RecordsFailed += failed })
	d.metric(MetricSucceedRecords, float64(ok+dropped))
	d.metric(MetricSucceedBytes, float64(okBytes))
	d.metric(MetricDroppedRecords, float64(dropped))
	d.metric(MetricProcessingFailed, float64(failed))
	return d.commit()
}

// output takes the data of a user record that is to be delivered (as read,
// or as the processor returned it Ok) into the data buffer. With format
// conversion the record becomes rows, or, when it does not convert, an
// error record in the format-conversion-failed output. AppendDelimiter does
// not apply to converted records: Parquet has rows, not lines.
func (d *DeliveryStream) output(ctx context.Context, u userRec, data []byte) error {
	if d.conv == nil {
		return d.add(ctx, &d.data, u.src, data, d.cfg.AppendDelimiter)
	}
	n := float64(len(data))
	rows, cerr := d.conv.rows(data)
	if cerr == nil {
		d.metric(MetricSucceedConversionRecords, 1)
		d.metric(MetricSucceedConversionBytes, n)
		return d.addRows(ctx, &d.data, u.src, rows, int64(len(data)))
	}
	d.metric(MetricFailedConversionRecords, 1)
	d.metric(MetricFailedConversionBytes, n)
	d.count(func(s *Stats) { s.ConversionFailed++ })
	d.log.Debug("record did not convert; written to the format-conversion-failed output",
		"errorCode", cerr.code, "detail", cerr.msg, "sequenceNumber", u.src.seq, "subSequenceNumber", u.subseq)
	line, err := json.Marshal(ConversionErrorRecord{
		AttemptsMade:           1,
		ArrivalTimestamp:       u.src.arrival.UnixMilli(),
		LastErrorCode:          cerr.code,
		LastErrorMessage:       cerr.msg,
		AttemptEndingTimestamp: d.now().UnixMilli(),
		RawData:                data,
		SequenceNumber:         u.src.seq,
		SubSequenceNumber:      int64(u.subseq),
		DataCatalogTable:       d.conv.catalog,
	})
	if err != nil {
		return fmt.Errorf("firehose %s: conversion error record: %w", d.cfg.Name, err)
	}
	return d.add(ctx, &d.convErrs, u.src, append(line, '\n'), false)
}

// call invokes the processor. A panic is a function error, as the Lambda
// runtime reports it, rather than the end of the delivery stream.
func (d *DeliveryStream) call(ctx context.Context, ev events.KinesisFirehoseEvent) (resp events.KinesisFirehoseResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("processor panicked: %v", r)
		}
	}()
	return d.proc(ctx, ev)
}

// validateResponse checks the status model: every recordId of the request
// exactly once, a known result, a response within Lambda's 6 MB limit. It
// returns the response records in request order, or a failure code with
// Firehose's message and our detail for the log.
func validateResponse(ids []string, resp events.KinesisFirehoseResponse) (ordered []*events.KinesisFirehoseResponseRecord, code, msg, detail string) {
	// Lambda refuses to return a response over its payload limit; Firehose
	// sees that as a failed invocation.
	if b, err := json.Marshal(resp); err != nil {
		return nil, CodeJSONProcessing, MsgJSONProcessing, "response does not encode: " + err.Error()
	} else if len(b) > MaxInvocationPayload {
		return nil, CodeFunctionError, MsgFunctionError, fmt.Sprintf("response of %d bytes exceeds Lambda's %d-byte limit", len(b), MaxInvocationPayload)
	}
	index := make(map[string]int, len(ids))
	for i, id := range ids {
		index[id] = i
	}
	ordered = make([]*events.KinesisFirehoseResponseRecord, len(ids))
	for i := range resp.Records {
		r := &resp.Records[i]
		j, ok := index[r.RecordID]
		if !ok {
			return nil, CodeJSONProcessing, MsgJSONProcessing, fmt.Sprintf("response record %d has recordId %q, which was not in the request", i, r.RecordID)
		}
		if ordered[j] != nil {
			return nil, CodeDuplicatedRecordID, MsgDuplicatedRecord, fmt.Sprintf("recordId %q returned more than once", r.RecordID)
		}
		switch r.Result {
		case events.KinesisFirehoseTransformedStateOk, events.KinesisFirehoseTransformedStateDropped, events.KinesisFirehoseTransformedStateProcessingFailed:
		default:
			return nil, CodeJSONProcessing, MsgJSONProcessing, fmt.Sprintf("recordId %q has result %q (want Ok, Dropped or ProcessingFailed)", r.RecordID, r.Result)
		}
		if r.Data == nil {
			// AWS: a record missing recordId, result or data is rejected
			// and counted as a transformation failure, whatever its result.
			return nil, CodeJSONProcessing, MsgJSONProcessing, fmt.Sprintf("recordId %q has no data (Firehose requires data on every record, Dropped and ProcessingFailed too)", r.RecordID)
		}
		ordered[j] = r
	}
	var missing []string
	for j, r := range ordered {
		if r == nil {
			missing = append(missing, ids[j])
		}
	}
	if len(missing) > 0 {
		return nil, CodeMissingRecordID, MsgMissingRecordID, fmt.Sprintf("%d recordIds not returned, first %q", len(missing), missing[0])
	}
	return ordered, "", "", ""
}

// lambdaARN is the function ARN as error records show it: an unqualified
// ARN gets ":$LATEST", as observed on AWS (research/aws-semantics.md §4.5).
func lambdaARN(arn string) string {
	if strings.Count(arn, ":") == 6 && strings.HasPrefix(arn, "arn:") {
		return arn + ":$LATEST"
	}
	return arn
}
