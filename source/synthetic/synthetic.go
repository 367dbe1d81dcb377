// Package synthetic generates realistic X API v1.1 tweets from a seed, so the
// whole pipeline runs, is tested and is benchmarked without network access or
// an X developer account.
//
// The tweets have the REST extended shape of search/tweets (full_text,
// display_text_range, entities with code-point indices, a full user object,
// retweets embedding their original), realistic sizes (2.5–6 KB), mixed
// languages and scripts, Zipf-distributed hashtags whose head rotates over
// time (so trends change), snowflake ids consistent with created_at, and
// occasional delete notices, as a stream consumer would see them.
//
// Output depends only on Options: the same seed and the same clock readings
// give the same bytes.
//
// Generation must never be what limits a benchmark, so text is assembled
// from corpus fragments escaped once per Generator, user objects are rendered
// once, and a retweeted original is rendered once per pool entry. One core
// generates 255,000–305,000 tweets/s (about 1 GB/s of JSON, GC included),
// measured as tweets/cpu-s on a shared 2-core amd64 machine with Go 1.26 by
//
//	go test -run '^$' -bench Next -cpu 1 -benchtime 2s ./source/synthetic
package synthetic

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/streamproc/streamproc"
)

// Options configures a Generator. Zero values select the defaults.
type Options struct {
	// Seed determines everything generated.
	Seed int64
	// Now is the clock tweets are stamped with; nil means time.Now. Time
	// never runs backwards in the output: readings earlier than the last one
	// are treated as equal to it.
	Now streamproc.Clock
	// DeleteRate is the share of delete notices (default 0.01; negative for
	// none).
	DeleteRate float64
	// RetweetRate is the share of retweets (default 0.40; negative for none).
	RetweetRate float64
	// ReplyRate is the share of original tweets that are replies (default
	// 0.25; negative for none).
	ReplyRate float64
	// HashtagRate is the share of original tweets carrying hashtags outside
	// Search (default 0.25; negative for none). Search results always carry
	// the searched tag.
	HashtagRate float64
	// Users is the size of the author population (default 5000, at most
	// 2^22). Each user's JSON object (about 1.7 KB) is kept in memory.
	Users int
	// Vocabulary is the number of distinct hashtags (default 1000).
	Vocabulary int
	// PageSize is the number of results per Search call (default 100, the
	// X API's max_results).
	PageSize int
	// TrendPeriod is how long one hashtag ranking lasts before the head
	// rotates (default 10 minutes of clock time).
	TrendPeriod time.Duration
}

const (
	defaultDeleteRate  = 0.01
	defaultRetweetRate = 0.40
	defaultReplyRate   = 0.25
	defaultHashtagRate = 0.25
	defaultUsers       = 5000
	defaultVocabulary  = 1000
	defaultPageSize    = 100
	defaultTrendPeriod = 10 * time.Minute

	// searchWindow bounds how far back a Search page's tweets are spread.
	searchWindow = 15 * time.Minute
	// poolSize is how many recent originals can be retweeted again, which is
	// what makes some tweets go viral.
	poolSize = 64
	// recentSize is how many recent tweets delete notices and replies can
	// refer to.
	recentSize = 256
	// maxTrends is the most trends the X API returns for a place.
	maxTrends = 50

	// Tweet sizes (compact JSON) are kept in [minSize, maxSize]; real
	// compact v1.1 statuses are 2.2–3 KB, retweets 5–7 KB.
	minSize    = 2500
	maxSize    = 6 << 10
	maxRedraws = 32
)

func rate(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}

func withDefaults(o Options) Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	o.DeleteRate = rate(o.DeleteRate, defaultDeleteRate)
	o.RetweetRate = rate(o.RetweetRate, defaultRetweetRate)
	o.ReplyRate = rate(o.ReplyRate, defaultReplyRate)
	o.HashtagRate = rate(o.HashtagRate, defaultHashtagRate)
	if o.Users <= 0 {
		o.Users = defaultUsers
	}
	// User ids embed the user's index in 22 bits.
	o.Users = min(o.Users, 1<<22)
	if o.Vocabulary <= 0 {
		o.Vocabulary = defaultVocabulary
	}
	if o.PageSize <= 0 {
		o.PageSize = defaultPageSize
	}
	if o.TrendPeriod <= 0 {
		o.TrendPeriod = defaultTrendPeriod
	}
	return o
}

