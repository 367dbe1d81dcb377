package firehose

import (
	"crypto/rand"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/streamproc/streamproc"
)

// ErrorOutputTypeProcessingFailed is the !{firehose:error-output-type} of
// records a Lambda processor failed. The other error output this delivery
// stream writes is ErrorOutputTypeFormatConversionFailed.
const ErrorOutputTypeProcessingFailed = "processing-failed"

// RandomStringLen is the length of !{firehose:random-string}.
const RandomStringLen = 11

// defaultTimestampLayout is the time.Format form of !{timestamp:yyyy/MM/dd/HH/},
// what Firehose appends to a prefix without expressions.
const defaultTimestampLayout = "2006/01/02/15/"

// EvaluatePrefix evaluates the expressions of an S3 prefix exactly as
// written, with nothing appended (Config.KeyPrefix adds AWS's defaults):
//
//   - !{timestamp:pattern} formats t (in t's location) with a Java
//     DateTimeFormatter pattern. Supported letters: y and u (yy = two
//     digits, otherwise zero-padded to the count), M, d, H, m, s (one or two),
//     S (1–9 fraction digits). Text in single quotes is literal (two single
//     quotes make one), as in the Hive-style 'year='yyyy/'month='MM; other non-letters
//     are literal. Every timestamp of one prefix shows the same instant t.
//   - !{firehose:random-string} is 11 random characters of [A-Za-z0-9] drawn
//     from rand (crypto/rand when nil), new for each occurrence.
//   - !{firehose:error-output-type} is errorType; it is an error when
//     errorType is "" (the expression belongs in ErrorOutputPrefix only).
//
// "!{" may only start one of these expressions; anything else — an unclosed
// expression, an unknown namespace or value, the dynamic-partitioning
// namespaces (not supported here), a pattern letter outside the subset — is an
// error wrapping streamproc.ErrInvalid, as is a result over 512 characters.
func EvaluatePrefix(prefix string, t time.Time, errorType string, rand io.Reader) (string, error) {
	p, err := parsePrefix("prefix", prefix)
	if err != nil {
		return "", err
	}
	return p.evaluate(t, errorType, rand)
}

// KeyPrefix returns the evaluated key prefix of an object whose oldest record
// arrived at t (converted to CustomTimeZone): the data prefix when errorType
// is "", else the error output prefix for that error-output-type.
//
// The rules (research/aws-semantics.md §4.6):
//   - Prefix with expressions: evaluated as written, nothing appended.
//   - Prefix without expressions (or empty): Prefix followed by yyyy/MM/dd/HH/
//     by plain concatenation — "tweets" gives "tweets2024/05/06/13/", the
//     no-trailing-slash quirk observed on AWS.
//   - ErrorOutputPrefix with expressions: evaluated as written.
//   - ErrorOutputPrefix without expressions: ErrorOutputPrefix, the error
//     type, "/", yyyy/MM/dd/HH/ (also by concatenation).
//   - No ErrorOutputPrefix: Prefix, the error type, "/", yyyy/MM/dd/HH/
//     ("processing-failed/2024/05/06/13/" with no Prefix either).
//
// The last two cases follow AWS's documented default for a missing error
// prefix; AWS does not document a static one, so it gets the same shape.
func (c Config) KeyPrefix(t time.Time, errorType string, rand io.Reader) (string, error) {
	zone := c.CustomTimeZone
	if zone == nil {
		zone = time.UTC
	}
	t = t.In(zone)
	data, err := parsePrefix("Prefix", c.Prefix)
	if err != nil {
		return "", err
	}
	var out string
	switch {
	case errorType == "" && data.hasExpr:
		return data.evaluate(t, "", rand)
	case errorType == "":
		out = c.Prefix + t.Format(defaultTimestampLayout)
	case c.ErrorOutputPrefix != "":
		ep, err := parsePrefix("ErrorOutputPrefix", c.ErrorOutputPrefix)
		if err != nil {
			return "", err
		}
		if ep.hasExpr {
			return ep.evaluate(t, errorType, rand)
		}
		out = c.ErrorOutputPrefix + errorType + "/" + t.Format(defaultTimestampLayout)
	case data.hasExpr:
		return "", fmt.Errorf("%w: firehose: Prefix contains expressions, so ErrorOutputPrefix is required", streamproc.ErrInvalid)
	default:
		out = c.Prefix + errorType + "/" + t.Format(defaultTimestampLayout)
	}
	if len(out) > MaxEvaluatedPrefixLen {
		return "", fmt.Errorf("%w: firehose: evaluated prefix %q is longer than %d characters", streamproc.ErrInvalid, out, MaxEvaluatedPrefixLen)
	}
	return out, nil
}

