package query

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// Time layouts DuckDB and Athena print their temporal types with.
const (
	layoutTimestamp   = "2006-01-02 15:04:05.999999"
	layoutTimestampTZ = "2006-01-02 15:04:05.999999Z07:00"
	layoutDate        = "2006-01-02"
	layoutTime        = "15:04:05.999999"
)

// FormatValue renders a value of column c as text, the way DuckDB's own
// shell does: NULL as "NULL", timestamps without a zone suffix, lists as
// [a, b], BLOBs as \x hex.
func FormatValue(c Column, v any) string {
	if c.Type == "JSON" && v != nil {
		// The driver decodes JSON values; show them as JSON again.
		if b, err := json.Marshal(JSONValue(Column{}, v)); err == nil {
			return string(b)
		}
	}
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case []byte:
		if c.Type == "UUID" && len(x) == 16 {
			return formatUUID(x)
		}
		return `\x` + hex.EncodeToString(x)
	case time.Time:
		return formatTime(c.Type, x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case duckdb.Decimal:
		return x.String()
	case duckdb.Interval:
		return formatInterval(x)
	case []any:
		parts := make([]string, len(x))
		inner := Column{Type: strings.TrimSuffix(c.Type, "[]")}
		for i, e := range x {
			parts[i] = FormatValue(inner, e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + FormatValue(Column{}, x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// JSONValue converts a value of column c to what encoding/json writes
// faithfully: times as the same text FormatValue gives, DECIMAL and
// HUGEINT as JSON numbers with every digit, NaN and infinities (not JSON)
// as strings, JSON columns as embedded JSON.
func JSONValue(c Column, v any) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return v
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return FormatValue(c, x)
		}
		return x
	case float32:
		return JSONValue(c, float64(x))
	case duckdb.Decimal:
		return json.Number(x.String())
	case *big.Int:
		return json.Number(x.String())
	case []any:
		out := make([]any, len(x))
		inner := Column{Type: strings.TrimSuffix(c.Type, "[]")}
		for i, e := range x {
			out[i] = JSONValue(inner, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = JSONValue(Column{}, e)
		}
		return out
	}
	return FormatValue(c, v)
}

func formatTime(typ string, t time.Time) string {
	switch typ {
	case "DATE":
		return t.Format(layoutDate)
	case "TIME":
		return t.Format(layoutTime)
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return t.UTC().Format(layoutTimestampTZ)
	}
	return t.UTC().Format(layoutTimestamp)
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// formatInterval prints months, days and a clock part like DuckDB:
// "1 year 2 months 3 days 04:05:06".
func formatInterval(iv duckdb.Interval) string {
	var parts []string
	plural := func(n int64, unit string) string {
		if n == 1 || n == -1 {
			return fmt.Sprintf("%d %s", n, unit)
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	if y := int64(iv.Months / 12); y != 0 {
		parts = append(parts, plural(y, "year"))
	}
	if m := int64(iv.Months % 12); m != 0 {
		parts = append(parts, plural(m, "month"))
	}
	if iv.Days != 0 {
		parts = append(parts, plural(int64(iv.Days), "day"))
	}
	if iv.Micros != 0 || len(parts) == 0 {
		d := time.Duration(iv.Micros) * time.Microsecond
		sign := ""
		if d < 0 {
			sign, d = "-", -d
		}
		h, m, s := int64(d/time.Hour), int64(d%time.Hour/time.Minute), d%time.Minute
		clock := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, int64(s/time.Second))
		if frac := int64(s % time.Second / time.Microsecond); frac != 0 {
			clock += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, clock)
	}
	return strings.Join(parts, " ")
}
