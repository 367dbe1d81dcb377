package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/streamproc/streamproc/source/xapi"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/function/producer"
	"github.com/streamproc/streamproc/local/control"
	"github.com/streamproc/streamproc/local/stack"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/source/synthetic"
)

// openStream opens the data dir's stream engine and creates the stack's
// stream if it does not exist yet.
func (m *Main) openStream(ctx context.Context, dir string, st stackDef, log *slog.Logger) (*stream.Engine, error) {
	e, err := stream.Open(filepath.Join(dir, "streams"), stream.Options{Now: m.Now, Logger: log, Region: localRegion, Account: localAccount})
	if err != nil {
		return nil, stack.InUse(dir, fmt.Errorf("open stream store: %w", err))
	}
	if err := e.CreateStream(ctx, st.Stream, st.Shards); err != nil && stream.ErrorCode(err) != "ResourceInUseException" {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (m *Main) runProducer(ctx context.Context, st stackDef, fn fnDef, rt *runtime, ev events.EventBridgeEvent, log *slog.Logger) (any, error) {
	var src streamproc.TweetSource
	switch s := fn.Env[envSource]; s {
	case "", "synthetic":
		src = synthetic.New(synthetic.Options{Seed: m.Now().UnixNano(), Now: m.Now})
	case "xapi":
		// The X API client, as up runs it: credentials from the params
		// file or the environment, since_id kept in the state table.
		c, err := xapi.New(xapi.Options{Getenv: m.Getenv, Params: rt.params, Now: m.Now, Logger: log})
		if err != nil {
			return nil, err
		}
		src = c
		if name := fn.Env[envStateTable]; name != "" {
			src = xapi.WithSinceIDs(c, &xapi.TableSinceIDs{Table: rt.tables, Name: name}, log)
		}
	default:
		return nil, fmt.Errorf("TWEET_SOURCE=%s: choose synthetic or xapi", s)
	}
	woeid, err := parseInt64(envWOEID, fn.Env[envWOEID], 1)
	if err != nil {
		return nil, err
	}
	topN, err := fn.envInt(envTopN, 10)
	if err != nil {
		return nil, err
	}
	mode := fn.Env[envMode]
	if mode == "" {
		mode = "records"
	}
	e := rt.stream
	if e == nil {
		var err error
		if e, err = m.openStream(ctx, rt.dir, st, log); err != nil {
			return nil, err
		}
		defer e.Close()
	}
	h := &producer.Handler{
		Source: src,
		Writer: e, Stream: fn.Env[envStream], Mode: mode, WOEID: woeid, TopN: topN, Query: fn.Env[envQuery],
		Logger: log, Metrics: rt.metricsFor(st.Name + "-" + fn.LogicalID),
	}
	return h.Handle(ctx, ev)
}

// streamRecords reads up to n records of one shard of the local stream from
// the oldest, for generate-event --from-stream.
func (m *Main) streamRecords(ctx context.Context, g *globalFlags, shardID string, n int) ([]eventRecord, []string, error) {
	st, err := loadStack(g)
	if err != nil {
		return nil, nil, err
	}
	if err := haveData(g.dataDir); err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.DiscardHandler)
	e, err := m.openStream(ctx, g.dataDir, st, log)
	if err != nil {
		// A running stack holds the stream: read it through its Kinesis API.
		if b, rerr := os.ReadFile(filepath.Join(g.dataDir, control.AddrFile)); rerr == nil {
			return m.apiRecords(ctx, "http://"+strings.TrimSpace(string(b)), st.Stream, shardID, n)
		}
		return nil, nil, err
	}
	defer e.Close()
	cur, err := e.Iterator(ctx, st.Stream, shardID, stream.Position{Type: stream.TrimHorizon})
	if err != nil {
		return nil, nil, err
	}
	var recs []eventRecord
	var seqs []string
	for len(recs) < n {
		b, err := e.Read(ctx, st.Stream, shardID, cur, min(n-len(recs), stream.MaxGetRecords), stream.MaxGetRecordsBytes)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range b.Records {
			recs = append(recs, eventRecord{data: r.Data, pk: r.PartitionKey, arrival: r.ArrivalTime})
			seqs = append(seqs, r.SequenceNumber)
		}
		if len(b.Records) == 0 {
			break
		}
		cur = b.Next
	}
	if len(recs) == 0 {
		return nil, nil, errors.New("the local stream " + st.Stream + " has no records in " + shardID + "; write some with 'streamproc invoke producer -e <(streamproc generate-event schedule)'")
	}
	return recs, seqs, nil
}

var _ streamproc.StreamWriter = (*stream.Engine)(nil)

// apiRecords reads up to n records of one shard from the oldest through a
// Kinesis endpoint (the running stack's), as streamRecords does from the
// engine.
func (m *Main) apiRecords(ctx context.Context, endpoint, streamName, shardID string, n int) ([]eventRecord, []string, error) {
	c := awskinesis.New(awskinesis.Options{
		Region:       localRegion,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	})
	it, err := c.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String(streamName), ShardId: aws.String(shardID),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		return nil, nil, fmt.Errorf("read %s through the running stack at %s: %w", streamName, endpoint, err)
	}
	var recs []eventRecord
	var seqs []string
	for iter := it.ShardIterator; iter != nil && len(recs) < n; {
		out, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(int32(min(n-len(recs), stream.MaxGetRecords)))})
		if err != nil {
			return nil, nil, fmt.Errorf("read %s through the running stack at %s: %w", streamName, endpoint, err)
		}
		for _, r := range out.Records {
			recs = append(recs, eventRecord{data: r.Data, pk: aws.ToString(r.PartitionKey), arrival: aws.ToTime(r.ApproximateArrivalTimestamp)})
			seqs = append(seqs, aws.ToString(r.SequenceNumber))
		}
		if len(out.Records) == 0 || aws.ToInt64(out.MillisBehindLatest) == 0 && len(out.Records) < stream.MaxGetRecords {
			break
		}
		iter = out.NextShardIterator
	}
	if len(recs) == 0 {
		return nil, nil, errors.New("the local stream " + streamName + " has no records in " + shardID)
	}
	return recs, seqs, nil
}
