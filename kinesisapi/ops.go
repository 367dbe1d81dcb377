package kinesisapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stream"
)

// Stream modes. The engine has only provisioned shards; an ON_DEMAND
// stream gets onDemandShards of them (what AWS starts one with) and reports
// its mode back.
const (
	modeProvisioned = "PROVISIONED"
	modeOnDemand    = "ON_DEMAND"
	onDemandShards  = 4
	// maxTagsPerStream is Kinesis's tag quota per stream.
	maxTagsPerStream = 50
	// Page sizes: defaults and the caps AWS applies silently above them.
	defaultDescribeLimit = 100
	maxListStreams       = 100
	maxListShards        = 1000
	defaultListTags      = 50
	// maxRecordSizeKiB is the one record size the engine supports.
	maxRecordSizeKiB = streamproc.MaxRecordBytes >> 10
)

// Response shapes. Timestamps are epochMillis so they encode as epoch
// seconds with a millisecond fraction.

type epochMillis int64

func (e epochMillis) MarshalJSON() ([]byte, error) {
	ms := int64(e)
	b := make([]byte, 0, 24)
	if ms < 0 { // never for real timestamps, but keep it exact
		b = append(b, '-')
		ms = -ms
	}
	b = strconv.AppendInt(b, ms/1000, 10)
	frac := ms % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10)), nil
}

func epochOf(t time.Time) epochMillis { return epochMillis(t.UnixMilli()) }

type modeOut struct {
	StreamMode string `json:"StreamMode"`
}

type hashKeyRange struct {
	StartingHashKey string `json:"StartingHashKey"`
	EndingHashKey   string `json:"EndingHashKey"`
}

type seqRange struct {
	StartingSequenceNumber string `json:"StartingSequenceNumber"`
	EndingSequenceNumber   string `json:"EndingSequenceNumber,omitempty"`
}

type shardOut struct {
	ShardId             string       `json:"ShardId"`
	HashKeyRange        hashKeyRange `json:"HashKeyRange"`
	SequenceNumberRange seqRange     `json:"SequenceNumberRange"`
}

type enhancedMetrics struct {
	ShardLevelMetrics []string `json:"ShardLevelMetrics"`
}

// noEnhancedMonitoring is what AWS reports for a stream without enhanced
// (shard-level) metrics.
func noEnhancedMonitoring() []enhancedMetrics {
	return []enhancedMetrics{{ShardLevelMetrics: []string{}}}
}