// original is a retweetable tweet kept in the viral pool. Its content follows
// from seed alone, so it is rendered when first retweeted (see rendered),
// not when it joins the pool.
type original struct {
	id, ms   int64
	seed     uint64
	author   int
	query    string // the Search query it was made for ("" outside Search)
	retweets int64
}

// recentTweet is enough of a generated tweet to delete or reply to it.
type recentTweet struct {
	id     int64
	author int
}

// Generator produces synthetic tweets. It implements streamproc.TweetSource
// and is safe for concurrent use.
type Generator struct {
	opts Options

	// mu guards everything below: the generator is one deterministic
	// sequence, so concurrent callers take turns.
	mu     sync.Mutex
	corpus *corpus
	users  []user
	rng    *rand.Rand
	// redraw picks replacement authors for size refits without touching
	// the main sequence.
	redraw     *rand.Rand
	redrawZipf *rand.Zipf
	userZipf   *rand.Zipf
	tagZipf    *rand.Zipf
	// sub regenerates pool originals from their own seed without disturbing
	// the main sequence.
	subPCG     *rand.PCG
	sub        *rand.Rand
	subTagZipf *rand.Zipf

	machine int64 // datacenter and worker bits of our snowflake ids
	lastMs  int64
	seq     int64
	lastID  int64

	pool    [poolSize]original
	nPool   int
	recent  [recentSize]recentTweet
	nRecent int

	// rendered[i] is pool[i] as retweets embed it.
	rendered [poolSize]rendered
	query    queryFrags

	text, wrapText textBuilder
	buf, spare     []byte
	// userOff is where the last appendUser put the user object.
	userOff int
	// byLang lists user indices per language, by size of their JSON object,
	// for size refits.
	byLang         [][]int
	date, origDate dateCache
}

var _ streamproc.TweetSource = (*Generator)(nil)

// New returns a generator for opts.
func New(opts Options) *Generator {
	opts = withDefaults(opts)
	seed := uint64(opts.Seed)
	g := &Generator{
		opts:   opts,
		corpus: newCorpus(opts.Vocabulary),
		subPCG: rand.NewPCG(0, 0),
		buf:    make([]byte, 0, 16<<10),
	}
	g.rng = rand.New(rand.NewPCG(seed, 0x7477656574)) // "tweet"
	g.sub = rand.New(g.subPCG)
	g.redraw = rand.New(rand.NewPCG(seed, 0x726564726177)) // "redraw"
	g.redrawZipf = rand.NewZipf(g.redraw, 1.05, 10, uint64(opts.Users-1))
	g.userZipf = rand.NewZipf(g.rng, 1.05, 10, uint64(opts.Users-1))
	g.tagZipf = rand.NewZipf(g.rng, 1.1, 1, uint64(opts.Vocabulary-1))
	g.subTagZipf = rand.NewZipf(g.sub, 1.1, 1, uint64(opts.Vocabulary-1))
	g.machine = int64(seed % 1024)
	g.users = newUsers(g.corpus, rand.New(rand.NewPCG(seed, 0x7573657273)), opts.Users) // "users"
	g.byLang = make([][]int, len(g.corpus.langs))
	for i := range g.users {
		u := &g.users[i]
		u.json = g.corpus.renderUser(make([]byte, 0, 2048), u)
		u.mentionJSON = appendMentionJSON(nil, u)
		u.replyJSON = appendReplyJSON(nil, u)
		g.byLang[u.lang] = append(g.byLang[u.lang], i)
	}
	for _, list := range g.byLang {
		slices.SortStableFunc(list, func(a, b int) int { return len(g.users[a].json) - len(g.users[b].json) })
	}
	return g
}

