// Package query runs SQL over the local target's data with embedded DuckDB:
// the objects Firehose delivered to the bucket, seen through the same two
// tables Athena has on AWS (the Glue tables records and errors of
// template.yaml, with the datehour partition column that partition projection
// derives from the object key), and the stack's tables, scanned into DuckDB.
//
// The named queries in queries/*.sql run unchanged here and on Athena, so the
// views keep the Glue tables' column names and types exactly; anything extra
// (rawdata_text) comes after the Glue columns.
//
// DuckDB is cgo: only the streamproc CLI imports this package, never a
// Lambda bootstrap (those are built with CGO_ENABLED=0).
package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/streamproc/streamproc"
)

// Default key prefixes of the Glue tables' locations in template.yaml.
const (
	DefaultRecordsPrefix          = "tweets/"
	DefaultErrorsPrefix           = "errors/processing-failed/"
	DefaultConversionErrorsPrefix = "errors/format-conversion-failed/"
)

// Views over the delivered objects.
const (
	ViewRecords          = "records"
	ViewErrors           = "errors"
	ViewConversionErrors = "conversion_errors"
)

// TableSource is one stack table exposed as a view.
type TableSource struct {
	// View is the name SQL uses, e.g. "eventdata".
	View string
	// Spec names the table in Options.Tables and gives its key schema, which
	// types the key columns even when the table is empty.
	Spec streamproc.TableSpec
}

// Options say where the data is.
type Options struct {
	// BucketDir is the local bucket's directory
	// (<data-dir>/buckets/<bucket>). Empty: records and errors are empty.
	BucketDir string
	// RecordsPrefix, ErrorsPrefix and ConversionErrorsPrefix are the key
	// prefixes of the records, errors and conversion_errors tables'
	// locations (defaults DefaultRecordsPrefix, DefaultErrorsPrefix and
	// DefaultConversionErrorsPrefix).
	RecordsPrefix, ErrorsPrefix, ConversionErrorsPrefix string
	// Tables is where TableSpecs are read from (an embedded table store or a
	// running stack's control client). Nil: no table views.
	Tables streamproc.Table
	// TableSpecs are the tables to expose.
	TableSpecs []TableSource
}

// Column is one result column: its name and DuckDB type
// (DatabaseTypeName: "VARCHAR", "BIGINT", "TIMESTAMP", "VARCHAR[]", …).
type Column struct {
	Name, Type string
}

// View describes one queryable name.
type View struct {
	Name string
	// Source says where the rows come from, for people: "12 objects under
	// tweets/", "table streamproc-EventData".
	Source string
}

// DB is an in-memory DuckDB with the views. It is safe for concurrent use;
// statements run one at a time.
type DB struct {
	opts Options
	db   *sql.DB

	mu   sync.Mutex // serialises statements and table loads on conn
	conn *sql.Conn
	// loaded marks the table views already scanned into DuckDB.
	loaded map[string]bool
	// objects counts the objects behind the file views, for Views.
	objects map[string]int
}

