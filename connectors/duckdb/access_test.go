package duckdb_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/duckdb"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// TestFileAccessStaysInTheProject: SQL run on a project's database reads
// the project's folders and nothing else, unless external_access says so.
func TestFileAccessStaysInTheProject(t *testing.T) {
	root := t.TempDir()
	project := filepath.Join(root, "project")
	shared := filepath.Join(root, "shared")
	sibling := filepath.Join(root, "project2") // shares the project's prefix
	for _, d := range []string{project + "/data", shared, sibling} {
		must(t, os.MkdirAll(d, 0o700))
	}
	for _, f := range []string{project + "/data/a.csv", shared + "/b.csv", sibling + "/c.csv"} {
		must(t, os.WriteFile(f, []byte("x\n1\n"), 0o600))
	}
	must(t, os.Symlink(shared, filepath.Join(root, "shared-link")))
	read := func(p string) string { return "SELECT count(*) FROM read_csv('" + p + "')" }
	tests := []struct {
		name     string
		cfg      config.Warehouse
		external []string
		query    string
		allowed  bool
	}{
		{"a project file", config.Warehouse{Type: "duckdb"}, nil, read(project + "/data/a.csv"), true},
		{"a project file, relative", config.Warehouse{Type: "duckdb", Path: project + "/.sluice/w.duckdb"}, nil, read(project + "/data/../data/a.csv"), true},
		{"/etc/passwd", config.Warehouse{Type: "duckdb"}, nil, "SELECT count(*) FROM read_text('/etc/passwd')", false},
		{"a folder beside the project", config.Warehouse{Type: "duckdb"}, nil, read(sibling + "/c.csv"), false},
		{"leaving by ..", config.Warehouse{Type: "duckdb"}, nil, read(project + "/../shared/b.csv"), false},
		{"writing elsewhere", config.Warehouse{Type: "duckdb"}, nil, "COPY (SELECT 1) TO '" + root + "/out.csv'", false},
		{"attaching another database", config.Warehouse{Type: "duckdb"}, nil, "ATTACH '" + root + "/other.duckdb'", false},
		{"an external path", config.Warehouse{Type: "duckdb"}, []string{"../shared"}, read(shared + "/b.csv"), true},
		{"an external path through a link", config.Warehouse{Type: "duckdb"}, []string{"../shared-link"}, read(shared + "/b.csv"), true},
		{"external_access: true", config.Warehouse{Type: "duckdb", ExternalAccess: true}, nil, read(sibling + "/c.csv"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := duckdb.Open(context.Background(), warehouse.Config{ProjectDir: project, Warehouse: tc.cfg, ExternalPaths: tc.external})
			must(t, err)
			defer w.Close()
			err = w.Exec(context.Background(), tc.query)
			switch {
			case tc.allowed && err != nil:
				t.Errorf("refused: %v", err)
			case !tc.allowed && err == nil:
				t.Errorf("allowed")
			case !tc.allowed && !strings.Contains(err.Error(), "external_paths"):
				t.Errorf("the refusal does not say how to allow it: %v", err)
			}
		})
	}
}

// TestNewFileNoWarning: a database file sluice just created gets its mode
// without the warning meant for files an earlier version left loose.
func TestNewFileNoWarning(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	dir := t.TempDir()
	w := open(t, dir, config.Warehouse{Type: "duckdb", Path: ".sluice/w.duckdb"}, false)
	must(t, w.Exec(context.Background(), "CREATE TABLE t AS SELECT 1 AS x"))
	must(t, w.Close())
	if st, err := os.Stat(filepath.Join(dir, ".sluice/w.duckdb")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode().Perm(), err)
	}
	if strings.Contains(logs.String(), "restricted") {
		t.Errorf("a new file was reported as loosened:\n%s", logs.String())
	}
}
