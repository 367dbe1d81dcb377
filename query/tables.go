package query

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/streamproc/streamproc"
)

// kind is what an attribute's values have in common, as a DuckDB type.
// Items of one DynamoDB table need not agree, so kinds merge: integers
// and decimals make DOUBLE, anything else that disagrees makes JSON.
type kind uint8

const (
	kindNone kind = iota // only NULLs seen
	kindString
	kindInt
	kindFloat
	kindBool
	kindStringList
	kindJSON
)

func (k kind) duckType() string {
	switch k {
	case kindInt:
		return "BIGINT"
	case kindFloat:
		return "DOUBLE"
	case kindBool:
		return "BOOLEAN"
	case kindStringList:
		return "VARCHAR[]"
	case kindJSON:
		return "JSON"
	}
	return "VARCHAR"
}

func merge(a, b kind) kind {
	switch {
	case a == kindNone || a == b:
		return b
	case b == kindNone:
		return a
	case (a == kindInt && b == kindFloat) || (a == kindFloat && b == kindInt):
		return kindFloat
	}
	return kindJSON
}

// kindOf classifies one attribute value (the types streamproc.Item allows).
func kindOf(v any) kind {
	switch x := v.(type) {
	case nil:
		return kindNone
	case string, []byte: // B is base64 text, as DynamoDB's JSON shows it
		return kindString
	case bool:
		return kindBool
	case streamproc.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return kindInt
		}
		return kindFloat
	case int, int8, int16, int32, int64, uint8, uint16, uint32:
		return kindInt
	case uint, uint64, float32, float64:
		return kindFloat
	case []string:
		return kindStringList
	case []any:
		for _, e := range x {
			if _, ok := e.(string); !ok {
				return kindJSON
			}
		}
		return kindStringList
	}
	return kindJSON
}

// keyKind is the kind a key attribute has before any item is seen.
func keyKind(typ string) kind {
	if typ == "N" {
		return kindInt
	}
	return kindString
}

// loadTable scans t into a DuckDB table named t.View. Items go in as JSON
// text through the appender (one pass over the store, so a live table is
// read once), and json_transform then types every attribute by what its
// values have in common. Columns: the key attributes, then the others by
// name; attributes keep their names (DuckDB matches them without regard
// to case, so eventdata.username works).
func (db *DB) loadTable(ctx context.Context, t TableSource) error {
	raw := quoteIdent("_load_" + t.View)
	if _, err := db.conn.ExecContext(ctx, "CREATE OR REPLACE TABLE "+raw+" (item VARCHAR)"); err != nil {
		return fmt.Errorf("query: load %s: %w", t.Spec.Name, err)
	}
	defer func() { _, _ = db.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+raw) }()

	key := t.Spec.Key
	kinds := map[string]kind{key.HashKey: keyKind(key.HashType)}
	if key.RangeKey != "" {
		kinds[key.RangeKey] = keyKind(key.RangeType)
	}
	err := db.conn.Raw(func(dc any) error {
		conn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		app, err := duckdb.NewAppenderFromConn(conn, "", "_load_"+t.View)
		if err != nil {
			return err
		}
		var start streamproc.Item
		for {
			page, err := db.opts.Tables.Scan(ctx, t.Spec.Name, start, 0)
			if errors.Is(err, streamproc.ErrNotFound) {
				break // no table yet: an empty view with the key columns
			}
			if err != nil {
				_ = app.Close()
				return fmt.Errorf("scan: %w", err)
			}
			for _, it := range page.Items {
				for k, v := range it {
					kinds[k] = merge(kinds[k], kindOf(v))
				}
				b, err := json.Marshal(it)
				if err != nil {
					_ = app.Close()
					return fmt.Errorf("encode item: %w", err)
				}
				if err := app.AppendRow(string(b)); err != nil {
					_ = app.Close()
					return fmt.Errorf("append item: %w", err)
				}
			}
			if page.LastKey == nil {
				break
			}
			start = page.LastKey
		}
		return app.Close()
	})
	if err != nil {
		return fmt.Errorf("query: load %s: %w", t.Spec.Name, err)
	}
	var names []string
	for k := range kinds {
		if k != key.HashKey && k != key.RangeKey {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if key.RangeKey != "" {
		names = append([]string{key.RangeKey}, names...)
	}
	names = append([]string{key.HashKey}, names...)
	// json_transform's structure is a JSON object of name → type; its key
	// order is the column order.
	structure := []byte{'{'}
	for i, n := range names {
		if i > 0 {
			structure = append(structure, ',')
		}
		nb, _ := json.Marshal(n)
		tb, _ := json.Marshal(kinds[n].duckType())
		structure = append(append(append(structure, nb...), ':'), tb...)
	}
	structure = append(structure, '}')
	stmt := fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT unnest(json_transform(item, %s)) FROM %s",
		quoteIdent(t.View), quoteString(string(structure)), raw)
	if _, err := db.conn.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("query: load %s: %w", t.Spec.Name, err)
	}
	return nil
}
