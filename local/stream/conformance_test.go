package stream

import (
	"testing"

	"github.com/streamproc/streamproc/internal/porttest/streamtest"
)

// TestConformance runs the shared streamproc.StreamWriter suite, the same
// bodies the Kinesis adapter passes against kinesalite.
func TestConformance(t *testing.T) {
	streamtest.Run(t, func(t *testing.T, streams ...streamtest.Spec) streamtest.Backend {
		e := mustOpen(t, "", Options{})
		for _, s := range streams {
			mustCreate(t, e, s.Name, s.Shards)
		}
		return streamtest.Backend{
			Writer: e,
			Records: func(t *testing.T, stream, shardID string) []streamtest.Stored {
				t.Helper()
				recs, _ := readAll(t, e, stream, shardID, mustIter(t, e, stream, shardID, Position{Type: TrimHorizon}))
				out := make([]streamtest.Stored, len(recs))
				for i, r := range recs {
					out[i] = streamtest.Stored{PartitionKey: r.PartitionKey, Data: r.Data, SequenceNumber: r.SequenceNumber}
				}
				return out
			},
		}
	})
}
