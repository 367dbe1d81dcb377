package awserr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/streamproc/streamproc"
)

// opErr wraps err the way the SDK hands errors to callers.
func opErr(err error) error {
	return &smithy.OperationError{ServiceID: "Test", OperationName: "Op", Err: err}
}

func apiErr(status int, code string) error {
	return opErr(&awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
		},
	})
}

// TestKind pins the classification of the SDK's error shapes.
func TestKind(t *testing.T) {
	params := smithy.InvalidParamsError{Context: "In"}
	params.Add(smithy.NewErrParamRequired("Name"))
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"resource not found", apiErr(400, "ResourceNotFoundException"), streamproc.ErrNotFound},
		{"validation", apiErr(400, "ValidationException"), streamproc.ErrInvalid},
		{"invalid argument", apiErr(400, "InvalidArgumentException"), streamproc.ErrInvalid},
		{"throughput", apiErr(400, "ProvisionedThroughputExceededException"), streamproc.ErrUnavailable},
		{"throttling", apiErr(400, "ThrottlingException"), streamproc.ErrUnavailable},
		{"unknown 5xx", apiErr(502, "BadGateway"), streamproc.ErrUnavailable},
		{"unknown 4xx", apiErr(400, "AccessDeniedException"), nil},
		{"params by value", opErr(params), streamproc.ErrInvalid},
		{"params by pointer", opErr(&params), streamproc.ErrInvalid},
		{"connection", opErr(&smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial", Err: errors.New("refused")}}), streamproc.ErrUnavailable},
		{"retry quota", opErr(ratelimit.QuotaExceededError{Available: 0, Requested: 5}), streamproc.ErrUnavailable},
		{"attempts exhausted", opErr(&retry.MaxAttemptsError{Attempt: 3, Err: apiErr(500, "InternalServerError")}), streamproc.ErrUnavailable},
		{"canceled", opErr(&smithyhttp.RequestSendError{Err: context.Canceled}), nil},
		{"deadline", opErr(fmt.Errorf("x: %w", context.DeadlineExceeded)), nil},
		{"plain", errors.New("boom"), nil},
		{"nil", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Kind(tc.err); got != tc.want {
				t.Fatalf("Kind(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	err := Wrap(`kinesis PutRecords to stream "s"`, apiErr(400, "ResourceNotFoundException"))
	if !errors.Is(err, streamproc.ErrNotFound) || !strings.HasPrefix(err.Error(), `kinesis PutRecords to stream "s": not found: `) {
		t.Fatalf("Wrap = %q", err)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "ResourceNotFoundException" {
		t.Fatalf("the SDK error is not reachable with errors.As: %v", err)
	}
	if Wrap("x", nil) != nil {
		t.Fatal("Wrap(nil) != nil")
	}
}
