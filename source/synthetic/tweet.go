package synthetic

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// user is one author. Its JSON object is rendered once, in New, and reused:
// it is the largest part of every tweet.
type user struct {
	id          int64
	screenName  string
	name        string
	lang        int // index into corpus.langs
	location    string
	description string
	urlShort    string // t.co link in the profile, "" when none
	urlExpanded string
	createdMs   int64
	followers   int64
	friends     int64
	listed      int64
	favourites  int64
	statuses    int64
	verified    bool
	geoEnabled  bool
	imageID     int64
	imageKey    string
	background  string // profile background image, http URL
	color       int

	json []byte // the rendered user object
	// mentionJSON is the members of a user_mentions entity naming the user,
	// up to the indices; replyJSON the in_reply_to members after the
	// status id. Rendered once with json.
	mentionJSON, replyJSON []byte
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randToken(r *rand.Rand, n int) string {
	var b [16]byte
	for i := range n {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return string(b[:n])
}

// lognormal draws exp(N(mu, sigma)) as an integer count.
func lognormal(r *rand.Rand, mu, sigma float64) int64 {
	return int64(math.Exp(mu + sigma*r.NormFloat64()))
}

// Account creation dates span 2007-01-01 to 2023-01-01 (Unix ms).
const (
	accountsFrom = 1167609600000
	accountsTo   = 1672531200000
)

func newUsers(c *corpus, r *rand.Rand, n int) []user {
	users := make([]user, n)
	for i := range users {
		u := &users[i]
		u.lang = c.pickLang(r)
		lang := &c.langs[u.lang]

		// The index suffix makes handles unique; stems have no digits, so
		// no two (stem, index) pairs spell the same handle.
		suffix := strconv.Itoa(i)
		stem := c.handles[r.IntN(len(c.handles))]
		if r.IntN(3) == 0 {
			stem += "_"
		}
		stem = stem[:min(len(stem), 15-len(suffix))]
		u.screenName = stem + suffix

		if lang.names != nil {
			u.name = lang.names[r.IntN(len(lang.names))]
		} else {
			u.name = c.latinNames[r.IntN(len(c.latinNames))] + " " + c.latinSurname[r.IntN(len(c.latinSurname))]
		}
		if r.IntN(5) == 0 {
			u.name += c.emoji[r.IntN(len(c.emoji))].s
		}

		u.createdMs = accountsFrom + r.Int64N(accountsTo-accountsFrom)
		if u.createdMs > snowflakeEpoch {
			// (machine, sequence) spell the index: unique for < 2^22 users.
			u.id = snowflake(u.createdMs, int64(i>>12)&1023, int64(i)&maxSequence)
		} else {
			u.id = 700_000 + int64(i)*37_003
		}
		u.location = c.locations[r.IntN(len(c.locations))]
		u.description = c.descriptions[r.IntN(len(c.descriptions))]
		for range 1 + r.IntN(3) {
			u.description += " | " + c.descriptions[r.IntN(len(c.descriptions))]
		}
		u.background = "http://abs.twimg.com/images/themes/theme1/bg.png"
		if r.IntN(4) != 0 {
			u.background = "http://pbs.twimg.com/profile_background_images/" + strconv.FormatInt(snowflake(max(u.createdMs, snowflakeEpoch+1), r.Int64N(1024), 0), 10) + "/" + randToken(r, 8) + ".jpg"
		}
		if r.IntN(2) == 0 {
			u.urlShort = "https://t.co/" + randToken(r, 10)
			u.urlExpanded = "https://" + c.links[r.IntN(len(c.links))].host
		}
		u.followers = lognormal(r, 5.5, 2.2)
		u.friends = lognormal(r, 5.5, 1.2)
		u.listed = u.followers / int64(20+r.IntN(200))
		u.favourites = lognormal(r, 7, 2)
		u.statuses = lognormal(r, 8, 1.5)
		u.verified = u.followers > 100_000 && r.IntN(2) == 0 || r.IntN(500) == 0
		u.geoEnabled = r.IntN(4) == 0
		imageMs := max(u.createdMs, snowflakeEpoch+1)
		u.imageID = snowflake(imageMs+r.Int64N(accountsTo-imageMs+1), r.Int64N(1024), 0)
		u.imageKey = randToken(r, 8)
		u.color = r.IntN(len(c.colors))
	}
	return users
}

func (c *corpus) renderUser(b []byte, u *user) []byte {
	b = append(b, '{')
	b = appendIDFields(b, "id", u.id)
	b = append(b, ',')
	b = appendStrField(b, "name", u.name)
	b = append(b, ',')
	b = appendStrField(b, "screen_name", u.screenName)
	b = append(b, ',')
	b = appendStrField(b, "location", u.location)
	b = append(b, ',')
	b = appendStrField(b, "description", u.description)
	b = append(b, `,"url":`...)
	if u.urlShort != "" {
		b = appendString(b, u.urlShort)
		b = append(b, `,"entities":{"url":{"urls":[{`...)
		b = appendStrField(b, "url", u.urlShort)
		b = append(b, ',')
		b = appendStrField(b, "expanded_url", u.urlExpanded)
		b = append(b, ',')
		b = appendStrField(b, "display_url", strings.TrimPrefix(u.urlExpanded, "https://"))
		b = append(b, ',')
		b = appendIndices(b, 0, utf8.RuneCountInString(u.urlShort))
		b = append(b, `}]},"description":{"urls":[]}}`...)
	} else {
		b = append(b, `null,"entities":{"description":{"urls":[]}}`...)
	}
	b = append(b, `,"protected":false,`...)
	b = appendIntField(b, "followers_count", u.followers)
	b = append(b, ',')
	b = appendIntField(b, "friends_count", u.friends)
	b = append(b, ',')
	b = appendIntField(b, "listed_count", u.listed)
	b = append(b, `,"created_at":"`...)
	b = time.UnixMilli(u.createdMs).UTC().AppendFormat(b, time.RubyDate)
	b = append(b, `",`...)
	b = appendIntField(b, "favourites_count", u.favourites)
	b = append(b, `,"utc_offset":null,"time_zone":null,`...)
	b = appendBoolField(b, "geo_enabled", u.geoEnabled)
	b = append(b, ',')
	b = appendBoolField(b, "verified", u.verified)
	b = append(b, ',')
	b = appendIntField(b, "statuses_count", u.statuses)
	b = append(b, `,"lang":null,"contributors_enabled":false,"is_translator":false,"is_translation_enabled":false,`...)
	colors := c.colors[u.color]
	b = appendStrField(b, "profile_background_color", colors[0])
	b = append(b, ',')
	b = appendStrField(b, "profile_background_image_url", u.background)
	b = append(b, ',')
	b = appendStrField(b, "profile_background_image_url_https", "https"+strings.TrimPrefix(u.background, "http"))
	b = append(b, `,"profile_background_tile":false,"profile_image_url":"http://pbs.twimg.com/profile_images/`...)
	b = strconv.AppendInt(b, u.imageID, 10)
	b = append(b, '/')
	b = append(b, u.imageKey...)
	b = append(b, `_normal.jpg","profile_image_url_https":"https://pbs.twimg.com/profile_images/`...)
	b = strconv.AppendInt(b, u.imageID, 10)
	b = append(b, '/')
	b = append(b, u.imageKey...)
	b = append(b, `_normal.jpg","profile_banner_url":"https://pbs.twimg.com/profile_banners/`...)
	b = strconv.AppendInt(b, u.id, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, u.createdMs/1000+86400*30, 10)
	b = append(b, `",`...)
	b = appendStrField(b, "profile_link_color", colors[1])
	b = append(b, ',')
	b = appendStrField(b, "profile_sidebar_border_color", colors[2])
	b = append(b, ',')
	b = appendStrField(b, "profile_sidebar_fill_color", colors[3])
	b = append(b, ',')
	b = appendStrField(b, "profile_text_color", colors[4])
	b = append(b, `,"profile_use_background_image":true,"has_extended_profile":false,"withheld_in_countries":[],`...)
	b = appendBoolField(b, "default_profile", u.color == 0)
	b = append(b, `,"default_profile_image":false,"following":false,"follow_request_sent":false,"notifications":false,"translator_type":"none"}`...)
	return b
}

// appendMentionJSON appends the members of a user_mentions entity for u, up
// to its indices.
func appendMentionJSON(b []byte, u *user) []byte {
	b = appendStrField(b, "screen_name", u.screenName)
	b = append(b, ',')
	b = appendStrField(b, "name", u.name)
	b = append(b, ',')
	b = appendIDFields(b, "id", u.id)
	return append(b, ',')
}

// appendReplyJSON appends the in_reply_to members naming u, which follow
// in_reply_to_status_id.
func appendReplyJSON(b []byte, u *user) []byte {
	b = append(b, ',')
	b = appendIDFields(b, "in_reply_to_user_id", u.id)
	b = append(b, ',')
	return appendStrField(b, "in_reply_to_screen_name", u.screenName)
}

// Entities, with [start, end) in Unicode code points of full_text.
type (
	tagEntity struct {
		start, end int
		text       *frag // without the # or $
	}
	mentionEntity struct {
		start, end int
		user       *user
	}
	urlEntity struct {
		start, end int
		token      [shortTokenLen]byte // the t.co path
		link       *link
	}
)

// textBuilder accumulates a tweet's text and its entities. It is reused from
// tweet to tweet to keep allocation off the hot path.
type textBuilder struct {
	// b is the text already JSON-escaped: it is assembled from frags, so
	// nothing is escaped per tweet.
	b            []byte
	n            int // code points in b, escapes counting as the one they stand for
	w            int // weighted length, as X counts it against 280
	displayStart int
	lang         int

	tags     []tagEntity
	symbols  []tagEntity
	mentions []mentionEntity
	urls     []urlEntity

	replyID   int64
	replyUser *user
}

func (t *textBuilder) reset() {
	t.b = t.b[:0]
	t.n, t.w, t.displayStart = 0, 0, 0
	t.tags, t.symbols, t.mentions, t.urls = t.tags[:0], t.symbols[:0], t.mentions[:0], t.urls[:0]
	t.replyID, t.replyUser = 0, nil
}

func (t *textBuilder) add(f *frag) {
	t.b = append(t.b, f.esc...)
	t.n += f.n
	t.w += f.w
}

// addASCII adds s, which the caller knows is printable ASCII that JSON does
// not escape (punctuation, handles, t.co tokens), so its length is its size.
func (t *textBuilder) addASCII(s string) {
	t.b = append(t.b, s...)
	t.n += len(s)
	t.w += len(s)
}

// weight is a code point's weight in X's tweet length (twitter-text v3
// config): Latin, Cyrillic, Arabic, Devanagari and common punctuation count
// 1, everything else (CJK, Hangul, emoji) 2. Emoji sequences count 2 per code
// point here, slightly stricter than X.
func weight(r rune) int {
	switch {
	case r <= 0x10FF, r >= 0x2000 && r <= 0x200D, r >= 0x2010 && r <= 0x201F, r >= 0x2032 && r <= 0x2037:
		return 1
	}
	return 2
}

// weightOf is the weighted length of s.
func weightOf(s string) int {
	w := 0
	for _, r := range s {
		w += weight(r)
	}
	return w
}

// sep adds the space that must precede an entity (and words of spaced
// scripts), unless at the start or after a space. An escape never ends in a
// space, so the escaped text's last byte tells.
func (t *textBuilder) sep() {
	if t.n > 0 && t.b[len(t.b)-1] != ' ' {
		t.addASCII(" ")
	}
}

func (t *textBuilder) addMention(u *user) {
	t.sep()
	start := t.n
	t.addASCII("@")
	// Handles are built from ASCII stems, "_" and digits.
	t.addASCII(u.screenName)
	t.mentions = append(t.mentions, mentionEntity{start: start, end: t.n, user: u})
}

func (t *textBuilder) addTag(tag *frag) {
	t.sep()
	start := t.n
	t.addASCII("#")
	t.add(tag)
	t.tags = append(t.tags, tagEntity{start: start, end: t.n, text: tag})
}

func (t *textBuilder) addSymbol(sym *frag) {
	t.sep()
	start := t.n
	t.addASCII("$")
	t.add(sym)
	t.symbols = append(t.symbols, tagEntity{start: start, end: t.n, text: sym})
}

// addURL adds a t.co link to l with a random token drawn from r.
func (t *textBuilder) addURL(r *rand.Rand, l *link) {
	t.sep()
	e := urlEntity{start: t.n, link: l}
	for i := range e.token {
		e.token[i] = alnum[r.IntN(len(alnum))]
	}
	t.addASCII(shortURLPrefix)
	t.b = append(t.b, e.token[:]...)
	t.n += shortTokenLen
	t.w += shortTokenLen
	e.end = t.n
	t.urls = append(t.urls, e)
}

// maxTweetWeight is X's limit on a tweet's weighted length.
const maxTweetWeight = 280

// A t.co link is https://t.co/ and a 10-character token.
const (
	shortURLPrefix = "https://t.co/"
	shortTokenLen  = 10
	shortURLLen    = len(shortURLPrefix) + shortTokenLen
)

// queryFrags is a Search query prepared for buildText. Search asks for a
// page of tweets with the same query, so it is prepared once per query.
type queryFrags struct {
	query string
	tag   frag // the query's hashtag, without #; s == "" when not a hashtag query
	text  frag // the query as words, cut to 80 code points; s == "" when none
}

func (g *Generator) prepareQuery(query string) *queryFrags {
	q := &g.query
	if q.query == query {
		return q
	}
	*q = queryFrags{query: query}
	if strings.HasPrefix(query, "#") && len(query) > 1 && !strings.ContainsAny(query, " \t\n") {
		q.tag = newFrag(query[1:])
	} else if query != "" {
		text := query
		// Cut a long query so the tweet stays within the limit.
		if n := utf8.RuneCountInString(text); n > 80 {
			text = string([]rune(text)[:80])
		}
		q.text = newFrag(text)
	}
	return q
}

// buildText writes an original tweet's text and entities into t.
//
// query is the Search query the tweet must match ("" outside Search). pooled
// says the tweet is regenerated from its own seed (a retweeted original), so
// it must depend only on r, never on the generator's history.
func (g *Generator) buildText(t *textBuilder, r *rand.Rand, tagZipf *rand.Zipf, u *user, ms int64, query string, pooled bool) {
	c := g.corpus
	t.lang = u.lang
	lang := &c.langs[u.lang]

	// Length mix (weighted): mostly 50–170, a quarter near the limit.
	var target int
	switch x := r.Float64(); {
	case x < 0.25:
		target = 50 + r.IntN(40)
	case x < 0.75:
		target = 90 + r.IntN(80)
	default:
		target = 170 + r.IntN(110)
	}

	if r.Float64() < g.opts.ReplyRate {
		if !pooled && g.nRecent > 0 {
			rt := g.recent[r.IntN(min(g.nRecent, recentSize))]
			t.replyID, t.replyUser = rt.id, &g.users[rt.author]
		} else {
			t.replyUser = &g.users[r.IntN(len(g.users))]
			t.replyID = snowflake(max(ms-r.Int64N(86400_000), snowflakeEpoch+1), r.Int64N(1024), r.Int64N(maxSequence+1))
		}
		t.addMention(t.replyUser)
		t.addASCII(" ")
		// Extended mode hides the leading reply mention from the display range.
		t.displayStart = t.n
	}

	q := g.prepareQuery(query)
	var forcedText *frag
	if q.text.s != "" {
		forcedText = &q.text
	}

	// Decide the entities first so the body can be sized around them.
	var tags [5]*frag
	nTags := 0
	if q.tag.s != "" {
		tags[0], nTags = &q.tag, 1
	}
	if q.tag.s != "" || r.Float64() < g.opts.HashtagRate {
		want := 1
		switch x := r.Float64(); {
		case x < 0.79:
		case x < 0.93:
			want = 2
		default:
			want = 3 + r.IntN(3)
		}
		for tries := 0; nTags < want && tries < 10; tries++ {
			var tag *frag
			if len(lang.tags) > 0 && r.IntN(4) == 0 {
				tag = &lang.tags[r.IntN(len(lang.tags))]
			} else {
				tag = &c.tags[g.tagAt(int(tagZipf.Uint64()), ms)]
			}
			if !contains(tags[:nTags], tag) {
				tags[nTags] = tag
				nTags++
			}
		}
	}
	var mention *user
	if r.IntN(10) == 0 {
		mention = &g.users[r.IntN(len(g.users))]
	}
	var symbol *frag
	if lang.code == "en" && r.IntN(30) == 0 {
		symbol = &c.cashtags[r.IntN(len(c.cashtags))]
	}
	var link *link
	if r.IntN(4) == 0 {
		link = &c.links[r.IntN(len(c.links))]
	}

	reserve := 0
	if forcedText != nil {
		reserve += 1 + forcedText.w
	}
	for _, tag := range tags[:nTags] {
		reserve += 2 + tag.w
	}
	if mention != nil {
		reserve += 2 + len(mention.screenName)
	}
	if symbol != nil {
		reserve += 2 + symbol.w
	}
	if link != nil {
		reserve += 1 + shortURLLen
	}
	limit := max(min(t.w+target, maxTweetWeight-reserve), t.w+1)

	// Tags mostly go last, as people write them; sometimes one leads.
	if nTags > 0 && t.n == 0 && r.IntN(5) == 0 {
		t.addTag(tags[0])
		t.addASCII(" ")
		copy(tags[:], tags[1:nTags])
		nTags--
	}
	if forcedText != nil {
		t.sep()
		t.add(forcedText)
	}
	g.addBody(t, r, lang, limit)

	if mention != nil {
		t.addMention(mention)
	}
	if symbol != nil {
		t.addSymbol(symbol)
	}
	for _, tag := range tags[:nTags] {
		t.addTag(tag)
	}
	if link != nil {
		t.addURL(r, link)
	}
}

// addBody adds words (and emoji) in the user's language up to a weighted
// length of limit.
func (g *Generator) addBody(t *textBuilder, r *rand.Rand, lang *language, limit int) {
	c := g.corpus
	if len(lang.words) == 0 {
		// Undetermined language: a few emoji.
		for range 1 + r.IntN(5) {
			e := &c.emoji[r.IntN(len(c.emoji))]
			if t.w+e.w > limit {
				break
			}
			t.add(e)
		}
		return
	}
	// The loop works on locals: storing t.b (a pointer) into the heap on
	// every word costs a GC write barrier, and with the allocation rate of a
	// generator GC is nearly always marking.
	b, n, w := t.b, t.n, t.w
	for {
		f := &lang.words[r.IntN(len(lang.words))]
		if r.IntN(8) == 0 {
			f = &c.emoji[r.IntN(len(c.emoji))]
		}
		space := lang.spaced && n > 0 && b[len(b)-1] != ' '
		need := f.w
		if space {
			need++
		}
		if w+need > limit {
			break
		}
		if space {
			b = append(b, ' ')
			n++
			w++
		}
		b = append(b, f.esc...)
		n += f.n
		w += f.w
	}
	t.b, t.n, t.w = b, n, w
}

// contains reports whether list has a tag spelled s: the global vocabulary
// and a language's own tags share some spellings.
func contains(list []*frag, s *frag) bool {
	for _, v := range list {
		if v.s == s.s {
			return true
		}
	}
	return false
}

// appendCreated opens a status: created_at (formatted through d) and the
// ids.
func appendCreated(b []byte, d *dateCache, id, ms int64) []byte {
	b = append(b, `{"created_at":"`...)
	b = d.append(b, ms)
	b = append(b, `",`...)
	return appendIDFields(b, "id", id)
}

// appendText appends a status's members from full_text to metadata, which
// depend on the text alone.
func (g *Generator) appendText(b []byte, t *textBuilder) []byte {
	b = append(b, `,"full_text":"`...)
	b = append(b, t.b...)
	b = append(b, `","truncated":false,"display_text_range":[`...)
	b = strconv.AppendInt(b, int64(t.displayStart), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(t.n), 10)
	b = append(b, `],"entities":{"hashtags":[`...)
	b = appendTagEntities(b, t.tags)
	b = append(b, `],"symbols":[`...)
	b = appendTagEntities(b, t.symbols)
	b = append(b, `],"user_mentions":[`...)
	for i, e := range t.mentions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = append(b, e.user.mentionJSON...)
		b = appendIndices(b, e.start, e.end)
		b = append(b, '}')
	}
	b = append(b, `],"urls":[`...)
	for i, e := range t.urls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"url":"`+shortURLPrefix...)
		b = append(b, e.token[:]...)
		b = append(b, `",`...)
		b = append(b, e.link.json...)
		b = appendIndices(b, e.start, e.end)
		b = append(b, '}')
	}
	b = append(b, `]},"metadata":{"iso_language_code":"`...)
	b = append(b, g.corpus.langs[t.lang].code...)
	return append(b, `","result_type":"recent"},`...)
}

