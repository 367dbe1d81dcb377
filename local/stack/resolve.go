package stack

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Env holds the values a deployed stack gets from CloudFormation.
type Env struct {
	StackName string // default "streamproc"
	Region    string // default "us-east-1"
	Account   string // default "000000000000"
	// Overrides are parameter values, as `sam deploy --parameter-overrides`.
	Overrides map[string]string
}

// Resolved is a template evaluated for one stack.
type Resolved struct {
	T      *Template
	Env    Env
	params map[string]string
	conds  map[string]bool
	names  map[string]string // logical ID → physical name
}

// Resolve checks parameters and evaluates conditions and physical names.
func (t *Template) Resolve(env Env) (*Resolved, error) {
	if env.StackName == "" {
		env.StackName = "streamproc"
	}
	if env.Region == "" {
		env.Region = "us-east-1"
	}
	if env.Account == "" {
		env.Account = "000000000000"
	}
	r := &Resolved{T: t, Env: env, params: map[string]string{}, conds: map[string]bool{}, names: map[string]string{}}
	for k := range env.Overrides {
		if _, ok := t.Parameters[k]; !ok {
			return nil, overrideError{fmt.Errorf("%w: parameter override %s: no such parameter (the template has %s)", ErrTemplate, k, strings.Join(sortedKeys(t.Parameters), ", "))}
		}
	}
	for name, p := range t.Parameters {
		v, ok := env.Overrides[name]
		if !ok {
			if p.Default == nil {
				return nil, fmt.Errorf("%w: parameter %s has no default; pass --parameter-overrides %s=VALUE", ErrTemplate, name, name)
			}
			v = scalarString(p.Default)
		}
		if err := p.check(name, v); err != nil {
			if ok {
				return nil, overrideError{err}
			}
			return nil, err
		}
		r.params[name] = v
	}
	for name := range t.Conditions {
		if _, err := r.condition(name, map[string]bool{}); err != nil {
			return nil, err
		}
	}
	for _, id := range t.ResourceIDs() {
		if _, err := r.physicalName(id, map[string]bool{}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ErrOverride marks an error caused by a parameter override (an unknown
// parameter or a value its constraints refuse) rather than by the
// template: the user's input to fix.
var ErrOverride = errors.New("bad parameter override")

// overrideError is an override's error; it is both ErrTemplate (as it
// always was) and ErrOverride, with the message unchanged.
type overrideError struct{ error }

func (e overrideError) Unwrap() []error { return []error{e.error, ErrOverride} }

func (p Parameter) check(name, v string) error {
	if len(p.AllowedValues) > 0 {
		ok := false
		var allowed []string
		for _, a := range p.AllowedValues {
			allowed = append(allowed, scalarString(a))
			ok = ok || scalarString(a) == v
		}
		if !ok {
			return fmt.Errorf("%w: parameter %s=%q is not one of %s", ErrTemplate, name, v, strings.Join(allowed, ", "))
		}
	}
	why := ""
	if p.ConstraintDescription != "" {
		why = " (" + p.ConstraintDescription + ")"
	}
	if p.AllowedPattern != "" {
		// CloudFormation matches the pattern against the whole value.
		if re := regexp.MustCompile(`^(?:` + p.AllowedPattern + `)$`); !re.MatchString(v) {
			return fmt.Errorf("%w: parameter %s=%q does not match the pattern %s%s", ErrTemplate, name, v, p.AllowedPattern, why)
		}
	}
	if n := float64(utf8.RuneCountInString(v)); p.Type == "String" && (p.MinLength != nil && n < *p.MinLength || p.MaxLength != nil && n > *p.MaxLength) {
		return fmt.Errorf("%w: parameter %s=%q is %v characters long, outside [%v, %v]%s", ErrTemplate, name, v, n, deref(p.MinLength), deref(p.MaxLength), why)
	}
	if p.Type == "Number" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("%w: parameter %s=%q is not a number", ErrTemplate, name, v)
		}
		if p.MinValue != nil && f < *p.MinValue || p.MaxValue != nil && f > *p.MaxValue {
			return fmt.Errorf("%w: parameter %s=%s is outside [%v, %v]", ErrTemplate, name, v, deref(p.MinValue), deref(p.MaxValue))
		}
	}
	return nil
}

func deref(f *float64) any {
	if f == nil {
		return "∞"
	}
	return *f
}

// Param returns a parameter's value.
func (r *Resolved) Param(name string) string { return r.params[name] }

// Condition returns a named condition's value.
func (r *Resolved) Condition(name string) bool { return r.conds[name] }

// Enabled reports whether a resource is created (its Condition holds).
func (r *Resolved) Enabled(id string) bool {
	res, ok := r.T.Resources[id]
	return ok && (res.Condition == "" || r.conds[res.Condition])
}

// Name returns a resource's physical name (what Ref gives for most types).
func (r *Resolved) Name(id string) string { return r.names[id] }

// Properties returns a resource's properties with every intrinsic function
// evaluated; for SAM functions the Globals are merged in first.
func (r *Resolved) Properties(id string) (map[string]any, error) {
	res, ok := r.T.Resources[id]
	if !ok {
		return nil, fmt.Errorf("%w: no resource %s", ErrTemplate, id)
	}
	props := res.Properties
	if res.Type == "AWS::Serverless::Function" {
		props = deepMerge(props, mapOf(r.T.Globals["Function"]))
	}
	v, err := r.Value(props)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", id, err)
	}
	return v.(map[string]any), nil
}

// Value evaluates the intrinsic functions in v.
func (r *Resolved) Value(v any) (any, error) { return r.eval(v, map[string]bool{}) }

func (r *Resolved) eval(v any, visiting map[string]bool) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			ev, err := r.eval(e, visiting)
			if err != nil {
				return nil, err
			}
			if ev == noValue {
				continue
			}
			out = append(out, ev)
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg, visiting)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			ev, err := r.eval(e, visiting)
			if err != nil {
				return nil, err
			}
			if ev == noValue {
				continue
			}
			out[k] = ev
		}
		return out, nil
	}
	return v, nil
}

