package firehose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
)

// Record format conversion (research/aws-semantics.md §4.9): JSON records
// in, Parquet objects out, with the columns of a Glue table. Only the
// OpenX JSON SerDe and the Parquet SerDe are implemented.

// ParquetSerDe.Compression values.
const (
	ParquetSnappy       = "SNAPPY"
	ParquetGZIP         = "GZIP"
	ParquetUncompressed = "UNCOMPRESSED"
)

const (
	// MinConversionBufferSize is the smallest BufferingHints.SizeInMBs AWS
	// accepts with format conversion; DefaultConversionBufferSize is its
	// default there.
	MinConversionBufferSize     = 64 << 20
	DefaultConversionBufferSize = 128 << 20
	// ParquetFileExtension is the extension of converted objects when
	// FileExtension is not set (§4.7).
	ParquetFileExtension = ".parquet"
	// DefaultSchemaVersion is SchemaConfiguration.VersionId's default.
	DefaultSchemaVersion = "LATEST"
)

// ErrorOutputTypeFormatConversionFailed is the !{firehose:error-output-type}
// of records that could not be converted.
const ErrorOutputTypeFormatConversionFailed = "format-conversion-failed"

// Error codes of conversion failures. AWS documents the envelope but not a
// list of codes; these are the codes seen in format-conversion-failed
// records: a record that is not JSON objects, and one whose values do not
// fit the columns' types.
const (
	CodeConversionParseError    = "DataFormatConversion.ParseError"
	CodeConversionMalformedData = "DataFormatConversion.MalformedData"
)

// Conversion is a DataFormatConversionConfiguration with the OpenX JSON
// SerDe as deserializer and the Parquet SerDe as serializer. The schema is
// given here (Columns) rather than read from Glue at run time; Table only
// names the table in error records.
type Conversion struct {
	// Columns are the Glue table's columns in order: a name and a Hive type
	// (string, varchar(n), char(n), bigint, int, smallint, tinyint,
	// boolean, double, float, timestamp, date, and array<…> of those).
	// Partition keys are not columns: they are not in the file.
	Columns []Column
	// Compression is ParquetSerDe.Compression: SNAPPY (default), GZIP or
	// UNCOMPRESSED, applied to the pages inside the file.
	Compression string
	// CaseSensitive is OpenXJsonSerDe.CaseInsensitive=false. By default
	// (CaseInsensitive true) JSON keys are lower-cased before they are
	// matched with the (lower-case) column names.
	CaseSensitive bool
	// ConvertDotsToUnderscores is OpenXJsonSerDe.ConvertDotsInJsonKeysToUnderscores.
	ConvertDotsToUnderscores bool
	// ColumnToJSONKey is OpenXJsonSerDe.ColumnToJsonKeyMappings: the JSON
	// key of a column whose name differs from it.
	ColumnToJSONKey map[string]string
	// Table is SchemaConfiguration: it names the table in error records.
	Table CatalogTable
}

// Column is one column of the schema.
type Column struct {
	Name string // lower case, as Glue stores it
	Type string // Hive type
}

// CatalogTable identifies the Glue table of the schema, as the
// dataCatalogTable member of a conversion error record shows it.
type CatalogTable struct {
	CatalogID    string `json:"catalogId"`
	DatabaseName string `json:"databaseName"`
	TableName    string `json:"tableName"`
	Region       string `json:"region"`
	VersionID    string `json:"versionId"`
	CatalogARN   string `json:"catalogArn"`
}

// ConversionErrorRecord is one line of a format-conversion-failed object.
// AWS's record-format-conversion-error-handling page gives this schema; its
// older revision and the research notes spell the error members
// lastErrorCode/lastErrorMessage, a newer one ErrorCode/ErrorMessage. We
// write lastErrorCode/lastErrorMessage (research/aws-semantics.md §4.5);
// readers should match keys without regard to case.
type ConversionErrorRecord struct {
	AttemptsMade           int          `json:"attemptsMade"`
	ArrivalTimestamp       int64        `json:"arrivalTimestamp"` // ms
	LastErrorCode          string       `json:"lastErrorCode"`
	LastErrorMessage       string       `json:"lastErrorMessage"`
	AttemptEndingTimestamp int64        `json:"attemptEndingTimestamp"` // ms
	RawData                []byte       `json:"rawData"`                // base64: the record as conversion saw it (after processing)
	SequenceNumber         string       `json:"sequenceNumber"`
	SubSequenceNumber      int64        `json:"subSequenceNumber"`
	DataCatalogTable       CatalogTable `json:"dataCatalogTable"`
}

