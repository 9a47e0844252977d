//go:build !chdb

package clickhouse_test

import "testing"

func TestChDB(t *testing.T) {
	t.Skip("the chDB tests (ClickHouse 26.x in-process) need -tags chdb and SLUICE_CHDB_LIB naming libchdb.so: see .ci/run")
}
