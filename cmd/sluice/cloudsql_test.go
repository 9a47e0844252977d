package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The compiled SQL for Snowflake and BigQuery cannot run here; these checks
// read the golden files (what sluice compile prints) the way each engine's
// parser would at the lexical level, and hold them to what the vendors
// document: literals and quoted names well formed in the engine's own
// escaping, parentheses and CASE ... END balanced per statement, only
// functions the engine has, regular expressions in the engine's syntax, and
// names quoted the way the engine stores them.

type token struct {
	kind string // word, ident (quoted name), string, number, punct
	text string // the source text
	val  string // a string's value / a quoted name's name
	line int
}

// sqlDialect says how one engine spells literals and names.
type sqlDialect struct {
	name      string
	identQ    byte // quote of names
	funcs     map[string]bool
	reserved  map[string]bool
	regexFns  map[string]bool
	unescape  func(body string) (string, error)
	rawString bool // r'...' raw strings (BigQuery)
}

// lex splits SQL into tokens, failing on unterminated literals or names.
func (d sqlDialect) lex(sql string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case (c == 'r' || c == 'R') && d.rawString && i+1 < len(sql) && (sql[i+1] == '\'' || sql[i+1] == '"'):
			q := sql[i+1]
			j := strings.IndexByte(sql[i+2:], q)
			if j < 0 || strings.Contains(sql[i+2:i+2+j], "\n") {
				return nil, fmt.Errorf("line %d: unterminated raw string", line)
			}
			toks = append(toks, token{"string", sql[i : i+3+j], sql[i+2 : i+2+j], line})
			i += 3 + j
		case c == '\'' || c == d.identQ || (c == '"' && d.identQ != '"'):
			j := i + 1
			for ; j < len(sql); j++ {
				if sql[j] == '\\' {
					j++
					continue
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c && c != '`' && d.name == "snowflake" {
						j++ // '' or "" inside
						continue
					}
					break
				}
				if sql[j] == '\n' && d.name == "bigquery" {
					return nil, fmt.Errorf("line %d: line break inside a quoted string (BigQuery needs \\n)", line)
				}
			}
			if j >= len(sql) {
				return nil, fmt.Errorf("line %d: unterminated %c-quoted text", line, c)
			}
			body := sql[i+1 : j]
			kind := "string"
			if c == d.identQ {
				kind = "ident"
			}
			val, err := d.unescape(body)
			if c == '"' && d.name == "snowflake" {
				val, err = strings.ReplaceAll(body, `""`, `"`), nil
			}
			if err != nil {
				return nil, fmt.Errorf("line %d: %s %s: %w", line, kind, sql[i:j+1], err)
			}
			toks = append(toks, token{kind, sql[i : j+1], val, line})
			line += strings.Count(sql[i:j+1], "\n")
			i = j + 1
		case unicode.IsLetter(rune(c)) || c == '_' || c == '@' || c == '$':
			j := i
			for j < len(sql) && (unicode.IsLetter(rune(sql[j])) || unicode.IsDigit(rune(sql[j])) || sql[j] == '_' || sql[j] == '$' || sql[j] == '@' || sql[j] == '~' || sql[j] == '/') {
				j++
			}
			toks = append(toks, token{"word", sql[i:j], "", line})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.') {
				j++
			}
			toks = append(toks, token{"number", sql[i:j], "", line})
			i = j
		default:
			toks = append(toks, token{"punct", string(c), "", line})
			i++
		}
	}
	return toks, nil
}

// escapes common to both engines' quoted strings.
func unescapeBackslash(body string, doubledQuote bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\'' && doubledQuote && i+1 < len(body) && body[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(body) {
			return "", fmt.Errorf("dangling backslash")
		}
		i++
		switch e := body[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\', '\'', '"', '`':
			b.WriteByte(e)
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+n >= len(body)+1 || i+1+n > len(body) {
				return "", fmt.Errorf("short \\%c escape", e)
			}
			v, err := strconv.ParseUint(body[i+1:i+1+n], 16, 32)
			if err != nil {
				return "", fmt.Errorf("bad \\%c escape %q", e, body[i+1:i+1+n])
			}
			b.WriteRune(rune(v))
			i += n
		default:
			return "", fmt.Errorf("escape \\%c has no meaning here", e)
		}
	}
	return b.String(), nil
}

