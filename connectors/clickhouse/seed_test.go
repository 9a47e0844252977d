package clickhouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

// TestLoadCSVRunsTheCompiledStatements checks that what the builder runs
// for a seed (LoadCSV) is what sluice compile prints for it
// (SeedStatements), statement for statement, and what it loads.
func TestLoadCSVRunsTheCompiledStatements(t *testing.T) {
	dsn := os.Getenv("SLUICE_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
	}
	ctx := context.Background()
	ww, err := Open(ctx, warehouse.Config{Warehouse: config.Warehouse{Type: "clickhouse", DSN: config.Secret(dsn)}})
	if err != nil {
		t.Fatal(err)
	}
	defer ww.Close()
	checkSeedLoad(t, ww.(*Warehouse))
}

// checkSeedLoad loads a small file through LoadCSV and compares the
// statements run with SeedStatements; chDB's tests call it too.
func checkSeedLoad(t *testing.T, w *Warehouse) {
	ctx := context.Background()
	schema := fmt.Sprintf("sluice_seed_%d", time.Now().UnixNano()%1_000_000_000)
	if err := w.CreateSchema(ctx, schema); err != nil {
		t.Fatal(err)
	}
	defer w.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+w.dialect.Ident(schema))
	path := filepath.Join(t.TempDir(), "people.csv")
	data := "id,phone,name,vip,joined\n1,0612345678,\"O'Brien, Pat\",true,2026-01-02 03:04:05\n2,,Zoé,f,\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	types := []dialect.ColumnType{{Column: "phone", Type: "varchar"}}
	want, err := SeedStatements(w.dialect, schema, "people", path, types)
	if err != nil {
		t.Fatal(err)
	}
	var ran []string
	w.trace = func(q string) { ran = append(ran, q) }
	defer func() { w.trace = nil }()
	if err := w.LoadCSV(ctx, schema, "people", path, types); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ran, want) {
		t.Errorf("LoadCSV ran\n%q\nsluice compile prints\n%q", ran, want)
	}
	var n, vips, nullPhones uint64
	var phone string
	q := "SELECT count(), countIf(vip = 1), countIf(isNull(phone)), max(phone) FROM " + w.dialect.Table(schema, "people")
	if err := warehouse.QueryRow(ctx, w, q, &n, &vips, &nullPhones, &phone); err != nil {
		t.Fatal(err)
	}
	if n != 2 || vips != 1 || nullPhones != 1 || phone != "0612345678" {
		t.Errorf("loaded %d rows, %d vips, %d NULL phones, phone %q", n, vips, nullPhones, phone)
	}
	if ok, err := w.TableExists(ctx, schema, "people__sluice_load"); err != nil || ok {
		t.Errorf("the staging table outlived the load (%v)", err)
	}
}
