// Package xapi implements streamproc.TweetSource on the X API v2: trends by
// WOEID (GET /2/trends/by/woeid/:id) and recent search
// (GET /2/tweets/search/recent), with the pitfalls of x-api.md handled.
//
//   - Auth: app-only Bearer (/twitter/bearer_token) or OAuth 1.0a user
//     context from the seed's four parameters, signed with HMAC-SHA1, read
//     through streamproc.Params on every call so a rotated secret is used at
//     once. Secrets never reach a log line or an error: they are sent in the
//     Authorization header only, and any echo of them in an answer is
//     redacted.
//   - Search asks for the fields the tweet model needs (created_at, lang,
//     public_metrics, entities, author_id, note_tweet, referenced_tweets, …)
//     with the author and referenced tweets expanded, follows next_token up
//     to MaxPages pages, and returns each tweet as a v2 single-tweet
//     document (see v2doc) that tweet.Decode reads without loss.
//   - Rate limits: x-rate-limit-remaining/reset are tracked per endpoint; a
//     request waits for the reset when none remain. A 429 waits for the reset
//     it announces (else backs off exponentially with jitter), a 5xx or a
//     network error backs off with jitter, up to MaxRetries. A usage-capped
//     429 (x-api.md §3.3) is not retried: it fails with ErrUsageCapped.
//   - Errors from the API are *Error values naming the endpoint, the status
//     and the problem's title/detail; partial errors that come with data (a
//     referenced tweet that was deleted, …) are logged, counted and the data
//     kept.
//
// Time and sleeping are injected (Options.Now, Options.Sleep) so the waits
// are tested without waiting.
package xapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
	"github.com/streamproc/streamproc/source/xapi/v2doc"
)

// DefaultBaseURL is X's API host.
const DefaultBaseURL = "https://api.x.com"

// EnvBaseURL names the environment variable that points the client
// elsewhere (a proxy, a fake API in tests) when Options.BaseURL is empty.
const EnvBaseURL = "X_API_BASE_URL"

// Authentication modes.
const (
	// AuthAuto uses the bearer token when the parameter store has one, the
	// four OAuth 1.0a parameters otherwise.
	AuthAuto = ""
	// AuthBearer is OAuth 2.0 app-only: Authorization: Bearer <token>.
	AuthBearer = "bearer"
	// AuthOAuth1 is OAuth 1.0a user context, HMAC-SHA1.
	AuthOAuth1 = "oauth1"
)

// Fields requested from recent search. note_tweet carries the whole text of
// posts over 280 characters; referenced_tweets with the expansions lets a
// retweet's text be rebuilt from its original (x-api.md §3.2, §4).
const (
	tweetFields = "attachments,author_id,conversation_id,created_at,edit_history_tweet_ids,entities,geo,in_reply_to_user_id,lang,note_tweet,possibly_sensitive,public_metrics,referenced_tweets"
	expansions  = "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
	userFields  = "created_at,description,location,name,protected,public_metrics,profile_image_url,username,verified,verified_type"
	trendFields = "trend_name,tweet_count"
)

// Endpoints, as they appear in errors, logs and the rate-limit table.
const (
	opSearch = "GET /2/tweets/search/recent"
	opTrends = "GET /2/trends/by/woeid/:id"
)

const (
	defaultMaxPages   = 5
	defaultMaxResults = 100
	defaultMaxRetries = 5
	// defaultMaxWait covers one full 15-minute rate-limit window.
	defaultMaxWait = 16 * time.Minute
	// resetMargin is added to a reset time: x-rate-limit-reset is in whole
	// epoch seconds, so the window may reopen up to a second after it.
	resetMargin = time.Second
	// maxBody bounds a response body; a page of 100 tweets with includes is
	// well under 1 MB.
	maxBody = 32 << 20
	// maxTrends is the most trends the endpoint returns.
	maxTrends = 50
)

// Retry pacing: 5xx and network errors back off from 1s; a 429 without a
// reset header from 5s (a rate limit lasts minutes, not milliseconds).
func serverBackoff() backoff.Policy { return backoff.Policy{Base: time.Second, Max: 32 * time.Second} }
func limitBackoff() backoff.Policy {
	return backoff.Policy{Base: 5 * time.Second, Max: 2 * time.Minute}
}

