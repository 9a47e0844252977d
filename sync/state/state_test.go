package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/sync/internal/sqlfn"

	_ "github.com/sluicehq/sluice/connectors/clickhouse"
	_ "github.com/sluicehq/sluice/connectors/duckdb"
)

// target is a warehouse the store's behaviour is checked on.
type target struct {
	name string
	open func(t *testing.T) (*Store, warehouse.Warehouse)
}

// targets are DuckDB (with its appender, through the portable JSON
// insert, and posing as a warehouse that enforces no keys, as Snowflake and
// BigQuery) and, when SLUICE_CLICKHOUSE_DSN names a server, ClickHouse (the
// insert-only store).
func targets() []target {
	duck := func(fast bool) func(t *testing.T) (*Store, warehouse.Warehouse) {
		return func(t *testing.T) (*Store, warehouse.Warehouse) {
			w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: t.TempDir(), Warehouse: config.Warehouse{Type: "duckdb"}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			s := newStore(t, w, "sluice_state")
			if fast && s.appender == nil {
				t.Fatal("DuckDB should offer the appender")
			}
			if !fast {
				s.appender = nil // the portable JSON path
			}
			return s, w
		}
	}
	return []target{
		{"duckdb-appender", duck(true)},
		{"duckdb-json", duck(false)},
		{"duckdb-unenforced-keys", openUnenforced},
		{"clickhouse", openClickHouse},
	}
}

// unenforced is a DuckDB warehouse whose dialect says its keys are not
// enforced: its state tables get no PRIMARY KEY, so two inserts of one lock
// both succeed, as on Snowflake and BigQuery, and locks and ticks must be
// claimed. It hides the appender, as those connectors have none.
type unenforced struct {
	warehouse.Warehouse
	f sqlfn.Funcs
}

func (u unenforced) Dialect() dialect.Dialect { return unenforcedFuncs{u.f} }

type unenforcedFuncs struct{ sqlfn.Funcs }

func (unenforcedFuncs) KeysUnenforced() bool { return true }

func openUnenforced(t *testing.T) (*Store, warehouse.Warehouse) {
	w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: t.TempDir(), Warehouse: config.Warehouse{Type: "duckdb"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	f, err := sqlfn.For(w.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	uw := unenforced{w, f}
	s := newStore(t, uw, "sluice_state")
	if m, ok := s.b.(mutable); !ok || !m.claims || s.appender != nil {
		t.Fatalf("store %T on a warehouse without enforced keys should claim its locks, without an appender", s.b)
	}
	return s, uw
}

// openClickHouse opens a store in a database of its own on the server of
// SLUICE_CLICKHOUSE_DSN (.ci/clickhouse.sh starts one), dropped afterwards.
func openClickHouse(t *testing.T) (*Store, warehouse.Warehouse) {
	dsn := os.Getenv("SLUICE_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
	}
	w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: t.TempDir(), Warehouse: config.Warehouse{Type: "clickhouse", DSN: config.Secret(dsn)}})
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("sluice_state_test_%d", rand.Uint32())
	t.Cleanup(func() {
		if err := w.Exec(context.Background(), "DROP DATABASE IF EXISTS "+w.Dialect().Ident(schema)); err != nil {
			t.Error(err)
		}
		w.Close()
	})
	s := newStore(t, w, schema)
	if _, ok := s.b.(*insertOnly); !ok {
		t.Fatalf("ClickHouse should get the insert-only store, got %T", s.b)
	}
	return s, w
}

func newStore(t *testing.T, w warehouse.Warehouse, schema string) *Store {
	t.Helper()
	s, err := New(w, schema)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func forEach(t *testing.T, fn func(t *testing.T, s *Store, w warehouse.Warehouse)) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			s, w := tg.open(t)
			fn(t, s, w)
		})
	}
}

