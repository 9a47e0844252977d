package builder_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"

	_ "github.com/sluicehq/sluice/connectors/duckdb"
)

func memWarehouse(t *testing.T) warehouse.Warehouse {
	t.Helper()
	w, err := warehouse.Open(context.Background(), warehouse.Config{Warehouse: config.Warehouse{Type: "duckdb"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestLoopConvergesAndIsCapped(t *testing.T) {
	tests := []struct {
		name       string
		target     int // the loop counts a value up to target
		maxRounds  int
		wantRounds int
		wantErr    error
	}{
		{"converges", 5, 10, 5, nil},
		{"converges on the last allowed round", 4, 4, 4, nil},
		{"hits the cap", 50, 3, 0, builder.ErrNotConverged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := memWarehouse(t)
			plan := &models.Plan{Steps: []models.Step{{
				Name: "count_up",
				SQL:  []string{"CREATE TABLE c AS SELECT 0 AS v"},
				Loop: &models.Loop{
					Body:      []string{"UPDATE c SET v = v + 1"},
					Changed:   "SELECT CASE WHEN v < " + itoa(tc.target) + " THEN 1 ELSE 0 END FROM c",
					MaxRounds: tc.maxRounds,
					What:      "counter",
				},
			}}}
			var rounds []int
			res, err := builder.Run(context.Background(), w, plan, builder.Options{Progress: func(e builder.Event) {
				if !e.Done {
					rounds = append(rounds, e.Round)
				}
			}})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if !strings.Contains(err.Error(), "count_up") || !strings.Contains(err.Error(), "3 rounds") {
					t.Errorf("error should name the step and the cap: %v", err)
				}
				return
			}
			if res.Steps[0].Rounds != tc.wantRounds || len(rounds) != tc.wantRounds {
				t.Errorf("rounds = %d (events %v), want %d", res.Steps[0].Rounds, rounds, tc.wantRounds)
			}
		})
	}
}

// A step's fallback statements run only when its check returns more than
// 0, after the step's statements and before its closing ones.
func TestFallbackRunsWhenAsked(t *testing.T) {
	tests := []struct {
		name, when string
		want       int
	}{
		{"not asked", "SELECT 0", 2},
		{"asked", "SELECT count(*) FROM c WHERE v = 1", 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := memWarehouse(t)
			plan := &models.Plan{Steps: []models.Step{{
				Name:     "fall_back",
				SQL:      []string{"CREATE TABLE c AS SELECT 1 AS v"},
				Fallback: &models.Fallback{When: tc.when, SQL: []string{"UPDATE c SET v = 10"}},
				Finally:  []string{"UPDATE c SET v = v * 2"},
			}}}
			if _, err := builder.Run(context.Background(), w, plan, builder.Options{}); err != nil {
				t.Fatal(err)
			}
			var v int
			if err := warehouse.QueryRow(context.Background(), w, "SELECT v FROM c", &v); err != nil {
				t.Fatal(err)
			}
			if v != tc.want {
				t.Errorf("v = %d, want %d", v, tc.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// compileProject loads the project in dir and compiles it for an
// in-memory DuckDB, which it also returns.
func compileProject(t *testing.T, dir string) (*config.Project, warehouse.Warehouse, *models.Plan) {
	t.Helper()
	p, err := config.Load(dir, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := memWarehouse(t)
	plan, err := models.Compile(p, w.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	return p, w, plan
}

// projectWriter writes files of a test project under dir.
func projectWriter(t *testing.T, dir string) func(name, content string) {
	return func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSourceKeyChecksWarnWithPosition(t *testing.T) {
	dir := t.TempDir()
	write := projectWriter(t, dir)
	write("sluice.yml", "version: 1\nname: t\nwarehouse: { type: duckdb }\n")
	write("data/people.csv", "id,email\n1,a@x.org\n1,b@x.org\n,c@x.org\n2,d@x.org\n")
	write("sources.yml", "seeds:\n  - { name: people, path: data/people.csv }\nsources:\n  - { name: people, table: raw.people, primary_key: id }\n")
	_, w, plan := compileProject(t, dir)
	res, err := builder.Run(context.Background(), w, plan, builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, wn := range res.Warnings {
		got = append(got, strings.TrimPrefix(wn.String(), dir+"/"))
	}
	want := []string{
		"sources.yml:4:53: primary key of source people: rows with a NULL primary key: 1",
		"sources.yml:4:53: primary key of source people: primary key values shared by several rows: 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSQLErrorNamesStepAndDeclaration(t *testing.T) {
	w := memWarehouse(t)
	plan := &models.Plan{Steps: []models.Step{{
		Name:   "source_orders",
		Origin: config.Pos{File: "sources.yml", Line: 3, Col: 5},
		SQL:    []string{"CREATE VIEW v AS SELECT * FROM missing_table"},
	}}}
	_, err := builder.Run(context.Background(), w, plan, builder.Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "sources.yml:3:5: building source_orders: ") || !strings.Contains(err.Error(), "missing_table") {
		t.Fatalf("got %v", err)
	}
}

// TestBadSeedsLoadNothing: seed problems of every file are reported
// together, and the warehouse is left untouched, even by the good seed
// that comes first and the schema step before it.
func TestBadSeedsLoadNothing(t *testing.T) {
	dir := t.TempDir()
	write := projectWriter(t, dir)
	write("sluice.yml", "version: 1\nname: t\nwarehouse: { type: duckdb }\n")
	write("data/good.csv", "id,n\n1,2\n")
	write("data/short.csv", "id,n\n1,2\n3\n")
	write("data/typed.csv", "id,n\n1,x\n")
	write("sources.yml", `seeds:
  - { name: good, path: data/good.csv }
  - { name: short, path: data/short.csv }
  - { name: typed, path: data/typed.csv, column_types: { n: integer } }
sources:
  - { name: good, table: raw.good, primary_key: id }
`)
	_, w, plan := compileProject(t, dir)
	_, err := builder.Run(context.Background(), w, plan, builder.Options{})
	var se *builder.SeedError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a SeedError", err)
	}
	want := "seed files would not load (2 problems; nothing was built):\n" +
		"data/short.csv:3: 1 field, but the header row has 2\n" +
		`data/typed.csv:2: column "n": "x" is not a whole number, declared integer in column_types`
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	var probs config.Problems
	if !errors.As(err, &probs) || len(probs) != 2 {
		t.Errorf("the error should unwrap to its 2 problems, got %v", probs)
	}
	var n int
	if err := warehouse.QueryRow(context.Background(), w, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'raw'", &n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema raw was created: a failed seed check must leave the warehouse untouched")
	}
}
