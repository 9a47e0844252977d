package file_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/file"
)

func open(t *testing.T, dir, options string) (destination.Destination, error) {
	t.Helper()
	opts, err := destination.ParseOptions(file.Spec, options)
	if err != nil {
		t.Fatal(err)
	}
	return file.Open(context.Background(), destination.Config{
		Name: "files", Type: "file", Options: opts, ProjectDir: dir,
		Sync: destination.SyncInfo{Name: "s", Fields: []string{"email"}},
	})
}

func writeOne(t *testing.T, d destination.Destination) {
	t.Helper()
	errs, err := d.Write(context.Background(), &destination.Batch{Sync: "s", RunID: "run1", Records: []destination.Record{
		{Op: destination.OpUpsert, Key: "a@x.com", Fields: map[string]any{"email": "a@x.com"}},
	}})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFileModes: export files and folders hold personal data: owner-only
// unless file_mode says group, and tightened when found looser.
func TestFileModes(t *testing.T) {
	tests := []struct {
		name, options     string
		before            func(t *testing.T, dir string) // files an earlier version left
		wantFile, wantDir fs.FileMode
	}{
		{"private by default", "{path: out}", nil, 0o600, 0o700},
		{"private said", "{path: out, file_mode: private}", nil, 0o600, 0o700},
		{"group", "{path: out, file_mode: group}", nil, 0o640, 0o750},
		{"loose folders and file tightened", "{path: out}", func(t *testing.T, dir string) {
			mustMkdir(t, filepath.Join(dir, "out", "s"), 0o777)
			must(t, os.WriteFile(filepath.Join(dir, "out", "s", "run1.jsonl"), nil, 0o666))
			must(t, os.Chmod(filepath.Join(dir, "out", "s", "run1.jsonl"), 0o666))
		}, 0o600, 0o700},
		{"nested export folder", "{path: exports/crm}", nil, 0o600, 0o700},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.before != nil {
				tc.before(t, dir)
			}
			d, err := open(t, dir, tc.options)
			if err != nil {
				t.Fatal(err)
			}
			writeOne(t, d)
			out := filepath.Dir(filepath.Dir(d.(*file.File).Path()))
			checkTree(t, out, tc.wantFile, tc.wantDir)
			if st, _ := os.Stat(dir); st.Mode().Perm() == tc.wantDir && tc.wantDir == 0o700 {
				t.Errorf("the project folder itself was changed to %04o", st.Mode().Perm())
			}
		})
	}
}

// checkTree checks the mode of every file and folder under root, root
// included.
func checkTree(t *testing.T, root string, file, dir fs.FileMode) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := e.Info()
		if err != nil {
			return err
		}
		want := file
		if e.IsDir() {
			want = dir
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("only %d entries under %s", n, root)
	}
}

// TestPathRefusedAtOpen: the export folder is checked where it is used
// too, so that a folder replaced by a symlink after validation does not
// lead the export elsewhere.
func TestPathRefusedAtOpen(t *testing.T) {
	elsewhere := t.TempDir()
	tests := []struct {
		name, options string
		setup         func(t *testing.T, dir string)
		outside       bool
	}{
		{"dotdot", "{path: ../x}", nil, true},
		{"dotdot after a folder", "{path: out/../../x}", nil, true},
		{"symlinked folder", "{path: out}", func(t *testing.T, dir string) {
			if err := os.Symlink(elsewhere, filepath.Join(dir, "out")); err != nil {
				t.Skip(err)
			}
		}, true},
		{"absolute, written so", "{path: " + elsewhere + "}", nil, false},
		{"inside", "{path: out/./x}", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			_, err := open(t, dir, tc.options)
			if got := errors.Is(err, config.ErrOutsideProject); got != tc.outside {
				t.Errorf("err = %v, want outside=%v", err, tc.outside)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, dir string, mode fs.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(dir, mode))
	must(t, os.Chmod(dir, mode))
	must(t, os.Chmod(filepath.Dir(dir), mode))
}

// TestPathValidated: validation reports an export folder that leaves the
// project, or is no folder, at the value's position.
func TestPathValidated(t *testing.T) {
	tests := []struct {
		name, path string
		setup      func(t *testing.T, dir string)
		want       string
	}{
		{"inside", "out", nil, ""},
		{"absolute", filepath.Join(os.TempDir(), "sluice-exports"), nil, ""},
		{"dotdot", "../out", nil, "syncs.yml:1:48: path leaves the project directory: .. goes above it"},
		{"empty", `""`, nil, "syncs.yml:1:48: path is empty"},
		{"a file", "notes.txt", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600))
		}, "syncs.yml:1:48: path is a file, not a directory"},
		{"symlinked folder", "out", func(t *testing.T, dir string) {
			if err := os.Symlink(t.TempDir(), filepath.Join(dir, "out")); err != nil {
				t.Skip(err)
			}
		}, "syncs.yml:1:48: path leaves the project directory through a symbolic link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.WriteFile(filepath.Join(dir, "sluice.yml"), []byte("version: 1\nname: t\nwarehouse: { type: duckdb }\n"), 0o600))
			must(t, os.WriteFile(filepath.Join(dir, "syncs.yml"), []byte("destinations: [ { name: out, type: file, path: "+tc.path+" } ]\n"), 0o600))
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			_, err := config.Load(dir, config.Options{})
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			}
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("problems:\n%s\nwant one starting %q", got, tc.want)
			}
		})
	}
}
