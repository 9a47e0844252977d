package engine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/executor"
	"github.com/sluicehq/sluice/sync/planner"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/state"
)

// syncRun is one run of Sync, phase by phase: begin (resolve, lock, log
// the start), prepare (catch up with earlier runs), plan (diff, guard),
// send, commit (log the outcome, fold) and afterRun (tidy up).
type syncRun struct {
	e    *Engine
	ctx  context.Context
	name string
	opt  SyncOptions
	res  *Result

	start time.Time
	sp    *spec.Spec
	me    state.Holder
	run   state.Run
	log   *slog.Logger
	pl    *planner.Planner
	dest  destination.Destination

	// bg outlives a cancelled ctx: bookkeeping after the run must happen.
	bg     context.Context
	stopHB context.CancelFunc
	// crashed: the run "died" (SyncOptions.CrashAfter) and must leave its
	// lock, run log and pending commits behind, as a dead process would.
	crashed bool
	phase   time.Time
}

// Sync plans, applies and commits one sync. The result is always returned;
// err says why the sync did not deliver everything (it is also in
// Result.Err): a *state.LockedError, a *GuardError, a destination or
// warehouse failure, or the context's error.
func (e *Engine) Sync(ctx context.Context, name string, opt SyncOptions) (res *Result, err error) {
	r := &syncRun{e: e, ctx: ctx, name: name, opt: opt, start: e.Now(), res: &Result{Plan: Plan{Name: name}}}
	defer func() {
		r.res.Seconds = time.Since(r.start).Seconds()
		if err != nil {
			r.res.Err = err
			r.res.Error = err.Error()
		}
	}()
	if err := r.resolve(); err != nil {
		r.res.Status = state.RunFailed
		return r.res, err
	}
	active.Store(r.me.RunID, true)
	defer active.Delete(r.me.RunID)
	if err := r.lock(); err != nil {
		r.res.Status = "locked"
		return r.res, err
	}
	bg, cancelBG := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancelBG()
	r.bg = bg
	defer func() {
		if uerr := r.unlock(); uerr != nil && err == nil {
			err = uerr
		}
	}()
	r.heartbeat()
	defer r.stopHB()
	if err := r.e.store.StartRun(ctx, r.run); err != nil {
		r.res.Status = state.RunFailed
		return r.res, err
	}
	defer r.closeDest()
	return r.res, r.execute()
}

// resolve reads the sync's spec, makes sure the state tables exist and
// names the run.
func (r *syncRun) resolve() error {
	e := r.e
	sp, err := spec.Resolve(e.p, e.w.Dialect(), r.name)
	if err != nil {
		return err
	}
	r.sp = sp
	r.res.Destination, r.res.DestinationType, r.res.Mode, r.res.From, r.res.Key = sp.Dest.Name, sp.Dest.Type, sp.Sync.Mode, sp.Sync.From, sp.KeyField
	if err := e.store.Ensure(r.ctx); err != nil {
		return err
	}
	runID := newRunID(r.start)
	r.res.RunID = runID
	r.me = state.Me(runID, r.start)
	r.run = state.Run{RunID: runID, Sync: r.name, Destination: sp.Dest.Name, Mode: sp.Sync.Mode, StartedAt: r.start, Holder: r.me.Host + ":" + fmt.Sprint(r.me.PID)}
	r.log = e.Logger.With("sync", r.name, "run_id", runID)
	return nil
}

// lock takes the sync's lock, taking it over from a dead holder.
func (r *syncRun) lock() error {
	took, err := r.e.lock(r.ctx, r.name, r.me, r.log)
	r.res.Takeovers = took
	if err != nil {
		return err
	}
	r.phase = time.Now()
	return nil
}

// unlock releases the lock, unless the run "crashed".
func (r *syncRun) unlock() error {
	if r.crashed {
		return nil
	}
	return r.e.store.Unlock(r.bg, r.name, r.me.RunID)
}

// heartbeat refreshes the lock until stopHB, so that other hosts do not
// take it over while the run is alive.
func (r *syncRun) heartbeat() {
	hbCtx, stop := context.WithCancel(r.ctx)
	r.stopHB = stop
	go func() {
		t := time.NewTicker(r.e.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case now := <-t.C:
				if err := r.e.store.Heartbeat(hbCtx, r.name, r.me.RunID, now); err != nil && hbCtx.Err() == nil {
					r.log.Warn("refreshing the sync lock", "error", err)
				}
			}
		}
	}()
}

