package bucketcleaner

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/streamproc/streamproc/internal/emulator"
)

// Against s3rver: several pages of objects under several prefixes, as
// Firehose and the dead-letter sink leave them.
func TestDeleteEmptiesBucket(t *testing.T) {
	client := emulator.S3Client(emulator.S3rver(t, "delivery"))
	ctx := context.Background()
	const n = 45
	for i := range n {
		key := fmt.Sprintf("tweets/2026/11/26/10/obj-%04d", i)
		if i%3 == 0 {
			key = fmt.Sprintf("errors/processing-failed/2026/11/26/10/obj-%04d", i)
		}
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("delivery"), Key: aws.String(key), Body: bytes.NewReader([]byte("{}\n"))}); err != nil {
			t.Fatal(err)
		}
	}
	h := &Handler{S3: client, PageSize: 10}
	for _, rt := range []cfn.RequestType{cfn.RequestCreate, cfn.RequestUpdate} {
		id, _, err := h.Handle(ctx, cfn.Event{RequestType: rt, ResourceProperties: map[string]any{"BucketName": "delivery"}})
		if err != nil || id != "delivery" {
			t.Fatalf("%s: %q %v", rt, id, err)
		}
	}
	left, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("delivery")})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Contents) != n {
		t.Fatal("Create/Update must not delete objects")
	}
	if _, _, err := h.Handle(ctx, cfn.Event{RequestType: cfn.RequestDelete, ResourceProperties: map[string]any{"BucketName": "delivery"}}); err != nil {
		t.Fatal(err)
	}
	left, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("delivery")})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Contents) != 0 {
		t.Fatalf("%d objects left after Delete", len(left.Contents))
	}
	// A bucket that is already gone is fine: deleting the stack again works.
	if n, err := h.Empty(ctx, "no-such-bucket"); err != nil || n != 0 {
		t.Fatalf("missing bucket: %d %v", n, err)
	}
	if _, _, err := h.Handle(ctx, cfn.Event{RequestType: cfn.RequestDelete, ResourceProperties: map[string]any{}}); err == nil {
		t.Fatal("a missing BucketName property must fail")
	}
}
