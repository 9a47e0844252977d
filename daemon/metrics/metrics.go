// Package metrics holds the Prometheus metrics of `sluice run`: runs by sync
// and outcome, records by operation and outcome, run and build durations,
// destination requests (latency, 429s), last success per sync, alerts sent,
// the sync locks taken over from dead runs (counted by sync/engine,
// which every sync path goes through), and erasure requests by status,
// overdue, and failed erasure attempts.
// Every method is safe on a nil *Metrics, which records nothing.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
)

// Metrics is one daemon's collectors, on a registry of their own (so that
// several daemons in one test process do not collide).
type Metrics struct {
	reg *prometheus.Registry

	runs        *prometheus.CounterVec
	runSeconds  *prometheus.HistogramVec
	records     *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	running     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	lastRun     *prometheus.GaugeVec
	builds      *prometheus.CounterVec
	buildSecs   prometheus.Histogram
	requests    *prometheus.CounterVec
	reqSeconds  *prometheus.HistogramVec
	throttled   *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	// Erasure series appear only for a project with an erasure block: the
	// overdue gauge is a vector without labels for that reason.
	erasures      *prometheus.GaugeVec
	erasureLate   *prometheus.GaugeVec
	erasureFailed *prometheus.CounterVec
}

// New creates the collectors, with Go runtime and process metrics.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sync_runs_total",
		Help: "Sync runs by sync and outcome (succeeded, rejected, failed, refused, cancelled)."}, []string{"sync", "outcome"})
	m.runSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_sync_run_duration_seconds",
		Help:    "Duration of sync runs, build excluded.",
		Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}}, []string{"sync"})
	m.records = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sync_records_total",
		Help: "Records by sync, operation (upsert, delete, add, remove; invalid rows have operation none) and outcome (accepted, rejected, invalid)."}, []string{"sync", "operation", "outcome"})
	m.skipped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sync_skipped_total",
		Help: "Scheduled or triggered runs that did not start, by reason: overlap (still running here), locked (running elsewhere), claimed (another daemon runs this tick), warehouse_busy, shutdown."}, []string{"sync", "reason"})
	m.running = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_sync_running",
		Help: "1 while a sync runs in this daemon."}, []string{"sync"})
	m.lastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_sync_last_success_timestamp_seconds",
		Help: "Start time (Unix seconds) of each sync's last run that went through every change."}, []string{"sync"})
	m.lastRun = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_sync_last_run_timestamp_seconds",
		Help: "Start time (Unix seconds) of each sync's last run, whatever its outcome."}, []string{"sync"})
	m.builds = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_builds_total",
		Help: "Model builds before syncs, by outcome (succeeded, failed, shared: built by another daemon for the same tick)."}, []string{"outcome"})
	m.buildSecs = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_build_duration_seconds",
		Help:    "Duration of model builds.",
		Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800}})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_destination_requests_total",
		Help: "HTTP requests to destinations, every attempt (retries included), by destination and status code (\"error\" when no answer came)."}, []string{"destination", "code"})
	m.reqSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_destination_request_duration_seconds",
		Help:    "Latency of destination HTTP requests (until the answer's headers), every attempt.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10)}, []string{"destination"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_destination_rate_limited_total",
		Help: "429 Too Many Requests answers from destinations."}, []string{"destination"})
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_alerts_sent_total",
		Help: "Alert notices by alert, event and outcome (sent, failed)."}, []string{"alert", "event", "outcome"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_config_reloads_total",
		Help: "Configuration reloads (SIGHUP) by outcome (applied, invalid)."}, []string{"outcome"})
	m.erasures = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_erasure_requests",
		Help: "Erasure requests by status (pending, waiting_for_the_build, done, manual_action_needed, no_match), as of the last batch."}, []string{"status"})
	m.erasureLate = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_erasures_overdue",
		Help: "Erasure requests still open past erasure.deadline, as of the last batch."}, nil)
	m.erasureFailed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_erasure_attempts_failed_total",
		Help: "Erasure requests a sync's destination failed to erase (each retried on the next run), by sync."}, []string{"sync"})
	for _, c := range []prometheus.Collector{m.runs, m.runSeconds, m.records, m.skipped, m.running, m.lastSuccess, m.lastRun,
		m.builds, m.buildSecs, m.requests, m.reqSeconds, m.throttled, m.alerts, m.reloads, engine.LockTakeovers,
		m.erasures, m.erasureLate, m.erasureFailed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Registry is where the collectors live, for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Run records a finished run.
func (m *Metrics) Run(sync, outcome string, started time.Time, d time.Duration, succeeded bool) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(sync, outcome).Inc()
	m.runSeconds.WithLabelValues(sync).Observe(d.Seconds())
	m.lastRun.WithLabelValues(sync).Set(float64(started.Unix()))
	if succeeded {
		m.LastSuccess(sync, started)
	}
}

