package stream

import (
	"errors"
	"fmt"

	"github.com/streamproc/streamproc"
)

// Kinesis error codes carried by *Error (and by PutResult.ErrorCode for the
// per-entry ones).
const (
	CodeResourceNotFound   = "ResourceNotFoundException"
	CodeResourceInUse      = "ResourceInUseException"
	CodeValidation         = "ValidationException"
	CodeInvalidArgument    = "InvalidArgumentException"
	CodeThroughputExceeded = "ProvisionedThroughputExceededException"
	CodeLimitExceeded      = "LimitExceededException"
	CodeInternalFailure    = "InternalFailure"
)

// Sentinels beyond the root package's. Each wraps the root kind that drives
// the caller's decision, so errors.Is(err, streamproc.ErrInvalid) etc. still
// work.
var (
	// ErrExists: a stream with that name already exists (ResourceInUseException).
	ErrExists = fmt.Errorf("%w: already exists", streamproc.ErrInvalid)
	// ErrClosed: the engine is closed or has stopped accepting writes.
	ErrClosed = fmt.Errorf("%w: stream engine closed", streamproc.ErrUnavailable)
	// ErrCorrupt: a segment file failed its checksum or framing checks.
	ErrCorrupt = errors.New("stream log corrupt")
)

// Error is an error the Kinesis API layer can map one to one: Code is the
// AWS error type, Message the user-facing text (AWS wording where known).
// Kind is the root sentinel (streamproc.ErrNotFound, ErrInvalid,
// ErrUnavailable, or one of this package's) and Err the operator-facing
// cause, if any; both are reachable with errors.Is / errors.As.
type Error struct {
	Code    string
	Message string
	Kind    error
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap exposes both the kind and the cause.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ErrorCode returns the Kinesis error code of err: the Code of the first
// *Error in its chain, CodeInternalFailure for any other non-nil error, and
// "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternalFailure
}

func notFound(format string, args ...any) *Error {
	return &Error{Code: CodeResourceNotFound, Message: fmt.Sprintf(format, args...), Kind: streamproc.ErrNotFound}
}

func validation(format string, args ...any) *Error {
	return &Error{Code: CodeValidation, Message: fmt.Sprintf(format, args...), Kind: streamproc.ErrInvalid}
}

func invalidArg(format string, args ...any) *Error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...), Kind: streamproc.ErrInvalid}
}

func throttled(format string, args ...any) *Error {
	return &Error{Code: CodeThroughputExceeded, Message: fmt.Sprintf(format, args...), Kind: streamproc.ErrUnavailable}
}

func internal(cause error) *Error {
	kind := streamproc.ErrUnavailable
	if errors.Is(cause, ErrClosed) {
		kind = ErrClosed
	}
	return &Error{Code: CodeInternalFailure, Message: "Internal service failure.", Kind: kind, Err: cause}
}
