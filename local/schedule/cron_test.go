package schedule

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
)

// utc parses "2006-01-02T15:04" or "2006-01-02T15:04:05" as UTC; "" is the
// zero time, which Next returns once a schedule is over.
func utc(t testing.TB, s string) time.Time {
	t.Helper()
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano} {
		if v, err := time.Parse(layout, s); err == nil {
			return v
		}
	}
	t.Fatalf("bad test time %q", s)
	return time.Time{}
}

// leapEve is a Wednesday late on 28 February of a leap year, so sequences
// from it cross the leap day, a month end and a weekend within days.
const leapEve = "2024-02-28T23:50:30"

func TestCronNext(t *testing.T) {
	tests := []struct {
		expr  string
		start string
		want  []string // consecutive firings; "" means no more
	}{
		// The examples of the EventBridge documentation.
		{"cron(0 10 * * ? *)", leapEve, []string{"2024-02-29T10:00", "2024-03-01T10:00", "2024-03-02T10:00", "2024-03-03T10:00"}},
		{"cron(15 12 * * ? *)", leapEve, []string{"2024-02-29T12:15", "2024-03-01T12:15", "2024-03-02T12:15"}},
		{"cron(0 18 ? * MON-FRI *)", leapEve, []string{"2024-02-29T18:00", "2024-03-01T18:00", "2024-03-04T18:00", "2024-03-05T18:00"}},
		{"cron(0 8 1 * ? *)", leapEve, []string{"2024-03-01T08:00", "2024-04-01T08:00", "2024-05-01T08:00", "2024-06-01T08:00"}},
		{"cron(0/15 * * * ? *)", leapEve, []string{"2024-02-29T00:00", "2024-02-29T00:15", "2024-02-29T00:30", "2024-02-29T00:45", "2024-02-29T01:00"}},
		{"cron(0/10 * ? * MON-FRI *)", "2024-03-01T23:45", []string{"2024-03-01T23:50", "2024-03-04T00:00", "2024-03-04T00:10"}},
		{"cron(0/5 8-17 ? * MON-FRI *)", "2024-03-01T17:52", []string{"2024-03-01T17:55", "2024-03-04T08:00", "2024-03-04T08:05"}},
		{"cron(0 9 ? * 2#1 *)", leapEve, []string{"2024-03-04T09:00", "2024-04-01T09:00", "2024-05-06T09:00", "2024-06-03T09:00"}},
		{"cron(15 10 ? * 6L 2019-2022)", "2018-12-15T00:00", []string{"2019-01-25T10:15", "2019-02-22T10:15", "2019-03-29T10:15"}},
		{"cron(15 10 ? * 6L 2019-2022)", "2022-12-01T00:00", []string{"2022-12-30T10:15", ""}},
		{"cron(15 10 ? * 6L 2019-2022)", leapEve, []string{""}},
		{"cron(0 0 L * ? *)", leapEve, []string{"2024-02-29T00:00", "2024-03-31T00:00", "2024-04-30T00:00", "2024-05-31T00:00"}},
		{"cron(0 0 15W * ? *)", leapEve, []string{"2024-03-15T00:00", "2024-04-15T00:00", "2024-05-15T00:00", "2024-06-14T00:00"}},

		// W: Sunday the 15th moves to Monday; never into another month.
		{"cron(0 0 15W * ? *)", "2024-08-20T00:00", []string{"2024-09-16T00:00"}},
		{"cron(0 0 1W * ? *)", "2024-05-15T00:00", []string{"2024-06-03T00:00", "2024-07-01T00:00", "2024-08-01T00:00", "2024-09-02T00:00"}},
		{"cron(0 0 30W * ? *)", "2025-01-15T00:00", []string{"2025-01-30T00:00", "2025-03-31T00:00", "2025-04-30T00:00", "2025-05-30T00:00"}},
		{"cron(0 0 30W * ? *)", "2024-06-01T00:00", []string{"2024-06-28T00:00"}},
		{"cron(0 0 31W * ? *)", "2024-08-01T00:00", []string{"2024-08-30T00:00", "2024-10-31T00:00", "2024-12-31T00:00", "2025-01-31T00:00"}},
		{"cron(0 0 LW * ? *)", leapEve, []string{"2024-02-29T00:00", "2024-03-29T00:00", "2024-04-30T00:00", "2024-05-31T00:00", "2024-06-28T00:00"}},
		{"cron(0 0 L 2 ? 2023-2025)", "2023-01-01T00:00", []string{"2023-02-28T00:00", "2024-02-29T00:00", "2025-02-28T00:00", ""}},

		// Day-of-week forms.
		{"cron(0 9 ? * 3#2 *)", leapEve, []string{"2024-03-12T09:00", "2024-04-09T09:00", "2024-05-14T09:00"}},
		{"cron(0 9 ? * MON#1 *)", leapEve, []string{"2024-03-04T09:00", "2024-04-01T09:00"}},
		{"cron(0 0 ? * 6#5 *)", leapEve, []string{"2024-03-29T00:00", "2024-05-31T00:00", "2024-08-30T00:00"}},
		{"cron(0 0 ? * friL *)", leapEve, []string{"2024-03-29T00:00", "2024-04-26T00:00"}},
		{"cron(0 0 ? * L *)", leapEve, []string{"2024-03-02T00:00", "2024-03-09T00:00", "2024-03-16T00:00"}},
		{"cron(0 12 ? * FRI-MON *)", leapEve, []string{"2024-03-01T12:00", "2024-03-02T12:00", "2024-03-03T12:00", "2024-03-04T12:00", "2024-03-08T12:00"}},
		{"cron(30 * ? * * *)", leapEve, []string{"2024-02-29T00:30", "2024-02-29T01:30"}},
		{"cron(0 0 ? * 1,7 *)", leapEve, []string{"2024-03-02T00:00", "2024-03-03T00:00", "2024-03-09T00:00"}},

		// Ranges, steps, lists, names, wrap-around.
		{"cron(10-50/10 * * * ? *)", leapEve, []string{"2024-02-29T00:10", "2024-02-29T00:20", "2024-02-29T00:30", "2024-02-29T00:40", "2024-02-29T00:50", "2024-02-29T01:10"}},
		{"cron(0 22-2/2 * * ? *)", "2024-02-28T21:00", []string{"2024-02-28T22:00", "2024-02-29T00:00", "2024-02-29T02:00", "2024-02-29T22:00"}},
		{"cron(0 0 1 NOV-FEB ? *)", leapEve, []string{"2024-11-01T00:00", "2024-12-01T00:00", "2025-01-01T00:00", "2025-02-01T00:00", "2025-11-01T00:00"}},
		{"cron(0 6,18 1,15 JAN,jul ? *)", leapEve, []string{"2024-07-01T06:00", "2024-07-01T18:00", "2024-07-15T06:00", "2024-07-15T18:00", "2025-01-01T06:00"}},
		{"cron(0 0 31 * ? *)", leapEve, []string{"2024-03-31T00:00", "2024-05-31T00:00", "2024-07-31T00:00", "2024-08-31T00:00"}},
		{"cron(0 0 29 2 ? *)", leapEve, []string{"2024-02-29T00:00", "2028-02-29T00:00", "2032-02-29T00:00"}},
		{"cron(0 0 29 2 ? 2096-2104)", "2096-03-01T00:00", []string{"2104-02-29T00:00", ""}}, // 2100 is not a leap year
		{"cron(0 0 30 2 ? *)", leapEve, []string{""}},
		{"cron(0 0 1 1 ? 2100/50)", leapEve, []string{"2100-01-01T00:00", "2150-01-01T00:00", ""}},

		// The edges of the year range.
		{"cron(59 23 31 12 ? 2199)", "2199-12-31T23:58:59", []string{"2199-12-31T23:59", ""}},
		{"cron(0 0 1 1 ? *)", "1960-06-01T00:00", []string{"1970-01-01T00:00", "1971-01-01T00:00"}},
		{"cron(* * * * ? *)", "2199-12-31T23:59", []string{""}},

		// Strictly after: a start on a firing skips it, a start within the
		// firing minute too.
		{"cron(0 10 * * ? *)", "2024-03-01T10:00", []string{"2024-03-02T10:00"}},
		{"cron(0 10 * * ? *)", "2024-03-01T09:59:59.999999999Z", []string{"2024-03-01T10:00"}},
		{"cron(0 10 * * ? *)", "2024-03-01T10:00:00.000000001Z", []string{"2024-03-02T10:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.expr+"@"+tc.start, func(t *testing.T) {
			s, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if s.String() != tc.expr {
				t.Errorf("String() = %q", s.String())
			}
			at := utc(t, tc.start)
			for i, w := range tc.want {
				got := s.Next(at)
				if want := utc(t, w); !got.Equal(want) || got.Location() != time.UTC {
					t.Fatalf("firing %d after %s: got %v, want %v", i+1, at, got, want)
				}
				at = got
			}
		})
	}
}

