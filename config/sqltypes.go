package config

import (
	"fmt"
	"slices"
	"strings"
)

// SQL type names written in a project (seed column_types, trait type) are
// put into compiled SQL as they are, so each must be a type the warehouse
// knows: the portable names sluice translates (VARCHAR, BIGINT, DOUBLE,
// DECIMAL(12,2), TIMESTAMP...) or the warehouse's own (Nullable(String),
// NUMBER(38,0), INT64...), with parameters of numbers, quoted strings or
// nested types. Anything else, a typo or a second statement, is refused.

// typeWords lists type names; multi-word names are separated by one space.
func typeWords(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.Split(s, ",") {
		out[strings.ToUpper(strings.Join(strings.Fields(w), " "))] = true
	}
	return out
}

// Names each dialect translates or knows itself, upper-cased.
var sqlTypeNames = map[string]map[string]bool{
	"duckdb": typeWords(`BIGINT, INT8, LONG, INT64, BIT, BITSTRING, BLOB, BYTEA, BINARY, VARBINARY,
		BOOLEAN, BOOL, LOGICAL, DATE, DECIMAL, NUMERIC, DOUBLE, FLOAT8, DOUBLE PRECISION, FLOAT, FLOAT4, REAL,
		HUGEINT, INT128, UHUGEINT, UINT128, INTEGER, INT4, INT, SIGNED, INT32, INTERVAL, SMALLINT, INT2, SHORT,
		INT16, TIME, TIMETZ, TIME WITH TIME ZONE, TIME WITHOUT TIME ZONE, TIMESTAMP, DATETIME,
		TIMESTAMP WITHOUT TIME ZONE, TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE, TIMESTAMP_S, TIMESTAMP_MS,
		TIMESTAMP_NS, TIMESTAMP_US, TINYINT, INT1, UBIGINT, UINT64, UINTEGER, UINT32, USMALLINT, UINT16,
		UTINYINT, UINT8, UUID, VARCHAR, CHAR, BPCHAR, TEXT, STRING, CHARACTER VARYING, CHARACTER, NVARCHAR,
		JSON, VARINT, LIST, STRUCT, MAP, UNION, ARRAY, ENUM`),
	"clickhouse": typeWords(`STRING, FIXEDSTRING, UINT8, UINT16, UINT32, UINT64, UINT128, UINT256, INT8, INT16,
		INT32, INT64, INT128, INT256, FLOAT32, FLOAT64, BFLOAT16, DECIMAL, DECIMAL32, DECIMAL64, DECIMAL128,
		DECIMAL256, BOOL, BOOLEAN, DATE, DATE32, DATETIME, DATETIME64, UUID, IPV4, IPV6, ENUM, ENUM8, ENUM16,
		NULLABLE, LOWCARDINALITY, ARRAY, MAP, TUPLE, JSON,
		BIGINT, LONG, INTEGER, INT, INT4, SIGNED, SMALLINT, INT2, SHORT, TINYINT, INT1, UBIGINT, UINTEGER,
		HUGEINT, DOUBLE, FLOAT8, DOUBLE PRECISION, FLOAT, REAL, FLOAT4, VARCHAR, TEXT, CHAR, BPCHAR,
		CHARACTER VARYING, CHARACTER, NVARCHAR, BLOB, BYTEA, BINARY, VARBINARY, LOGICAL, TIMESTAMP,
		TIMESTAMP WITHOUT TIME ZONE, TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE, NUMERIC`),
	"snowflake": typeWords(`NUMBER, DECIMAL, DEC, NUMERIC, INT, INTEGER, BIGINT, SMALLINT, TINYINT, BYTEINT, FLOAT,
		FLOAT4, FLOAT8, DOUBLE, DOUBLE PRECISION, REAL, VARCHAR, CHAR, CHARACTER, NCHAR, STRING, TEXT,
		NVARCHAR, NVARCHAR2, CHAR VARYING, NCHAR VARYING, BINARY, VARBINARY, BOOLEAN, DATE, DATETIME, TIME,
		TIMESTAMP, TIMESTAMP_LTZ, TIMESTAMP_NTZ, TIMESTAMP_TZ, VARIANT, OBJECT, ARRAY, GEOGRAPHY, GEOMETRY,
		VECTOR, TIMESTAMP WITHOUT TIME ZONE, TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE, HUGEINT, UBIGINT, BLOB,
		BYTEA`),
	"bigquery": typeWords(`VARCHAR, TEXT, STRING, CHAR, BPCHAR, CHARACTER VARYING, NVARCHAR, CLOB, BIGINT, INTEGER,
		INT, SMALLINT, TINYINT, BYTEINT, INT2, INT4, INT8, LONG, HUGEINT, UBIGINT, INT64, DOUBLE,
		DOUBLE PRECISION, FLOAT, FLOAT8, FLOAT4, REAL, FLOAT64, DECIMAL, NUMERIC, BIGNUMERIC, BIGDECIMAL,
		BOOLEAN, BOOL, LOGICAL, TIMESTAMP, DATETIME, TIMESTAMPTZ, TIMESTAMP WITH TIME ZONE,
		TIMESTAMP WITHOUT TIME ZONE, DATE, TIME, INTERVAL, JSON, GEOGRAPHY, BYTES, BLOB, BYTEA, BINARY,
		VARBINARY`),
}

