package kinesisapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/streamproc/streamproc/local/stream"
)

// Error types this layer produces beyond the engine's codes (stream.Code*).
const (
	codeSerialization       = "SerializationException"
	codeUnknownOperation    = "UnknownOperationException"
	codeExpiredIterator     = "ExpiredIteratorException"
	codeExpiredNextToken    = "ExpiredNextTokenException"
	codeMissingAuth         = "MissingAuthenticationTokenException"
	codeIncompleteSignature = "IncompleteSignatureException"
	codeInvalidSignature    = "InvalidSignatureException"
	codeUnrecognizedClient  = "UnrecognizedClientException"
	codeRequestTooLarge     = "RequestEntityTooLargeException"
)

// apiError is one AWS error response: HTTP status, the __type code and the
// user-facing message. cause is operator detail for the log and is never
// sent to the client.
type apiError struct {
	status int
	code   string
	msg    string
	cause  error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.msg + ": " + e.cause.Error()
	}
	return e.code + ": " + e.msg
}

func (e *apiError) Unwrap() error { return e.cause }

func clientErr(code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

func invalidArg(format string, args ...any) *apiError {
	return clientErr(stream.CodeInvalidArgument, format, args...)
}

func notFound(format string, args ...any) *apiError {
	return clientErr(stream.CodeResourceNotFound, format, args...)
}

func internalErr(cause error) *apiError {
	return &apiError{status: http.StatusInternalServerError, code: stream.CodeInternalFailure, msg: "Internal service failure.", cause: cause}
}

// toAPIError maps any error from this package or the engine to the response
// it produces. Engine errors keep their code and AWS-worded message; errors
// that carry no code are internal failures whose detail stays in the log.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var se *stream.Error
	if errors.As(err, &se) {
		if se.Code == stream.CodeInternalFailure {
			return internalErr(err)
		}
		return &apiError{status: http.StatusBadRequest, code: se.Code, msg: se.Message}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The client went away or the server is shutting down; the answer
		// is unlikely to be read, but it must not claim success.
		return &apiError{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", msg: "The request was cancelled.", cause: err}
	}
	return internalErr(err)
}

// validator collects model-constraint violations and renders them the way
// Kinesis (Coral) does: "2 validation errors detected: Value 'x' at
// 'streamName' failed to satisfy constraint: Member must ...; Value ...".
// Like AWS it reports at most ten.
type validator struct {
	errs []string
}

// maxValidationErrors is how many violations one message lists.
const maxValidationErrors = 10

// fail records one violation. value is the rendered value (already quoted
// by the caller when it is not null).
func (v *validator) fail(value, path, constraint string) {
	if len(v.errs) >= maxValidationErrors {
		return
	}
	v.errs = append(v.errs, "Value "+value+" at '"+path+"' failed to satisfy constraint: "+constraint)
}

func quote(s string) string { return "'" + s + "'" }

// blobValue renders a blob the way Coral prints a java.nio.ByteBuffer.
func blobValue(n int) string {
	return fmt.Sprintf("'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]'", n, n)
}

// err returns the ValidationException for the violations, or nil.
func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	s := "s"
	if len(v.errs) == 1 {
		s = ""
	}
	return clientErr(stream.CodeValidation, "%d validation error%s detected: %s", len(v.errs), s, strings.Join(v.errs, "; "))
}

// notNull checks a required member.
func (v *validator) notNull(present bool, path string) bool {
	if !present {
		v.fail("null", path, "Member must not be null")
	}
	return present
}

// str checks a string member against a pattern (full match; check may be
// nil) and length bounds in characters (max < 0: no upper bound).
func (v *validator) str(s *string, path string, pattern string, check func(string) bool, minLen, maxLen int) {
	if s == nil {
		return
	}
	if check != nil && !check(*s) {
		v.fail(quote(*s), path, "Member must satisfy regular expression pattern: "+pattern)
	}
	n := runeLen(*s)
	if n < minLen {
		v.fail(quote(*s), path, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	}
	if maxLen >= 0 && n > maxLen {
		v.fail(quote(*s), path, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
}

// intRange checks an integer member's bounds.
func (v *validator) intRange(n *int64, path string, minV, maxV int64) {
	if n == nil {
		return
	}
	if *n < minV {
		v.fail(quote(fmt.Sprint(*n)), path, fmt.Sprintf("Member must have value greater than or equal to %d", minV))
	}
	if *n > maxV {
		v.fail(quote(fmt.Sprint(*n)), path, fmt.Sprintf("Member must have value less than or equal to %d", maxV))
	}
}

// enum checks a string member against its allowed values.
func (v *validator) enum(s *string, path string, values ...string) {
	if s == nil {
		return
	}
	for _, x := range values {
		if *s == x {
			return
		}
	}
	v.fail(quote(*s), path, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

// runeLen counts a string's length the way the model's limits do
// (characters, not bytes).
func runeLen(s string) int {
	n := 0
	for range s {
		n++
	}
	return n
}
