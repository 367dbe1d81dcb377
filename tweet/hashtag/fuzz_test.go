package hashtag

import (
	"testing"
	"unicode/utf8"
)

// FuzzExtract checks invariants that hold for any input, valid UTF-8 or not:
// no panic, both functions agree, every entity's code point span is a hash
// sign followed by its text, entities are ordered and disjoint, and a tag
// extracted on its own comes back unchanged.
func FuzzExtract(f *testing.F) {
	for _, c := range ownCases {
		f.Add(c.text)
	}
	f.Add(benchTweet)
	f.Add("#tag#tag2 ##x ＃ｙ #️⃣ http://a.bc/(#d) e.fg/?#h &#1; #\u0300 \xc3#i")
	f.Fuzz(func(t *testing.T, text string) {
		ents := ExtractWithIndices(text)
		tags := Extract(text)
		if !equalStrings(tags, entityTexts(ents)) {
			t.Fatalf("Extract = %q, ExtractWithIndices texts = %q", tags, entityTexts(ents))
		}
		checkIndices(t, text, ents)
		for _, e := range ents {
			if e.Text == "" || !utf8.ValidString(e.Text) {
				t.Fatalf("bad tag text %q", e.Text)
			}
			if again := Extract("#" + e.Text); len(again) != 1 || again[0] != e.Text {
				t.Fatalf("Extract(%q) = %q, want [%q]", "#"+e.Text, again, e.Text)
			}
		}
	})
}
