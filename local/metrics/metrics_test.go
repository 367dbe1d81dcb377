package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPromNames(t *testing.T) {
	tests := map[string]string{
		"IncomingRecords":            "streamproc_incoming_records",
		"DeliveryToS3.Records":       "streamproc_delivery_to_s3_records",
		"DeliveryToS3.DataFreshness": "streamproc_delivery_to_s3_data_freshness",
		"IteratorAge":                "streamproc_iterator_age",
		"RecordsDeadLettered":        "streamproc_records_dead_lettered",
	}
	for in, want := range tests {
		if got := promName(in); got != want {
			t.Errorf("promName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRegistryServesAndSums(t *testing.T) {
	r := New()
	r.Add("IncomingRecords", "StreamName", "s", 3)
	r.Add("IncomingRecords", "StreamName", "s", 2)
	r.Counter("FunctionName", "f").Count("RecordsDeadLettered", 4)
	r.Set("IteratorAge", "FunctionName", "f", 1500)
	r.Set("IteratorAge", "FunctionName", "g", 700)
	if r.Get("IncomingRecords", "StreamName", "s") != 5 || r.Sum("RecordsDeadLettered") != 4 || r.Max("IteratorAge") != 1500 {
		t.Fatalf("values: %v %v %v", r.Get("IncomingRecords", "StreamName", "s"), r.Sum("RecordsDeadLettered"), r.Max("IteratorAge"))
	}
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`streamproc_incoming_records_total{dimension="StreamName",value="s"} 5`,
		`streamproc_records_dead_lettered_total{dimension="FunctionName",value="f"} 4`,
		`streamproc_iterator_age{dimension="FunctionName",value="f"} 1500`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
