// Package examplestest gives tests in other packages the example projects
// as files on disk.
package examplestest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir is the directory of the named example project (e.g. "quickstart") in
// the source tree.
func Dir(t testing.TB, name string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the examples directory")
	}
	return filepath.Join(filepath.Dir(file), "..", name)
}

// CopyQuickstart copies the named files of the quickstart (paths relative
// to it, such as "sluice.yml" or "data/orders.csv") into a new temporary
// directory and returns it.
func CopyQuickstart(t testing.TB, files ...string) string {
	t.Helper()
	src, dir := Dir(t, "quickstart"), t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ErasureSecret stands for SLUICE_ERASURE_SECRET, which the quickstart's
// erasure block names, in tests that load it strictly.
const ErasureSecret = "examples-erasure-secret-0123456789"

// Env looks variables up in the environment, giving SLUICE_ERASURE_SECRET
// a value when it has none: pass it as config.Options.Env to load the
// quickstart as a test of something else.
func Env(name string) (string, bool) {
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	if name == "SLUICE_ERASURE_SECRET" {
		return ErasureSecret, true
	}
	return "", false
}
