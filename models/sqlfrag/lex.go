// Package sqlfrag checks the SQL a user writes in a project (a segment's
// where, a trait's expression, aggregate or where, an identity edge's where,
// a source's or segment's sql) before the compiler splices it into a
// statement. A fragment must be exactly one expression, a query exactly one
// query: nothing in it may end the statement it is spliced into, start
// another, or comment out the rest.
//
// The lexer knows the quoting rules of each dialect (which quotes delimit
// strings and names, whether a backslash escapes), so that a quote or a
// semicolon inside a string is read as the warehouse reads it.
package sqlfrag

import (
	"fmt"
	"strings"
)

// Dialect holds the lexical rules that differ between warehouses.
type Dialect struct {
	Name string
	// BackslashEscapes: a backslash escapes the next character inside a
	// quoted string or name (ClickHouse, BigQuery, Snowflake strings).
	BackslashEscapes bool
	// DoubleQuotedStrings: "..." is a string, not a name (BigQuery).
	DoubleQuotedStrings bool
	// Backquotes: `...` is a name (ClickHouse, BigQuery).
	Backquotes bool
	// DollarQuotes: $$...$$ and $tag$...$tag$ are strings (DuckDB,
	// Snowflake).
	DollarQuotes bool
}

// For returns the rules of a dialect by name (duckdb, clickhouse,
// snowflake, bigquery). An unknown name gets the strictest reading: every
// quoting style any warehouse knows.
func For(name string) Dialect {
	base, _, _ := strings.Cut(name, "-") // clickhouse-18: a ClickHouse version
	switch base {
	case "duckdb":
		return Dialect{Name: name, DollarQuotes: true}
	case "clickhouse":
		return Dialect{Name: name, BackslashEscapes: true, Backquotes: true}
	case "snowflake":
		return Dialect{Name: name, BackslashEscapes: true, DollarQuotes: true}
	case "bigquery":
		return Dialect{Name: name, BackslashEscapes: true, DoubleQuotedStrings: true, Backquotes: true}
	}
	return Dialect{Name: name, BackslashEscapes: true, Backquotes: true, DollarQuotes: true}
}

// Kind is the kind of a token.
type Kind int

// Token kinds.
const (
	Word    Kind = iota // keyword, function or bare name
	Name                // quoted name: "x" or `x`
	String              // string literal, quotes included
	Number              // numeric literal
	Punct               // operator or punctuation, one or two characters
	Comment             // -- or /* */ comment
)

// Token is one lexical unit; Offset is its byte offset in the input.
type Token struct {
	Kind   Kind
	Text   string
	Offset int
}

// Issue is one reason a fragment is refused; Offset is the byte offset in
// the fragment where it starts.
type Issue struct {
	Offset  int
	Message string
}

func (i Issue) Error() string { return fmt.Sprintf("at offset %d: %s", i.Offset, i.Message) }

// Lex splits SQL into tokens. It stops at the first unterminated string,
// name or comment and reports it; the tokens before it are returned.
func Lex(d Dialect, s string) ([]Token, *Issue) {
	var out []Token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i
			}
			out = append(out, Token{Comment, s[i : i+j], i})
			i += j
		case c == '/' && strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return out, &Issue{i, "unterminated /* comment"}
			}
			out = append(out, Token{Comment, s[i : i+2+j+2], i})
			i += 2 + j + 2
		case c == '\'' || c == '"' && d.DoubleQuotedStrings:
			j, ok := closeQuote(d, s, i)
			if !ok {
				return out, &Issue{i, "unterminated string: this quote is never closed"}
			}
			out = append(out, Token{String, s[i:j], i})
			i = j
		case c == '"' || c == '`' && d.Backquotes:
			j, ok := closeQuote(d, s, i)
			if !ok {
				return out, &Issue{i, "unterminated quoted name: this quote is never closed"}
			}
			out = append(out, Token{Name, s[i:j], i})
			i = j
		case c == '$' && d.DollarQuotes && dollarTag(s[i:]) != "":
			tag := dollarTag(s[i:])
			j := strings.Index(s[i+len(tag):], tag)
			if j < 0 {
				return out, &Issue{i, "unterminated dollar-quoted string"}
			}
			end := i + len(tag) + j + len(tag)
			out = append(out, Token{String, s[i:end], i})
			i = end
		case isWordStart(c):
			j := i + 1
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			out = append(out, Token{Word, s[i:j], i})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (isWordByte(s[j]) || s[j] == '.' || (s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			out = append(out, Token{Number, s[i:j], i})
			i = j
		default:
			n := 1
			if i+1 < len(s) && twoCharOps[s[i:i+2]] {
				n = 2
			}
			out = append(out, Token{Punct, s[i : i+n], i})
			i += n
		}
	}
	return out, nil
}

var twoCharOps = map[string]bool{
	"<=": true, ">=": true, "<>": true, "!=": true, "==": true, "||": true, "->": true,
	"::": true, "=>": true, ">>": true, "<<": true, "~~": true, "!~": true, "&&": true,
}

// closeQuote returns the end (exclusive) of the quoted token starting at i:
// a doubled quote stands for itself, and a backslash escapes the next
// character where the dialect says so.
func closeQuote(d Dialect, s string, i int) (int, bool) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if d.BackslashEscapes {
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(s), false
}

// dollarTag returns the opening $tag$ of a dollar-quoted string at the
// start of s, or "".
func dollarTag(s string) string {
	if len(s) < 2 || s[0] != '$' {
		return ""
	}
	for j := 1; j < len(s); j++ {
		switch {
		case s[j] == '$':
			return s[:j+1]
		case !(isWordByte(s[j]) && !(j == 1 && s[j] >= '0' && s[j] <= '9')):
			return ""
		}
	}
	return ""
}

func isWordStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isWordByte(c byte) bool { return isWordStart(c) || c >= '0' && c <= '9' || c == '$' }

// Statements counts the statements of SQL as the warehouse would split
// them: on semicolons outside strings, names and comments, ignoring empty
// ones.
func Statements(d Dialect, s string) (int, error) {
	toks, issue := Lex(d, s)
	if issue != nil {
		return 0, issue
	}
	n, open := 0, false
	for _, t := range toks {
		switch {
		case t.Kind == Comment:
		case t.Kind == Punct && t.Text == ";":
			open = false
		case !open:
			open = true
			n++
		}
	}
	return n, nil
}
