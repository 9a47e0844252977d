package state

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Holder identifies who runs a sync.
type Holder struct {
	RunID       string
	Host        string
	PID         int64
	AcquiredAt  time.Time
	HeartbeatAt time.Time
}

func (h Holder) String() string {
	return fmt.Sprintf("run %s (process %d on %s, started %s)", h.RunID, h.PID, h.Host, h.AcquiredAt.UTC().Format(time.RFC3339))
}

// LockedError says a sync is already running.
type LockedError struct {
	Sync   string
	Holder Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("sync %s is already running: %s; a sync never overlaps itself", e.Sync, e.Holder)
}

// Me describes this process as a lock holder.
func Me(runID string, now time.Time) Holder {
	host, _ := os.Hostname()
	return Holder{RunID: runID, Host: host, PID: int64(os.Getpid()), AcquiredAt: now, HeartbeatAt: now}
}

// Lock takes a sync's lock for h. A lock held by a holder that stale
// declares dead is taken over (its run is marked abandoned); a live one
// gives a *LockedError.
func (s *Store) Lock(ctx context.Context, sync string, h Holder, stale func(Holder) bool) error {
	_, err := s.b.lock(ctx, sync, h, stale)
	return err
}

// Takeover is a lock taken over from a holder found dead, and its run as
// now logged: abandoned, with what it delivered before it died.
type Takeover struct {
	Sync string
	Dead Holder
	Run  Run
}

// Acquire is Lock, also returning the locks it took over, for the caller
// to report (a takeover means a process died mid-run).
func (s *Store) Acquire(ctx context.Context, sync string, h Holder, stale func(Holder) bool) ([]Takeover, error) {
	return s.b.lock(ctx, sync, h, stale)
}

// takeOver releases a dead holder's lock and abandons its run.
func (s *Store) takeOver(ctx context.Context, sync string, dead Holder) (Takeover, error) {
	if err := s.b.unlock(ctx, sync, dead.RunID); err != nil {
		return Takeover{}, fmt.Errorf("taking over the stale lock of %s: %w", sync, err)
	}
	r, err := s.abandon(ctx, sync, dead)
	return Takeover{Sync: sync, Dead: dead, Run: r}, err
}

// lockHolder reads the holder of a sync's lock: the earliest claim, where
// claims can briefly be several (insert-only warehouses).
func (s *Store) lockHolder(ctx context.Context, sync string) (Holder, bool, error) {
	rows, err := s.w.Query(ctx, "SELECT run_id, host, pid, acquired_at, heartbeat_at FROM "+s.Table("sync_locks")+" WHERE sync = "+s.f.String(sync)+
		" ORDER BY acquired_at, run_id")
	if err != nil {
		return Holder{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return Holder{}, false, rows.Err()
	}
	var h Holder
	if err := rows.Scan(&h.RunID, &h.Host, &h.PID, &h.AcquiredAt, &h.HeartbeatAt); err != nil {
		return Holder{}, false, err
	}
	return h, true, nil
}

// LockHolder returns who holds a sync's lock, if anyone.
func (s *Store) LockHolder(ctx context.Context, sync string) (Holder, bool, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return Holder{}, false, err
	}
	return s.lockHolder(ctx, sync)
}

// Heartbeat refreshes a held lock.
func (s *Store) Heartbeat(ctx context.Context, sync, runID string, now time.Time) error {
	return s.b.heartbeat(ctx, sync, runID, now)
}

// Unlock releases a lock held by runID.
func (s *Store) Unlock(ctx context.Context, sync, runID string) error {
	return s.b.unlock(ctx, sync, runID)
}

// ForceUnlock releases a sync's lock whoever holds it (sluice state
// unlock); its run is logged as abandoned, as by a takeover.
func (s *Store) ForceUnlock(ctx context.Context, sync string) (Holder, bool, error) {
	h, ok, err := s.LockHolder(ctx, sync)
	if err != nil || !ok {
		return h, ok, err
	}
	_, err = s.takeOver(ctx, sync, h)
	return h, true, err
}
