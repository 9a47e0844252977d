package daemon

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/daemon/status"
)

// Handler serves the daemon's HTTP API:
//
//	GET  /healthz            200 while the process serves
//	GET  /readyz             200 once started, 503 while starting or shutting down
//	GET  /metrics            Prometheus metrics
//	GET  /status             the status page (HTML)
//	GET  /status.json        the same data as JSON
//	POST /syncs/{name}/run   start a sync now (bearer token: daemon.trigger_token);
//	                         ?wait=true answers when the run is over
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !d.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
	})
	if d.m != nil {
		mux.Handle("GET /metrics", d.m.Handler())
	}
	mux.Handle("GET /{$}", http.RedirectHandler("/status", http.StatusFound))
	mux.Handle("GET /status", status.HTML(d.Status))
	mux.Handle("GET /status.json", status.JSON(d.Status))
	mux.HandleFunc("POST /syncs/{name}/run", d.handleTrigger)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// authorized compares the request's bearer token with the configured one in
// constant time (over digests, so that the length does not leak either).
func authorized(r *http.Request, token config.Secret) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || got == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (d *Daemon) handleTrigger(w http.ResponseWriter, r *http.Request) {
	token := d.Project().Daemon.TriggerToken
	if token == "" {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "triggering over HTTP is off: set daemon.trigger_token in sluice.yml"})
		return
	}
	if !authorized(r, token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
		return
	}
	name := r.PathValue("name")
	ch, err := d.Trigger(name)
	switch {
	case errors.Is(err, ErrUnknownSync):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	case errors.Is(err, ErrRunning):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	case errors.Is(err, ErrStopping):
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	if r.URL.Query().Get("wait") != "true" {
		writeJSON(w, http.StatusAccepted, map[string]string{"sync": name, "status": "started"})
		return
	}
	select {
	case res := <-ch:
		writeJSON(w, http.StatusOK, res)
	case <-r.Context().Done():
	}
}

// Status is the data of the status page.
func (d *Daemon) Status() status.Page {
	now := d.clock.Now()
	d.mu.Lock()
	p := d.p
	page := status.Page{Project: p.Name, Version: d.o.Version, StartedAt: d.started, GeneratedAt: now,
		Ready: d.ready && !d.stopping, TimeZone: p.TimeZone}
	for _, s := range p.Syncs {
		st := d.syncs[s.Name]
		if st == nil {
			continue
		}
		row := status.Sync{Name: s.Name, From: s.From, Destination: s.To, Mode: s.Mode, Schedule: s.Schedule,
			Running: st.running, LastSkip: st.lastSkip, PendingRejections: st.pending}
		if at, ok := d.next[s.Name]; ok {
			row.NextRun = &at
		}
		if st.running {
			since := st.runningSince
			row.RunningSince = &since
		}
		if !st.lastSuccess.IsZero() {
			at := st.lastSuccess
			row.LastSuccess = &at
		}
		if r := st.last; r != nil {
			lr := &status.Run{RunID: r.RunID, Status: r.Status, StartedAt: r.StartedAt, Adds: r.Adds, Updates: r.Updates, Removes: r.Removes,
				Sent: r.Sent, Accepted: r.Accepted, Rejected: r.Rejected, Invalid: r.Invalid, Error: r.Error}
			if !r.FinishedAt.IsZero() {
				fin := r.FinishedAt
				lr.FinishedAt = &fin
				lr.Seconds = fin.Sub(r.StartedAt).Seconds()
			}
			row.LastRun = lr
		}
		for _, rj := range st.rejections {
			row.Rejections = append(row.Rejections, status.Rejection{Key: status.MaskKey(rj.Key), Op: rj.Op, Error: d.redact(rj.Error),
				Attempts: rj.Attempts, LastFailedAt: rj.LastFailedAt.UTC()})
		}
		page.Syncs = append(page.Syncs, row)
	}
	d.mu.Unlock()
	for i := range page.Syncs {
		page.Syncs[i].Alerts = d.alerts.Firing(page.Syncs[i].Name)
	}
	page.GeneratedAt = page.GeneratedAt.UTC().Truncate(time.Second)
	return page
}
