package kinesisapi

import (
	"encoding/hex"
	"net/http/httptest"
	"testing"
	"time"
)

// TestSignatureVectors checks the canonicalisation against AWS's SigV4
// test suite (get-vanilla, post-vanilla, get-vanilla-query-order-key),
// independently of the SDK's signer.
func TestSignatureVectors(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	cases := []struct {
		name, method, target, want string
	}{
		{"get-vanilla", "GET", "/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"post-vanilla", "POST", "/", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"get-vanilla-query-order-key", "GET", "/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, "http://example.amazonaws.com"+c.target, nil)
			r.Host = "example.amazonaws.com"
			r.Header.Set("X-Amz-Date", "20150830T123600Z")
			auth := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + c.want
			a, err := parseAuthorization(auth)
			if err != nil {
				t.Fatal(err)
			}
			when := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
			got := hex.EncodeToString(signature(secret, a, stringToSign(r, a, when, nil)))
			if got != c.want {
				t.Errorf("signature = %s, want %s", got, c.want)
			}
		})
	}
}

func TestParseAuthorization(t *testing.T) {
	bad := []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kinesis/aws4_request, SignedHeaders=host",
		"AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kinesis, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00",
		"AWS4-HMAC-SHA1 Credential=AKID/20150830/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=00",
	}
	for _, h := range bad {
		if _, err := parseAuthorization(h); !isCode(err, codeIncompleteSignature) {
			t.Errorf("%q: %v", h, err)
		}
	}
	a, err := parseAuthorization("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/kinesis/aws4_request,SignedHeaders=content-type;host;x-amz-date,Signature=abc")
	if err != nil || a.keyID != "AKID" || a.region != "us-east-1" || len(a.signedHeaders) != 3 || a.signature != "abc" {
		t.Errorf("parsed %+v, %v", a, err)
	}
}
