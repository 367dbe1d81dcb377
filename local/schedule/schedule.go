// Package schedule is the local target's EventBridge scheduler: it parses
// EventBridge schedule expressions, computes their firing times, runs a
// callback at each one and builds the event a scheduled Lambda receives.
//
// Two expression forms are accepted, with EventBridge's rules (see the
// "Schedule expressions" section of the AWS behaviour spec and
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html):
//
//	rate(value unit)       unit is minute, hour or day; plural when value > 1
//	cron(Minutes Hours Day-of-month Month Day-of-week Year)
//
// All times are UTC: EventBridge rules have no time zone, so neither do these
// schedules, and daylight-saving changes never shift a firing. Firings fall on
// whole minutes for cron; EventBridge runs a target somewhere within the
// scheduled minute, the local scheduler runs it at second 0.
//
// Rate schedules count from when the rule is created. Parse cannot know that
// moment, so it returns a rate anchored at the Unix epoch; Bind (or
// Rate.Bind) anchors it at the creation time, and Runner.Run binds an
// unanchored rate to the moment it starts, which is when a local rule is
// "created".
package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/streamproc/streamproc"
)

// Schedule is a parsed schedule expression.
type Schedule interface {
	// Next returns the first firing strictly after after, in UTC, or the
	// zero time when there is none (a cron whose last year has passed).
	Next(after time.Time) time.Time
	// String returns the expression as parsed, without surrounding white
	// space.
	String() string
}

// SyntaxError is an expression EventBridge would reject. Its message names
// the rule that was broken and quotes the offending part, because "invalid
// schedule expression" alone sends the user back to the documentation.
type SyntaxError struct {
	Expr string // the whole expression
	Rule string // what is wrong, quoting the offending part
}

func (e *SyntaxError) Error() string { return e.Expr + ": " + e.Rule }

// Unwrap makes errors.Is(err, streamproc.ErrInvalid) true: retrying the same
// expression cannot succeed.
func (e *SyntaxError) Unwrap() error { return streamproc.ErrInvalid }

func syntaxErr(expr, format string, args ...any) error {
	return &SyntaxError{Expr: expr, Rule: fmt.Sprintf(format, args...)}
}

// Parse parses a rate() or cron() expression.
//
// A rate schedule comes back unanchored (counting from the Unix epoch); use
// Bind to anchor it at the rule's creation time. Errors are *SyntaxError.
func Parse(expr string) (Schedule, error) {
	s := strings.TrimSpace(expr)
	switch {
	case strings.HasPrefix(s, "rate(") && strings.HasSuffix(s, ")"):
		r, err := parseRate(s)
		if err != nil {
			return nil, err
		}
		return r, nil
	case strings.HasPrefix(s, "cron(") && strings.HasSuffix(s, ")"):
		c, err := parseCron(s)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, syntaxErr(fmt.Sprintf("%q", expr), "a schedule expression must be rate(value unit) or cron(minutes hours day-of-month month day-of-week year)")
}

// Bind anchors a rate schedule at the time its rule was created and returns
// any other schedule unchanged, so callers need not know which kind they hold.
func Bind(s Schedule, created time.Time) Schedule {
	if r, ok := s.(Rate); ok {
		return r.Bind(created)
	}
	return s
}
