package tweet

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	json "github.com/goccy/go-json"

	"github.com/streamproc/streamproc/tweet/hashtag"
)

// rubyDate is v1.1's created_at layout: "Thu Sep 19 13:47:34 +0000 2019".
const rubyDate = time.RubyDate

// id64 accepts an id written as a JSON number or a string. It never passes
// through float64: v1.1 ids exceed 2^53.
type id64 struct {
	v   int64
	set bool
	// float: written in float notation ("6.660070106016236e+17"), so a
	// tool that parsed ids as float64 (JavaScript, jq 1.6) rewrote it and
	// its low digits are gone.
	float bool
}

func (x *id64) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(bytes.Trim(b, `"`))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || f <= 0 || f >= math.MaxInt64 {
			return fmt.Errorf("id %s is not a 64-bit integer", b)
		}
		x.v, x.set, x.float = int64(f), true, true
		return nil
	}
	x.v, x.set = v, true
	return nil
}

type v1Entities struct {
	Hashtags []struct {
		Text string `json:"text"`
	} `json:"hashtags"`
}

type v1User struct {
	ID         id64   `json:"id"`
	IDStr      string `json:"id_str"`
	Name       string `json:"name"`
	ScreenName string `json:"screen_name"`
	Verified   bool   `json:"verified"`
}

// v1Status holds the v1.1 fields we read; unknown fields are skipped.
type v1Status struct {
	CreatedAt     string      `json:"created_at"`
	ID            id64        `json:"id"`
	IDStr         string      `json:"id_str"`
	Text          *string     `json:"text"`
	FullText      *string     `json:"full_text"`
	Truncated     bool        `json:"truncated"`
	Source        string      `json:"source"`
	Lang          string      `json:"lang"`
	RetweetCount  int64       `json:"retweet_count"`
	FavoriteCount *int64      `json:"favorite_count"`
	User          *v1User     `json:"user"`
	Entities      *v1Entities `json:"entities"`
	ExtendedTweet *struct {
		FullText string      `json:"full_text"`
		Entities *v1Entities `json:"entities"`
	} `json:"extended_tweet"`
	RetweetedStatus *v1Status `json:"retweeted_status"`
	QuotedStatus    *v1Status `json:"quoted_status"`
	QuotedStatusID  string    `json:"quoted_status_id_str"`
}

type v2Entities struct {
	Hashtags []struct {
		Tag string `json:"tag"`
	} `json:"hashtags"`
}

type v2Tweet struct {
	ID            string      `json:"id"`
	Text          string      `json:"text"`
	CreatedAt     string      `json:"created_at"`
	AuthorID      string      `json:"author_id"`
	Lang          string      `json:"lang"`
	Entities      *v2Entities `json:"entities"`
	PublicMetrics *struct {
		RetweetCount int64 `json:"retweet_count"`
		LikeCount    int64 `json:"like_count"`
	} `json:"public_metrics"`
	NoteTweet *struct {
		Text     string      `json:"text"`
		Entities *v2Entities `json:"entities"`
	} `json:"note_tweet"`
	ReferencedTweets []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"referenced_tweets"`
}

type v2User struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username"`
	Verified bool   `json:"verified"`
}

type v2Includes struct {
	Users  []v2User  `json:"users"`
	Tweets []v2Tweet `json:"tweets"`
}

// envelope is the union of every top-level shape: a v1.1 status, a v2
// document, and the v1.1 streaming notices. One decode pass classifies and
// extracts at once.
type envelope struct {
	v1Status
	Data     json.RawMessage `json:"data"`
	Includes *v2Includes     `json:"includes"`
	noticeKeys
}

// noticeKeys are the keys of the v1.1 streaming notices.
type noticeKeys struct {
	Delete         json.RawMessage `json:"delete"`
	Limit          json.RawMessage `json:"limit"`
	ScrubGeo       json.RawMessage `json:"scrub_geo"`
	StatusWithheld json.RawMessage `json:"status_withheld"`
	UserWithheld   json.RawMessage `json:"user_withheld"`
	Disconnect     json.RawMessage `json:"disconnect"`
	Warning        json.RawMessage `json:"warning"`
	Event          json.RawMessage `json:"event"`
	Friends        json.RawMessage `json:"friends"`
	FriendsStr     json.RawMessage `json:"friends_str"`
	DirectMessage  json.RawMessage `json:"direct_message"`
	ControlMsg     json.RawMessage `json:"control"`
	ForUser        json.RawMessage `json:"for_user"`
}

