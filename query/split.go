package query

import "strings"

// Split cuts a script into its statements at the semicolons that end them,
// the way DuckDB's parser would: semicolons inside quoted strings, quoted
// identifiers, dollar-quoted strings and comments do not count. Statements
// holding only white space and comments are left out; the rest are
// returned trimmed, without their semicolon.
//
// The CLI runs and prints every statement of a script: DuckDB's
// database/sql driver would answer a multi-statement query with the last
// result only, silently dropping the others.
func Split(sql string) []string {
	var out []string
	start, content := 0, false
	emit := func(end int) {
		if content {
			out = append(out, strings.TrimSpace(sql[start:end]))
		}
		start, content = end+1, false
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == ';':
			emit(i)
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(sql)
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			if j := strings.Index(sql[i+2:], "*/"); j >= 0 {
				i += j + 3
			} else {
				i = len(sql)
			}
		case c == '\'' || c == '"':
			content = true
			i = closeQuote(sql, i, c)
		case c == '$':
			content = true
			if tag, ok := dollarTag(sql[i:]); ok {
				if j := strings.Index(sql[i+len(tag):], tag); j >= 0 {
					i += len(tag) + j + len(tag) - 1
				} else {
					i = len(sql)
				}
			}
		case c != ' ' && c != '\t' && c != '\n' && c != '\r':
			content = true
		}
	}
	emit(len(sql))
	return out
}

// closeQuote returns the index of the quote closing the one at i; a doubled
// quote inside is an escaped one. An unclosed quote runs to the end.
func closeQuote(s string, i int, q byte) int {
	for j := i + 1; j < len(s); j++ {
		if s[j] != q {
			continue
		}
		if j+1 < len(s) && s[j+1] == q {
			j++
			continue
		}
		return j
	}
	return len(s)
}

// dollarTag reports the opening tag ($$ or $name$) of a dollar-quoted
// string at the start of s; $1-style parameters are not tags.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (j > 1 && c >= '0' && c <= '9'):
		default:
			return "", false
		}
	}
	return "", false
}
