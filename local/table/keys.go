package table

import (
	"fmt"

	"github.com/streamproc/streamproc"
)

// Pebble key layout.
//
//	0x01 "table/" <name>                          → JSON TableSpec
//	0x02 <name> 0x00 <hash component> [<range>]   → encoded item (value.go)
//
// Table names cannot contain 0x00 (validateSpec), so <name> 0x00 is a prefix
// that no other table's keys share. Every key component is self-delimiting
// and order-preserving (appendBytesKey, decimal.appendKey), which gives three
// properties the code relies on:
//   - all items of a partition share the prefix <table> <hash component>, so a
//     Query is one bounded range scan;
//   - within a partition, Pebble's bytewise order is DynamoDB's sort-key order
//     (bytes for S and B, numeric for N);
//   - no item key is a proper prefix of another, so "strictly after key k" is
//     SeekGE(k) plus skipping an exact match.
const (
	nsMeta = 0x01
	nsItem = 0x02
)

func schemaKey(name string) []byte {
	return append([]byte{nsMeta, 't', 'a', 'b', 'l', 'e', '/'}, name...)
}

func schemaPrefix() []byte { return []byte{nsMeta, 't', 'a', 'b', 'l', 'e', '/'} }

func tablePrefix(name string) []byte {
	b := make([]byte, 0, len(name)+64)
	b = append(b, nsItem)
	b = append(b, name...)
	return append(b, 0x00)
}

// appendBytesKey appends s escaped so that it is self-delimiting and keeps
// bytewise order: 0x00 becomes 0x00 0xFF and the end is 0x00 0x01. The
// terminator sorts below every escaped continuation, so "a" < "a\x00" < "ab".
// Escaping is a homomorphism on concatenation, which is why a prefix of the
// escaped form (without terminator) selects exactly the strings with that
// prefix (RangePrefix).
func appendBytesKey(b []byte, s []byte) []byte {
	b = appendEscaped(b, s)
	return append(b, 0x00, 0x01)
}

func appendEscaped(b []byte, s []byte) []byte {
	for _, c := range s {
		if c == 0x00 {
			b = append(b, 0x00, 0xFF)
			continue
		}
		b = append(b, c)
	}
	return b
}

// prefixEnd returns the smallest key greater than every key that starts with
// p, or nil when there is none (p is all 0xFF).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// keyValue is one validated key attribute value: its canonical Go value (as
// returned to callers) and its order-preserving encoding.
type keyValue struct {
	value any // string, streamproc.Number or []byte
	size  int // DynamoDB size of the value, for the key length limits
}

// Key length limits of DynamoDB.
const (
	maxHashKeyBytes  = 2048
	maxRangeKeyBytes = 1024
)

// keyAttr converts v to the key type typ ("S", "N", "B") and appends its
// encoding to b. what names the attribute for error messages.
func keyAttr(b []byte, what, typ string, v any, present bool) ([]byte, keyValue, error) {
	if !present {
		return b, keyValue{}, invalidf("missing key attribute %s", what)
	}
	switch typ {
	case "S":
		s, ok := v.(string)
		if !ok {
			return b, keyValue{}, invalidf("key attribute %s must be a string (S), got %s", what, typeName(v))
		}
		if s == "" {
			return b, keyValue{}, invalidf("key attribute %s is an empty string", what)
		}
		return appendBytesKey(b, []byte(s)), keyValue{value: s, size: len(s)}, nil
	case "B":
		bs, ok := v.([]byte)
		if !ok {
			return b, keyValue{}, invalidf("key attribute %s must be binary (B, []byte), got %s", what, typeName(v))
		}
		if len(bs) == 0 {
			return b, keyValue{}, invalidf("key attribute %s is empty binary", what)
		}
		return appendBytesKey(b, bs), keyValue{value: append([]byte(nil), bs...), size: len(bs)}, nil
	case "N":
		d, ok, err := numberOf(v)
		if err != nil {
			return b, keyValue{}, fmt.Errorf("key attribute %s: %w", what, err)
		}
		if !ok {
			return b, keyValue{}, invalidf("key attribute %s must be a number (N), got %s", what, typeName(v))
		}
		return d.appendKey(b), keyValue{value: streamproc.Number(d.String()), size: d.size()}, nil
	}
	return b, keyValue{}, fmt.Errorf("unknown key type %q", typ)
}

// encodeKey encodes the primary key of item under spec: the full Pebble key
// and the key attributes alone (as LastKey and Add's new items carry them).
// exact requires item to hold nothing but the key attributes, as DynamoDB
// requires of a Key or ExclusiveStartKey.
func encodeKey(spec *streamproc.TableSpec, item streamproc.Item, exact bool) ([]byte, streamproc.Item, error) {
	k := spec.Key
	b := tablePrefix(spec.Name)
	hv, hok := item[k.HashKey]
	b, h, err := keyAttr(b, "(hash) "+k.HashKey, k.HashType, hv, hok)
	if err != nil {
		return nil, nil, err
	}
	if h.size > maxHashKeyBytes {
		return nil, nil, invalidf("hash key %s is %d bytes, more than DynamoDB's %d", k.HashKey, h.size, maxHashKeyBytes)
	}
	key := streamproc.Item{k.HashKey: h.value}
	if k.RangeKey != "" {
		rv, rok := item[k.RangeKey]
		var r keyValue
		b, r, err = keyAttr(b, "(range) "+k.RangeKey, k.RangeType, rv, rok)
		if err != nil {
			return nil, nil, err
		}
		if r.size > maxRangeKeyBytes {
			return nil, nil, invalidf("range key %s is %d bytes, more than DynamoDB's %d", k.RangeKey, r.size, maxRangeKeyBytes)
		}
		key[k.RangeKey] = r.value
	}
	if exact && len(item) != len(key) {
		for name := range item {
			if _, ok := key[name]; !ok {
				return nil, nil, invalidf("key has attribute %q that is not part of the key schema", name)
			}
		}
	}
	return b, key, nil
}