func appendTagEntities(b []byte, list []tagEntity) []byte {
	for i, e := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"text":"`...)
		b = append(b, e.text.esc...)
		b = append(b, `",`...)
		b = appendIndices(b, e.start, e.end)
		b = append(b, '}')
	}
	return b
}

// appendReply appends the in_reply_to members, after "source".
func appendReply(b []byte, t *textBuilder) []byte {
	if t.replyUser == nil {
		return append(b, noReply...)
	}
	b = append(b, ',')
	b = appendIDFields(b, "in_reply_to_status_id", t.replyID)
	return append(b, t.replyUser.replyJSON...)
}

const noReply = `,"in_reply_to_status_id":null,"in_reply_to_status_id_str":null,"in_reply_to_user_id":null,"in_reply_to_user_id_str":null,"in_reply_to_screen_name":null`

// appendUser appends the author and the members up to the retweeted status,
// recording where the user object went for size refits.
func (g *Generator) appendUser(b []byte, u *user) []byte {
	b = append(b, `,"user":`...)
	g.userOff = len(b)
	b = append(b, u.json...)
	return append(b, `,"geo":null,"coordinates":null,"place":null,"contributors":null,`...)
}

// appendEnd closes a status after its favorite_count.
func (g *Generator) appendEnd(b []byte, t *textBuilder) []byte {
	b = append(b, `,"favorited":false,"retweeted":false,`...)
	if len(t.urls) > 0 {
		b = append(b, `"possibly_sensitive":false,`...)
	}
	b = append(b, `"lang":"`...)
	b = append(b, g.corpus.langs[t.lang].code...)
	return append(b, `"}`...)
}

