package tweet

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/internal/fixture"
)

// seedTweet is the record of the seed's own transformer test event.
func seedTweet(t testing.TB) []byte { return fixture.SeedFirehoseEvent(t).Records[0].Data }

func searchStatuses(t testing.TB) [][]byte { return fixture.SearchStatuses(t) }

func decodeOne(t *testing.T, data []byte) Tweet {
	t.Helper()
	m, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if m.Kind != KindTweet || len(m.Tweets) != 1 {
		t.Fatalf("Decode = kind %v with %d tweets, want one tweet", m.Kind, len(m.Tweets))
	}
	return m.Tweets[0]
}

func TestDecodeSeedFixture(t *testing.T) {
	tw := decodeOne(t, seedTweet(t))
	if tw.ID != 1174681441692635136 || tw.IDStr != "1174681441692635136" {
		t.Errorf("id = %d / %q", tw.ID, tw.IDStr)
	}
	if got := tw.CreatedAt.Format("2006-01-02 15:04:05"); got != "2019-09-19 13:47:34" {
		t.Errorf("created_at = %s", got)
	}
	if tw.Source != "Twitter for iPhone" {
		t.Errorf("source = %q", tw.Source)
	}
	if !strings.HasPrefix(tw.Text, "RT @8_OHMYGIRL: [4회] '모 아니면 도' 위험한 선택을 감행하는 오마이걸") {
		t.Errorf("text = %q", tw.Text)
	}
	if tw.User.Name != "기적은너야🌈" || tw.User.ScreenName != "Ohmygirl2015" {
		t.Errorf("user = %+v", tw.User)
	}
	if want := []string{"오마이걸", "OHMYGIRL", "OMG"}; !reflect.DeepEqual(tw.Hashtags, want) {
		t.Errorf("hashtags = %q, want %q", tw.Hashtags, want)
	}
	if tw.Lang != "ko" || tw.RetweetedID == "" {
		t.Errorf("lang %q retweeted %q", tw.Lang, tw.RetweetedID)
	}
}

func TestDecodeSearchFixture(t *testing.T) {
	for i, raw := range searchStatuses(t) {
		// The reference: id_str and the text fields read by the standard
		// library with numbers kept as strings.
		var ref struct {
			IDStr    string `json:"id_str"`
			FullText string `json:"full_text"`
			User     struct {
				ScreenName string `json:"screen_name"`
			} `json:"user"`
			RT *struct {
				FullText string `json:"full_text"`
				User     struct {
					ScreenName string `json:"screen_name"`
				} `json:"user"`
			} `json:"retweeted_status"`
		}
		if err := stdjson.Unmarshal(raw, &ref); err != nil {
			t.Fatal(err)
		}
		tw := decodeOne(t, raw)
		if tw.IDStr != ref.IDStr || tw.User.ScreenName != ref.User.ScreenName {
			t.Errorf("status %d: id %s user %s, want %s %s", i, tw.IDStr, tw.User.ScreenName, ref.IDStr, ref.User.ScreenName)
		}
		want := ref.FullText
		if ref.RT != nil {
			want = "RT @" + ref.RT.User.ScreenName + ": " + ref.RT.FullText
		}
		// X sends &, < and > as entities; the model holds the text as typed.
		want = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(want)
		if tw.Text != want {
			t.Errorf("status %d text = %q, want %q", i, tw.Text, want)
		}
	}
}

