package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/queue"
)

func TestConfigValidate(t *testing.T) {
	base := DefaultConfig()
	base.FunctionName, base.StreamName, base.StartingPosition = "fn", "s", TrimHorizon
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string // exact message; "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero values mean unset", func(c *Config) { c.BatchSize, c.ParallelizationFactor, c.MaximumRecordAge = 0, 0, 0 }, ""},
		{"batch size too big", func(c *Config) { c.BatchSize = 10001 },
			"1 validation error detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"negative batch size", func(c *Config) { c.BatchSize = -1 },
			"1 validation error detected: Value '-1' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"batching window", func(c *Config) { c.MaximumBatchingWindow = 301 * time.Second },
			"1 validation error detected: Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300"},
		{"parallelization", func(c *Config) { c.ParallelizationFactor = 11 },
			"1 validation error detected: Value '11' at 'parallelizationFactor' failed to satisfy constraint: Member must have value less than or equal to 10"},
		{"retry attempts low", func(c *Config) { c.MaximumRetryAttempts = -2 },
			"1 validation error detected: Value '-2' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to -1"},
		{"retry attempts high", func(c *Config) { c.MaximumRetryAttempts = 10001 },
			"1 validation error detected: Value '10001' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 10000"},
		{"two errors", func(c *Config) { c.BatchSize, c.TumblingWindow = 10001, 901*time.Second },
			"2 validation errors detected: Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000; Value '901' at 'tumblingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 900"},
		{"record age 59", func(c *Config) { c.MaximumRecordAge = 59 * time.Second },
			"MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)"},
		{"record age 60", func(c *Config) { c.MaximumRecordAge = 60 * time.Second }, ""},
		{"record age max", func(c *Config) { c.MaximumRecordAge = 604800 * time.Second }, ""},
		{"record age too big", func(c *Config) { c.MaximumRecordAge = 604801 * time.Second },
			"1 validation error detected: Value '604801' at 'maximumRecordAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to 604800"},
		{"starting position enum", func(c *Config) { c.StartingPosition = "EARLIEST" },
			"1 validation error detected: Value 'EARLIEST' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]"},
		{"starting position missing", func(c *Config) { c.StartingPosition = "" }, "StartingPosition is required for Kinesis event sources."},
		{"at timestamp without time", func(c *Config) { c.StartingPosition = AtTimestamp },
			"StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP."},
		{"no function", func(c *Config) { c.FunctionName = "" }, "FunctionName is required."},
		{"fractional window", func(c *Config) { c.MaximumBatchingWindow = 1500 * time.Millisecond },
			"MaximumBatchingWindowInSeconds must be a whole number of seconds, got 1.5s."},
		{"tumbling window max", func(c *Config) { c.TumblingWindow = 900 * time.Second }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Validate = %v\nwant        %s", err, tc.want)
			}
			if !errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid")
			}
		})
	}
}

func TestEventShape(t *testing.T) {
	h := newHarness(t, 1)
	seqs := h.put("user-1", "hello")
	rec := newRecorder(nil)
	m := h.start(h.config(), rec.invoke, h.options())
	c := rec.waitCalls(t, 1)[0]
	if len(c.ev.Records) != 1 {
		t.Fatalf("records = %d", len(c.ev.Records))
	}
	r := c.ev.Records[0]
	want := events.KinesisEventRecord{
		AwsRegion:         "us-east-2",
		EventID:           "shardId-000000000000:" + seqs[0],
		EventName:         "aws:kinesis:record",
		EventSource:       "aws:kinesis",
		EventSourceArn:    "arn:aws:kinesis:us-east-2:123456789012:stream/events",
		EventVersion:      "1.0",
		InvokeIdentityArn: "arn:aws:iam::123456789012:role/consumerRole",
		Kinesis: events.KinesisRecord{
			ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: t0},
			Data:                        []byte("hello"),
			PartitionKey:                "user-1",
			SequenceNumber:              seqs[0],
			KinesisSchemaVersion:        "1.0",
		},
	}
	gotJSON, _ := json.Marshal(r)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("record\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if !strings.Contains(string(gotJSON), `"approximateArrivalTimestamp":1795694407`) {
		t.Errorf("arrival is not epoch seconds: %s", gotJSON)
	}
	if c.ev.TimeWindowProperties.ShardID != "" || c.ev.State != nil {
		t.Errorf("plain mapping got window properties: %+v", c.ev.TimeWindowProperties)
	}
	if want := "arn:aws:lambda:us-east-2:123456789012:function:consumer"; m.functionARN != want {
		t.Errorf("function ARN %s, want %s", m.functionARN, want)
	}
}

func TestBatchSize(t *testing.T) {
	h := newHarness(t, 1)
	seqs := h.put("k", "1", "k", "2", "k", "3", "k", "4", "k", "5", "k", "6", "k", "7")
	cfg := h.config()
	cfg.BatchSize = 3
	rec := newRecorder(nil)
	m := h.start(cfg, rec.invoke, h.options())
	calls := rec.waitCalls(t, 3)
	var sizes []int
	for _, c := range calls {
		sizes = append(sizes, len(c.seqs))
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Fatalf("batch sizes %v, want [3 3 1]", sizes)
	}
	got, _ := flatten(calls)
	if !slices.Equal(got, seqs) {
		t.Fatalf("records out of order or duplicated")
	}
	waitUntil(t, "checkpoint", func() bool { return m.checkpoint() == seqs[6] })
}

