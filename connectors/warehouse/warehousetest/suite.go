// Package warehousetest is the conformance suite every warehouse
// implementation must pass. An implementation's test calls Run with a
// function that opens a fresh, empty warehouse.
package warehousetest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

// Open returns a connected warehouse for one subtest; the suite closes it.
type Open func(t *testing.T) warehouse.Warehouse

// Run runs every conformance check against the implementation.
func Run(t *testing.T, open Open) {
	checks := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, w warehouse.Warehouse)
	}{
		{"check", testCheck},
		{"create schema is idempotent", testCreateSchema},
		{"table exists", testTableExists},
		{"quoting keeps hostile names inert", testHostileNames},
		{"string literals round-trip", testStringLiterals},
		{"query streams every row", testStreaming},
		{"scans common types and nulls", testTypes},
		{"sql errors are reported and recoverable", testSQLError},
		{"cancelled context stops a query", testCancelled},
		{"load csv", testLoadCSV},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			w := open(t)
			defer func() {
				if err := w.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c.fn(t, ctx, w)
		})
	}
}

// schemaName returns a per-test schema so that suites may share a server.
func schemaName(t *testing.T) string {
	return fmt.Sprintf("conf_%d", time.Now().UnixNano()%1_000_000_000)
}

func mustExec(t *testing.T, ctx context.Context, w warehouse.Warehouse, q string) {
	t.Helper()
	if err := w.Exec(ctx, q); err != nil {
		t.Fatalf("exec %q: %v", q, err)
	}
}

func testCheck(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	if err := w.Check(ctx); err != nil {
		t.Fatalf("check: %v", err)
	}
	if w.Dialect() == nil || w.Dialect().Name() == "" {
		t.Fatal("Dialect() must name a dialect")
	}
}

func testCreateSchema(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	s := schemaName(t)
	for i := 0; i < 2; i++ {
		if err := w.CreateSchema(ctx, s); err != nil {
			t.Fatalf("create schema (attempt %d): %v", i+1, err)
		}
	}
}

func testTableExists(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	d, s := w.Dialect(), schemaName(t)
	if err := w.CreateSchema(ctx, s); err != nil {
		t.Fatal(err)
	}
	ok, err := w.TableExists(ctx, s, "things")
	if err != nil || ok {
		t.Fatalf("before create: exists=%v err=%v, want false, nil", ok, err)
	}
	mustExec(t, ctx, w, d.ReplaceTable(d.Table(s, "things"), "SELECT 1 AS id"))
	ok, err = w.TableExists(ctx, s, "things")
	if err != nil || !ok {
		t.Fatalf("after create: exists=%v err=%v, want true, nil", ok, err)
	}
	mustExec(t, ctx, w, d.DropTable(d.Table(s, "things")))
	if ok, _ := w.TableExists(ctx, s, "things"); ok {
		t.Fatal("table still exists after drop")
	}
}

func testHostileNames(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	d, s := w.Dialect(), schemaName(t)
	if err := w.CreateSchema(ctx, s); err != nil {
		t.Fatal(err)
	}
	mustExec(t, ctx, w, d.ReplaceTable(d.Table(s, "victim"), "SELECT 1 AS id"))
	hostile := []string{`x"; DROP TABLE victim; --`, "x`; DROP TABLE victim; --", "x'; DROP TABLE victim; --", "Mixed Case", "with.dot"}
	for _, name := range hostile {
		col := d.Ident(name)
		if err := w.Exec(ctx, d.ReplaceTable(d.Table(s, name), "SELECT 1 AS "+col)); err != nil {
			// Some warehouses (BigQuery) refuse such names outright: as
			// inert as quoting them, as long as nothing else ran.
			t.Logf("table %q refused: %v", name, err)
			continue
		}
		ok, err := w.TableExists(ctx, s, name)
		if err != nil || !ok {
			t.Errorf("table %q: exists=%v err=%v", name, ok, err)
		}
		var got int64
		if err := warehouse.QueryRow(ctx, w, "SELECT "+col+" FROM "+d.Table(s, name), &got); err != nil || got != 1 {
			t.Errorf("reading column %q: %v (got %d)", name, err, got)
		}
	}
	if ok, _ := w.TableExists(ctx, s, "victim"); !ok {
		t.Fatal("a hostile name dropped another table")
	}
}

