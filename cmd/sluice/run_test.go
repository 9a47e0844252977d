package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/webhook/fake"
)

var (
	runIDPattern = regexp.MustCompile(`\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{6}`)
	stampPattern = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}Z?`)
	secsPattern  = regexp.MustCompile(`\b\d+\.\ds\b`)
	hostPattern  = regexp.MustCompile(`ran on +\S+`)
)

// normalizeRuns makes run history output stable: run ids become numbered
// placeholders of the same width, times and durations keep their width.
func normalizeRuns(s string) string {
	ids := map[string]string{}
	s = runIDPattern.ReplaceAllStringFunc(s, func(id string) string {
		if _, ok := ids[id]; !ok {
			ids[id] = fmt.Sprintf("RUN-%d", len(ids)+1)
		}
		return ids[id] + strings.Repeat("_", len(id)-len(ids[id]))
	})
	s = stampPattern.ReplaceAllStringFunc(s, func(t string) string {
		return regexp.MustCompile(`\d`).ReplaceAllString(t, "9")
	})
	s = secsPattern.ReplaceAllStringFunc(s, func(t string) string { return regexp.MustCompile(`\d`).ReplaceAllString(t, "0") })
	return hostPattern.ReplaceAllString(s, "ran on HOST:PID")
}

// TestRunsGolden lists and shows runs, with rejections, from a real run log.
func TestRunsGolden(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: "tok"})
	t.Setenv("SYNCCLI_HOOK_URL", srv.URL)
	t.Setenv("SYNCCLI_TOKEN", "tok")
	dir := syncProject(t, "true")
	if code, _, errs := sluice(t, "runs", "--project", dir); code != 0 {
		t.Fatalf("runs before any sync: exit %d %s", code, errs)
	}
	srv.RejectKeys("mailbox unknown", "theo_andre1@orange.fr", "daniel.washington4@icloud.com")
	if code, _, errs := sluice(t, "sync", "to_hook", "--project", dir); code != exitRejected {
		t.Fatalf("first sync: exit %d %s", code, errs)
	}
	srv.RejectKeys("", "theo_andre1@orange.fr", "daniel.washington4@icloud.com")
	if code, _, errs := sluice(t, "sync", "--project", dir); code != 0 {
		t.Fatalf("second sync: exit %d %s", code, errs)
	}
	_, list, _ := sluice(t, "runs", "to_hook", "--project", dir)
	first := runIDPattern.FindAllString(list, -1)
	if len(first) != 2 {
		t.Fatalf("runs to_hook lists %d runs:\n%s", len(first), list)
	}
	cases := []struct {
		name string
		args []string
	}{
		{"runs-all", []string{"runs"}},
		{"runs-one-sync", []string{"runs", "to_hook", "--limit", "5"}},
		{"runs-show-rejected", []string{"runs", "show", first[1]}},
		{"runs-show-unknown", []string{"runs", "show", "20250101T000000.000000Z-abcdef"}},
		{"runs-unknown-sync", []string{"runs", "nope"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := sluice(t, append(tc.args, "--project", dir)...)
			got := normalizeRuns(fmt.Sprintf("$ sluice %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tc.args, " "), code, stdout, stderr))
			got = strings.ReplaceAll(got, dir, "$PROJECT")
			golden(t, filepath.Join("testdata", "golden", tc.name+".txt"), got)
		})
	}
}

// TestRunDaemon starts `sluice run` on a DuckDB file: it runs the syncs on
// their schedule, serves probes, metrics and the status page, refuses an
// unauthenticated trigger, releases the file between ticks (so `sluice sync`
// by hand works), skips ticks while another process holds the file, and
// stops cleanly on cancellation (SIGTERM).
func TestRunDaemon(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: "tok"})
	t.Setenv("SYNCCLI_HOOK_URL", srv.URL)
	t.Setenv("SYNCCLI_TOKEN", "tok")
	t.Setenv("SYNCCLI_TRIGGER", "trigger-0123456789abcdef")
	dir := syncProject(t, "true")
	appendFile(t, filepath.Join(dir, "sluice.yml"), "daemon: {trigger_token: \"${SYNCCLI_TRIGGER}\", shutdown_timeout: 5s}\n")
	body, _ := os.ReadFile(filepath.Join(dir, "syncs.yml"))
	schedule := strings.Replace(string(body), "    key: email\n    mapping: {email: {from: email, transform: email}}\n",
		"    key: email\n    mapping: {email: {from: email, transform: email}}\n    schedule: \"@every 1s\"\n", 1)
	if schedule == string(body) {
		t.Fatal("could not add a schedule")
	}
	if err := os.WriteFile(filepath.Join(dir, "syncs.yml"), []byte(schedule), 0o644); err != nil {
		t.Fatal(err)
	}

	addr := make(chan string, 1)
	onListen = func(a string) { addr <- a }
	defer func() { onListen = func(string) {} }()
	ctx, cancel := context.WithCancel(context.Background())
	var logs lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"run", "--project", dir, "--listen", "127.0.0.1:0", "--log-format", "json"}, io.Discard, &logs)
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case code := <-done:
		t.Fatalf("run exited with %d:\n%s", code, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("run did not listen")
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitUntil(t, "a scheduled run", func() bool { return len(srv.Records()) > 0 && strings.Contains(logs.String(), `"msg":"sync finished"`) })
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _, errs := sluice(t, "healthcheck", "--url", base+"/healthz"); code != 0 {
		t.Errorf("healthcheck: exit %d %s", code, errs)
	}
	if code, _, _ := sluice(t, "healthcheck", "--url", base+"/nowhere"); code != exitFailure {
		t.Errorf("healthcheck of a 404: exit %d", code)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `sluice_sync_runs_total{outcome="succeeded",sync="to_hook"}`) ||
		!strings.Contains(body, `sluice_destination_requests_total{code="200",destination="hook"}`) {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	if code, body := get("/status"); code != 200 || !strings.Contains(body, "to_hook") || !strings.Contains(body, "@every 1s") {
		t.Errorf("/status: %d\n%s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/syncs/to_file/run?wait=true", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("trigger without a token: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/syncs/to_file/run?wait=true", nil)
	req.Header.Set("Authorization", "Bearer trigger-0123456789abcdef")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Status, RunID string }
	_ = json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != 200 || res.Status != "succeeded" {
		t.Errorf("trigger: %d %+v", resp.StatusCode, res)
	}

	// Between ticks the file is free: a sync by hand runs (or, if it
	// lands on a tick, is told the sync is running).
	waitUntil(t, "a sync by hand", func() bool {
		code, _, _ := sluice(t, "sync", "to_file", "--skip-build", "--project", dir)
		return code == 0
	})

	// Another process holds the file: ticks are skipped, not failed.
	db := filepath.Join(dir, ".sluice", "w.duckdb")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldWarehouse$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_HOLD_DB="+db)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	// The helper can only open the file while the daemon is idle.
	var holding bool
	for attempt := 0; attempt < 20 && !holding; attempt++ {
		cmd = exec.Command(os.Args[0], "-test.run=^TestHelperHoldWarehouse$")
		cmd.Env = append(os.Environ(), "SLUICE_TEST_HOLD_DB="+db)
		stdin, _ = cmd.StdinPipe()
		stdout, _ = cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		holding = sc.Scan() && sc.Text() == "holding"
		if !holding {
			stdin.Close()
			_ = cmd.Wait()
		}
	}
	if !holding {
		t.Fatal("the helper process never got the database file")
	}
	waitUntil(t, "a tick skipped while the file is held", func() bool { return strings.Contains(logs.String(), `"reason":"warehouse_busy"`) })
	stdin.Close()
	_ = cmd.Wait()

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run exited with %d:\n%s", code, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("run did not stop")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean stop in the logs:\n%s", logs.String())
	}
	for _, secret := range []string{"tok\"", "trigger-0123456789abcdef"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs show a secret (%s)", secret)
		}
	}
	// The run history is readable once the daemon is gone.
	if code, out, errs := sluice(t, "runs", "to_hook", "--project", dir); code != 0 || !strings.Contains(out, "succeeded") {
		t.Errorf("runs: exit %d\n%s%s", code, out, errs)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