// validate reports c's broken rules through bad.
func (c *Conversion) validate(bad func(string, ...any)) {
	if len(c.Columns) == 0 {
		bad("Conversion.Columns: the schema has no columns")
	}
	seen := map[string]bool{}
	for i, col := range c.Columns {
		name := col.Name
		switch {
		case name == "":
			bad("Conversion.Columns[%d] has no name", i)
		case name != strings.ToLower(name):
			bad("Conversion.Columns[%d] %q must be lower case, as Glue stores column names", i, name)
		case seen[name]:
			bad("Conversion.Columns: column %q appears twice", name)
		}
		seen[name] = true
		if _, err := parseHiveType(col.Type); err != nil {
			bad("Conversion.Columns[%d] %s: %v", i, name, err)
		}
	}
	for col := range c.ColumnToJSONKey {
		if !seen[col] {
			bad("Conversion.ColumnToJSONKey: %q is not a column", col)
		}
	}
	switch c.Compression {
	case "", ParquetSnappy, ParquetGZIP, ParquetUncompressed:
	default:
		bad("Conversion.Compression %q must be one of SNAPPY, GZIP, UNCOMPRESSED", c.Compression)
	}
	if c.Table.DatabaseName == "" || c.Table.TableName == "" {
		bad("Conversion.Table: DatabaseName and TableName are required")
	}
}

// converter turns records into rows of one schema and rows into Parquet.
type converter struct {
	conv    Conversion
	types   []*hiveType
	keys    []string // JSON key of each column, normalised as keys are
	schema  *parquet.Schema
	codec   compress.Codec
	catalog CatalogTable
}

// newConverter builds the converter of a validated Conversion. region and
// account fill the catalog's defaults.
func newConverter(c Conversion, region, account string) (*converter, error) {
	cv := &converter{conv: c, catalog: c.Table}
	group := parquet.Group{}
	for _, col := range c.Columns {
		t, err := parseHiveType(col.Type)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", col.Name, err)
		}
		cv.types = append(cv.types, t)
		key := col.Name
		if k, ok := c.ColumnToJSONKey[col.Name]; ok {
			key = k
		}
		cv.keys = append(cv.keys, cv.normalise(key))
		group[col.Name] = parquet.Optional(t.node())
	}
	cv.schema = parquet.NewSchema("schema", group)
	switch c.Compression {
	case "", ParquetSnappy:
		cv.codec = &snappy.Codec{}
	case ParquetGZIP:
		cv.codec = &gzip.Codec{}
	default:
		cv.codec = &uncompressed.Codec{}
	}
	if cv.catalog.CatalogID == "" {
		cv.catalog.CatalogID = account
	}
	if cv.catalog.Region == "" {
		cv.catalog.Region = region
	}
	if cv.catalog.VersionID == "" {
		cv.catalog.VersionID = DefaultSchemaVersion
	}
	if cv.catalog.CatalogARN == "" {
		cv.catalog.CatalogARN = fmt.Sprintf("arn:aws:glue:%s:%s:catalog", cv.catalog.Region, cv.catalog.CatalogID)
	}
	return cv, nil
}

func (cv *converter) normalise(key string) string {
	if cv.conv.ConvertDotsToUnderscores {
		key = strings.ReplaceAll(key, ".", "_")
	}
	if !cv.conv.CaseSensitive {
		key = strings.ToLower(key)
	}
	return key
}

// conversionError is a record that does not convert: its code and message.
type conversionError struct{ code, msg string }

func (e *conversionError) Error() string { return e.code + ": " + e.msg }

