//go:build chdb

package chdbtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	chdbpurego "github.com/chdb-io/chdb-go/chdb-purego"

	"github.com/sluicehq/sluice/models/dialect"
)

// format is how results come back: text with the column names and types,
// so that every type (Decimal, Date, DateTime64, Nullable) reads as the
// native driver gives it.
const format = "TabSeparatedWithNamesAndTypes"

var (
	sessionMu sync.Mutex
	session   chdbpurego.ChdbConn
)

// DB opens a database/sql handle on chDB's session (one per process, in a
// temporary directory: chDB keeps a single session). Every connection
// applies the ClickHouse dialect's session settings, as the native
// driver does per query.
func DB(dir string) (*sql.DB, error) {
	sessionMu.Lock()
	defer sessionMu.Unlock()
	if session == nil {
		c, err := chdbpurego.NewConnectionFromConnString(dir)
		if err != nil {
			return nil, fmt.Errorf("starting chdb in %s: %w", dir, err)
		}
		session = c
	}
	setup := append(dialect.ClickHouse{}.SessionStatements(),
		// The connector raises max_query_size per statement for its text
		// inserts; that setting travels with the native driver only.
		"SET max_query_size = 8388608")
	db := sql.OpenDB(&connector{setup: setup})
	db.SetMaxOpenConns(1)
	return db, nil
}

type connector struct{ setup []string }

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	cn := &conn{}
	for _, q := range c.setup {
		if _, err := cn.run(ctx, q); err != nil {
			return nil, err
		}
	}
	return cn, nil
}

func (c *connector) Driver() driver.Driver { return drv{} }

type drv struct{}

func (drv) Open(string) (driver.Conn, error) { return nil, errors.New("chdbtest: use DB") }

type conn struct{}

func (*conn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("chdb: no prepared statements")
}
func (*conn) Close() error              { return nil }
func (*conn) Begin() (driver.Tx, error) { return nil, errors.New("chdb: no transactions") }

// run sends one query to the session, which runs one at a time.
func (*conn) run(ctx context.Context, q string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sessionMu.Lock()
	defer sessionMu.Unlock()
	res, err := session.Query(q, format)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, nil
	}
	defer res.Free()
	return append([]byte(nil), res.Buf()...), nil
}

func (c *conn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	q, err := interpolate(q, args)
	if err != nil {
		return nil, err
	}
	if _, err := c.run(ctx, q); err != nil {
		return nil, err
	}
	return driver.RowsAffected(0), nil
}

func (c *conn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	q, err := interpolate(q, args)
	if err != nil {
		return nil, err
	}
	out, err := c.run(ctx, q)
	if err != nil {
		return nil, err
	}
	return parseTSV(out)
}

// interpolate puts the arguments in place of the ? placeholders outside
// quotes, as literals.
func interpolate(q string, args []driver.NamedValue) (string, error) {
	if len(args) == 0 {
		return q, nil
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '\'', '`', '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case '?':
			if n >= len(args) {
				return "", fmt.Errorf("chdb: more placeholders than the %d arguments", len(args))
			}
			lit, err := literal(args[n].Value)
			if err != nil {
				return "", err
			}
			b.WriteString(lit)
			n++
		default:
			b.WriteByte(c)
		}
	}
	if n != len(args) {
		return "", fmt.Errorf("chdb: %d placeholders for %d arguments", n, len(args))
	}
	return b.String(), nil
}

func literal(v any) (string, error) {
	d := dialect.ClickHouse{}
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		return d.String(x), nil
	case []byte:
		return d.String(string(x)), nil
	case int64, float64:
		return fmt.Sprint(x), nil
	case bool:
		return d.Bool(x), nil
	case time.Time:
		return "toDateTime64(" + d.String(x.UTC().Format("2006-01-02 15:04:05.000000")) + ", 6, 'UTC')", nil
	}
	return "", fmt.Errorf("chdb: unsupported argument type %T", v)
}

// rows is a whole result, parsed.
type rows struct {
	names, types []string
	data         [][]string
	next         int
}

