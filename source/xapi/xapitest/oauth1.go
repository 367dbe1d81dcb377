package xapitest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxSkew is how far an OAuth timestamp may be from the server's clock.
const maxSkew = 5 * time.Minute

// verifyOAuth1 checks an OAuth 1.0a HMAC-SHA1 Authorization header the way
// a server does: parse it, rebuild the signature base string from the
// request as received, and compare. Written separately from the client's
// signer (different encoding route: url.PathEscape fix-ups rather than a
// byte table) so a shared mistake is unlikely.
func (s *Server) verifyOAuth1(r *http.Request, header string) bool {
	c := s.cfg.OAuth1
	params := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(header, "OAuth "), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return false
		}
		uk, err1 := url.PathUnescape(k)
		uv, err2 := url.PathUnescape(strings.Trim(v, `"`))
		if err1 != nil || err2 != nil {
			return false
		}
		params[uk] = uv
	}
	if params["oauth_consumer_key"] != c.ConsumerKey || params["oauth_token"] != c.Token || params["oauth_signature_method"] != "HMAC-SHA1" {
		return false
	}
	ts, err := strconv.ParseInt(params["oauth_timestamp"], 10, 64)
	if err != nil {
		return false
	}
	if d := s.cfg.Now().Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return false
	}
	nonce := params["oauth_nonce"]
	if nonce == "" || s.nonces[nonce] {
		return false
	}
	var pairs [][2]string
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			pairs = append(pairs, [2]string{enc(k), enc(v)})
		}
	}
	for k, v := range params {
		if k != "oauth_signature" && k != "realm" {
			pairs = append(pairs, [2]string{enc(k), enc(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i][0] != pairs[j][0] {
			return pairs[i][0] < pairs[j][0]
		}
		return pairs[i][1] < pairs[j][1]
	})
	joined := make([]string, len(pairs))
	for i, p := range pairs {
		joined[i] = p[0] + "=" + p[1]
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := "GET&" + enc(scheme+"://"+strings.ToLower(r.Host)+r.URL.EscapedPath()) + "&" + enc(strings.Join(joined, "&"))
	mac := hmac.New(sha1.New, []byte(enc(c.ConsumerSecret)+"&"+enc(c.TokenSecret)))
	mac.Write([]byte(base))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(params["oauth_signature"])) {
		return false
	}
	s.nonces[nonce] = true
	return true
}

// enc is RFC 3986 percent-encoding of everything but unreserved characters.
func enc(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "%7E", "~")
	return e
}
