// Package fragtest checks the fragment rules against every project the
// repository ships: a valid project is never refused.
package fragtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	_ "github.com/sluicehq/sluice/models/all"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// projects lists the directories holding a sluice.yml that loads.
func projects(t *testing.T) map[string]*config.Project {
	out := map[string]*config.Project{}
	for _, root := range []string{"../../examples", "../../models", "../../cmd/sluice/testdata", "../../builder"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "sluice.yml" {
				return nil
			}
			dir := filepath.Dir(path)
			env := func(string) (string, bool) { return "x", true }
			if p, err := config.Load(dir, config.Options{Env: env}); err == nil {
				out[dir] = p
			}
			return nil
		})
	}
	if len(out) < 5 {
		t.Fatalf("found only %d projects", len(out))
	}
	return out
}

func TestShippedProjectsPass(t *testing.T) {
	files := func(name string) ([]byte, bool) {
		b, err := os.ReadFile(name)
		return b, err == nil
	}
	for dir, p := range projects(t) {
		for _, d := range []dialect.Dialect{dialect.DuckDB{}, dialect.ClickHouse{}, dialect.Snowflake{}, dialect.BigQuery{}} {
			if probs := models.CheckFragments(p, d.Name(), files, nil); len(probs) > 0 {
				t.Errorf("%s (%s): %v", dir, d.Name(), probs)
				continue
			}
			plan, err := models.Compile(p, d)
			if err != nil {
				t.Errorf("%s (%s): %v", dir, d.Name(), err)
				continue
			}
			for _, s := range plan.Steps {
				for _, q := range append(append(append([]string(nil), s.SQL...), s.Finally...), loopBody(s)...) {
					if n, err := sqlfrag.Statements(sqlfrag.For(d.Name()), q); err != nil || n != 1 {
						t.Logf("%s (%s) %s: %d statements (%v): %.80s", dir, d.Name(), s.Name, n, err, strings.ReplaceAll(q, "\n", " "))
					}
				}
			}
		}
	}
}

func loopBody(s models.Step) []string {
	if s.Loop == nil {
		return nil
	}
	return append(append([]string(nil), s.Loop.Body...), s.Loop.Changed)
}
