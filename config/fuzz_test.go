package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad loads a project of a sluice.yml and one other file, whatever
// their bytes: Load must return (no panic, no hang) and every problem it
// reports must be located at a file and line. The seed corpus in
// testdata/fuzz/FuzzLoad holds the quickstart's files and hostile variants.
func FuzzLoad(f *testing.F) {
	f.Add(minimalRoot, "sources:\n  - { name: orders, table: raw.orders, primary_key: id }\n")
	f.Fuzz(func(t *testing.T, root, other string) {
		if len(root)+len(other) > 1<<16 {
			t.Skip("inputs beyond 64 KiB add nothing but time")
		}
		dir := t.TempDir()
		for name, content := range map[string]string{"sluice.yml": root, "other.yml": other} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Load(dir, Options{Env: env(map[string]string{"TOKEN": "t0ken", "PORT": "9000"})})
		if err == nil {
			return
		}
		var ps Problems
		if !errors.As(err, &ps) {
			t.Fatalf("want Problems, got %T: %v", err, err)
		}
		for _, p := range ps {
			if p.Pos.File == "" || p.Pos.Line < 1 || p.Pos.Col < 0 {
				t.Errorf("problem without a position: %s", p)
			}
			if p.Message == "" {
				t.Errorf("problem without a message at %s", p.Pos)
			}
		}
	})
}
