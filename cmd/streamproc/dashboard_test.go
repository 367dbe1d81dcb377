package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium (apt-get install -y chromium).
const chromiumPath = "/usr/bin/chromium"

// upOverrides give short windows, so trends and deliveries show up within
// seconds.
const upOverrides = "TrendsWindowSeconds=2 DeliveryBufferSeconds=2"

// The dashboard in a real browser against up with the synthetic source:
// every resource of the plan is on the page, the charts move, trending
// shows hashtags, and garbage written through the Kinesis API shows up in
// the failures list with its reason.
func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (CI must install it: apt-get install -y chromium): %v", chromiumPath, err)
		}
		t.Skipf("needs Debian's chromium at %s: apt-get install -y chromium", chromiumPath)
	}
	r, err := resolveTemplate(&globalFlags{template: "../../template.yaml", stackName: "streamproc", parameterOverrides: []string{upOverrides}})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := r.Plan()
	if err != nil {
		t.Fatal(err)
	}
	u := startUp(t, "--rate", "300", "--ui-addr", "127.0.0.1:0", "--poll-interval", "100ms", "--drain-timeout", "10s", "--parameter-overrides", upOverrides)

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()
	// save keeps a full-page screenshot in $SCREENSHOT_DIR (CI's artifacts).
	save := func(name string) []byte {
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Errorf("screenshot: %v", err)
			return nil
		}
		dir := os.Getenv("SCREENSHOT_DIR")
		if dir == "" {
			dir = t.TempDir()
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Error(err)
		} else if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(shot))
		return shot
	}
	// A failing run keeps its picture too: that is when it is needed.
	defer func() {
		if t.Failed() {
			save("dashboard-failed.png")
		}
	}()
	if err := chromedp.Do(ctx, chromedp.Navigate(u.ui+"/"), chromedp.WaitVisible(chromedp.CSS("#topo"))); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	// poll evaluates js until ok accepts its value (generous: the machine
	// may be busy).
	poll := func(what, js string, ok func(string) bool) string {
		t.Helper()
		var v string
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if v = eval(js); ok(v) {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %q", what, v)
			}
		}
	}

	topology := eval(`document.querySelector("#topology").textContent`)
	var want []string
	for _, s := range plan.Streams {
		want = append(want, s.LogicalID)
	}
	for _, tb := range plan.Tables {
		want = append(want, tb.LogicalID)
	}
	for _, f := range plan.Functions {
		want = append(want, f.LogicalID)
	}
	for _, mp := range plan.Mappings {
		want = append(want, mp.Name)
	}
	for _, d := range plan.Deliveries {
		want = append(want, d.LogicalID)
	}
	for _, s := range plan.Schedules {
		want = append(want, s.Name)
	}
	want = append(want, plan.Buckets...)
	want = append(want, plan.Queues...)
	for _, c := range append(plan.CloudOnly, plan.Unknown...) {
		id, _, _ := strings.Cut(c, " (")
		want = append(want, id)
	}
	for _, w := range want {
		if !strings.Contains(topology, w) {
			t.Errorf("the topology does not show %s", w)
		}
	}
	if len(want) < 20 {
		t.Errorf("only %d resources in the plan: %v", len(want), want)
	}

	// Charts: the records-in chart gets data and its line moves.
	const line = `Array.from(document.querySelectorAll("#c-in polyline")).map(p => p.getAttribute("points")).join("|")`
	first := poll("records-in chart has a line", line, func(v string) bool { return strings.Count(v, ",") >= 2 })
	poll("records-in chart changes", line, func(v string) bool { return v != first })
	poll("records-in legend shows a rate above 0", `document.querySelector("#c-in .lg span").dataset.v`, func(v string) bool { return v != "" && v != "0" })
	poll("consumer node shows a rate", `document.getElementById("v-DataStreamConsumer.Stream").textContent`, func(v string) bool {
		return strings.HasSuffix(v, "records/s") && !strings.HasPrefix(v, "0 ") && !strings.HasPrefix(v, "–")
	})
	poll("trending shows hashtags", `Array.from(document.querySelectorAll("#trends .hashtag span:first-child")).map(e => e.textContent).join(" ")`,
		func(v string) bool { return strings.HasPrefix(v, "#") })
	poll("EventData lists items", `String(document.querySelectorAll("#items tr.item").length)`, func(v string) bool { return v != "0" })

	// A failure injected through the Kinesis API shows up with its reason.
	marker := fmt.Sprintf("garbage-%d", time.Now().UnixNano())
	client := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(u.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(plan.Streams[0].Name), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("bad"), Data: []byte(marker + " is not JSON")},
		{PartitionKey: aws.String("bad"), Data: append([]byte(marker), 0xff, 0xfe, 0x00)},
	}})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v %+v", err, out)
	}
	rows := poll("the garbage is listed as failures with reasons", `Array.from(document.querySelectorAll("#failures tr.failure")).map(r => Array.from(r.cells).map(c => c.textContent).join("\t")).join("\n")`,
		func(v string) bool {
			kinds := map[string]bool{}
			for _, row := range strings.Split(v, "\n") {
				// Processing failures carry the transformer's own reason
				// ("not JSON …"), not Firehose's generic Lambda.ProcessingFailedStatus.
				if cells := strings.Split(row, "\t"); len(cells) == 5 && strings.Contains(cells[4], marker) && strings.HasPrefix(cells[3], "not ") {
					kinds[cells[1]] = true
				}
			}
			return kinds["dead letter"] && kinds["processing failed"]
		})
	t.Logf("failures:\n%s", rows)
	poll("the dead-letter node turns red", `document.getElementById("n-deadletters").getAttribute("class")`, func(v string) bool { return strings.Contains(v, "bad") })
	// The synthetic source stands in for the producer: its schedule is held, drawn idle.
	poll("the held producer schedule is drawn idle", `document.querySelector('[id^="n-DataStreamProducer."]')?.getAttribute("class") ?? ""`, func(v string) bool { return strings.Contains(v, "idle") })

	// Search by user: a user of a listed item finds their items.
	// The list is redrawn as items arrive; wait for a row rather than read a moment without one.
	user := poll("the EventData panel lists items", `(document.querySelector("#items tr.item td:nth-child(2)")?.textContent ?? "").slice(1)`,
		func(v string) bool { return v != "" })
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#user"), user)); err != nil {
		t.Fatal(err)
	}
	poll("search finds the user's items", `Array.from(document.querySelectorAll("#items tr.item td:nth-child(2)")).map(e => e.textContent).join(" ")`,
		func(v string) bool { return v != "" && strings.Trim(strings.ReplaceAll(v, "@"+user, ""), " ") == "" })
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const u = document.querySelector("#user"); u.value = ""; u.dispatchEvent(new Event("input")); })()`)); err != nil {
		t.Fatal(err)
	}
	poll("clearing the search shows the newest items again", `document.querySelector("#items-what").textContent`, func(v string) bool { return v == "newest items" })

	shot := save("dashboard.png")
	// UPDATE_SCREENSHOT=1 refreshes the README's picture: the whole page.
	if os.Getenv("UPDATE_SCREENSHOT") != "" && shot != nil {
		if err := os.WriteFile("../../docs/dashboard.png", shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if code, stderr := u.stop(t); code != 0 {
		t.Fatalf("up exited %d:\n%s", code, stderr)
	}
	// The page greys out once up is gone instead of showing a healthy pipeline.
	poll("the page turns stale when up stops", `document.body.className`, func(v string) bool { return strings.Contains(v, "stale") })
}

// streamproc logs prints the functions' logs that up keeps in the data
// dir, while up runs (--follow) and after it stopped.
func TestLogsCommand(t *testing.T) {
	u := startUp(t, "--rate", "200", "--ui-addr", "127.0.0.1:0", "--poll-interval", "100ms", "--drain-timeout", "10s", "--parameter-overrides", upOverrides)
	c := &cli{t: t, dir: u.dir, now: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var followed lockedBuffer
	followDone := make(chan int, 1)
	go func() {
		m := &Main{Stdin: strings.NewReader(""), Stdout: &followed, Stderr: &lockedBuffer{}, Getenv: func(string) (string, bool) { return "", false }}
		followDone <- m.Run(ctx, []string{"--data-dir", u.dir, "-t", "../../template.yaml", "logs", "consumer", "--follow", "--filter", "batch processed"})
	}()
	for deadline := time.Now().Add(60 * time.Second); strings.Count(followed.String(), "\n") < 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("logs --follow printed %q", followed.String())
		}
	}
	cancel()
	if code := <-followDone; code != 0 {
		t.Errorf("logs --follow exited %d when interrupted", code)
	}
	for _, l := range strings.Split(strings.TrimSpace(followed.String()), "\n") {
		// 2026-11-26T10:00:00.123Z INFO  batch processed records=100 …
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", strings.Fields(l)[0]); err != nil || !strings.Contains(l, " INFO  batch processed records=") {
			t.Errorf("followed line %q", l)
		}
	}
	if code, stderr := u.stop(t); code != 0 {
		t.Fatalf("up exited %d:\n%s", code, stderr)
	}
	all := c.mustRun("", "logs", "DataStreamConsumer", "--since", "0")
	if !strings.Contains(all, "batch processed") || strings.Contains(all, `"msg"`) {
		t.Errorf("logs after the run:\n%.500s", all)
	}
	if got := c.mustRun("", "logs", "streamproc-TrendingHashtags", "--since", "0", "--filter", "window flushed"); !strings.Contains(got, "window flushed window=") {
		t.Errorf("trending logs:\n%.500s", got)
	}
	if got := c.mustRun("", "logs", "consumer", "--since", "0", "--filter", "no such text"); got != "" {
		t.Errorf("--filter kept %q", got)
	}
	if _, errs, code := c.run("", "logs", "nosuchfunction"); code != exitUsage || !strings.Contains(errs, "unknown function") {
		t.Errorf("unknown function: exit %d, %s", code, errs)
	}
	if files, _ := filepath.Glob(filepath.Join(u.dir, "logs", "*.log")); len(files) < 3 {
		t.Errorf("log files %v", files)
	}
}
