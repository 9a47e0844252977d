package daemon_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/daemon/alerts"

	_ "github.com/sluicehq/sluice/models/all" // identity and profiles stages
)

// erasureRoot is a project with an erasure block reading a requests table.
const erasureRoot = projectRoot + `erasure:
  secret: ${ERASURE_SECRET}
  deadline: 2d
  requests: {table: privacy.requests}
`

// erasureSyncs sends profiles to the webhook twice, keyed by e-mail and
// by the e-mail upper-cased; an alert hears of failures and overdue
// erasures (the clock jumps over days: stale would speak too).
const erasureSyncs = `sources:
  - {name: people, table: raw.people, primary_key: id}
identity:
  entity: person
  id_types: {email: {normalize: email}}
  edges: [{source: people, ids: {email: email}}]
traits:
  email: {pick: email}
  name: {from: people, pick: name, rule: most_frequent}
destinations:
  - {name: hook, type: webhook, url: "${HOOK_URL}", bearer_token: "${HOOK_TOKEN}", rate: 1000, batch_size: 10, concurrency: 1, max_retries: 1, timeout: 5s}
syncs:
  - {name: people, from: profiles, to: hook, key: email, schedule: "@hourly", mapping: {email: email, name: name}}
  - {name: shout, from: profiles, to: hook, key: ref, schedule: "@hourly", mapping: {ref: {from: email, transform: upper}}}
alerts:
  - {name: privacy, url: "${ALERT_URL}", syncs: [people], events: [failed, erasure_overdue]}
`

// newErasureEnv is the env of the erasure tests: five people, an empty
// requests table, and an alert sink.
func newErasureEnv(t *testing.T) (*env, *alertSink) {
	t.Helper()
	sink := newAlertSink(t)
	e := newEnvWith(t, erasureRoot, erasureSyncs, 5, map[string]string{
		"ERASURE_SECRET": "0123456789abcdef-daemon-test", "ALERT_URL": sink.srv.URL})
	e.p.Exec(t, "CREATE SCHEMA privacy", "CREATE TABLE privacy.requests (id_type VARCHAR, id_value VARCHAR, requested_at TIMESTAMP)")
	return e, sink
}

// request adds a row to the requests table.
func (e *env) request(idType, value string, at time.Time) {
	e.p.Exec(e.t, fmt.Sprintf("INSERT INTO privacy.requests VALUES ('%s', '%s', TIMESTAMP '%s')", idType, value, at.UTC().Format("2006-01-02 15:04:05")))
}

