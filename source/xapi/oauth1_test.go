package xapi

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The signature base string of RFC 5849 §3.4.1.1's example: repeated and
// empty parameters, encoded names, a form body, realm left out.
func TestSignatureBaseRFC5849(t *testing.T) {
	u := mustURL(t, "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
	form, err := url.ParseQuery("c2&a3=2+q")
	if err != nil {
		t.Fatal(err)
	}
	got := signatureBase("POST", u, form, map[string]string{
		"realm":                  "Example",
		"oauth_consumer_key":     "9djdj82h48djs9d2",
		"oauth_token":            "kkk9d7dh3k39sjv7",
		"oauth_signature_method": "HMAC-SHA1",
		"oauth_timestamp":        "137131201",
		"oauth_nonce":            "7d8f3e4a",
	})
	want := "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
	if got != want {
		t.Errorf("base string\n got %s\nwant %s", got, want)
	}
}

// Full signatures of the two published examples.
func TestOAuth1Signatures(t *testing.T) {
	tests := []struct {
		name    string
		o       oauth1
		method  string
		url     string
		form    string
		nonce   string
		ts      int64
		wantSig string
	}{
		{
			// RFC 5849 §1.2 (photos.example.net), no oauth_version.
			name:   "RFC 5849 section 1.2",
			o:      oauth1{consumerKey: "dpf43f3p2l4k3l03", consumerSecret: "kd94hf93k423kf44", token: "nnch734d00sl2jdk", tokenSecret: "pfkkdhi9sl3r4s00"},
			method: "GET", url: "http://photos.example.net/photos?file=vacation.jpg&size=original",
			nonce: "chapoH", ts: 137131202,
			wantSig: "MdpQcU8iPSUjWoN/UDMsK2sui9I=",
		},
		{
			// X's "Creating a signature" page.
			name: "X docs creating a signature",
			o: oauth1{consumerKey: "xvz1evFS4wEEPTGEFPHBog", consumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
				token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", tokenSecret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE", version: true},
			method: "POST", url: "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
			form:  "status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21",
			nonce: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", ts: 1318622958,
			wantSig: "hCtSmYh+iHYCEqBWrE7C7hYmtUk=",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			h := tc.o.authorization(tc.method, mustURL(t, tc.url), form, tc.nonce, time.Unix(tc.ts, 0))
			want := `oauth_signature="` + percentEncode(tc.wantSig) + `"`
			if !strings.HasPrefix(h, "OAuth ") || !strings.Contains(h, want) {
				t.Errorf("Authorization = %s\nwant it to contain %s", h, want)
			}
			for _, secret := range []string{tc.o.consumerSecret, tc.o.tokenSecret} {
				if strings.Contains(h, secret) {
					t.Errorf("the header carries a secret: %s", h)
				}
			}
		})
	}
}

func TestPercentEncode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen"},
		{"An encoded string!", "An%20encoded%20string%21"},
		{"Dogs, Cats & Mice", "Dogs%2C%20Cats%20%26%20Mice"},
		{"☃", "%E2%98%83"},
		{"-._~azAZ09", "-._~azAZ09"},
		{"#golang OR #go", "%23golang%20OR%20%23go"},
	}
	for _, tc := range tests {
		if got := percentEncode(tc.in); got != tc.want {
			t.Errorf("percentEncode(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Default ports are dropped from the base URI; others are kept.
func TestBaseURI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"HTTPS://API.X.com:443/2/tweets/search/recent?q=1", "https://api.x.com/2/tweets/search/recent"},
		{"http://127.0.0.1:8080/2/x", "http://127.0.0.1:8080/2/x"},
		{"http://example.com", "http://example.com/"},
	}
	for _, tc := range tests {
		if got := baseURI(mustURL(t, tc.in)); got != tc.want {
			t.Errorf("baseURI(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// The header is what the client sends on a real request.
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/2/tweets/search/recent?query=a%20b", nil)
	oauth1Auth{oauth1{consumerKey: "k", consumerSecret: "s", token: "t", tokenSecret: "ts", version: true}}.authorize(req, time.Unix(1, 0), func() string { return "n" })
	if h := req.Header.Get("Authorization"); !strings.Contains(h, `oauth_version="1.0"`) || !strings.Contains(h, `oauth_nonce="n"`) {
		t.Errorf("Authorization = %s", h)
	}
}
