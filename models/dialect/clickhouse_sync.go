package dialect

import (
	"strconv"
	"strings"
)

// The methods below are what the sync engine needs beyond Dialect (see
// sync/internal/sqlfn.Funcs): the planner's diff runs on ClickHouse with
// them. Every type is Nullable, since sync state holds unknown values.

// Hash hashes values in order, NULLs included: each value counts as
// (is it NULL, its text), so NULL and ” differ.
func (ClickHouse) Hash(exprs []string) string {
	parts := make([]string, 0, 2*len(exprs))
	for _, e := range exprs {
		parts = append(parts, "isNull("+e+")", "ifNull(toString("+e+"), '')")
	}
	return "cityHash64(" + strings.Join(parts, ", ") + ")"
}

// HashType is Hash's type.
func (ClickHouse) HashType() string { return "Nullable(UInt64)" }

// Canary hashes fixed values of every common type: it changes when the
// hash function or the text of a type does (an upgrade), which would make
// stored hashes incomparable.
func (c ClickHouse) Canary() string {
	return c.Hash([]string{"'sluice'", "CAST(42 AS Int64)", "CAST(1.5 AS Float64)", "CAST('2.25' AS Decimal(12, 2))",
		"toDateTime('2020-02-29 12:34:56', 'UTC')", "toDate('2020-02-29')", "CAST(1 AS UInt8)", "CAST(NULL AS Nullable(String))", "'é\u00e9'"})
}

// SampleBy is the values of arg on the n rows with the smallest key among
// those where filter holds, as a JSON array of strings in text.
func (ClickHouse) SampleBy(arg, key string, n int, filter string) string {
	quoted := `ifNull(concat('"', replaceRegexpAll(toString(x), '(["\\\\])', '\\\\\\1'), '"'), 'null')`
	return "concat('[', arrayStringConcat(arrayMap(x -> " + quoted + ", arraySlice(arrayMap(p -> tupleElement(p, 2), arraySort(p -> tupleElement(p, 1), groupArrayIf(tuple(" +
		key + ", " + arg + "), " + filter + "))), 1, " + strconv.Itoa(n) + ")), ','), ']')"
}

// KeyTransform applies a mapping transform to a sync key.
func (c ClickHouse) KeyTransform(name, expr string) (string, bool) {
	switch name {
	case "trim":
		return c.Trim(expr), true
	case "lower":
		return c.Lower(expr), true
	case "upper":
		return c.Upper(expr), true
	case "email":
		return c.Lower(c.Trim(expr)), true
	case "sha256":
		return "lower(hex(SHA256(" + expr + ")))", true
	case "string":
		return expr, true
	}
	return "", false
}

// IsTrue is 1 for a true value (1, 'true', 'yes'...), 0 otherwise, NULL
// included.
func (ClickHouse) IsTrue(expr string) string {
	return "(coalesce(lowerUTF8(toString(" + expr + ")) IN ('1', 'true', 't', 'yes', 'y'), 0) = 1)"
}

// FromJSON is not available: ClickHouse 18.16 has no JSON table functions.
// Nothing needs it: sync state on ClickHouse is appended in bulk by the
// connector (warehouse.RowAppender), never inserted from JSON.
func (c ClickHouse) FromJSON(cols []string) string {
	return "(SELECT throwIf(1, " + c.String("ClickHouse reads no rows from JSON here: sync state is appended by the connector") + ") AS failed)"
}

// IsDistinct is true when a and b differ, NULLs compared as values.
func (ClickHouse) IsDistinct(a, b string) string {
	return "(if(isNull(" + a + ") OR isNull(" + b + "), isNull(" + a + ") != isNull(" + b + "), " + a + " != " + b + ") = 1)"
}

// BoolAnd is min of 0/1 booleans.
func (ClickHouse) BoolAnd(expr string) string { return "min(" + expr + ")" }

