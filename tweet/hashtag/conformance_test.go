package hashtag

import (
	"os"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// fixturePath is twitter-text's conformance/extract.yml in the project's
// shared fixtures, relative to this package directory.
const fixturePath = "../../testdata/fixtures/twitter-text-extract.yml"

type listCase struct {
	Description string   `yaml:"description"`
	Text        string   `yaml:"text"`
	Expected    []string `yaml:"expected"`
}

type indexedCase struct {
	Description string `yaml:"description"`
	Text        string `yaml:"text"`
	Expected    []struct {
		Hashtag string `yaml:"hashtag"`
		Indices []int  `yaml:"indices"`
	} `yaml:"expected"`
}

type extractFixture struct {
	Tests struct {
		Hashtags            []listCase    `yaml:"hashtags"`
		HashtagsFromAstral  []listCase    `yaml:"hashtags_from_astral"`
		HashtagsWithIndices []indexedCase `yaml:"hashtags_with_indices"`
		URLs                []listCase    `yaml:"urls"`
		URLsWithIndices     []struct {
			Description string `yaml:"description"`
			Text        string `yaml:"text"`
			Expected    []struct {
				URL     string `yaml:"url"`
				Indices []int  `yaml:"indices"`
			} `yaml:"expected"`
		} `yaml:"urls_with_indices"`
	} `yaml:"tests"`
}

// loadFixture reads the conformance file. A missing file skips the test on a
// developer's machine but fails it in CI, where shared/ is always laid out
// and a skip would hide that the conformance suite never ran.
func loadFixture(t *testing.T) extractFixture {
	t.Helper()
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("conformance fixture unavailable in CI: %v", err)
		}
		t.Skipf("conformance fixture unavailable: %v", err)
	}
	var f extractFixture
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("parse %s: %v", fixturePath, err)
	}
	// Guard against a renamed section silently turning this into a no-op.
	if len(f.Tests.Hashtags) == 0 || len(f.Tests.HashtagsWithIndices) == 0 {
		t.Fatalf("%s: hashtag sections missing or empty", fixturePath)
	}
	return f
}

func TestConformance(t *testing.T) {
	f := loadFixture(t)
	total, passed := 0, 0
	check := func(name string, run func(t *testing.T)) {
		total++
		if t.Run(name, run) {
			passed++
		}
	}

	for _, sec := range []struct {
		name  string
		cases []listCase
	}{
		{"hashtags", f.Tests.Hashtags},
		{"hashtags_from_astral", f.Tests.HashtagsFromAstral},
	} {
		for _, c := range sec.cases {
			check(sec.name+"/"+c.Description, func(t *testing.T) {
				got := Extract(c.Text)
				if !equalStrings(got, c.Expected) {
					t.Errorf("Extract(%q) = %q, want %q", c.Text, got, c.Expected)
				}
				// The indexed form must agree, and its indices must frame
				// each tag in the text.
				ents := ExtractWithIndices(c.Text)
				if !equalStrings(entityTexts(ents), c.Expected) {
					t.Errorf("ExtractWithIndices(%q) texts = %q, want %q", c.Text, entityTexts(ents), c.Expected)
				}
				checkIndices(t, c.Text, ents)
			})
		}
	}

	for _, c := range f.Tests.HashtagsWithIndices {
		check("hashtags_with_indices/"+c.Description, func(t *testing.T) {
			var want []Entity
			var wantTexts []string
			for _, e := range c.Expected {
				if len(e.Indices) != 2 {
					t.Fatalf("bad fixture indices %v", e.Indices)
				}
				want = append(want, Entity{Text: e.Hashtag, Start: e.Indices[0], End: e.Indices[1]})
				wantTexts = append(wantTexts, e.Hashtag)
			}
			got := ExtractWithIndices(c.Text)
			if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
				t.Errorf("ExtractWithIndices(%q) = %+v, want %+v", c.Text, got, want)
			}
			if g := Extract(c.Text); !equalStrings(g, wantTexts) {
				t.Errorf("Extract(%q) = %q, want %q", c.Text, g, wantTexts)
			}
		})
	}
	t.Logf("twitter-text hashtag conformance: %d/%d cases pass", passed, total)
}

// equalStrings compares treating nil and empty alike: the fixture writes "no
// tag" as [], and the API returns nil.
func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func entityTexts(ents []Entity) []string {
	var out []string
	for _, e := range ents {
		out = append(out, e.Text)
	}
	return out
}

// checkIndices asserts that every entity's code point span is a hash sign
// followed by its text, and that entities are in order without overlap.
func checkIndices(t *testing.T, text string, ents []Entity) {
	t.Helper()
	runes := []rune(text)
	prevEnd := 0
	for _, e := range ents {
		if e.Start < prevEnd || e.End <= e.Start || e.End > len(runes) {
			t.Errorf("%q: entity %+v out of range or order (prev end %d, %d code points)", text, e, prevEnd, len(runes))
			return
		}
		if sign := runes[e.Start]; sign != '#' && sign != '＃' {
			t.Errorf("%q: entity %+v does not start at a hash sign but at %q", text, e, sign)
		}
		if body := string(runes[e.Start+1 : e.End]); body != e.Text {
			t.Errorf("%q: entity %+v spans %q", text, e, body)
		}
		prevEnd = e.End
	}
}
