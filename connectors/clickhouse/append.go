package clickhouse

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	chdriver "github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

var _ warehouse.RowAppender = (*Warehouse)(nil)

// AppendRows implements warehouse.RowAppender with the native protocol's
// batches (PrepareBatch): the rows travel as column blocks in one INSERT,
// not as SQL text. Old servers (18.16, which Debian ships) answer a batch
// insert with no table structure to fill; there the rows go as text
// instead (appendText), and the warehouse remembers not to try batches
// again.
func (w *Warehouse) AppendRows(ctx context.Context, schema, table string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	name := w.dialect.Table(schema, table)
	if !w.noBatches.Load() {
		done, err := w.appendBatch(ctx, name, rows)
		if done || err != nil {
			return err
		}
		w.noBatches.Store(true)
	}
	return w.appendText(ctx, schema, table, rows)
}

// appendBatch sends rows in one native batch; done is false when the
// server gave no table structure to fill (then nothing was sent).
func (w *Warehouse) appendBatch(ctx context.Context, name string, rows [][]any) (done bool, err error) {
	conn, err := w.nativeConn()
	if err != nil {
		return false, err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+name)
	if err != nil {
		return false, fmt.Errorf("clickhouse: preparing the insert into %s: %w", name, err)
	}
	if len(batch.Columns()) == 0 {
		_ = batch.Abort() // the driver closes the connection
		return false, nil
	}
	for i, r := range rows {
		if err := batch.Append(r...); err != nil {
			_ = batch.Abort()
			return false, fmt.Errorf("clickhouse: row %d of the insert into %s: %w", i+1, name, err)
		}
	}
	if err := batch.Send(); err != nil {
		return false, fmt.Errorf("clickhouse: inserting %d rows into %s: %w", len(rows), name, err)
	}
	return true, nil
}

// nativeConn opens the native client on first use, with the pool's
// settings. The driver closes a connection that saw an error instead of
// reusing it, as Exec does for the database/sql pool.
func (w *Warehouse) nativeConn() (chdriver.Conn, error) {
	w.nativeMu.Lock()
	defer w.nativeMu.Unlock()
	if w.native != nil {
		return w.native, nil
	}
	if w.opts == nil {
		return nil, fmt.Errorf("clickhouse (%s): no native client for this handle", w.addr)
	}
	opts := *w.opts
	opts.MaxOpenConns, opts.MaxIdleConns = 2, 1
	conn, err := ch.Open(&opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", w.addr, err)
	}
	w.native = conn
	return conn, nil
}

// textChunkBytes bounds the literal of one text insert; the statement's
// max_query_size is raised to fit it (the server's default is 256 KiB).
const textChunkBytes = 4 << 20

// The text insert's markers: fields are separated by fieldSep and rows by
// rowSep; a field that is exactly nullMark is NULL; a field starting with
// hexMark is the rest, hex-encoded (used for the rare value that holds a
// marker or a NUL byte).
const (
	fieldSep = '\x1f'
	rowSep   = '\x1e'
	nullMark = "\x02"
	hexMark  = "\x01"
)

