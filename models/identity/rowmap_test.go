package identity

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

var rowMapData = []string{
	"CREATE SCHEMA IF NOT EXISTS raw",
	// Ann is seen first, Bob later: Ann's profile is the smaller group.
	`CREATE OR REPLACE TABLE raw.crm AS SELECT * FROM (VALUES
	('C1', 'ann@example.com', TIMESTAMP '2024-01-01 09:00:00'),
	('C2', 'bob@example.com', TIMESTAMP '2024-02-01 09:00:00')
	) AS t(contact_id, email, updated_at)`,
	// E1 twice: once Bob's, once Ann's. E2 once, Bob's. E3: no identifier.
	`CREATE OR REPLACE TABLE raw.web AS SELECT * FROM (VALUES
	('E1', 'b1', 'bob@example.com', TIMESTAMP '2024-03-01 10:00:00'),
	('E1', 'a1', 'ann@example.com', TIMESTAMP '2024-03-02 10:00:00'),
	('E2', 'b2', 'bob@example.com', TIMESTAMP '2024-03-03 10:00:00'),
	('E3', NULL, NULL, TIMESTAMP '2024-03-04 10:00:00')
	) AS t(event_id, anonymous_id, email, occurred_at)`,
	// (eu, 1) twice: Bob's, then Ann's device. (eu, 2) once, Bob's.
	`CREATE OR REPLACE TABLE raw.orders AS SELECT * FROM (VALUES
	('eu', 1, 'bob@example.com', NULL, TIMESTAMP '2024-04-01 12:00:00'),
	('eu', 1, NULL, 'a1', TIMESTAMP '2024-04-02 12:00:00'),
	('eu', 2, 'bob@example.com', 'b9', TIMESTAMP '2024-04-03 12:00:00')
	) AS t(shop, order_no, email, device, ordered_at)`,
}

// Rows that share a primary key are one entry of the row map, with the
// profile of the smallest group among theirs and the latest sighting; every
// other row is its own entry.
// The source's duplicate-keys table lists the shared keys and the key
// check counts them.
func TestRowMapFoldsSharedPrimaryKeys(t *testing.T) {
	w := openDuckDB(t)
	exec(t, w, rowMapData...)
	project, err := os.ReadFile(filepath.Join("testdata", "rowmap-project.yml"))
	if err != nil {
		t.Fatal(err)
	}
	p := loadProject(t, map[string]string{"identity.yml": string(project)})
	res := build(t, w, p)

	q := `SELECT r.source, replace(r.row_key, chr(31), '/'), e.id_value, CAST(r.seen_at AS VARCHAR)
FROM sluice.customer_row_map AS r
JOIN (SELECT profile_id, min(id_value) AS id_value FROM sluice.customer_identity_map WHERE id_type = 'email' GROUP BY profile_id) AS e
  ON e.profile_id = r.profile_id
ORDER BY 1, 2`
	got := queryRows(t, w, q)
	want := [][4]string{
		{"crm", "C1", "ann@example.com", "2024-01-01 09:00:00"},
		{"crm", "C2", "bob@example.com", "2024-02-01 09:00:00"},
		// orders is read by two edges: its rows are grouped by key, and
		// the key's smallest deciding identifier (bob@, seen before a1)
		// decides, as for the identifiers of one row.
		{"orders", "eu/1", "bob@example.com", "2024-04-02 12:00:00"},
		{"orders", "eu/2", "bob@example.com", "2024-04-03 12:00:00"},
		{"web", "E1", "ann@example.com", "2024-03-02 10:00:00"},
		{"web", "E2", "bob@example.com", "2024-03-03 10:00:00"},
	}
	if len(got) != len(want) {
		t.Fatalf("row map:\n got %q\nwant %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row map row %d: got %q, want %q", i, got[i], want[i])
		}
	}

	dups := queryRows(t, w, `SELECT 'web', row_key, CAST(row_count AS VARCHAR), '' FROM sluice.src_web_duplicate_keys
UNION ALL SELECT 'orders', replace(row_key, chr(31), '/'), CAST(row_count AS VARCHAR), '' FROM sluice.src_orders_duplicate_keys
UNION ALL SELECT 'crm', row_key, CAST(row_count AS VARCHAR), '' FROM sluice.src_crm_duplicate_keys
ORDER BY 1`)
	wantDups := [][4]string{{"orders", "eu/1", "2", ""}, {"web", "E1", "2", ""}}
	if len(dups) != len(wantDups) || dups[0] != wantDups[0] || dups[1] != wantDups[1] {
		t.Errorf("duplicate keys: got %q, want %q", dups, wantDups)
	}
	shared := map[string]int64{}
	for _, c := range res.Checks {
		if c.Check.Name == "primary key of source web" || c.Check.Name == "primary key of source orders" || c.Check.Name == "primary key of source crm" {
			shared[c.Check.Name] = c.Counts[2]
		}
	}
	if shared["primary key of source web"] != 1 || shared["primary key of source orders"] != 1 || shared["primary key of source crm"] != 0 {
		t.Errorf("key checks count shared keys %v; want web 1, orders 1, crm 0", shared)
	}
}

// queryRows reads rows of four text columns.
func queryRows(t *testing.T, w warehouse.Warehouse, q string) [][4]string {
	t.Helper()
	rows, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var out [][4]string
	for rows.Next() {
		var r [4]sql.NullString
		if err := rows.Scan(&r[0], &r[1], &r[2], &r[3]); err != nil {
			t.Fatal(err)
		}
		out = append(out, [4]string{r[0].String, r[1].String, r[2].String, r[3].String})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
