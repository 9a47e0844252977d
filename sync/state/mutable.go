package state

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// mutable keeps sync state in ordinary tables updated in place (UPDATE,
// DELETE, MERGE): DuckDB, and any warehouse where those are plain
// statements. Where keys are enforced (DuckDB) a lock or a tick is taken by
// an insert that a primary key lets only one process make; where they are
// not (claims: Snowflake, BigQuery) it is claimed and read back
// (mutableclaims.go).
type mutable struct {
	s      *Store
	claims bool
}

func (m mutable) ensure(ctx context.Context) error {
	s, f := m.s, m.s.f
	txt, big, ts, b, h := f.Text(), f.BigInt(), f.Timestamp(), f.Boolean(), f.HashType()
	pk := " PRIMARY KEY"
	if m.claims {
		pk = ""
	}
	stmts := []string{
		f.CreateSchema(s.schema),
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_runs") + " (run_id " + txt + ", sync " + txt + ", destination " + txt + ", mode " + txt +
			", started_at " + ts + ", finished_at " + ts + ", status " + txt +
			", adds " + big + ", updates " + big + ", removes " + big + ", sent " + big + ", accepted " + big + ", rejected " + big + ", invalid " + big +
			", error " + txt + ", holder " + txt + ", folded " + b + ")",
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_locks") + " (sync " + txt + pk + ", run_id " + txt + ", holder " + txt + ", host " + txt + ", pid " + big + ", acquired_at " + ts + ", heartbeat_at " + ts + ")",
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_changes") + " (run_id " + txt + ", sync " + txt + ", seq " + big + ", " + f.Ident("key") + " " + txt + ", op " + txt + ", class " + txt +
			", status " + txt + ", error " + txt + ", " + f.Ident("hash") + " " + h + ", fields " + txt + ", changed_at " + ts + ")",
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_rejections") + " (sync " + txt + ", " + f.Ident("key") + " " + txt + ", op " + txt + ", error " + txt + ", attempts " + big +
			", first_failed_at " + ts + ", last_failed_at " + ts + ", last_run_id " + txt + ")",
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_snapshots") + " (sync " + txt + ", hash_canary " + h + ", created_at " + ts + ")",
	}
	for _, q := range stmts {
		if err := s.w.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (m mutable) createSnapshot(ctx context.Context, sync string) error {
	f := m.s.f
	return m.s.w.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+m.s.SnapshotTable(sync)+" ("+f.Ident("key")+" "+f.Text()+", "+f.Ident("hash")+" "+f.HashType()+
		", fields "+f.Text()+", run_id "+f.Text()+", synced_at "+f.Timestamp()+")")
}

func (m mutable) setCanary(ctx context.Context, sync string, canary uint64, now time.Time) error {
	s := m.s
	if err := s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_snapshots")+" WHERE sync = "+s.f.String(sync)); err != nil {
		return err
	}
	return s.w.Exec(ctx, "INSERT INTO "+s.Table("sync_snapshots")+" VALUES ("+s.f.String(sync)+", "+strconv.FormatUint(canary, 10)+", "+s.f.TimestampLiteral(now.UTC())+")")
}

// commit inserts outcomes from one JSON parameter, for warehouses without a
// bulk appender.
func (m mutable) commit(ctx context.Context, sync, runID string, at time.Time, changes []Change) error {
	type row struct {
		Seq    string  `json:"seq"`
		Key    string  `json:"key"`
		Op     string  `json:"op"`
		Class  string  `json:"class"`
		Status string  `json:"status"`
		Error  *string `json:"error"`
		Hash   string  `json:"hash"`
		Fields *string `json:"fields"`
	}
	rows := make([]row, len(changes))
	for i, c := range changes {
		r := row{Seq: strconv.FormatInt(c.Seq, 10), Key: c.Key, Op: c.Op, Class: c.Class, Status: c.Status, Hash: strconv.FormatUint(c.Hash, 10)}
		if c.Error != "" {
			e := c.Error
			r.Error = &e
		}
		if c.Fields != "" {
			fl := c.Fields
			r.Fields = &fl
		}
		rows[i] = r
	}
	data, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	f := m.s.f
	q := "INSERT INTO " + m.s.Table("sync_changes") + " SELECT " + f.String(runID) + ", " + f.String(sync) +
		", CAST(j.seq AS " + f.BigInt() + "), j." + f.Ident("key") + ", j.op, j.class, j.status, j.error, CAST(j." + f.Ident("hash") + " AS " + f.HashType() + "), j.fields, " + f.TimestampLiteral(at.UTC()) +
		" FROM " + f.FromJSON([]string{"seq", "key", "op", "class", "status", "error", "hash", "fields"}) + " AS j"
	return m.s.w.Exec(ctx, q, string(data))
}

// latest is the last change of each key among unfolded runs with the
// given status ("" for any).
func (m mutable) latest(sync, status string) string {
	s, f := m.s, m.s.f
	where := "c.sync = " + f.String(sync) + " AND c.run_id IN (" + s.unfolded(sync) + ")"
	q := "SELECT * FROM (SELECT c.*, row_number() OVER (PARTITION BY c." + f.Ident("key") + " ORDER BY c.changed_at DESC, c.seq DESC) AS rn FROM " +
		s.Table("sync_changes") + " AS c WHERE " + where
	if status == "" {
		return q + ") AS l WHERE rn = 1"
	}
	return q + " AND c.status = " + f.String(status) + ") AS l WHERE rn = 1"
}

func (m mutable) snapshot(sync string, _ bool) string {
	k, h := m.s.f.Ident("key"), m.s.f.Ident("hash")
	snap := m.s.SnapshotTable(sync)
	latest := m.latest(sync, "")
	return "(SELECT " + k + ", " + h + ", fields FROM " + snap + " WHERE " + k + " NOT IN (SELECT " + k + " FROM (" + latest + ") AS a)" +
		" UNION ALL SELECT l." + k + ", CASE WHEN l.status = 'accepted' THEN l." + h + " ELSE s." + h + " END AS " + h + ", CASE WHEN l.status = 'accepted' THEN l.fields ELSE s.fields END AS fields" +
		" FROM (" + latest + ") AS l LEFT JOIN " + snap + " AS s ON s." + k + " = l." + k +
		" WHERE NOT (l.status = 'accepted' AND l.class IN ('consent', 'gone')))"
}

func (m mutable) fold(ctx context.Context, sync string) error {
	s, f := m.s, m.s.f
	k, h := f.Ident("key"), f.Ident("hash")
	snap := s.SnapshotTable(sync)
	latestAny := m.latest(sync, "")
	removal := "c.class IN ('consent', 'gone')"
	stmts := []string{
		"MERGE INTO " + snap + " AS s USING (" + latestAny + ") AS c ON s." + k + " = c." + k +
			" WHEN MATCHED AND c.status = 'accepted' AND " + removal + " THEN DELETE" +
			" WHEN MATCHED AND c.status = 'accepted' THEN UPDATE SET " + h + " = c." + h + ", fields = c.fields, run_id = c.run_id, synced_at = c.changed_at" +
			" WHEN NOT MATCHED AND c.status = 'accepted' AND NOT " + removal + " THEN INSERT (" + k + ", " + h + ", fields, run_id, synced_at) VALUES (c." + k + ", c." + h + ", c.fields, c.run_id, c.changed_at)" +
			" WHEN NOT MATCHED AND c.status = 'rejected' AND NOT " + removal + " THEN INSERT (" + k + ", " + h + ", fields, run_id, synced_at) VALUES (c." + k + ", NULL, NULL, c.run_id, c.changed_at)",
		// A record's latest outcome decides whether it is still rejected.
		"DELETE FROM " + s.Table("sync_rejections") + " WHERE sync = " + f.String(sync) + " AND " + k + " IN (SELECT " + k + " FROM (" + latestAny + ") AS l WHERE l.status = 'accepted')",
		"MERGE INTO " + s.Table("sync_rejections") + " AS r USING (SELECT * FROM (" + latestAny + ") AS l WHERE l.status = 'rejected') AS c" +
			" ON r.sync = " + f.String(sync) + " AND r." + k + " = c." + k +
			" WHEN MATCHED AND r.last_run_id <> c.run_id THEN UPDATE SET op = c.op, error = c.error, attempts = r.attempts + 1, last_failed_at = c.changed_at, last_run_id = c.run_id" +
			" WHEN NOT MATCHED THEN INSERT (sync, " + k + ", op, error, attempts, first_failed_at, last_failed_at, last_run_id) VALUES (" + f.String(sync) + ", c." + k + ", c.op, c.error, 1, c.changed_at, c.changed_at, c.run_id)",
		"UPDATE " + s.Table("sync_runs") + " SET folded = TRUE WHERE sync = " + f.String(sync) + " AND NOT folded AND status <> 'running'",
	}
	for _, q := range stmts {
		if err := s.w.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (m mutable) clearStaleRejections(ctx context.Context, sync, runID string) error {
	s := m.s
	return s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_rejections")+" WHERE sync = "+s.f.String(sync)+" AND last_run_id <> "+s.f.String(runID))
}

func (m mutable) prune(ctx context.Context, sync string, before time.Time) error {
	s := m.s
	return s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_changes")+" WHERE sync = "+s.f.String(sync)+
		" AND changed_at < "+s.f.TimestampLiteral(before.UTC())+" AND run_id NOT IN ("+s.unfolded(sync)+")")
}

func (m mutable) startRun(ctx context.Context, r Run) error {
	f := m.s.f
	q := "INSERT INTO " + m.s.Table("sync_runs") + " VALUES (" + strings.Join([]string{
		f.String(r.RunID), f.String(r.Sync), f.String(r.Destination), f.String(r.Mode),
		f.TimestampLiteral(r.StartedAt.UTC()), "NULL", f.String(RunRunning),
		"0", "0", "0", "0", "0", "0", "0", "NULL", f.String(r.Holder), "FALSE",
	}, ", ") + ")"
	return m.s.w.Exec(ctx, q)
}

func (m mutable) finishRun(ctx context.Context, r Run) error {
	f := m.s.f
	errText := "NULL"
	if r.Error != "" {
		errText = f.String(r.Error)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	q := "UPDATE " + m.s.Table("sync_runs") + " SET finished_at = " + f.TimestampLiteral(r.FinishedAt.UTC()) + ", status = " + f.String(r.Status) +
		", adds = " + n(r.Adds) + ", updates = " + n(r.Updates) + ", removes = " + n(r.Removes) + ", sent = " + n(r.Sent) +
		", accepted = " + n(r.Accepted) + ", rejected = " + n(r.Rejected) + ", invalid = " + n(r.Invalid) + ", error = " + errText +
		" WHERE run_id = " + f.String(r.RunID)
	return m.s.w.Exec(ctx, q)
}

func (m mutable) recordPlan(ctx context.Context, r Run) error {
	f := m.s.f
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return m.s.w.Exec(ctx, "UPDATE "+m.s.Table("sync_runs")+" SET adds = "+n(r.Adds)+", updates = "+n(r.Updates)+", removes = "+n(r.Removes)+
		", invalid = "+n(r.Invalid)+" WHERE run_id = "+f.String(r.RunID)+" AND status = "+f.String(RunRunning))
}

func (m mutable) abandon(ctx context.Context, r Run) error {
	f := m.s.f
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return m.s.w.Exec(ctx, "UPDATE "+m.s.Table("sync_runs")+" SET status = "+f.String(RunAbandoned)+", finished_at = "+f.TimestampLiteral(r.FinishedAt.UTC())+
		", sent = "+n(r.Sent)+", accepted = "+n(r.Accepted)+", rejected = "+n(r.Rejected)+
		", error = "+f.String(r.Error)+" WHERE run_id = "+f.String(r.RunID)+" AND status = "+f.String(RunRunning))
}

func (m mutable) reset(ctx context.Context, sync string) error {
	s, f := m.s, m.s.f
	stmts := []string{
		f.DropTable(s.SnapshotTable(sync)),
		"DELETE FROM " + s.Table("sync_snapshots") + " WHERE sync = " + f.String(sync),
		"DELETE FROM " + s.Table("sync_rejections") + " WHERE sync = " + f.String(sync),
		"UPDATE " + s.Table("sync_runs") + " SET folded = TRUE WHERE sync = " + f.String(sync) + " AND NOT folded",
	}
	for _, q := range stmts {
		if err := s.w.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (m mutable) markFolded(ctx context.Context, runID string) error {
	return m.s.w.Exec(ctx, "UPDATE "+m.s.Table("sync_runs")+" SET folded = TRUE WHERE run_id = "+m.s.f.String(runID))
}

func (m mutable) forgetHashes(ctx context.Context, sync string) error {
	// The WHERE is for BigQuery, which takes no UPDATE without one.
	h := m.s.f.Ident("hash")
	return m.s.w.Exec(ctx, "UPDATE "+m.s.SnapshotTable(sync)+" SET "+h+" = NULL WHERE "+h+" IS NOT NULL")
}

// lock inserts the sync's row in sync_locks, whose primary key lets one
// insert win.
func (m mutable) lock(ctx context.Context, sync string, h Holder, stale func(Holder) bool) ([]Takeover, error) {
	if m.claims {
		return m.claimLock(ctx, sync, h, stale)
	}
	s, f := m.s, m.s.f
	var took []Takeover
	for attempt := 0; attempt < 5; attempt++ {
		err := s.w.Exec(ctx, "INSERT INTO "+s.Table("sync_locks")+" VALUES ("+f.String(sync)+", "+f.String(h.RunID)+", "+
			f.String(fmt.Sprintf("%s:%d", h.Host, h.PID))+", "+f.String(h.Host)+", "+strconv.FormatInt(h.PID, 10)+", "+
			f.TimestampLiteral(h.AcquiredAt.UTC())+", "+f.TimestampLiteral(h.HeartbeatAt.UTC())+")")
		if err == nil {
			return took, nil
		}
		if ctx.Err() != nil {
			return took, ctx.Err()
		}
		cur, ok, rerr := s.lockHolder(ctx, sync)
		if rerr != nil {
			return took, fmt.Errorf("locking %s: %w (reading the lock: %v)", sync, err, rerr)
		}
		if !ok {
			time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
			continue // released meanwhile, or a concurrent insert failed
		}
		if !stale(cur) {
			return took, &LockedError{Sync: sync, Holder: cur}
		}
		t, err := s.takeOver(ctx, sync, cur)
		if err != nil {
			return took, err
		}
		took = append(took, t)
	}
	return took, fmt.Errorf("locking %s: gave up after repeated conflicts", sync)
}

func (m mutable) heartbeat(ctx context.Context, sync, runID string, now time.Time) error {
	s := m.s
	return s.w.Exec(ctx, "UPDATE "+s.Table("sync_locks")+" SET heartbeat_at = "+s.f.TimestampLiteral(now.UTC())+
		" WHERE sync = "+s.f.String(sync)+" AND run_id = "+s.f.String(runID))
}

func (m mutable) unlock(ctx context.Context, sync, runID string) error {
	s := m.s
	return s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_locks")+" WHERE sync = "+s.f.String(sync)+" AND run_id = "+s.f.String(runID))
}

func (m mutable) ensureTicks(ctx context.Context) error {
	s, f := m.s, m.s.f
	pk := ", PRIMARY KEY (sync, scheduled_at)"
	if m.claims {
		pk = ""
	}
	return s.w.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+s.Table(ticksTable)+" (sync "+f.Text()+", scheduled_at "+f.Timestamp()+
		", claimed_by "+f.Text()+", claimed_at "+f.Timestamp()+pk+")")
}

// claimTick inserts the tick's row in sync_ticks, whose primary key lets
// the first insert win.
func (m mutable) claimTick(ctx context.Context, sync string, at time.Time, holder string, now time.Time) (bool, string, error) {
	if m.claims {
		return m.claimTickBack(ctx, sync, at, holder, now)
	}
	s, f := m.s, m.s.f
	var err error
	for attempt := range 5 {
		err = s.w.Exec(ctx, "INSERT INTO "+s.Table(ticksTable)+" VALUES ("+f.String(sync)+", "+f.TimestampLiteral(at)+", "+f.String(holder)+", "+f.TimestampLiteral(now.UTC())+")")
		if err == nil {
			return true, holder, nil
		}
		if ctx.Err() != nil {
			return false, "", ctx.Err()
		}
		by, ok, rerr := m.tickClaim(ctx, sync, at)
		if rerr != nil {
			return false, "", fmt.Errorf("claiming the %s run of %s: %w (reading the claim: %v)", at.Format(time.RFC3339), sync, err, rerr)
		}
		if ok {
			return by == holder, by, nil
		}
		// A concurrent claim conflicted but is not visible yet: look again.
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
	return false, "", fmt.Errorf("claiming the %s run of %s: %w", at.Format(time.RFC3339), sync, err)
}

func (m mutable) tickClaim(ctx context.Context, sync string, at time.Time) (string, bool, error) {
	s := m.s
	rows, err := s.w.Query(ctx, "SELECT claimed_by FROM "+s.Table(ticksTable)+" WHERE sync = "+s.f.String(sync)+" AND scheduled_at = "+s.f.TimestampLiteral(at))
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return "", false, rows.Err()
	}
	var by string
	err = rows.Scan(&by)
	return by, err == nil, err
}

func (m mutable) pruneTicks(ctx context.Context, before time.Time) error {
	s := m.s
	return s.w.Exec(ctx, "DELETE FROM "+s.Table(ticksTable)+" WHERE scheduled_at < "+s.f.TimestampLiteral(before.UTC()))
}
