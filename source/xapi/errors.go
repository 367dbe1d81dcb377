package xapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/streamproc/streamproc"
)

// Errors that drive decisions. Every error from this package that comes
// from an API answer is an *Error wrapping one of these (or none, for other
// 4xx) plus the streamproc kind: ErrUnavailable when retrying later may
// succeed, ErrInvalid when it cannot.
var (
	// ErrUsageCapped: the app's usage cap (monthly, or the spend cap of a
	// pay-per-use account) is reached. A 429 like a rate limit, but retrying
	// cannot help until the cap resets or the plan changes, so it is not
	// ErrUnavailable.
	ErrUsageCapped = errors.New("usage cap exceeded")
	// ErrRateLimited: the rate limit was still exhausted after the retries,
	// or it resets later than the caller is willing to wait.
	ErrRateLimited = errors.New("rate limit exhausted")
	// ErrAuth: the API rejected the credentials (401) or the app may not use
	// the endpoint (403).
	ErrAuth = errors.New("credentials rejected")
	// ErrNoCredentials: neither a bearer token nor the four OAuth 1.0a
	// parameters could be read.
	ErrNoCredentials = errors.New("no X API credentials")
)

// Error is a failed X API call. Its text names the endpoint, the status and
// what the API said (RFC 7807 problem fields, or v1.1-style errors), and
// never holds a credential.
type Error struct {
	// Op is "GET /2/tweets/search/recent" (the path, never the query).
	Op     string
	Status int // HTTP status; 0 when no answer was received
	// Problem fields as the API sent them.
	Type, Title, Detail string
	// Period and Scope qualify a usage cap ("Monthly", "Product").
	Period, Scope string
	// Messages are the messages of the body's errors array.
	Messages []string
	// Reset is when the rate limit resets, when the API said.
	Reset time.Time
	// Hint says what the user can do about it.
	Hint  string
	kind  error // one of the sentinels above, or nil
	class error // streamproc.ErrUnavailable or streamproc.ErrInvalid
	// refused is streamproc.ErrRefused when no further call can succeed
	// (usage cap, rejected credentials).
	refused error
	cause   error // a transport error, for errors.Is
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("X API ")
	b.WriteString(e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.kind != nil {
		b.WriteString(": ")
		b.WriteString(e.kind.Error())
	}
	var said []string
	if e.Title != "" {
		said = append(said, e.Title)
	}
	if e.Detail != "" && e.Detail != e.Title {
		said = append(said, e.Detail)
	}
	said = append(said, e.Messages...)
	if len(said) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(said, "; "))
	}
	var extra []string
	if e.Type != "" && e.Type != "about:blank" {
		extra = append(extra, "type "+e.Type)
	}
	if e.Period != "" {
		extra = append(extra, "period "+e.Period)
	}
	if e.Scope != "" {
		extra = append(extra, "scope "+e.Scope)
	}
	if !e.Reset.IsZero() {
		extra = append(extra, "resets at "+e.Reset.UTC().Format(time.RFC3339))
	}
	if len(extra) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(extra, ", "))
		b.WriteString(")")
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	if e.Hint != "" {
		b.WriteString(" — ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap lets errors.Is find the sentinel, the streamproc kind and the cause.
func (e *Error) Unwrap() []error {
	var out []error
	for _, err := range []error{e.kind, e.class, e.refused, e.cause} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// problem is the union of the two error dialects X answers with: RFC 7807
// problem details (v2) and {"errors":[{"code","message"}]} (v1.1-style,
// still seen on 429s and auth failures).
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Status int    `json:"status"`
	Period string `json:"period"`
	Scope  string `json:"scope"`
	Errors []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Title   string `json:"title"`
		Detail  string `json:"detail"`
	} `json:"errors"`
}

// maxBodyInError bounds how much of a non-JSON error body is quoted.
const maxBodyInError = 200

// parseProblem reads an error body in either dialect; a body that is not
// JSON (a proxy's HTML page) is quoted, shortened.
func parseProblem(body []byte) problem {
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		s := strings.Join(strings.Fields(string(body)), " ")
		if len(s) > maxBodyInError {
			s = s[:maxBodyInError] + "…"
		}
		p.Detail = s
	}
	return p
}

// usageCapped reports whether a 429 is a usage cap rather than a rate
// limit. X tells them apart by the body only (x-api.md §3.3).
func (p problem) usageCapped() bool {
	return strings.HasSuffix(p.Type, "/usage-capped") || strings.EqualFold(p.Title, "UsageCapExceeded")
}

// apiError builds the *Error for a non-2xx answer.
func apiError(op string, status int, p problem) *Error {
	e := &Error{Op: op, Status: status, Type: p.Type, Title: p.Title, Detail: p.Detail, Period: p.Period, Scope: p.Scope}
	for _, m := range p.Errors {
		msg := m.Message
		if msg == "" {
			msg = strings.TrimSpace(m.Title + " " + m.Detail)
		}
		if m.Code != 0 {
			msg = fmt.Sprintf("%s (code %d)", msg, m.Code)
		}
		if msg != "" {
			e.Messages = append(e.Messages, msg)
		}
	}
	switch {
	case status == http.StatusTooManyRequests && p.usageCapped():
		e.kind, e.class, e.refused = ErrUsageCapped, nil, streamproc.ErrRefused
		e.Hint = "not retrying: requests fail until the cap resets or the plan's cap is raised in the X developer console"
	case status == http.StatusTooManyRequests:
		e.kind, e.class = ErrRateLimited, streamproc.ErrUnavailable
	case status == http.StatusUnauthorized:
		e.kind, e.class, e.refused = ErrAuth, streamproc.ErrInvalid, streamproc.ErrRefused
		e.Hint = "check the bearer token or OAuth 1.0a keys in the parameter store"
	case status == http.StatusForbidden:
		e.kind, e.class = ErrAuth, streamproc.ErrInvalid
		e.Hint = "the app may not use this endpoint with these credentials (access level, or an app outside a Project)"
	case status >= 500:
		e.class = streamproc.ErrUnavailable
	default:
		e.class = streamproc.ErrInvalid
	}
	return e
}

// redactor removes secret values from text that came from outside (error
// bodies, transport errors), in case a proxy echoes a request header back.
type redactor []string

// apply replaces every secret in s. Values under four characters are left
// alone: they cannot be real credentials, and replacing them would mangle
// the text.
func (r redactor) apply(s string) string {
	for _, secret := range r {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

func (r redactor) scrub(e *Error) *Error {
	e.Title, e.Detail = r.apply(e.Title), r.apply(e.Detail)
	for i, m := range e.Messages {
		e.Messages[i] = r.apply(m)
	}
	if e.cause != nil {
		if msg := r.apply(e.cause.Error()); msg != e.cause.Error() {
			// The original must not be reachable through Unwrap (its text
			// holds the secret); only a context error's kind is kept.
			var kind error
			for _, k := range []error{context.Canceled, context.DeadlineExceeded} {
				if errors.Is(e.cause, k) {
					kind = k
				}
			}
			e.cause = redactedError{msg: msg, err: kind}
		}
	}
	return e
}

// redactedError shows msg and unwraps only to err (nil or a context error).
type redactedError struct {
	msg string
	err error
}

func (r redactedError) Error() string { return r.msg }
func (r redactedError) Unwrap() error { return r.err }
