//go:build chdb

package chdbtest

import (
	"context"
	"os"
	"testing"

	"github.com/sluicehq/sluice/connectors/clickhouse"
)

// Open returns the ClickHouse warehouse on chDB, or skips the test when
// SLUICE_CHDB_LIB is not set (the binding would not have started without
// the library anyway: see the package comment).
func Open(t testing.TB) *clickhouse.Warehouse {
	t.Helper()
	if os.Getenv(Env) == "" {
		t.Skip(Env + " is not set: it names libchdb.so (see .ci/run) for the chDB tests")
	}
	db, err := DB(sessionDir(t))
	if err != nil {
		t.Fatal(err)
	}
	w, err := clickhouse.OpenDB(context.Background(), db, "chdb")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var dir string

// sessionDir is where chDB keeps its tables for the whole test binary.
func sessionDir(t testing.TB) string {
	sessionMu.Lock()
	defer sessionMu.Unlock()
	if dir == "" {
		d, err := os.MkdirTemp("", "sluice-chdb-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	return dir
}