// openDest opens the sync's destination once; erasure and sending share
// it.
func (r *syncRun) openDest(ctx context.Context) (destination.Destination, error) {
	if r.dest != nil {
		return r.dest, nil
	}
	sp := r.sp
	dest, err := r.e.Open(ctx, sp.Dest, r.e.p.Dir, destination.SyncInfo{
		Name: r.name, Mode: sp.Sync.Mode, Key: sp.KeyField, List: sp.Sync.List, Fields: sp.Fields(),
		BatchSize: sp.Sync.BatchSize, Rate: sp.Sync.Rate,
	}, r.log) // the destination adds its name: lines carry sync, run_id and destination once each
	if err != nil {
		return nil, err
	}
	r.dest = dest
	return dest, nil
}

func (r *syncRun) closeDest() {
	if r.dest != nil {
		r.dest.Close()
	}
}

// step logs how long the phase that just ended took.
func (r *syncRun) step(what string) {
	r.log.Debug("sync phase", "phase", what, "seconds", time.Since(r.phase).Seconds())
	r.phase = time.Now()
}

// execute runs the phases after the lock is held and the run logged.
func (r *syncRun) execute() error {
	if err := r.prepare(); err != nil {
		return r.fail(err)
	}
	r.step("prepare")
	if err := r.erase(); err != nil {
		return r.fail(err)
	}
	p, err := r.plan()
	if err != nil {
		return r.fail(err)
	}
	r.step("plan")
	if p.Guard.Blocked && !r.opt.Force {
		gerr := &GuardError{Sync: r.name, Removes: p.Removes, AtDest: p.AtDestination, Limit: p.Guard.Limit, Setting: p.Guard.Setting}
		r.finish(state.RunRefused, gerr)
		return gerr
	}
	if p.Adds+p.Updates+p.Removes == 0 {
		r.finish(state.RunSucceeded, nil)
		r.afterRun()
		return nil
	}
	return r.send()
}

// prepare catches up with earlier runs: creates the snapshot, folds
// commits a crash left behind, re-hashes after a hash function change.
func (r *syncRun) prepare() error {
	ctx, st := r.ctx, r.e.store
	pl, err := planner.New(ctx, r.e.w, st, r.sp)
	if err != nil {
		return err
	}
	r.pl = pl
	if err := st.EnsureSnapshot(ctx, r.name, pl.Canary(), r.start); err != nil {
		return err
	}
	if err := st.Fold(ctx, r.name); err != nil {
		return err
	}
	if err := pl.Refresh(ctx); err != nil {
		return err
	}
	if !pl.HashChanged() {
		return nil
	}
	r.log.Warn("the warehouse's hash function changed: every record is sent once more")
	if err := st.ForgetHashes(ctx, r.name, pl.Canary(), r.start); err != nil {
		return err
	}
	return pl.Refresh(ctx)
}

// plan diffs the model against the snapshot; the result carries the plan.
func (r *syncRun) plan() (*Plan, error) {
	d, err := r.pl.Plan(r.ctx, r.opt.Samples)
	if err != nil {
		return nil, err
	}
	size, err := r.e.store.SnapshotSize(r.ctx, r.name)
	if err != nil {
		return nil, err
	}
	p := summarise(r.sp, d, size)
	p.Seconds = 0
	r.res.Plan = *p
	// Logged now, so that a run that dies midway still shows its plan.
	r.run.Adds, r.run.Updates, r.run.Removes, r.run.Invalid = p.Adds, p.Updates, p.Removes, p.Invalid.Rows()
	if err := r.e.store.RecordPlan(r.ctx, r.run); err != nil {
		return nil, err
	}
	return p, nil
}

