package deploy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/dynamodb"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/fixture"
	"github.com/streamproc/streamproc/source/xapi"
	"github.com/streamproc/streamproc/source/xapi/xapitest"
)

// The X API source as the template deploys it: the state table has the key
// schema xapi.TableSinceIDs writes, the producer is told its name, and its
// role may call exactly the DynamoDB actions TableSinceIDs uses, on that
// table only.
func TestProducerStateTable(t *testing.T) {
	tm, r := loadTemplate(t)
	const id = "ProducerStateTable"
	if tm.Resources[id].Type != "AWS::DynamoDB::Table" {
		t.Fatalf("%s is %q", id, tm.Resources[id].Type)
	}
	if r.Name(id) != "check-ProducerState" {
		t.Errorf("table name %q, want <stack>-ProducerState", r.Name(id))
	}
	p, err := r.Properties(id)
	if err != nil {
		t.Fatal(err)
	}
	spec := xapi.StateTableSpec("x").Key
	wantKeys := []any{map[string]any{"AttributeName": spec.HashKey, "KeyType": "HASH"}}
	wantDefs := []any{map[string]any{"AttributeName": spec.HashKey, "AttributeType": spec.HashType}}
	if spec.RangeKey != "" {
		t.Fatalf("StateTableSpec has a range key %s; the template's table has none", spec.RangeKey)
	}
	if fmt.Sprint(p["KeySchema"]) != fmt.Sprint(wantKeys) || fmt.Sprint(p["AttributeDefinitions"]) != fmt.Sprint(wantDefs) {
		t.Errorf("key schema %v, attributes %v; xapi.StateTableSpec wants %v, %v", p["KeySchema"], p["AttributeDefinitions"], wantKeys, wantDefs)
	}
	if p["BillingMode"] != "PAY_PER_REQUEST" {
		t.Errorf("billing mode %v", p["BillingMode"])
	}

	fn, err := r.Properties("DataStreamProducer")
	if err != nil {
		t.Fatal(err)
	}
	env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	tableName, _ := r.Value(map[string]any{"Ref": id})
	if env["PRODUCER_STATE_TABLE"] != tableName || env["TWEET_SOURCE"] != "synthetic" || env["SEARCH_QUERY"] != "" {
		t.Errorf("producer environment %v", env)
	}
	if got := fmt.Sprint(tm.Parameters["ProducerSource"].AllowedValues); got != "[synthetic xapi]" {
		t.Errorf("ProducerSource allows %s, want what cmd/lambda/producer accepts: [synthetic xapi]", got)
	}

	arn, err := r.Value(map[string]any{"Fn::GetAtt": []any{id, "Arn"}})
	if err != nil {
		t.Fatal(err)
	}
	var granted []string
	for _, st := range statements(t, r, tm)["DataStreamProducer"] {
		for _, a := range asList(st["Action"]) {
			if !strings.HasPrefix(a, "dynamodb:") {
				continue
			}
			granted = append(granted, a)
			if res := asList(st["Resource"]); len(res) != 1 || res[0] != fmt.Sprint(arn) {
				t.Errorf("%s on %v, want the state table only (%v)", a, res, arn)
			}
		}
	}
	slices.Sort(granted)
	// xapi.TableSinceIDs.Get is Table.Get (GetItem); Put is Get then
	// Table.BatchPut (BatchWriteItem). aws/dynamodb calls nothing else for
	// them (no DescribeTable: that is for Query only).
	if want := []string{"dynamodb:BatchWriteItem", "dynamodb:GetItem"}; !slices.Equal(granted, want) {
		t.Errorf("producer's DynamoDB actions %v, want %v", granted, want)
	}
}

// fakeSSM answers GetParameters (AWS JSON 1.1, X-Amz-Target
// AmazonSSM.GetParameters) with the shapes of research/aws-models/ssm.json:
// known names in Parameters (a SecureString's value only WithDecryption),
// the others in InvalidParameters. It is a stand-in because no independent
// implementation of Parameter Store exists to run against (none of the npm
// emulators covers SSM); aws/ssm's own tests check the adapter against a
// fuller fake with errors and selectors.
type fakeSSM struct {
	params map[string]string // SecureStrings by name

	mu    sync.Mutex
	calls [][]string // Names of each call
}

