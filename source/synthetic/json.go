package synthetic

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped exactly as encoding/json
// escapes it (HTML-safe: <, > and & become \u003c..., as the v1.1 API also
// writes them; U+2028/U+2029 escaped; invalid UTF-8 replaced by U+FFFD), so
// output is byte-identical to json.Marshal and safe to embed anywhere.
func appendString(b []byte, s string) []byte {
	// Valid UTF-8 (all generated text) needs no decoding: only ASCII bytes
	// and the three-byte U+2028/U+2029 are ever escaped.
	valid := utf8.ValidString(s)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		if valid {
			if c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xA8 {
				b = append(b, s[start:i]...)
				b = append(b, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&1+8])
				i += 3
				start = i
				continue
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendKey appends `"key":` for a key that needs no escaping.
func appendKey(b []byte, key string) []byte {
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendStrField(b []byte, key, v string) []byte {
	return appendString(appendKey(b, key), v)
}

func appendIntField(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(appendKey(b, key), v, 10)
}

// appendIDFields appends the v1.1 pair "<key>":N,"<key>_str":"N".
func appendIDFields(b []byte, key string, v int64) []byte {
	b = appendIntField(b, key, v)
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, `_str":"`...)
	b = strconv.AppendInt(b, v, 10)
	return append(b, '"')
}

func appendBoolField(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(appendKey(b, key), v)
}

func appendIndices(b []byte, start, end int) []byte {
	b = append(b, `"indices":[`...)
	b = strconv.AppendInt(b, int64(start), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(end), 10)
	return append(b, ']')
}
