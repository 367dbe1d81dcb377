package synthetic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/streamproc/streamproc"
)

// fakeClock starts at a fixed instant and advances step per reading, so every
// run sees the same times.
func fakeClock(step time.Duration) streamproc.Clock {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

// Decoded shapes, with typed int64 ids as a careful consumer would use.
type (
	entity struct {
		Text       string `json:"text"`
		ScreenName string `json:"screen_name"`
		URL        string `json:"url"`
		ID         int64  `json:"id"`
		IDStr      string `json:"id_str"`
		Indices    [2]int `json:"indices"`
	}
	decodedUser struct {
		ID         int64  `json:"id"`
		IDStr      string `json:"id_str"`
		ScreenName string `json:"screen_name"`
		Name       string `json:"name"`
		Verified   *bool  `json:"verified"`
		Followers  *int64 `json:"followers_count"`
		CreatedAt  string `json:"created_at"`
	}
	status struct {
		CreatedAt        string `json:"created_at"`
		ID               int64  `json:"id"`
		IDStr            string `json:"id_str"`
		FullText         string `json:"full_text"`
		Truncated        *bool  `json:"truncated"`
		DisplayTextRange [2]int `json:"display_text_range"`
		Entities         struct {
			Hashtags     []entity `json:"hashtags"`
			Symbols      []entity `json:"symbols"`
			UserMentions []entity `json:"user_mentions"`
			URLs         []entity `json:"urls"`
		} `json:"entities"`
		Source          string       `json:"source"`
		User            *decodedUser `json:"user"`
		InReplyToStatus *int64       `json:"in_reply_to_status_id"`
		InReplyToStr    *string      `json:"in_reply_to_status_id_str"`
		RetweetedStatus *status      `json:"retweeted_status"`
		RetweetCount    *int64       `json:"retweet_count"`
		FavoriteCount   *int64       `json:"favorite_count"`
		Lang            string       `json:"lang"`
		Place           any          `json:"place"`
		Delete          *struct {
			Status struct {
				ID        int64  `json:"id"`
				IDStr     string `json:"id_str"`
				UserID    int64  `json:"user_id"`
				UserIDStr string `json:"user_id_str"`
			} `json:"status"`
			TimestampMs string `json:"timestamp_ms"`
		} `json:"delete"`
	}
)

func decode(t *testing.T, raw []byte) status {
	t.Helper()
	if !json.Valid(raw) {
		t.Fatalf("invalid JSON: %s", raw)
	}
	if !utf8.Valid(raw) {
		t.Fatalf("invalid UTF-8: %q", raw)
	}
	var s status
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("decode: %v\n%s", err, raw)
	}
	return s
}

// checkEntity asserts that full_text[start:end], in code points, is
// prefix+text.
func checkEntity(t *testing.T, kind string, runes []rune, e entity, want string) {
	t.Helper()
	start, end := e.Indices[0], e.Indices[1]
	if start < 0 || end > len(runes) || start >= end {
		t.Fatalf("%s %q indices %v outside text of %d code points", kind, want, e.Indices, len(runes))
	}
	if got := string(runes[start:end]); got != want {
		t.Fatalf("%s indices %v point at %q, want %q in %q", kind, e.Indices, got, want, string(runes))
	}
}