func TestBatchingWindow(t *testing.T) {
	t.Run("waits for the window", func(t *testing.T) {
		h := newHarness(t, 1)
		seqs := h.put("a", "1", "b", "2", "c", "3")
		cfg := h.config()
		cfg.MaximumBatchingWindow = 10 * time.Second
		rec := newRecorder(nil)
		m := h.start(cfg, rec.invoke, h.options())
		waitUntil(t, "records read", func() bool { return m.Stats().RecordsRead == 3 })
		m.settle(20)
		h.clk.Advance(9 * time.Second)
		m.settle(20)
		if n := len(rec.snapshot()); n != 0 {
			t.Fatalf("invoked %d times before the batching window elapsed", n)
		}
		h.clk.Advance(time.Second)
		c := rec.waitCalls(t, 1)[0]
		if !slices.Equal(c.seqs, seqs) {
			t.Fatalf("batch %v, want all three records", c.seqs)
		}
	})
	t.Run("a full batch does not wait", func(t *testing.T) {
		h := newHarness(t, 1)
		h.put("a", "1", "b", "2", "c", "3")
		cfg := h.config()
		cfg.BatchSize = 2
		cfg.MaximumBatchingWindow = 300 * time.Second
		rec := newRecorder(nil)
		m := h.start(cfg, rec.invoke, h.options())
		if c := rec.waitCalls(t, 1)[0]; len(c.seqs) != 2 {
			t.Fatalf("first batch has %d records, want 2", len(c.seqs))
		}
		m.settle(20)
		if n := len(rec.snapshot()); n != 1 {
			t.Fatalf("the partial second batch did not wait for its window (%d calls)", n)
		}
		h.clk.Advance(300 * time.Second)
		if c := rec.waitCalls(t, 2)[1]; len(c.seqs) != 1 {
			t.Fatalf("second batch has %d records, want 1", len(c.seqs))
		}
	})
}

func TestPayloadCap6MB(t *testing.T) {
	h := newHarness(t, 1)
	var seqs []string
	for i := range 10 {
		data := strings.Repeat(strconv.Itoa(i), 1_000_000)
		seqs = append(seqs, h.putRecords(streamproc.Record{PartitionKey: "k", Data: []byte(data)})...)
	}
	var sizes []int
	var mu sync.Mutex
	rec := newRecorder(func(_ int, c call) (*events.KinesisTimeWindowEventResponse, error) {
		b, err := json.Marshal(c.ev)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		sizes = append(sizes, len(b))
		mu.Unlock()
		return nil, nil
	})
	cfg := h.config()
	cfg.BatchSize = 10000
	m := h.start(cfg, rec.invoke, h.options())
	waitUntil(t, "all records", func() bool { return m.checkpoint() == seqs[9] })
	calls := rec.snapshot()
	got, _ := flatten(calls)
	if !slices.Equal(got, seqs) {
		t.Fatalf("records out of order or duplicated: %d delivered", len(got))
	}
	mu.Lock()
	defer mu.Unlock()
	for i, c := range calls {
		if sizes[i] > MaxPayloadBytes {
			t.Errorf("invocation %d is %d bytes of JSON, over the 6 MB cap", i, sizes[i])
		}
		if len(c.seqs) > 4 {
			t.Errorf("invocation %d has %d records of 1 MB (base64 1.33 MB): over the cap", i, len(c.seqs))
		}
	}
	if len(calls[0].seqs) != 4 {
		t.Errorf("first batch has %d records, want the 4 that fit", len(calls[0].seqs))
	}
}