func (f *fakeSSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, v any) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameters" || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		answer(http.StatusBadRequest, map[string]string{"__type": "UnknownOperationException", "message": "the fake serves signed GetParameters only"})
		return
	}
	var req struct {
		Names          []string
		WithDecryption bool
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Names) < 1 || len(req.Names) > 10 {
		answer(http.StatusBadRequest, map[string]string{"__type": "ValidationException", "message": fmt.Sprintf("names %v: %v", req.Names, err)})
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, req.Names)
	f.mu.Unlock()
	type param struct {
		Name, Type, Value, ARN, DataType string
		Version                          int
		LastModifiedDate                 float64
	}
	out := struct {
		Parameters        []param
		InvalidParameters []string
	}{Parameters: []param{}, InvalidParameters: []string{}}
	for _, n := range req.Names {
		v, ok := f.params[n]
		if !ok {
			out.InvalidParameters = append(out.InvalidParameters, n)
			continue
		}
		if !req.WithDecryption {
			v = "AQICAHh-ciphertext-not-the-value"
		}
		out.Parameters = append(out.Parameters, param{Name: n, Type: "SecureString", Value: v, Version: 1, DataType: "text",
			ARN: "arn:aws:ssm:us-east-1:000000000000:parameter" + n, LastModifiedDate: float64(time.Now().Unix())})
	}
	answer(http.StatusOK, out)
}

func (f *fakeSSM) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []string
	for _, c := range f.calls {
		all = append(all, c...)
	}
	return all
}

// statusID is a v1.1 status's id.
func statusID(t *testing.T, raw []byte) string {
	t.Helper()
	var s struct {
		ID string `json:"id_str"`
	}
	if err := json.Unmarshal(raw, &s); err != nil || s.ID == "" {
		t.Fatalf("status without id_str: %v", err)
	}
	return s.ID
}

// compareIDs orders decimal tweet ids numerically (they exceed 2^53).
func compareIDs(a, b string) int {
	return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
}

// streamTweetIDs reads every record of the stream and returns the tweet id
// of each (the records mode puts one v2 single-tweet document per record).
func streamTweetIDs(t *testing.T, kc *awskinesis.Client, stream string) []string {
	t.Helper()
	ctx := context.Background()
	shards, err := kc.ListShards(ctx, &awskinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			out, err := kc.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Records) == 0 {
				break
			}
			for _, rec := range out.Records {
				var doc struct {
					Data struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				if err := json.Unmarshal(rec.Data, &doc); err != nil || doc.Data.ID == "" {
					t.Fatalf("record is not a v2 single-tweet document: %v\n%s", err, rec.Data)
				}
				ids = append(ids, doc.Data.ID)
			}
			iter = out.NextShardIterator
		}
	}
	return ids
}

