// Package replay reads archived tweets back into the pipeline: JSON Lines
// files (gzip-compressed or not, detected from the bytes) or stdin, in any
// shape the tweet package decodes, at a given rate or as fast as possible,
// once or in a loop.
//
// Input is a sequence of JSON values separated by white space, so both JSON
// Lines and a pretty-printed document (an API response saved with curl)
// work. Each value becomes records as follows:
//
//   - a v1.1 search page {"statuses":[…]} → one record per status;
//   - a v2 page {"data":[…],"includes":…} → one v2 single-tweet document per
//     tweet, each carrying the includes it refers to (see v2doc);
//   - an array [...] → one record per element (a v1.1 timeline);
//   - an empty page ({"statuses":[]}, {"meta":{"result_count":0}}) → nothing;
//   - anything else (a v1.1 status, a v2 single-tweet document, a stream
//     notice, even JSON that is no tweet at all) → one record, as it is.
//
// The replay does not judge tweets: the consumer does, and dead-letters what
// it cannot read, so archived oddities reach the pipeline unchanged. A line
// that is not JSON (a truncated write in an archive) is skipped up to its
// end, with a warning that names the file and line, and counted in
// Skipped; the next line is read as usual. More than MaxBadLines of them in
// one file stop the replay: the file is then no JSON at all.
//
// SourceTweet.ID and ScreenName come from id_str/id and user.screen_name
// (v1.1) or data.id and the author in includes.users (v2); a delete notice
// gets its status id and user id. A record naming no tweet gets its 1-based
// position in the replay as ID, so it still has a partition key.
package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/backoff"
	"github.com/streamproc/streamproc/source/xapi/v2doc"
)

// Iterator yields tweets one at a time. Next returns io.EOF after the last
// one; any other error ends the iteration too.
type Iterator interface {
	Next(ctx context.Context) (streamproc.SourceTweet, error)
}

// Stdin names standard input among the paths.
const Stdin = "-"

// MaxBadLines is how many lines that are not JSON one file may hold before
// the replay gives up on it.
const MaxBadLines = 100

// Options configures a Reader.
type Options struct {
	// Rate is tweets per second; 0 means as fast as they can be read.
	Rate float64
	// Loop starts again from the first file after the last one. Stdin
	// cannot loop.
	Loop bool
	// Stdin is read for the path "-" (nil: "-" is refused).
	Stdin io.Reader
	// Now and Sleep pace the Rate (defaults: time.Now, a timer).
	Now   streamproc.Clock
	Sleep func(ctx context.Context, d time.Duration) error
	// PageSize is how many tweets one Search returns (default 100, the X
	// API's max_results).
	PageSize int
	// Logger gets a line per file opened (nil: discard).
	Logger *slog.Logger
}

// Reader replays tweets from files. It implements Iterator and
// streamproc.TweetSource; it is safe for concurrent use (callers take
// turns).
type Reader struct {
	opts  Options
	paths []string
	log   *slog.Logger
	pace  *pacer

	mu      sync.Mutex
	idx     int // index in paths of the open (or last) file; -1 before the first
	dec     *json.Decoder
	lines   *lineCounter // what dec reads, counting lines
	closers []io.Closer
	values  int // JSON values read from the open file
	bad     int // lines of the open file skipped as not JSON
	skipped int64
	queue   []streamproc.SourceTweet
	records int64 // records returned, for keyless records' ids
	inPass  int64 // records found in the current pass over the files
	done    bool
	err     error
}

var (
	_ Iterator               = (*Reader)(nil)
	_ streamproc.TweetSource = (*Reader)(nil)
)

// Open returns a Reader over paths, read in order ("-" is Options.Stdin).
// Files are checked now and opened one at a time as the replay reaches
// them.
func Open(paths []string, opts Options) (*Reader, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("replay: no file given: %w", streamproc.ErrInvalid)
	}
	if opts.Rate < 0 {
		return nil, fmt.Errorf("replay: rate %v is negative: %w", opts.Rate, streamproc.ErrInvalid)
	}
	stdin := 0
	for _, p := range paths {
		if p == Stdin {
			stdin++
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("replay: %s is a directory: %w", p, streamproc.ErrInvalid)
		}
	}
	switch {
	case stdin > 1:
		return nil, fmt.Errorf("replay: stdin given %d times: %w", stdin, streamproc.ErrInvalid)
	case stdin == 1 && opts.Stdin == nil:
		return nil, fmt.Errorf("replay: no stdin to read: %w", streamproc.ErrInvalid)
	case stdin == 1 && opts.Loop:
		return nil, fmt.Errorf("replay: stdin cannot be replayed in a loop (save it to a file): %w", streamproc.ErrInvalid)
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	r := &Reader{opts: opts, paths: paths, idx: -1, log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if opts.Rate > 0 {
		r.pace = newPacer(opts.Rate, opts.Now, opts.Sleep)
	}
	return r, nil
}

// Close closes the open file.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = true
	return r.closeFile()
}