func TestRetryAttemptsExhausted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		retries  int
		failWith func() (*events.KinesisTimeWindowEventResponse, error)
	}{
		{"no retries", 0, func() (*events.KinesisTimeWindowEventResponse, error) { return nil, errors.New("boom") }},
		{"two retries", 2, func() (*events.KinesisTimeWindowEventResponse, error) { return nil, errors.New("boom") }},
		{"timeout is a function error", 3, func() (*events.KinesisTimeWindowEventResponse, error) {
			return nil, fmt.Errorf("Task timed out after 3.00 seconds: %w", context.DeadlineExceeded)
		}},
		{"panic is a function error", 1, func() (*events.KinesisTimeWindowEventResponse, error) { panic("handler bug") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1)
			h.dest.fail = 2 // the destination's own failures are retried too
			seqs := h.put("k", "poison", "k", "good")
			cfg := h.config()
			cfg.BatchSize = 1
			cfg.MaximumRetryAttempts = tc.retries
			rec := newRecorder(func(_ int, c call) (*events.KinesisTimeWindowEventResponse, error) {
				if c.data[0] == "poison" {
					return tc.failWith()
				}
				return nil, nil
			})
			m := h.start(cfg, rec.invoke, h.options())
			waitUntil(t, "checkpoint past both", func() bool { return m.checkpoint() == seqs[1] })
			calls := rec.snapshot()
			if len(calls) != tc.retries+2 {
				t.Fatalf("%d invocations, want %d for the poison record + 1", len(calls), tc.retries+1)
			}
			for i, c := range calls[:tc.retries+1] {
				if !slices.Equal(c.seqs, seqs[:1]) {
					t.Fatalf("invocation %d = %v, want the poison record", i, c.data)
				}
			}
			frs := h.dest.records(t)
			if len(frs) != 1 {
				t.Fatalf("%d failure records, want 1", len(frs))
			}
			fr := frs[0]
			if fr.RequestContext.Condition != ConditionRetryAttemptsExhausted || fr.RequestContext.ApproximateInvokeCount != tc.retries+1 {
				t.Errorf("requestContext %+v, want RetryAttemptsExhausted with approximateInvokeCount %d", fr.RequestContext, tc.retries+1)
			}
			if fr.ResponseContext == nil || fr.ResponseContext.FunctionError != "Unhandled" {
				t.Errorf("responseContext %+v, want functionError Unhandled", fr.ResponseContext)
			}
			if st := m.Stats(); st.Retries != int64(tc.retries) || st.RecordsDiscarded != 1 || st.RecordsSucceeded != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestBisectIsolatesPoisonRecord(t *testing.T) {
	h := newHarness(t, 1)
	var kv []string
	for i := range 8 {
		d := fmt.Sprintf("r%d", i)
		if i == 5 {
			d = "poison"
		}
		kv = append(kv, "k", d)
	}
	seqs := h.put(kv...)
	cfg := h.config()
	cfg.BisectBatchOnFunctionError = true
	cfg.MaximumRetryAttempts = 0
	var delivered []string
	var mu sync.Mutex
	rec := newRecorder(func(_ int, c call) (*events.KinesisTimeWindowEventResponse, error) {
		if slices.Contains(c.data, "poison") {
			return nil, errors.New("cannot parse")
		}
		mu.Lock()
		delivered = append(delivered, c.data...)
		mu.Unlock()
		return nil, nil
	})
	m := h.start(cfg, rec.invoke, h.options())
	waitUntil(t, "checkpoint at the end", func() bool { return m.checkpoint() == seqs[7] })

	frs := h.dest.records(t)
	if len(frs) != 1 {
		t.Fatalf("%d failure records, want 1", len(frs))
	}
	bi := frs[0].KinesisBatchInfo
	if bi.StartSequenceNumber != seqs[5] || bi.EndSequenceNumber != seqs[5] || bi.BatchSize != 1 {
		t.Errorf("failure record covers %s..%s (%d), want only the poison record", bi.StartSequenceNumber, bi.EndSequenceNumber, bi.BatchSize)
	}
	if n := frs[0].RequestContext.ApproximateInvokeCount; n != 1 {
		t.Errorf("approximateInvokeCount %d, want 1 (bisection uses no attempts)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"r0", "r1", "r2", "r3", "r4", "r6", "r7"}; !slices.Equal(delivered, want) {
		t.Fatalf("delivered %v, want %v", delivered, want)
	}
	// [0..8) fails → [0..4) ok, [4..8) fails → [4,5) fails → [4] ok, [5] fails → discard, then [6,7] ok.
	var shapes []int
	for _, c := range rec.snapshot() {
		shapes = append(shapes, len(c.seqs))
	}
	if want := []int{8, 4, 4, 2, 1, 1, 2}; !slices.Equal(shapes, want) {
		t.Errorf("invocation sizes %v, want %v", shapes, want)
	}
}

func TestPartialFailureCheckpointing(t *testing.T) {
	for _, bisect := range []bool{false, true} {
		t.Run(fmt.Sprintf("bisect=%v", bisect), func(t *testing.T) {
			h := newHarness(t, 1)
			seqs := h.put("k", "0", "k", "1", "k", "2", "k", "3", "k", "4")
			cfg := h.config()
			cfg.ReportBatchItemFailures = true
			cfg.BisectBatchOnFunctionError = bisect
			release := make(chan struct{})
			rec := newRecorder(func(n int, c call) (*events.KinesisTimeWindowEventResponse, error) {
				switch n {
				case 0:
					// Report two failures: the lowest one counts.
					return partial(seqs[3], seqs[2]), nil
				case 1:
					<-release
				}
				return nil, nil
			})
			m := h.start(cfg, rec.invoke, h.options())
			calls := rec.waitCalls(t, 2)
			if !slices.Equal(calls[1].seqs, seqs[2:]) {
				t.Fatalf("retry has %v, want the records from the lowest failure on", calls[1].data)
			}
			waitUntil(t, "checkpoint before the failed record", func() bool { return m.checkpoint() == seqs[1] })
			close(release)
			waitUntil(t, "checkpoint at the end", func() bool { return m.checkpoint() == seqs[4] })
			if n := len(rec.snapshot()); n != 2 {
				t.Fatalf("%d invocations, want 2", n)
			}
			wantRetries := int64(1)
			if bisect {
				wantRetries = 0 // bisecting at the returned number is a split, not an attempt
			}
			if got := m.Stats().Retries; got != wantRetries {
				t.Errorf("retries %d, want %d", got, wantRetries)
			}
		})
	}
}

func TestPartialResponses(t *testing.T) {
	for _, tc := range []struct {
		name        string
		enabled     bool
		resp        func(seqs []string) *events.KinesisTimeWindowEventResponse
		wantRetried bool // the whole batch comes again
	}{
		{"empty list is success", true, func([]string) *events.KinesisTimeWindowEventResponse { return partial() }, false},
		{"null response is success", true, func([]string) *events.KinesisTimeWindowEventResponse { return nil }, false},
		{"empty identifier fails the batch", true, func([]string) *events.KinesisTimeWindowEventResponse { return partial("") }, true},
		{"identifier not in the batch fails the batch", true, func([]string) *events.KinesisTimeWindowEventResponse {
			return partial("49000000000000000000000000000000000000000000000000000001")
		}, true},
		{"one bad identifier among good ones fails the batch", true, func(s []string) *events.KinesisTimeWindowEventResponse { return partial(s[1], "x") }, true},
		{"feature disabled ignores the response", false, func(s []string) *events.KinesisTimeWindowEventResponse { return partial(s[0]) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1)
			seqs := h.put("k", "0", "k", "1", "k", "2")
			cfg := h.config()
			cfg.ReportBatchItemFailures = tc.enabled
			rec := newRecorder(func(n int, c call) (*events.KinesisTimeWindowEventResponse, error) {
				if n == 0 {
					return tc.resp(seqs), nil
				}
				return nil, nil
			})
			m := h.start(cfg, rec.invoke, h.options())
			waitUntil(t, "checkpoint at the end", func() bool { return m.checkpoint() == seqs[2] })
			calls := rec.snapshot()
			if tc.wantRetried {
				if len(calls) != 2 || !slices.Equal(calls[1].seqs, seqs) {
					t.Fatalf("want the whole batch retried once; calls: %d", len(calls))
				}
				if st := m.Stats(); st.RejectedResponses != 1 || st.FunctionErrors != 0 {
					t.Errorf("stats %+v, want one rejected response and no function error", st)
				}
			} else if len(calls) != 1 {
				t.Fatalf("%d invocations, want 1", len(calls))
			}
		})
	}
}

func TestMaximumRecordAge(t *testing.T) {
	t.Run("old head records are dropped before invoking", func(t *testing.T) {
		h := newHarness(t, 1)
		old := h.put("k", "old1", "k", "old2")
		h.clk.Advance(61 * time.Second)
		fresh := h.put("k", "fresh")
		cfg := h.config()
		cfg.MaximumRecordAge = 60 * time.Second
		rec := newRecorder(nil)
		m := h.start(cfg, rec.invoke, h.options())
		waitUntil(t, "checkpoint", func() bool { return m.checkpoint() == fresh[0] })
		calls := rec.snapshot()
		if len(calls) != 1 || !slices.Equal(calls[0].seqs, fresh) {
			t.Fatalf("invocations %+v, want only the fresh record", calls)
		}
		frs := h.dest.records(t)
		if len(frs) != 1 {
			t.Fatalf("%d failure records", len(frs))
		}
		fr := frs[0]
		if fr.RequestContext.Condition != ConditionRecordAgeExceeded || fr.RequestContext.ApproximateInvokeCount != 0 || fr.ResponseContext != nil {
			t.Errorf("failure record %+v", fr)
		}
		if bi := fr.KinesisBatchInfo; bi.StartSequenceNumber != old[0] || bi.EndSequenceNumber != old[1] || bi.BatchSize != 2 {
			t.Errorf("batch info %+v", bi)
		}
	})
	t.Run("records that age out while retried", func(t *testing.T) {
		h := newHarness(t, 1)
		seqs := h.put("k", "poison")
		cfg := h.config()
		cfg.MaximumRecordAge = 60 * time.Second // MaximumRetryAttempts stays -1: only age ends this
		rec := newRecorder(func(_ int, c call) (*events.KinesisTimeWindowEventResponse, error) {
			if len(c.data) > 0 && c.data[0] == "poison" {
				return nil, errors.New("boom")
			}
			return nil, nil
		})
		m := h.start(cfg, rec.invoke, h.options())
		rec.waitCalls(t, 3)
		h.clk.Advance(61 * time.Second)
		fr := h.dest.waitRecords(t, 1)[0]
		if fr.RequestContext.Condition != ConditionRecordAgeExceeded || fr.RequestContext.ApproximateInvokeCount < 3 {
			t.Errorf("request context %+v", fr.RequestContext)
		}
		if fr.ResponseContext == nil || fr.ResponseContext.FunctionError != "Unhandled" {
			t.Errorf("response context %+v", fr.ResponseContext)
		}
		waitUntil(t, "checkpoint past the poison record", func() bool { return m.checkpoint() == seqs[0] })
		next := h.put("k", "next")
		waitUntil(t, "next record", func() bool { return m.checkpoint() == next[0] })
	})
}

func TestOnFailureRecordShape(t *testing.T) {
	h := newHarness(t, 1)
	q, err := queue.OpenWithOptions(t.TempDir(), queue.Options{Now: h.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	first := h.put("a", "x")
	h.clk.Advance(1500 * time.Millisecond)
	last := h.put("b", "y")
	cfg := h.config()
	cfg.MaximumRetryAttempts = 1
	opts := h.options()
	opts.OnFailure = q.Destination("consumer-dlq")
	rec := newRecorder(func(int, call) (*events.KinesisTimeWindowEventResponse, error) { return nil, errors.New("boom") })
	m := h.start(cfg, rec.invoke, opts)
	waitUntil(t, "discard", func() bool { return m.checkpoint() == last[0] })

	var bodies []string
	if err := q.Read(context.Background(), "consumer-dlq", func(msg queue.Message) error {
		bodies = append(bodies, msg.Body)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 1 {
		t.Fatalf("%d messages, want 1", len(bodies))
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(bodies[0]), &got); err != nil {
		t.Fatal(err)
	}
	reqID := got["requestContext"].(map[string]any)["requestId"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(reqID) {
		t.Errorf("requestId %q is not a UUID", reqID)
	}
	want := map[string]any{
		"requestContext": map[string]any{
			"requestId":              reqID,
			"functionArn":            "arn:aws:lambda:us-east-2:123456789012:function:consumer",
			"condition":              "RetryAttemptsExhausted",
			"approximateInvokeCount": 2.0,
		},
		"responseContext": map[string]any{
			"statusCode":      200.0,
			"executedVersion": "$LATEST",
			"functionError":   "Unhandled",
		},
		"version":   "1.0",
		"timestamp": "2026-11-26T12:00:08.500Z",
		"KinesisBatchInfo": map[string]any{
			"shardId":                         "shardId-000000000000",
			"startSequenceNumber":             first[0],
			"endSequenceNumber":               last[0],
			"approximateArrivalOfFirstRecord": "2026-11-26T12:00:07.000Z",
			"approximateArrivalOfLastRecord":  "2026-11-26T12:00:08.500Z",
			"batchSize":                       2.0,
			"streamArn":                       "arn:aws:kinesis:us-east-2:123456789012:stream/events",
		},
	}
	gotJSON, _ := json.MarshalIndent(got, "", " ")
	wantJSON, _ := json.MarshalIndent(want, "", " ")
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("failure record\n got %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestThrottlesDoNotUseAttempts(t *testing.T) {
	h := newHarness(t, 1)
	seqs := h.put("k", "x")
	cfg := h.config()
	cfg.MaximumRetryAttempts = 0
	rec := newRecorder(func(n int, _ call) (*events.KinesisTimeWindowEventResponse, error) {
		if n < 3 {
			return nil, fmt.Errorf("%w: no concurrency", ErrThrottled)
		}
		return nil, nil
	})
	m := h.start(cfg, rec.invoke, h.options())
	waitUntil(t, "checkpoint", func() bool { return m.checkpoint() == seqs[0] })
	st := m.Stats()
	if st.Throttles != 3 || st.Invocations != 1 || st.RecordsSucceeded != 1 || st.RecordsDiscarded != 0 {
		t.Fatalf("stats %+v", st)
	}
	if n := len(h.dest.records(t)); n != 0 {
		t.Fatalf("%d failure records after throttles", n)
	}
}

// keysForLanes returns perLane keys for each of n lanes.
func keysForLanes(n, perLane int) []string {
	got := make([][]string, n)
	var keys []string
	for i := 0; len(keys) < n*perLane; i++ {
		k := fmt.Sprintf("user-%d", i)
		if l := laneFor(k, n); len(got[l]) < perLane {
			got[l] = append(got[l], k)
			keys = append(keys, k)
		}
	}
	return keys
}

func TestParallelizationKeepsPerKeyOrder(t *testing.T) {
	h := newHarness(t, 1)
	keys := keysForLanes(4, 2)
	const perKey = 6
	var kv []string
	for i := range perKey {
		for _, k := range keys {
			kv = append(kv, k, fmt.Sprintf("%s/%d", k, i))
		}
	}
	seqs := h.put(kv...)
	cfg := h.config()
	cfg.ParallelizationFactor = 4
	cfg.BatchSize = 5

	var (
		inflight, maxInflight atomic.Int32
		overlap               = make(chan struct{})
		overlapOnce           sync.Once
		mu                    sync.Mutex
		active                = map[string]bool{}
		seen                  = map[string][]int{}
		violation             string
	)
	rec := newRecorder(func(_ int, c call) (*events.KinesisTimeWindowEventResponse, error) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		batchKeys := map[string]bool{}
		for i, k := range c.keys {
			if active[k] && !batchKeys[k] {
				violation = "key " + k + " in two concurrent invocations"
			}
			batchKeys[k] = true
			idx, _ := strconv.Atoi(c.data[i][strings.IndexByte(c.data[i], '/')+1:])
			seen[k] = append(seen[k], idx)
		}
		for k := range batchKeys {
			active[k] = true
		}
		mu.Unlock()
		if n >= 2 {
			overlapOnce.Do(func() { close(overlap) })
		}
		select { // hold the first invocation until another lane runs
		case <-overlap:
		case <-time.After(wait):
		}
		mu.Lock()
		for k := range batchKeys {
			delete(active, k)
		}
		mu.Unlock()
		return nil, nil
	})
	m := h.start(cfg, rec.invoke, h.options())
	waitUntil(t, "checkpoint at the end", func() bool { return m.checkpoint() == seqs[len(seqs)-1] })
	if maxInflight.Load() < 2 {
		t.Fatalf("never more than one invocation at once")
	}
	mu.Lock()
	defer mu.Unlock()
	if violation != "" {
		t.Fatal(violation)
	}
	for _, k := range keys {
		if want := []int{0, 1, 2, 3, 4, 5}; !slices.Equal(seen[k], want) {
			t.Errorf("key %s delivered as %v, want %v", k, seen[k], want)
		}
	}
}

func TestParallelizationCheckpointIsSafeMinimum(t *testing.T) {
	h := newHarness(t, 1)
	keys := keysForLanes(2, 1)
	slow, fast := keys[0], keys[1]
	seqs := h.put(slow, "s0", fast, "f0", fast, "f1", slow, "s1")
	cfg := h.config()
	cfg.ParallelizationFactor = 2
	release := make(chan struct{})
	inv := func(ctx context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
		if ev.Records[0].Kinesis.PartitionKey == slow {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return nil, nil
	}
	m := h.start(cfg, inv, h.options())
	// The fast lane is idle once it has finished (and tried to save).
	waitUntil(t, "fast lane done", func() bool {
		st := m.Stats()
		return st.RecordsSucceeded == 2 && st.Shards[0].Busy == 1
	})
	if cp := m.checkpoint(); cp != "" {
		t.Fatalf("checkpoint %s moved past the slow lane's unfinished record", cp)
	}
	close(release)
	waitUntil(t, "checkpoint at the end", func() bool { return m.checkpoint() == seqs[3] })
}

func TestTumblingWindow(t *testing.T) {
	h := newHarness(t, 1)
	h.clk.Advance(3 * time.Second) // 12:00:10
	w1 := h.put("a", "1", "b", "2")
	cfg := h.config()
	cfg.TumblingWindow = time.Minute
	cfg.ParallelizationFactor = 3 // ignored: the state is per shard
	rec := newRecorder(func(_ int, c call) (*events.KinesisTimeWindowEventResponse, error) {
		if c.final {
			return withState(map[string]string{}), nil
		}
		n, _ := strconv.Atoi(c.state["n"])
		return withState(map[string]string{"n": strconv.Itoa(n + len(c.seqs))}), nil
	})
	m := h.start(cfg, rec.invoke, h.options())
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)

	c := rec.waitCalls(t, 1)[0]
	if !slices.Equal(c.seqs, w1) || c.final || c.early || c.state == nil || len(c.state) != 0 {
		t.Fatalf("first invocation %+v, want both records with an empty state", c)
	}
	if !c.window.Start.Equal(start) || !c.window.End.Equal(end) {
		t.Fatalf("window %v–%v, want %v–%v (aligned to the minute)", c.window.Start, c.window.End, start, end)
	}
	if c.ev.ShardID != "shardId-000000000000" || c.ev.EventSourceARN != "arn:aws:kinesis:us-east-2:123456789012:stream/events" {
		t.Errorf("window event shardId %q eventSourceARN %q", c.ev.ShardID, c.ev.EventSourceARN)
	}

	h.clk.Advance(20 * time.Second) // 12:00:30
	more := h.put("c", "3")
	c = rec.waitCalls(t, 2)[1]
	if !slices.Equal(c.seqs, more) || c.state["n"] != "2" || c.final {
		t.Fatalf("second invocation %+v, want the new record and state n=2", c)
	}
	m.settle(20)
	if n := len(rec.snapshot()); n != 2 {
		t.Fatalf("%d invocations before the window ended", n)
	}
	if cp := m.checkpoint(); cp != "" {
		t.Fatalf("checkpoint %s moved before the final invocation", cp)
	}
	// The open window, with the state the function returned last.
	if ow := m.OpenWindows(); len(ow) != 1 || !ow[0].Start.Equal(start) || !ow[0].End.Equal(end) || ow[0].State["n"] != "3" {
		t.Fatalf("OpenWindows() = %+v, want %v–%v with n=3", ow, start, end)
	}

	h.clk.Set(end)
	c = rec.waitCalls(t, 3)[2]
	if !c.final || c.early || len(c.seqs) != 0 || c.state["n"] != "3" || !c.window.Start.Equal(start) {
		t.Fatalf("final invocation %+v, want no records, state n=3", c)
	}
	if c.ev.Records == nil {
		t.Errorf("final invocation has null Records, want []")
	}
	waitUntil(t, "checkpoint after the final invocation", func() bool { return m.checkpoint() == more[0] })
	if ow := m.OpenWindows(); len(ow) != 0 {
		t.Fatalf("OpenWindows() after the final invocation = %+v, want none", ow)
	}

	h.clk.Advance(5 * time.Second)
	next := h.put("d", "4")
	c = rec.waitCalls(t, 4)[3]
	if !slices.Equal(c.seqs, next) || len(c.state) != 0 || !c.window.Start.Equal(end) {
		t.Fatalf("next window's first invocation %+v, want a fresh state in the next window", c)
	}
}

func TestTumblingWindowClosedByLaterRecord(t *testing.T) {
	h := newHarness(t, 1)
	a := h.put("k", "a")
	h.clk.Advance(time.Minute) // 12:01:07: the next window
	b := h.put("k", "b")
	cfg := h.config()
	cfg.TumblingWindow = time.Minute
	rec := newRecorder(func(_ int, c call) (*events.KinesisTimeWindowEventResponse, error) {
		return withState(map[string]string{"last": strings.Join(c.data, ",")}), nil
	})
	m := h.start(cfg, rec.invoke, h.options())
	calls := rec.waitCalls(t, 3)
	if !slices.Equal(calls[0].seqs, a) || calls[0].final {
		t.Fatalf("first invocation %+v", calls[0])
	}
	if !calls[1].final || calls[1].state["last"] != "a" || !calls[1].window.Start.Equal(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("second invocation %+v, want the first window's final invoke", calls[1])
	}
	if !slices.Equal(calls[2].seqs, b) || calls[2].final || len(calls[2].state) != 0 {
		t.Fatalf("third invocation %+v, want b with a fresh state", calls[2])
	}
	waitUntil(t, "checkpoint after the first window", func() bool { return m.checkpoint() == a[0] })
	m.settle(20)
	if cp := m.checkpoint(); cp != a[0] {
		t.Fatalf("checkpoint %s moved into the open window", cp)
	}
}

func TestTumblingWindowStateTooLarge(t *testing.T) {
	h := newHarness(t, 1)
	r1 := h.put("k", "1")
	big := strings.Repeat("x", MaxStateBytes)
	cfg := h.config()
	cfg.TumblingWindow = time.Minute
	rec := newRecorder(func(n int, c call) (*events.KinesisTimeWindowEventResponse, error) {
		if n == 0 {
			return withState(map[string]string{"big": big}), nil
		}
		return withState(map[string]string{"n": strconv.Itoa(len(c.seqs))}), nil
	})
	m := h.start(cfg, rec.invoke, h.options())
	c := rec.waitCalls(t, 2)[1]
	if !c.final || !c.early || len(c.seqs) != 0 || c.state["big"] != big {
		t.Fatalf("second invocation final=%v early=%v records=%d, want the early final invoke with the big state", c.final, c.early, len(c.seqs))
	}
	waitUntil(t, "checkpoint after the early final", func() bool { return m.checkpoint() == r1[0] })
	if st := m.Stats(); st.WindowsTerminatedEarly != 1 {
		t.Errorf("WindowsTerminatedEarly %d", st.WindowsTerminatedEarly)
	}

	h.clk.Advance(10 * time.Second)
	r2 := h.put("k", "2")
	c = rec.waitCalls(t, 3)[2]
	if !slices.Equal(c.seqs, r2) || c.final || c.early || len(c.state) != 0 || !c.window.Start.Equal(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("third invocation %+v, want the same window going on with a fresh state", c)
	}
	h.clk.Advance(time.Minute)
	c = rec.waitCalls(t, 4)[3]
	if !c.final || c.early || c.state["n"] != "1" {
		t.Fatalf("fourth invocation %+v, want the normal final invoke", c)
	}
}

func TestTumblingWindowResponseWithoutStateFails(t *testing.T) {
	h := newHarness(t, 1)
	seqs := h.put("k", "1")
	cfg := h.config()
	cfg.TumblingWindow = time.Minute
	rec := newRecorder(func(n int, c call) (*events.KinesisTimeWindowEventResponse, error) {
		if n == 0 {
			return &events.KinesisTimeWindowEventResponse{}, nil // state missing
		}
		return withState(map[string]string{"n": "1"}), nil
	})
	m := h.start(cfg, rec.invoke, h.options())
	calls := rec.waitCalls(t, 2)
	if !slices.Equal(calls[1].seqs, seqs) || len(calls[1].state) != 0 {
		t.Fatalf("retry %+v, want the same record and state", calls[1])
	}
	if st := m.Stats(); st.RejectedResponses != 1 {
		t.Fatalf("rejected responses %d, want 1", st.RejectedResponses)
	}
}

func TestStartingPosition(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want func(old, mid, fresh []string) []string
	}{
		{"TRIM_HORIZON", func(c *Config) { c.StartingPosition = TrimHorizon },
			func(old, mid, fresh []string) []string { return slices.Concat(old, mid, fresh) }},
		{"LATEST", func(c *Config) { c.StartingPosition = Latest },
			func(old, mid, fresh []string) []string { return fresh }},
		{"AT_TIMESTAMP", func(c *Config) {
			c.StartingPosition = AtTimestamp
			c.StartingPositionTimestamp = t0.Add(5 * time.Second)
		}, func(old, mid, fresh []string) []string { return slices.Concat(mid, fresh) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1)
			old := h.put("k", "old")
			h.clk.Advance(10 * time.Second)
			mid := h.put("k", "mid")
			cfg := h.config()
			tc.cfg(&cfg)
			rec := newRecorder(nil)
			m := h.start(cfg, rec.invoke, h.options())
			// Lanes start once the position is resolved.
			waitUntil(t, "shard started", func() bool { return m.evals.Load() > 0 })
			fresh := h.put("k", "fresh")
			waitUntil(t, "checkpoint", func() bool { return m.checkpoint() == fresh[0] })
			got, _ := flatten(rec.snapshot())
			if want := tc.want(old, mid, fresh); !slices.Equal(got, want) {
				t.Fatalf("delivered %v, want %v", got, want)
			}
		})
	}
}

func TestRestartResumesFromCheckpoint(t *testing.T) {
	h := newHarness(t, 2)
	dir := t.TempDir()
	ck, err := NewFileCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	h.ckpts = ck
	first := h.put("a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
	rec := newRecorder(nil)
	m := h.start(h.config(), rec.invoke, h.options())
	waitUntil(t, "first run", func() bool { return m.Stats().RecordsSucceeded == 5 })
	if err := m.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	uuid := m.Config().UUID
	for _, sh := range m.Stats().Shards {
		seq, ok, err := ck.Load(context.Background(), uuid, sh.ShardID)
		if err != nil || !ok || seq != sh.Checkpoint {
			t.Fatalf("saved checkpoint of %s = %q %v %v, want %q", sh.ShardID, seq, ok, err, sh.Checkpoint)
		}
	}

	second := h.put("f", "6", "g", "7", "h", "8")
	ck2, err := NewFileCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	h.ckpts = ck2
	rec2 := newRecorder(nil)
	m2 := h.start(h.config(), rec2.invoke, h.options())
	if m2.Config().UUID != uuid {
		t.Fatalf("derived UUID changed: %s vs %s", m2.Config().UUID, uuid)
	}
	// Each shard is read in order, so a redelivered old record would have
	// come before the new ones.
	waitUntil(t, "second run", func() bool { return m2.Stats().RecordsSucceeded >= 3 })
	got, _ := flatten(rec2.snapshot())
	sort.Strings(got)
	want := slices.Clone(second)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("second run delivered %d records %v, want only the 3 new ones (first run: %v)", len(got), got, first)
	}
}

func TestShutdownAbandonsInFlight(t *testing.T) {
	h := newHarness(t, 1)
	seqs := h.put("k", "1", "k", "2")
	started := make(chan struct{})
	var once sync.Once
	inv := func(ctx context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return nil, ctx.Err()
	}
	m := h.start(h.config(), inv, h.options())
	<-started
	if err := m.stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if cp := m.checkpoint(); cp != "" {
		t.Fatalf("checkpoint %s moved past an abandoned invocation", cp)
	}
	if st := m.Stats(); st.FunctionErrors != 0 || st.Invocations != 0 {
		t.Fatalf("an abandoned invocation was counted: %+v", st)
	}
	rec := newRecorder(nil)
	m2 := h.start(h.config(), rec.invoke, h.options())
	c := rec.waitCalls(t, 1)[0]
	if !slices.Equal(c.seqs, seqs) {
		t.Fatalf("after restart got %v, want the abandoned batch again", c.seqs)
	}
	waitUntil(t, "checkpoint", func() bool { return m2.checkpoint() == seqs[1] })
}

func TestDisabledMappingDoesNotPoll(t *testing.T) {
	h := newHarness(t, 1)
	h.put("k", "1")
	cfg := h.config()
	cfg.Enabled = false
	rec := newRecorder(nil)
	m := h.start(cfg, rec.invoke, h.options())
	time.Sleep(20 * time.Millisecond) // nothing to wait for: the mapping must stay idle
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.snapshot()); n != 0 || m.Stats().RecordsRead != 0 {
		t.Fatalf("disabled mapping invoked %d times", n)
	}
}

func TestMissingStreamFailsRun(t *testing.T) {
	h := newHarness(t, 1)
	cfg := h.config()
	cfg.StreamName = "nope"
	m, err := New(cfg, h.eng, newRecorder(nil).invoke, h.options())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); !errors.Is(err, streamproc.ErrNotFound) {
		t.Fatalf("Run = %v, want ErrNotFound", err)
	}
}

func TestFileCheckpoints(t *testing.T) {
	dir := t.TempDir()
	c, err := NewFileCheckpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, ok, err := c.Load(ctx, "m", "shardId-000000000000"); ok || err != nil {
		t.Fatalf("Load of nothing = %v %v", ok, err)
	}
	for _, seq := range []string{"49000000000000000000000000000000000000000000000000000001", "49000000000000000000000000000000000000000000000000000002"} {
		if err := c.Save(ctx, "m", "shardId-000000000000", seq); err != nil {
			t.Fatal(err)
		}
	}
	c2, _ := NewFileCheckpoints(dir)
	seq, ok, err := c2.Load(ctx, "m", "shardId-000000000000")
	if err != nil || !ok || !strings.HasSuffix(seq, "2") {
		t.Fatalf("Load after reopen = %q %v %v", seq, ok, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "m"))
	if len(entries) != 1 {
		t.Fatalf("checkpoint dir holds %d files (temp files left behind?)", len(entries))
	}
	for _, bad := range [][2]string{{"../x", "s"}, {"m", "a/b"}, {"", "s"}, {"m", ".."}} {
		if err := c.Save(ctx, bad[0], bad[1], "1"); !errors.Is(err, streamproc.ErrInvalid) {
			t.Errorf("Save(%q, %q) = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
}

func TestRecordSizeEstimate(t *testing.T) {
	h := newHarness(t, 1)
	m, err := New(h.config(), h.eng, newRecorder(nil).invoke, h.options())
	if err != nil {
		t.Fatal(err)
	}
	const shard = "shardId-000000000000"
	fixed := m.fixedRecordSize(shard)
	for _, pk := range []string{"", "user-1", `quote" back\ <tag>&`, "ctl\x00\x1f\b\f\n\t", "ünï\u2028\xff", strings.Repeat("k", 256)} {
		for _, n := range []int{0, 1, 2, 3, 1000, 1 << 20} {
			r := &rec{mark: mark{seq: strings.Repeat("4", 56), arrival: t0.Add(123 * time.Millisecond)}, pk: pk, data: make([]byte, n)}
			b, err := json.Marshal(m.eventRecord(shard, r))
			if err != nil {
				t.Fatal(err)
			}
			actual := len(b) + 1 // the comma between records
			if est := recordJSON(fixed, pk, r.data); est < actual || est > actual+8 {
				t.Errorf("pk %q, %d bytes: estimate %d, JSON %d", pk, n, est, actual)
			}
		}
	}
}

func TestTumblingWindowReplayedAfterRestart(t *testing.T) {
	h := newHarness(t, 1)
	ck, err := NewFileCheckpoints(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h.ckpts = ck
	cfg := h.config()
	cfg.TumblingWindow = time.Minute
	counting := func(_ int, c call) (*events.KinesisTimeWindowEventResponse, error) {
		n, _ := strconv.Atoi(c.state["n"])
		return withState(map[string]string{"n": strconv.Itoa(n + len(c.seqs))}), nil
	}
	a := h.put("k", "a")
	rec := newRecorder(counting)
	m := h.start(cfg, rec.invoke, h.options())
	rec.waitCalls(t, 1)
	h.clk.Advance(10 * time.Second)
	b := h.put("k", "b")
	rec.waitCalls(t, 2)
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}
	if cp := m.checkpoint(); cp != "" {
		t.Fatalf("checkpoint %s inside the open window", cp)
	}

	rec2 := newRecorder(counting)
	m2 := h.start(cfg, rec2.invoke, h.options())
	c := rec2.waitCalls(t, 1)[0]
	if !slices.Equal(c.seqs, slices.Concat(a, b)) || len(c.state) != 0 {
		t.Fatalf("after restart %+v, want the whole window again with a fresh state", c)
	}
	h.clk.Advance(time.Minute)
	c = rec2.waitCalls(t, 2)[1]
	if !c.final || c.state["n"] != "2" {
		t.Fatalf("final %+v, want state n=2", c)
	}
	waitUntil(t, "checkpoint", func() bool { return m2.checkpoint() == b[0] })
}

func TestBoundedReadAheadFlushesWaitingBatches(t *testing.T) {
	h := newHarness(t, 1)
	keys := keysForLanes(2, 1)
	stuck, waiting := keys[0], keys[1]
	var kv []string
	for i := range 5 {
		kv = append(kv, waiting, fmt.Sprint("w", i))
	}
	h.put(kv...)
	for range 2 {
		kv = kv[:0]
		for i := range 300 {
			kv = append(kv, stuck, fmt.Sprint("s", i))
		}
		h.put(kv...)
	}
	cfg := h.config()
	cfg.ParallelizationFactor = 2
	cfg.BatchSize = 10
	cfg.MaximumBatchingWindow = 300 * time.Second
	rec := newRecorder(nil)
	release := make(chan struct{})
	inv := func(ctx context.Context, ev *events.KinesisTimeWindowEvent) (*events.KinesisTimeWindowEventResponse, error) {
		if ev.Records[0].Kinesis.PartitionKey == stuck {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return rec.invoke(ctx, ev)
	}
	m := h.start(cfg, inv, h.options())
	// The stuck lane holds the read-ahead full, so the other lane's batch
	// can never grow and must not wait out its 300 s window.
	c := rec.waitCalls(t, 1)[0]
	if len(c.seqs) != 5 || c.keys[0] != waiting {
		t.Fatalf("first completed invocation %+v, want the waiting lane's 5 records", c)
	}
	if st := m.Stats(); st.Shards[0].Pending < 495 {
		t.Errorf("pending %d: read-ahead was not full", st.Shards[0].Pending)
	}
	close(release)
	// Flushing made partial batches, so a tail batch may now wait for its
	// window: move the clock on whenever every lane is idle waiting.
	waitUntil(t, "everything", func() bool {
		st := m.Stats()
		if sh := st.Shards[0]; st.RecordsRead == 605 && sh.Busy == 0 && sh.Pending > 0 {
			h.clk.Advance(cfg.MaximumBatchingWindow)
		}
		return st.RecordsSucceeded == 605
	})
}