// Functions each engine documents, as sluice's SQL uses them (checked
// against the vendors' function references), and the keywords that an
// opening parenthesis may follow.
var (
	commonKeywords = words("IN EXISTS AS AND OR NOT THEN ELSE WHEN FROM JOIN ON WHERE SELECT OVER BY HAVING WITH UNION ALL IS NULL CASE LIKE VALUES USING INSERT")
	snowflakeFuncs = words("ARRAY_AGG CAST COALESCE COUNT SUM MIN MAX MIN_BY LEAST GREATEST HASH MD5 REGEXP_LIKE REGEXP_REPLACE REGEXP_SUBSTR REGEXP_INSTR " +
		"MOD TRY_CAST LOWER UPPER TRIM IFF NULLIF ROW_NUMBER DATEADD DATEDIFF CONVERT_TIMEZONE CURRENT_TIMESTAMP FLOOR OBJECT_CONSTRUCT INFER_SCHEMA TABLE " +
		"NUMBER DECIMAL VARCHAR WITHIN GROUP TEMPLATE FORMAT_NAME " +
		"BITAND TO_JSON BOOLAND_AGG TRY_TO_BOOLEAN TO_VARCHAR GET FLATTEN PARSE_JSON SHA2 CONCAT")
	bigqueryFuncs = words("ARRAY_AGG CAST SAFE_CAST COALESCE COUNT COUNTIF SUM MIN MAX MIN_BY LEAST GREATEST FARM_FINGERPRINT FORMAT TO_HEX MD5 " +
		"REGEXP_CONTAINS REGEXP_REPLACE REGEXP_EXTRACT LOWER UPPER TRIM IF NULLIF ROW_NUMBER TIMESTAMP_SUB TIMESTAMP CURRENT_DATETIME DATE_DIFF DATE FLOOR " +
		"SAFE_OFFSET NUMERIC BIGNUMERIC LOGICAL_AND MOD OPTIONS TIMESTAMP_ADD CURRENT_TIMESTAMP " +
		"TO_JSON_STRING JSON_VALUE JSON_QUERY_ARRAY UNNEST SHA256 CONCAT")
)

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

