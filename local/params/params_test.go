package params

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/streamproc/streamproc"
)

// Every secret in these tests contains secretMark, so one check catches a
// value leaking into any error.
const secretMark = "S3CRET"

func writeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "params")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Set explicitly: WriteFile's mode is filtered by the umask.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), secretMark) {
		t.Fatalf("error leaks a secret value: %v", err)
	}
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"/twitter/consumer_key":     "TWITTER_CONSUMER_KEY",
		"/twitter/bearer_token":     "TWITTER_BEARER_TOKEN",
		"plain":                     "PLAIN",
		"/app-1/db.password":        "APP_1_DB_PASSWORD",
		"/Mixed/Case9":              "MIXED_CASE9",
		"//double":                  "_DOUBLE",
		"/twitter/access_token_key": "TWITTER_ACCESS_TOKEN_KEY",
	}
	for in, want := range tests {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGet(t *testing.T) {
	const file = `# X API credentials
/twitter/bearer_token=S3CRET-bearer

  /twitter/consumer_key =  S3CRET-file-key  
/twitter/consumer_secret=S3CRET=with==equals
# /twitter/commented=S3CRET-no
/empty=
`
	tests := []struct {
		name  string
		file  string // "" = no file path; "-" = path to a missing file
		env   map[string]string
		get   []string
		want  map[string]string
		isErr error
		msg   []string // substrings of the error
	}{
		{
			name: "file values",
			file: file,
			get:  []string{streamproc.ParamBearerToken, streamproc.ParamConsumerKey, streamproc.ParamConsumerSecret, "/empty"},
			want: map[string]string{
				streamproc.ParamBearerToken:    "S3CRET-bearer",
				streamproc.ParamConsumerKey:    "S3CRET-file-key",
				streamproc.ParamConsumerSecret: "S3CRET=with==equals",
				"/empty":                       "",
			},
		},
		{
			name: "environment overrides file",
			file: file,
			env:  map[string]string{"TWITTER_CONSUMER_KEY": "S3CRET-env-key"},
			get:  []string{streamproc.ParamConsumerKey, streamproc.ParamBearerToken},
			want: map[string]string{streamproc.ParamConsumerKey: "S3CRET-env-key", streamproc.ParamBearerToken: "S3CRET-bearer"},
		},
		{
			name: "empty environment variable does not hide the file",
			file: file,
			env:  map[string]string{"TWITTER_BEARER_TOKEN": ""},
			get:  []string{streamproc.ParamBearerToken},
			want: map[string]string{streamproc.ParamBearerToken: "S3CRET-bearer"},
		},
		{
			name: "environment only",
			env:  map[string]string{"TWITTER_BEARER_TOKEN": "S3CRET-env"},
			get:  []string{streamproc.ParamBearerToken},
			want: map[string]string{streamproc.ParamBearerToken: "S3CRET-env"},
		},
		{
			name: "missing file is fine",
			file: "-",
			env:  map[string]string{"TWITTER_BEARER_TOKEN": "S3CRET-env"},
			get:  []string{streamproc.ParamBearerToken},
			want: map[string]string{streamproc.ParamBearerToken: "S3CRET-env"},
		},
		{
			name: "no names",
			file: file,
			want: map[string]string{},
		},
		{
			name:  "missing names listed together",
			file:  file,
			env:   map[string]string{"TWITTER_ACCESS_TOKEN_KEY": "S3CRET-present"},
			get:   []string{streamproc.ParamAccessTokenSecret, streamproc.ParamBearerToken, streamproc.ParamAccessTokenKey, "/twitter/commented"},
			isErr: streamproc.ErrNotFound,
			msg: []string{
				"parameters /twitter/access_token_secret, /twitter/commented",
				"TWITTER_ACCESS_TOKEN_SECRET, TWITTER_COMMENTED",
				"params file ",
			},
		},
		{
			name:  "missing with no file configured",
			get:   []string{streamproc.ParamBearerToken},
			isErr: streamproc.ErrNotFound,
			msg:   []string{"/twitter/bearer_token", "TWITTER_BEARER_TOKEN", "no params file configured"},
		},
		{
			name:  "missing with a missing file",
			file:  "-",
			get:   []string{streamproc.ParamBearerToken},
			isErr: streamproc.ErrNotFound,
			msg:   []string{"/twitter/bearer_token", "does not exist"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			switch tc.file {
			case "":
			case "-":
				path = filepath.Join(t.TempDir(), "nope")
			default:
				path = writeFile(t, tc.file, 0o600)
			}
			s, err := New(path, envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(context.Background(), tc.get...)
			noSecret(t, err)
			if tc.isErr != nil {
				if !errors.Is(err, tc.isErr) {
					t.Fatalf("err = %v, want %v", err, tc.isErr)
				}
				for _, m := range tc.msg {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q lacks %q", err, m)
					}
				}
				if got != nil {
					t.Errorf("Get returned values with an error: %d of them", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Get = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		msg     string
	}{
		{"group readable", "/a=S3CRET\n", 0o640, "chmod 600"},
		{"world readable", "/a=S3CRET\n", 0o604, "chmod 600"},
		{"group writable", "/a=S3CRET\n", 0o620, "chmod 600"},
		{"0644", "/a=S3CRET\n", 0o644, "group or others can access it (mode 0644)"},
		{"line without =", "/a=x\nS3CRET-pasted-token\n", 0o600, ":2: want name=value"},
		{"empty name", "=S3CRET\n", 0o600, ":1: want name=value"},
		{"secret pasted as name", "S3CRET+abc/def=\n", 0o600, ":1: a name may hold only"},
		{"duplicate", "/a=S3CRET-1\n#\n/a=S3CRET-2\n", 0o600, ":3: the name is already set on line 1"},
		{"line over 1 MB", "/a=" + strings.Repeat("S3CRET", 200_000) + "\n", 0o600, "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.content, tc.mode)
			_, err := New(path, envOf(nil))
			noSecret(t, err)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.msg)
			}
			if tc.msg == "chmod 600" && !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Fatalf("error %q does not give the command to run", err)
			}
		})
	}
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700} {
		if _, err := New(writeFile(t, "/a=b\n", mode), envOf(nil)); err != nil {
			t.Errorf("mode %04o refused: %v", mode, err)
		}
	}
	if _, err := New(t.TempDir(), envOf(nil)); !errors.Is(err, streamproc.ErrInvalid) {
		t.Errorf("directory as params file: %v", err)
	}
}

// TestRereadsFile: like SSM, a changed value is seen without a restart, and
// a file that becomes group-readable is refused at the next Get.
func TestRereadsFile(t *testing.T) {
	path := writeFile(t, "/a=S3CRET-1\n", 0o600)
	s, err := New(path, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, err := s.Get(ctx, "/a"); err != nil || got["/a"] != "S3CRET-1" {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("/a=S3CRET-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "/a"); err != nil || got["/a"] != "S3CRET-2" {
		t.Fatalf("Get after edit = %v, %v", got, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "/a")
	noSecret(t, err)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Get of a loosened file: %v", err)
	}
}

func TestDefaultEnv(t *testing.T) {
	t.Setenv("STREAMPROC_PARAMS_TEST_VALUE", "S3CRET-from-os")
	s, err := New("", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(context.Background(), "/streamproc/params_test/value")
	if err != nil || got["/streamproc/params_test/value"] != "S3CRET-from-os" {
		t.Fatalf("Get = %v, %v", got, err)
	}
}
