// Package duckdb is the embedded default warehouse: DuckDB in-process, as a
// database file or in memory. It needs no server, which is what makes the
// quickstart and the tests run offline.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

func init() { warehouse.Register("duckdb", Open) }

// Warehouse is a DuckDB database.
type Warehouse struct {
	db       *sql.DB
	path     string
	fileMode os.FileMode
	readOnly bool // opened by validate: nothing is changed, not even modes
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// Open opens (creating if needed, owner-only) the database file named by
// the config, read-only when the config says so, or
// an in-memory database when the path is empty or ":memory:".
func Open(ctx context.Context, cfg warehouse.Config) (warehouse.Warehouse, error) {
	w := cfg.Warehouse
	path := w.Path
	if path == ":memory:" {
		path = ""
	}
	fileMode, dirMode, err := config.FileModes(w.FileMode)
	if err != nil {
		return nil, err
	}
	readOnly := false
	if path != "" {
		if path, err = config.ResolvePath(cfg.ProjectDir, path); err != nil {
			return nil, fmt.Errorf("warehouse path %s: %w", w.Path, err)
		}
		if readOnly, err = prepareDir(cfg, path, dirMode); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	if readOnly {
		q.Set("access_mode", "read_only")
	}
	// sluice's tables carry no meaningful row order (every read that needs
	// one says ORDER BY), and keeping insertion order makes DuckDB's large
	// CREATE TABLE AS and INSERT statements markedly slower.
	q.Set("preserve_insertion_order", "false")
	// Deleted rows stay in storage until a publish compacts them
	// (dialect.Compactor): DuckDB's vacuum at every checkpoint would
	// otherwise rewrite, after each incremental build, the row groups its
	// deletes thinned out, a cost that grows with the tables.
	q.Set("max_vacuum_tasks", "0")
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
	// Opening creates the file: whether it is new is known only before.
	fresh := false
	if path != "" && !readOnly {
		_, statErr := os.Stat(path)
		fresh = errors.Is(statErr, fs.ErrNotExist)
	}
	connector, err := duckdbdriver.NewConnector(dsn, func(driver.ExecerContext) error { return nil })
	if err != nil {
		return nil, fmt.Errorf("opening duckdb %s: %w", displayPath(path), err)
	}
	db := sql.OpenDB(connector)
	wh := &Warehouse{db: db, path: path, fileMode: fileMode, readOnly: readOnly}
	if err := wh.Check(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := wh.restrictAccess(ctx, cfg); err != nil {
		db.Close()
		return nil, err
	}
	// DuckDB creates the file with the process's umask (and refuses an
	// empty file made beforehand), so the mode is set right after; the
	// folder, owner-only, keeps it out of reach meanwhile. A file just
	// created gets its mode quietly; an older, looser one is reported.
	tighten := wh.tighten
	if fresh {
		tighten = func() error { return os.Chmod(path, fileMode) }
	}
	if err := tighten(); err != nil {
		db.Close()
		return nil, err
	}
	return wh, nil
}

// prepareDir creates the database file's folder (owner-only), or, with
// cfg.ReadOnly, reports whether the file exists to be opened read-only: a
// read-only open creates nothing, so a missing file is an error.
func prepareDir(cfg warehouse.Config, path string, dirMode os.FileMode) (readOnly bool, err error) {
	if cfg.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return false, fmt.Errorf("opening duckdb %s read-only: %w", path, err)
		}
		return true, nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return false, fmt.Errorf("creating directory for %s: %w", path, err)
	}
	// The project folder itself, or a shared absolute folder, is the
	// user's to set; a folder of its own inside the project is sluice's.
	if config.OwnFolder(cfg.ProjectDir, dir) {
		return false, config.Tighten(dir, dirMode)
	}
	return false, nil
}

// tighten restricts the database file and its write-ahead log to fileMode.
func (w *Warehouse) tighten() error {
	if w.path == "" || w.readOnly {
		return nil
	}
	return errors.Join(config.Tighten(w.path, w.fileMode), config.Tighten(w.path+".wal", w.fileMode))
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

// Exec implements warehouse.Warehouse. A script runs on one connection;
// when it fails inside a transaction it opened (a build's publish step),
// the transaction is rolled back there, before the connection goes back
// to the pool: nothing of it is kept, and the next statement on that
// connection does not meet an aborted transaction.
func (w *Warehouse) Exec(ctx context.Context, query string, args ...any) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, query, args...); err != nil {
		// Without a transaction open, ROLLBACK fails harmlessly. It runs
		// even when ctx is what stopped the script.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("duckdb: %w", explainAccess(err))
	}
	return nil
}

// Query implements warehouse.Warehouse.
func (w *Warehouse) Query(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	rows, err := w.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: %w", explainAccess(err))
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

// Close implements warehouse.Warehouse. The write-ahead log, recreated by
// DuckDB as it writes, gets the file's mode again.
func (w *Warehouse) Close() error { return errors.Join(w.db.Close(), w.tighten()) }
