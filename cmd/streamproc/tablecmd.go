package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/control"
	"github.com/streamproc/streamproc/local/queue"
	"github.com/streamproc/streamproc/query"
)

func (m *Main) tableCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Read the local tables (EventData, Trends) as JSON lines",
		Long: `Read the embedded tables in --data-dir. TABLE is a short name (EventData,
Trends), a logical ID (EventDataTable) or a physical name (<stack>-EventData).
Items are printed one JSON object per line; numbers keep every digit.`,
	}
	var limit int
	scan := &cobra.Command{
		Use:   "scan TABLE",
		Short: "Print every item of a table",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.withTable(cmd.Context(), g, args[0], func(ctx context.Context, s streamproc.Table, t tableDef) error {
				var start streamproc.Item
				printed := 0
				for {
					page, err := s.Scan(ctx, t.Spec.Name, start, 0)
					if err != nil {
						return err
					}
					for _, it := range page.Items {
						if limit > 0 && printed == limit {
							return nil
						}
						if err := printItem(m.Stdout, it); err != nil {
							return err
						}
						printed++
					}
					if page.LastKey == nil {
						return nil
					}
					start = page.LastKey
				}
			})
		},
	}
	scan.Flags().IntVar(&limit, "limit", 0, "print at most this many items (0 = all)")

	get := &cobra.Command{
		Use:   "get TABLE HASH [RANGE]",
		Short: "Print one item by its key",
		Example: `  streamproc table get EventData Ohmygirl2015 1174681441692635136
  streamproc table get Trends 2026-11-26T10:05:00Z golang`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.withTable(cmd.Context(), g, args[0], func(ctx context.Context, s streamproc.Table, t tableDef) error {
				key, err := keyFromArgs(t.Spec.Key, args[1:])
				if err != nil {
					return err
				}
				it, ok, err := s.Get(ctx, t.Spec.Name, key)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("no item with key %v in %s", args[1:], t.Spec.Name)
				}
				return printItem(m.Stdout, it)
			})
		},
	}

	var q streamproc.Query
	query := &cobra.Command{
		Use:     "query TABLE HASH",
		Short:   "Print the items of one partition in range-key order",
		Example: `  streamproc table query EventData Ohmygirl2015 --desc --limit 10`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return m.withTable(cmd.Context(), g, args[0], func(ctx context.Context, s streamproc.Table, t tableDef) error {
				h, err := keyValue(t.Spec.Key.HashType, args[1])
				if err != nil {
					return err
				}
				q.Hash = h
				items, err := s.Query(ctx, t.Spec.Name, q)
				if err != nil {
					return err
				}
				for _, it := range items {
					if err := printItem(m.Stdout, it); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	query.Flags().StringVar(&q.RangePrefix, "prefix", "", "only items whose range key starts with this")
	query.Flags().BoolVar(&q.Descending, "desc", false, "newest/highest range key first")
	query.Flags().IntVar(&q.Limit, "limit", 0, "at most this many items (0 = all)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the tables with their key schema",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := loadStack(g)
			if err != nil {
				return err
			}
			for _, t := range st.Tables {
				k := t.Spec.Key
				fmt.Fprintf(m.Stdout, "%-12s %-28s HASH %s (%s)", t.Short, t.Spec.Name, k.HashKey, k.HashType)
				if k.RangeKey != "" {
					fmt.Fprintf(m.Stdout, "  RANGE %s (%s)", k.RangeKey, k.RangeType)
				}
				if t.Spec.TTLAttr != "" {
					fmt.Fprintf(m.Stdout, "  TTL %s", t.Spec.TTLAttr)
				}
				fmt.Fprintln(m.Stdout)
			}
			return nil
		},
	}
	cmd.AddCommand(scan, get, query, list)
	return cmd
}

func (m *Main) withTable(ctx context.Context, g *globalFlags, name string, fn func(context.Context, streamproc.Table, tableDef) error) error {
	st, err := loadStack(g)
	if err != nil {
		return err
	}
	t, err := st.table(name)
	if err != nil {
		return err
	}
	if err := haveData(g.dataDir); err != nil {
		return err
	}
	rt, err := openRuntime(ctx, g.dataDir, st, m.Getenv, m.Now, m.logger(g))
	if errors.Is(err, streamproc.ErrUnavailable) {
		// The data dir is locked by a running stack: read through it.
		c, derr := control.Dial(g.dataDir)
		if derr != nil {
			return err
		}
		return fn(ctx, c, t)
	}
	if err != nil {
		return err
	}
	defer rt.Close()
	return fn(ctx, rt.tables, t)
}

func keyFromArgs(ks streamproc.KeySchema, args []string) (streamproc.Item, error) {
	if ks.RangeKey != "" && len(args) != 2 {
		return nil, usagef("this table's key is %s and %s: give both", ks.HashKey, ks.RangeKey)
	}
	if ks.RangeKey == "" && len(args) != 1 {
		return nil, usagef("this table's key is %s only: give one value", ks.HashKey)
	}
	h, err := keyValue(ks.HashType, args[0])
	if err != nil {
		return nil, err
	}
	key := streamproc.Item{ks.HashKey: h}
	if ks.RangeKey != "" {
		r, err := keyValue(ks.RangeType, args[1])
		if err != nil {
			return nil, err
		}
		key[ks.RangeKey] = r
	}
	return key, nil
}

func keyValue(typ, s string) (any, error) {
	switch typ {
	case "N":
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return nil, usagef("key value %q must be a number", s)
		}
		return streamproc.Number(s), nil
	case "B":
		return []byte(s), nil
	}
	return s, nil
}

// printItem writes an item as one JSON line, numbers as JSON numbers with
// all their digits.
func printItem(w io.Writer, it streamproc.Item) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // tweets hold & < >: print them as they are
	return enc.Encode(it)
}

