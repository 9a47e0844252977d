// Package state keeps sync state in the warehouse (schema sluice_state by
// default), so the warehouse stays the single source of truth and the diff
// runs where the data is:
//
//	snapshot_SYNC    what the destination holds from this sync: key, hash
//	                 of the mapped values, removal fields, run, time
//	sync_snapshots   per sync: the hash function's canary
//	sync_changes     per-record change log: every outcome of every run
//	                 (accepted or rejected, with the error), pruned after
//	                 the sync's change_log_retention; it is also the commit
//	                 journal the snapshot is advanced from
//	sync_rejections  records the destination rejected and that are still
//	                 pending, with the error and the number of attempts
//	sync_runs        the run log
//	sync_locks       one row per running sync
//
// Commits are per batch and append-only (sync_changes); folding them into
// the snapshot is idempotent and happens at the end of a run and at the
// start of the next one, so a crash at any point loses nothing.
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/sync/internal/sqlfn"
)

// Statuses of a record in the change log.
const (
	Accepted = "accepted"
	Rejected = "rejected"
)

// Run statuses.
const (
	RunRunning   = "running"
	RunSucceeded = "succeeded" // everything delivered
	RunRejected  = "rejected"  // finished; some records rejected
	RunFailed    = "failed"
	RunRefused   = "refused" // the removal guard stopped it
	RunCancelled = "cancelled"
	RunAbandoned = "abandoned" // its process died; found by the next run
	RunReset     = "reset"     // a state reset
)

// Store reads and writes sync state.
type Store struct {
	w        warehouse.Warehouse
	f        sqlfn.Funcs
	schema   string
	appender appendFunc
}

// New returns the store in schema.
func New(w warehouse.Warehouse, schema string) (*Store, error) {
	f, err := sqlfn.For(w.Dialect())
	if err != nil {
		return nil, err
	}
	st := &Store{w: w, f: f, schema: schema}
	if w.Dialect().Name() == "duckdb" {
		st.appender = duckdbAppender(w)
	}
	return st, nil
}

// Schema is the state schema.
func (s *Store) Schema() string { return s.schema }

// Table names a state table.
func (s *Store) Table(name string) string { return s.f.Table(s.schema, name) }

// SnapshotName is the unqualified name of a sync's snapshot table.
func SnapshotName(sync string) string { return "snapshot_" + sync }

// SnapshotTable is a sync's snapshot table.
func (s *Store) SnapshotTable(sync string) string { return s.Table(SnapshotName(sync)) }

// Exists reports whether the state tables exist (a sync ran here before).
func (s *Store) Exists(ctx context.Context) (bool, error) {
	return s.w.TableExists(ctx, s.schema, "sync_runs")
}

// SnapshotExists reports whether a sync has a snapshot.
func (s *Store) SnapshotExists(ctx context.Context, sync string) (bool, error) {
	return s.w.TableExists(ctx, s.schema, SnapshotName(sync))
}

