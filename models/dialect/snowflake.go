package dialect

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Snowflake is the dialect of Snowflake.
//
// Names: Snowflake stores unquoted identifiers in upper case, and most
// tables are created unquoted, so a name written in lower case in YAML
// (first_name, raw.orders) is quoted in upper case ("FIRST_NAME") — the
// column an unquoted first_name in a user's expression also resolves to —
// while a name with upper-case letters or other characters is quoted as
// written and matched exactly.
//
// Regular expressions: sluice writes RE2; Snowflake reads POSIX extended
// expressions, so every pattern is translated (see posix.go).
//
// Tables sluice builds are TRANSIENT: they are rebuilt from the sources on
// every build, so Snowflake's Fail-safe copies would be paid for nothing.
type Snowflake struct{}

var _ Dialect = Snowflake{}

func init() { Register(Snowflake{}) }

// Name implements Dialect.
func (Snowflake) Name() string { return "snowflake" }

// snowflakeFolded matches the names Snowflake would upper-case if they
// were written unquoted.
var snowflakeFolded = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// SnowflakeName is how Snowflake stores a name that sluice quotes: upper
// case for plain lower-case names, as written otherwise.
func SnowflakeName(name string) string {
	if snowflakeFolded.MatchString(name) {
		return strings.ToUpper(name)
	}
	return name
}

// Ident implements Dialect.
func (Snowflake) Ident(name string) string { return quoteWith(SnowflakeName(name), '"') }

// Table implements Dialect.
func (s Snowflake) Table(schema, name string) string { return s.Ident(schema) + "." + s.Ident(name) }

// TableRef implements Dialect: db.schema.table, each part folded like Ident.
func (s Snowflake) TableRef(ref string) string {
	parts := splitRef(ref)
	for i, p := range parts {
		parts[i] = s.Ident(p)
	}
	return strings.Join(parts, ".")
}

// String implements Dialect. Snowflake reads backslash escapes in string
// constants, so backslashes are doubled; invisible characters are written
// as escapes so that the SQL reads unambiguously.
func (Snowflake) String(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'':
			b.WriteString("''")
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		case r > 0x7f && r <= 0xffff && (!unicode.IsPrint(r) || unicode.IsSpace(r)):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// CreateSchema implements Dialect.
func (s Snowflake) CreateSchema(schema string) string {
	return "CREATE SCHEMA IF NOT EXISTS " + s.Ident(schema)
}

// ReplaceTable implements Dialect with a transient table (no Fail-safe:
// everything sluice builds can be rebuilt).
func (Snowflake) ReplaceTable(table, query string) string {
	return "CREATE OR REPLACE TRANSIENT TABLE " + table + " AS\n" + query
}

// ReplaceView implements Dialect.
func (Snowflake) ReplaceView(view, query string) string {
	return "CREATE OR REPLACE VIEW " + view + " AS\n" + query
}

// DropTable implements Dialect.
func (Snowflake) DropTable(table string) string { return "DROP TABLE IF EXISTS " + table }

// LoadCSV implements Dialect: LoadCSVStatements joined, one statement per
// line group. The Snowflake connector runs them one by one (PUT is a
// client command that uploads the file).
func (s Snowflake) LoadCSV(table, path string, types []ColumnType) (string, error) {
	stmts, err := s.LoadCSVStatements(table, path, types)
	if err != nil {
		return "", err
	}
	return strings.Join(stmts, ";\n"), nil
}

// LoadCSVStatements loads a local CSV file with a header row into table:
// the file is uploaded (PUT) to the user stage, the table is created from
// the columns INFER_SCHEMA reads in the whole file — names folded like
// Ident, types pinned where the project says — and filled by COPY INTO,
// which matches columns by name (FORCE: the file may be one loaded
// before, unchanged).
func (s Snowflake) LoadCSVStatements(table, path string, types []ColumnType) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("loading CSV into %s: empty path", table)
	}
	parts := splitQuoted(table)
	if len(parts) < 2 {
		return nil, fmt.Errorf("loading CSV into %s: want a schema-qualified table", table)
	}
	schema := strings.Join(parts[:len(parts)-1], ".")
	format := schema + `."SLUICE_SEED_CSV"`
	// Each table has its own folder in the user stage (@~), which every
	// user has and which needs no privilege to create.
	folder := "@~/sluice_seeds/" + strings.ReplaceAll(strings.Join(unquoteAll(parts), "."), "/", "_") + "/"
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("loading CSV into %s: %w", table, err)
	}
	typeCase := "TYPE"
	if len(types) > 0 {
		whens := make([]string, len(types))
		for i, t := range types {
			whens[i] = "WHEN " + s.String(t.Column) + " THEN " + s.String(snowflakeType(t.Type))
		}
		typeCase = "CASE COLUMN_NAME " + strings.Join(whens, " ") + " ELSE TYPE END"
	}
	return []string{
		"CREATE TEMPORARY FILE FORMAT IF NOT EXISTS " + format + "\n" +
			"    TYPE = CSV PARSE_HEADER = TRUE FIELD_OPTIONALLY_ENCLOSED_BY = '\"' EMPTY_FIELD_AS_NULL = TRUE",
		"REMOVE " + folder,
		"PUT " + s.String("file://"+filepath.ToSlash(abs)) + " " + folder + " AUTO_COMPRESS = TRUE OVERWRITE = TRUE",
		"CREATE OR REPLACE TRANSIENT TABLE " + table + " USING TEMPLATE (\n" +
			"    SELECT ARRAY_AGG(OBJECT_CONSTRUCT(\n" +
			"        'COLUMN_NAME', IFF(REGEXP_LIKE(COLUMN_NAME, '[a-z_][a-z0-9_$]*'), UPPER(COLUMN_NAME), COLUMN_NAME),\n" +
			"        'TYPE', " + typeCase + ",\n" +
			"        'NULLABLE', TRUE)) WITHIN GROUP (ORDER BY ORDER_ID)\n" +
			"    FROM TABLE(INFER_SCHEMA(LOCATION => " + s.String(folder) + ", FILE_FORMAT => " + s.String(format) + "))\n)",
		"COPY INTO " + table + "\nFROM " + folder + "\nFILE_FORMAT = (FORMAT_NAME = " + s.String(format) + ")\nMATCH_BY_COLUMN_NAME = CASE_INSENSITIVE\nFORCE = TRUE",
	}, nil
}

