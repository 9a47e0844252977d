// Package engine runs syncs: plan (diff in the warehouse, write nothing),
// sync (lock, fold pending commits, diff, guard removals, send, commit per
// batch, fold, log the run) and state reset.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/sync/erasure"
	"github.com/sluicehq/sluice/sync/executor"
	"github.com/sluicehq/sluice/sync/planner"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/state"
)

// Opener opens a sync's destination; destination.Open by default.
type Opener func(ctx context.Context, d config.Destination, projectDir string, s destination.SyncInfo, logger *slog.Logger) (destination.Destination, error)

// Engine runs the syncs of one project against its warehouse.
type Engine struct {
	p     *config.Project
	w     warehouse.Warehouse
	store *state.Store
	// erasure is nil without an erasure block.
	erasure *erasure.Service
	Logger  *slog.Logger
	Now     func() time.Time
	Open    Opener
	// Heartbeat is how often a running sync refreshes its lock; Lease is
	// how old a heartbeat from another host may be before the lock counts
	// as abandoned.
	Heartbeat, Lease time.Duration
}

// New returns an engine.
func New(p *config.Project, w warehouse.Warehouse) (*Engine, error) {
	st, err := state.New(w, p.StateSchema)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		p: p, w: w, store: st,
		Logger: slog.New(slog.DiscardHandler), Now: time.Now, Open: destination.Open,
		Heartbeat: 30 * time.Second, Lease: 5 * time.Minute,
	}
	if p.Erasure != nil {
		if e.erasure, err = erasure.New(p, w, st); err != nil {
			return nil, err
		}
		// The engine's clock, set by callers after New, dates the audit.
		e.erasure.Now = func() time.Time { return e.Now() }
	}
	return e, nil
}

// Store is the engine's state store.
func (e *Engine) Store() *state.Store { return e.store }

