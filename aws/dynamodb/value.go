package dynamodb

import (
	"fmt"
	"math"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamproc/streamproc"
)

// marshalItem converts an item to DynamoDB attribute values. Errors wrap
// streamproc.ErrInvalid and name the offending attribute path.
func marshalItem(item streamproc.Item) (map[string]types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(item))
	for name, v := range item {
		av, err := marshalValue(name, v)
		if err != nil {
			return nil, err
		}
		out[name] = av
	}
	return out, nil
}

// marshalValue converts one value. Numbers go over the wire as decimal
// strings built without float64 for integers and streamproc.Number, so
// 2^53+1 or a 38-digit decimal arrive exactly; whether a Number is a valid
// DynamoDB number is left to the service, which is the authority on it.
func marshalValue(path string, v any) (types.AttributeValue, error) {
	switch x := v.(type) {
	case nil:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case string:
		return &types.AttributeValueMemberS{Value: x}, nil
	case streamproc.Number:
		return &types.AttributeValueMemberN{Value: string(x)}, nil
	case bool:
		return &types.AttributeValueMemberBOOL{Value: x}, nil
	case []byte:
		// A nil slice would be sent as an absent member; an empty binary
		// is a legal non-key value.
		b := x
		if b == nil {
			b = []byte{}
		}
		return &types.AttributeValueMemberB{Value: b}, nil
	case []string:
		l := make([]types.AttributeValue, len(x))
		for i, s := range x {
			l[i] = &types.AttributeValueMemberS{Value: s}
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case []any:
		l := make([]types.AttributeValue, len(x))
		for i, e := range x {
			av, err := marshalValue(fmt.Sprintf("%s[%d]", path, i), e)
			if err != nil {
				return nil, err
			}
			l[i] = av
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case map[string]any:
		return marshalMap(path, x)
	case streamproc.Item:
		return marshalMap(path, x)
	case int:
		return number(strconv.FormatInt(int64(x), 10)), nil
	case int8:
		return number(strconv.FormatInt(int64(x), 10)), nil
	case int16:
		return number(strconv.FormatInt(int64(x), 10)), nil
	case int32:
		return number(strconv.FormatInt(int64(x), 10)), nil
	case int64:
		return number(strconv.FormatInt(x, 10)), nil
	case uint:
		return number(strconv.FormatUint(uint64(x), 10)), nil
	case uint8:
		return number(strconv.FormatUint(uint64(x), 10)), nil
	case uint16:
		return number(strconv.FormatUint(uint64(x), 10)), nil
	case uint32:
		return number(strconv.FormatUint(uint64(x), 10)), nil
	case uint64:
		return number(strconv.FormatUint(x, 10)), nil
	case float32:
		return marshalFloat(path, float64(x), 32)
	case float64:
		return marshalFloat(path, x, 64)
	}
	return nil, fmt.Errorf("attribute %s: %w: unsupported value type %T", path, streamproc.ErrInvalid, v)
}

func marshalMap(path string, m map[string]any) (types.AttributeValue, error) {
	out := make(map[string]types.AttributeValue, len(m))
	for k, e := range m {
		av, err := marshalValue(path+"."+k, e)
		if err != nil {
			return nil, err
		}
		out[k] = av
	}
	return &types.AttributeValueMemberM{Value: out}, nil
}

func number(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }

// marshalFloat writes the shortest decimal that reads back as the same
// float (bitSize 32 keeps float32(1.1) as "1.1"). Plain notation is used in
// the range where it stays short, exponent notation outside it, so the digit
// count the service checks (38 significant digits) is never inflated by
// padding zeros.
func marshalFloat(path string, f float64, bitSize int) (types.AttributeValue, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("attribute %s: %w: %v is not a DynamoDB number", path, streamproc.ErrInvalid, f)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a >= 1e21 || a < 1e-6) {
		format = 'e'
	}
	return number(strconv.FormatFloat(f, format, -1, bitSize)), nil
}

// unmarshalItem converts attribute values back to an item: strings as
// string, numbers as streamproc.Number, lists as []any, maps as
// map[string]any. Sets, which this package never writes but another writer
// of the table might, come back as []string, []streamproc.Number and
// [][]byte.
func unmarshalItem(m map[string]types.AttributeValue) (streamproc.Item, error) {
	out := make(streamproc.Item, len(m))
	for name, av := range m {
		v, err := unmarshalValue(name, av)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

func unmarshalValue(path string, av types.AttributeValue) (any, error) {
	switch x := av.(type) {
	case *types.AttributeValueMemberS:
		return x.Value, nil
	case *types.AttributeValueMemberN:
		return streamproc.Number(x.Value), nil
	case *types.AttributeValueMemberB:
		if x.Value == nil {
			return []byte{}, nil
		}
		return x.Value, nil
	case *types.AttributeValueMemberBOOL:
		return x.Value, nil
	case *types.AttributeValueMemberNULL:
		return nil, nil
	case *types.AttributeValueMemberL:
		l := make([]any, len(x.Value))
		for i, e := range x.Value {
			v, err := unmarshalValue(fmt.Sprintf("%s[%d]", path, i), e)
			if err != nil {
				return nil, err
			}
			l[i] = v
		}
		return l, nil
	case *types.AttributeValueMemberM:
		m := make(map[string]any, len(x.Value))
		for k, e := range x.Value {
			v, err := unmarshalValue(path+"."+k, e)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case *types.AttributeValueMemberSS:
		return append([]string{}, x.Value...), nil
	case *types.AttributeValueMemberNS:
		ns := make([]streamproc.Number, len(x.Value))
		for i, n := range x.Value {
			ns[i] = streamproc.Number(n)
		}
		return ns, nil
	case *types.AttributeValueMemberBS:
		return append([][]byte{}, x.Value...), nil
	}
	// *types.UnknownUnionMember: a type newer than this SDK.
	return nil, fmt.Errorf("attribute %s: unsupported DynamoDB value %T", path, av)
}
