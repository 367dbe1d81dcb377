// Package queries holds the named SQL queries: the same files become the
// template's AWS::Athena::NamedQuery resources (make template-queries) and
// run locally with `streamproc query --named NAME`, so they stay in the
// SQL that Athena (Trino) and DuckDB share.
package queries

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// FS holds the *.sql files of this directory.
//
//go:embed *.sql
var FS embed.FS

// Query is one named query.
type Query struct {
	Name        string // file name without .sql
	Description string // the first line's "-- " comment
	SQL         string
}

// All returns every named query, by name.
func All() ([]Query, error) {
	names, err := fs.Glob(FS, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Query, 0, len(names))
	for _, n := range names {
		q, err := Get(strings.TrimSuffix(n, ".sql"))
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// Get returns the query in NAME.sql; an unknown name's error lists the
// known ones.
func Get(name string) (Query, error) {
	b, err := FS.ReadFile(name + ".sql")
	if err != nil || strings.ContainsAny(name, "/\\") {
		names, _ := fs.Glob(FS, "*.sql")
		for i := range names {
			names[i] = strings.TrimSuffix(names[i], ".sql")
		}
		sort.Strings(names)
		return Query{}, fmt.Errorf("no named query %q; choose one of %s", name, strings.Join(names, ", "))
	}
	q := Query{Name: name, SQL: string(b)}
	first, _, _ := strings.Cut(q.SQL, "\n")
	if d, ok := strings.CutPrefix(strings.TrimSpace(first), "--"); ok {
		q.Description = strings.TrimSpace(d)
	}
	return q, nil
}
