package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/streamproc/streamproc"
)

// scanPageBytes is DynamoDB's 1 MB page, measured here on stored bytes.
const scanPageBytes = 1 << 20

// BatchPut writes up to 25 items with DynamoDB BatchWriteItem's rules. The
// whole batch is validated first and fails with ErrInvalid naming the item
// index and the problem; nothing is written then. Items the Unprocessed knob
// selects are returned unwritten. The rest are committed in one synced Pebble
// batch (stronger than DynamoDB, which only makes each item atomic). An empty
// batch is a no-op.
func (s *Store) BatchPut(ctx context.Context, table string, items []streamproc.Item) ([]streamproc.Item, error) {
	leave, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	spec, err := s.spec(table)
	if err != nil {
		return nil, err
	}
	if len(items) > streamproc.MaxBatchPut {
		return nil, invalidf("table %s: batch of %d items, more than %d", table, len(items), streamproc.MaxBatchPut)
	}
	if len(items) == 0 {
		return nil, nil
	}
	if err := s.writable(); err != nil {
		return nil, err
	}
	type encoded struct{ key, value []byte }
	enc := make([]encoded, 0, len(items))
	seen := make(map[string]int, len(items))
	for i, it := range items {
		key, _, err := encodeKey(spec, it, false)
		if err != nil {
			return nil, fmt.Errorf("table %s: item %d: %w", table, i, err)
		}
		if j, dup := seen[string(key)]; dup {
			return nil, invalidf("table %s: items %d and %d have the same key (DynamoDB rejects duplicate keys in one batch)", table, j, i)
		}
		seen[string(key)] = i
		e := encoder{buf: make([]byte, 0, 256)}
		if err := e.item(it); err != nil {
			return nil, fmt.Errorf("table %s: item %d: %w", table, i, err)
		}
		if e.size > maxItemBytes {
			return nil, invalidf("table %s: item %d is %d bytes, more than DynamoDB's 400 KB", table, i, e.size)
		}
		enc = append(enc, encoded{key, e.buf})
	}
	var unprocessed []streamproc.Item
	b := s.db.NewBatch()
	defer b.Close()
	keys := make([][]byte, 0, len(enc))
	for i, e := range enc {
		if s.opts.Unprocessed != nil && s.opts.Unprocessed(items[i]) {
			unprocessed = append(unprocessed, items[i])
			continue
		}
		if err := b.Set(e.key, e.value, nil); err != nil {
			return nil, fmt.Errorf("table %s: %w", table, err)
		}
		keys = append(keys, e.key)
	}
	if len(keys) == 0 {
		return unprocessed, nil
	}
	unlock := s.lockStripes(keys...)
	defer unlock()
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, fmt.Errorf("table %s: write batch: %w", table, err)
	}
	return unprocessed, nil
}

// Get returns the item with the given key. key must hold exactly the key
// attributes (ErrInvalid otherwise, as DynamoDB's GetItem).
func (s *Store) Get(ctx context.Context, table string, key streamproc.Item) (streamproc.Item, bool, error) {
	leave, err := s.enter()
	if err != nil {
		return nil, false, err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	spec, err := s.spec(table)
	if err != nil {
		return nil, false, err
	}
	k, _, err := encodeKey(spec, key, true)
	if err != nil {
		return nil, false, fmt.Errorf("table %s: get: %w", table, err)
	}
	return s.get(table, k)
}

func (s *Store) get(table string, k []byte) (streamproc.Item, bool, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("table %s: get: %w", table, err)
	}
	defer closer.Close()
	it, err := decodeItem(v)
	if err != nil {
		return nil, false, fmt.Errorf("table %s: key %x: %w", table, k, err)
	}
	return it, true, nil
}

// Query returns the items of one partition in sort-key order (bytes for S
// and B, numeric for N), or reversed when q.Descending. RangePrefix works on
// S and B sort keys (begins_with); it is ErrInvalid on an N sort key or a
// table without one.
func (s *Store) Query(ctx context.Context, table string, q streamproc.Query) ([]streamproc.Item, error) {
	leave, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	spec, err := s.spec(table)
	if err != nil {
		return nil, err
	}
	if q.Limit < 0 {
		return nil, invalidf("table %s: query limit %d is negative", table, q.Limit)
	}
	k := spec.Key
	lower, _, err := keyAttr(tablePrefix(table), "(hash) "+k.HashKey, k.HashType, q.Hash, q.Hash != nil)
	if err != nil {
		return nil, fmt.Errorf("table %s: query: %w", table, err)
	}
	if q.RangePrefix != "" {
		if k.RangeType != "S" && k.RangeType != "B" {
			return nil, invalidf("table %s: RangePrefix needs a string or binary sort key", table)
		}
		lower = appendEscaped(lower, []byte(q.RangePrefix))
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return nil, fmt.Errorf("table %s: query: %w", table, err)
	}
	defer it.Close()
	first, next := it.First, it.Next
	if q.Descending {
		first, next = it.Last, it.Prev
	}
	var out []streamproc.Item
	for ok := first(); ok; ok = next() {
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
		if len(out)%256 == 255 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		item, err := decodeItem(it.Value())
		if err != nil {
			return nil, fmt.Errorf("table %s: key %x: %w", table, it.Key(), err)
		}
		out = append(out, item)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("table %s: query: %w", table, err)
	}
	return out, nil
}

