package hashtag

import (
	"unicode"
	"unicode/utf8"
)

// This file holds the little URL recognition that hashtag extraction needs:
// twitter-text extracts URLs too and then removes any hashtag that starts
// inside one, so that "http://x.com/#foo" yields no tag. Only the extent of
// URLs matters here, so the recogniser follows twitter-text's URL regexp
// (the Java version, where the Java and JavaScript ones differ) for where a
// URL starts and ends, with two simplifications:
//
//   - a top-level domain is any run of 2 to 63 ASCII letters (or an "xn--"
//     punycode label) rather than one of the ~1,500 names on IANA's list,
//     which would have to be shipped and kept current, so "notes.txt/#x"
//     counts as a URL;
//   - of the IDN conversion that validates host names only the cheap checks
//     are made (see validHost).
//
// Both only matter when a tag's sign sits right inside such a pseudo-URL.

const (
	// maxURLLength is twitter-text's limit, counted in UTF-16 units with the
	// protocol, above which a match is not a URL.
	maxURLLength = 4096
	// maxTcoSlug is the longest t.co slug twitter-text accepts.
	maxTcoSlug = 40
	// maxHostScan bounds how far a host name is scanned. No valid host is
	// longer, and the bound keeps a text of many dotted words linear.
	maxHostScan = 255
	// maxLabel is the DNS limit on one label, which twitter-text enforces
	// through IDN conversion.
	maxLabel = 63
)

// asciiSet is a set of ASCII bytes.
type asciiSet [4]uint32

func makeASCIISet(chars string) asciiSet {
	var s asciiSet
	for i := 0; i < len(chars); i++ {
		c := chars[i]
		s[c>>5] |= 1 << (c & 31)
	}
	return s
}

func (s *asciiSet) has(c byte) bool { return c < utf8.RuneSelf && s[c>>5]&(1<<(c&31)) != 0 }

const alnumASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

var (
	// Characters of a URL path, and those a path may end with (so that
	// "x.com/foo." does not swallow the full stop).
	pathChars       = makeASCIISet(alnumASCII + "!*';:=+,.$/%#[]-_~|&@")
	pathEndingChars = makeASCIISet(alnumASCII + "=_#/-+")
	// The same for a query string.
	queryChars       = makeASCIISet(alnumASCII + "!?*'();:&=+$/%#[]-_.,~|@")
	queryEndingChars = makeASCIISet(alnumASCII + "-_&=#/")
	// ASCII punctuation that cannot be part of a non-ASCII host name.
	unicodeHostPunct = makeASCIISet("-_!\"#$%&'()*+,./:;<=>?@[\\]^`{|}~ \t\n\v\f\r")
	// Characters that keep a URL from starting right after them.
	invalidURLPreceding = makeASCIISet(alnumASCII + "@$#")
	// Characters that may not follow a top-level domain.
	invalidTLDFollower = makeASCIISet(alnumASCII + "@+-")
)

// isLatinAccent reports whether r is one of the accented Latin letters and
// combining diacritics that twitter-text allows in host names and paths.
func isLatinAccent(r rune) bool {
	switch {
	case 0xC0 <= r && r <= 0xD6, 0xD8 <= r && r <= 0xF6, 0xF8 <= r && r <= 0x24F,
		0x300 <= r && r <= 0x36F, 0x1E00 <= r && r <= 0x1EFF:
		return true
	}
	switch r {
	case 0x253, 0x254, 0x256, 0x257, 0x259, 0x25B, 0x263, 0x268, 0x26F, 0x272, 0x289, 0x28B, 0x2BB:
		return true
	}
	return false
}

func isCyrillic(r rune) bool { return 0x400 <= r && r <= 0x4FF }

func isPathChar(r rune) bool {
	if r < utf8.RuneSelf {
		return pathChars.has(byte(r))
	}
	return r == 0x2013 || isLatinAccent(r) || isCyrillic(r) // 0x2013: EN DASH
}

