package firehose

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
	"github.com/streamproc/streamproc/function/transformer"
	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/local/stream"
)

const uuidRE = `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`

// sizes returns the body lengths of objs, sorted.
func sizes(objs []object) []int {
	var n []int
	for _, o := range objs {
		n = append(n, len(o.body))
	}
	slices.Sort(n)
	return n
}

func TestBufferingBySizeOrInterval(t *testing.T) {
	const k = 1 << 10
	tests := []struct {
		name    string
		records []int // data sizes, written at once
		// object sizes after a Tick at once, after one at interval-1s,
		// and after one at the interval
		now, early, due []int
	}{
		{"the record that would overflow starts the next object", []int{400 * k, 400 * k, 400 * k}, []int{800 * k}, []int{800 * k}, []int{400 * k, 800 * k}},
		{"reaching the size delivers at once", []int{512 * k, 512 * k}, []int{1024 * k}, []int{1024 * k}, []int{1024 * k}},
		{"small records wait for the interval", []int{10, 20, 30}, nil, nil, []int{60}},
		{"the buffer holds what fits", []int{10, 1000*k - 10, 300 * k}, []int{1000 * k}, []int{1000 * k}, []int{300 * k, 1000 * k}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			d := e.run(e.cfg(), nil) // 1 MiB, 60 s
			var recs [][]byte
			for i, n := range tt.records {
				recs = append(recs, bytes.Repeat([]byte{byte('a' + i)}, n))
			}
			e.put(0, recs...)
			e.tick(d)
			if got := sizes(e.objects("")); !slices.Equal(got, tt.now) {
				t.Fatalf("at once: objects %v, want %v", got, tt.now)
			}
			e.clk.Advance(59 * time.Second)
			e.tick(d)
			if got := sizes(e.objects("")); !slices.Equal(got, tt.early) {
				t.Fatalf("after 59s: objects %v, want %v", got, tt.early)
			}
			e.clk.Advance(time.Second)
			e.tick(d)
			objs := e.objects("")
			if got := sizes(objs); !slices.Equal(got, tt.due) {
				t.Fatalf("after 60s: objects %v, want %v", got, tt.due)
			}
			// Nothing lost, nothing reordered.
			var all []byte
			for _, o := range objs {
				all = append(all, o.body...)
			}
			if want := bytes.Join(recs, nil); len(all) != len(want) {
				t.Errorf("delivered %d bytes, want %d", len(all), len(want))
			}
		})
	}
}

func TestZeroBuffering(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.BufferInterval = ZeroBuffering
	cfg.Processor = processorCfg()
	cfg.Processor.BufferInterval = ZeroBuffering
	d := e.run(cfg, passthrough)
	e.put(0, []byte("now"))
	e.tick(d) // the clock has not moved
	if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != "now" {
		t.Fatalf("objects = %v, want one holding %q", objs, "now")
	}
}

func TestProcessorBuffering(t *testing.T) {
	limit := MinProcessorBufferSize // 209715 = 3 × 69905
	tests := []struct {
		name           string
		records        []int
		now, early, ok []int // batch sizes invoked after each Tick
	}{
		{"the record that would overflow waits for the next batch", []int{80_000, 80_000, 80_000}, []int{2}, []int{2}, []int{2, 1}},
		{"reaching the size invokes at once", []int{69905, 69905, 69905}, []int{3}, []int{3}, []int{3}},
		{"small records wait for the interval", []int{1, 2, 3, 4}, nil, nil, []int{4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			cfg := e.cfg()
			cfg.BufferInterval = 10 * time.Minute
			cfg.Processor = processorCfg()
			cfg.Processor.BufferSize, cfg.Processor.BufferInterval = int64(limit), 30*time.Second
			rec := &recorder{next: passthrough}
			d := e.run(cfg, rec.Process)
			var recs [][]byte
			for i, n := range tt.records {
				recs = append(recs, bytes.Repeat([]byte{byte('a' + i)}, n))
			}
			e.put(0, recs...)
			e.tick(d)
			if got := rec.sizes(); !slices.Equal(got, tt.now) {
				t.Fatalf("at once: invocations of %v records, want %v", got, tt.now)
			}
			e.clk.Advance(29 * time.Second)
			e.tick(d)
			if got := rec.sizes(); !slices.Equal(got, tt.early) {
				t.Fatalf("after 29s: invocations of %v records, want %v", got, tt.early)
			}
			e.clk.Advance(time.Second)
			e.tick(d)
			if got := rec.sizes(); !slices.Equal(got, tt.ok) {
				t.Fatalf("after 30s: invocations of %v records, want %v", got, tt.ok)
			}
			// Processed records then wait for the S3 buffer, not the processor's.
			if objs := e.objects(""); len(objs) != 0 {
				t.Fatalf("objects before the S3 interval: %d", len(objs))
			}
			e.flush(d)
			if objs := e.objects(""); len(objs) != 1 || !bytes.Equal(objs[0].body, bytes.Join(recs, nil)) {
				t.Fatalf("flushed objects: %d, want one holding every record in order", len(objs))
			}
		})
	}
}

