package state

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"

	_ "github.com/sluicehq/sluice/connectors/duckdb"
)

func newStore(t *testing.T, fast bool) (*Store, warehouse.Warehouse) {
	t.Helper()
	w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: t.TempDir(), Warehouse: config.Warehouse{Type: "duckdb"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	s, err := New(w, "sluice_state")
	if err != nil {
		t.Fatal(err)
	}
	if fast && s.appender == nil {
		t.Fatal("DuckDB should offer the appender")
	}
	if !fast {
		s.appender = nil // the portable JSON path
	}
	if err := s.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, w
}

func count(t *testing.T, w warehouse.Warehouse, q string) int64 {
	t.Helper()
	var n int64
	if err := warehouse.QueryRow(context.Background(), w, q, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Commits are journaled per batch; folding applies the latest accepted
// outcome per key, is idempotent, and keeps rejections with attempts.
func TestCommitAndFold(t *testing.T) {
	for _, fast := range []bool{true, false} {
		name := "json"
		if fast {
			name = "appender"
		}
		t.Run(name, func(t *testing.T) {
			s, w := newStore(t, fast)
			ctx := context.Background()
			now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
			if err := s.EnsureSnapshot(ctx, "x", 42, now); err != nil {
				t.Fatal(err)
			}
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
			if n := count(t, w, "SELECT count(*) FROM sluice_state.snapshot_x"); n != 3 {
				t.Errorf("snapshot has %d records, want 3", n)
			}
			if n := count(t, w, "SELECT count(*) FROM sluice_state.snapshot_x WHERE key = 'c' AND hash IS NULL"); n != 1 {
				t.Error("a rejected add should be tracked with an unknown hash")
			}
			if n := count(t, w, "SELECT count(*) FROM sluice_state.snapshot_x WHERE key = 'a' AND fields = '{\"phone\":\"+33\"}'"); n != 1 {
				t.Error("removal fields not kept")
			}
			run("r2",
				Change{Seq: 1, Key: "a", Op: "delete", Class: "gone", Status: Accepted},
				Change{Seq: 1, Key: "b", Op: "upsert", Class: "update", Status: Accepted, Hash: 20},
				Change{Seq: 1, Key: "c", Op: "upsert", Class: "add", Status: Rejected, Error: "still bad", Hash: 3},
			)
			if err := s.Fold(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			if n := count(t, w, "SELECT count(*) FROM sluice_state.snapshot_x WHERE key = 'b' AND hash = 20"); n != 1 {
				t.Error("update not folded")
			}
			if n := count(t, w, "SELECT count(*) FROM sluice_state.snapshot_x"); n != 2 {
				t.Errorf("removal not folded: %d records", n)
			}
			rej, total, err := s.Rejections(ctx, "x", 10)
			if err != nil || total != 1 || rej[0].Attempts != 2 || rej[0].Error != "still bad" {
				t.Errorf("rejections: %+v %d %v", rej, total, err)
			}
			if err := s.Prune(ctx, "x", now.Add(-90*time.Second)); err != nil {
				t.Fatal(err)
			}
			if n := count(t, w, "SELECT count(*) FROM sluice_state.sync_changes"); n != 3 {
				t.Errorf("prune kept %d entries, want the last run's 3", n)
			}
			// A rejected removal of a record of unknown state is forgotten.
			run("r3", Change{Seq: 1, Key: "c", Op: "delete", Class: "gone", Status: Rejected, Error: "not found"})
			if n := count(t, w, "SELECT count(*) FROM "+s.Snapshot("x", true)+" AS s"); n != 1 {
				t.Errorf("effective snapshot has %d records, want 1", n)
			}
			if err := s.Fold(ctx, "x"); err != nil {
				t.Fatal(err)
			}
			if n := count(t, w, "SELECT count(*) FROM sluice_state.snapshot_x WHERE key = 'c'"); n != 0 {
				t.Error("the unknown record should be forgotten")
			}
		})
	}
}

func TestLock(t *testing.T) {
	s, _ := newStore(t, true)
	ctx := context.Background()
	now := time.Now()
	a, b := Me("run-a", now), Me("run-b", now)
	never := func(Holder) bool { return false }
	if err := s.Lock(ctx, "x", a, never); err != nil {
		t.Fatal(err)
	}
	err := s.Lock(ctx, "x", b, never)
	le, ok := err.(*LockedError)
	if !ok || le.Holder.RunID != "run-a" {
		t.Fatalf("second lock: %v", err)
	}
	// A stale holder is taken over.
	if err := s.StartRun(ctx, Run{RunID: "run-a", Sync: "x", StartedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(ctx, "x", b, func(h Holder) bool { return h.RunID == "run-a" }); err != nil {
		t.Fatalf("taking over a stale lock: %v", err)
	}
	runs, _ := s.LastRuns(ctx, "x", 1)
	if runs[0].Status != RunAbandoned {
		t.Errorf("the stale run should be abandoned: %+v", runs[0])
	}
	if err := s.Unlock(ctx, "x", "run-b"); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := s.LockHolder(ctx, "x"); held {
		t.Error("still locked")
	}
}
