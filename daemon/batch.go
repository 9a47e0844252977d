package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/builder/incremental"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/daemon/alerts"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
	"github.com/sluicehq/sluice/sync/state"
)

// buildLock names the state-store lock and tick claims of model builds; a
// sync name cannot start with a colon, so it never collides with one.
const buildLock = ":build"

// Tick claims older than this are pruned.
const claimRetention = 7 * 24 * time.Hour

// batch runs items together: one warehouse connection, one build of the
// models they read, then each sync (at most the configured number at once).
func (d *Daemon) batch(p *config.Project, sem chan struct{}, items []item) {
	defer d.work.Done()
	ctx := d.workCtx
	pending := map[string]item{}
	for _, it := range items {
		pending[it.sync] = it
	}
	// Whatever happens, every item ends: skipped, failed or run.
	defer func() {
		for _, it := range pending {
			d.finished(it.sync)
		}
	}()
	drop := func(it item) { delete(pending, it.sync); d.finished(it.sync) }

	w, release, err := d.pool.acquire(ctx, p)
	if err != nil {
		for _, it := range items {
			if errors.Is(err, ErrWarehouseBusy) {
				d.skip(it, SkipBusy, "the warehouse file is open in another process (a sync run by hand?); the next tick tries again")
			} else {
				d.fail(ctx, it, fmt.Errorf("connecting to the warehouse: %w", err))
			}
			drop(it)
		}
		return
	}
	defer release()
	eng, err := d.newEngine(p, w)
	if err == nil {
		err = ensureState(ctx, eng.Store())
	}
	if err != nil {
		for _, it := range items {
			d.fail(ctx, it, err)
			drop(it)
		}
		return
	}
	st := eng.Store()

	// Claim the scheduled ticks: with several daemons on one state, the
	// first claim runs the tick and the others skip it.
	now := d.clock.Now()
	var run []item
	var tick time.Time
	level := -1
	for _, it := range items {
		if !it.scheduled.IsZero() {
			ok, by, err := st.ClaimTick(ctx, it.sync, it.scheduled, d.holder, now)
			if err != nil {
				d.fail(ctx, it, err)
				drop(it)
				continue
			}
			if !ok {
				d.skip(it, SkipClaimed, "this tick is run by "+by)
				d.refresh(ctx, st, it.sync)
				drop(it)
				continue
			}
			if tick.IsZero() || it.scheduled.Before(tick) {
				tick = it.scheduled
			}
		}
		run = append(run, it)
		if s, ok := syncConfig(p, it.sync); ok {
			level = max(level, needs(s))
		}
	}
	_ = st.PruneTicks(ctx, now.Add(-claimRetention))
	if len(run) == 0 {
		return
	}
	// A triggered run builds even when a scheduled batch built this tick.
	for _, it := range run {
		if it.scheduled.IsZero() {
			tick = time.Time{}
		}
	}
	svc := eng.Erasure()
	cutoff, err := d.build(ctx, p, w, st, svc, level, tick, names(run))
	if err != nil {
		for _, it := range run {
			d.fail(ctx, it, err)
			drop(it)
		}
		d.watchErasures(context.WithoutCancel(ctx), svc)
		return
	}
	// Syncs after a build (this daemon's, or another's for this tick)
	// carry out pending erasures: the build dropped the people to erase.
	opt := engine.SyncOptions{Erase: level >= 0, ErasureCutoff: cutoff}
	d.runSyncs(ctx, p, w, eng, sem, run, opt, drop, func(it item) { delete(pending, it.sync) })
	// Requests complete once the identity map was rebuilt without them.
	d.finishErasures(context.WithoutCancel(ctx), p, svc, level >= buildRank[models.KindIdentity])
}

