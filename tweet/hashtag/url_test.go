package hashtag

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// urlDeviations are twitter-text URL cases the simplified recogniser gets
// wrong, all because it accepts any 2-63 letter ASCII top-level domain
// instead of IANA's list (see url.go). They only matter to hashtags whose
// sign directly follows such a pseudo-URL's path.
var urlDeviations = map[string]string{
	"Extract URLs without protocol not on (com|org|edu|gov|net) domains":                 "baz, comm, somecom... taken as TLDs",
	"DO NOT extract URLs containing trailing underscores in the domain with a subdomain": "twitter taken as a TLD",
	"Extract domain followed by Japanese characters":                                     "non-ASCII TLDs not recognised",
	"DO NOT extract .bz2 file name as URL":                                               "tar taken as a TLD",
	"DO NOT extract URL with gTLD followed by @ sign":                                    "doe taken as a TLD",
	"DO NOT extract URL with ccTLD followed by @ sign":                                   "doe taken as a TLD",
	"Extract URLs with IDN(not encoded)":                                                 "non-ASCII TLDs not recognised",
}

// foundURL is a URL and its start in code points, -1 where the fixture gives
// no indices.
type foundURL struct {
	url   string
	start int
}

func allURLs(text string, withStart bool) []foundURL {
	var out []foundURL
	u := urlScanner{text: text}
	for {
		s, e, ok := u.next(len(text))
		if !ok {
			return out
		}
		start := -1
		if withStart {
			start = utf8.RuneCountInString(text[:s])
		}
		out = append(out, foundURL{text[s:e], start})
	}
}

// TestURLRecognizer checks the URL extents, which decide the hashtags that
// are dropped, against twitter-text's URL cases.
func TestURLRecognizer(t *testing.T) {
	f := loadFixture(t)
	type urlCase struct {
		desc, text string
		withStart  bool
		want       []foundURL
	}
	var cases []urlCase
	for _, c := range f.Tests.URLs {
		uc := urlCase{desc: c.Description, text: c.Text}
		for _, w := range c.Expected {
			uc.want = append(uc.want, foundURL{w, -1})
		}
		cases = append(cases, uc)
	}
	for _, c := range f.Tests.URLsWithIndices {
		uc := urlCase{desc: c.Description, text: c.Text, withStart: true}
		for _, w := range c.Expected {
			uc.want = append(uc.want, foundURL{w.URL, w.Indices[0]})
		}
		cases = append(cases, uc)
	}
	if len(cases) == 0 {
		t.Fatal("no URL cases in fixture")
	}
	passed := 0
	for _, c := range cases {
		if _, excluded := urlDeviations[c.desc]; excluded {
			continue
		}
		got := allURLs(c.text, c.withStart)
		if len(got) != len(c.want) || len(got) > 0 && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q\n got  %+v\n want %+v", c.desc, c.text, got, c.want)
			continue
		}
		passed++
	}
	t.Logf("twitter-text URL cases: %d/%d pass, %d known deviations", passed, len(cases), len(urlDeviations))
}