// objectName is the fixed part of a key after the prefix:
// <Name>-<Version>-yyyy-MM-dd-HH-mm-ss-<UUID><ext>, t already in the zone.
func objectName(c *Config, t time.Time, id uuid.UUID, ext string) string {
	return c.Name + "-" + strconv.Itoa(c.Version) + "-" + t.Format("2006-01-02-15-04-05") + "-" + id.String() + ext
}

type exprKind uint8

const (
	literal exprKind = iota
	timestampExpr
	randomStringExpr
	errorTypeExpr
)

type prefixPart struct {
	kind    exprKind
	text    string    // literal text
	pattern []tsToken // timestampExpr
}

type parsedPrefix struct {
	parts                 []prefixPart
	hasExpr, hasErrorType bool
}

// checkPrefix validates a configured prefix: raw length and syntax, and
// error-output-type only where it belongs.
func checkPrefix(field, s string, isError bool) (*parsedPrefix, error) {
	if len(s) > MaxPrefixLen {
		return nil, fmt.Errorf("%w: firehose: %s is %d characters, more than %d", streamproc.ErrInvalid, field, len(s), MaxPrefixLen)
	}
	p, err := parsePrefix(field, s)
	if err != nil {
		return nil, err
	}
	if !isError && p.hasErrorType {
		return nil, fmt.Errorf("%w: firehose: %s: !{firehose:error-output-type} is only allowed in ErrorOutputPrefix", streamproc.ErrInvalid, field)
	}
	return p, nil
}

func parsePrefix(field, s string) (*parsedPrefix, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: firehose: %s: "+format, append([]any{streamproc.ErrInvalid, field}, args...)...)
	}
	p := &parsedPrefix{}
	for pos := 0; pos < len(s); {
		i := strings.Index(s[pos:], "!{")
		if i < 0 {
			p.parts = append(p.parts, prefixPart{text: s[pos:]})
			break
		}
		if i > 0 {
			p.parts = append(p.parts, prefixPart{text: s[pos : pos+i]})
		}
		start := pos + i
		j := strings.IndexByte(s[start:], '}')
		if j < 0 {
			return nil, bad(`"!{" at offset %d is not closed by "}": "!{" may only start an expression !{namespace:value}`, start)
		}
		expr := s[start : start+j+1]
		ns, val, ok := strings.Cut(s[start+2:start+j], ":")
		if !ok {
			return nil, bad("%s at offset %d: an expression must be !{namespace:value}", expr, start)
		}
		var part prefixPart
		switch ns {
		case "timestamp":
			toks, err := parseJavaPattern(val)
			if err != nil {
				return nil, bad("%s: %v", expr, err)
			}
			part = prefixPart{kind: timestampExpr, pattern: toks}
		case "firehose":
			switch val {
			case "random-string":
				part.kind = randomStringExpr
			case "error-output-type":
				part.kind = errorTypeExpr
				p.hasErrorType = true
			default:
				return nil, bad("%s: the firehose namespace has only random-string and error-output-type", expr)
			}
		case "partitionKeyFromQuery", "partitionKeyFromLambda":
			return nil, bad("%s: dynamic partitioning is not supported by the local delivery stream", expr)
		default:
			return nil, bad("%s: unknown namespace %q (supported: timestamp, firehose)", expr, ns)
		}
		p.hasExpr = true
		p.parts = append(p.parts, part)
		pos = start + j + 1
	}
	return p, nil
}

