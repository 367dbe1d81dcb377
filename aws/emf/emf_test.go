package emf

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestFlushWritesEMF(t *testing.T) {
	m := &Metrics{Dimensions: map[string]string{"FunctionName": "stack-DataStreamConsumer"}, Now: func() time.Time { return time.UnixMilli(1574109732004) }}
	m.Count("RecordsReceived", 3)
	m.Count("RecordsReceived", 2)
	m.Count("RecordsDeadLettered", 1)
	var buf bytes.Buffer
	if err := m.Flush(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64 `json:"Timestamp"`
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		FunctionName        string
		RecordsReceived     int64
		RecordsDeadLettered int64
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%s: %v", buf.Bytes(), err)
	}
	cw := doc.AWS.CloudWatchMetrics[0]
	if doc.AWS.Timestamp != 1574109732004 || cw.Namespace != "streamproc" || cw.Dimensions[0][0] != "FunctionName" || len(cw.Metrics) != 2 {
		t.Errorf("EMF envelope = %s", buf.Bytes())
	}
	if doc.RecordsReceived != 5 || doc.RecordsDeadLettered != 1 || doc.FunctionName != "stack-DataStreamConsumer" {
		t.Errorf("values = %+v", doc)
	}
	buf.Reset()
	if err := m.Flush(&buf); err != nil || buf.Len() != 0 {
		t.Errorf("second flush wrote %q, %v; counters must reset", buf.String(), err)
	}
}
