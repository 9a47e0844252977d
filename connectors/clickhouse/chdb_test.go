//go:build chdb

package clickhouse_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/connectors/clickhouse"
	"github.com/sluicehq/sluice/connectors/clickhouse/chdbtest"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/warehouse/warehousetest"
)

// The tests below run on chDB, a current ClickHouse release in-process
// (see package chdbtest), what the others run on the server of
// SLUICE_CLICKHOUSE_DSN (18.16 in CI): the two flavours of the SQL.

func openChDB(t *testing.T) warehouse.Warehouse {
	w := chdbtest.Open(t)
	var version string
	if err := warehouse.QueryRow(context.Background(), w, "SELECT version()", &version); err != nil {
		t.Fatal(err)
	}
	if name := w.Dialect().Name(); name != "clickhouse" {
		t.Fatalf("chDB %s got the %s flavour", version, name)
	}
	return w
}

func TestChDBConformance(t *testing.T) {
	warehousetest.Run(t, openChDB)
}

func TestChDBSameResultsAsDuckDB(t *testing.T) {
	sameResultsAsDuckDB(t, openChDB)
}

func TestChDBLoadCSVRunsTheCompiledStatements(t *testing.T) {
	w := openChDB(t)
	defer w.Close()
	clickhouse.CheckSeedLoad(t, w.(*clickhouse.Warehouse))
}

// TestChDBCompiledFilesRunInChDB runs the files sluice compile writes for
// current servers as scripts in chDB, which reads INSERT ... FROM INFILE
// itself as clickhouse-client does, and compares the tables with build's.
func TestChDBCompiledFilesRunInChDB(t *testing.T) {
	w := openChDB(t)
	defer w.Close()
	compiledFilesGiveTheBuild(t, w, func(sql string) string {
		out, err := chdbtest.Run(sql)
		if err != nil {
			t.Fatalf("chdb: %v\n%s", err, sql)
		}
		return out
	}, func(cmd string) { t.Fatalf("a file for current servers says to pipe rows: %s", cmd) })
}
