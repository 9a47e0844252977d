//go:build unix

package config

import (
	"path/filepath"
	"syscall"
	"testing"
)

// TestSeedPathNotAFile: a seed path naming a pipe or a device is refused
// at its position without being opened (a pipe would block validate).
func TestSeedPathNotAFile(t *testing.T) {
	tests := []struct {
		name, path string
		setup      func(t *testing.T, dir string)
	}{
		{"pipe", "data/fifo.csv", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "data", "fifo.csv"), 0o600); err != nil {
				t.Skip(err)
			}
		}},
		{"symlink to a pipe", "data/link.csv", func(t *testing.T, dir string) {
			if err := syscall.Mkfifo(filepath.Join(dir, "data", "fifo.csv"), 0o600); err != nil {
				t.Skip(err)
			}
			symlink(t, dir, "fifo.csv", "data/link.csv")
		}},
		{"device through a symlink inside", "data/null.csv", func(t *testing.T, dir string) {
			symlink(t, dir, "/dev/null", "data/null.csv")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{
				"sluice.yml": minimalRoot,
				"data/c.csv": "id\n1\n",
				"seeds.yml":  "seeds: [ { name: s, path: " + tc.path + " } ]\n",
			})
			tc.setup(t, dir)
			want := "seeds.yml:1:27: seed file is not a regular file"
			if tc.name == "device through a symlink inside" {
				want = "seeds.yml:1:27: seed file leaves the project directory through a symbolic link"
			}
			checkOne(t, loadProblems(t, dir), want)
		})
	}
}
