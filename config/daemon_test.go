package config

import (
	"strings"
	"testing"
	"time"
)

const alertBase = `sources:
  - { name: crm, table: raw.crm, primary_key: id }
destinations:
  - { name: d, type: anything }
syncs:
  - { name: to_d, from: source.crm, to: d, schedule: "@hourly" }
`

func TestDaemonAndAlertValidation(t *testing.T) {
	vars := map[string]string{
		"TOKEN": "0123456789abcdef0123", "SHORT": "abc", "EMPTY": "",
		"HOOK": "https://hooks.example.com/T0/B0/xyz", "NOT_URL": "hooks.example.com", "BEARER": "b",
	}
	tests := []struct {
		name   string
		daemon string // appended to sluice.yml
		alerts string // appended to p.yml
		want   []string
	}{
		{"valid", "daemon: {trigger_token: '${TOKEN}', shutdown_timeout: 30s, concurrency: 2}\n", `alerts:
  - {name: slack, type: slack, url: "${HOOK}", events: [failed, stale]}
  - {name: hook, url: "${HOOK}", bearer_token: "${BEARER}", syncs: [to_d], rejected_share: 2.5%, stale_intervals: 1}
`, nil},
		{"literal secrets", "daemon: {trigger_token: letmein-letmein-letmein}\n", "alerts:\n  - {name: a, url: https://hooks.example.com/x}\n",
			[]string{"`url` is a secret: write it as a ${VAR} reference", "`trigger_token` is a secret: write it as a ${VAR} reference"}},
		{"short and empty tokens", "daemon: {trigger_token: '${SHORT}'}\n", "", []string{"trigger_token is too short: use at least 16 random characters"}},
		{"empty token turns triggering off", "daemon: {trigger_token: '${EMPTY}'}\n", "", nil},
		{"bad concurrency and timeout", "daemon: {concurrency: 0, shutdown_timeout: soon}\n", "", []string{"invalid concurrency 0: must be between 1 and 1024", "invalid value \"soon\""}},
		{"misplaced daemon", "", "daemon: {concurrency: 2}\n", []string{"`daemon` belongs in sluice.yml"}},
		{"alert mistakes", "", `alerts:
  - {name: a, type: slak, url: "${HOOK}"}
  - {name: b, url: "${NOT_URL}", syncs: [to_e], events: [fail], rejected_share: "5", stale_intervals: 0}
  - {name: c, type: slack, url: "${HOOK}", bearer_token: "${BEARER}"}
  - {name: a, url: "${HOOK}"}
`, []string{
			"invalid type \"slak\": must be one of webhook, slack",
			"invalid url (value from environment): write an absolute http:// or https:// address",
			"unknown sync `to_e`; did you mean `to_d`?",
			"unknown event `fail` (available: failed, rejections, stale, erasure_overdue)",
			"invalid rejected_share `5`",
			"invalid stale_intervals 0: must be between 1 and 1000",
			"bearer_token applies to type webhook",
			"duplicate alert name `a`",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			files := map[string]string{"sluice.yml": minimalRoot + tt.daemon, "p.yml": alertBase + tt.alerts}
			for _, p := range problems(t, files, vars) {
				if !strings.Contains(p, "unknown destination type `anything`") {
					got = append(got, p)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
			for _, p := range got {
				for _, secret := range []string{vars["TOKEN"], vars["HOOK"], vars["NOT_URL"]} {
					if strings.Contains(p, secret) {
						t.Errorf("a problem echoes a value from the environment: %s", p)
					}
				}
			}
		})
	}
}

func TestDaemonAndAlertDefaults(t *testing.T) {
	var d Daemon
	if d.Shutdown() != time.Minute || d.Workers() != 4 {
		t.Errorf("daemon defaults: %v, %d", d.Shutdown(), d.Workers())
	}
	a := Alert{Name: "a"}
	if a.Kind() != "webhook" || a.Share() != 0.05 || a.Intervals() != 3 || !a.Watches("any") || !a.On(AlertStale) {
		t.Errorf("alert defaults: %s %v %d", a.Kind(), a.Share(), a.Intervals())
	}
	a = Alert{Syncs: []string{"x"}, Events: []string{AlertFailed}, RejectedShare: "12.5%", StaleIntervals: 5}
	if a.Watches("y") || !a.Watches("x") || a.On(AlertStale) || a.Share() != 0.125 || a.Intervals() != 5 {
		t.Errorf("alert settings: %+v", a)
	}
}
