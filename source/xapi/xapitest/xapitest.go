// Package xapitest is a fake X API v2 for tests, built from the spec in
// x-api.md and fed with real tweets (v1.1 fixtures converted the way X's
// migration guide maps the fields, or v2 objects as they are).
//
// It serves:
//   - GET /2/tweets/search/recent: query, max_results (10–100, else 400),
//     since_id, next_token pagination (unknown tokens are 400), newest first;
//     only the requested tweet.fields and user.fields are returned, and
//     includes follow the requested expansions (author_id,
//     referenced_tweets.id, referenced_tweets.id.author_id). A referenced
//     tweet it does not know yields a partial error next to the data, as X
//     does for deleted tweets.
//   - GET /2/trends/by/woeid/:id: the configured trends, max_trends of them;
//     app-only auth only (OAuth 1.0a gets X's 403).
//   - Auth: Bearer tokens and OAuth 1.0a HMAC-SHA1 signatures are checked
//     (signature, timestamp skew, nonce reuse) with a verifier written
//     independently of the client's signer; anything else is a 401 problem.
//   - Rate limits: x-rate-limit-limit/remaining/reset on every answer, per
//     endpoint, with windows of Config.Limit requests on Config.Now's clock;
//     an exhausted window answers X's rate-limit 429.
//   - Faults queued with Inject: 429 with reset headers, usage cap, 503,
//     any problem body, or headers added to a normal answer.
package xapitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Endpoints, for Inject and Request.Endpoint.
const (
	Search = "search"
	Trends = "trends"
)

// Config sets what the fake accepts and how it limits.
type Config struct {
	// BearerToken is the accepted app-only token ("" = none accepted).
	BearerToken string
	// OAuth1 are the accepted user-context credentials (nil = none).
	OAuth1 *OAuth1
	// PageSize caps a page below max_results (0 = max_results), so a few
	// tweets span several pages.
	PageSize int
	// Limit is the number of requests per window and endpoint (0 = no
	// limit; headers are sent anyway).
	Limit int
	// Window is the rate-limit window (default 15 minutes).
	Window time.Duration
	// Now is the fake's clock (default time.Now).
	Now func() time.Time
	// Match decides whether a tweet's text matches a query (default: every
	// tweet matches every query).
	Match func(query, text string) bool
	// EchoAuthOn401 puts the received Authorization header into the 401
	// detail, as a careless proxy might, to test that clients redact it.
	EchoAuthOn401 bool
}

// OAuth1 is a set of OAuth 1.0a credentials.
type OAuth1 struct {
	ConsumerKey, ConsumerSecret, Token, TokenSecret string
}

// Fault is an answer injected before normal service.
type Fault struct {
	Status int
	Body   string
	Header http.Header
	// Pass serves the request normally and adds Header to the answer (for
	// x-rate-limit-remaining: 0 on a 200).
	Pass bool
}

// Request is one request the fake received.
type Request struct {
	Endpoint string
	Query    url.Values
	Auth     string // "bearer", "oauth1" or "" (rejected)
	Status   int
}

// Trend is one configured trend.
type Trend struct {
	Name  string
	Count int64 // 0: tweet_count omitted, as X does for many trends
}

// Server is the fake API.
type Server struct {
	// URL is the base URL to give the client.
	URL string
	srv *httptest.Server
	cfg Config

	mu       sync.Mutex
	search   []object          // searchable tweets
	tweets   map[string]object // every tweet by id, referenced-only ones too
	users    map[string]object
	trends   []Trend
	faults   map[string][]Fault
	windows  map[string]*limitWindow
	nonces   map[string]bool
	tokens   map[string]int // next_token → offset
	requests []Request
}

type limitWindow struct {
	start time.Time
	used  int
}

// New starts a fake API; it is closed when the test ends.
func New(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, tweets: map[string]object{}, users: map[string]object{}, faults: map[string][]Fault{},
		windows: map[string]*limitWindow{}, nonces: map[string]bool{}, tokens: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2/tweets/search/recent", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, Search, s.handleSearch) })
	mux.HandleFunc("GET /2/trends/by/woeid/{woeid}", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, Trends, s.handleTrends) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "https://api.twitter.com/2/problems/resource-not-found", "Not Found Error", "no such endpoint in the fake: "+r.URL.Path)
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// AddV1 adds v1.1 statuses as searchable tweets, converted to v2 with their
// authors; retweeted and quoted originals become referenced tweets.
func (s *Server) AddV1(statuses ...[]byte) error {
	for _, raw := range statuses {
		c, err := fromV1(raw)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.addConverted(c, true)
		s.mu.Unlock()
	}
	return nil
}

