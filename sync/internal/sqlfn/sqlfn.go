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
	// Types.
	Text() string
	BigInt() string
	Timestamp() string
	Boolean() string
	Placeholder() string
}

// For returns the functions of a dialect.
func For(d dialect.Dialect) (Funcs, error) {
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
func (duckDB) Text() string        { return "VARCHAR" }
func (duckDB) BigInt() string      { return "BIGINT" }
func (duckDB) Timestamp() string   { return "TIMESTAMP" }
func (duckDB) Boolean() string     { return "BOOLEAN" }
func (duckDB) Placeholder() string { return "?" }