func (m *Main) dlqCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "dlq [FUNCTION]",
		Short: "Print dead letters (records set aside with their reason) as JSON lines",
		Long: `Print the records the functions could not process — garbage bytes, non-tweets,
items the table rejected — with the reason, shard and sequence number and the
raw data (base64). The transformer's are the delivery stream's error output in
the bucket (processing-failed, and format-conversion-failed with Parquet), one
line per record with its object key. Without FUNCTION, all of these and the
on-failure records of discarded batches (the event source mappings' queues).
Works while 'streamproc up' runs.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := &countingWriter{w: m.Stdout}
			err := m.dlq(cmd, g, args, out)
			if err == nil && out.n == 0 {
				// Say it on stderr: stdout stays JSON lines for scripts.
				what := "no dead letters"
				if len(args) == 1 {
					what += " for " + args[0]
				}
				fmt.Fprintf(m.Stderr, "%s in %s: nothing failed\n", what, g.dataDir)
			}
			return err
		},
	}
}

// dlq prints the dead letters of args' function (all without one) to out.
func (m *Main) dlq(cmd *cobra.Command, g *globalFlags, args []string, out io.Writer) error {
	st, err := loadStack(g)
	if err != nil {
		return err
	}
	var only string
	if len(args) == 1 {
		fn, err := st.function(args[0])
		if err != nil {
			return err
		}
		only = st.Name + "-" + fn.LogicalID
	}
	if err := haveData(g.dataDir); err != nil {
		return err
	}
	// The transformer's failures are in the delivery stream's error
	// output in the bucket, not in a dead-letter file.
	transformer := ""
	if fn, err := st.function("transformer"); err == nil {
		transformer = st.Name + "-" + fn.LogicalID
	}
	errorOutput := func() error {
		if only != "" && only != transformer {
			return nil
		}
		if _, err := os.Stat(g.template); err != nil && !g.templateSet {
			return nil // built-in defaults: no delivery stream ever ran
		}
		loc, err := queryLocations(g)
		if err != nil || loc.BucketDir == "" {
			return err
		}
		prefixes := []string{cmp.Or(loc.ErrorsPrefix, query.DefaultErrorsPrefix), cmp.Or(loc.ConversionErrorsPrefix, query.DefaultConversionErrorsPrefix)}
		return printErrorOutput(cmd.Context(), out, loc.BucketDir, prefixes, transformer, failureReasons(filepath.Join(g.dataDir, "logs"), transformer))
	}
	rt, err := openRuntime(cmd.Context(), g.dataDir, st, m.Getenv, m.Now, m.logger(g))
	if errors.Is(err, streamproc.ErrUnavailable) {
		c, derr := control.Dial(g.dataDir)
		if derr != nil {
			return err
		}
		if err := c.Lines(cmd.Context(), "deadletters?function="+url.QueryEscape(only), out); err != nil {
			return err
		}
		if err := errorOutput(); err != nil {
			return err
		}
		if only == "" {
			return c.Lines(cmd.Context(), "queues", out)
		}
		return nil
	}
	if err != nil {
		return err
	}
	defer rt.Close()
	fns, err := rt.dead.Functions()
	if err != nil {
		return err
	}
	if only != "" {
		fns = []string{only}
	}
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, f := range fns {
		if err := rt.dead.Read(cmd.Context(), f, func(dl streamproc.DeadLetter) error { return enc.Encode(dl) }); err != nil {
			return err
		}
	}
	if err := errorOutput(); err != nil {
		return err
	}
	if only != "" {
		return nil
	}
	// Failed-batch records of the event source mappings' on-failure
	// destinations.
	q, err := queue.Open(filepath.Join(g.dataDir, "queues"))
	if err != nil {
		return err
	}
	defer q.Close()
	names, err := q.Queues()
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := q.Read(cmd.Context(), name, func(msg queue.Message) error {
			return enc.Encode(map[string]any{"queue": name, "message": msg})
		}); err != nil {
			return err
		}
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