// Ensure creates the schema and the shared tables.
func (s *Store) Ensure(ctx context.Context) error {
	f := s.f
	txt, big, ts, b, h := f.Text(), f.BigInt(), f.Timestamp(), f.Boolean(), f.HashType()
	stmts := []string{
		f.CreateSchema(s.schema),
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_runs") + " (run_id " + txt + ", sync " + txt + ", destination " + txt + ", mode " + txt +
			", started_at " + ts + ", finished_at " + ts + ", status " + txt +
			", adds " + big + ", updates " + big + ", removes " + big + ", sent " + big + ", accepted " + big + ", rejected " + big + ", invalid " + big +
			", error " + txt + ", holder " + txt + ", folded " + b + ")",
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_locks") + " (sync " + txt + " PRIMARY KEY, run_id " + txt + ", holder " + txt + ", host " + txt + ", pid " + big + ", acquired_at " + ts + ", heartbeat_at " + ts + ")",
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_changes") + " (run_id " + txt + ", sync " + txt + ", seq " + big + ", " + f.Ident("key") + " " + txt + ", op " + txt + ", class " + txt +
			", status " + txt + ", error " + txt + ", hash " + h + ", fields " + txt + ", changed_at " + ts + ")",
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_rejections") + " (sync " + txt + ", " + f.Ident("key") + " " + txt + ", op " + txt + ", error " + txt + ", attempts " + big +
			", first_failed_at " + ts + ", last_failed_at " + ts + ", last_run_id " + txt + ")",
		"CREATE TABLE IF NOT EXISTS " + s.Table("sync_snapshots") + " (sync " + txt + ", hash_canary " + h + ", created_at " + ts + ")",
	}
	for _, q := range stmts {
		if err := s.w.Exec(ctx, q); err != nil {
			return fmt.Errorf("creating sync state in schema %s: %w", s.schema, err)
		}
	}
	return nil
}

// EnsureSnapshot creates a sync's snapshot table (empty) and records the
// hash canary it is valid for.
func (s *Store) EnsureSnapshot(ctx context.Context, sync string, canary uint64, now time.Time) error {
	ok, err := s.SnapshotExists(ctx, sync)
	if err != nil || ok {
		return err
	}
	f := s.f
	q := "CREATE TABLE IF NOT EXISTS " + s.SnapshotTable(sync) + " (" + f.Ident("key") + " " + f.Text() + ", hash " + f.HashType() +
		", fields " + f.Text() + ", run_id " + f.Text() + ", synced_at " + f.Timestamp() + ")"
	if err := s.w.Exec(ctx, q); err != nil {
		return fmt.Errorf("creating the snapshot of %s: %w", sync, err)
	}
	return s.SetCanary(ctx, sync, canary, now)
}

// SetCanary records the hash canary of a sync's snapshot.
func (s *Store) SetCanary(ctx context.Context, sync string, canary uint64, now time.Time) error {
	if err := s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_snapshots")+" WHERE sync = "+s.f.String(sync)); err != nil {
		return err
	}
	return s.w.Exec(ctx, "INSERT INTO "+s.Table("sync_snapshots")+" VALUES ("+s.f.String(sync)+", "+strconv.FormatUint(canary, 10)+", "+s.f.TimestampLiteral(now.UTC())+")")
}

// Canary returns the hash canary recorded for a sync's snapshot.
func (s *Store) Canary(ctx context.Context, sync string) (uint64, bool, error) {
	if ok, err := s.w.TableExists(ctx, s.schema, "sync_snapshots"); err != nil || !ok {
		return 0, false, err
	}
	rows, err := s.w.Query(ctx, "SELECT CAST(hash_canary AS "+s.f.Text()+") FROM "+s.Table("sync_snapshots")+" WHERE sync = "+s.f.String(sync))
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, false, rows.Err()
	}
	var txt string
	if err := rows.Scan(&txt); err != nil {
		return 0, false, err
	}
	n, err := strconv.ParseUint(txt, 10, 64)
	return n, err == nil, err
}

// Change is one record's outcome, committed per batch.
type Change struct {
	Seq    int64
	Key    string
	Op     string
	Class  string
	Status string // Accepted or Rejected
	Error  string
	Hash   uint64
	Fields string // JSON of the removal fields, for accepted non-removals
}

// Commit appends outcomes to the change log. Once it returns, they survive a
// crash; the snapshot catches up when the run folds.
func (s *Store) Commit(ctx context.Context, sync, runID string, at time.Time, changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	if s.appender != nil {
		if err := s.appendChanges(ctx, sync, runID, at, changes); err != nil {
			return fmt.Errorf("committing %d outcomes of %s: %w", len(changes), sync, err)
		}
		return nil
	}
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
	f := s.f
	q := "INSERT INTO " + s.Table("sync_changes") + " SELECT " + f.String(runID) + ", " + f.String(sync) +
		", CAST(j.seq AS " + f.BigInt() + "), j." + f.Ident("key") + ", j.op, j.class, j.status, j.error, CAST(j.hash AS " + f.HashType() + "), j.fields, " + f.TimestampLiteral(at.UTC()) +
		" FROM " + f.FromJSON([]string{"seq", "key", "op", "class", "status", "error", "hash", "fields"}) + " AS j"
	if err := s.w.Exec(ctx, q, string(data)); err != nil {
		return fmt.Errorf("committing %d outcomes of %s: %w", len(changes), sync, err)
	}
	return nil
}

// unfolded selects the run ids whose changes are not yet in the snapshot.
func (s *Store) unfolded(sync string) string {
	return "SELECT run_id FROM " + s.Table("sync_runs") + " WHERE sync = " + s.f.String(sync) + " AND NOT folded"
}

// latest is the last change of each key among unfolded runs with the
// given status ("" for any).
func (s *Store) latest(sync, status string) string {
	f := s.f
	where := "c.sync = " + f.String(sync) + " AND c.run_id IN (" + s.unfolded(sync) + ")"
	q := "SELECT * FROM (SELECT c.*, row_number() OVER (PARTITION BY c." + f.Ident("key") + " ORDER BY c.changed_at DESC, c.seq DESC) AS rn FROM " +
		s.Table("sync_changes") + " AS c WHERE " + where
	if status == "" {
		return q + ") AS l WHERE rn = 1"
	}
	return q + " AND c.status = " + f.String(status) + ") AS l WHERE rn = 1"
}

// Pending reports whether a sync has outcomes not yet folded.
func (s *Store) Pending(ctx context.Context, sync string) (bool, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return false, err
	}
	// The run log is small; the change log may be large: look there only
	// when some run is not folded.
	var runs int64
	if err := warehouse.QueryRow(ctx, s.w, "SELECT count(*) FROM ("+s.unfolded(sync)+") AS u", &runs); err != nil || runs == 0 {
		return false, err
	}
	var n int64
	err := warehouse.QueryRow(ctx, s.w, "SELECT count(*) FROM "+s.Table("sync_changes")+" WHERE sync = "+s.f.String(sync)+" AND run_id IN ("+s.unfolded(sync)+")", &n)
	return n > 0, err
}

