package dialect

// TableColumn is a column of a table sluice creates for its own state: its
// name and SQL type.
type TableColumn struct{ Name, Type string }

// TableLayout says how an insert-only warehouse (ClickHouse) stores a
// table sluice keeps its sync state in.
type TableLayout struct {
	// Order lists the columns rows are sorted by (never NULL).
	Order []string
	// Version, when set, names the column whose greatest value wins among
	// the rows sharing Order's values: the engine may merge older rows away
	// in the background, but readers never rely on that.
	Version string
	// Partition, when set, is an expression grouping rows that are dropped
	// together.
	Partition string
}