// noValue is AWS::NoValue: the property is removed.
var noValue = &struct{}{}

func (r *Resolved) intrinsic(fn string, arg any, visiting map[string]bool) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("%w: Ref takes a name, got %v", ErrTemplate, arg)
		}
		return r.ref(name, visiting)
	case "Condition":
		name, _ := arg.(string)
		return r.condition(name, visiting)
	case "Fn::GetAtt":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 2 {
			return nil, fmt.Errorf("%w: Fn::GetAtt takes [Resource, Attribute], got %v", ErrTemplate, arg)
		}
		id, attr := scalarString(parts[0]), scalarString(parts[1])
		return r.getAtt(id, attr, visiting)
	case "Fn::Sub":
		return r.sub(arg, visiting)
	case "Fn::Join":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 2 {
			return nil, fmt.Errorf("%w: Fn::Join takes [delimiter, [values]]", ErrTemplate)
		}
		list, err := r.eval(parts[1], visiting)
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: Fn::Join values are not a list", ErrTemplate)
		}
		ss := make([]string, len(items))
		for i, it := range items {
			ss[i] = scalarString(it)
		}
		return strings.Join(ss, scalarString(parts[0])), nil
	case "Fn::Select":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 2 {
			return nil, fmt.Errorf("%w: Fn::Select takes [index, list]", ErrTemplate)
		}
		idx, err := r.eval(parts[0], visiting)
		if err != nil {
			return nil, err
		}
		list, err := r.eval(parts[1], visiting)
		if err != nil {
			return nil, err
		}
		items, _ := list.([]any)
		i, err := strconv.Atoi(scalarString(idx))
		if err != nil || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("%w: Fn::Select index %v out of range", ErrTemplate, idx)
		}
		return items[i], nil
	case "Fn::Split":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 2 {
			return nil, fmt.Errorf("%w: Fn::Split takes [delimiter, string]", ErrTemplate)
		}
		s, err := r.eval(parts[1], visiting)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(scalarString(s), scalarString(parts[0])) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::If":
		parts, ok := arg.([]any)
		if !ok || len(parts) != 3 {
			return nil, fmt.Errorf("%w: Fn::If takes [condition, then, else]", ErrTemplate)
		}
		c, err := r.condition(scalarString(parts[0]), visiting)
		if err != nil {
			return nil, err
		}
		if c {
			return r.eval(parts[1], visiting)
		}
		return r.eval(parts[2], visiting)
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return r.boolFn(fn, arg, visiting)
	case "Fn::Base64":
		return nil, fmt.Errorf("%w: Fn::Base64 is not supported locally", ErrTemplate)
	}
	return nil, fmt.Errorf("%w: %s is not supported locally", ErrTemplate, fn)
}

