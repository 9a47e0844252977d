// Package duckdb is the embedded default warehouse: DuckDB in-process, as a
// database file or in memory. It needs no server, which is what makes the
// quickstart and the tests run offline.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

func init() { warehouse.Register("duckdb", Open) }

// Warehouse is a DuckDB database.
type Warehouse struct {
	db   *sql.DB
	path string
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// Open opens (creating if needed) the database file named by the config, or
// an in-memory database when the path is empty or ":memory:".
func Open(ctx context.Context, cfg warehouse.Config) (warehouse.Warehouse, error) {
	w := cfg.Warehouse
	path := w.Path
	if path == ":memory:" {
		path = ""
	}
	if path != "" {
		if !filepath.IsAbs(path) {
			path = filepath.Join(cfg.ProjectDir, path)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fmt.Errorf("creating directory for %s: %w", path, err)
		}
	}
	q := url.Values{}
	// sluice's tables carry no meaningful row order (every read that needs
	// one says ORDER BY), and keeping insertion order makes DuckDB's large
	// CREATE TABLE AS and INSERT statements markedly slower.
	q.Set("preserve_insertion_order", "false")
	if w.MemoryLimit != "" {
		q.Set("memory_limit", w.MemoryLimit)
	}
	if w.Threads > 0 {
		q.Set("threads", strconv.Itoa(w.Threads))
	}
	dsn := path
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	connector, err := duckdbdriver.NewConnector(dsn, func(driver.ExecerContext) error { return nil })
	if err != nil {
		return nil, fmt.Errorf("opening duckdb %s: %w", displayPath(path), err)
	}
	db := sql.OpenDB(connector)
	wh := &Warehouse{db: db, path: path}
	if err := wh.Check(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return wh, nil
}

func displayPath(p string) string {
	if p == "" {
		return "(in memory)"
	}
	return p
}

// DB exposes the underlying handle for tests and benchmarks.
func (w *Warehouse) DB() *sql.DB { return w.db }

// Dialect implements warehouse.Warehouse.
func (w *Warehouse) Dialect() dialect.Dialect { return dialect.DuckDB{} }

// Check implements warehouse.Warehouse.
func (w *Warehouse) Check(ctx context.Context) error {
	var one int
	if err := w.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("checking duckdb %s: %w", displayPath(w.path), err)
	}
	return nil
}

// Exec implements warehouse.Warehouse.
func (w *Warehouse) Exec(ctx context.Context, query string, args ...any) error {
	if _, err := w.db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	return nil
}

// Query implements warehouse.Warehouse.
func (w *Warehouse) Query(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	rows, err := w.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", err)
	}
	return rows, nil
}

// CreateSchema implements warehouse.Warehouse.
func (w *Warehouse) CreateSchema(ctx context.Context, schema string) error {
	return w.Exec(ctx, w.Dialect().CreateSchema(schema))
}

// TableExists implements warehouse.Warehouse.
func (w *Warehouse) TableExists(ctx context.Context, schema, table string) (bool, error) {
	var n int
	err := w.db.QueryRowContext(ctx,
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?`,
		schema, table).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("duckdb: looking up table %s.%s: %w", schema, table, err)
	}
	return n > 0, nil
}

// Close implements warehouse.Warehouse.
func (w *Warehouse) Close() error { return w.db.Close() }