// Open starts DuckDB and creates the views. Tables are scanned lazily, on
// the first statement that names them, so a query over the delivered
// objects does not pay for reading a large table.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if opts.RecordsPrefix == "" {
		opts.RecordsPrefix = DefaultRecordsPrefix
	}
	if opts.ErrorsPrefix == "" {
		opts.ErrorsPrefix = DefaultErrorsPrefix
	}
	if opts.ConversionErrorsPrefix == "" {
		opts.ConversionErrorsPrefix = DefaultConversionErrorsPrefix
	}
	seen := map[string]bool{ViewRecords: true, ViewErrors: true, ViewConversionErrors: true}
	for _, t := range opts.TableSpecs {
		if !validName.MatchString(t.View) || seen[strings.ToLower(t.View)] {
			return nil, fmt.Errorf("query: table view name %q is not a plain identifier or is taken", t.View)
		}
		seen[strings.ToLower(t.View)] = true
	}
	// Extensions are off so DuckDB never reaches for the network: json and
	// parquet are built into the bindings. UTC matches Athena's session
	// zone, so created_at (UTC, no zone) compares with current_timestamp as
	// it does there.
	c, err := duckdb.NewConnector("", func(execer driver.ExecerContext) error {
		for _, s := range []string{
			"SET autoinstall_known_extensions=false",
			"SET autoload_known_extensions=false",
			"SET TimeZone='UTC'",
		} {
			if _, err := execer.ExecContext(ctx, s, nil); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query: start duckdb: %w", err)
	}
	db := &DB{opts: opts, db: sql.OpenDB(c), loaded: map[string]bool{}, objects: map[string]int{}}
	if db.conn, err = db.db.Conn(ctx); err != nil {
		_ = db.db.Close()
		return nil, fmt.Errorf("query: connect duckdb: %w", err)
	}
	for _, m := range compatMacros {
		if _, err := db.conn.ExecContext(ctx, m); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("query: %s: %w", m, err)
		}
	}
	if err := db.Refresh(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// compatMacros define the Athena (Trino) functions the named queries use
// that DuckDB lacks, so one SQL text runs on both. date_format takes
// MySQL-style specifiers in Trino; %Y %m %d %H (what the datehour
// partition needs) mean the same in DuckDB's strftime. from_utf8 turns
// bytes into text; where Trino replaces invalid UTF-8 with U+FFFD, this
// gives NULL.
var compatMacros = []string{
	"CREATE OR REPLACE MACRO date_format(ts, fmt) AS strftime(ts, fmt)",
	"CREATE OR REPLACE MACRO from_utf8(b) AS try(decode(b))",
}

// validName is what a table view may be called: no quoting needed anywhere.
var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Close releases DuckDB.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return errors.Join(db.conn.Close(), db.db.Close())
}

// Refresh lists the bucket again (objects delivered since Open become
// visible) and forgets the table snapshots, so the next statement naming a
// table reads it again.
func (db *DB) Refresh(ctx context.Context) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, v := range db.objectViews() {
		n, err := db.createObjectView(ctx, v.name, v.prefix, v.def)
		if err != nil {
			return err
		}
		db.objects[v.name] = n
	}
	for _, t := range db.opts.TableSpecs {
		if _, err := db.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+quoteIdent(t.View)); err != nil {
			return fmt.Errorf("query: drop %s: %w", t.View, err)
		}
	}
	clear(db.loaded)
	return nil
}

// objectView is a view over delivered objects: its name, where its objects
// are and what they hold.
type objectView struct {
	name, prefix string
	def          objectTable
}

func (db *DB) objectViews() []objectView {
	return []objectView{
		{ViewRecords, db.opts.RecordsPrefix, recordsTable},
		{ViewErrors, db.opts.ErrorsPrefix, errorsTable},
		{ViewConversionErrors, db.opts.ConversionErrorsPrefix, conversionErrorsTable},
	}
}

// Objects is how many delivered objects the view over delivered objects
// named view reads (0 for any other name).
func (db *DB) Objects(view string) int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.objects[view]
}

// Elsewhere counts the bucket's objects that no view reads: delivered
// under a prefix none of the Glue tables' locations covers (a delivery
// Prefix changed without the table's location). Errors count as none.
func (db *DB) Elsewhere() int {
	if db.opts.BucketDir == "" {
		return 0
	}
	var covered []string
	for _, p := range []string{db.opts.RecordsPrefix, db.opts.ErrorsPrefix, db.opts.ConversionErrorsPrefix} {
		covered = append(covered, filepath.Join(db.opts.BucketDir, filepath.FromSlash(p))+string(filepath.Separator))
	}
	n := 0
	_ = filepath.WalkDir(db.opts.BucketDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !IsObject(d.Name()) {
			return nil
		}
		for _, c := range covered {
			if strings.HasPrefix(path, c) {
				return nil
			}
		}
		n++
		return nil
	})
	return n
}