// Decode classifies one stream record and decodes the tweets in it.
//
// Errors wrap ErrNotUTF8, ErrNotJSON or ErrNotTweet and say what is wrong;
// such input can never succeed, so callers should dead-letter it.
func Decode(data []byte) (Message, error) {
	return decode(data, json.Unmarshal)
}

// unmarshalFunc lets benchmarks run the same decoder on encoding/json, so the
// choice of JSON library stays a measured one.
type unmarshalFunc func([]byte, any) error

func decode(data []byte, unmarshal unmarshalFunc) (Message, error) {
	if !utf8.Valid(data) {
		return Message{}, fmt.Errorf("%w (first bad byte at offset %d)", ErrNotUTF8, firstInvalid(data))
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Message{}, fmt.Errorf("%w: empty record", ErrNotJSON)
	}
	if trimmed[0] != '{' {
		if json.Valid(trimmed) {
			return Message{}, fmt.Errorf("%w: a JSON %s, not an object", ErrNotTweet, jsonKind(trimmed[0]))
		}
		return Message{}, fmt.Errorf("%w: starts with %q", ErrNotJSON, truncate(trimmed, 16))
	}
	var env envelope
	if err := unmarshal(trimmed, &env); err != nil {
		if !json.Valid(trimmed) {
			return Message{}, fmt.Errorf("%w: %v", ErrNotJSON, err)
		}
		// A stream notice may carry a key a tweet also has, with another
		// type (a user-stream event's "source" is the user object): read
		// the notice keys alone before calling it no tweet.
		var notice envelope
		if json.Unmarshal(trimmed, &notice.noticeKeys) == nil {
			if n := notice.notice(); n != "" {
				return Message{Kind: KindNotice, Notice: n}, nil
			}
		}
		return Message{}, fmt.Errorf("%w: %v", ErrNotTweet, err)
	}
	if n := env.notice(); n != "" {
		return Message{Kind: KindNotice, Notice: n}, nil
	}
	if len(env.Data) > 0 && !bytes.Equal(env.Data, []byte("null")) {
		tweets, err := fromV2(env.Data, env.Includes, unmarshal)
		if err != nil {
			return Message{}, err
		}
		return Message{Kind: KindTweet, Tweets: tweets}, nil
	}
	t, err := fromV1(&env.v1Status)
	if err != nil {
		return Message{}, err
	}
	return Message{Kind: KindTweet, Tweets: []Tweet{t}}, nil
}

func (e *envelope) notice() string {
	// A tweet never has these keys, so their presence alone decides.
	switch {
	case e.Delete != nil:
		return "delete"
	case e.Limit != nil:
		return "limit"
	case e.ScrubGeo != nil:
		return "scrub_geo"
	case e.StatusWithheld != nil:
		return "status_withheld"
	case e.UserWithheld != nil:
		return "user_withheld"
	case e.Disconnect != nil:
		return "disconnect"
	case e.Warning != nil:
		return "warning"
	case e.Event != nil:
		return "event"
	case e.Friends != nil, e.FriendsStr != nil:
		return "friends"
	case e.DirectMessage != nil:
		return "direct_message"
	case e.ControlMsg != nil:
		return "control"
	case e.ForUser != nil:
		return "for_user"
	}
	return ""
}

func fromV1(s *v1Status) (Tweet, error) {
	id, idStr, err := resolveID(s.ID, s.IDStr)
	if err != nil {
		return Tweet{}, err
	}
	if s.User == nil || s.User.ScreenName == "" {
		return Tweet{}, fmt.Errorf("%w: tweet %s has no user.screen_name", ErrNotTweet, idStr)
	}
	if s.CreatedAt == "" {
		return Tweet{}, fmt.Errorf("%w: tweet %s has no created_at", ErrNotTweet, idStr)
	}
	created, err := parseCreatedAt(s.CreatedAt)
	if err != nil {
		return Tweet{}, fmt.Errorf("%w: tweet %s: %v", ErrNotTweet, idStr, err)
	}
	text, truncated, ents, ok := s.bestText()
	if !ok {
		return Tweet{}, fmt.Errorf("%w: tweet %s has no text, full_text or extended_tweet", ErrNotTweet, idStr)
	}
	t := Tweet{
		Format:       FormatV1,
		ID:           id,
		IDStr:        idStr,
		CreatedAt:    created,
		Text:         text,
		Truncated:    truncated,
		Lang:         s.Lang,
		Source:       stripHTML(s.Source),
		RetweetCount: s.RetweetCount,
		User:         userV1(s.User),
	}
	if s.FavoriteCount != nil {
		t.FavoriteCount = *s.FavoriteCount
	}
	if rs := s.RetweetedStatus; rs != nil {
		if _, rid, err := resolveID(rs.ID, rs.IDStr); err == nil {
			t.RetweetedID = rid
		}
		if rtext, rtrunc, rents, ok := rs.bestText(); ok && rs.User != nil && rs.User.ScreenName != "" {
			t.Text = "RT @" + rs.User.ScreenName + ": " + rtext
			t.Truncated = rtrunc
			ents = rents
		}
	}
	if qs := s.QuotedStatus; qs != nil {
		if _, qid, err := resolveID(qs.ID, qs.IDStr); err == nil {
			t.QuotedID = qid
		}
	}
	if t.QuotedID == "" {
		t.QuotedID = s.QuotedStatusID
	}
	t.Hashtags = hashtagsV1(ents, t.Text)
	t.Text = unescapeText(t.Text)
	return t, nil
}

