package transformer

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"github.com/streamproc/streamproc"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc/internal/fixture"
)

func seedEvent(t *testing.T) events.KinesisFirehoseEvent { return fixture.SeedFirehoseEvent(t) }

func TestSeedEvent(t *testing.T) {
	ev := seedEvent(t)
	resp, err := (&Handler{}).Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Records) != 1 {
		t.Fatalf("%d records", len(resp.Records))
	}
	r := resp.Records[0]
	if r.RecordID != ev.Records[0].RecordID || r.Result != events.KinesisFirehoseTransformedStateOk {
		t.Fatalf("record = %s %s", r.RecordID, r.Result)
	}
	if bytes.Count(r.Data, []byte("\n")) != 1 || !bytes.HasSuffix(r.Data, []byte("\n")) {
		t.Fatalf("data is not one newline-terminated line: %q", r.Data)
	}
	dec := stdjson.NewDecoder(bytes.NewReader(r.Data))
	dec.UseNumber()
	var got struct {
		ID        stdjson.Number `json:"id"`
		CreatedAt string         `json:"created_at"`
		Source    string         `json:"source"`
		Text      string         `json:"text"`
		UserName  string         `json:"user_name"`
	}
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.ID != "1174681441692635136" || got.CreatedAt != "2019-09-19 13:47:34" || got.Source != "Twitter for iPhone" {
		t.Errorf("got %+v", got)
	}
	if !strings.Contains(got.Text, "위험한 선택을 감행하는 오마이걸") || got.UserName != "기적은너야🌈" {
		t.Errorf("UTF-8 text lost: %q / %q", got.Text, got.UserName)
	}
}

func TestMixedBatch(t *testing.T) {
	seed := seedEvent(t).Records[0].Data
	in := []struct {
		data []byte
		want string
	}{
		{seed, events.KinesisFirehoseTransformedStateOk},
		{[]byte(`{"delete":{"status":{"id":1,"id_str":"1"}}}`), events.KinesisFirehoseTransformedStateDropped},
		{[]byte{0xff, 0xfe, 0xfd}, events.KinesisFirehoseTransformedStateProcessingFailed},
		{[]byte(`{"not":"a tweet"}`), events.KinesisFirehoseTransformedStateProcessingFailed},
		{seed, events.KinesisFirehoseTransformedStateOk},
	}
	var ev events.KinesisFirehoseEvent
	for i, r := range in {
		ev.Records = append(ev.Records, events.KinesisFirehoseEventRecord{RecordID: string(rune('a' + i)), Data: r.data})
	}
	resp, err := (&Handler{}).Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Records) != len(in) {
		t.Fatalf("%d records back for %d", len(resp.Records), len(in))
	}
	for i, r := range resp.Records {
		if r.RecordID != ev.Records[i].RecordID || r.Result != in[i].want {
			t.Errorf("record %d = %s %s, want %s %s", i, r.RecordID, r.Result, ev.Records[i].RecordID, in[i].want)
		}
		if r.Result == events.KinesisFirehoseTransformedStateProcessingFailed && !bytes.Equal(r.Data, in[i].data) {
			t.Errorf("record %d: failed record must carry its original data", i)
		}
		// Firehose fails a whole batch's transformation over one record
		// without data, whatever its result.
		if b, _ := stdjson.Marshal(r); bytes.Contains(b, []byte(`"data":null`)) {
			t.Errorf("record %d (%s) has no data: %s", i, r.Result, b)
		}
	}
}

func TestResponseStaysUnderLambdaLimit(t *testing.T) {
	seed := seedEvent(t).Records[0].Data
	var ev events.KinesisFirehoseEvent
	// The seed tweet condenses to ~0.6 KB (0.8 KB as base64): 12,000 of
	// them would need ~10 MB of response.
	for i := range 12000 {
		ev.Records = append(ev.Records, events.KinesisFirehoseEventRecord{RecordID: string(rune(i)), Data: seed})
	}
	resp, err := (&Handler{}).Handle(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := stdjson.Marshal(resp)
	if len(b) > MaxResponseBytes {
		t.Fatalf("response is %d bytes, over the 6 MB limit", len(b))
	}
	failed := 0
	for _, r := range resp.Records {
		if r.Result == events.KinesisFirehoseTransformedStateProcessingFailed {
			failed++
		} else if r.Result != events.KinesisFirehoseTransformedStateOk {
			t.Fatalf("unexpected result %s", r.Result)
		}
	}
	if failed == 0 {
		t.Fatalf("expected records over the limit to be returned as ProcessingFailed")
	}
}

// The wire response has exactly Firehose's three fields per record: no
// empty "metadata" object from the aws-lambda-go type.
func TestWireResponse(t *testing.T) {
	ev := seedEvent(t)
	resp, err := (&Handler{}).HandleWire(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	b, err := stdjson.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Records []map[string]stdjson.RawMessage `json:"records"`
	}
	if err := stdjson.Unmarshal(b, &got); err != nil || len(got.Records) != 1 {
		t.Fatalf("%s: %v", b, err)
	}
	keys := []string{}
	for k := range got.Records[0] {
		keys = append(keys, k)
	}
	if len(keys) != 3 || got.Records[0]["recordId"] == nil || got.Records[0]["result"] == nil || got.Records[0]["data"] == nil {
		t.Errorf("record keys %v, want recordId, result, data", keys)
	}
}

// A Kinesis event sent to the transformer (it decodes into the Firehose
// type, keys matched in any case) fails as a whole instead of answering
// ProcessingFailed for records no one can map back.
func TestKinesisEventRefused(t *testing.T) {
	var ev events.KinesisFirehoseEvent
	if err := stdjson.Unmarshal([]byte(`{"Records":[{"kinesis":{"data":"eA=="},"eventSource":"aws:kinesis"}]}`), &ev); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Handler{}).Handle(context.Background(), ev); !errors.Is(err, streamproc.ErrInvalid) || !strings.Contains(err.Error(), "no recordId") {
		t.Errorf("Handle = %v, want an invalid-event error", err)
	}
}
