package deadletter

import (
	"context"
	"testing"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/internal/porttest/deadlettertest"
)

// TestConformance runs the shared streamproc.DeadLetterSink suite, the same
// bodies the object-store sink passes on s3rver. Letters are read back by a
// second Queue on the directory, as the `streamproc dlq` command reads
// them, so only what reached the files counts.
func TestConformance(t *testing.T) {
	deadlettertest.Run(t, func(t *testing.T) deadlettertest.Backend {
		dir := t.TempDir()
		return deadlettertest.Backend{
			Sink: open(t, dir),
			Stored: func(t *testing.T) []streamproc.DeadLetter {
				t.Helper()
				r := open(t, dir)
				fns, err := r.Functions()
				if err != nil {
					t.Fatal(err)
				}
				var all []streamproc.DeadLetter
				for _, fn := range fns {
					if err := r.Read(context.Background(), fn, func(l streamproc.DeadLetter) error {
						all = append(all, l)
						return nil
					}); err != nil {
						t.Fatalf("Read(%s): %v", fn, err)
					}
				}
				return all
			},
		}
	})
}
