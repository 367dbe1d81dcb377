// Package trending is the seed's "Kinesis analytics" TODO done as a Lambda
// tumbling-window function: it counts hashtags per window per shard in the
// window state, and on the window's final invocation adds the counts to the
// Trends table with atomic adds, so the shards' partial counts merge.
//
// Delivery: the final flush is at-least-once, like every Lambda invocation —
// if it fails part-way, the retry adds again, so a count can be too high after
// a failed flush (never too low). The state is map[string]string because
// aws-lambda-go's TimeWindowProperties.State is; counts are decimal strings.
package trending

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/kpl"
	"github.com/streamproc/streamproc/tweet"
)

// Trends table attributes: Window (HASH, the window start in RFC 3339),
// Hashtag (RANGE, lower-cased) and Count.
const (
	AttrWindow  = "Window"
	AttrHashtag = "Hashtag"
	AttrCount   = "Count"
)

// TrendsSpec is the Trends table's key schema.
func TrendsSpec(name string) streamproc.TableSpec {
	return streamproc.TableSpec{Name: name, Key: streamproc.KeySchema{HashKey: AttrWindow, HashType: "S", RangeKey: AttrHashtag, RangeType: "S"}}
}

// Reserved state keys. Hashtags never contain '#', so these cannot clash.
// They are flushed too, giving each window its tweet count and the number of
// records that were not tweets (the consumer dead-letters those).
const (
	KeyTweets  = "#tweets"
	KeyInvalid = "#invalid"
	KeyOther   = "#other" // hashtags folded away to keep the state under the cap
)

// MaxStateBytes is Lambda's 1 MB cap on tumbling-window state.
const MaxStateBytes = 1 << 20

// Metric names.
const (
	MetricTweets  = "TweetsCounted"
	MetricInvalid = "RecordsNotTweets"
	MetricFlushed = "HashtagsFlushed"
)

// Handler aggregates hashtags per tumbling window.
type Handler struct {
	Table     streamproc.Table
	TableName string
	Logger    *slog.Logger
	Metrics   streamproc.Metrics
	// StateLimit bounds the encoded state (default 900 KB, under the 1 MB
	// cap with room for the event's own fields). When a batch would go over,
	// the rarest hashtags are folded into KeyOther.
	StateLimit int
}

// Handle processes one invocation of a tumbling window.
func (h *Handler) Handle(ctx context.Context, ev events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
	log, metrics := h.Logger, h.Metrics
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if metrics == nil {
		metrics = streamproc.NopMetrics{}
	}
	limit := h.StateLimit
	if limit == 0 {
		limit = 900 << 10
	}
	counts, err := decodeState(ev.State)
	if err != nil {
		return events.KinesisTimeWindowEventResponse{}, err
	}
	var tweets, invalid int64
	for _, r := range ev.Records {
		users, _, err := kpl.Deaggregate(r.Kinesis.Data)
		if err != nil {
			invalid++
			continue
		}
		for _, u := range users {
			msg, err := tweet.Decode(u.Data)
			if err != nil {
				invalid++
				continue
			}
			for _, t := range msg.Tweets {
				tweets++
				for _, tag := range t.Hashtags {
					counts[strings.ToLower(tag)]++
				}
			}
		}
	}
	counts[KeyTweets] += tweets
	counts[KeyInvalid] += invalid
	metrics.Count(MetricTweets, tweets)
	metrics.Count(MetricInvalid, invalid)
	fold(counts, limit)

	if ev.IsFinalInvokeForWindow {
		window := ev.Window.Start.UTC().Format(time.RFC3339)
		if err := h.flush(ctx, window, counts); err != nil {
			// An error fails the invocation; Lambda retries the final
			// invoke with the same state.
			return events.KinesisTimeWindowEventResponse{}, err
		}
		metrics.Count(MetricFlushed, int64(len(counts)))
		log.InfoContext(ctx, "window flushed", "window", window, "shard", ev.ShardID, "hashtags", len(counts), "tweets", counts[KeyTweets], "terminatedEarly", ev.IsWindowTerminatedEarly)
		return events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: map[string]string{}}}, nil
	}
	return events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: encodeState(counts)}}, nil
}

func (h *Handler) flush(ctx context.Context, window string, counts map[string]int64) error {
	for tag, n := range counts {
		if n == 0 {
			continue
		}
		key := streamproc.Item{AttrWindow: window, AttrHashtag: tag}
		if _, err := h.Table.Add(ctx, h.TableName, key, AttrCount, n); err != nil {
			return fmt.Errorf("adding %d to %s/%s in %s: %w", n, window, tag, h.TableName, err)
		}
	}
	return nil
}

func decodeState(s map[string]string) (map[string]int64, error) {
	counts := make(map[string]int64, len(s)+16)
	for k, v := range s {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("window state %q=%q is not a count: %w", k, v, streamproc.ErrInvalid)
		}
		counts[k] = n
	}
	return counts, nil
}

func encodeState(counts map[string]int64) map[string]string {
	s := make(map[string]string, len(counts))
	for k, n := range counts {
		s[k] = strconv.FormatInt(n, 10)
	}
	return s
}

// stateSize approximates the JSON size of the state: "k":"v", per entry.
func stateSize(counts map[string]int64) int {
	size := 2
	for k, n := range counts {
		size += len(k) + 6 + len(strconv.FormatInt(n, 10))
	}
	return size
}

// fold keeps the state under limit by folding the rarest hashtags into
// KeyOther, so a burst of unique tags degrades precision of the long tail
// instead of ending the window early.
func fold(counts map[string]int64, limit int) {
	size := stateSize(counts)
	if size <= limit {
		return
	}
	tags := make([]string, 0, len(counts))
	for k := range counts {
		if !strings.HasPrefix(k, "#") {
			tags = append(tags, k)
		}
	}
	sort.Slice(tags, func(i, j int) bool {
		if counts[tags[i]] != counts[tags[j]] {
			return counts[tags[i]] < counts[tags[j]]
		}
		return tags[i] > tags[j]
	})
	// Room for KeyOther's own entry at its widest.
	if _, ok := counts[KeyOther]; !ok {
		size += len(KeyOther) + 6 + 19
	}
	for _, k := range tags {
		if size <= limit {
			break
		}
		size -= len(k) + 6 + len(strconv.FormatInt(counts[k], 10))
		counts[KeyOther] += counts[k]
		delete(counts, k)
	}
}
