// Package warehouse defines what sluice needs from a warehouse and keeps a
// registry of implementations. Heavy work (stitching, traits, diffs) is SQL
// run by the warehouse; this interface only ships statements and streams
// results back.
package warehouse

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/dialect"
)

// Warehouse is a connection to one warehouse.
type Warehouse interface {
	// Dialect is the SQL dialect statements for this warehouse must use.
	Dialect() dialect.Dialect
	// Check verifies that the warehouse answers with the configured
	// credentials.
	Check(ctx context.Context) error
	// Exec runs a statement that returns no rows.
	Exec(ctx context.Context, query string, args ...any) error
	// Query runs a query and streams its rows: memory stays proportional to
	// a row, not to the result.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// CreateSchema creates a schema if it does not exist.
	CreateSchema(ctx context.Context, schema string) error
	// TableExists reports whether schema.table exists (tables and views).
	TableExists(ctx context.Context, schema, table string) (bool, error)
	// Close releases the connection.
	Close() error
}

// TypedRows is implemented by results that know their columns' database
// type names without database/sql (whose rows offer ColumnTypes): callers
// need them to tell a DATE from a TIMESTAMP at midnight.
type TypedRows interface {
	ColumnTypeNames() ([]string, error)
}

// CSVLoader is implemented by warehouses whose SQL cannot read a file on
// the machine sluice runs on (cloud warehouses): their client loads a
// seed's CSV file (header row, column types pinned by types, the others
// detected) into schema.table, replacing it. The builder uses it instead of
// the seed step's SQL.
type CSVLoader interface {
	LoadCSV(ctx context.Context, schema, table, path string, types []dialect.ColumnType) error
}

// RowAppender is implemented by warehouses whose client appends rows to a
// table faster than SQL text can carry them (DuckDB's appender,
// ClickHouse's native column blocks). The sync state store commits each
// batch's outcomes through it when the warehouse offers it. Every row holds
// one value per column of the table, in the table's column order; nil is
// NULL.
type RowAppender interface {
	AppendRows(ctx context.Context, schema, table string, rows [][]any) error
}

// Rows is a streaming result. *sql.Rows satisfies it.
type Rows interface {
	Columns() ([]string, error)
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Config is what an implementation needs to connect.
type Config struct {
	ProjectDir string           // relative paths in the config are relative to it
	Warehouse  config.Warehouse // the project's warehouse section, secrets already interpolated
	// ExternalPaths are the project's external_paths, as written: folders
	// outside the project that an embedded warehouse may read.
	ExternalPaths []string
	// ReadOnly asks for a connection that changes nothing (sluice validate):
	// an embedded warehouse opens its file read-only and creates none.
	ReadOnly bool
}

// Opener connects to a warehouse.
type Opener func(ctx context.Context, cfg Config) (Warehouse, error)

var (
	mu      sync.RWMutex
	openers = map[string]Opener{}
)

// Register makes a warehouse type available; implementations call it from
// init.
func Register(typ string, open Opener) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := openers[typ]; dup {
		panic("warehouse: registered twice: " + typ)
	}
	openers[typ] = open
}

// Types lists the registered warehouse types.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(openers))
	for t := range openers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Open connects to the warehouse a project describes.
func Open(ctx context.Context, cfg Config) (Warehouse, error) {
	mu.RLock()
	open, ok := openers[cfg.Warehouse.Type]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("warehouse type %q is not available in this build (available: %s)", cfg.Warehouse.Type, strings.Join(Types(), ", "))
	}
	w, err := open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s warehouse: %w", cfg.Warehouse.Type, err)
	}
	return w, nil
}

// QueryRow runs a query expected to return exactly one row and scans it.
func QueryRow(ctx context.Context, w Warehouse, query string, dest ...any) error {
	rows, err := w.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return fmt.Errorf("query returned no rows")
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}
