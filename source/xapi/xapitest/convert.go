package xapitest

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// object is a JSON object with its members kept as raw JSON, so fields can
// be selected the way the API selects them.
type object map[string]json.RawMessage

func (o object) str(k string) string {
	var s string
	_ = json.Unmarshal(o[k], &s)
	return s
}

func (o object) set(k string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain values
	}
	o[k] = b
}

// v1 statuses, as far as the conversion reads them.
type v1Status struct {
	IDStr         string      `json:"id_str"`
	ID            json.Number `json:"id"`
	CreatedAt     string      `json:"created_at"`
	Text          *string     `json:"text"`
	FullText      *string     `json:"full_text"`
	ExtendedTweet *struct {
		FullText string      `json:"full_text"`
		Entities *v1Entities `json:"entities"`
	} `json:"extended_tweet"`
	Lang                 string          `json:"lang"`
	RetweetCount         int64           `json:"retweet_count"`
	FavoriteCount        *int64          `json:"favorite_count"`
	ReplyCount           int64           `json:"reply_count"`
	QuoteCount           int64           `json:"quote_count"`
	User                 *v1User         `json:"user"`
	Entities             *v1Entities     `json:"entities"`
	RetweetedStatus      json.RawMessage `json:"retweeted_status"`
	QuotedStatus         json.RawMessage `json:"quoted_status"`
	QuotedStatusIDStr    string          `json:"quoted_status_id_str"`
	InReplyToStatusIDStr *string         `json:"in_reply_to_status_id_str"`
	InReplyToUserIDStr   *string         `json:"in_reply_to_user_id_str"`
	PossiblySensitive    *bool           `json:"possibly_sensitive"`
}

type v1Entities struct {
	Hashtags []struct {
		Text    string `json:"text"`
		Indices []int  `json:"indices"`
	} `json:"hashtags"`
	UserMentions []struct {
		ScreenName string `json:"screen_name"`
		IDStr      string `json:"id_str"`
		Indices    []int  `json:"indices"`
	} `json:"user_mentions"`
	URLs []struct {
		URL         string `json:"url"`
		ExpandedURL string `json:"expanded_url"`
		DisplayURL  string `json:"display_url"`
		Indices     []int  `json:"indices"`
	} `json:"urls"`
	Symbols []struct {
		Text    string `json:"text"`
		Indices []int  `json:"indices"`
	} `json:"symbols"`
}

type v1User struct {
	IDStr           string      `json:"id_str"`
	ID              json.Number `json:"id"`
	Name            string      `json:"name"`
	ScreenName      string      `json:"screen_name"`
	Verified        bool        `json:"verified"`
	Protected       bool        `json:"protected"`
	Description     *string     `json:"description"`
	Location        *string     `json:"location"`
	CreatedAt       string      `json:"created_at"`
	FollowersCount  int64       `json:"followers_count"`
	FriendsCount    int64       `json:"friends_count"`
	StatusesCount   int64       `json:"statuses_count"`
	ListedCount     int64       `json:"listed_count"`
	FavouritesCount int64       `json:"favourites_count"`
	ProfileImage    string      `json:"profile_image_url_https"`
}

// v2Time is v2's created_at layout (x-api.md §1.3).
const v2Time = "2006-01-02T15:04:05.000Z"

// maxText is where v2 cuts a post; the rest is in note_tweet.
const maxText = 280

// converted is one v1.1 status as v2 objects.
type converted struct {
	tweet object
	user  object
	// refs are the retweeted and quoted originals, converted too.
	refs []converted
}

