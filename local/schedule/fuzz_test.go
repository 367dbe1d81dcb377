package schedule

import (
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics and that any schedule it accepts
// yields strictly increasing UTC firings; cron firings must fall on whole
// minutes, match the brute-force oracle and leave no matching minute out.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"cron(0 10 * * ? *)", "cron(15 12 * * ? *)", "cron(0 18 ? * MON-FRI *)", "cron(0 8 1 * ? *)",
		"cron(0/15 * * * ? *)", "cron(0/10 * ? * MON-FRI *)", "cron(0/5 8-17 ? * MON-FRI *)",
		"cron(0 9 ? * 2#1 *)", "cron(15 10 ? * 6L 2019-2022)", "cron(0 0 L * ? *)", "cron(0 0 15W * ? *)",
		"cron(0 0 LW * ? *)", "cron(0 22-2/2 * * ? *)", "cron(0 0 1 NOV-FEB ? *)", "cron(0 0 ? * L *)",
		"cron(0 0 29 2 ? 2096-2104)", "cron(59 23 31 12 ? 2199)", "cron(0 0 31W * ? *)",
		"rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(7 days)",
		"rate(0 minutes)", "rate(1 minutes)", "rate(5 minute)", "rate(1.5 hours)", "rate(30 seconds)",
		"cron(0 10 * * * *)", "cron(0 10 ? * ? *)", "cron(0 0 ? * 3#1,6#3 *)", "cron(60 0 * * ? *)",
		"cron(0 10 * * ?)", "cron(0 0 1 1 ? 2200)", "cron(", "rate()", "cron(0 0 ? * #L *)",
	}
	for i, s := range seeds {
		f.Add(s, int64(1709164230+i*86400*37))
	}
	f.Fuzz(func(t *testing.T, expr string, startSec int64) {
		s, err := Parse(expr)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q) error %T", expr, err)
			}
			return
		}
		// Keep starts and anchors within 1900-2300 so the walk reaches both
		// ends of the year range without leaving what time.Time holds.
		const lo, span = -2208988800, 12622780800
		start := time.Unix(lo+((startSec%span)+span)%span, startSec&999999999)
		if r, ok := s.(Rate); ok {
			s = r.Bind(start.Add(-time.Duration(startSec%1000) * time.Hour))
		}
		c, isCron := s.(*Cron)
		at := start
		for range 20 {
			next := s.Next(at)
			if next.IsZero() {
				if isCron && at.Year() <= maxYear {
					if b := bruteNext(c, at, 3); !b.IsZero() {
						t.Fatalf("%s: Next(%v) = none, but %v matches", expr, at, b)
					}
				}
				return
			}
			if !next.After(at) || next.Location() != time.UTC {
				t.Fatalf("%s: Next(%v) = %v, not strictly later in UTC", expr, at, next)
			}
			if isCron {
				if next.Second() != 0 || next.Nanosecond() != 0 || !oracleDay(c, next) ||
					!c.hours.has(next.Hour()) || !c.minutes.has(next.Minute()) {
					t.Fatalf("%s: Next(%v) = %v, which does not match", expr, at, next)
				}
				// Nothing may be skipped; check short gaps minute by minute.
				if next.Sub(at) <= 72*time.Hour {
					if b := bruteNext(c, at, 4); !b.Equal(next) {
						t.Fatalf("%s: Next(%v) = %v, brute force %v", expr, at, next, b)
					}
				}
			}
			at = next
		}
	})
}
