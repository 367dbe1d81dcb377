package kinesis_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/streamproc/streamproc/internal/emulator"
)

// newFaultProxy puts an emulator.Proxy in front of kinesalite that adds the
// two wire behaviours kinesalite lacks: it never fails a PutRecords entry
// and never paginates ListShards. Everything else — stream state, routing,
// sequence numbers, errors — comes from kinesalite. The shapes added follow
// the Kinesis model (aws-models/kinesis.json) and aws-semantics.md §1.6,
// §1.9:
//
//   - PutRecords entries whose partition key starts with "fail-throttle" or
//     "fail-internal" are not forwarded (so, as on AWS, they are not
//     written) and come back in their place as
//     ProvisionedThroughputExceededException / InternalFailure entries of an
//     HTTP 200 answer.
//   - ListShards honours MaxResults and returns a NextToken; a request with
//     both NextToken and StreamName/StreamARN is rejected with
//     InvalidArgumentException, as AWS does.
func newFaultProxy(t *testing.T, upstream string) *emulator.Proxy {
	p := emulator.NewProxy(t, upstream)
	p.Rewrite = func(c *emulator.Call) (int, map[string]any) {
		switch c.Op {
		case "PutRecords":
			return putRecords(c)
		case "ListShards":
			return listShards(c)
		}
		return c.Forward(c.Request)
	}
	return p
}

func putRecords(c *emulator.Call) (int, map[string]any) {
	records, _ := c.Request["Records"].([]any)
	failed := make([]map[string]any, len(records))
	var keep []any
	for i, rec := range records {
		pk, _ := rec.(map[string]any)["PartitionKey"].(string)
		switch {
		case strings.HasPrefix(pk, "fail-throttle"):
			failed[i] = map[string]any{"ErrorCode": "ProvisionedThroughputExceededException",
				"ErrorMessage": "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000."}
		case strings.HasPrefix(pk, "fail-internal"):
			failed[i] = map[string]any{"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."}
		default:
			keep = append(keep, rec)
		}
	}
	var upstream []any
	if len(keep) > 0 {
		c.Request["Records"] = keep
		status, resp := c.Forward(c.Request)
		if status != http.StatusOK {
			return status, resp
		}
		upstream, _ = resp["Records"].([]any)
	}
	out := make([]any, len(records))
	nfailed := 0
	for i := range records {
		if failed[i] != nil {
			out[i] = failed[i]
			nfailed++
			continue
		}
		out[i], upstream = upstream[0], upstream[1:]
	}
	return http.StatusOK, map[string]any{"FailedRecordCount": nfailed, "Records": out}
}

// shardToken is the proxy's NextToken: where the next page starts.
type shardToken struct {
	Stream string `json:"s"`
	After  string `json:"a"`
}

func listShards(c *emulator.Call) (int, map[string]any) {
	req := c.Request
	limit := 1000
	if m, ok := req["MaxResults"].(float64); ok && m < 1000 {
		limit = int(m)
	}
	delete(req, "MaxResults")
	if tok, ok := req["NextToken"].(string); ok {
		if req["StreamName"] != nil || req["StreamARN"] != nil {
			return http.StatusBadRequest, emulator.ErrorBody("InvalidArgumentException", "NextToken and StreamName cannot be provided together.")
		}
		raw, err := base64.StdEncoding.DecodeString(tok)
		var st shardToken
		if err == nil {
			err = json.Unmarshal(raw, &st)
		}
		if err != nil {
			return http.StatusBadRequest, emulator.ErrorBody("InvalidArgumentException", "Invalid NextToken.")
		}
		req = map[string]any{"StreamName": st.Stream, "ExclusiveStartShardId": st.After}
	}
	status, resp := c.Forward(req)
	if status != http.StatusOK {
		return status, resp
	}
	shards, _ := resp["Shards"].([]any)
	if len(shards) > limit {
		shards = shards[:limit]
		last, _ := shards[limit-1].(map[string]any)["ShardId"].(string)
		raw, _ := json.Marshal(shardToken{Stream: req["StreamName"].(string), After: last})
		resp["NextToken"] = base64.StdEncoding.EncodeToString(raw)
	}
	resp["Shards"] = shards
	return http.StatusOK, resp
}