// TestCronNextLocalTime checks that Next works on the instant, not the wall
// clock of after's location.
func TestCronNextLocalTime(t *testing.T) {
	s, err := Parse("cron(0 10 * * ? *)")
	if err != nil {
		t.Fatal(err)
	}
	// 09:30 UTC is 18:30 in Tokyo, after 10:00 on Tokyo's wall clock.
	tokyo := time.FixedZone("JST", 9*3600)
	after := time.Date(2024, 3, 1, 18, 30, 0, 0, tokyo)
	if got, want := s.Next(after), utc(t, "2024-03-01T10:00"); !got.Equal(want) {
		t.Fatalf("Next(%v) = %v, want %v", after, got, want)
	}
}

// TestCronAgainstBruteForce compares Next with a minute-by-minute search
// over a year from several starts, using an oracle that decides each day
// from its definition rather than the month masks Next uses.
func TestCronAgainstBruteForce(t *testing.T) {
	exprs := []string{
		"cron(0 10 * * ? *)", "cron(0 18 ? * MON-FRI *)", "cron(0/15 * * * ? *)",
		"cron(0/5 8-17 ? * MON-FRI *)", "cron(0 9 ? * 2#1 *)", "cron(15 10 ? * 6L *)",
		"cron(0 0 L * ? *)", "cron(0 0 LW * ? *)", "cron(0 0 15W * ? *)", "cron(0 0 1W * ? *)",
		"cron(0 0 31W * ? *)", "cron(0 0 30W * ? *)", "cron(0 12 ? * 1#5 *)", "cron(0 12 ? * 7#5 *)",
		"cron(7 3 29-31 * ? *)", "cron(0 0 ? * L *)", "cron(59 23 ? * 1L *)", "cron(0 0 ? FEB 5#4 *)",
		"cron(1-7/3 22-1 1/10 */5 ? *)", "cron(0 0 ? * SAT-SUN 2024-2025)",
	}
	starts := []string{"2023-12-31T23:59:59", "2024-02-28T23:50:30", "2025-06-15T12:34:00", "2100-02-27T00:00"}
	for _, expr := range exprs {
		s, err := Parse(expr)
		if err != nil {
			t.Fatal(err)
		}
		c := s.(*Cron)
		for _, start := range starts {
			at := utc(t, start)
			for range 12 {
				want := bruteNext(c, at, 400)
				got := c.Next(at)
				if !got.Equal(want) {
					t.Fatalf("%s: Next(%v) = %v, brute force %v", expr, at, got, want)
				}
				if got.IsZero() {
					break
				}
				at = got
			}
		}
	}
}

