package dialect

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ClickHouse is the dialect of ClickHouse servers, from the 18.16 release
// that distributions still ship to current ones. The SQL it writes keeps to
// what 18.16 runs: no common table expressions (Scope materialises them),
// no window functions, one JOIN per SELECT, searched CASE only (18.16
// answers NULL to CASE x WHEN ...), no TRUE/FALSE literals, no NULLS
// FIRST/LAST (NULLs sort last in ClickHouse either way).
//
// Tables are MergeTree tables without a sorting key: sluice rewrites its
// tables whole (ReplaceTable) rather than mutating them, because ALTER
// TABLE ... UPDATE/DELETE are asynchronous mutations in ClickHouse and
// would let a later statement read stale rows.
//
// Timestamps are DateTime('UTC') holding wall-clock values, as DuckDB's
// TIMESTAMP does; servers from 20.1 on get DateTime64(6, 'UTC'), which
// keeps DuckDB's microseconds.
//
// The SQL comes in two flavours, which sluice compile names: clickhouse,
// for current servers (20.1 on; tested on 24 to 26), and clickhouse-18,
// for the 18.16 era (the zero Version). The connector picks the flavour
// from the server's version(), so build runs what compile prints for it.
type ClickHouse struct {
	Version Version
}

var _ Dialect = ClickHouse{}

// CurrentClickHouse is the version the clickhouse flavour is written for:
// every version test below is at or before it, so 24.x to 26.x servers
// run the same SQL.
var CurrentClickHouse = Version{24, 1}

func init() {
	Register(ClickHouse{Version: CurrentClickHouse})
	Register(ClickHouse{})
}

// Version is a ClickHouse server version (major.minor).
type Version struct{ Major, Minor int }

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

var versionPattern = regexp.MustCompile(`^(\d+)\.(\d+)`)

// ParseClickHouseVersion reads what SELECT version() returns, such as
// 18.16.1 or 25.3.2.39.
func ParseClickHouseVersion(s string) (Version, error) {
	m := versionPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("unrecognised clickhouse version %q", s)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return Version{major, minor}, nil
}

// hasDateTime64 reports whether the server stores sub-second timestamps.
func (c ClickHouse) hasDateTime64() bool { return c.Version.AtLeast(20, 1) }

// Legacy reports whether this is the clickhouse-18 flavour: servers before
// 20.1, whose client reads no file (INSERT ... FROM INFILE came in 21.x)
// and which lack DateTime64 and trimBoth.
func (c ClickHouse) Legacy() bool { return !c.Version.AtLeast(20, 1) }

// Name implements Dialect: the flavour, as sluice compile --dialect takes it.
func (c ClickHouse) Name() string {
	if c.Legacy() {
		return "clickhouse-18"
	}
	return "clickhouse"
}

// SessionSettings are the settings sluice's SQL relies on, valid on every
// release: join_use_nulls = 1 makes an outer join give NULL, not the
// type's default, for a missing row, as SQL and every other warehouse do
// (without it the quickstart finds 95 profiles instead of 1,468). The
// connector sends them with every query.
func (ClickHouse) SessionSettings() [][2]string { return [][2]string{{"join_use_nulls", "1"}} }

// SessionStatements implements Session: SET statements, which
// clickhouse-client --multiquery keeps for the rest of the file.
func (c ClickHouse) SessionStatements() []string {
	var out []string
	for _, s := range c.SessionSettings() {
		out = append(out, "SET "+s[0]+" = "+s[1])
	}
	return out
}

// Ident implements Dialect: back quotes, with back quotes and backslashes
// escaped by a backslash (ClickHouse reads escapes in quoted names).
func (ClickHouse) Ident(name string) string { return chQuote(name, '`') }

// chQuote quotes s with q, escaping q and backslashes with a backslash.
func chQuote(s string, q byte) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		if s[i] == q || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte(q)
	return b.String()
}

// Table implements Dialect: a database plays the part of a schema.
func (c ClickHouse) Table(schema, name string) string { return c.Ident(schema) + "." + c.Ident(name) }

// TableRef implements Dialect.
func (c ClickHouse) TableRef(ref string) string {
	parts := splitRef(ref)
	for i, p := range parts {
		parts[i] = c.Ident(p)
	}
	return strings.Join(parts, ".")
}

// String implements Dialect. ClickHouse reads backslash escapes in string
// literals, so backslashes are doubled as well as quotes escaped.
func (ClickHouse) String(s string) string { return chQuote(s, '\'') }

// CreateSchema implements Dialect.
func (c ClickHouse) CreateSchema(schema string) string {
	return "CREATE DATABASE IF NOT EXISTS " + c.Ident(schema)
}

