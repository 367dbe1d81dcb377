package stacksource

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/streamproc/streamproc/function/transformer"
	"github.com/streamproc/streamproc/local/logs"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"gocloud.dev/blob"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/dashboard"
	"github.com/streamproc/streamproc/function/trending"
	"github.com/streamproc/streamproc/local/deadletter"
	"github.com/streamproc/streamproc/local/esm"
	"github.com/streamproc/streamproc/local/firehose"
	"github.com/streamproc/streamproc/local/queue"
	"github.com/streamproc/streamproc/local/stream"
	"github.com/streamproc/streamproc/tweet"
)

// Bounds on the work of one call.
const (
	trendWindowsBack = 10 // windows queried looking for ones with counts
	topHashtags      = 10 // hashtags shown per window
	tailBytes        = 256 << 10
	maxTailBytes     = 4 << 20 // a dead letter can hold a 1 MiB record
	dataChars        = 300     // raw data shown per failure
	errorObjects     = 3       // newest error-output objects read
)

// Trends queries the Trends table for the windows ending at or before now,
// newest first, and returns up to n that have counts — at most
// trendWindowsBack queries of one partition each.
func (s *Source) Trends(ctx context.Context, n int) ([]dashboard.TrendWindow, error) {
	if s.trendsTable == "" || s.trendsWindow <= 0 {
		return nil, nil
	}
	tables := s.st.Deps().Tables
	w := s.trendsWindow.Milliseconds()
	start := s.opts.Now().UnixMilli() / w * w
	var out []dashboard.TrendWindow
	open := s.openTrendWindow()
	if open != nil && n > 0 {
		out = append(out, *open)
	}
	for i := 0; i < trendWindowsBack && len(out) < n; i++ {
		ws := time.UnixMilli(start - int64(i)*w).UTC()
		if open != nil && !ws.Before(open.Start) {
			continue // still counting: shown from the function's state
		}
		items, err := tables.Query(ctx, s.trendsTable, streamproc.Query{Hash: ws.Format(time.RFC3339)})
		if err != nil {
			return out, fmt.Errorf("trends: %w", err)
		}
		if len(items) == 0 {
			continue
		}
		tw := dashboard.TrendWindow{Start: ws}
		for _, it := range items {
			tag, _ := it[trending.AttrHashtag].(string)
			c := toInt(it[trending.AttrCount])
			switch {
			case tag == trending.KeyTweets:
				tw.Tweets = c
			case strings.HasPrefix(tag, "#"): // reserved keys
			default:
				tw.Hashtags = append(tw.Hashtags, dashboard.Hashtag{Tag: tag, Count: c})
			}
		}
		out = append(out, topOf(tw))
	}
	return out, nil
}

// topOf sorts a window's hashtags by count and keeps the top ones.
func topOf(tw dashboard.TrendWindow) dashboard.TrendWindow {
	slices.SortFunc(tw.Hashtags, func(a, b dashboard.Hashtag) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Tag, b.Tag)
	})
	tw.Hashtags = tw.Hashtags[:min(len(tw.Hashtags), topHashtags)]
	if tw.Hashtags == nil {
		tw.Hashtags = []dashboard.Hashtag{} // a window of only invalid records: [] for the page, not null
	}
	return tw
}

