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
	"github.com/sluicehq/sluice/models"
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

// seedLoad is how a seed reaches the server: statements, and where in them
// the rows go into the staging table.
type seedLoad struct {
	stmts   []string
	load    int    // the rows go in before stmts[load] runs (clickhouse-18), or by it (INFILE)
	staging string // where the rows go
	path    string
}

// SeedStatements are the statements that load a seed (a CSV file with a
// header row) into schema.table on a server of d's flavour, as sluice
// compile prints them and the connector runs them. The file is read whole:
// each column gets the type all its values fit (as DuckDB's read_csv with
// sample_size = -1), or its type from types. An empty field is NULL.
func SeedStatements(d dialect.ClickHouse, schema, table, path string, types []dialect.ColumnType) ([]string, error) {
	l, err := planSeed(d, schema, table, path, types)
	return l.stmts, err
}

// PlanSeeds puts in a plan's seed steps the statements of SeedStatements,
// after the dialect's session statements, for sluice compile: the compiler
// does no I/O, so its seed steps only describe the load.
func PlanSeeds(plan *models.Plan, d dialect.ClickHouse) error {
	for i := range plan.Steps {
		s := &plan.Steps[i]
		if s.Seed == nil {
			continue
		}
		stmts, err := SeedStatements(d, s.Seed.Schema, s.Seed.Name, s.Seed.Path, s.Seed.Types)
		if err != nil {
			return fmt.Errorf("%s: seed %s: %w", s.Origin, s.Seed.Name, err)
		}
		s.SQL = append(d.SessionStatements(), stmts...)
	}
	return nil
}

// planSeed writes the load: the rows go as text into a staging table of
// Nullable(String) columns, then the server converts them into the table.
// On current servers clickhouse-client reads the file itself (INSERT ...
// FROM INFILE, which this connector carries out the same way); the 18.16
// client cannot, so the file says to pipe it in.
func planSeed(d dialect.ClickHouse, schema, table, path string, types []dialect.ColumnType) (seedLoad, error) {
	header, kinds, err := inferCSV(path)
	if err != nil {
		return seedLoad{}, err
	}
	hints := map[string]string{}
	for _, t := range types {
		hints[t.Column] = d.SQLType(t.Type)
	}
	target, staging := d.Table(schema, table), d.Table(schema, table+"__sluice_load")
	cols := make([]string, len(header))
	conv := make([]string, len(header))
	for i, h := range header {
		cols[i] = d.Ident(h) + " Nullable(String)"
		typ, ok := hints[h]
		if !ok {
			typ = kinds[i].sqlType()
		}
		conv[i] = convertText("nullIf("+d.Ident(h)+", '')", typ, d) + " AS " + d.Ident(h)
	}
	l := seedLoad{staging: staging, path: path}
	l.stmts = []string{"DROP TABLE IF EXISTS " + staging, "CREATE TABLE " + staging + " (" + strings.Join(cols, ", ") + ") " + engine}
	l.load = len(l.stmts)
	if d.Legacy() {
		insert := "INSERT INTO " + staging + " FORMAT CSVWithNames"
		l.stmts = append(l.stmts, "-- clickhouse-client 18.16 reads no file itself: first pipe the rows in with\n"+
			"--   clickhouse-client --query "+shellQuote(insert)+" < "+shellQuote(path)+"\n"+
			"DROP TABLE IF EXISTS "+target)
	} else {
		l.stmts = append(l.stmts, "INSERT INTO "+staging+" FROM INFILE "+d.String(path)+" FORMAT CSVWithNames", "DROP TABLE IF EXISTS "+target)
	}
	l.stmts = append(l.stmts,
		"CREATE TABLE "+target+" "+engine+" AS\nSELECT "+strings.Join(conv, ",\n    ")+"\nFROM "+staging,
		"DROP TABLE IF EXISTS "+staging)
	return l, nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// runSeed runs a seed's statements on one connection, sending the rows
// where they go; the staging table does not outlive a failure.
func (w *Warehouse) runSeed(ctx context.Context, conn *sql.Conn, l seedLoad) error {
	for i, q := range l.stmts {
		if i == l.load && w.dialect.Legacy() {
			if err := w.sendCSV(ctx, conn, l.path, l.staging); err != nil {
				_ = execAll(context.WithoutCancel(ctx), conn, "DROP TABLE IF EXISTS "+l.staging)
				return err
			}
		}
		if w.trace != nil {
			w.trace(q)
		}
		if err := w.exec(ctx, conn, q); err != nil {
			_ = execAll(context.WithoutCancel(ctx), conn, "DROP TABLE IF EXISTS "+l.staging)
			return fmt.Errorf("loading %s (%s): %w", l.path, abbreviate(q), err)
		}
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
func (w *Warehouse) sendCSV(ctx context.Context, conn *sql.Conn, path, table string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("loading %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	ncols := len(header)
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
// it, reading the file where sluice runs, with the statements of
// SeedStatements. It replaces schema.table.
func (w *Warehouse) LoadCSV(ctx context.Context, schema, table, path string, types []dialect.ColumnType) error {
	l, err := planSeed(w.dialect, schema, table, path, types)
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return w.withConn(ctx, func(conn *sql.Conn) error {
		if err := w.runSeed(ctx, conn, l); err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		return nil
	})
}
