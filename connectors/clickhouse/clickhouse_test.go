package clickhouse_test

import (
	"context"
	"os"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/clickhouse"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/warehouse/warehousetest"
)

// dsn is the server the tests use; .ci/clickhouse.sh starts one and sets it.
func dsn(t testing.TB) string {
	t.Helper()
	v := os.Getenv("SLUICE_CLICKHOUSE_DSN")
	if v == "" {
		t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
	}
	return v
}

func open(t testing.TB) warehouse.Warehouse {
	t.Helper()
	w, err := warehouse.Open(context.Background(), warehouse.Config{
		ProjectDir: t.TempDir(),
		Warehouse:  config.Warehouse{Type: "clickhouse", DSN: config.Secret(dsn(t))},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestConformance(t *testing.T) {
	warehousetest.Run(t, func(t *testing.T) warehouse.Warehouse { return open(t) })
}

func TestDialectFollowsServerVersion(t *testing.T) {
	w := open(t)
	defer w.Close()
	var version string
	if err := warehouse.QueryRow(context.Background(), w, "SELECT version()", &version); err != nil {
		t.Fatal(err)
	}
	d, ok := w.Dialect().(interface{ TimestampType() string })
	if !ok {
		t.Fatalf("dialect %T", w.Dialect())
	}
	t.Logf("server %s, timestamps as %s", version, d.TimestampType())
	_ = clickhouse.SplitStatements
}