func (r *Resolved) boolFn(fn string, arg any, visiting map[string]bool) (bool, error) {
	parts, ok := arg.([]any)
	if !ok {
		return false, fmt.Errorf("%w: %s takes a list", ErrTemplate, fn)
	}
	vals := make([]any, len(parts))
	for i, p := range parts {
		v, err := r.eval(p, visiting)
		if err != nil {
			return false, err
		}
		vals[i] = v
	}
	switch fn {
	case "Fn::Equals":
		if len(vals) != 2 {
			return false, fmt.Errorf("%w: Fn::Equals takes two values", ErrTemplate)
		}
		return scalarString(vals[0]) == scalarString(vals[1]), nil
	case "Fn::Not":
		b, ok := vals[0].(bool)
		if len(vals) != 1 || !ok {
			return false, fmt.Errorf("%w: Fn::Not takes one condition", ErrTemplate)
		}
		return !b, nil
	}
	and := fn == "Fn::And"
	for _, v := range vals {
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("%w: %s takes conditions", ErrTemplate, fn)
		}
		if and && !b {
			return false, nil
		}
		if !and && b {
			return true, nil
		}
	}
	return and, nil
}

func (r *Resolved) condition(name string, visiting map[string]bool) (bool, error) {
	if v, ok := r.conds[name]; ok {
		return v, nil
	}
	def, ok := r.T.Conditions[name]
	if !ok {
		return false, fmt.Errorf("%w: no condition %q", ErrTemplate, name)
	}
	key := "condition:" + name
	if visiting[key] {
		return false, fmt.Errorf("%w: condition %s refers to itself", ErrTemplate, name)
	}
	visiting[key] = true
	defer delete(visiting, key)
	v, err := r.eval(def, visiting)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%w: condition %s is not a boolean", ErrTemplate, name)
	}
	r.conds[name] = b
	return b, nil
}

func (r *Resolved) ref(name string, visiting map[string]bool) (any, error) {
	switch name {
	case "AWS::StackName":
		return r.Env.StackName, nil
	case "AWS::Region":
		return r.Env.Region, nil
	case "AWS::AccountId":
		return r.Env.Account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackId":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/00000000-0000-0000-0000-000000000000", r.Env.Region, r.Env.Account, r.Env.StackName), nil
	case "AWS::NoValue":
		return noValue, nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	res, ok := r.T.Resources[name]
	if !ok {
		return nil, fmt.Errorf("%w: Ref to %q: no parameter or resource of that name", ErrTemplate, name)
	}
	phys, err := r.physicalName(name, visiting)
	if err != nil {
		return nil, err
	}
	// Types whose Ref is not the plain name.
	switch res.Type {
	case "AWS::SQS::Queue":
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", r.Env.Region, r.Env.Account, phys), nil
	case "AWS::SNS::Topic":
		return r.arn("sns", phys), nil
	}
	return phys, nil
}

func (r *Resolved) arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, r.Env.Region, r.Env.Account, resource)
}

