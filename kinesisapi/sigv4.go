package kinesisapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SigV4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// header form only: Kinesis clients never presign.
const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	sigService   = "kinesis"
	amzDate      = "20060102T150405Z"
)

// authorization is a parsed Authorization header.
type authorization struct {
	keyID, date, region, service string
	signedHeaders                []string
	signature                    string
}

// authenticate checks the request's SigV4 signature over body. Without
// configured credentials it only requires a well-formed header, like
// kinesalite; with them it verifies the key, scope, date and signature.
func (h *Handler) authenticate(r *http.Request, body []byte) error {
	hdr := r.Header.Get("Authorization")
	if hdr == "" {
		return clientErr(codeMissingAuth, "Missing Authentication Token")
	}
	a, err := parseAuthorization(hdr)
	if err != nil {
		return err
	}
	when, err := requestTime(r)
	if err != nil {
		return err
	}
	if len(h.creds) == 0 {
		return nil
	}
	secret, ok := h.creds[a.keyID]
	if !ok {
		return clientErr(codeUnrecognizedClient, "The security token included in the request is invalid.")
	}
	if a.service != sigService {
		return clientErr(codeInvalidSignature, "Credential should be scoped to correct service: '%s'. ", sigService)
	}
	if h.region != "" && a.region != h.region {
		return clientErr(codeInvalidSignature, "Credential should be scoped to a valid region, not '%s'. ", a.region)
	}
	if d := when.Format("20060102"); a.date != d {
		return clientErr(codeInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", a.date, d, when.Format(amzDate))
	}
	now := h.now().UTC()
	if when.Before(now.Add(-SignatureSkew)) {
		return clientErr(codeInvalidSignature, "Signature expired: %s is now earlier than %s (%s - 15 min.)",
			when.Format(amzDate), now.Add(-SignatureSkew).Format(amzDate), now.Format(amzDate))
	}
	if when.After(now.Add(SignatureSkew)) {
		return clientErr(codeInvalidSignature, "Signature not yet current: %s is still later than %s (%s + 15 min.)",
			when.Format(amzDate), now.Add(SignatureSkew).Format(amzDate), now.Format(amzDate))
	}
	if !containsHeader(a.signedHeaders, "host") {
		return clientErr(codeInvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	want := signature(secret, a, stringToSign(r, a, when, body))
	got, err := hex.DecodeString(a.signature)
	if err != nil || !hmac.Equal(got, want) {
		return clientErr(codeInvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=AKID/20260101/
// us-east-1/kinesis/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(hdr string) (authorization, error) {
	var a authorization
	rest, ok := strings.CutPrefix(hdr, sigAlgorithm+" ")
	if !ok {
		return a, clientErr(codeIncompleteSignature, "Authorization header must use %s.", sigAlgorithm)
	}
	var cred, signed string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.signature = v
		}
	}
	var missing []string
	for _, p := range []struct{ name, v string }{{"Credential", cred}, {"Signature", a.signature}, {"SignedHeaders", signed}} {
		if p.v == "" {
			missing = append(missing, "Authorization header requires '"+p.name+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return a, clientErr(codeIncompleteSignature, "%s", strings.Join(missing, " "))
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return a, clientErr(codeIncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/aws4_request.")
	}
	a.keyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	a.signedHeaders = strings.Split(signed, ";")
	return a, nil
}

// requestTime reads X-Amz-Date, or Date when it is absent.
func requestTime(r *http.Request) (time.Time, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(amzDate, v)
		if err != nil {
			return time.Time{}, clientErr(codeIncompleteSignature, "X-Amz-Date %q is not in the ISO-8601 basic format YYYYMMDD'T'HHMMSS'Z'.", truncate(v, 64))
		}
		return t, nil
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return time.Time{}, clientErr(codeIncompleteSignature, "Date header %q is not an HTTP date.", truncate(v, 64))
		}
		return t.UTC(), nil
	}
	return time.Time{}, clientErr(codeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

func containsHeader(list []string, name string) bool {
	for _, h := range list {
		if h == name {
			return true
		}
	}
	return false
}

// stringToSign rebuilds the canonical request from what arrived and hashes
// it into the string to sign. The payload hash is always computed from the
// body: Kinesis does not accept UNSIGNED-PAYLOAD.
func stringToSign(r *http.Request, a authorization, when time.Time, body []byte) string {
	var cr strings.Builder
	cr.WriteString(r.Method)
	cr.WriteByte('\n')
	cr.WriteString(canonicalURI(r.URL))
	cr.WriteByte('\n')
	cr.WriteString(canonicalQuery(r.URL.Query()))
	cr.WriteByte('\n')
	for _, name := range a.signedHeaders {
		cr.WriteString(name)
		cr.WriteByte(':')
		cr.WriteString(headerValue(r, name))
		cr.WriteByte('\n')
	}
	cr.WriteByte('\n')
	cr.WriteString(strings.Join(a.signedHeaders, ";"))
	cr.WriteByte('\n')
	sum := sha256.Sum256(body)
	cr.WriteString(hex.EncodeToString(sum[:]))

	crSum := sha256.Sum256([]byte(cr.String()))
	return sigAlgorithm + "\n" + when.Format(amzDate) + "\n" +
		a.date + "/" + a.region + "/" + a.service + "/aws4_request\n" + hex.EncodeToString(crSum[:])
}

// headerValue is a signed header's canonical value: all values joined by
// commas, each trimmed with inner runs of spaces collapsed. Go moves Host
// and Content-Length out of the header map, so those come from the request.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

// canonicalURI URI-encodes each path segment (once more over the escaped
// path, as SigV4 requires for every service but S3).
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

// canonicalQuery sorts parameters by name then value, each URI-encoded.
func canonicalQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode percent-encodes everything but the RFC 3986 unreserved set.
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// signature derives the signing key from the secret and scope and signs.
func signature(secret string, a authorization, sts string) []byte {
	k := hmacSum([]byte("AWS4"+secret), a.date)
	k = hmacSum(k, a.region)
	k = hmacSum(k, a.service)
	k = hmacSum(k, "aws4_request")
	return hmacSum(k, sts)
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
