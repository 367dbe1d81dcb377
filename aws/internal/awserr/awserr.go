// Package awserr maps aws-sdk-go-v2 errors onto the error kinds of the
// streamproc ports (ErrNotFound, ErrInvalid, ErrUnavailable), so every AWS
// adapter classifies the same service error the same way.
package awserr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/smithy-go"

	"github.com/streamproc/streamproc"
)

// codeKind maps a service error code to its kind. Codes come from the
// service models (aws-models/*.json) of the services we call; the SDK strips
// the JSON protocols' namespace prefix ("com.amazonaws...#") before we see
// them.
func codeKind(code string) error {
	switch code {
	case "ResourceNotFoundException", // Kinesis, DynamoDB
		"ParameterNotFound", // SSM GetParameter
		"NoSuchBucket":      // S3
		return streamproc.ErrNotFound
	case "ValidationException", // model constraints (all JSON services)
		"InvalidArgumentException", // Kinesis: bad hash key, conflicting params
		"SerializationException",   // a body the service could not decode
		"InvalidKeyId",             // SSM: the KMS key of a SecureString is unusable
		"InvalidParameterException":
		return streamproc.ErrInvalid
	case "ProvisionedThroughputExceededException", // Kinesis, DynamoDB
		"ThrottlingException", // DynamoDB on-demand, SSM
		"Throttling",
		"RequestLimitExceeded", // DynamoDB account-level
		"LimitExceededException",
		"KMSThrottlingException",
		"InternalFailure", // Kinesis (also the PutRecords entry code)
		"InternalFailureException",
		"InternalServerError", // DynamoDB, SSM
		"ServiceUnavailable",
		"ServiceUnavailableException",
		"SlowDown",       // S3
		"RequestTimeout": // S3
		return streamproc.ErrUnavailable
	}
	return nil
}

// Kind returns the streamproc sentinel err belongs to, or nil when it belongs
// to none (e.g. AccessDeniedException: neither a bad request nor transient, a
// deployment problem the caller should surface as is). A canceled or expired
// context is never classified: the caller gave up, the service did not fail.
func Kind(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if k := codeKind(api.ErrorCode()); k != nil {
			return k
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) && status.HTTPStatusCode() >= 500 {
		return streamproc.ErrUnavailable
	}
	// The generated validators return InvalidParamsError by value.
	var params smithy.InvalidParamsError
	var paramsPtr *smithy.InvalidParamsError
	if errors.As(err, &params) || errors.As(err, &paramsPtr) {
		return streamproc.ErrInvalid
	}
	var conn interface{ ConnectionError() bool }
	if errors.As(err, &conn) && conn.ConnectionError() {
		return streamproc.ErrUnavailable
	}
	var quota ratelimit.QuotaExceededError
	if errors.As(err, &quota) {
		// The SDK's client-side retry budget ran dry because the service
		// keeps failing transiently.
		return streamproc.ErrUnavailable
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return streamproc.ErrUnavailable
	}
	return nil
}

// Wrap wraps err from an SDK call with what was being done and its
// streamproc kind, keeping the SDK error in the chain for errors.As:
// "dynamodb BatchWriteItem table \"Events\": not found: operation error ...".
func Wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if k := Kind(err); k != nil {
		return fmt.Errorf("%s: %w: %w", what, k, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
