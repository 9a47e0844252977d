package state

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/sync/internal/sqlfn"
)

// insertOnly keeps sync state where UPDATE, DELETE and MERGE are
// asynchronous mutations that a later query may not see yet (ClickHouse).
// It never relies on them; every change of state is an insert:
//
//   - sync_runs, sync_rejections, sync_locks, sync_snapshots and
//     sync_ticks are views over NAME_versions tables: a change to a row is
//     a new row with the same key and a higher version, and the view shows
//     the latest version of each key (hiding released locks, cleared
//     rejections and withdrawn claims). Older versions are merged away in
//     the background; readers never need them to be.
//   - sync_changes is appended to, in bulk, and partitioned by sync and
//     week: pruning drops whole weeks past the retention, at once.
//   - a snapshot is rebuilt beside the old one with the outcomes folded in,
//     then swapped in by one RENAME, so readers see the old snapshot or the
//     new one, never a half-written one.
//   - a lock or a tick is claimed by inserting a claim and reading the
//     claims back: a claimant proceeds only when its claim is the only
//     one (see claims.go).
//
// Every write is repeatable: a crash between two statements is repaired by
// the next fold, as with the mutable tables.
type insertOnly struct {
	s *Store
	f sqlfn.InsertOnly

	runs, rejections, locks, canaries, ticks vtable
}

func newInsertOnly(s *Store, f sqlfn.InsertOnly) *insertOnly {
	txt, key, big, ts, boolean, h := f.Text(), f.NotNull(f.Text()), f.BigInt(), f.Timestamp(), f.Boolean(), f.HashType()
	flag := f.NotNull(boolean)
	col := func(name, typ string) sqlfn.Column { return sqlfn.Column{Name: name, Type: typ} }
	vt := func(name string, keys, cols []sqlfn.Column) vtable {
		return vtable{f: f, name: name, view: s.Table(name), versions: s.Table(name + "_versions"), keys: keys, cols: cols}
	}
	st := &insertOnly{s: s, f: f}
	st.runs = vt("sync_runs",
		[]sqlfn.Column{col("run_id", key), col("sync", key)},
		[]sqlfn.Column{col("destination", txt), col("mode", txt), col("started_at", ts), col("finished_at", ts), col("status", txt),
			col("adds", big), col("updates", big), col("removes", big), col("sent", big), col("accepted", big), col("rejected", big), col("invalid", big),
			col("error", txt), col("holder", txt), col("folded", boolean)})
	st.rejections = vt("sync_rejections",
		[]sqlfn.Column{col("sync", key), col("key", key)},
		[]sqlfn.Column{col("op", txt), col("error", txt), col("attempts", big), col("first_failed_at", ts), col("last_failed_at", ts), col("last_run_id", txt), col("cleared", flag)})
	st.rejections.hidden, st.rejections.live = "cleared", "cleared = 0"
	st.locks = vt("sync_locks",
		[]sqlfn.Column{col("sync", key), col("run_id", key)},
		[]sqlfn.Column{col("holder", txt), col("host", txt), col("pid", big), col("acquired_at", ts), col("heartbeat_at", ts), col("released", flag)})
	// A release and a heartbeat written at once carry the same version: the
	// release wins.
	st.locks.hidden, st.locks.live, st.locks.tieBreak = "released", "released = 0", "released"
	st.canaries = vt("sync_snapshots",
		[]sqlfn.Column{col("sync", key)},
		[]sqlfn.Column{col("hash_canary", h), col("created_at", ts)})
	st.ticks = vt(ticksTable,
		[]sqlfn.Column{col("sync", key), col("scheduled_at", f.NotNull(ts)), col("claimed_by", key)},
		[]sqlfn.Column{col("claimed_at", ts), col("withdrawn", flag)})
	st.ticks.hidden, st.ticks.live, st.ticks.tieBreak = "withdrawn", "withdrawn = 0", "withdrawn"
	st.ticks.partition = f.Week(f.Ident("scheduled_at"))
	return st
}

