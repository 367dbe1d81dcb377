package streamproc_test

import (
	"encoding/json"
	"testing"

	"github.com/streamproc/streamproc"
)

// Numbers encode as JSON numbers with every digit, so table output reads
// as the user wrote it; something that is not a number stays a string
// rather than making the JSON invalid.
func TestNumberJSON(t *testing.T) {
	tests := []struct {
		in   streamproc.Number
		want string
	}{
		{"1174681441692635136", `1174681441692635136`},
		{"123456789012345678901234567890", `123456789012345678901234567890`},
		{"-0.50", `-0.50`},
		{"1E+3", `1E+3`},
		{"", `""`},
		{"NaN", `"NaN"`},
		{"1 2", `"1 2"`},
		{`{"a":1}`, `"{\"a\":1}"`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(streamproc.Item{"n": tc.in, "l": []any{tc.in}})
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if want := `{"l":[` + tc.want + `],"n":` + tc.want + `}`; string(b) != want {
			t.Errorf("%q encodes as %s, want %s", tc.in, b, want)
		}
	}
}
