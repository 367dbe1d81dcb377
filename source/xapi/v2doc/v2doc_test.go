package v2doc

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/streamproc/streamproc/tweet"
)

// A page whose tweets share includes: each document gets exactly the
// objects its tweet refers to, the retweeted original's author too.
const page = `{
  "data": [
    {"id": "3", "text": "RT @orig: cut…", "created_at": "2024-01-15T10:30:00.000Z", "author_id": "10",
     "referenced_tweets": [{"type": "retweeted", "id": "1"}]},
    {"id": "2", "text": "photo 📷 #pic", "created_at": "2024-01-15T10:29:00.000Z", "author_id": "11",
     "attachments": {"media_keys": ["3_9"], "poll_ids": ["p1"]}, "geo": {"place_id": "pl1"},
     "entities": {"hashtags": [{"start": 8, "end": 12, "tag": "pic"}]}, "unknown_field": {"kept": [1, 2]}},
    {"id": "4", "text": "no author in includes", "created_at": "2024-01-15T10:31:00.000Z", "author_id": "99"}
  ],
  "includes": {
    "users": [{"id": "10", "name": "Ten", "username": "ten"}, {"id": "11", "name": "Eleven", "username": "eleven"},
              {"id": "12", "name": "Orig", "username": "orig"}],
    "tweets": [{"id": "1", "text": "the full original #go", "author_id": "12", "created_at": "2024-01-15T10:00:00.000Z",
                "entities": {"hashtags": [{"tag": "go"}]}}],
    "media": [{"media_key": "3_9", "type": "photo"}],
    "places": [{"id": "pl1", "full_name": "Tokyo"}],
    "polls": [{"id": "p1", "options": []}]
  },
  "meta": {"newest_id": "4", "oldest_id": "2", "result_count": 3, "next_token": "abc"},
  "errors": [{"title": "Not Found Error"}]
}`

func TestSplit(t *testing.T) {
	p, err := Parse([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	if p.Meta.NextToken != "abc" || len(p.Errors) != 1 {
		t.Errorf("meta %+v errors %d", p.Meta, len(p.Errors))
	}
	docs, err := p.Split()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id, username, raw string
	}{
		{"3", "ten", `{"data":{"id":"3","text":"RT @orig: cut…","created_at":"2024-01-15T10:30:00.000Z","author_id":"10","referenced_tweets":[{"type":"retweeted","id":"1"}]},"includes":{"users":[{"id":"10","name":"Ten","username":"ten"},{"id":"12","name":"Orig","username":"orig"}],"tweets":[{"id":"1","text":"the full original #go","author_id":"12","created_at":"2024-01-15T10:00:00.000Z","entities":{"hashtags":[{"tag":"go"}]}}]}}`},
		{"2", "eleven", `{"data":{"id":"2","text":"photo 📷 #pic","created_at":"2024-01-15T10:29:00.000Z","author_id":"11","attachments":{"media_keys":["3_9"],"poll_ids":["p1"]},"geo":{"place_id":"pl1"},"entities":{"hashtags":[{"start":8,"end":12,"tag":"pic"}]},"unknown_field":{"kept":[1,2]}},"includes":{"users":[{"id":"11","name":"Eleven","username":"eleven"}],"media":[{"media_key":"3_9","type":"photo"}],"places":[{"id":"pl1","full_name":"Tokyo"}],"polls":[{"id":"p1","options":[]}]}}`},
		{"4", "", `{"data":{"id":"4","text":"no author in includes","created_at":"2024-01-15T10:31:00.000Z","author_id":"99"}}`},
	}
	if len(docs) != len(tests) {
		t.Fatalf("%d docs", len(docs))
	}
	for i, tc := range tests {
		d := docs[i]
		if d.ID != tc.id || d.Username != tc.username || string(d.Raw) != tc.raw {
			t.Errorf("doc %d = %s %q\n%s\nwant\n%s", i, d.ID, d.Username, d.Raw, tc.raw)
		}
		if !json.Valid(d.Raw) {
			t.Errorf("doc %d is not JSON", i)
		}
	}
	// The retweet decodes with the original's full text, as the page would.
	m, err := tweet.Decode(docs[0].Raw)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := tweet.Decode([]byte(page))
	if err == nil {
		t.Fatalf("the page decodes although tweet 4 has no author: %+v", whole)
	}
	if got := m.Tweets[0]; got.Text != "RT @orig: the full original #go" || !reflect.DeepEqual(got.Hashtags, []string{"go"}) {
		t.Errorf("retweet = %+v", got)
	}
}

func TestSplitShapes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"single object", `{"data":{"id":"1","text":"a"}}`, 1, false},
		{"empty page", `{"meta":{"result_count":0}}`, 0, false},
		{"null data", `{"data":null}`, 0, false},
		{"tweet without id", `{"data":[{"text":"a"}]}`, 0, true},
		{"data is a string", `{"data":"x"}`, 0, true},
		{"includes user with a numeric id", `{"data":[{"id":"1"}],"includes":{"users":[{"id":5}]}}`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			docs, err := p.Split()
			if (err != nil) != tc.wantErr || len(docs) != tc.want {
				t.Errorf("%d docs, err %v", len(docs), err)
			}
		})
	}
}
