// Package statetest drives one plan and one sync's state steps through the
// planner and the sync state store against a warehouse that runs no SQL
// (the loopback fakes of Snowflake and BigQuery), answering each statement
// the way a warehouse holding a small model and no sync state would. Tests
// record the statements sent and compare them with golden files, which
// cmd/sluice's offline checker then reads as the engine's parser would.
package statetest

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/planner"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/state"
)

// Kind is a result column's type.
type Kind int

// Column kinds.
const (
	Text Kind = iota
	Int
	Time
)

// Column is a result column.
type Column struct {
	Name string
	Kind Kind
}

// Result is a statement's answer: rows of string, int64, time.Time or nil.
// A statement that returns nothing has no columns.
type Result struct {
	Columns []Column
	Rows    [][]any
}

// Model is the model a Script's warehouse holds: two profiles, both new
// to the destination.
var Model = struct {
	Columns []string
	Rows    [][]string
}{
	Columns: []string{"profile_id", "email", "phone", "first_name", "lifetime_value", "email_opt_in"},
	Rows: [][]string{
		{"p1", "ada@example.com", "+4420", "Ada", "120.5", "true"},
		{"p2", "bob@example.com", "+4421", "Bob", "80", "true"},
	},
}

// Script is one plan and one sync of a project's sync, with fixed run id,
// holder and times so that the SQL sent is the same on every run.
type Script struct {
	Project *config.Project
	Sync    string
	RunID   string
	At      time.Time
	Host    string
	PID     int64

	sp *spec.Spec
	// locks are the claims written to sync_locks and not deleted, by run
	// id: the lock's read-back answers them, as a warehouse would.
	mu      sync.Mutex
	locks   map[string][]any
	created map[string]bool // schema.table, lower case
	// Sent are the changes the sync read back from the warehouse.
	Sent []planner.Change
	// Plan is what the plan found.
	Plan *planner.Plan
}

