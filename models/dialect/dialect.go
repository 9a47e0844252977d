// Package dialect turns the warehouse-neutral needs of sluice's models into
// each warehouse's SQL. Every identifier and literal that reaches SQL goes
// through a Dialect, so a name written in YAML can never change a statement's
// meaning.
package dialect

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Dialect renders SQL for one warehouse engine.
type Dialect interface {
	// Name is the dialect's identifier: duckdb, clickhouse, snowflake, bigquery.
	Name() string

	// Ident quotes one identifier (column, table or schema name).
	Ident(name string) string
	// Table renders a schema-qualified table name.
	Table(schema, name string) string
	// TableRef renders a table reference written by a user in YAML, such as
	// raw.orders or db.raw.orders; each dot-separated part is quoted.
	TableRef(ref string) string
	// String renders a string literal.
	String(s string) string

	// CreateSchema creates a schema when it does not exist.
	CreateSchema(schema string) string
	// ReplaceTable (re)creates a table from a query.
	ReplaceTable(table, query string) string
	// ReplaceView (re)creates a view.
	ReplaceView(view, query string) string
	// DropTable drops a table when it exists.
	DropTable(table string) string
	// LoadCSV (re)creates a table from a CSV file with a header row;
	// types overrides detected column types (column -> SQL type).
	LoadCSV(table, path string, types []ColumnType) (string, error)

	// CastText casts an expression to the dialect's text type.
	CastText(expr string) string
	// Concat concatenates text expressions.
	Concat(exprs ...string) string

	// Cast converts an expression to a SQL type written in the project
	// (a trait's type:).
	Cast(expr, typ string) string
	// Now is the build's current time as a timestamp without time zone,
	// on the wall clock of the IANA zone tz (the project's time_zone).
	Now(tz string) string
	// TimestampLiteral renders t as a timestamp without time zone, on the
	// wall clock of t's location.
	TimestampLiteral(t time.Time) string
	// TimestampMinus subtracts a duration from a timestamp expression.
	TimestampMinus(ts string, d time.Duration) string
	// DaysBetween counts the calendar days from one timestamp expression to
	// another (day boundaries crossed).
	DaysBetween(from, to string) string
	// FirstBy is an aggregate: the value of expr on the first row of the
	// group by order, among the rows where cond holds (every row when cond
	// is empty) and expr is not NULL. It is how survivorship rules pick one
	// value per profile in a single pass over a table.
	FirstBy(expr, cond string, order []SortKey) string

	// Identity stitching (package models/identity) needs the methods below.

	// TryCast converts an expression to a SQL type, giving NULL instead of
	// an error when a value does not convert.
	TryCast(expr, typ string) string
	// RegexpFullMatch is true when the whole text matches the RE2 pattern.
	RegexpFullMatch(expr, pattern string) string
	// RegexpMatches is true when the RE2 pattern matches part of the text.
	RegexpMatches(expr, pattern string) string
	// RegexpReplace replaces every match of the RE2 pattern; replacement
	// may refer to groups as \1, \2...
	RegexpReplace(expr, pattern, replacement string) string
	// RegexpFullMatchOrNull is the text itself when it wholly matches the
	// RE2 pattern, NULL otherwise. The expression appears once in the
	// result, so a long expression is not repeated.
	RegexpFullMatchOrNull(expr, pattern string) string
	// Hash64 is a well-mixed 64-bit hash of the values (only compared, so
	// signed or unsigned does not matter).
	Hash64(exprs ...string) string
	// HexDigest is a stable hexadecimal digest (MD5) of a text expression.
	HexDigest(expr string) string
	// ArgMin is an aggregate: arg on the row with the smallest key.
	ArgMin(arg, key string) string
	// Mod is the remainder of the integer division of a by b (it may be an
	// operator expression: parenthesise it where it is an operand).
	Mod(a, b string) string

	// Portable building blocks: what SQL engines spell differently, or
	// what some (ClickHouse 18.16) lack, so that models write one query
	// for every warehouse.

	// Lower and Upper change the case of text, Unicode included.
	Lower(expr string) string
	Upper(expr string) string
	// Trim removes leading and trailing spaces.
	Trim(expr string) string
	// Bool is a boolean literal.
	Bool(b bool) string
	// RowNumber numbers the rows of a SELECT from 1, in no given order
	// (every row gets a distinct number).
	RowNumber() string
	// NumberRows is a query returning every column of query plus col, the
	// row's position (from 1) in the given order.
	NumberRows(query, col string, order []SortKey) string
	// SupportsCTE reports whether WITH name AS (subquery) works; see Scope.
	SupportsCTE() bool
}

// ColumnType pins one column's SQL type.
type ColumnType struct{ Column, Type string }

// SortKey is one key of an ordering for FirstBy. NULLs always sort last, so
// a row with an unknown time never wins a most-recent or first-seen pick.
type SortKey struct {
	Expr string
	Desc bool
	// NullsFirst puts NULLs first (NumberRows only; FirstBy always puts
	// them last).
	NullsFirst bool
}

var (
	mu       sync.RWMutex
	dialects = map[string]Dialect{}
)

// Register makes a dialect available by name.
func Register(d Dialect) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := dialects[d.Name()]; dup {
		panic("dialect: registered twice: " + d.Name())
	}
	dialects[d.Name()] = d
}

// Get returns the named dialect.
func Get(name string) (Dialect, error) {
	mu.RLock()
	defer mu.RUnlock()
	d, ok := dialects[name]
	if !ok {
		return nil, fmt.Errorf("unknown SQL dialect %q (available: %s)", name, strings.Join(names(), ", "))
	}
	return d, nil
}

// Names lists the registered dialects.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return names()
}

func names() []string {
	out := make([]string, 0, len(dialects))
	for n := range dialects {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// quoteWith doubles every occurrence of q inside s and wraps s in q: the
// standard SQL escape, valid for identifiers and literals in every dialect
// sluice targets.
func quoteWith(s string, q byte) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		if s[i] == q {
			b.WriteByte(q)
		}
		b.WriteByte(s[i])
	}
	b.WriteByte(q)
	return b.String()
}

// splitRef splits a dotted table reference; empty parts are kept so that
// callers can reject them.
func splitRef(ref string) []string { return strings.Split(ref, ".") }

// WorkSpace is implemented by dialects that keep a build's intermediate
// tables apart from the tables it publishes, where that is cheaper: DuckDB
// writes a table to its database file compressed and checkpointed, which
// costs about a third of the CPU of a statement that only feeds the next one.
type WorkSpace interface {
	// WorkSetup makes the work space for schema available; every statement
	// is idempotent.
	WorkSetup(schema string) []string
	// WorkTable names an intermediate table of schema.
	WorkTable(schema, name string) string
}

// Lists is implemented by dialects that aggregate values into a list and
// unnest it again cheaply: grouping rows by a value, working on each
// value once and unnesting the rows costs less than joining every row back
// to its value.
type Lists interface {
	// ListAgg aggregates expr into a list.
	ListAgg(expr string) string
	// Unnest turns a list back into rows; several in one SELECT are
	// unnested side by side.
	Unnest(expr string) string
}

// Session is implemented by dialects whose SQL relies on session settings
// that their connector applies to every query: the statements that apply
// them open every compiled step, so that a step's file run by hand gives
// what a build gives.
type Session interface {
	SessionStatements() []string
}
