// Package profilestest runs golden tests of the profiles and segments
// stages: a project directory with hand-written fixtures (source tables, an
// identity map and a row map, standing in for the identity stage) is
// compiled, built in an in-memory DuckDB and its tables dumped as text.
//
// A case directory holds sluice.yml (plus any other project files) and
// fixture.sql, run before the build.
package profilestest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
	_ "github.com/sluicehq/sluice/models/profiles" // registers the stage

	_ "github.com/sluicehq/sluice/connectors/duckdb"
)

// Now is the reference time of every golden case.
var Now = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

// Case is a compiled and built golden case.
type Case struct {
	Project *config.Project
	Plan    *models.Plan
	W       warehouse.Warehouse
	Result  *builder.Result
}

// Load loads and compiles the project in dir for DuckDB, with the
// reference time fixed to Now.
func Load(t testing.TB, dir string) (*config.Project, *models.Plan) {
	t.Helper()
	p, err := config.Load(dir, config.Options{Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("loading %s: %v", dir, err)
	}
	plan, err := models.Compile(p, dialect.DuckDB{}, models.WithNow(Now))
	if err != nil {
		t.Fatalf("compiling %s: %v", dir, err)
	}
	return p, plan
}

// Build loads the project in dir, runs its fixture.sql in a fresh in-memory
// DuckDB and builds the plan there.
func Build(t testing.TB, dir string) *Case {
	t.Helper()
	p, plan := Load(t, dir)
	return Run(t, dir, p, plan)
}

// Run runs the fixture.sql of dir in a fresh in-memory DuckDB and builds
// the plan there.
func Run(t testing.TB, dir string, p *config.Project, plan *models.Plan) *Case {
	t.Helper()
	ctx := context.Background()
	w, err := warehouse.Open(ctx, warehouse.Config{Warehouse: config.Warehouse{Type: "duckdb"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	runFixture(t, w, dir, p)
	res, err := builder.Run(ctx, w, plan, builder.Options{})
	if err != nil {
		t.Fatalf("building %s: %v", dir, err)
	}
	return &Case{Project: p, Plan: plan, W: w, Result: res}
}

// Step returns the SQL file of the named step, as sluice compile writes it.
func (c *Case) Step(t testing.TB, name string) string {
	t.Helper()
	return StepFile(t, c.Plan, name)
}

// StepFile renders the named step of a plan as sluice compile writes it.
func StepFile(t testing.TB, plan *models.Plan, name string) string {
	t.Helper()
	for _, s := range plan.Steps {
		if s.Name == name {
			return s.File(plan.Dialect)
		}
	}
	t.Fatalf("no step %s in the plan", name)
	return ""
}

// Vertical runs a query and renders each row as a block of "column value"
// lines headed by the first column, which reads well in diffs of wide
// tables.
func (c *Case) Vertical(t testing.TB, query string) string {
	t.Helper()
	cols, rows := c.query(t, query)
	width := 0
	for _, col := range cols[1:] {
		width = max(width, len(col))
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %s\n", cols[0], r[0])
		for i, col := range cols[1:] {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, col, r[i+1])
		}
	}
	return b.String()
}

// Table runs a query and renders its rows as aligned columns.
func (c *Case) Table(t testing.TB, query string) string {
	t.Helper()
	cols, rows := c.query(t, query)
	widths := make([]int, len(cols))
	for i, col := range cols {
		widths[i] = len(col)
		for _, r := range rows {
			widths[i] = max(widths[i], len(r[i]))
		}
	}
	var b strings.Builder
	line := func(vals []string) {
		for i, v := range vals {
			if i == len(vals)-1 {
				b.WriteString(v)
			} else {
				fmt.Fprintf(&b, "%-*s  ", widths[i], v)
			}
		}
		b.WriteString("\n")
	}
	line(cols)
	for _, r := range rows {
		line(r)
	}
	return b.String()
}

func (c *Case) query(t testing.TB, query string) ([]string, [][]string) {
	t.Helper()
	rows, err := c.W.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		r := make([]string, len(cols))
		for i, v := range vals {
			r[i] = Format(v)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, out
}

// Format renders a value scanned from DuckDB.
func Format(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.UTC().Format(time.DateOnly)
		}
		return x.UTC().Format(time.DateTime)
	case float64:
		return fmt.Sprintf("%.4g", x)
	case *big.Int:
		return x.String()
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}

// Golden compares got with the file at path, or rewrites the file when
// update is set.
func Golden(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s does not exist: run go test with -update", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test with -update to accept):\n%s", path, diff(string(want), got))
	}
}

// diff shows the first differing lines of want and got.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %q\n  got:  %q", i+1, wl, gl)
		}
	}
	return "(only trailing differences)"
}

