// Package paramstest is the conformance suite for streamproc.Params: the
// same test bodies run against every backend (the embedded local/params
// store, and the SSM adapter against moto's server), which is how we show
// that a secret read locally behaves like one read from Parameter Store.
//
// The suite only uses what the streamproc.Params contract and both
// implementations' documentation promise: no name selectors or ARNs (SSM
// only), no file syntax (local only), no exact error texts beyond "names the
// missing parameter and carries no value".
package paramstest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/streamproc/streamproc"
)

// Param is one parameter a backend stores for the suite.
type Param struct {
	Name  string
	Value string
	// Secure asks for an encrypted parameter (SSM SecureString); backends
	// without encryption store it like any other. Get must return it
	// decrypted either way.
	Secure bool
}

// Backend is one Params implementation under test.
type Backend struct {
	Params streamproc.Params
	// Put creates or overwrites a parameter, as an operator storing or
	// rotating a secret does; Params must see it on its next Get.
	Put func(t *testing.T, p Param)
}

// Run runs the whole suite. open returns a Backend holding no parameters
// and registers its own cleanup with t.Cleanup. Subtests run sequentially,
// so a backend may share one server between them as long as open hands out
// an empty store.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	s := suite{open: open}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"GetsEveryName", s.getsEveryName},
		{"Missing", s.missing},
		{"Rotated", s.rotated},
		{"Canceled", s.canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.fn)
	}
}

type suite struct {
	open func(t *testing.T) Backend
}

// secretMark is in every value the suite stores, so one check catches a
// value leaking into an error.
const secretMark = "S3CRET"

// seeded are the parameters every subtest starts with: the producer's five
// names, plus enough others that SSM needs several GetParameters calls
// (it takes at most 10 names a call).
func seeded() []Param {
	ps := []Param{
		{Name: streamproc.ParamConsumerKey, Value: secretMark + "-consumer-key", Secure: true},
		{Name: streamproc.ParamConsumerSecret, Value: secretMark + "+b64/with==padding", Secure: true},
		{Name: streamproc.ParamAccessTokenKey, Value: secretMark + "-1234567890-AbCdEf", Secure: true},
		{Name: streamproc.ParamAccessTokenSecret, Value: secretMark + "=starts-after-an-equals", Secure: true},
		// Bearer tokens are long and URL-encoded; the value must come back
		// byte for byte, % and all.
		{Name: streamproc.ParamBearerToken, Value: secretMark + "%2FAAAAAAAAAAAAAAAAAAAAA%3D" + strings.Repeat("x", 1000), Secure: true},
		{Name: "/app/plain", Value: secretMark + " plain text with inner spaces"},
		{Name: "/app/unicode", Value: secretMark + "-pässwörd-密码", Secure: true},
	}
	for i := range 16 {
		ps = append(ps, Param{Name: fmt.Sprintf("/app/many/p%02d", i), Value: fmt.Sprintf("%s-many-%02d", secretMark, i), Secure: i%2 == 0})
	}
	return ps
}

// store opens a backend and stores the seeded parameters in it.
func (s suite) store(t *testing.T) (streamproc.Params, map[string]string) {
	t.Helper()
	b := s.open(t)
	values := map[string]string{}
	for _, p := range seeded() {
		b.Put(t, p)
		values[p.Name] = p.Value
	}
	return b.Params, values
}

func manyNames(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("/app/many/p%02d", i))
	}
	return out
}

// noValue fails when err carries any stored value: values are secrets and
// errors end up in logs.
func noValue(t *testing.T, err error, values map[string]string) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), secretMark) {
		t.Fatalf("error leaks a parameter value: %v", err)
	}
	for name, v := range values {
		if strings.Contains(err.Error(), v) {
			t.Fatalf("error leaks the value of %s: %v", name, err)
		}
	}
}