// checkStatus validates one status (and, recursively, a retweeted original).
func checkStatus(t *testing.T, s status) {
	t.Helper()
	if strconv.FormatInt(s.ID, 10) != s.IDStr {
		t.Fatalf("id %d != id_str %q", s.ID, s.IDStr)
	}
	created, err := time.Parse(time.RubyDate, s.CreatedAt)
	if err != nil {
		t.Fatalf("created_at %q: %v", s.CreatedAt, err)
	}
	// The snowflake encodes the creation time; created_at shows it to the
	// second.
	if got := time.UnixMilli(snowflakeMs(s.ID)).UTC().Truncate(time.Second); !got.Equal(created) {
		t.Fatalf("id %d encodes %v, created_at says %v", s.ID, got, created)
	}
	if s.User == nil || s.User.ScreenName == "" || strconv.FormatInt(s.User.ID, 10) != s.User.IDStr {
		t.Fatalf("bad user %+v", s.User)
	}
	if len(s.User.ScreenName) > 15 || s.User.Verified == nil || s.User.Followers == nil {
		t.Fatalf("user object incomplete: %+v", s.User)
	}
	if s.Truncated == nil || s.RetweetCount == nil || s.FavoriteCount == nil || s.Lang == "" {
		t.Fatalf("status lacks truncated/retweet_count/favorite_count/lang")
	}
	if !strings.HasPrefix(s.Source, `<a href="`) || !strings.HasSuffix(s.Source, "</a>") {
		t.Fatalf("source %q is not an HTML anchor", s.Source)
	}
	if (s.InReplyToStatus == nil) != (s.InReplyToStr == nil) || s.InReplyToStatus != nil && strconv.FormatInt(*s.InReplyToStatus, 10) != *s.InReplyToStr {
		t.Fatalf("in_reply_to_status_id and _str disagree")
	}
	runes := []rune(s.FullText)
	if r := s.DisplayTextRange; r[0] < 0 || r[0] > r[1] || r[1] > len(runes) {
		t.Fatalf("display_text_range %v outside %d code points", r, len(runes))
	}
	for _, e := range s.Entities.Hashtags {
		checkEntity(t, "hashtag", runes, e, "#"+e.Text)
	}
	for _, e := range s.Entities.Symbols {
		checkEntity(t, "symbol", runes, e, "$"+e.Text)
	}
	for _, e := range s.Entities.UserMentions {
		checkEntity(t, "mention", runes, e, "@"+e.ScreenName)
		if strconv.FormatInt(e.ID, 10) != e.IDStr {
			t.Fatalf("mention id %d != id_str %q", e.ID, e.IDStr)
		}
	}
	for _, e := range s.Entities.URLs {
		checkEntity(t, "url", runes, e, e.URL)
	}
	if o := s.RetweetedStatus; o != nil {
		if o.RetweetedStatus != nil {
			t.Fatal("retweet of a retweet")
		}
		if prefix := "RT @" + o.User.ScreenName + ": "; !strings.HasPrefix(s.FullText, prefix) {
			t.Fatalf("retweet text %q does not start with %q", s.FullText, prefix)
		}
		if len(runes) > rtLimit {
			t.Fatalf("retweet text has %d code points, X cuts at %d", len(runes), rtLimit)
		}
		if o.ID >= s.ID {
			t.Fatalf("original %d is not older than its retweet %d", o.ID, s.ID)
		}
		checkStatus(t, *o)
		return
	}
	if w := weightOf(s.FullText); w > maxTweetWeight {
		t.Fatalf("text weighs %d, over X's %d: %q", w, maxTweetWeight, s.FullText)
	}
}

func TestGeneratedTweetsAreValid(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"defaults", Options{Seed: 1}},
		{"other seed", Options{Seed: -987654321}},
		{"many deletes and replies", Options{Seed: 3, DeleteRate: 0.2, ReplyRate: 0.9}},
		{"no retweets, all hashtags", Options{Seed: 4, RetweetRate: -1, HashtagRate: 1}},
		{"tiny world", Options{Seed: 5, Users: 1, Vocabulary: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = fakeClock(3 * time.Millisecond)
			g := New(tc.opts)
			var lastID int64
			for range 1500 {
				tw := g.Next()
				s := decode(t, tw.Raw)
				if s.Delete != nil {
					d := s.Delete.Status
					if strconv.FormatInt(d.ID, 10) != d.IDStr || strconv.FormatInt(d.UserID, 10) != d.UserIDStr {
						t.Fatalf("delete notice ids disagree: %s", tw.Raw)
					}
					if tw.ID != d.IDStr || tw.ScreenName != d.UserIDStr {
						t.Fatalf("SourceTweet %+v does not match notice %s", tw, tw.Raw)
					}
					if _, err := strconv.ParseInt(s.Delete.TimestampMs, 10, 64); err != nil {
						t.Fatalf("timestamp_ms %q: %v", s.Delete.TimestampMs, err)
					}
					continue
				}
				checkStatus(t, s)
				if tw.ID != s.IDStr || tw.ScreenName != s.User.ScreenName {
					t.Fatalf("SourceTweet{ID:%s ScreenName:%s} does not match tweet %s by %s", tw.ID, tw.ScreenName, s.IDStr, s.User.ScreenName)
				}
				if s.ID <= lastID {
					t.Fatalf("id %d not above previous %d", s.ID, lastID)
				}
				lastID = s.ID
			}
		})
	}
}