// engine is the storage of every table sluice creates: MergeTree reads in
// parallel and compresses; no sorting key, since sluice only scans.
const chEngine = "ENGINE = MergeTree ORDER BY tuple()"

// ReplaceTable implements Dialect. ClickHouse has no CREATE OR REPLACE
// TABLE before 19.x, and a query may read the table it replaces (the
// identity rounds do), so the new table is built beside the old one and
// renamed into place.
func (c ClickHouse) ReplaceTable(table, query string) string {
	next := suffixed(table, "__sluice_next")
	return "DROP TABLE IF EXISTS " + next + ";\n" +
		"CREATE TABLE " + next + " " + chEngine + " AS\n" + endComment(query) + ";\n" +
		"DROP TABLE IF EXISTS " + table + ";\n" +
		"RENAME TABLE " + next + " TO " + table
}

// endComment ends a query whose last line has a comment with a line break,
// so that a semicolon after it is not part of the comment.
func endComment(q string) string {
	last := q[strings.LastIndexByte(q, '\n')+1:]
	if strings.Contains(last, "--") {
		return q + "\n"
	}
	return q
}

// suffixed appends a suffix to the last name of a quoted table name.
func suffixed(table, suffix string) string {
	if strings.HasSuffix(table, "`") {
		return table[:len(table)-1] + suffix + "`"
	}
	return table + suffix
}

// ReplaceView implements Dialect.
func (ClickHouse) ReplaceView(view, query string) string {
	return "DROP TABLE IF EXISTS " + view + ";\nCREATE VIEW " + view + " AS\n" + query
}

// DropTable implements Dialect.
func (ClickHouse) DropTable(table string) string { return "DROP TABLE IF EXISTS " + table }

// LoadCSV implements Dialect. The connector loads a seed itself, from the
// machine sluice runs on, through a staging table of text columns; the
// table's types come from the whole file's values (as DuckDB's read_csv
// with sample_size = -1), so the exact statements depend on the file:
// sluice compile reads it and lists them (connectors/clickhouse
// SeedStatements). This text stands in where the file is not read.
func (c ClickHouse) LoadCSV(table, path string, types []ColumnType) (string, error) {
	if path == "" {
		return "", fmt.Errorf("loading CSV into %s: empty path", table)
	}
	pinned := "none"
	if len(types) > 0 {
		list := make([]string, len(types))
		for i, t := range types {
			list[i] = t.Column + " " + c.baseType(t.Type)
		}
		pinned = strings.Join(list, ", ")
	}
	return "-- Run by sluice's ClickHouse connector, which reads " + path + " where sluice runs:\n" +
		"-- its rows go as text into " + suffixed(table, "__sluice_load") + ", then\n" +
		"-- CREATE TABLE " + table + " AS SELECT each column converted to the type all its\n" +
		"-- values fit, or the pinned type (" + pinned + ").\n" +
		"DROP TABLE IF EXISTS " + suffixed(table, "__sluice_load"), nil
}

// CastText implements Dialect. A bare NULL needs a type to be stored.
func (ClickHouse) CastText(expr string) string {
	if strings.EqualFold(strings.TrimSpace(expr), "NULL") {
		return "CAST(NULL AS Nullable(String))"
	}
	return "toString(" + expr + ")"
}

// Concat implements Dialect.
func (ClickHouse) Concat(exprs ...string) string { return "concat(" + strings.Join(exprs, ", ") + ")" }

// Cast implements Dialect. SQL type names written in a project (BIGINT,
// DOUBLE, VARCHAR, BOOLEAN, TIMESTAMP, DECIMAL(p,s)...) become ClickHouse
// types; every cast is Nullable, since SQL values may be NULL.
func (c ClickHouse) Cast(expr, typ string) string {
	return "CAST(" + expr + " AS " + c.nullableType(typ) + ")"
}

func (c ClickHouse) nullableType(typ string) string {
	t := c.baseType(typ)
	if strings.HasPrefix(t, "Nullable(") || strings.HasPrefix(t, "Array(") || strings.HasPrefix(t, "LowCardinality(") {
		return t
	}
	return "Nullable(" + t + ")"
}

var decimalPattern = regexp.MustCompile(`(?i)^\s*(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$`)