// openTrendWindow is the newest window the trending mappings still count,
// summed over shards from the state each function returned last (the
// counts its final invocation will add to the Trends table); nil when none
// is open.
func (s *Source) openTrendWindow() *dashboard.TrendWindow {
	var newest, end time.Time
	counts := map[string]int64{}
	maps, plans := s.st.Mappings()
	for i, m := range maps {
		if s.byLogical[plans[i].Function].Package != "trending" {
			continue
		}
		for _, ow := range m.OpenWindows() {
			switch {
			case ow.Start.After(newest):
				newest, end, counts = ow.Start, ow.End, map[string]int64{}
			case ow.Start.Before(newest):
				continue
			}
			for tag, v := range ow.State {
				if c, err := strconv.ParseInt(v, 10, 64); err == nil {
					counts[tag] += c
				}
			}
		}
	}
	if newest.IsZero() {
		return nil
	}
	tw := dashboard.TrendWindow{Start: newest.UTC(), End: end.UTC(), Open: true}
	for tag, c := range counts {
		switch {
		case tag == trending.KeyTweets:
			tw.Tweets = c
		case strings.HasPrefix(tag, "#"): // reserved keys
		default:
			tw.Hashtags = append(tw.Hashtags, dashboard.Hashtag{Tag: tag, Count: c})
		}
	}
	t := topOf(tw)
	return &t
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case streamproc.Number:
		n, _ := strconv.ParseInt(string(x), 10, 64)
		return n
	case json.Number:
		n, _ := x.Int64()
		return n
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

// Items returns a user's newest items (one Query), or without a user the
// newest items in the table: the newest records of the streams the
// consumer reads are looked up by key, newest first — a bounded number of
// reads instead of a scan, which could not find the newest anyway.
func (s *Source) Items(ctx context.Context, user string, limit int) ([]dashboard.Item, error) {
	if s.itemsTable == "" {
		return nil, nil
	}
	tables := s.st.Deps().Tables
	if user != "" {
		items, err := tables.Query(ctx, s.itemsTable, streamproc.Query{Hash: user, Descending: true, Limit: limit})
		if err != nil {
			return nil, fmt.Errorf("items of %s: %w", user, err)
		}
		out := make([]dashboard.Item, 0, len(items))
		for _, it := range items {
			out = append(out, toItem(it))
		}
		return out, nil
	}
	keys, err := s.recentKeys(ctx, 4*limit)
	if err != nil {
		return nil, err
	}
	var out []dashboard.Item
	seen := map[[2]string]bool{}
	for _, k := range keys {
		if len(out) == limit {
			break
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		it, ok, err := tables.Get(ctx, s.itemsTable, streamproc.Item{tweet.AttrUsername: k[0], tweet.AttrID: k[1]})
		if err != nil {
			return out, fmt.Errorf("items: %w", err)
		}
		if ok {
			out = append(out, toItem(it))
		}
	}
	return out, nil
}

// recentKeys returns the (user, id) of up to n of the newest tweets in the
// consumer's streams, newest first. The newest records at the tip are
// usually not stored yet — the consumer waits out its batching window and
// may lag — so it also looks where the consumer has surely been: records
// that arrived an iterator age plus a batching window (and a second) ago.
func (s *Source) recentKeys(ctx context.Context, n int) ([][2]string, error) {
	eng := s.st.Deps().Stream
	var lag time.Duration
	maps, plans := s.st.Mappings()
	for i, m := range maps {
		if s.byLogical[plans[i].Function].Package == "consumer" {
			behind := m.Config().MaximumBatchingWindow
			for _, sh := range m.Stats().Shards {
				behind = max(behind, sh.IteratorAge+m.Config().MaximumBatchingWindow)
			}
			lag = max(lag, behind)
		}
	}
	type rec struct {
		at  time.Time
		key [2]string
	}
	var recs []rec
	for _, name := range s.itemsStreams {
		shards, err := eng.Shards(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		per := max(n/max(len(shards), 1), 5)
		for _, sh := range shards {
			latest, err := eng.Iterator(ctx, name, sh.ID, stream.Position{Type: stream.Latest})
			if err != nil {
				return nil, fmt.Errorf("items: %w", err)
			}
			tip, err := shardTip(ctx, eng, name, sh.ID)
			if err != nil {
				return nil, err
			}
			from, err := cursorAt(latest, tip-min(tip, uint64(per)))
			if err != nil {
				return nil, err
			}
			starts := []stream.Cursor{from}
			c, err := eng.Iterator(ctx, name, sh.ID, stream.Position{Type: stream.AtTimestamp, Timestamp: s.opts.Now().Add(-lag - time.Second)})
			if err == nil {
				starts = append(starts, c)
			}
			for _, c := range starts {
				b, err := eng.Read(ctx, name, sh.ID, c, per, 4<<20)
				if err != nil {
					return nil, fmt.Errorf("items: %w", err)
				}
				for _, r := range b.Records {
					msg, err := tweet.Decode(r.Data)
					if err != nil || msg.Kind != tweet.KindTweet {
						continue
					}
					for _, t := range msg.Tweets {
						recs = append(recs, rec{r.ArrivalTime, [2]string{t.User.ScreenName, t.IDStr}})
					}
				}
			}
		}
	}
	// All candidates, newest first: the caller stops at the first n it
	// finds stored, which may all come from the older read.
	slices.SortStableFunc(recs, func(a, b rec) int { return b.at.Compare(a.at) })
	out := make([][2]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.key)
	}
	return out, nil
}

func toItem(it streamproc.Item) dashboard.Item {
	str := func(k string) string { v, _ := it[k].(string); return v }
	out := dashboard.Item{User: str(tweet.AttrUsername), ID: str(tweet.AttrID), Time: str(tweet.AttrTimestamp),
		Name: str(tweet.AttrDisplayName), Lang: str(tweet.AttrLang), Text: str(tweet.AttrMessage)}
	switch tags := it[tweet.AttrHashtags].(type) {
	case []string:
		out.Hashtags = tags
	case []any:
		for _, t := range tags {
			if s, ok := t.(string); ok {
				out.Hashtags = append(out.Hashtags, s)
			}
		}
	}
	return out
}

// Failures merges the newest dead letters, on-failure records and
// processing-failed envelopes, newest first. Each source is read from its
// tail only, and a file or object that has not changed since the last call
// is not read again.
func (s *Source) Failures(ctx context.Context, limit int) ([]dashboard.Failure, error) {
	var out []dashboard.Failure
	var errs []error
	if s.opts.DataDir != "" {
		fns, err := s.st.Deps().DeadLetters.Functions()
		if err != nil {
			errs = append(errs, err)
		}
		for _, fn := range fns {
			path := filepath.Join(s.opts.DataDir, "deadletter", deadletter.FileName(fn))
			got, err := s.files.tail(path, limit, parseDeadLetter)
			if err != nil {
				errs = append(errs, err)
			}
			out = appendNewestFirst(out, got)
		}
		for _, q := range s.plan.Queues {
			if queue.CheckName(q) != nil {
				continue
			}
			path := filepath.Join(s.opts.DataDir, "queues", q+".jsonl")
			got, err := s.files.tail(path, limit, func(line []byte) (dashboard.Failure, error) { return parseOnFailure(q, line) })
			if err != nil {
				errs = append(errs, err)
			}
			out = appendNewestFirst(out, got)
		}
	}
	for _, d := range s.st.Deliveries() {
		got, err := s.errorOutput(ctx, d, limit)
		if err != nil {
			errs = append(errs, err)
		}
		out = appendNewestFirst(out, got)
	}
	slices.SortStableFunc(out, func(a, b dashboard.Failure) int { return b.Time.Compare(a.Time) })
	return out[:min(len(out), limit)], errors.Join(errs...)
}

// appendNewestFirst appends a source's failures, read in file order
// (oldest first), newest first: the stable sort by time then keeps the
// records of one batch, which share a time, in that order too. got may be a
// cached slice and is not changed.
func appendNewestFirst(out, got []dashboard.Failure) []dashboard.Failure {
	for i := len(got) - 1; i >= 0; i-- {
		out = append(out, got[i])
	}
	return out
}

func parseDeadLetter(line []byte) (dashboard.Failure, error) {
	var dl streamproc.DeadLetter
	if err := json.Unmarshal(line, &dl); err != nil {
		return dashboard.Failure{}, err
	}
	where := dl.Function
	if dl.ShardID != "" {
		where += " · " + dl.ShardID
	}
	if dl.SequenceNumber != "" {
		where += " · …" + dl.SequenceNumber[max(0, len(dl.SequenceNumber)-8):]
	}
	return dashboard.Failure{Time: dl.Time, Kind: "dead letter", Where: where, Reason: dl.Reason, Data: printable(dl.Data)}, nil
}

func parseOnFailure(q string, line []byte) (dashboard.Failure, error) {
	var m queue.Message
	if err := json.Unmarshal(line, &m); err != nil {
		return dashboard.Failure{}, err
	}
	f := dashboard.Failure{Time: m.Timestamp, Kind: "on-failure record", Where: q, Data: printable([]byte(m.Body))}
	var rec esm.FailureRecord
	if err := json.Unmarshal([]byte(m.Body), &rec); err != nil {
		f.Reason = "unreadable on-failure record: " + err.Error()
		return f, nil
	}
	f.Reason = fmt.Sprintf("%s after %d invocation(s)", rec.RequestContext.Condition, rec.RequestContext.ApproximateInvokeCount)
	if rc := rec.ResponseContext; rc != nil && rc.FunctionError != "" {
		f.Reason += ", function error " + rc.FunctionError
	}
	bi := rec.KinesisBatchInfo
	f.Data = fmt.Sprintf("%d records of %s, sequence %s … %s (read them from the stream before they expire)", bi.BatchSize, bi.ShardID, bi.StartSequenceNumber, bi.EndSequenceNumber)
	return f, nil
}

// errorOutput reads the newest error-output objects of a delivery stream
// (processing-failed, and format-conversion-failed when it converts): the
// error prefix evaluated for this hour and the previous one is listed, and
// the newest few objects are read (each once).
func (s *Source) errorOutput(ctx context.Context, d *firehose.DeliveryStream, limit int) ([]dashboard.Failure, error) {
	cfg := d.Config()
	var types []string
	if cfg.Processor != nil {
		types = append(types, firehose.ErrorOutputTypeProcessingFailed)
	}
	if cfg.Conversion != nil {
		types = append(types, firehose.ErrorOutputTypeFormatConversionFailed)
	}
	if len(types) == 0 {
		return nil, nil
	}
	var bucketName, processor string
	for _, dp := range s.plan.Deliveries {
		if dp.Name == cfg.Name {
			bucketName = dp.Bucket
			processor = s.byLogical[dp.Processor].Name
		}
	}
	// The envelopes carry Firehose's generic code; the transformer logged
	// the real reason by the record's fingerprint. Read what it logged
	// since the last look before the objects it explains.
	reason := func(string) (string, bool) { return "", false }
	if processor != "" && s.opts.DataDir != "" {
		reason = s.reasons.update(filepath.Join(s.opts.DataDir, "logs"), processor)
	}
	b := s.st.Bucket(bucketName)
	if b == nil {
		return nil, nil
	}
	now := s.opts.Now()
	var prefixes []string
	if strings.Contains(cfg.ErrorOutputPrefix, "random-string") {
		// Cannot be evaluated ahead: list everything under its static part.
		prefixes = []string{staticPrefix(cfg.ErrorOutputPrefix)}
	} else {
		for _, et := range types {
			for _, t := range []time.Time{now.Add(-time.Hour), now} {
				p, err := cfg.KeyPrefix(t, et, strings.NewReader(strings.Repeat("0", 64)))
				if err != nil {
					return nil, fmt.Errorf("error output of %s: %w", cfg.Name, err)
				}
				if !slices.Contains(prefixes, p) {
					prefixes = append(prefixes, p)
				}
			}
		}
	}
	var keys []string
	for _, p := range prefixes {
		it := b.List(&blob.ListOptions{Prefix: p})
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("error output of %s: %w", cfg.Name, err)
			}
			if !obj.IsDir {
				keys = append(keys, obj.Key)
			}
		}
	}
	// Object names end in <name>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>, so
	// within a prefix the newest sorts last.
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	var out []dashboard.Failure
	for _, key := range keys[max(0, len(keys)-errorObjects):] {
		got, err := s.files.object(ctx, b, key, limit, func(line []byte) (dashboard.Failure, error) { return parseEnvelope(key, line, reason) })
		if err != nil {
			return out, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// parseEnvelope reads one line of an error-output object, either kind;
// why finds the transformer's own reason by the record's fingerprint.
func parseEnvelope(key string, line []byte, why func(fingerprint string) (string, bool)) (dashboard.Failure, error) {
	l, err := firehose.ParseErrorOutputLine(key, line)
	if err != nil {
		return dashboard.Failure{}, err
	}
	kind := "processing failed"
	if l.Type == firehose.ErrorOutputTypeFormatConversionFailed {
		kind = "format conversion failed"
	}
	reason := l.Code
	if l.Message != "" {
		reason += ": " + l.Message
	}
	if r, ok := why(transformer.Fingerprint(l.RawData)); ok && kind == "processing failed" {
		reason = r
	}
	return dashboard.Failure{Time: l.AttemptEndingTimestamp, Kind: kind, Where: key, Reason: reason, Data: printable(l.RawData)}, nil
}

// printable shows raw bytes as text: UTF-8 text as is (control characters
// escaped), anything else Go-quoted, cut to dataChars.
func printable(b []byte) string {
	if len(b) > 4*dataChars {
		b = b[:4*dataChars]
	}
	var s string
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		s = string(b)
	} else {
		q := strconv.Quote(string(b))
		s = q[1 : len(q)-1]
	}
	if r := []rune(s); len(r) > dataChars {
		s = string(r[:dataChars]) + "…"
	}
	return s
}

// fileCache remembers what was parsed from a file (by size and modification
// time) or an object (by key: objects never change), so a page refreshing
// every few seconds costs a stat per file when nothing failed.
type fileCache struct {
	mu sync.Mutex
	m  map[string]cachedFile
}

type cachedFile struct {
	size     int64
	mod      time.Time
	failures []dashboard.Failure
}

// tail parses up to limit of the last lines of a JSON Lines file.
func (c *fileCache) tail(path string, limit int, parse func([]byte) (dashboard.Failure, error)) ([]dashboard.Failure, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failures: %w", err)
	}
	c.mu.Lock()
	hit, ok := c.m[path]
	c.mu.Unlock()
	if ok && hit.size == fi.Size() && hit.mod.Equal(fi.ModTime()) {
		return hit.failures, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failures: %w", err)
	}
	defer f.Close()
	var lines [][]byte
	for window := int64(tailBytes); ; window *= 2 {
		off := max(fi.Size()-window, 0)
		buf := make([]byte, fi.Size()-off)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("failures: %w", err)
		}
		lines = completeLines(buf, off > 0)
		if len(lines) >= limit || off == 0 || window >= maxTailBytes {
			break
		}
	}
	lines = lines[max(0, len(lines)-limit):]
	out := make([]dashboard.Failure, 0, len(lines))
	for _, l := range lines {
		if f, err := parse(l); err == nil {
			out = append(out, f)
		}
	}
	c.mu.Lock()
	c.m[path] = cachedFile{size: fi.Size(), mod: fi.ModTime(), failures: out}
	c.mu.Unlock()
	return out, nil
}

