// Package sqlfn holds the SQL the sync engine needs beyond what
// models/dialect offers: row hashing, sampling aggregates, bulk inserts from
// a JSON parameter, MERGE. Identifiers and literals still go through the
// dialect.
package sqlfn

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/models/dialect"
)

// Funcs renders sync SQL for one warehouse.
type Funcs interface {
	dialect.Dialect
	// Hash hashes a row of expressions into the HashType; NULLs and order
	// matter. It must be fast: the planner hashes every model row.
	Hash(exprs []string) string
	// HashType is the SQL type of Hash.
	HashType() string
	// Canary is an expression hashing fixed values: if it changes between
	// runs, the engine's hash function changed (an upgrade) and stored
	// hashes cannot be compared.
	Canary() string
	// SampleBy is an aggregate returning, as a JSON array in text, the
	// values of arg on the n rows with the smallest key, among the rows
	// where filter holds.
	SampleBy(arg, key string, n int, filter string) string
	// KeyTransform applies a mapping transform to a text expression, when
	// the warehouse can.
	KeyTransform(name, expr string) (string, bool)
	// IsTrue is TRUE when expr is a true boolean (text 'true', 1...), FALSE
	// otherwise, NULL included.
	IsTrue(expr string) string
	// FromJSON is a relation reading the rows of a JSON array given as the
	// query's only parameter, with the named text columns.
	FromJSON(cols []string) string
	// IsDistinct is true when a and b differ, NULLs compared as values.
	IsDistinct(a, b string) string
	// BoolAnd is an aggregate: true when every value is true.
	BoolAnd(expr string) string
	// FirstPerKey keeps at most n rows of query per value of key.
	FirstPerKey(query, key string, n int) string
	// Types.
	Text() string
	BigInt() string
	Timestamp() string
	Boolean() string
	Placeholder() string
}

// Column is a column of a state table: its name and its SQL type (one of
// Funcs' types, or NotNull of one).
type Column = dialect.TableColumn

// Layout says how an insert-only warehouse stores a state table.
type Layout = dialect.TableLayout

// InsertOnly is implemented by the dialects of warehouses whose UPDATE,
// DELETE and MERGE are not ordinary statements (ClickHouse runs them as
// asynchronous mutations that a later query may not see yet). There the
// sync state store only inserts rows: a change of state is a new version
// of a row, read back as the latest version; a snapshot is rebuilt beside
// the old one and swapped in; old rows leave by whole partitions.
type InsertOnly interface {
	Funcs
	// NotNull is typ (one of Funcs' types) for a column that never holds
	// NULL, such as a sorting key.
	NotNull(typ string) string
	// CreateTable creates a table when it does not exist.
	CreateTable(table string, cols []Column, layout Layout) string
	// CreateView creates a view when it does not exist.
	CreateView(view, query string) string
	// Latest is an aggregate: the values of exprs, as one tuple, on the
	// row with the greatest values of by (compared in order); NULLs are
	// values like any other. Element reads the i-th value (from 1) of such
	// a tuple.
	Latest(exprs, by []string) string
	Element(tuple string, i int) string
	// Swap puts next in table's place, and table in old's, in one
	// statement: readers see the old table or the new one, never none.
	Swap(table, next, old string) string
	// Week is an integer naming the week of a timestamp: the date of its
	// Monday as yyyymmdd.
	Week(ts string) string
	// DropPartition drops the partition whose partition expression has the
	// given value (a literal; a tuple of literals for a tuple expression).
	DropPartition(table, value string) string
}

// UnenforcedKeys is implemented by the dialects of warehouses that accept
// PRIMARY KEY and UNIQUE but do not enforce them (Snowflake, BigQuery).
// Their UPDATE, DELETE and MERGE are ordinary statements, so the sync state
// is updated in place, but a lock cannot rely on a duplicate insert
// failing: locks and scheduled ticks are claimed and read back instead
// (sync/state/claims.go).
type UnenforcedKeys interface {
	Funcs
	// KeysUnenforced is true: the marker of this interface.
	KeysUnenforced() bool
}

// GroupingSets is implemented by the dialects that run GROUP BY GROUPING
// SETS. There the plan diffs model rows without grouping them by key: one
// statement gives both the per-class counts and the whole diff's count of
// distinct new keys, which a key with several rows would lower.
type GroupingSets interface {
	Funcs
	// GroupByAndTotal groups by expr and adds one row over all rows, whose
	// expr is NULL.
	GroupByAndTotal(expr string) string
}

