// Package clickhouse is the ClickHouse warehouse, over the native protocol
// (port 9000, 9440 with TLS) with github.com/ClickHouse/clickhouse-go/v2.
// The native protocol is used rather than HTTP because it works from the
// 18.16 releases still shipped by distributions to current ones.
//
// A ClickHouse database plays the part of a schema. Statements reach the
// server one at a time (the protocol runs one per query), so Exec splits
// a script on its semicolons; the one statement the client itself carries
// out is INSERT INTO t FROM INFILE 'file.csv' FORMAT CSVWithNames (as
// clickhouse-client does), which sends a file from the machine running
// sluice into an existing table.
package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

func init() { warehouse.Register("clickhouse", Open) }

// Warehouse is a connection pool to one ClickHouse server.
type Warehouse struct {
	db      *sql.DB
	opts    *ch.Options
	addr    string // host:port, for messages (never the password)
	dialect dialect.ClickHouse

	// native is a second, lazily opened client for column-block inserts
	// (AppendRows), which database/sql does not offer.
	nativeMu sync.Mutex
	native   chdriver.Conn
	// noBatches is set once the server answered a batch insert without
	// the table's structure (18.16), or when the handle is not this
	// package's driver (OpenDB): AppendRows then sends text.
	noBatches atomic.Bool
	// trace, in tests, sees each statement of a seed load.
	trace func(stmt string)
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// settings are sent with every query: those the dialect's SQL relies on
// (join_use_nulls), which compiled files state in SET statements.
func settings() ch.Settings {
	out := ch.Settings{}
	for _, kv := range (dialect.ClickHouse{}).SessionSettings() {
		if n, err := strconv.Atoi(kv[1]); err == nil {
			out[kv[0]] = n
		} else {
			out[kv[0]] = kv[1]
		}
	}
	return out
}

// Open connects to the server the config names and reads its version, which
// decides the SQL the dialect writes.
func Open(ctx context.Context, cfg warehouse.Config) (warehouse.Warehouse, error) {
	opts, err := options(cfg)
	if err != nil {
		return nil, err
	}
	db := ch.OpenDB(opts)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	w := &Warehouse{db: db, opts: opts, addr: strings.Join(opts.Addr, ",")}
	if err := w.readVersion(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to clickhouse at %s as %s: %w", w.addr, opts.Auth.Username, err)
	}
	return w, nil
}

// OpenDB makes a warehouse of a database/sql handle of another ClickHouse
// driver: tests run chDB (ClickHouse in-process) through one. The handle
// must apply dialect.ClickHouse's SessionSettings to its queries itself,
// since only this package's driver sends them with each query; AppendRows
// sends text rather than native blocks. name stands for the server in
// messages. Closing the warehouse closes db.
func OpenDB(ctx context.Context, db *sql.DB, name string) (*Warehouse, error) {
	w := &Warehouse{db: db, addr: name}
	w.noBatches.Store(true)
	if err := w.readVersion(ctx); err != nil {
		return nil, fmt.Errorf("connecting to clickhouse (%s): %w", name, err)
	}
	return w, nil
}

// readVersion asks the server its version, which picks the dialect's
// flavour.
func (w *Warehouse) readVersion(ctx context.Context) error {
	var version string
	if err := w.db.QueryRowContext(ctx, "SELECT version()").Scan(&version); err != nil {
		return err
	}
	v, err := dialect.ParseClickHouseVersion(version)
	if err != nil {
		return err
	}
	w.dialect = dialect.ClickHouse{Version: v}
	return nil
}

// options turns the project's warehouse section into driver options: a
// DSN, or host, port, database, user, password and TLS settings.
func options(cfg warehouse.Config) (*ch.Options, error) {
	c := cfg.Warehouse
	var opts *ch.Options
	if dsn := strings.TrimSpace(string(c.DSN)); dsn != "" {
		if !strings.HasPrefix(dsn, "clickhouse://") && !strings.HasPrefix(dsn, "tcp://") {
			return nil, fmt.Errorf("clickhouse dsn must start with clickhouse:// (the native protocol; HTTP URLs are not supported)")
		}
		o, err := ch.ParseDSN(dsn)
		if err != nil {
			// The driver redacts the password from its parse errors.
			return nil, fmt.Errorf("reading the clickhouse dsn: %w", err)
		}
		opts = o
	} else {
		host := c.Host
		if host == "" {
			host = "127.0.0.1"
		}
		port := c.Port
		if port == 0 {
			port = 9000
			if c.TLS {
				port = 9440
			}
		}
		user := c.User
		if user == "" {
			user = "default"
		}
		opts = &ch.Options{
			Addr: []string{net.JoinHostPort(host, strconv.Itoa(port))},
			Auth: ch.Auth{Database: c.Database, Username: user, Password: string(c.Password)},
		}
	}
	if opts.Auth.Database == "" {
		opts.Auth.Database = "default"
	}
	if c.TLS || c.TLSCAFile != "" || c.TLSSkipVerify {
		t := opts.TLS
		if t == nil {
			t = &tls.Config{}
		}
		if c.TLSCAFile != "" {
			path, err := config.ResolvePath(cfg.ProjectDir, c.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("clickhouse tls_ca_file: %w", err)
			}
			pem, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("reading clickhouse tls_ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("clickhouse tls_ca_file %s holds no PEM certificate", c.TLSCAFile)
			}
			t.RootCAs = pool
		}
		t.InsecureSkipVerify = c.TLSSkipVerify
		opts.TLS = t
	}
	if opts.Settings == nil {
		opts.Settings = ch.Settings{}
	}
	for k, v := range settings() {
		opts.Settings[k] = v
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 10 * time.Second
	}
	return opts, nil
}

// DB exposes the underlying handle for tests and benchmarks.
func (w *Warehouse) DB() *sql.DB { return w.db }

// Dialect implements warehouse.Warehouse: the dialect of this server's
// version.
func (w *Warehouse) Dialect() dialect.Dialect { return w.dialect }

// Check implements warehouse.Warehouse.
func (w *Warehouse) Check(ctx context.Context) error {
	var one uint8
	err := w.withConn(ctx, func(c *sql.Conn) error { return c.QueryRowContext(ctx, "SELECT 1").Scan(&one) })
	if err != nil {
		return fmt.Errorf("checking clickhouse at %s: %w", w.addr, err)
	}
	return nil
}

// Exec implements warehouse.Warehouse. A script of several statements runs
// them in order and stops at the first error, naming the statement.
func (w *Warehouse) Exec(ctx context.Context, query string, args ...any) error {
	stmts := SplitStatements(query)
	return w.withConn(ctx, func(conn *sql.Conn) error {
		for i, q := range stmts {
			if err := w.exec(ctx, conn, q, args...); err != nil {
				if len(stmts) > 1 {
					return fmt.Errorf("clickhouse: statement %d of %d (%s): %w", i+1, len(stmts), abbreviate(q), err)
				}
				return fmt.Errorf("clickhouse: %w", err)
			}
		}
		return nil
	})
}

func (w *Warehouse) exec(ctx context.Context, conn *sql.Conn, q string, args ...any) error {
	if load, ok := parseInfile(q); ok {
		target := w.dialect.Ident(load.table)
		if load.schema != "" {
			target = w.dialect.Table(load.schema, load.table)
		}
		return w.sendCSV(ctx, conn, load.path, target)
	}
	_, err := conn.ExecContext(ctx, q, args...)
	return err
}

// withConn runs fn on one connection of the pool. A connection that saw an
// error is discarded rather than reused: after a failed query, older
// servers (18.16) and the driver can disagree on where the protocol stands.
func (w *Warehouse) withConn(ctx context.Context, fn func(*sql.Conn) error) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("clickhouse at %s: %w", w.addr, err)
	}
	if err := fn(conn); err != nil {
		discard(conn)
		conn.Close()
		return err
	}
	return conn.Close()
}