func TestSizes(t *testing.T) {
	g := New(Options{Seed: 11, Now: fakeClock(time.Millisecond)})
	var orig, rt []int
	for range 20000 {
		tw := g.Next()
		if bytes.HasPrefix(tw.Raw, []byte(`{"delete"`)) {
			continue
		}
		n := len(tw.Raw)
		if n < minSize || n > maxSize {
			t.Fatalf("tweet of %d bytes, want %d–%d", n, minSize, maxSize)
		}
		if bytes.Contains(tw.Raw, []byte(`"retweeted_status":`)) {
			rt = append(rt, n)
		} else {
			orig = append(orig, n)
		}
	}
	pct := func(s []int, p float64) int { sort.Ints(s); return s[int(p*float64(len(s)-1))] }
	t.Logf("originals: p1 %d, p50 %d, p99 %d; retweets: p1 %d, p50 %d, p99 %d",
		pct(orig, .01), pct(orig, .5), pct(orig, .99), pct(rt, .01), pct(rt, .5), pct(rt, .99))
	// Retweets embed a whole original, so they are about twice as big.
	if pct(rt, .5) < pct(orig, .5)*3/2 {
		t.Errorf("median retweet %d bytes is not well above median original %d", pct(rt, .5), pct(orig, .5))
	}
}

