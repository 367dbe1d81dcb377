package table

import (
	"strconv"
	"strings"
)

// DynamoDB's limits for the N type: up to 38 significant digits, magnitudes
// from 1E-130 to 9.99…E+125. In decimal's 0.d₁d₂… × 10^exp form that is
// exp ∈ [minExp, maxExp].
const (
	maxDigits = 38
	minExp    = -129
	maxExp    = 126
)

// decimal is a parsed DynamoDB number: value = ±0.digits × 10^exp.
//
// Invariant: digits has no leading or trailing '0'; zero is digits == ""
// (and neg == false, exp == 0). Every spelling of one value ("1", "1.0",
// "10e-1", "+1") parses to the same decimal, which is what makes numeric keys
// compare by value and lets the stored form be canonical.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

// parseDecimal parses a number in the syntax DynamoDB accepts (optional sign,
// digits with an optional point, optional exponent) and enforces its range
// and precision. The returned error text never repeats more than a prefix of
// s, so a huge bogus value cannot blow up an error message.
func parseDecimal(s string) (decimal, error) {
	var d decimal
	bad := func(why string) (decimal, error) {
		return decimal{}, invalidf("number %q: %s", clip(s, 48), why)
	}
	rest := s
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		d.neg = rest[0] == '-'
		rest = rest[1:]
	}
	mant := rest
	expPart := ""
	if i := strings.IndexAny(rest, "eE"); i >= 0 {
		mant, expPart = rest[:i], rest[i+1:]
	}
	intPart, fracPart := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, fracPart = mant[:i], mant[i+1:]
	}
	if intPart == "" && fracPart == "" {
		return bad("not a number")
	}
	for _, part := range []string{intPart, fracPart} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return bad("not a number")
			}
		}
	}
	e := 0
	if i := strings.IndexAny(rest, "eE"); i >= 0 {
		// Exponents beyond a few digits are out of range anyway; bounding the
		// length keeps Atoi from overflowing into a wrong answer.
		if len(expPart) == 0 || len(expPart) > 6 {
			return bad("bad exponent")
		}
		n, err := strconv.Atoi(expPart)
		if err != nil {
			return bad("bad exponent")
		}
		e = n
	}
	all := intPart + fracPart
	point := len(intPart)
	lead := 0
	for lead < len(all) && all[lead] == '0' {
		lead++
	}
	all = all[lead:]
	point -= lead
	all = strings.TrimRight(all, "0")
	if all == "" {
		return decimal{}, nil
	}
	d.digits = all
	d.exp = point + e
	if len(d.digits) > maxDigits {
		return bad("more than 38 significant digits")
	}
	if d.exp < minExp {
		return bad("magnitude below 1E-130")
	}
	if d.exp > maxExp {
		return bad("magnitude at or above 1E+126")
	}
	return d, nil
}

// String renders the canonical plain-decimal form, as DynamoDB returns
// numbers: no exponent, no leading zeros, no trailing fractional zeros.
func (d decimal) String() string {
	if d.digits == "" {
		return "0"
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	switch {
	case d.exp <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -d.exp))
		b.WriteString(d.digits)
	case d.exp < len(d.digits):
		b.WriteString(d.digits[:d.exp])
		b.WriteByte('.')
		b.WriteString(d.digits[d.exp:])
	default:
		b.WriteString(d.digits)
		b.WriteString(strings.Repeat("0", d.exp-len(d.digits)))
	}
	return b.String()
}

// size is DynamoDB's billing size of a number: about one byte per two
// significant digits plus one.
func (d decimal) size() int { return (len(d.digits)+1)/2 + 1 }

// Tags of the order-preserving number key encoding. Negative < zero <
// positive by tag; within a sign the exponent and then the digit string
// decide.
const (
	numNeg  = 0x01
	numZero = 0x02
	numPos  = 0x03
)

// appendKey appends an order-preserving, self-delimiting encoding of d:
//
//	positive: 0x03, uint16(exp+0x8000) big-endian, digit+1 per digit, 0x00
//	zero:     0x02
//	negative: 0x01, then the positive form's exponent and digit bytes
//	          complemented, 0xFF
//
// For positives a larger exponent is a larger value; with equal exponents
// the digit strings compare lexicographically and the 0x00 terminator makes a
// prefix ("0.12") sort before its extensions ("0.123"). Complementing
// reverses all of that for negatives. Digits are exact, so integers of any
// width (beyond 2^53 too) compare correctly.
func (d decimal) appendKey(b []byte) []byte {
	if d.digits == "" {
		return append(b, numZero)
	}
	e := uint16(d.exp + 0x8000)
	if !d.neg {
		b = append(b, numPos, byte(e>>8), byte(e))
		for i := 0; i < len(d.digits); i++ {
			b = append(b, d.digits[i]-'0'+1)
		}
		return append(b, 0x00)
	}
	b = append(b, numNeg, ^byte(e>>8), ^byte(e))
	for i := 0; i < len(d.digits); i++ {
		b = append(b, ^(d.digits[i] - '0' + 1))
	}
	return append(b, 0xFF)
}

// clip shortens s for use in an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
