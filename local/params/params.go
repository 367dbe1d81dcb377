// Package params is the local target's SSM Parameter Store: secrets come
// from a private params file and from the environment.
//
// The file has one "name=value" per line; '#' starts a comment line, blank
// lines are ignored, and whitespace around name and value is trimmed:
//
//	# X API credentials
//	/twitter/bearer_token=AAAA...
//
// The environment variable for a name drops the leading '/', turns every
// character other than a letter or digit into '_' and upper-cases the rest:
// /twitter/consumer_key ↔ TWITTER_CONSUMER_KEY. A non-empty environment
// variable overrides the file, as with most tools, so a one-off run can
// replace a stored secret without editing the file; an empty one is treated
// as unset, so an exported-but-blank variable cannot hide a stored secret.
//
// Values are secrets: they never appear in errors or logs. Error messages
// name parameters, variables, files and line numbers only.
package params

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/streamproc/streamproc"
)

// Store reads parameters from a params file and the environment.
type Store struct {
	path string
	env  func(string) (string, bool)
}

var _ streamproc.Params = (*Store)(nil)

// New returns a Store reading the params file at path ("" = environment
// only) and the environment through env (nil = os.LookupEnv). A missing file
// is fine; a file group or others can access is refused (chmod 600), and so is
// one that does not parse. The file is read again on every Get, so a rotated
// secret is picked up without a restart, as with SSM.
func New(path string, env func(string) (string, bool)) (*Store, error) {
	if env == nil {
		env = os.LookupEnv
	}
	s := &Store{path: path, env: env}
	if _, _, err := s.readFile(); err != nil {
		return nil, err
	}
	return s, nil
}

// EnvName returns the environment variable consulted for a parameter name.
func EnvName(name string) string {
	name = strings.TrimPrefix(name, "/")
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Get returns every requested parameter or fails. Missing names produce one
// error wrapping streamproc.ErrNotFound that lists all of them and where it
// looked.
func (s *Store) Get(ctx context.Context, names ...string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	file, exists, err := s.readFile()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(names))
	var missing []string
	for _, name := range names {
		if v, ok := s.env(EnvName(name)); ok && v != "" {
			out[name] = v
			continue
		}
		if v, ok := file[name]; ok {
			out[name] = v
			continue
		}
		missing = append(missing, name)
	}
	if len(missing) == 0 {
		return out, nil
	}
	sort.Strings(missing)
	vars := make([]string, len(missing))
	for i, name := range missing {
		vars[i] = EnvName(name)
	}
	where := "environment variables " + strings.Join(vars, ", ")
	switch {
	case s.path == "":
		where += " (no params file configured)"
	case !exists:
		where += fmt.Sprintf(" and params file %s (which does not exist)", s.path)
	default:
		where += " and params file " + s.path
	}
	return nil, fmt.Errorf("parameters %s: %w; looked in %s", strings.Join(missing, ", "), streamproc.ErrNotFound, where)
}

// readFile parses the params file. It opens the file before checking its
// mode so the check applies to the file actually read.
func (s *Store) readFile() (map[string]string, bool, error) {
	if s.path == "" {
		return nil, false, nil
	}
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("params file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("params file: %w", err)
	}
	if st.IsDir() {
		return nil, false, streamproc.Errorf(streamproc.ErrInvalid, "params file %s is a directory", s.path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, false, streamproc.Errorf(streamproc.ErrInvalid, "params file %s holds secrets but group or others can access it (mode %04o); run: chmod 600 %s",
			s.path, perm, s.path)
	}
	values := map[string]string{}
	firstLine := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name, value, ok := bytes.Cut(line, []byte("="))
		name = bytes.TrimSpace(name)
		// The line may be a secret pasted without its name: report where,
		// never what.
		if !ok || len(name) == 0 {
			return nil, true, streamproc.Errorf(streamproc.ErrInvalid, "params file %s:%d: want name=value", s.path, n)
		}
		if !validName(name) {
			return nil, true, streamproc.Errorf(streamproc.ErrInvalid, "params file %s:%d: a name may hold only a-z, A-Z, 0-9 and _ . - /", s.path, n)
		}
		key := string(name)
		if first, dup := firstLine[key]; dup {
			return nil, true, streamproc.Errorf(streamproc.ErrInvalid, "params file %s:%d: the name is already set on line %d", s.path, n, first)
		}
		firstLine[key] = n
		values[key] = string(bytes.TrimSpace(value))
	}
	if err := sc.Err(); err != nil {
		// bufio's errors (a line over 1 MB) carry no file content.
		return nil, true, fmt.Errorf("params file %s: %w", s.path, err)
	}
	return values, true, nil
}

// validName reports whether name uses SSM's parameter-name characters. It
// also catches most secrets pasted without a name (base64 has '+').
func validName(name []byte) bool {
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '.', c == '-', c == '/':
		default:
			return false
		}
	}
	return true
}
