package esm

import (
	"fmt"
	"strings"
	"time"

	"github.com/streamproc/streamproc"
)

// Starting positions (Config.StartingPosition).
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
)

// Limits of a Kinesis event source mapping, as the Lambda API enforces them.
const (
	DefaultBatchSize         = 100
	MaxBatchSize             = 10000
	MaxBatchingWindow        = 300 * time.Second
	MaxParallelizationFactor = 10
	MaxRetryAttempts         = 10000
	MinRecordAge             = 60 * time.Second
	MaxRecordAge             = 604800 * time.Second
	MaxTumblingWindow        = 900 * time.Second

	// Forever is the value of MaximumRecordAge that means "no limit"
	// (MaximumRecordAgeInSeconds = -1).
	Forever = -time.Second

	// MaxPayloadBytes is Lambda's synchronous invocation payload limit
	// (6 MB), which caps the JSON size of one event.
	MaxPayloadBytes = 6 << 20
	// MaxStateBytes is the tumbling-window state limit (1 MB of JSON).
	MaxStateBytes = 1 << 20
)

// Config is one event source mapping from a Kinesis stream to a function,
// with the parameters of CreateEventSourceMapping. Durations stand for the
// API's whole-second fields.
//
// Zero values: BatchSize 0 means 100, ParallelizationFactor 0 means 1 and
// MaximumRecordAge 0 means Forever (the API rejects all three as values, so
// zero can only mean "unset"). MaximumRetryAttempts 0 is a real value (no
// retries) while AWS's default is -1, and Enabled false pauses the mapping:
// start from DefaultConfig to get AWS's defaults.
type Config struct {
	FunctionName string
	// FunctionARN defaults to arn:aws:lambda:<region>:<account>:function:<FunctionName>.
	FunctionARN string
	StreamName  string
	// StreamARN defaults to the stream engine's ARN for StreamName.
	StreamARN string
	// RoleARN is the function's execution role, sent as invokeIdentityArn;
	// it defaults to arn:aws:iam::<account>:role/<FunctionName>Role.
	RoleARN string

	BatchSize             int           // 1–10,000
	MaximumBatchingWindow time.Duration // 0–300 s
	// StartingPosition is where a shard without a checkpoint starts:
	// TRIM_HORIZON, LATEST or AT_TIMESTAMP (with StartingPositionTimestamp,
	// which the other positions ignore).
	StartingPosition           string
	StartingPositionTimestamp  time.Time
	ParallelizationFactor      int // 1–10 concurrent batches per shard
	BisectBatchOnFunctionError bool
	MaximumRetryAttempts       int           // -1 (until the record expires) or 0–10,000
	MaximumRecordAge           time.Duration // Forever (-1 s) or 60 s–604,800 s
	// ReportBatchItemFailures is FunctionResponseTypes=[ReportBatchItemFailures].
	ReportBatchItemFailures bool
	TumblingWindow          time.Duration // 0 (off) or 1–900 s
	Enabled                 bool
	// UUID identifies the mapping's checkpoints. When empty it is derived
	// from FunctionName and StreamName, so a restarted program finds its
	// checkpoints again.
	UUID string
}

// DefaultConfig returns a Config with AWS's defaults for everything but the
// names and the starting position: BatchSize 100, no batching window,
// ParallelizationFactor 1, MaximumRetryAttempts -1, MaximumRecordAge
// Forever, enabled.
func DefaultConfig() Config {
	return Config{
		BatchSize:             DefaultBatchSize,
		ParallelizationFactor: 1,
		MaximumRetryAttempts:  -1,
		MaximumRecordAge:      Forever,
		Enabled:               true,
	}
}

// ValidationError is a rejected Config. Its message is the one the Lambda
// API gives for the same parameters (ValidationException for the API
// model's constraints, InvalidParameterValueException for the service's own
// checks). It wraps streamproc.ErrInvalid.
type ValidationError struct {
	// Code is ValidationException or InvalidParameterValueException.
	Code    string
	Message string
}

