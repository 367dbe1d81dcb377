// Package stack reads the SAM template that describes the system and
// resolves it for the local target: parameters with their defaults and
// overrides, intrinsic functions (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If,
// …) evaluated with local pseudo parameters, physical names and ARNs in AWS's
// formats, and SAM Globals merged into functions.
//
// It decodes YAML itself instead of using a typed CloudFormation model, so no
// property the template sets is silently dropped (typed SAM models lose a
// Kinesis event's properties when they contain a key they do not know).
package stack

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed template with intrinsic functions kept in their long
// JSON form: {"Ref": "X"}, {"Fn::GetAtt": ["R", "Arn"]}, {"Fn::Sub": "..."}.
type Template struct {
	Parameters map[string]Parameter
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Parameter is a template parameter.
type Parameter struct {
	Type          string
	Default       any
	AllowedValues []any
	MinValue      *float64
	MaxValue      *float64
	// AllowedPattern must match the whole value (CloudFormation anchors
	// it); MinLength/MaxLength bound a String's length.
	AllowedPattern        string
	MinLength, MaxLength  *float64
	ConstraintDescription string
}

// Resource is one resource of the template.
type Resource struct {
	Type       string
	Condition  string
	Properties map[string]any
	Metadata   map[string]any
}

// ErrTemplate marks a template that cannot be used; the message says where.
var ErrTemplate = errors.New("template")

// Load reads and parses a template file.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses template YAML (or JSON, which is YAML).
func Parse(data []byte) (*Template, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("%w: not valid YAML: %v", ErrTemplate, err)
	}
	v, err := convert(&root)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the document is not a mapping", ErrTemplate)
	}
	t := &Template{
		Parameters: map[string]Parameter{},
		Conditions: mapOf(doc["Conditions"]),
		Globals:    mapOf(doc["Globals"]),
		Resources:  map[string]Resource{},
		Outputs:    mapOf(doc["Outputs"]),
	}
	for name, pv := range mapOf(doc["Parameters"]) {
		pm := mapOf(pv)
		p := Parameter{Type: str(pm["Type"]), Default: pm["Default"]}
		if av, ok := pm["AllowedValues"].([]any); ok {
			p.AllowedValues = av
		}
		p.MinValue, p.MaxValue = num(pm["MinValue"]), num(pm["MaxValue"])
		p.MinLength, p.MaxLength = num(pm["MinLength"]), num(pm["MaxLength"])
		p.AllowedPattern, p.ConstraintDescription = str(pm["AllowedPattern"]), str(pm["ConstraintDescription"])
		if p.AllowedPattern != "" {
			if _, err := regexp.Compile(p.AllowedPattern); err != nil {
				return nil, fmt.Errorf("%w: parameter %s: AllowedPattern %q is not a regular expression: %v", ErrTemplate, name, p.AllowedPattern, err)
			}
		}
		t.Parameters[name] = p
	}
	res := mapOf(doc["Resources"])
	if len(res) == 0 {
		return nil, fmt.Errorf("%w: no Resources", ErrTemplate)
	}
	for id, rv := range res {
		rm := mapOf(rv)
		r := Resource{Type: str(rm["Type"]), Condition: str(rm["Condition"]), Properties: mapOf(rm["Properties"]), Metadata: mapOf(rm["Metadata"])}
		if r.Type == "" {
			return nil, fmt.Errorf("%w: resource %s has no Type", ErrTemplate, id)
		}
		t.Resources[id] = r
	}
	return t, nil
}

// ResourceIDs returns the logical IDs of resources of the given types
// (all when none given), sorted.
func (t *Template) ResourceIDs(types ...string) []string {
	var ids []string
	for id, r := range t.Resources {
		if len(types) == 0 || contains(types, r.Type) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// convert turns a YAML node into plain Go values, mapping short-form
// intrinsic tags (!Ref, !GetAtt, !Sub, …) to their long form.
func convert(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return convert(n.Content[0])
	case yaml.AliasNode:
		return convert(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("%w: line %d: duplicate key %q", ErrTemplate, n.Content[i].Line, k)
			}
			val, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		v = scalar(n)
	}
	tag := n.Tag
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return v, nil
	}
	name := tag[1:]
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		// !GetAtt A.Arn is a string; the long form is a list.
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("%w: line %d: !GetAtt %q needs Resource.Attribute", ErrTemplate, n.Line, s)
			}
			return map[string]any{"Fn::GetAtt": []any{res, attr}}, nil
		}
		return map[string]any{"Fn::GetAtt": v}, nil
	case "Sub", "Join", "If", "Equals", "Not", "And", "Or", "Select", "Split", "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "ToJsonString", "Length":
		return map[string]any{"Fn::" + name: v}, nil
	}
	return nil, fmt.Errorf("%w: line %d: unknown tag !%s", ErrTemplate, n.Line, name)
}

// scalar keeps YAML's types for plain scalars; quoted scalars stay strings.
func scalar(n *yaml.Node) any {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Value
	}
	switch n.ShortTag() {
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f
		}
	case "!!bool":
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b
		}
	case "!!null":
		return nil
	}
	return n.Value
}

func mapOf(v any) map[string]any {
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return map[string]any{}
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func num(v any) *float64 {
	switch x := v.(type) {
	case int64:
		f := float64(x)
		return &f
	case float64:
		return &x
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return &f
		}
	}
	return nil
}

// deepMerge merges src into dst like SAM Globals: maps merge key by key,
// anything else in dst wins.
func deepMerge(dst, src map[string]any) map[string]any {
	out := maps.Clone(dst)
	if out == nil {
		out = map[string]any{}
	}
	for k, sv := range src {
		dv, ok := out[k]
		if !ok {
			out[k] = sv
			continue
		}
		dm, dok := dv.(map[string]any)
		sm, sok := sv.(map[string]any)
		if dok && sok {
			out[k] = deepMerge(dm, sm)
		}
	}
	return out
}
