package tweet

import (
	"strconv"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/internal/jsonenc"
)

// EventData attribute names: the seed's schema (Username HASH, Id RANGE,
// Timestamp, Message, ExpirationTime) plus the fields the seed threw away.
const (
	AttrUsername       = "Username"
	AttrID             = "Id"
	AttrTimestamp      = "Timestamp"
	AttrMessage        = "Message"
	AttrExpirationTime = "ExpirationTime"
	AttrDisplayName    = "DisplayName"
	AttrLang           = "Lang"
	AttrHashtags       = "Hashtags"
)

// EventDataSpec is the EventData table's key schema and TTL attribute.
func EventDataSpec(name string) streamproc.TableSpec {
	return streamproc.TableSpec{
		Name:    name,
		Key:     streamproc.KeySchema{HashKey: AttrUsername, HashType: "S", RangeKey: AttrID, RangeType: "S"},
		TTLAttr: AttrExpirationTime,
	}
}

// Item builds the EventData item. The item depends only on the tweet and
// now, so re-delivering a record rewrites the same key (idempotent; only
// ExpirationTime moves forward). ExpirationTime is now + ttlDays days in epoch
// seconds — the seed computed it wrongly.
func (t *Tweet) Item(now time.Time, ttlDays int) streamproc.Item {
	it := streamproc.Item{
		AttrUsername:  t.User.ScreenName,
		AttrID:        t.IDStr,
		AttrTimestamp: t.CreatedAt.UTC().Format(time.RFC3339),
		AttrMessage:   t.Text,
	}
	if ttlDays > 0 {
		exp := now.Add(time.Duration(ttlDays) * 24 * time.Hour).Unix()
		it[AttrExpirationTime] = streamproc.Number(strconv.FormatInt(exp, 10))
	}
	if t.User.Name != "" {
		it[AttrDisplayName] = t.User.Name
	}
	if t.Lang != "" {
		it[AttrLang] = t.Lang
	}
	if len(t.Hashtags) > 0 {
		it[AttrHashtags] = t.Hashtags
	}
	return it
}

// condensedTime is the created_at layout Athena's TIMESTAMP type reads.
const condensedTime = "2006-01-02 15:04:05"

// AppendCondensed appends the condensed record — one JSON object and a
// trailing '\n' — to dst. Field names and order are the seed's: created_at,
// id, text, user_name, user_screen_name, source, retweet_count,
// favorite_count, lang, verified, then hashtags (always an array, so the
// Athena schema has one shape). id is a JSON integer written from int64.
// Strings keep their UTF-8 bytes; only what JSON requires is escaped.
func (t *Tweet) AppendCondensed(dst []byte) []byte {
	dst = append(dst, `{"created_at":"`...)
	dst = t.CreatedAt.UTC().AppendFormat(dst, condensedTime)
	dst = append(dst, `","id":`...)
	dst = strconv.AppendInt(dst, t.ID, 10)
	dst = append(dst, `,"text":`...)
	dst = jsonenc.AppendString(dst, t.Text)
	dst = append(dst, `,"user_name":`...)
	dst = jsonenc.AppendString(dst, t.User.Name)
	dst = append(dst, `,"user_screen_name":`...)
	dst = jsonenc.AppendString(dst, t.User.ScreenName)
	dst = append(dst, `,"source":`...)
	dst = jsonenc.AppendString(dst, t.Source)
	dst = append(dst, `,"retweet_count":`...)
	dst = strconv.AppendInt(dst, t.RetweetCount, 10)
	dst = append(dst, `,"favorite_count":`...)
	dst = strconv.AppendInt(dst, t.FavoriteCount, 10)
	dst = append(dst, `,"lang":`...)
	dst = jsonenc.AppendString(dst, t.Lang)
	dst = append(dst, `,"verified":`...)
	dst = strconv.AppendBool(dst, t.User.Verified)
	dst = append(dst, `,"hashtags":[`...)
	for i, h := range t.Hashtags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonenc.AppendString(dst, h)
	}
	return append(dst, "]}\n"...)
}
