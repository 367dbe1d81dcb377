// Command bucketcleaner is the BucketCleaner custom-resource Lambda bootstrap.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamproc/streamproc/cmd/lambda/internal/boot"
	"github.com/streamproc/streamproc/function/bucketcleaner"
)

func main() {
	log := boot.Logger()
	cfg, err := boot.AWSConfig(context.Background())
	if err != nil {
		boot.Fatal(log, "aws", err)
	}
	h := &bucketcleaner.Handler{S3: boot.S3Client(cfg), Logger: log}
	lambda.Start(cfn.LambdaWrap(h.Handle))
}