// bruteNext is the first minute after after that matches c, looking no
// further than days days; zero if none.
func bruteNext(c *Cron, after time.Time, days int) time.Time {
	t := after.UTC().Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(0, 0, days)
	for ; t.Before(end); t = t.Add(time.Minute) {
		if !oracleDay(c, t) {
			// Jump to the next midnight: nothing on this day can match.
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC).Add(-time.Minute)
			continue
		}
		if c.hours.has(t.Hour()) && c.minutes.has(t.Minute()) {
			return t
		}
	}
	return time.Time{}
}

// oracleDay reports whether c selects t's day, straight from the rules.
func oracleDay(c *Cron, t time.Time) bool {
	y := t.Year()
	if y < minYear || y > maxYear || !c.years.has(y-minYear) || !c.months.has(int(t.Month())-1) {
		return false
	}
	d := t.Day()
	n := time.Date(y, t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	wd := func(day int) time.Weekday { return time.Date(y, t.Month(), day, 0, 0, 0, 0, time.UTC).Weekday() }
	isWeekday := func(day int) bool { w := wd(day); return w != time.Saturday && w != time.Sunday }
	cronWD := int(wd(d)) + 1
	r := c.days
	switch r.kind {
	case domSet:
		return r.mask.has(d)
	case domLast:
		return d == n
	case domLastWeekday:
		if !isWeekday(d) {
			return false
		}
		for e := d + 1; e <= n; e++ {
			if isWeekday(e) {
				return false
			}
		}
		return true
	case domNearestWeekday:
		if r.day > n {
			return false
		}
		best := 0
		for e := 1; e <= n; e++ {
			if isWeekday(e) && (best == 0 || abs(e-r.day) < abs(best-r.day)) {
				best = e
			}
		}
		return d == best
	case dowSet:
		return r.mask.has(cronWD)
	case dowLast:
		return cronWD == r.weekday && d+7 > n
	case dowNth:
		return cronWD == r.weekday && (d-1)/7+1 == r.nth
	}
	panic("unknown kind")
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ expr, err string }{
		// rate()
		{"rate(0 minutes)", `rate(0 minutes): value 0 must be positive`},
		{"rate(1 minutes)", `rate(1 minutes): value 1 needs the singular unit "minute"`},
		{"rate(1 hours)", `rate(1 hours): value 1 needs the singular unit "hour"`},
		{"rate(5 minute)", `rate(5 minute): value 5 needs the plural unit "minutes"`},
		{"rate(5 hour)", `rate(5 hour): value 5 needs the plural unit "hours"`},
		{"rate(1.5 hours)", `rate(1.5 hours): value "1.5" must be a positive whole number`},
		{"rate(-5 minutes)", `rate(-5 minutes): value "-5" must be a positive whole number`},
		{"rate(30 seconds)", `rate(30 seconds): unit "seconds" must be one of minute, minutes, hour, hours, day, days`},
		{"rate(5 Minutes)", `rate(5 Minutes): unit "Minutes" must be one of minute, minutes, hour, hours, day, days`},
		{"rate(2 weeks)", `rate(2 weeks): unit "weeks" must be one of minute, minutes, hour, hours, day, days`},
		{"rate(5)", `rate(5): rate needs a value and a unit separated by white space (rate(5 minutes)), got "5"`},
		{"rate(5 minutes now)", `rate(5 minutes now): rate needs a value and a unit separated by white space (rate(5 minutes)), got "5 minutes now"`},
		{"rate(99999999999999999999 days)", `rate(99999999999999999999 days): value 99999999999999999999 is too large`},
		{"rate(200000 days)", `rate(200000 days): value 200000 is too large`},

		// Neither form.
		{"every 5 minutes", `"every 5 minutes": a schedule expression must be rate(value unit) or cron(minutes hours day-of-month month day-of-week year)`},
		{"cron(0 10 * * ? *", `"cron(0 10 * * ? *": a schedule expression must be rate(value unit) or cron(minutes hours day-of-month month day-of-week year)`},
		{"CRON(0 10 * * ? *)", `"CRON(0 10 * * ? *)": a schedule expression must be rate(value unit) or cron(minutes hours day-of-month month day-of-week year)`},
		{"", `"": a schedule expression must be rate(value unit) or cron(minutes hours day-of-month month day-of-week year)`},

		// Field count and the "?" rule.
		{"cron(0 10 * * ?)", `cron(0 10 * * ?): cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 5`},
		{"cron(0 0 10 * * ? *)", `cron(0 0 10 * * ? *): cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 7`},
		{"cron()", `cron(): cron needs 6 fields (minutes hours day-of-month month day-of-week year), got 0`},
		{"cron(0 10 * * * *)", `cron(0 10 * * * *): one of day-of-month and day-of-week must be "?"`},
		{"cron(0 10 1 * MON *)", `cron(0 10 1 * MON *): one of day-of-month and day-of-week must be "?"`},
		{"cron(0 10 ? * ? *)", `cron(0 10 ? * ? *): only one of day-of-month and day-of-week can be "?"`},
		{"cron(0 ? * * ? *)", `cron(0 ? * * ? *): hours does not allow "?", got "?"`},
		{"cron(0 10 1,? * ? *)", `cron(0 10 1,? * ? *): "?" must be the whole day-of-month field, got "1,?"`},
		{"cron(0 10 ? * 1,? *)", `cron(0 10 ? * 1,? *): "?" must be the whole day-of-week field, got "1,?"`},

		// "#", L and W.
		{"cron(0 0 ? * 3#1,6#3 *)", `cron(0 0 ? * 3#1,6#3 *): day-of-week allows only one expression with "#", got "3#1,6#3"`},
		{"cron(0 0 ? * 3#6 *)", `cron(0 0 ? * 3#6 *): day-of-week "#" needs an occurrence from 1 to 5 (3#2 = second Tuesday), got "3#6"`},
		{"cron(0 0 ? * 3#0 *)", `cron(0 0 ? * 3#0 *): day-of-week "#" needs an occurrence from 1 to 5 (3#2 = second Tuesday), got "3#0"`},
		{"cron(0 0 ? * 8#1 *)", `cron(0 0 ? * 8#1 *): day-of-week value 8 in "8#1" is out of range 1-7`},
		{"cron(0 0 1#1 * ? *)", `cron(0 0 1#1 * ? *): day-of-month does not allow "#", got "1#1"`},
		{"cron(0 0 ? * 1/2 *)", `cron(0 0 ? * 1/2 *): day-of-week does not allow "/", got "1/2"`},
		{"cron(0 0 L,15 * ? *)", `cron(0 0 L,15 * ? *): day-of-month allows L, LW or nW (15W) only on their own, got "L,15"`},
		{"cron(0 0 1-5W * ? *)", `cron(0 0 1-5W * ? *): day-of-month allows L, LW or nW (15W) only on their own, got "1-5W"`},
		{"cron(0 0 32W * ? *)", `cron(0 0 32W * ? *): day-of-month value 32 in "32W" is out of range 1-31`},
		{"cron(0 0 ? * 1,6L *)", `cron(0 0 ? * 1,6L *): day-of-week allows L or nL (6L = last Friday) only on their own, got "1,6L"`},
		{"cron(0 0 ? * 6W *)", `cron(0 0 ? * 6W *): day-of-week value "6W" in "6W" is not a number or SUN-SAT`},
		{"cron(0L 0 * * ? *)", `cron(0L 0 * * ? *): minutes value "0L" in "0L" is not a number`},

		// Values and ranges.
		{"cron(60 0 * * ? *)", `cron(60 0 * * ? *): minutes value 60 in "60" is out of range 0-59`},
		{"cron(0 24 * * ? *)", `cron(0 24 * * ? *): hours value 24 in "24" is out of range 0-23`},
		{"cron(0 0 0 * ? *)", `cron(0 0 0 * ? *): day-of-month value 0 in "0" is out of range 1-31`},
		{"cron(0 0 32 * ? *)", `cron(0 0 32 * ? *): day-of-month value 32 in "32" is out of range 1-31`},
		{"cron(0 0 1 13 ? *)", `cron(0 0 1 13 ? *): month value 13 in "13" is out of range 1-12`},
		{"cron(0 0 1 JANUARY ? *)", `cron(0 0 1 JANUARY ? *): month value "JANUARY" in "JANUARY" is not a number or JAN-DEC`},
		{"cron(0 0 ? * 0 *)", `cron(0 0 ? * 0 *): day-of-week value 0 in "0" is out of range 1-7`},
		{"cron(0 0 ? * MON-FRY *)", `cron(0 0 ? * MON-FRY *): day-of-week value "FRY" in "MON-FRY" is not a number or SUN-SAT`},
		{"cron(0 0 1 1 ? 2200)", `cron(0 0 1 1 ? 2200): year value 2200 in "2200" is out of range 1970-2199`},
		{"cron(0 0 1 1 ? 1969)", `cron(0 0 1 1 ? 1969): year value 1969 in "1969" is out of range 1970-2199`},
		{"cron(0 0 1 1 ? 2030-2020)", `cron(0 0 1 1 ? 2030-2020): year range must not run backwards, got "2030-2020"`},
		{"cron(0/0 * * * ? *)", `cron(0/0 * * * ? *): minutes step must be a number from 1 to 59, got "0/0"`},
		{"cron(0/60 * * * ? *)", `cron(0/60 * * * ? *): minutes step must be a number from 1 to 59, got "0/60"`},
		{"cron(0/x * * * ? *)", `cron(0/x * * * ? *): minutes step must be a number from 1 to 59, got "0/x"`},
		{"cron(1,,2 * * * ? *)", `cron(1,,2 * * * ? *): minutes has an empty list item in "1,,2"`},
		{"cron(1- * * * ? *)", `cron(1- * * * ? *): minutes value "" in "1-" is not a number`},
		{"cron(-1 * * * ? *)", `cron(-1 * * * ? *): minutes value "" in "-1" is not a number`},
		{"cron(1-2-3 * * * ? *)", `cron(1-2-3 * * * ? *): minutes value "2-3" in "1-2-3" is not a number`},
		{"cron(99999999999999999999 * * * ? *)", `cron(99999999999999999999 * * * ? *): minutes value 99999999999999999999 in "99999999999999999999" is out of range 0-59`},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			s, err := Parse(tc.expr)
			if err == nil {
				t.Fatalf("Parse accepted it: %v", s)
			}
			if err.Error() != tc.err {
				t.Errorf("error:\n got %s\nwant %s", err, tc.err)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, streamproc.ErrInvalid) {
				t.Errorf("error %T is not a *SyntaxError wrapping ErrInvalid", err)
			}
		})
	}
}