type streamDescription struct {
	StreamName              string            `json:"StreamName"`
	StreamARN               string            `json:"StreamARN"`
	StreamStatus            string            `json:"StreamStatus"`
	StreamModeDetails       modeOut           `json:"StreamModeDetails"`
	Shards                  []shardOut        `json:"Shards"`
	HasMoreShards           bool              `json:"HasMoreShards"`
	RetentionPeriodHours    int               `json:"RetentionPeriodHours"`
	StreamCreationTimestamp epochMillis       `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMetrics `json:"EnhancedMonitoring"`
	EncryptionType          string            `json:"EncryptionType"`
}

type streamSummary struct {
	StreamName              string            `json:"StreamName"`
	StreamARN               string            `json:"StreamARN"`
	StreamStatus            string            `json:"StreamStatus"`
	StreamModeDetails       modeOut           `json:"StreamModeDetails"`
	RetentionPeriodHours    int               `json:"RetentionPeriodHours"`
	StreamCreationTimestamp epochMillis       `json:"StreamCreationTimestamp"`
	EnhancedMonitoring      []enhancedMetrics `json:"EnhancedMonitoring"`
	EncryptionType          string            `json:"EncryptionType"`
	OpenShardCount          int               `json:"OpenShardCount"`
	ConsumerCount           int               `json:"ConsumerCount"`
	MaxRecordSizeInKiB      int               `json:"MaxRecordSizeInKiB"`
}

type listEntry struct {
	StreamName              string      `json:"StreamName"`
	StreamARN               string      `json:"StreamARN"`
	StreamStatus            string      `json:"StreamStatus"`
	StreamModeDetails       modeOut     `json:"StreamModeDetails"`
	StreamCreationTimestamp epochMillis `json:"StreamCreationTimestamp"`
}

type tagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// resolve returns the stream name a request refers to. StreamARN wins when
// both are given, and they must agree.
func (h *Handler) resolve(r *streamRef) (string, error) {
	if r.StreamARN == nil {
		if r.StreamName == nil {
			return "", invalidArg("Either StreamName or StreamARN must be provided.")
		}
		return *r.StreamName, nil
	}
	name, err := h.engine.StreamNameFromARN(*r.StreamARN)
	if err != nil {
		return "", err
	}
	if r.StreamName != nil && *r.StreamName != name {
		return "", invalidArg("StreamARN %s and StreamName %s refer to different streams.", *r.StreamARN, *r.StreamName)
	}
	return name, nil
}

// describe resolves a request's stream and describes it.
func (h *Handler) describe(ctx context.Context, r *streamRef) (stream.StreamInfo, error) {
	name, err := h.resolve(r)
	if err != nil {
		return stream.StreamInfo{}, err
	}
	return h.engine.DescribeStream(ctx, name)
}

func (h *Handler) mode(info stream.StreamInfo) string {
	if m := h.state.get(info.Name, info.Created.UnixMilli()).Mode; m != "" {
		return m
	}
	return modeProvisioned
}

func (h *Handler) createStream(ctx context.Context, in *createStreamInput) (any, error) {
	mode := modeProvisioned
	if in.StreamModeDetails != nil {
		mode = *in.StreamModeDetails.StreamMode
	}
	var shards int
	switch {
	case mode == modeOnDemand && in.ShardCount != nil:
		return nil, invalidArg("ShardCount cannot be specified for a stream in %s mode.", modeOnDemand)
	case mode == modeOnDemand:
		shards = onDemandShards
	case in.ShardCount == nil:
		var v validator
		v.notNull(false, "shardCount")
		return nil, v.err()
	default:
		shards = int(*in.ShardCount)
	}
	if in.MaxRecordSizeInKiB != nil && *in.MaxRecordSizeInKiB != maxRecordSizeKiB {
		return nil, invalidArg("MaxRecordSizeInKiB %d is not supported: this endpoint stores records of up to %d KiB.", *in.MaxRecordSizeInKiB, maxRecordSizeKiB)
	}
	if err := checkTags(*in.StreamName, in.Tags, 0); err != nil {
		return nil, err
	}
	if err := h.engine.CreateStream(ctx, *in.StreamName, shards); err != nil {
		return nil, err
	}
	if mode == modeProvisioned && len(in.Tags) == 0 {
		return struct{}{}, nil
	}
	info, err := h.engine.DescribeStream(ctx, *in.StreamName)
	if err == nil {
		err = h.state.update(info.Name, info.Created.UnixMilli(), func(s *streamState) error {
			if mode == modeOnDemand {
				s.Mode = mode
			}
			if len(in.Tags) > 0 {
				s.Tags = in.Tags
			}
			return nil
		})
	}
	if err != nil {
		// CreateStream is all or nothing: a stream without its tags or
		// mode must not stay behind.
		if derr := h.engine.DeleteStream(context.WithoutCancel(ctx), *in.StreamName); derr != nil {
			err = errors.Join(err, fmt.Errorf("undo create: %w", derr))
		}
		return nil, internalErr(fmt.Errorf("create stream %s: %w", *in.StreamName, err))
	}
	return struct{}{}, nil
}

func (h *Handler) deleteStream(ctx context.Context, in *deleteStreamInput) (any, error) {
	name, err := h.resolve(&in.streamRef)
	if err != nil {
		return nil, err
	}
	if err := h.engine.DeleteStream(ctx, name); err != nil {
		return nil, err
	}
	if err := h.state.drop(name); err != nil {
		// The stream is gone; its stale entry is ignored by creation time,
		// so this only leaves a few bytes behind.
		h.log.Warn("could not forget a deleted stream's tags", "stream", name, "err", err)
	}
	return struct{}{}, nil
}

func shardsOut(info stream.StreamInfo) []shardOut {
	out := make([]shardOut, 0, len(info.Shards))
	for _, s := range info.Shards {
		out = append(out, shardOut{
			ShardId:             s.ID,
			HashKeyRange:        hashKeyRange{s.StartingHashKey, s.EndingHashKey},
			SequenceNumberRange: seqRange{s.StartingSequenceNumber, s.EndingSequenceNumber},
		})
	}
	return out
}

// after returns the shards whose id sorts after id ("" = all). Shard ids
// are fixed-width, so string order is shard order.
func after(shards []shardOut, id string) []shardOut {
	i := sort.Search(len(shards), func(i int) bool { return shards[i].ShardId > id })
	return shards[i:]
}

func (h *Handler) describeStream(ctx context.Context, in *describeStreamInput) (any, error) {
	info, err := h.describe(ctx, &in.streamRef)
	if err != nil {
		return nil, err
	}
	shards := shardsOut(info)
	if in.ExclusiveStartShardId != nil {
		shards = after(shards, *in.ExclusiveStartShardId)
	}
	limit := defaultDescribeLimit
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	more := len(shards) > limit
	if more {
		shards = shards[:limit]
	}
	return struct {
		StreamDescription streamDescription `json:"StreamDescription"`
	}{streamDescription{
		StreamName:              info.Name,
		StreamARN:               info.ARN,
		StreamStatus:            info.Status,
		StreamModeDetails:       modeOut{h.mode(info)},
		Shards:                  shards,
		HasMoreShards:           more,
		RetentionPeriodHours:    info.RetentionHours,
		StreamCreationTimestamp: epochOf(info.Created),
		EnhancedMonitoring:      noEnhancedMonitoring(),
		EncryptionType:          "NONE",
	}}, nil
}

func (h *Handler) describeStreamSummary(ctx context.Context, in *describeStreamSummaryInput) (any, error) {
	info, err := h.describe(ctx, &in.streamRef)
	if err != nil {
		return nil, err
	}
	open := 0
	for _, s := range info.Shards {
		if s.EndingSequenceNumber == "" {
			open++
		}
	}
	return struct {
		StreamDescriptionSummary streamSummary `json:"StreamDescriptionSummary"`
	}{streamSummary{
		StreamName:              info.Name,
		StreamARN:               info.ARN,
		StreamStatus:            info.Status,
		StreamModeDetails:       modeOut{h.mode(info)},
		RetentionPeriodHours:    info.RetentionHours,
		StreamCreationTimestamp: epochOf(info.Created),
		EnhancedMonitoring:      noEnhancedMonitoring(),
		EncryptionType:          "NONE",
		OpenShardCount:          open,
		MaxRecordSizeInKiB:      maxRecordSizeKiB,
	}}, nil
}

func (h *Handler) listStreams(ctx context.Context, in *listStreamsInput) (any, error) {
	start := ""
	if in.NextToken != nil {
		if in.ExclusiveStartStreamName != nil {
			return nil, invalidArg("NextToken and ExclusiveStartStreamName cannot be provided together.")
		}
		f, err := h.tokens.openPage(kindStreamPage, *in.NextToken, 1, h.now())
		if err != nil {
			return nil, err
		}
		start = f[0]
	} else if in.ExclusiveStartStreamName != nil {
		start = *in.ExclusiveStartStreamName
	}
	names, err := h.engine.ListStreams(ctx)
	if err != nil {
		return nil, err
	}
	if start != "" {
		i, found := slices.BinarySearch(names, start)
		if found {
			i++
		}
		names = names[i:]
	}
	limit := maxListStreams
	if in.Limit != nil {
		limit = min(int(*in.Limit), maxListStreams)
	}
	more := len(names) > limit
	if more {
		names = names[:limit]
	}
	out := struct {
		StreamNames     []string    `json:"StreamNames"`
		HasMoreStreams  bool        `json:"HasMoreStreams"`
		NextToken       string      `json:"NextToken,omitempty"`
		StreamSummaries []listEntry `json:"StreamSummaries"`
	}{StreamNames: make([]string, 0, len(names)), HasMoreStreams: more, StreamSummaries: make([]listEntry, 0, len(names))}
	for _, n := range names {
		info, err := h.engine.DescribeStream(ctx, n)
		if stream.ErrorCode(err) == stream.CodeResourceNotFound {
			continue // deleted since ListStreams
		}
		if err != nil {
			return nil, err
		}
		out.StreamNames = append(out.StreamNames, n)
		out.StreamSummaries = append(out.StreamSummaries, listEntry{
			StreamName: info.Name, StreamARN: info.ARN, StreamStatus: info.Status,
			StreamModeDetails: modeOut{h.mode(info)}, StreamCreationTimestamp: epochOf(info.Created),
		})
	}
	if more {
		out.NextToken = h.tokens.seal(kindStreamPage, h.now(), names[len(names)-1])
	}
	return out, nil
}

// listShards follows §1.9: a NextToken identifies the stream on its own and
// excludes StreamName, StreamARN, StreamCreationTimestamp and
// ExclusiveStartShardId; tokens expire after 300 s.
func (h *Handler) listShards(ctx context.Context, in *listShardsInput) (any, error) {
	var (
		info    stream.StreamInfo
		startID string
		err     error
	)
	if in.NextToken != nil {
		switch {
		case in.StreamName != nil:
			return nil, invalidArg("NextToken and StreamName cannot be provided together.")
		case in.StreamARN != nil:
			return nil, invalidArg("NextToken and StreamARN cannot be provided together.")
		case in.StreamCreationTimestamp != nil:
			return nil, invalidArg("NextToken and StreamCreationTimestamp cannot be provided together.")
		case in.ExclusiveStartShardId != nil:
			return nil, invalidArg("NextToken and ExclusiveStartShardId cannot be provided together.")
		}
		f, err := h.tokens.openPage(kindShardsPage, *in.NextToken, 3, h.now())
		if err != nil {
			return nil, err
		}
		info, err = h.engine.DescribeStream(ctx, f[0])
		if err != nil {
			return nil, err
		}
		if strconv.FormatInt(info.Created.UnixMilli(), 10) != f[1] {
			return nil, notFound("Stream %s was deleted and created again since the NextToken was issued.", f[0])
		}
		startID = f[2]
	} else {
		if in.StreamName == nil && in.StreamARN == nil {
			return nil, invalidArg("Either NextToken or StreamName should be provided.")
		}
		info, err = h.describe(ctx, &in.streamRef)
		if err != nil {
			return nil, err
		}
		if t := in.StreamCreationTimestamp; t != nil && t.t.UnixMilli() != info.Created.UnixMilli() && t.t.Unix() != info.Created.Unix() {
			return nil, notFound("Stream %s created at %s not found.", info.Name, t.t.Format(time.RFC3339Nano))
		}
		if in.ExclusiveStartShardId != nil {
			startID = *in.ExclusiveStartShardId
		}
	}
	shards := shardsOut(info)
	if f := in.ShardFilter; f != nil {
		// Every shard is open and has existed since the stream was created
		// (no resharding), so only AFTER_SHARD_ID narrows the list; the
		// others require their parameters and return every shard.
		switch *f.Type {
		case "AFTER_SHARD_ID":
			if f.ShardId == nil {
				return nil, invalidArg("ShardFilter of type AFTER_SHARD_ID requires ShardId.")
			}
			if *f.ShardId > startID {
				startID = *f.ShardId
			}
		case "AT_TIMESTAMP", "FROM_TIMESTAMP":
			if f.Timestamp == nil {
				return nil, invalidArg("ShardFilter of type %s requires Timestamp.", *f.Type)
			}
		}
	}
	shards = after(shards, startID)
	limit := maxListShards
	if in.MaxResults != nil {
		limit = min(int(*in.MaxResults), maxListShards)
	}
	out := struct {
		Shards    []shardOut `json:"Shards"`
		NextToken string     `json:"NextToken,omitempty"`
	}{Shards: shards}
	if len(shards) > limit {
		out.Shards = shards[:limit]
		out.NextToken = h.tokens.seal(kindShardsPage, h.now(), info.Name, strconv.FormatInt(info.Created.UnixMilli(), 10), out.Shards[limit-1].ShardId)
	}
	return out, nil
}

func record(data *blob, pk, ehk *string) streamproc.Record {
	r := streamproc.Record{PartitionKey: *pk, Data: *data}
	if ehk != nil {
		r.ExplicitHashKey = *ehk
	}
	return r
}

func (h *Handler) putRecord(ctx context.Context, in *putRecordInput) (any, error) {
	name, err := h.resolve(&in.streamRef)
	if err != nil {
		return nil, err
	}
	res, err := h.engine.PutRecords(ctx, name, []streamproc.Record{record(in.Data, in.PartitionKey, in.ExplicitHashKey)})
	if err != nil {
		return nil, err
	}
	// Sequence numbers of one shard always increase here, so
	// SequenceNumberForOrdering (already validated) needs no extra work.
	r := res[0]
	if r.ErrorCode == "" {
		h.counted(name, 1)
	}
	if r.ErrorCode != "" {
		if r.ErrorCode == stream.CodeInternalFailure {
			return nil, internalErr(errors.New(r.ErrorMessage))
		}
		return nil, clientErr(r.ErrorCode, "%s", r.ErrorMessage)
	}
	return struct {
		ShardId        string `json:"ShardId"`
		SequenceNumber string `json:"SequenceNumber"`
		EncryptionType string `json:"EncryptionType"`
	}{r.ShardID, r.SequenceNumber, "NONE"}, nil
}

func (h *Handler) putRecords(ctx context.Context, in *putRecordsInput) (any, error) {
	name, err := h.resolve(&in.streamRef)
	if err != nil {
		return nil, err
	}
	recs := make([]streamproc.Record, len(in.Records))
	for i := range in.Records {
		e := &in.Records[i]
		recs[i] = record(e.Data, e.PartitionKey, e.ExplicitHashKey)
	}
	res, err := h.engine.PutRecords(ctx, name, recs)
	if err != nil {
		return nil, err
	}
	written := 0
	for _, r := range res {
		if r.ErrorCode == "" {
			written++
		}
	}
	h.counted(name, written)
	return rawJSON(appendPutRecordsOutput(h.getBuf(64+len(res)*100), res)), nil
}

func (h *Handler) getShardIterator(ctx context.Context, in *getShardIteratorInput) (any, error) {
	name, err := h.resolve(&in.streamRef)
	if err != nil {
		return nil, err
	}
	typ := *in.ShardIteratorType
	p := stream.Position{Type: typ}
	switch typ {
	case stream.AtSequenceNumber, stream.AfterSequenceNumber:
		if in.StartingSequenceNumber == nil {
			return nil, invalidArg("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and no StartingSequenceNumber.", typ)
		}
		p.SequenceNumber = *in.StartingSequenceNumber
	case stream.TrimHorizon, stream.Latest:
		if in.StartingSequenceNumber != nil {
			return nil, invalidArg("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and also a StartingSequenceNumber.", typ)
		}
	case stream.AtTimestamp:
		if in.Timestamp == nil {
			return nil, invalidArg("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
		}
		now := h.now()
		if in.Timestamp.t.After(now) {
			return nil, invalidArg("The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: %d, currentTimestampInMillis: %d", in.Timestamp.t.UnixMilli(), now.UnixMilli())
		}
		p.Timestamp = in.Timestamp.t
	}
	c, err := h.engine.Iterator(ctx, name, *in.ShardId, p)
	if err != nil {
		return nil, err
	}
	return struct {
		ShardIterator string `json:"ShardIterator"`
	}{h.tokens.sealIterator(h.now(), name, *in.ShardId, c)}, nil
}

func (h *Handler) getRecords(ctx context.Context, in *getRecordsInput) (any, error) {
	now := h.now()
	it, err := h.tokens.openIterator(*in.ShardIterator, now)
	if err != nil {
		return nil, err
	}
	if in.StreamARN != nil {
		name, err := h.engine.StreamNameFromARN(*in.StreamARN)
		if err != nil {
			return nil, err
		}
		if name != it.stream {
			return nil, invalidArg("The ShardIterator belongs to stream %s, not to StreamARN %s.", it.stream, *in.StreamARN)
		}
	}
	limit := 0 // the engine's default, MaxGetRecords
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	b, err := h.engine.Read(ctx, it.stream, it.shardID, it.cursor, limit, 0)
	if err != nil {
		return nil, err
	}
	next := h.tokens.sealIterator(now, it.stream, it.shardID, b.Next)
	return rawJSON(appendGetRecordsOutput(h.getBuf(getRecordsSize(b.Records)), b.Records, next, b.MillisBehindLatest)), nil
}

func (h *Handler) changeRetention(ctx context.Context, in *retentionInput, increase bool) (any, error) {
	name, err := h.resolve(&in.streamRef)
	if err != nil {
		return nil, err
	}
	hours := *in.RetentionPeriodHours
	if hours < stream.MinRetentionHours {
		return nil, invalidArg("Minimum allowed retention period is %d hours. Requested retention period (%d hours) is too short.", stream.MinRetentionHours, hours)
	}
	if hours > stream.MaxRetentionHours {
		return nil, invalidArg("Maximum allowed retention period is %d hours. Requested retention period (%d hours) is too long.", stream.MaxRetentionHours, hours)
	}
	h.retMu.Lock()
	defer h.retMu.Unlock()
	info, err := h.engine.DescribeStream(ctx, name)
	if err != nil {
		return nil, err
	}
	cur := int64(info.RetentionHours)
	if increase && hours < cur {
		return nil, invalidArg("Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", hours, name, cur)
	}
	if !increase && hours > cur {
		return nil, invalidArg("Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", hours, name, cur)
	}
	if hours != cur {
		if err := h.engine.SetRetention(ctx, name, int(hours)); err != nil {
			return nil, err
		}
	}
	return struct{}{}, nil
}

// checkTags applies Kinesis's tag rules beyond the model's lengths: the
// allowed characters and at most 50 tags per stream (existing counts the
// stream's tags not being replaced).
func checkTags(name string, tags map[string]string, existing int) error {
	for k, v := range tags {
		if !tagChars(k) || !tagChars(v) {
			return invalidArg("Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - %% @.")
		}
	}
	if existing+len(tags) > maxTagsPerStream {
		return invalidArg("Failed to add tags to stream %s because a given stream cannot have more than %d tags associated with it.", name, maxTagsPerStream)
	}
	return nil
}

func tagChars(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) {
			continue
		}
		switch r {
		case '_', '.', ':', '/', '=', '+', '-', '%', '@':
			continue
		}
		return false
	}
	return true
}

func (h *Handler) addTags(ctx context.Context, in *addTagsInput) (any, error) {
	info, err := h.describe(ctx, &in.streamRef)
	if err != nil {
		return nil, err
	}
	err = h.state.update(info.Name, info.Created.UnixMilli(), func(s *streamState) error {
		added := 0
		for k := range in.Tags {
			if _, ok := s.Tags[k]; !ok {
				added++
			}
		}
		if err := checkTags(info.Name, in.Tags, len(s.Tags)+added-len(in.Tags)); err != nil {
			return err
		}
		if s.Tags == nil {
			s.Tags = make(map[string]string, len(in.Tags))
		}
		for k, v := range in.Tags {
			s.Tags[k] = v
		}
		return nil
	})
	var ae *apiError
	if err != nil && !errors.As(err, &ae) {
		return nil, internalErr(err)
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (h *Handler) listTags(ctx context.Context, in *listTagsInput) (any, error) {
	info, err := h.describe(ctx, &in.streamRef)
	if err != nil {
		return nil, err
	}
	tags := h.state.get(info.Name, info.Created.UnixMilli()).Tags
	keys := make([]string, 0, len(tags))
	for k := range tags {
		if in.ExclusiveStartTagKey == nil || k > *in.ExclusiveStartTagKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	limit := defaultListTags
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	out := struct {
		Tags        []tagOut `json:"Tags"`
		HasMoreTags bool     `json:"HasMoreTags"`
	}{Tags: make([]tagOut, 0, len(keys)), HasMoreTags: more}
	for _, k := range keys {
		out.Tags = append(out.Tags, tagOut{k, tags[k]})
	}
	return out, nil
}

func (h *Handler) removeTags(ctx context.Context, in *removeTagsInput) (any, error) {
	info, err := h.describe(ctx, &in.streamRef)
	if err != nil {
		return nil, err
	}
	err = h.state.update(info.Name, info.Created.UnixMilli(), func(s *streamState) error {
		for _, k := range in.TagKeys {
			delete(s.Tags, k)
		}
		return nil
	})
	if err != nil {
		return nil, internalErr(err)
	}
	return struct{}{}, nil
}

// counted reports records written through the API to Options.OnPut.
func (h *Handler) counted(stream string, n int) {
	if h.onPut != nil && n > 0 {
		h.onPut(stream, n)
	}
}
