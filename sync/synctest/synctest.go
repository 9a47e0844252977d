// Package synctest sets up sluice projects on an embedded DuckDB for tests
// of the sync engine and of destinations (the conformance suite).
package synctest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/sync/engine"

	_ "github.com/sluicehq/sluice/connectors/duckdb" // the embedded warehouse
)

// Project is a project directory, its warehouse and an engine.
type Project struct {
	Dir    string
	P      *config.Project
	W      warehouse.Warehouse
	Engine *engine.Engine
	Env    map[string]string
}

// Options describe a project.
type Options struct {
	// Files are written into the project directory (sluice.yml defaults to
	// an embedded DuckDB in memory, or DBFile when set).
	Files       map[string]string
	DBFile      string // relative to the project directory
	MemoryLimit string // DuckDB's memory_limit, e.g. 4GB
	Env         map[string]string
}

// New writes the project, loads it, opens the warehouse and builds an
// engine. Everything is closed with t's cleanup.
func New(t testing.TB, o Options) *Project {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for k, v := range o.Files {
		files[k] = v
	}
	if _, ok := files[config.ProjectFileName]; !ok {
		path := ""
		if o.DBFile != "" {
			path = "\n  path: " + o.DBFile
		}
		if o.MemoryLimit != "" {
			path += "\n  memory_limit: " + o.MemoryLimit
		}
		files[config.ProjectFileName] = "version: 1\nname: synctest\nwarehouse:\n  type: duckdb" + path + "\n  threads: 2\n"
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pr := &Project{Dir: dir, Env: o.Env}
	pr.load(t)
	w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: dir, Warehouse: pr.P.Warehouse, ExternalPaths: pr.P.ExternalPaths})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	pr.W = w
	pr.newEngine(t)
	return pr
}

func (pr *Project) load(t testing.TB) {
	t.Helper()
	p, err := config.Load(pr.Dir, config.Options{Env: func(k string) (string, bool) {
		v, ok := pr.Env[k]
		return v, ok
	}})
	var probs config.Problems
	if errors.As(err, &probs) {
		t.Fatalf("project problems:\n%v", probs)
	}
	if err != nil {
		t.Fatal(err)
	}
	pr.P = p
}

func (pr *Project) newEngine(t testing.TB) {
	t.Helper()
	e, err := engine.New(pr.P, pr.W)
	if err != nil {
		t.Fatal(err)
	}
	pr.Engine = e
}

// Write changes a project file and reloads the project (same warehouse).
func (pr *Project) Write(t testing.TB, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(pr.Dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	pr.load(t)
	pr.newEngine(t)
}

// NewEngine returns another engine on the same project and warehouse, as a
// second process would have.
func (pr *Project) NewEngine(t testing.TB) *engine.Engine {
	t.Helper()
	e, err := engine.New(pr.P, pr.W)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Exec runs statements.
func (pr *Project) Exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if err := pr.W.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Int runs a query returning one integer.
func (pr *Project) Int(t testing.TB, q string) int64 {
	t.Helper()
	var n int64
	if err := warehouse.QueryRow(context.Background(), pr.W, q, &n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Strings runs a query returning one text column and returns its values
// sorted, NULLs left out.
func (pr *Project) Strings(t testing.TB, q string, args ...any) []string {
	t.Helper()
	r, err := pr.W.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s *string
		if err := r.Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if s != nil {
			out = append(out, *s)
		}
	}
	if err := r.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	slices.Sort(out)
	return out
}

// Build compiles and builds the project's models (sources views and any
// registered stages).
func (pr *Project) Build(t testing.TB) {
	t.Helper()
	plan, err := models.Compile(pr.P, pr.W.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := builder.Run(context.Background(), pr.W, plan, builder.Options{}); err != nil {
		t.Fatal(err)
	}
}

// SyncAsPlanned plans then runs a sync, and fails the test if the run
// sent other than the plan's adds, updates and removals.
func (pr *Project) SyncAsPlanned(t testing.TB, name string) (*engine.Result, error) {
	t.Helper()
	ctx := context.Background()
	pl, err := pr.Engine.Plan(ctx, name, engine.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pr.Engine.Sync(ctx, name, engine.SyncOptions{})
	if res == nil {
		t.Fatalf("%s: no result: %v", name, err)
	}
	if res.Adds != pl.Adds || res.Updates != pl.Updates || res.Removes != pl.Removes {
		t.Errorf("%s: sent %d/%d/%d, the plan said %d/%d/%d", name, res.Adds, res.Updates, res.Removes, pl.Adds, pl.Updates, pl.Removes)
	}
	return res, err
}