// The producer bootstrap with TWEET_SOURCE=xapi, as the template deploys it
// with ProducerSource=xapi, under aws-lambda-rie: credentials from SSM, the
// X API (the repository's fake), the stream in kinesalite and the since_ids
// in dynalite. Two scheduled runs, each in a fresh process (a cold start, so
// the handler's in-memory since_ids are gone), put every tweet into the
// stream exactly once: the second run searches from the since_id the first
// stored in the state table and gets only the tweets posted in between.
func TestProducerXAPIUnderRIEExactlyOnce(t *testing.T) {
	const (
		bearer = "AAAA-deploy-test-bearer-SECRET"
		stream = "check-EventStream"
		table  = "check-ProducerState"
	)
	oauth := &xapitest.OAuth1{ConsumerKey: "ck-SECRET", ConsumerSecret: "cs-SECRET", Token: "tk-SECRET", TokenSecret: "ts-SECRET"}
	tests := []struct {
		name   string
		params map[string]string
		env    map[string]string // SEARCH_QUERY or trends
		query  string            // the search query the runs use
	}{
		{"bearer token, top trend", map[string]string{streamproc.ParamBearerToken: bearer},
			map[string]string{"TOP_N": "1"}, "#golang"},
		{"OAuth 1.0a, ProducerSearchQuery", map[string]string{
			streamproc.ParamConsumerKey: oauth.ConsumerKey, streamproc.ParamConsumerSecret: oauth.ConsumerSecret,
			streamproc.ParamAccessTokenKey: oauth.Token, streamproc.ParamAccessTokenSecret: oauth.TokenSecret},
			map[string]string{"SEARCH_QUERY": "golang -is:retweet"}, "golang -is:retweet"},
	}
	rieBinary(t)
	boot := buildBootstrap(t, "producer")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			kURL, ddbURL := emulator.Kinesalite(t), emulator.Dynalite(t)
			kc := emulator.KinesisClient(kURL)
			if _, err := kc.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(2)}); err != nil {
				t.Fatal(err)
			}
			ddb := emulator.DynamoDBClient(ddbURL)
			if err := dynamodb.CreateTable(ctx, ddb, xapi.StateTableSpec(table), time.Minute); err != nil {
				t.Fatal(err)
			}
			ssm := &fakeSSM{params: tc.params}
			ssmSrv := httptest.NewServer(ssm)
			t.Cleanup(ssmSrv.Close)

			x := xapitest.New(t, xapitest.Config{BearerToken: bearer, OAuth1: oauth, PageSize: 4})
			x.SetTrends(xapitest.Trend{Name: "#golang", Count: 1200})
			statuses := fixture.SearchStatuses(t)
			slices.SortFunc(statuses, func(a, b []byte) int { return compareIDs(statusID(t, a), statusID(t, b)) })
			older, newer := statuses[:10], statuses[10:]
			if err := x.AddV1(older...); err != nil {
				t.Fatal(err)
			}

			env := map[string]string{
				"STREAM_NAME": stream, "PRODUCER_MODE": "records", "TWEET_SOURCE": "xapi", "PRODUCER_STATE_TABLE": table,
				xapi.EnvBaseURL:             x.URL,
				"AWS_ENDPOINT_URL_KINESIS":  kURL,
				"AWS_ENDPOINT_URL_DYNAMODB": ddbURL,
				"AWS_ENDPOINT_URL_SSM":      ssmSrv.URL,
			}
			for k, v := range tc.env {
				env[k] = v
			}
			run := func(wantTweets int) string {
				t.Helper()
				fn := runRIE(t, "producer", boot, env)
				var res struct {
					TweetsPut int `json:"tweetsPut"`
					Failed    int `json:"failed"`
				}
				if err := json.Unmarshal(fn.invoke(t, events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"}), &res); err != nil {
					t.Fatal(err)
				}
				if res.TweetsPut != wantTweets || res.Failed != 0 {
					t.Errorf("run put %d tweets (%d failed), want %d", res.TweetsPut, res.Failed, wantTweets)
				}
				return fn.out.String()
			}

			out1 := run(len(older))
			ids := &xapi.TableSinceIDs{Table: dynamodb.New(ddb), Name: table}
			stored, err := ids.Get(ctx, tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if want := statusID(t, older[len(older)-1]); stored != want {
				t.Fatalf("state table holds since_id %q for %q, want the newest fetched, %s", stored, tc.query, want)
			}

			if err := x.AddV1(newer...); err != nil { // posted between the runs
				t.Fatal(err)
			}
			out2 := run(len(newer))

			got := streamTweetIDs(t, kc, stream)
			seen := map[string]int{}
			for _, id := range got {
				seen[id]++
			}
			for _, s := range statuses {
				if id := statusID(t, s); seen[id] != 1 {
					t.Errorf("tweet %s is in the stream %d times, want once", id, seen[id])
				}
			}
			if len(got) != len(statuses) {
				t.Errorf("%d records in the stream, want %d", len(got), len(statuses))
			}
			if stored, _ = ids.Get(ctx, tc.query); stored != statusID(t, newer[len(newer)-1]) {
				t.Errorf("after run 2 the state table holds since_id %q", stored)
			}

			// Run 2 asked X only for tweets after run 1's newest.
			var searches []xapitest.Request
			for _, req := range x.Requests() {
				if req.Status != http.StatusOK {
					t.Errorf("X API answered %d to %s %v", req.Status, req.Endpoint, req.Query)
				}
				if req.Endpoint == xapitest.Search && req.Query.Get("next_token") == "" {
					searches = append(searches, req)
				}
			}
			if len(searches) != 2 || searches[0].Query.Get("since_id") != "" || searches[1].Query.Get("since_id") != statusID(t, older[len(older)-1]) ||
				searches[1].Query.Get("query") != tc.query {
				t.Errorf("first-page searches %+v", searches)
			}
			// Credentials came from SSM, and never reached a log line.
			for name := range tc.params {
				if !slices.Contains(ssm.names(), name) {
					t.Errorf("%s was not read from SSM (GetParameters names %v)", name, ssm.names())
				}
			}
			for _, v := range tc.params {
				if strings.Contains(out1+out2, v) {
					t.Errorf("a credential is in the function's output:\n%s", out1+out2)
				}
			}
		})
	}
}

// A TWEET_SOURCE the bootstrap does not know stops it at init with a message
// naming the allowed values, rather than falling back to synthetic tweets.
func TestProducerUnderRIERejectsUnknownSource(t *testing.T) {
	fn := startRIE(t, "producer", map[string]string{"STREAM_NAME": "check-EventStream", "TWEET_SOURCE": "twitter"})
	body, _ := json.Marshal(events.EventBridgeEvent{DetailType: "Scheduled Event", Source: "aws.events"})
	resp, err := http.Post(fn.url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && !bytes.Contains(b, []byte(`"errorType"`)) {
		t.Fatalf("invocation succeeded: %s %s", resp.Status, b)
	}
	want := `TWEET_SOURCE="twitter" is not supported; use synthetic or xapi`
	waitFor(t, func() bool { return strings.Contains(fn.out.String(), want) }, "the configuration error")
}
