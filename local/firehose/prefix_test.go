package firehose

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

func TestEvaluatePrefix(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, time.UTC)
	tests := []struct {
		prefix, errType string
		want            string // exact result
		wantRE          string // or a pattern
	}{
		{prefix: "", want: ""},
		{prefix: "static/no/expressions", want: "static/no/expressions"},
		{prefix: "!{timestamp:yyyy}", want: "2024"},
		{prefix: "!{timestamp:yy}", want: "24"},
		{prefix: "!{timestamp:uuuu}", want: "2024"},
		{prefix: "!{timestamp:yyyy/MM/dd/HH}/", want: "2024/05/06/07/"},
		{prefix: "!{timestamp:yyyy-MM-dd HH:mm:ss.SSS}", want: "2024-05-06 07:08:09.123"},
		{prefix: "!{timestamp:M/d/H/m/s}", want: "5/6/7/8/9"},
		{prefix: "!{timestamp:S}|!{timestamp:SSSSSSSSS}", want: "1|123456789"},
		{prefix: "raw/!{timestamp:'year='yyyy/'month='MM/'day='dd/'hour='HH}/", want: "raw/year=2024/month=05/day=06/hour=07/"},
		{prefix: "a/year=!{timestamp:yyyy}/month=!{timestamp:MM}/", want: "a/year=2024/month=05/"},
		{prefix: "!{timestamp:yyyy'T'HH''}", want: "2024T07'"},
		{prefix: "!{timestamp:'it''s' yyyy}", want: "it's 2024"},
		{prefix: "dt=!{timestamp:yyyy'-'MM'-'dd}/", want: "dt=2024-05-06/"},
		{prefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/", errType: "processing-failed", want: "errors/processing-failed/2024/"},
		{prefix: "r/!{firehose:random-string}/!{firehose:random-string}", wantRE: `^r/[A-Za-z0-9]{11}/[A-Za-z0-9]{11}$`},
		{prefix: "braces } and { alone are literal", want: "braces } and { alone are literal"},
		{prefix: "a!b{c", want: "a!b{c"},
	}
	for _, tt := range tests {
		got, err := EvaluatePrefix(tt.prefix, at, tt.errType, rand.NewChaCha8([32]byte{1}))
		if err != nil {
			t.Errorf("EvaluatePrefix(%q): %v", tt.prefix, err)
			continue
		}
		if tt.wantRE != "" {
			if !regexp.MustCompile(tt.wantRE).MatchString(got) {
				t.Errorf("EvaluatePrefix(%q) = %q, want match %s", tt.prefix, got, tt.wantRE)
			}
		} else if got != tt.want {
			t.Errorf("EvaluatePrefix(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func TestRandomStringIsNewPerUse(t *testing.T) {
	got, err := EvaluatePrefix("!{firehose:random-string}/!{firehose:random-string}", t0, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b, _ := strings.Cut(got, "/")
	if len(a) != RandomStringLen || len(b) != RandomStringLen || a == b {
		t.Errorf("random strings %q and %q: want two different %d-character strings", a, b, RandomStringLen)
	}
}

func TestEvaluatePrefixErrors(t *testing.T) {
	tests := []struct{ prefix, errType, want string }{
		{"a/!{timestamp:yyyy", "", `"!{" at offset 2 is not closed`},
		{"!{timestamp}", "", "must be !{namespace:value}"},
		{"!{time:yyyy}", "", `unknown namespace "time"`},
		{"!{firehose:uuid}", "", "only random-string and error-output-type"},
		{"!{partitionKeyFromQuery:customer}", "", "dynamic partitioning is not supported"},
		{"!{partitionKeyFromLambda:customer}", "", "dynamic partitioning is not supported"},
		{"!{timestamp:}", "", "empty timestamp pattern"},
		{"!{timestamp:EEE}", "", `pattern letter 'E' is not supported`},
		{"!{timestamp:hh}", "", `pattern letter 'h' is not supported`},
		{"!{timestamp:MMM}", "", `3 × pattern letter 'M'`},
		{"!{timestamp:ddd}", "", `3 × pattern letter 'd'`},
		{"!{timestamp:yyyy[MM]}", "", "reserved"},
		{"!{timestamp:'open}", "", "unterminated quoted text"},
		{"!{firehose:error-output-type}", "", "only allowed in ErrorOutputPrefix"},
		{strings.Repeat("x", 510) + "!{timestamp:yyyy}", "", "longer than 512"},
	}
	for _, tt := range tests {
		_, err := EvaluatePrefix(tt.prefix, t0, tt.errType, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("EvaluatePrefix(%q) error = %v, want it to mention %q", tt.prefix, err, tt.want)
		}
		if err != nil && !errors.Is(err, streamproc.ErrInvalid) {
			t.Errorf("EvaluatePrefix(%q) error %v does not wrap ErrInvalid", tt.prefix, err)
		}
	}
}

// TestKeyPrefix covers the prefix rules of §4.6, including the
// no-trailing-slash quirk and the error-output defaults.
func TestKeyPrefix(t *testing.T) {
	at := time.Date(2024, 5, 6, 13, 14, 15, 0, time.UTC)
	tokyo := time.FixedZone("JST", 9*3600)
	tests := []struct {
		name              string
		prefix, errPrefix string
		zone              *time.Location
		wantData, wantErr string
	}{
		{name: "no prefix", wantData: "2024/05/06/13/", wantErr: "processing-failed/2024/05/06/13/"},
		{name: "static prefix", prefix: "tweets/", wantData: "tweets/2024/05/06/13/", wantErr: "tweets/processing-failed/2024/05/06/13/"},
		{name: "static prefix without trailing slash is concatenated", prefix: "tweets", wantData: "tweets2024/05/06/13/", wantErr: "tweetsprocessing-failed/2024/05/06/13/"},
		{name: "static error prefix", prefix: "tweets/", errPrefix: "errors/", wantData: "tweets/2024/05/06/13/", wantErr: "errors/processing-failed/2024/05/06/13/"},
		{name: "static error prefix without slash", errPrefix: "errors", wantData: "2024/05/06/13/", wantErr: "errorsprocessing-failed/2024/05/06/13/"},
		{
			name: "expressions are used as evaluated, nothing appended", prefix: "tweets/!{timestamp:yyyy/MM/dd/HH}/",
			errPrefix: "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/",
			wantData:  "tweets/2024/05/06/13/", wantErr: "errors/processing-failed/2024/05/06/13/",
		},
		{name: "expression without date", prefix: "p/!{timestamp:yyyy}", errPrefix: "e/!{firehose:error-output-type}", wantData: "p/2024", wantErr: "e/processing-failed"},
		{name: "static data prefix with expression error prefix", prefix: "data/", errPrefix: "e/!{firehose:error-output-type}/", wantData: "data/2024/05/06/13/", wantErr: "e/processing-failed/"},
		{name: "custom time zone", prefix: "t/", zone: tokyo, wantData: "t/2024/05/06/22/", wantErr: "t/processing-failed/2024/05/06/22/"},
		{name: "custom time zone crossing midnight", zone: time.FixedZone("X", 11*3600), wantData: "2024/05/07/00/", wantErr: "processing-failed/2024/05/07/00/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Name: "fh", StreamName: "s", Prefix: tt.prefix, ErrorOutputPrefix: tt.errPrefix, CustomTimeZone: tt.zone}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got, err := c.KeyPrefix(at, "", nil); err != nil || got != tt.wantData {
				t.Errorf("data prefix = %q, %v; want %q", got, err, tt.wantData)
			}
			if got, err := c.KeyPrefix(at, ErrorOutputTypeProcessingFailed, nil); err != nil || got != tt.wantErr {
				t.Errorf("error prefix = %q, %v; want %q", got, err, tt.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func() Config { return Config{Name: "fh", StreamName: "s"} }
	okCases := []func(*Config){
		func(*Config) {},
		func(c *Config) { // the template's delivery stream
			c.Prefix = "tweets/!{timestamp:yyyy/MM/dd/HH}/"
			c.ErrorOutputPrefix = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
			c.BufferSize, c.BufferInterval, c.Compression = 5<<20, 300*time.Second, GZIP
			c.Processor = &ProcessorConfig{FunctionARN: "arn:aws:lambda:us-east-1:1:function:f", BufferSize: 3 << 20, BufferInterval: 60 * time.Second, NumberOfRetries: 3}
		},
		func(c *Config) { c.StreamName, c.StreamARN = "", "arn:aws:kinesis:us-east-1:000000000000:stream/s" },
		func(c *Config) { c.BufferSize, c.BufferInterval = MaxBufferSize, ZeroBuffering },
		func(c *Config) { c.BufferInterval = MaxBufferInterval },
		func(c *Config) { c.FileExtension = ".json.gz" },
		func(c *Config) { c.Prefix = "static" },
		func(c *Config) {
			c.Processor = &ProcessorConfig{FunctionARN: "f", BufferSize: MinProcessorBufferSize, BufferInterval: ZeroBuffering, NumberOfRetries: NoRetries}
		},
	}
	for i, f := range okCases {
		c := valid()
		f(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("valid case %d: %v", i, err)
		}
	}

	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"name required", func(c *Config) { c.Name = "" }, "Name is required"},
		{"name chars", func(c *Config) { c.Name = "my stream" }, "Name \"my stream\" must be 1-64 characters of [a-zA-Z0-9_.-]"},
		{"name length", func(c *Config) { c.Name = strings.Repeat("a", 65) }, "must be 1-64 characters"},
		{"version", func(c *Config) { c.Version = -1 }, "Version -1 must be at least 1"},
		{"source", func(c *Config) { c.StreamName = "" }, "a source stream is required"},
		{"buffer too small", func(c *Config) { c.BufferSize = MinBufferSize - 1 }, "outside BufferingHints.SizeInMBs 1-128 MiB"},
		{"buffer too big", func(c *Config) { c.BufferSize = MaxBufferSize + 1 }, "outside BufferingHints.SizeInMBs 1-128 MiB"},
		{"interval too long", func(c *Config) { c.BufferInterval = 901 * time.Second }, "BufferInterval 15m1s is above the 900s maximum"},
		{"interval negative", func(c *Config) { c.BufferInterval = -time.Second }, "must be 0-900s (ZeroBuffering for 0)"},
		{"compression not implemented", func(c *Config) { c.Compression = "Snappy" }, "Compression Snappy is an AWS format this local delivery stream does not implement"},
		{"compression unknown", func(c *Config) { c.Compression = "gzip" }, `Compression "gzip" must be one of UNCOMPRESSED, GZIP`},
		{"extension without dot", func(c *Config) { c.FileExtension = "gz" }, `FileExtension "gz" must start with '.'`},
		{"extension upper case", func(c *Config) { c.FileExtension = ".GZ" }, `FileExtension ".GZ" must start with '.'`},
		{"extension length", func(c *Config) { c.FileExtension = "." + strings.Repeat("a", 128) }, "at most 128 characters"},
		{"prefix length", func(c *Config) { c.Prefix = strings.Repeat("p", 1025) }, "Prefix is 1025 characters, more than 1024"},
		{"error prefix length", func(c *Config) { c.ErrorOutputPrefix = strings.Repeat("p", 1025) }, "ErrorOutputPrefix is 1025 characters, more than 1024"},
		{"expressions need an error prefix", func(c *Config) { c.Prefix = "t/!{timestamp:yyyy}/" }, "Prefix contains expressions, so ErrorOutputPrefix is required (and must contain !{firehose:error-output-type})"},
		{"error prefix needs error-output-type", func(c *Config) {
			c.Prefix, c.ErrorOutputPrefix = "t/!{timestamp:yyyy}/", "errors/!{timestamp:yyyy}/"
		}, "Prefix contains expressions, so ErrorOutputPrefix must contain !{firehose:error-output-type}"},
		{"static error prefix with expression prefix", func(c *Config) {
			c.Prefix, c.ErrorOutputPrefix = "t/!{timestamp:yyyy}/", "errors/"
		}, "must contain !{firehose:error-output-type}"},
		{"!{ must start an expression", func(c *Config) { c.Prefix = "t/!{oops" }, `Prefix: "!{" at offset 2 is not closed by "}": "!{" may only start an expression`},
		{"unknown expression", func(c *Config) {
			c.Prefix, c.ErrorOutputPrefix = "!{firehose:shard-id}", "e/!{firehose:error-output-type}"
		}, "!{firehose:shard-id}: the firehose namespace has only random-string and error-output-type"},
		{"unknown namespace in error prefix", func(c *Config) { c.ErrorOutputPrefix = "!{aws:region}" }, `ErrorOutputPrefix: !{aws:region}: unknown namespace "aws"`},
		{"error-output-type in data prefix", func(c *Config) {
			c.Prefix, c.ErrorOutputPrefix = "t/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}/"
		}, "Prefix: !{firehose:error-output-type} is only allowed in ErrorOutputPrefix"},
		{"dynamic partitioning", func(c *Config) {
			c.Prefix, c.ErrorOutputPrefix = "!{partitionKeyFromQuery:id}/", "e/!{firehose:error-output-type}/"
		}, "dynamic partitioning is not supported"},
		{"bad timestamp pattern", func(c *Config) {
			c.Prefix, c.ErrorOutputPrefix = "!{timestamp:YYYY}/", "e/!{firehose:error-output-type}/"
		}, "pattern letter 'Y' is not supported"},
		{"evaluated prefix length", func(c *Config) {
			c.Prefix, c.ErrorOutputPrefix = strings.Repeat("x", 500)+"!{timestamp:yyyy/MM/dd/HH}/", "e/!{firehose:error-output-type}/"
		}, "longer than 512 characters"},
		{"static prefix too long once the date is appended", func(c *Config) { c.Prefix = strings.Repeat("x", 500) }, "longer than 512 characters"},
		{"processor ARN", func(c *Config) { c.Processor = &ProcessorConfig{} }, "Processor.FunctionARN (LambdaArn) is required"},
		{"processor buffer small", func(c *Config) { c.Processor = &ProcessorConfig{FunctionARN: "f", BufferSize: 100_000} }, "Processor.BufferSize 100000 bytes is outside BufferSizeInMBs 0.2-3 MB"},
		{"processor buffer big", func(c *Config) { c.Processor = &ProcessorConfig{FunctionARN: "f", BufferSize: 4 << 20} }, "outside BufferSizeInMBs 0.2-3 MB"},
		{"processor interval", func(c *Config) { c.Processor = &ProcessorConfig{FunctionARN: "f", BufferInterval: time.Hour} }, "Processor.BufferInterval 1h0m0s is above the 900s maximum"},
		{"processor retries", func(c *Config) { c.Processor = &ProcessorConfig{FunctionARN: "f", NumberOfRetries: -2} }, "Processor.NumberOfRetries -2 must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v\nwant an error containing %q", err, tt.want)
			}
			if !errors.Is(err, streamproc.ErrInvalid) {
				t.Errorf("error does not wrap streamproc.ErrInvalid: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryRule(t *testing.T) {
	err := Config{Compression: "ZIP", BufferSize: 1}.Validate()
	for _, want := range []string{"Name is required", "a source stream is required", "SizeInMBs", "Compression ZIP"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c := Config{Name: "fh", StreamName: "s", Compression: GZIP, Processor: &ProcessorConfig{FunctionARN: "f"}}.withDefaults()
	p := c.Processor
	if c.Version != 1 || c.BufferSize != 5<<20 || c.BufferInterval != 300*time.Second || c.FileExtension != ".gz" || c.CustomTimeZone != time.UTC {
		t.Errorf("destination defaults: %+v", c)
	}
	if p.BufferSize != 1<<20 || p.BufferInterval != 60*time.Second || p.NumberOfRetries != 3 {
		t.Errorf("processor defaults: %+v", *p)
	}
	z := Config{Name: "fh", StreamName: "s", BufferInterval: ZeroBuffering, Processor: &ProcessorConfig{FunctionARN: "f", BufferInterval: ZeroBuffering, NumberOfRetries: NoRetries}}.withDefaults()
	if z.BufferInterval != 0 || z.Processor.BufferInterval != 0 || z.Processor.NumberOfRetries != 0 || z.FileExtension != "" {
		t.Errorf("explicit zeros: %+v %+v", z, *z.Processor)
	}
}