// fromV1 converts a v1.1 status the way X's v1.1 → v2 migration guide maps
// the fields (x-api.md §4).
func fromV1(raw []byte) (converted, error) {
	var s v1Status
	if err := json.Unmarshal(raw, &s); err != nil {
		return converted{}, fmt.Errorf("v1.1 status: %w", err)
	}
	id := s.IDStr
	if id == "" {
		id = s.ID.String()
	}
	if id == "" || s.User == nil {
		return converted{}, fmt.Errorf("v1.1 status without id or user")
	}
	created, err := time.Parse(time.RubyDate, s.CreatedAt)
	if err != nil {
		return converted{}, fmt.Errorf("v1.1 status %s: %w", id, err)
	}
	var text string
	ents := s.Entities
	switch {
	case s.ExtendedTweet != nil && s.ExtendedTweet.FullText != "":
		text = s.ExtendedTweet.FullText
		if s.ExtendedTweet.Entities != nil {
			ents = s.ExtendedTweet.Entities
		}
	case s.FullText != nil:
		text = *s.FullText
	case s.Text != nil:
		text = *s.Text
	}
	var out converted
	t := object{}
	t.set("id", id)
	t.set("edit_history_tweet_ids", []string{id})
	t.set("created_at", created.UTC().Format(v2Time))
	t.set("author_id", userID(s.User))
	if s.Lang != "" {
		t.set("lang", s.Lang)
	}
	likes := int64(0)
	if s.FavoriteCount != nil {
		likes = *s.FavoriteCount
	}
	t.set("public_metrics", map[string]int64{"retweet_count": s.RetweetCount, "reply_count": s.ReplyCount, "like_count": likes, "quote_count": s.QuoteCount})
	if s.PossiblySensitive != nil {
		t.set("possibly_sensitive", *s.PossiblySensitive)
	}
	if s.InReplyToUserIDStr != nil && *s.InReplyToUserIDStr != "" {
		t.set("in_reply_to_user_id", *s.InReplyToUserIDStr)
	}
	v2ents := entitiesV2(ents)
	if utf8.RuneCountInString(text) > maxText {
		t.set("note_tweet", map[string]any{"text": text, "entities": v2ents})
		text = string([]rune(text)[:maxText])
	}
	t.set("text", text)
	if v2ents != nil {
		t.set("entities", v2ents)
	}
	type ref struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	var refs []ref
	for _, r := range []struct {
		typ string
		raw json.RawMessage
	}{{"retweeted", s.RetweetedStatus}, {"quoted", s.QuotedStatus}} {
		if len(r.raw) == 0 || string(r.raw) == "null" {
			continue
		}
		c, err := fromV1(r.raw)
		if err != nil {
			return converted{}, fmt.Errorf("v1.1 status %s, %s original: %w", id, r.typ, err)
		}
		refs = append(refs, ref{r.typ, c.tweet.str("id")})
		out.refs = append(out.refs, c)
	}
	if len(s.QuotedStatus) == 0 && s.QuotedStatusIDStr != "" {
		refs = append(refs, ref{"quoted", s.QuotedStatusIDStr})
	}
	if s.InReplyToStatusIDStr != nil && *s.InReplyToStatusIDStr != "" {
		refs = append(refs, ref{"replied_to", *s.InReplyToStatusIDStr})
	}
	if len(refs) > 0 {
		t.set("referenced_tweets", refs)
	}
	out.tweet = t
	out.user = userV2(s.User)
	return out, nil
}

func userID(u *v1User) string {
	if u.IDStr != "" {
		return u.IDStr
	}
	return u.ID.String()
}

func userV2(u *v1User) object {
	o := object{}
	o.set("id", userID(u))
	o.set("name", u.Name)
	o.set("username", u.ScreenName)
	o.set("verified", u.Verified)
	o.set("protected", u.Protected)
	if u.Description != nil {
		o.set("description", *u.Description)
	}
	if u.Location != nil && *u.Location != "" {
		o.set("location", *u.Location)
	}
	if t, err := time.Parse(time.RubyDate, u.CreatedAt); err == nil {
		o.set("created_at", t.UTC().Format(v2Time))
	}
	if u.ProfileImage != "" {
		o.set("profile_image_url", u.ProfileImage)
	}
	o.set("public_metrics", map[string]int64{"followers_count": u.FollowersCount, "following_count": u.FriendsCount,
		"tweet_count": u.StatusesCount, "listed_count": u.ListedCount, "like_count": u.FavouritesCount})
	return o
}

// entitiesV2 renames v1.1 entities: indices → start/end, text → tag,
// screen_name → username, symbols → cashtags.
func entitiesV2(e *v1Entities) map[string]any {
	if e == nil {
		return nil
	}
	span := func(ix []int) (int, int) {
		if len(ix) == 2 {
			return ix[0], ix[1]
		}
		return 0, 0
	}
	out := map[string]any{}
	var tags, cash, mentions, urls []map[string]any
	for _, h := range e.Hashtags {
		s, en := span(h.Indices)
		tags = append(tags, map[string]any{"start": s, "end": en, "tag": h.Text})
	}
	for _, h := range e.Symbols {
		s, en := span(h.Indices)
		cash = append(cash, map[string]any{"start": s, "end": en, "tag": h.Text})
	}
	for _, m := range e.UserMentions {
		s, en := span(m.Indices)
		mentions = append(mentions, map[string]any{"start": s, "end": en, "username": m.ScreenName, "id": m.IDStr})
	}
	for _, u := range e.URLs {
		s, en := span(u.Indices)
		urls = append(urls, map[string]any{"start": s, "end": en, "url": u.URL, "expanded_url": u.ExpandedURL, "display_url": u.DisplayURL})
	}
	// v2 omits empty arrays, and an entities object left empty.
	for k, v := range map[string][]map[string]any{"hashtags": tags, "cashtags": cash, "mentions": mentions, "urls": urls} {
		if len(v) > 0 {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
