// Command consumer is the DataStreamConsumer Lambda bootstrap.
package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamproc/streamproc/aws/deadletter"
	"github.com/streamproc/streamproc/aws/dynamodb"
	"github.com/streamproc/streamproc/cmd/lambda/internal/boot"
	"github.com/streamproc/streamproc/function/consumer"
)

func main() {
	ctx := context.Background()
	log := boot.Logger()
	table, err := boot.Env("DDB_TABLE")
	if err != nil {
		boot.Fatal(log, "configuration", err)
	}
	bucket, err := boot.Env("DEAD_LETTER_BUCKET")
	if err != nil {
		boot.Fatal(log, "configuration", err)
	}
	ttl, err := boot.EnvInt("DDB_TTL_DAYS", 0)
	if err != nil {
		boot.Fatal(log, "configuration", err)
	}
	cfg, err := boot.AWSConfig(ctx)
	if err != nil {
		boot.Fatal(log, "aws", err)
	}
	m := boot.Metrics()
	h := &consumer.Handler{
		Table:        dynamodb.New(awsddb.NewFromConfig(cfg)),
		TableName:    table,
		TTLDays:      ttl,
		DeadLetters:  deadletter.New(deadletter.S3(boot.S3Client(cfg), bucket), deadletter.Options{Logger: log}),
		FunctionName: os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		Logger:       log,
		Metrics:      m,
		Now:          time.Now,
	}
	lambda.Start(boot.WithMetrics(m, os.Stdout, h.Handle))
}