// Problems loads the project in dir expecting configuration problems, and
// renders them one per line with paths relative to dir.
func Problems(t testing.TB, dir string) string {
	t.Helper()
	_, err := config.Load(dir, config.Options{Env: func(string) (string, bool) { return "", false }})
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("loading %s: want configuration problems, got %v", dir, err)
	}
	return render(dir, ps)
}

// ColumnProblems loads the (valid) project in dir, runs its fixture.sql in
// an in-memory DuckDB, learns the sources' columns from it and returns the
// problems of every registered column check.
func ColumnProblems(t testing.TB, dir string) string {
	t.Helper()
	p, _ := Load(t, dir)
	ctx := context.Background()
	w, err := warehouse.Open(ctx, warehouse.Config{Warehouse: config.Warehouse{Type: "duckdb"}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	runFixture(t, w, dir, p)
	cat := models.Catalog{}
	builder.WarehouseCatalog(ctx, w, p, cat)
	files := func(name string) ([]byte, bool) {
		b, err := os.ReadFile(name) // positions name files as the loader opened them
		return b, err == nil
	}
	return render(dir, models.CheckColumnsAt(p, cat, files))
}

// runFixture runs the fixture.sql of dir. A fixture writes the identity and
// row maps as a user reads them; the identity stage also numbers each
// profile within the build (profile_no), which runFixture adds.
func runFixture(t testing.TB, w warehouse.Warehouse, dir string, p *config.Project) {
	t.Helper()
	ctx := context.Background()
	fixture, err := os.ReadFile(filepath.Join(dir, "fixture.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Exec(ctx, string(fixture)); err != nil {
		t.Fatalf("running fixture of %s: %v", dir, err)
	}
	c := &models.Compiler{P: p, D: dialect.DuckDB{}}
	if ok, err := w.TableExists(ctx, p.Schema, c.Entity()+"_identity_map"); err != nil || !ok {
		return // a fixture for column checks only
	}
	idMap, rowMap := c.IdentityMapTable(), c.RowMapTable()
	numbers := c.Table("fixture_profile_numbers")
	for _, q := range []string{
		"CREATE TABLE " + numbers + " AS SELECT profile_id, row_number() OVER (ORDER BY profile_id) AS profile_no FROM (SELECT DISTINCT profile_id FROM " + idMap + ") AS p",
		"CREATE OR REPLACE TABLE " + idMap + " AS SELECT m.*, n.profile_no FROM " + idMap + " AS m JOIN " + numbers + " AS n USING (profile_id)",
		"CREATE OR REPLACE TABLE " + rowMap + " AS SELECT r.*, n.profile_no FROM " + rowMap + " AS r LEFT JOIN " + numbers + " AS n USING (profile_id)",
		"DROP TABLE " + numbers,
	} {
		if err := w.Exec(ctx, q); err != nil {
			t.Fatalf("numbering the profiles of the fixture of %s: %v", dir, err)
		}
	}
}

func render(dir string, ps config.Problems) string {
	var b strings.Builder
	for _, p := range ps {
		if rel, err := filepath.Rel(dir, p.Pos.File); err == nil {
			p.Pos.File = filepath.ToSlash(rel)
		}
		b.WriteString(p.String() + "\n")
	}
	return b.String()
}