// Options configures a Client. Params is required.
type Options struct {
	// BaseURL is the API root (default: $X_API_BASE_URL through Getenv, else
	// DefaultBaseURL).
	BaseURL string
	// Getenv looks up X_API_BASE_URL (nil: not consulted).
	Getenv func(string) (string, bool)
	// Params reads the credentials (SSM on AWS, the local params file).
	Params streamproc.Params
	// Auth is AuthAuto (default), AuthBearer or AuthOAuth1.
	Auth string
	// HTTPClient sends the requests (default: a client with a 30s timeout).
	HTTPClient *http.Client
	// MaxPages bounds the pages one Search follows (default 5, so at most
	// 500 tweets per query and run). When more remain they are not fetched,
	// and since the next run starts from the newest id they are skipped for
	// good: raise it for busy queries.
	MaxPages int
	// MaxResults is max_results per page, 10–100 (default 100).
	MaxResults int
	// MaxRetries bounds retries of one request after 429, 5xx or a network
	// error (default 5).
	MaxRetries int
	// MaxWait is the longest wait for a rate-limit reset; a later reset
	// fails with ErrRateLimited instead (default 16 minutes, one window). A
	// wait past the context's deadline fails at once.
	MaxWait time.Duration
	// Now is the clock (default time.Now).
	Now streamproc.Clock
	// Sleep waits for d or until ctx ends (default: a timer).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns the jitter fraction in [0,1) (default math/rand/v2).
	Rand func() float64
	// Nonce returns an OAuth nonce (default: 16 random bytes in hex).
	Nonce func() string
	// Logger gets waits, retries and partial errors (nil: discard). Never
	// credentials.
	Logger *slog.Logger
	// Metrics counts XAPIRequests, XAPIRetries, XAPIRateLimitWaits,
	// XAPIPartialErrors and XAPITweets (nil: discard).
	Metrics streamproc.Metrics
	// UserAgent is sent with every request (default "streamproc").
	UserAgent string
}

// Stats counts what a Client did, for progress lines and summaries.
type Stats struct {
	Requests       int64         // HTTP requests sent, retries included
	Retries        int64         // requests re-sent after 429, 5xx or network errors
	RateLimitWaits int64         // waits for a rate-limit reset
	Waited         time.Duration // total time spent waiting (resets and backoff)
	Pages          int64         // search pages read
	Tweets         int64         // tweets returned by Search
	PartialErrors  int64         // errors reported next to data
}

// Client calls the X API v2. It implements streamproc.TweetSource and is
// safe for concurrent use.
type Client struct {
	opts Options
	base *url.URL
	log  *slog.Logger
	met  streamproc.Metrics

	mu     sync.Mutex
	limits map[string]window

	requests, retries, waits, waited, pages, tweets, partial atomic.Int64
}

// window is the last rate-limit state an endpoint reported.
type window struct {
	remaining int // -1: unknown
	reset     time.Time
}

var _ streamproc.TweetSource = (*Client)(nil)

