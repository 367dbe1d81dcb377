package stack

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/streamproc/streamproc/local/firehose"
	"github.com/streamproc/streamproc/local/schedule"
)

// Plan is what the local target runs for a resolved template: every
// resource mapped to its local twin, or listed as cloud only. Building the
// plan validates everything a local run needs before anything starts.
type Plan struct {
	Streams    []StreamPlan
	Tables     []TablePlan
	Buckets    []string
	Queues     []string
	Functions  []FunctionPlan
	Mappings   []MappingPlan
	Deliveries []DeliveryPlan
	Schedules  []SchedulePlan
	// CloudOnly lists resources that exist only on AWS (IAM, alarms, Glue, …):
	// "LogicalID (Type)".
	CloudOnly []string
	// Unknown lists resource types the local target does not know at all.
	Unknown []string
	// Off lists resources whose Condition is false, created on neither
	// target with these parameters: "LogicalID (Condition is false)".
	Off []string
}

// StreamPlan is a Kinesis stream.
type StreamPlan struct {
	LogicalID, Name, ARN string
	Shards               int
	RetentionHours       int
}

// TablePlan is a DynamoDB table: name, key schema and TTL come from the
// template's KeySchema, AttributeDefinitions and TimeToLiveSpecification.
type TablePlan struct {
	LogicalID, Name string
	HashKey         string
	HashType        string
	RangeKey        string
	RangeType       string
	TTLAttr         string
}

// FunctionPlan is a function and the settings the local runtime honours.
type FunctionPlan struct {
	LogicalID, Name, ARN string
	// Package is the function package under function/, from the resource's
	// Metadata Entrypoint (./cmd/lambda/<package>).
	Package    string
	Env        map[string]string
	Timeout    time.Duration
	MemorySize int
}

// MappingPlan is a Kinesis event of a function: an event source mapping.
type MappingPlan struct {
	Name       string // <function logical ID>.<event name>
	Function   string // logical ID
	Stream     string // stream name
	Properties map[string]string
	// Params names, per property, the template parameter it is a Ref to.
	Params map[string]string
	// Destination is the on-failure queue name ("" = none).
	Destination string
}

// DeliveryPlan is a Firehose delivery stream.
type DeliveryPlan struct {
	LogicalID, Name, ARN string
	Stream               string // source stream name
	Bucket               string
	Prefix               string
	ErrorOutputPrefix    string
	BufferInterval       time.Duration
	BufferSizeMB         int
	Compression          string
	FileExtension        string
	CustomTimeZone       string // "" = UTC
	AppendDelimiter      bool
	// Processor is the transformer function's logical ID ("" = none).
	Processor               string
	ProcessorBufferMB       float64
	ProcessorBufferInterval time.Duration
	ProcessorRetries        int
	// Conversion is DataFormatConversionConfiguration when it is enabled
	// (nil: records are delivered as they are).
	Conversion *ConversionPlan
}

// ConversionPlan is a delivery stream's record format conversion: OpenX
// JSON SerDe in, Parquet SerDe out, with the columns of a Glue table of
// the template (AWS reads them from Glue; locally they come from the
// table's definition).
type ConversionPlan struct {
	// Table is the logical ID of the AWS::Glue::Table that
	// SchemaConfiguration names.
	Table   string
	Columns []firehose.Column
	// Catalog is SchemaConfiguration (database, table, catalog, region,
	// version), as error records show it.
	Catalog firehose.CatalogTable
	// Compression is ParquetSerDe.Compression ("" = SNAPPY).
	Compression string
	// OpenXJsonSerDe's options.
	CaseSensitive            bool
	ConvertDotsToUnderscores bool
	ColumnToJSONKey          map[string]string
}

// SchedulePlan is a Schedule event of a function.
type SchedulePlan struct {
	Name       string // <function logical ID>.<event name>
	Function   string
	Expression string
	RuleARN    string
	Enabled    bool
	Input      string // replaces the event when set
}

// cloudOnly are the types the local target accepts without running them.
var cloudOnly = map[string]bool{
	"AWS::IAM::Role": true, "AWS::IAM::Policy": true, "AWS::CloudWatch::Alarm": true, "AWS::CloudWatch::Dashboard": true,
	"AWS::Glue::Database": true, "AWS::Glue::Table": true, "AWS::Athena::WorkGroup": true, "AWS::Athena::NamedQuery": true,
	"AWS::SNS::Topic": true, "AWS::SNS::Subscription": true, "AWS::Logs::LogGroup": true, "AWS::Logs::LogStream": true,
	"AWS::S3::BucketPolicy": true, "AWS::SQS::QueuePolicy": true, "AWS::Lambda::Permission": true, "AWS::KMS::Key": true,
}

