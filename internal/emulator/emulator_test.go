package emulator_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/streamproc/streamproc/internal/emulator"
)

// TestEmulators starts each emulator and makes one call through the client
// the helpers build, which shows the endpoint, credentials and addressing
// style are right.
func TestEmulators(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(t *testing.T) error
	}{
		{"kinesalite", func(t *testing.T) error {
			_, err := emulator.KinesisClient(emulator.Kinesalite(t)).ListStreams(ctx, &kinesis.ListStreamsInput{})
			return err
		}},
		{"dynalite", func(t *testing.T) error {
			_, err := emulator.DynamoDBClient(emulator.Dynalite(t)).ListTables(ctx, &dynamodb.ListTablesInput{})
			return err
		}},
		{"s3rver", func(t *testing.T) error {
			c := emulator.S3Client(emulator.S3rver(t, "bucket"))
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k"), Body: bytes.NewReader([]byte("v"))}); err != nil {
				return err
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k")})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			b, err := io.ReadAll(out.Body)
			if err == nil && string(b) != "v" {
				t.Errorf("GetObject = %q, want %q", b, "v")
			}
			return err
		}},
		{"moto", func(t *testing.T) error {
			_, err := emulator.SSMClient(emulator.Moto(t)).DescribeParameters(ctx, &ssm.DescribeParametersInput{})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.call(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}
