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
//
// How the state is written depends on the warehouse, chosen by its dialect:
// where UPDATE, DELETE and MERGE are ordinary statements (DuckDB) the
// tables are updated in place (mutable.go), with locks claimed and read
// back where keys are not enforced (Snowflake, BigQuery:
// mutableclaims.go); where they are asynchronous
// mutations (ClickHouse, sqlfn.InsertOnly) rows are only ever inserted, as
// versions read back by latest version, behind views with the same names
// and columns (insertonly.go). Outcomes are appended through the
// warehouse's bulk path when it has one (warehouse.RowAppender).
package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	w      warehouse.Warehouse
	f      sqlfn.Funcs
	schema string
	b      backend
	// appender, when the warehouse has one, commits outcomes in bulk.
	appender warehouse.RowAppender
}

// backend writes sync state the way the warehouse allows; reads that are
// the same SQL for every warehouse live on Store.
type backend interface {
	ensure(ctx context.Context) error
	createSnapshot(ctx context.Context, sync string) error
	setCanary(ctx context.Context, sync string, canary uint64, now time.Time) error
	// commit appends outcomes without a RowAppender.
	commit(ctx context.Context, sync, runID string, at time.Time, changes []Change) error
	snapshot(sync string, pending bool) string
	fold(ctx context.Context, sync string) error
	clearStaleRejections(ctx context.Context, sync, runID string) error
	prune(ctx context.Context, sync string, before time.Time) error
	startRun(ctx context.Context, r Run) error
	// recordPlan writes the planned counts of a running run.
	recordPlan(ctx context.Context, r Run) error
	finishRun(ctx context.Context, r Run) error
	// abandon marks a running run abandoned, with its end time and the
	// counts of r.
	abandon(ctx context.Context, r Run) error
	// reset forgets a sync's snapshot and rejections and marks its runs
	// folded; markFolded marks one run folded.
	reset(ctx context.Context, sync string) error
	markFolded(ctx context.Context, runID string) error
	forgetHashes(ctx context.Context, sync string) error
	// purge deletes the rows of the keys listed in in (a SQL list) from a
	// sync's snapshot, change log and rejections.
	purge(ctx context.Context, sync, in string) error
	// scrubErrors replaces the keys in the errors of a sync's change
	// log, rejections and runs.
	scrubErrors(ctx context.Context, sync string, keys []string) error

	// lock takes a sync's lock and returns the dead holders it took it
	// over from (their runs abandoned).
	lock(ctx context.Context, sync string, h Holder, stale func(Holder) bool) ([]Takeover, error)
	heartbeat(ctx context.Context, sync, runID string, now time.Time) error
	unlock(ctx context.Context, sync, runID string) error

	ensureTicks(ctx context.Context) error
	claimTick(ctx context.Context, sync string, at time.Time, holder string, now time.Time) (bool, string, error)
	pruneTicks(ctx context.Context, before time.Time) error
}