// ARN returns the ARN of a resource, in AWS's format for its type.
func (r *Resolved) ARN(id string) (string, error) {
	v, err := r.getAtt(id, "Arn", map[string]bool{})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

func (r *Resolved) getAtt(id, attr string, visiting map[string]bool) (any, error) {
	res, ok := r.T.Resources[id]
	if !ok {
		return nil, fmt.Errorf("%w: Fn::GetAtt %s.%s: no resource %s", ErrTemplate, id, attr, id)
	}
	name, err := r.physicalName(id, visiting)
	if err != nil {
		return nil, err
	}
	switch attr {
	case "Arn":
		switch res.Type {
		case "AWS::Kinesis::Stream":
			return r.arn("kinesis", "stream/"+name), nil
		case "AWS::DynamoDB::Table":
			return r.arn("dynamodb", "table/"+name), nil
		case "AWS::S3::Bucket":
			return "arn:aws:s3:::" + name, nil
		case "AWS::SQS::Queue":
			return r.arn("sqs", name), nil
		case "AWS::SNS::Topic":
			return r.arn("sns", name), nil
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			return r.arn("lambda", "function:"+name), nil
		case "AWS::KinesisFirehose::DeliveryStream":
			return r.arn("firehose", "deliverystream/"+name), nil
		case "AWS::Logs::LogGroup":
			return r.arn("logs", "log-group:"+name+":*"), nil
		case "AWS::IAM::Role":
			return fmt.Sprintf("arn:aws:iam::%s:role/%s", r.Env.Account, name), nil
		}
		return r.arn(strings.ToLower(strings.Split(res.Type, "::")[1]), name), nil
	case "QueueName", "StreamName", "TableName", "Name":
		return name, nil
	case "QueueUrl":
		return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", r.Env.Region, r.Env.Account, name), nil
	case "DomainName":
		return name + ".s3.amazonaws.com", nil
	}
	return nil, fmt.Errorf("%w: Fn::GetAtt %s.%s: attribute not supported locally", ErrTemplate, id, attr)
}

// nameProps says which property holds the physical name of each type.
var nameProps = map[string][]string{
	"AWS::Kinesis::Stream":                 {"Name"},
	"AWS::DynamoDB::Table":                 {"TableName"},
	"AWS::S3::Bucket":                      {"BucketName"},
	"AWS::SQS::Queue":                      {"QueueName"},
	"AWS::SNS::Topic":                      {"TopicName"},
	"AWS::Serverless::Function":            {"FunctionName"},
	"AWS::Lambda::Function":                {"FunctionName"},
	"AWS::KinesisFirehose::DeliveryStream": {"DeliveryStreamName"},
	"AWS::Logs::LogGroup":                  {"LogGroupName"},
	"AWS::Logs::LogStream":                 {"LogStreamName"},
	"AWS::IAM::Role":                       {"RoleName"},
	"AWS::Athena::WorkGroup":               {"Name"},
	"AWS::CloudWatch::Alarm":               {"AlarmName"},
	"AWS::CloudWatch::Dashboard":           {"DashboardName"},
	"AWS::Glue::Database":                  {"DatabaseInput", "Name"},
	"AWS::Glue::Table":                     {"TableInput", "Name"},
}

// physicalName returns the name a resource gets: its name property, or
// CloudFormation's generated <stack>-<LogicalID>-<suffix> shape (lower case
// for buckets) with a fixed suffix so local names are stable.
func (r *Resolved) physicalName(id string, visiting map[string]bool) (string, error) {
	if n, ok := r.names[id]; ok {
		return n, nil
	}
	if visiting[id] {
		return "", fmt.Errorf("%w: the name of %s depends on itself", ErrTemplate, id)
	}
	visiting[id] = true
	defer delete(visiting, id)
	res := r.T.Resources[id]
	path := nameProps[res.Type]
	var raw any = res.Properties
	for _, p := range path {
		raw = mapOf(raw)[p]
	}
	name := ""
	if len(path) > 0 && raw != nil {
		v, err := r.eval(raw, visiting)
		if err != nil {
			return "", fmt.Errorf("name of %s: %w", id, err)
		}
		name = scalarString(v)
	}
	if name == "" {
		name = r.Env.StackName + "-" + id + "-local"
		if res.Type == "AWS::S3::Bucket" {
			name = strings.ToLower(name)
		}
	}
	r.names[id] = name
	return name, nil
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

func (r *Resolved) sub(arg any, visiting map[string]bool) (any, error) {
	var tmpl string
	vars := map[string]any{}
	switch x := arg.(type) {
	case string:
		tmpl = x
	case []any:
		if len(x) != 2 {
			return nil, fmt.Errorf("%w: Fn::Sub takes a string or [string, {vars}]", ErrTemplate)
		}
		tmpl = scalarString(x[0])
		vm, err := r.eval(x[1], visiting)
		if err != nil {
			return nil, err
		}
		maps.Copy(vars, mapOf(vm))
	default:
		return nil, fmt.Errorf("%w: Fn::Sub takes a string or [string, {vars}]", ErrTemplate)
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}" // ${!Literal} escapes
		}
		if v, ok := vars[name]; ok {
			return scalarString(v)
		}
		var v any
		var err error
		if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = r.getAtt(res, attr, visiting)
		} else {
			v, err = r.ref(name, visiting)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("Fn::Sub %q: %w", tmpl, err)
		}
		return scalarString(v)
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// scalarString renders a scalar as CloudFormation passes it to a resource.
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
