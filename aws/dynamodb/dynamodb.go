// Package dynamodb implements streamproc.Table on Amazon DynamoDB with
// aws-sdk-go-v2.
//
// Reads are strongly consistent (ConsistentRead), so a handler sees its own
// writes on AWS exactly as it does on the embedded table; that costs twice
// the read capacity of eventually consistent reads, which the reference
// app's read volume does not notice.
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/internal/awserr"
)

var _ streamproc.Table = (*Table)(nil)

// Table accesses DynamoDB tables by name. It is safe for concurrent use.
type Table struct {
	client *awsddb.Client

	// mu guards schemas, the key schemas learnt from DescribeTable. Query
	// needs the key attribute names; a table's key schema cannot change
	// while the table exists, so an entry is only dropped when a call on
	// that table fails (the table may have been deleted and recreated).
	mu      sync.Mutex
	schemas map[string]streamproc.KeySchema
}

// New returns a Table using client. The client's retryer handles throttled
// calls; unprocessed BatchPut items are returned to the caller, which
// retries them with backoff.
func New(client *awsddb.Client) *Table {
	return &Table{client: client, schemas: map[string]streamproc.KeySchema{}}
}

// BatchPut writes up to streamproc.MaxBatchPut items with one BatchWriteItem
// call. Items DynamoDB did not write now (UnprocessedItems) are returned,
// converted back to items (numbers as streamproc.Number, lists as []any).
// A batch DynamoDB rejects as a whole (ValidationException: too many items,
// duplicate keys, bad keys, an item over 400 KB) fails with ErrInvalid, a
// missing table with ErrNotFound, throttling of the whole call with
// ErrUnavailable; no item was written then.
func (t *Table) BatchPut(ctx context.Context, table string, items []streamproc.Item) ([]streamproc.Item, error) {
	if len(items) == 0 {
		return nil, nil
	}
	reqs := make([]types.WriteRequest, len(items))
	for i, it := range items {
		av, err := marshalItem(it)
		if err != nil {
			return nil, fmt.Errorf("dynamodb BatchPut to table %q: item %d: %w", table, i, err)
		}
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: av}}
	}
	out, err := t.client.BatchWriteItem(ctx, &awsddb.BatchWriteItemInput{
		RequestItems: map[string][]types.WriteRequest{table: reqs},
	})
	if err != nil {
		return nil, t.fail(table, fmt.Sprintf("dynamodb BatchWriteItem of %d items to table %q", len(items), table), err)
	}
	var unprocessed []streamproc.Item
	for _, r := range out.UnprocessedItems[table] {
		if r.PutRequest == nil {
			continue
		}
		it, err := unmarshalItem(r.PutRequest.Item)
		if err != nil {
			return nil, fmt.Errorf("dynamodb BatchWriteItem to table %q: unprocessed item: %w", table, err)
		}
		unprocessed = append(unprocessed, it)
	}
	return unprocessed, nil
}

