package schedule

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestEventMatchesEventBridge(t *testing.T) {
	arn := RuleARN("us-east-2", "123456789012", "my-schedule")
	// A firing time with a fraction of a second still gives whole seconds.
	at := time.Date(2019, 3, 1, 1, 23, 45, 678e6, time.UTC)
	ev := Event(arn, "us-east-2", "123456789012", at, "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c")
	got, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	// The example of the EventBridge documentation, byte for byte.
	want := `{"version":"0","id":"cdc73f9d-aea9-11e3-9d5a-835b769c0d9c","detail-type":"Scheduled Event","source":"aws.events",` +
		`"account":"123456789012","time":"2019-03-01T01:23:45Z","region":"us-east-2",` +
		`"resources":["arn:aws:events:us-east-2:123456789012:rule/my-schedule"],"detail":{}}`
	if string(got) != want {
		t.Fatalf("event JSON:\n got %s\nwant %s", got, want)
	}
	var back events.EventBridgeEvent
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back.DetailType != "Scheduled Event" || back.Resources[0] != arn || !back.Time.Equal(at.Truncate(time.Second)) {
		t.Errorf("round trip: %+v", back)
	}
}

func TestEventTimeIsUTC(t *testing.T) {
	at := time.Date(2019, 3, 1, 10, 23, 45, 0, time.FixedZone("JST", 9*3600))
	ev := Event("arn", "r", "a", at, "x")
	b, _ := json.Marshal(ev.Time)
	if string(b) != `"2019-03-01T01:23:45Z"` {
		t.Errorf("time = %s", b)
	}
}

func TestEventGeneratesID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a := Event("arn", "r", "a", time.Now(), "")
	b := Event("arn", "r", "a", time.Now(), "")
	if !uuid.MatchString(a.ID) || a.ID == b.ID {
		t.Errorf("ids %q, %q: want distinct random UUIDs", a.ID, b.ID)
	}
}