// maxTypeLength bounds a type name: nested types are short in practice.
const maxTypeLength = 200

// CheckSQLType returns what is wrong with a type name for a warehouse
// type, or "". An unknown warehouse type is checked against every dialect.
func CheckSQLType(warehouse, typ string) string {
	names, ok := sqlTypeNames[warehouse]
	if !ok {
		names = map[string]bool{}
		for _, d := range sqlTypeNames {
			for n := range d {
				names[n] = true
			}
		}
	}
	if len(typ) > maxTypeLength {
		return fmt.Sprintf("a type name has at most %d characters", maxTypeLength)
	}
	p := &typeParser{s: typ, names: names, arrays: warehouse == "duckdb"}
	p.space()
	if err := p.typ(0); err != "" {
		return err
	}
	p.space()
	if p.i < len(p.s) {
		return fmt.Sprintf("unexpected %q after the type: write one type name, such as VARCHAR or DECIMAL(12,2)", p.s[p.i:])
	}
	return ""
}

// typeParser reads type := NAME ['(' arg {',' arg} ')'] {'[]'}, where an
// argument is a number, a quoted string (optionally = number, for enums),
// or a type (optionally preceded by a field name, for structs).
type typeParser struct {
	s      string
	i      int
	names  map[string]bool
	arrays bool // T[] lists (DuckDB)
}

func (p *typeParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *typeParser) word() string {
	j := p.i
	for j < len(p.s) && (isIdentByte(p.s[j]) || j > p.i && p.s[j] >= '0' && p.s[j] <= '9') {
		j++
	}
	w := p.s[p.i:j]
	p.i = j
	return w
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// name reads the longest run of words that is a known type name.
func (p *typeParser) name() (string, bool) {
	start := p.i
	var words []string
	best, bestEnd := "", -1
	for {
		p.space()
		if p.i >= len(p.s) || !isIdentByte(p.s[p.i]) {
			break
		}
		words = append(words, strings.ToUpper(p.word()))
		if n := strings.Join(words, " "); p.names[n] {
			best, bestEnd = n, p.i
		}
	}
	if bestEnd < 0 {
		p.i = start
		return strings.Join(words, " "), false
	}
	p.i = bestEnd
	return best, true
}

func (p *typeParser) typ(depth int) string {
	if depth > 8 {
		return "types nest at most 8 deep"
	}
	start := p.i
	n, ok := p.name()
	if !ok {
		if n == "" {
			return "expected a type name, such as VARCHAR or DECIMAL(12,2)"
		}
		end := start
		for end < len(p.s) && (isIdentByte(p.s[end]) || p.s[end] == ' ' || p.s[end] >= '0' && p.s[end] <= '9') {
			end++
		}
		return fmt.Sprintf("unknown type %s%s", shortQuote(strings.TrimSpace(p.s[start:end])), didYouMean(n, p.known()))
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		if err := p.args(depth); err != "" {
			return err
		}
	}
	for p.arrays && strings.HasPrefix(p.s[p.i:], "[]") {
		p.i += 2
	}
	return ""
}

func (p *typeParser) args(depth int) string {
	for {
		p.space()
		if err := p.arg(depth); err != "" {
			return err
		}
		p.space()
		if p.i >= len(p.s) {
			return "unclosed ( in type"
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ')':
			p.i++
			return ""
		default:
			return fmt.Sprintf("unexpected %q in type parameters", p.s[p.i:])
		}
	}
}

func (p *typeParser) arg(depth int) string {
	switch c := p.s[min(p.i, len(p.s)-1)]; {
	case p.i >= len(p.s):
		return "unclosed ( in type"
	case c >= '0' && c <= '9':
		p.number()
		return ""
	case c == '\'':
		j := strings.IndexByte(p.s[p.i+1:], '\'')
		if j < 0 {
			return "unclosed quote in type"
		}
		p.i += j + 2
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '=' {
			p.i++
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '-' {
				p.i++
			}
			if !p.number() {
				return "expected a number after = in type"
			}
		}
		return ""
	}
	// A struct field is NAME TYPE; try the plain type first.
	save := p.i
	if err := p.typ(depth + 1); err == "" {
		return ""
	}
	p.i = save
	p.space()
	if p.word() == "" {
		return "expected a type name, such as VARCHAR or DECIMAL(12,2)"
	}
	p.space()
	return p.typ(depth + 1)
}

func (p *typeParser) number() bool {
	j := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > j
}

func (p *typeParser) known() []string {
	out := make([]string, 0, len(p.names))
	for n := range p.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
