package duckdb_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/duckdb"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// TestFileModes: the database file holds personal data: owner-only (or
// group with file_mode: group), its folder too, and both tightened when an
// earlier version left them looser.
func TestFileModes(t *testing.T) {
	tests := []struct {
		name, mode        string
		before            func(t *testing.T, dir string)
		wantFile, wantDir fs.FileMode
	}{
		{"private by default", "", nil, 0o600, 0o700},
		{"group", "group", nil, 0o640, 0o750},
		{"loose file and folder tightened", "", func(t *testing.T, dir string) {
			open(t, dir, config.Warehouse{Type: "duckdb", Path: ".sluice/w.duckdb"}, false).Close()
			must(t, os.Chmod(filepath.Join(dir, ".sluice"), 0o777))
			must(t, os.Chmod(filepath.Join(dir, ".sluice", "w.duckdb"), 0o666))
		}, 0o600, 0o700},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.before != nil {
				tc.before(t, dir)
			}
			w := open(t, dir, config.Warehouse{Type: "duckdb", Path: ".sluice/w.duckdb", FileMode: tc.mode}, false)
			must(t, w.Exec(context.Background(), "CREATE TABLE t AS SELECT 1 AS x"))
			must(t, w.Close())
			err := filepath.WalkDir(filepath.Join(dir, ".sluice"), func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				st, err := e.Info()
				if err != nil {
					return err
				}
				want := tc.wantFile
				if e.IsDir() {
					want = tc.wantDir
				}
				if st.Mode().Perm() != want {
					t.Errorf("%s: mode %04o, want %04o", p, st.Mode().Perm(), want)
				}
				return nil
			})
			must(t, err)
			if st, _ := os.Stat(dir); st.Mode().Perm() == 0o700 {
				t.Errorf("the project folder itself was tightened")
			}
		})
	}
}

// TestReadOnly: a read-only open (sluice validate) creates nothing and
// changes nothing.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Warehouse{Type: "duckdb", Path: ".sluice/w.duckdb"}
	if _, err := duckdb.Open(context.Background(), warehouse.Config{ProjectDir: dir, Warehouse: cfg, ReadOnly: true}); err == nil {
		t.Fatal("a read-only open of a missing file succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("a read-only open created %s", entries[0].Name())
	}
	w := open(t, dir, cfg, false)
	must(t, w.Exec(context.Background(), "CREATE TABLE t AS SELECT 1 AS x"))
	must(t, w.Close())
	loose := filepath.Join(dir, ".sluice", "w.duckdb")
	must(t, os.Chmod(loose, 0o644))
	w = open(t, dir, cfg, true)
	if err := w.Exec(context.Background(), "CREATE TABLE u AS SELECT 1 AS x"); err == nil {
		t.Error("a read-only warehouse accepted a write")
	}
	must(t, w.Close())
	if st, _ := os.Stat(loose); st.Mode().Perm() != 0o644 {
		t.Errorf("a read-only open changed the file's mode to %04o", st.Mode().Perm())
	}
}

// TestPathRefused: the database path is checked where it is opened too.
func TestPathRefused(t *testing.T) {
	tests := []struct {
		name, path string
		setup      func(t *testing.T, dir string)
	}{
		{"dotdot", "../../w.duckdb", nil},
		{"dotdot after a folder", ".sluice/../../w.duckdb", nil},
		{"symlinked folder", ".sluice/w.duckdb", func(t *testing.T, dir string) {
			if err := os.Symlink(t.TempDir(), filepath.Join(dir, ".sluice")); err != nil {
				t.Skip(err)
			}
		}},
		{"dangling symlink", "w.duckdb", func(t *testing.T, dir string) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "gone"), filepath.Join(dir, "w.duckdb")); err != nil {
				t.Skip(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			_, err := duckdb.Open(context.Background(), warehouse.Config{ProjectDir: dir, Warehouse: config.Warehouse{Type: "duckdb", Path: tc.path}})
			if !errors.Is(err, config.ErrOutsideProject) {
				t.Errorf("err = %v, want one wrapping ErrOutsideProject", err)
			}
		})
	}
}

func open(t *testing.T, dir string, cfg config.Warehouse, readOnly bool) warehouse.Warehouse {
	t.Helper()
	w, err := duckdb.Open(context.Background(), warehouse.Config{ProjectDir: dir, Warehouse: cfg, ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