// Get reads the item with the given key (exactly the key attributes).
func (t *Table) Get(ctx context.Context, table string, key streamproc.Item) (streamproc.Item, bool, error) {
	k, err := marshalItem(key)
	if err != nil {
		return nil, false, fmt.Errorf("dynamodb Get from table %q: key: %w", table, err)
	}
	out, err := t.client.GetItem(ctx, &awsddb.GetItemInput{
		TableName:      aws.String(table),
		Key:            k,
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, t.fail(table, fmt.Sprintf("dynamodb GetItem from table %q", table), err)
	}
	if out.Item == nil {
		return nil, false, nil
	}
	it, err := unmarshalItem(out.Item)
	if err != nil {
		return nil, false, fmt.Errorf("dynamodb GetItem from table %q: %w", table, err)
	}
	return it, true, nil
}

// Query returns the items of one partition in range-key order, following
// LastEvaluatedKey until q.Limit items are collected or the partition ends.
// RangePrefix becomes begins_with on the range key, which DynamoDB allows
// for string and binary range keys only.
func (t *Table) Query(ctx context.Context, table string, q streamproc.Query) ([]streamproc.Item, error) {
	what := fmt.Sprintf("dynamodb Query of table %q", table)
	if q.Hash == nil {
		return nil, fmt.Errorf("%s: %w: the partition key value is required", what, streamproc.ErrInvalid)
	}
	if q.Limit < 0 {
		return nil, fmt.Errorf("%s: %w: negative limit %d", what, streamproc.ErrInvalid, q.Limit)
	}
	ks, err := t.schema(ctx, table)
	if err != nil {
		return nil, err
	}
	hash, err := marshalValue(ks.HashKey, q.Hash)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	// AWS rejects an empty key value in a key condition with
	// ValidationException; dynalite answers with an empty result instead.
	// Checking here gives the same answer on both.
	if s, ok := q.Hash.(string); ok && s == "" {
		return nil, fmt.Errorf("%s: %w: partition key %s cannot be an empty string", what, streamproc.ErrInvalid, ks.HashKey)
	}
	if b, ok := q.Hash.([]byte); ok && len(b) == 0 {
		return nil, fmt.Errorf("%s: %w: partition key %s cannot be an empty binary", what, streamproc.ErrInvalid, ks.HashKey)
	}
	in := &awsddb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("#h = :h"),
		ExpressionAttributeNames:  map[string]string{"#h": ks.HashKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": hash},
		ScanIndexForward:          aws.Bool(!q.Descending),
		ConsistentRead:            aws.Bool(true),
	}
	if q.RangePrefix != "" {
		var prefix types.AttributeValue
		switch {
		case ks.RangeKey == "":
			return nil, fmt.Errorf("%s: %w: RangePrefix on a table without a range key", what, streamproc.ErrInvalid)
		case ks.RangeType == "S":
			prefix = &types.AttributeValueMemberS{Value: q.RangePrefix}
		case ks.RangeType == "B":
			prefix = &types.AttributeValueMemberB{Value: []byte(q.RangePrefix)}
		default:
			return nil, fmt.Errorf("%s: %w: RangePrefix on range key %s of type %s (only S and B have prefixes)", what, streamproc.ErrInvalid, ks.RangeKey, ks.RangeType)
		}
		*in.KeyConditionExpression += " AND begins_with(#r, :p)"
		in.ExpressionAttributeNames["#r"] = ks.RangeKey
		in.ExpressionAttributeValues[":p"] = prefix
	}
	var items []streamproc.Item
	for {
		if q.Limit > 0 {
			in.Limit = aws.Int32(int32(min(q.Limit-len(items), 1<<30)))
		}
		out, err := t.client.Query(ctx, in)
		if err != nil {
			return nil, t.fail(table, what, err)
		}
		for _, av := range out.Items {
			it, err := unmarshalItem(av)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			items = append(items, it)
		}
		if len(out.LastEvaluatedKey) == 0 || (q.Limit > 0 && len(items) >= q.Limit) {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Scan reads one page of at most limit items (0: DynamoDB's 1 MB page)
// starting after startKey. LastKey holds only the key attributes; it may be
// set on a page that turns out to be the last, in which case the next page
// is empty with a nil LastKey.
func (t *Table) Scan(ctx context.Context, table string, startKey streamproc.Item, limit int) (streamproc.Page, error) {
	what := fmt.Sprintf("dynamodb Scan of table %q", table)
	if limit < 0 {
		return streamproc.Page{}, fmt.Errorf("%s: %w: negative limit %d", what, streamproc.ErrInvalid, limit)
	}
	in := &awsddb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 1<<30)))
	}
	if startKey != nil {
		k, err := marshalItem(startKey)
		if err != nil {
			return streamproc.Page{}, fmt.Errorf("%s: start key: %w", what, err)
		}
		in.ExclusiveStartKey = k
	}
	out, err := t.client.Scan(ctx, in)
	if err != nil {
		return streamproc.Page{}, t.fail(table, what, err)
	}
	page := streamproc.Page{Items: make([]streamproc.Item, 0, len(out.Items))}
	for _, av := range out.Items {
		it, err := unmarshalItem(av)
		if err != nil {
			return streamproc.Page{}, fmt.Errorf("%s: %w", what, err)
		}
		page.Items = append(page.Items, it)
	}
	if len(out.LastEvaluatedKey) > 0 {
		if page.LastKey, err = unmarshalItem(out.LastEvaluatedKey); err != nil {
			return streamproc.Page{}, fmt.Errorf("%s: last key: %w", what, err)
		}
	}
	return page, nil
}

// Add atomically adds delta to the Number attribute attr of the item with
// key (UpdateItem ADD, which creates the item and the attribute at 0) and
// returns the new value. DynamoDB rejects adding to a key attribute or to a
// non-number with ValidationException (ErrInvalid). A new value beyond
// int64 — possible, DynamoDB numbers have 38 digits — was stored but is
// reported as an ErrInvalid error.
func (t *Table) Add(ctx context.Context, table string, key streamproc.Item, attr string, delta int64) (int64, error) {
	what := fmt.Sprintf("dynamodb Add to %s of table %q", attr, table)
	k, err := marshalItem(key)
	if err != nil {
		return 0, fmt.Errorf("%s: key: %w", what, err)
	}
	out, err := t.client.UpdateItem(ctx, &awsddb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       k,
		UpdateExpression:          aws.String("ADD #a :d"),
		ExpressionAttributeNames:  map[string]string{"#a": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": number(strconv.FormatInt(delta, 10))},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, t.fail(table, what, err)
	}
	n, ok := out.Attributes[attr].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%s: UpdateItem returned %T for the attribute, want a number", what, out.Attributes[attr])
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w: new value %s is not an int64 (the update was applied)", what, streamproc.ErrInvalid, n.Value)
	}
	return v, nil
}

// schema returns the key schema of table, from the cache or DescribeTable.
func (t *Table) schema(ctx context.Context, table string) (streamproc.KeySchema, error) {
	t.mu.Lock()
	ks, ok := t.schemas[table]
	t.mu.Unlock()
	if ok {
		return ks, nil
	}
	out, err := t.client.DescribeTable(ctx, &awsddb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return ks, awserr.Wrap(fmt.Sprintf("dynamodb DescribeTable %q (for its key schema)", table), err)
	}
	if out.Table == nil {
		return ks, fmt.Errorf("dynamodb DescribeTable %q: no table description", table)
	}
	attrTypes := map[string]string{}
	for _, d := range out.Table.AttributeDefinitions {
		attrTypes[aws.ToString(d.AttributeName)] = string(d.AttributeType)
	}
	for _, e := range out.Table.KeySchema {
		name := aws.ToString(e.AttributeName)
		switch e.KeyType {
		case "HASH":
			ks.HashKey, ks.HashType = name, attrTypes[name]
		case "RANGE":
			ks.RangeKey, ks.RangeType = name, attrTypes[name]
		}
	}
	if ks.HashKey == "" {
		return ks, fmt.Errorf("dynamodb DescribeTable %q: key schema has no HASH key", table)
	}
	t.mu.Lock()
	t.schemas[table] = ks
	t.mu.Unlock()
	return ks, nil
}

// fail wraps err and forgets the cached schema of table: the failure may
// mean the table was deleted or recreated with another key.
func (t *Table) fail(table, what string, err error) error {
	t.mu.Lock()
	delete(t.schemas, table)
	t.mu.Unlock()
	return awserr.Wrap(what, err)
}

// CreateTable creates a table for spec with on-demand billing and waits up
// to timeout for it to become ACTIVE, then enables TTL on spec.TTLAttr when
// set. It is for tests, benchmarks and scratch stacks; the deployed tables
// come from template.yaml. A table that exists already with the same key
// schema is left as it is (TTL included); with another key schema it is
// ErrInvalid.
func CreateTable(ctx context.Context, client *awsddb.Client, spec streamproc.TableSpec, timeout time.Duration) error {
	what := fmt.Sprintf("dynamodb CreateTable %q", spec.Name)
	if spec.Key.HashKey == "" {
		return fmt.Errorf("%s: %w: no hash key", what, streamproc.ErrInvalid)
	}
	in := &awsddb.CreateTableInput{
		TableName:   aws.String(spec.Name),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String(spec.Key.HashKey), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(spec.Key.HashKey), AttributeType: types.ScalarAttributeType(spec.Key.HashType)},
		},
	}
	if spec.Key.RangeKey != "" {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(spec.Key.RangeKey), KeyType: types.KeyTypeRange})
		in.AttributeDefinitions = append(in.AttributeDefinitions,
			types.AttributeDefinition{AttributeName: aws.String(spec.Key.RangeKey), AttributeType: types.ScalarAttributeType(spec.Key.RangeType)})
	}
	existed := false
	if _, err := client.CreateTable(ctx, in); err != nil {
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			return awserr.Wrap(what, err)
		}
		existed = true
		ks, derr := New(client).schema(ctx, spec.Name)
		if derr != nil {
			return derr
		}
		if ks != spec.Key {
			return fmt.Errorf("%s: %w: table exists with key schema %+v, want %+v", what, streamproc.ErrInvalid, ks, spec.Key)
		}
	}
	w := awsddb.NewTableExistsWaiter(client, func(o *awsddb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(ctx, &awsddb.DescribeTableInput{TableName: aws.String(spec.Name)}, timeout); err != nil {
		return awserr.Wrap(what+": waiting for ACTIVE", err)
	}
	if spec.TTLAttr != "" && !existed {
		_, err := client.UpdateTimeToLive(ctx, &awsddb.UpdateTimeToLiveInput{
			TableName:               aws.String(spec.Name),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(spec.TTLAttr), Enabled: aws.Bool(true)},
		})
		if err != nil {
			return awserr.Wrap(fmt.Sprintf("%s: enable TTL on %s", what, spec.TTLAttr), err)
		}
	}
	return nil
}