// baseType maps a SQL type name to ClickHouse's; unknown names (such as
// ClickHouse's own, Int64 or LowCardinality(String)) pass unchanged.
func (c ClickHouse) baseType(typ string) string {
	if m := decimalPattern.FindStringSubmatch(typ); m != nil {
		return "Decimal(" + m[1] + ", " + m[2] + ")"
	}
	switch strings.ToUpper(strings.Join(strings.Fields(typ), " ")) {
	case "BIGINT", "INT8", "LONG", "INT64":
		return "Int64"
	case "INTEGER", "INT", "INT4", "SIGNED", "INT32":
		return "Int32"
	case "SMALLINT", "INT2", "SHORT", "INT16":
		return "Int16"
	case "TINYINT", "INT1":
		return "Int8"
	case "UBIGINT", "UINT64":
		return "UInt64"
	case "UINTEGER", "UINT32":
		return "UInt32"
	case "HUGEINT", "INT128":
		return "Int128"
	case "DOUBLE", "FLOAT8", "DOUBLE PRECISION", "FLOAT64":
		return "Float64"
	case "FLOAT", "REAL", "FLOAT4", "FLOAT32":
		return "Float32"
	case "VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "CHARACTER VARYING":
		return "String"
	case "BOOLEAN", "BOOL", "LOGICAL":
		return "UInt8"
	case "TIMESTAMP", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return c.timestampType()
	case "DATE":
		return "Date"
	case "DECIMAL", "NUMERIC":
		return "Decimal(18, 3)"
	}
	return strings.TrimSpace(typ)
}

// SQLType is the ClickHouse type of a SQL type name written in a project
// (VARCHAR is String, TIMESTAMP is DateTime('UTC')...), not Nullable.
func (c ClickHouse) SQLType(typ string) string { return c.baseType(typ) }

// timestampType is the type of wall-clock timestamps.
func (c ClickHouse) timestampType() string {
	if c.hasDateTime64() {
		return "DateTime64(6, 'UTC')"
	}
	return "DateTime('UTC')"
}

// TimestampType is the type of timestamps sluice stores (the connector's
// CSV loader uses it too).
func (c ClickHouse) TimestampType() string { return c.timestampType() }

// Now implements Dialect: the wall clock of tz, as a UTC-labelled
// timestamp like every other timestamp sluice compares.
func (c ClickHouse) Now(tz string) string {
	return c.parseTimestamp("toString(now(), " + c.String(tz) + ")")
}

func (c ClickHouse) parseTimestamp(text string) string {
	if c.hasDateTime64() {
		return "toDateTime64(" + text + ", 6, 'UTC')"
	}
	return "toDateTime(" + text + ", 'UTC')"
}

// TimestampLiteral implements Dialect. Before 20.1 ClickHouse keeps whole
// seconds; the fraction is dropped rather than rounded, as its parser does.
func (c ClickHouse) TimestampLiteral(t time.Time) string {
	if c.hasDateTime64() {
		return c.parseTimestamp(c.String(t.Format("2006-01-02 15:04:05.000000")))
	}
	return c.parseTimestamp(c.String(t.Format("2006-01-02 15:04:05")))
}

// TimestampMinus implements Dialect.
func (ClickHouse) TimestampMinus(ts string, d time.Duration) string {
	if d%time.Second != 0 {
		// Intervals below a second need DateTime64; whole seconds suffice
		// for windows.
		d = d.Truncate(time.Second)
	}
	return ts + " - " + interval(d)
}

// DaysBetween implements Dialect: day numbers on the timestamps' own
// (UTC) wall clock, so calendar days crossed, like DuckDB's date_diff.
func (ClickHouse) DaysBetween(from, to string) string {
	return "(toInt64(toRelativeDayNum(" + to + ")) - toInt64(toRelativeDayNum(" + from + ")))"
}

// FirstBy implements Dialect with argMinIf over a tuple of sort keys.
// Each key is preceded by isNull(key) so NULLs sort last; a descending key
// is negated, so it must be a number or a time (the rules that sort
// descending use timestamps and counts). argMinIf gives a default value,
// not NULL, when no row qualifies, hence the countIf guard.
func (ClickHouse) FirstBy(expr, cond string, order []SortKey) string {
	filter := "isNotNull(" + expr + ")"
	if cond != "" {
		filter += " AND (" + cond + ")"
	}
	var keys []string
	for _, k := range order {
		v := "assumeNotNull(" + k.Expr + ")"
		if k.Desc {
			v = "-toFloat64(" + v + ")"
		}
		keys = append(keys, "isNull("+k.Expr+")", v)
	}
	key := "tuple(" + strings.Join(keys, ", ") + ")"
	if len(keys) == 0 {
		key = "0"
	}
	return "if(countIf(" + filter + ") = 0, NULL, argMinIf(" + expr + ", " + key + ", " + filter + "))"
}

