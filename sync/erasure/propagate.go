package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/planner"
)

// PropagateOptions are the inputs of one propagation.
type PropagateOptions struct {
	// Open opens the sync's destination, called only when there is
	// something to erase; the destination it returns is the caller's to
	// close (the sync sends through it next).
	Open func(context.Context) (destination.Destination, error)
	// Cutoff, when set (see Cutoff), leaves out the requests queued from
	// then on: the build the sync follows began then, so it did not drop
	// their people, and purging their keys now would let the diff send
	// them again.
	Cutoff int64
	Log    *slog.Logger
}

// task is a request's erasure at one sync's destination, still to do.
type task struct {
	request, destination string
	digests              []string
}

// Result tells what one propagation did at a sync's destination.
type Result struct {
	Sync     string
	Done     int // requests the destination confirmed
	NotHeld  int // requests whose keys the sync no longer holds
	Manual   int // requests the destination cannot erase
	Failed   int // requests to retry on the next run
	Keys     int // keys erased
	Err      error
	Requests []string
}

// Propagate carries out, at one sync's destination, the erasure requests
// pending for it: it finds their keys in the sync's state by digest,
// erases them (destination.Eraser), records the outcome, and purges
// confirmed keys from the sync's state. Call it holding the sync's lock,
// after a build that applied the suppression list, and before the diff.
func (s *Service) Propagate(ctx context.Context, sync string, opt PropagateOptions) (*Result, error) {
	res := &Result{Sync: sync}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if err := s.Ensure(ctx); err != nil {
		return res, err
	}
	tasks, err := s.pending(ctx, sync, opt.Cutoff)
	if err != nil || len(tasks) == 0 {
		return res, err
	}
	keys, err := s.findKeys(ctx, sync, tasks)
	if err != nil {
		return res, err
	}
	var dest destination.Destination
	var events [][]any
	for _, t := range tasks {
		res.Requests = append(res.Requests, t.request)
		var mine, ids []string
		for _, d := range t.digests {
			if k, ok := keys[d]; ok {
				mine, ids = append(mine, k.key), append(ids, k.remoteID)
			}
		}
		if len(mine) == 0 {
			res.NotHeld++
			events = append(events, s.event(t.request, sync, t.destination, NotHeld, 0, "", ""))
			continue
		}
		if dest == nil {
			if dest, err = opt.Open(ctx); err != nil {
				return res, s.fail(ctx, res, tasks, sync, fmt.Errorf("opening the destination to erase: %w", err))
			}
		}
		ev, err := s.eraseOne(ctx, dest, sync, t, mine, ids, res, opt.Log)
		if err != nil {
			return res, err
		}
		events = append(events, ev)
	}
	return res, s.insertEvents(ctx, events)
}

// eraseOne erases one request's keys and, when done, purges them.
func (s *Service) eraseOne(ctx context.Context, dest destination.Destination, sync string, t task, keys, remoteIDs []string, res *Result, log *slog.Logger) ([]any, error) {
	er, ok := destination.CanErase(dest)
	if !ok {
		return s.settle(ctx, sync, t, keys, Manual, "", "", res)
	}
	outs, err := er.Erase(ctx, &destination.Erasure{RequestID: t.request, Sync: sync, Keys: keys, RemoteIDs: remoteIDs})
	switch {
	case errors.Is(err, destination.ErrCannotErase):
		return s.settle(ctx, sync, t, keys, Manual, "", scrub(err.Error(), keys), res)
	case err != nil:
		res.Failed++
		res.Err = err
		log.Warn("erasure failed; retried on the next run", "sync", sync, "request", t.request, "error", scrub(err.Error(), keys))
		return s.event(t.request, sync, t.destination, Failed, len(keys), "", scrub(err.Error(), keys)), nil
	case len(outs) != len(keys):
		res.Failed++
		msg := fmt.Sprintf("the destination answered %d outcomes for %d keys", len(outs), len(keys))
		return s.event(t.request, sync, t.destination, Failed, len(keys), "", msg), nil
	}
	var refs, errs []string
	for i, o := range outs {
		if o.Err != nil {
			errs = append(errs, scrub(o.Err.Error(), keys[i:i+1]))
		} else if o.Ref != "" && !slices.Contains(refs, o.Ref) {
			refs = append(refs, o.Ref)
		}
	}
	if len(errs) > 0 {
		res.Failed++
		return s.event(t.request, sync, t.destination, Failed, len(keys), strings.Join(refs, "; "), strings.Join(errs, "; ")), nil
	}
	return s.settle(ctx, sync, t, keys, Done, strings.Join(refs, "; "), "", res)
}