func isPathEndingChar(r rune) bool {
	if r < utf8.RuneSelf {
		return pathEndingChars.has(byte(r))
	}
	return isLatinAccent(r) || isCyrillic(r)
}

// isHostChar is a character of an ASCII-style host label.
func isHostChar(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return isLatinAccent(r)
}

// isUnicodeHostChar is a character of an internationalised host label, which
// twitter-text only accepts after an explicit http:// or https://.
func isUnicodeHostChar(r rune) bool {
	if r < utf8.RuneSelf {
		return !unicodeHostPunct.has(byte(r))
	}
	return !unicode.Is(unicode.Z, r) && !(0x2000 <= r && r <= 0x206F) // 0x2000-0x206F: General Punctuation
}

func validURLPreceding(r rune) bool {
	if r < utf8.RuneSelf {
		return !invalidURLPreceding.has(byte(r))
	}
	return r != 0xFF20 && r != 0xFF03 && r != 0xFFFE && r != 0xFEFF && r != 0xFFFF // ＠ ＃ and non-characters
}

// mayEndInURL reports whether a hash sign after r could lie inside a URL: the
// character before it would have to belong to the URL's path or query.
func mayEndInURL(r rune) bool {
	return isPathChar(r) || r == '(' || r == ')' || r < utf8.RuneSelf && queryChars.has(byte(r))
}

// dropInURLs marks the candidates that twitter-text would remove for
// overlapping a URL. Its rule is to sort hashtags and URLs by start and drop
// every entity that starts before the end of the last one kept; hashtags never
// overlap each other, so the URLs are produced lazily and merged in.
func dropInURLs(text string, cands []candidate) {
	last := cands[len(cands)-1].hash
	u := urlScanner{text: text}
	prevEnd := 0
	ci := 0
	for {
		start, end, ok := u.next(last)
		for ; ci < len(cands) && (!ok || cands[ci].hash < start); ci++ {
			c := &cands[ci]
			if prevEnd > c.hash {
				c.dropped = true
			} else {
				prevEnd = c.end
			}
		}
		if !ok {
			return
		}
		if prevEnd <= start {
			prevEnd = end
		}
	}
}

// urlScanner finds URLs left to right as repeated searches with
// twitter-text's URL regexp would, each search resuming after the previous
// match even when that match was then rejected.
type urlScanner struct {
	text string
	from int
}

// next returns the byte span of the next accepted URL that starts no later
// than limit.
func (u *urlScanner) next(limit int) (start, end int, ok bool) {
	text := u.text
	for i := u.from; i < len(text) && i <= limit; {
		r, size := utf8.DecodeRuneInString(text[i:])
		// The regexp tries to consume a preceding character first and only
		// then the ^ anchor.
		m := urlMatch{}
		if validURLPreceding(r) {
			m = matchURL(text, i+size, r)
		}
		if !m.matched && i == 0 {
			m = matchURL(text, 0, -1)
		}
		if !m.matched {
			i += size
			continue
		}
		i = m.matchEnd
		u.from = i
		if m.accepted {
			return m.start, m.end, true
		}
	}
	u.from = len(text)
	return 0, 0, false
}

type urlMatch struct {
	matched, accepted bool
	start, end        int // the URL as twitter-text reports it
	matchEnd          int // where the regexp's next search resumes
}