// requestIDs lists the erasure requests recorded, oldest first.
func (e *env) requestIDs() []string {
	e.t.Helper()
	rows, err := e.p.W.Query(context.Background(), "SELECT request_id FROM sluice_state.erasure_requests ORDER BY received_at, request_id")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

type notice struct{ event, state string }

func notices(bodies []map[string]any) []notice {
	var out []notice
	for _, b := range bodies {
		out = append(out, notice{fmt.Sprint(b["event"]), fmt.Sprint(b["state"])})
	}
	return out
}

// statusGauges reads sluice_erasure_requests by status.
func statusGauges(t *testing.T, r *running) map[string]float64 {
	out := map[string]float64{}
	for _, s := range []string{"pending", "waiting_for_the_build", "done", "manual_action_needed", "no_match"} {
		out[s] = counter(t, r.m, "sluice_erasure_requests", map[string]string{"status": s})
	}
	return out
}

// TestErasureByScheduledSyncs: a row of the requests table is queued by
// the daemon's build, erased at the webhook by both syncs' next scheduled
// runs, purged, and completed; the metrics follow.
func TestErasureByScheduledSyncs(t *testing.T) {
	e, sink := newErasureEnv(t)
	d := e.start(e.clock, nil)
	steps := []struct {
		name     string
		before   func()
		at       time.Time
		erased   []string
		held     int
		statuses map[string]float64
	}{
		{"first sync, no request", nil, t0.Add(time.Hour), nil, 10,
			map[string]float64{"pending": 0, "done": 0}},
		{"a request is queued, erased by both syncs and completed", func() { e.request("email", " Person2@Example.com", t0) }, t0.Add(2 * time.Hour),
			[]string{"PERSON2@EXAMPLE.COM", "person2@example.com"}, 8, map[string]float64{"pending": 0, "done": 1, "waiting_for_the_build": 0}},
		{"nothing more to erase", nil, t0.Add(3 * time.Hour),
			[]string{"PERSON2@EXAMPLE.COM", "person2@example.com"}, 8, map[string]float64{"pending": 0, "done": 1}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			tick(t, e.clock, s.at, d)
			erased := e.hook.Erased()
			slices.Sort(erased)
			if !slices.Equal(erased, s.erased) {
				t.Errorf("erased at the webhook: %v, want %v", erased, s.erased)
			}
			held := e.hook.Records()
			if len(held) != s.held {
				t.Errorf("the webhook holds %d records, want %d", len(held), s.held)
			}
			for k := range held {
				if len(s.erased) > 0 && strings.EqualFold(k, "person2@example.com") {
					t.Errorf("the webhook still holds %s", k)
				}
			}
			for st, want := range s.statuses {
				if got := statusGauges(t, d)[st]; got != want {
					t.Errorf("sluice_erasure_requests{status=%q} = %v, want %v", st, got, want)
				}
			}
			if got := counter(t, d.m, "sluice_erasures_overdue", nil); got != 0 {
				t.Errorf("sluice_erasures_overdue = %v, want 0", got)
			}
		})
	}
	if ids := e.requestIDs(); len(ids) != 1 {
		t.Fatalf("requests recorded: %v, want one (the table's row is queued once)", ids)
	}
	propagated := d.logs.lines("erasure requests propagated")
	if len(propagated) != 2 {
		t.Fatalf("erasure log lines: %d, want one per sync:\n%s", len(propagated), d.logs.String())
	}
	for _, l := range propagated {
		if l["level"] != "INFO" || l["erased"] != 1.0 || l["failed"] != 0.0 || l["keys"] != 1.0 {
			t.Errorf("erasure log line: %v", l)
		}
	}
	if n := len(d.logs.lines("erasure requests queued from the requests table")); n != 1 {
		t.Errorf("queued log lines: %d, want 1", n)
	}
	if n := len(d.logs.lines("erasure requests completed")); n != 1 {
		t.Errorf("completed log lines: %d, want 1", n)
	}
	if logs := strings.ToLower(d.logs.String()); strings.Contains(logs, "person2@") {
		t.Errorf("the logs show an erased identifier:\n%s", logs)
	}
	if got := counter(t, d.m, "sluice_erasure_attempts_failed_total", map[string]string{"sync": "people"}); got != 0 {
		t.Errorf("failed erasure attempts: %v", got)
	}
	if n := notices(sink.take()); len(n) != 0 {
		t.Errorf("alerts: %v, want none", n)
	}
}