// TestProcessorRequestStaysUnder6MB: tiny records cost far more in the
// request (ids, metadata, base64) than their bytes, so the 6 MB invocation
// limit, not BufferSize, closes the batch.
func TestProcessorRequestStaysUnder6MB(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.Processor = processorCfg()
	cfg.Processor.BufferSize = MaxProcessorBufferSize
	rec := &recorder{next: passthrough}
	d := e.run(cfg, rec.Process)
	const n = 20_000
	for i := 0; i < n; i += streamproc.MaxPutRecords {
		batch := make([][]byte, streamproc.MaxPutRecords)
		for j := range batch {
			batch[j] = []byte{'x'}
		}
		e.put(0, batch...)
	}
	e.flush(d)
	total := 0
	for i, ev := range rec.events {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > MaxInvocationPayload {
			t.Errorf("invocation %d: request of %d bytes exceeds %d", i, len(b), MaxInvocationPayload)
		}
		total += len(ev.Records)
	}
	if sz := rec.sizes(); total != n || len(sz) < 2 || sz[0] < 10_000 {
		t.Errorf("invocation sizes %v (total %d), want ≥ 2 batches of > 10,000 closed by the request limit", sz, total)
	}
}

// TestTransformerPipeline is the reference application's path: real tweets,
// a stream notice and bad bytes through function/transformer's handler.
func TestTransformerPipeline(t *testing.T) {
	e := newEnv(t, 2)
	cfg := e.cfg()
	cfg.Prefix = "tweets/!{timestamp:yyyy/MM/dd/HH}/"
	cfg.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
	cfg.Processor = processorCfg()
	d := e.run(cfg, (&transformer.Handler{}).Handle)

	statuses := fixture.SearchStatuses(t)
	notice := []byte(`{"delete":{"status":{"id":1,"id_str":"1","user_id":2,"user_id_str":"2"}}}`)
	garbage := []byte("not a tweet \xff\x00")
	last := map[int]string{}
	for i, s := range statuses {
		last[i%2] = e.put(i%2, s)[0]
	}
	last[0] = e.put(0, notice)[0]
	last[1] = e.put(1, garbage)[0]
	e.clk.Advance(2 * time.Second)
	e.flush(d)

	data := e.objects("tweets/")
	if len(data) != 1 {
		t.Fatalf("%d data objects, want 1", len(data))
	}
	if re := regexp.MustCompile(`^tweets/2024/05/06/13/fh-1-2024-05-06-13-14-15-` + uuidRE + `$`); !re.MatchString(data[0].key) {
		t.Errorf("data key %q does not match %s", data[0].key, re)
	}
	want := map[string]bool{}
	for _, s := range statuses {
		var st struct {
			ID string `json:"id_str"`
		}
		if err := json.Unmarshal(s, &st); err != nil {
			t.Fatal(err)
		}
		want[st.ID] = true
	}
	lines := strings.Split(strings.TrimSuffix(string(data[0].body), "\n"), "\n")
	got := map[string]bool{}
	for _, l := range lines {
		var row struct {
			ID json.Number `json:"id"`
		}
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got[row.ID.String()] = true
	}
	if len(lines) != len(statuses) || !mapsEqual(got, want) {
		t.Errorf("delivered ids %v, want %v", got, want)
	}

	errs := e.errorRecords("errors/processing-failed/2024/05/06/13/")
	if len(errs) != 1 || !bytes.Equal(errs[0].RawData, garbage) || errs[0].ErrorCode != CodeProcessingFailedStatus || errs[0].AttemptsMade != 1 {
		t.Errorf("error records = %+v, want the garbage record once", errs)
	}
	st := d.Stats()
	if st.RecordsIn != 17 || st.RecordsOk != 15 || st.RecordsDropped != 1 || st.RecordsFailed != 1 ||
		st.Objects != 1 || st.ObjectRecords != 15 || st.ErrorObjects != 1 || st.Invocations != 1 || st.DataFreshness != 0 {
		t.Errorf("stats = %+v", st)
	}
	cp := e.checkpoint("fh")
	for i, sh := range e.shards {
		if got := cp.Shards[sh.ID].SequenceNumber; got != last[i] {
			t.Errorf("checkpoint of %s = %q, want %q", sh.ID, got, last[i])
		}
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func TestObjectNames(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Config)
		wantRE string
	}{
		{"defaults", func(*Config) {}, `^2024/05/06/13/fh-1-2024-05-06-13-14-15-` + uuidRE + `$`},
		{"version", func(c *Config) { c.Version = 9 }, `^2024/05/06/13/fh-9-2024-05-06-13-14-15-` + uuidRE + `$`},
		{"gzip extension", func(c *Config) { c.Compression = GZIP }, `^2024/05/06/13/fh-1-2024-05-06-13-14-15-` + uuidRE + `\.gz$`},
		{"custom extension", func(c *Config) { c.FileExtension = ".json" }, `-` + uuidRE + `\.json$`},
		{"custom extension with gzip", func(c *Config) { c.Compression, c.FileExtension = GZIP, ".json.gz" }, `-` + uuidRE + `\.json\.gz$`},
		{"custom time zone", func(c *Config) { c.CustomTimeZone = time.FixedZone("JST", 9*3600) }, `^2024/05/06/22/fh-1-2024-05-06-22-14-15-` + uuidRE + `$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			cfg := e.cfg()
			tt.mod(&cfg)
			d := e.run(cfg, nil)
			e.put(0, []byte("x"))
			e.clk.Advance(3 * time.Hour) // delivery time must not matter
			e.flush(d)
			objs := e.objects("")
			if len(objs) != 1 || !regexp.MustCompile(tt.wantRE).MatchString(objs[0].key) || string(objs[0].body) != "x" {
				t.Fatalf("objects = %+v, want one named like %s", objs, tt.wantRE)
			}
		})
	}
}

// TestObjectTimestampIsOldestRecord: shards are read in order, so the first
// record of this object is the newest; the key must still carry the oldest.
func TestObjectTimestampIsOldestRecord(t *testing.T) {
	e := newEnv(t, 2)
	ds := e.open(e.cfg(), nil, e.opts())
	e.put(1, []byte("old"))
	e.clk.Advance(2*time.Hour + 3*time.Second)
	e.put(0, []byte("new"))
	d := e.start(ds) // both records are there before the first read
	e.flush(d)
	objs := e.objects("")
	if len(objs) != 1 || string(objs[0].body) != "newold" {
		t.Fatalf("objects = %+v, want one holding newold", objs)
	}
	if re := regexp.MustCompile(`^2024/05/06/13/fh-1-2024-05-06-13-14-15-` + uuidRE + `$`); !re.MatchString(objs[0].key) {
		t.Errorf("key %q does not carry the oldest record's time (%s)", objs[0].key, re)
	}
}

// TestPrefixRulesInKeys checks data and error keys end to end.
func TestPrefixRulesInKeys(t *testing.T) {
	const suffix = `fh-1-2024-05-06-13-14-15-` + uuidRE + `$`
	tests := []struct {
		name              string
		prefix, errPrefix string
		dataRE, errRE     string
	}{
		{"no prefix", "", "", `^2024/05/06/13/` + suffix, `^processing-failed/2024/05/06/13/` + suffix},
		{"static prefix", "tweets/", "", `^tweets/2024/05/06/13/` + suffix, `^tweets/processing-failed/2024/05/06/13/` + suffix},
		{"static prefix without slash", "tweets", "", `^tweets2024/05/06/13/` + suffix, `^tweetsprocessing-failed/2024/05/06/13/` + suffix},
		{"static error prefix", "tweets/", "failed/", `^tweets/2024/05/06/13/` + suffix, `^failed/processing-failed/2024/05/06/13/` + suffix},
		{
			"hive-style expressions", "raw/!{timestamp:'year='yyyy/'month='MM/'day='dd/'hour='HH}/", "err/!{firehose:error-output-type}/!{timestamp:yyyy}/",
			`^raw/year=2024/month=05/day=06/hour=13/` + suffix, `^err/processing-failed/2024/` + suffix,
		},
		{
			"random strings", "r/!{firehose:random-string}/", "e/!{firehose:error-output-type}/!{firehose:random-string}/",
			`^r/[A-Za-z0-9]{11}/` + suffix, `^e/processing-failed/[A-Za-z0-9]{11}/` + suffix,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			cfg := e.cfg()
			cfg.Prefix, cfg.ErrorOutputPrefix = tt.prefix, tt.errPrefix
			cfg.Processor = processorCfg()
			d := e.run(cfg, byPrefix)
			e.put(0, []byte("ok"), []byte("fail"))
			e.flush(d)
			objs := e.objects("")
			if len(objs) != 2 {
				t.Fatalf("%d objects, want a data and an error object", len(objs))
			}
			for _, o := range objs {
				re := tt.dataRE
				if bytes.HasPrefix(o.body, []byte("{")) {
					re = tt.errRE
				}
				if !regexp.MustCompile(re).MatchString(o.key) {
					t.Errorf("key %q does not match %s", o.key, re)
				}
			}
		})
	}
}

func TestGZIP(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.Compression = GZIP
	d := e.run(cfg, nil)
	// 3 × 400 KiB of zeros compress to almost nothing, yet the buffer
	// counts them before compression: two go in the first object.
	zeros := make([]byte, 400<<10)
	e.put(0, zeros, zeros, zeros)
	e.tick(d)
	objs := e.objects("")
	if len(objs) != 1 || len(objs[0].body) != 800<<10 || !strings.HasSuffix(objs[0].key, ".gz") {
		t.Fatalf("objects %v, want one .gz object of 800 KiB (uncompressed)", sizes(objs))
	}
	attrs, err := e.bucket.Attributes(context.Background(), objs[0].key)
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Size > 10<<10 {
		t.Errorf("stored object is %d bytes; GZIP should shrink zeros", attrs.Size)
	}
	e.flush(d)
	if got := sizes(e.objects("")); !slices.Equal(got, []int{400 << 10, 800 << 10}) {
		t.Errorf("objects after flush %v", got)
	}
}

func TestAppendDelimiter(t *testing.T) {
	tests := []struct {
		name      string
		appendNL  bool
		processor bool
		want      string
	}{
		{"off: bytes back to back", false, false, "a{}b"},
		{"on: every record ends in a newline", true, false, "a\n{}\nb\n"},
		{"on, after the processor", true, true, "a\n{}\nb\n"},
		{"off, after the processor", false, true, "a{}b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			cfg := e.cfg()
			cfg.AppendDelimiter = tt.appendNL
			var proc Processor
			if tt.processor {
				cfg.Processor, proc = processorCfg(), passthrough
			}
			d := e.run(cfg, proc)
			e.put(0, []byte("a"), []byte("{}"), []byte("b"))
			e.flush(d)
			if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != tt.want {
				t.Fatalf("objects = %+v, want one holding %q", objs, tt.want)
			}
		})
	}
}

// TestResponseValidation: every broken response fails the attempt; after
// NumberOfRetries the whole batch goes to the error output with the code.
func TestResponseValidation(t *testing.T) {
	ok := func(id string) events.KinesisFirehoseResponseRecord {
		return events.KinesisFirehoseResponseRecord{RecordID: id, Result: events.KinesisFirehoseTransformedStateOk, Data: []byte("out")}
	}
	respond := func(f func(ev events.KinesisFirehoseEvent) []events.KinesisFirehoseResponseRecord) Processor {
		return func(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
			return events.KinesisFirehoseResponse{Records: f(ev)}, nil
		}
	}
	tests := []struct {
		name      string
		proc      Processor
		code, msg string
	}{
		{"function error", func(context.Context, events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
			return events.KinesisFirehoseResponse{}, errors.New("handler panicked")
		}, CodeFunctionError, MsgFunctionError},
		{"panic", func(context.Context, events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
			panic("nil map")
		}, CodeFunctionError, MsgFunctionError},
		{"timeout", func(ctx context.Context, _ events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
			tctx, cancel := context.WithTimeout(ctx, 0) // the caller's function timeout, already spent
			defer cancel()
			<-tctx.Done()
			return events.KinesisFirehoseResponse{}, tctx.Err()
		}, CodeFunctionError, MsgFunctionError},
		{"missing record id", respond(func(ev events.KinesisFirehoseEvent) []events.KinesisFirehoseResponseRecord {
			return []events.KinesisFirehoseResponseRecord{ok(ev.Records[0].RecordID)}
		}), CodeMissingRecordID, MsgMissingRecordID},
		{"empty response", respond(func(events.KinesisFirehoseEvent) []events.KinesisFirehoseResponseRecord { return nil }), CodeMissingRecordID, MsgMissingRecordID},
		{"duplicated record id", respond(func(ev events.KinesisFirehoseEvent) []events.KinesisFirehoseResponseRecord {
			return []events.KinesisFirehoseResponseRecord{ok(ev.Records[0].RecordID), ok(ev.Records[1].RecordID), ok(ev.Records[0].RecordID)}
		}), CodeDuplicatedRecordID, MsgDuplicatedRecord},
		{"unknown result", respond(func(ev events.KinesisFirehoseEvent) []events.KinesisFirehoseResponseRecord {
			r := ok(ev.Records[1].RecordID)
			r.Result = "Success"
			return []events.KinesisFirehoseResponseRecord{ok(ev.Records[0].RecordID), r}
		}), CodeJSONProcessing, MsgJSONProcessing},
		{"dropped record without data", respond(func(ev events.KinesisFirehoseEvent) []events.KinesisFirehoseResponseRecord {
			r := events.KinesisFirehoseResponseRecord{RecordID: ev.Records[1].RecordID, Result: events.KinesisFirehoseTransformedStateDropped}
			return []events.KinesisFirehoseResponseRecord{ok(ev.Records[0].RecordID), r}
		}), CodeJSONProcessing, MsgJSONProcessing},
		{"unknown record id", respond(func(ev events.KinesisFirehoseEvent) []events.KinesisFirehoseResponseRecord {
			return []events.KinesisFirehoseResponseRecord{ok(ev.Records[0].RecordID), ok(ev.Records[1].RecordID), ok("made-up")}
		}), CodeJSONProcessing, MsgJSONProcessing},
		{"response over 6 MB", respond(func(ev events.KinesisFirehoseEvent) []events.KinesisFirehoseResponseRecord {
			big := ok(ev.Records[0].RecordID)
			big.Data = make([]byte, 5<<20) // 6.7 MB once base64-encoded
			return []events.KinesisFirehoseResponseRecord{big, ok(ev.Records[1].RecordID)}
		}), CodeFunctionError, MsgFunctionError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			cfg := e.cfg()
			cfg.Processor = processorCfg()
			rec := &recorder{next: tt.proc}
			d := e.run(cfg, rec.Process)
			raw := [][]byte{[]byte("first \x00 raw"), []byte("second")}
			seqs := e.put(0, raw...)
			e.clk.Advance(5 * time.Second)
			e.flush(d)

			if n := len(rec.sizes()); n != 1+DefaultNumberOfRetries {
				t.Errorf("%d invocations, want %d", n, 1+DefaultNumberOfRetries)
			}
			if objs := e.objects("2024/"); len(objs) != 0 {
				t.Errorf("data objects %+v, want none", objs)
			}
			got := e.errorRecords("processing-failed/")
			if len(got) != len(raw) {
				t.Fatalf("%d error records, want %d", len(got), len(raw))
			}
			for i, r := range got {
				want := ErrorRecord{
					AttemptsMade:           4,
					ArrivalTimestamp:       t0.UnixMilli(),
					ErrorCode:              tt.code,
					ErrorMessage:           tt.msg,
					AttemptEndingTimestamp: t0.Add(5 * time.Second).UnixMilli(),
					RawData:                raw[i],
					LambdaArn:              processorCfg().FunctionARN + ":$LATEST",
				}
				if !errorRecordsEqual(r, want) {
					t.Errorf("error record %d = %+v\nwant %+v", i, r, want)
				}
			}
			st := d.Stats()
			if st.Invocations != 4 || st.InvocationFailures != 4 || st.RecordsFailed != 2 || st.RecordsOk != 0 {
				t.Errorf("stats = %+v", st)
			}
			// Failed records are done: the checkpoint moves past them.
			if got := e.checkpoint("fh").Shards[e.shards[0].ID].SequenceNumber; got != seqs[1] {
				t.Errorf("checkpoint %q, want %q", got, seqs[1])
			}
		})
	}
}

func errorRecordsEqual(a, b ErrorRecord) bool {
	return a.AttemptsMade == b.AttemptsMade && a.ArrivalTimestamp == b.ArrivalTimestamp && a.ErrorCode == b.ErrorCode &&
		a.ErrorMessage == b.ErrorMessage && a.AttemptEndingTimestamp == b.AttemptEndingTimestamp &&
		bytes.Equal(a.RawData, b.RawData) && a.LambdaArn == b.LambdaArn
}

// TestErrorRecordLine pins the exact JSON of an error record: field names,
// order, base64 rawData of the original bytes, epoch-millisecond times.
func TestErrorRecordLine(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.Processor = processorCfg()
	// The processor rewrites data, even in place; rawData must still be
	// the original.
	proc := func(_ context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
		r := ev.Records[0]
		copy(r.Data, "XXXX")
		return events.KinesisFirehoseResponse{Records: []events.KinesisFirehoseResponseRecord{
			{RecordID: r.RecordID, Result: events.KinesisFirehoseTransformedStateProcessingFailed, Data: []byte("rewritten")},
		}}, nil
	}
	d := e.run(cfg, proc)
	e.put(0, []byte("fail: original bytes"))
	e.clk.Advance(1500 * time.Millisecond)
	e.flush(d)
	objs := e.objects("processing-failed/")
	if len(objs) != 1 {
		t.Fatalf("%d error objects", len(objs))
	}
	want := fmt.Sprintf(`{"attemptsMade":1,"arrivalTimestamp":%d,"errorCode":"Lambda.ProcessingFailedStatus","errorMessage":%q,"attemptEndingTimestamp":%d,"rawData":%q,"lambdaArn":"arn:aws:lambda:us-east-1:000000000000:function:transformer:$LATEST"}`+"\n",
		t0.UnixMilli(), MsgProcessingFailedStatus, t0.Add(1500*time.Millisecond).UnixMilli(), base64.StdEncoding.EncodeToString([]byte("fail: original bytes")))
	if got := string(objs[0].body); got != want {
		t.Errorf("error object\n got %s\nwant %s", got, want)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name         string
		retries      int
		failFirst    int
		invocations  int
		wantAttempts int    // attemptsMade of the error records
		wantCode     string // of the "fail" record, or of the batch
		wantData     string
	}{
		{"success after two failures", 0, 2, 3, 3, CodeProcessingFailedStatus, "ok"},
		{"retries exhausted", 0, 10, 4, 4, CodeFunctionError, ""},
		{"custom retry count", 5, 10, 6, 6, CodeFunctionError, ""},
		{"no retries", NoRetries, 1, 1, 1, CodeFunctionError, ""},
		{"no retries, first attempt succeeds", NoRetries, 0, 1, 1, CodeProcessingFailedStatus, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			cfg := e.cfg()
			cfg.Processor = processorCfg()
			cfg.Processor.NumberOfRetries = tt.retries
			var mu sync.Mutex
			calls := 0
			proc := func(ctx context.Context, ev events.KinesisFirehoseEvent) (events.KinesisFirehoseResponse, error) {
				mu.Lock()
				calls++
				n := calls
				mu.Unlock()
				if n <= tt.failFirst {
					return events.KinesisFirehoseResponse{}, errors.New("throttled")
				}
				return byPrefix(ctx, ev)
			}
			d := e.run(cfg, proc)
			e.put(0, []byte("ok"), []byte("fail"))
			e.flush(d)
			if calls != tt.invocations {
				t.Errorf("%d invocations, want %d", calls, tt.invocations)
			}
			var data string
			for _, o := range e.objects("2024/") {
				data += string(o.body)
			}
			if data != tt.wantData {
				t.Errorf("delivered %q, want %q", data, tt.wantData)
			}
			for _, r := range e.errorRecords("processing-failed/") {
				if r.AttemptsMade != tt.wantAttempts || r.ErrorCode != tt.wantCode {
					t.Errorf("error record attempts %d code %s, want %d %s", r.AttemptsMade, r.ErrorCode, tt.wantAttempts, tt.wantCode)
				}
			}
		})
	}
}

func TestDroppedRecordsAreNotDelivered(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.Processor = processorCfg()
	d := e.run(cfg, byPrefix)
	e.put(0, []byte("keep1"), []byte("drop1"), []byte("keep2"), []byte("drop2"))
	e.flush(d)
	if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != "keep1keep2" {
		t.Fatalf("objects = %+v, want keep1keep2", objs)
	}
	// A batch of nothing but dropped records writes no object, yet it is
	// done: the checkpoint moves past it.
	seq := e.put(0, []byte("drop3"), []byte("drop4"))[1]
	e.flush(d)
	if objs := e.objects(""); len(objs) != 1 {
		t.Errorf("%d objects after an all-dropped batch, want still 1", len(objs))
	}
	if got := e.checkpoint("fh").Shards[e.shards[0].ID].SequenceNumber; got != seq {
		t.Errorf("checkpoint %q, want %q", got, seq)
	}
	if st := d.Stats(); st.RecordsDropped != 4 || st.RecordsOk != 2 || st.ObjectRecords != 2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestKPLDeaggregation(t *testing.T) {
	for _, withProcessor := range []bool{true, false} {
		t.Run(fmt.Sprintf("processor=%v", withProcessor), func(t *testing.T) {
			e := newEnv(t, 1)
			cfg := e.cfg()
			cfg.AppendDelimiter = true
			rec := &recorder{next: passthrough}
			var proc Processor
			if withProcessor {
				cfg.Processor, proc = processorCfg(), rec.Process
			}
			d := e.run(cfg, proc)
			agg := kpl.NewAggregator(0)
			users := []kpl.UserRecord{{PartitionKey: "u1", Data: []byte("one")}, {PartitionKey: "u2", Data: []byte("two")}, {PartitionKey: "u3", Data: []byte("three")}}
			for _, u := range users {
				if !agg.Add(u) {
					t.Fatal("aggregate full")
				}
			}
			aggregate, err := agg.Drain()
			if err != nil {
				t.Fatal(err)
			}
			seqs := e.putRecords(aggregate, streamproc.Record{PartitionKey: "plain-key", Data: []byte("plain")})
			e.flush(d)

			if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != "one\ntwo\nthree\nplain\n" {
				t.Fatalf("objects = %+v, want the 4 user records", objs)
			}
			if st := d.Stats(); st.RecordsIn != 4 || st.ObjectRecords != 4 {
				t.Errorf("stats = %+v", st)
			}
			if !withProcessor {
				return
			}
			if len(rec.events) != 1 || len(rec.events[0].Records) != 4 {
				t.Fatalf("invocations %v, want one of 4 records", rec.sizes())
			}
			ev := rec.events[0]
			if ev.DeliveryStreamArn != "arn:aws:firehose:us-east-1:000000000000:deliverystream/fh" ||
				ev.SourceKinesisStreamArn != "arn:aws:kinesis:us-east-1:000000000000:stream/events" || ev.Region != "us-east-1" || ev.InvocationID == "" {
				t.Errorf("event envelope = %+v", ev)
			}
			want := []struct {
				seq, pk, data string
				sub           int64
			}{{seqs[0], "u1", "one", 0}, {seqs[0], "u2", "two", 1}, {seqs[0], "u3", "three", 2}, {seqs[1], "plain-key", "plain", 0}}
			ids := map[string]bool{}
			for i, r := range ev.Records {
				m := r.KinesisFirehoseRecordMetadata
				w := want[i]
				if m.SequenceNumber != w.seq || m.SubsequenceNumber != w.sub || m.PartitionKey != w.pk || string(r.Data) != w.data ||
					m.ShardID != e.shards[0].ID || !r.ApproximateArrivalTimestamp.Equal(t0) || !m.ApproximateArrivalTimestamp.Equal(t0) {
					t.Errorf("record %d = %+v (data %q), want %+v", i, m, r.Data, w)
				}
				ids[r.RecordID] = true
			}
			if len(ids) != 4 {
				t.Errorf("record ids are not unique: %v", ids)
			}
		})
	}
}

func TestNewDeliveryStreamStartsAtLatest(t *testing.T) {
	e := newEnv(t, 2)
	e.put(0, []byte("before-0"))
	e.put(1, []byte("before-1"))
	d := e.run(e.cfg(), nil)
	e.put(0, []byte("after"))
	e.flush(d)
	if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != "after" {
		t.Fatalf("objects = %+v, want only the record written after creation", objs)
	}
}

// TestCreationPositionSurvivesRestart: records written after the delivery
// stream was created but before it ever ran are delivered; a restart does
// not move the start to a new LATEST.
func TestCreationPositionSurvivesRestart(t *testing.T) {
	e := newEnv(t, 1)
	e.open(e.cfg(), nil, e.opts()) // created, never run
	e.put(0, []byte("written while down"))
	d := e.run(e.cfg(), nil)
	e.flush(d)
	if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != "written while down" {
		t.Fatalf("objects = %+v", objs)
	}
}

// TestKillAndRestart stops a delivery stream the way a crash would (no
// final flush) and restarts it: everything acknowledged by the stream is
// delivered, at least once.
func TestKillAndRestart(t *testing.T) {
	tests := []struct {
		name string
		// loseCheckpoint rolls the checkpoint file back to its state before
		// the first object, as if the process died between writing the
		// object and writing the checkpoint.
		loseCheckpoint bool
		want           map[string]int // record → times delivered
	}{
		{"buffered records are read again", false, map[string]int{"a": 1, "b": 1, "c": 1, "d": 1}},
		{"an object without its checkpoint is delivered twice", true, map[string]int{"a": 2, "b": 2, "c": 1, "d": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			cfg := e.cfg()
			d1 := e.open(cfg, nil, e.opts())
			d1.abandon = true
			r1 := e.start(d1)
			cpPath := filepath.Join(e.ckptDir, "fh.json")
			initial, err := os.ReadFile(cpPath)
			if err != nil {
				t.Fatal(err)
			}
			big := func(c byte) []byte { return append([]byte{c}, make([]byte, 400<<10)...) }
			seqs := e.put(0, big('a'), big('b'), big('c'))
			e.tick(r1) // writes a+b; c waits in the buffer
			e.put(0, []byte("d"))
			e.tick(r1)
			if err := r1.stop(); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			if n := len(e.objects("")); n != 1 {
				t.Fatalf("%d objects before the restart, want 1", n)
			}
			if got := e.checkpoint("fh").Shards[e.shards[0].ID].SequenceNumber; got != seqs[1] {
				t.Fatalf("checkpoint %q, want the last record of the object %q", got, seqs[1])
			}
			if tt.loseCheckpoint {
				if err := os.WriteFile(cpPath, initial, 0o600); err != nil {
					t.Fatal(err)
				}
			}

			r2 := e.run(cfg, nil)
			e.flush(r2)
			got := map[string]int{}
			for _, o := range e.objects("") {
				for _, part := range bytes.SplitAfter(o.body, make([]byte, 400<<10)) {
					if len(part) > 0 {
						got[string(part[:1])]++
					}
				}
			}
			if !maps2Equal(got, tt.want) {
				t.Errorf("deliveries %v, want %v", got, tt.want)
			}
		})
	}
}

func maps2Equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCheckpointOnlyAfterObject makes object writes fail and checks that
// the checkpoint does not move until the object exists.
func TestCheckpointOnlyAfterObject(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.Prefix = "tweets/"
	// A file where the key's directory must go makes every write fail.
	blocker := filepath.Join(e.bucketDir, "tweets")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	failed := make(chan struct{}, 1)
	opts := e.opts()
	opts.Logger = nil // the retries are expected
	opts.Metrics = func(name string, v float64) {
		if name == MetricDeliverySuccess && v == 0 {
			select {
			case failed <- struct{}{}:
			default:
			}
		}
	}
	d := e.start(e.open(cfg, nil, opts))
	seqs := e.put(0, []byte("x"), []byte("y"))
	flushed := make(chan error, 1)
	go func() { flushed <- d.Flush(context.Background()) }()
	<-failed

	if c := e.checkpoint("fh").Shards[e.shards[0].ID]; c.SequenceNumber != "" || c.Cursor == "" {
		t.Fatalf("checkpoint moved while the object could not be written: %+v", c)
	}
	if st := d.Stats(); st.Objects != 0 || st.RecordsIn != 2 {
		t.Fatalf("stats = %+v", st)
	}

	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := <-flushed; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if objs := e.objects("tweets/"); len(objs) != 1 || string(objs[0].body) != "xy" {
		t.Fatalf("objects = %+v", objs)
	}
	if got := e.checkpoint("fh").Shards[e.shards[0].ID].SequenceNumber; got != seqs[1] {
		t.Errorf("checkpoint %q, want %q", got, seqs[1])
	}
}

func TestShutdownFlushesBuffers(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.Processor = processorCfg()
	d := e.run(cfg, passthrough)
	seq := e.put(0, []byte("buffered"))[0]
	e.tick(d)
	if n := len(e.objects("")); n != 0 {
		t.Fatalf("%d objects before shutdown", n)
	}
	if err := d.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != "buffered" {
		t.Fatalf("objects after shutdown = %+v", objs)
	}
	if got := e.checkpoint("fh").Shards[e.shards[0].ID].SequenceNumber; got != seq {
		t.Errorf("checkpoint %q, want %q", got, seq)
	}
	if err := d.Flush(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Flush after Run = %v, want ErrStopped", err)
	}
	if err := d.Run(context.Background()); err == nil {
		t.Error("a second Run succeeded")
	}
}

func TestStatsAndMetrics(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.Processor = processorCfg()
	var mu sync.Mutex
	sums, seen := map[string]float64{}, map[string]bool{}
	opts := e.opts()
	opts.Metrics = func(name string, v float64) {
		mu.Lock()
		defer mu.Unlock()
		sums[name] += v
		seen[name] = true
	}
	d := e.start(e.open(cfg, passthrough, opts))
	e.put(0, []byte("abc"))
	e.tick(d)
	e.clk.Advance(30 * time.Second)
	if got := d.Stats().DataFreshness; got != 30*time.Second {
		t.Errorf("DataFreshness = %v, want 30s", got)
	}
	e.flush(d)
	st := d.Stats()
	if st.DataFreshness != 0 || st.RecordsIn != 1 || st.Objects != 1 || st.ObjectBytes != 3 || st.LastCheckpointAdvanced != t0.Add(30*time.Second) {
		t.Errorf("stats = %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]float64{
		MetricReadRecords: 1, MetricReadBytes: 3, MetricIncomingRecords: 1, MetricIncomingBytes: 3,
		MetricExecuteSuccess: 1, MetricSucceedRecords: 1, MetricSucceedBytes: 3,
		MetricDeliveryRecords: 1, MetricDeliveryBytes: 3, MetricDeliverySuccess: 1, MetricDataFreshness: 0,
	}
	for name, v := range want {
		if !seen[name] || sums[name] != v {
			t.Errorf("metric %s = %v (seen %v), want %v", name, sums[name], seen[name], v)
		}
	}
}

func TestNewErrors(t *testing.T) {
	e := newEnv(t, 1)
	other := e.cfg()
	other.StreamName = "other"
	if err := e.eng.CreateStream(context.Background(), "other", 1); err != nil {
		t.Fatal(err)
	}
	e.open(other, nil, e.opts()) // checkpoint fh.json now belongs to "other"
	tests := []struct {
		name string
		mod  func(*Config, *Options) Processor
		want string
	}{
		{"invalid config", func(c *Config, _ *Options) Processor { c.Name = ""; return nil }, "Name is required"},
		{"processor function without config", func(*Config, *Options) Processor { return passthrough }, "without Config.Processor"},
		{"processor config without function", func(c *Config, _ *Options) Processor { c.Processor = processorCfg(); return nil }, "no Processor function"},
		{"checkpoint dir", func(_ *Config, o *Options) Processor { o.CheckpointDir = ""; return nil }, "CheckpointDir is required"},
		{"unknown stream", func(c *Config, _ *Options) Processor { c.Name, c.StreamName = "x", "missing"; return nil }, "ResourceNotFound"},
		{"stream ARN mismatch", func(c *Config, _ *Options) Processor {
			c.Name, c.StreamARN = "y", "arn:aws:kinesis:us-east-1:000000000000:stream/other"
			return nil
		}, "does not name stream events"},
		{"bucket dir", func(c *Config, o *Options) Processor {
			c.Name, o.BucketDir = "z", filepath.Join(o.BucketDir, "missing")
			return nil
		}, "BucketDir"},
		{"checkpoint of another source", func(*Config, *Options) Processor { return nil }, "belongs to source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, opts := e.cfg(), e.opts()
			proc := tt.mod(&cfg, &opts)
			_, err := New(cfg, e.eng, proc, e.bucket, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestStreamARNSource: the source may be given by ARN only.
func TestStreamARNSource(t *testing.T) {
	e := newEnv(t, 1)
	cfg := e.cfg()
	cfg.StreamName, cfg.StreamARN = "", e.eng.StreamARN(testStream)
	d := e.run(cfg, nil)
	e.put(0, []byte("by arn"))
	e.flush(d)
	if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != "by arn" {
		t.Fatalf("objects = %+v", objs)
	}
}

// TestObjectFsyncedBeforeRename: fileblob publishes an object by renaming a
// temp file; its data must be on disk before the name appears.
func TestObjectFsyncedBeforeRename(t *testing.T) {
	e := newEnv(t, 1)
	ds := e.open(e.cfg(), nil, e.opts())
	type syncCall struct {
		name    string
		visible int // finished objects in the bucket at that moment
	}
	var calls []syncCall
	ds.syncFile = func(f *os.File) error {
		visible := 0
		err := filepath.WalkDir(e.bucketDir, func(path string, de os.DirEntry, err error) error {
			if err == nil && !de.IsDir() && !strings.HasSuffix(path, ".tmp") {
				visible++
			}
			return err
		})
		calls = append(calls, syncCall{f.Name(), visible})
		if err != nil {
			return err
		}
		return f.Sync()
	}
	d := e.start(ds)
	e.put(0, []byte("durable"))
	e.flush(d)
	if len(calls) != 1 || calls[0].visible != 0 || !strings.HasSuffix(calls[0].name, ".tmp") {
		t.Fatalf("sync calls %+v, want one on the temp file before the object is visible", calls)
	}
	if objs := e.objects(""); len(objs) != 1 {
		t.Fatalf("%d objects", len(objs))
	}
}

// TestRecreatedStreamRestartsAtTrimHorizon: a checkpoint of a stream that
// was deleted and created again under the same name cannot be resumed; the
// shard starts at TRIM_HORIZON so nothing in the new stream is skipped.
func TestRecreatedStreamRestartsAtTrimHorizon(t *testing.T) {
	e := newEnv(t, 1)
	d := e.run(e.cfg(), nil)
	e.put(0, []byte("old"))
	e.flush(d)
	if err := d.stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.eng.DeleteStream(ctx, testStream); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.CreateStream(ctx, testStream, 1); err != nil {
		t.Fatal(err)
	}
	e.put(0, []byte("new"))
	d2 := e.run(e.cfg(), nil)
	e.flush(d2)
	var got []string
	for _, o := range e.objects("") {
		got = append(got, string(o.body))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"new", "old"}) {
		t.Errorf("objects %q, want old and new", got)
	}
}

// TestSourceDeletedStopsRun: losing the source is not retryable; Run still
// delivers what it holds and reports the error.
func TestSourceDeletedStopsRun(t *testing.T) {
	e := newEnv(t, 1)
	d := e.run(e.cfg(), nil)
	e.put(0, []byte("last words"))
	e.tick(d)
	if err := e.eng.DeleteStream(context.Background(), testStream); err != nil {
		t.Fatal(err)
	}
	err := d.wait()
	if err == nil || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Fatalf("Run = %v, want the source's ResourceNotFoundException", err)
	}
	if objs := e.objects(""); len(objs) != 1 || string(objs[0].body) != "last words" {
		t.Fatalf("objects = %+v, want the buffered record delivered", objs)
	}
}

// TestThrottledReadsAreRetried runs against an engine enforcing Kinesis's
// 5 reads/s per shard: the clock stands still, so reads get throttled until
// the retry's wait (which advances the clock here) refills the limit.
func TestThrottledReadsAreRetried(t *testing.T) {
	e := newEnvWith(t, 1, stream.Options{EnforceLimits: true})
	opts := e.opts()
	var mu sync.Mutex
	waits := 0
	opts.Logger = nil
	opts.Retry = backoff.Policy{Base: time.Second, Max: time.Second, Sleep: func(context.Context, time.Duration) error {
		mu.Lock()
		waits++
		mu.Unlock()
		e.clk.Advance(time.Second)
		return nil
	}}
	d := e.start(e.open(e.cfg(), nil, opts))
	var want []byte
	for i := range 10 {
		b := []byte{byte('0' + i)}
		want = append(want, b...)
		e.put(0, b)
		e.flush(d)
	}
	var got []byte
	for _, o := range e.objects("") {
		got = append(got, o.body...)
	}
	slices.Sort(got)
	mu.Lock()
	defer mu.Unlock()
	if !bytes.Equal(got, want) || waits == 0 {
		t.Errorf("delivered %q after %d throttled reads, want %q after at least one", got, waits, want)
	}
}

func TestLambdaARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:lambda:us-east-1:1:function:f":      "arn:aws:lambda:us-east-1:1:function:f:$LATEST",
		"arn:aws:lambda:us-east-1:1:function:f:prod": "arn:aws:lambda:us-east-1:1:function:f:prod",
		"transformer": "transformer",
	} {
		if got := lambdaARN(in); got != want {
			t.Errorf("lambdaARN(%q) = %q, want %q", in, got, want)
		}
	}
}
