package xapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/streamproc/streamproc"
)

// authorizer adds credentials to a request.
type authorizer interface {
	authorize(req *http.Request, now time.Time, nonce func() string)
	// secrets are the values to redact from anything that came back.
	secrets() redactor
}

type bearer string

func (b bearer) authorize(req *http.Request, _ time.Time, _ func() string) {
	req.Header.Set("Authorization", "Bearer "+string(b))
}

func (b bearer) secrets() redactor { return redactor{string(b)} }

type oauth1Auth struct{ oauth1 }

func (o oauth1Auth) authorize(req *http.Request, now time.Time, nonce func() string) {
	req.Header.Set("Authorization", o.authorization(req.Method, req.URL, nil, nonce(), now))
}

// The consumer key and token are identifiers rather than secrets, but they
// are redacted too: together with a leaked secret they are what an attacker
// needs.
func (o oauth1Auth) secrets() redactor {
	return redactor{o.consumerSecret, o.tokenSecret, o.consumerKey, o.token}
}

// oauth1Params returns the seed's four parameter names.
func oauth1Params() []string {
	return []string{streamproc.ParamConsumerKey, streamproc.ParamConsumerSecret, streamproc.ParamAccessTokenKey, streamproc.ParamAccessTokenSecret}
}

// authorizer reads the credentials for one call. They are not cached, so a
// rotated secret is used on the next call, as the Params contract intends.
func (c *Client) authorizer(ctx context.Context) (authorizer, error) {
	switch c.opts.Auth {
	case AuthBearer:
		return c.bearer(ctx)
	case AuthOAuth1:
		return c.oauth1(ctx)
	}
	b, errB := c.bearer(ctx)
	if errB == nil {
		return b, nil
	}
	if !errors.Is(errB, streamproc.ErrNotFound) {
		return nil, errB
	}
	o, errO := c.oauth1(ctx)
	if errO == nil {
		return o, nil
	}
	if !errors.Is(errO, streamproc.ErrNotFound) {
		return nil, errO
	}
	return nil, fmt.Errorf("xapi: %w: set %s (app-only) or %s (OAuth 1.0a user context): %w",
		ErrNoCredentials, streamproc.ParamBearerToken, strings.Join(oauth1Params(), ", "), errors.Join(errB, errO))
}

func (c *Client) bearer(ctx context.Context) (authorizer, error) {
	v, err := c.opts.Params.Get(ctx, streamproc.ParamBearerToken)
	if err != nil {
		return nil, fmt.Errorf("xapi: reading the bearer token: %w", err)
	}
	tok := strings.TrimSpace(v[streamproc.ParamBearerToken])
	if tok == "" {
		return nil, fmt.Errorf("xapi: parameter %s is empty: %w", streamproc.ParamBearerToken, streamproc.ErrNotFound)
	}
	return bearer(tok), nil
}

func (c *Client) oauth1(ctx context.Context) (authorizer, error) {
	v, err := c.opts.Params.Get(ctx, oauth1Params()...)
	if err != nil {
		return nil, fmt.Errorf("xapi: reading the OAuth 1.0a parameters: %w", err)
	}
	for _, name := range oauth1Params() {
		if strings.TrimSpace(v[name]) == "" {
			return nil, fmt.Errorf("xapi: parameter %s is empty: %w", name, streamproc.ErrNotFound)
		}
	}
	return oauth1Auth{oauth1{
		consumerKey:    strings.TrimSpace(v[streamproc.ParamConsumerKey]),
		consumerSecret: strings.TrimSpace(v[streamproc.ParamConsumerSecret]),
		token:          strings.TrimSpace(v[streamproc.ParamAccessTokenKey]),
		tokenSecret:    strings.TrimSpace(v[streamproc.ParamAccessTokenSecret]),
		version:        true,
	}}, nil
}