// TestErasureOverdueAlert: a request the webhook keeps failing to erase
// stays pending; once the clock passes its deadline the alert fires once,
// then recovers when the erasure goes through.
func TestErasureOverdueAlert(t *testing.T) {
	e, sink := newErasureEnv(t)
	d := e.start(e.clock, nil)
	tick(t, e.clock, t0.Add(time.Hour), d) // everyone sent
	e.request("email", "person3@example.com", t0)
	e.hook.setFailErase(true)
	var id string
	steps := []struct {
		name          string
		at            time.Time
		fail          bool
		overdue       float64
		failed        float64 // attempts failed at sync people, so far
		pending, done float64
		notices       []notice
	}{
		{"queued, erasure fails, within the deadline", t0.Add(2 * time.Hour), true, 0, 1, 1, 0, nil},
		{"past the deadline: the alert fires", t0.Add(49 * time.Hour), true, 1, 2, 1, 0, []notice{{"erasure_overdue", alerts.Firing}}},
		{"still failing: nothing repeated", t0.Add(50 * time.Hour), true, 1, 3, 1, 0, nil},
		{"the webhook erases again: recovered", t0.Add(51 * time.Hour), false, 0, 3, 0, 1, []notice{{"erasure_overdue", alerts.Resolved}}},
		{"nothing overdue: nothing announced", t0.Add(52 * time.Hour), false, 0, 3, 0, 1, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e.hook.setFailErase(s.fail)
			tick(t, e.clock, s.at, d)
			if id == "" {
				ids := e.requestIDs()
				if len(ids) != 1 {
					t.Fatalf("requests recorded: %v", ids)
				}
				id = ids[0]
			}
			if got := counter(t, d.m, "sluice_erasures_overdue", nil); got != s.overdue {
				t.Errorf("sluice_erasures_overdue = %v, want %v", got, s.overdue)
			}
			if got := counter(t, d.m, "sluice_erasure_attempts_failed_total", map[string]string{"sync": "people"}); got != s.failed {
				t.Errorf("sluice_erasure_attempts_failed_total{sync=people} = %v, want %v", got, s.failed)
			}
			g := statusGauges(t, d)
			if g["pending"] != s.pending || g["done"] != s.done {
				t.Errorf("requests by status: %v, want pending %v, done %v", g, s.pending, s.done)
			}
			bodies := sink.take()
			if n := notices(bodies); !slices.Equal(n, s.notices) {
				t.Fatalf("alert notices: %v, want %v", n, s.notices)
			}
			for _, b := range bodies {
				msg := fmt.Sprint(b["message"])
				if strings.Contains(strings.ToLower(msg), "person3") {
					t.Errorf("the alert names an identifier: %s", msg)
				}
				if b["state"] == alerts.Firing && (!strings.Contains(msg, id) || !strings.Contains(msg, "people (hook)") ||
					!strings.Contains(msg, "shout (hook)") || !strings.Contains(msg, "deadline 2030-01-09")) {
					t.Errorf("the firing notice does not name the request, its deadline and the destinations pending: %s", msg)
				}
			}
		})
	}
	if erased := e.hook.Erased(); len(erased) != 2 {
		t.Errorf("erased at the webhook: %v, want the two keys once each", erased)
	}
	if got := counter(t, d.m, "sluice_alerts_sent_total", map[string]string{"alert": "privacy", "event": "erasure_overdue", "outcome": "sent"}); got != 2 {
		t.Errorf("erasure_overdue notices counted: %v, want 2", got)
	}
	if logs := strings.ToLower(d.logs.String()); strings.Contains(logs, "person3@") {
		t.Errorf("the logs show an erased identifier:\n%s", logs)
	}
}

