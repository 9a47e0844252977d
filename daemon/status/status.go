// Package status renders the daemon's status page: every sync with its
// schedule, next and last run, last outcome, counts and latest rejections,
// as server-rendered HTML (no script, no external asset, readable on a
// phone) and as the same data in JSON.
package status

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// Page is what the status page shows.
type Page struct {
	Project     string    `json:"project"`
	Version     string    `json:"version"`
	StartedAt   time.Time `json:"started_at"`
	GeneratedAt time.Time `json:"generated_at"`
	Ready       bool      `json:"ready"`
	TimeZone    string    `json:"time_zone"`
	Syncs       []Sync    `json:"syncs"`
}

// Sync is one sync's line.
type Sync struct {
	Name         string     `json:"name"`
	From         string     `json:"from"`
	Destination  string     `json:"destination"`
	Mode         string     `json:"mode"`
	Schedule     string     `json:"schedule,omitempty"`
	NextRun      *time.Time `json:"next_run,omitempty"`
	Running      bool       `json:"running"`
	RunningSince *time.Time `json:"running_since,omitempty"`
	LastRun      *Run       `json:"last_run,omitempty"`
	LastSuccess  *time.Time `json:"last_success,omitempty"`
	// LastSkip says why the latest scheduled run did not start, if it did
	// not (running elsewhere, warehouse busy...).
	LastSkip          string      `json:"last_skip,omitempty"`
	PendingRejections int64       `json:"pending_rejections"`
	Rejections        []Rejection `json:"latest_rejections,omitempty"`
	Alerts            []string    `json:"alerts,omitempty"` // conditions on
}

// Run is a run's summary.
type Run struct {
	RunID      string     `json:"run_id"`
	Status     string     `json:"status"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Seconds    float64    `json:"seconds"`
	Adds       int64      `json:"adds"`
	Updates    int64      `json:"updates"`
	Removes    int64      `json:"removes"`
	Sent       int64      `json:"sent"`
	Accepted   int64      `json:"accepted"`
	Rejected   int64      `json:"rejected"`
	Invalid    int64      `json:"invalid"`
	Error      string     `json:"error,omitempty"`
}

// Rejection is a pending rejected record; its key is masked, since keys are
// often e-mail addresses or phone numbers.
type Rejection struct {
	Key          string    `json:"key"`
	Op           string    `json:"op"`
	Error        string    `json:"error"`
	Attempts     int64     `json:"attempts"`
	LastFailedAt time.Time `json:"last_failed_at"`
}

//go:embed page.html
var files embed.FS

var page = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"when":  when,
	"ago":   ago,
	"group": group,
	"seconds": func(s float64) string {
		return (time.Duration(s * float64(time.Second))).Round(100 * time.Millisecond).String()
	},
	"class": func(status string) string {
		switch status {
		case "succeeded":
			return "ok"
		case "rejected", "cancelled", "abandoned":
			return "warn"
		case "failed", "refused":
			return "bad"
		}
		return ""
	},
}).ParseFS(files, "page.html"))

// HTML serves the page; JSON the same data.
func HTML(get func() Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := get()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// No script, style inline in the document only, no frames.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if err := page.Execute(w, p); err != nil {
			http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		}
	})
}

// JSON serves the page's data as JSON.
func JSON(get func() Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(get())
	})
}

func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "-"
		}
		return v.UTC().Format("2006-01-02 15:04:05Z")
	case *time.Time:
		if v == nil {
			return "-"
		}
		return when(*v)
	}
	return "-"
}

// ago is a rough relative time, for people.
func ago(now time.Time, t any) string {
	var at time.Time
	switch v := t.(type) {
	case time.Time:
		at = v
	case *time.Time:
		if v == nil {
			return ""
		}
		at = *v
	}
	if at.IsZero() {
		return ""
	}
	d := now.Sub(at)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// MaskKey hides most of a record key: the first character of each part of
// an e-mail address, the first two and the length of anything else.
func MaskKey(k string) string {
	if local, domain, ok := strings.Cut(k, "@"); ok {
		tld := ""
		if i := strings.LastIndexByte(domain, '.'); i > 0 {
			tld, domain = domain[i:], domain[:i]
		}
		return first(local) + "***@" + first(domain) + "***" + tld
	}
	r := []rune(k)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return string(r[:2]) + strings.Repeat("*", min(len(r)-2, 8))
}

func first(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}
