// Package v2doc turns X API v2 response pages into single-tweet documents.
//
// A v2 page carries its tweets in "data" and every object they refer to
// (authors, referenced tweets, media, places, polls) once, de-duplicated, in
// "includes". A stream record must stand on its own, so each tweet becomes
// the document a single-tweet lookup (GET /2/tweets/:id) would return:
//
//	{"data":{…},"includes":{"users":[author, authors of referenced tweets],
//	                        "tweets":[referenced tweets], "media":[…], …}}
//
// Objects are copied byte for byte (only insignificant whitespace is
// removed), so nothing the API sent is lost: ids stay strings, note_tweet and
// fields this package does not know survive. The tweet package decodes the
// result (x-api.md §4).
package v2doc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Doc is one tweet as a single-tweet document.
type Doc struct {
	ID       string // the tweet id (decimal string)
	AuthorID string
	// Username is the author's handle, from includes.users ("" when the page
	// did not include the author).
	Username string
	Raw      []byte // {"data":{…},"includes":{…}}, compact
}

// Page is a decoded v2 response page. Raw members are kept as sent.
type Page struct {
	Data     json.RawMessage   `json:"data"`
	Includes Includes          `json:"includes"`
	Meta     Meta              `json:"meta"`
	Errors   []json.RawMessage `json:"errors"`
}

// Includes holds a page's expanded objects.
type Includes struct {
	Users  []json.RawMessage `json:"users,omitempty"`
	Tweets []json.RawMessage `json:"tweets,omitempty"`
	Media  []json.RawMessage `json:"media,omitempty"`
	Places []json.RawMessage `json:"places,omitempty"`
	Polls  []json.RawMessage `json:"polls,omitempty"`
}

// Meta is a search page's meta object.
type Meta struct {
	NewestID    string `json:"newest_id"`
	OldestID    string `json:"oldest_id"`
	ResultCount int    `json:"result_count"`
	NextToken   string `json:"next_token"`
}

