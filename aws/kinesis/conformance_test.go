package kinesis_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamproc/streamproc/aws/kinesis"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/porttest/streamtest"
)

// TestConformance runs the shared streamproc.StreamWriter suite against
// kinesalite with the real SDK client: the same bodies the embedded stream
// engine passes. Records are read back with GetRecords from the trim
// horizon.
func TestConformance(t *testing.T) {
	client := emulator.KinesisClient(emulator.Kinesalite(t))
	streamtest.Run(t, func(t *testing.T, streams ...streamtest.Spec) streamtest.Backend {
		for _, s := range streams {
			createStream(t, client, s.Name, int32(s.Shards))
			// One kinesalite serves every subtest and caps an account at
			// 100 shards, so each subtest's streams go when it ends.
			t.Cleanup(func() { deleteStream(t, client, s.Name) })
		}
		return streamtest.Backend{
			Writer: kinesis.New(client),
			Records: func(t *testing.T, stream, shardID string) []streamtest.Stored {
				t.Helper()
				var out []streamtest.Stored
				for _, r := range landed(t, client, stream)[shardID] {
					out = append(out, streamtest.Stored{PartitionKey: aws.ToString(r.PartitionKey), Data: r.Data, SequenceNumber: aws.ToString(r.SequenceNumber)})
				}
				return out
			},
		}
	})
}

func deleteStream(t *testing.T, c *awskinesis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.DeleteStream(ctx, &awskinesis.DeleteStreamInput{StreamName: aws.String(name)}); err != nil {
		t.Errorf("DeleteStream %s: %v", name, err)
		return
	}
	w := awskinesis.NewStreamNotExistsWaiter(c, func(o *awskinesis.StreamNotExistsWaiterOptions) { o.MinDelay = 10 * time.Millisecond })
	if err := w.Wait(ctx, &awskinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Errorf("stream %s not deleted: %v", name, err)
	}
}