// New returns a Client for opts.
func New(opts Options) (*Client, error) {
	if opts.Params == nil {
		return nil, fmt.Errorf("xapi: no parameter store for the credentials: %w", streamproc.ErrInvalid)
	}
	switch opts.Auth {
	case AuthAuto, AuthBearer, AuthOAuth1:
	default:
		return nil, fmt.Errorf("xapi: auth %q is not %q or %q: %w", opts.Auth, AuthBearer, AuthOAuth1, streamproc.ErrInvalid)
	}
	if opts.BaseURL == "" && opts.Getenv != nil {
		if v, ok := opts.Getenv(EnvBaseURL); ok {
			opts.BaseURL = strings.TrimSpace(v)
		}
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(opts.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("xapi: base URL %q is not an http(s) URL: %w", base.Redacted(), streamproc.ErrInvalid)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.MaxPages <= 0 {
		opts.MaxPages = defaultMaxPages
	}
	if opts.MaxResults == 0 {
		opts.MaxResults = defaultMaxResults
	}
	if opts.MaxResults < 10 || opts.MaxResults > 100 {
		return nil, fmt.Errorf("xapi: max_results %d is outside 10–100 (the API rejects it): %w", opts.MaxResults, streamproc.ErrInvalid)
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = defaultMaxRetries
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = defaultMaxWait
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = backoff.Sleep
	}
	if opts.Rand == nil {
		opts.Rand = randv2.Float64
	}
	if opts.Nonce == nil {
		opts.Nonce = randomNonce
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "streamproc"
	}
	c := &Client{opts: opts, base: base, log: opts.Logger, met: opts.Metrics, limits: map[string]window{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "xapi")
	if c.met == nil {
		c.met = streamproc.NopMetrics{}
	}
	return c, nil
}

// BaseURL returns the API root requests go to.
func (c *Client) BaseURL() string { return c.base.Redacted() }

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{
		Requests: c.requests.Load(), Retries: c.retries.Load(), RateLimitWaits: c.waits.Load(),
		Waited: time.Duration(c.waited.Load()), Pages: c.pages.Load(), Tweets: c.tweets.Load(), PartialErrors: c.partial.Load(),
	}
}

func randomNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Trends returns at most n trends for woeid, most popular first (the API's
// order). Each trend's Query is its name, quoted when it has several words
// so the search matches the phrase.
func (c *Client) Trends(ctx context.Context, woeid int64, n int) ([]streamproc.Trend, error) {
	if woeid <= 0 {
		return nil, fmt.Errorf("xapi: trends: woeid %d is not positive: %w", woeid, streamproc.ErrInvalid)
	}
	n = min(max(n, 1), maxTrends)
	auth, err := c.authorizer(ctx)
	if err != nil {
		return nil, err
	}
	if _, user := auth.(oauth1Auth); user {
		// X serves trends to app-only auth; user-context keys get a 403
		// that would be blamed on the keys.
		return nil, fmt.Errorf("xapi: trends for woeid %d need the app-only bearer token (%s); with OAuth 1.0a keys only, search a fixed query instead (produce --query, or the ProducerSearchQuery parameter): %w",
			woeid, streamproc.ParamBearerToken, streamproc.ErrInvalid)
	}
	q := url.Values{"max_trends": {strconv.Itoa(n)}, "trend.fields": {trendFields}}
	body, err := c.get(ctx, opTrends, "/2/trends/by/woeid/"+strconv.FormatInt(woeid, 10), q, auth)
	if err != nil {
		return nil, fmt.Errorf("xapi: trends for woeid %d: %w", woeid, err)
	}
	var resp struct {
		Data []struct {
			Name string `json:"trend_name"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("xapi: trends for woeid %d: answer is not a trends document: %v: %w", woeid, err, streamproc.ErrUnavailable)
	}
	c.partialErrors(opTrends, "woeid "+strconv.FormatInt(woeid, 10), resp.Errors)
	out := make([]streamproc.Trend, 0, min(n, len(resp.Data)))
	for _, d := range resp.Data {
		if len(out) == n {
			break
		}
		if name := strings.TrimSpace(d.Name); name != "" {
			out = append(out, streamproc.Trend{Name: name, Query: trendQuery(name)})
		}
	}
	return out, nil
}

// trendQuery turns a trend name into a search query: a phrase in quotes
// when it has spaces (v2 would AND the words otherwise).
func trendQuery(name string) string {
	if !strings.ContainsAny(name, " \t") {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, "") + `"`
}

// Search returns the tweets matching query newer than sinceID ("" = no
// bound), newest first, de-duplicated, each as a v2 single-tweet document,
// and the newest id seen (sinceID when there was nothing new). It reads up
// to MaxPages pages.
//
// On error the tweets of the pages read so far are returned with it, and
// newestID is "" so a caller that keeps its since_id fetches them again.
func (c *Client) Search(ctx context.Context, query, sinceID string) ([]streamproc.SourceTweet, string, error) {
	return c.SearchLimit(ctx, query, sinceID, 0)
}

// SearchLimit is Search that stops reading pages once it has limit tweets
// (0: no limit, as Search), for a caller that wants only so many.
func (c *Client) SearchLimit(ctx context.Context, query, sinceID string, limit int) ([]streamproc.SourceTweet, string, error) {
	if strings.TrimSpace(query) == "" {
		return nil, "", fmt.Errorf("xapi: search: empty query: %w", streamproc.ErrInvalid)
	}
	if sinceID != "" && !isID(sinceID) {
		return nil, "", fmt.Errorf("xapi: search %q: since_id %q is not a tweet id: %w", query, sinceID, streamproc.ErrInvalid)
	}
	auth, err := c.authorizer(ctx)
	if err != nil {
		return nil, "", err
	}
	q := url.Values{
		"query":        {query},
		"max_results":  {strconv.Itoa(c.opts.MaxResults)},
		"tweet.fields": {tweetFields},
		"expansions":   {expansions},
		"user.fields":  {userFields},
	}
	if sinceID != "" {
		q.Set("since_id", sinceID)
	}
	var out []streamproc.SourceTweet
	seen := map[string]bool{}
	newest := ""
	for page := 1; ; page++ {
		if limit > 0 {
			// X bills every post read: ask for no more than still needed
			// (the endpoint's minimum is 10).
			q.Set("max_results", strconv.Itoa(min(max(limit-len(out), 10), c.opts.MaxResults)))
		}
		body, err := c.get(ctx, opSearch, "/2/tweets/search/recent", q, auth)
		if err != nil {
			return out, "", fmt.Errorf("xapi: search %q, page %d: %w", query, page, err)
		}
		p, err := v2doc.Parse(body)
		if err != nil {
			return out, "", fmt.Errorf("xapi: search %q, page %d: answer is not a v2 page: %v: %w", query, page, err, streamproc.ErrUnavailable)
		}
		c.pages.Add(1)
		c.partialErrors(opSearch, query, p.Errors)
		docs, err := p.Split()
		if err != nil {
			return out, "", fmt.Errorf("xapi: search %q, page %d: %v: %w", query, page, err, streamproc.ErrUnavailable)
		}
		for _, d := range docs {
			// A tweet can appear on two pages when new ones arrive
			// between requests.
			if seen[d.ID] {
				continue
			}
			seen[d.ID] = true
			if v2doc.Newer(d.ID, newest) {
				newest = d.ID
			}
			out = append(out, streamproc.SourceTweet{ID: d.ID, ScreenName: d.Username, Raw: d.Raw})
		}
		next := p.Meta.NextToken
		if next == "" || (limit > 0 && len(out) >= limit) {
			break
		}
		if page >= c.opts.MaxPages {
			// A caller that keeps since_id skips the older results for
			// good once it moves past them; say so then.
			msg := "more search results than MaxPages: older ones are not fetched; raise MaxPages (produce --max-pages) for busy queries"
			if sinceID != "" {
				msg = "more search results than MaxPages: older ones are not fetched and later runs start after the newest; raise MaxPages for busy queries"
			}
			c.log.Warn(msg, "query", query, "pages", page)
			break
		}
		q.Set("next_token", next)
	}
	c.tweets.Add(int64(len(out)))
	c.met.Count("XAPITweets", int64(len(out)))
	if newest == "" || !v2doc.Newer(newest, sinceID) {
		newest = sinceID
	}
	return out, newest, nil
}

func isID(s string) bool {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// partialErrors logs and counts errors that came with a 200: the data is
// kept (x-api.md §3.2: a missing expanded object does not fail the page).
func (c *Client) partialErrors(op, what string, errs []json.RawMessage) {
	if len(errs) == 0 {
		return
	}
	c.partial.Add(int64(len(errs)))
	c.met.Count("XAPIPartialErrors", int64(len(errs)))
	for _, raw := range errs {
		var p struct {
			Title        string `json:"title"`
			Detail       string `json:"detail"`
			Type         string `json:"type"`
			ResourceType string `json:"resource_type"`
			ResourceID   string `json:"resource_id"`
			Parameter    string `json:"parameter"`
			Message      string `json:"message"`
		}
		_ = json.Unmarshal(raw, &p)
		c.log.Warn("X API partial error; the data that came with it is kept", "endpoint", op, "for", what,
			"title", p.Title, "detail", firstNonEmpty(p.Detail, p.Message), "type", p.Type,
			"resourceType", p.ResourceType, "resourceId", p.ResourceID, "parameter", p.Parameter)
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// get sends one GET, waiting for rate-limit windows and retrying 429, 5xx
// and network errors as the package comment describes.
func (c *Client) get(ctx context.Context, op, path string, q url.Values, auth authorizer) ([]byte, error) {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path
	u.RawQuery = encodeQuery(q)
	red := auth.secrets()
	for attempt := 0; ; attempt++ {
		if err := c.waitWindow(ctx, op); err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		req.Header.Set("User-Agent", c.opts.UserAgent)
		req.Header.Set("Accept", "application/json")
		auth.authorize(req, c.opts.Now(), c.opts.Nonce)
		c.requests.Add(1)
		c.met.Count("XAPIRequests", 1)
		resp, err := c.opts.HTTPClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", op, ctx.Err())
			}
			e := red.scrub(&Error{Op: op, class: streamproc.ErrUnavailable, cause: err})
			if attempt >= c.opts.MaxRetries {
				return nil, e
			}
			if err := c.backoff(ctx, serverBackoff(), attempt, op, "network error", e); err != nil {
				return nil, err
			}
			c.retries.Add(1)
			c.met.Count("XAPIRetries", 1)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", op, ctx.Err())
			}
			e := red.scrub(&Error{Op: op, Status: resp.StatusCode, class: streamproc.ErrUnavailable, cause: fmt.Errorf("reading the answer: %w", err)})
			if attempt >= c.opts.MaxRetries {
				return nil, e
			}
			if err := c.backoff(ctx, serverBackoff(), attempt, op, "truncated answer", e); err != nil {
				return nil, err
			}
			c.retries.Add(1)
			c.met.Count("XAPIRetries", 1)
			continue
		}
		reset := c.noteLimits(op, resp.Header)
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return body, nil
		}
		e := red.scrub(apiError(op, resp.StatusCode, parseProblem(body)))
		switch {
		case errors.Is(e, ErrUsageCapped):
			return nil, e
		case resp.StatusCode == http.StatusTooManyRequests:
			e.Reset = reset
			if attempt >= c.opts.MaxRetries {
				e.Hint = fmt.Sprintf("still limited after %d retries", attempt)
				return nil, e
			}
			if err := c.waitRateLimit(ctx, op, attempt, reset, retryAfter(resp.Header, c.opts.Now()), e); err != nil {
				return nil, err
			}
		case resp.StatusCode >= 500:
			if attempt >= c.opts.MaxRetries {
				e.Hint = fmt.Sprintf("still failing after %d retries", attempt)
				return nil, e
			}
			var err error
			if ra := retryAfter(resp.Header, c.opts.Now()); !ra.IsZero() {
				err = c.waitUntil(ctx, op, ra, "server asked to retry later", e)
			} else {
				err = c.backoff(ctx, serverBackoff(), attempt, op, resp.Status, e)
			}
			if err != nil {
				return nil, err
			}
		default:
			return nil, e
		}
		c.retries.Add(1)
		c.met.Count("XAPIRetries", 1)
	}
}

// encodeQuery encodes like url.Values.Encode but with %20 for spaces, which
// X's query parser and OAuth signature base strings both expect.
func encodeQuery(q url.Values) string {
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

// noteLimits records x-rate-limit-remaining/reset and returns the reset
// time (zero when absent).
func (c *Client) noteLimits(op string, h http.Header) time.Time {
	var reset time.Time
	if s := h.Get("x-rate-limit-reset"); s != "" {
		if sec, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && sec > 0 {
			reset = time.Unix(sec, 0)
		}
	}
	remaining := -1
	if s := h.Get("x-rate-limit-remaining"); s != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n >= 0 {
			remaining = n
		}
	}
	if remaining >= 0 || !reset.IsZero() {
		c.mu.Lock()
		c.limits[op] = window{remaining: remaining, reset: reset}
		c.mu.Unlock()
	}
	return reset
}

// retryAfter reads a Retry-After header in seconds (zero when absent).
func retryAfter(h http.Header, now time.Time) time.Time {
	s := strings.TrimSpace(h.Get("Retry-After"))
	if s == "" {
		return time.Time{}
	}
	if sec, err := strconv.Atoi(s); err == nil && sec >= 0 {
		return now.Add(time.Duration(sec) * time.Second)
	}
	if t, err := http.ParseTime(s); err == nil {
		return t
	}
	return time.Time{}
}

// waitWindow waits for the reset when the last answer of op said no
// requests remain in the window.
func (c *Client) waitWindow(ctx context.Context, op string) error {
	c.mu.Lock()
	w, ok := c.limits[op]
	c.mu.Unlock()
	if !ok || w.remaining != 0 || w.reset.IsZero() || !c.opts.Now().Before(w.reset.Add(resetMargin)) {
		return nil
	}
	e := &Error{Op: op, kind: ErrRateLimited, class: streamproc.ErrUnavailable, Reset: w.reset, Detail: "no requests remain in the rate-limit window"}
	if err := c.waitUntil(ctx, op, w.reset.Add(resetMargin), "no requests left in the rate-limit window", e); err != nil {
		return err
	}
	c.mu.Lock()
	if cur := c.limits[op]; cur == w {
		c.limits[op] = window{remaining: -1}
	}
	c.mu.Unlock()
	return nil
}

// waitRateLimit waits after a rate-limit 429: until the announced reset
// (plus a second of jitter, so clients sharing an app do not return in the
// same instant), else with exponential backoff.
func (c *Client) waitRateLimit(ctx context.Context, op string, attempt int, reset, retryAt time.Time, e *Error) error {
	switch {
	case !reset.IsZero():
		jitter := time.Duration(c.opts.Rand() * float64(time.Second))
		if err := c.waitUntil(ctx, op, reset.Add(resetMargin+jitter), "rate limited", e); err != nil {
			return err
		}
		// The window this 429 announced has reopened: its remaining=0
		// must not make the retry wait a second time.
		c.mu.Lock()
		if w := c.limits[op]; w.remaining == 0 && w.reset.Equal(reset) {
			c.limits[op] = window{remaining: -1}
		}
		c.mu.Unlock()
		return nil
	case !retryAt.IsZero():
		return c.waitUntil(ctx, op, retryAt, "rate limited", e)
	}
	return c.backoff(ctx, limitBackoff(), attempt, op, "rate limited, no reset time given", e)
}

// waitUntil sleeps until t. A wait longer than MaxWait, or past the
// context's deadline, fails with e (and ErrRateLimited) instead.
func (c *Client) waitUntil(ctx context.Context, op string, t time.Time, why string, e *Error) error {
	d := t.Sub(c.opts.Now())
	if d <= 0 {
		return nil
	}
	if d > c.opts.MaxWait {
		e.Hint = fmt.Sprintf("not waiting %v for it (longer than %v)", d.Round(time.Second), c.opts.MaxWait)
		return c.limitErr(e)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		e.Hint = fmt.Sprintf("the wait of %v would outlast the deadline", d.Round(time.Second))
		return c.limitErr(e)
	}
	c.waits.Add(1)
	c.met.Count("XAPIRateLimitWaits", 1)
	c.log.Info("X API: waiting for the rate-limit window", "endpoint", op, "why", why, "wait", d.Round(time.Millisecond), "until", t.UTC().Format(time.RFC3339))
	return c.sleep(ctx, op, d)
}

// limitErr makes e a rate-limit error (a 503's Retry-After that is too far
// off ends the same way: the service says "not now").
func (c *Client) limitErr(e *Error) error {
	if e.kind == nil {
		e.kind = ErrRateLimited
	}
	if e.class == nil {
		e.class = streamproc.ErrUnavailable
	}
	return e
}

// backoff sleeps before retry attempt+1 with full jitter.
func (c *Client) backoff(ctx context.Context, p backoff.Policy, attempt int, op, why string, e *Error) error {
	p.Rand = c.opts.Rand
	d := p.Delay(attempt)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		e.Hint = "no time left before the deadline to retry"
		return e
	}
	c.log.Warn("X API: retrying", "endpoint", op, "why", why, "attempt", attempt+2, "wait", d.Round(time.Millisecond))
	return c.sleep(ctx, op, d)
}

// sleep waits d, counting in Waited the time actually spent: all of d, or
// up to the moment ctx ended it.
func (c *Client) sleep(ctx context.Context, op string, d time.Duration) error {
	start := c.opts.Now()
	if err := c.opts.Sleep(ctx, d); err != nil {
		c.waited.Add(int64(min(max(c.opts.Now().Sub(start), 0), d)))
		return fmt.Errorf("%s: interrupted during a wait of %v: %w", op, d.Round(time.Second), err)
	}
	c.waited.Add(int64(d))
	return nil
}