// splitQuoted splits a dotted name of double-quoted parts ("A"."B").
func splitQuoted(name string) []string {
	var parts []string
	for i := 0; i < len(name); {
		if name[i] != '"' {
			return nil
		}
		j := i + 1
		for ; j < len(name); j++ {
			if name[j] == '"' {
				if j+1 < len(name) && name[j+1] == '"' {
					j++
					continue
				}
				break
			}
		}
		if j >= len(name) {
			return nil
		}
		parts = append(parts, name[i:j+1])
		i = j + 1
		if i < len(name) {
			if name[i] != '.' {
				return nil
			}
			i++
		}
	}
	return parts
}

func unquoteAll(parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
	}
	return out
}

// CastText implements Dialect.
func (Snowflake) CastText(expr string) string { return "CAST(" + expr + " AS VARCHAR)" }

// Concat implements Dialect.
func (Snowflake) Concat(exprs ...string) string { return "(" + strings.Join(exprs, " || ") + ")" }

// Cast implements Dialect.
func (Snowflake) Cast(expr, typ string) string {
	return "CAST(" + expr + " AS " + snowflakeType(typ) + ")"
}

// snowflakeType maps a type written in a project to Snowflake's. TIMESTAMP
// is pinned to TIMESTAMP_NTZ (wall-clock time, as in every dialect), since
// an account's TIMESTAMP_TYPE_MAPPING may make it mean something else.
func snowflakeType(typ string) string {
	switch strings.ToUpper(strings.Join(strings.Fields(typ), " ")) {
	case "TIMESTAMP", "DATETIME", "TIMESTAMP WITHOUT TIME ZONE":
		return "TIMESTAMP_NTZ"
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return "TIMESTAMP_TZ"
	case "HUGEINT", "UBIGINT":
		return "NUMBER(38, 0)"
	case "BLOB", "BYTEA":
		return "BINARY"
	}
	return strings.TrimSpace(typ)
}

