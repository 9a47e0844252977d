package clickhouse

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

// infileLoad is a parsed INSERT INTO table FROM INFILE 'path' [SETTINGS
// schema_inference_hints = '...'] FORMAT CSVWithNames.
type infileLoad struct {
	schema, table string
	path          string
	hints         map[string]string // column -> type
}

// parseInfile recognises the client-side load statement. Anything else is
// sent to the server as it is.
func parseInfile(stmt string) (infileLoad, bool) {
	t := &tokens{s: stripLeadingComments(stmt)}
	if !t.keyword("INSERT") || !t.keyword("INTO") {
		return infileLoad{}, false
	}
	names := []string{t.name()}
	for t.punct('.') {
		names = append(names, t.name())
	}
	if !t.keyword("FROM") || !t.keyword("INFILE") {
		return infileLoad{}, false
	}
	var l infileLoad
	var ok bool
	if l.path, ok = t.literal(); !ok {
		return infileLoad{}, false
	}
	if t.keyword("SETTINGS") {
		if !t.keyword("schema_inference_hints") || !t.punct('=') {
			return infileLoad{}, false
		}
		hints, ok := t.literal()
		if !ok {
			return infileLoad{}, false
		}
		l.hints = parseHints(hints)
	}
	if !t.keyword("FORMAT") || !t.keyword("CSVWithNames") || strings.TrimSpace(t.s) != "" {
		return infileLoad{}, false
	}
	switch {
	case len(names) == 2 && names[0] != "" && names[1] != "":
		l.schema, l.table = names[0], names[1]
	case len(names) == 1 && names[0] != "":
		l.table = names[0]
	default:
		return infileLoad{}, false
	}
	return l, true
}

// parseHints reads "col Type, `other col` Decimal(12, 2)": commas inside
// parentheses belong to the type.
func parseHints(s string) map[string]string {
	out := map[string]string{}
	depth, start := 0, 0
	var parts []string
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '`', '"':
			i = skipQuoted(s, i)
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	parts = append(parts, s[start:])
	for _, p := range parts {
		t := &tokens{s: strings.TrimSpace(p)}
		name := t.name()
		if typ := strings.TrimSpace(t.s); name != "" && typ != "" {
			out[name] = typ
		}
	}
	return out
}

// tokens is a tiny reader for the load statement.
type tokens struct{ s string }

func (t *tokens) skip() { t.s = strings.TrimLeft(t.s, " \t\r\n") }

func (t *tokens) keyword(k string) bool {
	t.skip()
	if len(t.s) >= len(k) && strings.EqualFold(t.s[:len(k)], k) && (len(t.s) == len(k) || !isWord(t.s[len(k)])) {
		t.s = t.s[len(k):]
		return true
	}
	return false
}

func (t *tokens) punct(c byte) bool {
	t.skip()
	if t.s != "" && t.s[0] == c {
		t.s = t.s[1:]
		return true
	}
	return false
}

// name reads a bare or quoted identifier ("" when there is none).
func (t *tokens) name() string {
	t.skip()
	if t.s == "" {
		return ""
	}
	if q := t.s[0]; q == '`' || q == '"' {
		end := skipQuoted(t.s, 0)
		if end >= len(t.s) {
			return ""
		}
		v := unescape(t.s[1:end], q)
		t.s = t.s[end+1:]
		return v
	}
	i := 0
	for i < len(t.s) && isWord(t.s[i]) {
		i++
	}
	v := t.s[:i]
	t.s = t.s[i:]
	return v
}

// literal reads a string literal.
func (t *tokens) literal() (string, bool) {
	t.skip()
	if t.s == "" || t.s[0] != '\'' {
		return "", false
	}
	end := skipQuoted(t.s, 0)
	if end >= len(t.s) {
		return "", false
	}
	v := unescape(t.s[1:end], '\'')
	t.s = t.s[end+1:]
	return v, true
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// unescape undoes ClickHouse's escapes inside a quoted literal or name.
func unescape(s string, q byte) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			default:
				b.WriteByte(s[i])
			}
		case c == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// loadBatchBytes is about how much CSV data one insert sends: memory stays
