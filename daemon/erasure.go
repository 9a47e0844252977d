package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/daemon/alerts"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
)

// newEngine creates a sync engine on the daemon's clock and logger.
func (d *Daemon) newEngine(p *config.Project, w warehouse.Warehouse) (*engine.Engine, error) {
	eng, err := engine.New(p, w)
	if err != nil {
		return nil, err
	}
	eng.Logger, eng.Now = d.log, d.clock.Now
	if svc := eng.Erasure(); svc != nil {
		// The deadlines and the audit's times follow the daemon's clock.
		svc.Now = d.erasureNow
	}
	if d.o.Engine != nil {
		d.o.Engine(eng)
	}
	return eng, nil
}

// erasureNow is the daemon's clock, made strictly increasing: the audit
// orders a request's events by their time, and the batch's and each sync's
// erasure services stamp theirs independently, on a clock that may stand
// still between ticks (a fake one in tests).
func (d *Daemon) erasureNow() time.Time {
	d.stampMu.Lock()
	defer d.stampMu.Unlock()
	now := d.clock.Now()
	if !now.After(d.lastStamp) {
		now = d.lastStamp.Add(time.Microsecond)
	}
	d.lastStamp = now
	return now
}

// prepareErasures runs before every build of a project with an erasure
// block: it checks the secret and queues the new rows of the requests
// table. A build without it could bring erased people back, so its error
// fails the build.
func (d *Daemon) prepareErasures(ctx context.Context, p *config.Project, svc *erasure.Service) (int64, error) {
	if svc == nil {
		return 0, nil
	}
	prep, err := svc.Prepare(ctx)
	if errors.Is(err, erasure.ErrSecretUnset) {
		return 0, fmt.Errorf("%w: set the variable erasure.secret names", err)
	}
	if err != nil {
		return 0, fmt.Errorf("taking in erasure requests: %w", err)
	}
	if prep.Skipped && p.Erasure.Requests != nil {
		d.log.Warn("erasure.secret is empty: the erasure requests table is not read until it is set")
	}
	if prep.Queued > 0 {
		d.log.Info("erasure requests queued from the requests table", "requests", prep.Queued)
	}
	for _, pr := range prep.Problems {
		// The problems name the identifier type and date, not the value.
		d.log.Warn("erasure request not understood", "problem", d.redact(pr.Error()))
	}
	return prep.Cutoff, nil
}

// logErasure reports what a sync did for pending erasure requests: counts
// only, never a key or an identifier (its error may quote a key).
func (d *Daemon) logErasure(sync string, res *engine.Result) {
	e := res.Erasure
	if e == nil {
		return
	}
	d.log.Info("erasure requests propagated", "sync", sync, "run_id", res.RunID, "requests", len(e.Requests),
		"erased", e.Done, "not_held", e.NotHeld, "manual", e.Manual, "failed", e.Failed, "keys", e.Keys)
	d.m.ErasureFailed(sync, e.Failed)
}

// finishErasures follows a batch's syncs: when the batch built the
// identity map (so erased people are gone from it and from profiles), it
// completes the requests every destination is through with; then it
// refreshes the erasure metrics and the overdue alert.
func (d *Daemon) finishErasures(ctx context.Context, p *config.Project, svc *erasure.Service, complete bool) {
	if svc == nil {
		return
	}
	if complete && p.Erasure.Secret != "" {
		closed, err := svc.Close(ctx)
		switch {
		case err != nil:
			d.log.Error("completing erasure requests", "error", d.redact(err.Error()))
		case len(closed) > 0:
			d.log.Info("erasure requests completed", "requests", closed)
		}
	}
	d.watchErasures(ctx, svc)
}

// watchErasures sets the erasure metrics and the erasure_overdue alert
// from the audit (one row per request).
func (d *Daemon) watchErasures(ctx context.Context, svc *erasure.Service) {
	if svc == nil {
		return
	}
	list, err := svc.List(ctx)
	if err != nil {
		d.log.Warn("reading the erasure requests", "error", d.redact(err.Error()))
		return
	}
	byStatus := map[string]int{}
	var late []alerts.OverdueErasure
	for _, a := range list {
		byStatus[a.Status]++
		if !a.Overdue {
			continue
		}
		o := alerts.OverdueErasure{ID: a.ID, Deadline: a.Deadline}
		for _, s := range a.Syncs {
			if s.Outcome == erasure.Pending || s.Outcome == erasure.Failed {
				o.Pending = append(o.Pending, s.Sync+" ("+s.Destination+")")
			}
		}
		late = append(late, o)
	}
	d.m.Erasures(byStatus, len(late))
	d.alerts.CheckErasures(ctx, d.clock.Now(), late)
}