// refit returns another author of the same language as author whose user
// object brings a tweet of size bytes (written by author) within
// [minSize, maxSize], or -1 when there is none. Among those that fit it picks
// one at random.
func (g *Generator) refit(size, author int) int {
	u := &g.users[author]
	rest := size - len(u.json)
	list := g.byLang[u.lang]
	lo, _ := slices.BinarySearchFunc(list, minSize-rest, func(i, n int) int { return len(g.users[i].json) - n })
	hi, _ := slices.BinarySearchFunc(list, maxSize-rest+1, func(i, n int) int { return len(g.users[i].json) - n })
	if lo >= hi {
		return -1
	}
	return list[lo+g.redraw.IntN(hi-lo)]
}

// Next returns the next tweet (or, at DeleteRate, delete notice) of the
// stream, stamped with the clock's current time.
func (g *Generator) Next() streamproc.SourceTweet {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.next(g.opts.Now().UnixMilli(), "")
}

// Trends returns the n hottest hashtags now, most popular first, as
// Trend{Name: "#tag", Query: "#tag"}. The synthetic world has one global
// ranking, so woeid is only checked to be positive. n is capped at 50 like
// the X API.
func (g *Generator) Trends(ctx context.Context, woeid int64, n int) ([]streamproc.Trend, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("synthetic trends: %w", err)
	}
	if woeid <= 0 {
		return nil, fmt.Errorf("synthetic trends: woeid %d is not a place id: %w", woeid, streamproc.ErrInvalid)
	}
	n = min(n, maxTrends, g.opts.Vocabulary)
	if n <= 0 {
		return nil, nil
	}
	g.mu.Lock()
	ms := max(g.opts.Now().UnixMilli(), g.lastMs)
	g.mu.Unlock()
	trends := make([]streamproc.Trend, n)
	for rank := range trends {
		tag := "#" + g.corpus.tags[g.tagAt(rank, ms)].s
		trends[rank] = streamproc.Trend{Name: tag, Query: tag}
	}
	return trends, nil
}

// Search returns one page (PageSize) of new tweets matching query, newest
// first, and the newest tweet id. A query "#tag" puts that hashtag into every
// result (a retweet carries it in its original, as on X); any other query is
// put into the text. Results are spread over the time since the previous
// call (at most 15 minutes back) and all have ids above sinceID. Like a
// stream, a page carries the occasional delete notice, whose ID is the
// deleted tweet's.
//
// Errors: a sinceID that is not a decimal id wraps streamproc.ErrInvalid.
func (g *Generator) Search(ctx context.Context, query, sinceID string) ([]streamproc.SourceTweet, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("synthetic search %q: %w", query, err)
	}
	var since int64
	if sinceID != "" {
		v, err := strconv.ParseInt(sinceID, 10, 64)
		if err != nil || v < 0 {
			return nil, "", fmt.Errorf("synthetic search %q: since id %q is not a tweet id: %w", query, sinceID, streamproc.ErrInvalid)
		}
		since = v
	}

	g.mu.Lock()
	defer g.mu.Unlock()
	if since > g.lastID {
		// Jump past sinceID so every result is newer than it, as the
		// contract requires, even if sinceID came from another clock.
		if ms := snowflakeMs(since); ms >= g.lastMs {
			g.lastMs, g.seq = ms, maxSequence
		}
	}
	now := max(g.opts.Now().UnixMilli(), g.lastMs)
	from := max(g.lastMs, now-searchWindow.Milliseconds())
	n := g.opts.PageSize
	out := make([]streamproc.SourceTweet, n)
	newest := since
	for i := range n {
		ms := from + (now-from)*int64(i+1)/int64(n)
		before := g.lastID
		out[n-1-i] = g.next(ms, query)
		if g.lastID != before { // a tweet, not a delete notice
			newest = g.lastID
		}
	}
	newestID := sinceID
	if newest > since {
		newestID = strconv.FormatInt(newest, 10)
	}
	return out, newestID, nil
}

// tagAt maps a popularity rank to a vocabulary index for the trend period
// containing ms. The mapping is a bijection that changes every period, which
// rotates the Zipf head through the vocabulary the way trends come and go.
func (g *Generator) tagAt(rank int, ms int64) int {
	v := uint64(g.opts.Vocabulary)
	epoch := uint64(ms / g.opts.TrendPeriod.Milliseconds())
	off := mix(uint64(g.opts.Seed)^mix(epoch)) % v
	return int((uint64(rank)*g.corpus.stride + off) % v)
}