func testStringLiterals(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	d := w.Dialect()
	for _, s := range []string{"", "plain", "O'Brien", `back\slash`, "two '' quotes", "line\nbreak", "unicode é 日本", "'; DROP TABLE x; --"} {
		var got string
		if err := warehouse.QueryRow(ctx, w, "SELECT "+d.String(s), &got); err != nil {
			t.Errorf("literal %q: %v", s, err)
			continue
		}
		if got != s {
			t.Errorf("literal %q came back as %q", s, got)
		}
	}
}

func testStreaming(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	d, s := w.Dialect(), schemaName(t)
	if err := w.CreateSchema(ctx, s); err != nil {
		t.Fatal(err)
	}
	tbl := d.Table(s, "numbers")
	// Build 20,000 rows from cross joins of digits: portable SQL, one join
	// per SELECT (ClickHouse 18.16 runs no more).
	digits := "SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9"
	q := "SELECT d AS n FROM (" + digits + ") AS a"
	for i := 0; i < 3; i++ {
		q = "SELECT p.n * 10 + q.d AS n FROM (" + q + ") AS p CROSS JOIN (" + digits + ") AS q"
	}
	q = "SELECT p.n + 10000 * q.d AS n FROM (" + q + ") AS p CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1) AS q"
	mustExec(t, ctx, w, d.ReplaceTable(tbl, q))
	rows, err := w.Query(ctx, "SELECT n FROM "+tbl+" ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var count, sum int64
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != count {
			t.Fatalf("row %d: got %d", count, n)
		}
		count++
		sum += n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if count != 20000 || sum != 20000*19999/2 {
		t.Fatalf("got %d rows summing to %d", count, sum)
	}
}

func testTypes(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	d := w.Dialect()
	rows, err := w.Query(ctx, "SELECT "+d.Cast("42", "BIGINT")+" AS i, "+d.Cast("2.5", "DOUBLE")+" AS f, "+d.String("text")+" AS s, "+d.CastText("NULL")+" AS n, 1 = 1 AS b")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || strings.Join(cols, ",") != "i,f,s,n,b" {
		t.Fatalf("columns %v, %v", cols, err)
	}
	if !rows.Next() {
		t.Fatal("no row")
	}
	var (
		i int64
		f float64
		s string
		n sql.NullString
		b bool
	)
	if err := rows.Scan(&i, &f, &s, &n, &b); err != nil {
		t.Fatal(err)
	}
	if i != 42 || f != 2.5 || s != "text" || n.Valid || !b {
		t.Fatalf("got %v %v %v %v %v", i, f, s, n, b)
	}
}

func testSQLError(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	err := w.Exec(ctx, "SELECT * FROM no_such_table_anywhere")
	if err == nil {
		t.Fatal("want an error for a missing table")
	}
	if !strings.Contains(strings.ToLower(err.Error()), "no_such_table_anywhere") {
		t.Errorf("error should name the missing table: %v", err)
	}
	if _, err := w.Query(ctx, "SELEC 1"); err == nil {
		t.Fatal("want a syntax error")
	}
	if err := w.Check(ctx); err != nil {
		t.Fatalf("connection unusable after an SQL error: %v", err)
	}
}

func testCancelled(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if rows, err := w.Query(cctx, "SELECT 1"); err == nil {
		rows.Close()
		t.Fatal("want an error from a cancelled context")
	}
	if err := w.Check(ctx); err != nil {
		t.Fatalf("connection unusable after a cancelled query: %v", err)
	}
}

func testLoadCSV(t *testing.T, ctx context.Context, w warehouse.Warehouse) {
	d, s := w.Dialect(), schemaName(t)
	if err := w.CreateSchema(ctx, s); err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/people.csv"
	if err := writeFile(path, "id,phone,name\n1,0612345678,\"O'Brien, Pat\"\n2,,Zoé\n"); err != nil {
		t.Fatal(err)
	}
	if l, ok := w.(warehouse.CSVLoader); ok {
		// Cloud warehouses load local files through their client.
		if err := l.LoadCSV(ctx, s, "people", path, nil); err != nil {
			t.Fatal(err)
		}
	} else {
		q, err := d.LoadCSV(d.Table(s, "people"), path, nil)
		if err != nil {
			t.Skipf("dialect %s loads no CSV: %v", d.Name(), err)
		}
		mustExec(t, ctx, w, q)
	}
	var n int64
	var name string
	if err := warehouse.QueryRow(ctx, w, "SELECT count(*), max("+d.Ident("name")+") FROM "+d.Table(s, "people"), &n, &name); err != nil {
		t.Fatal(err)
	}
	if n != 2 || name != "Zoé" {
		t.Fatalf("got %d rows, max name %q", n, name)
	}
}