// Now implements Dialect: the statement's start on tz's wall clock.
func (s Snowflake) Now(tz string) string {
	return "CAST(CONVERT_TIMEZONE(" + s.String(tz) + ", CURRENT_TIMESTAMP()) AS TIMESTAMP_NTZ)"
}

// TimestampLiteral implements Dialect.
func (s Snowflake) TimestampLiteral(t time.Time) string {
	return "CAST(" + s.String(t.Format("2006-01-02 15:04:05.999999")) + " AS TIMESTAMP_NTZ)"
}

// TimestampMinus implements Dialect with DATEADD, in the largest whole unit.
func (Snowflake) TimestampMinus(ts string, d time.Duration) string {
	n, unit := wholeUnit(d)
	return fmt.Sprintf("DATEADD(%s, -%d, %s)", unit, n, ts)
}

// wholeUnit expresses a duration in its largest whole unit.
func wholeUnit(d time.Duration) (int64, string) {
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"DAY", 24 * time.Hour}, {"HOUR", time.Hour}, {"MINUTE", time.Minute}, {"SECOND", time.Second}} {
		if d%u.d == 0 {
			return int64(d / u.d), u.name
		}
	}
	return int64(d / time.Microsecond), "MICROSECOND"
}

// DaysBetween implements Dialect: DATEDIFF counts day boundaries crossed.
func (Snowflake) DaysBetween(from, to string) string {
	return "DATEDIFF(DAY, " + from + ", " + to + ")"
}

// FirstBy implements Dialect with ARRAY_AGG ... WITHIN GROUP, which leaves
// NULLs out and keeps the given order; element 0 is the first value. The
// element is a VARIANT (Snowflake has no typed ordered aggregate), so the
// column is one too; the Snowflake connector reads VARIANT scalars back as
// plain values.
func (Snowflake) FirstBy(expr, cond string, order []SortKey) string {
	v := expr
	if cond != "" {
		v = "IFF(" + cond + ", " + expr + ", NULL)"
	}
	q := "ARRAY_AGG(" + v + ")"
	if len(order) > 0 {
		keys := make([]string, len(order))
		for i, k := range order {
			dir := "ASC"
			if k.Desc {
				dir = "DESC"
			}
			keys[i] = k.Expr + " " + dir + " NULLS LAST"
		}
		q += " WITHIN GROUP (ORDER BY " + strings.Join(keys, ", ") + ")"
	}
	return q + "[0]"
}

// TryCast implements Dialect. Snowflake's TRY_CAST only reads text, so the
// value goes through text first (a no-op for text columns).
func (Snowflake) TryCast(expr, typ string) string {
	t := snowflakeType(typ)
	switch strings.ToUpper(t) {
	case "VARCHAR", "TEXT", "STRING":
		return "CAST(" + expr + " AS VARCHAR)"
	}
	return "TRY_CAST(CAST(" + expr + " AS VARCHAR) AS " + t + ")"
}

// pattern renders an RE2 pattern as a Snowflake string constant. A pattern
// POSIX cannot express (lazy repetition, in a user's blocklist pattern) is
// passed as written: Snowflake then reports it when the build runs.
func (s Snowflake) pattern(re2 string) (string, posixPattern) {
	p, err := toPOSIX(re2)
	if err != nil {
		return s.String(re2), posixPattern{pattern: re2}
	}
	return s.String(p.pattern), p
}

// RegexpFullMatch implements Dialect. REGEXP_LIKE matches the whole text;
// the group keeps an alternation anchored as a whole.
func (s Snowflake) RegexpFullMatch(expr, pattern string) string {
	p, _ := s.pattern("^(?:" + pattern + ")$")
	return "REGEXP_LIKE(" + expr + ", " + p + ")"
}

// RegexpMatches implements Dialect.
func (s Snowflake) RegexpMatches(expr, pattern string) string {
	p, _ := s.pattern(pattern)
	return "(REGEXP_INSTR(" + expr + ", " + p + ") > 0)"
}