// runSyncs runs a batch's syncs, as many at once as sem allows, and waits
// for them. A sync that cannot start is dropped; one that starts is handed
// to started (its run then ends it).
func (d *Daemon) runSyncs(ctx context.Context, p *config.Project, w warehouse.Warehouse, eng *engine.Engine, sem chan struct{},
	run []item, opt engine.SyncOptions, drop, started func(item)) {
	var wg sync.WaitGroup
	for _, it := range run {
		if d.stoppingNow() || ctx.Err() != nil {
			d.skip(it, SkipShutdown, "the daemon is shutting down")
			drop(it)
			continue
		}
		syncEng := eng
		if eng.Erasure() != nil {
			// The erasure service keeps the running sync's logger and an
			// event sequence, unguarded: concurrent syncs get an engine
			// (and a service) each.
			var err error
			if syncEng, err = d.newEngine(p, w); err != nil {
				d.fail(ctx, it, err)
				drop(it)
				continue
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			d.skip(it, SkipShutdown, "the daemon is shutting down")
			drop(it)
			continue
		}
		wg.Add(1)
		go func(it item) {
			defer wg.Done()
			defer func() { <-sem }()
			d.runSync(ctx, syncEng, it, opt)
		}(it)
		started(it)
	}
	wg.Wait()
}

// ensureState creates the state tables. Daemons starting together may race
// to create them; a conflicting creation is tried again.
func ensureState(ctx context.Context, st *state.Store) error {
	var err error
	for attempt := range 5 {
		if err = st.Ensure(ctx); err == nil {
			if err = st.EnsureTicks(ctx); err == nil {
				return nil
			}
		}
		if !strings.Contains(err.Error(), "conflict") || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return err
}

func names(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.sync
	}
	return out
}

func syncConfig(p *config.Project, name string) (config.Sync, bool) {
	for _, s := range p.Syncs {
		if s.Name == name {
			return s, true
		}
	}
	return config.Sync{}, false
}

func (d *Daemon) stoppingNow() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping
}

// activeBuilds lists this process's builds, so that their locks are known
// to be live (two daemons in one process share the process id).
var activeBuilds sync.Map

// build materialises the models up to the given rank once: under the state
// store's build lock (one build at a time across daemons sharing the
// state), and, for a scheduled tick, only if no other daemon built for it.
func (d *Daemon) build(ctx context.Context, p *config.Project, w warehouse.Warehouse, st *state.Store, svc *erasure.Service, level int, tick time.Time, syncs []string) (cutoff int64, err error) {
	if svc != nil {
		// A build another daemon did for this tick began before now:
		// requests queued from now on wait for the next run.
		cutoff = erasure.Cutoff(d.erasureNow())
	}
	if level < 0 {
		return cutoff, nil
	}
	start := time.Now()
	runID := "build-" + d.holder + "-" + fmt.Sprint(start.UnixNano())
	activeBuilds.Store(runID, true)
	defer activeBuilds.Delete(runID)
	for {
		took, err := st.Acquire(ctx, buildLock, state.Me(runID, d.clock.Now()), d.staleBuild)
		if err == nil {
			for _, t := range took {
				// A build whose daemon died left its lock: say whose.
				d.log.Warn("took over the build lock of a dead daemon", "host", t.Dead.Host, "pid", t.Dead.PID, "run_id", t.Dead.RunID)
			}
			break
		}
		if !engine.IsLocked(err) {
			d.m.Build("failed", time.Since(start))
			return 0, fmt.Errorf("waiting for the build lock: %w", err)
		}
		select {
		case <-ctx.Done():
			d.m.Build("failed", time.Since(start))
			return 0, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	defer st.Unlock(context.WithoutCancel(ctx), buildLock, runID)
	if !tick.IsZero() {
		ok, by, err := st.ClaimTick(ctx, buildLock, tick, d.holder, d.clock.Now())
		if err != nil {
			d.m.Build("failed", time.Since(start))
			return 0, err
		}
		if !ok {
			d.m.Build("shared", 0)
			d.log.Info("models already built for this tick", "by", by, "syncs", syncs)
			return cutoff, nil
		}
	}
	hbCtx, stopHB := context.WithCancel(ctx)
	defer stopHB()
	go func() {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				_ = st.Heartbeat(hbCtx, buildLock, runID, d.clock.Now())
			}
		}
	}()
	d.gate.Lock()
	defer d.gate.Unlock()
	built, err := d.buildModels(ctx, p, w, svc, level)
	if err != nil {
		d.m.Build("failed", time.Since(start))
		d.log.Error("build failed", "syncs", syncs, "error", d.redact(err.Error()))
		return 0, err
	}
	d.m.Build("succeeded", time.Since(start))
	d.log.Info("models built", "syncs", syncs, "seconds", time.Since(start).Seconds())
	return built, nil
}

