package state

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

// Run history, read by `sluice runs`, the daemon's status page and its
// alerts. Everything comes from the run log (sync_runs) and the change log
// (sync_changes), so it survives restarts and is the same for every process.

const runColumns = "run_id, sync, destination, mode, started_at, finished_at, status, adds, updates, removes, sent, accepted, rejected, invalid, coalesce(error, ''), coalesce(holder, '')"

func scanRun(rows warehouse.Rows) (Run, error) {
	var r Run
	var fin *time.Time
	err := rows.Scan(&r.RunID, &r.Sync, &r.Destination, &r.Mode, &r.StartedAt, &fin, &r.Status, &r.Adds, &r.Updates, &r.Removes,
		&r.Sent, &r.Accepted, &r.Rejected, &r.Invalid, &r.Error, &r.Holder)
	if fin != nil {
		r.FinishedAt = *fin
	}
	return r, err
}

// RunByID returns one run of the run log.
func (s *Store) RunByID(ctx context.Context, runID string) (Run, bool, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return Run{}, false, err
	}
	rows, err := s.w.Query(ctx, "SELECT "+runColumns+" FROM "+s.Table("sync_runs")+" WHERE run_id = "+s.f.String(runID))
	if err != nil {
		return Run{}, false, fmt.Errorf("reading run %s: %w", runID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return Run{}, false, rows.Err()
	}
	r, err := scanRun(rows)
	if err != nil {
		return Run{}, false, fmt.Errorf("reading run %s: %w", runID, err)
	}
	return r, true, nil
}

// History returns the latest runs of a sync (all syncs when sync is ""),
// newest first, with their error and holder, skipping state resets when
// resets is false.
func (s *Store) History(ctx context.Context, sync string, limit int, resets bool) ([]Run, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return nil, err
	}
	f := s.f
	where := " WHERE 1 = 1"
	if sync != "" {
		where += " AND sync = " + f.String(sync)
	}
	if !resets {
		where += " AND status <> " + f.String(RunReset)
	}
	rows, err := s.w.Query(ctx, "SELECT "+runColumns+" FROM "+s.Table("sync_runs")+where+" ORDER BY started_at DESC, run_id DESC LIMIT "+strconv.Itoa(limit))
	if err != nil {
		return nil, fmt.Errorf("reading the run log: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("reading the run log: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// LastSuccess returns the start of a sync's latest run that went through
// every change (succeeded, or finished with rejections).
func (s *Store) LastSuccess(ctx context.Context, sync string) (time.Time, bool, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return time.Time{}, false, err
	}
	var at *time.Time
	err := warehouse.QueryRow(ctx, s.w, "SELECT max(started_at) FROM "+s.Table("sync_runs")+" WHERE sync = "+s.f.String(sync)+
		" AND status IN ("+s.f.String(RunSucceeded)+", "+s.f.String(RunRejected)+")", &at)
	if err != nil || at == nil {
		return time.Time{}, false, err
	}
	return *at, true, nil
}

// OpCount counts a run's outcomes of one operation.
type OpCount struct {
	Op     string // upsert, delete, add, remove
	Status string // Accepted or Rejected
	N      int64
}

// RunOutcomes counts a run's committed outcomes per operation and status,
// from the change log (empty once the log was pruned).
func (s *Store) RunOutcomes(ctx context.Context, sync, runID string) ([]OpCount, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return nil, err
	}
	f := s.f
	rows, err := s.w.Query(ctx, "SELECT op, status, count(*) FROM "+s.Table("sync_changes")+" WHERE sync = "+f.String(sync)+
		" AND run_id = "+f.String(runID)+" GROUP BY op, status ORDER BY op, status")
	if err != nil {
		return nil, fmt.Errorf("counting the outcomes of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []OpCount
	for rows.Next() {
		var c OpCount
		if err := rows.Scan(&c.Op, &c.Status, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RejectedRecord is one record a run had rejected, from the change log.
type RejectedRecord struct {
	Key, Op, Class, Error string
	At                    time.Time
}

// RunRejections returns up to limit records a run had rejected, with their
// errors, and how many it rejected in all (as kept by the change log).
func (s *Store) RunRejections(ctx context.Context, sync, runID string, limit int) ([]RejectedRecord, int64, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return nil, 0, err
	}
	f := s.f
	where := " WHERE sync = " + f.String(sync) + " AND run_id = " + f.String(runID) + " AND status = " + f.String(Rejected)
	var total int64
	if err := warehouse.QueryRow(ctx, s.w, "SELECT count(*) FROM "+s.Table("sync_changes")+where, &total); err != nil {
		return nil, 0, fmt.Errorf("reading the rejections of run %s: %w", runID, err)
	}
	if total == 0 || limit <= 0 {
		return nil, total, nil
	}
	rows, err := s.w.Query(ctx, "SELECT "+f.Ident("key")+", op, class, coalesce(error, ''), changed_at FROM "+s.Table("sync_changes")+where+
		" ORDER BY seq, "+f.Ident("key")+" LIMIT "+strconv.Itoa(limit))
	if err != nil {
		return nil, 0, fmt.Errorf("reading the rejections of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []RejectedRecord
	for rows.Next() {
		var r RejectedRecord
		if err := rows.Scan(&r.Key, &r.Op, &r.Class, &r.Error, &r.At); err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}