func TestDeterminism(t *testing.T) {
	gen := func(seed int64) [][]byte {
		g := New(Options{Seed: seed, Now: fakeClock(5 * time.Millisecond)})
		var out [][]byte
		for range 500 {
			out = append(out, g.Next().Raw)
		}
		page, newest, err := g.Search(context.Background(), "#golang", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, tw := range page {
			out = append(out, tw.Raw)
		}
		trends, err := g.Trends(context.Background(), 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, []byte(newest), []byte(fmt.Sprint(trends)))
		return out
	}
	a, b := gen(42), gen(42)
	if !slices.EqualFunc(a, b, bytes.Equal) {
		t.Fatal("same seed and clock gave different output")
	}
	c := gen(43)
	same := 0
	for i := range a {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same > len(a)/100 {
		t.Errorf("seeds 42 and 43 agree on %d of %d outputs", same, len(a))
	}
}

// Retweets copy their original as rendered when first retweeted; that copy
// must always be what the pool entry, which changes, renders to now.
func TestRenderedOriginalsAreCurrent(t *testing.T) {
	for _, opts := range []Options{{Seed: 8}, {Seed: 9, RetweetRate: 0.9, ReplyRate: 0.9, HashtagRate: 1}} {
		opts.Now = fakeClock(time.Millisecond)
		g := New(opts)
		for i := range 5000 {
			g.Next()
			if i%50 != 0 {
				continue
			}
			for slot := range g.nPool {
				if !g.rendered[slot].valid {
					continue
				}
				var fresh rendered
				g.render(&fresh, &g.pool[slot])
				got := &g.rendered[slot]
				if !bytes.Equal(got.orig, fresh.orig) || !bytes.Equal(got.origEnd, fresh.origEnd) || got.favorites != fresh.favorites ||
					!bytes.Equal(got.text, fresh.text) || !bytes.Equal(got.end, fresh.end) {
					t.Fatalf("seed %d, tweet %d: pool slot %d is stale:\n%s\nrenders now as\n%s", opts.Seed, i, slot, got.orig, fresh.orig)
				}
			}
		}
	}
}

// escapedPrefix cuts escaped text where the decoded text has k code points.
func TestEscapedPrefix(t *testing.T) {
	s := "a<\"\u2028é日😂\n\xffz"
	esc := appendString(nil, s)
	esc = esc[1 : len(esc)-1]
	var decoded string
	if err := json.Unmarshal(appendString(nil, s), &decoded); err != nil {
		t.Fatal(err)
	}
	runes := []rune(decoded)
	for k := 0; k <= len(runes); k++ {
		var got string
		if err := json.Unmarshal([]byte(`"`+string(esc[:escapedPrefix(esc, k)])+`"`), &got); err != nil {
			t.Fatalf("k=%d: cut %q is not a whole escape sequence: %v", k, esc[:escapedPrefix(esc, k)], err)
		}
		if want := string(runes[:k]); got != want {
			t.Fatalf("k=%d: cut decodes to %q, want %q", k, got, want)
		}
	}
}

func TestMix(t *testing.T) {
	const n = 12000
	g := New(Options{Seed: 7, Now: fakeClock(time.Millisecond)})
	var deletes, retweets, originals, replies, tweets, withTags int
	langs := map[string]int{}
	tags := map[string]int{}
	scripts := map[string]bool{}
	for range n {
		s := decode(t, g.Next().Raw)
		if s.Delete != nil {
			deletes++
			continue
		}
		tweets++
		langs[s.Lang]++
		if s.RetweetedStatus != nil {
			retweets++
			s = *s.RetweetedStatus
		} else {
			originals++
			if s.InReplyToStatus != nil {
				replies++
			}
		}
		if len(s.Entities.Hashtags) > 0 {
			withTags++
		}
		for _, h := range s.Entities.Hashtags {
			tags[h.Text]++
			for _, r := range h.Text {
				switch {
				case r >= 0x0600 && r <= 0x06FF:
					scripts["arabic"] = true
				case r >= 0xAC00 && r <= 0xD7AF:
					scripts["hangul"] = true
				case r >= 0x3040 && r <= 0x9FFF:
					scripts["cjk"] = true
				case r >= 0x0400 && r <= 0x04FF:
					scripts["cyrillic"] = true
				case r >= 0x0900 && r <= 0x097F:
					scripts["devanagari"] = true
				}
			}
		}
	}
	near := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s share %.3f, want %.2f ± %.2f", name, got, want, tol)
		}
	}
	near("delete", float64(deletes)/n, defaultDeleteRate, 0.004)
	near("retweet", float64(retweets)/float64(tweets), defaultRetweetRate, 0.02)
	near("reply (of originals)", float64(replies)/float64(originals), defaultReplyRate, 0.04)
	for _, code := range []string{"en", "es", "pt", "ja", "ko", "ar", "ru", "hi", "tr", "fr", "und"} {
		if langs[code] == 0 {
			t.Errorf("no tweets in %q", code)
		}
	}
	// Author activity is Zipf-distributed, so the language mix of tweets
	// wanders from that of the population; it must stay plausible.
	near("en", float64(langs["en"])/float64(tweets), 0.45, 0.08)
	for _, s := range []string{"arabic", "hangul", "cjk", "cyrillic", "devanagari"} {
		if !scripts[s] {
			t.Errorf("no hashtag in %s script", s)
		}
	}
	// Zipf: the top tag dwarfs the 20th.
	counts := make([]int, 0, len(tags))
	for _, c := range tags {
		counts = append(counts, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	if len(counts) < 100 || counts[0] < 5*counts[19] {
		t.Errorf("hashtag counts not heavy-tailed: %d distinct, top %v", len(counts), counts[:min(20, len(counts))])
	}
	t.Logf("%d tweets: %d deletes, %d retweets, %d replies, %d with hashtags, %d distinct tags, langs %v", tweets, deletes, retweets, replies, withTags, len(tags), langs)
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	g := New(Options{Seed: 9, Now: fakeClock(time.Second)})
	tests := []struct {
		name, query string
		matches     func(s status) bool
	}{
		{"hashtag", "#golang", func(s status) bool { return hasTag(s, "golang") }},
		{"non-latin hashtag", "#오마이걸", func(s status) bool { return hasTag(s, "오마이걸") }},
		{"plain words", "serverless go", func(s status) bool { return strings.Contains(s.FullText, "serverless go") }},
		{"long query with odd characters", strings.Repeat("<\u2028\"q\" ", 30), func(s status) bool {
			return strings.HasPrefix(s.FullText, "<\u2028\"q\" <") || strings.Contains(s.FullText, " <\u2028\"q\" <")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			since := ""
			for page := range 3 {
				tweets, newest, err := g.Search(ctx, tc.query, since)
				if err != nil {
					t.Fatal(err)
				}
				if len(tweets) != defaultPageSize {
					t.Fatalf("page %d has %d tweets", page, len(tweets))
				}
				var prev int64 = math.MaxInt64
				var top int64
				for _, tw := range tweets {
					s := decode(t, tw.Raw)
					if s.Delete != nil {
						continue
					}
					checkStatus(t, s)
					if s.ID >= prev {
						t.Fatalf("page %d not newest first", page)
					}
					prev = s.ID
					top = max(top, s.ID)
					if since != "" {
						if sinceID, _ := strconv.ParseInt(since, 10, 64); s.ID <= sinceID {
							t.Fatalf("id %d not above since_id %s", s.ID, since)
						}
					}
					o := s
					if s.RetweetedStatus != nil {
						o = *s.RetweetedStatus
					}
					if !tc.matches(o) {
						t.Fatalf("result does not match %q: %s", tc.query, o.FullText)
					}
				}
				if newest != strconv.FormatInt(top, 10) {
					t.Fatalf("newest id %s, want %d", newest, top)
				}
				since = newest
			}
		})
	}
}

func hasTag(s status, tag string) bool {
	for _, h := range s.Entities.Hashtags {
		if h.Text == tag {
			return true
		}
	}
	return false
}

func TestSearchSinceIDFromTheFuture(t *testing.T) {
	g := New(Options{Seed: 1, Now: fakeClock(time.Millisecond)})
	future := snowflake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), 1023, maxSequence)
	tweets, newest, err := g.Search(context.Background(), "#ff", strconv.FormatInt(future, 10))
	if err != nil {
		t.Fatal(err)
	}
	for _, tw := range tweets {
		if s := decode(t, tw.Raw); s.Delete == nil && s.ID <= future {
			t.Fatalf("id %d not above since_id %d", s.ID, future)
		}
	}
	if n, _ := strconv.ParseInt(newest, 10, 64); n <= future {
		t.Fatalf("newest %s not above since_id", newest)
	}
}

