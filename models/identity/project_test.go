package identity

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

// loadProject writes files (name -> content) into a temporary project and
// loads it; sluice.yml gets a default header when absent.
func loadProject(t testing.TB, files map[string]string) *config.Project {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["sluice.yml"]; !ok {
		files["sluice.yml"] = "version: 1\nname: test\nwarehouse: { type: duckdb }\n"
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.Load(dir, config.Options{Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("loading project: %v", err)
	}
	return p
}

// build compiles the project for DuckDB and runs it.
func build(t testing.TB, w warehouse.Warehouse, p *config.Project) *builder.Result {
	t.Helper()
	res, err := tryBuild(w, p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func tryBuild(w warehouse.Warehouse, p *config.Project) (*builder.Result, error) {
	plan, err := models.Compile(p, duck)
	if err != nil {
		return nil, err
	}
	return builder.Run(context.Background(), w, plan, builder.Options{})
}

func newCompiler(p *config.Project) *models.Compiler { return &models.Compiler{P: p, D: duck} }

// rounds returns the loop rounds of a step of the result.
func rounds(res *builder.Result, step string) int {
	for _, s := range res.Steps {
		if s.Name == step {
			return s.Rounds
		}
	}
	return -1
}

func metric(res *builder.Result, name string) string {
	for _, m := range res.Metrics {
		if m.Name == name {
			return m.Value
		}
	}
	return "<missing>"
}
