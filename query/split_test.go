package query

import (
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1;", []string{"SELECT 1"}},
		{"SELECT 1 AS one; SELECT 2 AS two;\n", []string{"SELECT 1 AS one", "SELECT 2 AS two"}},
		{"SELECT ';' AS s; SELECT 'it''s; fine'", []string{"SELECT ';' AS s", "SELECT 'it''s; fine'"}},
		{`SELECT 1 AS "a;b"; SELECT 2`, []string{`SELECT 1 AS "a;b"`, "SELECT 2"}},
		{"-- note; not a statement\nSELECT 1; -- trailing; comment\n", []string{"-- note; not a statement\nSELECT 1"}},
		{"/* a; b */ SELECT 1; /* only a comment; */", []string{"/* a; b */ SELECT 1"}},
		{"SELECT $$a;b$$; SELECT $x$c;d$x$", []string{"SELECT $$a;b$$", "SELECT $x$c;d$x$"}},
		{"SELECT $1; SELECT 2", []string{"SELECT $1", "SELECT 2"}},
		{" ; ;\n", nil},
		{"SELECT 'unclosed; still one", []string{"SELECT 'unclosed; still one"}},
	}
	for _, tc := range tests {
		if got := Split(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
