// Package daemon is `sluice run`: a long-lived scheduler that fires syncs
// on their cron schedules, builds the models they read once per tick, and
// runs each sync without ever overlapping it with itself (in this daemon:
// a sync still running at its next tick skips that tick; across processes:
// the state store's per-sync lock and per-tick claims decide). It serves
// health, readiness, Prometheus metrics, a status page and an authenticated
// trigger over HTTP, reloads its configuration on demand (validated first)
// and shuts down gracefully, committing what destinations accepted.
package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/daemon/alerts"
	"github.com/sluicehq/sluice/daemon/metrics"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/state"
)

// Options configure a daemon.
type Options struct {
	Project *config.Project
	// Load reads the project again for Reload; default config.Load of the
	// project's directory.
	Load func() (*config.Project, error)
	// OpenWarehouse connects to the project's warehouse; default
	// warehouse.Open.
	OpenWarehouse func(ctx context.Context, p *config.Project) (warehouse.Warehouse, error)
	Clock         Clock        // default the wall clock
	Logger        *slog.Logger // default discards
	Metrics       *metrics.Metrics
	Version       string
	// Holder names this daemon in tick claims; default host:pid:random.
	Holder string
	// Engine, when set, adjusts every sync engine the daemon creates
	// (tests: a destination opener).
	Engine func(*engine.Engine)
	// AlertClient sends alert notices; default a client with a 10s timeout.
	AlertClient *http.Client
}

// Daemon schedules and runs a project's syncs.
type Daemon struct {
	o      Options
	clock  Clock
	log    *slog.Logger
	m      *metrics.Metrics
	alerts *alerts.Manager
	pool   *pool
	holder string
	// env knows the values from ${VAR} references of every configuration
	// loaded, which error texts must not show (see redact).
	env *config.Redactor

	// gate keeps builds from replacing models that syncs are reading: a
	// sync holds it shared from plan to last batch, a build exclusively.
	gate sync.RWMutex

	// stampMu guards lastStamp, the last time erasureNow gave.
	stampMu   sync.Mutex
	lastStamp time.Time

	mu       sync.Mutex
	p        *config.Project
	scheds   map[string]*Schedule
	next     map[string]time.Time
	syncs    map[string]*syncState
	sem      chan struct{}
	started  time.Time
	ready    bool
	stopping bool

	work       sync.WaitGroup
	workCtx    context.Context
	cancelWork context.CancelFunc
	wake       chan struct{}
}

// syncState is what the daemon knows of one sync, for the status page,
// alerts and overlap checks.
type syncState struct {
	running      bool
	runningSince time.Time
	last         *state.Run
	lastSuccess  time.Time
	lastSkip     string
	pending      int64
	rejections   []state.Rejection
}

// New prepares a daemon; Run starts it.
func New(o Options) (*Daemon, error) {
	if o.Project == nil {
		return nil, errors.New("daemon: no project")
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Load == nil {
		dir := o.Project.Dir
		o.Load = func() (*config.Project, error) { return config.Load(dir, config.Options{}) }
	}
	if o.OpenWarehouse == nil {
		o.OpenWarehouse = func(ctx context.Context, p *config.Project) (warehouse.Warehouse, error) {
			return warehouse.Open(ctx, warehouse.Config{ProjectDir: p.Dir, Warehouse: p.Warehouse, ExternalPaths: p.ExternalPaths})
		}
	}
	if o.Holder == "" {
		host, _ := os.Hostname()
		var b [3]byte
		_, _ = rand.Read(b[:])
		o.Holder = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	scheds, err := schedules(o.Project)
	if err != nil {
		return nil, err
	}
	d := &Daemon{
		o: o, clock: o.Clock, log: o.Logger, m: o.Metrics, holder: o.Holder,
		pool:   &pool{open: o.OpenWarehouse},
		env:    config.NewRedactor(),
		p:      o.Project,
		scheds: scheds,
		next:   map[string]time.Time{},
		syncs:  map[string]*syncState{},
		sem:    make(chan struct{}, o.Project.Daemon.Workers()),
		wake:   make(chan struct{}, 1),
	}
	d.alerts = alerts.New(o.Project.Alerts, alerts.Options{
		Project: o.Project.Name, Client: o.AlertClient, Logger: o.Logger,
		Sent: func(alert, event, outcome string) { d.m.Alert(alert, event, outcome) },
	})
	for _, s := range o.Project.Syncs {
		d.syncs[s.Name] = &syncState{}
	}
	d.workCtx, d.cancelWork = context.WithCancel(context.Background())
	d.env.Merge(o.Project.Redactor)
	return d, nil
}

// Project is the configuration in force.
func (d *Daemon) Project() *config.Project {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.p
}

// Ready reports whether the daemon has started and is not shutting down.
func (d *Daemon) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ready && !d.stopping
}

// Run schedules syncs until ctx is cancelled, then shuts down: it takes no
// new work, lets the syncs in flight finish within the shutdown timeout,
// then cancels them (each commits what its destination accepted and logs
// the run as cancelled).
func (d *Daemon) Run(ctx context.Context) error {
	now := d.clock.Now()
	d.mu.Lock()
	d.started = now
	for name, s := range d.scheds {
		d.next[name] = s.Next(now)
	}
	d.mu.Unlock()
	if err := d.loadHistory(ctx); err != nil {
		if !errors.Is(err, ErrWarehouseBusy) {
			return fmt.Errorf("reading the run history: %w", err)
		}
		d.log.Warn("the warehouse file is open in another process; the run history loads with the first batch", "error", err)
	}
	d.mu.Lock()
	d.ready = true
	n := len(d.scheds)
	d.mu.Unlock()
	d.log.Info("scheduler started", "project", d.p.Name, "syncs", len(d.p.Syncs), "scheduled", n, "time_zone", d.p.TimeZone, "holder", d.holder)
	d.loop(ctx)
	return d.shutdown()
}

func (d *Daemon) loop(ctx context.Context) {
	for {
		d.mu.Lock()
		var next time.Time
		for _, at := range d.next {
			if next.IsZero() || at.Before(next) {
				next = at
			}
		}
		d.mu.Unlock()
		var timer Timer
		var fire <-chan time.Time
		if !next.IsZero() {
			timer = d.clock.NewTimer(next.Sub(d.clock.Now()))
			fire = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-d.wake:
			if timer != nil {
				timer.Stop()
			}
		case <-fire:
			d.fire(ctx, d.clock.Now())
		}
	}
}

// fire dispatches the syncs due at now as one batch.
func (d *Daemon) fire(ctx context.Context, now time.Time) {
	d.mu.Lock()
	var due []item
	for name, at := range d.next {
		if !at.After(now) {
			due = append(due, item{sync: name, scheduled: at})
			// Ticks missed while the process was asleep collapse into one.
			d.next[name] = d.scheds[name].Next(now)
		}
	}
	d.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].sync < due[j].sync })
	// Staleness as of this tick, before its runs start: N ticks passed
	// without a success.
	d.checkStale(ctx, now)
	d.dispatch(due)
}