func TestSearchErrors(t *testing.T) {
	g := New(Options{Seed: 1})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		sinceID string
		want    error
	}{
		{"bad since id", context.Background(), "12abc", streamproc.ErrInvalid},
		{"negative since id", context.Background(), "-5", streamproc.ErrInvalid},
		{"canceled", canceled, "", context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := g.Search(tc.ctx, "#x", tc.sinceID); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTrends(t *testing.T) {
	ctx := context.Background()
	var now time.Time
	clock := func() time.Time { return now }
	now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g := New(Options{Seed: 2, Now: clock})

	trends, err := g.Trends(ctx, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(trends) != 10 {
		t.Fatalf("%d trends", len(trends))
	}
	seen := map[string]bool{}
	for _, tr := range trends {
		if !strings.HasPrefix(tr.Name, "#") || tr.Query != tr.Name || seen[tr.Name] {
			t.Fatalf("bad or repeated trend %+v", tr)
		}
		seen[tr.Name] = true
	}

	// The hottest trend is what the stream actually talks about most.
	counts := map[string]int{}
	for range 8000 {
		s := decode(t, g.Next().Raw)
		if s.RetweetedStatus != nil {
			continue // originals may be from an earlier period
		}
		for _, h := range s.Entities.Hashtags {
			counts["#"+h.Text]++
		}
	}
	best, bestN := "", 0
	for tag, n := range counts {
		if n > bestN {
			best, bestN = tag, n
		}
	}
	if best != trends[0].Name {
		t.Errorf("most used tag %s (%d), top trend %s (%d)", best, bestN, trends[0].Name, counts[trends[0].Name])
	}

	now = now.Add(defaultTrendPeriod)
	later, err := g.Trends(ctx, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if later[0] == trends[0] {
		t.Errorf("top trend %s did not change after a trend period", later[0].Name)
	}

	if all, _ := g.Trends(ctx, 1, 500); len(all) != maxTrends {
		t.Errorf("asked 500 trends, got %d, want the cap %d", len(all), maxTrends)
	}
	if none, err := g.Trends(ctx, 1, 0); err != nil || len(none) != 0 {
		t.Errorf("Trends(n=0) = %v, %v", none, err)
	}
	if _, err := g.Trends(ctx, 0, 5); !errors.Is(err, streamproc.ErrInvalid) {
		t.Errorf("woeid 0: err = %v, want ErrInvalid", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	g := New(Options{Seed: 1})
	var wg sync.WaitGroup
	ids := make([][]string, 4)
	for w := range ids {
		wg.Go(func() {
			for i := range 200 {
				if i%50 == 0 {
					page, _, err := g.Search(context.Background(), "#nowplaying", "")
					if err != nil {
						t.Error(err)
						return
					}
					for _, tw := range page {
						if !bytes.HasPrefix(tw.Raw, []byte(`{"delete"`)) {
							ids[w] = append(ids[w], tw.ID)
						}
					}
				}
				if tw := g.Next(); !bytes.HasPrefix(tw.Raw, []byte(`{"delete"`)) {
					ids[w] = append(ids[w], tw.ID)
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for _, id := range list {
			if seen[id] {
				t.Fatalf("id %s issued twice", id)
			}
			seen[id] = true
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and \ backslash`, "\x00\x01\x1f\x7f", "\n\r\t\b\f",
		`<a href="x">&amp;</a>`, "\u2028\u2029", "오마이걸 🇯🇵 👨‍👩‍👧", "bad \xff utf8 \xe2\x82", "مرحبا بالعالم",
	}
	for _, s := range tests {
		checkAppendString(t, s)
	}
}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendString(nil, s); !bytes.Equal(got, want) {
		t.Errorf("appendString(%q) = %s, encoding/json gives %s", s, got, want)
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("hello")
	f.Add("<\u2028\xff\"\\")
	f.Fuzz(checkAppendString)
}

// BenchmarkNext measures generation on its own. Run it as
//
//	go test -run '^$' -bench 'Next|Search' -cpu 1 -benchtime 3s ./source/synthetic
//
// -cpu 1 gives the one-core rate (GC included) the package doc states; the
// per-CPU-second metrics stay meaningful when other processes share the
// machine.
func BenchmarkNext(b *testing.B) {
	g := New(Options{Seed: 1, Now: fakeClock(time.Millisecond)})
	var tweets, size int64
	cpu0, cpuOK := cpuTime()
	for b.Loop() {
		size += int64(len(g.Next().Raw))
		tweets++
	}
	reportRates(b, tweets, size, cpu0, cpuOK)
}

// reportRates reports tweets/s and MB/s, by wall clock and per CPU second
// since cpu0.
func reportRates(b *testing.B, tweets, size int64, cpu0 time.Duration, cpuOK bool) {
	cpu1, _ := cpuTime()
	wall := b.Elapsed().Seconds()
	b.ReportMetric(float64(tweets)/wall, "tweets/s")
	b.ReportMetric(float64(size)/1e6/wall, "MB/s")
	if cpu := (cpu1 - cpu0).Seconds(); cpuOK && cpu > 0 {
		b.ReportMetric(float64(tweets)/cpu, "tweets/cpu-s")
		b.ReportMetric(float64(size)/1e6/cpu, "MB/cpu-s")
	}
	b.ReportMetric(float64(size)/float64(tweets), "B/tweet")
}

func BenchmarkSearch(b *testing.B) {
	g := New(Options{Seed: 1, Now: fakeClock(time.Second)})
	ctx := context.Background()
	var tweets, size int64
	cpu0, cpuOK := cpuTime()
	for b.Loop() {
		page, _, err := g.Search(ctx, "#golang", "")
		if err != nil {
			b.Fatal(err)
		}
		for _, tw := range page {
			size += int64(len(tw.Raw))
		}
		tweets += int64(len(page))
	}
	reportRates(b, tweets, size, cpu0, cpuOK)
}
