//go:build chdb

package erasure_test

import (
	"testing"

	"github.com/sluicehq/sluice/connectors/clickhouse/chdbtest"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// With the chdb tag the tests run on chDB too, a current ClickHouse
// release in-process, beside the 18.16 server: the two flavours of the SQL.
func init() {
	warehouses = append(warehouses, "chdb")
	openChDB = func(t testing.TB) warehouse.Warehouse { return chdbtest.Open(t) }
}