// settle purges a request's keys from the sync's state and returns the
// terminal event.
func (s *Service) settle(ctx context.Context, sync string, t task, keys []string, outcome, ref, msg string, res *Result) ([]any, error) {
	if err := s.st.PurgeKeys(ctx, sync, keys); err != nil {
		return nil, err
	}
	switch outcome {
	case Done:
		res.Done++
		res.Keys += len(keys)
	case Manual:
		res.Manual++
		if msg == "" {
			msg = "manual action needed: this destination cannot erase people"
		}
	}
	return s.event(t.request, sync, t.destination, outcome, len(keys), ref, msg), nil
}

// fail records a failed attempt for every task.
func (s *Service) fail(ctx context.Context, res *Result, tasks []task, sync string, err error) error {
	var events [][]any
	for _, t := range tasks {
		events = append(events, s.event(t.request, sync, t.destination, Failed, 0, "", err.Error()))
	}
	res.Failed += len(tasks)
	res.Err = err
	if ierr := s.insertEvents(ctx, events); ierr != nil {
		return errors.Join(err, ierr)
	}
	return err
}

// pending lists the requests whose latest event for the sync is pending
// or failed, with their key digests.
func (s *Service) pending(ctx context.Context, sync string, cutoff int64) ([]task, error) {
	latest, first := map[string]eventRow{}, map[string]int64{}
	err := s.events(ctx, "sync = "+s.f.String(sync), func(e eventRow) {
		if prev, ok := latest[e.Request]; !ok || e.Seq > prev.Seq {
			latest[e.Request] = e
		}
		if seq, ok := first[e.Request]; !ok || e.Seq < seq {
			first[e.Request] = e.Seq
		}
	})
	if err != nil {
		return nil, err
	}
	byReq := map[string]*task{}
	var ids []string
	for id, e := range latest {
		if cutoff != 0 && first[id] >= cutoff {
			continue // queued after the build began
		}
		if e.Outcome == Pending || e.Outcome == Failed {
			byReq[id] = &task{request: id, destination: e.Destination}
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	q := "SELECT request_id, key_digest FROM " + s.table("erasure_keys") + " WHERE sync = " + s.f.String(sync) + " AND request_id IN " + s.inList(ids)
	err = s.each(ctx, q, func(scan func(...any) error) error {
		var id, d string
		if err := scan(&id, &d); err != nil {
			return err
		}
		if t := byReq[id]; t != nil {
			t.digests = append(t.digests, d)
		}
		return nil
	})
	out := make([]task, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byReq[id])
	}
	return out, err
}

// heldKey is a key a sync holds or delivered, with the destination's id
// for it when one was kept.
type heldKey struct{ key, remoteID string }

// findKeys finds the raw keys of the tasks' digests in what the sync holds
// or delivered, its snapshot and its change log, with the ids the
// destination gave them.
func (s *Service) findKeys(ctx context.Context, sync string, tasks []task) (map[string]heldKey, error) {
	var digests []string
	for _, t := range tasks {
		digests = append(digests, t.digests...)
	}
	found := map[string]heldKey{}
	if len(digests) == 0 {
		return found, nil
	}
	exists, err := s.st.SnapshotExists(ctx, sync)
	if err != nil {
		return nil, err
	}
	key := s.f.Ident("key")
	// The snapshot's id first (src 0): it is the latest accepted one.
	held := "SELECT " + key + " AS k, fields AS f, 1 AS src FROM " + s.st.Table("sync_changes") + " WHERE sync = " + s.f.String(sync)
	if exists {
		held = "SELECT " + key + " AS k, fields AS f, 0 AS src FROM " + s.st.Snapshot(sync, false) + " UNION ALL " + held
	}
	digest := s.keyDigestExpr("held.k")
	q := "SELECT held.k, " + digest + " AS d, held.f FROM (" + held + ") AS held WHERE " + digest + " IN " + s.inList(digests) + " ORDER BY held.src"
	err = s.each(ctx, q, func(scan func(...any) error) error {
		var k, d, f *string
		if err := scan(&k, &d, &f); err != nil {
			return err
		}
		if k == nil || d == nil {
			return nil
		}
		h := found[*d]
		h.key = *k
		if f != nil && h.remoteID == "" {
			h.remoteID = planner.RemoteIDOf(*f)
		}
		found[*d] = h
		return nil
	})
	return found, err
}

// scrub takes raw keys out of a message (vendors quote the values they
// refuse) before it is stored or logged.
func scrub(msg string, keys []string) string {
	for _, k := range keys {
		if k != "" {
			msg = strings.ReplaceAll(msg, k, "[erased key]")
		}
	}
	return msg
}
