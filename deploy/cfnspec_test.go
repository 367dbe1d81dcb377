package deploy

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// specPath is the CloudFormation resource specification as AWS's CDK team
// publishes it (npm @aws-cdk/aws-service-spec, installed by npm ci): every
// resource type, property, nested type and attribute CloudFormation knows.
const specPath = "../node_modules/@aws-cdk/aws-service-spec/db.json.gz"

type specType struct {
	Type      string     `json:"type"`
	Element   *specType  `json:"element"`
	Types     []specType `json:"types"`
	Reference *struct {
		ID string `json:"$ref"`
	} `json:"reference"`
}

type specProp struct {
	Type     specType `json:"type"`
	Required bool     `json:"required"`
}

type specEntity struct {
	ID         string              `json:"$id"`
	CFNType    string              `json:"cloudFormationType"`
	Name       string              `json:"name"`
	Properties map[string]specProp `json:"properties"`
	Attributes map[string]any      `json:"attributes"`
}

type cfnSpec struct {
	resources map[string]*specEntity
	types     map[string]*specEntity
}

// requireTool fails under CI (which must have installed it) and skips
// elsewhere with what to run.
func requireTool(t *testing.T, what, install string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s is missing (%v); run %s", what, err, install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func loadSpec(t *testing.T) *cfnSpec {
	t.Helper()
	f, err := os.Open(specPath)
	if err != nil {
		requireTool(t, "the CloudFormation spec", "npm ci", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var db struct {
		Schema struct {
			Resource       struct{ Entities []*specEntity } `json:"resource"`
			TypeDefinition struct{ Entities []*specEntity } `json:"typeDefinition"`
		} `json:"schema"`
	}
	if err := json.NewDecoder(zr).Decode(&db); err != nil {
		t.Fatal(err)
	}
	s := &cfnSpec{resources: map[string]*specEntity{}, types: map[string]*specEntity{}}
	for _, e := range db.Schema.Resource.Entities {
		s.resources[e.CFNType] = e
	}
	for _, e := range db.Schema.TypeDefinition.Entities {
		s.types[e.ID] = e
	}
	return s
}

func isIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// check validates v against typ; problems are appended with their path.
func (s *cfnSpec) check(path string, v any, typ specType, errs *[]string) {
	if isIntrinsic(v) {
		return // resolved at deploy time; TestTemplateResolves covers it
	}
	bad := func(want string) { *errs = append(*errs, fmt.Sprintf("%s: %v is not %s", path, v, want)) }
	switch typ.Type {
	case "json":
	case "string", "date-time":
		switch v.(type) {
		case string, int64, float64, bool:
		default:
			bad("a string")
		}
	case "integer", "number":
		switch x := v.(type) {
		case int64, float64:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil {
				bad("a number")
			}
		default:
			bad("a number")
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
		case string:
			if x != "true" && x != "false" {
				bad("a boolean")
			}
		default:
			bad("a boolean")
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			bad("a list")
			return
		}
		for i, e := range l {
			s.check(fmt.Sprintf("%s[%d]", path, i), e, *typ.Element, errs)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			bad("a map")
			return
		}
		for k, e := range m {
			s.check(path+"."+k, e, *typ.Element, errs)
		}
	case "tag":
		m, ok := v.(map[string]any)
		if !ok || m["Key"] == nil {
			bad("a tag {Key, Value}")
		}
	case "ref":
		def, ok := s.types[typ.Reference.ID]
		if !ok {
			*errs = append(*errs, path+": spec has no type "+typ.Reference.ID)
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			bad("an object of type " + def.Name)
			return
		}
		s.checkProps(path, m, def, errs)
	case "union":
		for _, alt := range typ.Types {
			var sub []string
			s.check(path, v, alt, &sub)
			if len(sub) == 0 {
				return
			}
		}
		bad("any of the union's types")
	default:
		*errs = append(*errs, fmt.Sprintf("%s: spec type %q not understood by this check", path, typ.Type))
	}
}

func (s *cfnSpec) checkProps(path string, props map[string]any, def *specEntity, errs *[]string) {
	for k, v := range props {
		p, ok := def.Properties[k]
		if !ok {
			*errs = append(*errs, fmt.Sprintf("%s.%s: unknown property (known: %s)", path, k, strings.Join(sortedNames(def.Properties), ", ")))
			continue
		}
		s.check(path+"."+k, v, p.Type, errs)
	}
	for k, p := range def.Properties {
		if _, ok := props[k]; p.Required && !ok {
			*errs = append(*errs, fmt.Sprintf("%s.%s: required property missing", path, k))
		}
	}
}

func sortedNames(m map[string]specProp) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Every CloudFormation resource type, property name and property type in
// template.yaml is known to CloudFormation's current resource specification,
// and every Fn::GetAtt names an attribute the type has.
func TestTemplateMatchesCloudFormationSpec(t *testing.T) {
	spec := loadSpec(t)
	tm, _ := loadTemplate(t)
	var errs []string
	for _, id := range tm.ResourceIDs() {
		res := tm.Resources[id]
		if strings.HasPrefix(res.Type, "AWS::Serverless::") {
			continue // SAM transform types: TestSAMProperties
		}
		if strings.HasPrefix(res.Type, "Custom::") {
			if res.Properties["ServiceToken"] == nil {
				errs = append(errs, id+": custom resource without ServiceToken")
			}
			continue
		}
		def, ok := spec.resources[res.Type]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: unknown resource type %s", id, res.Type))
			continue
		}
		spec.checkProps(id, res.Properties, def, &errs)
	}
	// Fn::GetAtt attributes.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				target, attr := fmt.Sprint(ga[0]), fmt.Sprint(ga[1])
				typ := tm.Resources[target].Type
				if strings.HasPrefix(typ, "AWS::Serverless::") {
					// SAM functions expose the generated function's Arn.
					if typ != "AWS::Serverless::Function" || attr != "Arn" {
						errs = append(errs, fmt.Sprintf("Fn::GetAtt %s.%s: not an attribute SAM documents", target, attr))
					}
				} else if def, ok := spec.resources[typ]; ok {
					if _, ok := def.Attributes[attr]; !ok {
						errs = append(errs, fmt.Sprintf("Fn::GetAtt %s.%s: %s has no attribute %s", target, attr, typ, attr))
					}
				} else {
					errs = append(errs, fmt.Sprintf("Fn::GetAtt %s.%s: unknown resource type %s", target, attr, typ))
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, id := range tm.ResourceIDs() {
		walk(tm.Resources[id].Properties)
	}
	walk(tm.Outputs)
	slices.Sort(errs)
	for _, e := range errs {
		t.Error(e)
	}
}

// SAM's documented properties (AWS::Serverless::Function and its Kinesis and
// Schedule events, https://docs.aws.amazon.com/serverless-application-model/
// latest/developerguide/sam-resource-function.html and the event pages).
var (
	samFunctionProps = []string{"Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties", "AutoPublishCodeSha256", "CapacityProviderConfig", "CodeSigningConfigArn", "CodeUri", "DeadLetterQueue", "DeploymentPreference", "Description", "DurableConfig", "Environment", "EphemeralStorage", "EventInvokeConfig", "Events", "FileSystemConfigs", "FunctionName", "FunctionScalingConfig", "FunctionUrlConfig", "Handler", "ImageConfig", "ImageUri", "InlineCode", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PackageType", "PermissionsBoundary", "Policies", "PropagateTags", "ProvisionedConcurrencyConfig", "PublishToLatestPublished", "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "RolePath", "Runtime", "RuntimeManagementConfig", "SnapStart", "SourceKMSKeyArn", "Tags", "TenancyConfig", "Timeout", "Tracing", "VersionDeletionPolicy", "VersionDescription", "VpcConfig"}
	samKinesisProps  = []string{"BatchSize", "BisectBatchOnFunctionError", "DestinationConfig", "Enabled", "FilterCriteria", "FunctionResponseTypes", "KmsKeyArn", "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds", "MaximumRetryAttempts", "MetricsConfig", "ParallelizationFactor", "StartingPosition", "StartingPositionTimestamp", "Stream", "TumblingWindowInSeconds"}
	samScheduleProps = []string{"DeadLetterConfig", "Description", "Enabled", "Input", "Name", "RetryPolicy", "Schedule", "State"}
	samGlobals       = []string{"Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "CodeUri", "DeadLetterQueue", "DeploymentPreference", "Description", "Environment", "EphemeralStorage", "EventInvokeConfig", "FileSystemConfigs", "FunctionUrlConfig", "Handler", "KmsKeyArn", "Layers", "LoggingConfig", "MemorySize", "PermissionsBoundary", "PropagateTags", "ProvisionedConcurrencyConfig", "ReservedConcurrentExecutions", "Runtime", "RuntimeManagementConfig", "SnapStart", "Tags", "Timeout", "Tracing", "VpcConfig"}
)

func TestSAMProperties(t *testing.T) {
	tm, r := loadTemplate(t)
	for k := range tm.Globals["Function"].(map[string]any) {
		if !slices.Contains(samGlobals, k) {
			t.Errorf("Globals.Function.%s is not a SAM global", k)
		}
	}
	for _, id := range tm.ResourceIDs("AWS::Serverless::Function") {
		props := tm.Resources[id].Properties
		for k := range props {
			if !slices.Contains(samFunctionProps, k) {
				t.Errorf("%s.%s is not an AWS::Serverless::Function property", id, k)
			}
		}
		events, _ := props["Events"].(map[string]any)
		for name, ev := range events {
			em := ev.(map[string]any)
			ep, _ := em["Properties"].(map[string]any)
			var allowed []string
			switch em["Type"] {
			case "Kinesis":
				allowed = samKinesisProps
				if fmt.Sprint(ep["StartingPosition"]) == "" || ep["Stream"] == nil {
					t.Errorf("%s.Events.%s: Stream and StartingPosition are required", id, name)
				}
			case "Schedule":
				allowed = samScheduleProps
			default:
				t.Errorf("%s.Events.%s: event type %v not reviewed", id, name, em["Type"])
				continue
			}
			for k := range ep {
				if !slices.Contains(allowed, k) {
					t.Errorf("%s.Events.%s.%s is not a %s event property", id, name, k, em["Type"])
				}
			}
		}
	}
	// Consumer event: every setting the issue asks for is a parameter.
	p, _ := r.Properties("DataStreamConsumer")
	ev := p["Events"].(map[string]any)["Stream"].(map[string]any)["Properties"].(map[string]any)
	for _, k := range []string{"BatchSize", "MaximumBatchingWindowInSeconds", "BisectBatchOnFunctionError", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds", "ParallelizationFactor"} {
		if !isIntrinsic(tm.Resources["DataStreamConsumer"].Properties["Events"].(map[string]any)["Stream"].(map[string]any)["Properties"].(map[string]any)[k]) {
			t.Errorf("consumer event %s is not a template parameter", k)
		}
	}
	if fmt.Sprint(ev["FunctionResponseTypes"]) != "[ReportBatchItemFailures]" {
		t.Errorf("consumer must report batch item failures, got %v", ev["FunctionResponseTypes"])
	}
	tp, _ := r.Properties("TrendingHashtags")
	tev := tp["Events"].(map[string]any)["Stream"].(map[string]any)["Properties"].(map[string]any)
	if tev["TumblingWindowInSeconds"] == nil {
		t.Error("trending function has no tumbling window")
	}
}
