package params

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/streamproc/streamproc/internal/porttest/paramstest"
)

// TestConformance runs the shared streamproc.Params suite, the same bodies
// the SSM adapter passes against moto, once with every parameter in the
// params file and once with every parameter in the environment: a user
// may keep secrets in either.
func TestConformance(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) paramstest.Backend
	}{
		{"file", openFileBackend},
		{"environment", openEnvBackend},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { paramstest.Run(t, b.open) })
	}
}

// openFileBackend stores parameters in a params file, rewritten whole on
// every Put the way an operator edits it; the environment is empty.
func openFileBackend(t *testing.T) paramstest.Backend {
	path := filepath.Join(t.TempDir(), "params")
	s, err := New(path, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	values := map[string]string{}
	return paramstest.Backend{
		Params: s,
		Put: func(t *testing.T, p paramstest.Param) {
			t.Helper()
			if _, ok := values[p.Name]; !ok {
				names = append(names, p.Name)
			}
			values[p.Name] = p.Value
			var b strings.Builder
			for _, n := range names {
				b.WriteString(n + "=" + values[n] + "\n")
			}
			if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// openEnvBackend stores parameters in environment variables (a map, so the
// test does not touch the process environment); no params file is
// configured.
func openEnvBackend(t *testing.T) paramstest.Backend {
	var mu sync.Mutex
	env := map[string]string{}
	s, err := New("", func(k string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	return paramstest.Backend{
		Params: s,
		Put: func(t *testing.T, p paramstest.Param) {
			mu.Lock()
			defer mu.Unlock()
			env[EnvName(p.Name)] = p.Value
		},
	}
}