// TryCast implements Dialect with ClickHouse's OrNull conversions, which
// read text: timestamps in the formats best-effort parsing knows (ISO 8601
// with or without zone), numbers in decimal notation.
func (c ClickHouse) TryCast(expr, typ string) string {
	text := "toString(" + expr + ")"
	switch t := c.baseType(typ); {
	case strings.HasPrefix(t, "DateTime"):
		if c.hasDateTime64() {
			return "parseDateTime64BestEffortOrNull(" + text + ", 6, 'UTC')"
		}
		return "parseDateTimeBestEffortOrNull(" + text + ", 'UTC')"
	case t == "Date":
		return "toDateOrNull(" + text + ")"
	case t == "String":
		return text
	case strings.HasPrefix(t, "Int") || strings.HasPrefix(t, "UInt") || strings.HasPrefix(t, "Float"):
		return "to" + t + "OrNull(" + text + ")"
	default:
		return c.Cast(expr, typ)
	}
}

// RegexpFullMatch implements Dialect (RE2, as DuckDB).
func (c ClickHouse) RegexpFullMatch(expr, pattern string) string {
	return "match(" + expr + ", " + c.String("^(?:"+pattern+")$") + ")"
}

// RegexpMatches implements Dialect.
func (c ClickHouse) RegexpMatches(expr, pattern string) string {
	return "match(" + expr + ", " + c.String(pattern) + ")"
}

// RegexpReplace implements Dialect; replaceRegexpAll reads \1 as DuckDB.
func (c ClickHouse) RegexpReplace(expr, pattern, replacement string) string {
	return "replaceRegexpAll(" + expr + ", " + c.String(pattern) + ", " + c.String(replacement) + ")"
}

// RegexpFullMatchOrNull implements Dialect: extract returns the first
// group, here the whole anchored match, or ” when there is none.
func (c ClickHouse) RegexpFullMatchOrNull(expr, pattern string) string {
	return "nullif(extract(" + expr + ", " + c.String("^((?:"+pattern+"))$") + "), '')"
}

// Hash64 implements Dialect.
func (ClickHouse) Hash64(exprs ...string) string {
	return "cityHash64(" + strings.Join(exprs, ", ") + ")"
}

// HexDigest implements Dialect: the same digits as DuckDB's md5().
func (ClickHouse) HexDigest(expr string) string { return "lower(hex(MD5(" + expr + ")))" }

// ArgMin implements Dialect.
func (ClickHouse) ArgMin(arg, key string) string { return "argMin(" + arg + ", " + key + ")" }

// Lower implements Dialect: lowerUTF8, since lower() only folds ASCII.
func (ClickHouse) Lower(expr string) string { return "lowerUTF8(" + expr + ")" }

// Upper implements Dialect.
func (ClickHouse) Upper(expr string) string { return "upperUTF8(" + expr + ")" }

// Trim implements Dialect: spaces at either end are removed, as DuckDB's
// trim does; 18.16 has no trimBoth, so a regular expression does it there.
func (c ClickHouse) Trim(expr string) string {
	if c.Legacy() {
		return "replaceRegexpAll(" + expr + ", " + c.String(`^ +| +$`) + ", '')"
	}
	return "trimBoth(" + expr + ")"
}

// Bool implements Dialect: ClickHouse's booleans are UInt8.
func (ClickHouse) Bool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// RowNumber implements Dialect.
func (ClickHouse) RowNumber() string { return "(rowNumberInAllBlocks() + 1)" }

// NumberRows implements Dialect: rowNumberInAllBlocks over the sorted
// rows. A sorted result is one ordered stream, so the numbers follow the
// order.
func (ClickHouse) NumberRows(query, col string, order []SortKey) string {
	// ClickHouse sorts NULLs last in either direction; isNull(k) DESC first
	// puts them first.
	var keys []string
	for _, k := range order {
		if k.NullsFirst {
			keys = append(keys, "isNull("+k.Expr+") DESC")
		}
		if k.Desc {
			keys = append(keys, k.Expr+" DESC")
		} else {
			keys = append(keys, k.Expr)
		}
	}
	return "SELECT rowNumberInAllBlocks() + 1 AS " + col + ", *\nFROM (\n    SELECT *\n    FROM (\n" + Indent(query, "        ") +
		"\n    ) AS unnumbered\n    ORDER BY " + strings.Join(keys, ", ") + "\n) AS sorted"
}

// SupportsCTE implements Dialect: WITH name AS (subquery) arrived in
// ClickHouse 20.x; sluice's scopes materialise subqueries everywhere so
// the same SQL runs on every release.
func (ClickHouse) SupportsCTE() bool { return false }

// Indent puts prefix before every non-empty line of s: how the compilers
// nest a query inside another.
func Indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