// New returns the store in schema.
func New(w warehouse.Warehouse, schema string) (*Store, error) {
	f, err := sqlfn.For(w.Dialect())
	if err != nil {
		return nil, err
	}
	st := &Store{w: w, f: f, schema: schema}
	if a, ok := w.(warehouse.RowAppender); ok {
		st.appender = a
	}
	if io, ok := f.(sqlfn.InsertOnly); ok {
		if st.appender == nil {
			return nil, fmt.Errorf("syncs on %s need a warehouse connector that appends rows in bulk", w.Dialect().Name())
		}
		st.b = newInsertOnly(st, io)
	} else {
		_, claims := f.(sqlfn.UnenforcedKeys)
		st.b = mutable{s: st, claims: claims}
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
	if err := s.b.ensure(ctx); err != nil {
		return fmt.Errorf("creating sync state in schema %s: %w", s.schema, err)
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
	if err := s.b.createSnapshot(ctx, sync); err != nil {
		return fmt.Errorf("creating the snapshot of %s: %w", sync, err)
	}
	return s.SetCanary(ctx, sync, canary, now)
}

// SetCanary records the hash canary of a sync's snapshot.
func (s *Store) SetCanary(ctx context.Context, sync string, canary uint64, now time.Time) error {
	return s.b.setCanary(ctx, sync, canary, now)
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
	var err error
	if s.appender != nil {
		err = s.appender.AppendRows(ctx, s.schema, "sync_changes", changeRows(sync, runID, at, changes))
	} else {
		err = s.b.commit(ctx, sync, runID, at, changes)
	}
	if err != nil {
		return fmt.Errorf("committing %d outcomes of %s: %w", len(changes), sync, err)
	}
	return nil
}

// CommitAccepted appends accepted outcomes given as a SQL relation with
// columns seq, key, op, class and hash (records the destination accepted
// whose rows are in the warehouse already, such as a run's delta table),
// in one statement, so that a large run does not send one change-log row
// per record from Go. Like Commit, once it returns they survive a crash.
func (s *Store) CommitAccepted(ctx context.Context, sync, runID string, at time.Time, rel string) error {
	f := s.f
	k, h := f.Ident("key"), f.Ident("hash")
	q := "INSERT INTO " + s.Table("sync_changes") + " (run_id, sync, seq, " + k + ", op, class, status, error, " + h + ", fields, changed_at)" +
		" SELECT " + f.String(runID) + ", " + f.String(sync) + ", a.seq, a." + k + ", a.op, a.class, " + f.String(Accepted) +
		", CAST(NULL AS " + f.Text() + "), a." + h + ", CAST(NULL AS " + f.Text() + "), " + f.TimestampLiteral(at.UTC()) + " FROM (" + rel + ") AS a"
	if err := s.w.Exec(ctx, q); err != nil {
		return fmt.Errorf("committing accepted outcomes of %s: %w", sync, err)
	}
	return nil
}

// changeRows lays outcomes out as rows of sync_changes, in its column order.
func changeRows(sync, runID string, at time.Time, changes []Change) [][]any {
	rows := make([][]any, len(changes))
	at = at.UTC()
	for i, c := range changes {
		rows[i] = []any{runID, sync, c.Seq, c.Key, c.Op, c.Class, c.Status, nullable(c.Error), c.Hash, nullable(c.Fields), at}
	}
	return rows
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// unfolded selects the run ids whose changes are not yet in the snapshot.
func (s *Store) unfolded(sync string) string {
	return "SELECT run_id FROM " + s.Table("sync_runs") + " WHERE sync = " + s.f.String(sync) + " AND NOT folded"
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
	if !pending {
		return s.SnapshotTable(sync)
	}
	return s.b.snapshot(sync, pending)
}

// Fold applies the outcomes of runs not yet folded to the snapshot, records
// the rejected ones in sync_rejections, and marks the runs folded. Every
// statement is idempotent, so a crash halfway is repaired by the next fold.
//
// An accepted record takes its new hash (or leaves, for a removal). A
// rejected add may still have reached the destination (an earlier attempt
// of the same request may have been applied before an error), so it enters
// the snapshot with an unknown (NULL) hash: it is sent again while in the
// model, and removed when it leaves it. A rejected removal stays, and is
// sent again, until the destination accepts it: destinations accept the
// removal of a record they do not hold (its goal holds), so a record that
// was never there leaves at the next attempt, and one that was (an add
// applied, then refused on a retry) is not left behind.
func (s *Store) Fold(ctx context.Context, sync string) error {
	if err := s.b.fold(ctx, sync); err != nil {
		return fmt.Errorf("advancing the snapshot of %s: %w", sync, err)
	}
	return nil
}

// ClearStaleRejections forgets rejections that the given run did not retry:
// those records are no longer pending (the model changed).
func (s *Store) ClearStaleRejections(ctx context.Context, sync, runID string) error {
	return s.b.clearStaleRejections(ctx, sync, runID)
}

// Prune deletes a sync's change log entries older than before, except
// those not yet folded.
func (s *Store) Prune(ctx context.Context, sync string, before time.Time) error {
	return s.b.prune(ctx, sync, before)
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
	if err := s.b.startRun(ctx, r); err != nil {
		return fmt.Errorf("recording the run of %s: %w", r.Sync, err)
	}
	return nil
}

// RecordPlan writes the planned counts (adds, updates, removes, invalid)
// of a running run, so that a run that dies before it finishes still shows
// what it meant to do.
func (s *Store) RecordPlan(ctx context.Context, r Run) error {
	if err := s.b.recordPlan(ctx, r); err != nil {
		return fmt.Errorf("recording the plan of %s: %w", r.Sync, err)
	}
	return nil
}

// FinishRun records a run's outcome.
func (s *Store) FinishRun(ctx context.Context, r Run) error {
	if err := s.b.finishRun(ctx, r); err != nil {
		return fmt.Errorf("recording the outcome of %s: %w", r.Sync, err)
	}
	return nil
}

// abandon logs the run of a dead holder as abandoned, with what it
// delivered: its outcomes in the change log, counted by the warehouse (a
// few rows per run, whatever its size), and as end time its last sign of
// life, the later of its last heartbeat and its last commit.
func (s *Store) abandon(ctx context.Context, sync string, dead Holder) (Run, error) {
	r := Run{RunID: dead.RunID, Sync: sync, Status: RunAbandoned, FinishedAt: dead.HeartbeatAt, Error: abandonedError}
	outcomes, err := s.RunOutcomes(ctx, sync, dead.RunID)
	if err != nil {
		return r, fmt.Errorf("counting what abandoned run %s delivered: %w", dead.RunID, err)
	}
	r.Sent, r.Accepted, r.Rejected = Totals(outcomes)
	if r.Sent > 0 {
		var last time.Time
		q := "SELECT max(changed_at) FROM " + s.Table("sync_changes") + " WHERE sync = " + s.f.String(sync) + " AND run_id = " + s.f.String(dead.RunID)
		if err := warehouse.QueryRow(ctx, s.w, q, &last); err != nil {
			return r, fmt.Errorf("reading the last commit of abandoned run %s: %w", dead.RunID, err)
		}
		if last.After(r.FinishedAt) {
			r.FinishedAt = last
		}
	}
	if err := s.b.abandon(ctx, r); err != nil {
		return r, fmt.Errorf("logging run %s of %s as abandoned: %w", dead.RunID, sync, err)
	}
	return r, nil
}

// Totals sums a run's outcomes: sent, accepted and rejected.
func Totals(outcomes []OpCount) (sent, accepted, rejected int64) {
	for _, o := range outcomes {
		sent += o.N
		switch o.Status {
		case Accepted:
			accepted += o.N
		case Rejected:
			rejected += o.N
		}
	}
	return sent, accepted, rejected
}

const abandonedError = "the process running it stopped before it finished"

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
	if err := s.b.reset(ctx, sync); err != nil {
		return fmt.Errorf("resetting %s: %w", sync, err)
	}
	r.Status = RunReset
	if err := s.StartRun(ctx, r); err != nil {
		return err
	}
	r.FinishedAt = r.StartedAt
	if err := s.FinishRun(ctx, r); err != nil {
		return err
	}
	return s.b.markFolded(ctx, r.RunID)
}

// ErrNoState means no sync ever ran against this warehouse.
var ErrNoState = errors.New("no sync state")

// ForgetHashes marks every hash of a sync's snapshot unknown, after the
// warehouse's hash function changed (an upgrade): each record is then sent
// once more and re-hashed, and the new canary is recorded.
func (s *Store) ForgetHashes(ctx context.Context, sync string, canary uint64, now time.Time) error {
	if err := s.b.forgetHashes(ctx, sync); err != nil {
		return fmt.Errorf("forgetting the hashes of %s: %w", sync, err)
	}
	return s.SetCanary(ctx, sync, canary, now)
}
