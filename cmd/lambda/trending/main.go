// Command trending is the TrendingHashtags Lambda bootstrap.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamproc/streamproc/aws/dynamodb"
	"github.com/streamproc/streamproc/cmd/lambda/internal/boot"
	"github.com/streamproc/streamproc/function/trending"
)

func main() {
	ctx := context.Background()
	log := boot.Logger()
	table, err := boot.Env("TRENDS_TABLE")
	if err != nil {
		boot.Fatal(log, "configuration", err)
	}
	cfg, err := boot.AWSConfig(ctx)
	if err != nil {
		boot.Fatal(log, "aws", err)
	}
	m := boot.Metrics()
	h := &trending.Handler{Table: dynamodb.New(awsddb.NewFromConfig(cfg)), TableName: table, Logger: log, Metrics: m}
	lambda.Start(boot.WithMetrics(m, os.Stdout, h.Handle))
}
