package dynamodb

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamproc/streamproc"
)

// TestMarshalValue pins the wire form of values whose conversion is ours to
// choose; round trips through a real peer are in the conformance suite.
func TestMarshalValue(t *testing.T) {
	n := func(s string) types.AttributeValue { return &types.AttributeValueMemberN{Value: s} }
	tests := []struct {
		name string
		in   any
		want types.AttributeValue
	}{
		{"float shortest form", 0.1, n("0.1")},
		{"float32 keeps its own digits", float32(0.1), n("0.1")},
		{"large float in exponent form", 1e21, n("1e+21")},
		{"below 1e21 in plain form", 123456789012345678.0, n("123456789012345680")},
		{"tiny float in exponent form", 1.25e-7, n("1.25e-07")},
		{"negative zero", math.Copysign(0, -1), n("-0")},
		{"min int64", int64(math.MinInt64), n("-9223372036854775808")},
		{"max uint64", uint64(math.MaxUint64), n("18446744073709551615")},
		{"Number passes through untouched", streamproc.Number("1.50"), n("1.50")},
		{"nil bytes are an empty binary", []byte(nil), &types.AttributeValueMemberB{Value: []byte{}}},
		{"nested Item is a map", map[string]any{"i": streamproc.Item{"a": nil}},
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"i": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": &types.AttributeValueMemberNULL{Value: true}}},
			}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := marshalValue("v", tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("marshalValue(%#v) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestMarshalValueErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    any
		names string
	}{
		{"NaN", math.NaN(), "v"},
		{"infinity", math.Inf(-1), "v"},
		{"struct", struct{}{}, "struct"},
		{"nested in a list", []any{"ok", complex(1, 2)}, "v[1]"},
		{"nested in a map", map[string]any{"k": []int{1}}, "v.k"},
		{"int slice", []int{1}, "[]int"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := marshalValue("v", tc.in)
			if !errors.Is(err, streamproc.ErrInvalid) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("marshalValue(%#v) error %v, want ErrInvalid naming %q", tc.in, err, tc.names)
			}
		})
	}
}

// TestUnmarshalSets: sets, which this package never writes, read as typed
// slices rather than failing the whole read.
func TestUnmarshalSets(t *testing.T) {
	got, err := unmarshalItem(map[string]types.AttributeValue{
		"SS": &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"NS": &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"BS": &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := streamproc.Item{
		"SS": []string{"a", "b"},
		"NS": []streamproc.Number{"1", "2.5"},
		"BS": [][]byte{{1}, {2}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}
