package incremental_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/connectors/warehouse"

	"github.com/sluicehq/sluice/builder/incremental"
)

// TestCompaction: on DuckDB, builds that publish in place leave the rows
// they delete in storage until they make up CompactAt of a table; the
// next such build compacts them, and reports it.
func TestCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 300,000 rows")
	}
	f := project(t, envs[0], projectYAML)
	// Enough rows for tables of several row groups, which compacting
	// shrinks (122,880 rows each).
	f.exec("INSERT INTO "+f.raw+".crm SELECT 'c' || i, 'p' || i || '@example.org', TIMESTAMP '2026-01-01 00:00:00' FROM range(300000) AS r(i)",
		"CHECKPOINT")
	f.build(incremental.Options{})
	// The rows the project's tables store, deleted ones included.
	stored := func() int64 {
		t.Helper()
		var n int64
		if err := warehouse.QueryRow(context.Background(), f.w, "SELECT sum(estimated_size) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = '"+f.p.Schema+"'", &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	step := func(name, edit string, compacted bool) {
		t.Helper()
		f.exec(edit)
		before := stored()
		o := f.build(incremental.Options{})
		if o.Mode != incremental.ModeIncremental {
			t.Fatalf("%s: %s build %q", name, o.Mode, o.Reasons)
		}
		if o.Compacted != compacted {
			t.Fatalf("%s: compacted %v (deleted share %.2f), want %v", name, o.Compacted, o.DeletedShare, compacted)
		}
		after := stored()
		if compacted && after >= before-before/10 {
			t.Fatalf("%s: the tables store %d rows after compacting, %d before", name, after, before)
		}
		t.Logf("%s: deleted share %.2f, compacted %v, rows stored %d then %d", name, o.DeletedShare, o.Compacted, before, after)
	}
	step("a few rows deleted", "DELETE FROM "+f.raw+".crm WHERE id IN ('c1', 'c2')", false)
	step("40% of the rows deleted", "DELETE FROM "+f.raw+".crm WHERE id LIKE 'c%' AND CAST(substr(id, 2) AS INTEGER) % 10 < 4", false)
	step("one more row deleted, the deleted rows past the share", "DELETE FROM "+f.raw+".crm WHERE id = 'c5'", true)
	step("and one more, after compacting", "DELETE FROM "+f.raw+".crm WHERE id = 'c6'", false)
	step("another 40% of what is left", "DELETE FROM "+f.raw+".crm WHERE id LIKE 'c%' AND CAST(substr(id, 2) AS INTEGER) % 10 IN (5, 6, 7)", false)
	step("one more row deleted, past the share again", "DELETE FROM "+f.raw+".crm WHERE id = 'c8'", true)
}