// tweetRefs is what a tweet points at in includes.
type tweetRefs struct {
	ID               string `json:"id"`
	AuthorID         string `json:"author_id"`
	ReferencedTweets []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"referenced_tweets"`
	Attachments struct {
		MediaKeys []string `json:"media_keys"`
		PollIDs   []string `json:"poll_ids"`
	} `json:"attachments"`
	Geo struct {
		PlaceID string `json:"place_id"`
	} `json:"geo"`
}

// keyed is an includes object and the key it is looked up by.
type keyed struct {
	key string
	raw json.RawMessage
}

// index maps the ids of one includes array to its objects.
func index(objs []json.RawMessage, field string) (map[string]json.RawMessage, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	m := make(map[string]json.RawMessage, len(objs))
	for i, o := range objs {
		var head map[string]json.RawMessage
		if err := json.Unmarshal(o, &head); err != nil {
			return nil, fmt.Errorf("includes object %d: %w", i, err)
		}
		var k string
		if raw, ok := head[field]; ok {
			if err := json.Unmarshal(raw, &k); err != nil {
				return nil, fmt.Errorf("includes object %d: %s is not a string: %w", i, field, err)
			}
		}
		if k != "" {
			if _, dup := m[k]; !dup {
				m[k] = o
			}
		}
	}
	return m, nil
}

// Parse decodes a v2 page.
func Parse(page []byte) (*Page, error) {
	var p Page
	if err := json.Unmarshal(page, &p); err != nil {
		return nil, fmt.Errorf("v2 page: %w", err)
	}
	return &p, nil
}

// Split returns one document per tweet of p's data (an array, or a single
// object), in page order. A tweet that is not an object with a string id is
// an error: the page is not what the API sends.
func (p *Page) Split() ([]Doc, error) {
	data := bytes.TrimSpace(p.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil, nil
	}
	var tweets []json.RawMessage
	switch data[0] {
	case '[':
		if err := json.Unmarshal(data, &tweets); err != nil {
			return nil, fmt.Errorf("v2 data: %w", err)
		}
	case '{':
		tweets = []json.RawMessage{data}
	default:
		return nil, fmt.Errorf("v2 data is neither an array nor an object")
	}
	users, err := index(p.Includes.Users, "id")
	if err != nil {
		return nil, fmt.Errorf("v2 includes.users: %w", err)
	}
	refTweets, err := index(p.Includes.Tweets, "id")
	if err != nil {
		return nil, fmt.Errorf("v2 includes.tweets: %w", err)
	}
	media, err := index(p.Includes.Media, "media_key")
	if err != nil {
		return nil, fmt.Errorf("v2 includes.media: %w", err)
	}
	places, err := index(p.Includes.Places, "id")
	if err != nil {
		return nil, fmt.Errorf("v2 includes.places: %w", err)
	}
	polls, err := index(p.Includes.Polls, "id")
	if err != nil {
		return nil, fmt.Errorf("v2 includes.polls: %w", err)
	}

	docs := make([]Doc, 0, len(tweets))
	for i, raw := range tweets {
		var t tweetRefs
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, fmt.Errorf("v2 data[%d]: %w", i, err)
		}
		if t.ID == "" {
			return nil, fmt.Errorf("v2 data[%d] has no id", i)
		}
		var inc docIncludes
		inc.users.add(t.AuthorID, users)
		for _, r := range t.ReferencedTweets {
			if inc.tweets.add(r.ID, refTweets) {
				var rt tweetRefs
				if err := json.Unmarshal(refTweets[r.ID], &rt); err == nil {
					// The original's author is needed to rebuild a
					// retweet's text ("RT @author: …").
					inc.users.add(rt.AuthorID, users)
				}
			}
		}
		for _, k := range t.Attachments.MediaKeys {
			inc.media.add(k, media)
		}
		for _, id := range t.Attachments.PollIDs {
			inc.polls.add(id, polls)
		}
		inc.places.add(t.Geo.PlaceID, places)

		doc := Doc{ID: t.ID, AuthorID: t.AuthorID}
		if u, ok := users[t.AuthorID]; ok {
			var head struct {
				Username string `json:"username"`
			}
			if json.Unmarshal(u, &head) == nil {
				doc.Username = head.Username
			}
		}
		b, err := inc.appendDoc(make([]byte, 0, len(raw)+512), raw)
		if err != nil {
			return nil, fmt.Errorf("v2 data[%d] (tweet %s): %w", i, t.ID, err)
		}
		doc.Raw = b
		docs = append(docs, doc)
	}
	return docs, nil
}

// set is an ordered, de-duplicated list of includes objects.
type set []keyed

// add appends the object with key k from m, once; it reports whether m has k.
func (s *set) add(k string, m map[string]json.RawMessage) bool {
	if k == "" {
		return false
	}
	raw, ok := m[k]
	if !ok {
		return false
	}
	for _, e := range *s {
		if e.key == k {
			return true
		}
	}
	*s = append(*s, keyed{key: k, raw: raw})
	return true
}

type docIncludes struct {
	users, tweets, media, places, polls set
}

// appendDoc appends {"data":tweet,"includes":{…}} to b, compact.
func (inc *docIncludes) appendDoc(b []byte, tweet json.RawMessage) ([]byte, error) {
	b = append(b, `{"data":`...)
	b, err := appendCompact(b, tweet)
	if err != nil {
		return nil, err
	}
	first := true
	for _, part := range []struct {
		name string
		objs set
	}{{"users", inc.users}, {"tweets", inc.tweets}, {"media", inc.media}, {"places", inc.places}, {"polls", inc.polls}} {
		if len(part.objs) == 0 {
			continue
		}
		if first {
			b = append(b, `,"includes":{`...)
			first = false
		} else {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, part.name)
		b = append(b, ':', '[')
		for i, o := range part.objs {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendCompact(b, o.raw); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if !first {
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendCompact appends raw without insignificant whitespace. Bytes inside
// strings are kept as they are (json.Compact does not re-escape).
func appendCompact(b []byte, raw json.RawMessage) ([]byte, error) {
	if !bytes.ContainsAny(raw, " \t\r\n") {
		return append(b, raw...), nil
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Newer reports whether tweet id a is newer (larger) than b. Ids are
// decimal strings without leading zeros, wider than 53 bits, so they are
// compared as strings of digits, never through float64. "" is older than
// any id.
func Newer(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}
