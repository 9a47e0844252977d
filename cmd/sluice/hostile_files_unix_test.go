//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A pipe, a device or an oversize file among the project files is a
// problem like any other: validate returns (it never waits on a pipe),
// exits 1 and names each file, with the project's other problems.
func TestValidateRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sluice.yml", "version: 1\nname: t\nwarehouse: { type: duckdb }\n")
	write("traits.yml", "traits:\n  vip: 3\n")
	write("big.yml", "")
	if err := os.Truncate(filepath.Join(dir, "big.yml"), 11<<20); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe.yml"), 0o644); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.yml")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	code, _, stderr := sluice(t, "validate", "--offline", "--project", dir)
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	for _, want := range []string{
		"big.yml:1:1: file is larger than 10 MiB",
		"pipe.yml:1:1: is a named pipe (FIFO)",
		"traits.yml:2:8: `vip`: expected a mapping, got a number",
		"zero.yml:1:1: is a device",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