// FirstPerKey uses LIMIT n BY.
func (ClickHouse) FirstPerKey(query, key string, n int) string {
	return query + " LIMIT " + strconv.Itoa(n) + " BY " + key
}

// Text is the text type of sync state.
func (ClickHouse) Text() string { return "Nullable(String)" }

// BigInt is the integer type of sync state.
func (ClickHouse) BigInt() string { return "Nullable(Int64)" }

// Timestamp is the time type of sync state.
func (c ClickHouse) Timestamp() string { return "Nullable(" + c.timestampType() + ")" }

// Boolean is the boolean type of sync state.
func (ClickHouse) Boolean() string { return "Nullable(UInt8)" }

// Placeholder is the driver's parameter marker.
func (ClickHouse) Placeholder() string { return "?" }

// The methods below make ClickHouse an insert-only warehouse for the sync
// state store (sync/internal/sqlfn.InsertOnly): ALTER TABLE ... UPDATE and
// DELETE are asynchronous mutations, so sync state is only ever inserted
// and read back by latest version.

// NotNull strips Nullable from a type: sorting and partition keys cannot
// be Nullable.
func (ClickHouse) NotNull(typ string) string {
	if strings.HasPrefix(typ, "Nullable(") && strings.HasSuffix(typ, ")") {
		return typ[len("Nullable(") : len(typ)-1]
	}
	return typ
}

// CreateTable creates a MergeTree table, a ReplacingMergeTree when rows
// have a version: its background merges keep the latest version of each
// key, which only saves space (readers take the latest version
// themselves, since merges happen whenever the server likes).
func (c ClickHouse) CreateTable(table string, cols []TableColumn, layout TableLayout) string {
	defs := make([]string, len(cols))
	for i, col := range cols {
		defs[i] = c.Ident(col.Name) + " " + col.Type
	}
	engine := "MergeTree"
	if layout.Version != "" {
		engine = "ReplacingMergeTree(" + c.Ident(layout.Version) + ")"
	}
	q := "CREATE TABLE IF NOT EXISTS " + table + " (" + strings.Join(defs, ", ") + ") ENGINE = " + engine
	if layout.Partition != "" {
		q += " PARTITION BY " + layout.Partition
	}
	order := "tuple()"
	if len(layout.Order) > 0 {
		keys := make([]string, len(layout.Order))
		for i, k := range layout.Order {
			keys[i] = c.Ident(k)
		}
		order = "(" + strings.Join(keys, ", ") + ")"
	}
	return q + " ORDER BY " + order
}

// CreateView creates a view when it does not exist.
func (ClickHouse) CreateView(view, query string) string {
	return "CREATE VIEW IF NOT EXISTS " + view + " AS " + query
}

// Latest is argMax over a tuple: an aggregate of Nullable arguments skips
// the rows where one is NULL, a tuple is never NULL itself.
func (ClickHouse) Latest(exprs, by []string) string {
	return "argMax(tuple(" + strings.Join(exprs, ", ") + "), tuple(" + strings.Join(by, ", ") + "))"
}

// Element reads one value of a tuple.
func (ClickHouse) Element(tuple string, i int) string {
	return "tupleElement(" + tuple + ", " + strconv.Itoa(i) + ")"
}

// Swap renames both tables in one RENAME, which ClickHouse carries out
// under one lock.
func (ClickHouse) Swap(table, next, old string) string {
	return "RENAME TABLE " + table + " TO " + old + ", " + next + " TO " + table
}

// Week is the date of the week's Monday as yyyymmdd.
func (ClickHouse) Week(ts string) string { return "toYYYYMMDD(toMonday(" + ts + "))" }

// DropPartition drops a partition, at once (unlike a mutation).
func (ClickHouse) DropPartition(table, value string) string {
	return "ALTER TABLE " + table + " DROP PARTITION " + value
}

// IntegerBooleans implements IntegerBooleans: ClickHouse has no boolean
// type before 21.12, and sluice stores booleans as UInt8 on every release.
func (ClickHouse) IntegerBooleans() bool { return true }
