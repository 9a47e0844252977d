package duckdb_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/duckdb"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/warehouse/warehousetest"
)

func TestConformance(t *testing.T) {
	modes := []struct {
		name string
		cfg  func(t *testing.T) config.Warehouse
	}{
		{"memory", func(*testing.T) config.Warehouse { return config.Warehouse{Type: "duckdb"} }},
		{"file", func(t *testing.T) config.Warehouse {
			return config.Warehouse{Type: "duckdb", Path: filepath.Join(t.TempDir(), "sub", "w.duckdb"), MemoryLimit: "1GB", Threads: 2}
		}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			warehousetest.Run(t, func(t *testing.T) warehouse.Warehouse {
				// The suite writes its CSV files in temporary folders.
				w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: t.TempDir(), Warehouse: m.cfg(t), ExternalPaths: []string{os.TempDir()}})
				if err != nil {
					t.Fatal(err)
				}
				return w
			})
		})
	}
}

func TestSettingsApplied(t *testing.T) {
	w, err := duckdb.Open(context.Background(), warehouse.Config{Warehouse: config.Warehouse{Type: "duckdb", MemoryLimit: "512MB", Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var limit string
	var threads int64
	if err := warehouse.QueryRow(context.Background(), w, "SELECT current_setting('memory_limit'), current_setting('threads')", &limit, &threads); err != nil {
		t.Fatal(err)
	}
	if threads != 1 || limit == "" {
		t.Fatalf("memory_limit=%q threads=%d", limit, threads)
	}
	t.Logf("memory_limit=%s threads=%d", limit, threads)
}

func TestFilePersists(t *testing.T) {
	dir := t.TempDir()
	cfg := warehouse.Config{ProjectDir: dir, Warehouse: config.Warehouse{Type: "duckdb", Path: ".sluice/p.duckdb"}}
	ctx := context.Background()
	w, err := warehouse.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Exec(ctx, "CREATE TABLE kept AS SELECT 7 AS v"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, err = warehouse.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var v int64
	if err := warehouse.QueryRow(ctx, w, "SELECT v FROM kept", &v); err != nil || v != 7 {
		t.Fatalf("v=%d err=%v", v, err)
	}
}