// TestErasureAlertTransitions checks the erasure_overdue condition on its
// own: about the project (an alert's syncs do not filter it), announced
// when the first request falls overdue and when none is any more.
func TestErasureAlertTransitions(t *testing.T) {
	sink := newAlertSink(t)
	url := config.Secret(sink.srv.URL)
	m := alerts.New([]config.Alert{
		{Name: "all", URL: url, Syncs: []string{"s"}},
		{Name: "failures", URL: url, Events: []string{config.AlertFailed}},
		{Name: "chat", Type: "slack", URL: url, Events: []string{config.AlertErasureOverdue}},
	}, alerts.Options{Project: "p"})
	deadline := t0.Add(-time.Hour)
	r1 := alerts.OverdueErasure{ID: "er_1", Deadline: deadline, Pending: []string{"s (hook)", "t (crm)"}}
	r2 := alerts.OverdueErasure{ID: "er_2", Deadline: deadline}
	steps := []struct {
		overdue []alerts.OverdueErasure
		want    []string // alert/state
		text    []string // in every notice's message or text
	}{
		{nil, nil, nil},
		{[]alerts.OverdueErasure{r1}, []string{"all/firing", "chat/firing"}, []string{"er_1", "s (hook), t (crm)", "deadline 2030-01-07"}},
		{[]alerts.OverdueErasure{r1, r2}, nil, nil},
		{[]alerts.OverdueErasure{r2}, nil, nil},
		{nil, []string{"all/resolved", "chat/resolved"}, []string{"no erasure request is past its deadline"}},
		{nil, nil, nil},
	}
	for i, s := range steps {
		m.CheckErasures(context.Background(), t0, s.overdue)
		var got []string
		for _, b := range sink.take() {
			text := fmt.Sprint(b["message"], b["text"])
			if b["text"] != nil {
				got = append(got, "chat/"+map[bool]string{true: "firing", false: "resolved"}[strings.Contains(text, "erasure_overdue firing")])
			} else {
				got = append(got, fmt.Sprint(b["alert"], "/", b["state"]))
				if b["event"] != config.AlertErasureOverdue || b["sync"] != "" {
					t.Errorf("step %d: notice %v, want event erasure_overdue about no sync", i+1, b)
				}
			}
			for _, want := range s.text {
				if !strings.Contains(text, want) {
					t.Errorf("step %d: notice %q lacks %q", i+1, text, want)
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, s.want) {
			t.Errorf("step %d: notices %v, want %v", i+1, got, s.want)
		}
		if f := m.Firing("s"); len(f) != 0 {
			t.Errorf("step %d: conditions of sync s: %v, want none (the deadline is the project's)", i+1, f)
		}
	}
}

// TestErasureSecretChecksFailTheBuild: once someone was erased, a build
// without the secret, or with another one, could bring them back: the
// daemon's build fails, and so do the batch's syncs, until it is restored.
func TestErasureSecretChecksFailTheBuild(t *testing.T) {
	e, _ := newErasureEnv(t)
	d := e.start(e.clock, nil)
	good := e.vars["ERASURE_SECRET"]
	tick(t, e.clock, t0.Add(time.Hour), d)
	e.request("email", "person4@example.com", t0)
	tick(t, e.clock, t0.Add(2*time.Hour), d)
	if got := statusGauges(t, d)["done"]; got != 1 {
		t.Fatalf("requests done after the second tick: %v", got)
	}
	steps := []struct {
		name, secret string
		failed       int64  // failed runs of people so far
		problem      string // in the last "build failed" line; "" none
	}{
		{"secret unset", "", 1, "erasure.secret is empty"},
		{"another secret", "another-secret-0123456789abcdef", 2, "not the secret earlier erasure requests were recorded with"},
		{"secret restored", good, 2, ""},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e.vars["ERASURE_SECRET"] = s.secret
			if err := d.d.Reload(); err != nil {
				t.Fatal(err)
			}
			tick(t, e.clock, t0.Add(time.Duration(i+3)*time.Hour), d)
			// A run that could not start (its build failed) is counted,
			// not logged in the state store.
			failed := counter(t, d.m, "sluice_sync_runs_total", map[string]string{"sync": "people", "outcome": "failed"})
			if ok := e.runs("people")["succeeded"]; int64(failed) != s.failed || ok != int64(i+3)-s.failed {
				t.Errorf("runs of people: %v failed, %d succeeded; want %d failed", failed, ok, s.failed)
			}
			lines := d.logs.lines("build failed")
			if s.problem == "" {
				if len(lines) != int(s.failed) {
					t.Errorf("build failures logged: %d, want %d", len(lines), s.failed)
				}
				return
			}
			if len(lines) == 0 || !strings.Contains(fmt.Sprint(lines[len(lines)-1]["error"]), s.problem) {
				t.Errorf("build failures logged: %v, want the last to say %q", lines, s.problem)
			}
		})
	}
	if logs := d.logs.String(); strings.Contains(logs, good) || strings.Contains(logs, "another-secret") {
		t.Error("the logs show an erasure secret")
	}
}

// TestErasureWithoutSecretBeforeAnyErasure: with the secret unset and
// nobody erased yet, builds and syncs run; the requests table waits, and
// each build says so.
func TestErasureWithoutSecretBeforeAnyErasure(t *testing.T) {
	sink := newAlertSink(t)
	e := newEnvWith(t, erasureRoot, erasureSyncs, 5, map[string]string{"ERASURE_SECRET": "", "ALERT_URL": sink.srv.URL})
	e.p.Exec(t, "CREATE SCHEMA privacy", "CREATE TABLE privacy.requests (id_type VARCHAR, id_value VARCHAR, requested_at TIMESTAMP)")
	e.request("email", "person1@example.com", t0)
	d := e.start(e.clock, nil)
	for i := 1; i <= 2; i++ {
		tick(t, e.clock, t0.Add(time.Duration(i)*time.Hour), d)
		if got := e.runs("people")["succeeded"]; got != int64(i) {
			t.Errorf("tick %d: %d successful runs of people, want %d", i, got, i)
		}
		if n := len(d.logs.lines("erasure.secret is empty: the erasure requests table is not read until it is set")); n != i {
			t.Errorf("tick %d: %d warnings about the secret, want one per build", i, n)
		}
	}
	if n := len(e.hook.Records()); n != 10 {
		t.Errorf("the webhook holds %d records, want everyone through both syncs", n)
	}
	if len(e.hook.Erased()) != 0 || e.p.Int(t, "SELECT count(*) FROM sluice_state.erasure_requests") != 0 {
		t.Error("a request was taken in without the secret")
	}
}
