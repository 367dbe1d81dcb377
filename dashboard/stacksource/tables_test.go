package stacksource

import (
	"encoding/json"
	"github.com/streamproc/streamproc/function/transformer"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc/dashboard"
	"github.com/streamproc/streamproc/local/firehose"
)

// Both kinds of error-output line show with their kind, reason and bytes,
// as the delivery stream writes them.
func TestParseEnvelope(t *testing.T) {
	at := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name, key, kind, reason string
		line                    []byte
	}{
		{"processing failed", "errors/processing-failed/2026/12/04/14/x", "processing failed", "Lambda.ProcessingFailed: not JSON",
			mustJSON(firehose.ErrorRecord{ErrorCode: "Lambda.ProcessingFailed", ErrorMessage: "not JSON", AttemptEndingTimestamp: at.UnixMilli(), RawData: []byte("garbage")})},
		{"conversion failed", "errors/format-conversion-failed/2026/12/04/14/x", "format conversion failed", "DataFormatConversion.MalformedData: not an object",
			mustJSON(firehose.ConversionErrorRecord{LastErrorCode: "DataFormatConversion.MalformedData", LastErrorMessage: "not an object", AttemptEndingTimestamp: at.UnixMilli(), RawData: []byte("garbage")})},
		{"conversion failed, newer spelling", "errors/format-conversion-failed/2026/12/04/14/x", "format conversion failed", "DataFormatConversion.MalformedData",
			[]byte(`{"ErrorCode":"DataFormatConversion.MalformedData","attemptEndingTimestamp":` + mustString(at.UnixMilli()) + `,"rawData":"Z2FyYmFnZQ=="}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseEnvelope(tc.key, tc.line, func(string) (string, bool) { return "", false })
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind != tc.kind || f.Reason != tc.reason || f.Data != "garbage" || !f.Time.Equal(at) || f.Where != tc.key {
				t.Errorf("got %+v", f)
			}
		})
	}
	// The transformer's own reason, found by the record's fingerprint,
	// replaces Firehose's generic one.
	line := mustJSON(firehose.ErrorRecord{ErrorCode: "Lambda.ProcessingFailedStatus", AttemptEndingTimestamp: at.UnixMilli(), RawData: []byte("garbage")})
	why := func(fp string) (string, bool) {
		return "not JSON: starts with \"garbage\"", fp == transformer.Fingerprint([]byte("garbage"))
	}
	if f, err := parseEnvelope("errors/processing-failed/x", line, why); err != nil || f.Reason != `not JSON: starts with "garbage"` {
		t.Errorf("with the transformer's reason: %+v %v", f, err)
	}
	if _, err := parseEnvelope("k", []byte("not json"), why); err == nil {
		t.Error("an unreadable line parsed")
	}
}

func mustString(n int64) string { b, _ := json.Marshal(n); return string(b) }

// A window holding only invalid records has no hashtags: the page must get
// [] (it reads hashtags[0]), not null.
func TestTopOfEmptyWindow(t *testing.T) {
	b, err := json.Marshal(topOf(dashboard.TrendWindow{}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"hashtags":[]`) {
		t.Errorf("empty window = %s, want hashtags []", b)
	}
}