// buildModels takes in erasure requests, then builds the models up to the
// given rank.
func (d *Daemon) buildModels(ctx context.Context, p *config.Project, w warehouse.Warehouse, svc *erasure.Service, level int) (int64, error) {
	cutoff, err := d.prepareErasures(ctx, p, svc)
	if err != nil {
		return 0, err
	}
	o, err := incremental.Build(ctx, w, p, incremental.Options{Only: func(s models.Step) bool { return buildRank[s.Kind] <= level }})
	if err == nil {
		d.log.Info("build", "mode", string(o.Mode), "reasons", len(o.Reasons), "sources_changed", len(o.Changed))
		for _, warn := range o.Result.Warnings {
			d.log.Warn("build check", "warning", warn.String())
		}
	}
	if err != nil {
		return 0, fmt.Errorf("building the models: %w", err)
	}
	return cutoff, nil
}

// staleBuild tells whether a build lock's holder is gone.
func (d *Daemon) staleBuild(h state.Holder) bool {
	me := state.Me("", d.clock.Now())
	if h.Host == me.Host {
		if h.PID == me.PID {
			_, live := activeBuilds.Load(h.RunID)
			return !live
		}
		return !processAlive(h.PID)
	}
	return d.clock.Now().Sub(h.HeartbeatAt) > 5*time.Minute
}

// runSync runs one sync and records its outcome.
func (d *Daemon) runSync(ctx context.Context, eng *engine.Engine, it item, opt engine.SyncOptions) {
	defer d.finished(it.sync)
	d.gate.RLock()
	start, began := d.clock.Now(), time.Now()
	res, err := eng.Sync(destination.WithHTTPObserver(ctx, d.m.HTTPObserver()), it.sync, opt)
	d.gate.RUnlock()
	// Durations are measured on the wall clock, times on the daemon's.
	res.Seconds = time.Since(began).Seconds()
	if engine.IsLocked(err) {
		var le *state.LockedError
		errors.As(err, &le)
		d.skip(it, SkipLocked, "running elsewhere: "+le.Holder.String())
		d.refresh(ctx, eng.Store(), it.sync)
		return
	}
	d.logErasure(it.sync, res)
	d.record(ctx, eng.Store(), it, start, res, err)
}

// fail records a run that could not start (warehouse, build).
func (d *Daemon) fail(ctx context.Context, it item, err error) {
	msg := d.redact(err.Error())
	d.log.Error("sync failed", "sync", it.sync, "error", msg)
	now := d.clock.Now()
	d.m.Run(it.sync, state.RunFailed, now, 0, false)
	d.mu.Lock()
	if st := d.syncs[it.sync]; st != nil {
		st.last = &state.Run{Sync: it.sync, StartedAt: now, FinishedAt: now, Status: state.RunFailed, Error: msg}
	}
	d.mu.Unlock()
	d.alerts.RunFinished(ctx, alerts.Outcome{Sync: it.sync, Failed: true, Error: msg, At: now})
	if it.done != nil {
		it.done <- Result{Sync: it.sync, Status: state.RunFailed, Error: msg}
	}
}

