package kinesisapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/local/stream"
)

// Protocol constants (research/aws-semantics.md §1.1).
const (
	targetPrefix = "Kinesis_20131202."
	contentJSON  = "application/x-amz-json-1.1"
	contentCBOR  = "application/x-amz-cbor-1.1"
	// MaxRequestBytes bounds a request body. A full PutRecords call is at
	// most 5 MiB of data and keys, which base64 and JSON grow to about 7 MiB.
	MaxRequestBytes = 8 << 20
	// IteratorTTL is how long a shard iterator (and a ListShards or
	// ListStreams NextToken) stays valid after it was issued.
	IteratorTTL = 5 * time.Minute
	// SignatureSkew is how far a signed request's date may be from the
	// server's clock.
	SignatureSkew = 15 * time.Minute
)

// Options configure a Handler. The zero value is usable: real time, no
// logging, any SigV4-signed request accepted, state in memory.
type Options struct {
	// Now is the clock for iterator expiry, NextToken expiry and signature
	// dates; nil means time.Now. The engine has its own clock (for arrival
	// times); tests give both the same one.
	Now streamproc.Clock
	// Logger receives one debug line per request and the detail of
	// internal failures; nil discards. Secrets and signatures never reach it.
	Logger *slog.Logger
	// Credentials maps access key ID → secret access key. When it is
	// empty any request with a well-formed SigV4 Authorization header is
	// accepted, as kinesalite does; otherwise the signature is verified
	// (service "kinesis", at most SignatureSkew from Now).
	Credentials map[string]string
	// Region, when set, is the only region requests may be signed for
	// (checked only with Credentials).
	Region string
	// StateFile keeps what the engine does not store — stream tags, the
	// stream mode given at creation, and the key that authenticates shard
	// iterators and NextTokens — in one JSON file (mode 0600, replaced
	// atomically), so they survive a restart. Empty keeps them in memory
	// for the Handler's lifetime (iterators then do not outlive it).
	StateFile string
	// OnPut, when set, learns how many records each PutRecord/PutRecords
	// call wrote to a stream (for counting what API clients wrote); it must
	// be quick and safe for concurrent use.
	OnPut func(stream string, records int)
}

// Handler serves the Kinesis JSON 1.1 API (POST /, X-Amz-Target:
// Kinesis_20131202.<Operation>) over a stream engine. It is safe for
// concurrent use.
type Handler struct {
	engine *stream.Engine
	now    streamproc.Clock
	log    *slog.Logger
	onPut  func(stream string, records int)
	creds  map[string]string
	region string
	state  *state
	tokens sealer
	// retMu serialises retention changes, which read the current period
	// and then set a new one (Increase must not go down, Decrease not up).
	retMu sync.Mutex
	// failed is set when the state file could not be loaded; every request
	// then fails with it (see New).
	failed error
	// bufs recycles request bodies and encoded responses (PutRecords and
	// GetRecords move megabytes per second; reusing them keeps the garbage
	// collector out of the way).
	bufs sync.Pool
}

// maxPooledBuf is the largest buffer kept for reuse.
const maxPooledBuf = MaxRequestBytes + 1<<20

// getBuf returns an empty buffer with room for about n bytes.
func (h *Handler) getBuf(n int) []byte {
	if p, ok := h.bufs.Get().(*[]byte); ok && cap(*p) >= n {
		return (*p)[:0]
	}
	return make([]byte, 0, max(n, 4<<10))
}

// putBuf recycles b; the caller must not use it afterwards.
func (h *Handler) putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuf {
		return
	}
	h.bufs.Put(&b)
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler serving engine, loading opts.StateFile if
// set. It fails only when the state file exists but cannot be read.
func NewHandler(engine *stream.Engine, opts Options) (*Handler, error) {
	h := &Handler{engine: engine, now: opts.Now, log: opts.Logger, region: opts.Region, onPut: opts.OnPut}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if len(opts.Credentials) > 0 {
		h.creds = make(map[string]string, len(opts.Credentials))
		for k, v := range opts.Credentials {
			h.creds[k] = v
		}
	}
	st, err := loadState(opts.StateFile)
	if err != nil {
		return nil, err
	}
	h.state = st
	h.tokens = sealer{key: st.key()}
	return h, nil
}

// New returns an http.Handler serving engine. It never fails: if
// opts.StateFile cannot be loaded, the handler answers every request with
// InternalFailure and logs why (use NewHandler to get the error instead).
func New(engine *stream.Engine, opts Options) http.Handler {
	h, err := NewHandler(engine, opts)
	if err != nil {
		log := opts.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		log.Error("kinesis API cannot start", "err", err)
		return &Handler{failed: err, log: log, now: time.Now}
	}
	return h
}

// ServeHTTP handles one API call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	w.Header().Set("X-Amzn-Requestid", reqID)
	op, status, err := h.serve(w, r)
	if err != nil {
		ae := toAPIError(err)
		status = ae.status
		switch {
		case ae.status >= 500 && r.Context().Err() != nil:
			// The client went away (or the server is stopping): nobody
			// waits for this answer and nothing is wrong on our side.
			h.log.Debug("kinesis API call abandoned by its client", "op", op, "requestId", reqID, "err", err)
		case ae.status >= 500:
			h.log.Error("kinesis API internal failure", "op", op, "requestId", reqID, "err", err)
		}
		writeError(w, ae)
	}
	h.log.Debug("kinesis API", "op", op, "status", status, "requestId", reqID, "duration", time.Since(start))
}