// appendText inserts rows as INSERT ... SELECT over one string literal per
// chunk, split into rows and fields and converted to the column types by
// the server. It is how the CSV loader sends seeds, for the same reason:
// 18.16 takes no batches, and parses one long string far faster than many
// literals.
func (w *Warehouse) appendText(ctx context.Context, schema, table string, rows [][]any) error {
	name := w.dialect.Table(schema, table)
	types, err := w.columnTypes(ctx, name)
	if err != nil {
		return err
	}
	settings := ch.Context(ctx, ch.WithSettings(ch.Settings{"max_query_size": textChunkBytes + 64<<10}))
	var body strings.Builder
	hexed := make([]bool, len(types)) // columns with a hex-encoded value in this chunk
	flush := func() error {
		if body.Len() == 0 {
			return nil
		}
		// Conversions cost the server time per value: each column gets
		// only those its values need.
		exprs := make([]string, len(types))
		for i, t := range types {
			f := "f[" + strconv.Itoa(i+1) + "]"
			e := f
			if hexed[i] {
				e = "if(startsWith(" + f + ", '\\x01'), unhex(substring(" + f + ", 2)), " + f + ")"
			}
			if base := strings.TrimSuffix(strings.TrimPrefix(t, "Nullable("), ")"); base != "String" {
				e = "CAST(" + e + " AS " + t + ")"
			}
			if strings.HasPrefix(t, "Nullable(") {
				e = "if(" + f + " = '\\x02', NULL, " + e + ")"
			}
			exprs[i] = e
		}
		q := "INSERT INTO " + name + " SELECT " + strings.Join(exprs, ", ") +
			" FROM (SELECT splitByChar('\\x1f', row) AS f FROM (SELECT arrayJoin(splitByChar('\\x1e', '" + body.String() + "')) AS row))"
		body.Reset()
		clear(hexed)
		return w.withConn(ctx, func(c *sql.Conn) error {
			_, err := c.ExecContext(settings, q)
			return err
		})
	}
	for i, r := range rows {
		if len(r) != len(types) {
			return fmt.Errorf("clickhouse: row %d of the insert into %s has %d values for %d columns", i+1, name, len(r), len(types))
		}
		if body.Len() > 0 {
			body.WriteByte(rowSep)
		}
		for j, v := range r {
			if j > 0 {
				body.WriteByte(fieldSep)
			}
			text, ok, err := w.valueText(v, types[j])
			if err == nil && !ok && !strings.HasPrefix(types[j], "Nullable(") {
				err = fmt.Errorf("NULL for column %d, of type %s", j+1, types[j])
			}
			if err != nil {
				return fmt.Errorf("clickhouse: row %d of the insert into %s: %w", i+1, name, err)
			}
			if writeField(&body, text, ok) {
				hexed[j] = true
			}
		}
		if body.Len() >= textChunkBytes {
			if err := flush(); err != nil {
				return fmt.Errorf("clickhouse: inserting into %s: %w", name, err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("clickhouse: inserting into %s: %w", name, err)
	}
	return nil
}

// writeField writes one field of a text insert, escaped for the string
// literal it is part of; hexed reports that it had to be hex-encoded.
func writeField(b *strings.Builder, text string, ok bool) (hexed bool) {
	switch {
	case !ok:
		b.WriteString(nullMark)
	case strings.ContainsAny(text, "\x00\x1e\x1f") || strings.HasPrefix(text, hexMark) || strings.HasPrefix(text, nullMark):
		b.WriteString(hexMark)
		b.WriteString(hex.EncodeToString([]byte(text)))
		return true
	default:
		for k := 0; k < len(text); k++ {
			if c := text[k]; c == '\\' || c == '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(text[k])
		}
	}
	return false
}

// valueText writes a Go value as the text CAST reads for typ; ok is false
// for NULL.
func (w *Warehouse) valueText(v any, typ string) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case *string:
		if x == nil {
			return "", false, nil
		}
		return *x, true, nil
	case string:
		return x, true, nil
	case []byte:
		return string(x), true, nil
	case bool:
		if x {
			return "1", true, nil
		}
		return "0", true, nil
	case int:
		return strconv.Itoa(x), true, nil
	case int8, int16, int32, int64:
		return fmt.Sprint(x), true, nil
	case uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true, nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true, nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true, nil
	case time.Time:
		if strings.Contains(typ, "DateTime64") {
			return x.UTC().Format("2006-01-02 15:04:05.000000"), true, nil
		}
		return x.UTC().Format("2006-01-02 15:04:05"), true, nil
	}
	return "", false, fmt.Errorf("unsupported value %T", v)
}

// columnTypes reads a table's column types in order.
func (w *Warehouse) columnTypes(ctx context.Context, name string) ([]string, error) {
	rows, err := w.Query(ctx, "DESCRIBE TABLE "+name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var types []string
	for rows.Next() {
		vals := make([]any, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		t, _ := vals[1].(string)
		types = append(types, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("clickhouse: %s has no columns", name)
	}
	return types, nil
}