// item is one sync to run in a batch: scheduled (with its tick) or
// triggered (with a channel for its result).
type item struct {
	sync      string
	scheduled time.Time
	done      chan<- Result
}

// Result is the outcome of a triggered run.
type Result struct {
	Sync     string  `json:"sync"`
	RunID    string  `json:"run_id,omitempty"`
	Status   string  `json:"status"` // a run status, or skipped
	Skipped  string  `json:"skipped,omitempty"`
	Sent     int64   `json:"sent"`
	Accepted int64   `json:"accepted"`
	Rejected int64   `json:"rejected"`
	Seconds  float64 `json:"seconds"`
	Error    string  `json:"error,omitempty"`
}

// Skip reasons.
const (
	SkipOverlap  = "overlap"
	SkipLocked   = "locked"
	SkipClaimed  = "claimed"
	SkipBusy     = "warehouse_busy"
	SkipShutdown = "shutdown"
)

// dispatch marks the items running and starts their batch; a sync still
// running here skips this tick.
func (d *Daemon) dispatch(items []item) {
	if len(items) == 0 {
		return
	}
	now := d.clock.Now()
	var run []item
	d.mu.Lock()
	stopping := d.stopping
	for _, it := range items {
		st := d.syncs[it.sync]
		switch {
		case st == nil:
			continue
		case stopping:
			d.skipLocked(it, SkipShutdown, "the daemon is shutting down")
		case st.running:
			d.skipLocked(it, SkipOverlap, fmt.Sprintf("still running since %s: a sync never overlaps itself", st.runningSince.UTC().Format(time.RFC3339)))
		default:
			st.running, st.runningSince = true, now
			d.m.Running(it.sync, true)
			run = append(run, it)
		}
	}
	if len(run) > 0 {
		d.work.Add(1)
	}
	p, sem := d.p, d.sem
	d.mu.Unlock()
	if len(run) > 0 {
		go d.batch(p, sem, run)
	}
}

// skipLocked records a run that does not start; d.mu is held.
func (d *Daemon) skipLocked(it item, reason, why string) {
	if st := d.syncs[it.sync]; st != nil {
		st.lastSkip = fmt.Sprintf("%s: %s (%s)", d.clock.Now().UTC().Format(time.RFC3339), why, reason)
	}
	d.m.Skipped(it.sync, reason)
	lvl := slog.LevelInfo
	if reason == SkipOverlap || reason == SkipBusy {
		lvl = slog.LevelWarn
	}
	d.log.Log(context.Background(), lvl, "run skipped", "sync", it.sync, "reason", reason, "detail", why, "scheduled_at", it.scheduled)
	if it.done != nil {
		it.done <- Result{Sync: it.sync, Status: "skipped", Skipped: reason, Error: why}
	}
}

func (d *Daemon) skip(it item, reason, why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.skipLocked(it, reason, why)
}

