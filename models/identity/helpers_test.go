package identity

import (
	"context"
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	_ "github.com/sluicehq/sluice/connectors/duckdb"
	"github.com/sluicehq/sluice/connectors/warehouse"
	_ "github.com/sluicehq/sluice/models/changes" // the key checks write the shared keys the identity steps read
	"github.com/sluicehq/sluice/models/dialect"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var duck = dialect.DuckDB{}

// openDuckDB opens an in-memory DuckDB closed at the end of the test.
func openDuckDB(t testing.TB) warehouse.Warehouse {
	t.Helper()
	w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: t.TempDir(), Warehouse: config.Warehouse{Type: "duckdb"}, ExternalPaths: []string{os.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// exec runs statements or fails the test.
func exec(t testing.TB, w warehouse.Warehouse, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if err := w.Exec(context.Background(), q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
}

// normalizeSQL evaluates NormalizeExpr on every input in one query.
func normalizeSQL(t testing.TB, w warehouse.Warehouse, typ config.IDType, inputs []string) []sql.NullString {
	t.Helper()
	rows := make([]string, len(inputs))
	for i, in := range inputs {
		rows[i] = "(" + itoa(i) + ", " + duck.String(in) + ")"
	}
	q := "SELECT i, " + NormalizeExpr(duck, typ, "v") + " FROM (VALUES " + strings.Join(rows, ", ") + ") AS t(i, v) ORDER BY i"
	rs, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rs.Close()
	out := make([]sql.NullString, len(inputs))
	for rs.Next() {
		var i int
		var v sql.NullString
		if err := rs.Scan(&i, &v); err != nil {
			t.Fatal(err)
		}
		out[i] = v
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