// Ordinals is implemented by the dialects that number a query's rows
// cheaply. There the sync engine numbers the changes it materialises and
// commits accepted records by ranges of those numbers, in SQL, instead of
// one change-log row per record from Go.
type Ordinals interface {
	Funcs
	// OrdinalOver numbers the rows of a SELECT from 1 in the order of the
	// expression order, ties in any order.
	OrdinalOver(order string) string
}

// For returns the functions of a dialect: the dialect itself when it
// implements them (a warehouse plugs in through its dialect alone), the
// built-in ones otherwise.
func For(d dialect.Dialect) (Funcs, error) {
	if f, ok := d.(Funcs); ok {
		return f, nil
	}
	switch d.Name() {
	case "duckdb":
		return duckDB{d}, nil
	}
	return nil, fmt.Errorf("syncs do not support the %s warehouse yet", d.Name())
}

type duckDB struct{ dialect.Dialect }

func (duckDB) Hash(exprs []string) string { return "hash(" + strings.Join(exprs, ", ") + ")" }
func (duckDB) HashType() string           { return "UBIGINT" }
func (duckDB) Canary() string {
	return "hash('sluice', CAST(42 AS BIGINT), CAST(1.5 AS DOUBLE), CAST(2.25 AS DECIMAL(12,2)), TIMESTAMP '2020-02-29 12:34:56', DATE '2020-02-29', TRUE, CAST(NULL AS VARCHAR), 'é\u00e9')"
}
func (duckDB) SampleBy(arg, key string, n int, filter string) string {
	return "CAST(to_json(arg_min(" + arg + ", " + key + ", " + strconv.Itoa(n) + ") FILTER (WHERE " + filter + ")) AS VARCHAR)"
}
func (duckDB) KeyTransform(name, expr string) (string, bool) {
	switch name {
	case "trim":
		return "trim(" + expr + ")", true
	case "lower":
		return "lower(" + expr + ")", true
	case "upper":
		return "upper(" + expr + ")", true
	case "email":
		return "lower(trim(" + expr + "))", true
	case "sha256":
		return "sha256(" + expr + ")", true
	case "string":
		return expr, true
	}
	return "", false
}
func (duckDB) IsDistinct(a, b string) string { return a + " IS DISTINCT FROM " + b }
func (duckDB) BoolAnd(expr string) string    { return "bool_and(" + expr + ")" }
func (duckDB) FirstPerKey(query, key string, n int) string {
	return query + " QUALIFY row_number() OVER (PARTITION BY " + key + ") <= " + strconv.Itoa(n)
}
func (duckDB) IsTrue(expr string) string { return "(TRY_CAST(" + expr + " AS BOOLEAN) IS TRUE)" }
func (d duckDB) FromJSON(cols []string) string {
	types := make([]string, len(cols))
	sel := make([]string, len(cols))
	for i, c := range cols {
		types[i] = strconv.Quote(c) + `:"VARCHAR"`
		sel[i] = "r." + d.Ident(c) + " AS " + d.Ident(c)
	}
	return "(SELECT " + strings.Join(sel, ", ") + " FROM (SELECT unnest(from_json(CAST(? AS JSON), " + d.String("[{"+strings.Join(types, ",")+"}]") + ")) AS r))"
}
func (duckDB) GroupByAndTotal(expr string) string {
	return "GROUP BY GROUPING SETS ((" + expr + "), ())"
}
func (duckDB) OrdinalOver(order string) string {
	return "row_number() OVER (ORDER BY " + order + ")"
}
func (duckDB) Text() string        { return "VARCHAR" }
func (duckDB) BigInt() string      { return "BIGINT" }
func (duckDB) Timestamp() string   { return "TIMESTAMP" }
func (duckDB) Boolean() string     { return "BOOLEAN" }
func (duckDB) Placeholder() string { return "?" }

var _ Ordinals = duckDB{}

// ClickHouse is insert-only: its sync state takes that path.
var _ InsertOnly = dialect.ClickHouse{}

// Snowflake and BigQuery update in place but enforce no keys.
var (
	_ UnenforcedKeys = dialect.Snowflake{}
	_ UnenforcedKeys = dialect.BigQuery{}
)
