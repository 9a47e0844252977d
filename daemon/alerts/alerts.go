// Package alerts tells webhooks about syncs in trouble: a run that failed
// (or that the removal guard refused), a run whose rejected share is above a
// threshold, a sync without a success for longer than a number of its
// schedule's intervals, and, for the project, an erasure request still
// open past its deadline. Each condition is announced once when it starts and
// once when it clears (a recovery notice), never in between.
//
// Two payloads: a generic JSON document (type webhook) and a
// Slack-compatible message {"text": ...} (type slack, which Mattermost,
// Rocket.Chat and others accept too).
package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/config"
)

// States of a condition.
const (
	Firing   = "firing"
	Resolved = "resolved"
)

// Notice is the generic JSON payload of type webhook.
type Notice struct {
	Alert   string         `json:"alert"`
	Project string         `json:"project"`
	Sync    string         `json:"sync"`  // "" for erasure_overdue, about the project
	Event   string         `json:"event"` // failed, rejections, stale, erasure_overdue
	State   string         `json:"state"` // firing, resolved
	Message string         `json:"message"`
	RunID   string         `json:"run_id,omitempty"`
	At      time.Time      `json:"at"`
	Details map[string]any `json:"details,omitempty"`
}

// Outcome is a finished run, as the alerts see it.
type Outcome struct {
	Sync     string
	RunID    string
	Failed   bool // failed, or refused by the removal guard
	Sent     int64
	Rejected int64
	Error    string // already free of personal data
	At       time.Time
}

// Timing tells when a scheduled sync last succeeded.
type Timing struct {
	Sync        string
	LastSuccess time.Time // or, before any success, when watching began
	Running     bool
	// After returns the n-th scheduled time after t.
	After func(t time.Time, n int) time.Time
}

// Options configure a Manager.
type Options struct {
	Project string
	Client  *http.Client // default: 10s timeout
	Logger  *slog.Logger
	// Sent is told about every notice, for metrics: outcome sent or failed.
	Sent func(alert, event, outcome string)
}

type key struct{ alert, sync, event string }

// Manager keeps the state of every condition and sends the changes.
type Manager struct {
	o      Options
	mu     sync.Mutex
	alerts []config.Alert
	firing map[key]bool
}

// New returns a manager for the project's alerts.
func New(alerts []config.Alert, o Options) *Manager {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{o: o, alerts: alerts, firing: map[key]bool{}}
}

// Update replaces the alerts after a configuration reload; the state of
// alerts that kept their name carries over, so nothing is announced twice.
func (m *Manager) Update(alerts []config.Alert) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := map[string]bool{}
	for _, a := range alerts {
		names[a.Name] = true
	}
	for k := range m.firing {
		if !names[k.alert] {
			delete(m.firing, k)
		}
	}
	m.alerts = alerts
}

// Firing lists the conditions of a sync that are on, as "alert: event".
func (m *Manager) Firing(sync string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, a := range m.alerts {
		for _, e := range config.AlertEvents {
			if m.firing[key{a.Name, sync, e}] {
				out = append(out, a.Name+": "+e)
			}
		}
	}
	return out
}

// RunFinished updates the failed and rejections conditions of a sync after
// one of its runs went through, failed or was refused.
func (m *Manager) RunFinished(ctx context.Context, o Outcome) {
	share := 0.0
	if o.Sent > 0 {
		share = float64(o.Rejected) / float64(o.Sent)
	}
	var out []pending
	m.mu.Lock()
	for _, a := range m.alerts {
		if !a.Watches(o.Sync) {
			continue
		}
		if a.On(config.AlertFailed) {
			msg := fmt.Sprintf("sync %s failed: %s", o.Sync, o.Error)
			if !o.Failed {
				msg = fmt.Sprintf("sync %s ran successfully again", o.Sync)
			}
			out = m.change(out, a, o.Sync, config.AlertFailed, o.Failed, msg, o.RunID, o.At, map[string]any{"error": o.Error})
		}
		// A failed run says nothing about its rejections.
		if a.On(config.AlertRejections) && !o.Failed {
			over := share > a.Share()
			msg := fmt.Sprintf("sync %s: the destination rejected %d of %d records (%.1f%%, above %s); they are retried next run", o.Sync, o.Rejected, o.Sent, 100*share, cmpOr(a.RejectedShare, config.DefaultRejectedShare))
			if !over {
				msg = fmt.Sprintf("sync %s: rejections back under %s (%d of %d records)", o.Sync, cmpOr(a.RejectedShare, config.DefaultRejectedShare), o.Rejected, o.Sent)
			}
			out = m.change(out, a, o.Sync, config.AlertRejections, over, msg, o.RunID, o.At,
				map[string]any{"sent": o.Sent, "rejected": o.Rejected, "share": share, "threshold": a.Share()})
		}
	}
	m.mu.Unlock()
	m.deliver(ctx, out)
}

// CheckStale updates the stale condition of scheduled syncs at now.
func (m *Manager) CheckStale(ctx context.Context, now time.Time, syncs []Timing) {
	var out []pending
	m.mu.Lock()
	for _, s := range syncs {
		if s.After == nil || s.LastSuccess.IsZero() {
			continue
		}
		for _, a := range m.alerts {
			if !a.Watches(s.Sync) || !a.On(config.AlertStale) {
				continue
			}
			deadline := s.After(s.LastSuccess, a.Intervals())
			k := key{a.Name, s.Sync, config.AlertStale}
			stale := now.After(deadline)
			if stale && s.Running && !m.firing[k] {
				continue // the run in progress may yet succeed
			}
			msg := fmt.Sprintf("sync %s has not succeeded since %s (%d scheduled runs missed or failed)", s.Sync, s.LastSuccess.UTC().Format(time.RFC3339), a.Intervals())
			if !stale {
				msg = fmt.Sprintf("sync %s is on schedule again", s.Sync)
			}
			out = m.change(out, a, s.Sync, config.AlertStale, stale, msg, "", now,
				map[string]any{"last_success": s.LastSuccess.UTC(), "deadline": deadline.UTC()})
		}
	}
	m.mu.Unlock()
	m.deliver(ctx, out)
}