func (r *rows) Columns() []string { return r.names }
func (r *rows) Close() error      { return nil }

// ColumnTypeDatabaseTypeName gives the ClickHouse type, as the native
// driver does (the connector reads Decimal columns by it).
func (r *rows) ColumnTypeDatabaseTypeName(i int) string { return r.types[i] }

func (r *rows) Next(dest []driver.Value) error {
	if r.next >= len(r.data) {
		return io.EOF
	}
	rec := r.data[r.next]
	r.next++
	for i := range dest {
		v, err := value(rec[i], r.types[i])
		if err != nil {
			return fmt.Errorf("chdb: column %s: %w", r.names[i], err)
		}
		dest[i] = v
	}
	return nil
}

// parseTSV reads TabSeparatedWithNamesAndTypes: names, types, then rows.
func parseTSV(b []byte) (*rows, error) {
	text := strings.TrimSuffix(string(b), "\n")
	if text == "" {
		return &rows{}, nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("chdb: a result without its header: %q", text)
	}
	r := &rows{names: splitTSV(lines[0]), types: splitTSV(lines[1])}
	for _, l := range lines[2:] {
		rec := splitTSV(l)
		if len(rec) != len(r.names) {
			return nil, fmt.Errorf("chdb: a row of %d fields for %d columns", len(rec), len(r.names))
		}
		r.data = append(r.data, rec)
	}
	return r, nil
}

// nullField marks NULL among the unescaped fields (a value cannot hold it:
// its escape would be read as NUL followed by N).
const nullField = "\x00\\N"

// splitTSV splits a line on tabs and undoes the format's escapes.
func splitTSV(line string) []string {
	var out []string
	for _, f := range strings.Split(line, "\t") {
		if f == `\N` {
			out = append(out, nullField)
			continue
		}
		out = append(out, unescape(f))
	}
	return out
}

func unescape(f string) string {
	if !strings.Contains(f, `\`) {
		return f
	}
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '\\' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		default:
			b.WriteByte(f[i])
		}
	}
	return b.String()
}

// value converts one field to what the native driver gives for its type.
func value(f, typ string) (driver.Value, error) {
	if f == nullField {
		return nil, nil
	}
	base := typ
	for _, wrap := range []string{"LowCardinality(", "Nullable("} {
		if strings.HasPrefix(base, wrap) {
			base = strings.TrimSuffix(strings.TrimPrefix(base, wrap), ")")
		}
	}
	switch {
	case strings.HasPrefix(base, "UInt"):
		return strconv.ParseUint(f, 10, 64)
	case strings.HasPrefix(base, "Int"):
		return strconv.ParseInt(f, 10, 64)
	case strings.HasPrefix(base, "Float"):
		return strconv.ParseFloat(f, 64)
	case base == "Bool":
		return f == "true", nil
	case base == "Date" || base == "Date32":
		return time.Parse("2006-01-02", f)
	case strings.HasPrefix(base, "DateTime"):
		return parseTime(f, base)
	}
	// Strings, decimals (as their digits), arrays and the rest as text.
	return f, nil
}

func parseTime(f, typ string) (time.Time, error) {
	loc := time.UTC
	if i := strings.Index(typ, "'"); i >= 0 {
		name := strings.Trim(typ[i:strings.LastIndex(typ, "'")+1], "'")
		if l, err := time.LoadLocation(name); err == nil {
			loc = l
		}
	}
	return time.ParseInLocation("2006-01-02 15:04:05.999999999", f, loc)
}

// Run runs a script of statements in chDB's session, as clickhouse-client
// --multiquery does, and returns what it printed (TabSeparated).
func Run(script string) (string, error) {
	sessionMu.Lock()
	defer sessionMu.Unlock()
	if session == nil {
		return "", errors.New("chdb: no session: open one with DB first")
	}
	res, err := session.Query(script, "TabSeparated")
	if err != nil {
		return "", err
	}
	if res == nil {
		return "", nil
	}
	defer res.Free()
	return string(res.Buf()), nil
}