// rows deserializes one record as the OpenX JSON SerDe does: one or more
// JSON objects (concatenated or on separate lines), each one row. Keys
// that are not columns are ignored; a column without a key, or with null,
// is NULL. A record that is not JSON objects is a ParseError, a value that
// does not fit its column's type MalformedData.
func (cv *converter) rows(data []byte) ([]map[string]any, *conversionError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var rows []map[string]any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &conversionError{CodeConversionParseError, "The record is not valid JSON: " + err.Error()}
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, &conversionError{CodeConversionParseError, fmt.Sprintf("The record holds a JSON %s; only JSON objects convert to rows.", jsonKind(v))}
		}
		fields := make(map[string]any, len(obj))
		for k, e := range obj {
			fields[cv.normalise(k)] = e
		}
		row := make(map[string]any, len(cv.types))
		for i, t := range cv.types {
			val, err := t.value(fields[cv.keys[i]])
			if err != nil {
				return nil, &conversionError{CodeConversionMalformedData, fmt.Sprintf("Column %s (%s): %v", cv.conv.Columns[i].Name, cv.conv.Columns[i].Type, err)}
			}
			row[cv.conv.Columns[i].Name] = val
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, &conversionError{CodeConversionParseError, "The record holds no JSON object."}
	}
	return rows, nil
}

// encode writes rows as one Parquet file.
func (cv *converter) encode(rows []map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[map[string]any](&buf, cv.schema, parquet.Compression(cv.codec), parquet.CreatedBy("streamproc local firehose", "", ""))
	if _, err := w.Write(rows); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return buf.Bytes(), nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}

type typeKind uint8

const (
	kString typeKind = iota
	kBigint
	kInt
	kSmallint
	kTinyint
	kBoolean
	kDouble
	kFloat
	kTimestamp
	kDate
	kArray
)

// hiveType is a parsed Glue/Hive column type.
type hiveType struct {
	kind typeKind
	elem *hiveType // kArray
}

var scalarTypes = map[string]typeKind{
	"string": kString, "bigint": kBigint, "int": kInt, "integer": kInt, "smallint": kSmallint, "tinyint": kTinyint,
	"boolean": kBoolean, "double": kDouble, "float": kFloat, "timestamp": kTimestamp, "date": kDate,
}

// parseHiveType parses the types Conversion supports.
func parseHiveType(s string) (*hiveType, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if k, ok := scalarTypes[t]; ok {
		return &hiveType{kind: k}, nil
	}
	if strings.HasPrefix(t, "varchar(") || strings.HasPrefix(t, "char(") {
		// The length is not enforced: values are written whole.
		return &hiveType{kind: kString}, nil
	}
	if inner, ok := strings.CutPrefix(t, "array<"); ok && strings.HasSuffix(inner, ">") {
		elem, err := parseHiveType(strings.TrimSuffix(inner, ">"))
		if err != nil {
			return nil, err
		}
		return &hiveType{kind: kArray, elem: elem}, nil
	}
	return nil, fmt.Errorf("type %q is not supported by the local format conversion (supported: string, varchar, char, bigint, int, smallint, tinyint, boolean, double, float, timestamp, date, array<…> of those)", s)
}

// node is the Parquet type of t (the caller makes the column optional).
// Timestamps are INT64 microseconds without a zone, as Hive's timestamp
// has none (readers show them as TIMESTAMP, not TIMESTAMP WITH TIME ZONE).
func (t *hiveType) node() parquet.Node {
	switch t.kind {
	case kBigint:
		return parquet.Int(64)
	case kInt:
		return parquet.Int(32)
	case kSmallint:
		return parquet.Int(16)
	case kTinyint:
		return parquet.Int(8)
	case kBoolean:
		return parquet.Leaf(parquet.BooleanType)
	case kDouble:
		return parquet.Leaf(parquet.DoubleType)
	case kFloat:
		return parquet.Leaf(parquet.FloatType)
	case kTimestamp:
		return parquet.TimestampAdjusted(parquet.Microsecond, false)
	case kDate:
		return parquet.Date()
	case kArray:
		return parquet.List(parquet.Optional(t.elem.node()))
	}
	return parquet.String()
}

