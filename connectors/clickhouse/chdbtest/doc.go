// Package chdbtest runs ClickHouse in-process for tests: chDB (libchdb.so,
// a current ClickHouse release built as a library) behind a small
// database/sql driver, handed to the ClickHouse connector with
// clickhouse.OpenDB.
//
// Only tests import it, and only when built with the chdb tag, so that
// neither the library nor its Go binding reaches the sluice binary: the
// binding loads the library when the program starts and cannot start
// without it. SLUICE_CHDB_LIB names libchdb.so; .ci/run installs it from
// npm (@chdb/lib-linux-x64-gnu) and sets both.
//
//	SLUICE_CHDB_LIB=$HOME/.cache/sluice-chdb/node_modules/@chdb/lib-linux-x64-gnu/libchdb.so \
//	CHDB_LIB_PATH=$SLUICE_CHDB_LIB go test -tags chdb ./connectors/clickhouse/...
package chdbtest

// Env is the variable naming libchdb.so.
const Env = "SLUICE_CHDB_LIB"
