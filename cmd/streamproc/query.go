package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"github.com/chzyer/readline"
	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/control"
	"github.com/streamproc/streamproc/queries"
	"github.com/streamproc/streamproc/query"
)

type queryFlags struct {
	file        string
	named       string
	list        bool
	format      string
	maxWidth    int
	interactive bool
}

func (m *Main) queryCmd(g *globalFlags) *cobra.Command {
	f := &queryFlags{}
	cmd := &cobra.Command{
		Use:   "query [SQL | -f FILE | --named NAME]",
		Short: "Run SQL over the delivered tweets, the processing failures and the tables (embedded DuckDB)",
		Long: `Run SQL with embedded DuckDB over the local stack's data, through the same
tables Athena has on AWS, so queries/*.sql run unchanged on both:

  records    the tweets Firehose delivered (the Glue table records): created_at
             TIMESTAMP, id BIGINT, text, user_name, user_screen_name, source,
             retweet_count BIGINT, favorite_count BIGINT, lang, verified BOOLEAN,
             hashtags VARCHAR[], and the partition column datehour ('yyyy/MM/dd/HH'
             of the object key, as Athena's partition projection gives it)
  errors     Firehose's processing-failed envelopes (the Glue table errors):
             attemptsmade, arrivaltimestamp, errorcode, errormessage,
             attemptendingtimestamp, rawdata (base64), lambdaarn, datehour, and
             rawdata_text: rawdata decoded when it is UTF-8 text
  conversion_errors
             records that did not convert to Parquet (DeliveryFormat=PARQUET;
             the Glue table conversion_errors): attemptsmade, arrivaltimestamp,
             lasterrorcode, lasterrormessage, attemptendingtimestamp, rawdata,
             sequencenumber, subsequencenumber, datehour, rawdata_text
  eventdata  the stack's tables, by their short names in lower case, scanned
  trends     when a statement first names them; attributes keep their names

The objects are read from --data-dir/buckets/<bucket>/ at the Glue tables'
locations in the template, gzip or not. While 'streamproc up' runs, the tables
are read through the running process and the views are a snapshot taken when
the command starts.

SQL comes from the argument, -f FILE (- for stdin), --named NAME
(queries/NAME.sql, built in) or standard input. With none of them on a
terminal, an interactive prompt opens: statements end with ';', .help lists
its commands, history is kept in --data-dir/query_history. Several statements
(separated by ';') run in order, stopping at the first error; their results
follow one another (table: an empty line between them; csv: each with its
own header, so give csv one statement when a tool reads the file).`,
		Example: `  streamproc query "SELECT count(*) FROM records"
  streamproc query --named top_hashtags
  streamproc query --list
  streamproc query -f my.sql --format csv > out.csv
  streamproc query "SELECT Username, Message FROM eventdata LIMIT 5" --format json
  streamproc query            # interactive`,
		RunE: func(cmd *cobra.Command, args []string) error { return m.query(cmd.Context(), g, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "read SQL from this file (- for standard input)")
	fl.StringVar(&f.named, "named", "", "run the named query queries/NAME.sql (see --list)")
	fl.BoolVar(&f.list, "list", false, "list the named queries")
	fl.StringVar(&f.format, "format", "table", "output format: table, csv or json (one JSON object per row)")
	fl.IntVar(&f.maxWidth, "max-width", 60, "table format: cut longer values to this many characters (0 = never)")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "read statements one by one from standard input even when it is not a terminal")
	return cmd
}

func (m *Main) query(ctx context.Context, g *globalFlags, f *queryFlags, args []string) error {
	switch f.format {
	case "table", "csv", "json":
	default:
		return usagef("--format %q: choose table, csv or json", f.format)
	}
	sources := 0
	for _, set := range []bool{len(args) > 0, f.file != "", f.named != "", f.list, f.interactive} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		return usagef("give one of SQL, -f FILE, --named NAME, --list or --interactive")
	}
	if f.list {
		all, err := queries.All()
		if err != nil {
			return err
		}
		for _, q := range all {
			fmt.Fprintf(m.Stdout, "%-20s %s\n", q.Name, q.Description)
		}
		return nil
	}
	var sql string
	switch {
	case len(args) > 0:
		sql = strings.Join(args, " ")
	case f.named != "":
		q, err := queries.Get(f.named)
		if err != nil {
			return usageError{err}
		}
		sql = q.SQL
	case f.file == "-":
		b, err := io.ReadAll(m.Stdin)
		if err != nil {
			return fmt.Errorf("read SQL from stdin: %w", err)
		}
		sql = string(b)
	case f.file != "":
		b, err := os.ReadFile(f.file)
		if err != nil {
			return usagef("-f: %v", err)
		}
		sql = string(b)
	case !f.interactive && !isTerminalReader(m.Stdin):
		b, err := io.ReadAll(m.Stdin)
		if err != nil {
			return fmt.Errorf("read SQL from stdin: %w", err)
		}
		sql = string(b)
	}
	interactive := sql == "" && len(args) == 0 && f.named == "" && f.file == ""
	if !interactive && strings.TrimSpace(sql) == "" {
		return usagef("no SQL to run")
	}
	return m.withQueryDB(ctx, g, func(ctx context.Context, db *query.DB) error {
		if interactive {
			return m.repl(ctx, g, db, f)
		}
		if err := writeResult(ctx, m.Stdout, db, sql, f.format, f.maxWidth); err != nil {
			return err
		}
		if db.Objects(query.ViewRecords) == 0 && namesRecords.MatchString(sql) {
			if n := db.Elsewhere(); n > 0 {
				fmt.Fprintf(m.Stderr, "note: the bucket holds %d object(s) that no view reads: they were delivered under a prefix the Glue tables' locations do not cover;"+
					" the delivery stream's Prefix and the RecordsTable location in the template must agree\n", n)
			} else {
				fmt.Fprintln(m.Stderr, "note: nothing is delivered yet: the delivery stream buffers records for up to DeliveryBufferSeconds (60 s by default)"+
					" before it invokes the transformer and again before it writes an object; wait, or run up with --parameter-overrides DeliveryBufferSeconds=5")
			}
		}
		return nil
	})
}

