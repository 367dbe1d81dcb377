package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a cron(Minutes Hours Day-of-month Month Day-of-week Year)
// schedule. It follows EventBridge's dialect (Quartz's, minus seconds):
//
//   - Day-of-week counts from 1 = SUN to 7 = SAT; month and day-of-week
//     accept JAN–DEC and SUN–SAT, in any letter case.
//   - Exactly one of day-of-month and day-of-week is "?"; the other selects
//     the days, so the two are never combined.
//   - "a/n" means a, a+n, … up to the field's maximum; "a-b/n" stops at b;
//     a range whose start is after its end wraps around (22-2 hours, FRI-MON),
//     except in the year field.
//   - Day-of-month L is the month's last day, LW its last weekday (Mon–Fri),
//     and nW the weekday nearest day n without leaving the month: 1W on a
//     Saturday is Monday the 3rd, 31W on a Sunday is Friday the 29th. A month
//     without day n has no nW firing, just as it has no firing for plain n.
//   - Day-of-week L alone is 7 (SAT); nL is the month's last day n (6L = last
//     Friday); n#k is its k-th day n (3#2 = second Tuesday), k in 1–5, and a
//     month with no k-th such day has no firing.
//   - L, W and # stand alone in their field: EventBridge allows only one "#"
//     expression, and Quartz, whose dialect this is, rejects lists with L or W.
//   - Years run from 1970 to 2199; Next returns the zero time after that.
type Cron struct {
	expr    string
	minutes bitset
	hours   bitset
	months  bitset // indexed by month-1
	years   bitset // indexed by year-1970
	days    dayRule
}

// bitset holds up to 256 small values; every field but year fits in one word,
// the year (230 values) in four.
type bitset [4]uint64

func (b *bitset) set(i int)      { b[i>>6] |= 1 << (i & 63) }
func (b *bitset) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }

// next returns the smallest member ≥ i, or -1.
func (b *bitset) next(i int) int {
	for ; i < 256; i++ {
		if w := b[i>>6] >> (i & 63); w == 0 {
			i |= 63 // skip the rest of an empty word
		} else if w&1 != 0 {
			return i
		}
	}
	return -1
}

type dayKind uint8

const (
	domSet            dayKind = iota // mask of days of the month
	domLast                          // L
	domLastWeekday                   // LW
	domNearestWeekday                // nW
	dowSet                           // mask of days of the week
	dowLast                          // nL
	dowNth                           // n#k
)

// dayRule is whichever of day-of-month and day-of-week is not "?".
type dayRule struct {
	kind    dayKind
	mask    bitset // domSet: bit d for day d; dowSet: bit w for weekday w (1 = SUN)
	day     int    // domNearestWeekday
	weekday int    // dowLast, dowNth: 1 = SUN … 7 = SAT
	nth     int    // dowNth
}

// field describes one cron field: its range, its names and which wildcard
// punctuation EventBridge allows in it.
type field struct {
	name     string
	min, max int
	names    map[string]int
	allowed  string
}

var monthNames = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
}

var weekdayNames = map[string]int{
	"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7,
}

const (
	fMinutes = iota
	fHours
	fDayOfMonth
	fMonth
	fDayOfWeek
	fYear
)

var fields = [6]field{
	{name: "minutes", min: 0, max: 59, allowed: ",-*/"},
	{name: "hours", min: 0, max: 23, allowed: ",-*/"},
	{name: "day-of-month", min: 1, max: 31, allowed: ",-*?/"},
	{name: "month", min: 1, max: 12, names: monthNames, allowed: ",-*/"},
	{name: "day-of-week", min: 1, max: 7, names: weekdayNames, allowed: ",-*?#"},
	{name: "year", min: 1970, max: 2199, allowed: ",-*/"},
}

const (
	minYear = 1970
	maxYear = 2199
)