// next generates one tweet or notice at time ms. g.mu must be held.
func (g *Generator) next(ms int64, query string) streamproc.SourceTweet {
	r := g.rng
	if g.opts.DeleteRate > 0 && r.Float64() < g.opts.DeleteRate {
		return g.deleteNotice(ms)
	}
	id := g.nextID(ms)
	ms = g.lastMs
	author := int(g.userZipf.Uint64())
	u := &g.users[author]

	retweet := g.opts.RetweetRate > 0 && r.Float64() < g.opts.RetweetRate
	var orig int
	if retweet {
		orig = g.pickOriginal(ms, query)
	}

	// Sizes are kept within [minSize, maxSize]. An outlier first gets
	// another author of the same language whose profile makes it fit: the
	// user object is the only part that changes, so the shares of
	// languages, retweets, replies, hashtags and links stay as configured.
	// Only when no such author exists (tiny worlds) is the content redrawn.
	var b []byte
	for try := 0; ; try++ {
		b = g.buf[:0]
		if retweet {
			b = g.appendRetweet(b, id, ms, u, orig)
		} else {
			g.text.reset()
			g.buildText(&g.text, r, g.tagZipf, u, ms, query, false)
			source := g.corpus.sources[r.IntN(len(g.corpus.sources))]
			retweets := int64(r.ExpFloat64() * 3)
			favorites := int64(r.ExpFloat64() * 8)
			b = g.appendStatus(b, id, ms, u, &g.text, source, retweets, favorites)
		}
		if len(b) >= minSize && len(b) <= maxSize {
			break
		}
		if v := g.refit(len(b), author); v >= 0 {
			// Splice the other author's object in place of u's.
			off, w := g.userOff, &g.users[v]
			g.spare = append(append(append(g.spare[:0], b[:off]...), w.json...), b[off+len(u.json):]...)
			b, g.spare = g.spare, b
			author, u = v, w
			break
		}
		if try == maxRedraws {
			break
		}
		author = int(g.redrawZipf.Uint64())
		u = &g.users[author]
		if retweet {
			orig = g.pickOriginal(ms, query)
		}
	}
	g.buf = b
	g.remember(id, author)
	// Callers keep Raw (batches, records), so it is a copy of its own.
	return streamproc.SourceTweet{ID: strconv.FormatInt(id, 10), ScreenName: u.screenName, Raw: bytes.Clone(b)}
}

// pickOriginal returns the pool slot of an original to retweet: often one
// already there (made for the same query), otherwise a new one.
func (g *Generator) pickOriginal(ms int64, query string) int {
	r := g.rng
	slot := r.IntN(poolSize)
	if slot < g.nPool && g.pool[slot].query == query && r.Float64() < 0.6 {
		g.pool[slot].retweets++
		return slot
	}
	if g.nPool < poolSize {
		slot = g.nPool
		g.nPool++
	}
	// Originals are minutes to days old; ids come from another machine and
	// time, below every id we have issued since.
	age := int64(60_000 + r.Int64N(3*24*3600_000))
	oms := max(ms-age, snowflakeEpoch+1)
	g.pool[slot] = original{
		id:       snowflake(oms, r.Int64N(1024), r.Int64N(maxSequence+1)),
		ms:       oms,
		seed:     r.Uint64(),
		author:   int(g.userZipf.Uint64()),
		query:    query,
		retweets: 1 + int64(r.ExpFloat64()*40),
	}
	g.rendered[slot].valid = false
	return slot
}

// remember records a tweet for later replies and delete notices.
func (g *Generator) remember(id int64, author int) {
	g.recent[g.nRecent%recentSize] = recentTweet{id: id, author: author}
	g.nRecent++
}