// namesRecords finds the records view in a statement.
var namesRecords = regexp.MustCompile(`(?i)\b(from|join)\s+records\b`)

// withQueryDB opens DuckDB over g's data dir: the bucket at the Glue
// tables' locations and the stack's tables, read through the running
// stack when `up` holds the data dir.
func (m *Main) withQueryDB(ctx context.Context, g *globalFlags, fn func(context.Context, *query.DB) error) error {
	if _, err := os.Stat(g.template); err != nil {
		return usagef("streamproc query needs the template that says where the data is: %v (run it where template.yaml is, or pass -t)", err)
	}
	// A mistyped --data-dir must not be created (and then queried empty).
	if err := haveData(g.dataDir); err != nil {
		return err
	}
	st, err := loadStack(g)
	if err != nil {
		return err
	}
	opts, err := queryLocations(g)
	if err != nil {
		return err
	}
	for _, t := range st.Tables {
		opts.TableSpecs = append(opts.TableSpecs, query.TableSource{View: strings.ToLower(t.Short), Spec: t.Spec})
	}
	rt, err := openRuntime(ctx, g.dataDir, st, m.Getenv, m.Now, m.logger(g))
	switch {
	case errors.Is(err, streamproc.ErrUnavailable):
		c, derr := control.Dial(g.dataDir)
		if derr != nil {
			return err
		}
		opts.Tables = c
	case err != nil:
		return err
	default:
		defer rt.Close()
		opts.Tables = rt.tables
	}
	db, err := query.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(ctx, db)
}