// Scan returns one page of the table in key order, starting after startKey
// (nil: from the beginning; otherwise exactly the key attributes, like
// ExclusiveStartKey). A page holds at most limit items (0: no item cap) and
// about 1 MB, like DynamoDB. LastKey is nil exactly when no item follows.
func (s *Store) Scan(ctx context.Context, table string, startKey streamproc.Item, limit int) (streamproc.Page, error) {
	leave, err := s.enter()
	if err != nil {
		return streamproc.Page{}, err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return streamproc.Page{}, err
	}
	spec, err := s.spec(table)
	if err != nil {
		return streamproc.Page{}, err
	}
	if limit < 0 {
		return streamproc.Page{}, invalidf("table %s: scan limit %d is negative", table, limit)
	}
	p := tablePrefix(table)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return streamproc.Page{}, fmt.Errorf("table %s: scan: %w", table, err)
	}
	defer it.Close()
	ok := it.First()
	if startKey != nil {
		start, _, err := encodeKey(spec, startKey, true)
		if err != nil {
			return streamproc.Page{}, fmt.Errorf("table %s: scan start key: %w", table, err)
		}
		ok = it.SeekGE(start)
		if ok && bytes.Equal(it.Key(), start) {
			ok = it.Next()
		}
	}
	var page streamproc.Page
	bytesRead := 0
	var last streamproc.Item
	for ; ok; ok = it.Next() {
		if (limit > 0 && len(page.Items) >= limit) || bytesRead >= scanPageBytes {
			page.LastKey = keyOf(spec, last)
			break
		}
		item, err := decodeItem(it.Value())
		if err != nil {
			return streamproc.Page{}, fmt.Errorf("table %s: key %x: %w", table, it.Key(), err)
		}
		bytesRead += len(it.Key()) + len(it.Value())
		page.Items = append(page.Items, item)
		last = item
	}
	if err := it.Error(); err != nil {
		return streamproc.Page{}, fmt.Errorf("table %s: scan: %w", table, err)
	}
	return page, nil
}

// keyOf copies the key attributes of a stored item.
func keyOf(spec *streamproc.TableSpec, item streamproc.Item) streamproc.Item {
	key := streamproc.Item{spec.Key.HashKey: item[spec.Key.HashKey]}
	if spec.Key.RangeKey != "" {
		key[spec.Key.RangeKey] = item[spec.Key.RangeKey]
	}
	return key
}

// Add atomically adds delta to the Number attribute attr of the item with
// the given key, creating the item and the attribute (at 0) when absent, and
// returns the new value. It is ErrInvalid when attr is a key attribute, holds
// a non-Number or non-integer, or the result overflows int64.
func (s *Store) Add(ctx context.Context, table string, key streamproc.Item, attr string, delta int64) (int64, error) {
	leave, err := s.enter()
	if err != nil {
		return 0, err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	spec, err := s.spec(table)
	if err != nil {
		return 0, err
	}
	if err := s.writable(); err != nil {
		return 0, err
	}
	if attr == "" || attr == spec.Key.HashKey || attr == spec.Key.RangeKey {
		return 0, invalidf("table %s: add: cannot add to %q (empty or a key attribute)", table, attr)
	}
	k, keyItem, err := encodeKey(spec, key, true)
	if err != nil {
		return 0, fmt.Errorf("table %s: add: %w", table, err)
	}
	// The stripe covers the read and the write, so no other write of this key
	// can land between them (see the package doc).
	unlock := s.lockStripes(k)
	defer unlock()
	item, found, err := s.get(table, k)
	if err != nil {
		return 0, err
	}
	if !found {
		item = keyItem
	}
	var cur int64
	if v, ok := item[attr]; ok {
		n, isNum := v.(streamproc.Number)
		if !isNum {
			return 0, invalidf("table %s: add: attribute %s is %s, not a Number", table, attr, typeName(v))
		}
		if cur, err = strconv.ParseInt(string(n), 10, 64); err != nil {
			return 0, invalidf("table %s: add: attribute %s = %s is not an int64", table, attr, clip(string(n), 48))
		}
	}
	if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
		return 0, invalidf("table %s: add: %s %d + %d overflows int64", table, attr, cur, delta)
	}
	next := cur + delta
	item[attr] = streamproc.Number(strconv.FormatInt(next, 10))
	e := encoder{}
	if err := e.item(item); err != nil {
		return 0, fmt.Errorf("table %s: add: %w", table, err)
	}
	if e.size > maxItemBytes {
		return 0, invalidf("table %s: add: item would be %d bytes, more than DynamoDB's 400 KB", table, e.size)
	}
	if err := s.db.Set(k, e.buf, pebble.Sync); err != nil {
		return 0, fmt.Errorf("table %s: add: %w", table, err)
	}
	return next, nil
}