func (r *Reader) closeFile() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i].Close())
	}
	r.closers, r.dec, r.lines = nil, nil, nil
	return errors.Join(errs...)
}

// Skipped is how many lines were skipped as not JSON so far.
func (r *Reader) Skipped() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

// gzipErrors says which layer failed, so a cut gzip stream is not taken
// for a cut JSON line.
type gzipErrors struct{ r io.Reader }

func (g gzipErrors) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("gzip: %w", err)
	}
	return n, err
}

// lineCounter counts the newlines read through it.
type lineCounter struct {
	r io.Reader
	n int
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}

// skipBadLine moves the decoder past the line where the value that failed
// to decode starts, and returns that line's number. The decoder stops at
// the start of a value it cannot read (its Buffered data begins there), so
// the bytes before it are whole values and the line is known exactly.
func (r *Reader) skipBadLine() (int, error) {
	buf, _ := io.ReadAll(r.dec.Buffered())
	// Newlines delivered to the decoder, minus those still unread, are
	// the lines before the unread data; its leading white space comes next.
	line := r.lines.n - bytes.Count(buf, []byte{'\n'}) + 1
	start := 0
	for start < len(buf) && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\r' || buf[start] == '\n') {
		if buf[start] == '\n' {
			line++
		}
		start++
	}
	rest := bufio.NewReader(io.MultiReader(bytes.NewReader(buf[start:]), r.lines.r))
	for {
		_, err := rest.ReadSlice('\n')
		if err == nil || err == io.EOF {
			break
		}
		if err != bufio.ErrBufferFull {
			return line, err
		}
	}
	r.lines = &lineCounter{r: rest, n: line}
	r.dec = json.NewDecoder(r.lines)
	return line, nil
}

// Next returns the next tweet, waiting as Rate requires; io.EOF at the end.
func (r *Reader) Next(ctx context.Context) (streamproc.SourceTweet, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, err := r.next(ctx)
	if err != nil {
		return t, err
	}
	if r.pace != nil {
		if err := r.pace.wait(ctx); err != nil {
			return streamproc.SourceTweet{}, err
		}
	}
	return t, nil
}

func (r *Reader) next(ctx context.Context) (streamproc.SourceTweet, error) {
	for len(r.queue) == 0 {
		if err := ctx.Err(); err != nil {
			return streamproc.SourceTweet{}, err
		}
		if r.err != nil {
			return streamproc.SourceTweet{}, r.err
		}
		if r.done {
			return streamproc.SourceTweet{}, io.EOF
		}
		if err := r.fill(); err != nil {
			// A failure is final: the decoder cannot resynchronise.
			r.err = err
			_ = r.closeFile()
			return streamproc.SourceTweet{}, err
		}
	}
	t := r.queue[0]
	r.queue = r.queue[1:]
	return t, nil
}

// fill reads one JSON value, moving to the next file (or pass) at EOF.
func (r *Reader) fill() error {
	if r.dec == nil {
		if err := r.advance(); err != nil || r.done {
			return err
		}
	}
	var raw json.RawMessage
	err := r.dec.Decode(&raw)
	if err == io.EOF {
		if err := r.closeFile(); err != nil {
			return fmt.Errorf("replay: %s: %w", r.name(), err)
		}
		return nil
	}
	r.values++
	if err != nil {
		// A value cut short at the end of the file is a bad last line;
		// the decoder returns io.ErrUnexpectedEOF itself for it, while a
		// cut gzip stream's error arrives wrapped (gzipErrors).
		var syn *json.SyntaxError
		if !errors.As(err, &syn) && err != io.ErrUnexpectedEOF {
			return fmt.Errorf("replay: %s: value %d: %w", r.name(), r.values, err)
		}
		r.values--
		line, serr := r.skipBadLine()
		r.bad++
		r.skipped++
		if r.bad > MaxBadLines {
			return fmt.Errorf("replay: %s: more than %d lines are not JSON (line %d: %v); is it JSON Lines?", r.name(), MaxBadLines, line, err)
		}
		r.log.Warn("replay: skipped a line that is not JSON", "file", r.name(), "line", line, "error", err.Error())
		if serr != nil {
			return fmt.Errorf("replay: %s: line %d: %w", r.name(), line, serr)
		}
		return nil
	}
	recs, err := Split(raw)
	if err != nil {
		// Valid JSON that claims to be a v2 page but is none: skipped like
		// a line that is not JSON, named by the line where it ends.
		line := r.lines.n + 1
		if b, _ := io.ReadAll(r.dec.Buffered()); len(b) > 0 {
			line -= bytes.Count(b, []byte{'\n'})
		}
		r.skipped++
		r.log.Warn("replay: skipped a value that is no tweet page", "file", r.name(), "value", r.values, "line", line, "error", err.Error())
		return nil
	}
	for i := range recs {
		r.records++
		r.inPass++
		if recs[i].ID == "" && recs[i].ScreenName == "" {
			recs[i].ID = strconv.FormatInt(r.records, 10)
		}
	}
	r.queue = append(r.queue, recs...)
	return nil
}

