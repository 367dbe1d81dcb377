package dynamodb_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/dynamodb"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/local/table/tabletest"
)

// createTables creates specs on client and deletes them when t ends, so
// consecutive subtests sharing one dynalite each start from empty tables.
func createTables(t *testing.T, client *awsddb.Client, specs ...streamproc.TableSpec) {
	t.Helper()
	ctx := context.Background()
	for _, s := range specs {
		if err := dynamodb.CreateTable(ctx, client, s, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx := context.Background()
			if _, err := client.DeleteTable(ctx, &awsddb.DeleteTableInput{TableName: aws.String(s.Name)}); err != nil {
				t.Errorf("DeleteTable %s: %v", s.Name, err)
				return
			}
			// dynalite deletes asynchronously (DELETING first), like AWS.
			w := awsddb.NewTableNotExistsWaiter(client, func(o *awsddb.TableNotExistsWaiterOptions) { o.MinDelay = 10 * time.Millisecond })
			if err := w.Wait(ctx, &awsddb.DescribeTableInput{TableName: aws.String(s.Name)}, 30*time.Second); err != nil {
				t.Errorf("table %s not deleted: %v", s.Name, err)
			}
		})
	}
}

// TestConformance runs the shared streamproc.Table suite against dynalite,
// the same bodies the embedded table passes.
func TestConformance(t *testing.T) {
	client := emulator.DynamoDBClient(emulator.Dynalite(t))
	tabletest.Run(t, func(t *testing.T, specs ...streamproc.TableSpec) streamproc.Table {
		createTables(t, client, specs...)
		return dynamodb.New(client)
	})
}
