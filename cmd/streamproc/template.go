package main

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

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
		return st, fmt.Errorf("%s: %w", file, err)
	}
	for _, id := range t.ResourceIDs("AWS::Kinesis::Stream") {
		props, err := r.Properties(id)
		if err != nil {
			return st, err
		}
		st.Stream = r.Name(id)
		if v, ok := props["ShardCount"]; ok {
			if st.Shards, err = shardsParam(v); err != nil {
				return st, fmt.Errorf("%s: stream %s: %w", file, id, err)
			}
		}
		break
	}
	var tables []tableDef
	for _, id := range t.ResourceIDs("AWS::DynamoDB::Table") {
		props, err := r.Properties(id)
		if err != nil {
			return st, err
		}
		spec, err := tableSpec(r.Name(id), props)
		if err != nil {
			return st, fmt.Errorf("%s: table %s: %w", file, id, err)
		}
		tables = append(tables, tableDef{Short: strings.TrimSuffix(id, "Table"), LogicalID: id, Spec: spec})
	}
	if len(tables) > 0 {
		st.Tables = tables
	}
	for _, id := range t.ResourceIDs("AWS::Serverless::Function") {
		entry, _ := t.Resources[id].Metadata["Entrypoint"].(string)
		pkg := path.Base(entry)
		for i := range st.Functions {
			f := &st.Functions[i]
			if f.Name != pkg {
				continue
			}
			props, err := r.Properties(id)
			if err != nil {
				return st, err
			}
			f.LogicalID = id
			if v, ok := props["Timeout"]; ok {
				secs, err := strconv.Atoi(fmt.Sprint(v))
				if err != nil {
					return st, fmt.Errorf("%s: function %s: Timeout %v is not a number of seconds", file, id, v)
				}
				f.Timeout = time.Duration(secs) * time.Second
			}
			f.Env = map[string]string{}
			if env, ok := props["Environment"].(map[string]any); ok {
				if vars, ok := env["Variables"].(map[string]any); ok {
					for k, v := range vars {
						f.Env[k] = fmt.Sprint(v)
					}
				}
			}
		}
	}
	return st, nil
}

// tableSpec reads a DynamoDB table's key schema and TTL from its properties.
func tableSpec(name string, props map[string]any) (streamproc.TableSpec, error) {
	spec := streamproc.TableSpec{Name: name}
	types := map[string]string{}
	defs, _ := props["AttributeDefinitions"].([]any)
	for _, d := range defs {
		m, _ := d.(map[string]any)
		types[fmt.Sprint(m["AttributeName"])] = fmt.Sprint(m["AttributeType"])
	}
	keys, _ := props["KeySchema"].([]any)
	for _, k := range keys {
		m, _ := k.(map[string]any)
		attr := fmt.Sprint(m["AttributeName"])
		typ, ok := types[attr]
		if !ok {
			return spec, fmt.Errorf("key attribute %s has no AttributeDefinition", attr)
		}
		switch m["KeyType"] {
		case "HASH":
			spec.Key.HashKey, spec.Key.HashType = attr, typ
		case "RANGE":
			spec.Key.RangeKey, spec.Key.RangeType = attr, typ
		}
	}
	if spec.Key.HashKey == "" {
		return spec, fmt.Errorf("no HASH key in KeySchema")
	}
	if ttl, ok := props["TimeToLiveSpecification"].(map[string]any); ok && fmt.Sprint(ttl["Enabled"]) == "true" {
		spec.TTLAttr = fmt.Sprint(ttl["AttributeName"])
	}
	return spec, nil
}