// deleteNotice returns a statuses/filter delete notice for a recent tweet.
func (g *Generator) deleteNotice(ms int64) streamproc.SourceTweet {
	r := g.rng
	var t recentTweet
	if g.nRecent > 0 {
		t = g.recent[r.IntN(min(g.nRecent, recentSize))]
	} else {
		t = recentTweet{id: snowflake(max(ms-r.Int64N(3600_000), snowflakeEpoch+1), r.Int64N(1024), 0), author: r.IntN(len(g.users))}
	}
	u := &g.users[t.author]
	b := g.buf[:0]
	b = append(b, `{"delete":{"status":{`...)
	b = appendIDFields(b, "id", t.id)
	b = append(b, ',')
	b = appendIDFields(b, "user_id", u.id)
	b = append(b, `},"timestamp_ms":"`...)
	b = strconv.AppendInt(b, max(ms, g.lastMs), 10)
	b = append(b, `"}}`...)
	g.buf = b
	return streamproc.SourceTweet{ID: strconv.FormatInt(t.id, 10), ScreenName: strconv.FormatInt(u.id, 10), Raw: bytes.Clone(b)}
}

// Snowflake layout (x-api.md §1.3): 41 bits of milliseconds since the
// Twitter epoch, 10 bits of machine, 12 bits of per-millisecond sequence.
const (
	snowflakeEpoch = 1288834974657
	maxSequence    = 1<<12 - 1
)

func snowflake(ms, machine, seq int64) int64 {
	return (ms-snowflakeEpoch)<<22 | machine<<12 | seq
}

func snowflakeMs(id int64) int64 { return id>>22 + snowflakeEpoch }

// nextID issues the next id of our machine at ms or, so ids only grow, just
// after the last one. g.lastMs is the id's time afterwards.
func (g *Generator) nextID(ms int64) int64 {
	switch {
	case ms > g.lastMs:
		g.lastMs, g.seq = ms, 0
	case g.seq < maxSequence:
		g.seq++
	default:
		// Sequence exhausted: a real snowflake worker waits for the next
		// millisecond; we move our virtual time there.
		g.lastMs, g.seq = g.lastMs+1, 0
	}
	g.lastID = snowflake(g.lastMs, g.machine, g.seq)
	return g.lastID
}

// mix is splitmix64's finaliser: a cheap, well-spread hash for deriving
// per-item values from the seed.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// corpus holds the generator's tables, split from the constants. Everything
// a tweet's text or entities are made of is a frag, so the per-tweet path only
// copies bytes.
type corpus struct {
	langs        []language
	langCum      []float64
	emoji        []frag
	latinNames   []string
	latinSurname []string
	handles      []string
	descriptions []string
	locations    []string
	sources      []string // the "source" field, key included, JSON-encoded
	links        []link
	cashtags     []frag
	ellipsis     frag // ends a retweet's cut text
	colors       [][]string
	tags         []frag
	// stride is coprime with len(tags), so rank*stride+off mod len(tags) is
	// a bijection.
	stride uint64
}

// link is a url entity target.
type link struct {
	host string // without scheme, as display_url shows it
	// json is the entity's `"expanded_url":…,"display_url":…,` members.
	json string
}

// language is one language a user can write in.
type language struct {
	code   string
	weight float64
	words  []frag
	names  []string // nil: Latin given name + surname
	spaced bool     // words separated by spaces
	tags   []frag   // hashtags in the language's own script, used alongside the global ones
}

// frag is a string of the corpus (or a Search query) prepared once: every
// tweet's text is assembled from these, and escaping, validating and
// measuring them per use was most of the generator's time.
type frag struct {
	s   string // as written
	esc string // JSON-escaped, without quotes
	n   int    // code points, as JSON decoding yields them
	w   int    // weighted length, as X counts it
}

func newFrag(s string) frag {
	q := appendString(nil, s)
	// RuneCountInString, like the decoder, counts each invalid byte as one
	// code point (U+FFFD).
	return frag{s: s, esc: string(q[1 : len(q)-1]), n: utf8.RuneCountInString(s), w: weightOf(s)}
}

func frags(list []string) []frag {
	out := make([]frag, len(list))
	for i, s := range list {
		out[i] = newFrag(s)
	}
	return out
}

func split(s string) []string { return strings.Split(s, "|") }

