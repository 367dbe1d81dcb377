package deadletter_test

import (
	"context"
	"fmt"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/deadletter"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/porttest/deadlettertest"
)

// TestConformance runs the shared streamproc.DeadLetterSink suite, the same
// bodies the local dead-letter queue passes, on each bucket the sink runs
// on. Letters are read back from the objects in the bucket.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the function that opens an empty bucket for each
		// subtest.
		setup func(t *testing.T) func(t *testing.T) (deadletter.Objects, string, *blob.Bucket)
	}{
		{"s3rver", s3rverParts},
		{"fileblob", func(*testing.T) func(t *testing.T) (deadletter.Objects, string, *blob.Bucket) {
			return func(t *testing.T) (deadletter.Objects, string, *blob.Bucket) {
				objs, b := backends()[1].open(t)
				return objs, "", b
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open := tc.setup(t)
			deadlettertest.Run(t, func(t *testing.T) deadlettertest.Backend {
				objs, prefix, b := open(t)
				return deadlettertest.Backend{
					Sink: deadletter.New(objs, deadletter.Options{Prefix: prefix}),
					Stored: func(t *testing.T) []streamproc.DeadLetter {
						t.Helper()
						var all []streamproc.DeadLetter
						for _, letters := range objects(t, b) {
							all = append(all, letters...)
						}
						return all
					},
				}
			})
		})
	}
}

// s3rverParts starts one s3rver for all of the suite's subtests (each start
// takes about a second) and has each subtest write under a prefix of its
// own and read a view of the bucket under it, so each starts empty.
func s3rverParts(t *testing.T) func(t *testing.T) (deadletter.Objects, string, *blob.Bucket) {
	client := emulator.S3Client(emulator.S3rver(t, bucketName))
	n := 0
	return func(t *testing.T) (deadletter.Objects, string, *blob.Bucket) {
		raw, err := s3blob.OpenBucket(context.Background(), client, bucketName, nil)
		if err != nil {
			t.Fatal(err)
		}
		n++
		sub := fmt.Sprintf("subtest-%d/", n)
		// PrefixedBucket takes over raw: closing the view closes both.
		b := blob.PrefixedBucket(raw, sub)
		t.Cleanup(func() { b.Close() })
		return deadletter.S3(client, bucketName), sub + deadletter.DefaultPrefix, b
	}
}