// proportional to it, not to the file, and the statement below the
// server's default max_query_size (256 KiB).
const loadBatchBytes = 200 << 10

// loadCSV loads a CSV file with a header row into a new table. The file is
// read twice: once to infer each column's type from all its values (as
// DuckDB's read_csv with sample_size = -1), once to send the rows, as text,
// in batches to a staging table; the server then converts them into the
// table. An empty field is NULL.
func (w *Warehouse) loadCSV(ctx context.Context, conn *sql.Conn, l infileLoad) error {
	header, kinds, err := inferCSV(l.path)
	if err != nil {
		return err
	}
	d := w.dialect
	target := d.Ident(l.table)
	staging := d.Ident(l.table + "__sluice_load")
	if l.schema != "" {
		target = d.Table(l.schema, l.table)
		staging = d.Table(l.schema, l.table+"__sluice_load")
	}
	cols := make([]string, len(header))
	conv := make([]string, len(header))
	for i, h := range header {
		cols[i] = d.Ident(h) + " Nullable(String)"
		typ, ok := l.hints[h]
		if !ok {
			typ = kinds[i].sqlType()
		}
		conv[i] = convertText(d.Ident(h), typ, d) + " AS " + d.Ident(h)
	}
	if err := execAll(ctx, conn,
		"DROP TABLE IF EXISTS "+staging,
		"CREATE TABLE "+staging+" ("+strings.Join(cols, ", ")+") "+engine,
	); err != nil {
		return fmt.Errorf("loading %s: %w", l.path, err)
	}
	if err := w.sendCSV(ctx, conn, l.path, staging, len(header)); err != nil {
		_ = execAll(context.WithoutCancel(ctx), conn, "DROP TABLE IF EXISTS "+staging)
		return err
	}
	err = execAll(ctx, conn,
		"CREATE TABLE "+target+" "+engine+" AS SELECT "+strings.Join(conv, ", ")+" FROM "+staging,
		"DROP TABLE IF EXISTS "+staging,
	)
	if err != nil {
		_ = execAll(context.WithoutCancel(ctx), conn, "DROP TABLE IF EXISTS "+staging)
		return fmt.Errorf("loading %s into %s: %w", l.path, l.table, err)
	}
	return nil
}

const engine = "ENGINE = MergeTree ORDER BY tuple()"

