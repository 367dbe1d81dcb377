package xapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// oauth1 signs requests with OAuth 1.0a user context, HMAC-SHA1, as RFC
// 5849 §3 and X's "Creating a signature" page describe. No library: the
// algorithm is short, and the tests pin it to both documents' examples.
type oauth1 struct {
	consumerKey, consumerSecret string
	token, tokenSecret          string
	// version adds oauth_version=1.0 (X's examples send it; RFC 5849
	// makes it optional).
	version bool
}

// authorization returns the Authorization header for a request of method
// to rawURL (its query is signed) with form body parameters (nil for GET).
func (o oauth1) authorization(method string, u *url.URL, form url.Values, nonce string, now time.Time) string {
	params := map[string]string{
		"oauth_consumer_key":     o.consumerKey,
		"oauth_nonce":            nonce,
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        strconv.FormatInt(now.Unix(), 10),
		"oauth_token":            o.token,
	}
	if o.version {
		params["oauth_version"] = "1.0"
	}
	base := signatureBase(method, u, form, params)
	params["oauth_signature"] = sign(base, o.consumerSecret, o.tokenSecret)

	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("OAuth ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(percentEncode(k))
		b.WriteString(`="`)
		b.WriteString(percentEncode(params[k]))
		b.WriteByte('"')
	}
	return b.String()
}

// signatureBase is RFC 5849 §3.4.1: METHOD&base-uri&normalized-parameters,
// each part percent-encoded. Parameters are the query's, the form body's and
// the oauth_* ones (realm and oauth_signature excluded), encoded, then
// sorted by name and value.
func signatureBase(method string, u *url.URL, form url.Values, oauthParams map[string]string) string {
	type pair struct{ k, v string }
	var pairs []pair
	add := func(k, v string) { pairs = append(pairs, pair{percentEncode(k), percentEncode(v)}) }
	for k, vs := range u.Query() {
		for _, v := range vs {
			add(k, v)
		}
	}
	for k, vs := range form {
		for _, v := range vs {
			add(k, v)
		}
	}
	for k, v := range oauthParams {
		if k != "realm" && k != "oauth_signature" {
			add(k, v)
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var norm strings.Builder
	for i, p := range pairs {
		if i > 0 {
			norm.WriteByte('&')
		}
		norm.WriteString(p.k)
		norm.WriteByte('=')
		norm.WriteString(p.v)
	}
	return strings.ToUpper(method) + "&" + percentEncode(baseURI(u)) + "&" + percentEncode(norm.String())
}

// baseURI is RFC 5849 §3.4.1.2: lower-case scheme and host, the port only
// when it is not the scheme's default, the path, no query or fragment.
func baseURI(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if p := u.Port(); p != "" && !(scheme == "http" && p == "80") && !(scheme == "https" && p == "443") {
		host += ":" + p
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}

// sign is HMAC-SHA1 keyed by the two encoded secrets (RFC 5849 §3.4.2).
func sign(base, consumerSecret, tokenSecret string) string {
	mac := hmac.New(sha1.New, []byte(percentEncode(consumerSecret)+"&"+percentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// percentEncode is RFC 5849 §3.6: every byte of the UTF-8 string except the
// unreserved characters (ALPHA, DIGIT, '-', '.', '_', '~') as %XX, upper
// case. url.QueryEscape differs (space as '+', '~' escaped).
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
