package query

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

// glueColumn is one column of a Glue table and where its value is in a
// delivered JSON line.
type glueColumn struct {
	Name string // Glue column name (lower case)
	Glue string // Glue/Hive type, as in template.yaml
	Type string // the DuckDB type it reads as
	// Key is the JSON key. The Glue tables' SerDe matches keys without
	// regard to case (case.insensitive=TRUE); DuckDB matches them exactly,
	// so the envelope's camelCase keys are spelled out.
	Key string
}

// objectTable is a Glue table over delivered objects: its columns, then
// extra local-only expressions after the partition column.
type objectTable struct {
	Columns []glueColumn
	// Extra are "expression AS name" items appended after datehour.
	Extra []extraColumn
}

type extraColumn struct {
	Name, Type, Expr string
}

// recordsTable mirrors the Glue table records: the transformer's condensed
// tweets (tweet.AppendCondensed).
var recordsTable = objectTable{Columns: []glueColumn{
	{"created_at", "timestamp", "TIMESTAMP", "created_at"},
	{"id", "bigint", "BIGINT", "id"},
	{"text", "string", "VARCHAR", "text"},
	{"user_name", "string", "VARCHAR", "user_name"},
	{"user_screen_name", "string", "VARCHAR", "user_screen_name"},
	{"source", "string", "VARCHAR", "source"},
	{"retweet_count", "bigint", "BIGINT", "retweet_count"},
	{"favorite_count", "bigint", "BIGINT", "favorite_count"},
	{"lang", "string", "VARCHAR", "lang"},
	{"verified", "boolean", "BOOLEAN", "verified"},
	{"hashtags", "array<string>", "VARCHAR[]", "hashtags"},
}}

// errorsTable mirrors the Glue table errors: Firehose's processing-failed
// envelopes. rawdata stays base64 as on Athena; rawdata_text is the
// decoded record when it is UTF-8 text (NULL otherwise), which Athena
// spells from_utf8(from_base64(rawdata)).
var errorsTable = objectTable{
	Columns: []glueColumn{
		{"attemptsmade", "bigint", "BIGINT", "attemptsMade"},
		{"arrivaltimestamp", "bigint", "BIGINT", "arrivalTimestamp"},
		{"errorcode", "string", "VARCHAR", "errorCode"},
		{"errormessage", "string", "VARCHAR", "errorMessage"},
		{"attemptendingtimestamp", "bigint", "BIGINT", "attemptEndingTimestamp"},
		{"rawdata", "string", "VARCHAR", "rawData"},
		{"lambdaarn", "string", "VARCHAR", "lambdaArn"},
	},
	Extra: []extraColumn{{"rawdata_text", "VARCHAR", `try(decode(from_base64("rawData")))`}},
}

// conversionErrorsTable mirrors the Glue table conversion_errors:
// Firehose's format-conversion-failed records (DeliveryFormat=PARQUET), in
// the schema firehose.ConversionErrorRecord writes.
var conversionErrorsTable = objectTable{
	Columns: []glueColumn{
		{"attemptsmade", "bigint", "BIGINT", "attemptsMade"},
		{"arrivaltimestamp", "bigint", "BIGINT", "arrivalTimestamp"},
		{"lasterrorcode", "string", "VARCHAR", "lastErrorCode"},
		{"lasterrormessage", "string", "VARCHAR", "lastErrorMessage"},
		{"attemptendingtimestamp", "bigint", "BIGINT", "attemptEndingTimestamp"},
		{"rawdata", "string", "VARCHAR", "rawData"},
		{"sequencenumber", "string", "VARCHAR", "sequenceNumber"},
		{"subsequencenumber", "bigint", "BIGINT", "subSequenceNumber"},
	},
	Extra: []extraColumn{{"rawdata_text", "VARCHAR", `try(decode(from_base64("rawData")))`}},
}

// PartitionColumn is the partition key of the Glue tables; its values are
// the object key's yyyy/MM/dd/HH, as partition projection gives them.
const PartitionColumn = "datehour"

// datehourRE is the projected partition path under the table location
// (projection.datehour.format yyyy/MM/dd/HH).
var datehourRE = regexp.MustCompile(`^\d{4}/\d{2}/\d{2}/\d{2}/`)

// objectKinds are the objects under a table's location, by format.
type objectKinds struct {
	plain, gzipped []string // JSON lines
	parquet        []string // Firehose's format conversion (DeliveryFormat=PARQUET)
}

func (k objectKinds) count() int { return len(k.plain) + len(k.gzipped) + len(k.parquet) }

// objectFiles lists the objects Athena would read for a table at dir:
// those under a yyyy/MM/dd/HH partition directory, without the files Hive
// skips (names starting with _ or .) and the temporary files fileblob writes
// next to an object before renaming it into place. Gzip and Parquet objects
// are told apart by their magic bytes, since Firehose's FileExtension may
// hide them. Both formats can be under one location: the objects delivered
// before and after the template's DeliveryFormat changed.
func objectFiles(dir string) (objs objectKinds, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == dir {
				return fs.SkipAll // nothing delivered yet
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if !IsObject(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if !datehourRE.MatchString(filepath.ToSlash(rel)) {
			return nil
		}
		magic, err := readMagic(path)
		if err != nil {
			return err
		}
		switch p := filepath.ToSlash(path); {
		case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
			objs.gzipped = append(objs.gzipped, p)
		case bytes.Equal(magic, []byte("PAR1")):
			objs.parquet = append(objs.parquet, p)
		default:
			objs.plain = append(objs.plain, p)
		}
		return nil
	})
	if err != nil {
		return objectKinds{}, fmt.Errorf("query: list objects under %s: %w", dir, err)
	}
	return objs, nil
}

