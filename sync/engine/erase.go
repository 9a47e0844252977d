package engine

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/sync/erasure"
)

// Erasure is the project's erasure service; nil without an erasure block.
func (e *Engine) Erasure() *erasure.Service { return e.erasure }

// erase carries out the erasure requests pending for the sync, before the
// diff (SyncOptions.Erase). A destination that fails to erase does not
// stop the sync: the request stays pending, is retried on the next run,
// and the result says so. Only a warehouse error stops it.
func (r *syncRun) erase() error {
	if r.e.erasure == nil || !r.opt.Erase {
		return nil
	}
	res, err := r.e.erasure.Propagate(r.ctx, r.name, erasure.PropagateOptions{Open: r.openDest, Cutoff: r.opt.ErasureCutoff, Log: r.log})
	if res != nil && len(res.Requests) > 0 {
		r.res.Erasure = res
	}
	if err != nil {
		if res != nil && res.Err == err {
			// The destination could not be opened: sending will say why.
			return nil
		}
		return fmt.Errorf("erasure: %w", err)
	}
	if res.Done+res.Manual > 0 {
		// The purge changed the snapshot the diff reads.
		return r.pl.Refresh(r.ctx)
	}
	return nil
}

// Erase carries out, now, the erasure requests pending for one sync,
// holding its lock (sluice forget --now). Call it right after a build.
func (e *Engine) Erase(ctx context.Context, name string) (*erasure.Result, error) {
	if e.erasure == nil {
		return nil, erasure.ErrNotConfigured
	}
	r := &syncRun{e: e, ctx: ctx, bg: ctx, name: name, start: e.Now(), res: &Result{Plan: Plan{Name: name}}}
	if err := r.resolve(); err != nil {
		return nil, err
	}
	active.Store(r.me.RunID, true)
	defer active.Delete(r.me.RunID)
	if err := r.lock(); err != nil {
		return nil, err
	}
	defer r.unlock()
	defer r.closeDest()
	return e.erasure.Propagate(ctx, name, erasure.PropagateOptions{Open: r.openDest, Log: r.log})
}