func count(t *testing.T, w warehouse.Warehouse, q string) int64 {
	t.Helper()
	var n int64
	if err := warehouse.QueryRow(context.Background(), w, q, &n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Commits are journaled per batch; folding applies the latest accepted
// outcome per key, is idempotent, and keeps rejections with attempts.
func TestCommitAndFold(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, w warehouse.Warehouse) {
		ctx := context.Background()
		now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
		if err := s.EnsureSnapshot(ctx, "x", 42, now); err != nil {
			t.Fatal(err)
		}
		snap, k := s.SnapshotTable("x"), s.f.Ident("key")
		run := func(id string, changes ...Change) {
			t.Helper()
			if err := s.StartRun(ctx, Run{RunID: id, Sync: "x", StartedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, "x", id, now, changes); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishRun(ctx, Run{RunID: id, Sync: "x", Status: RunSucceeded, FinishedAt: now}); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Minute)
		}
		run("r1",
			Change{Seq: 1, Key: "a", Op: "upsert", Class: "add", Status: Accepted, Hash: 1, Fields: `{"phone":"+33"}`},
			Change{Seq: 1, Key: "b", Op: "upsert", Class: "add", Status: Accepted, Hash: 2},
			Change{Seq: 2, Key: "c", Op: "upsert", Class: "add", Status: Rejected, Error: "bad", Hash: 3},
		)
		pending, err := s.Pending(ctx, "x")
		if err != nil || !pending {
			t.Fatalf("pending = %v, %v", pending, err)
		}
		// A read-only plan sees the unfolded outcomes.
		// c was rejected: it may still have reached the destination, so it
		// is tracked with an unknown hash.
		if n := count(t, w, "SELECT count(*) FROM "+s.Snapshot("x", true)+" AS s"); n != 3 {
			t.Errorf("effective snapshot has %d records, want 3", n)
		}
		for range 2 { // idempotent
			if err := s.Fold(ctx, "x"); err != nil {
				t.Fatal(err)
			}
		}
		if n := count(t, w, "SELECT count(*) FROM "+snap); n != 3 {
			t.Errorf("snapshot has %d records, want 3", n)
		}
		if n := count(t, w, "SELECT count(*) FROM "+snap+" WHERE "+k+" = 'c' AND hash IS NULL"); n != 1 {
			t.Error("a rejected add should be tracked with an unknown hash")
		}
		if n := count(t, w, "SELECT count(*) FROM "+snap+" WHERE "+k+" = 'a' AND fields = '{\"phone\":\"+33\"}'"); n != 1 {
			t.Error("removal fields not kept")
		}
		if pending, _ := s.Pending(ctx, "x"); pending {
			t.Error("nothing should be pending after a fold")
		}
		run("r2",
			Change{Seq: 1, Key: "a", Op: "delete", Class: "gone", Status: Accepted},
			Change{Seq: 1, Key: "b", Op: "upsert", Class: "update", Status: Accepted, Hash: 20},
			Change{Seq: 1, Key: "c", Op: "upsert", Class: "add", Status: Rejected, Error: "still bad", Hash: 3},
		)
		if err := s.Fold(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if n := count(t, w, "SELECT count(*) FROM "+snap+" WHERE "+k+" = 'b' AND hash = 20"); n != 1 {
			t.Error("update not folded")
		}
		if n := count(t, w, "SELECT count(*) FROM "+snap); n != 2 {
			t.Errorf("removal not folded: %d records", n)
		}
		rej, total, err := s.Rejections(ctx, "x", 10)
		if err != nil || total != 1 || rej[0].Attempts != 2 || rej[0].Error != "still bad" {
			t.Errorf("rejections: %+v %d %v", rej, total, err)
		}
		// A rejected removal of a record of unknown state stays, to be sent
		// again: the add that was refused may have been applied before.
		run("r3", Change{Seq: 1, Key: "c", Op: "delete", Class: "gone", Status: Rejected, Error: "busy"})
		if n := count(t, w, "SELECT count(*) FROM "+s.Snapshot("x", true)+" AS s"); n != 2 {
			t.Errorf("effective snapshot has %d records, want 2", n)
		}
		if err := s.Fold(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if n := count(t, w, "SELECT count(*) FROM "+snap+" WHERE "+k+" = 'c' AND hash IS NULL"); n != 1 {
			t.Error("the record of unknown state should stay until its removal is accepted")
		}
		// An accepted outcome clears the rejection; a run that did not
		// retry a rejection clears it too.
		run("r4", Change{Seq: 1, Key: "d", Op: "upsert", Class: "add", Status: Rejected, Error: "no", Hash: 4},
			Change{Seq: 1, Key: "e", Op: "upsert", Class: "add", Status: Rejected, Error: "no", Hash: 5})
		run("r5", Change{Seq: 1, Key: "d", Op: "upsert", Class: "add", Status: Accepted, Hash: 4})
		if err := s.Fold(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if _, total, _ := s.Rejections(ctx, "x", 10); total != 2 { // c (its delete) and e
			t.Errorf("%d pending rejections, want 2", total)
		}
		if err := s.ClearStaleRejections(ctx, "x", "r4"); err != nil {
			t.Fatal(err)
		}
		if rej, total, _ := s.Rejections(ctx, "x", 10); total != 1 || rej[0].Key != "e" {
			t.Errorf("after clearing: %+v", rej)
		}
		runs, err := s.History(ctx, "x", 10, true)
		if err != nil || len(runs) != 5 || runs[0].RunID != "r5" || runs[0].Status != RunSucceeded {
			t.Errorf("run log: %+v %v", runs, err)
		}
		if n := count(t, w, "SELECT count(*) FROM "+s.Table("sync_runs")+" WHERE NOT folded"); n != 0 {
			t.Errorf("%d runs not folded", n)
		}
	})
}

// Reset forgets the snapshot and the rejections and logs a reset; a
// forgotten hash makes every record unknown.
func TestResetAndForgetHashes(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, w warehouse.Warehouse) {
		ctx := context.Background()
		now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
		if err := s.EnsureSnapshot(ctx, "x", 42, now); err != nil {
			t.Fatal(err)
		}
		if err := s.StartRun(ctx, Run{RunID: "r1", Sync: "x", StartedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, "x", "r1", now, []Change{
			{Seq: 1, Key: "a", Op: "upsert", Class: "add", Status: Accepted, Hash: 1},
			{Seq: 1, Key: "b", Op: "upsert", Class: "add", Status: Rejected, Error: "no", Hash: 2},
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, Run{RunID: "r1", Sync: "x", Status: RunRejected, FinishedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.Fold(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if err := s.ForgetHashes(ctx, "x", 43, now); err != nil {
			t.Fatal(err)
		}
		if n := count(t, w, "SELECT count(*) FROM "+s.SnapshotTable("x")+" WHERE hash IS NULL"); n != 2 {
			t.Errorf("%d unknown hashes, want 2", n)
		}
		if c, ok, err := s.Canary(ctx, "x"); err != nil || !ok || c != 43 {
			t.Errorf("canary = %d, %v, %v", c, ok, err)
		}
		if err := s.Reset(ctx, "x", Run{RunID: "r2", Sync: "x", StartedAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.SnapshotExists(ctx, "x"); ok {
			t.Error("the snapshot should be gone")
		}
		if _, total, _ := s.Rejections(ctx, "x", 10); total != 0 {
			t.Errorf("%d rejections after a reset", total)
		}
		if r, ok, err := s.RunByID(ctx, "r2"); err != nil || !ok || r.Status != RunReset {
			t.Errorf("reset run: %+v %v %v", r, ok, err)
		}
		if pending, _ := s.Pending(ctx, "x"); pending {
			t.Error("nothing should be pending after a reset")
		}
	})
}

// The change log keeps a sync's entries at least for its retention, and
// never drops those of a run not yet folded.
func TestPrune(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, w warehouse.Warehouse) {
		ctx := context.Background()
		now := time.Date(2025, 3, 12, 12, 0, 0, 0, time.UTC)
		commit := func(sync, run string, at time.Time, fold bool) {
			t.Helper()
			if err := s.StartRun(ctx, Run{RunID: run, Sync: sync, StartedAt: at}); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, sync, run, at, []Change{{Seq: 1, Key: run, Op: "upsert", Class: "add", Status: Accepted, Hash: 1}}); err != nil {
				t.Fatal(err)
			}
			if fold {
				if err := s.FinishRun(ctx, Run{RunID: run, Sync: sync, Status: RunSucceeded, FinishedAt: at}); err != nil {
					t.Fatal(err)
				}
				if err := s.EnsureSnapshot(ctx, sync, 1, at); err != nil {
					t.Fatal(err)
				}
				if err := s.Fold(ctx, sync); err != nil {
					t.Fatal(err)
				}
			}
		}
		commit("x", "old", now.AddDate(0, 0, -40), true)
		commit("y", "other", now.AddDate(0, 0, -40), true)    // another sync's
		commit("x", "crashed", now.AddDate(0, 0, -35), false) // never folded
		commit("x", "recent", now.AddDate(0, 0, -1), true)
		if err := s.Prune(ctx, "x", now.AddDate(0, 0, -30)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			run  string
			kept bool
		}{{"old", false}, {"other", true}, {"crashed", true}, {"recent", true}} {
			n := count(t, w, "SELECT count(*) FROM "+s.Table("sync_changes")+" WHERE run_id = '"+c.run+"'")
			if (n == 1) != c.kept {
				t.Errorf("run %s: %d entries left, kept should be %v", c.run, n, c.kept)
			}
		}
	})
}

// A sync's lock: the first holder wins, others are refused and told who
// holds it, a stale holder is taken over and its run abandoned.
func TestLock(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, _ warehouse.Warehouse) {
		ctx := context.Background()
		now := time.Now()
		a, b := Me("run-a", now), Me("run-b", now.Add(time.Second))
		never := func(Holder) bool { return false }
		if err := s.Lock(ctx, "x", a, never); err != nil {
			t.Fatal(err)
		}
		err := s.Lock(ctx, "x", b, never)
		var le *LockedError
		if !errors.As(err, &le) || le.Holder.RunID != "run-a" {
			t.Fatalf("second lock: %v", err)
		}
		if h, held, _ := s.LockHolder(ctx, "x"); !held || h.RunID != "run-a" {
			t.Errorf("holder = %+v, %v", h, held)
		}
		if err := s.Heartbeat(ctx, "x", "run-a", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// A stale holder is taken over.
		if err := s.StartRun(ctx, Run{RunID: "run-a", Sync: "x", StartedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.Lock(ctx, "x", b, func(h Holder) bool { return h.RunID == "run-a" }); err != nil {
			t.Fatalf("taking over a stale lock: %v", err)
		}
		runs, _ := s.LastRuns(ctx, "x", 1)
		if len(runs) != 1 || runs[0].Status != RunAbandoned {
			t.Errorf("the stale run should be abandoned: %+v", runs)
		}
		if err := s.Unlock(ctx, "x", "run-b"); err != nil {
			t.Fatal(err)
		}
		if _, held, _ := s.LockHolder(ctx, "x"); held {
			t.Error("still locked")
		}
		// state unlock releases whoever holds it.
		if err := s.Lock(ctx, "x", Me("run-c", now), never); err != nil {
			t.Fatal(err)
		}
		if h, ok, err := s.ForceUnlock(ctx, "x"); err != nil || !ok || h.RunID != "run-c" {
			t.Fatalf("force unlock: %+v %v %v", h, ok, err)
		}
		if err := s.Lock(ctx, "x", Me("run-d", now), never); err != nil {
			t.Fatalf("locking after a forced unlock: %v", err)
		}
	})
}

// A lock taken over from a dead holder logs its run as abandoned with
// what it had committed (counted in the warehouse) and, as end time, its
// last sign of life: the later of its last heartbeat and its last commit.
func TestTakeoverAbandonsWithCounts(t *testing.T) {
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	heartbeat := base.Add(time.Minute)
	cases := []struct {
		name                     string
		accepted, rejected       int
		committedAt, wantEnd     time.Time
		wantSent, wantAcc, wantR int64
	}{
		{"nothing committed", 0, 0, time.Time{}, heartbeat, 0, 0, 0},
		{"commits after the last heartbeat", 3, 1, base.Add(2 * time.Minute), base.Add(2 * time.Minute), 4, 3, 1},
		{"commits before the last heartbeat", 2, 0, base.Add(30 * time.Second), heartbeat, 2, 2, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, s *Store, _ warehouse.Warehouse) {
				ctx := context.Background()
				dead := Holder{RunID: "run-dead", Host: "gone.example", PID: 4242, AcquiredAt: base, HeartbeatAt: base}
				if err := s.StartRun(ctx, Run{RunID: dead.RunID, Sync: "x", Destination: "d", Mode: "upsert", StartedAt: base, Holder: "gone.example:4242"}); err != nil {
					t.Fatal(err)
				}
				if err := s.Lock(ctx, "x", dead, func(Holder) bool { return false }); err != nil {
					t.Fatal(err)
				}
				if err := s.Heartbeat(ctx, "x", dead.RunID, heartbeat); err != nil {
					t.Fatal(err)
				}
				if err := s.RecordPlan(ctx, Run{RunID: dead.RunID, Sync: "x", Adds: 7, Updates: 2, Removes: 1, Invalid: 3}); err != nil {
					t.Fatal(err)
				}
				var changes []Change
				for i := range tc.accepted + tc.rejected {
					c := Change{Seq: 1, Key: fmt.Sprintf("k%d", i), Op: "upsert", Class: "add", Status: Accepted, Hash: uint64(i)}
					if i >= tc.accepted {
						c.Status, c.Error = Rejected, "refused"
					}
					changes = append(changes, c)
				}
				if err := s.Commit(ctx, "x", dead.RunID, tc.committedAt, changes); err != nil {
					t.Fatal(err)
				}
				took, err := s.Acquire(ctx, "x", Me("run-next", base.Add(time.Hour)), func(h Holder) bool { return h.RunID == dead.RunID })
				if err != nil {
					t.Fatalf("taking over: %v", err)
				}
				if len(took) != 1 || took[0].Dead.RunID != dead.RunID || took[0].Dead.Host != "gone.example" || took[0].Dead.PID != 4242 ||
					took[0].Run.Sent != tc.wantSent || took[0].Run.Accepted != tc.wantAcc || took[0].Run.Rejected != tc.wantR {
					t.Fatalf("takeovers: %+v", took)
				}
				r, ok, err := s.RunByID(ctx, dead.RunID)
				if err != nil || !ok {
					t.Fatalf("reading the run: %v %v", ok, err)
				}
				if r.Status != RunAbandoned || r.Sent != tc.wantSent || r.Accepted != tc.wantAcc || r.Rejected != tc.wantR ||
					r.Adds != 7 || r.Updates != 2 || r.Removes != 1 || r.Invalid != 3 || r.Error == "" {
					t.Errorf("abandoned run: %+v", r)
				}
				if !r.FinishedAt.Equal(tc.wantEnd) {
					t.Errorf("ended %s, want %s (its last sign of life)", r.FinishedAt.UTC(), tc.wantEnd)
				}
			})
		})
	}
}

// Processes racing for one lock: exactly one gets it, every other is told
// who did. Repeated, since a race is a matter of timing.
func TestLockRace(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, w warehouse.Warehouse) {
		ctx := context.Background()
		const racers = 4
		stores := make([]*Store, racers)
		for i := range stores {
			stores[i] = newStore(t, w, s.schema) // as another process would
		}
		for round := range 5 {
			now := time.Now()
			var wg sync.WaitGroup
			errs := make([]error, racers)
			for i := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = stores[i].Lock(ctx, "x", Me(fmt.Sprintf("r%d-%d", round, i), now), func(Holder) bool { return false })
				}()
			}
			wg.Wait()
			winner := ""
			for i, err := range errs {
				var le *LockedError
				switch {
				case err == nil && winner == "":
					winner = fmt.Sprintf("r%d-%d", round, i)
				case err == nil:
					t.Fatalf("round %d: two racers hold the lock", round)
				case !errors.As(err, &le):
					t.Fatalf("round %d: racer %d: %v", round, i, err)
				}
			}
			if winner == "" {
				t.Fatalf("round %d: nobody got the lock: %v", round, errs)
			}
			for i, err := range errs {
				var le *LockedError
				if errors.As(err, &le) && le.Holder.RunID != winner {
					t.Errorf("round %d: racer %d was told %s holds the lock, not %s", round, i, le.Holder.RunID, winner)
				}
			}
			if h, held, _ := s.LockHolder(ctx, "x"); !held || h.RunID != winner {
				t.Errorf("round %d: holder %+v, want %s", round, h, winner)
			}
			if err := s.Unlock(ctx, "x", winner); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Daemons racing for one scheduled tick: exactly one runs it, the others
// (and any later claimant) are told which; old claims are pruned.
func TestClaimTick(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, w warehouse.Warehouse) {
		ctx := context.Background()
		if err := s.EnsureTicks(ctx); err != nil {
			t.Fatal(err)
		}
		tick := time.Date(2025, 3, 1, 12, 15, 0, 0, time.UTC)
		const daemons = 4
		won := make([]bool, daemons)
		by := make([]string, daemons)
		errs := make([]error, daemons)
		var wg sync.WaitGroup
		for i := range daemons {
			wg.Add(1)
			go func() {
				defer wg.Done()
				won[i], by[i], errs[i] = newStore(t, w, s.schema).ClaimTick(ctx, "x", tick, fmt.Sprintf("daemon-%d", i), time.Now())
			}()
		}
		wg.Wait()
		winner := ""
		for i := range daemons {
			if errs[i] != nil {
				t.Fatalf("daemon %d: %v", i, errs[i])
			}
			if won[i] {
				if winner != "" {
					t.Fatalf("two daemons run the tick: %s and daemon-%d", winner, i)
				}
				winner = by[i]
			}
		}
		if winner == "" {
			t.Fatalf("nobody runs the tick: %v", by)
		}
		for i := range daemons {
			if by[i] != winner {
				t.Errorf("daemon %d was told %s runs the tick, not %s", i, by[i], winner)
			}
		}
		// A daemon that looks after the run finished is told too; the
		// winner claiming again keeps it.
		if ok, who, err := s.ClaimTick(ctx, "x", tick, "late", time.Now()); err != nil || ok || who != winner {
			t.Errorf("late claim: %v %s %v", ok, who, err)
		}
		if ok, who, err := s.ClaimTick(ctx, "x", tick, winner, time.Now()); err != nil || !ok || who != winner {
			t.Errorf("the winner claiming again: %v %s %v", ok, who, err)
		}
		// Another tick is another claim.
		if ok, _, err := s.ClaimTick(ctx, "x", tick.Add(15*time.Minute), "late", time.Now()); err != nil || !ok {
			t.Errorf("next tick: %v %v", ok, err)
		}
		if err := s.PruneTicks(ctx, tick.AddDate(0, 0, 30)); err != nil {
			t.Fatal(err)
		}
		if n := count(t, w, "SELECT count(*) FROM "+s.Table(ticksTable)); n != 0 {
			t.Errorf("%d claims left after pruning", n)
		}
	})
}