// appendStatus appends one original v1.1 status in the REST extended shape,
// fields in the order the API sends them.
func (g *Generator) appendStatus(b []byte, id, ms int64, u *user, t *textBuilder, source string, retweets, favorites int64) []byte {
	b = appendCreated(b, &g.date, id, ms)
	b = g.appendText(b, t)
	b = append(b, source...)
	b = appendReply(b, t)
	b = g.appendUser(b, u)
	b = append(b, `"is_quote_status":false,"retweet_count":`...)
	b = strconv.AppendInt(b, retweets, 10)
	b = append(b, `,"favorite_count":`...)
	b = strconv.AppendInt(b, favorites, 10)
	return g.appendEnd(b, t)
}

// dateCache formats v1.1's created_at, reusing the last formatting:
// consecutive tweets mostly share their second. Originals, days older, have
// a cache of their own so they do not evict the stream's.
type dateCache struct {
	sec  int64 // second formatted in b
	date []byte
}

func (d *dateCache) append(b []byte, ms int64) []byte {
	sec := ms / 1000
	if sec != d.sec || d.date == nil {
		d.sec = sec
		d.date = time.Unix(sec, 0).UTC().AppendFormat(d.date[:0], time.RubyDate)
	}
	return append(b, d.date...)
}

// rtLimit is where X cuts a retweet's "RT @user: …" text, in code points,
// even in extended mode.
const rtLimit = 140