func (r *Reader) name() string {
	if r.idx >= 0 && r.idx < len(r.paths) && r.paths[r.idx] != Stdin {
		return r.paths[r.idx]
	}
	return "stdin"
}

// advance opens the next file, starting a new pass when looping.
func (r *Reader) advance() error {
	r.idx++
	if r.idx >= len(r.paths) {
		// A loop over files without a single record would spin.
		if !r.opts.Loop || r.inPass == 0 {
			r.done = true
			return nil
		}
		r.idx, r.inPass = 0, 0
	}
	path := r.paths[r.idx]
	var src io.Reader
	if path == Stdin {
		src = r.opts.Stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		r.closers = append(r.closers, f)
		src = f
	}
	br := bufio.NewReaderSize(src, 256<<10)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("replay: %s: gzip: %w", r.name(), err)
		}
		r.closers = append(r.closers, zr)
		in = gzipErrors{zr}
	}
	r.lines = &lineCounter{r: in}
	r.dec = json.NewDecoder(r.lines)
	r.values, r.bad = 0, 0
	r.log.Debug("replaying", "file", r.name())
	return nil
}

// probe is what split reads to classify a value and name its tweet.
type probe struct {
	Statuses json.RawMessage `json:"statuses"`
	Data     json.RawMessage `json:"data"`
	Meta     json.RawMessage `json:"meta"`
	IDStr    string          `json:"id_str"`
	ID       json.RawMessage `json:"id"`
	User     *struct {
		ScreenName string `json:"screen_name"`
	} `json:"user"`
	Includes *struct {
		Users []struct {
			ID       string `json:"id"`
			Username string `json:"username"`
		} `json:"users"`
	} `json:"includes"`
	Delete *struct {
		Status struct {
			IDStr     string `json:"id_str"`
			UserIDStr string `json:"user_id_str"`
		} `json:"status"`
	} `json:"delete"`
}

// Split turns one JSON value into records the way a replay does (see the
// package comment): a search page or an array into one record per tweet.
func Split(raw json.RawMessage) ([]streamproc.SourceTweet, error) {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		out := make([]streamproc.SourceTweet, 0, len(elems))
		for _, e := range elems {
			t, err := single(e)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
		return out, nil
	case '{':
	default:
		return []streamproc.SourceTweet{{Raw: compact(raw)}}, nil
	}
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		// Valid JSON whose members have unexpected types (a numeric
		// screen_name): still one record, for the consumer to judge.
		return []streamproc.SourceTweet{{Raw: compact(raw)}}, nil
	}
	data := bytes.TrimSpace(p.Data)
	switch {
	case len(p.Statuses) > 0 && p.Statuses[0] == '[':
		return Split(p.Statuses)
	case len(data) > 0 && data[0] == '[':
		page, err := v2doc.Parse(raw)
		if err != nil {
			return nil, err
		}
		docs, err := page.Split()
		if err != nil {
			return nil, err
		}
		out := make([]streamproc.SourceTweet, len(docs))
		for i, d := range docs {
			out[i] = streamproc.SourceTweet{ID: d.ID, ScreenName: d.Username, Raw: d.Raw}
		}
		return out, nil
	case (len(data) == 0 || string(data) == "null") && len(p.Meta) > 0:
		return nil, nil // a v2 page without results
	}
	return []streamproc.SourceTweet{fromProbe(&p, raw)}, nil
}

