package dialect

import (
	"strconv"
	"strings"
)

// The methods below are what the sync engine needs beyond Dialect (see
// sync/internal/sqlfn.Funcs and UnenforcedKeys): the planner's diff and the
// sync state run on BigQuery with them. BigQuery's UPDATE, DELETE and MERGE
// are ordinary DML statements, so the state is updated in place; its
// PRIMARY KEY is informational only (NOT ENFORCED), so locks are claimed
// and read back rather than taken by a failing duplicate insert (a
// finished DML job is visible to every later query, which is all the claim
// protocol needs).

// Hash fingerprints the values written with %T, which quotes strings and
// spells NULL, so that NULL, the empty string and 'NULL' differ. The sign bit is
// cleared: sluice reads hashes as unsigned 64-bit integers.
func (b BigQuery) Hash(exprs []string) string {
	return "(" + b.Hash64(exprs...) + " & 9223372036854775807)"
}

// HashType is Hash's type.
func (BigQuery) HashType() string { return "INT64" }

// Canary hashes fixed values of every common type: it changes when the
// fingerprint or the text of a type does, which would make stored hashes
// incomparable.
func (b BigQuery) Canary() string {
	return b.Hash([]string{"'sluice'", "CAST(42 AS INT64)", "CAST(1.5 AS FLOAT64)", "CAST(2.25 AS NUMERIC)",
		"TIMESTAMP '2020-02-29 12:34:56'", "DATE '2020-02-29'", "TRUE", "CAST(NULL AS STRING)", "'é\u00e9'"})
}

// SampleBy uses ARRAY_AGG with ORDER BY and LIMIT, which keeps only n
// values per group; rows outside filter are NULL and left out.
func (BigQuery) SampleBy(arg, key string, n int, filter string) string {
	return "TO_JSON_STRING(ARRAY_AGG(IF(" + filter + ", " + arg + ", NULL) IGNORE NULLS ORDER BY " + key + " LIMIT " + strconv.Itoa(n) + "))"
}

// KeyTransform applies a mapping transform to a sync key.
func (b BigQuery) KeyTransform(name, expr string) (string, bool) {
	switch name {
	case "trim":
		return b.Trim(expr), true
	case "lower":
		return b.Lower(expr), true
	case "upper":
		return b.Upper(expr), true
	case "email":
		return b.Lower(b.Trim(expr)), true
	case "sha256":
		return "TO_HEX(SHA256(" + expr + "))", true
	case "string":
		return expr, true
	}
	return "", false
}

// IsTrue is true for a true value (1, 'true', 'yes'...), false otherwise,
// NULL included.
func (BigQuery) IsTrue(expr string) string {
	return "COALESCE(LOWER(CAST(" + expr + " AS STRING)) IN ('1', 'true', 't', 'yes', 'y'), FALSE)"
}

// FromJSON unnests the JSON array given as the only parameter.
func (b BigQuery) FromJSON(cols []string) string {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "JSON_VALUE(r, " + b.String(`$."`+c+`"`) + ") AS " + b.Ident(c)
	}
	return "(SELECT " + strings.Join(sel, ", ") + " FROM UNNEST(JSON_QUERY_ARRAY(?)) AS r)"
}

// IsDistinct is true when a and b differ, NULLs compared as values.
func (BigQuery) IsDistinct(a, b string) string { return a + " IS DISTINCT FROM " + b }

// BoolAnd is LOGICAL_AND.
func (BigQuery) BoolAnd(expr string) string { return "LOGICAL_AND(" + expr + ")" }

// FirstPerKey keeps n rows per key with QUALIFY (the query has a WHERE,
// which BigQuery's QUALIFY asks for).
func (BigQuery) FirstPerKey(query, key string, n int) string {
	return query + " QUALIFY ROW_NUMBER() OVER (PARTITION BY " + key + ") <= " + strconv.Itoa(n)
}

// Text is the text type of sync state.
func (BigQuery) Text() string { return "STRING" }

// BigInt is the integer type of sync state.
func (BigQuery) BigInt() string { return "INT64" }

// Timestamp is the time type of sync state (UTC, as TimestampLiteral
// writes it).
func (BigQuery) Timestamp() string { return "TIMESTAMP" }

// Boolean is the boolean type of sync state.
func (BigQuery) Boolean() string { return "BOOL" }

// Placeholder is the client's positional parameter marker.
func (BigQuery) Placeholder() string { return "?" }

// KeysUnenforced marks BigQuery as a warehouse whose PRIMARY KEY does not
// stop a duplicate insert.
func (BigQuery) KeysUnenforced() bool { return true }
