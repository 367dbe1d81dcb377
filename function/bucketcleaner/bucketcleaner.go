// Package bucketcleaner is a CloudFormation custom resource that empties a
// bucket when the stack is deleted, so deletion succeeds; the seed's
// clean-up step failed on its non-empty bucket.
package bucketcleaner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Objects is the part of the S3 API the cleaner uses (*s3.Client has it).
type Objects interface {
	ListObjects(ctx context.Context, in *s3.ListObjectsInput, opts ...func(*s3.Options)) (*s3.ListObjectsOutput, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

// Handler handles the custom resource's lifecycle events.
type Handler struct {
	S3     Objects
	Logger *slog.Logger
	// PageSize is the number of keys listed and deleted per request
	// (0 = S3's maximum of 1,000).
	PageSize int32
}

// Handle empties the bucket named by the BucketName property on Delete and
// does nothing on Create and Update. The physical ID is the bucket name.
func (h *Handler) Handle(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	bucket, _ := ev.ResourceProperties["BucketName"].(string)
	if bucket == "" {
		return ev.PhysicalResourceID, nil, errors.New("property BucketName is missing")
	}
	if ev.RequestType != cfn.RequestDelete {
		return bucket, nil, nil
	}
	n, err := h.Empty(ctx, bucket)
	if h.Logger != nil {
		h.Logger.InfoContext(ctx, "bucket emptied", "bucket", bucket, "objects", n, "err", err)
	}
	return bucket, nil, err
}

// Empty deletes every object of bucket, 1,000 per request, and returns how
// many were deleted. A bucket that no longer exists is already empty.
func (h *Handler) Empty(ctx context.Context, bucket string) (int, error) {
	deleted := 0
	for {
		// Always list from the start: the previous page is gone, so no
		// continuation token is needed and the plain ListObjects call does
		// (s3rver fails ListObjectsV2 pages that need a token).
		in := &s3.ListObjectsInput{Bucket: aws.String(bucket)}
		if h.PageSize > 0 {
			in.MaxKeys = aws.Int32(h.PageSize)
		}
		page, err := h.S3.ListObjects(ctx, in)
		if err != nil {
			var nsb *types.NoSuchBucket
			if errors.As(err, &nsb) {
				return deleted, nil
			}
			return deleted, fmt.Errorf("list %s: %w", bucket, err)
		}
		if len(page.Contents) == 0 {
			return deleted, nil
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := h.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return deleted, fmt.Errorf("delete objects of %s: %w", bucket, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return deleted, fmt.Errorf("delete %s/%s: %s %s (and %d more failures)", bucket, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
		}
		deleted += len(ids)
	}
}
