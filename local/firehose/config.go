package firehose

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/streamproc/streamproc"
)

// Limits and defaults of an S3 destination and its Lambda processor
// (research/aws-semantics.md §4.2, §4.4, §4.6, §4.7). Sizes are in bytes,
// counting a "MB" of the AWS parameters as a MiB.
const (
	MinBufferSize     = 1 << 20
	MaxBufferSize     = 128 << 20
	DefaultBufferSize = 5 << 20

	MaxBufferInterval     = 900 * time.Second
	DefaultBufferInterval = 300 * time.Second

	MinProcessorBufferSize       = (1 << 20) / 5 // 0.2 MB
	MaxProcessorBufferSize       = 3 << 20
	DefaultProcessorBufferSize   = 1 << 20
	DefaultProcessorInterval     = 60 * time.Second
	DefaultNumberOfRetries       = 3
	MaxInvocationPayload         = 6 << 20 // Lambda's synchronous request and response limit
	MaxPrefixLen                 = 1024    // raw Prefix / ErrorOutputPrefix
	MaxEvaluatedPrefixLen        = 512
	MaxFileExtensionLen          = 128
	MaxNameLen                   = 64
	DefaultDeliveryStreamVersion = 1
)

// ZeroBuffering is the BufferInterval (of the destination or the processor)
// that AWS spells IntervalInSeconds=0: deliver as soon as the records read in
// one pass are in. It is negative because the zero Duration means "use the
// default", as an omitted parameter does on AWS.
const ZeroBuffering time.Duration = -1

// NoRetries is the ProcessorConfig.NumberOfRetries that AWS spells "0": one
// attempt and no retry. The zero value means the default, 3.
const NoRetries = -1

// Compression formats. ZIP, Snappy and HADOOP_SNAPPY exist on AWS but are not
// implemented here; Validate rejects them rather than write something else.
const (
	Uncompressed = "UNCOMPRESSED"
	GZIP         = "GZIP"
)

// Config describes one delivery stream with a Kinesis source and an S3
// destination, mirroring AWS::KinesisFirehose::DeliveryStream. Zero values
// mean AWS's defaults.
type Config struct {
	// Name is the DeliveryStreamName (1–64 of [a-zA-Z0-9_.-]); it names the
	// objects and the checkpoint file.
	Name string
	// ARN defaults to arn:aws:firehose:<region>:<account>:deliverystream/<Name>
	// with the region and account of the source stream.
	ARN string
	// Version is the DeliveryStreamVersion in object names (default 1).
	Version int
	// StreamName / StreamARN identify the source stream; one is enough.
	StreamName, StreamARN string
	// BufferSize is BufferingHints.SizeInMBs in bytes (1–128 MiB, default
	// 5 MiB), measured before compression.
	BufferSize int64
	// BufferInterval is BufferingHints.IntervalInSeconds (0–900 s, default
	// 300 s; ZeroBuffering for 0).
	BufferInterval time.Duration
	// Prefix and ErrorOutputPrefix follow the rules of EvaluatePrefix and
	// Config.KeyPrefix.
	Prefix, ErrorOutputPrefix string
	// Compression is UNCOMPRESSED (default) or GZIP. With Conversion it must
	// be UNCOMPRESSED: Parquet compresses inside the file.
	Compression string
	// FileExtension overrides the extension of data objects (".gz" for
	// GZIP, ".parquet" with Conversion, none otherwise).
	FileExtension string
	// Conversion is DataFormatConversionConfiguration: data objects are
	// Parquet files of the converted records, and records that do not
	// convert go to the format-conversion-failed error output. Nil: records
	// are delivered as they are. With it, BufferSize must be at least
	// MinConversionBufferSize (default DefaultConversionBufferSize).
	Conversion *Conversion
	// AppendDelimiter is the AppendDelimiterToRecord processor: '\n' after
	// every record, the last one of an object included.
	AppendDelimiter bool
	// Processor is the Lambda processing configuration; nil when records are
	// delivered as read.
	Processor *ProcessorConfig
	// CustomTimeZone is the zone of the timestamps in keys (default UTC).
	CustomTimeZone *time.Location
}

// ProcessorConfig is a Lambda processor's parameters.
type ProcessorConfig struct {
	// FunctionARN is LambdaArn: it goes into error records (lambdaArn).
	FunctionARN string
	// BufferSize is BufferSizeInMBs in bytes (0.2–3 MB, default 1 MB).
	BufferSize int64
	// BufferInterval is BufferIntervalInSeconds (0–900 s, default 60 s;
	// ZeroBuffering for 0).
	BufferInterval time.Duration
	// NumberOfRetries after a failed invocation (default 3; NoRetries for 0).
	NumberOfRetries int
}

var (
	nameRE      = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	extensionRE = regexp.MustCompile(`^\.[0-9a-z!\-_.*'()]+$`)
)