func TestDecodeShapes(t *testing.T) {
	const user = `"user":{"id":2244994945,"id_str":"2244994945","name":"Dev 🚀","screen_name":"dev","verified":true}`
	tests := []struct {
		name string
		in   string
		want Tweet
	}{
		{
			name: "v1.1 REST compat truncated",
			in:   `{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921728,"id_str":"1050118621198921728","text":"short… https://t.co/x","truncated":true,"source":"web","lang":"en","retweet_count":3,"favorite_count":null,` + user + `,"entities":{"hashtags":[]}}`,
			want: Tweet{Format: FormatV1, ID: 1050118621198921728, IDStr: "1050118621198921728", Text: "short… https://t.co/x", Truncated: true, Source: "web", Lang: "en", RetweetCount: 3},
		},
		{
			name: "v1.1 REST extended",
			in:   `{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921728,"id_str":"1050118621198921728","full_text":"héllo #Go","truncated":false,"source":"<a href=\"https://x.com\" rel=\"nofollow\">X &amp; Co</a>","lang":"fr","favorite_count":9,` + user + `,"entities":{"hashtags":[{"text":"Go","indices":[6,9]}]}}`,
			want: Tweet{Format: FormatV1, ID: 1050118621198921728, IDStr: "1050118621198921728", Text: "héllo #Go", Source: "X & Co", Lang: "fr", FavoriteCount: 9, Hashtags: []string{"Go"}},
		},
		{
			name: "v1.1 streaming extended_tweet",
			in:   `{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921728,"id_str":"1050118621198921728","text":"cut…","truncated":true,"extended_tweet":{"full_text":"the whole long text #long","entities":{"hashtags":[{"text":"long"}]}},` + user + `,"entities":{"hashtags":[]},"timestamp_ms":"1539202764000"}`,
			want: Tweet{Format: FormatV1, ID: 1050118621198921728, IDStr: "1050118621198921728", Text: "the whole long text #long", Hashtags: []string{"long"}},
		},
		{
			name: "v1.1 streaming retweet of a long tweet",
			in:   `{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921729,"id_str":"1050118621198921729","text":"RT @orig: cut…",` + user + `,"entities":{"hashtags":[]},"retweeted_status":{"created_at":"Wed Oct 10 20:00:00 +0000 2018","id":1050118621198921000,"id_str":"1050118621198921000","text":"cut…","truncated":true,"user":{"id_str":"1","name":"O","screen_name":"orig"},"extended_tweet":{"full_text":"original body مرحبا #عربي","entities":{"hashtags":[{"text":"عربي"}]}}}}`,
			want: Tweet{Format: FormatV1, ID: 1050118621198921729, IDStr: "1050118621198921729", Text: "RT @orig: original body مرحبا #عربي", Hashtags: []string{"عربي"}, RetweetedID: "1050118621198921000"},
		},
		{
			name: "v1.1 quote",
			in:   `{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id_str":"1050118621198921730","full_text":"so true","is_quote_status":true,"quoted_status_id_str":"99",` + user + `,"entities":{"hashtags":[]},"quoted_status":{"created_at":"Wed Oct 10 20:00:00 +0000 2018","id_str":"99","full_text":"q","user":{"screen_name":"q"}}}`,
			want: Tweet{Format: FormatV1, ID: 1050118621198921730, IDStr: "1050118621198921730", Text: "so true", QuotedID: "99"},
		},
		{
			name: "v1.1 without entities falls back to text extraction",
			in:   `{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id":1050118621198921728,"full_text":"about #golang and #日本語",` + user + `}`,
			want: Tweet{Format: FormatV1, ID: 1050118621198921728, IDStr: "1050118621198921728", Text: "about #golang and #日本語", Hashtags: []string{"golang", "日本語"}},
		},
		{
			name: "v2 single tweet",
			in:   `{"data":{"id":"1745412345678901234","text":"v2 text #Go","created_at":"2024-01-15T10:30:00.000Z","author_id":"2244994945","lang":"en","public_metrics":{"retweet_count":5,"reply_count":2,"like_count":42,"quote_count":1},"entities":{"hashtags":[{"start":8,"end":11,"tag":"Go"}]},"edit_history_tweet_ids":["1745412345678901234"]},"includes":{"users":[{"id":"2244994945","name":"Dev 🚀","username":"dev","verified":true}]}}`,
			want: Tweet{Format: FormatV2, ID: 1745412345678901234, IDStr: "1745412345678901234", Text: "v2 text #Go", Lang: "en", RetweetCount: 5, FavoriteCount: 42, Hashtags: []string{"Go"}},
		},
		{
			name: "v2 long post in note_tweet",
			in:   `{"data":{"id":"1745412345678901235","text":"short version","created_at":"2024-01-15T10:30:00Z","author_id":"2244994945","note_tweet":{"text":"the full note body #note","entities":{"hashtags":[{"tag":"note"}]}}},"includes":{"users":[{"id":"2244994945","name":"Dev 🚀","username":"dev","verified":true}]}}`,
			want: Tweet{Format: FormatV2, ID: 1745412345678901235, IDStr: "1745412345678901235", Text: "the full note body #note", Hashtags: []string{"note"}},
		},
		{
			name: "v2 retweet rebuilt from includes.tweets",
			in:   `{"data":{"id":"1745412345678901236","text":"RT @orig: cut…","created_at":"2024-01-15T10:30:00.000Z","author_id":"2244994945","referenced_tweets":[{"type":"retweeted","id":"1745412345678900000"}]},"includes":{"users":[{"id":"2244994945","name":"Dev 🚀","username":"dev","verified":true},{"id":"7","name":"O","username":"orig"}],"tweets":[{"id":"1745412345678900000","text":"full original #orig","author_id":"7","entities":{"hashtags":[{"tag":"orig"}]}}]}}`,
			want: Tweet{Format: FormatV2, ID: 1745412345678901236, IDStr: "1745412345678901236", Text: "RT @orig: full original #orig", Hashtags: []string{"orig"}, RetweetedID: "1745412345678900000"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeOne(t, []byte(tc.in))
			tc.want.User = User{ID: "2244994945", Name: "Dev 🚀", ScreenName: "dev", Verified: true}
			got.CreatedAt = time.Time{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeCreatedAtFormats(t *testing.T) {
	want := time.Date(2019, 9, 19, 13, 47, 34, 0, time.UTC)
	for _, s := range []string{"Thu Sep 19 13:47:34 +0000 2019", "2019-09-19T13:47:34.000Z", "2019-09-19T15:47:34+02:00"} {
		got, err := parseCreatedAt(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseCreatedAt(%q) = %v, %v", s, got, err)
		}
	}
}

func TestDecodeNotices(t *testing.T) {
	tests := map[string]string{
		"delete":          `{"delete":{"status":{"id":1234,"id_str":"1234","user_id":3,"user_id_str":"3"},"timestamp_ms":"1539202764000"}}`,
		"limit":           `{"limit":{"track":1234,"timestamp_ms":"1539202764000"}}`,
		"scrub_geo":       `{"scrub_geo":{"user_id":14090548,"user_id_str":"14090548","up_to_status_id":23260136625,"up_to_status_id_str":"23260136625"}}`,
		"status_withheld": `{"status_withheld":{"id":1234567890,"user_id":123456,"withheld_in_countries":["DE","AR"]}}`,
		"user_withheld":   `{"user_withheld":{"id":123456,"withheld_in_countries":["DE"]}}`,
		"disconnect":      `{"disconnect":{"code":4,"stream_name":"x","reason":"y"}}`,
		"warning":         `{"warning":{"code":"FALLING_BEHIND","message":"m","percent_full":60}}`,
		// A user-stream event's source is the user object, not a tweet's string.
		"event": `{"event":"favorite","created_at":"Wed Oct 10 20:19:24 +0000 2018","source":{"id":1,"screen_name":"a"},"target":{"id":2},"target_object":{"id":3}}`,
	}
	for want, in := range tests {
		m, err := Decode([]byte(in))
		if err != nil || m.Kind != KindNotice || m.Notice != want {
			t.Errorf("%s: got %+v, %v", want, m, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"garbage bytes", []byte{0xff, 0xfe, 0x00, 0x01}, ErrNotUTF8},
		{"latin-1 text", []byte("caf\xe9"), ErrNotUTF8},
		{"empty", nil, ErrNotJSON},
		{"plain text", []byte("hello world"), ErrNotJSON},
		{"truncated JSON", []byte(`{"id":1,"text":"x`), ErrNotJSON},
		{"array", []byte(`[1,2]`), ErrNotTweet},
		{"other object", []byte(`{"foo":"bar"}`), ErrNotTweet},
		{"no user", []byte(`{"id":1,"id_str":"1","text":"x","created_at":"Wed Oct 10 20:19:24 +0000 2018"}`), ErrNotTweet},
		{"bad created_at", []byte(`{"id_str":"1","text":"x","created_at":"yesterday","user":{"screen_name":"a"}}`), ErrNotTweet},
		{"id disagreement", []byte(`{"id":2,"id_str":"1","text":"x","created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"screen_name":"a"}}`), ErrNotTweet},
		{"id as float", []byte(`{"id":1.5e18,"text":"x","created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"screen_name":"a"}}`), ErrNotTweet},
		{"v2 without author", []byte(`{"data":{"id":"1","text":"x","created_at":"2024-01-15T10:30:00Z","author_id":"9"}}`), ErrNotTweet},
		{"v2 without created_at", []byte(`{"data":{"id":"1","text":"x","author_id":"9"},"includes":{"users":[{"id":"9","username":"u"}]}}`), ErrNotTweet},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode error = %v, want %v", err, tc.want)
			}
			if err.Error() == tc.want.Error() {
				t.Errorf("error %q names no detail", err)
			}
		})
	}
}

// Tools that parse JSON numbers as float64 (JavaScript, jq 1.6) round a
// v1.1 id above 2^53 on the way; id_str is exact and wins.
func TestDecodeRoundedIDKeepsIDStr(t *testing.T) {
	for _, id := range []string{"666007010601623600", "6.660070106016236e+17", `"666007010601623552"`} {
		in := `{"id":` + id + `,"id_str":"666007010601623552","text":"x","created_at":"Wed Oct 10 20:19:24 +0000 2018","user":{"id":6.6e17,"id_str":"660000000000000001","screen_name":"a"}}`
		m, err := Decode([]byte(in))
		if err != nil {
			t.Fatalf("id %s: %v", id, err)
		}
		if tw := m.Tweets[0]; tw.ID != 666007010601623552 || tw.IDStr != "666007010601623552" || tw.User.ID != "660000000000000001" {
			t.Errorf("id %s: got id %d / %q, user %q", id, tw.ID, tw.IDStr, tw.User.ID)
		}
	}
}

func TestDecodeV2Page(t *testing.T) {
	in := `{"data":[{"id":"2","text":"b","created_at":"2024-01-15T10:30:00Z","author_id":"9"},{"id":"1","text":"a","created_at":"2024-01-15T10:29:00Z","author_id":"9"}],"includes":{"users":[{"id":"9","name":"N","username":"u"}]},"meta":{"result_count":2,"newest_id":"2"}}`
	m, err := Decode([]byte(in))
	if err != nil || len(m.Tweets) != 2 || m.Tweets[0].IDStr != "2" || m.Tweets[1].User.ScreenName != "u" {
		t.Fatalf("got %+v, %v", m, err)
	}
}

// The seed decoded tweets as ASCII; every byte of UTF-8 text must survive
// decode → condensed → decode.
func TestUTF8SurvivesCondensed(t *testing.T) {
	texts := []string{"日本語のツイート 🍣", "مرحبا بالعالم", "Ünïcödé \"quoted\" \\ back\nslash\ttab", "emoji 👩‍👩‍👧‍👦 zwj", "ctrl \x01 and \u2028 sep"}
	for _, text := range texts {
		tw := Tweet{ID: 1174681441692635136, IDStr: "1174681441692635136", Text: text, User: User{Name: text, ScreenName: "u"}, Hashtags: []string{text}}
		line := tw.AppendCondensed(nil)
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("condensed record is not one line: %q", line)
		}
		var back struct {
			ID       stdjson.Number `json:"id"`
			Text     string         `json:"text"`
			UserName string         `json:"user_name"`
			Hashtags []string       `json:"hashtags"`
		}
		dec := stdjson.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&back); err != nil {
			t.Fatalf("condensed %q: %v", line, err)
		}
		if back.Text != text || back.UserName != text || back.Hashtags[0] != text || back.ID != "1174681441692635136" {
			t.Errorf("round trip of %q gave %+v", text, back)
		}
	}
}

func TestCondensedSeed(t *testing.T) {
	tw := decodeOne(t, seedTweet(t))
	line := tw.AppendCondensed(nil)
	var got map[string]any
	dec := stdjson.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"created_at":       "2019-09-19 13:47:34",
		"id":               stdjson.Number("1174681441692635136"),
		"user_screen_name": "Ohmygirl2015",
		"user_name":        "기적은너야🌈",
		"source":           "Twitter for iPhone",
		"lang":             "ko",
		"verified":         false,
		"hashtags":         []any{"오마이걸", "OHMYGIRL", "OMG"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	keys := []string{"created_at", "id", "text", "user_name", "user_screen_name", "source", "retweet_count", "favorite_count", "lang", "verified", "hashtags"}
	if len(got) != len(keys) {
		t.Errorf("condensed has %d fields, want %d: %s", len(got), len(keys), line)
	}
	pos := -1
	for _, k := range keys {
		p := bytes.Index(line, []byte(`"`+k+`":`))
		if p < pos {
			t.Errorf("field %s out of the seed's order", k)
		}
		pos = p
	}
}

func TestItem(t *testing.T) {
	tw := decodeOne(t, seedTweet(t))
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	it := tw.Item(now, 7)
	want := map[string]any{
		AttrUsername:       "Ohmygirl2015",
		AttrID:             "1174681441692635136",
		AttrTimestamp:      "2019-09-19T13:47:34Z",
		AttrExpirationTime: streamproc.Number(strconv.FormatInt(now.Add(7*24*time.Hour).Unix(), 10)),
		AttrDisplayName:    "기적은너야🌈",
		AttrLang:           "ko",
		AttrHashtags:       []string{"오마이걸", "OHMYGIRL", "OMG"},
	}
	for k, v := range want {
		if !reflect.DeepEqual(it[k], v) {
			t.Errorf("%s = %#v, want %#v", k, it[k], v)
		}
	}
	if !strings.HasPrefix(it[AttrMessage].(string), "RT @8_OHMYGIRL: [4회]") {
		t.Errorf("Message = %q", it[AttrMessage])
	}
	if _, ok := tw.Item(now, 0)[AttrExpirationTime]; ok {
		t.Error("ttlDays 0 must not set ExpirationTime")
	}
}

// Text arrives HTML-escaped (&amp; &lt; &gt;) in both API versions and is
// unescaped once: a typed "&amp;" (sent as "&amp;amp;") stays "&amp;".
func TestDecodeUnescapesText(t *testing.T) {
	tests := map[string]string{
		`{"created_at":"Wed Oct 10 20:19:24 +0000 2018","id_str":"1","full_text":"a &amp; b &lt;3 &gt; c &amp;amp; d &quot;","user":{"screen_name":"u"}}`:            `a & b <3 > c &amp; d &quot;`,
		`{"data":{"id":"2","text":"x &amp; y","created_at":"2026-11-26T10:00:00.000Z","author_id":"9"},"includes":{"users":[{"id":"9","username":"v","name":"V"}]}}`: `x & y`,
	}
	for in, want := range tests {
		if got := decodeOne(t, []byte(in)).Text; got != want {
			t.Errorf("text %q, want %q", got, want)
		}
	}
}
