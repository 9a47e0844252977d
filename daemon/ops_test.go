package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/daemon/alerts"
	"github.com/sluicehq/sluice/daemon/status"
	"github.com/sluicehq/sluice/sync/engine"
)

func do(t *testing.T, method, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTriggerAndLocks: the trigger needs the bearer token; a sync run by
// hand and the daemon's run of the same sync exclude each other through the
// state store's lock, whichever starts first.
func TestTriggerAndLocks(t *testing.T) {
	e := newEnv(t, "", twoSyncs, 25)
	d := e.start(e.clock, nil)
	srv := httptest.NewServer(d.d.Handler())
	defer srv.Close()
	good := e.vars["TRIGGER_TOKEN"]
	tests := []struct {
		name, method, path, bearer string
		code                       int
		body                       string
	}{
		{"no token", "POST", "/syncs/quarter/run", "", 401, "missing or wrong bearer token"},
		{"wrong token", "POST", "/syncs/quarter/run", good + "x", 401, "missing or wrong bearer token"},
		{"prefix of the token", "POST", "/syncs/quarter/run", good[:10], 401, "missing or wrong bearer token"},
		{"GET is not a trigger", "GET", "/syncs/quarter/run", good, 405, ""},
		{"unknown sync", "POST", "/syncs/nope/run", good, 404, "unknown sync nope"},
		{"run and wait", "POST", "/syncs/quarter/run?wait=true", good, 200, `"status":"succeeded"`},
		{"health", "GET", "/healthz", "", 200, "ok"},
		{"ready", "GET", "/readyz", "", 200, `"ready":true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, tt.method, srv.URL+tt.path, tt.bearer)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("%s %s: %d %s, want %d %q", tt.method, tt.path, code, body, tt.code, tt.body)
			}
		})
	}
	if runs := e.runs("quarter"); runs["succeeded"] != 1 {
		t.Fatalf("runs after the trigger: %v", runs)
	}

	// The daemon runs quarter (held at the destination); a run by hand is
	// refused by the lock.
	e.p.Exec(t, "UPDATE raw.people SET name = name || '!'")
	e.hook.hold(0)
	code, body := do(t, "POST", srv.URL+"/syncs/quarter/run", good)
	if code != 202 {
		t.Fatalf("trigger: %d %s", code, body)
	}
	<-e.hook.waiting
	if code, body := do(t, "POST", srv.URL+"/syncs/quarter/run", good); code != 409 || !strings.Contains(body, "never overlaps itself") {
		t.Errorf("second trigger while running: %d %s", code, body)
	}
	_, err := e.p.NewEngine(t).Sync(context.Background(), "quarter", engine.SyncOptions{})
	if !engine.IsLocked(err) {
		t.Errorf("a run by hand while the daemon runs: %v, want the lock", err)
	}
	e.hook.open()
	d.d.WaitIdle()

	// A run by hand holds the lock; the daemon's tick skips the sync.
	e.p.Exec(t, "UPDATE raw.people SET name = name || '?'")
	e.hook.hold(0)
	manual := make(chan error, 1)
	go func() {
		_, err := e.p.NewEngine(t).Sync(context.Background(), "quarter", engine.SyncOptions{})
		manual <- err
	}()
	<-e.hook.waiting
	tick(t, e.clock, t0.Add(15*time.Minute), d)
	if got := counter(t, d.m, "sluice_sync_skipped_total", map[string]string{"sync": "quarter", "reason": "locked"}); got != 1 {
		t.Errorf("skipped as locked: %v, want 1", got)
	}
	if s := d.d.Status().Syncs[0]; !strings.Contains(s.LastSkip, "running elsewhere") {
		t.Errorf("status last skip: %q", s.LastSkip)
	}
	e.hook.open()
	if err := <-manual; err != nil {
		t.Fatal(err)
	}
	if runs := e.runs("quarter"); runs["succeeded"] != 3 || len(runs) != 1 {
		t.Errorf("runs: %v, want 3 successes and nothing else", runs)
	}
}

// TestReload: a valid configuration replaces the schedules; an invalid one
// is reported and the running one stays in force.
func TestReload(t *testing.T) {
	e := newEnv(t, "", twoSyncs, 5)
	d := e.start(e.clock, nil)
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(e.p.Dir, "p.yml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		file    string
		wantErr bool
		next    map[string]time.Duration // from t0; 0: not scheduled
	}{
		{"schedule changed, sync added", strings.Replace(twoSyncs, `"*/15 * * * *"`, `"*/5 * * * *"`, 1) +
			"  - {name: extra, from: source.people, to: hook, key: email, schedule: \"@every 2m\"}\n", false,
			map[string]time.Duration{"quarter": 5 * time.Minute, "hourly": time.Hour, "extra": 2 * time.Minute}},
		{"invalid YAML", "syncs: [", true, map[string]time.Duration{"quarter": 5 * time.Minute, "hourly": time.Hour, "extra": 2 * time.Minute}},
		{"unknown destination", strings.Replace(twoSyncs, "to: hook, key: ref", "to: hoook, key: ref", 1), true,
			map[string]time.Duration{"quarter": 5 * time.Minute, "hourly": time.Hour, "extra": 2 * time.Minute}},
		{"sync removed, schedule dropped", strings.Replace(strings.Replace(twoSyncs, `, schedule: "@hourly"`, "", 1), `"*/15 * * * *"`, `"*/5 * * * *"`, 1), false,
			map[string]time.Duration{"quarter": 5 * time.Minute, "hourly": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(tt.file)
			err := d.d.Reload()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Reload: %v, want error %v", err, tt.wantErr)
			}
			got := map[string]time.Duration{}
			for _, s := range d.d.Status().Syncs {
				if s.NextRun != nil {
					got[s.Name] = s.NextRun.Sub(t0)
				} else {
					got[s.Name] = 0
				}
			}
			if len(got) != len(tt.next) {
				t.Errorf("syncs on the status page: %v, want %v", got, tt.next)
			}
			for name, want := range tt.next {
				if got[name] != want {
					t.Errorf("next run of %s: +%s, want +%s", name, got[name], want)
				}
			}
		})
	}
	if got := counter(t, d.m, "sluice_config_reloads_total", map[string]string{"outcome": "invalid"}); got != 2 {
		t.Errorf("invalid reloads counted: %v", got)
	}
	if !strings.Contains(d.logs.String(), "unknown destination") {
		t.Errorf("the invalid project's problem is not logged:\n%s", d.logs.String())
	}
	// The reloaded schedule is the one that fires.
	tick(t, e.clock, t0.Add(5*time.Minute), d)
	if runs := e.runs("quarter"); runs["succeeded"] != 1 {
		t.Errorf("quarter at 08:05: %v", runs)
	}
}

// alertSink collects alert notices.
type alertSink struct {
	mu     sync.Mutex
	bodies []map[string]any
	srv    *httptest.Server
	auth   []string
}

func newAlertSink(t *testing.T) *alertSink {
	s := &alertSink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		s.mu.Lock()
		s.bodies = append(s.bodies, m)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *alertSink) take() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.bodies
	s.bodies = nil
	return out
}

// TestMetricsStatusAndAlerts runs real syncs (a rejection, a 429, a
// failure, a recovery) and checks what the metrics, the status page and the
// alert webhooks say.
func TestMetricsStatusAndAlerts(t *testing.T) {
	files := twoSyncs + `alerts:
  - {name: ops, url: "${ALERT_URL}", bearer_token: "${ALERT_TOKEN}", syncs: [quarter], rejected_share: 10%, stale_intervals: 2}
  - {name: chat, type: slack, url: "${SLACK_URL}", events: [failed], syncs: [quarter]}
`
	generic, slack := newAlertSink(t), newAlertSink(t)
	e := newEnvWith(t, "", files, 10, map[string]string{"ALERT_URL": generic.srv.URL, "ALERT_TOKEN": "alert-token", "SLACK_URL": slack.srv.URL})
	d := e.start(e.clock, nil)

	// Tick 1: two of ten records rejected (20% > 10%), one 429 answered.
	e.hook.RejectKeys("mailbox unknown", "person1@example.com", "person2@example.com")
	e.hook.SetFaults(fake.Faults{Script: []string{"429"}, RetryAfter: "0"})
	tick(t, e.clock, t0.Add(15*time.Minute), d)
	// Tick 2: the destination refuses the credentials: failed.
	e.vars["HOOK_TOKEN"] = "revoked"
	if err := d.d.Reload(); err != nil {
		t.Fatal(err)
	}
	tick(t, e.clock, t0.Add(30*time.Minute), d)
	// Tick 3: failing again: nothing new is announced.
	tick(t, e.clock, t0.Add(45*time.Minute), d)
	// Tick 4 (with hourly): a pause long enough for staleness, then
	// everything works again.
	e.vars["HOOK_TOKEN"] = token
	e.hook.RejectKeys("", "person1@example.com", "person2@example.com")
	if err := d.d.Reload(); err != nil {
		t.Fatal(err)
	}

	type note struct{ event, state string }
	got := func(bodies []map[string]any) []note {
		var out []note
		for _, b := range bodies {
			out = append(out, note{b["event"].(string), b["state"].(string)})
		}
		return out
	}
	if n := got(generic.take()); len(n) != 2 || n[0] != (note{"rejections", "firing"}) || n[1] != (note{"failed", "firing"}) {
		t.Errorf("generic notices after three ticks: %v", n)
	}
	// Stale: the last success was 08:15; two intervals later is 08:45:
	// stale at the 09:00 wake-up, then resolved by that tick's success.
	tick(t, e.clock, t0.Add(60*time.Minute), d)
	n := got(generic.take())
	want := []note{{"stale", "firing"}, {"failed", "resolved"}, {"rejections", "resolved"}, {"stale", "resolved"}}
	if len(n) != len(want) {
		t.Fatalf("notices at 09:00: %v, want %v", n, want)
	}
	for _, w := range want {
		found := false
		for _, x := range n {
			found = found || x == w
		}
		if !found {
			t.Errorf("notices at 09:00: %v, want %v among them", n, w)
		}
	}
	slackBodies := slack.take()
	if len(slackBodies) != 2 || !strings.Contains(slackBodies[0]["text"].(string), "failed firing") || !strings.Contains(slackBodies[1]["text"].(string), "failed resolved") {
		t.Errorf("slack notices: %v", slackBodies)
	}
	for _, a := range generic.auth {
		if a != "Bearer alert-token" {
			t.Errorf("generic alert sent with Authorization %q", a)
		}
	}

	// Metrics, from the registry and as scraped.
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_sync_runs_total", map[string]string{"sync": "quarter", "outcome": "rejected"}, 1},
		{"sluice_sync_runs_total", map[string]string{"sync": "quarter", "outcome": "failed"}, 2},
		{"sluice_sync_runs_total", map[string]string{"sync": "quarter", "outcome": "succeeded"}, 1},
		{"sluice_sync_records_total", map[string]string{"sync": "quarter", "operation": "upsert", "outcome": "accepted"}, 10},
		{"sluice_sync_records_total", map[string]string{"sync": "quarter", "operation": "upsert", "outcome": "rejected"}, 2},
		{"sluice_destination_rate_limited_total", map[string]string{"destination": "hook"}, 1},
		{"sluice_destination_requests_total", map[string]string{"destination": "hook", "code": "401"}, 2},
		{"sluice_sync_run_duration_seconds", map[string]string{"sync": "quarter"}, 4},
		{"sluice_sync_last_success_timestamp_seconds", map[string]string{"sync": "quarter"}, float64(t0.Add(60 * time.Minute).Unix())},
		{"sluice_alerts_sent_total", map[string]string{"alert": "ops", "event": "failed", "outcome": "sent"}, 2},
	}
	for _, c := range checks {
		if got := counter(t, d.m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	srv := httptest.NewServer(d.d.Handler())
	defer srv.Close()
	_, text := do(t, "GET", srv.URL+"/metrics", "")
	for _, line := range []string{
		`sluice_sync_runs_total{outcome="failed",sync="quarter"} 2`,
		`sluice_destination_rate_limited_total{destination="hook"} 1`,
		`# TYPE sluice_sync_run_duration_seconds histogram`,
		`sluice_sync_last_success_timestamp_seconds{sync="hourly"}`,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	// Status page: HTML and JSON agree, keys are masked, text is escaped.
	_, js := do(t, "GET", srv.URL+"/status.json", "")
	var page status.Page
	if err := json.Unmarshal([]byte(js), &page); err != nil {
		t.Fatal(err)
	}
	q := page.Syncs[0]
	if q.Name != "quarter" || q.LastRun == nil || q.LastRun.Status != "succeeded" || q.LastSuccess == nil || q.PendingRejections != 0 || q.Schedule != "*/15 * * * *" {
		t.Errorf("status of quarter: %+v", q)
	}
	code, html := do(t, "GET", srv.URL+"/status", "")
	for _, want := range []string{`<section class="sync ok" id="quarter">`, "<code>*/15 * * * *</code>", "<code>@hourly</code>",
		"<dt>next run</dt><dd>2030-01-07 09:15:00Z (in 15m)</dd>", "+0 ~2 −0; sent 2, accepted 2, rejected 0", `name="viewport"`} {
		if code != 200 || !strings.Contains(html, want) {
			t.Errorf("status page lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<script") || strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Error("the status page loads something external or runs a script")
	}
}

// TestStatusShowsRejectionsMasked checks the rejections on the status page.
func TestStatusShowsRejectionsMasked(t *testing.T) {
	e := newEnv(t, "", twoSyncs, 3)
	d := e.start(e.clock, nil)
	e.hook.RejectKeys(`<b>bad</b> "person1@example.com" refused`, "person1@example.com")
	tick(t, e.clock, t0.Add(15*time.Minute), d)
	srv := httptest.NewServer(d.d.Handler())
	defer srv.Close()
	_, html := do(t, "GET", srv.URL+"/status", "")
	_, js := do(t, "GET", srv.URL+"/status.json", "")
	for _, body := range []string{html, js} {
		if strings.Contains(body, "person1@example.com") {
			t.Errorf("the status page shows a raw key:\n%s", body)
		}
		if !strings.Contains(body, "p***@e***.com") {
			t.Errorf("the status page lacks the masked key:\n%s", body)
		}
	}
	if strings.Contains(html, "<b>bad</b>") || !strings.Contains(html, "&lt;b&gt;bad&lt;/b&gt;") {
		t.Errorf("the error text is not escaped:\n%s", html)
	}
	if strings.Contains(d.logs.String(), "person1@example.com") {
		t.Errorf("the logs show a record key:\n%s", d.logs.String())
	}
}

// TestAlertTransitions checks the alert state machine on its own: notices
// on changes only, thresholds per alert, filters by sync and event.
func TestAlertTransitions(t *testing.T) {
	sink := newAlertSink(t)
	a := []config.Alert{
		{Name: "all", URL: config.Secret(sink.srv.URL)},
		{Name: "strict", URL: config.Secret(sink.srv.URL), RejectedShare: "0%", Events: []string{"rejections"}, Syncs: []string{"s"}},
	}
	m := alerts.New(a, alerts.Options{Project: "p"})
	ctx := context.Background()
	steps := []struct {
		o    alerts.Outcome
		want []string // alert/event/state
	}{
		{alerts.Outcome{Sync: "s", Sent: 100}, nil},
		{alerts.Outcome{Sync: "s", Sent: 100, Rejected: 1}, []string{"strict/rejections/firing"}},
		{alerts.Outcome{Sync: "s", Sent: 100, Rejected: 6}, []string{"all/rejections/firing"}},
		{alerts.Outcome{Sync: "s", Failed: true, Error: "boom"}, []string{"all/failed/firing"}},
		{alerts.Outcome{Sync: "s", Failed: true, Error: "boom"}, nil},
		{alerts.Outcome{Sync: "other", Failed: true}, []string{"all/failed/firing"}},
		{alerts.Outcome{Sync: "s", Sent: 0}, []string{"all/failed/resolved", "all/rejections/resolved", "strict/rejections/resolved"}},
	}
	for i, s := range steps {
		m.RunFinished(ctx, s.o)
		var got []string
		for _, b := range sink.take() {
			got = append(got, b["alert"].(string)+"/"+b["event"].(string)+"/"+b["state"].(string))
		}
		if strings.Join(got, " ") != strings.Join(s.want, " ") {
			t.Errorf("step %d: notices %v, want %v", i+1, got, s.want)
		}
	}
}