// serve checks the envelope (method, target, content type, signature),
// decodes the body and runs the operation. It writes the response on
// success and returns the error otherwise.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (op string, status int, err error) {
	if h.failed != nil {
		return "", 0, internalErr(h.failed)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return "", 0, &apiError{status: http.StatusMethodNotAllowed, code: codeUnknownOperation,
			msg: "The Kinesis API takes POST / with X-Amz-Target: Kinesis_20131202.<Operation> and Content-Type: " + contentJSON + "."}
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok || op == "" {
		return "", 0, clientErr(codeUnknownOperation, "Unknown X-Amz-Target %q: expected Kinesis_20131202.<Operation>.", truncate(target, 128))
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return op, 0, err
	}
	body, err := h.readBody(r)
	if err != nil {
		return op, 0, err
	}
	// Decoding copies everything it keeps, so the body can be reused as
	// soon as the call is done with it.
	defer h.putBuf(body)
	if err := h.authenticate(r, body); err != nil {
		return op, 0, err
	}
	in, err := decodeRequest(op, body)
	if err != nil {
		return op, 0, err
	}
	out, err := h.call(r.Context(), op, in)
	if err != nil {
		return op, 0, err
	}
	writeJSON(w, http.StatusOK, out)
	if raw, ok := out.(rawJSON); ok {
		h.putBuf(raw)
	}
	return op, http.StatusOK, nil
}

// checkContentType accepts AWS JSON 1.1 (and plain JSON, for curl users).
// CBOR, which Java SDKs and the KCL send by default, gets an error that
// says how to turn it off rather than an undecodable answer.
func checkContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		return clientErr(codeSerialization, "Missing or malformed Content-Type %q: send %s.", truncate(ct, 128), contentJSON)
	}
	switch mt {
	case contentJSON, "application/json":
		return nil
	case contentCBOR:
		return clientErr(codeSerialization, "CBOR (%s) is not supported by this endpoint; send %s. Java SDKs and the KCL: set AWS_CBOR_DISABLE=true or -Dcom.amazonaws.sdk.disableCbor=true.", contentCBOR, contentJSON)
	}
	return clientErr(codeSerialization, "Unsupported Content-Type %q: send %s.", truncate(mt, 128), contentJSON)
}

// readBody reads the whole body into a pooled buffer, refusing more than
// MaxRequestBytes.
func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxRequestBytes {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: codeRequestTooLarge,
			msg: fmt.Sprintf("Request body of %d bytes exceeds the limit of %d bytes.", r.ContentLength, MaxRequestBytes)}
	}
	buf := bytes.NewBuffer(h.getBuf(int(max(r.ContentLength, 0)) + bytes.MinRead))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, code: codeSerialization, msg: "Could not read the request body.", cause: err}
	}
	if n > MaxRequestBytes {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, code: codeRequestTooLarge,
			msg: fmt.Sprintf("Request body exceeds the limit of %d bytes.", MaxRequestBytes)}
	}
	return buf.Bytes(), nil
}

// call runs a decoded operation.
func (h *Handler) call(ctx context.Context, op string, in any) (any, error) {
	switch in := in.(type) {
	case *createStreamInput:
		return h.createStream(ctx, in)
	case *deleteStreamInput:
		return h.deleteStream(ctx, in)
	case *describeStreamInput:
		return h.describeStream(ctx, in)
	case *describeStreamSummaryInput:
		return h.describeStreamSummary(ctx, in)
	case *listStreamsInput:
		return h.listStreams(ctx, in)
	case *listShardsInput:
		return h.listShards(ctx, in)
	case *putRecordInput:
		return h.putRecord(ctx, in)
	case *putRecordsInput:
		return h.putRecords(ctx, in)
	case *getShardIteratorInput:
		return h.getShardIterator(ctx, in)
	case *getRecordsInput:
		return h.getRecords(ctx, in)
	case *retentionInput:
		return h.changeRetention(ctx, in, op == "IncreaseStreamRetentionPeriod")
	case *addTagsInput:
		return h.addTags(ctx, in)
	case *listTagsInput:
		return h.listTags(ctx, in)
	case *removeTagsInput:
		return h.removeTags(ctx, in)
	}
	return nil, internalErr(fmt.Errorf("no implementation for %s (%T)", op, in))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, ok := v.(rawJSON)
	var err error
	if !ok {
		b, err = json.Marshal(v)
	}
	if err != nil {
		// Every response shape is marshalable; reaching this is a bug.
		writeError(w, internalErr(fmt.Errorf("encode response: %w", err)))
		return
	}
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError sends an AWS JSON error: {"__type": code, "message": msg}
// with the code also in X-Amzn-ErrorType, which SDKs read first.
func writeError(w http.ResponseWriter, e *apiError) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message,omitempty"`
	}{e.code, e.msg})
	w.Header().Set("X-Amzn-Errortype", e.code)
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// newRequestID returns a random UUID-shaped request id, as AWS sends in
// x-amzn-RequestId.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