// value converts one JSON value (decoded with UseNumber) to the Go value
// the Parquet writer takes for t; nil is NULL. Scalars are pointers: the
// writer takes a zero value in an optional column for NULL, so false, 0
// and "" must come as non-nil pointers. Like the OpenX SerDe,
// strings holding a number or boolean convert to those columns, and
// numbers, booleans and nested JSON convert to string columns as their
// JSON text.
func (t *hiveType) value(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t.kind {
	case kString:
		switch x := v.(type) {
		case string:
			return &x, nil
		case json.Number:
			return ptr(string(x)), nil
		case bool:
			return ptr(strconv.FormatBool(x)), nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return ptr(string(b)), nil
	case kBigint, kInt, kSmallint, kTinyint:
		bits := map[typeKind]int{kBigint: 64, kInt: 32, kSmallint: 16, kTinyint: 8}[t.kind]
		s, ok := numberText(v)
		if !ok {
			return nil, fmt.Errorf("a JSON %s is not an integer", jsonKind(v))
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not a %d-bit integer", s, bits)
		}
		if t.kind == kBigint {
			return &n, nil
		}
		return ptr(int32(n)), nil
	case kBoolean:
		switch x := v.(type) {
		case bool:
			return &x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return ptr(true), nil
			case "false":
				return ptr(false), nil
			}
		}
		return nil, fmt.Errorf("%s is not a boolean", short(v))
	case kDouble, kFloat:
		bits := 64
		if t.kind == kFloat {
			bits = 32
		}
		s, ok := numberText(v)
		if !ok {
			return nil, fmt.Errorf("a JSON %s is not a number", jsonKind(v))
		}
		f, err := strconv.ParseFloat(s, bits)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		if bits == 32 {
			return ptr(float32(f)), nil
		}
		return &f, nil
	case kTimestamp:
		ts, err := parseTimestamp(v)
		if err != nil {
			return nil, err
		}
		return ptr(ts.UnixMicro()), nil
	case kDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("a JSON %s is not a date", jsonKind(v))
		}
		d, err := time.Parse("2006-1-2", strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a date (yyyy-MM-dd)", s)
		}
		return ptr(int32(d.Unix() / 86400)), nil
	case kArray:
		l, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("a JSON %s is not an array", jsonKind(v))
		}
		out := make([]any, len(l))
		for i, e := range l {
			ev, err := t.elem.value(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = ev
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported type")
}

func ptr[T any](v T) *T { return &v }

// numberText is a JSON number's text, or a string's when it is one.
func numberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		return string(x), true
	case string:
		return strings.TrimSpace(x), true
	}
	return "", false
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// Timestamp layouts of the OpenX JSON SerDe: yyyy-MM-dd'T'HH:mm:ss[.S]'Z'
// (any offset here), and yyyy-[M]M-[d]d HH:mm:ss[.S], up to nine fraction
// digits. Times without an offset are UTC.
var timestampLayouts = []string{
	"2006-1-2 15:04:05.999999999",
	time.RFC3339Nano,
	"2006-1-2T15:04:05.999999999",
}

// epochMillisFrom is where an integer timestamp stops being read as epoch
// seconds and is read as epoch milliseconds: 1e11 seconds is the year
// 5138, 1e11 milliseconds March 1973.
const epochMillisFrom = 1e11

// parseTimestamp reads a timestamp as the OpenX JSON SerDe does: one of the
// layouts, epoch seconds, epoch milliseconds, or fractional epoch seconds.
func parseTimestamp(v any) (time.Time, error) {
	switch x := v.(type) {
	case string:
		s := strings.TrimSpace(x)
		for _, layout := range timestampLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), nil
			}
		}
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return parseTimestamp(json.Number(s))
		}
		return time.Time{}, fmt.Errorf("%q is not a timestamp (yyyy-MM-dd HH:mm:ss[.fff], ISO 8601, or epoch seconds or milliseconds)", x)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			if n >= epochMillisFrom || n <= -epochMillisFrom {
				return time.UnixMilli(n).UTC(), nil
			}
			return time.Unix(n, 0).UTC(), nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) || math.Abs(f) >= epochMillisFrom {
			return time.Time{}, fmt.Errorf("%s is not an epoch timestamp", x)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("a JSON %s is not a timestamp", jsonKind(v))
}
