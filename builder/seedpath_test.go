package builder_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/builder"
)

// TestSeedLeavingAfterValidation: a seed file replaced by a way out of the
// project between validation and build is refused before anything loads,
// and its content never shows.
func TestSeedLeavingAfterValidation(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(secret, []byte("id,n\nroot,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		swap  func(dir string) error
		wantS string
	}{
		{"file replaced by a symlink", func(dir string) error {
			f := filepath.Join(dir, "data", "c.csv")
			return errors.Join(os.Remove(f), os.Symlink(secret, f))
		}, "through a symbolic link"},
		{"folder replaced by a symlink", func(dir string) error {
			d := filepath.Join(dir, "data")
			return errors.Join(os.RemoveAll(d), os.Symlink(filepath.Dir(secret), d), os.Symlink(secret, filepath.Join(filepath.Dir(secret), "c.csv")))
		}, "through a symbolic link"},
		{"dangling symlink", func(dir string) error {
			f := filepath.Join(dir, "data", "c.csv")
			return errors.Join(os.Remove(f), os.Symlink(filepath.Join(dir, "gone", "x.csv"), f))
		}, "points at nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write := projectWriter(t, dir)
			write("sluice.yml", "version: 1\nname: t\nwarehouse: { type: duckdb }\n")
			write("data/c.csv", "id,n\n1,2\n")
			write("sources.yml", "seeds: [ { name: c, path: data/c.csv } ]\n")
			_, w, plan := compileProject(t, dir)
			if err := tc.swap(dir); err != nil {
				t.Skip(err) // no symlinks here
			}
			_, err := builder.Run(context.Background(), w, plan, builder.Options{})
			var se *builder.SeedError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), "data/c.csv: seed file") || !strings.Contains(err.Error(), tc.wantS) {
				t.Fatalf("err = %v, want a SeedError at data/c.csv saying %q", err, tc.wantS)
			}
			if strings.Contains(err.Error(), "root") {
				t.Errorf("the error shows the outside file's content: %v", err)
			}
		})
	}
}