// completeLines splits buf into lines, dropping the first one when buf
// starts mid-line and a last one without its newline (being written).
func completeLines(buf []byte, midLine bool) [][]byte {
	if midLine {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil
		}
		buf = buf[i+1:]
	}
	var out [][]byte
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return out
		}
		if i > 0 {
			out = append(out, buf[:i])
		}
		buf = buf[i+1:]
	}
}

// object parses up to limit of the last lines of a bucket object (GZIP
// objects are decompressed, up to maxTailBytes).
func (c *fileCache) object(ctx context.Context, b *blob.Bucket, key string, limit int, parse func([]byte) (dashboard.Failure, error)) ([]dashboard.Failure, error) {
	id := "object:" + key
	c.mu.Lock()
	hit, ok := c.m[id]
	c.mu.Unlock()
	if ok {
		return hit.failures, nil
	}
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("error output %s: %w", key, err)
	}
	var data []byte
	if strings.HasSuffix(key, ".gz") {
		r, err := b.NewReader(ctx, key, nil)
		if err != nil {
			return nil, fmt.Errorf("error output %s: %w", key, err)
		}
		defer r.Close()
		zr, err := gzip.NewReader(bufio.NewReader(r))
		if err != nil {
			return nil, fmt.Errorf("error output %s: %w", key, err)
		}
		if data, err = io.ReadAll(io.LimitReader(zr, maxTailBytes)); err != nil {
			return nil, fmt.Errorf("error output %s: %w", key, err)
		}
	} else {
		off := max(attrs.Size-tailBytes, 0)
		r, err := b.NewRangeReader(ctx, key, off, -1, nil)
		if err != nil {
			return nil, fmt.Errorf("error output %s: %w", key, err)
		}
		data, err = io.ReadAll(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("error output %s: %w", key, err)
		}
		return c.store(id, completeLines(data, off > 0), limit, parse), nil
	}
	return c.store(id, completeLines(data, false), limit, parse), nil
}