// rendered is a pool original as every retweet of it embeds it, and the
// retweet's own text, which depends only on the original. Popular originals
// are retweeted many times; rendering once and copying is what keeps
// retweets, twice the size of originals, cheap.
type rendered struct {
	valid bool
	// orig is the original up to its retweet_count's value, origEnd what
	// follows its favorite_count's value: the counts grow with retweets.
	orig, origEnd []byte
	// favorites is the original's favorite_count less twice its retweets.
	favorites int64
	// text is the retweet's members from full_text to metadata, end what
	// follows its favorite_count's value.
	text, end []byte
}

// render fills p for orig, regenerating the original from its own seed.
func (g *Generator) render(p *rendered, orig *original) {
	g.subPCG.Seed(orig.seed, uint64(orig.id))
	sr := g.sub
	author := &g.users[orig.author]
	ot := &g.text
	ot.reset()
	g.buildText(ot, sr, g.subTagZipf, author, orig.ms, orig.query, true)
	b := appendCreated(p.orig[:0], &g.origDate, orig.id, orig.ms)
	b = g.appendText(b, ot)
	b = append(b, g.corpus.sources[sr.IntN(len(g.corpus.sources))]...)
	b = appendReply(b, ot)
	b = g.appendUser(b, author)
	p.orig = append(b, `"is_quote_status":false,"retweet_count":`...)
	p.favorites = sr.Int64N(50)
	p.origEnd = g.appendEnd(p.origEnd[:0], ot)

	wt := &g.wrapText
	wt.reset()
	wt.lang = ot.lang
	wt.addASCII("RT ")
	wt.addMention(author)
	wt.addASCII(": ")
	shift := wt.n
	cut := ot.n
	if shift+ot.n > rtLimit {
		cut = rtLimit - 1 - shift // room for the ellipsis
	}
	if cut == ot.n {
		wt.b = append(wt.b, ot.b...)
		wt.n += ot.n
	} else {
		wt.b = append(wt.b, ot.b[:escapedPrefix(ot.b, cut)]...)
		wt.n += cut
		wt.add(&g.corpus.ellipsis)
	}
	// Keep the original's entities that survive the cut, shifted.
	for _, e := range ot.mentions {
		if e.end <= cut {
			e.start, e.end = e.start+shift, e.end+shift
			wt.mentions = append(wt.mentions, e)
		}
	}
	for _, e := range ot.tags {
		if e.end <= cut {
			e.start, e.end = e.start+shift, e.end+shift
			wt.tags = append(wt.tags, e)
		}
	}
	for _, e := range ot.symbols {
		if e.end <= cut {
			e.start, e.end = e.start+shift, e.end+shift
			wt.symbols = append(wt.symbols, e)
		}
	}
	for _, e := range ot.urls {
		if e.end <= cut {
			e.start, e.end = e.start+shift, e.end+shift
			wt.urls = append(wt.urls, e)
		}
	}
	p.text = g.appendText(p.text[:0], wt)
	p.end = g.appendEnd(append(p.end[:0], `,"favorite_count":0`...), wt)
	p.valid = true
}

