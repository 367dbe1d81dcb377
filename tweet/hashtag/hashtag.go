// Package hashtag extracts hashtags from tweet text the way Twitter does.
//
// The rules are those of twitter-text (the library behind Twitter's own
// entities) and are checked against its conformance suite:
//
//   - a hashtag is a hash sign, '#' or the full-width '＃' (U+FF03), followed by
//     a run of letters, marks, decimal digits, '_' and a few script-specific
//     joiners (ZWNJ, ZWJ, Hebrew maqaf and geresh, the Japanese wave dash and
//     middle dot, the Tibetan tsheg, the Catalan middle dot, ...);
//   - the run must hold at least one letter or mark, so "#123" is not a tag;
//   - the sign must not be preceded by one of those characters or by '&', so
//     "abc#tag" and "&#39;" are not tags, while emoji, punctuation and
//     variation selectors (U+FE0E, U+FE0F) before it are fine;
//   - the sign must not be followed by U+FE0F or U+20E3, which make it the
//     keycap emoji #️⃣;
//   - a tag directly followed by another hash sign or by "://" is dropped;
//   - a tag whose hash sign lies inside a URL ("http://x.com/#foo") is
//     dropped. URLs are recognised as twitter-text does, except that any
//     top-level domain of 2 to 63 ASCII letters is accepted instead of only
//     those on IANA's list, so "notes.txt/#x" hides #x here and not there.
//
// Twitter's rules are written as one regular expression run left to right;
// the scanner here reproduces its matching order by hand because this sits
// on a stream processor's hot path: on a full-length tweet a pass over the
// bytes with the unicode tables is over twenty times faster than the
// equivalent Go regexp, and it allocates only the result.
package hashtag

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Entity is one hashtag found in a text.
//
// Start and End count Unicode code points, not bytes or UTF-16 units, because
// that is how Twitter's "indices" are expressed. Start is the position of the
// hash sign and End is exclusive, so End-Start is one more than the number of
// code points in Text.
type Entity struct {
	Text       string
	Start, End int
}

// fullWidthHash is U+FF03 FULLWIDTH NUMBER SIGN, which Twitter accepts as a
// hash sign so that tags typed with CJK input methods work.
const fullWidthHash = "\uFF03"

// candidate is a hashtag in byte offsets plus the code point indices Entity
// needs. The scanner collects candidates first because dropping those inside
// URLs needs to look at all of them in order.
type candidate struct {
	hash, body, end int // byte offsets of the sign, the tag text, the end
	cpStart, cpEnd  int // code point offsets of hash and end
	dropped         bool
}

// Extract returns the hashtags of text, without their hash signs, in order of
// appearance. Repeated tags are repeated, as in twitter-text. It returns nil
// when there is none. The strings share memory with text.
func Extract(text string) []string {
	var buf [8]candidate
	cands := scan(text, buf[:0])
	n := countKept(cands)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := range cands {
		if !cands[i].dropped {
			out = append(out, text[cands[i].body:cands[i].end])
		}
	}
	return out
}

// ExtractWithIndices is Extract with the position of each tag, counted in
// code points from the hash sign (see Entity). It returns nil when there is
// no tag. The Text fields share memory with text.
func ExtractWithIndices(text string) []Entity {
	var buf [8]candidate
	cands := scan(text, buf[:0])
	n := countKept(cands)
	if n == 0 {
		return nil
	}
	out := make([]Entity, 0, n)
	for i := range cands {
		c := &cands[i]
		if !c.dropped {
			out = append(out, Entity{Text: text[c.body:c.end], Start: c.cpStart, End: c.cpEnd})
		}
	}
	return out
}

func countKept(cands []candidate) int {
	n := 0
	for i := range cands {
		if !cands[i].dropped {
			n++
		}
	}
	return n
}

// scan appends the hashtags of text to cands, marking those that lie inside a
// URL as dropped.
//
// It follows twitter-text's regexp
//
//	(boundary)([#＃])(?!\uFE0F|\u20E3)(alnum* alpha alnum*)
//
// applied repeatedly, each search resuming where the previous match ended,
// followed by its check that the text after a match does not start with a
// hash sign or "://". The resumption point matters: the boundary consumes the
// character before the sign, so in "#tag#tag2" the second sign has no
// boundary left once "#tag" has matched, and neither tag is extracted.
func scan(text string, cands []candidate) []candidate {
	searchFrom := 0 // byte offset where the regexp would resume
	cpBase, cpPos := 0, 0
	needURLs := false
	nextFull := -2 // cached offset of the next '＃'; -2 means not searched yet
	for i := 0; i < len(text); {
		h, signLen := nextHashSign(text, i, &nextFull)
		if h < 0 {
			break
		}
		i = h + signLen
		if !boundaryBefore(text, h, searchFrom) {
			continue
		}
		// A sign followed by VS16 or the combining keycap is the #️⃣ emoji.
		if r, _ := utf8.DecodeRuneInString(text[i:]); r == 0xFE0F || r == 0x20E3 {
			continue
		}
		end, runes, hasAlpha := tagBody(text, i)
		if !hasAlpha {
			// Not a match: the regexp moves on without consuming anything,
			// so searchFrom stays.
			continue
		}
		searchFrom = end
		if followedByHashOrScheme(text[end:]) {
			i = end
			continue
		}
		cpPos += utf8.RuneCountInString(text[cpBase:h])
		cpBase = h
		cands = append(cands, candidate{
			hash: h, body: i, end: end,
			cpStart: cpPos, cpEnd: cpPos + 1 + runes,
		})
		if h > 0 {
			r, _ := utf8.DecodeLastRuneInString(text[:h])
			needURLs = needURLs || mayEndInURL(r) || signLen > 1 && isUnicodeHostChar(r)
		}
		i = end
	}
	// Most tags follow a space or start the text. Only a sign after a
	// character of a URL path or query can be inside a URL, or, since '＃'
	// is a valid character of an internationalised host name, a full-width
	// sign after any host character. The URL pass runs only then.
	if needURLs && strings.IndexByte(text, '.') >= 0 {
		dropInURLs(text, cands)
	}
	return cands
}