// Views lists what SQL can name: records, errors, conversion_errors, then
// the table views.
func (db *DB) Views() []View {
	db.mu.Lock()
	defer db.mu.Unlock()
	var vs []View
	for _, v := range db.objectViews() {
		vs = append(vs, View{v.name, fmt.Sprintf("%d objects under %s", db.objects[v.name], v.prefix)})
	}
	if db.opts.Tables != nil {
		for _, t := range db.opts.TableSpecs {
			vs = append(vs, View{t.View, "table " + t.Spec.Name})
		}
	}
	return vs
}

// SQLError is a statement DuckDB refused or failed, with its message as
// DuckDB reports it.
type SQLError struct {
	Err error
	// Views are the names the statement could have used.
	Views []string
}

func (e *SQLError) Error() string {
	return fmt.Sprintf("%v\navailable views: %s", e.Err, strings.Join(e.Views, ", "))
}

func (e *SQLError) Unwrap() error { return e.Err }

// Result is a whole result set.
type Result struct {
	Columns []Column
	// Rows hold the driver's values: nil, bool, int*/uint*, float*, string,
	// []byte, time.Time, []any (lists), map[string]any (structs),
	// duckdb.Decimal, *big.Int, duckdb.Interval, duckdb.OrderedMap; format
	// them with FormatValue or JSONValue.
	Rows [][]any
}

// Query runs sql (one or more statements; the last one's result is
// returned) and reads the whole result into memory.
func (db *DB) Query(ctx context.Context, sql string) (*Result, error) {
	res := &Result{}
	err := db.Stream(ctx, sql, func(cols []Column) error {
		res.Columns = cols
		return nil
	}, func(row []any) error {
		res.Rows = append(res.Rows, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Stream runs sql and hands the columns, then each row, to the callbacks
// without keeping the result. The callbacks must not call db. An error
// from DuckDB is a *SQLError; an error from a callback is returned as is.
func (db *DB) Stream(ctx context.Context, sql string, header func([]Column) error, row func([]any) error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.loadMentioned(ctx, sql); err != nil {
		return err
	}
	rows, err := db.conn.QueryContext(ctx, sql)
	if err != nil {
		return db.sqlError(ctx, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return db.sqlError(ctx, err)
	}
	cols := make([]Column, len(types))
	for i, t := range types {
		cols[i] = Column{Name: t.Name(), Type: t.DatabaseTypeName()}
	}
	if err := header(cols); err != nil {
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return db.sqlError(ctx, err)
		}
		if err := row(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return db.sqlError(ctx, err)
	}
	return nil
}

// sqlError wraps a DuckDB error; a cancelled statement reports the
// cancellation instead, which is what the caller acts on.
func (db *DB) sqlError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("query: %w", ctx.Err())
	}
	var names []string
	for _, v := range db.objectViews() {
		names = append(names, v.name)
	}
	if db.opts.Tables != nil {
		for _, t := range db.opts.TableSpecs {
			names = append(names, t.View)
		}
	}
	return &SQLError{Err: err, Views: names}
}

// loadMentioned scans the tables whose view name appears as a word in sql
// and are not loaded yet. Matching words, not parsing, errs on the side of
// loading: a name inside a string literal loads a table nobody reads, which
// costs time but never changes a result.
func (db *DB) loadMentioned(ctx context.Context, sql string) error {
	if db.opts.Tables == nil {
		return nil
	}
	words := map[string]bool{}
	for _, w := range wordRE.FindAllString(sql, -1) {
		words[strings.ToLower(w)] = true
	}
	var todo []TableSource
	for _, t := range db.opts.TableSpecs {
		if !db.loaded[strings.ToLower(t.View)] && words[strings.ToLower(t.View)] {
			todo = append(todo, t)
		}
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].View < todo[j].View })
	for _, t := range todo {
		if err := db.loadTable(ctx, t); err != nil {
			return err
		}
		db.loaded[strings.ToLower(t.View)] = true
	}
	return nil
}

var wordRE = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

// quoteIdent quotes a SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a SQL string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
