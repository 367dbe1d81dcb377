// Package boot is what every Lambda bootstrap shares: JSON logs, EMF
// metrics flushed after each invocation, and configuration from the
// environment the template sets, with errors that name the missing setting.
package boot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc/aws/emf"
)

// Logger logs JSON to stdout, which Lambda ships to CloudWatch Logs.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
}

// Metrics returns EMF metrics with the FunctionName dimension.
func Metrics() *emf.Metrics {
	return &emf.Metrics{Dimensions: map[string]string{"FunctionName": os.Getenv("AWS_LAMBDA_FUNCTION_NAME")}}
}

// Fatal logs why the function cannot start and exits; Lambda reports it as
// an init error with this message.
func Fatal(log *slog.Logger, msg string, err error) {
	log.Error(msg, "err", err)
	fmt.Fprintf(os.Stderr, "%s: %v\n", msg, err)
	os.Exit(1)
}

// Env returns a required environment variable.
func Env(key string) (string, error) {
	v := os.Getenv(key)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set (template.yaml sets it on the function)", key)
	}
	return v, nil
}

// EnvInt returns an optional integer environment variable.
func EnvInt(key string, def int) (int, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("environment variable %s=%q is not an integer", key, v)
	}
	return n, nil
}

// WithMetrics wraps a handler so its metrics are written as one EMF line
// after every invocation, success or not.
func WithMetrics[E, R any](m *emf.Metrics, w io.Writer, h func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) {
		r, err := h(ctx, ev)
		if ferr := m.Flush(w); ferr != nil {
			slog.Default().Warn("writing metrics failed", "err", ferr)
		}
		return r, err
	}
}

// AWSConfig loads the default AWS configuration (the Lambda role's
// credentials and region). AWS_ENDPOINT_URL_<SERVICE> overrides endpoints,
// which is how tests point the bootstraps at local emulators.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// S3Client returns an S3 client; S3_USE_PATH_STYLE=true selects path-style
// addressing, which S3-compatible test servers need.
func S3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = os.Getenv("S3_USE_PATH_STYLE") == "true"
	})
}