// Plan maps the resolved template to local twins.
func (r *Resolved) Plan() (*Plan, error) {
	p := &Plan{}
	arnToStream := map[string]string{}
	arnToFunction := map[string]string{}
	arnToQueue := map[string]string{}
	arnToBucket := map[string]string{}
	for _, id := range r.T.ResourceIDs() {
		if !r.Enabled(id) {
			p.Off = append(p.Off, id+" ("+r.T.Resources[id].Condition+" is false)")
			continue
		}
		res := r.T.Resources[id]
		switch {
		case res.Type == "AWS::Kinesis::Stream":
			props, err := r.Properties(id)
			if err != nil {
				return nil, err
			}
			sp := StreamPlan{LogicalID: id, Name: r.Name(id), Shards: 1, RetentionHours: 24}
			sp.ARN, _ = r.ARN(id)
			if v, ok := props["ShardCount"]; ok {
				if sp.Shards, err = atoi(v); err != nil || sp.Shards < 1 {
					return nil, paramError(r, res.Properties["ShardCount"], "ShardCount", fmt.Errorf("%w: %s.ShardCount %v is not a positive integer", ErrTemplate, id, v))
				}
			}
			if v, ok := props["RetentionPeriodHours"]; ok {
				if sp.RetentionHours, err = atoi(v); err != nil {
					return nil, paramError(r, res.Properties["RetentionPeriodHours"], "RetentionPeriodHours", fmt.Errorf("%w: %s.RetentionPeriodHours %v is not an integer", ErrTemplate, id, v))
				}
			}
			arnToStream[sp.ARN] = sp.Name
			p.Streams = append(p.Streams, sp)
		case res.Type == "AWS::DynamoDB::Table":
			props, err := r.Properties(id)
			if err != nil {
				return nil, err
			}
			tp, err := tablePlan(id, r.Name(id), props)
			if err != nil {
				return nil, err
			}
			p.Tables = append(p.Tables, tp)
		case res.Type == "AWS::S3::Bucket":
			arn, _ := r.ARN(id)
			arnToBucket[arn] = r.Name(id)
			p.Buckets = append(p.Buckets, r.Name(id))
		case res.Type == "AWS::SQS::Queue":
			arn, _ := r.ARN(id)
			arnToQueue[arn] = r.Name(id)
			p.Queues = append(p.Queues, r.Name(id))
		case res.Type == "AWS::Serverless::Function":
			props, err := r.Properties(id)
			if err != nil {
				return nil, err
			}
			fp := FunctionPlan{LogicalID: id, Name: r.Name(id), Timeout: 3 * time.Second, MemorySize: 128, Env: map[string]string{}}
			fp.ARN, _ = r.ARN(id)
			entry, _ := res.Metadata["Entrypoint"].(string)
			fp.Package = entry[strings.LastIndex(entry, "/")+1:]
			if v, ok := props["Timeout"]; ok {
				secs, err := atoi(v)
				if err != nil || secs < 1 || secs > 900 {
					return nil, fmt.Errorf("%w: %s.Timeout %v must be 1–900 seconds", ErrTemplate, id, v)
				}
				fp.Timeout = time.Duration(secs) * time.Second
			}
			if v, ok := props["MemorySize"]; ok {
				if fp.MemorySize, err = atoi(v); err != nil {
					return nil, fmt.Errorf("%w: %s.MemorySize %v is not an integer", ErrTemplate, id, v)
				}
			}
			if env, ok := props["Environment"].(map[string]any); ok {
				for k, v := range mapOf(env["Variables"]) {
					fp.Env[k] = scalarString(v)
				}
			}
			arnToFunction[fp.ARN] = id
			p.Functions = append(p.Functions, fp)
		case res.Type == "AWS::KinesisFirehose::DeliveryStream", strings.HasPrefix(res.Type, "Custom::"):
			// planned below, once every ARN is known; custom resources only
			// run on AWS.
			if strings.HasPrefix(res.Type, "Custom::") {
				p.CloudOnly = append(p.CloudOnly, id+" ("+res.Type+")")
			}
		case cloudOnly[res.Type]:
			p.CloudOnly = append(p.CloudOnly, id+" ("+res.Type+")")
		default:
			p.Unknown = append(p.Unknown, id+" ("+res.Type+")")
		}
	}
	for _, f := range p.Functions {
		props, _ := r.Properties(f.LogicalID)
		events := mapOf(props["Events"])
		names := make([]string, 0, len(events))
		for n := range events {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, evName := range names {
			ev := mapOf(events[evName])
			ep := mapOf(ev["Properties"])
			switch ev["Type"] {
			case "Kinesis":
				arn := scalarString(ep["Stream"])
				stream, ok := arnToStream[arn]
				if !ok {
					return nil, fmt.Errorf("%w: %s.Events.%s: stream %s is not a stream of this template", ErrTemplate, f.LogicalID, evName, arn)
				}
				mp := MappingPlan{Name: f.LogicalID + "." + evName, Function: f.LogicalID, Stream: stream, Properties: map[string]string{}, Params: paramRefs(r, f.LogicalID, evName)}
				for k, v := range ep {
					switch k {
					case "Stream", "DestinationConfig":
					case "FunctionResponseTypes":
						l, _ := v.([]any)
						var s []string
						for _, e := range l {
							s = append(s, scalarString(e))
						}
						mp.Properties[k] = strings.Join(s, ",")
					default:
						mp.Properties[k] = scalarString(v)
					}
				}
				if dest := scalarString(mapOf(mapOf(ep["DestinationConfig"])["OnFailure"])["Destination"]); dest != "" {
					q, ok := arnToQueue[dest]
					if !ok {
						return nil, fmt.Errorf("%w: %s.Events.%s: on-failure destination %s is not an SQS queue of this template (locally only SQS destinations run)", ErrTemplate, f.LogicalID, evName, dest)
					}
					mp.Destination = q
				}
				// Settings AWS would refuse are refused now, before anything
				// is created, naming the parameter that set them.
				if _, err := mappingConfig(mp, f, r); err != nil {
					return nil, mappingError(r, mp, err)
				}
				p.Mappings = append(p.Mappings, mp)
			case "Schedule":
				sp := SchedulePlan{Name: f.LogicalID + "." + evName, Function: f.LogicalID, Expression: scalarString(ep["Schedule"]), Enabled: true, Input: scalarString(ep["Input"])}
				if v, ok := ep["Enabled"]; ok {
					sp.Enabled = scalarString(v) == "true"
				}
				if v, ok := ep["State"]; ok {
					sp.Enabled = scalarString(v) == "ENABLED"
				}
				// An expression EventBridge would refuse is refused now,
				// before anything is created.
				if _, err := schedule.Parse(sp.Expression); err != nil {
					raw := mapOf(mapOf(mapOf(mapOf(r.T.Resources[f.LogicalID].Properties["Events"])[evName])["Properties"]))["Schedule"]
					return nil, paramError(r, raw, "Schedule", fmt.Errorf("%w: %s: %w", ErrTemplate, sp.Name, err))
				}
				sp.RuleARN = fmt.Sprintf("arn:aws:events:%s:%s:rule/%s-%s%s", r.Env.Region, r.Env.Account, r.Env.StackName, f.LogicalID, evName)
				p.Schedules = append(p.Schedules, sp)
			default:
				return nil, fmt.Errorf("%w: %s.Events.%s: event type %v does not run locally", ErrTemplate, f.LogicalID, evName, ev["Type"])
			}
		}
	}
	for _, id := range r.T.ResourceIDs("AWS::KinesisFirehose::DeliveryStream") {
		if !r.Enabled(id) {
			continue
		}
		dp, err := r.deliveryPlan(id, arnToStream, arnToBucket, arnToFunction)
		if err != nil {
			return nil, err
		}
		p.Deliveries = append(p.Deliveries, dp)
	}
	return p, nil
}

// s3Applied are the properties of an ExtendedS3DestinationConfiguration the
// local delivery stream applies; s3CloudOnly those that matter only on AWS
// (permissions, logging, encryption, a backup copy of the source records,
// dynamic partitioning when disabled). Any other property fails the plan
// instead of being ignored, so a template never runs locally with a
// setting that would change what AWS delivers.
var (
	s3Applied = map[string]bool{
		"BucketARN": true, "Prefix": true, "ErrorOutputPrefix": true, "BufferingHints": true, "CompressionFormat": true,
		"FileExtension": true, "CustomTimeZone": true, "ProcessingConfiguration": true, "DataFormatConversionConfiguration": true,
	}
	s3CloudOnly = map[string]bool{
		"RoleARN": true, "CloudWatchLoggingOptions": true, "EncryptionConfiguration": true, "S3BackupMode": true,
		"S3BackupConfiguration": true, "DynamicPartitioningConfiguration": true,
	}
)

func (r *Resolved) deliveryPlan(id string, streams, buckets, functions map[string]string) (DeliveryPlan, error) {
	props, err := r.Properties(id)
	if err != nil {
		return DeliveryPlan{}, err
	}
	dp := DeliveryPlan{LogicalID: id, Name: r.Name(id), BufferInterval: 300 * time.Second, BufferSizeMB: 5, Compression: "UNCOMPRESSED",
		ProcessorBufferMB: 1, ProcessorBufferInterval: 60 * time.Second, ProcessorRetries: 3}
	dp.ARN, _ = r.ARN(id)
	if t := scalarString(props["DeliveryStreamType"]); t != "KinesisStreamAsSource" {
		return dp, fmt.Errorf("%w: %s: DeliveryStreamType %q does not run locally (only KinesisStreamAsSource)", ErrTemplate, id, t)
	}
	src := scalarString(mapOf(props["KinesisStreamSourceConfiguration"])["KinesisStreamARN"])
	if dp.Stream = streams[src]; dp.Stream == "" {
		return dp, fmt.Errorf("%w: %s: source stream %s is not a stream of this template", ErrTemplate, id, src)
	}
	s3 := mapOf(props["ExtendedS3DestinationConfiguration"])
	if len(s3) == 0 {
		return dp, fmt.Errorf("%w: %s: only ExtendedS3DestinationConfiguration runs locally", ErrTemplate, id)
	}
	if dp.Bucket = buckets[scalarString(s3["BucketARN"])]; dp.Bucket == "" {
		return dp, fmt.Errorf("%w: %s: bucket %v is not a bucket of this template", ErrTemplate, id, s3["BucketARN"])
	}
	dp.Prefix = scalarString(s3["Prefix"])
	dp.ErrorOutputPrefix = scalarString(s3["ErrorOutputPrefix"])
	dp.FileExtension = scalarString(s3["FileExtension"])
	dp.CustomTimeZone = scalarString(s3["CustomTimeZone"])
	if dp.CustomTimeZone != "" {
		if _, err := time.LoadLocation(dp.CustomTimeZone); err != nil {
			return dp, fmt.Errorf("%w: %s: CustomTimeZone %q: %v", ErrTemplate, id, dp.CustomTimeZone, err)
		}
	}
	for _, k := range sortedKeys(s3) {
		if !s3Applied[k] && !s3CloudOnly[k] {
			return dp, fmt.Errorf("%w: %s: ExtendedS3DestinationConfiguration.%s does not run locally", ErrTemplate, id, k)
		}
	}
	if scalarString(mapOf(s3["DynamicPartitioningConfiguration"])["Enabled"]) == "true" {
		return dp, fmt.Errorf("%w: %s: dynamic partitioning does not run locally", ErrTemplate, id)
	}
	if c := scalarString(s3["CompressionFormat"]); c != "" {
		dp.Compression = c
	}
	if bh := mapOf(s3["BufferingHints"]); len(bh) > 0 {
		if v, ok := bh["IntervalInSeconds"]; ok {
			secs, err := atoi(v)
			if err != nil {
				return dp, fmt.Errorf("%w: %s: BufferingHints.IntervalInSeconds %v", ErrTemplate, id, v)
			}
			dp.BufferInterval = time.Duration(secs) * time.Second
		}
		if v, ok := bh["SizeInMBs"]; ok {
			if dp.BufferSizeMB, err = atoi(v); err != nil {
				return dp, fmt.Errorf("%w: %s: BufferingHints.SizeInMBs %v", ErrTemplate, id, v)
			}
		}
	}
	if dfc := mapOf(s3["DataFormatConversionConfiguration"]); len(dfc) > 0 && scalarString(dfc["Enabled"]) != "false" {
		if dp.Conversion, err = r.conversionPlan(id, dfc); err != nil {
			return dp, err
		}
	}
	pc := mapOf(s3["ProcessingConfiguration"])
	if scalarString(pc["Enabled"]) == "false" {
		return dp, nil
	}
	procs, _ := pc["Processors"].([]any)
	for _, pv := range procs {
		proc := mapOf(pv)
		params := map[string]string{}
		list, _ := proc["Parameters"].([]any)
		for _, e := range list {
			m := mapOf(e)
			params[scalarString(m["ParameterName"])] = scalarString(m["ParameterValue"])
		}
		switch proc["Type"] {
		case "Lambda":
			arn := strings.TrimSuffix(params["LambdaArn"], ":$LATEST")
			if dp.Processor = functions[arn]; dp.Processor == "" {
				return dp, fmt.Errorf("%w: %s: processor %s is not a function of this template", ErrTemplate, id, params["LambdaArn"])
			}
			if v := params["BufferSizeInMBs"]; v != "" {
				if dp.ProcessorBufferMB, err = strconv.ParseFloat(v, 64); err != nil {
					return dp, fmt.Errorf("%w: %s: BufferSizeInMBs %q", ErrTemplate, id, v)
				}
			}
			if v := params["BufferIntervalInSeconds"]; v != "" {
				secs, err := strconv.Atoi(v)
				if err != nil {
					return dp, fmt.Errorf("%w: %s: BufferIntervalInSeconds %q", ErrTemplate, id, v)
				}
				dp.ProcessorBufferInterval = time.Duration(secs) * time.Second
			}
			if v := params["NumberOfRetries"]; v != "" {
				if dp.ProcessorRetries, err = strconv.Atoi(v); err != nil {
					return dp, fmt.Errorf("%w: %s: NumberOfRetries %q", ErrTemplate, id, v)
				}
			}
		case "AppendDelimiterToRecord":
			dp.AppendDelimiter = true
		default:
			return dp, fmt.Errorf("%w: %s: processor type %v does not run locally", ErrTemplate, id, proc["Type"])
		}
	}
	return dp, nil
}

// conversionPlan reads an enabled DataFormatConversionConfiguration (Enabled
// defaults to true on AWS). The schema's table must be an AWS::Glue::Table of
// the template: its StorageDescriptor.Columns are the Parquet columns.
func (r *Resolved) conversionPlan(id string, dfc map[string]any) (*ConversionPlan, error) {
	bad := func(format string, args ...any) (*ConversionPlan, error) {
		return nil, fmt.Errorf("%w: %s: DataFormatConversionConfiguration: "+format, append([]any{ErrTemplate, id}, args...)...)
	}
	cp := &ConversionPlan{}
	de := mapOf(mapOf(dfc["InputFormatConfiguration"])["Deserializer"])
	switch {
	case de["HiveJsonSerDe"] != nil:
		return bad("HiveJsonSerDe does not run locally (use OpenXJsonSerDe)")
	case de["OpenXJsonSerDe"] == nil:
		return bad("InputFormatConfiguration.Deserializer.OpenXJsonSerDe is required")
	}
	openx := mapOf(de["OpenXJsonSerDe"])
	cp.CaseSensitive = scalarString(openx["CaseInsensitive"]) == "false"
	cp.ConvertDotsToUnderscores = scalarString(openx["ConvertDotsInJsonKeysToUnderscores"]) == "true"
	if m := mapOf(openx["ColumnToJsonKeyMappings"]); len(m) > 0 {
		cp.ColumnToJSONKey = map[string]string{}
		for k, v := range m {
			cp.ColumnToJSONKey[strings.ToLower(k)] = scalarString(v)
		}
	}
	ser := mapOf(mapOf(dfc["OutputFormatConfiguration"])["Serializer"])
	switch {
	case ser["OrcSerDe"] != nil:
		return bad("OrcSerDe does not run locally (use ParquetSerDe)")
	case ser["ParquetSerDe"] == nil:
		return bad("OutputFormatConfiguration.Serializer.ParquetSerDe is required")
	}
	// BlockSizeBytes, PageSizeBytes, MaxPaddingBytes, EnableDictionaryCompression
	// and WriterVersion shape the file's layout, not its rows; they are not
	// applied locally.
	cp.Compression = scalarString(mapOf(ser["ParquetSerDe"])["Compression"])
	sc := mapOf(dfc["SchemaConfiguration"])
	cp.Catalog = firehose.CatalogTable{
		CatalogID: scalarString(sc["CatalogId"]), DatabaseName: scalarString(sc["DatabaseName"]), TableName: scalarString(sc["TableName"]),
		Region: scalarString(sc["Region"]), VersionID: scalarString(sc["VersionId"]),
	}
	if cp.Catalog.CatalogID == "" {
		cp.Catalog.CatalogID = r.Env.Account
	}
	if cp.Catalog.Region == "" {
		cp.Catalog.Region = r.Env.Region
	}
	if cp.Catalog.DatabaseName == "" || cp.Catalog.TableName == "" {
		return bad("SchemaConfiguration.DatabaseName and TableName are required")
	}
	for _, tid := range r.T.ResourceIDs("AWS::Glue::Table") {
		if !r.Enabled(tid) {
			continue
		}
		props, err := r.Properties(tid)
		if err != nil {
			return nil, err
		}
		in := mapOf(props["TableInput"])
		// Glue stores table names in lower case.
		if scalarString(props["DatabaseName"]) != cp.Catalog.DatabaseName || !strings.EqualFold(scalarString(in["Name"]), cp.Catalog.TableName) {
			continue
		}
		cp.Table = tid
		cols, _ := mapOf(in["StorageDescriptor"])["Columns"].([]any)
		for _, c := range cols {
			m := mapOf(c)
			cp.Columns = append(cp.Columns, firehose.Column{Name: strings.ToLower(scalarString(m["Name"])), Type: scalarString(m["Type"])})
		}
		if len(cp.Columns) == 0 {
			return bad("Glue table %s has no StorageDescriptor.Columns", tid)
		}
		return cp, nil
	}
	return bad("SchemaConfiguration names table %s.%s, which is not an AWS::Glue::Table of this template (locally the schema comes from the template)",
		cp.Catalog.DatabaseName, cp.Catalog.TableName)
}

func tablePlan(id, name string, props map[string]any) (TablePlan, error) {
	tp := TablePlan{LogicalID: id, Name: name}
	types := map[string]string{}
	defs, _ := props["AttributeDefinitions"].([]any)
	for _, d := range defs {
		m := mapOf(d)
		types[scalarString(m["AttributeName"])] = scalarString(m["AttributeType"])
	}
	keys, _ := props["KeySchema"].([]any)
	for _, k := range keys {
		m := mapOf(k)
		attr := scalarString(m["AttributeName"])
		typ, ok := types[attr]
		if !ok {
			return tp, fmt.Errorf("%w: table %s: key attribute %s has no AttributeDefinition", ErrTemplate, id, attr)
		}
		switch m["KeyType"] {
		case "HASH":
			tp.HashKey, tp.HashType = attr, typ
		case "RANGE":
			tp.RangeKey, tp.RangeType = attr, typ
		}
	}
	if tp.HashKey == "" {
		return tp, fmt.Errorf("%w: table %s: no HASH key in KeySchema", ErrTemplate, id)
	}
	if ttl := mapOf(props["TimeToLiveSpecification"]); scalarString(ttl["Enabled"]) == "true" {
		tp.TTLAttr = scalarString(ttl["AttributeName"])
	}
	return tp, nil
}

func atoi(v any) (int, error) { return strconv.Atoi(scalarString(v)) }

// paramRefs returns, for the event's properties written as !Ref to a
// parameter, property → parameter name.
func paramRefs(r *Resolved, function, event string) map[string]string {
	raw := mapOf(mapOf(mapOf(mapOf(r.T.Resources[function].Properties["Events"])[event])["Properties"]))
	out := map[string]string{}
	for k, v := range raw {
		if ref, ok := mapOf(v)["Ref"].(string); ok {
			if _, isParam := r.T.Parameters[ref]; isParam {
				out[k] = ref
			}
		}
	}
	return out
}

// mappingError names the parameter behind the property err is about, and
// is an override error when the user set that parameter.
func mappingError(r *Resolved, mp MappingPlan, err error) error {
	msg := strings.ToLower(err.Error())
	for prop, param := range mp.Params {
		if strings.Contains(msg, strings.ToLower(prop)) {
			return paramError(r, map[string]any{"Ref": param}, prop, fmt.Errorf("%w: %w", ErrTemplate, err))
		}
	}
	return fmt.Errorf("%w: %w", ErrTemplate, err)
}

// paramError names the parameter behind a property when the template sets
// it with !Ref (raw is the property as written), and makes err an override
// error — a usage error — when the user set that parameter.
func paramError(r *Resolved, raw any, prop string, err error) error {
	param, ok := mapOf(raw)["Ref"].(string)
	if !ok {
		return err
	}
	if _, isParam := r.T.Parameters[param]; !isParam {
		return err
	}
	err = fmt.Errorf("%w (%s is parameter %s=%s; set another value with --parameter-overrides %s=…)", err, prop, param, r.Param(param), param)
	if _, set := r.Env.Overrides[param]; set {
		return overrideError{err}
	}
	return err
}
