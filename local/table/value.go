package table

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/streamproc/streamproc"
)

// Stored item format (version 1). Types are kept, like DynamoDB JSON, but in a
// compact binary form that stores strings byte for byte:
//
//	item  := 0x01 uvarint(n) { name value }ⁿ        (attributes sorted by name)
//	name  := uvarint(len) bytes
//	value := 'S' uvarint(len) bytes                 string
//	       | 'N' uvarint(len) canonical decimal     streamproc.Number
//	       | 'B' uvarint(len) bytes                 []byte
//	       | 't' | 'f'                              bool
//	       | 'z'                                    nil (NULL)
//	       | 'L' uvarint(n) valueⁿ                  []any
//	       | 'M' uvarint(n) { name value }ⁿ         map[string]any (sorted)
//
// Sorting names makes equal items encode to equal bytes, so rewriting an
// item is byte-for-byte idempotent.
const itemFormatV1 = 0x01

// DynamoDB's item and nesting limits.
const (
	maxItemBytes = 400 << 10
	maxDepth     = 32
)

var errCorrupt = errors.New("corrupt stored item")

// encoder appends a validated, typed encoding of an input item and tracks its
// DynamoDB size (attribute names plus values, with DynamoDB's list/map
// overheads) for the 400 KB limit.
type encoder struct {
	buf  []byte
	size int
}

func (e *encoder) uvarint(n int) { e.buf = binary.AppendUvarint(e.buf, uint64(n)) }

func (e *encoder) str(s string) {
	e.uvarint(len(s))
	e.buf = append(e.buf, s...)
}

func (e *encoder) item(it streamproc.Item) error {
	e.buf = append(e.buf, itemFormatV1)
	names := sortedKeys(it)
	e.uvarint(len(names))
	for _, name := range names {
		if name == "" {
			return invalidf("empty attribute name")
		}
		e.str(name)
		e.size += len(name)
		if err := e.value(it[name], 1); err != nil {
			return fmt.Errorf("attribute %q: %w", name, err)
		}
	}
	return nil
}

func (e *encoder) value(v any, depth int) error {
	if depth > maxDepth {
		return invalidf("nested more than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		e.buf = append(e.buf, 'z')
		e.size++
		return nil
	case string:
		e.buf = append(e.buf, 'S')
		e.str(x)
		e.size += len(x)
		return nil
	case []byte:
		e.buf = append(e.buf, 'B')
		e.uvarint(len(x))
		e.buf = append(e.buf, x...)
		e.size += len(x)
		return nil
	case bool:
		if x {
			e.buf = append(e.buf, 't')
		} else {
			e.buf = append(e.buf, 'f')
		}
		e.size++
		return nil
	case []string:
		e.buf = append(e.buf, 'L')
		e.uvarint(len(x))
		e.size += 3 + len(x)
		for _, s := range x {
			e.buf = append(e.buf, 'S')
			e.str(s)
			e.size += len(s)
		}
		return nil
	case []any:
		e.buf = append(e.buf, 'L')
		e.uvarint(len(x))
		e.size += 3 + len(x)
		for i, el := range x {
			if err := e.value(el, depth+1); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	case map[string]any:
		return e.mapValue(x, depth)
	case streamproc.Item:
		return e.mapValue(x, depth)
	}
	d, ok, err := numberOf(v)
	if err != nil {
		return err
	}
	if !ok {
		return invalidf("unsupported type %s", typeName(v))
	}
	e.buf = append(e.buf, 'N')
	e.str(d.String())
	e.size += d.size()
	return nil
}

func (e *encoder) mapValue(m map[string]any, depth int) error {
	e.buf = append(e.buf, 'M')
	names := sortedKeys(m)
	e.uvarint(len(names))
	e.size += 3 + len(names)
	for _, name := range names {
		e.str(name)
		e.size += len(name)
		if err := e.value(m[name], depth+1); err != nil {
			return fmt.Errorf(".%s: %w", name, err)
		}
	}
	return nil
}

func sortedKeys[M ~map[string]any](m M) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// numberOf reports whether v is a number (streamproc.Number, json.Number or
// a Go integer or float) and parses it. Floats go through their shortest
// decimal form, so 0.1 stays "0.1" rather than its binary expansion.
func numberOf(v any) (decimal, bool, error) {
	var s string
	switch x := v.(type) {
	case streamproc.Number:
		s = string(x)
	case json.Number:
		s = string(x)
	case int:
		s = strconv.FormatInt(int64(x), 10)
	case int8:
		s = strconv.FormatInt(int64(x), 10)
	case int16:
		s = strconv.FormatInt(int64(x), 10)
	case int32:
		s = strconv.FormatInt(int64(x), 10)
	case int64:
		s = strconv.FormatInt(x, 10)
	case uint:
		s = strconv.FormatUint(uint64(x), 10)
	case uint8:
		s = strconv.FormatUint(uint64(x), 10)
	case uint16:
		s = strconv.FormatUint(uint64(x), 10)
	case uint32:
		s = strconv.FormatUint(uint64(x), 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return decimal{}, true, invalidf("number %v is not finite", x)
		}
		s = strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return decimal{}, true, invalidf("number %v is not finite", x)
		}
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return decimal{}, false, nil
	}
	d, err := parseDecimal(s)
	return d, true, err
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprintf("%T", v)
}

// decoder reads the stored format. Corrupt input yields errCorrupt rather than
// a panic: a damaged file must surface as an error, not crash the process.
type decoder struct {
	b []byte
}

func (d *decoder) uvarint() (int, error) {
	n, w := binary.Uvarint(d.b)
	if w <= 0 || n > math.MaxInt32 {
		return 0, errCorrupt
	}
	d.b = d.b[w:]
	return int(n), nil
}

func (d *decoder) bytes() ([]byte, error) {
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > len(d.b) {
		return nil, errCorrupt
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out, nil
}

func decodeItem(b []byte) (streamproc.Item, error) {
	if len(b) == 0 || b[0] != itemFormatV1 {
		return nil, errCorrupt
	}
	d := decoder{b: b[1:]}
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > len(d.b) {
		return nil, errCorrupt
	}
	it := make(streamproc.Item, n)
	for range n {
		name, err := d.bytes()
		if err != nil {
			return nil, err
		}
		v, err := d.value(0)
		if err != nil {
			return nil, err
		}
		it[string(name)] = v
	}
	if len(d.b) != 0 {
		return nil, errCorrupt
	}
	return it, nil
}

func (d *decoder) value(depth int) (any, error) {
	if len(d.b) == 0 || depth > maxDepth {
		return nil, errCorrupt
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case 'z':
		return nil, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'S':
		s, err := d.bytes()
		return string(s), err
	case 'N':
		s, err := d.bytes()
		return streamproc.Number(s), err
	case 'B':
		s, err := d.bytes()
		if err != nil {
			return nil, err
		}
		return append([]byte{}, s...), nil
	case 'L':
		n, err := d.uvarint()
		if err != nil || n > len(d.b) {
			return nil, errCorrupt
		}
		l := make([]any, n)
		for i := range l {
			if l[i], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return l, nil
	case 'M':
		n, err := d.uvarint()
		if err != nil || n > len(d.b) {
			return nil, errCorrupt
		}
		m := make(map[string]any, n)
		for range n {
			name, err := d.bytes()
			if err != nil {
				return nil, err
			}
			if m[string(name)], err = d.value(depth + 1); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	return nil, errCorrupt
}