// Names lists the project's syncs, or checks the given names.
func (e *Engine) Names(names []string) ([]string, error) {
	if len(names) == 0 {
		for _, s := range e.p.Syncs {
			names = append(names, s.Name)
		}
		return names, nil
	}
	for _, n := range names {
		if _, err := spec.Resolve(e.p, e.w.Dialect(), n); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// Plan is one sync's diff, the shape `sluice plan --json` prints.
type Plan struct {
	Name            string `json:"name"`
	Destination     string `json:"destination"`
	DestinationType string `json:"destination_type"`
	Mode            string `json:"mode"`
	From            string `json:"from"`
	Key             string `json:"key"`

	Adds    int64  `json:"adds"`
	Updates int64  `json:"updates"`
	Removes int64  `json:"removes"`
	Entries *int64 `json:"entries,omitempty"` // segment syncs: adds
	Exits   *int64 `json:"exits,omitempty"`   // segment syncs: removals

	Unchanged        int64   `json:"unchanged"`
	AtDestination    int64   `json:"at_destination"`    // records this sync holds at the destination
	NotConsented     int64   `json:"not_consented"`     // in the model, consent not true: never sent
	ConsentWithdrawn int64   `json:"consent_withdrawn"` // part of removes
	LeftModel        int64   `json:"left_model"`        // at the destination, no longer in the model
	KeptByMode       int64   `json:"kept_by_mode"`      // left the model, not removed (mode)
	UpdatesSkipped   int64   `json:"updates_not_sent"`  // insert mode
	Invalid          Invalid `json:"invalid"`
	Guard            Guard   `json:"removal_guard"`
	HashChanged      bool    `json:"hash_function_changed,omitempty"`

	Samples map[spec.Class][]planner.Sample `json:"samples,omitempty"`
	Seconds float64                         `json:"seconds"`
}

// Invalid counts rows that are never sent.
type Invalid struct {
	NullKeyRows   int64 `json:"null_key_rows"`
	DuplicateKeys int64 `json:"duplicate_keys"`
	DuplicateRows int64 `json:"duplicate_rows"`
}

// Rows is every invalid row.
func (i Invalid) Rows() int64 { return i.NullKeyRows + i.DuplicateRows }

// Guard is the removal guard's verdict.
type Guard struct {
	Limit   int64  `json:"limit"`
	Setting string `json:"max_removals"`
	Blocked bool   `json:"blocked"`
}

// PlanOptions tune Plan.
type PlanOptions struct {
	Samples int // sample records per class
}

// Plan diffs a sync without writing anything anywhere.
func (e *Engine) Plan(ctx context.Context, name string, opt PlanOptions) (*Plan, error) {
	start := time.Now()
	sp, err := spec.Resolve(e.p, e.w.Dialect(), name)
	if err != nil {
		return nil, err
	}
	pl, err := planner.New(ctx, e.w, e.store, sp)
	if err != nil {
		return nil, err
	}
	d, err := pl.Plan(ctx, opt.Samples)
	if err != nil {
		return nil, err
	}
	size, err := e.atDestination(ctx, name)
	if err != nil {
		return nil, err
	}
	out := summarise(sp, d, size)
	out.Seconds = time.Since(start).Seconds()
	return out, nil
}

func (e *Engine) atDestination(ctx context.Context, sync string) (int64, error) {
	pending, err := e.store.Pending(ctx, sync)
	if err != nil {
		return 0, err
	}
	if !pending {
		return e.store.SnapshotSize(ctx, sync)
	}
	var n int64
	err = warehouse.QueryRow(ctx, e.w, "SELECT count(*) FROM "+e.store.Snapshot(sync, true)+" AS s", &n)
	return n, err
}

func summarise(sp *spec.Spec, d *planner.Plan, size int64) *Plan {
	c := func(cl spec.Class) int64 { return d.Counts[cl].Keys }
	out := &Plan{
		Name: sp.Sync.Name, Destination: sp.Dest.Name, DestinationType: sp.Dest.Type, Mode: sp.Sync.Mode, From: sp.Sync.From, Key: sp.KeyField,
		Unchanged: c(spec.Unchanged), AtDestination: size, NotConsented: c(spec.NoConsent),
		LeftModel: c(spec.Gone), HashChanged: d.HashChanged,
		Invalid: Invalid{NullKeyRows: d.Counts[spec.NullKey].Rows, DuplicateKeys: c(spec.Duplicate), DuplicateRows: d.Counts[spec.Duplicate].Rows},
	}
	if sp.Sends(spec.Add) {
		out.Adds = c(spec.Add)
	}
	if sp.Sends(spec.Update) {
		out.Updates = c(spec.Update)
	} else {
		out.UpdatesSkipped = c(spec.Update)
	}
	if sp.Sends(spec.Consent) {
		out.Removes += c(spec.Consent)
		out.ConsentWithdrawn = c(spec.Consent)
	}
	if sp.Sends(spec.Gone) {
		out.Removes += c(spec.Gone)
	} else {
		out.KeptByMode = c(spec.Gone)
	}
	if sp.Segment {
		entries, exits := out.Adds, out.Removes
		out.Entries, out.Exits = &entries, &exits
	}
	out.Guard = guard(sp, out.Removes, size)
	if len(d.Samples) > 0 {
		out.Samples = d.Samples
	}
	return out
}

func guard(sp *spec.Spec, removes, size int64) Guard {
	g := Guard{Setting: sp.Sync.MaxRemovals}
	if g.Setting == "" {
		g.Setting = config.DefaultMaxRemovals
	}
	if sp.MaxRemovalShare >= 0 {
		g.Limit = int64(math.Floor(sp.MaxRemovalShare*float64(size) + 1e-9))
	} else {
		g.Limit = sp.MaxRemovalCount
	}
	g.Blocked = removes > g.Limit
	return g
}

// GuardError says the removal guard refused a run.
type GuardError struct {
	Sync            string
	Removes, AtDest int64
	Limit           int64
	Setting         string
}

func (e *GuardError) Error() string {
	share := ""
	if e.AtDest > 0 {
		share = fmt.Sprintf(" (%.0f%%)", 100*float64(e.Removes)/float64(e.AtDest))
	}
	return fmt.Sprintf("would remove %d of the %d records it holds at the destination%s, above max_removals %s (%d): nothing was sent; check the model (a broken or empty extract?), or run again with --force",
		e.Removes, e.AtDest, share, e.Setting, e.Limit)
}

// SyncOptions tune Sync.
type SyncOptions struct {
	Force    bool // let the removal guard pass
	Samples  int  // sample records in the result's plan
	Progress func(p executor.Progress, total int64)
	// CrashAfter simulates a crash after the destination answered batch
	// CrashAfter, before it is committed (tests only).
	CrashAfter int
	// GroupCommit, when positive, commits outcomes as soon as that many
	// wait, instead of the executor's defaults (tests only).
	GroupCommit int
	// Erase carries out the erasure requests pending for the sync before
	// the diff. Set it only right after a build: the build drops the
	// people to erase from the model, and purging their keys from the
	// snapshot while they are still in it would send them again.
	Erase bool
	// ErasureCutoff, when set, is erasure.Prepared.Cutoff of that build:
	// requests queued since are left for the next run.
	ErasureCutoff int64
}

// Result is one sync run.
type Result struct {
	Plan
	RunID      string               `json:"run_id"`
	Status     string               `json:"status"`
	Sent       int64                `json:"sent"`
	Accepted   int64                `json:"accepted"`
	Rejected   int64                `json:"rejected"`
	Rejections []executor.Rejection `json:"rejection_samples,omitempty"`
	Pending    int64                `json:"pending_rejections"`
	Failures   map[string]int64     `json:"transform_failures,omitempty"`
	Error      string               `json:"error,omitempty"`
	Err        error                `json:"-"`
	// Takeovers are the locks this run took over from dead runs (logged
	// as abandoned), for the caller to report.
	Takeovers []state.Takeover `json:"-"`
	// Erasure is what the run did for pending erasure requests; nil when
	// it had none to do.
	Erasure *erasure.Result `json:"erasure,omitempty"`
}

// active lists the runs of this process, so that a lock held by this
// process for a run that is no longer active is known to be stale.
var active sync.Map

func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(b[:])
}

// Dead reports whether a lock's holder is gone, so that the next run
// takes its lock over: a process of this host that no longer runs (or, in
// this process, a run no longer active), or a holder on another host whose
// heartbeat is older than the lease.
func (e *Engine) Dead(h state.Holder) bool { return e.stale(h) }

// LockTakeovers counts the sync locks this process took over from dead
// runs. The daemon's registry exposes it (daemon/metrics).
var LockTakeovers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sync_lock_takeovers_total",
	Help: "Sync locks taken over from a run whose process died (that run is logged as abandoned), by sync."}, []string{"sync"})