// RegexpReplace implements Dialect. A pattern of alternatives that each
// match a whole text is applied one alternative at a time, first match
// first, as RE2 chooses (see anchoredBranches).
func (s Snowflake) RegexpReplace(expr, pattern, replacement string) string {
	if branches, caps, ok := anchoredBranches(pattern); ok {
		// expr is repeated once per alternative: without its comments
		// and line breaks, the copies stay readable.
		x := compactSQL(expr)
		var b strings.Builder
		b.WriteString("CASE")
		for i, br := range branches {
			p, tp := s.pattern(br)
			local := map[int]int{}
			for j, global := range caps[i] {
				if g, ok := tp.groups[j+1]; ok {
					local[global] = g
				}
			}
			repl := posixPattern{groups: local}.replacement(replacement)
			fmt.Fprintf(&b, "\n    WHEN REGEXP_LIKE(%s, %s) THEN REGEXP_REPLACE(%s, %s, %s)", x, p, x, p, s.String(repl))
		}
		b.WriteString("\n    ELSE " + x + "\nEND")
		return b.String()
	}
	p, tp := s.pattern(pattern)
	return "REGEXP_REPLACE(" + expr + ", " + p + ", " + s.String(tp.replacement(replacement)) + ")"
}

// RegexpFullMatchOrNull implements Dialect: REGEXP_SUBSTR gives the whole
// match of the anchored pattern, or NULL.
func (s Snowflake) RegexpFullMatchOrNull(expr, pattern string) string {
	p, _ := s.pattern("^(?:" + pattern + ")$")
	return "REGEXP_SUBSTR(" + expr + ", " + p + ")"
}

// Hash64 implements Dialect: HASH is a signed 64-bit hash of its arguments.
func (Snowflake) Hash64(exprs ...string) string { return "HASH(" + strings.Join(exprs, ", ") + ")" }

// HexDigest implements Dialect: MD5 gives the same 32 hex digits as
// DuckDB's md5(), so profile ids agree across warehouses.
func (Snowflake) HexDigest(expr string) string { return "MD5(" + expr + ")" }

// ArgMin implements Dialect.
func (Snowflake) ArgMin(arg, key string) string { return "MIN_BY(" + arg + ", " + key + ")" }

// Lower implements Dialect.
func (Snowflake) Lower(expr string) string { return "LOWER(" + expr + ")" }

// Upper implements Dialect.
func (Snowflake) Upper(expr string) string { return "UPPER(" + expr + ")" }

// Trim implements Dialect.
func (Snowflake) Trim(expr string) string { return "TRIM(" + expr + ")" }

// Bool implements Dialect.
func (Snowflake) Bool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// RowNumber implements Dialect. Snowflake's ROW_NUMBER needs an ORDER BY;
// a constant one leaves the order free.
func (Snowflake) RowNumber() string { return "ROW_NUMBER() OVER (ORDER BY NULL)" }

// NumberRows implements Dialect.
func (Snowflake) NumberRows(query, col string, order []SortKey) string {
	return "SELECT ROW_NUMBER() OVER (ORDER BY " + orderKeys(order) + ") AS " + col + ", unnumbered.*\nFROM (\n" +
		Indent(query, "    ") + "\n) AS unnumbered"
}

// orderKeys renders sort keys with explicit NULL placement.
func orderKeys(order []SortKey) string {
	keys := make([]string, len(order))
	for i, k := range order {
		keys[i] = k.Expr
		if k.Desc {
			keys[i] += " DESC"
		}
		if k.NullsFirst {
			keys[i] += " NULLS FIRST"
		} else {
			keys[i] += " NULLS LAST"
		}
	}
	return strings.Join(keys, ", ")
}

// SupportsCTE implements Dialect.
func (Snowflake) SupportsCTE() bool { return true }

// compactSQL removes the -- comments of an SQL expression and folds its
// line breaks and indentation into single spaces, leaving string literals
// and quoted names (which may hold -- or line breaks) as they are.
func compactSQL(sql string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(sql) {
				if sql[j] == '\\' && c == '\'' {
					j += 2
					continue
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			end := min(j+1, len(sql))
			b.WriteString(sql[i:end])
			i = end - 1
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			space = true
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			space = true
		default:
			if space && b.Len() > 0 && c != ')' && c != ',' && !strings.HasSuffix(b.String(), "(") {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
		}
	}
	return b.String()
}