func parseCron(expr string) (*Cron, error) {
	inner := expr[len("cron(") : len(expr)-1]
	parts := strings.Fields(inner)
	if len(parts) != 6 {
		return nil, syntaxErr(expr, "cron needs 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(parts))
	}
	dom, dow := parts[fDayOfMonth], parts[fDayOfWeek]
	switch {
	case dom == "?" && dow == "?":
		return nil, syntaxErr(expr, "only one of day-of-month and day-of-week can be \"?\"")
	case dom != "?" && dow != "?":
		return nil, syntaxErr(expr, "one of day-of-month and day-of-week must be \"?\"")
	}
	for i, p := range parts {
		f := &fields[i]
		for _, r := range p {
			if strings.ContainsRune(",-*/?#", r) && !strings.ContainsRune(f.allowed, r) {
				return nil, syntaxErr(expr, "%s does not allow %q, got %q", f.name, string(r), p)
			}
		}
		if strings.Contains(p, "?") && p != "?" {
			return nil, syntaxErr(expr, "\"?\" must be the whole %s field, got %q", f.name, p)
		}
	}
	c := &Cron{expr: expr}
	var err error
	if c.minutes, err = parseList(expr, &fields[fMinutes], parts[fMinutes]); err != nil {
		return nil, err
	}
	if c.hours, err = parseList(expr, &fields[fHours], parts[fHours]); err != nil {
		return nil, err
	}
	if c.months, err = parseList(expr, &fields[fMonth], parts[fMonth]); err != nil {
		return nil, err
	}
	if c.years, err = parseList(expr, &fields[fYear], parts[fYear]); err != nil {
		return nil, err
	}
	if dow == "?" {
		c.days, err = parseDayOfMonth(expr, dom)
	} else {
		c.days, err = parseDayOfWeek(expr, dow)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func parseDayOfMonth(expr, p string) (dayRule, error) {
	f := &fields[fDayOfMonth]
	switch {
	case strings.EqualFold(p, "L"):
		return dayRule{kind: domLast}, nil
	case strings.EqualFold(p, "LW"):
		return dayRule{kind: domLastWeekday}, nil
	case endsWithFold(p, 'W') && isDigits(p[:len(p)-1]):
		d, err := value(expr, f, p[:len(p)-1], p)
		if err != nil {
			return dayRule{}, err
		}
		return dayRule{kind: domNearestWeekday, day: d}, nil
	case strings.ContainsAny(p, "LWlw"):
		return dayRule{}, syntaxErr(expr, "day-of-month allows L, LW or nW (15W) only on their own, got %q", p)
	}
	set, err := parseList(expr, f, p)
	if err != nil {
		return dayRule{}, err
	}
	// parseList indexes from the field's minimum; day rules index by day.
	var mask bitset
	for d := 1; d <= 31; d++ {
		if set.has(d - 1) {
			mask.set(d)
		}
	}
	return dayRule{kind: domSet, mask: mask}, nil
}

func parseDayOfWeek(expr, p string) (dayRule, error) {
	f := &fields[fDayOfWeek]
	switch {
	case strings.Contains(p, "#"):
		if strings.Contains(p, ",") {
			return dayRule{}, syntaxErr(expr, "day-of-week allows only one expression with \"#\", got %q", p)
		}
		w, k, _ := strings.Cut(p, "#")
		wd, err := value(expr, f, w, p)
		if err != nil {
			return dayRule{}, err
		}
		n, err := strconv.Atoi(k)
		if !isDigits(k) || err != nil || n < 1 || n > 5 {
			return dayRule{}, syntaxErr(expr, "day-of-week \"#\" needs an occurrence from 1 to 5 (3#2 = second Tuesday), got %q", p)
		}
		return dayRule{kind: dowNth, weekday: wd, nth: n}, nil
	case strings.EqualFold(p, "L"):
		// Quartz reads a lone L as the last day of the week, Saturday.
		var mask bitset
		mask.set(7)
		return dayRule{kind: dowSet, mask: mask}, nil
	case endsWithFold(p, 'L') && !strings.ContainsAny(p[:len(p)-1], ",-*/Ll"):
		wd, err := value(expr, f, p[:len(p)-1], p)
		if err != nil {
			return dayRule{}, err
		}
		return dayRule{kind: dowLast, weekday: wd}, nil
	case strings.ContainsAny(p, "Ll"):
		return dayRule{}, syntaxErr(expr, "day-of-week allows L or nL (6L = last Friday) only on their own, got %q", p)
	}
	set, err := parseList(expr, f, p)
	if err != nil {
		return dayRule{}, err
	}
	var mask bitset
	for w := 1; w <= 7; w++ {
		if set.has(w - 1) {
			mask.set(w)
		}
	}
	return dayRule{kind: dowSet, mask: mask}, nil
}

// parseList parses "item,item,…", each item "*", "v", "a-b", "*/n", "v/n" or
// "a-b/n", into a set indexed by value-f.min.
func parseList(expr string, f *field, p string) (bitset, error) {
	var set bitset
	for item := range strings.SplitSeq(p, ",") {
		if item == "" {
			return set, syntaxErr(expr, "%s has an empty list item in %q", f.name, p)
		}
		base, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if !isDigits(stepStr) || err != nil || n < 1 || n > f.max-f.min {
				return set, syntaxErr(expr, "%s step must be a number from 1 to %d, got %q", f.name, f.max-f.min, item)
			}
			step = n
		}
		var lo, hi int
		switch lo0, hi0, isRange := strings.Cut(base, "-"); {
		case base == "*":
			lo, hi = f.min, f.max
		case isRange:
			var err error
			if lo, err = value(expr, f, lo0, item); err != nil {
				return set, err
			}
			if hi, err = value(expr, f, hi0, item); err != nil {
				return set, err
			}
			if hi < lo && f.name == "year" {
				return set, syntaxErr(expr, "year range must not run backwards, got %q", item)
			}
		default:
			var err error
			if lo, err = value(expr, f, base, item); err != nil {
				return set, err
			}
			hi = lo
			if hasStep {
				hi = f.max // "a/n" runs to the end of the field
			}
		}
		span := f.max - f.min + 1
		if hi < lo {
			hi += span // wrap-around range: walk past the maximum, then fold back
		}
		for v := lo; v <= hi; v += step {
			set.set((v - f.min) % span)
		}
	}
	return set, nil
}

// value parses one number or name of field f; item is quoted in errors.
func value(expr string, f *field, s, item string) (int, error) {
	if v, ok := f.names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	if !isDigits(s) {
		what := "a number"
		switch {
		case f.names != nil && f.name == "month":
			what = "a number or JAN-DEC"
		case f.names != nil:
			what = "a number or SUN-SAT"
		}
		return 0, syntaxErr(expr, "%s value %q in %q is not %s", f.name, s, item, what)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < f.min || v > f.max {
		return 0, syntaxErr(expr, "%s value %s in %q is out of range %d-%d", f.name, s, item, f.min, f.max)
	}
	return v, nil
}

// endsWithFold reports whether s ends in the ASCII upper-case letter c or its
// lower-case form; Quartz, whose dialect this is, ignores letter case.
func endsWithFold(s string, c byte) bool {
	return s != "" && s[len(s)-1]|0x20 == c|0x20
}

func (c *Cron) String() string { return c.expr }

// Next steps through the fields from the year down, skipping a whole year,
// month, day or hour as soon as it cannot match, so even a schedule that
// never fires again costs at most 230 years × 12 months of work.
func (c *Cron) Next(after time.Time) time.Time {
	t := after.UTC()
	if t.Year() < minYear {
		t = time.Date(minYear, 1, 1, 0, 0, 0, 0, time.UTC)
	} else {
		t = t.Truncate(time.Minute).Add(time.Minute)
	}
	y, mo, d, h, mi := t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute()
	// (y, mo, d, h, mi) is the earliest candidate still possible. When a field
	// has to move forward, every field below it restarts at its minimum.
	var days bitset
	cachedY, cachedMo := 0, 0
	for y <= maxYear {
		if !c.years.has(y-minYear) || mo > 12 {
			y, mo, d, h, mi = y+1, 1, 1, 0, 0
			continue
		}
		if !c.months.has(mo - 1) {
			mo, d, h, mi = mo+1, 1, 0, 0
			continue
		}
		if y != cachedY || mo != cachedMo {
			days, cachedY, cachedMo = c.days.inMonth(y, time.Month(mo)), y, mo
		}
		nd := days.next(d)
		if nd < 0 {
			mo, d, h, mi = mo+1, 1, 0, 0
			continue
		}
		if nd != d {
			d, h, mi = nd, 0, 0
		}
		nh := c.hours.next(h)
		if nh < 0 {
			d, h, mi = d+1, 0, 0
			continue
		}
		if nh != h {
			h, mi = nh, 0
		}
		nm := c.minutes.next(mi)
		if nm < 0 {
			h, mi = h+1, 0
			continue
		}
		return time.Date(y, time.Month(mo), d, h, nm, 0, 0, time.UTC)
	}
	return time.Time{}
}

// inMonth returns the days of month m of year y the rule selects, bit d for
// day d.
func (r *dayRule) inMonth(y int, m time.Month) bitset {
	n := daysIn(y, m)
	// first is the weekday of the 1st, 1 = SUN like the cron field.
	first := int(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()) + 1
	weekday := func(d int) int { return (first-1+d-1)%7 + 1 }
	var out bitset
	switch r.kind {
	case domSet:
		for d := 1; d <= n; d++ {
			if r.mask.has(d) {
				out.set(d)
			}
		}
	case domLast:
		out.set(n)
	case domLastWeekday:
		d := n
		switch weekday(n) {
		case 7:
			d = n - 1
		case 1:
			d = n - 2
		}
		out.set(d)
	case domNearestWeekday:
		d := r.day
		if d > n {
			break
		}
		switch weekday(d) {
		case 7: // Saturday: Friday, unless that is in the previous month
			if d == 1 {
				d = 3
			} else {
				d--
			}
		case 1: // Sunday: Monday, unless that is in the next month
			if d == n {
				d -= 2
			} else {
				d++
			}
		}
		out.set(d)
	case dowSet:
		for d := 1; d <= n; d++ {
			if r.mask.has(weekday(d)) {
				out.set(d)
			}
		}
	case dowLast:
		d := n - (weekday(n)-r.weekday+7)%7
		out.set(d)
	case dowNth:
		d := 1 + (r.weekday-first+7)%7 + 7*(r.nth-1)
		if d <= n {
			out.set(d)
		}
	default:
		panic(fmt.Sprintf("schedule: unknown day rule %d", r.kind))
	}
	return out
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
