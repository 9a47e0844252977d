//go:build chdb

package clickhouse_test

import (
	"testing"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

func TestChDBFailedBuildKeepsPublishedTables(t *testing.T) {
	failedBuildKeepsPublishedTables(t, func(t *testing.T, _ string) warehouse.Warehouse { return openChDB(t) })
}