// queryLocations finds the bucket directory and the key prefixes of the
// records and errors tables: where the template's Glue tables say Athena
// reads them (s3://<bucket>/<prefix>), or, in a template without them,
// the first delivery stream's bucket with the default prefixes.
func queryLocations(g *globalFlags) (query.Options, error) {
	r, err := resolveTemplate(g)
	if err != nil {
		return query.Options{}, err
	}
	var opts query.Options
	bucket := ""
	for _, id := range r.T.ResourceIDs("AWS::Glue::Table") {
		if !r.Enabled(id) {
			continue
		}
		props, err := r.Properties(id)
		if err != nil {
			return opts, fmt.Errorf("%s: %w", g.template, err)
		}
		in, _ := props["TableInput"].(map[string]any)
		sd, _ := in["StorageDescriptor"].(map[string]any)
		name, _ := in["Name"].(string)
		loc, _ := sd["Location"].(string)
		if name != query.ViewRecords && name != query.ViewErrors && name != query.ViewConversionErrors {
			continue
		}
		b, prefix, ok := strings.Cut(strings.TrimPrefix(loc, "s3://"), "/")
		if !ok || !strings.HasPrefix(loc, "s3://") {
			return opts, fmt.Errorf("%s: Glue table %s: location %q is not s3://bucket/prefix/", g.template, name, loc)
		}
		if bucket != "" && b != bucket {
			return opts, fmt.Errorf("%s: the Glue tables records, errors and conversion_errors are in different buckets (%s, %s); streamproc query reads one", g.template, bucket, b)
		}
		bucket = b
		switch name {
		case query.ViewRecords:
			opts.RecordsPrefix = prefix
		case query.ViewErrors:
			opts.ErrorsPrefix = prefix
		default:
			opts.ConversionErrorsPrefix = prefix
		}
	}
	if bucket == "" {
		p, err := r.Plan()
		if err != nil {
			return opts, fmt.Errorf("%s: %w", g.template, err)
		}
		if len(p.Deliveries) > 0 {
			bucket = p.Deliveries[0].Bucket
		}
	}
	if bucket != "" {
		opts.BucketDir = filepath.Join(g.dataDir, "buckets", bucket)
	}
	return opts, nil
}

// writeResult runs every statement of sql in turn and writes each result
// in format (tables separated by a blank line), stopping at the first
// error.
func writeResult(ctx context.Context, w io.Writer, db *query.DB, sql, format string, maxWidth int) error {
	stmts := query.Split(sql)
	if len(stmts) <= 1 {
		return writeOne(ctx, w, db, sql, format, maxWidth)
	}
	for i, stmt := range stmts {
		if i > 0 && format == "table" {
			fmt.Fprintln(w)
		}
		if err := writeOne(ctx, w, db, stmt, format, maxWidth); err != nil {
			return err
		}
	}
	return nil
}

// writeOne runs one statement and writes its result in format. The table
// format needs every row for the column widths; csv and json stream.
func writeOne(ctx context.Context, w io.Writer, db *query.DB, sql, format string, maxWidth int) error {
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case "table":
		var res *query.Result
		if res, err = db.Query(ctx, sql); err == nil {
			writeTable(bw, res, maxWidth)
		}
	case "csv":
		cw := csv.NewWriter(bw)
		var cols []query.Column
		err = db.Stream(ctx, sql, func(c []query.Column) error {
			cols = c
			names := make([]string, len(c))
			for i, col := range c {
				names[i] = col.Name
			}
			return cw.Write(names)
		}, func(row []any) error {
			rec := make([]string, len(row))
			for i, v := range row {
				if v != nil { // NULL is an empty field, as DuckDB's COPY writes it
					rec[i] = query.FormatValue(cols[i], v)
				}
			}
			return cw.Write(rec)
		})
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
	case "json":
		var cols []query.Column
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false)
		err = db.Stream(ctx, sql, func(c []query.Column) error {
			cols = c
			return nil
		}, func(row []any) error {
			// An object per row with the columns in the statement's order,
			// which a map would lose.
			line.Reset()
			line.WriteByte('{')
			for i, v := range row {
				if i > 0 {
					line.WriteByte(',')
				}
				if err := enc.Encode(cols[i].Name); err != nil {
					return err
				}
				trimNewline(&line)
				line.WriteByte(':')
				if err := enc.Encode(query.JSONValue(cols[i], v)); err != nil {
					return fmt.Errorf("column %s: %w", cols[i].Name, err)
				}
				trimNewline(&line)
			}
			line.WriteString("}\n")
			_, err := bw.Write(line.Bytes())
			return err
		})
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return err
}