// LastSuccess sets a sync's last success (also learnt from the run log at
// start and from other daemons' runs); the caller keeps it monotonic.
func (m *Metrics) LastSuccess(sync string, at time.Time) {
	if m == nil || at.IsZero() {
		return
	}
	m.lastSuccess.WithLabelValues(sync).Set(float64(at.Unix()))
}

// Records adds n records of a sync's operation and outcome.
func (m *Metrics) Records(sync, op, outcome string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.records.WithLabelValues(sync, op, outcome).Add(float64(n))
}

// Skipped records a run that did not start.
func (m *Metrics) Skipped(sync, reason string) {
	if m == nil {
		return
	}
	m.skipped.WithLabelValues(sync, reason).Inc()
}

// Running sets whether a sync runs here.
func (m *Metrics) Running(sync string, running bool) {
	if m == nil {
		return
	}
	v := 0.0
	if running {
		v = 1
	}
	m.running.WithLabelValues(sync).Set(v)
}

// Build records a model build.
func (m *Metrics) Build(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.builds.WithLabelValues(outcome).Inc()
	if outcome != "shared" {
		m.buildSecs.Observe(d.Seconds())
	}
}

// Alert records an alert notice.
func (m *Metrics) Alert(alert, event, outcome string) {
	if m == nil {
		return
	}
	m.alerts.WithLabelValues(alert, event, outcome).Inc()
}

// Reload records a configuration reload.
func (m *Metrics) Reload(outcome string) {
	if m == nil {
		return
	}
	m.reloads.WithLabelValues(outcome).Inc()
}

// ErasureStatuses are the statuses sluice_erasure_requests always shows,
// at 0 when no request has them.
var ErasureStatuses = []string{erasure.StatusPending, erasure.StatusWaiting, erasure.StatusDone, erasure.StatusManual, erasure.StatusNoMatch}

// Erasures sets the erasure requests by status and the overdue ones.
func (m *Metrics) Erasures(byStatus map[string]int, overdue int) {
	if m == nil {
		return
	}
	for _, st := range ErasureStatuses {
		m.erasures.WithLabelValues(st).Set(0)
	}
	for st, n := range byStatus {
		m.erasures.WithLabelValues(st).Set(float64(n))
	}
	m.erasureLate.WithLabelValues().Set(float64(overdue))
}

// ErasureFailed counts requests a sync's destination failed to erase.
func (m *Metrics) ErasureFailed(sync string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.erasureFailed.WithLabelValues(sync).Add(float64(n))
}

// Forget drops the series of a sync removed from the project.
func (m *Metrics) Forget(sync string) {
	if m == nil {
		return
	}
	for _, v := range []*prometheus.GaugeVec{m.running, m.lastSuccess, m.lastRun} {
		v.DeleteLabelValues(sync)
	}
}

// HTTPObserver feeds the destination request metrics; pass it to
// destination.WithHTTPObserver.
func (m *Metrics) HTTPObserver() destination.HTTPObserver {
	if m == nil {
		return nil
	}
	return func(ev destination.HTTPEvent) {
		code := "error"
		if ev.Status > 0 {
			code = strconv.Itoa(ev.Status)
		}
		m.requests.WithLabelValues(ev.Destination, code).Inc()
		m.reqSeconds.WithLabelValues(ev.Destination).Observe(ev.Duration.Seconds())
		if ev.Status == http.StatusTooManyRequests {
			m.throttled.WithLabelValues(ev.Destination).Inc()
		}
	}
}
