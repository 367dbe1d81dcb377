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
			u.name += c.emoji[r.IntN(len(c.emoji))]
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
			u.urlExpanded = "https://" + c.links[r.IntN(len(c.links))]
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

// Entities, with [start, end) in Unicode code points of full_text.
type (
	tagEntity struct {
		start, end int
		text       string // without the # or $
	}
	mentionEntity struct {
		start, end int
		user       *user
	}
	urlEntity struct {
		start, end int
		short      string
		expanded   string
	}
)

// textBuilder accumulates a tweet's text and its entities. It is reused from
// tweet to tweet to keep allocation off the hot path.
type textBuilder struct {
	b            []byte
	n            int // code points in b
	w            int // weighted length of b, as X counts it against 280
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

func (t *textBuilder) add(s string) {
	t.b = append(t.b, s...)
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			for _, r := range s[i:] {
				t.n++
				t.w += weight(r)
			}
			return
		}
		t.n++
		t.w++
	}
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
// scripts), unless at the start or after a space.
func (t *textBuilder) sep() {
	if t.n > 0 && t.b[len(t.b)-1] != ' ' {
		t.add(" ")
	}
}

func (t *textBuilder) addMention(u *user) {
	t.sep()
	start := t.n
	t.add("@")
	t.add(u.screenName)
	t.mentions = append(t.mentions, mentionEntity{start: start, end: t.n, user: u})
}

func (t *textBuilder) addTag(tag string) {
	t.sep()
	start := t.n
	t.add("#")
	t.add(tag)
	t.tags = append(t.tags, tagEntity{start: start, end: t.n, text: tag})
}

func (t *textBuilder) addSymbol(sym string) {
	t.sep()
	start := t.n
	t.add("$")
	t.add(sym)
	t.symbols = append(t.symbols, tagEntity{start: start, end: t.n, text: sym})
}

func (t *textBuilder) addURL(short, expanded string) {
	t.sep()
	start := t.n
	t.add(short)
	t.urls = append(t.urls, urlEntity{start: start, end: t.n, short: short, expanded: expanded})
}

// maxTweetWeight is X's limit on a tweet's weighted length.
const maxTweetWeight = 280