// getsEveryName: Get returns exactly the names asked for, each with its
// stored value byte for byte (decrypted), however many names one call asks
// for.
func (s suite) getsEveryName(t *testing.T) {
	p, values := s.store(t)
	all := slices.Sorted(maps.Keys(values))
	producer := []string{streamproc.ParamConsumerKey, streamproc.ParamConsumerSecret, streamproc.ParamAccessTokenKey,
		streamproc.ParamAccessTokenSecret, streamproc.ParamBearerToken}
	tests := []struct {
		name  string
		names []string
	}{
		{"one", []string{streamproc.ParamBearerToken}},
		{"the producer's five", producer},
		{"plain and unicode values", []string{"/app/plain", "/app/unicode"}},
		{"exactly ten", manyNames(0, 10)},
		{"eleven", manyNames(0, 11)},
		{"every parameter", all},
		{"duplicates", append(manyNames(0, 3), manyNames(1, 4)...)},
		{"none", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Get(context.Background(), tc.names...)
			noValue(t, err, values)
			if err != nil {
				t.Fatalf("Get(%v): %v", tc.names, err)
			}
			want := map[string]string{}
			for _, n := range tc.names {
				want[n] = values[n]
			}
			if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want))) {
				t.Fatalf("Get(%v) returned the names %v", tc.names, slices.Sorted(maps.Keys(got)))
			}
			// The values are the suite's own, not real secrets, so the
			// failure may show them.
			for n, v := range want {
				if got[n] != v {
					t.Fatalf("Get(%v): %s = %q, want %q", tc.names, n, got[n], v)
				}
			}
		})
	}
}

// missing: any missing name fails the whole Get with one error wrapping
// ErrNotFound that names every missing name, returns no values, and
// carries no value.
func (s suite) missing(t *testing.T) {
	p, values := s.store(t)
	tests := []struct {
		name    string
		names   []string
		missing []string
	}{
		{"one of several", []string{streamproc.ParamBearerToken, "/app/nope", streamproc.ParamConsumerKey}, []string{"/app/nope"}},
		{"only one asked", []string{"/twitter/not_there"}, []string{"/twitter/not_there"}},
		{"every name", []string{"/x/a", "/x/b"}, []string{"/x/a", "/x/b"}},
		// SSM answers in calls of 10 names: the error must gather the
		// missing names of every call, not only the first or the last.
		{"spread over many names", append(append(append(manyNames(0, 9), "/x/first"), manyNames(9, 16)...), "/x/second", "/x/third"),
			[]string{"/x/first", "/x/second", "/x/third"}},
		// A lookup that matched by prefix would hand out another
		// parameter's secret under this name.
		{"prefix of a stored name", []string{"/app/many/p0"}, []string{"/app/many/p0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Get(context.Background(), tc.names...)
			noValue(t, err, values)
			if !errors.Is(err, streamproc.ErrNotFound) {
				t.Fatalf("Get(%v) = %d values, %v; want an error wrapping ErrNotFound", tc.names, len(got), err)
			}
			if got != nil {
				t.Fatalf("Get returned %d values with its error", len(got))
			}
			for _, m := range tc.missing {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("error %q does not name the missing parameter %s", err, m)
				}
			}
			if errors.Is(err, streamproc.ErrUnavailable) || errors.Is(err, streamproc.ErrInvalid) {
				t.Fatalf("error %q is also another kind: a missing parameter is not retried", err)
			}
		})
	}
}

// rotated: nothing is cached, so a secret rotated after a Get is seen by
// the next one (a long-running producer picks up new credentials).
func (s suite) rotated(t *testing.T) {
	b := s.open(t)
	ctx := context.Background()
	name := streamproc.ParamBearerToken
	for i, v := range []string{secretMark + "-first", secretMark + "-rotated", secretMark + "-again"} {
		b.Put(t, Param{Name: name, Value: v, Secure: true})
		got, err := b.Params.Get(ctx, name)
		if err != nil {
			t.Fatalf("Get after rotation %d: %v", i, err)
		}
		if got[name] != v {
			t.Fatalf("after rotation %d Get returned a stale value", i)
		}
	}
}

// canceled: a canceled or expired context fails Get with the context's
// error, which is not mistaken for a missing or unavailable parameter.
func (s suite) canceled(t *testing.T) {
	p, values := s.store(t)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), -1)
	defer cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"canceled", canceled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Get(tc.ctx, streamproc.ParamBearerToken)
			noValue(t, err, values)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Get = %d values, %v; want %v", len(got), err, tc.want)
			}
			for _, k := range []error{streamproc.ErrNotFound, streamproc.ErrUnavailable, streamproc.ErrInvalid} {
				if errors.Is(err, k) {
					t.Fatalf("error %q also wraps %v: the caller gave up, the store did not fail", err, k)
				}
			}
		})
	}
}
