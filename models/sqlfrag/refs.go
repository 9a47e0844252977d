package sqlfrag

import "strings"

// Ref is a bare column reference found in a fragment.
type Ref struct {
	Name   string // unquoted
	Quoted bool
	Offset int
}

// keywords are words that are never column references in an expression:
// SQL keywords, type names, date parts and constants of the dialects
// sluice compiles to. The list errs on the side of length: a word missing
// from it could be reported as an unknown column, one too many only goes
// unchecked.
var keywords = wordSet(`
	and or not xor is null true false in like ilike glob similar regexp rlike escape between
	case when then else end as cast try_cast safe_cast distinct all any some exists collate
	interval at time zone with without over partition by order asc desc nulls first last
	rows range groups preceding following unbounded current row filter within group
	extract from for position substring trim leading trailing both overlay placing
	array map struct list row tuple date timestamp timestamptz timestamp_ntz timestamp_ltz timestamp_tz
	time timetz datetime datetime64 date32 varchar char character text string integer int int2 int4
	int8 int16 int32 int64 int128 int256 uint8 uint16 uint32 uint64 uint128 uint256 bigint smallint
	tinyint hugeint ubigint uinteger usmallint utinyint uhugeint float float4 float8 float32 float64
	double real decimal numeric number bignumeric boolean bool blob bytea bytes binary varbinary json
	uuid varying precision signed unsigned nullable lowcardinality fixedstring enum enum8 enum16
	ipv4 ipv6 nested geography variant object bit bitstring union
	year years month months day days hour hours minute minutes second seconds millisecond
	milliseconds microsecond microseconds nanosecond nanoseconds week weeks isoweek quarter quarters
	decade decades century centuries millennium epoch dow doy isodow isoyear yearweek dayofweek dayofyear
	current_date current_timestamp current_time localtimestamp localtime current_user session_user
	where select except intersect limit offset having join on using natural cross inner outer left
	right full semi anti asof positional lateral qualify window values default unknown nan inf
	infinity isnull notnull unnest div mod global if ignore respect columns star exclude replace
	rollup cube grouping sets materialized recursive fetch only ties percent sample tablesample
	to symmetric asymmetric similar uescape
`)

// Refs lists the bare column references of an expression, in order: words
// and quoted names that are not keywords, not function names (followed by
// "("), not part of a dotted name, not a type (after AS or ::), not the
// type of a typed literal (DATE '2025-01-01') and not a named argument or
// window. ok is false when the expression holds a subquery or a lambda,
// whose names the caller cannot tell from columns: it should then check
// nothing.
func Refs(d Dialect, s string) (refs []Ref, ok bool) {
	toks, issue := Lex(d, s)
	if issue != nil {
		return nil, false
	}
	for _, t := range toks {
		w := strings.ToLower(t.Text)
		if t.Kind == Punct && t.Text == "->" || t.Kind == Word && (w == "select" || w == "lambda") {
			return nil, false
		}
	}
	for i, t := range toks {
		var name string
		switch t.Kind {
		case Word:
			if keywords[strings.ToLower(t.Text)] || statementWords[strings.ToLower(t.Text)] {
				continue
			}
			name = t.Text
		case Name:
			name = strings.ReplaceAll(t.Text[1:len(t.Text)-1], t.Text[:1]+t.Text[:1], t.Text[:1])
		default:
			continue
		}
		if !isRef(toks, i) {
			continue
		}
		refs = append(refs, Ref{Name: name, Quoted: t.Kind == Name, Offset: t.Offset})
	}
	return refs, true
}

// isRef tells a column reference from the other uses of a name by the
// tokens around it.
func isRef(toks []Token, i int) bool {
	prev, next := Token{Kind: -1}, Token{Kind: -1}
	if i > 0 {
		prev = toks[i-1]
	}
	if i+1 < len(toks) {
		next = toks[i+1]
	}
	if next.Kind == Punct {
		switch next.Text {
		case "(", ".", "=>", ":":
			return false // call, qualifier, named argument, struct key
		}
	}
	if next.Kind == String {
		return false // typed literal
	}
	if prev.Kind == Punct && (prev.Text == "." || prev.Text == "::") {
		return false
	}
	if prev.Kind == Word {
		switch strings.ToLower(prev.Text) {
		case "as", "over", "collate", "interval":
			return false
		}
	}
	return true
}

// IsKeyword reports whether w (any case) is a keyword, type name or date
// part: a word that names no column.
func IsKeyword(w string) bool {
	w = strings.ToLower(w)
	return keywords[w] || statementWords[w]
}