// Snapshot is the SQL relation (key, hash, fields) of what the destination
// holds: the snapshot plus the outcomes not yet folded, computed as Fold
// would, for a read-only plan.
func (s *Store) Snapshot(sync string, pending bool) string {
	f := s.f
	k := f.Ident("key")
	snap := s.SnapshotTable(sync)
	if !pending {
		return snap
	}
	latest := s.latest(sync, "")
	return "(SELECT " + k + ", hash, fields FROM " + snap + " WHERE " + k + " NOT IN (SELECT " + k + " FROM (" + latest + ") AS a)" +
		" UNION ALL SELECT l." + k + ", CASE WHEN l.status = 'accepted' THEN l.hash ELSE s.hash END, CASE WHEN l.status = 'accepted' THEN l.fields ELSE s.fields END" +
		" FROM (" + latest + ") AS l LEFT JOIN " + snap + " AS s ON s." + k + " = l." + k +
		" WHERE NOT (l.status = 'accepted' AND l.class IN ('consent', 'gone'))" +
		" AND NOT (l.status = 'rejected' AND l.class IN ('consent', 'gone') AND s.hash IS NULL))"
}

// Fold applies the outcomes of runs not yet folded to the snapshot, records
// the rejected ones in sync_rejections, and marks the runs folded. Every
// statement is idempotent, so a crash halfway is repaired by the next fold.
//
// An accepted record takes its new hash (or leaves, for a removal). A
// rejected add may still have reached the destination (an earlier attempt
// of the same request may have been applied before an error), so it enters
// the snapshot with an unknown (NULL) hash: it is sent again while in the
// model, and removed when it leaves it. A rejected removal of a record whose
// hash is unknown is forgotten: it was most likely never there.
func (s *Store) Fold(ctx context.Context, sync string) error {
	f := s.f
	k := f.Ident("key")
	snap := s.SnapshotTable(sync)
	latestAny := s.latest(sync, "")
	removal := "c.class IN ('consent', 'gone')"
	stmts := []string{
		"MERGE INTO " + snap + " AS s USING (" + latestAny + ") AS c ON s." + k + " = c." + k +
			" WHEN MATCHED AND c.status = 'accepted' AND " + removal + " THEN DELETE" +
			" WHEN MATCHED AND c.status = 'rejected' AND " + removal + " AND s.hash IS NULL THEN DELETE" +
			" WHEN MATCHED AND c.status = 'accepted' THEN UPDATE SET hash = c.hash, fields = c.fields, run_id = c.run_id, synced_at = c.changed_at" +
			" WHEN NOT MATCHED AND c.status = 'accepted' AND NOT " + removal + " THEN INSERT (" + k + ", hash, fields, run_id, synced_at) VALUES (c." + k + ", c.hash, c.fields, c.run_id, c.changed_at)" +
			" WHEN NOT MATCHED AND c.status = 'rejected' AND NOT " + removal + " THEN INSERT (" + k + ", hash, fields, run_id, synced_at) VALUES (c." + k + ", NULL, NULL, c.run_id, c.changed_at)",
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
			return fmt.Errorf("advancing the snapshot of %s: %w", sync, err)
		}
	}
	return nil
}

