package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stack"
)

// applyTemplate overlays template.yaml's function environments, timeouts,
// tables and stream on the defaults.
func applyTemplate(st stackDef, file string, overrides map[string]string) (stackDef, error) {
	t, err := stack.Load(file)
	if err != nil {
		return st, err
	}
	r, err := t.Resolve(stack.Env{StackName: st.Name, Region: localRegion, Account: localAccount, Overrides: overrides})
	if err != nil {
		return st, overrideUsage(fmt.Errorf("%s: %w", file, err))
	}
	p, err := r.Plan()
	if err != nil {
		return st, fmt.Errorf("%s: %w", file, err)
	}
	if len(p.Streams) > 0 {
		st.Stream, st.Shards = p.Streams[0].Name, p.Streams[0].Shards
	}
	if len(p.Tables) > 0 {
		st.Tables = nil
		for _, tp := range p.Tables {
			st.Tables = append(st.Tables, tableDef{Short: strings.TrimSuffix(tp.LogicalID, "Table"), LogicalID: tp.LogicalID, Spec: tableSpec(tp)})
		}
	}
	for _, fp := range p.Functions {
		for i := range st.Functions {
			if f := &st.Functions[i]; f.Name == fp.Package {
				f.LogicalID, f.Env, f.Timeout = fp.LogicalID, fp.Env, fp.Timeout
			}
		}
	}
	return st, nil
}

func tableSpec(tp stack.TablePlan) streamproc.TableSpec {
	return streamproc.TableSpec{
		Name:    tp.Name,
		Key:     streamproc.KeySchema{HashKey: tp.HashKey, HashType: tp.HashType, RangeKey: tp.RangeKey, RangeType: tp.RangeType},
		TTLAttr: tp.TTLAttr,
	}
}

// resolveTemplate loads g's template and resolves it with the stack name,
// local pseudo parameters and --parameter-overrides.
func resolveTemplate(g *globalFlags) (*stack.Resolved, error) {
	overrides, err := parseOverrides(g.parameterOverrides)
	if err != nil {
		return nil, err
	}
	t, err := stack.Load(g.template)
	if err != nil {
		return nil, err
	}
	r, err := t.Resolve(stack.Env{StackName: g.stackName, Region: localRegion, Account: localAccount, Overrides: overrides})
	return r, overrideUsage(err)
}

// overrideUsage makes an error a --parameter-overrides value caused a
// usage error (exit 2), as a bad flag is.
func overrideUsage(err error) error {
	if errors.Is(err, stack.ErrOverride) {
		return usageError{err}
	}
	return err
}