func (c *fileCache) store(id string, lines [][]byte, limit int, parse func([]byte) (dashboard.Failure, error)) []dashboard.Failure {
	lines = lines[max(0, len(lines)-limit):]
	out := make([]dashboard.Failure, 0, len(lines))
	for _, l := range lines {
		if f, err := parse(l); err == nil {
			out = append(out, f)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Objects are immutable, but there are always new ones: keep the cache
	// from growing without bound.
	if len(c.m) > 1000 {
		for k := range c.m {
			if strings.HasPrefix(k, "object:") {
				delete(c.m, k)
			}
		}
	}
	c.m[id] = cachedFile{failures: out}
	return out
}

// reasonLog follows the transformer's log files for the reasons it logged
// of the records it failed (fingerprint → reason), reading only what was
// appended since the last look.
type reasonLog struct {
	mu      sync.Mutex
	read    map[string]int64 // log file → bytes consumed
	reasons map[string]string
}

// maxReasons bounds the remembered reasons; the oldest are forgotten by
// starting over (the list shows the newest failures).
const maxReasons = 100000

// update reads function's log files under dir and returns the lookup.
func (r *reasonLog) update(dir, function string) func(string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read == nil || len(r.reasons) > maxReasons {
		r.read, r.reasons = map[string]int64{}, map[string]string{}
	}
	files, _ := logs.Files(dir, function)
	for _, path := range files {
		r.follow(path)
	}
	reasons := r.reasons
	return func(fp string) (string, bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		why, ok := reasons[fp]
		return why, ok
	}
}

func (r *reasonLog) follow(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return
	}
	off := r.read[path]
	if st.Size() < off {
		off = 0 // rotated: the current file started over
	}
	if st.Size() == off {
		return
	}
	data, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return
	}
	// Only whole lines: a line being written is read next time.
	end := bytes.LastIndexByte(data, '\n') + 1
	for _, line := range bytes.Split(data[:end], []byte{'\n'}) {
		if !bytes.Contains(line, []byte(transformer.MsgFailed)) {
			continue
		}
		var l struct {
			Msg    string `json:"msg"`
			Reason string `json:"reason"`
			Data   string `json:"data"`
		}
		if json.Unmarshal(line, &l) == nil && l.Msg == transformer.MsgFailed && l.Data != "" {
			r.reasons[l.Data] = l.Reason
		}
	}
	r.read[path] = off + int64(end)
}
