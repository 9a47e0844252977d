package state

import (
	"context"
	"fmt"
	"os"
	"strconv"
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
	f := s.f
	for attempt := 0; attempt < 5; attempt++ {
		err := s.w.Exec(ctx, "INSERT INTO "+s.Table("sync_locks")+" VALUES ("+f.String(sync)+", "+f.String(h.RunID)+", "+
			f.String(fmt.Sprintf("%s:%d", h.Host, h.PID))+", "+f.String(h.Host)+", "+strconv.FormatInt(h.PID, 10)+", "+
			f.TimestampLiteral(h.AcquiredAt.UTC())+", "+f.TimestampLiteral(h.HeartbeatAt.UTC())+")")
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cur, ok, rerr := s.lockHolder(ctx, sync)
		if rerr != nil {
			return fmt.Errorf("locking %s: %w (reading the lock: %v)", sync, err, rerr)
		}
		if !ok {
			time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
			continue // released meanwhile, or a concurrent insert failed
		}
		if !stale(cur) {
			return &LockedError{Sync: sync, Holder: cur}
		}
		if err := s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_locks")+" WHERE sync = "+f.String(sync)+" AND run_id = "+f.String(cur.RunID)); err != nil {
			return fmt.Errorf("taking over the stale lock of %s: %w", sync, err)
		}
		if err := s.Abandon(ctx, cur.RunID, h.AcquiredAt); err != nil {
			return err
		}
	}
	return fmt.Errorf("locking %s: gave up after repeated conflicts", sync)
}

func (s *Store) lockHolder(ctx context.Context, sync string) (Holder, bool, error) {
	rows, err := s.w.Query(ctx, "SELECT run_id, host, pid, acquired_at, heartbeat_at FROM "+s.Table("sync_locks")+" WHERE sync = "+s.f.String(sync))
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
	return s.w.Exec(ctx, "UPDATE "+s.Table("sync_locks")+" SET heartbeat_at = "+s.f.TimestampLiteral(now.UTC())+
		" WHERE sync = "+s.f.String(sync)+" AND run_id = "+s.f.String(runID))
}

// Unlock releases a lock held by runID.
func (s *Store) Unlock(ctx context.Context, sync, runID string) error {
	return s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_locks")+" WHERE sync = "+s.f.String(sync)+" AND run_id = "+s.f.String(runID))
}

// ForceUnlock releases a sync's lock whoever holds it (sluice state unlock).
func (s *Store) ForceUnlock(ctx context.Context, sync string, now time.Time) (Holder, bool, error) {
	h, ok, err := s.LockHolder(ctx, sync)
	if err != nil || !ok {
		return h, ok, err
	}
	if err := s.Unlock(ctx, sync, h.RunID); err != nil {
		return h, true, err
	}
	return h, true, s.Abandon(ctx, h.RunID, now)
}
