package dialect

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
	"unicode"
)

// BigQuery is the dialect of Google BigQuery (GoogleSQL). A schema is a
// dataset; tables are written `dataset`.`table` and resolve in the
// connection's project, while a source may name another project
// (`project`.`dataset`.`table`).
//
// Timestamps: sluice compares wall-clock times (DuckDB's TIMESTAMP). In
// BigQuery they are TIMESTAMP values read as UTC, so source columns of type
// TIMESTAMP compare directly; the project's time zone only moves "now".
//
// Regular expressions are RE2, as sluice writes them.
type BigQuery struct{}

var _ Dialect = BigQuery{}

func init() { Register(BigQuery{}) }

// Name implements Dialect.
func (BigQuery) Name() string { return "bigquery" }

// Ident implements Dialect: back quotes, with back quotes, backslashes and
// invisible characters escaped (quoted names read escapes like strings).
func (BigQuery) Ident(name string) string { return bqQuote(name, '`') }

// Table implements Dialect: `dataset`.`table`.
func (b BigQuery) Table(schema, name string) string { return b.Ident(schema) + "." + b.Ident(name) }

// TableRef implements Dialect: [project.]dataset.table, each part quoted.
func (b BigQuery) TableRef(ref string) string {
	parts := splitRef(ref)
	for i, p := range parts {
		parts[i] = b.Ident(p)
	}
	return strings.Join(parts, ".")
}

// String implements Dialect. BigQuery reads backslash escapes in quoted
// strings, and a quoted string cannot span lines.
func (BigQuery) String(s string) string { return bqQuote(s, '\'') }

