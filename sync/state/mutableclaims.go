package state

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Locks and ticks on warehouses that update in place but enforce no keys
// (Snowflake, BigQuery): a PRIMARY KEY there is a hint, two inserts of the
// same sync both succeed, so the duplicate-insert lock of DuckDB would let
// two runs overlap. They take the claim protocol of claims.go instead: a
// claimant inserts its row, reads every row of the sync back, and a loser
// withdraws by deleting its own row. It only needs an insert to be visible
// to the next read, which both warehouses guarantee once the statement
// returns.

// claimLock takes a sync's lock by claiming it.
func (m mutable) claimLock(ctx context.Context, sync string, h Holder, stale func(Holder) bool) ([]Takeover, error) {
	s, f := m.s, m.s.f
	err := s.w.Exec(ctx, "INSERT INTO "+s.Table("sync_locks")+" VALUES ("+f.String(sync)+", "+f.String(h.RunID)+", "+
		f.String(fmt.Sprintf("%s:%d", h.Host, h.PID))+", "+f.String(h.Host)+", "+strconv.FormatInt(h.PID, 10)+", "+
		f.TimestampLiteral(h.AcquiredAt.UTC())+", "+f.TimestampLiteral(h.HeartbeatAt.UTC())+")")
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", sync, err)
	}
	return settleLock(ctx, m.s, sync, h, stale, m)
}

// lockClaims reads every claim of a sync's lock.
func (m mutable) lockClaims(ctx context.Context, sync string) ([]Holder, error) {
	s := m.s
	rows, err := s.w.Query(ctx, "SELECT run_id, host, pid, acquired_at, heartbeat_at FROM "+s.Table("sync_locks")+" WHERE sync = "+s.f.String(sync))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Holder
	for rows.Next() {
		var h Holder
		if err := rows.Scan(&h.RunID, &h.Host, &h.PID, &h.AcquiredAt, &h.HeartbeatAt); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// claimTickBack claims a scheduled run: the winner's row stays (until the
// ticks are pruned), so a daemon that looks after the run finished still
// finds the claim and withdraws.
func (m mutable) claimTickBack(ctx context.Context, sync string, at time.Time, holder string, now time.Time) (bool, string, error) {
	s, f := m.s, m.s.f
	tick := "sync = " + f.String(sync) + " AND scheduled_at = " + f.TimestampLiteral(at)
	fail := func(err error) (bool, string, error) {
		return false, "", fmt.Errorf("claiming the %s run of %s: %w", at.Format(time.RFC3339), sync, err)
	}
	if err := s.w.Exec(ctx, "INSERT INTO "+s.Table(ticksTable)+" VALUES ("+f.String(sync)+", "+f.TimestampLiteral(at)+", "+f.String(holder)+", "+f.TimestampLiteral(now.UTC())+")"); err != nil {
		return fail(err)
	}
	read := func() ([]claim, error) {
		rows, err := s.w.Query(ctx, "SELECT claimed_by, claimed_at FROM "+s.Table(ticksTable)+" WHERE "+tick)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []claim
		for rows.Next() {
			var c claim
			if err := rows.Scan(&c.by, &c.at); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
	withdraw := func() error {
		return s.w.Exec(context.WithoutCancel(ctx), "DELETE FROM "+s.Table(ticksTable)+" WHERE "+tick+" AND claimed_by = "+f.String(holder))
	}
	winner, err := settle(ctx, holder, read, withdraw)
	if err != nil {
		return fail(err)
	}
	return winner == holder, winner, nil
}