func discard(conn *sql.Conn) { _ = conn.Raw(func(any) error { return driver.ErrBadConn }) }

// Query implements warehouse.Warehouse.
func (w *Warehouse) Query(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	stmts := SplitStatements(query)
	if len(stmts) != 1 {
		return nil, fmt.Errorf("clickhouse: a query must be exactly one statement, got %d", len(stmts))
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", w.addr, err)
	}
	rows, err := conn.QueryContext(ctx, stmts[0], args...)
	if err != nil {
		discard(conn)
		conn.Close()
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	return &connRows{Rows: rows, conn: conn}, nil
}

// connRows returns its connection to the pool when closed, or discards it
// when reading failed.
type connRows struct {
	*sql.Rows
	conn     *sql.Conn
	closed   bool
	decimals []int // columns of a Decimal type; nil until the first Scan
}

// Scan implements warehouse.Rows. The driver hands a Decimal column to an
// untyped destination (*any) as text; it becomes a Decimal, so that exact
// numbers stay numbers in JSON (sync payloads, query --format json), as
// DuckDB's decimals do.
func (r *connRows) Scan(dest ...any) error {
	if err := r.Rows.Scan(dest...); err != nil {
		return err
	}
	if r.decimals == nil {
		r.decimals = []int{}
		if types, err := r.Rows.ColumnTypes(); err == nil {
			for i, t := range types {
				if strings.Contains(t.DatabaseTypeName(), "Decimal") {
					r.decimals = append(r.decimals, i)
				}
			}
		}
	}
	for _, i := range r.decimals {
		if i >= len(dest) {
			break
		}
		if p, ok := dest[i].(*any); ok {
			if s, ok := (*p).(string); ok {
				*p = Decimal(s)
			}
		}
	}
	return nil
}

// Decimal is an exact number read from a Decimal column, as its digits.
// Like DuckDB's decimals it offers String and Float64, which is how sync
// mappings and query output recognise an exact number to write as a JSON
// number, digit for digit.
type Decimal string

// String returns the digits.
func (d Decimal) String() string { return string(d) }

// Float64 returns the nearest float.
func (d Decimal) Float64() float64 {
	f, _ := strconv.ParseFloat(string(d), 64)
	return f
}

func (r *connRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *connRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.Rows.Close()
	if r.Rows.Err() != nil || err != nil {
		discard(r.conn)
	}
	r.conn.Close()
	return err
}

// CreateSchema implements warehouse.Warehouse: a database.
func (w *Warehouse) CreateSchema(ctx context.Context, schema string) error {
	return w.Exec(ctx, w.dialect.CreateSchema(schema))
}

// TableExists implements warehouse.Warehouse.
func (w *Warehouse) TableExists(ctx context.Context, schema, table string) (bool, error) {
	var n uint64
	q := "SELECT count() FROM system.tables WHERE database = " + w.dialect.String(schema) + " AND name = " + w.dialect.String(table)
	err := w.withConn(ctx, func(c *sql.Conn) error { return c.QueryRowContext(ctx, q).Scan(&n) })
	if err != nil {
		return false, fmt.Errorf("clickhouse: looking up table %s.%s: %w", schema, table, err)
	}
	return n > 0, nil
}

// Close implements warehouse.Warehouse.
func (w *Warehouse) Close() error {
	w.nativeMu.Lock()
	defer w.nativeMu.Unlock()
	if w.native != nil {
		_ = w.native.Close()
		w.native = nil
	}
	return w.db.Close()
}

// abbreviate shortens a statement for an error message: its first line,
// comments skipped.
func abbreviate(q string) string {
	for _, line := range strings.Split(q, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		if len(line) > 80 {
			line = line[:77] + "..."
		}
		return line
	}
	return ""
}
