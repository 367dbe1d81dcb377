// Package tweet decodes tweets in every shape real data has (X API v1.1 REST
// compat and extended, streaming extended_tweet, retweets, quotes, and API v2
// data+includes) into one model, and builds the two records the reference app
// stores: the EventData table item and the condensed line delivered to S3.
package tweet

import (
	"errors"
	"time"
)

// Kind says what a stream message is.
type Kind int

const (
	// KindTweet is a message holding one or more tweets.
	KindTweet Kind = iota + 1
	// KindNotice is a non-tweet stream message (delete, limit, scrub_geo,
	// status_withheld, …): valid input that carries no tweet. Pipelines drop
	// it; they must not fail it.
	KindNotice
)

// Format is the API generation a tweet came from.
type Format string

// Formats of the X API.
const (
	FormatV1 Format = "v1.1"
	FormatV2 Format = "v2"
)

// Errors returned by Decode, wrapped with detail. They all mean the bytes can
// never become a tweet: retrying is pointless, so callers dead-letter them.
var (
	ErrNotUTF8  = errors.New("not valid UTF-8")
	ErrNotJSON  = errors.New("not JSON")
	ErrNotTweet = errors.New("not a tweet")
)

// User is a tweet's author.
type User struct {
	ID         string // decimal
	Name       string // display name
	ScreenName string // handle without '@'
	Verified   bool
}

// Tweet is the one model both API generations decode into.
type Tweet struct {
	Format Format
	ID     int64
	IDStr  string
	// CreatedAt is in UTC.
	CreatedAt time.Time
	// Text is the full text: extended_tweet.full_text, full_text or text, in
	// that order; for retweets "RT @author: " + the original's full text,
	// because the wrapper's own text is cut at 140 characters.
	Text string
	// Truncated is set when only a compat-mode text cut at 140 characters was
	// available.
	Truncated     bool
	Lang          string
	Source        string // client name with the HTML anchor stripped; "" in v2
	RetweetCount  int64
	FavoriteCount int64
	User          User
	// Hashtags without '#', in order, from entities (of the original for a
	// retweet), or extracted from the text when the entities are absent.
	Hashtags []string
	// RetweetedID / QuotedID are the ids of the referenced tweets ("" if none).
	RetweetedID string
	QuotedID    string
}

// Message is one decoded stream record.
type Message struct {
	Kind Kind
	// Tweets holds one tweet for a v1.1 object or a v2 single-tweet document,
	// and every tweet of a v2 page.
	Tweets []Tweet
	// Notice is the notice type ("delete", "limit", …) for KindNotice.
	Notice string
}
