package xapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/local/params"
	"github.com/streamproc/streamproc/local/table"
	"github.com/streamproc/streamproc/source/xapi"
	"github.com/streamproc/streamproc/source/xapi/v2doc"
	"github.com/streamproc/streamproc/source/xapi/xapitest"
	"github.com/streamproc/streamproc/tweet"
)

const bearerToken = "AAAA-test-bearer-SECRET-1234567890"

var oauthCreds = xapitest.OAuth1{
	ConsumerKey: "ck-test-CONSUMERKEY", ConsumerSecret: "cs-test-CONSUMERSECRET",
	Token: "123-at-test-ACCESSTOKEN", TokenSecret: "ats-test-TOKENSECRET",
}

// clock is a fake clock whose Sleep advances it and records the wait.
type clock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sleeps)
}

// envParams is the local params store over a fixed environment.
func envParams(t *testing.T, env map[string]string) streamproc.Params {
	t.Helper()
	p, err := params.New("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func bearerEnv() map[string]string { return map[string]string{"TWITTER_BEARER_TOKEN": bearerToken} }

func oauthEnv() map[string]string {
	return map[string]string{
		"TWITTER_CONSUMER_KEY": oauthCreds.ConsumerKey, "TWITTER_CONSUMER_SECRET": oauthCreds.ConsumerSecret,
		"TWITTER_ACCESS_TOKEN_KEY": oauthCreds.Token, "TWITTER_ACCESS_TOKEN_SECRET": oauthCreds.TokenSecret,
	}
}

// lockedBuffer collects log output from concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	srv   *xapitest.Server
	clock *clock
	logs  *lockedBuffer
}

// setup starts a fake API holding the fixture's 15 statuses on pages of
// pageSize, and a client for it.
func setup(t *testing.T, cfg xapitest.Config, creds map[string]string, opts xapi.Options) (*env, *xapi.Client) {
	t.Helper()
	e := &env{clock: newClock(), logs: &lockedBuffer{}}
	if cfg.BearerToken == "" && cfg.OAuth1 == nil {
		cfg.BearerToken = bearerToken
	}
	cfg.Now = e.clock.Now
	e.srv = xapitest.New(t, cfg)
	if err := e.srv.AddV1(fixture.SearchStatuses(t)...); err != nil {
		t.Fatal(err)
	}
	if creds == nil {
		creds = bearerEnv()
	}
	opts.BaseURL = e.srv.URL
	opts.Params = envParams(t, creds)
	opts.Now = e.clock.Now
	if opts.Sleep == nil {
		opts.Sleep = e.clock.Sleep
	}
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := xapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

// v1Reference decodes the fixture status with the given id as the pipeline
// would, and adjusts the fields v2 cannot carry: the format, and source
// (X stopped returning it in 2022, x-api.md §3.2).
func v1Reference(t *testing.T) map[string]tweet.Tweet {
	t.Helper()
	out := map[string]tweet.Tweet{}
	for _, raw := range fixture.SearchStatuses(t) {
		m, err := tweet.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		tw := m.Tweets[0]
		tw.Format = tweet.FormatV2
		tw.Source = ""
		out[tw.IDStr] = tw
	}
	return out
}

// Every fixture tweet comes back over four pages as a v2 single-tweet
// document that decodes to the same tweet as the original v1.1 status.
func TestSearchPaginatesAndDecodesWithoutLoss(t *testing.T) {
	e, c := setup(t, xapitest.Config{PageSize: 4}, nil, xapi.Options{})
	tweets, newest, err := c.Search(context.Background(), "golang", "")
	if err != nil {
		t.Fatal(err)
	}
	want := e.srv.IDs()
	if len(tweets) != 15 || len(want) != 15 {
		t.Fatalf("%d tweets, fake holds %d", len(tweets), len(want))
	}
	if newest != want[0] {
		t.Errorf("newest = %s, want %s", newest, want[0])
	}
	refs := v1Reference(t)
	for i, st := range tweets {
		if st.ID != want[i] {
			t.Errorf("tweet %d is %s, want %s (newest first)", i, st.ID, want[i])
		}
		if bytes.ContainsAny(st.Raw, "\n") {
			t.Errorf("tweet %s: raw document is not one line", st.ID)
		}
		m, err := tweet.Decode(st.Raw)
		if err != nil {
			t.Fatalf("tweet %s: %v\n%s", st.ID, err, st.Raw)
		}
		if m.Kind != tweet.KindTweet || len(m.Tweets) != 1 {
			t.Fatalf("tweet %s decodes to %+v", st.ID, m)
		}
		got := m.Tweets[0]
		if st.ScreenName != got.User.ScreenName || st.ScreenName == "" {
			t.Errorf("tweet %s: ScreenName %q, author %q", st.ID, st.ScreenName, got.User.ScreenName)
		}
		if ref := refs[st.ID]; !reflect.DeepEqual(got, ref) {
			t.Errorf("tweet %s differs from its v1.1 original\n got %+v\nwant %+v", st.ID, got, ref)
		}
	}
	reqs := e.srv.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4 pages", len(reqs))
	}
	for i, r := range reqs {
		q := r.Query
		if q.Get("query") != "golang" || q.Get("max_results") != "100" || r.Auth != "bearer" || r.Status != 200 {
			t.Errorf("request %d: %v auth=%s status=%d", i, q, r.Auth, r.Status)
		}
		for _, f := range []string{"created_at", "lang", "public_metrics", "entities", "author_id", "note_tweet", "referenced_tweets"} {
			if !strings.Contains(q.Get("tweet.fields"), f) {
				t.Errorf("request %d: tweet.fields lacks %s", i, f)
			}
		}
		if q.Get("expansions") != "author_id,referenced_tweets.id,referenced_tweets.id.author_id" {
			t.Errorf("request %d: expansions %q", i, q.Get("expansions"))
		}
		if (i == 0) != (q.Get("next_token") == "") {
			t.Errorf("request %d: next_token %q", i, q.Get("next_token"))
		}
	}
	if s := c.Stats(); s.Pages != 4 || s.Tweets != 15 || s.Requests != 4 || s.Retries != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestSearchSinceID(t *testing.T) {
	e, c := setup(t, xapitest.Config{}, nil, xapi.Options{})
	ids := e.srv.IDs()
	tests := []struct {
		name       string
		since      string
		wantIDs    []string
		wantNewest string
	}{
		{"from the fifth newest", ids[4], ids[:4], ids[0]},
		{"nothing newer", ids[0], nil, ids[0]},
		{"no bound", "", ids, ids[0]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tweets, newest, err := c.Search(context.Background(), "golang", tc.since)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tw := range tweets {
				got = append(got, tw.ID)
			}
			if !slices.Equal(got, tc.wantIDs) || newest != tc.wantNewest {
				t.Errorf("ids %v newest %s; want %v newest %s", got, newest, tc.wantIDs, tc.wantNewest)
			}
			reqs := e.srv.Requests()
			if last := reqs[len(reqs)-1]; last.Query.Get("since_id") != tc.since {
				t.Errorf("since_id sent = %q", last.Query.Get("since_id"))
			}
		})
	}
	if _, _, err := c.Search(context.Background(), "golang", "12abc"); !errors.Is(err, streamproc.ErrInvalid) {
		t.Errorf("bad since_id: %v", err)
	}
}

// A long post keeps its whole text (note_tweet); a retweet whose original
// is gone comes with a partial error, which is counted and logged while the
// data is kept.
func TestNoteTweetAndPartialErrors(t *testing.T) {
	e, c := setup(t, xapitest.Config{}, nil, xapi.Options{})
	long := strings.Repeat("ça va très bien 🚀 ", 20) + "#LongPost"
	note, _ := json.Marshal(map[string]any{
		"id": "1900000000000000001", "text": string([]rune(long)[:280]), "created_at": "2026-03-01T11:00:00.000Z",
		"author_id": "42", "lang": "fr", "edit_history_tweet_ids": []string{"1900000000000000001"},
		"note_tweet": map[string]any{"text": long, "entities": map[string]any{"hashtags": []map[string]any{{"start": 360, "end": 369, "tag": "LongPost"}}}},
	})
	orphan := []byte(`{"id":"1900000000000000002","text":"RT @gone: a deleted orig…","created_at":"2026-03-01T11:00:01.000Z","author_id":"42","referenced_tweets":[{"type":"retweeted","id":"1111111111111111111"}]}`)
	user := []byte(`{"id":"42","name":"Long Poster","username":"longposter","verified":false}`)
	if err := e.srv.AddV2(note, user); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddV2(orphan, user); err != nil {
		t.Fatal(err)
	}
	tweets, _, err := c.Search(context.Background(), "golang", "1800000000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if len(tweets) != 2 {
		t.Fatalf("%d tweets, want the 2 new ones", len(tweets))
	}
	byID := map[string]tweet.Tweet{}
	for _, st := range tweets {
		m, err := tweet.Decode(st.Raw)
		if err != nil {
			t.Fatal(err)
		}
		byID[st.ID] = m.Tweets[0]
	}
	if got := byID["1900000000000000001"]; got.Text != long || !slices.Equal(got.Hashtags, []string{"LongPost"}) || got.User.ScreenName != "longposter" {
		t.Errorf("long post = %+v", got)
	}
	if got := byID["1900000000000000002"]; got.RetweetedID != "1111111111111111111" || !strings.HasPrefix(got.Text, "RT @gone") {
		t.Errorf("orphan retweet = %+v", got)
	}
	if s := c.Stats(); s.PartialErrors != 1 {
		t.Errorf("partial errors = %d, want 1", s.PartialErrors)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "partial error") || !strings.Contains(logs, "1111111111111111111") {
		t.Errorf("partial error not logged:\n%s", logs)
	}
}

func TestTrends(t *testing.T) {
	e, c := setup(t, xapitest.Config{}, nil, xapi.Options{})
	e.srv.SetTrends(xapitest.Trend{Name: "#golang", Count: 1200}, xapitest.Trend{Name: "St James"}, xapitest.Trend{Name: "Europe", Count: 232408}, xapitest.Trend{Name: "Isak"})
	got, err := c.Trends(context.Background(), 23424977, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []streamproc.Trend{{Name: "#golang", Query: "#golang"}, {Name: "St James", Query: `"St James"`}, {Name: "Europe", Query: "Europe"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trends = %+v", got)
	}
	r := e.srv.Requests()[0]
	if r.Query.Get("max_trends") != "3" || r.Query.Get("trend.fields") != "trend_name,tweet_count" {
		t.Errorf("trends request %v", r.Query)
	}
}

// Each case scripts the fake's answers to the first search request and
// checks what the client waited, how often it asked, and what it returned.
func TestRateLimitsAndRetries(t *testing.T) {
	start := newClock().Now()
	tests := []struct {
		name       string
		opts       xapi.Options
		faults     []xapitest.Fault
		wantSleeps []time.Duration
		wantReqs   int
		wantErr    []error // errors.Is targets; nil = success
		notErr     []error
		wantInErr  []string
	}{
		{
			name:       "429 waits for the announced reset, plus margin and jitter",
			faults:     []xapitest.Fault{xapitest.RateLimited(start.Add(90 * time.Second))},
			wantSleeps: []time.Duration{90*time.Second + time.Second + 500*time.Millisecond},
			wantReqs:   3, // page 1 twice, page 2
		},
		{
			name:       "no requests remaining: the next request waits for the reset",
			faults:     []xapitest.Fault{xapitest.Remaining(0, start.Add(60*time.Second))},
			wantSleeps: []time.Duration{61 * time.Second},
			wantReqs:   2, // page 1 (remaining 0), then page 2 after the wait
		},
		{
			name:       "503 is retried with exponential backoff and jitter",
			faults:     []xapitest.Fault{xapitest.Unavailable(), xapitest.Unavailable()},
			wantSleeps: []time.Duration{500 * time.Millisecond, time.Second},
			wantReqs:   4,
		},
		{
			name:       "429 without headers backs off from 5s",
			faults:     []xapitest.Fault{{Status: 429, Body: `{"errors":[{"code":88,"message":"Rate limit exceeded"}]}`}},
			wantSleeps: []time.Duration{2500 * time.Millisecond},
			wantReqs:   3,
		},
		{
			name:      "usage cap: no retry, a clear error",
			faults:    []xapitest.Fault{xapitest.UsageCapped()},
			wantReqs:  1,
			wantErr:   []error{xapi.ErrUsageCapped, streamproc.ErrRefused},
			notErr:    []error{streamproc.ErrUnavailable, xapi.ErrRateLimited},
			wantInErr: []string{"usage cap exceeded", "Monthly product cap", "period Monthly", "not retrying"},
		},
		{
			name:      "reset further away than MaxWait: no wait",
			faults:    []xapitest.Fault{xapitest.RateLimited(start.Add(2 * time.Hour))},
			wantReqs:  1,
			wantErr:   []error{xapi.ErrRateLimited, streamproc.ErrUnavailable},
			wantInErr: []string{"not waiting 2h0m2s", "resets at 2026-03-01T14:00:00Z"},
		},
		{
			name:       "5xx beyond MaxRetries",
			opts:       xapi.Options{MaxRetries: 2},
			faults:     []xapitest.Fault{xapitest.Unavailable(), xapitest.Unavailable(), xapitest.Unavailable()},
			wantSleeps: []time.Duration{500 * time.Millisecond, time.Second},
			wantReqs:   3,
			wantErr:    []error{streamproc.ErrUnavailable},
			wantInErr:  []string{"503 Service Unavailable", "still failing after 2 retries"},
		},
		{
			name:      "problem details of a 400 are shown",
			faults:    []xapitest.Fault{xapitest.Problem(400, "https://api.twitter.com/2/problems/invalid-request", "Invalid Request", "One or more parameters to your request was invalid.")},
			wantReqs:  1,
			wantErr:   []error{streamproc.ErrInvalid},
			wantInErr: []string{"GET /2/tweets/search/recent", "400 Bad Request", "Invalid Request", "One or more parameters", "invalid-request"},
		},
		{
			name:      "403 client-forbidden",
			faults:    []xapitest.Fault{xapitest.Problem(403, "https://api.twitter.com/2/problems/client-forbidden", "Client Forbidden", "This request must be made using an approved developer account that is enrolled in the requested endpoint.")},
			wantReqs:  1,
			wantErr:   []error{xapi.ErrAuth, streamproc.ErrInvalid},
			wantInErr: []string{"Client Forbidden", "approved developer account"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, c := setup(t, xapitest.Config{PageSize: 10}, nil, tc.opts)
			e.srv.Inject(xapitest.Search, tc.faults...)
			tweets, _, err := c.Search(context.Background(), "golang", "")
			if got := e.clock.Sleeps(); !slices.Equal(got, tc.wantSleeps) {
				t.Errorf("sleeps %v, want %v", got, tc.wantSleeps)
			}
			if got := len(e.srv.Requests()); got != tc.wantReqs {
				t.Errorf("%d requests, want %d", got, tc.wantReqs)
			}
			if tc.wantErr == nil {
				if err != nil || len(tweets) != 15 {
					t.Fatalf("%d tweets, err %v", len(tweets), err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, target := range tc.wantErr {
				if !errors.Is(err, target) {
					t.Errorf("error %q is not %v", err, target)
				}
			}
			for _, target := range tc.notErr {
				if errors.Is(err, target) {
					t.Errorf("error %q must not be %v", err, target)
				}
			}
			for _, s := range tc.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

// A 429 in the middle of pagination repeats that page only: no tweet is
// lost or returned twice.
func TestRateLimitMidPagination(t *testing.T) {
	e, c := setup(t, xapitest.Config{PageSize: 4, Limit: 2, Window: time.Minute}, nil, xapi.Options{})
	tweets, _, err := c.Search(context.Background(), "golang", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tw := range tweets {
		got = append(got, tw.ID)
	}
	if !slices.Equal(got, e.srv.IDs()) {
		t.Errorf("ids %v\nwant %v", got, e.srv.IDs())
	}
	// Two requests per minute: page 2 leaves 0 remaining, so the client
	// waits for the reset before page 3 instead of hitting a 429.
	var statuses []int
	for _, r := range e.srv.Requests() {
		statuses = append(statuses, r.Status)
	}
	if !slices.Equal(statuses, []int{200, 200, 200, 200}) {
		t.Errorf("statuses %v", statuses)
	}
	if s := e.clock.Sleeps(); len(s) != 1 || s[0] != time.Minute+time.Second {
		t.Errorf("sleeps %v, want one wait of 61s", s)
	}
}

func TestOAuth1UserContext(t *testing.T) {
	creds := oauthCreds
	e, c := setup(t, xapitest.Config{OAuth1: &creds}, oauthEnv(), xapi.Options{})
	// The retried request must be signed afresh: the fake refuses a nonce
	// it has seen.
	e.srv.Inject(xapitest.Search, xapitest.Unavailable())
	tweets, _, err := c.Search(context.Background(), "#golang OR go-lang ~ñ", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(tweets) != 15 {
		t.Fatalf("%d tweets", len(tweets))
	}
	for _, r := range e.srv.Requests() {
		if r.Auth != "oauth1" {
			t.Errorf("request auth %q", r.Auth)
		}
	}
	// Trends is app-only (X answers 403 to user context): refused before
	// a request, saying what to do instead of blaming the keys.
	before := len(e.srv.Requests())
	_, err = c.Trends(context.Background(), 1, 5)
	if !errors.Is(err, streamproc.ErrInvalid) || !strings.Contains(err.Error(), "need the app-only bearer token") || !strings.Contains(err.Error(), "--query") {
		t.Errorf("trends with OAuth 1.0a: %v", err)
	}
	if n := len(e.srv.Requests()) - before; n != 0 {
		t.Errorf("%d trends requests with user-context keys", n)
	}
}

func TestAuthFailures(t *testing.T) {
	tests := []struct {
		name      string
		cfg       xapitest.Config
		creds     map[string]string
		auth      string
		wantErr   []error
		wantInErr []string
		wantReqs  int
	}{
		{
			name: "wrong bearer token: 401", cfg: xapitest.Config{BearerToken: "another-token"}, creds: bearerEnv(),
			wantErr: []error{xapi.ErrAuth, streamproc.ErrInvalid, streamproc.ErrRefused}, wantInErr: []string{"401 Unauthorized", "check the bearer token"}, wantReqs: 1,
		},
		{
			name: "wrong OAuth secret: 401", cfg: xapitest.Config{OAuth1: &xapitest.OAuth1{ConsumerKey: oauthCreds.ConsumerKey, ConsumerSecret: "other", Token: oauthCreds.Token, TokenSecret: oauthCreds.TokenSecret}},
			creds: oauthEnv(), wantErr: []error{xapi.ErrAuth}, wantInErr: []string{"401"}, wantReqs: 1,
		},
		{
			name: "no credentials at all", creds: map[string]string{},
			wantErr: []error{xapi.ErrNoCredentials, streamproc.ErrNotFound}, wantInErr: []string{"/twitter/bearer_token", "/twitter/consumer_key", "TWITTER_BEARER_TOKEN"},
		},
		{
			name: "bearer forced but only OAuth configured", creds: oauthEnv(), auth: xapi.AuthBearer,
			wantErr: []error{streamproc.ErrNotFound}, wantInErr: []string{"/twitter/bearer_token"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, c := setup(t, tc.cfg, tc.creds, xapi.Options{Auth: tc.auth})
			_, _, err := c.Search(context.Background(), "golang", "")
			for _, target := range tc.wantErr {
				if !errors.Is(err, target) {
					t.Errorf("error %v is not %v", err, target)
				}
			}
			for _, s := range tc.wantInErr {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("error %v does not mention %q", err, s)
				}
			}
			if got := len(e.srv.Requests()); got != tc.wantReqs {
				t.Errorf("%d requests, want %d (auth failures are not retried)", got, tc.wantReqs)
			}
		})
	}
}

// Credentials appear in no error and no log line, even when a server echoes
// the Authorization header back in its error body.
func TestCredentialsNeverLeak(t *testing.T) {
	secrets := []string{bearerToken, oauthCreds.ConsumerKey, oauthCreds.ConsumerSecret, oauthCreds.Token, oauthCreds.TokenSecret}
	tests := []struct {
		name  string
		cfg   xapitest.Config
		creds map[string]string
	}{
		{"bearer echoed by a 401", xapitest.Config{BearerToken: "something-else", EchoAuthOn401: true}, bearerEnv()},
		{"OAuth header echoed by a 401", xapitest.Config{OAuth1: &xapitest.OAuth1{ConsumerKey: "x", ConsumerSecret: "y", Token: "z", TokenSecret: "w"}, EchoAuthOn401: true}, oauthEnv()},
		{"successful run with waits and retries", xapitest.Config{PageSize: 5}, bearerEnv()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, c := setup(t, tc.cfg, tc.creds, xapi.Options{})
			e.srv.Inject(xapitest.Search, xapitest.Unavailable(), xapitest.RateLimited(e.clock.Now().Add(time.Minute)))
			var texts []string
			if _, _, err := c.Search(context.Background(), "golang", ""); err != nil {
				texts = append(texts, err.Error())
				for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
					texts = append(texts, u.Error())
				}
			}
			if _, err := c.Trends(context.Background(), 1, 3); err != nil {
				texts = append(texts, err.Error())
			}
			texts = append(texts, e.logs.String())
			if tc.cfg.EchoAuthOn401 && !strings.Contains(strings.Join(texts, "\n"), "[redacted]") {
				t.Errorf("the echoed header was not redacted: %q", texts)
			}
			for _, text := range texts {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("secret %q leaked into %q", s, text)
					}
				}
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	srv := xapitest.New(t, xapitest.Config{BearerToken: bearerToken})
	srv.SetTrends(xapitest.Trend{Name: "x"})
	getenv := func(k string) (string, bool) {
		if k == xapi.EnvBaseURL {
			return srv.URL, true
		}
		return "", false
	}
	tests := []struct {
		name string
		opts xapi.Options
		want string
	}{
		{"from X_API_BASE_URL", xapi.Options{Getenv: getenv}, srv.URL},
		{"the option wins over the environment", xapi.Options{Getenv: getenv, BaseURL: srv.URL + "/"}, srv.URL},
		{"default", xapi.Options{}, xapi.DefaultBaseURL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Params = envParams(t, bearerEnv())
			c, err := xapi.New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL() != tc.want {
				t.Fatalf("base URL %s, want %s", c.BaseURL(), tc.want)
			}
			if tc.want == srv.URL {
				if _, err := c.Trends(context.Background(), 1, 1); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	for _, bad := range []string{"ftp://x", "not a url", "http://"} {
		if _, err := xapi.New(xapi.Options{BaseURL: bad, Params: envParams(t, bearerEnv())}); !errors.Is(err, streamproc.ErrInvalid) {
			t.Errorf("base URL %q: %v", bad, err)
		}
	}
}

// Scheduled runs remember the newest id per query in the state table, so a
// fresh client (a cold Lambda) asks only for newer tweets.
func TestSinceIDsInTable(t *testing.T) {
	ctx := context.Background()
	store, err := table.Open(filepath.Join(t.TempDir(), "tables"), table.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	const name = "streamproc-ProducerState"
	if err := store.CreateTable(ctx, xapi.StateTableSpec(name)); err != nil {
		t.Fatal(err)
	}
	ids := &xapi.TableSinceIDs{Table: store, Name: name}
	e, c := setup(t, xapitest.Config{}, nil, xapi.Options{})
	all := e.srv.IDs()

	src := xapi.WithSinceIDs(c, ids, nil)
	first, newest, err := src.Search(ctx, "golang", "")
	if err != nil || len(first) != 15 || newest != all[0] {
		t.Fatalf("first run: %d tweets, newest %s, %v", len(first), newest, err)
	}
	// Nothing is remembered until the tweets are written and committed: a
	// run whose write failed fetches them again.
	if again, _, err := xapi.WithSinceIDs(c, ids, nil).Search(ctx, "golang", ""); err != nil || len(again) != 15 {
		t.Fatalf("a run after an uncommitted one: %d tweets, %v; want the same 15", len(again), err)
	}
	if err := src.(streamproc.SinceIDCommitter).CommitSinceID(ctx, "golang", newest); err != nil {
		t.Fatal(err)
	}
	// A new run: the producer's memory is empty, the table is not.
	again, _, err := xapi.WithSinceIDs(c, ids, nil).Search(ctx, "golang", "")
	if err != nil || len(again) != 0 {
		t.Fatalf("second run: %d tweets, %v", len(again), err)
	}
	reqs := e.srv.Requests()
	if got := reqs[len(reqs)-1].Query.Get("since_id"); got != all[0] {
		t.Errorf("second run sent since_id %q, want %s", got, all[0])
	}

	tests := []struct {
		name, query, put, want string
	}{
		{"stored", "golang", "", all[0]},
		{"an older id does not replace a newer one", "golang", all[5], all[0]},
		{"a newer id does", "golang", "9999999999999999999", "9999999999999999999"},
		{"unknown query", "never searched", "", ""},
		{"a query too long for a key is hashed", strings.Repeat("верно ", 300), "1234", "1234"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.put != "" {
				if err := ids.Put(ctx, tc.query, tc.put); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ids.Get(ctx, tc.query)
			if err != nil || got != tc.want {
				t.Errorf("Get = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// The store is advisory: a missing state table does not stop the search.
func TestSinceIDsStoreFailureIsNotFatal(t *testing.T) {
	store, err := table.Open(filepath.Join(t.TempDir(), "tables"), table.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e, c := setup(t, xapitest.Config{}, nil, xapi.Options{})
	logs := &lockedBuffer{}
	src := xapi.WithSinceIDs(c, &xapi.TableSinceIDs{Table: store, Name: "missing"}, slog.New(slog.NewTextHandler(logs, nil)))
	tweets, _, err := src.Search(context.Background(), "golang", "")
	if err != nil || len(tweets) != 15 {
		t.Fatalf("%d tweets, %v", len(tweets), err)
	}
	if !strings.Contains(logs.String(), "since_id store unreadable") {
		t.Errorf("logs: %s", logs)
	}
	_ = e
}

func TestNewerComparesIDsAsNumbers(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"1000", "999", true},
		{"999", "1000", false},
		{"1174681441692635136", "1174681441692635135", true},
		{"1", "", true},
		{"", "1", false},
		{"5", "5", false},
	}
	for _, tc := range tests {
		if got := v2doc.Newer(tc.a, tc.b); got != tc.want {
			t.Errorf("Newer(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// Network failures are retried with backoff, then reported as transient;
// a canceled context ends a wait at once.
func TestTransportErrorsAndCancel(t *testing.T) {
	clk := newClock()
	c, err := xapi.New(xapi.Options{BaseURL: "http://127.0.0.1:1", Params: envParams(t, bearerEnv()),
		Now: clk.Now, Sleep: clk.Sleep, Rand: func() float64 { return 0.5 }, MaxRetries: 2,
		HTTPClient: &http.Client{Transport: failingTransport{}}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Search(context.Background(), "golang", "")
	if !errors.Is(err, streamproc.ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %v", err)
	}
	if got := clk.Sleeps(); !slices.Equal(got, []time.Duration{500 * time.Millisecond, time.Second}) {
		t.Errorf("sleeps %v", got)
	}

	e, c2 := setup(t, xapitest.Config{}, nil, xapi.Options{
		Sleep: func(context.Context, time.Duration) error { return context.Canceled },
	})
	e.srv.Inject(xapitest.Search, xapitest.RateLimited(e.clock.Now().Add(time.Minute)))
	if _, _, err := c2.Search(context.Background(), "golang", ""); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled wait: %v", err)
	}
}

// failingTransport fails every request the way a refused connection does.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
}
