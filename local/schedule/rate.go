package schedule

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Rate is a rate(value unit) schedule: it fires every Every, counting from
// the time its rule was created (the first firing is one period after it).
type Rate struct {
	expr    string
	every   time.Duration
	created time.Time
	bound   bool
}

// rateUnits maps each accepted unit to its length. Seconds are absent on
// purpose: EventBridge rejects anything finer than a minute.
var rateUnits = map[string]time.Duration{
	"minute": time.Minute, "minutes": time.Minute,
	"hour": time.Hour, "hours": time.Hour,
	"day": 24 * time.Hour, "days": 24 * time.Hour,
}

func parseRate(expr string) (Rate, error) {
	inner := expr[len("rate(") : len(expr)-1]
	parts := strings.Fields(inner)
	if len(parts) != 2 {
		return Rate{}, syntaxErr(expr, "rate needs a value and a unit separated by white space (rate(5 minutes)), got %q", inner)
	}
	value, unit := parts[0], parts[1]
	per, ok := rateUnits[unit]
	if !ok {
		return Rate{}, syntaxErr(expr, "unit %q must be one of minute, minutes, hour, hours, day, days", unit)
	}
	if !isDigits(value) {
		return Rate{}, syntaxErr(expr, "value %q must be a positive whole number", value)
	}
	n, err := strconv.ParseInt(value, 10, 64)
	// The cap keeps the period a valid time.Duration; EventBridge's own limit
	// is undocumented but far below this (about 292 years).
	if err != nil || n > int64(math.MaxInt64/per) {
		return Rate{}, syntaxErr(expr, "value %s is too large", value)
	}
	plural := strings.HasSuffix(unit, "s")
	switch {
	case n == 0:
		return Rate{}, syntaxErr(expr, "value 0 must be positive")
	case n == 1 && plural:
		return Rate{}, syntaxErr(expr, "value 1 needs the singular unit %q", strings.TrimSuffix(unit, "s"))
	case n > 1 && !plural:
		return Rate{}, syntaxErr(expr, "value %d needs the plural unit %q", n, unit+"s")
	}
	return Rate{expr: expr, every: time.Duration(n) * per}, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Every returns the period.
func (r Rate) Every() time.Duration { return r.every }

// Bind returns r anchored at created, the time its rule was created.
func (r Rate) Bind(created time.Time) Rate {
	r.created, r.bound = created, true
	return r
}

// Created returns the anchor set by Bind; ok is false for an unanchored rate,
// which counts from the Unix epoch.
func (r Rate) Created() (created time.Time, ok bool) { return r.created, r.bound }

func (r Rate) String() string { return r.expr }

// maxUnix is the largest Unix second time.Unix can represent without its
// internal seconds-since-year-1 overflowing.
const maxUnix = math.MaxInt64 - 62135596800

// Next returns created + k·Every for the smallest k ≥ 1 that is after after.
// It works in whole seconds (every period is a whole number of minutes)
// rather than time.Duration, because the distance from the anchor to after
// may exceed the ±292 years a Duration holds.
func (r Rate) Next(after time.Time) time.Time {
	start := time.Unix(0, 0).UTC()
	if r.bound {
		start = r.created.UTC()
	}
	if r.every <= 0 {
		return time.Time{} // the zero Rate never fires
	}
	if !after.After(start) {
		return start.Add(r.every)
	}
	period := int64(r.every / time.Second)
	s0, a := start.Unix(), after.Unix()
	if s0 < 0 && a > math.MaxInt64+s0 {
		return time.Time{}
	}
	diff := a - s0
	if after.Nanosecond() < start.Nanosecond() {
		diff-- // floor of the true, sub-second difference
	}
	k := diff/period + 1
	limit := int64(math.MaxInt64) // s0 + MaxInt64 ≤ maxUnix when s0 is before year 1
	if s0 >= maxUnix-math.MaxInt64 {
		limit = maxUnix - s0
	}
	if k > limit/period {
		return time.Time{} // beyond what time.Time can hold
	}
	return time.Unix(s0+k*period, int64(start.Nanosecond())).UTC()
}