// Exists answers whether a table exists: the model's tables do, and the
// state tables once a CREATE TABLE statement named them.
func (s *Script) Exists(schema, table string) bool {
	if schema == s.Project.Schema {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[strings.ToLower(schema+"."+table)]
}

// hashes of the model's rows, as the fake warehouse reports them, and its
// hash canary.
var hashes = []string{"1111", "2222"}

const canary = "4242424242"

var (
	selectCount = regexp.MustCompile(`(?is)^SELECT count\(\*\) FROM`)
	diffQuery   = regexp.MustCompile(`(?s)^SELECT coalesce\(d\.class, -2\), CAST\(count\(\*\)`)
	modelCols   = regexp.MustCompile(`(?s)^SELECT \* FROM .* AS m WHERE 1 = 0$`)
	samplesQ    = regexp.MustCompile(`(?s)^SELECT NULLIF\(.* AS __sluice_key, `)
	canaryQ     = regexp.MustCompile(`(?s)^SELECT CAST\(.* AS \S+\)$`)
	deltaCount  = regexp.MustCompile(`(?s)^SELECT class, count\(\*\) FROM \S+ GROUP BY class$`)
	streamQ     = regexp.MustCompile(`(?s)^SELECT d\.\S+, d\.class, d\.\S+, (s\.s_fields|NULL, )`)
	lockRead    = regexp.MustCompile(`(?s)^SELECT run_id, host, pid, acquired_at, heartbeat_at FROM \S+ WHERE sync = `)
	historyQ    = regexp.MustCompile(`(?s)^SELECT run_id, sync, destination, mode, started_at`)
	canaryRead  = regexp.MustCompile(`(?s)^SELECT CAST\(hash_canary AS \S+\) FROM `)
	unfoldedRun = regexp.MustCompile(`(?s)^SELECT count\(\*\) FROM \(SELECT run_id FROM \S+ WHERE sync = '[^']*' AND NOT folded\) AS u$`)
	unfoldedOut = regexp.MustCompile(`(?s)^SELECT count\(\*\) FROM \S+ WHERE sync = '[^']*' AND run_id IN \(SELECT run_id FROM `)
	tickRead    = regexp.MustCompile(`(?s)^SELECT claimed_by, claimed_at FROM \S+ WHERE sync = `)
	createTable = regexp.MustCompile(`(?is)^CREATE (?:OR REPLACE )?(?:TRANSIENT )?TABLE (?:IF NOT EXISTS )?["\x60]([^"\x60]+)["\x60]\.["\x60]([^"\x60]+)["\x60]`)
	lockInsert  = regexp.MustCompile(`(?is)^INSERT INTO \S+\.\S?sync_locks\S? VALUES \('[^']*', '([^']*)', '[^']*', '([^']*)', (\d+), `)
	lockDelete  = regexp.MustCompile(`(?is)^DELETE FROM \S+\.\S?sync_locks\S? WHERE sync = '[^']*' AND run_id = '([^']*)'$`)
)

// Answer answers one statement. An unknown query is an error, so that a
// new statement in the planner or the store shows up here first.
func (s *Script) Answer(sql string) (Result, error) {
	sql = strings.TrimSpace(sql)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locks == nil {
		s.locks = map[string][]any{}
	}
	if m := lockInsert.FindStringSubmatch(sql); m != nil {
		pid, _ := strconv.ParseInt(m[3], 10, 64)
		s.locks[m[1]] = []any{m[1], m[2], pid, s.At, s.At}
	}
	if m := lockDelete.FindStringSubmatch(sql); m != nil {
		delete(s.locks, m[1])
	}
	if m := createTable.FindStringSubmatch(sql); m != nil {
		if s.created == nil {
			s.created = map[string]bool{}
		}
		s.created[strings.ToLower(m[1]+"."+m[2])] = true
	}
	word, _, _ := strings.Cut(sql, " ")
	if strings.ToUpper(word) != "SELECT" {
		return Result{}, nil
	}
	add := int64(planner.ClassCode(spec.Add))
	cols := func(names ...string) []Column {
		out := make([]Column, len(names))
		for i, n := range names {
			out[i] = Column{Name: n}
		}
		return out
	}
	switch {
	case sql == "SELECT 1":
		return Result{Columns: []Column{{"1", Int}}, Rows: [][]any{{int64(1)}}}, nil
	case modelCols.MatchString(sql):
		return Result{Columns: cols(Model.Columns...)}, nil
	case diffQuery.MatchString(sql):
		return Result{
			Columns: []Column{{"class", Int}, {"n", Int}, {"rows", Int}, {"keys", Text}, {"hashes", Text}, {"min_hash", Text}},
			Rows:    [][]any{{add, int64(2), int64(2), `["ada@example.com","bob@example.com"]`, `["` + hashes[0] + `","` + hashes[1] + `"]`, hashes[0]}},
		}, nil
	case samplesQ.MatchString(sql):
		return s.modelRows(nil), nil
	case deltaCount.MatchString(sql):
		return Result{Columns: []Column{{"class", Int}, {"n", Int}}, Rows: [][]any{{add, int64(2)}}}, nil
	case streamQ.MatchString(sql):
		if strings.Contains(sql, "s.s_fields") {
			return Result{Columns: cols("key", "class", "hash", "s_fields", "ordinal")}, nil // no removals
		}
		return s.modelRows([]any{add}), nil
	case lockRead.MatchString(sql):
		res := Result{Columns: []Column{{"run_id", Text}, {"host", Text}, {"pid", Int}, {"acquired_at", Time}, {"heartbeat_at", Time}}}
		for _, id := range slices.Sorted(maps.Keys(s.locks)) {
			res.Rows = append(res.Rows, s.locks[id])
		}
		return res, nil
	case tickRead.MatchString(sql):
		return Result{Columns: []Column{{"claimed_by", Text}, {"claimed_at", Time}}, Rows: [][]any{{s.Host, s.At}}}, nil
	case historyQ.MatchString(sql):
		c := []Column{{"run_id", Text}, {"sync", Text}, {"destination", Text}, {"mode", Text}, {"started_at", Time}, {"finished_at", Time}, {"status", Text}}
		for _, n := range []string{"adds", "updates", "removes", "sent", "accepted", "rejected", "invalid"} {
			c = append(c, Column{n, Int})
		}
		c = append(c, Column{"error", Text}, Column{"holder", Text})
		return Result{Columns: c, Rows: [][]any{{s.RunID, s.Sync, s.sp.Dest.Name, s.sp.Sync.Mode, s.At, s.At.Add(time.Second), state.RunSucceeded,
			int64(2), int64(0), int64(0), int64(2), int64(2), int64(0), int64(0), "", fmt.Sprintf("%s:%d", s.Host, s.PID)}}}, nil
	case canaryRead.MatchString(sql):
		return Result{Columns: []Column{{"canary", Text}}, Rows: [][]any{{canary}}}, nil
	case unfoldedRun.MatchString(sql):
		return Result{Columns: []Column{{"n", Int}}, Rows: [][]any{{int64(1)}}}, nil
	case unfoldedOut.MatchString(sql):
		return Result{Columns: []Column{{"n", Int}}, Rows: [][]any{{int64(len(Model.Rows))}}}, nil
	case selectCount.MatchString(sql):
		return Result{Columns: []Column{{"n", Int}}, Rows: [][]any{{int64(0)}}}, nil
	case canaryQ.MatchString(sql):
		return Result{Columns: []Column{{"canary", Text}}, Rows: [][]any{{canary}}}, nil
	}
	return Result{}, fmt.Errorf("statetest: no answer for %.200s", sql)
}

// modelRows answers a read of the model's rows: the key, what comes
// before the columns (the class and hash of a change, and its kept
// fields), then the spec's columns.
func (s *Script) modelRows(class []any) Result {
	var res Result
	res.Columns = append(res.Columns, Column{Name: "__sluice_key"})
	if class != nil {
		res.Columns = append(res.Columns, Column{"class", Int}, Column{"hash", Int}, Column{"kept", Text}, Column{"ordinal", Int})
	}
	for _, c := range s.sp.Columns {
		res.Columns = append(res.Columns, Column{Name: c})
	}
	for i, r := range Model.Rows {
		row := []any{r[1]}
		if class != nil {
			h, _ := strconv.ParseInt(hashes[i], 10, 64)
			row = append(row, class[0], h, nil, int64(0))
		}
		for _, c := range s.sp.Columns {
			for j, name := range Model.Columns {
				if name == c {
					row = append(row, r[j])
				}
			}
		}
		res.Rows = append(res.Rows, row)
	}
	return res
}

// Run plans the sync, then runs its state steps as a sync does: state
// tables, snapshot, lock, run log, changes, commit, a plan meanwhile (over
// the outcomes not yet folded), fold, clean-up, unlock;
// then claims a scheduled run as a daemon does and reads the run history
// back.
func (s *Script) Run(ctx context.Context, w warehouse.Warehouse) error {
	sp, err := spec.Resolve(s.Project, w.Dialect(), s.Sync)
	if err != nil {
		return err
	}
	s.sp = sp
	store, err := state.New(w, s.Project.StateSchema)
	if err != nil {
		return err
	}
	pl, err := planner.New(ctx, w, store, sp)
	if err != nil {
		return err
	}
	if s.Plan, err = pl.Plan(ctx, 3); err != nil {
		return err
	}
	if err := store.Ensure(ctx); err != nil {
		return err
	}
	if err := store.EnsureSnapshot(ctx, s.Sync, pl.Canary(), s.At); err != nil {
		return err
	}
	h := state.Holder{RunID: s.RunID, Host: s.Host, PID: s.PID, AcquiredAt: s.At, HeartbeatAt: s.At}
	if err := store.Lock(ctx, s.Sync, h, func(state.Holder) bool { return false }); err != nil {
		return err
	}
	run := state.Run{RunID: s.RunID, Sync: s.Sync, Destination: sp.Dest.Name, Mode: sp.Sync.Mode, StartedAt: s.At, Holder: h.Host}
	if err := store.StartRun(ctx, run); err != nil {
		return err
	}
	if _, err := pl.Materialize(ctx); err != nil {
		return err
	}
	var changes []state.Change
	err = pl.Stream(ctx, func(c planner.Change) error {
		s.Sent = append(s.Sent, c)
		changes = append(changes, state.Change{Seq: int64(len(changes) + 1), Key: c.Key, Op: string(c.Op), Class: string(c.Class),
			Status: state.Accepted, Hash: c.Hash, Fields: c.Kept})
		return nil
	})
	if err != nil {
		return err
	}
	if err := store.Heartbeat(ctx, s.Sync, s.RunID, s.At.Add(time.Second)); err != nil {
		return err
	}
	if err := store.Commit(ctx, s.Sync, s.RunID, s.At.Add(time.Second), changes); err != nil {
		return err
	}
	// A plan while the run is going compares with the snapshot plus the
	// outcomes committed and not yet folded.
	again, err := planner.New(ctx, w, store, sp)
	if err != nil {
		return err
	}
	if _, err := again.Plan(ctx, 0); err != nil {
		return err
	}
	run.Status, run.FinishedAt = state.RunSucceeded, s.At.Add(2*time.Second)
	run.Adds, run.Sent, run.Accepted = int64(len(changes)), int64(len(changes)), int64(len(changes))
	if err := store.FinishRun(ctx, run); err != nil {
		return err
	}
	if err := store.Fold(ctx, s.Sync); err != nil {
		return err
	}
	if err := store.ClearStaleRejections(ctx, s.Sync, s.RunID); err != nil {
		return err
	}
	if err := store.Prune(ctx, s.Sync, s.At.Add(-sp.Retention)); err != nil {
		return err
	}
	if err := pl.DropDelta(ctx); err != nil {
		return err
	}
	if err := store.Unlock(ctx, s.Sync, s.RunID); err != nil {
		return err
	}
	if err := store.EnsureTicks(ctx); err != nil {
		return err
	}
	won, by, err := store.ClaimTick(ctx, s.Sync, s.At, s.Host, s.At)
	if err != nil {
		return err
	}
	if !won || by != s.Host {
		return fmt.Errorf("statetest: the scheduled run went to %q", by)
	}
	runs, err := store.History(ctx, s.Sync, 10, false)
	if err != nil {
		return err
	}
	if len(runs) != 1 || runs[0].RunID != s.RunID || runs[0].Status != state.RunSucceeded || runs[0].FinishedAt.IsZero() {
		return fmt.Errorf("statetest: the run log read back %+v", runs)
	}
	return nil
}

// Engine plans and syncs through the engine, as `sluice plan` and `sluice
// sync` do, with the sync's destination (the quickstart's writes files
// under the project directory).
func (s *Script) Engine(ctx context.Context, w warehouse.Warehouse) (*engine.Plan, *engine.Result, error) {
	sp, err := spec.Resolve(s.Project, w.Dialect(), s.Sync)
	if err != nil {
		return nil, nil, err
	}
	s.sp = sp
	e, err := engine.New(s.Project, w)
	if err != nil {
		return nil, nil, err
	}
	pl, err := e.Plan(ctx, s.Sync, engine.PlanOptions{Samples: 3})
	if err != nil {
		return nil, nil, err
	}
	res, err := e.Sync(ctx, s.Sync, engine.SyncOptions{})
	return pl, res, err
}