// IsObject reports whether a file in the local bucket is a delivered
// object Athena would read: not hidden or temporary (Hive skips names
// starting with _ or .), not blob metadata.
func IsObject(name string) bool {
	return !strings.HasPrefix(name, "_") && !strings.HasPrefix(name, ".") && !strings.HasSuffix(name, ".tmp") && !strings.HasSuffix(name, ".attrs")
}

// readMagic returns the first four bytes of a file (fewer when it is
// shorter): 1f 8b for gzip, PAR1 for Parquet.
func readMagic(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, err := io.ReadFull(f, magic)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return magic[:n], nil
}

// createObjectView (re)creates view name over the objects under prefix and
// returns how many objects it reads. With no objects the view is an empty
// relation with the same columns, so queries still bind.
func (db *DB) createObjectView(ctx context.Context, name, prefix string, t objectTable) (int, error) {
	var objs objectKinds
	var dir string
	if db.opts.BucketDir != "" {
		dir = filepath.Join(db.opts.BucketDir, filepath.FromSlash(prefix))
		var err error
		if objs, err = objectFiles(dir); err != nil {
			return 0, err
		}
	}
	var parts []string
	if len(objs.plain) > 0 {
		parts = append(parts, t.selectFrom(objs.plain, "uncompressed", filepath.ToSlash(dir)))
	}
	if len(objs.gzipped) > 0 {
		parts = append(parts, t.selectFrom(objs.gzipped, "gzip", filepath.ToSlash(dir)))
	}
	if len(objs.parquet) > 0 {
		parts = append(parts, t.selectFromParquet(objs.parquet, filepath.ToSlash(dir)))
	}
	if len(parts) == 0 {
		parts = append(parts, t.empty())
	}
	stmt := "CREATE OR REPLACE VIEW " + quoteIdent(name) + " AS\n" + strings.Join(parts, "\nUNION ALL\n")
	if _, err := db.conn.ExecContext(ctx, stmt); err != nil {
		return 0, fmt.Errorf("query: create view %s: %w", name, err)
	}
	return objs.count(), nil
}

// selectFrom reads files with an explicit schema: nothing is sampled or
// guessed, so every object reads the same way whatever the first one
// holds, and a line that does not fit fails the query as it does on Athena
// (ignore.malformed.json FALSE).
func (t objectTable) selectFrom(files []string, compression, dir string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "%s AS %s, ", quoteIdent(c.Key), quoteIdent(c.Name))
	}
	// filename is the object's path; datehour is the 13 characters after
	// the table location (objectFiles only passes paths that have them).
	// DuckDB counts characters, not bytes.
	t.writePartitionAndExtra(&b, dir)
	b.WriteString("\nFROM read_json(")
	writeList(&b, files)
	b.WriteString(", format='newline_delimited', compression=")
	b.WriteString(quoteString(compression))
	b.WriteString(", filename=true, timestampformat='%Y-%m-%d %H:%M:%S', columns={")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteString(c.Key) + ": " + quoteString(c.Type))
	}
	b.WriteString("})")
	return b.String()
}

// writePartitionAndExtra writes the select items after the table's
// columns: datehour, the 13 characters after the table location in the
// object's path (objectFiles only passes paths that have them; DuckDB
// counts characters, not bytes), then the extra expressions.
func (t objectTable) writePartitionAndExtra(b *strings.Builder, dir string) {
	fmt.Fprintf(b, "substr(filename, %d, 13) AS %s", utf8.RuneCountInString(dir)+2, PartitionColumn)
	for _, e := range t.Extra {
		fmt.Fprintf(b, ", %s AS %s", e.Expr, quoteIdent(e.Name))
	}
}

// selectFromParquet reads Parquet objects, as ParquetHiveSerDe does: by
// column name (union_by_name: files written with different schemas line
// up, and a column a file lacks is NULL), each column cast to the type the
// JSON objects read as, so both formats make one relation.
func (t objectTable) selectFromParquet(files []string, dir string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, c := range t.Columns {
		fmt.Fprintf(&b, "CAST(%s AS %s) AS %s, ", quoteIdent(c.Name), c.Type, quoteIdent(c.Name))
	}
	t.writePartitionAndExtra(&b, dir)
	b.WriteString("\nFROM read_parquet(")
	writeList(&b, files)
	b.WriteString(", filename=true, union_by_name=true)")
	return b.String()
}

// writeList writes files as a SQL list of string literals.
func writeList(b *strings.Builder, files []string) {
	b.WriteByte('[')
	for i, f := range files {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteString(f))
	}
	b.WriteByte(']')
}

// empty is a relation with t's columns and no rows.
func (t objectTable) empty() string {
	var items []string
	for _, c := range t.Columns {
		items = append(items, fmt.Sprintf("CAST(NULL AS %s) AS %s", c.Type, quoteIdent(c.Name)))
	}
	items = append(items, "CAST(NULL AS VARCHAR) AS "+PartitionColumn)
	for _, e := range t.Extra {
		items = append(items, fmt.Sprintf("CAST(NULL AS %s) AS %s", e.Type, quoteIdent(e.Name)))
	}
	return "SELECT " + strings.Join(items, ", ") + " WHERE false"
}