// record logs, counts and announces a finished run.
func (d *Daemon) record(ctx context.Context, st *state.Store, it item, start time.Time, res *engine.Result, err error) {
	took := time.Duration(res.Seconds * float64(time.Second))
	ok := res.Status == state.RunSucceeded || res.Status == state.RunRejected
	msg := ""
	var rejected *engine.RejectedError
	switch {
	case errors.As(err, &rejected):
		// Its message quotes a record key: counts only.
		msg = fmt.Sprintf("%d of %d records rejected by the destination (kept and retried next run)", rejected.Rejected, rejected.Sent)
	case err != nil:
		msg = d.redact(err.Error())
	}
	attrs := []any{"sync", it.sync, "run_id", res.RunID, "status", res.Status,
		"adds", res.Adds, "updates", res.Updates, "removes", res.Removes,
		"sent", res.Sent, "accepted", res.Accepted, "rejected", res.Rejected, "invalid", res.Invalid.Rows(),
		"seconds", res.Seconds}
	switch {
	case ok && res.Rejected == 0:
		d.log.Info("sync finished", attrs...)
	case res.Status == state.RunCancelled:
		d.log.Warn("sync cancelled", append(attrs, "error", msg)...)
	default:
		d.log.Error("sync did not deliver everything", append(attrs, "error", msg)...)
	}
	d.m.Run(it.sync, res.Status, start, took, ok)
	bg := context.WithoutCancel(ctx)
	if res.RunID != "" {
		counts, cerr := st.RunOutcomes(bg, it.sync, res.RunID)
		if cerr != nil {
			d.log.Warn("counting the run's outcomes", "sync", it.sync, "run_id", res.RunID, "error", cerr)
		}
		for _, c := range counts {
			d.m.Records(it.sync, c.Op, c.Status, c.N)
		}
		d.m.Records(it.sync, "none", "invalid", res.Invalid.Rows())
	}
	d.refresh(bg, st, it.sync)
	if res.Status != state.RunCancelled {
		d.alerts.RunFinished(bg, alerts.Outcome{Sync: it.sync, RunID: res.RunID, Sent: res.Sent, Rejected: res.Rejected,
			Failed: res.Status == state.RunFailed || res.Status == state.RunRefused, Error: msg, At: d.clock.Now()})
	}
	d.checkStale(bg, d.clock.Now())
	if it.done != nil {
		it.done <- Result{Sync: it.sync, RunID: res.RunID, Status: res.Status, Sent: res.Sent, Accepted: res.Accepted,
			Rejected: res.Rejected, Seconds: res.Seconds, Error: msg}
	}
}

// refresh reads a sync's last run, last success and pending rejections
// from the state store (another daemon or process may have run it).
func (d *Daemon) refresh(ctx context.Context, st *state.Store, name string) {
	runs, err := st.History(ctx, name, 1, false)
	var lastOK time.Time
	if err == nil {
		lastOK, _, err = st.LastSuccess(ctx, name)
	}
	var rej []state.Rejection
	var pending int64
	if err == nil {
		rej, pending, err = st.Rejections(ctx, name, 5)
	}
	if err != nil {
		d.log.Warn("reading the state of a sync", "sync", name, "error", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.syncs[name]
	if s == nil {
		return
	}
	if len(runs) > 0 {
		r := runs[0]
		r.Error = d.redact(r.Error)
		s.last = &r
	}
	if lastOK.After(s.lastSuccess) {
		s.lastSuccess = lastOK
		d.m.LastSuccess(name, lastOK)
	}
	s.pending, s.rejections = pending, rej
}

// loadHistory reads every sync's state at start.
func (d *Daemon) loadHistory(ctx context.Context) error {
	p := d.Project()
	w, release, err := d.pool.acquire(ctx, p)
	if err != nil {
		return err
	}
	defer release()
	eng, err := d.newEngine(p, w)
	if err != nil {
		return err
	}
	st := eng.Store()
	if err := ensureState(ctx, st); err != nil {
		return err
	}
	for _, s := range p.Syncs {
		d.refresh(ctx, st, s.Name)
	}
	d.watchErasures(ctx, eng.Erasure())
	return nil
}