// bestText applies x-api.md §1.2: streaming extended_tweet, then REST
// full_text, then compat text. ents are the entities that index that text.
func (s *v1Status) bestText() (text string, truncated bool, ents *v1Entities, ok bool) {
	switch {
	case s.ExtendedTweet != nil && s.ExtendedTweet.FullText != "":
		ents = s.ExtendedTweet.Entities
		if ents == nil {
			ents = s.Entities
		}
		return s.ExtendedTweet.FullText, false, ents, true
	case s.FullText != nil:
		return *s.FullText, false, s.Entities, true
	case s.Text != nil:
		return *s.Text, s.Truncated, s.Entities, true
	}
	return "", false, nil, false
}

func hashtagsV1(ents *v1Entities, text string) []string {
	if ents == nil {
		return hashtag.Extract(text)
	}
	if len(ents.Hashtags) == 0 {
		return nil
	}
	out := make([]string, 0, len(ents.Hashtags))
	for _, h := range ents.Hashtags {
		out = append(out, cleanTag(h.Text))
	}
	return out
}

// cleanTag removes white space from an entity's hashtag. A hashtag cannot
// contain any, yet archived payloads have it (the seed's own test tweet has
// "오마이 걸" in its entities for "#오마이걸" in its text).
func cleanTag(s string) string {
	if strings.IndexFunc(s, unicode.IsSpace) < 0 {
		return s
	}
	return strings.Join(strings.Fields(s), "")
}

func userV1(u *v1User) User {
	id := u.IDStr
	if id == "" && u.ID.set {
		id = strconv.FormatInt(u.ID.v, 10)
	}
	return User{ID: id, Name: u.Name, ScreenName: u.ScreenName, Verified: u.Verified}
}

func resolveID(n id64, s string) (int64, string, error) {
	switch {
	case s != "":
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			return 0, "", fmt.Errorf("%w: id_str %q is not a positive 64-bit integer", ErrNotTweet, s)
		}
		// A numeric id that differs from id_str only below float64's 53
		// bits was rounded by a tool on the way (the API sends id_str for
		// exactly this reason): id_str is the exact one.
		if n.set && n.v != v && float64(n.v) != float64(v) {
			return 0, "", fmt.Errorf("%w: id %d and id_str %s disagree", ErrNotTweet, n.v, s)
		}
		return v, s, nil
	case n.set && n.float:
		return 0, "", fmt.Errorf("%w: id %s was rounded by a float64-based tool and there is no id_str to recover it; "+
			"keep the original JSON (or its id_str)", ErrNotTweet, strconv.FormatInt(n.v, 10))
	case n.set && n.v > 0:
		return n.v, strconv.FormatInt(n.v, 10), nil
	}
	return 0, "", fmt.Errorf("%w: no id or id_str", ErrNotTweet)
}