func single(raw json.RawMessage) (streamproc.SourceTweet, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return streamproc.SourceTweet{Raw: compact(raw)}, nil
	}
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return streamproc.SourceTweet{Raw: compact(raw)}, nil
	}
	return fromProbe(&p, raw), nil
}

func fromProbe(p *probe, raw json.RawMessage) streamproc.SourceTweet {
	t := streamproc.SourceTweet{Raw: compact(raw)}
	data := bytes.TrimSpace(p.Data)
	switch {
	case len(data) > 0 && data[0] == '{':
		var d struct {
			ID       string `json:"id"`
			AuthorID string `json:"author_id"`
		}
		if json.Unmarshal(data, &d) == nil {
			t.ID = d.ID
			if p.Includes != nil {
				for _, u := range p.Includes.Users {
					if u.ID == d.AuthorID {
						t.ScreenName = u.Username
						break
					}
				}
			}
		}
	case p.Delete != nil:
		t.ID, t.ScreenName = p.Delete.Status.IDStr, p.Delete.Status.UserIDStr
	default:
		t.ID = p.IDStr
		if t.ID == "" {
			// A v1.1 id is a number wider than 53 bits: take its digits
			// as written, never through float64.
			if id := string(bytes.Trim(p.ID, `"`)); isDigits(id) {
				t.ID = id
			}
		}
		if p.User != nil {
			t.ScreenName = p.User.ScreenName
		}
	}
	return t
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compact makes a record one line: a pretty-printed archive would otherwise
// put newlines inside records, which breaks JSON Lines consumers downstream.
func compact(raw []byte) []byte {
	if !bytes.ContainsAny(raw, "\r\n") {
		return raw
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// Trends returns one pseudo trend: a replay has no trends, and the producer
// function asks for some before it searches.
func (r *Reader) Trends(context.Context, int64, int) ([]streamproc.Trend, error) {
	return []streamproc.Trend{{Name: "replay", Query: "replay"}}, nil
}

// Search returns the next PageSize tweets of the replay, newest first as
// the TweetSource contract says (so the producer writes them in file
// order), whatever the query. The replay has no ids to resume from, so
// newestID is "" and sinceID is ignored. At the end it returns no tweets.
func (r *Reader) Search(ctx context.Context, _, _ string) ([]streamproc.SourceTweet, string, error) {
	var page []streamproc.SourceTweet
	for len(page) < r.opts.PageSize {
		t, err := r.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", err
		}
		page = append(page, t)
	}
	for i, j := 0, len(page)-1; i < j; i, j = i+1, j-1 {
		page[i], page[j] = page[j], page[i]
	}
	return page, "", nil
}

// Limit paces it to rate tweets per second (rate ≤ 0: no pacing), with now
// and sleep as the clock (nil: time.Now and a timer).
func Limit(it Iterator, rate float64, now streamproc.Clock, sleep func(context.Context, time.Duration) error) Iterator {
	if rate <= 0 {
		return it
	}
	return &limited{it: it, pace: newPacer(rate, now, sleep)}
}

type limited struct {
	mu   sync.Mutex
	it   Iterator
	pace *pacer
}

func (l *limited) Next(ctx context.Context) (streamproc.SourceTweet, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, err := l.it.Next(ctx)
	if err != nil {
		return t, err
	}
	if err := l.pace.wait(ctx); err != nil {
		return streamproc.SourceTweet{}, err
	}
	return t, nil
}

// maxBehind bounds the catch-up burst after a stall: a consumer that
// stopped for a minute gets one second's worth at once, not a minute's.
const maxBehind = time.Second

// pacer releases the n-th tweet at start + n/rate.
type pacer struct {
	perTweet float64 // nanoseconds
	now      streamproc.Clock
	sleep    func(context.Context, time.Duration) error
	start    time.Time
	n        int64
}

func newPacer(rate float64, now streamproc.Clock, sleep func(context.Context, time.Duration) error) *pacer {
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = backoff.Sleep
	}
	return &pacer{perTweet: float64(time.Second) / rate, now: now, sleep: sleep}
}

func (p *pacer) wait(ctx context.Context) error {
	now := p.now()
	if p.n == 0 {
		p.start = now
	}
	due := p.start.Add(time.Duration(float64(p.n) * p.perTweet))
	switch d := due.Sub(now); {
	case d > 0:
		if err := p.sleep(ctx, d); err != nil {
			return err
		}
	case -d > maxBehind:
		// Re-anchor so this tweet is due now.
		p.start, p.n = now, 0
	}
	p.n++
	return nil
}