// ClearStaleRejections forgets rejections that the given run did not retry:
// those records are no longer pending (the model changed).
func (s *Store) ClearStaleRejections(ctx context.Context, sync, runID string) error {
	return s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_rejections")+" WHERE sync = "+s.f.String(sync)+" AND last_run_id <> "+s.f.String(runID))
}

// Prune deletes a sync's change log entries older than before, except
// those not yet folded.
func (s *Store) Prune(ctx context.Context, sync string, before time.Time) error {
	return s.w.Exec(ctx, "DELETE FROM "+s.Table("sync_changes")+" WHERE sync = "+s.f.String(sync)+
		" AND changed_at < "+s.f.TimestampLiteral(before.UTC())+" AND run_id NOT IN ("+s.unfolded(sync)+")")
}

// Run is one row of the run log.
type Run struct {
	RunID, Sync, Destination, Mode string
	StartedAt, FinishedAt          time.Time
	Status                         string
	Adds, Updates, Removes         int64
	Sent, Accepted, Rejected       int64
	Invalid                        int64
	Error                          string
	Holder                         string
}

// StartRun records a run as running.
func (s *Store) StartRun(ctx context.Context, r Run) error {
	f := s.f
	q := "INSERT INTO " + s.Table("sync_runs") + " VALUES (" + strings.Join([]string{
		f.String(r.RunID), f.String(r.Sync), f.String(r.Destination), f.String(r.Mode),
		f.TimestampLiteral(r.StartedAt.UTC()), "NULL", f.String(RunRunning),
		"0", "0", "0", "0", "0", "0", "0", "NULL", f.String(r.Holder), "FALSE",
	}, ", ") + ")"
	if err := s.w.Exec(ctx, q); err != nil {
		return fmt.Errorf("recording the run of %s: %w", r.Sync, err)
	}
	return nil
}