func newCorpus(vocabulary int) *corpus {
	c := &corpus{
		emoji:        frags(split(emojiList)),
		latinNames:   split(namesLatin),
		latinSurname: split(surnamesLatin),
		handles:      split(handleStems),
		descriptions: split(descriptions),
		locations:    split(locations),
		cashtags:     frags([]string{"AAPL", "TSLA", "BTC", "GOOG", "AMZN", "NVDA"}),
		ellipsis:     newFrag("…"),
	}
	for _, src := range split(sources) {
		c.sources = append(c.sources, string(appendStrField(nil, "source", src)))
	}
	for _, host := range split(linkHosts) {
		b := appendStrField(nil, "expanded_url", "https://"+host)
		b = append(b, ',')
		b = appendStrField(b, "display_url", host)
		c.links = append(c.links, link{host: host, json: string(append(b, ','))})
	}
	for _, scheme := range split(profileColors) {
		c.colors = append(c.colors, strings.Split(scheme, ","))
	}
	// Shares after x-api.md §5.3 (en ~40–50 %, ja ~15–20 %, es/pt/ar 5–10 %).
	c.langs = []language{
		{code: "en", weight: 0.40, words: frags(split(wordsEN)), spaced: true},
		{code: "ja", weight: 0.15, words: frags(split(wordsJA)), names: split(namesJA), tags: frags([]string{"拡散希望", "相互フォロー", "日本", "新曲"})},
		{code: "es", weight: 0.09, words: frags(split(wordsES)), spaced: true, tags: frags([]string{"fútbol", "CopaAmérica"})},
		{code: "pt", weight: 0.07, words: frags(split(wordsPT)), spaced: true, tags: frags([]string{"futebol", "BBB"})},
		{code: "ar", weight: 0.07, words: frags(split(wordsAR)), names: split(namesAR), spaced: true, tags: frags([]string{"مصر", "السعودية", "كرة_القدم", "رمضان"})},
		{code: "ko", weight: 0.05, words: frags(split(wordsKO)), names: split(namesKO), spaced: true, tags: frags([]string{"오마이걸", "방탄소년단"})},
		{code: "ru", weight: 0.04, words: frags(split(wordsRU)), names: split(namesRU), spaced: true, tags: frags([]string{"новости", "футбол", "россия"})},
		{code: "fr", weight: 0.04, words: frags(split(wordsFR)), spaced: true},
		{code: "hi", weight: 0.03, words: frags(split(wordsHI)), names: split(namesHI), spaced: true, tags: frags([]string{"भारत", "क्रिकेट", "बॉलीवुड"})},
		{code: "tr", weight: 0.03, words: frags(split(wordsTR)), spaced: true, tags: frags([]string{"türkiye", "galatasaray"})},
		// "und": X could not tell; emoji, mentions and links only.
		{code: "und", weight: 0.03},
	}
	sum := 0.0
	for _, l := range c.langs {
		sum += l.weight
		c.langCum = append(c.langCum, sum)
	}

	seen := make(map[string]bool)
	add := func(t string) {
		if len(c.tags) < vocabulary && !seen[t] {
			seen[t] = true
			c.tags = append(c.tags, newFrag(t))
		}
	}
	for _, t := range split(hashtagHead) {
		add(t)
	}
	parts := split(hashtagParts)
	for i := 0; len(c.tags) < vocabulary; i++ {
		a, b := parts[i%len(parts)], parts[(i/len(parts)+i)%len(parts)]
		t := a + b
		if i >= len(parts)*len(parts) {
			t += strconv.Itoa(2000 + i/(len(parts)*len(parts)))
		}
		add(t)
	}
	// A golden-ratio stride scatters consecutive ranks across the vocabulary,
	// so a period's head is not a run of neighbouring tags.
	v := uint64(len(c.tags))
	c.stride = max(1, uint64(float64(v)*0.618))
	for gcd(c.stride, v) != 1 {
		c.stride++
	}
	return c
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (c *corpus) pickLang(r *rand.Rand) int {
	x := r.Float64() * c.langCum[len(c.langCum)-1]
	for i, cum := range c.langCum {
		if x < cum {
			return i
		}
	}
	return len(c.langs) - 1
}
