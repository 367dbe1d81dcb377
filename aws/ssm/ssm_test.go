package ssm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/ssm"
)

// fakeSSM speaks GetParameters over the AWS JSON 1.1 protocol
// (X-Amz-Target AmazonSSM.GetParameters), with request and answer shapes
// from the SSM model (research/aws-models/ssm.json) and the behaviour of
// aws-semantics.md §6.2. The port's behaviour is tested against moto (see
// TestConformance); the fake stays for what moto cannot show: how many
// names each call carries, injected faults, and names given as an ARN or
// with a :version selector, which moto 5.2.1 answers unlike AWS (no
// Selector in the answer, an ARN reported invalid).
type fakeSSM struct {
	params map[string]param // by name

	mu    sync.Mutex
	calls [][]string // Names of each call
	fault map[string]fakeError
}

type param struct {
	typ, value string
	version    int
}

type fakeError struct {
	status int
	code   string
}

const (
	region  = "us-east-1"
	account = "123456789012"
)

func arn(name string) string { return "arn:aws:ssm:" + region + ":" + account + ":parameter" + name }

func (f *fakeSSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameters" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		writeJSON(w, 400, map[string]any{"__type": "UnknownOperationException", "message": "bad target or content type"})
		return
	}
	var req struct {
		Names          []string
		WithDecryption *bool
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]any{"__type": "SerializationException", "message": err.Error()})
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, req.Names)
	var fault *fakeError
	for _, n := range req.Names {
		if e, ok := f.fault[n]; ok {
			fault = &e
		}
	}
	f.mu.Unlock()
	if fault != nil {
		writeJSON(w, fault.status, map[string]any{"__type": fault.code, "message": "injected"})
		return
	}
	if len(req.Names) < 1 || len(req.Names) > 10 {
		writeJSON(w, 400, map[string]any{"__type": "ValidationException",
			"message": fmt.Sprintf("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10 (got %d)", len(req.Names))})
		return
	}
	type outParam struct {
		Name, Type, Value, ARN, DataType string
		Version                          int
		Selector                         string `json:",omitempty"`
		LastModifiedDate                 float64
	}
	var found []outParam
	invalid := []string{}
	for _, requested := range req.Names {
		name := strings.TrimSpace(requested)
		if strings.ContainsAny(name, " \t") {
			writeJSON(w, 400, map[string]any{"__type": "ValidationException", "message": "Parameter name: can't contain spaces"})
			return
		}
		name = strings.TrimPrefix(name, "arn:aws:ssm:"+region+":"+account+":parameter")
		selector := ""
		if i := strings.LastIndex(name, ":"); i > 0 {
			name, selector = name[:i], name[i:]
		}
		p, ok := f.params[name]
		if !ok || (selector != "" && selector != fmt.Sprintf(":%d", p.version)) {
			invalid = append(invalid, requested)
			continue
		}
		v := p.value
		if p.typ == "SecureString" && (req.WithDecryption == nil || !*req.WithDecryption) {
			v = "AQICAHh-ciphertext-of-" + name
		}
		found = append(found, outParam{Name: name, Type: p.typ, Value: v, ARN: arn(name), DataType: "text",
			Version: p.version, Selector: selector, LastModifiedDate: 1.7e9})
	}
	// AWS lists results in alphabetical order, not the request's.
	slices.SortFunc(found, func(a, b outParam) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, 200, map[string]any{"Parameters": found, "InvalidParameters": invalid})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newFake(t *testing.T, n int) (*fakeSSM, *ssm.Params) {
	f := &fakeSSM{params: map[string]param{}, fault: map[string]fakeError{}}
	for i := range n {
		f.params[fmt.Sprintf("/app/p%02d", i)] = param{typ: "SecureString", value: fmt.Sprintf("secret-value-%02d", i), version: 3}
	}
	f.params[streamproc.ParamBearerToken] = param{typ: "SecureString", value: "bearer-secret", version: 1}
	f.params["/app/list"] = param{typ: "StringList", value: "a,b,c", version: 1}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := awsssm.New(awsssm.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDFAKE", "fake-secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      aws.NopRetryer{},
	})
	return f, ssm.New(client)
}