func bqQuote(s string, q rune) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteRune(q)
	for _, r := range s {
		switch {
		case r == q || r == '\\':
			b.WriteRune('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		case r > 0x7f && (!unicode.IsPrint(r) || unicode.IsSpace(r)):
			if r <= 0xffff {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				fmt.Fprintf(&b, `\U%08X`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteRune(q)
	return b.String()
}

// rawString renders a regular expression as a raw string (r'...') when it
// can be, so that patterns read as written; otherwise as a quoted string.
func (b BigQuery) rawString(s string) string {
	for _, q := range []string{"'", `"`} {
		if strings.Contains(s, q) || strings.HasSuffix(s, `\`) {
			continue
		}
		clean := true
		for _, r := range s {
			if r < 0x20 || r == 0x7f || (r > 0x7f && (!unicode.IsPrint(r) || unicode.IsSpace(r))) {
				clean = false
				break
			}
		}
		if clean {
			return "r" + q + s + q
		}
	}
	return b.String(s)
}

// CreateSchema implements Dialect: a dataset, in the location the
// connection runs its jobs in.
func (b BigQuery) CreateSchema(schema string) string {
	return "CREATE SCHEMA IF NOT EXISTS " + b.Ident(schema)
}

// ReplaceTable implements Dialect.
func (BigQuery) ReplaceTable(table, query string) string {
	return "CREATE OR REPLACE TABLE " + table + " AS\n" + query
}

// ScratchTable is ReplaceTable for a working table that a build drops when
// it is done (a Scope's): it also expires on its own a day later, so a
// build that died halfway leaves nothing behind for long.
func (BigQuery) ScratchTable(table, query string) string {
	return "CREATE OR REPLACE TABLE " + table +
		"\nOPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)) AS\n" + query
}

// ReplaceView implements Dialect.
func (BigQuery) ReplaceView(view, query string) string {
	return "CREATE OR REPLACE VIEW " + view + " AS\n" + query
}

// DropTable implements Dialect.
func (BigQuery) DropTable(table string) string { return "DROP TABLE IF EXISTS " + table }

// LoadCSV implements Dialect. GoogleSQL cannot read a file on the machine
// sluice runs on (LOAD DATA reads Cloud Storage only), so the BigQuery
// connector loads seeds itself with a load job; the text here says what it
// does, for sluice compile.
func (b BigQuery) LoadCSV(table, path string, types []ColumnType) (string, error) {
	if path == "" {
		return "", fmt.Errorf("loading CSV into %s: empty path", table)
	}
	pinned := "none"
	if len(types) > 0 {
		list := make([]string, len(types))
		for i, t := range types {
			list[i] = t.Column + " " + BigQueryType(t.Type)
		}
		pinned = strings.Join(list, ", ")
	}
	scratch := table + "__sluice_load"
	if strings.HasSuffix(table, "`") {
		scratch = table[:len(table)-1] + "__sluice_load`"
	}
	return "-- Run by sluice's BigQuery connector (GoogleSQL cannot read local files):\n" +
		"-- 1. a load job copies " + path + "\n" +
		"--    (header row skipped) into " + scratch + ", every column STRING;\n" +
		"-- 2. one query finds, over the whole file, the type that every value of each\n" +
		"--    column converts to (BOOL, INT64, FLOAT64, DATE, TIMESTAMP, else STRING);\n" +
		"-- 3. CREATE OR REPLACE TABLE " + table + " AS SELECT CAST(column AS type) ...\n" +
		"--    with column_types where given (" + pinned + ");\n" +
		"-- 4. the scratch table is dropped:\n" +
		"DROP TABLE IF EXISTS " + scratch, nil
}

// CastText implements Dialect.
func (BigQuery) CastText(expr string) string { return "CAST(" + expr + " AS STRING)" }

// Concat implements Dialect.
func (BigQuery) Concat(exprs ...string) string { return "(" + strings.Join(exprs, " || ") + ")" }

// Cast implements Dialect.
func (BigQuery) Cast(expr, typ string) string {
	return "CAST(" + expr + " AS " + BigQueryType(typ) + ")"
}

var bqDecimal = regexp.MustCompile(`(?i)^\s*(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*$`)

// BigQueryType maps a SQL type written in a project (VARCHAR, BIGINT,
// DOUBLE, DECIMAL(12,2), TIMESTAMP...) to GoogleSQL's; other names pass
// unchanged, so BigQuery's own (INT64, BIGNUMERIC...) work too.
func BigQueryType(typ string) string {
	if m := bqDecimal.FindStringSubmatch(typ); m != nil {
		p, s := atoi(m[1]), atoi(m[2])
		// NUMERIC holds 29 digits before the point and 9 after.
		if p-s <= 29 && s <= 9 {
			return fmt.Sprintf("NUMERIC(%d, %d)", p, s)
		}
		return fmt.Sprintf("BIGNUMERIC(%d, %d)", p, s)
	}
	base := strings.ToUpper(strings.Join(strings.Fields(typ), " "))
	if i := strings.Index(base, "("); i > 0 && strings.HasSuffix(base, ")") {
		switch strings.TrimSpace(base[:i]) {
		case "VARCHAR", "CHAR", "CHARACTER VARYING", "NVARCHAR", "TEXT":
			return "STRING"
		}
	}
	switch base {
	case "VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "CHARACTER VARYING", "NVARCHAR", "CLOB":
		return "STRING"
	case "BIGINT", "INTEGER", "INT", "SMALLINT", "TINYINT", "INT2", "INT4", "INT8", "LONG", "HUGEINT", "UBIGINT", "INT64":
		return "INT64"
	case "DOUBLE", "DOUBLE PRECISION", "FLOAT", "FLOAT8", "FLOAT4", "REAL", "FLOAT64":
		return "FLOAT64"
	case "DECIMAL", "NUMERIC":
		return "NUMERIC"
	case "BOOLEAN", "BOOL", "LOGICAL":
		return "BOOL"
	case "TIMESTAMP", "DATETIME", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE":
		return "TIMESTAMP"
	case "BLOB", "BYTEA", "BINARY", "VARBINARY":
		return "BYTES"
	}
	return strings.TrimSpace(typ)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// Now implements Dialect: the wall clock of tz as a TIMESTAMP read as UTC,
// like every timestamp sluice compares.
func (b BigQuery) Now(tz string) string {
	return "TIMESTAMP(CURRENT_DATETIME(" + b.String(tz) + "))"
}

// TimestampLiteral implements Dialect (a literal without zone is UTC).
func (b BigQuery) TimestampLiteral(t time.Time) string {
	return "TIMESTAMP " + b.String(t.Format("2006-01-02 15:04:05.999999"))
}

// TimestampMinus implements Dialect, in the largest whole unit.
func (BigQuery) TimestampMinus(ts string, d time.Duration) string {
	n, unit := wholeUnit(d)
	return fmt.Sprintf("TIMESTAMP_SUB(%s, INTERVAL %d %s)", ts, n, unit)
}

// DaysBetween implements Dialect: calendar days between the two dates
// (TIMESTAMP_DIFF would count whole 24-hour periods instead).
func (BigQuery) DaysBetween(from, to string) string {
	return "DATE_DIFF(DATE(" + to + "), DATE(" + from + "), DAY)"
}

// FirstBy implements Dialect with ARRAY_AGG(... IGNORE NULLS ORDER BY ...
// LIMIT 1), which keeps the value's type. NULL keys sort last by sorting
// on key IS NULL first.
func (BigQuery) FirstBy(expr, cond string, order []SortKey) string {
	v := expr
	if cond != "" {
		v = "IF(" + cond + ", " + expr + ", NULL)"
	}
	q := "ARRAY_AGG(" + v + " IGNORE NULLS"
	if len(order) > 0 {
		keys := make([]string, 0, 2*len(order))
		for _, k := range order {
			dir := ""
			if k.Desc {
				dir = " DESC"
			}
			keys = append(keys, k.Expr+" IS NULL", k.Expr+dir)
		}
		q += " ORDER BY " + strings.Join(keys, ", ")
	}
	return q + " LIMIT 1)[SAFE_OFFSET(0)]"
}

// TryCast implements Dialect.
func (BigQuery) TryCast(expr, typ string) string {
	return "SAFE_CAST(" + expr + " AS " + BigQueryType(typ) + ")"
}

// RegexpFullMatch implements Dialect.
func (b BigQuery) RegexpFullMatch(expr, pattern string) string {
	return "REGEXP_CONTAINS(" + expr + ", " + b.rawString("^(?:"+pattern+")$") + ")"
}

// RegexpMatches implements Dialect.
func (b BigQuery) RegexpMatches(expr, pattern string) string {
	return "REGEXP_CONTAINS(" + expr + ", " + b.rawString(pattern) + ")"
}

// RegexpReplace implements Dialect; BigQuery reads \1 in the replacement.
func (b BigQuery) RegexpReplace(expr, pattern, replacement string) string {
	return "REGEXP_REPLACE(" + expr + ", " + b.rawString(pattern) + ", " + b.rawString(replacement) + ")"
}

// RegexpFullMatchOrNull implements Dialect: REGEXP_EXTRACT returns the
// whole match, or NULL, when the pattern has no capturing group — so the
// pattern's own groups are made non-capturing first.
func (b BigQuery) RegexpFullMatchOrNull(expr, pattern string) string {
	return "REGEXP_EXTRACT(" + expr + ", " + b.rawString("^(?:"+withoutCaptures(pattern)+")$") + ")"
}

// withoutCaptures rewrites an RE2 pattern's capturing groups as
// non-capturing ones; a pattern without any is returned as written.
func withoutCaptures(pattern string) string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.MaxCap() == 0 {
		return pattern
	}
	var strip func(*syntax.Regexp) *syntax.Regexp
	strip = func(r *syntax.Regexp) *syntax.Regexp {
		for i, s := range r.Sub {
			r.Sub[i] = strip(s)
		}
		if r.Op == syntax.OpCapture {
			return r.Sub[0]
		}
		return r
	}
	return strip(re).String()
}

// Hash64 implements Dialect: FARM_FINGERPRINT of the values written as
// literals (%T keeps NULLs and strings apart from numbers).
func (b BigQuery) Hash64(exprs ...string) string {
	return "FARM_FINGERPRINT(FORMAT(" + b.String(strings.Repeat("%T|", len(exprs)-1)+"%T") + ", " + strings.Join(exprs, ", ") + "))"
}

// HexDigest implements Dialect: the same 32 hex digits as DuckDB's md5(),
// so profile ids agree across warehouses.
func (BigQuery) HexDigest(expr string) string { return "TO_HEX(MD5(" + expr + "))" }

// ArgMin implements Dialect.
func (BigQuery) ArgMin(arg, key string) string { return "MIN_BY(" + arg + ", " + key + ")" }

// Lower implements Dialect.
func (BigQuery) Lower(expr string) string { return "LOWER(" + expr + ")" }

// Upper implements Dialect.
func (BigQuery) Upper(expr string) string { return "UPPER(" + expr + ")" }

// Trim implements Dialect.
func (BigQuery) Trim(expr string) string { return "TRIM(" + expr + ")" }

// Bool implements Dialect.
func (BigQuery) Bool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// RowNumber implements Dialect.
func (BigQuery) RowNumber() string { return "ROW_NUMBER() OVER ()" }

// NumberRows implements Dialect.
func (BigQuery) NumberRows(query, col string, order []SortKey) string {
	return "SELECT ROW_NUMBER() OVER (ORDER BY " + orderKeys(order) + ") AS " + col + ", unnumbered.*\nFROM (\n" +
		Indent(query, "    ") + "\n) AS unnumbered"
}

// scratcher is a dialect with its own form of ReplaceTable for work
// tables (see BigQuery.ScratchTable).
type scratcher interface {
	ScratchTable(table, query string) string
}

// scratchTable creates a work table the way the dialect prefers.
func scratchTable(d Dialect, table, query string) string {
	if s, ok := d.(scratcher); ok {
		return s.ScratchTable(table, query)
	}
	return d.ReplaceTable(table, query)
}

// SupportsCTE implements Dialect. GoogleSQL has WITH, but BigQuery runs a
// non-recursive CTE once per reference, not once per query; a subquery that
// numbers rows in no given order (RowNumber, the identity edges) read twice
// could then number them differently. Scopes therefore materialise their
// subqueries as work tables in BigQuery.
func (BigQuery) SupportsCTE() bool { return false }