func (s *Server) addConverted(c converted, searchable bool) {
	for _, r := range c.refs {
		s.addConverted(r, false)
	}
	id := c.tweet.str("id")
	if _, dup := s.tweets[id]; !dup || searchable {
		s.tweets[id] = c.tweet
	}
	s.users[c.user.str("id")] = c.user
	if searchable && !slices.ContainsFunc(s.search, func(o object) bool { return o.str("id") == id }) {
		s.search = append(s.search, c.tweet)
	}
}

// AddV2 adds a v2 tweet object as a searchable tweet, with users (its
// author, and others it refers to).
func (s *Server) AddV2(tweet []byte, users ...[]byte) error {
	return s.addV2(tweet, users, true)
}

// AddReferenced adds a v2 tweet that can be expanded but not searched.
func (s *Server) AddReferenced(tweet []byte, users ...[]byte) error {
	return s.addV2(tweet, users, false)
}

func (s *Server) addV2(tweet []byte, users [][]byte, searchable bool) error {
	var t object
	if err := json.Unmarshal(tweet, &t); err != nil {
		return fmt.Errorf("v2 tweet: %w", err)
	}
	if t.str("id") == "" {
		return fmt.Errorf("v2 tweet without id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		var o object
		if err := json.Unmarshal(u, &o); err != nil {
			return fmt.Errorf("v2 user: %w", err)
		}
		s.users[o.str("id")] = o
	}
	s.tweets[t.str("id")] = t
	if searchable {
		s.search = append(s.search, t)
	}
	return nil
}

// IDs returns the ids of the searchable tweets, newest first.
func (s *Server) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.search))
	for _, t := range s.search {
		ids = append(ids, t.str("id"))
	}
	slices.SortFunc(ids, func(a, b string) int { return compareIDs(b, a) })
	return ids
}

// SetTrends sets the trends served, most popular first.
func (s *Server) SetTrends(trends ...Trend) {
	s.mu.Lock()
	s.trends = trends
	s.mu.Unlock()
}