func names(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("/app/p%02d", i))
	}
	return out
}

func values(from, to int) map[string]string {
	out := map[string]string{}
	for i := from; i < to; i++ {
		out[fmt.Sprintf("/app/p%02d", i)] = fmt.Sprintf("secret-value-%02d", i)
	}
	return out
}

// TestGet: every requested name comes back, decrypted, keyed as requested,
// in calls of at most 10 names.
func TestGet(t *testing.T) {
	tests := []struct {
		name      string
		req       []string
		want      map[string]string
		wantCalls []int // names per call
	}{
		{"one", []string{streamproc.ParamBearerToken}, map[string]string{streamproc.ParamBearerToken: "bearer-secret"}, []int{1}},
		{"exactly ten", names(0, 10), values(0, 10), []int{10}},
		{"twenty-five in three calls", names(0, 25), values(0, 25), []int{10, 10, 5}},
		{"duplicates asked once", append(names(0, 3), names(0, 3)...), values(0, 3), []int{3}},
		{"by ARN", []string{arn("/app/p01")}, map[string]string{arn("/app/p01"): "secret-value-01"}, []int{1}},
		{"with a version selector", []string{"/app/p02:3"}, map[string]string{"/app/p02:3": "secret-value-02"}, []int{1}},
		{"string list", []string{"/app/list"}, map[string]string{"/app/list": "a,b,c"}, []int{1}},
		{"nothing", nil, map[string]string{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, p := newFake(t, 30)
			got, err := p.Get(context.Background(), tc.req...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Get = %v, want %v", got, tc.want)
			}
			var sizes []int
			for _, c := range f.calls {
				sizes = append(sizes, len(c))
			}
			if !slices.Equal(sizes, tc.wantCalls) {
				t.Fatalf("call sizes %v, want %v", sizes, tc.wantCalls)
			}
		})
	}
}

// TestGetMissing: a version that does not exist is a missing parameter,
// named as asked. (Missing plain names are in the conformance suite.)
func TestGetMissing(t *testing.T) {
	_, p := newFake(t, 30)
	got, err := p.Get(context.Background(), "/app/p00", "/app/p00:9")
	if !errors.Is(err, streamproc.ErrNotFound) || got != nil {
		t.Fatalf("Get = %d values, %v; want an error wrapping ErrNotFound", len(got), err)
	}
	if !strings.Contains(err.Error(), `"/app/p00:9"`) {
		t.Fatalf("error %q does not name /app/p00:9", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error %q carries a parameter value", err)
	}
}

// TestErrors: service failures map to the streamproc kinds, name the
// parameters and never carry a value (not even one fetched by an earlier,
// successful call).
func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault fakeError
		req   []string
		want  error
	}{
		{"throttled", fakeError{400, "ThrottlingException"}, append(names(0, 10), "/app/fault"), streamproc.ErrUnavailable},
		{"internal error", fakeError{500, "InternalServerError"}, []string{"/app/fault"}, streamproc.ErrUnavailable},
		{"bad KMS key", fakeError{400, "InvalidKeyId"}, append(names(0, 10), "/app/fault"), streamproc.ErrInvalid},
		{"inner space", fakeError{}, []string{"/app/has space"}, streamproc.ErrInvalid},
		{"access denied", fakeError{400, "AccessDeniedException"}, []string{"/app/fault"}, nil},
	}
	kinds := []error{streamproc.ErrNotFound, streamproc.ErrInvalid, streamproc.ErrUnavailable}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, p := newFake(t, 30)
			if tc.fault.code != "" {
				f.fault["/app/fault"] = tc.fault
			}
			_, err := p.Get(context.Background(), tc.req...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, k := range kinds {
				if got, want := errors.Is(err, k), k == tc.want; got != want {
					t.Fatalf("errors.Is(%v, %v) = %v, want %v", err, k, got, want)
				}
			}
			last := tc.req[len(tc.req)-1]
			if !strings.Contains(err.Error(), last) {
				t.Fatalf("error %q does not name %s", err, last)
			}
			if strings.Contains(err.Error(), "secret-value") {
				t.Fatalf("error %q carries a parameter value", err)
			}
		})
	}
}
