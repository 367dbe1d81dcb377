package schedule

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// RuleARN returns the ARN of an EventBridge rule on the default event bus,
// the only bus scheduled rules can live on.
func RuleARN(region, account, rule string) string {
	return fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", region, account, rule)
}

// Event returns the event EventBridge sends a target when a scheduled rule
// fires at at. An empty id gets a random UUID, as EventBridge gives every
// event one.
//
// The time is in UTC and whole seconds, matching EventBridge's
// "2019-03-01T01:23:45Z". Detail is set to {} because the events type holds
// it as json.RawMessage, which would otherwise marshal as null, and
// handlers that decode detail into a struct expect an object.
func Event(ruleARN, region, account string, at time.Time, id string) events.EventBridgeEvent {
	if id == "" {
		id = newUUID()
	}
	return events.EventBridgeEvent{
		Version:    "0",
		ID:         id,
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  account,
		Time:       at.UTC().Truncate(time.Second),
		Region:     region,
		Resources:  []string{ruleARN},
		Detail:     json.RawMessage(`{}`),
	}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