// parseCreatedAt accepts v1.1's RubyDate and v2's ISO-8601.
func parseCreatedAt(s string) (time.Time, error) {
	if t, err := time.Parse(rubyDate, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("created_at %q is neither %q nor RFC 3339", s, rubyDate)
}

func fromV2(data json.RawMessage, inc *v2Includes, unmarshal unmarshalFunc) ([]Tweet, error) {
	var list []v2Tweet
	switch data[0] {
	case '{':
		var one v2Tweet
		if err := unmarshal(data, &one); err != nil {
			return nil, fmt.Errorf("%w: v2 data: %v", ErrNotTweet, err)
		}
		list = []v2Tweet{one}
	case '[':
		if err := unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("%w: v2 data: %v", ErrNotTweet, err)
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("%w: v2 page with an empty data array", ErrNotTweet)
		}
	default:
		return nil, fmt.Errorf("%w: v2 data is neither an object nor an array", ErrNotTweet)
	}
	if inc == nil {
		inc = &v2Includes{}
	}
	out := make([]Tweet, 0, len(list))
	for i := range list {
		t, err := tweetV2(&list[i], inc)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func tweetV2(d *v2Tweet, inc *v2Includes) (Tweet, error) {
	id, idStr, err := resolveID(id64{}, d.ID)
	if err != nil {
		return Tweet{}, err
	}
	if d.CreatedAt == "" {
		return Tweet{}, fmt.Errorf("%w: v2 tweet %s has no created_at (request tweet.fields=created_at)", ErrNotTweet, idStr)
	}
	created, err := parseCreatedAt(d.CreatedAt)
	if err != nil {
		return Tweet{}, fmt.Errorf("%w: v2 tweet %s: %v", ErrNotTweet, idStr, err)
	}
	author := inc.user(d.AuthorID)
	if author == nil {
		return Tweet{}, fmt.Errorf("%w: v2 tweet %s: author %q not in includes.users (request expansions=author_id)", ErrNotTweet, idStr, d.AuthorID)
	}
	text, ents := d.fullText()
	t := Tweet{
		Format:    FormatV2,
		ID:        id,
		IDStr:     idStr,
		CreatedAt: created,
		Text:      text,
		Lang:      d.Lang,
		User:      User{ID: author.ID, Name: author.Name, ScreenName: author.Username, Verified: author.Verified},
	}
	if d.PublicMetrics != nil {
		t.RetweetCount = d.PublicMetrics.RetweetCount
		t.FavoriteCount = d.PublicMetrics.LikeCount
	}
	for _, r := range d.ReferencedTweets {
		switch r.Type {
		case "retweeted":
			t.RetweetedID = r.ID
			// The wrapper text is cut like v1.1's; rebuild it from the
			// expanded original when the page includes it.
			if orig := inc.tweet(r.ID); orig != nil {
				if ou := inc.user(orig.AuthorID); ou != nil {
					otext, oents := orig.fullText()
					t.Text = "RT @" + ou.Username + ": " + otext
					ents = oents
				}
			}
		case "quoted":
			t.QuotedID = r.ID
		}
	}
	if ents == nil {
		t.Hashtags = hashtag.Extract(t.Text)
	} else if len(ents.Hashtags) > 0 {
		t.Hashtags = make([]string, 0, len(ents.Hashtags))
		for _, h := range ents.Hashtags {
			t.Hashtags = append(t.Hashtags, cleanTag(h.Tag))
		}
	}
	t.Text = unescapeText(t.Text)
	return t, nil
}

// fullText prefers note_tweet, which holds posts longer than 280 characters.
func (d *v2Tweet) fullText() (string, *v2Entities) {
	if d.NoteTweet != nil && d.NoteTweet.Text != "" {
		if d.NoteTweet.Entities != nil {
			return d.NoteTweet.Text, d.NoteTweet.Entities
		}
		return d.NoteTweet.Text, d.Entities
	}
	return d.Text, d.Entities
}

func (inc *v2Includes) user(id string) *v2User {
	for i := range inc.Users {
		if inc.Users[i].ID == id {
			return &inc.Users[i]
		}
	}
	return nil
}

func (inc *v2Includes) tweet(id string) *v2Tweet {
	for i := range inc.Tweets {
		if inc.Tweets[i].ID == id {
			return &inc.Tweets[i]
		}
	}
	return nil
}

// stripHTML turns `<a href="…">Twitter for iPhone</a>` into its text. Some
// archives carry JSON-escaped slashes inside the string (`<\/a>`); they are
// inside the tag and go with it.
func stripHTML(s string) string {
	if strings.IndexByte(s, '<') < 0 {
		return strings.TrimSpace(unescapeEntities(s))
	}
	var b strings.Builder
	b.Grow(len(s))
	in := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<':
			in = true
		case c == '>' && in:
			in = false
		case !in:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(unescapeEntities(b.String()))
}

// textReplacer undoes the escaping X applies to tweet text (v1.1 and v2):
// &, < and > arrive as &amp;, &lt; and &gt;. One pass, so a typed "&amp;"
// (sent as "&amp;amp;") comes out as typed.
var textReplacer = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")

func unescapeText(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	return textReplacer.Replace(s)
}

var entityReplacer = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`, "&#39;", "'")

func unescapeEntities(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	return entityReplacer.Replace(s)
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

func jsonKind(c byte) string {
	switch c {
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