func merge(ms ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// Reserved keywords (the vendors' lists): an unquoted alias may not be one.
var (
	snowflakeReserved = words("ACCOUNT ALL ALTER AND ANY AS BETWEEN BY CASE CAST CHECK COLUMN CONNECT CONNECTION CONSTRAINT CREATE CROSS CURRENT " +
		"CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER DATABASE DELETE DISTINCT DROP ELSE EXISTS FALSE FOLLOWING FOR FROM FULL GRANT " +
		"GROUP GSCLUSTER HAVING ILIKE IN INCREMENT INNER INSERT INTERSECT INTO IS ISSUE JOIN LATERAL LEFT LIKE LOCALTIME LOCALTIMESTAMP MINUS " +
		"NATURAL NOT NULL OF ON OR ORDER ORGANIZATION QUALIFY REGEXP REVOKE RIGHT RLIKE ROW ROWS SAMPLE SCHEMA SELECT SET SOME START TABLE " +
		"TABLESAMPLE THEN TO TRIGGER TRUE TRY_CAST UNION UNIQUE UPDATE USING VALUES VIEW WHEN WHENEVER WHERE WITH")
	bigqueryReserved = words("ALL AND ANY ARRAY AS ASC ASSERT_ROWS_MODIFIED AT BETWEEN BY CASE CAST COLLATE CONTAINS CREATE CROSS CUBE CURRENT " +
		"DEFAULT DEFINE DESC DISTINCT ELSE END ENUM ESCAPE EXCEPT EXCLUDE EXISTS EXTRACT FALSE FETCH FOLLOWING FOR FROM FULL GROUP GROUPING GROUPS " +
		"HASH HAVING IF IGNORE IN INNER INTERSECT INTERVAL INTO IS JOIN LATERAL LEFT LIKE LIMIT LOOKUP MERGE NATURAL NEW NO NOT NULL NULLS OF ON " +
		"OR ORDER OUTER OVER PARTITION PRECEDING PROTO QUALIFY RANGE RECURSIVE RESPECT RIGHT ROLLUP ROWS SELECT SET SOME STRUCT TABLESAMPLE THEN " +
		"TO TREAT TRUE UNBOUNDED UNION UNNEST USING WHEN WHERE WINDOW WITH WITHIN")
)

var cloudDialects = []sqlDialect{
	{
		name: "snowflake", identQ: '"',
		funcs:    merge(commonKeywords, snowflakeFuncs),
		reserved: snowflakeReserved,
		regexFns: words("REGEXP_LIKE REGEXP_REPLACE REGEXP_SUBSTR REGEXP_INSTR"),
		unescape: func(body string) (string, error) { return unescapeBackslash(body, true) },
	},
	{
		name: "bigquery", identQ: '`', rawString: true,
		funcs:    merge(commonKeywords, bigqueryFuncs),
		reserved: bigqueryReserved,
		regexFns: words("REGEXP_CONTAINS REGEXP_REPLACE REGEXP_EXTRACT"),
		unescape: func(body string) (string, error) { return unescapeBackslash(body, false) },
	},
}

// compiledSQL is the SQL part of a compile golden file.
func compiledSQL(t *testing.T, dialect string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "compile-quickstart-"+dialect+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	start := strings.Index(s, "--- stdout\n")
	end := strings.LastIndex(s, "--- stderr\n")
	if start < 0 || end < start {
		t.Fatal("golden file without stdout")
	}
	return s[start+len("--- stdout\n") : end]
}

// statements splits tokens at top-level semicolons.
func statements(toks []token) [][]token {
	var out [][]token
	var cur []token
	for _, tk := range toks {
		if tk.kind == "punct" && tk.text == ";" {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, tk)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

var simpleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

func TestCloudSQLIsWellFormed(t *testing.T) {
	for _, d := range cloudDialects {
		t.Run(d.name, func(t *testing.T) {
			toks, err := d.lex(compiledSQL(t, d.name))
			if err != nil {
				t.Fatal(err)
			}
			stmts := statements(toks)
			if len(stmts) < 50 {
				t.Fatalf("only %d statements: the golden file looks truncated", len(stmts))
			}
			for _, st := range stmts {
				checkStatement(t, d, st)
			}
		})
	}
}

// The SQL of the sync state (the planner's diff and the state store's
// statements for one plan and one sync), recorded against each engine's
// loopback fake by the connectors' TestSyncStateSQL, holds to the same
// rules.
func TestCloudStateSQLIsWellFormed(t *testing.T) {
	for _, d := range cloudDialects {
		t.Run(d.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", "connectors", d.name, "testdata", "state-"+d.name+".sql"))
			if err != nil {
				t.Fatal(err)
			}
			toks, err := d.lex(string(data))
			if err != nil {
				t.Fatal(err)
			}
			stmts := statements(toks)
			if len(stmts) < 30 {
				t.Fatalf("only %d statements: the golden file looks truncated", len(stmts))
			}
			for _, st := range stmts {
				checkStatement(t, d, st)
			}
		})
	}
}

// reporter is what the checks report to: a test, or a collector.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

func checkStatement(t reporter, d sqlDialect, st []token) {
	t.Helper()
	depth, cases, ends := 0, 0, 0
	for i, tk := range st {
		up := strings.ToUpper(tk.text)
		switch {
		case tk.kind == "punct" && tk.text == "(":
			depth++
			if i > 0 && st[i-1].kind == "word" {
				name := strings.ToUpper(st[i-1].text)
				if !d.funcs[name] {
					t.Errorf("line %d: %s has no function %s (or it is not in the list checked against the vendor's docs)", tk.line, d.name, st[i-1].text)
				}
			}
		case tk.kind == "punct" && tk.text == ")":
			depth--
			if depth < 0 {
				t.Errorf("line %d: unbalanced )", tk.line)
				depth = 0
			}
		case tk.kind == "word" && up == "CASE":
			cases++
		case tk.kind == "word" && up == "END":
			ends++
		case tk.kind == "punct" && tk.text == "%" && d.name == "bigquery":
			t.Errorf("line %d: BigQuery has no %% operator (MOD)", tk.line)
		case tk.kind == "punct" && tk.text == "`" && d.name == "snowflake":
			t.Errorf("line %d: back quote in Snowflake SQL", tk.line)
		case tk.kind == "string" && d.name == "bigquery" && strings.HasPrefix(tk.text, `"`):
			t.Errorf("line %d: double-quoted text %s is a string in BigQuery, not a name", tk.line, tk.text)
		case tk.kind == "ident" && d.name == "snowflake" && simpleName.MatchString(tk.val) && strings.ToUpper(tk.val) != tk.val:
			t.Errorf("line %d: %s is quoted in lower case: unquoted references to it (user expressions) resolve to %s", tk.line, tk.text, strings.ToUpper(tk.val))
		case tk.kind == "word" && (up == "FILTER" || up == "QUALIFY") && d.name == "bigquery" && i+1 < len(st) && st[i+1].text == "(":
			t.Errorf("line %d: %s ( is not GoogleSQL", tk.line, up)
		}
		if tk.kind == "word" && i > 0 && strings.EqualFold(st[i-1].text, "AS") && d.reserved[up] && up != "SELECT" && up != "WITH" {
			t.Errorf("line %d: alias %s is a reserved keyword in %s: quote it", tk.line, tk.text, d.name)
		}
		if tk.kind == "word" && i > 0 && st[i-1].text == "." && d.reserved[up] {
			t.Errorf("line %d: column %s is a reserved keyword in %s: quote it", tk.line, tk.text, d.name)
		}
		if tk.kind == "word" && d.regexFns[up] {
			checkRegexp(t, d, st, i)
		}
	}
	if depth != 0 {
		t.Errorf("line %d: statement leaves %d parentheses open", st[0].line, depth)
	}
	if cases != ends {
		t.Errorf("line %d: %d CASE for %d END", st[0].line, cases, ends)
	}
	if d.name == "bigquery" && len(st) > 0 {
		if first := strings.ToUpper(st[0].text); first == "UPDATE" || first == "DELETE" {
			hasWhere := false
			for _, tk := range st {
				hasWhere = hasWhere || strings.EqualFold(tk.text, "WHERE")
			}
			if !hasWhere {
				t.Errorf("line %d: BigQuery requires WHERE in %s", st[0].line, first)
			}
		}
	}
}

// checkRegexp finds the pattern argument of a regular-expression call (the
// string literal after the first top-level comma) and compiles it in the
// engine's syntax: POSIX ERE for Snowflake (Go's POSIX parser), RE2 for
// BigQuery (Go's regexp is RE2's syntax).
func checkRegexp(t reporter, d sqlDialect, st []token, i int) {
	t.Helper()
	if i+1 >= len(st) || st[i+1].text != "(" {
		return
	}
	depth := 0
	for j := i + 1; j < len(st); j++ {
		tk := st[j]
		switch tk.text {
		case "(":
			depth++
			continue
		case ")":
			depth--
			if depth == 0 {
				return
			}
			continue
		case ",":
			if depth != 1 {
				continue
			}
			if j+1 >= len(st) || st[j+1].kind != "string" {
				return // a computed pattern
			}
			pat := st[j+1].val
			if d.name == "snowflake" {
				if strings.Contains(pat, "(?") {
					t.Errorf("line %d: %s: (? groups and flags are not POSIX: %q", tk.line, st[i].text, pat)
				}
				if _, err := regexp.CompilePOSIX(pat); err != nil {
					t.Errorf("line %d: %s pattern is not POSIX ERE: %v", tk.line, st[i].text, err)
				}
			} else {
				re, err := syntax.Parse(pat, syntax.Perl)
				if err != nil {
					t.Errorf("line %d: %s pattern is not RE2: %v", tk.line, st[i].text, err)
				} else if strings.EqualFold(st[i].text, "REGEXP_EXTRACT") && re.MaxCap() > 1 {
					t.Errorf("line %d: REGEXP_EXTRACT pattern with %d capturing groups (BigQuery allows one)", tk.line, re.MaxCap())
				}
			}
			return
		}
	}
}

// The checks catch what they are for: a DuckDB statement fails them.
func TestCloudSQLChecksCatchMistakes(t *testing.T) {
	tests := []struct {
		dialect int
		sql     string
		want    string
	}{
		{0, `SELECT regexp_full_match("V", '^a$')`, "no function regexp_full_match"},
		{0, `SELECT REGEXP_LIKE("V", '(?i)a')`, "not POSIX"},
		{0, `SELECT "email" FROM "SLUICE"."T"`, "quoted in lower case"},
		{0, `SELECT (1`, "parentheses open"},
		{1, "SELECT `a` FROM `t` WHERE a % 2 = 0", "no % operator"},
		{1, "SELECT REGEXP_EXTRACT(`a`, r'(x)(y)')", "capturing groups"},
		{1, "SELECT first(`a` ORDER BY `b`) FROM `t`", "no function first"},
		{1, "DELETE FROM `t`", "requires WHERE"},
		{1, "SELECT 'a\nb'", "line break inside"},
		{1, "SELECT 1 AS rows", "reserved keyword"},
		{1, "SELECT c.hash FROM `t` AS c", "column hash is a reserved keyword"},
		{0, "SELECT 1 AS sample", "reserved keyword"},
	}
	for _, tc := range tests {
		d := cloudDialects[tc.dialect]
		ft := &fakeT{}
		toks, err := d.lex(tc.sql)
		if err != nil {
			ft.msgs = append(ft.msgs, err.Error())
		} else {
			for _, st := range statements(toks) {
				checkStatement(ft, d, st)
			}
		}
		if !strings.Contains(strings.Join(ft.msgs, "\n"), tc.want) {
			t.Errorf("%s: %q: want a complaint containing %q, got %v", d.name, tc.sql, tc.want, ft.msgs)
		}
	}
}

// fakeT collects what checkStatement reports.
type fakeT struct{ msgs []string }

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
