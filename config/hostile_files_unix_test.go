//go:build unix

package config

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func mkfifo(name string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		p := filepath.Join(dir, name)
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skipf("no FIFOs here: %v", err)
		}
	}
}

func link(target, name string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		p := filepath.Join(dir, name)
		os.Remove(p)
		if err := os.Symlink(target, p); err != nil {
			t.Skipf("no symlinks here: %v", err)
		}
	}
}

// sparse makes name a file of size bytes without writing them.
func sparse(name string, size int64) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		if err := os.Truncate(filepath.Join(dir, name), size); err != nil {
			t.Fatal(err)
		}
	}
}

// Files that are not regular files are refused without being opened (a
// FIFO would block the loader until a writer came), and so are files over
// the size limit.
func TestHostileFiles(t *testing.T) {
	runHostile(t, []hostileCase{
		{name: "FIFO among the files", setup: mkfifo("pipe.yml"),
			want: []string{"pipe.yml:1:1: is a named pipe (FIFO), not a regular file"}},
		{name: "sluice.yml is a FIFO", setup: mkfifo("sluice.yml"),
			want: []string{"sluice.yml:1:1: is a named pipe (FIFO)"}},
		{name: "symlink to a FIFO", setup: func(t *testing.T, dir string) {
			mkfifo("pipe")(t, dir)
			link("pipe", "a.yml")(t, dir)
		}, want: []string{"a.yml:1:1: is a named pipe (FIFO)"}},
		{name: "symlink to a device", setup: link("/dev/zero", "zero.yml"),
			want: []string{"zero.yml:1:1: is a device, not a regular file"}},
		{name: "directory named like a file", setup: func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "dir.yml"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"dir.yml:1:1: is a directory, not a YAML file"}},
		{name: "socket", setup: func(t *testing.T, dir string) {
			l, err := net.Listen("unix", filepath.Join(dir, "s.yml"))
			if err != nil {
				t.Skipf("no unix sockets here: %v", err)
			}
			t.Cleanup(func() { l.Close() })
		}, want: []string{"s.yml:1:1: is a socket"}},
		{name: "broken symlink", setup: link("nowhere.yml", "gone.yml"),
			want: []string{"gone.yml:1:1: broken symbolic link"}},
		{name: "symlink loop", setup: link("loop.yml", "loop.yml"),
			want: []string{"loop.yml:1:1: cannot read this file: too many levels of symbolic links"}},
		{name: "sluice.yml is a directory", setup: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "sluice.yml"))
			if err := os.Mkdir(filepath.Join(dir, "sluice.yml"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"sluice.yml:1:1: is a directory, not a YAML file"}},
		{name: "file over the limit", files: map[string]string{"big.yml": "sources: []\n"}, setup: sparse("big.yml", MaxFileSize+1),
			want: []string{"big.yml:1:1: file is larger than 10 MiB"}},
		{name: "sluice.yml over the limit", setup: sparse("sluice.yml", MaxFileSize+1),
			want: []string{"sluice.yml:1:1: file is larger than 10 MiB"}},
		{name: "symlink to a file over the limit", files: map[string]string{"big": ""}, setup: func(t *testing.T, dir string) {
			sparse("big", 1<<40)(t, dir)
			link("big", "big.yml")(t, dir)
		}, want: []string{"big.yml:1:1: file is larger than 10 MiB"}},
		{name: "all at once", files: map[string]string{"bad.yml": "traits: [\n", "bin.yml": "a: \x00\n"}, setup: mkfifo("pipe.yml"),
			want: []string{"bad.yml:1:9: invalid YAML", "bin.yml:1:4: not a YAML text file: a NUL byte", "pipe.yml:1:1: is a named pipe"}},
	})
}