// OverdueErasure is an erasure request still open past its deadline, as
// the alerts see it: its id and where it waits, never an identifier.
type OverdueErasure struct {
	ID       string
	Deadline time.Time
	// Pending lists the syncs (and their destinations) still to confirm,
	// as "sync (destination)"; none: everything is sent and the request
	// waits for the next build.
	Pending []string
}

// CheckErasures updates the erasure_overdue condition of the project: on
// while any request is overdue. A request falling overdue while another
// already is announces nothing new.
func (m *Manager) CheckErasures(ctx context.Context, now time.Time, overdue []OverdueErasure) {
	on := len(overdue) > 0
	msg := "no erasure request is past its deadline any more"
	var details map[string]any
	if on {
		ids := make([]string, 0, len(overdue))
		parts := make([]string, 0, len(overdue))
		var dests []string
		for _, o := range overdue {
			ids = append(ids, o.ID)
			where := "waiting for the next build"
			if len(o.Pending) > 0 {
				where = "pending at " + strings.Join(o.Pending, ", ")
				for _, p := range o.Pending {
					if !slices.Contains(dests, p) {
						dests = append(dests, p)
					}
				}
			}
			parts = append(parts, fmt.Sprintf("%s (deadline %s; %s)", o.ID, o.Deadline.UTC().Format(time.DateOnly), where))
		}
		noun := "erasure request is"
		if len(overdue) > 1 {
			noun = "erasure requests are"
		}
		msg = fmt.Sprintf("%d %s past the deadline: %s; see sluice erasures", len(overdue), noun, strings.Join(parts, ", "))
		details = map[string]any{"requests": ids, "pending": dests}
	}
	var out []pending
	m.mu.Lock()
	for _, a := range m.alerts {
		// The deadline is the project's, whatever syncs the alert lists.
		if a.On(config.AlertErasureOverdue) {
			out = m.change(out, a, "", config.AlertErasureOverdue, on, msg, "", now, details)
		}
	}
	m.mu.Unlock()
	m.deliver(ctx, out)
}

type pending struct {
	a config.Alert
	n Notice
}

// change records a condition's new value and queues a notice when it
// changed. A condition that is off from the start announces nothing.
func (m *Manager) change(out []pending, a config.Alert, sync, event string, on bool, msg, runID string, at time.Time, details map[string]any) []pending {
	k := key{a.Name, sync, event}
	if m.firing[k] == on {
		return out
	}
	m.firing[k] = on
	state := Resolved
	if on {
		state = Firing
	}
	return append(out, pending{a, Notice{Alert: a.Name, Project: m.o.Project, Sync: sync, Event: event, State: state,
		Message: msg, RunID: runID, At: at.UTC(), Details: details}})
}

func (m *Manager) deliver(ctx context.Context, ps []pending) {
	for _, p := range ps {
		err := m.post(ctx, p.a, p.n)
		outcome := "sent"
		if err != nil {
			outcome = "failed"
			// The URL is a secret: name the alert, never the address.
			m.o.Logger.Error("sending an alert", "alert", p.a.Name, "sync", p.n.Sync, "event", p.n.Event, "state", p.n.State, "error", err)
		} else {
			m.o.Logger.Info("alert sent", "alert", p.a.Name, "sync", p.n.Sync, "event", p.n.Event, "state", p.n.State)
		}
		if m.o.Sent != nil {
			m.o.Sent(p.a.Name, p.n.Event, outcome)
		}
	}
}

// Body renders a notice in the alert's format.
func Body(a config.Alert, n Notice) ([]byte, error) {
	if a.Kind() == "slack" {
		icon := ":red_circle:"
		if n.State == Resolved {
			icon = ":large_green_circle:"
		}
		text := fmt.Sprintf("%s *sluice %s* — %s %s: %s", icon, n.Project, n.Event, n.State, n.Message)
		if n.RunID != "" {
			text += fmt.Sprintf(" (run `%s`)", n.RunID)
		}
		return json.Marshal(map[string]string{"text": text})
	}
	return json.Marshal(n)
}

// post sends a notice, retrying a failed attempt twice.
func (m *Manager) post(ctx context.Context, a config.Alert, n Notice) error {
	body, err := Body(a, n)
	if err != nil {
		return err
	}
	// The URL and token are secrets (from the environment): Go's errors
	// quote the URL (Post "URL": ...) and DNS errors its host, and an
	// answer may echo either.
	hide := config.NewRedactor(string(a.URL), string(a.BearerToken))
	var last error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(a.URL), bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("building the request: invalid url")
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "sluice")
		if a.BearerToken != "" {
			req.Header.Set("Authorization", "Bearer "+string(a.BearerToken))
		}
		resp, err := m.o.Client.Do(req)
		if err != nil {
			last = fmt.Errorf("posting to the alert's url: %w", hide.Error(err))
			continue
		}
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("the alert's url answered HTTP %d: %s", resp.StatusCode, hide.Redact(strings.TrimSpace(string(snippet))))
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return last
		}
	}
	return last
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