// Validate checks c against the rules AWS enforces when a delivery stream is
// created, with zero values standing for the defaults. Each broken rule is
// reported (joined) and every error wraps streamproc.ErrInvalid.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: firehose: "+format, append([]any{streamproc.ErrInvalid}, args...)...))
	}
	switch {
	case c.Name == "":
		bad("Name is required")
	case len(c.Name) > MaxNameLen || !nameRE.MatchString(c.Name):
		bad("Name %q must be 1-%d characters of [a-zA-Z0-9_.-]", c.Name, MaxNameLen)
	}
	if c.Version < 0 {
		bad("Version %d must be at least 1 (0 means the default, 1)", c.Version)
	}
	if c.StreamName == "" && c.StreamARN == "" {
		bad("a source stream is required (StreamName or StreamARN)")
	}
	if c.BufferSize != 0 && (c.BufferSize < MinBufferSize || c.BufferSize > MaxBufferSize) {
		bad("BufferSize %d bytes is outside BufferingHints.SizeInMBs 1-128 MiB", c.BufferSize)
	}
	if err := checkInterval("BufferInterval", c.BufferInterval); err != nil {
		bad("%v", err)
	}
	switch c.Compression {
	case "", Uncompressed, GZIP:
	case "ZIP", "Snappy", "HADOOP_SNAPPY":
		bad("Compression %s is an AWS format this local delivery stream does not implement (use UNCOMPRESSED or GZIP)", c.Compression)
	default:
		bad("Compression %q must be one of UNCOMPRESSED, GZIP", c.Compression)
	}
	if conv := c.Conversion; conv != nil {
		conv.validate(bad)
		if c.Compression != "" && c.Compression != Uncompressed {
			bad("Compression must be UNCOMPRESSED with format conversion, not %s (ParquetSerDe compresses inside the file)", c.Compression)
		}
		if c.BufferSize != 0 && c.BufferSize < MinConversionBufferSize {
			bad("BufferSize %d bytes is below the 64 MiB BufferingHints.SizeInMBs that format conversion needs", c.BufferSize)
		}
	}
	if c.FileExtension != "" && (len(c.FileExtension) > MaxFileExtensionLen || !extensionRE.MatchString(c.FileExtension)) {
		bad("FileExtension %q must start with '.' and be at most %d characters of [0-9a-z!-_.*'()]", c.FileExtension, MaxFileExtensionLen)
	}
	if err := c.validatePrefixes(); err != nil {
		errs = append(errs, err)
	}
	if p := c.Processor; p != nil {
		if p.FunctionARN == "" {
			bad("Processor.FunctionARN (LambdaArn) is required")
		}
		if p.BufferSize != 0 && (p.BufferSize < MinProcessorBufferSize || p.BufferSize > MaxProcessorBufferSize) {
			bad("Processor.BufferSize %d bytes is outside BufferSizeInMBs 0.2-3 MB", p.BufferSize)
		}
		if err := checkInterval("Processor.BufferInterval", p.BufferInterval); err != nil {
			bad("%v", err)
		}
		if p.NumberOfRetries < NoRetries {
			bad("Processor.NumberOfRetries %d must not be negative (NoRetries means 0)", p.NumberOfRetries)
		}
	}
	return errors.Join(errs...)
}

func checkInterval(name string, d time.Duration) error {
	if d < 0 && d != ZeroBuffering {
		return fmt.Errorf("%s %v must be 0-900s (ZeroBuffering for 0)", name, d)
	}
	if d > MaxBufferInterval {
		return fmt.Errorf("%s %v is above the 900s maximum", name, d)
	}
	return nil
}

// validatePrefixes applies the prefix rules of research/aws-semantics.md §4.6.
func (c Config) validatePrefixes() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: firehose: "+format, append([]any{streamproc.ErrInvalid}, args...)...))
	}
	data, err := checkPrefix("Prefix", c.Prefix, false)
	if err != nil {
		errs = append(errs, err)
	}
	errp, err := checkPrefix("ErrorOutputPrefix", c.ErrorOutputPrefix, true)
	if err != nil {
		errs = append(errs, err)
	}
	if data != nil && data.hasExpr {
		if c.ErrorOutputPrefix == "" {
			bad("Prefix contains expressions, so ErrorOutputPrefix is required (and must contain !{firehose:error-output-type})")
		} else if errp != nil && !errp.hasErrorType {
			bad("Prefix contains expressions, so ErrorOutputPrefix must contain !{firehose:error-output-type}")
		}
	}
	if len(errs) == 0 {
		// The evaluated length is checked on the widest instant: every
		// field at its maximum width (unpadded month, day, hour… at two
		// digits) and the error-output-type written here.
		widest := time.Date(2000, 12, 31, 23, 59, 59, 999999999, time.UTC)
		types := []string{"", ErrorOutputTypeProcessingFailed}
		if c.Conversion != nil {
			types = append(types, ErrorOutputTypeFormatConversionFailed)
		}
		for _, et := range types {
			if _, err := c.KeyPrefix(widest, et, zeroReader{}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// zeroReader feeds random-string during validation, where only lengths count.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// withDefaults returns c with every zero value replaced by its default. c
// must be valid.
func (c Config) withDefaults() Config {
	if c.Version == 0 {
		c.Version = DefaultDeliveryStreamVersion
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
		if c.Conversion != nil {
			c.BufferSize = DefaultConversionBufferSize
		}
	}
	c.BufferInterval = intervalOrDefault(c.BufferInterval, DefaultBufferInterval)
	if c.Compression == "" {
		c.Compression = Uncompressed
	}
	if c.FileExtension == "" && c.Compression == GZIP {
		c.FileExtension = ".gz"
	}
	if c.Conversion != nil {
		conv := *c.Conversion
		if conv.Compression == "" {
			conv.Compression = ParquetSnappy
		}
		c.Conversion = &conv
		if c.FileExtension == "" {
			c.FileExtension = ParquetFileExtension
		}
	}
	if c.CustomTimeZone == nil {
		c.CustomTimeZone = time.UTC
	}
	if c.Processor != nil {
		p := *c.Processor
		if p.BufferSize == 0 {
			p.BufferSize = DefaultProcessorBufferSize
		}
		p.BufferInterval = intervalOrDefault(p.BufferInterval, DefaultProcessorInterval)
		switch p.NumberOfRetries {
		case 0:
			p.NumberOfRetries = DefaultNumberOfRetries
		case NoRetries:
			p.NumberOfRetries = 0
		}
		c.Processor = &p
	}
	return c
}

// intervalOrDefault maps the configured interval to the effective one: 0 →
// def, ZeroBuffering → 0.
func intervalOrDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}