func execAll(ctx context.Context, conn *sql.Conn, stmts ...string) error {
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// convertText is the server-side conversion of a text column to typ.
func convertText(col, typ string, d interface {
	TryCast(expr, typ string) string
}) string {
	switch strings.ToUpper(strings.TrimSpace(typ)) {
	case "BOOLEAN", "BOOL", "UINT8":
		return "CAST(multiIf(lowerUTF8(" + col + ") IN ('true', 't', 'yes', 'y', '1'), 1, lowerUTF8(" + col + ") IN ('false', 'f', 'no', 'n', '0'), 0, NULL) AS Nullable(UInt8))"
	}
	return d.TryCast(col, typ)
}

// sendCSV inserts the data rows of a CSV file as text, in statements of
// about loadBatchBytes each: INSERT ... SELECT over one string literal
// holding the rows (fields separated by U+001F, rows by U+001E), which the
// server splits. Over the native protocol, inline VALUES wait for data
// blocks, the driver's batch protocol does not work with 18.16 servers, and
// 18.16 parses large array literals slowly; one string parses fast.
func (w *Warehouse) sendCSV(ctx context.Context, conn *sql.Conn, path, table string, ncols int) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("loading %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = ncols
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	cols := make([]string, ncols)
	for i := range cols {
		cols[i] = "nullIf(f[" + strconv.Itoa(i+1) + "], '')"
	}
	prefix := "INSERT INTO " + table + " SELECT " + strings.Join(cols, ", ") +
		" FROM (SELECT splitByChar('\\x1f', row) AS f FROM (SELECT arrayJoin(splitByChar('\\x1e', '"
	const suffix = "')) AS row))"
	var b strings.Builder
	first, line := 0, 1
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		b.WriteString(suffix)
		err := execAll(ctx, conn, b.String())
		b.Reset()
		if err != nil {
			return fmt.Errorf("loading %s lines %d-%d: %w", path, first, line, err)
		}
		return nil
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line++
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		if b.Len() == 0 {
			b.WriteString(prefix)
			first = line
		} else {
			b.WriteByte(0x1e)
		}
		for i, v := range rec {
			if strings.ContainsAny(v, "\x1e\x1f") {
				return fmt.Errorf("%s line %d: a value holds the control character U+001E or U+001F, which the ClickHouse loader uses as a separator", path, line)
			}
			if i > 0 {
				b.WriteByte(0x1f)
			}
			// The literal's own escapes: the quotes and backslashes of
			// the dialect's string literals.
			lit := w.dialect.String(v)
			b.WriteString(lit[1 : len(lit)-1])
		}
		if b.Len() >= loadBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// kind is what type a CSV column's values fit.
type kind struct {
	seen                                        bool // a non-empty value
	notBool, notInt, notFloat, notTime, notDate bool
}

func (k kind) sqlType() string {
	switch {
	case !k.seen:
		return "VARCHAR"
	case !k.notBool:
		return "BOOLEAN"
	case !k.notInt:
		return "BIGINT"
	case !k.notFloat:
		return "DOUBLE"
	case !k.notDate:
		return "DATE"
	case !k.notTime:
		return "TIMESTAMP"
	}
	return "VARCHAR"
}

func (k *kind) observe(v string) {
	if v == "" {
		return
	}
	k.seen = true
	if !k.notBool {
		switch strings.ToLower(v) {
		case "true", "false", "t", "f":
		default:
			k.notBool = true
		}
	}
	if !k.notInt {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			k.notInt = true
		}
	}
	if !k.notFloat {
		if _, err := strconv.ParseFloat(v, 64); err != nil || strings.ContainsAny(v, "xXpP_") {
			k.notFloat = true
		}
	}
	if !k.notDate {
		if _, err := time.Parse("2006-01-02", v); err != nil {
			k.notDate = true
		}
	}
	if !k.notTime && !isTimestamp(v) {
		k.notTime = true
	}
}

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
}

func isTimestamp(v string) bool {
	for _, l := range timestampLayouts {
		if _, err := time.Parse(l, v); err == nil {
			return true
		}
	}
	return false
}

// inferCSV reads the header and every value of a CSV file and says which
// type fits each column.
func inferCSV(path string) ([]string, []kind, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("loading CSV: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s is empty: a CSV file needs a header row", path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	header = append([]string(nil), header...)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	kinds := make([]kind, len(header))
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", path, err)
		}
		for i, v := range rec {
			kinds[i].observe(v)
		}
	}
	return header, kinds, nil
}

var _ warehouse.CSVLoader = (*Warehouse)(nil)

// LoadCSV implements warehouse.CSVLoader: the builder loads seeds through
// it, reading the file where sluice runs. It replaces schema.table.
func (w *Warehouse) LoadCSV(ctx context.Context, schema, table, path string, types []dialect.ColumnType) error {
	l := infileLoad{schema: schema, table: table, path: path, hints: map[string]string{}}
	for _, t := range types {
		l.hints[t.Column] = w.dialect.SQLType(t.Type)
	}
	return w.withConn(ctx, func(conn *sql.Conn) error {
		if err := execAll(ctx, conn, w.dialect.DropTable(w.dialect.Table(schema, table))); err != nil {
			return fmt.Errorf("clickhouse: replacing %s.%s: %w", schema, table, err)
		}
		if err := w.loadCSV(ctx, conn, l); err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		return nil
	})
}
