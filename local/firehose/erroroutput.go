package firehose

import (
	"encoding/json"
	"strings"
	"time"
)

// ErrorOutputLine is one line of either kind of error-output object, read
// back: processing-failed envelopes carry errorCode/errorMessage,
// conversion error records lastErrorCode/lastErrorMessage (or, in AWS's
// newer spelling, errorCode/errorMessage under a format-conversion-failed
// key).
type ErrorOutputLine struct {
	// Type is ErrorOutputTypeProcessingFailed or
	// ErrorOutputTypeFormatConversionFailed.
	Type                   string
	Code, Message          string
	AttemptEndingTimestamp time.Time
	SequenceNumber         string
	RawData                []byte
}

// ParseErrorOutputLine reads one line of the error-output object at key
// (keys match without regard to case, as the SerDe does).
func ParseErrorOutputLine(key string, line []byte) (ErrorOutputLine, error) {
	var e struct {
		ErrorRecord
		LastErrorCode    string `json:"lastErrorCode"`
		LastErrorMessage string `json:"lastErrorMessage"`
		SequenceNumber   string `json:"sequenceNumber"`
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return ErrorOutputLine{}, err
	}
	l := ErrorOutputLine{Type: ErrorOutputTypeProcessingFailed, Code: e.ErrorCode, Message: e.ErrorMessage,
		AttemptEndingTimestamp: time.UnixMilli(e.AttemptEndingTimestamp).UTC(), SequenceNumber: e.SequenceNumber, RawData: e.RawData}
	switch {
	case e.LastErrorCode != "" || e.LastErrorMessage != "":
		l.Type, l.Code, l.Message = ErrorOutputTypeFormatConversionFailed, e.LastErrorCode, e.LastErrorMessage
	case strings.Contains(key, ErrorOutputTypeFormatConversionFailed):
		l.Type = ErrorOutputTypeFormatConversionFailed
	}
	return l, nil
}
