package hashtag

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// e builds the expected entity for tag at code point index start, with a
// one-code-point hash sign.
func e(tag string, start int) Entity {
	return Entity{Text: tag, Start: start, End: start + 1 + utf8.RuneCountInString(tag)}
}

var ownCases = []struct {
	name string
	text string
	want []Entity
}{
	{"empty", "", nil},
	{"no sign", "just words, no tags at all", nil},
	{"korean", "오늘 날씨 #좋은하루 최고", []Entity{e("좋은하루", 6)}},
	{"japanese after space", "今日は #晴れ です", []Entity{e("晴れ", 4)}},
	{"japanese glued to text is not a tag", "今日は#晴れ", nil},
	{"japanese after ideographic full stop", "今日は晴れ。#散歩", []Entity{e("散歩", 6)}},
	{"arabic", "مرحبا #السلام عليكم", []Entity{e("السلام", 6)}},
	{"arabic then latin", "#مصر #egypt", []Entity{e("مصر", 0), e("egypt", 5)}},
	{"emoji before", "🎉#party", []Entity{e("party", 1)}},
	{"emoji after", "#party🎉 now", []Entity{e("party", 0)}},
	{"emoji then space", "🎉 #party", []Entity{e("party", 2)}},
	{"emoji with VS16 before", "❤️#love", []Entity{e("love", 2)}},
	{"ZWJ sequence before", "👩‍💻#dev", []Entity{e("dev", 3)}},
	{"keycap emoji is not a tag", "press #️⃣ then #\u20e3x", nil},
	{"all digits", "#123", nil},
	{"digits then letters", "#123abc", []Entity{e("123abc", 0)}},
	{"underscore only", "#_ #__", nil},
	{"underscore and letter", "#_tag", []Entity{e("_tag", 0)}},
	{"glued tags are both dropped", "#tag#tag2", nil},
	{"tag followed by full-width sign", "#tag＃tag2", nil},
	{"double sign", "##tag", []Entity{e("tag", 1)}},
	{"after a dropped tag and a second sign", "#tag##tag2", []Entity{e("tag2", 5)}},
	{"full-width sign", "＃ｈａｓｈ and ＃tag", []Entity{e("ｈａｓｈ", 0), e("tag", 10)}},
	{"letters before sign", "abc#tag", nil},
	{"digit before sign", "1#tag", nil},
	{"html entity", "it&#39;s", nil},
	{"ampersand before sign", "&#tag", nil},
	{"punctuation after", "#tag. #tag, #tag!", []Entity{e("tag", 0), e("tag", 6), e("tag", 12)}},
	{"scheme after tag", "#http://example.com", nil},
	{"duplicates kept", "#a #a", []Entity{e("a", 0), e("a", 3)}},
	{"newline separated", "#a\n#b", []Entity{e("a", 0), e("b", 3)}},
	{"astral letter", "#𠀡", []Entity{e("𠀡", 0)}},
	{"invalid UTF-8 before sign", "\xff#tag", []Entity{e("tag", 1)}},
	{"invalid UTF-8 ends tag", "#ta\xffg", []Entity{e("ta", 0)}},

	// Tags inside URLs are dropped, as twitter-text does.
	{"url fragment", "http://x.com/#foo", nil},
	{"url fragment then tag", "see http://x.com/#foo and #bar", []Entity{e("bar", 26)}},
	{"bare domain fragment", "x.com/#foo", nil},
	{"https with path", "https://example.org/a/b/#frag #real", []Entity{e("real", 30)}},
	{"fragment after query", "https://example.com/p?q=1&x=/#frag", nil},
	// twitter-text's Java and JS versions disagree here; this follows Java.
	{"query without path", "example.com?#frag", nil},
	{"query after slash", "example.com/?#frag", nil},
	{"balanced parens", "http://en.wikipedia.org/wiki/X_(#foo)", nil},
	{"one-letter tld is no url", "file.a/#foo", []Entity{e("foo", 7)}},
	{"no tld is no url", "http://localhost/#foo", []Entity{e("foo", 17)}},
	{"bare domain after slash is no url", "/example.com/#foo", []Entity{e("foo", 13)}},
	{"t.co links stop at the slug", "https://t.co/abc/#foo", []Entity{e("foo", 17)}},
	{"space ends url", "example.com/ #foo", []Entity{e("foo", 13)}},
	{"group right after the slash is in the path", "x.com/(#b)", nil},
	{"group after a non-ending character is not", "x.com/*(#b)", []Entity{e("b", 8)}},
	{"unicode host after protocol", "http://例え.jp/#x", nil},
	{"ideographic full stop splits host labels", "http://a。b.co/#z", nil},
	{"empty host label is no url", "http://ab。.co/#z", []Entity{e("z", 14)}},
	{"protocol glued to a word is no url", "1http://例え.jp/#x", []Entity{e("x", 14)}},
	// Known deviation: twitter-text knows "txt" is no TLD and extracts "x".
	{"any letters make a tld", "notes.txt/#x", nil},
	{"url starting inside a tag does not hide later tags",
		"#日本example.com/#tag", []Entity{e("日本example", 0), e("tag", 15)}},
}

func TestOwnCases(t *testing.T) {
	for _, c := range ownCases {
		t.Run(c.name, func(t *testing.T) {
			got := ExtractWithIndices(c.text)
			if len(got) != len(c.want) || (len(got) > 0 && !reflect.DeepEqual(got, c.want)) {
				t.Errorf("ExtractWithIndices(%q)\n got  %+v\n want %+v", c.text, got, c.want)
			}
			wantTexts := entityTexts(c.want)
			if g := Extract(c.text); !equalStrings(g, wantTexts) {
				t.Errorf("Extract(%q) = %q, want %q", c.text, g, wantTexts)
			}
			checkIndices(t, c.text, got)
		})
	}
}

func TestNoTagsReturnsNil(t *testing.T) {
	if got := Extract("no tags #123"); got != nil {
		t.Errorf("Extract = %#v, want nil", got)
	}
	if got := ExtractWithIndices("no tags #123"); got != nil {
		t.Errorf("ExtractWithIndices = %#v, want nil", got)
	}
}

func TestLongInputsStayLinear(t *testing.T) {
	// Many dotted words and tags after slashes force the URL pass over every
	// position; bounded host scans keep this quick.
	for _, text := range []string{
		strings.Repeat("a.", 50000) + "/#tag " + strings.Repeat("x/#y ", 20000),
		// Accented letters may both precede a host and be part of one.
		strings.Repeat("é", 20000) + ".com/#x " + strings.Repeat("x/#y ", 20000),
	} {
		if got := Extract(text); len(got) != 20001 {
			t.Fatalf("got %d tags, want 20001", len(got))
		}
	}
}