func trimNewline(b *bytes.Buffer) { b.Truncate(b.Len() - 1) } // json.Encoder ends each value with '\n'

// writeTable writes an aligned table with a header, numbers right-aligned,
// and a row count.
func writeTable(w io.Writer, res *query.Result, maxWidth int) {
	cells := make([][]string, len(res.Rows))
	widths := make([]int, len(res.Columns))
	for i, c := range res.Columns {
		widths[i] = displayWidth(c.Name)
	}
	for r, row := range res.Rows {
		cells[r] = make([]string, len(row))
		for i, v := range row {
			s := cellText(query.FormatValue(res.Columns[i], v), maxWidth)
			cells[r][i] = s
			widths[i] = max(widths[i], displayWidth(s))
		}
	}
	right := make([]bool, len(res.Columns))
	for i, c := range res.Columns {
		right[i] = isNumeric(c.Type)
	}
	line := func(vals []string, header bool) {
		var b strings.Builder
		for i, s := range vals {
			if i > 0 {
				b.WriteString(" | ")
			}
			pad := strings.Repeat(" ", widths[i]-displayWidth(s))
			if right[i] && !header {
				b.WriteString(pad + s)
			} else if i < len(vals)-1 {
				b.WriteString(s + pad)
			} else {
				b.WriteString(s)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	names := make([]string, len(res.Columns))
	rule := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
		rule[i] = strings.Repeat("-", widths[i])
	}
	line(names, true)
	fmt.Fprintln(w, strings.Join(rule, "-+-"))
	for _, row := range cells {
		line(row, false)
	}
	if n := len(res.Rows); n == 1 {
		fmt.Fprintln(w, "(1 row)")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", n)
	}
}

// cellText keeps a table cell on one line and at most maxWidth characters.
func cellText(s string, maxWidth int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if maxWidth > 0 && len([]rune(s)) > maxWidth {
		s = string([]rune(s)[:maxWidth-1]) + "…"
	}
	return s
}

// displayWidth counts terminal columns (CJK characters take two).
func displayWidth(s string) int { return readline.Runes{}.WidthAll([]rune(s)) }

func isNumeric(typ string) bool {
	switch typ {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE":
		return true
	}
	return strings.HasPrefix(typ, "DECIMAL")
}

func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// lineReader is the prompt's input: readline on a terminal, plain lines
// otherwise.
type lineReader interface {
	Readline() (string, error)
	SetPrompt(string)
	Close() error
}

// plainLines reads lines without editing, echoing prompts to out so a
// transcript reads like a session.
type plainLines struct {
	sc     *bufio.Scanner
	out    io.Writer
	prompt string
}

func (p *plainLines) Readline() (string, error) {
	fmt.Fprint(p.out, p.prompt)
	if !p.sc.Scan() {
		fmt.Fprintln(p.out)
		if err := p.sc.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
	return p.sc.Text(), nil
}

func (p *plainLines) SetPrompt(s string) { p.prompt = s }
func (p *plainLines) Close() error       { return nil }

const (
	promptFirst = "streamproc> "
	promptMore  = "       ...> "
)

const replHelp = `Statements end with ';' and may span lines. Commands:
  .views           the views and where their rows come from
  .named NAME      run queries/NAME.sql (.named alone lists them)
  .format F        table, csv or json
  .refresh         read the bucket and the tables again
  .help            this text
  .quit            leave (or Ctrl-D)
`

// repl is the interactive prompt: line editing and history (chzyer/readline)
// on a terminal, plain lines otherwise. Ctrl-C clears the statement being
// typed; during a statement it stops the command, as everywhere else.
func (m *Main) repl(ctx context.Context, g *globalFlags, db *query.DB, f *queryFlags) error {
	var in lineReader
	if isTerminalReader(m.Stdin) {
		rl, err := readline.NewEx(&readline.Config{
			Prompt:          promptFirst,
			HistoryFile:     filepath.Join(g.dataDir, "query_history"),
			InterruptPrompt: "^C",
			EOFPrompt:       ".quit",
			Stdout:          m.Stdout,
			Stderr:          m.Stderr,
		})
		if err != nil {
			return fmt.Errorf("prompt: %w", err)
		}
		in = rl
	} else {
		sc := bufio.NewScanner(m.Stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		in = &plainLines{sc: sc, out: m.Stdout, prompt: promptFirst}
	}
	defer in.Close()
	var names []string
	for _, v := range db.Views() {
		names = append(names, v.Name)
	}
	fmt.Fprintf(m.Stdout, "streamproc query — DuckDB over %s. Views: %s. .help for commands.\n", g.dataDir, strings.Join(names, ", "))
	format := f.format
	var stmt strings.Builder
	// Typed at a terminal, a failed statement is just shown; read from a
	// script, it also makes the exit code 1, so scripts notice.
	failed := 0
	done := func() error {
		if failed > 0 && !isTerminalReader(m.Stdin) {
			return fmt.Errorf("%d statement(s) or command(s) of the input failed (each error is shown above)", failed)
		}
		return nil
	}
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if stmt.Len() == 0 {
			in.SetPrompt(promptFirst)
		} else {
			in.SetPrompt(promptMore)
		}
		line, err := in.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			stmt.Reset()
			continue
		}
		if errors.Is(err, io.EOF) {
			return done()
		}
		if err != nil {
			return fmt.Errorf("prompt: %w", err)
		}
		trimmed := strings.TrimSpace(line)
		if stmt.Len() == 0 && strings.HasPrefix(trimmed, ".") {
			quit, err := m.replCommand(ctx, db, trimmed, &format, f.maxWidth)
			if err != nil {
				failed++
				fmt.Fprintf(m.Stdout, "Error: %v\n", err)
			}
			if quit {
				return done()
			}
			continue
		}
		if trimmed == "" && stmt.Len() == 0 {
			continue
		}
		stmt.WriteString(line)
		stmt.WriteByte('\n')
		if !strings.HasSuffix(trimmed, ";") {
			continue
		}
		sql := stmt.String()
		stmt.Reset()
		if err := writeResult(ctx, m.Stdout, db, sql, format, f.maxWidth); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			failed++
			fmt.Fprintf(m.Stdout, "Error: %v\n", err)
		}
	}
}

// replCommand runs one dot command; it reports whether to leave.
func (m *Main) replCommand(ctx context.Context, db *query.DB, line string, format *string, maxWidth int) (bool, error) {
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case ".quit", ".exit", ".q":
		return true, nil
	case ".help":
		fmt.Fprint(m.Stdout, replHelp)
	case ".views":
		for _, v := range db.Views() {
			fmt.Fprintf(m.Stdout, "%-12s %s\n", v.Name, v.Source)
		}
	case ".refresh":
		return false, db.Refresh(ctx)
	case ".format":
		switch arg {
		case "table", "csv", "json":
			*format = arg
		default:
			return false, fmt.Errorf(".format %q: choose table, csv or json", arg)
		}
	case ".named":
		if arg == "" {
			all, err := queries.All()
			for _, q := range all {
				fmt.Fprintf(m.Stdout, "%-20s %s\n", q.Name, q.Description)
			}
			return false, err
		}
		q, err := queries.Get(arg)
		if err != nil {
			return false, err
		}
		return false, writeResult(ctx, m.Stdout, db, q.SQL, *format, maxWidth)
	default:
		return false, fmt.Errorf("unknown command %s (.help lists them)", cmd)
	}
	return false, nil
}
