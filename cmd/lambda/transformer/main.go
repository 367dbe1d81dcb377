// Command transformer is the FirehoseTransformer Lambda bootstrap.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/streamproc/streamproc/cmd/lambda/internal/boot"
	"github.com/streamproc/streamproc/function/transformer"
)

func main() {
	m := boot.Metrics()
	h := &transformer.Handler{Logger: boot.Logger(), Metrics: m}
	lambda.Start(boot.WithMetrics(m, os.Stdout, h.HandleWire))
}