// matchURL matches a URL starting at byte s, after the character prev (-1 at
// the start of the text).
func matchURL(text string, s int, prev rune) urlMatch {
	proto := 0
	if hasPrefixFold(text[s:], "https://") {
		proto = len("https://")
	} else if hasPrefixFold(text[s:], "http://") {
		proto = len("http://")
	}
	d := s + proto
	hostEnd, ok := asciiHost(text, d)
	// The regexp guards non-ASCII hosts with a lookbehind for the protocol
	// rather than with the protocol group, so in "1http://例え.jp/#x", where
	// the protocol cannot start a URL after the '1', the host still matches
	// from the second slash; the match is then rejected for lack of a
	// protocol, but it has consumed the text.
	if !ok && (proto > 0 || hasSuffixFold(text[:s], "http://") || hasSuffixFold(text[:s], "https://")) {
		hostEnd, ok = unicodeHost(text, d)
	}
	if !ok {
		return urlMatch{}
	}
	p := hostEnd
	if p < len(text) && text[p] == ':' {
		q := p + 1
		for q < len(text) && '0' <= text[q] && text[q] <= '9' {
			q++
		}
		if q > p+1 {
			p = q
		}
	}
	if p < len(text) && text[p] == '/' {
		p = pathEnd(text, p)
	}
	if p < len(text) && text[p] == '?' {
		p = queryEnd(text, p, len(text))
	}
	m := urlMatch{matched: true, start: s, end: p, matchEnd: p}
	// Without a protocol, "a/b.com" or "x_y.com" is more likely a file
	// name or an identifier than a link.
	if proto == 0 && (prev == '-' || prev == '_' || prev == '.' || prev == '/') {
		return m
	}
	if proto > 0 && hasPrefixFold(text[d:], "t.co/") {
		// t.co links end with their slug: anything after it is not part of
		// the link Twitter made.
		slug := d + len("t.co/")
		q := slug
		for q < p && isASCIIAlnum(text[q]) {
			q++
		}
		if q > slug {
			if q-slug > maxTcoSlug {
				return m
			}
			m.end = q
			if q < p && text[q] == '?' {
				m.end = queryEnd(text, q, p)
			}
		}
	}
	n := utf16Len(text[s:m.end])
	if proto == 0 {
		// twitter-text counts the https:// it would add to a bare host.
		n += len("https://")
	}
	if !validHost(text[d:hostEnd]) || n > maxURLLength {
		return m
	}
	m.accepted = true
	return m
}

// asciiHost matches subdomain* domain tld at d, where labels are ASCII
// letters, digits and Latin accents with inner '-' (and '_' in subdomains).
// Like the regexp, it prefers the longest host whose last label but one has
// no '_' and is followed by a top-level domain.
func asciiHost(text string, d int) (int, bool) {
	best := -1
	pos := d
	for pos < len(text) && pos-d <= maxHostScan {
		underscore, endsWell := false, false
		start := pos
	label:
		for pos < len(text) && pos-d <= maxHostScan {
			r, size := utf8.DecodeRuneInString(text[pos:])
			switch {
			case isHostChar(r):
				endsWell = true
			case (r == '-' || r == '_') && pos > start:
				endsWell = false
				underscore = underscore || r == '_'
			default:
				break label
			}
			pos += size
		}
		if !endsWell || pos >= len(text) || text[pos] != '.' {
			break
		}
		pos++
		if !underscore {
			if end, ok := tldEnd(text, pos, true); ok {
				best = end
			}
		}
	}
	if best < 0 || best-d > maxHostScan {
		return 0, false
	}
	return best, true
}

// unicodeHost matches one internationalised label, a dot and a top-level
// domain at d, which is all twitter-text accepts for non-ASCII hosts.
func unicodeHost(text string, d int) (int, bool) {
	pos := d
	endsWell := false
label:
	for pos < len(text) && pos-d <= maxHostScan {
		r, size := utf8.DecodeRuneInString(text[pos:])
		switch {
		case isUnicodeHostChar(r):
			endsWell = true
		case r == '-' && pos > d:
			endsWell = false
		default:
			break label
		}
		pos += size
	}
	if !endsWell || pos >= len(text) || text[pos] != '.' {
		return 0, false
	}
	return tldEnd(text, pos+1, false)
}