func (p *parsedPrefix) evaluate(t time.Time, errorType string, rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var b strings.Builder
	for _, part := range p.parts {
		switch part.kind {
		case literal:
			b.WriteString(part.text)
		case timestampExpr:
			formatJava(&b, part.pattern, t)
		case randomStringExpr:
			s, err := randomString(rnd)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		case errorTypeExpr:
			if errorType == "" {
				return "", fmt.Errorf("%w: firehose: !{firehose:error-output-type} is only allowed in ErrorOutputPrefix", streamproc.ErrInvalid)
			}
			b.WriteString(errorType)
		}
	}
	if b.Len() > MaxEvaluatedPrefixLen {
		return "", fmt.Errorf("%w: firehose: evaluated prefix %q is longer than %d characters", streamproc.ErrInvalid, b.String(), MaxEvaluatedPrefixLen)
	}
	return b.String(), nil
}

const randomAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomString draws RandomStringLen characters of randomAlphabet. Bytes of
// 248 and above are rejected so every character is equally likely
// (248 = 4·62).
func randomString(r io.Reader) (string, error) {
	out := make([]byte, 0, RandomStringLen)
	var buf [RandomStringLen * 2]byte
	for len(out) < RandomStringLen {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("firehose: random-string: %w", err)
		}
		for _, c := range buf {
			if c < 248 && len(out) < RandomStringLen {
				out = append(out, randomAlphabet[int(c)%len(randomAlphabet)])
			}
		}
	}
	return string(out), nil
}

// tsToken is one element of a parsed DateTimeFormatter pattern: a run of n
// copies of a pattern letter, or literal text when letter is 0.
type tsToken struct {
	letter byte
	n      int
	text   string
}

// parseJavaPattern parses the supported subset of DateTimeFormatter
// patterns. As in Java, every ASCII letter is reserved for a field, so a
// letter outside the subset is an error rather than literal text.
func parseJavaPattern(p string) ([]tsToken, error) {
	if p == "" {
		return nil, fmt.Errorf("empty timestamp pattern")
	}
	var toks []tsToken
	lit := func(s string) {
		if n := len(toks); n > 0 && toks[n-1].letter == 0 {
			toks[n-1].text += s
			return
		}
		toks = append(toks, tsToken{text: s})
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				lit("'")
				i += 2
				continue
			}
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("unterminated quoted text starting at %d in pattern %q", i, p)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(p[j])
				j++
			}
			lit(b.String())
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			if err := checkLetter(c, n); err != nil {
				return nil, err
			}
			toks = append(toks, tsToken{letter: c, n: n})
			i += n
		case strings.IndexByte("[]{}#", c) >= 0:
			return nil, fmt.Errorf("pattern character %q is reserved in DateTimeFormatter patterns", c)
		default:
			lit(string(c))
			i++
		}
	}
	return toks, nil
}

func checkLetter(c byte, n int) error {
	switch c {
	case 'y', 'u':
		if n <= 9 {
			return nil
		}
	case 'M', 'd', 'H', 'm', 's':
		if n <= 2 {
			return nil
		}
	case 'S':
		if n <= 9 {
			return nil
		}
	default:
		return fmt.Errorf("pattern letter %q is not supported (supported: y u M d H m s S and 'quoted text')", c)
	}
	return fmt.Errorf("%d × pattern letter %q is not supported", n, c)
}

func formatJava(b *strings.Builder, toks []tsToken, t time.Time) {
	pad := func(v, n int) {
		s := strconv.Itoa(v)
		for i := len(s); i < n; i++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	for _, tok := range toks {
		switch tok.letter {
		case 0:
			b.WriteString(tok.text)
		case 'y', 'u':
			if tok.n == 2 {
				pad(t.Year()%100, 2)
			} else {
				pad(t.Year(), tok.n)
			}
		case 'M':
			pad(int(t.Month()), tok.n)
		case 'd':
			pad(t.Day(), tok.n)
		case 'H':
			pad(t.Hour(), tok.n)
		case 'm':
			pad(t.Minute(), tok.n)
		case 's':
			pad(t.Second(), tok.n)
		case 'S':
			frac := t.Nanosecond()
			for i := tok.n; i < 9; i++ {
				frac /= 10
			}
			pad(frac, tok.n)
		}
	}
}