func TestParseValidForms(t *testing.T) {
	// Forms with no sequence test of their own that must still parse.
	for _, expr := range []string{
		"cron(* * * * ? *)", "cron(0 0 ? * * *)", "cron(0 0 ? * SUN-SAT 1970-2199)",
		"cron(*/5 */2 */3 */4 ? */10)", "cron(0 0 LW * ? *)", "cron(0 0 lw * ? *)", "cron(0 0 15w * ? *)",
		"cron(0 0 ? * fri#2 *)", "cron(0 0 ? * l *)", "cron(0 0 1 jan-Dec ? *)",
		"cron(0 0 ? * 7#5 2199)", "cron(0 0 ? * SAT#5 *)", "cron(0 0 ? * 7L *)",
		"cron(0\t0  *  * ? *)", " cron(0 0 * * ? *) ", "cron(00 05 01 01 ? 2024)",
		"rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)",
		"rate(7 days)", "rate(  5   minutes )", "rate(100000 days)",
	} {
		if _, err := Parse(expr); err != nil {
			t.Errorf("Parse(%q): %v", expr, err)
		}
	}
}

// ExampleParse shows the next firings of a documented example.
func ExampleParse() {
	s, err := Parse("cron(15 10 ? * 6L 2019-2022)") // last Friday of each month
	if err != nil {
		panic(err)
	}
	at := time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC)
	for range 4 {
		at = s.Next(at)
		fmt.Println(at)
	}
	// Output:
	// 2022-10-28 10:15:00 +0000 UTC
	// 2022-11-25 10:15:00 +0000 UTC
	// 2022-12-30 10:15:00 +0000 UTC
	// 0001-01-01 00:00:00 +0000 UTC
}

func BenchmarkCronNext(b *testing.B) {
	for _, expr := range []string{
		"cron(0/5 8-17 ? * MON-FRI *)",
		"cron(15 10 ? * 6L *)",
		"cron(0 0 30 2 ? *)", // never fires: the worst case walks every month to 2199
	} {
		s, err := Parse(expr)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
		b.Run(expr, func(b *testing.B) {
			for b.Loop() {
				s.Next(start)
			}
		})
	}
}