// nextHashSign returns the byte offset and length of the first hash sign at
// or after from, or -1. nextFull caches the position of the next full-width
// sign so that texts with many '#' are not searched for '＃' again each time.
func nextHashSign(text string, from int, nextFull *int) (int, int) {
	if *nextFull != -1 && *nextFull < from {
		*nextFull = strings.Index(text[from:], fullWidthHash)
		if *nextFull >= 0 {
			*nextFull += from
		}
	}
	h := strings.IndexByte(text[from:], '#')
	if h >= 0 {
		h += from
	}
	switch {
	case h < 0 && *nextFull < 0:
		return -1, 0
	case h < 0 || (*nextFull >= 0 && *nextFull < h):
		return *nextFull, len(fullWidthHash)
	default:
		return h, 1
	}
}

// boundaryBefore reports whether a hash sign at byte h may start a tag. The
// character before it is consumed by the match, so it must lie at or after
// searchFrom; at the start of the text the regexp's ^ stands in for it.
func boundaryBefore(text string, h, searchFrom int) bool {
	if h == 0 {
		return true
	}
	r, size := utf8.DecodeLastRuneInString(text[:h])
	if h-size < searchFrom {
		return false
	}
	// Variation selectors are marks, hence tag characters, yet they end an
	// emoji such as ✌️ and Twitter lets a tag start right after them.
	if r == 0xFE0E || r == 0xFE0F {
		return true
	}
	// '&' keeps HTML entities such as "&#39;" from being read as tags.
	return r != '&' && !isTagChar(r)
}

// tagBody scans the run of tag characters starting at byte i and returns its
// end, its length in code points and whether it holds a letter or mark.
func tagBody(text string, i int) (end, runes int, hasAlpha bool) {
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
				hasAlpha = true
			case '0' <= c && c <= '9', c == '_':
			default:
				return i, runes, hasAlpha
			}
			i++
			runes++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case isAlpha(r):
			hasAlpha = true
		case unicode.IsDigit(r), isSpecial(r):
		default:
			return i, runes, hasAlpha
		}
		i += size
		runes++
	}
	return i, runes, hasAlpha
}

// followedByHashOrScheme is twitter-text's end check: "#tag#more" is most
// likely not meant as a tag, and "#http://..." is a URL typed after a sign.
func followedByHashOrScheme(rest string) bool {
	return strings.HasPrefix(rest, "#") || strings.HasPrefix(rest, fullWidthHash) ||
		strings.HasPrefix(rest, "://")
}

// isAlpha reports whether r counts as a letter for the "not all digits" rule:
// any letter or mark, so that tags in scripts written with combining marks
// (Thai, Devanagari, Hebrew points) are whole.
func isAlpha(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsMark(r)
}

// isTagChar reports whether r may appear in a tag: a letter, mark, decimal
// digit or one of the special characters.
func isTagChar(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return isAlpha(r) || unicode.IsDigit(r) || isSpecial(r)
}

// isSpecial lists the non-letter characters twitter-text admits inside tags,
// each because some language uses it inside words.
func isSpecial(r rune) bool {
	switch r {
	case '_',
		0x200C, // ZERO WIDTH NON-JOINER: Persian, Indic scripts
		0x200D, // ZERO WIDTH JOINER: Sinhala, Indic conjuncts
		0xA67E, // CYRILLIC KAVYKA
		0x05BE, // HEBREW PUNCTUATION MAQAF
		0x05F3, // HEBREW PUNCTUATION GERESH
		0x05F4, // HEBREW PUNCTUATION GERSHAYIM
		0xFF5E, // FULLWIDTH TILDE, as in #メ～テレ
		0x301C, // WAVE DASH
		0x309B, // KATAKANA-HIRAGANA VOICED SOUND MARK
		0x309C, // KATAKANA-HIRAGANA SEMI-VOICED SOUND MARK
		0x30A0, // KATAKANA-HIRAGANA DOUBLE HYPHEN
		0x30FB, // KATAKANA MIDDLE DOT
		0x3003, // DITTO MARK
		0x0F0B, // TIBETAN MARK INTERSYLLABIC TSHEG
		0x0F0C, // TIBETAN MARK DELIMITER TSHEG BSTAR
		0x00B7: // MIDDLE DOT, as in Catalan #il·lusió
		return true
	}
	return false
}
