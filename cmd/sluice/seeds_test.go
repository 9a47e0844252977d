package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const badSeeds = "testdata/projects/bad-seeds"

// copyProject copies a testdata project into a temporary directory, so that
// a build's warehouse file lands there.
func copyProject(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".sluice" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

var seedProblem = regexp.MustCompile(`^data/[a-z]+\.csv:[0-9]+: `)

// TestBadSeeds: three malformed seed files give three file:line: problems
// in one run of validate and of build, which exits 1 having loaded nothing,
// not even the good seed listed first.
func TestBadSeeds(t *testing.T) {
	dir := copyProject(t, badSeeds)
	for _, verb := range []string{"validate", "build"} {
		t.Run(verb, func(t *testing.T) {
			code, stdout, stderr := sluice(t, verb, "--project", dir)
			if code != exitFailure {
				t.Fatalf("exit %d, want %d\n%s", code, exitFailure, stderr)
			}
			var probs []string
			for _, l := range strings.Split(stderr, "\n") {
				if seedProblem.MatchString(l) {
					probs = append(probs, l)
				}
			}
			if len(probs) != 3 {
				t.Errorf("got %d seed problems, want 3:\n%s", len(probs), stderr)
			}
			got := strings.ReplaceAll(fmt.Sprintf("$ sluice %s --project $PROJECT\nexit: %d\n--- stdout\n%s--- stderr\n%s", verb, code, stdout, stderr), dir, "$PROJECT")
			golden(t, filepath.Join("testdata", "golden", verb+"-bad-seeds.txt"), got)
		})
	}
	db, err := sql.Open("duckdb", filepath.Join(dir, ".sluice", "bad-seeds.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('information_schema', 'pg_catalog')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the warehouse holds %d tables after a build that failed on its seeds; want none", n)
	}
}