// send opens the destination, materialises the changes and sends them;
// the executor commits every batch's outcomes as they come.
func (r *syncRun) send() error {
	ctx, sp := r.ctx, r.sp
	dest, err := r.openDest(ctx)
	if err != nil {
		return r.fail(err)
	}
	if s, ok := dest.(destination.RunSizer); ok {
		pl := r.res.Plan
		s.SizeRun(destination.RunSize{Records: pl.Adds + pl.Updates + pl.Removes, Removals: pl.Removes})
	}
	batch, conc, err := destination.EffectiveLimits(dest.Limits(), sp.Sync.BatchSize)
	if err != nil {
		return r.fail(fmt.Errorf("sync %s: %w", r.name, err))
	}
	if err := dest.Check(ctx); err != nil {
		return r.fail(err)
	}
	counts, err := r.pl.Materialize(ctx)
	if err != nil {
		return r.fail(err)
	}
	r.step("materialize")
	var total int64
	for _, n := range counts {
		total += n
	}
	var progress func(executor.Progress)
	if r.opt.Progress != nil {
		progress = func(pr executor.Progress) { r.opt.Progress(pr, total) }
		r.opt.Progress(executor.Progress{}, total)
	}
	xr, err := executor.Run(ctx, r.pl, executor.Options{
		Dest:      dest,
		Batch:     destination.Batch{Sync: r.name, RunID: r.me.RunID, Mode: sp.Sync.Mode, List: sp.Sync.List},
		BatchSize: batch, Concurrency: conc, Store: r.e.store, Now: r.e.Now, Progress: progress,
		CrashAfter: r.opt.CrashAfter, GroupSize: r.opt.GroupCommit, RangeGroupSize: r.opt.GroupCommit,
	})
	r.res.Sent, r.res.Accepted, r.res.Rejected, r.res.Rejections = xr.Sent, xr.Accepted, xr.Rejected, xr.Rejections
	r.res.Failures = r.pl.Mapper().Failures()
	r.step("send")
	return r.commit(xr, err)
}

// commit logs the outcome of a run that sent changes and folds its
// commits into the snapshot.
func (r *syncRun) commit(xr *executor.Result, err error) error {
	if xr.Crashed {
		// The process "died": no fold, no run log, no unlock.
		r.crashed = true
		r.res.Status = "crashed"
		r.stopHB()
		return err
	}
	_ = r.pl.DropDelta(r.bg)
	switch {
	case err != nil && r.ctx.Err() != nil:
		r.finish(state.RunCancelled, err)
		return err
	case err != nil:
		r.finish(state.RunFailed, err)
		return err
	}
	status := state.RunSucceeded
	if xr.Rejected > 0 {
		status = state.RunRejected
	}
	r.finish(status, nil)
	r.step("commit")
	r.afterRun()
	r.step("tidy")
	_, r.res.Pending, _ = r.e.store.Rejections(r.bg, r.name, 0)
	if xr.Rejected > 0 {
		return &RejectedError{Sync: r.name, Rejected: xr.Rejected, Sent: xr.Sent, First: xr.Rejections}
	}
	return nil
}

// fail records the run as failed (or cancelled) and returns err.
func (r *syncRun) fail(err error) error {
	r.finish(state.RunFailed, err)
	return err
}

// finish logs the run's outcome and folds its commits into the snapshot.
func (r *syncRun) finish(status string, cause error) {
	if status == state.RunFailed && r.ctx.Err() != nil {
		// Whatever step the cancellation interrupted, the run was
		// cancelled, not broken.
		status = state.RunCancelled
	}
	res, run := r.res, &r.run
	res.Status = status
	run.Status, run.FinishedAt = status, r.e.Now()
	run.Adds, run.Updates, run.Removes = res.Adds, res.Updates, res.Removes
	run.Sent, run.Accepted, run.Rejected, run.Invalid = res.Sent, res.Accepted, res.Rejected, res.Invalid.Rows()
	if cause != nil {
		run.Error = cause.Error()
	}
	if err := r.e.store.FinishRun(r.bg, *run); err != nil {
		r.log.Error("recording the run", "error", err)
	}
	if err := r.e.store.Fold(r.bg, r.name); err != nil {
		r.log.Error("advancing the snapshot", "error", err)
	}
}

// afterRun tidies up after a run that went through every change.
func (r *syncRun) afterRun() {
	if err := r.e.store.ClearStaleRejections(r.bg, r.name, r.me.RunID); err != nil {
		r.log.Warn("clearing old rejections", "error", err)
	}
	if err := r.e.store.Prune(r.bg, r.name, r.e.Now().Add(-r.sp.Retention)); err != nil {
		r.log.Warn("pruning the change log", "error", err)
	}
}