// FinishRun records a run's outcome.
func (s *Store) FinishRun(ctx context.Context, r Run) error {
	f := s.f
	errText := "NULL"
	if r.Error != "" {
		errText = f.String(r.Error)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	q := "UPDATE " + s.Table("sync_runs") + " SET finished_at = " + f.TimestampLiteral(r.FinishedAt.UTC()) + ", status = " + f.String(r.Status) +
		", adds = " + n(r.Adds) + ", updates = " + n(r.Updates) + ", removes = " + n(r.Removes) + ", sent = " + n(r.Sent) +
		", accepted = " + n(r.Accepted) + ", rejected = " + n(r.Rejected) + ", invalid = " + n(r.Invalid) + ", error = " + errText +
		" WHERE run_id = " + f.String(r.RunID)
	if err := s.w.Exec(ctx, q); err != nil {
		return fmt.Errorf("recording the outcome of %s: %w", r.Sync, err)
	}
	return nil
}

// Abandon marks a run whose process died.
func (s *Store) Abandon(ctx context.Context, runID string, at time.Time) error {
	return s.w.Exec(ctx, "UPDATE "+s.Table("sync_runs")+" SET status = "+s.f.String(RunAbandoned)+", finished_at = "+s.f.TimestampLiteral(at.UTC())+
		", error = 'the process running it stopped before it finished' WHERE run_id = "+s.f.String(runID)+" AND status = 'running'")
}

// LastRuns returns the latest runs of a sync (all syncs when sync is ""),
// newest first.
func (s *Store) LastRuns(ctx context.Context, sync string, limit int) ([]Run, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return nil, err
	}
	f := s.f
	where := ""
	if sync != "" {
		where = " WHERE sync = " + f.String(sync)
	}
	rows, err := s.w.Query(ctx, "SELECT run_id, sync, destination, mode, started_at, finished_at, status, adds, updates, removes, sent, accepted, rejected, invalid, coalesce(error, '') FROM "+
		s.Table("sync_runs")+where+" ORDER BY started_at DESC LIMIT "+strconv.Itoa(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var fin *time.Time
		if err := rows.Scan(&r.RunID, &r.Sync, &r.Destination, &r.Mode, &r.StartedAt, &fin, &r.Status, &r.Adds, &r.Updates, &r.Removes, &r.Sent, &r.Accepted, &r.Rejected, &r.Invalid, &r.Error); err != nil {
			return nil, err
		}
		if fin != nil {
			r.FinishedAt = *fin
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Rejection is a pending rejected record.
type Rejection struct {
	Key, Op, Error string
	Attempts       int64
	LastFailedAt   time.Time
}

// Rejections returns up to limit pending rejections of a sync and their
// total count.
func (s *Store) Rejections(ctx context.Context, sync string, limit int) ([]Rejection, int64, error) {
	if ok, err := s.Exists(ctx); err != nil || !ok {
		return nil, 0, err
	}
	f := s.f
	var total int64
	if err := warehouse.QueryRow(ctx, s.w, "SELECT count(*) FROM "+s.Table("sync_rejections")+" WHERE sync = "+f.String(sync), &total); err != nil {
		return nil, 0, err
	}
	rows, err := s.w.Query(ctx, "SELECT "+f.Ident("key")+", op, coalesce(error, ''), attempts, last_failed_at FROM "+s.Table("sync_rejections")+
		" WHERE sync = "+f.String(sync)+" ORDER BY last_failed_at DESC, "+f.Ident("key")+" LIMIT "+strconv.Itoa(limit))
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []Rejection
	for rows.Next() {
		var r Rejection
		if err := rows.Scan(&r.Key, &r.Op, &r.Error, &r.Attempts, &r.LastFailedAt); err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

// SnapshotSize counts the records a sync holds at the destination.
func (s *Store) SnapshotSize(ctx context.Context, sync string) (int64, error) {
	ok, err := s.SnapshotExists(ctx, sync)
	if err != nil || !ok {
		return 0, err
	}
	var n int64
	err = warehouse.QueryRow(ctx, s.w, "SELECT count(*) FROM "+s.SnapshotTable(sync), &n)
	return n, err
}

// Reset forgets a sync's snapshot, pending outcomes and rejections, so the
// next run sends every record again. The run log keeps a "reset" entry.
func (s *Store) Reset(ctx context.Context, sync string, r Run) error {
	f := s.f
	stmts := []string{
		f.DropTable(s.SnapshotTable(sync)),
		"DELETE FROM " + s.Table("sync_snapshots") + " WHERE sync = " + f.String(sync),
		"DELETE FROM " + s.Table("sync_rejections") + " WHERE sync = " + f.String(sync),
		"UPDATE " + s.Table("sync_runs") + " SET folded = TRUE WHERE sync = " + f.String(sync) + " AND NOT folded",
	}
	for _, q := range stmts {
		if err := s.w.Exec(ctx, q); err != nil {
			return fmt.Errorf("resetting %s: %w", sync, err)
		}
	}
	r.Status = RunReset
	if err := s.StartRun(ctx, r); err != nil {
		return err
	}
	r.FinishedAt = r.StartedAt
	if err := s.FinishRun(ctx, r); err != nil {
		return err
	}
	return s.w.Exec(ctx, "UPDATE "+s.Table("sync_runs")+" SET folded = TRUE WHERE run_id = "+f.String(r.RunID))
}

// ErrNoState means no sync ever ran against this warehouse.
var ErrNoState = errors.New("no sync state")

// ForgetHashes marks every hash of a sync's snapshot unknown, after the
// warehouse's hash function changed (an upgrade): each record is then sent
// once more and re-hashed, and the new canary is recorded.
func (s *Store) ForgetHashes(ctx context.Context, sync string, canary uint64, now time.Time) error {
	if err := s.w.Exec(ctx, "UPDATE "+s.SnapshotTable(sync)+" SET hash = NULL"); err != nil {
		return fmt.Errorf("forgetting the hashes of %s: %w", sync, err)
	}
	return s.SetCanary(ctx, sync, canary, now)
}
