package schedule

import (
	"testing"
	"time"
)

func TestRateNext(t *testing.T) {
	tests := []struct {
		expr    string
		created string // "" leaves the rate unanchored (Unix epoch)
		start   string
		want    []string
	}{
		{"rate(1 minute)", leapEve, leapEve, []string{"2024-02-28T23:51:30", "2024-02-28T23:52:30", "2024-02-28T23:53:30"}},
		{"rate(5 minutes)", "2024-02-28T23:58", "2024-02-28T23:58", []string{"2024-02-29T00:03", "2024-02-29T00:08", "2024-02-29T00:13"}},
		{"rate(1 hour)", leapEve, leapEve, []string{"2024-02-29T00:50:30", "2024-02-29T01:50:30"}},
		{"rate(7 days)", "2024-02-28T00:00", "2024-02-28T00:00", []string{"2024-03-06T00:00", "2024-03-13T00:00", "2024-03-20T00:00"}},
		// Counting from creation, not from after: a late start lands on the grid.
		{"rate(5 minutes)", "2024-02-28T23:58", "2024-02-29T01:04:59", []string{"2024-02-29T01:08", "2024-02-29T01:13"}},
		{"rate(5 minutes)", "2024-02-28T23:58", "2024-02-29T01:03", []string{"2024-02-29T01:08"}},
		// Before the rule existed, the first firing is one period after creation.
		{"rate(1 hour)", "2024-02-28T23:58", "2020-01-01T00:00", []string{"2024-02-29T00:58"}},
		// Sub-second creation times are kept.
		{"rate(1 minute)", "2024-02-28T23:58:00.5Z", "2024-02-28T23:59:00.4Z", []string{"2024-02-28T23:59:00.5Z", "2024-02-29T00:00:00.5Z"}},
		{"rate(1 minute)", "2024-02-28T23:58:00.5Z", "2024-02-28T23:59:00.6Z", []string{"2024-02-29T00:00:00.5Z"}},
		// Unanchored rates count from the Unix epoch, so they sit on whole
		// periods: midnight for days.
		{"rate(1 day)", "", leapEve, []string{"2024-02-29T00:00", "2024-03-01T00:00"}},
		{"rate(15 minutes)", "", leapEve, []string{"2024-02-29T00:00", "2024-02-29T00:15"}},
		{"rate(1 minute)", "", "1969-12-31T00:00", []string{"1970-01-01T00:01"}},
		// Far from the anchor, beyond what a time.Duration spans.
		{"rate(1 day)", "", "2500-06-01T12:00", []string{"2500-06-02T00:00"}},
		{"rate(1 day)", "0001-01-01T00:00", "2999-12-31T12:00", []string{"3000-01-01T00:00"}},
	}
	for _, tc := range tests {
		t.Run(tc.expr+"@"+tc.start, func(t *testing.T) {
			s, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if tc.created != "" {
				s = Bind(s, utc(t, tc.created))
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

func TestRateBind(t *testing.T) {
	s, err := Parse("rate(12 hours)")
	if err != nil {
		t.Fatal(err)
	}
	r := s.(Rate)
	if _, ok := r.Created(); ok {
		t.Error("a parsed rate is anchored")
	}
	if r.Every() != 12*time.Hour {
		t.Errorf("Every = %v", r.Every())
	}
	created := utc(t, leapEve)
	b := Bind(s, created).(Rate)
	if c, ok := b.Created(); !ok || !c.Equal(created) {
		t.Errorf("Created = %v, %v", c, ok)
	}
	if b.String() != "rate(12 hours)" {
		t.Errorf("String = %q", b.String())
	}
	c, _ := Parse("cron(0 0 * * ? *)")
	if Bind(c, created) != c {
		t.Error("Bind changed a cron schedule")
	}
}

func TestRateExtremes(t *testing.T) {
	s, _ := Parse("rate(1 minute)")
	// Times near the end of what time.Time holds have no next firing to
	// return; they must not wrap around into the past.
	// The last whole minute time.Time holds is maxUnix-maxUnix%60 (7 s before the end).
	far := time.Unix(maxUnix-30, 0)
	if got, want := s.Next(far), time.Unix(maxUnix-maxUnix%60, 0).UTC(); !got.Equal(want) {
		t.Errorf("Next(%v) = %v, want %v", far, got, want)
	}
	far = time.Unix(maxUnix-maxUnix%60, 0)
	if got := s.Next(far); !got.IsZero() {
		t.Errorf("Next(%v) = %v, want zero", far, got)
	}
	var zero Rate
	if got := zero.Next(time.Now()); !got.IsZero() {
		t.Errorf("zero Rate fired at %v", got)
	}
	big, err := Parse("rate(100000 days)")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := big.Next(time.Unix(0, 0)), time.Unix(100000*86400, 0).UTC(); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
	if _, err := Parse("rate(" + "106751 days" + ")"); err != nil { // the largest a Duration holds
		t.Error(err)
	}
}
