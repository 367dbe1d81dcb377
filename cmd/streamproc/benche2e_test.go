package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// benchE2E runs `streamproc bench e2e` in-process with the real clock.
func benchE2E(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) (string, bool) { return "", false }}
	code = m.Run(context.Background(), append([]string{"-t", "../../template.yaml", "bench", "e2e"}, args...))
	return out.String(), errb.String(), code
}

// A short run reports every branch of the pipeline, and with the
// dashboard served, that its live updates kept coming and searches were
// answered while the pipeline ran flat out.
func TestBenchE2E(t *testing.T) {
	out, errs, code := benchE2E(t, "--rate", "2000", "--duration", "3s", "--ui-addr", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	for _, re := range []string{
		`produced +[1-9]\d* tweets`,
		`EventData +[1-9]\d* records consumed`,
		`delivery +[1-9]\d* records read`,
		`trending +[1-9]\d* records counted`,
		`CPU +\d+\.\d s in this process`,
		`dashboard +served, .* [1-9]\d* ticks, longest gap .*; [1-9]\d* searches by user, .* 0 failed`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
}

func TestBenchE2EUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "fast"}, "--rate"},
		{[]string{"--compare", "kinesalite"}, "--compare takes dashboard"},
		{[]string{"--compare", "dashboard"}, "needs --browser"},
		{[]string{"--browser", chromiumPath}, "needs --ui-addr"},
	} {
		_, errs, code := benchE2E(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

// --compare dashboard alternates runs without and with the page open in
// a real browser and reports their ratio and what the page cost.
func TestBenchE2ECompareDashboard(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (CI must install it: apt-get install -y chromium): %v", chromiumPath, err)
		}
		t.Skipf("needs Debian's chromium at %s: apt-get install -y chromium", chromiumPath)
	}
	out, errs, code := benchE2E(t, "--compare", "dashboard", "--browser", chromiumPath, "--rounds", "1", "--rate", "1000", "--duration", "2s")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	for _, re := range []string{
		`sustained tweets/s +\d+ +\d+ +\d+\.\d\d`,
		`CPU cores browser +- +\d+\.\d\d`,
		`longest gap between live updates \d`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
	if strings.Count(errs, "round 1/1") != 2 {
		t.Errorf("want one round of each side:\n%s", errs)
	}
}