func (b *insertOnly) exec(ctx context.Context, stmts ...string) error {
	for _, q := range stmts {
		if err := b.s.w.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (b *insertOnly) changesTable() string { return b.s.Table("sync_changes") }

// creation is a statement creating the table or view name.
type creation struct{ name, stmt string }

// create runs creations. Processes starting together may race to create
// the same table: a creation that fails because the table appeared
// meanwhile is not an error.
func (b *insertOnly) create(ctx context.Context, cs ...creation) error {
	for _, c := range cs {
		if err := b.exec(ctx, c.stmt); err != nil {
			if ok, _ := b.s.w.TableExists(ctx, b.s.schema, c.name); !ok {
				return err
			}
		}
	}
	return nil
}

func (b *insertOnly) ensure(ctx context.Context) error {
	f := b.f
	if err := b.exec(ctx, f.CreateSchema(b.s.schema)); err != nil {
		return err
	}
	var cs []creation
	for _, t := range []vtable{b.runs, b.locks, b.rejections, b.canaries} {
		cs = append(cs, t.create()...)
	}
	key := f.NotNull(f.Text())
	cs = append(cs, creation{"sync_changes", f.CreateTable(b.changesTable(), []sqlfn.Column{
		{Name: "run_id", Type: key}, {Name: "sync", Type: key}, {Name: "seq", Type: f.NotNull(f.BigInt())}, {Name: "key", Type: key},
		{Name: "op", Type: f.Text()}, {Name: "class", Type: f.Text()}, {Name: "status", Type: f.Text()}, {Name: "error", Type: f.Text()},
		{Name: "hash", Type: f.HashType()}, {Name: "fields", Type: f.Text()}, {Name: "changed_at", Type: f.NotNull(f.Timestamp())},
	}, sqlfn.Layout{
		Order: []string{"sync", "run_id", "seq"},
		// A week of one sync's outcomes is what pruning drops at once.
		Partition: "(" + f.Ident("sync") + ", " + f.Week(f.Ident("changed_at")) + ")",
	})})
	return b.create(ctx, cs...)
}

// snapshotColumns are the columns of a snapshot table. The key is
// Nullable, though never NULL, because the planner full-joins it with the
// model's key, which is, and ClickHouse 18.16 crashes on a full join of
// keys of different types.
func (b *insertOnly) snapshotColumns() []sqlfn.Column {
	f := b.f
	return []sqlfn.Column{{Name: "key", Type: f.Text()}, {Name: "hash", Type: f.HashType()}, {Name: "fields", Type: f.Text()},
		{Name: "run_id", Type: f.Text()}, {Name: "synced_at", Type: f.Timestamp()}}
}

func (b *insertOnly) createSnapshot(ctx context.Context, sync string) error {
	return b.exec(ctx, b.f.CreateTable(b.s.SnapshotTable(sync), b.snapshotColumns(), sqlfn.Layout{}))
}

func (b *insertOnly) setCanary(ctx context.Context, sync string, canary uint64, now time.Time) error {
	f := b.f
	return b.exec(ctx, b.canaries.put([]string{f.String(sync), strconv.FormatUint(canary, 10), f.TimestampLiteral(now.UTC())}))
}

func (b *insertOnly) commit(context.Context, string, string, time.Time, []Change) error {
	return errors.New("this warehouse's state is appended in bulk only")
}

// latestChanges is the last change of each key among the unfolded runs,
// with columns l_key, l_run_id, l_op, l_class, l_status, l_error, l_hash,
// l_fields and l_changed_at. (Renamed, because a column and an alias of the
// same name collide in ClickHouse 18.16.)
func (b *insertOnly) latestChanges(sync string) string {
	f, s := b.f, b.s
	cols := []string{"run_id", "op", "class", "status", "error", "hash", "fields", "changed_at"}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = f.Ident(c)
	}
	inner := "SELECT " + f.Ident("key") + ", " + f.Latest(exprs, []string{"changed_at", "run_id", "seq"}) + " AS __change FROM " + b.changesTable() +
		" WHERE sync = " + f.String(sync) + " AND run_id IN (" + s.unfolded(sync) + ") GROUP BY " + f.Ident("key")
	out := "SELECT " + f.Ident("key") + " AS l_key"
	for i, c := range cols {
		out += ", " + f.Element("__change", i+1) + " AS l_" + c
	}
	return out + " FROM (" + inner + ") AS __changes"
}

// Conditions on a latest change (l) joined with the snapshot (s), the
// same as the mutable fold's MERGE.
const (
	accepted = "l.l_status = 'accepted'"
	// kept: only an accepted removal leaves the snapshot.
	kept = "NOT (l.l_status = 'accepted' AND l.l_class IN ('consent', 'gone'))"
)

// foldedJoin joins the latest changes with the snapshot's rows. The key is
// joined on under one name and read under another: ClickHouse 18.16 does
// not return a join's right-hand key.
func (b *insertOnly) foldedJoin(sync string) string {
	k := b.f.Ident("key")
	return " FROM (" + b.latestChanges(sync) + ") AS l LEFT JOIN (SELECT CAST(" + k + " AS " + b.f.NotNull(b.f.Text()) + ") AS s_join, " + k + " AS s_key, hash AS s_hash, fields AS s_fields, run_id AS s_run_id, synced_at AS s_synced_at FROM " +
		b.s.SnapshotTable(sync) + ") AS s ON l.l_key = s.s_join WHERE " + kept
}

// untouched selects the snapshot's rows without an unfolded change.
func (b *insertOnly) untouched(sync, cols string) string {
	k := b.f.Ident("key")
	return "SELECT " + cols + " FROM " + b.s.SnapshotTable(sync) + " WHERE " + k + " NOT IN (SELECT l_key FROM (" + b.latestChanges(sync) + ") AS a)"
}

func (b *insertOnly) snapshot(sync string, _ bool) string {
	f := b.f
	k := f.Ident("key")
	// The two halves of UNION ALL must have the very same types.
	return "(" + b.untouched(sync, k+", hash, fields") +
		" UNION ALL SELECT CAST(l.l_key AS " + f.Text() + ") AS " + k +
		", CAST(CASE WHEN " + accepted + " THEN l.l_hash ELSE s.s_hash END AS " + f.HashType() + ") AS hash" +
		", CAST(CASE WHEN " + accepted + " THEN l.l_fields ELSE s.s_fields END AS " + f.Text() + ") AS fields" +
		b.foldedJoin(sync) + ")"
}

// rebuild writes a sync's next snapshot with fill (statements inserting
// into the table they are given) and swaps it in. A crash leaves at most a
// stray work table, dropped by the next rebuild.
func (b *insertOnly) rebuild(ctx context.Context, sync string, fill func(next string) []string) error {
	f, s := b.f, b.s
	snap := s.SnapshotTable(sync)
	next, old := s.Table(SnapshotName(sync)+"__sluice_next"), s.Table(SnapshotName(sync)+"__sluice_old")
	stmts := []string{f.DropTable(next), f.CreateTable(next, b.snapshotColumns(), sqlfn.Layout{})}
	stmts = append(stmts, fill(next)...)
	stmts = append(stmts, f.DropTable(old), f.Swap(snap, next, old), f.DropTable(old))
	return b.exec(ctx, stmts...)
}

func (b *insertOnly) fold(ctx context.Context, sync string) error {
	pending, err := b.s.Pending(ctx, sync)
	if err != nil {
		return err
	}
	if pending {
		if err := b.foldChanges(ctx, sync); err != nil {
			return err
		}
	}
	return b.exec(ctx, b.runs.update("sync = "+b.f.String(sync), "NOT folded AND status <> 'running'", map[string]string{"folded": "1"}))
}

// foldChanges writes the snapshot with the unfolded outcomes applied, then
// the rejections they leave pending.
func (b *insertOnly) foldChanges(ctx context.Context, sync string) error {
	f, s := b.f, b.s
	k := f.Ident("key")
	if ok, err := s.SnapshotExists(ctx, sync); err != nil || !ok {
		if err == nil {
			err = errors.New("its snapshot table does not exist")
		}
		return err
	}
	cols := " (" + k + ", hash, fields, run_id, synced_at) "
	takeNew := "CASE WHEN " + accepted + " OR s.s_key IS NULL"
	err := b.rebuild(ctx, sync, func(next string) []string {
		return []string{
			"INSERT INTO " + next + cols + b.untouched(sync, k+", hash, fields, run_id, synced_at"),
			"INSERT INTO " + next + cols + "SELECT l.l_key, CASE WHEN " + accepted + " THEN l.l_hash ELSE s.s_hash END" +
				", CASE WHEN " + accepted + " THEN l.l_fields ELSE s.s_fields END" +
				", " + takeNew + " THEN l.l_run_id ELSE s.s_run_id END" +
				", " + takeNew + " THEN l.l_changed_at ELSE s.s_synced_at END" +
				b.foldedJoin(sync),
		}
	})
	if err != nil {
		return err
	}
	// A record's latest outcome decides whether it is still rejected: an
	// accepted one clears its rejection; a rejected one starts one, or
	// counts one more attempt if this run had not counted it yet.
	rej := "CASE WHEN " + accepted + " THEN 1 ELSE 0 END"
	q := "INSERT INTO " + b.rejections.versions + " (sync, " + k + ", op, error, attempts, first_failed_at, last_failed_at, last_run_id, cleared, version)" +
		" SELECT " + f.String(sync) + ", l.l_key" +
		", CASE WHEN " + accepted + " THEN r.r_op ELSE l.l_op END" +
		", CASE WHEN " + accepted + " THEN r.r_error ELSE l.l_error END" +
		", CASE WHEN " + accepted + " THEN r.r_attempts WHEN r.r_key IS NULL THEN 1 ELSE r.r_attempts + 1 END" +
		", CASE WHEN " + accepted + " THEN r.r_first WHEN r.r_key IS NULL THEN l.l_changed_at ELSE r.r_first END" +
		", CASE WHEN " + accepted + " THEN r.r_last ELSE l.l_changed_at END" +
		", CASE WHEN " + accepted + " THEN r.r_last_run ELSE l.l_run_id END" +
		", " + rej + ", " + b.nextRejectionVersion(sync) +
		" FROM (" + b.latestChanges(sync) + ") AS l LEFT JOIN (SELECT " + k + " AS r_join, " + k + " AS r_key, op AS r_op, error AS r_error, attempts AS r_attempts, first_failed_at AS r_first, last_failed_at AS r_last, last_run_id AS r_last_run FROM " +
		b.rejections.view + " WHERE sync = " + f.String(sync) + ") AS r ON l.l_key = r.r_join" +
		" WHERE (" + accepted + " AND r.r_key IS NOT NULL) OR (l.l_status = 'rejected' AND (r.r_key IS NULL OR r.r_last_run <> l.l_run_id))"
	return b.exec(ctx, q)
}

// nextRejectionVersion is the version of a sync's next rejection rows:
// they are written under the sync's lock, one statement at a time, so one
// counter per sync orders them.
func (b *insertOnly) nextRejectionVersion(sync string) string {
	return "(SELECT max(version) FROM " + b.rejections.versions + " WHERE sync = " + b.f.String(sync) + ") + 1"
}

// clearRejections clears a sync's pending rejections that match cond.
func (b *insertOnly) clearRejections(ctx context.Context, sync, cond string) error {
	f := b.f
	k := f.Ident("key")
	where := " WHERE sync = " + f.String(sync)
	if cond != "" {
		where += " AND " + cond
	}
	return b.exec(ctx, "INSERT INTO "+b.rejections.versions+" (sync, "+k+", op, error, attempts, first_failed_at, last_failed_at, last_run_id, cleared, version)"+
		" SELECT sync, "+k+", op, error, attempts, first_failed_at, last_failed_at, last_run_id, 1, "+b.nextRejectionVersion(sync)+" FROM "+b.rejections.view+where)
}

func (b *insertOnly) clearStaleRejections(ctx context.Context, sync, runID string) error {
	return b.clearRejections(ctx, sync, "last_run_id <> "+b.f.String(runID))
}

// prune drops the weeks of a sync's change log whose every entry is older
// than before and belongs to a folded run. An entry may so outlive the
// retention by up to a week; none leaves earlier.
func (b *insertOnly) prune(ctx context.Context, sync string, before time.Time) error {
	f, s := b.f, b.s
	week := f.Week(f.Ident("changed_at"))
	where := " FROM " + b.changesTable() + " WHERE sync = " + f.String(sync)
	old, err := b.weeks(ctx, "SELECT "+week+" AS w"+where+" GROUP BY w HAVING max(changed_at) < "+f.TimestampLiteral(before.UTC()))
	if err != nil || len(old) == 0 {
		return err
	}
	unfolded, err := b.weeks(ctx, "SELECT DISTINCT "+week+where+" AND run_id IN ("+s.unfolded(sync)+")")
	if err != nil {
		return err
	}
	for w := range old {
		if !unfolded[w] {
			if err := b.exec(ctx, f.DropPartition(b.changesTable(), "("+f.String(sync)+", "+w+")")); err != nil {
				return err
			}
		}
	}
	return nil
}

// weeks reads a query's single integer column, as a set of literals.
func (b *insertOnly) weeks(ctx context.Context, q string) (weekSet, error) {
	rows, err := b.s.w.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := weekSet{}
	for rows.Next() {
		var w int64
		if err := rows.Scan(&w); err != nil {
			return nil, err
		}
		out[strconv.FormatInt(w, 10)] = true
	}
	return out, rows.Err()
}

// weekSet is a set of weeks (yyyymmdd of their Monday).
type weekSet map[string]bool

func (b *insertOnly) startRun(ctx context.Context, r Run) error {
	f := b.f
	return b.exec(ctx, b.runs.put([]string{
		f.String(r.RunID), f.String(r.Sync), f.String(r.Destination), f.String(r.Mode),
		f.TimestampLiteral(r.StartedAt.UTC()), "NULL", f.String(RunRunning),
		"0", "0", "0", "0", "0", "0", "0", "NULL", f.String(r.Holder), "0",
	}))
}

func (b *insertOnly) finishRun(ctx context.Context, r Run) error {
	f := b.f
	errText := "NULL"
	if r.Error != "" {
		errText = f.String(r.Error)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return b.exec(ctx, b.runs.update("run_id = "+f.String(r.RunID), "", map[string]string{
		"finished_at": f.TimestampLiteral(r.FinishedAt.UTC()), "status": f.String(r.Status),
		"adds": n(r.Adds), "updates": n(r.Updates), "removes": n(r.Removes), "sent": n(r.Sent),
		"accepted": n(r.Accepted), "rejected": n(r.Rejected), "invalid": n(r.Invalid), "error": errText,
	}))
}

func (b *insertOnly) recordPlan(ctx context.Context, r Run) error {
	f := b.f
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return b.exec(ctx, b.runs.update("run_id = "+f.String(r.RunID), "status = "+f.String(RunRunning), map[string]string{
		"adds": n(r.Adds), "updates": n(r.Updates), "removes": n(r.Removes), "invalid": n(r.Invalid),
	}))
}

func (b *insertOnly) abandon(ctx context.Context, r Run) error {
	f := b.f
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return b.exec(ctx, b.runs.update("run_id = "+f.String(r.RunID), "status = "+f.String(RunRunning), map[string]string{
		"status": f.String(RunAbandoned), "finished_at": f.TimestampLiteral(r.FinishedAt.UTC()), "error": f.String(r.Error),
		"sent": n(r.Sent), "accepted": n(r.Accepted), "rejected": n(r.Rejected),
	}))
}

// reset drops the snapshot (its canary is replaced when the next run
// creates a new one, before anything reads it), clears the rejections and
// marks the runs folded.
func (b *insertOnly) reset(ctx context.Context, sync string) error {
	f, s := b.f, b.s
	if err := b.exec(ctx, f.DropTable(s.SnapshotTable(sync)), f.DropTable(s.Table(SnapshotName(sync)+"__sluice_next")), f.DropTable(s.Table(SnapshotName(sync)+"__sluice_old"))); err != nil {
		return err
	}
	if err := b.clearRejections(ctx, sync, ""); err != nil {
		return err
	}
	return b.exec(ctx, b.runs.update("sync = "+f.String(sync), "NOT folded", map[string]string{"folded": "1"}))
}

func (b *insertOnly) markFolded(ctx context.Context, runID string) error {
	return b.exec(ctx, b.runs.update("run_id = "+b.f.String(runID), "", map[string]string{"folded": "1"}))
}

func (b *insertOnly) forgetHashes(ctx context.Context, sync string) error {
	k := b.f.Ident("key")
	return b.rebuild(ctx, sync, func(next string) []string {
		return []string{"INSERT INTO " + next + " (" + k + ", hash, fields, run_id, synced_at) SELECT " + k + ", NULL, fields, run_id, synced_at FROM " + b.s.SnapshotTable(sync)}
	})
}

// vtable is a table of versioned rows behind a view of their latest
// versions.
type vtable struct {
	f        sqlfn.InsertOnly
	name     string // the view's name
	view     string // what readers query
	versions string // the rows
	keys     []sqlfn.Column
	cols     []sqlfn.Column
	// hidden names a column the view leaves out, and live the condition on
	// the latest version for the view to show a key.
	hidden, live string
	// tieBreak names a column deciding between two versions written with
	// the same number at once (its greater value wins).
	tieBreak  string
	partition string
}

func (t vtable) names(cols []sqlfn.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = t.f.Ident(c.Name)
	}
	return out
}

func (t vtable) create() []creation {
	f := t.f
	all := append(append(append([]sqlfn.Column{}, t.keys...), t.cols...), sqlfn.Column{Name: "version", Type: f.NotNull(f.BigInt())})
	var order []string
	for _, k := range t.keys {
		order = append(order, k.Name)
	}
	shown := t.names(t.keys)
	for _, c := range t.cols {
		if c.Name != t.hidden {
			shown = append(shown, f.Ident(c.Name))
		}
	}
	view := "SELECT " + strings.Join(shown, ", ") + " FROM (" + t.latest("") + ") AS latest"
	if t.live != "" {
		view += " WHERE " + t.live
	}
	return []creation{
		{t.name + "_versions", f.CreateTable(t.versions, all, sqlfn.Layout{Order: order, Version: "version", Partition: t.partition})},
		{t.name, f.CreateView(t.view, view)},
	}
}

// latest is one row per key: the key, every other column as of its
// latest version, and that version as __version. where filters rows
// before they are grouped, so it may only read columns that never change
// for a key (the key's own).
func (t vtable) latest(where string) string {
	f := t.f
	keys := strings.Join(t.names(t.keys), ", ")
	by := []string{f.Ident("version")}
	if t.tieBreak != "" {
		by = append(by, f.Ident(t.tieBreak))
	}
	inner := "SELECT " + keys + ", " + f.Latest(t.names(t.cols), by) + " AS __latest, max(" + f.Ident("version") + ") AS __version FROM " + t.versions
	if where != "" {
		inner += " WHERE " + where
	}
	inner += " GROUP BY " + keys
	out := "SELECT " + keys
	for i, c := range t.cols {
		out += ", " + f.Element("__latest", i+1) + " AS " + f.Ident(c.Name)
	}
	return out + ", __version FROM (" + inner + ") AS __grouped"
}

// put inserts a whole row, given as SQL values in column order (keys
// first), as the key's next version.
func (t vtable) put(values []string) string {
	f := t.f
	conds := make([]string, len(t.keys))
	for i, k := range t.keys {
		conds[i] = f.Ident(k.Name) + " = " + values[i]
	}
	cols := append(t.names(t.keys), t.names(t.cols)...)
	return "INSERT INTO " + t.versions + " (" + strings.Join(cols, ", ") + ", " + f.Ident("version") + ") SELECT " + strings.Join(values, ", ") +
		", (SELECT max(" + f.Ident("version") + ") FROM " + t.versions + " WHERE " + strings.Join(conds, " AND ") + ") + 1"
}

// update writes the next version of the keys matching where (on key
// columns) whose latest version matches filter ("" for all), with the
// columns of set replaced by their SQL expressions.
func (t vtable) update(where, filter string, set map[string]string) string {
	f := t.f
	exprs := t.names(t.keys)
	for _, c := range t.cols {
		if e, ok := set[c.Name]; ok {
			exprs = append(exprs, e)
		} else {
			exprs = append(exprs, f.Ident(c.Name))
		}
	}
	cols := append(t.names(t.keys), t.names(t.cols)...)
	q := "INSERT INTO " + t.versions + " (" + strings.Join(cols, ", ") + ", " + f.Ident("version") + ") SELECT " + strings.Join(exprs, ", ") +
		", __version + 1 FROM (" + t.latest(where) + ") AS __l"
	if filter != "" {
		q += " WHERE " + filter
	}
	return q
}