func (e *ValidationError) Error() string { return e.Message }

// Unwrap makes errors.Is(err, streamproc.ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return streamproc.ErrInvalid }

// withDefaults fills the zero values that mean "unset".
func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.ParallelizationFactor == 0 {
		c.ParallelizationFactor = 1
	}
	if c.MaximumRecordAge == 0 {
		c.MaximumRecordAge = Forever
	}
	return c
}

// Validate checks c the way CreateEventSourceMapping does. Constraint
// violations of the API model are reported together, in AWS's words
// ("1 validation error detected: Value '0' at 'parallelizationFactor' …");
// the service-level checks (record age 0–59 s, a missing starting position
// or timestamp, whole seconds) come after them, one at a time.
func (c Config) Validate() error {
	c = c.withDefaults()
	var v []string
	atLeast := func(value int64, field string, lo int64) {
		if value < lo {
			v = append(v, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", value, field, lo))
		}
	}
	atMost := func(value int64, field string, hi int64) {
		if value > hi {
			v = append(v, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", value, field, hi))
		}
	}
	secs := func(d time.Duration) int64 { return int64(d / time.Second) }

	atLeast(int64(c.BatchSize), "batchSize", 1)
	atMost(int64(c.BatchSize), "batchSize", MaxBatchSize)
	atLeast(secs(c.MaximumBatchingWindow), "maximumBatchingWindowInSeconds", 0)
	atMost(secs(c.MaximumBatchingWindow), "maximumBatchingWindowInSeconds", secs(MaxBatchingWindow))
	atLeast(int64(c.ParallelizationFactor), "parallelizationFactor", 1)
	atMost(int64(c.ParallelizationFactor), "parallelizationFactor", MaxParallelizationFactor)
	atLeast(int64(c.MaximumRetryAttempts), "maximumRetryAttempts", -1)
	atMost(int64(c.MaximumRetryAttempts), "maximumRetryAttempts", MaxRetryAttempts)
	atLeast(secs(c.MaximumRecordAge), "maximumRecordAgeInSeconds", -1)
	atMost(secs(c.MaximumRecordAge), "maximumRecordAgeInSeconds", secs(MaxRecordAge))
	atLeast(secs(c.TumblingWindow), "tumblingWindowInSeconds", 0)
	atMost(secs(c.TumblingWindow), "tumblingWindowInSeconds", secs(MaxTumblingWindow))
	switch c.StartingPosition {
	case TrimHorizon, Latest, AtTimestamp, "":
	default:
		v = append(v, fmt.Sprintf("Value '%s' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]", c.StartingPosition))
	}
	if len(v) > 0 {
		noun := "error"
		if len(v) > 1 {
			noun = "errors"
		}
		return &ValidationError{Code: "ValidationException", Message: fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; "))}
	}

	invalid := func(format string, args ...any) error {
		return &ValidationError{Code: "InvalidParameterValueException", Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.FunctionName == "":
		return invalid("FunctionName is required.")
	case c.StreamName == "":
		return invalid("EventSourceArn is required: the mapping has no StreamName.")
	case c.MaximumRecordAge != Forever && c.MaximumRecordAge < MinRecordAge:
		return invalid("MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 (inclusive)")
	case c.StartingPosition == "":
		return invalid("StartingPosition is required for Kinesis event sources.")
	case c.StartingPosition == AtTimestamp && c.StartingPositionTimestamp.IsZero():
		return invalid("StartingPositionTimestamp is required when StartingPosition is AT_TIMESTAMP.")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"MaximumBatchingWindowInSeconds", c.MaximumBatchingWindow},
		{"MaximumRecordAgeInSeconds", c.MaximumRecordAge},
		{"TumblingWindowInSeconds", c.TumblingWindow},
	} {
		if d.v%time.Second != 0 {
			return invalid("%s must be a whole number of seconds, got %s.", d.name, d.v)
		}
	}
	return nil
}
