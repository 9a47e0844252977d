package snowflake_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/warehouse/warehousetest"
)

// TestConformance runs the shared warehouse suite against a real Snowflake
// account, given SLUICE_SNOWFLAKE_DSN (a gosnowflake DSN, e.g.
// user:password@myorg-myaccount/SLUICE_TEST?warehouse=XS_WH&role=SLUICE).
// The suite creates conf_* schemas in the DSN's database.
func TestConformance(t *testing.T) {
	dsn := os.Getenv("SLUICE_SNOWFLAKE_DSN")
	if dsn == "" {
		t.Skip("SLUICE_SNOWFLAKE_DSN is not set: the Snowflake conformance suite needs a real account (see README, Running against Snowflake)")
	}
	warehousetest.Run(t, func(t *testing.T) warehouse.Warehouse {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: t.TempDir(), Warehouse: config.Warehouse{Type: "snowflake", DSN: config.Secret(dsn)}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	})
}
