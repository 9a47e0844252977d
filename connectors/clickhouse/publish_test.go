package clickhouse_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder/publishtest"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// TestFailedBuildKeepsPublishedTables: a build that fails or is cancelled
// after the identity steps, or whose publish step finds a staging table
// missing, leaves the previous build's tables on the server as they were;
// the next build publishes in one RENAME and leaves no staging table.
func TestFailedBuildKeepsPublishedTables(t *testing.T) {
	chDSN := dsn(t)
	failedBuildKeepsPublishedTables(t, func(t *testing.T, dir string) warehouse.Warehouse {
		w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: dir,
			Warehouse: config.Warehouse{Type: "clickhouse", DSN: config.Secret(chDSN)}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	})
}

// failedBuildKeepsPublishedTables is TestFailedBuildKeepsPublishedTables on
// the ClickHouse that open opens for the project in dir: a server, or
// chDB in-process.
func failedBuildKeepsPublishedTables(t *testing.T, open func(t *testing.T, dir string) warehouse.Warehouse) {
	ctx := context.Background()
	dir := t.TempDir()
	w := open(t, dir)
	// Databases of its own, so that parallel runs on one server never meet.
	schema := fmt.Sprintf("sluice_pub_%d", time.Now().UnixNano()%1_000_000_000)
	defer func() {
		for _, s := range []string{schema, schema + "_raw", schema + "_state"} {
			if err := w.Exec(ctx, "DROP DATABASE IF EXISTS "+w.Dialect().Ident(s)); err != nil {
				t.Error(err)
			}
		}
		w.Close()
	}()
	publishtest.Run(t, w, dir, schema, func(schema string) []string {
		rows, err := w.Query(ctx, "SELECT name FROM system.tables WHERE database = "+w.Dialect().String(schema))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 {
			t.Fatalf("no tables in %s", schema)
		}
		return names
	})
}