// finished marks a sync as no longer running here.
func (d *Daemon) finished(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.syncs[name]; st != nil {
		st.running = false
	}
	d.m.Running(name, false)
}

// Errors of Trigger.
var (
	ErrUnknownSync = errors.New("unknown sync")
	ErrRunning     = errors.New("the sync is running")
	ErrStopping    = errors.New("the daemon is shutting down")
)

// Trigger runs a sync now (after building the models it reads). The
// channel receives its result.
func (d *Daemon) Trigger(name string) (<-chan Result, error) {
	d.mu.Lock()
	st, ok := d.syncs[name]
	switch {
	case !ok:
		d.mu.Unlock()
		return nil, fmt.Errorf("%w %s", ErrUnknownSync, name)
	case d.stopping:
		d.mu.Unlock()
		return nil, ErrStopping
	case st.running:
		since := st.runningSince
		d.mu.Unlock()
		return nil, fmt.Errorf("%w since %s: a sync never overlaps itself", ErrRunning, since.UTC().Format(time.RFC3339))
	}
	d.mu.Unlock()
	ch := make(chan Result, 1)
	d.log.Info("run triggered", "sync", name)
	d.dispatch([]item{{sync: name, done: ch}})
	return ch, nil
}

// WaitIdle waits until the batches dispatched so far are done.
func (d *Daemon) WaitIdle() { d.work.Wait() }

// Reload reads the configuration again. A project with problems is
// reported and the running configuration stays in force.
func (d *Daemon) Reload() error {
	p, err := d.o.Load()
	var scheds map[string]*Schedule
	if err == nil {
		scheds, err = schedules(p)
	}
	if err != nil {
		d.m.Reload("invalid")
		var probs config.Problems
		if errors.As(err, &probs) {
			for _, pr := range probs {
				d.log.Error("invalid configuration", "problem", pr.String())
			}
		}
		d.log.Error("configuration not reloaded: the running configuration stays in force", "error", err)
		return err
	}
	d.env.Merge(p.Redactor)
	now := d.clock.Now()
	d.mu.Lock()
	old := d.scheds
	d.p, d.scheds = p, scheds
	next := map[string]time.Time{}
	for name, s := range scheds {
		if o, ok := old[name]; ok && o.Spec == s.Spec && !d.next[name].IsZero() {
			next[name] = d.next[name]
		} else {
			next[name] = s.Next(now)
		}
	}
	d.next = next
	kept := map[string]*syncState{}
	for _, s := range p.Syncs {
		if st, ok := d.syncs[s.Name]; ok {
			kept[s.Name] = st
		} else {
			kept[s.Name] = &syncState{}
		}
	}
	for name, st := range d.syncs {
		if _, ok := kept[name]; !ok && !st.running {
			d.m.Forget(name)
		}
	}
	d.syncs = kept
	if cap(d.sem) != p.Daemon.Workers() {
		d.sem = make(chan struct{}, p.Daemon.Workers())
	}
	d.mu.Unlock()
	d.alerts.Update(p.Alerts)
	d.m.Reload("applied")
	d.log.Info("configuration reloaded", "syncs", len(p.Syncs), "scheduled", len(scheds), "alerts", len(p.Alerts))
	select {
	case d.wake <- struct{}{}:
	default:
	}
	return nil
}

func (d *Daemon) shutdown() error {
	d.mu.Lock()
	d.stopping = true
	timeout := d.p.Daemon.Shutdown()
	var running []string
	for name, st := range d.syncs {
		if st.running {
			running = append(running, name)
		}
	}
	d.mu.Unlock()
	slices.Sort(running)
	d.log.Info("shutting down: no new runs; waiting for the runs in flight", "running", running, "timeout", timeout.String())
	done := make(chan struct{})
	go func() { d.work.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		d.log.Warn("shutdown timeout reached: cancelling the runs in flight; what destinations accepted is committed", "timeout", timeout.String())
		d.cancelWork()
		select {
		case <-done:
		case <-time.After(timeout + 30*time.Second):
			d.log.Error("runs still busy after cancellation; exiting anyway (the next run folds what they committed)")
		}
	}
	d.cancelWork()
	d.pool.close()
	d.log.Info("stopped")
	return nil
}

// checkStale updates the stale alerts of scheduled syncs.
func (d *Daemon) checkStale(ctx context.Context, now time.Time) {
	d.mu.Lock()
	var ts []alerts.Timing
	for name, s := range d.scheds {
		st := d.syncs[name]
		if st == nil {
			continue
		}
		// Staleness counts from this daemon's start at the earliest, so
		// that a restart after downtime does not announce every sync.
		from := st.lastSuccess
		if from.Before(d.started) {
			from = d.started
		}
		ts = append(ts, alerts.Timing{Sync: name, LastSuccess: from, Running: st.running, After: s.After})
	}
	d.mu.Unlock()
	d.alerts.CheckStale(ctx, now, ts)
}