// escapedPrefix returns the length of the prefix of JSON-escaped text esc
// that holds k code points. An escape stands for one code point, and esc is
// valid UTF-8 (appendString replaced invalid bytes).
func escapedPrefix(esc []byte, k int) int {
	i := 0
	for ; k > 0; k-- {
		switch c := esc[i]; {
		case c == '\\' && esc[i+1] == 'u':
			i += 6
		case c == '\\':
			i += 2
		case c < 0x80:
			i++
		case c < 0xE0:
			i += 2
		case c < 0xF0:
			i += 3
		default:
			i += 4
		}
	}
	return i
}

// appendRetweet appends a retweet by u of the pool original in slot,
// embedding the original.
func (g *Generator) appendRetweet(b []byte, id, ms int64, u *user, slot int) []byte {
	orig, p := &g.pool[slot], &g.rendered[slot]
	if !p.valid {
		g.render(p, orig)
	}
	b = appendCreated(b, &g.date, id, ms)
	b = append(b, p.text...)
	b = append(b, g.corpus.sources[g.rng.IntN(len(g.corpus.sources))]...)
	b = append(b, noReply...)
	b = g.appendUser(b, u)
	b = append(b, `"retweeted_status":`...)
	b = append(b, p.orig...)
	b = strconv.AppendInt(b, orig.retweets, 10)
	b = append(b, `,"favorite_count":`...)
	b = strconv.AppendInt(b, orig.retweets*2+p.favorites, 10)
	b = append(b, p.origEnd...)
	b = append(b, `,"is_quote_status":false,"retweet_count":`...)
	b = strconv.AppendInt(b, orig.retweets, 10)
	return append(b, p.end...)
}
