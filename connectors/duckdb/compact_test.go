package duckdb_test

import (
	"context"
	"math"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

// TestDeletedRowsStayUntilCompacted: in a file sluice opens, rows deleted
// in place stay in storage through checkpoints, DeletedShareSQL measures
// them, and an in-place publish with Compact drops them, in every table.
// Tables of fewer rows than two row groups, which no merge compacts, are
// left out of the share.
func TestDeletedRowsStayUntilCompacted(t *testing.T) {
	ctx := context.Background()
	w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: t.TempDir(), Warehouse: config.Warehouse{Type: "duckdb", Path: "w.duckdb"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d := w.Dialect()
	c, ok := d.(dialect.Compactor)
	if !ok {
		t.Fatal("the DuckDB dialect is not a Compactor")
	}
	exec := func(q string) {
		t.Helper()
		if err := w.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	share := func() float64 {
		t.Helper()
		var v float64
		if err := warehouse.QueryRow(ctx, w, c.DeletedShareSQL("s", []string{"big", "other", "small"}), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	exec("CREATE SCHEMA s")
	// Several row groups of 122,880 rows: the vacuum merges row groups.
	exec("CREATE TABLE s.big AS SELECT i, md5(CAST(i AS VARCHAR)) AS v FROM range(600000) AS r(i)")
	exec("CREATE TABLE s.other AS SELECT i FROM range(300000) AS r(i)")
	exec("CREATE TABLE s.small AS SELECT i FROM range(1000) AS r(i)")
	exec("CHECKPOINT")
	if got := share(); got != 0 {
		t.Fatalf("deleted share of fresh tables: %v, want 0", got)
	}
	exec("DELETE FROM s.big WHERE i % 10 < 3")
	exec("DELETE FROM s.other WHERE i % 10 < 6")
	exec("DELETE FROM s.small WHERE i % 10 < 9")
	exec("CHECKPOINT")
	if got := share(); math.Abs(got-0.6) > 0.01 {
		t.Fatalf("deleted share after deleting 30%% and 60%%, checkpointed: %v, want 0.6", got)
	}
	publish := func(compact bool) {
		t.Helper()
		for _, q := range dialect.Publish(d, []dialect.Staged{{Schema: "s", Name: "big", Staging: "big__next", Delta: &dialect.Delta{
			Apply:   []string{"DELETE FROM s.big WHERE i = 1", "INSERT INTO s.big SELECT -1, 'x'"},
			Compact: compact,
		}}}) {
			exec(q)
		}
	}
	publish(false)
	exec("CHECKPOINT")
	if got := share(); got < 0.59 {
		t.Fatalf("deleted share after a publish that does not compact: %v, want 0.6", got)
	}
	publish(true)
	// The vacuum merges neighbouring row groups whose rows fit in fewer:
	// some deleted rows stay where none fit.
	if got := share(); got > 0.15 {
		t.Fatalf("deleted share after a compacting publish: %v, want under 0.15", got)
	}
	var tasks int64
	if err := warehouse.QueryRow(ctx, w, "SELECT current_setting('max_vacuum_tasks')", &tasks); err != nil {
		t.Fatal(err)
	}
	if tasks != 0 {
		t.Fatalf("max_vacuum_tasks after a compacting publish: %d, want 0", tasks)
	}
}