// shortURLLen is the length of a t.co link: https://t.co/ + 10.
const shortURLLen = 23

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
		t.add(" ")
		// Extended mode hides the leading reply mention from the display range.
		t.displayStart = t.n
	}

	forcedTag, forcedText := "", ""
	if strings.HasPrefix(query, "#") && len(query) > 1 && !strings.ContainsAny(query, " \t\n") {
		forcedTag = query[1:]
	} else if query != "" {
		forcedText = query
		// Cut a long query so the tweet stays within the limit.
		if n := utf8.RuneCountInString(forcedText); n > 80 {
			forcedText = string([]rune(forcedText)[:80])
		}
	}

	// Decide the entities first so the body can be sized around them.
	var tags [5]string
	nTags := 0
	if forcedTag != "" {
		tags[0], nTags = forcedTag, 1
	}
	if forcedTag != "" || r.Float64() < g.opts.HashtagRate {
		want := 1
		switch x := r.Float64(); {
		case x < 0.79:
		case x < 0.93:
			want = 2
		default:
			want = 3 + r.IntN(3)
		}
		for tries := 0; nTags < want && tries < 10; tries++ {
			var tag string
			if lang.tags != nil && r.IntN(4) == 0 {
				tag = lang.tags[r.IntN(len(lang.tags))]
			} else {
				tag = c.tags[g.tagAt(int(tagZipf.Uint64()), ms)]
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
	symbol := ""
	if lang.code == "en" && r.IntN(30) == 0 {
		symbol = c.cashtags[r.IntN(len(c.cashtags))]
	}
	link := ""
	if r.IntN(4) == 0 {
		link = c.links[r.IntN(len(c.links))]
	}

	reserve := 0
	if forcedText != "" {
		reserve += 1 + weightOf(forcedText)
	}
	for _, tag := range tags[:nTags] {
		reserve += 2 + weightOf(tag)
	}
	if mention != nil {
		reserve += 2 + len(mention.screenName)
	}
	if symbol != "" {
		reserve += 2 + len(symbol)
	}
	if link != "" {
		reserve += 1 + shortURLLen
	}
	limit := max(min(t.w+target, maxTweetWeight-reserve), t.w+1)

	// Tags mostly go last, as people write them; sometimes one leads.
	if nTags > 0 && t.n == 0 && r.IntN(5) == 0 {
		t.addTag(tags[0])
		t.add(" ")
		copy(tags[:], tags[1:nTags])
		nTags--
	}
	if forcedText != "" {
		t.sep()
		t.add(forcedText)
	}
	g.addBody(t, r, lang, limit)

	if mention != nil {
		t.addMention(mention)
	}
	if symbol != "" {
		t.addSymbol(symbol)
	}
	for _, tag := range tags[:nTags] {
		t.addTag(tag)
	}
	if link != "" {
		t.addURL("https://t.co/"+randToken(r, 10), "https://"+link)
	}
}

// addBody adds words (and emoji) in the user's language up to a weighted
// length of limit.
func (g *Generator) addBody(t *textBuilder, r *rand.Rand, lang *language, limit int) {
	c := g.corpus
	if len(lang.words) == 0 {
		// Undetermined language: a few emoji.
		for range 1 + r.IntN(5) {
			e := c.emoji[r.IntN(len(c.emoji))]
			if t.w+weightOf(e) > limit {
				break
			}
			t.add(e)
		}
		return
	}
	for {
		w := lang.words[r.IntN(len(lang.words))]
		if r.IntN(8) == 0 {
			w = c.emoji[r.IntN(len(c.emoji))]
		}
		space := lang.spaced && t.n > 0 && t.b[len(t.b)-1] != ' '
		need := weightOf(w)
		if space {
			need++
		}
		if t.w+need > limit {
			return
		}
		if space {
			t.add(" ")
		}
		t.add(w)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// statusFields is what appendStatus needs besides the text.
type statusFields struct {
	id, ms        int64
	user          *user
	text          *textBuilder
	source        string
	retweetCount  int64
	favoriteCount int64
	// retweeted is the rendered original of a retweet, nil otherwise.
	retweeted []byte
}

// appendStatus appends one v1.1 status in the REST extended shape, fields in
// the order the API sends them.
func (g *Generator) appendStatus(b []byte, f statusFields) []byte {
	t := f.text
	lang := g.corpus.langs[t.lang].code

	b = append(b, `{"created_at":"`...)
	b = g.appendDate(b, f.ms)
	b = append(b, `",`...)
	b = appendIDFields(b, "id", f.id)
	b = append(b, `,"full_text":`...)
	b = appendString(b, string(t.b))
	b = append(b, `,"truncated":false,"display_text_range":[`...)
	b = strconv.AppendInt(b, int64(t.displayStart), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(t.n), 10)
	b = append(b, `],"entities":{"hashtags":[`...)
	for i, e := range t.tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendStrField(b, "text", e.text)
		b = append(b, ',')
		b = appendIndices(b, e.start, e.end)
		b = append(b, '}')
	}
	b = append(b, `],"symbols":[`...)
	for i, e := range t.symbols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendStrField(b, "text", e.text)
		b = append(b, ',')
		b = appendIndices(b, e.start, e.end)
		b = append(b, '}')
	}
	b = append(b, `],"user_mentions":[`...)
	for i, e := range t.mentions {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendStrField(b, "screen_name", e.user.screenName)
		b = append(b, ',')
		b = appendStrField(b, "name", e.user.name)
		b = append(b, ',')
		b = appendIDFields(b, "id", e.user.id)
		b = append(b, ',')
		b = appendIndices(b, e.start, e.end)
		b = append(b, '}')
	}
	b = append(b, `],"urls":[`...)
	for i, e := range t.urls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendStrField(b, "url", e.short)
		b = append(b, ',')
		b = appendStrField(b, "expanded_url", e.expanded)
		b = append(b, ',')
		b = appendStrField(b, "display_url", strings.TrimPrefix(e.expanded, "https://"))
		b = append(b, ',')
		b = appendIndices(b, e.start, e.end)
		b = append(b, '}')
	}
	b = append(b, `]},"metadata":{"iso_language_code":"`...)
	b = append(b, lang...)
	b = append(b, `","result_type":"recent"},`...)
	b = appendStrField(b, "source", f.source)
	if t.replyUser != nil {
		b = append(b, ',')
		b = appendIDFields(b, "in_reply_to_status_id", t.replyID)
		b = append(b, ',')
		b = appendIDFields(b, "in_reply_to_user_id", t.replyUser.id)
		b = append(b, ',')
		b = appendStrField(b, "in_reply_to_screen_name", t.replyUser.screenName)
	} else {
		b = append(b, `,"in_reply_to_status_id":null,"in_reply_to_status_id_str":null,"in_reply_to_user_id":null,"in_reply_to_user_id_str":null,"in_reply_to_screen_name":null`...)
	}
	b = append(b, `,"user":`...)
	g.userOff = len(b)
	b = append(b, f.user.json...)
	b = append(b, `,"geo":null,"coordinates":null,"place":null,"contributors":null,`...)
	if f.retweeted != nil {
		b = append(b, `"retweeted_status":`...)
		b = append(b, f.retweeted...)
		b = append(b, ',')
	}
	b = append(b, `"is_quote_status":false,`...)
	b = appendIntField(b, "retweet_count", f.retweetCount)
	b = append(b, ',')
	b = appendIntField(b, "favorite_count", f.favoriteCount)
	b = append(b, `,"favorited":false,"retweeted":false,`...)
	if len(t.urls) > 0 {
		b = append(b, `"possibly_sensitive":false,`...)
	}
	b = append(b, `"lang":"`...)
	b = append(b, lang...)
	return append(b, `"}`...)
}

// appendDate appends ms as v1.1's created_at, reusing the last formatting:
// consecutive tweets mostly share their second.
func (g *Generator) appendDate(b []byte, ms int64) []byte {
	sec := ms / 1000
	if sec != g.dateSec || g.date == nil {
		g.dateSec = sec
		g.date = time.Unix(sec, 0).UTC().AppendFormat(g.date[:0], time.RubyDate)
	}
	return append(b, g.date...)
}

// rtLimit is where X cuts a retweet's "RT @user: …" text, in code points,
// even in extended mode.
const rtLimit = 140

// appendRetweet appends a retweet by u of orig, embedding the original.
func (g *Generator) appendRetweet(b []byte, id, ms int64, u *user, orig *original) []byte {
	// Regenerate the original from its own seed.
	g.subPCG.Seed(orig.seed, uint64(orig.id))
	sr := g.sub
	author := &g.users[orig.author]
	ot := &g.text
	ot.reset()
	g.buildText(ot, sr, g.subTagZipf, author, orig.ms, orig.query, true)
	g.origBuf = g.appendStatus(g.origBuf[:0], statusFields{
		id: orig.id, ms: orig.ms, user: author, text: ot,
		source:        g.corpus.sources[sr.IntN(len(g.corpus.sources))],
		retweetCount:  orig.retweets,
		favoriteCount: orig.retweets*2 + sr.Int64N(50),
	})

	wt := &g.wrapText
	wt.reset()
	wt.lang = ot.lang
	wt.add("RT ")
	wt.addMention(author)
	wt.add(": ")
	shift := wt.n
	cut := ot.n
	if shift+ot.n > rtLimit {
		cut = rtLimit - 1 - shift // room for the ellipsis
	}
	if cut == ot.n {
		wt.b = append(wt.b, ot.b...)
		wt.n += ot.n
	} else {
		i, k := 0, 0
		for k < cut {
			_, size := utf8.DecodeRune(ot.b[i:])
			i += size
			k++
		}
		wt.b = append(wt.b, ot.b[:i]...)
		wt.n += cut
		wt.add("…")
	}
	// Keep the original's entities that survive the cut, shifted.
	for _, e := range ot.mentions {
		if e.end <= cut {
			wt.mentions = append(wt.mentions, mentionEntity{start: e.start + shift, end: e.end + shift, user: e.user})
		}
	}
	for _, e := range ot.tags {
		if e.end <= cut {
			wt.tags = append(wt.tags, tagEntity{start: e.start + shift, end: e.end + shift, text: e.text})
		}
	}
	for _, e := range ot.symbols {
		if e.end <= cut {
			wt.symbols = append(wt.symbols, tagEntity{start: e.start + shift, end: e.end + shift, text: e.text})
		}
	}
	for _, e := range ot.urls {
		if e.end <= cut {
			wt.urls = append(wt.urls, urlEntity{start: e.start + shift, end: e.end + shift, short: e.short, expanded: e.expanded})
		}
	}

	return g.appendStatus(b, statusFields{
		id: id, ms: ms, user: u, text: wt,
		source:       g.corpus.sources[g.rng.IntN(len(g.corpus.sources))],
		retweetCount: orig.retweets,
		retweeted:    g.origBuf,
	})
}