// tldEnd matches a top-level domain at t: 2 to 63 ASCII letters not followed
// by a character that would continue a host name, or, when punycode is set,
// a punycode label (twitter-text takes those only after ASCII labels).
func tldEnd(text string, t int, punycode bool) (int, bool) {
	j := t
	for j < len(text) && ('a' <= text[j] && text[j] <= 'z' || 'A' <= text[j] && text[j] <= 'Z') {
		j++
	}
	if n := j - t; n >= 2 && n <= maxLabel && (j == len(text) || !invalidTLDFollower.has(text[j])) {
		return j, true
	}
	if punycode && hasPrefixFold(text[t:], "xn--") {
		j = t + len("xn--")
		for j < len(text) && (isASCIIAlnum(text[j]) || text[j] == '-') {
			j++
		}
		if j > t+len("xn--") {
			return j, true
		}
	}
	return 0, false
}

// pathEnd returns the end of the path starting with the '/' at p.
//
// twitter-text's path is a repetition of units, each either a run of path
// characters and balanced parentheses that ends with a path-ending character,
// or a parenthesised group on its own. So the path reaches the last
// path-ending character of the stretch of path characters and groups, or a
// group that directly follows the end so far; "x.com/a(b)" includes the group
// but "x.com/*(b)" stops at the slash.
func pathEnd(text string, p int) int {
	end := p + 1
	for i := p + 1; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if isPathChar(r) {
			i += size
			if isPathEndingChar(r) {
				end = i
			}
			continue
		}
		if r == '(' {
			if j := balancedParens(text, i); j > 0 {
				if i == end {
					end = j
				}
				i = j
				continue
			}
		}
		break
	}
	return end
}

// balancedParens matches "(x)" or "(x(y)z)" at i, as in Wikipedia links, and
// returns its end or -1.
func balancedParens(text string, i int) int {
	g := pathRun(text, i+1)
	if g < len(text) && text[g] == ')' && g > i+1 {
		return g + 1
	}
	if g < len(text) && text[g] == '(' {
		g2 := pathRun(text, g+1)
		if g2 > g+1 && g2 < len(text) && text[g2] == ')' {
			if g3 := pathRun(text, g2+1); g3 < len(text) && text[g3] == ')' {
				return g3 + 1
			}
		}
	}
	return -1
}

func pathRun(text string, i int) int {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isPathChar(r) {
			break
		}
		i += size
	}
	return i
}

// queryEnd returns the end of the query string starting with the '?' at p,
// or p when no query-ending character follows (the URL then stops before the
// '?').
func queryEnd(text string, p, limit int) int {
	end := p
	for i := p + 1; i < limit && queryChars.has(text[i]); i++ {
		if queryEndingChars.has(text[i]) {
			end = i + 1
		}
	}
	return end
}

// validHost applies the checks of twitter-text's IDN conversion that are
// cheap to reproduce: IDN also splits labels at the ideographic and
// full-width full stops, no label may be empty or longer than the DNS limit,
// and a label already marked as punycode ("xn--") must be plain ASCII.
// Nameprep (its compatibility mapping, prohibited characters and bidi
// rules) is not reproduced: it would need Unicode tables the standard
// library lacks, and only matters for hosts mixing scripts oddly.
func validHost(host string) bool {
	start, runes, ascii := 0, 0, true
	for i, r := range host {
		switch r {
		case '.', 0x3002, 0xFF0E, 0xFF61: // . 。 ． ｡
			if !validLabel(host[start:i], runes, ascii) {
				return false
			}
			start, runes, ascii = i+utf8.RuneLen(r), 0, true
			continue
		}
		runes++
		ascii = ascii && r < utf8.RuneSelf
	}
	return validLabel(host[start:], runes, ascii)
}

func validLabel(label string, runes int, ascii bool) bool {
	return runes > 0 && runes <= maxLabel && (ascii || !hasPrefixFold(label, "xn--"))
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && hasPrefixFold(s[len(s)-len(suffix):], suffix)
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case
// only: prefix is lower-case ASCII, and Unicode folding would let the Kelvin
// sign stand for 'k'.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}