// Inject queues faults for the next requests to endpoint, in order.
func (s *Server) Inject(endpoint string, faults ...Fault) {
	s.mu.Lock()
	s.faults[endpoint] = append(s.faults[endpoint], faults...)
	s.mu.Unlock()
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RateLimited is X's rate-limit 429 with the window's headers.
func RateLimited(reset time.Time) Fault {
	return Fault{Status: http.StatusTooManyRequests, Header: limitHeaders(450, 0, reset),
		Body: `{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`}
}

// UsageCapped is X's usage-cap 429 (x-api.md §3.3): not a rate limit.
func UsageCapped() Fault {
	return Fault{Status: http.StatusTooManyRequests,
		Body: `{"title":"UsageCapExceeded","detail":"Usage cap exceeded: Monthly product cap","type":"https://api.twitter.com/2/problems/usage-capped","period":"Monthly","scope":"Product"}`}
}

// Unavailable is a 503 with a problem body.
func Unavailable() Fault {
	return Fault{Status: http.StatusServiceUnavailable,
		Body: `{"title":"Service Unavailable","detail":"Service Unavailable","type":"about:blank","status":503}`}
}

// Problem is any problem-detail answer.
func Problem(status int, typ, title, detail string) Fault {
	b, _ := json.Marshal(map[string]any{"type": typ, "title": title, "detail": detail, "status": status})
	return Fault{Status: status, Body: string(b)}
}

// Remaining adds rate-limit headers to a normal answer.
func Remaining(remaining int, reset time.Time) Fault {
	return Fault{Pass: true, Header: limitHeaders(450, remaining, reset)}
}

func limitHeaders(limit, remaining int, reset time.Time) http.Header {
	h := http.Header{}
	h.Set("x-rate-limit-limit", strconv.Itoa(limit))
	h.Set("x-rate-limit-remaining", strconv.Itoa(remaining))
	h.Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
	return h
}

func problem(w http.ResponseWriter, status int, typ, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": typ, "title": title, "detail": detail, "status": status})
}

// serve authenticates, applies faults and rate limits, then handles.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, endpoint string, handle func(http.ResponseWriter, *http.Request, string) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := Request{Endpoint: endpoint, Query: r.URL.Query()}
	defer func() { s.requests = append(s.requests, req) }()

	auth, ok := s.authenticate(r)
	req.Auth = auth
	if !ok {
		detail := "Unauthorized"
		if s.cfg.EchoAuthOn401 {
			detail += "; received Authorization: " + r.Header.Get("Authorization")
		}
		req.Status = http.StatusUnauthorized
		problem(w, http.StatusUnauthorized, "about:blank", "Unauthorized", detail)
		return
	}
	var extra http.Header
	if q := s.faults[endpoint]; len(q) > 0 {
		f := q[0]
		s.faults[endpoint] = q[1:]
		if !f.Pass {
			for k, vs := range f.Header {
				w.Header()[k] = vs
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			req.Status = f.Status
			return
		}
		extra = f.Header
	}
	now := s.cfg.Now()
	win := s.windows[endpoint]
	if win == nil || !now.Before(win.start.Add(s.cfg.Window)) {
		win = &limitWindow{start: now}
		s.windows[endpoint] = win
	}
	limit := s.cfg.Limit
	if limit <= 0 {
		limit = 450
	} else if win.used >= limit {
		for k, vs := range limitHeaders(limit, 0, win.start.Add(s.cfg.Window)) {
			w.Header()[k] = vs
		}
		req.Status = http.StatusTooManyRequests
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`))
		return
	}
	win.used++
	for k, vs := range limitHeaders(limit, max(limit-win.used, 0), win.start.Add(s.cfg.Window)) {
		w.Header()[k] = vs
	}
	for k, vs := range extra {
		w.Header()[k] = vs
	}
	if endpoint == Trends && auth != "bearer" {
		req.Status = http.StatusForbidden
		problem(w, http.StatusForbidden, "https://api.twitter.com/2/problems/unsupported-authentication", "Unsupported Authentication",
			"Authenticating with OAuth 1.0a User Context is forbidden for this endpoint.  Supported authentication types are [OAuth 2.0 Application-Only].")
		return
	}
	req.Status = handle(w, r, auth)
}

func (s *Server) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "Bearer "):
		return "bearer", s.cfg.BearerToken != "" && strings.TrimPrefix(h, "Bearer ") == s.cfg.BearerToken
	case strings.HasPrefix(h, "OAuth "):
		return "oauth1", s.cfg.OAuth1 != nil && s.verifyOAuth1(r, h)
	}
	return "", false
}

func writeJSON(w http.ResponseWriter, v any) int {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
	return http.StatusOK
}

func invalid(w http.ResponseWriter, msg string) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg}},
		"title":  "Invalid Request", "detail": "One or more parameters to your request was invalid.",
		"type": "https://api.twitter.com/2/problems/invalid-request",
	})
	return http.StatusBadRequest
}

func (s *Server) handleTrends(w http.ResponseWriter, r *http.Request, _ string) int {
	if _, err := strconv.ParseInt(r.PathValue("woeid"), 10, 64); err != nil {
		return invalid(w, "The `woeid` path parameter must be a number")
	}
	n := 20
	if v := r.URL.Query().Get("max_trends"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 50 {
			return invalid(w, "The `max_trends` query parameter value ["+v+"] is not between 1 and 50")
		}
	}
	fields := split(r.URL.Query().Get("trend.fields"))
	data := []map[string]any{}
	for _, t := range s.trends {
		if len(data) == n {
			break
		}
		d := map[string]any{"trend_name": t.Name}
		if t.Count > 0 && slices.Contains(fields, "tweet_count") {
			d["tweet_count"] = t.Count
		}
		data = append(data, d)
	}
	return writeJSON(w, map[string]any{"data": data})
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// project keeps the members the API returns by default plus the requested.
func project(o object, defaults, requested []string) object {
	out := object{}
	for k, v := range o {
		if slices.Contains(defaults, k) || slices.Contains(requested, k) {
			out[k] = v
		}
	}
	return out
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, _ string) int {
	q := r.URL.Query()
	query := q.Get("query")
	if query == "" {
		return invalid(w, "The `query` query parameter can not be empty")
	}
	size := 10
	if v := q.Get("max_results"); v != "" {
		var err error
		if size, err = strconv.Atoi(v); err != nil || size < 10 || size > 100 {
			return invalid(w, "The `max_results` query parameter value ["+v+"] is not between 10 and 100")
		}
	}
	if s.cfg.PageSize > 0 {
		size = min(size, s.cfg.PageSize)
	}
	since := q.Get("since_id")
	if since != "" {
		if _, err := strconv.ParseUint(since, 10, 64); err != nil {
			return invalid(w, "The `since_id` query parameter value ["+since+"] does not match ^[0-9]{1,19}$")
		}
	}
	offset := 0
	if tok := q.Get("next_token"); tok != "" {
		off, ok := s.tokens[tok]
		if !ok {
			return invalid(w, "The `next_token` query parameter value ["+tok+"] is not valid")
		}
		offset = off
	}
	tweetFields := split(q.Get("tweet.fields"))
	userFields := split(q.Get("user.fields"))
	exp := split(q.Get("expansions"))

	var matched []object
	for _, t := range s.search {
		if since != "" && compareIDs(t.str("id"), since) <= 0 {
			continue
		}
		if s.cfg.Match != nil && !s.cfg.Match(query, t.str("text")) {
			continue
		}
		matched = append(matched, t)
	}
	slices.SortFunc(matched, func(a, b object) int { return compareIDs(b.str("id"), a.str("id")) })
	if offset >= len(matched) {
		return writeJSON(w, map[string]any{"meta": map[string]any{"result_count": 0}})
	}
	page := matched[offset:min(offset+size, len(matched))]

	tweetDefaults := []string{"id", "text", "edit_history_tweet_ids"}
	userDefaults := []string{"id", "name", "username"}
	var data, incTweets, incUsers []object
	var errs []map[string]any
	seenUsers := map[string]bool{}
	addUser := func(id string) {
		if id == "" || seenUsers[id] {
			return
		}
		seenUsers[id] = true
		if u, ok := s.users[id]; ok {
			incUsers = append(incUsers, project(u, userDefaults, userFields))
		}
	}
	seenRefs := map[string]bool{}
	for _, t := range page {
		data = append(data, project(t, tweetDefaults, tweetFields))
		if slices.Contains(exp, "author_id") {
			addUser(t.str("author_id"))
		}
		var refs []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		}
		_ = json.Unmarshal(t["referenced_tweets"], &refs)
		if !slices.Contains(exp, "referenced_tweets.id") {
			continue
		}
		for _, ref := range refs {
			if seenRefs[ref.ID] {
				continue
			}
			seenRefs[ref.ID] = true
			rt, ok := s.tweets[ref.ID]
			if !ok {
				errs = append(errs, map[string]any{
					"value": ref.ID, "detail": "Could not find tweet with referenced_tweets.id: [" + ref.ID + "].",
					"title": "Not Found Error", "resource_type": "tweet", "parameter": "referenced_tweets.id",
					"resource_id": ref.ID, "type": "https://api.twitter.com/2/problems/resource-not-found",
				})
				continue
			}
			incTweets = append(incTweets, project(rt, tweetDefaults, tweetFields))
			if slices.Contains(exp, "referenced_tweets.id.author_id") {
				addUser(rt.str("author_id"))
			}
		}
	}
	meta := map[string]any{"result_count": len(page), "newest_id": page[0].str("id"), "oldest_id": page[len(page)-1].str("id")}
	if end := offset + len(page); end < len(matched) {
		tok := fmt.Sprintf("b26v89c19zqg8o3f%06d", end)
		s.tokens[tok] = end
		meta["next_token"] = tok
	}
	resp := map[string]any{"data": data, "meta": meta}
	inc := map[string]any{}
	if len(incUsers) > 0 {
		inc["users"] = incUsers
	}
	if len(incTweets) > 0 {
		inc["tweets"] = incTweets
	}
	if len(inc) > 0 {
		resp["includes"] = inc
	}
	if len(errs) > 0 {
		resp["errors"] = errs
	}
	return writeJSON(w, resp)
}