// lock takes a sync's lock for me, taking it over from a dead holder: a
// takeover means a process died mid-run, so it is logged and counted.
func (e *Engine) lock(ctx context.Context, sync string, me state.Holder, log *slog.Logger) ([]state.Takeover, error) {
	took, err := e.store.Acquire(ctx, sync, me, e.stale)
	for _, t := range took {
		LockTakeovers.WithLabelValues(sync).Inc()
		log.Warn("took over the lock of a dead run; it is logged as abandoned",
			"dead_run_id", t.Dead.RunID, "dead_host", t.Dead.Host, "dead_pid", t.Dead.PID,
			"last_heartbeat", t.Dead.HeartbeatAt.UTC().Format(time.RFC3339),
			"sent", t.Run.Sent, "accepted", t.Run.Accepted, "rejected", t.Run.Rejected)
	}
	return took, err
}

func (e *Engine) stale(h state.Holder) bool {
	me := state.Me("", e.Now())
	if h.Host == me.Host {
		if h.PID == me.PID {
			_, running := active.Load(h.RunID)
			return !running
		}
		return !processAlive(h.PID)
	}
	return e.Now().Sub(h.HeartbeatAt) > e.Lease
}

// RejectedError says the destination rejected some records; they are
// stored with their errors and sent again next run.
type RejectedError struct {
	Sync           string
	Rejected, Sent int64
	First          []executor.Rejection
}

func (e *RejectedError) Error() string {
	msg := fmt.Sprintf("%d of %d records rejected by the destination (kept and retried next run)", e.Rejected, e.Sent)
	if len(e.First) > 0 {
		msg += fmt.Sprintf("; first: key %s: %s", e.First[0].Key, e.First[0].Error)
	}
	return msg
}

// Reset forgets a sync's snapshot so that the next run is a full resync.
func (e *Engine) Reset(ctx context.Context, name string) error {
	sp, err := spec.Resolve(e.p, e.w.Dialect(), name)
	if err != nil {
		return err
	}
	if err := e.store.Ensure(ctx); err != nil {
		return err
	}
	now := e.Now()
	runID := newRunID(now)
	me := state.Me(runID, now)
	active.Store(runID, true)
	defer active.Delete(runID)
	if _, err := e.lock(ctx, name, me, e.Logger.With("sync", name, "run_id", runID)); err != nil {
		return err
	}
	defer e.store.Unlock(context.WithoutCancel(ctx), name, runID)
	return e.store.Reset(ctx, name, state.Run{RunID: runID, Sync: name, Destination: sp.Dest.Name, Mode: sp.Sync.Mode, StartedAt: now, Holder: me.Host + ":" + fmt.Sprint(me.PID)})
}

// IsLocked reports whether err is a lock conflict.
func IsLocked(err error) bool {
	var le *state.LockedError
	return errors.As(err, &le)
}
