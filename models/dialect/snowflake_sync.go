package dialect

import (
	"strconv"
	"strings"
)

// The methods below are what the sync engine needs beyond Dialect (see
// sync/internal/sqlfn.Funcs and UnenforcedKeys): the planner's diff and the
// sync state run on Snowflake with them. Snowflake's UPDATE, DELETE and
// MERGE are ordinary transactional statements, so the state is updated in
// place; its PRIMARY KEY and UNIQUE constraints are not enforced, so locks
// are claimed and read back rather than taken by a failing duplicate
// insert (an insert is visible to the next read in every session, which is
// all the claim protocol needs).

// Hash hashes values in order with HASH, which takes any number of values
// of any type, NULLs included. The sign bit is cleared: sluice reads hashes
// as unsigned 64-bit integers.
func (Snowflake) Hash(exprs []string) string {
	return "BITAND(HASH(" + strings.Join(exprs, ", ") + "), 9223372036854775807)"
}

// HashType is Hash's type.
func (Snowflake) HashType() string { return "BIGINT" }

// Canary hashes fixed values of every common type: it changes when HASH or
// the text of a type does (an upgrade), which would make stored hashes
// incomparable.
func (s Snowflake) Canary() string {
	return s.Hash([]string{"'sluice'", "CAST(42 AS BIGINT)", "CAST(1.5 AS DOUBLE)", "CAST(2.25 AS NUMBER(12, 2))",
		"CAST('2020-02-29 12:34:56' AS TIMESTAMP_NTZ)", "CAST('2020-02-29' AS DATE)", "TRUE", "CAST(NULL AS VARCHAR)", "'é\u00e9'"})
}

// SampleBy uses MIN_BY's third argument, which returns an array of up to n
// values without aggregating the whole group; rows outside filter count as
// NULL keys, which MIN_BY skips.
func (Snowflake) SampleBy(arg, key string, n int, filter string) string {
	return "TO_JSON(MIN_BY(IFF(" + filter + ", " + arg + ", NULL), IFF(" + filter + ", " + key + ", NULL), " + strconv.Itoa(n) + "))"
}

// KeyTransform applies a mapping transform to a sync key.
func (s Snowflake) KeyTransform(name, expr string) (string, bool) {
	switch name {
	case "trim":
		return s.Trim(expr), true
	case "lower":
		return s.Lower(expr), true
	case "upper":
		return s.Upper(expr), true
	case "email":
		return s.Lower(s.Trim(expr)), true
	case "sha256":
		return "SHA2(" + expr + ", 256)", true
	case "string":
		return expr, true
	}
	return "", false
}

// IsTrue reads text the way Snowflake's boolean conversion does ('true',
// 't', 'yes', 'y', 'on', '1'); anything else, NULL included, is false.
func (Snowflake) IsTrue(expr string) string {
	return "COALESCE(TRY_TO_BOOLEAN(TO_VARCHAR(" + expr + ")), FALSE)"
}

// FromJSON flattens the JSON array given as the only parameter.
func (s Snowflake) FromJSON(cols []string) string {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = "CAST(GET(r.VALUE, " + s.String(c) + ") AS VARCHAR) AS " + s.Ident(c)
	}
	return "(SELECT " + strings.Join(sel, ", ") + " FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?))) AS r)"
}

// IsDistinct is true when a and b differ, NULLs compared as values.
func (Snowflake) IsDistinct(a, b string) string { return a + " IS DISTINCT FROM " + b }

// BoolAnd is BOOLAND_AGG.
func (Snowflake) BoolAnd(expr string) string { return "BOOLAND_AGG(" + expr + ")" }

// FirstPerKey keeps n rows per key with QUALIFY.
func (Snowflake) FirstPerKey(query, key string, n int) string {
	return query + " QUALIFY ROW_NUMBER() OVER (PARTITION BY " + key + " ORDER BY NULL) <= " + strconv.Itoa(n)
}

// Text is the text type of sync state.
func (Snowflake) Text() string { return "VARCHAR" }

// BigInt is the integer type of sync state.
func (Snowflake) BigInt() string { return "BIGINT" }

// Timestamp is the time type of sync state: wall-clock UTC, as
// TimestampLiteral writes it.
func (Snowflake) Timestamp() string { return "TIMESTAMP_NTZ" }

// Boolean is the boolean type of sync state.
func (Snowflake) Boolean() string { return "BOOLEAN" }

// Placeholder is the driver's parameter marker.
func (Snowflake) Placeholder() string { return "?" }

// KeysUnenforced marks Snowflake as a warehouse whose PRIMARY KEY does not
// stop a duplicate insert.
func (Snowflake) KeysUnenforced() bool { return true }
