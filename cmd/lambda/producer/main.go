// Command producer is the DataStreamProducer Lambda bootstrap.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamproc/streamproc/aws/kinesis"
	"github.com/streamproc/streamproc/cmd/lambda/internal/boot"
	"github.com/streamproc/streamproc/function/producer"
	"github.com/streamproc/streamproc/source/synthetic"
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
	if src := os.Getenv("TWEET_SOURCE"); src != "" && src != "synthetic" {
		boot.Fatal(log, "configuration", fmt.Errorf("TWEET_SOURCE=%s is not supported; use synthetic", src))
	}
	cfg, err := boot.AWSConfig(ctx)
	if err != nil {
		boot.Fatal(log, "aws", err)
	}
	m := boot.Metrics()
	h := &producer.Handler{
		Source:  synthetic.New(synthetic.Options{Seed: time.Now().UnixNano()}),
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
