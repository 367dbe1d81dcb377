// Command producer is the DataStreamProducer Lambda bootstrap.
//
// TWEET_SOURCE (the template's ProducerSource) picks where tweets come from:
//   - synthetic (or unset): generated tweets, no account needed;
//   - xapi: the X API v2, with credentials read from SSM Parameter Store
//     (/twitter/bearer_token, or the seed's four OAuth 1.0a parameters) on
//     every run, and the newest tweet id per query kept in the
//     PRODUCER_STATE_TABLE table so that the next run, in a fresh
//     environment or not, asks only for newer tweets. X_API_BASE_URL, when
//     set, points the client elsewhere (a proxy, or the fake API in tests).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/dynamodb"
	"github.com/streamproc/streamproc/aws/kinesis"
	"github.com/streamproc/streamproc/aws/ssm"
	"github.com/streamproc/streamproc/cmd/lambda/internal/boot"
	"github.com/streamproc/streamproc/function/producer"
	"github.com/streamproc/streamproc/source/synthetic"
	"github.com/streamproc/streamproc/source/xapi"
)

// Tweet sources TWEET_SOURCE may name.
const (
	sourceSynthetic = "synthetic"
	sourceXAPI      = "xapi"
)

func main() {
	ctx := context.Background()
	log := boot.Logger()
	stream, err := boot.Env("STREAM_NAME")
	if err != nil {
		boot.Fatal(log, "configuration", err)
	}
	woeid, err := boot.EnvInt("TWITTER_WOEID", 1)
	if err != nil {
		boot.Fatal(log, "configuration", err)
	}
	topN, err := boot.EnvInt("TOP_N", 10)
	if err != nil {
		boot.Fatal(log, "configuration", err)
	}
	kind := os.Getenv("TWEET_SOURCE")
	switch kind {
	case "":
		kind = sourceSynthetic
	case sourceSynthetic, sourceXAPI:
	default:
		boot.Fatal(log, "configuration", fmt.Errorf("environment variable TWEET_SOURCE=%q is not supported; use %s or %s (template parameter ProducerSource)", kind, sourceSynthetic, sourceXAPI))
	}
	cfg, err := boot.AWSConfig(ctx)
	if err != nil {
		boot.Fatal(log, "aws", err)
	}
	m := boot.Metrics()
	src, err := tweetSource(kind, cfg, log, m)
	if err != nil {
		boot.Fatal(log, "configuration", err)
	}
	h := &producer.Handler{
		Source:  src,
		Writer:  kinesis.New(awskinesis.NewFromConfig(cfg)),
		Stream:  stream,
		Mode:    os.Getenv("PRODUCER_MODE"),
		WOEID:   int64(woeid),
		TopN:    topN,
		Query:   os.Getenv("SEARCH_QUERY"),
		Logger:  log,
		Metrics: m,
	}
	lambda.Start(boot.WithMetrics(m, os.Stdout, h.Handle))
}

// tweetSource builds the source kind names. Credentials are not read here:
// the X API client reads them from SSM on every call, so a missing or
// rotated parameter shows up in the invocation's error, not at init.
func tweetSource(kind string, cfg aws.Config, log *slog.Logger, m streamproc.Metrics) (streamproc.TweetSource, error) {
	if kind == sourceSynthetic {
		return synthetic.New(synthetic.Options{Seed: time.Now().UnixNano()}), nil
	}
	table, err := boot.Env("PRODUCER_STATE_TABLE")
	if err != nil {
		return nil, fmt.Errorf("TWEET_SOURCE=%s keeps since_ids in a table: %w", kind, err)
	}
	c, err := xapi.New(xapi.Options{
		Getenv:  os.LookupEnv, // X_API_BASE_URL
		Params:  ssm.New(awsssm.NewFromConfig(cfg)),
		Logger:  log,
		Metrics: m,
	})
	if err != nil {
		return nil, err
	}
	ids := &xapi.TableSinceIDs{Table: dynamodb.New(awsddb.NewFromConfig(cfg)), Name: table}
	return xapi.WithSinceIDs(c, ids, log), nil
}
