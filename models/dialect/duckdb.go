package dialect

import (
	"fmt"
	"strings"
)

// DuckDB is the dialect of the embedded default warehouse.
type DuckDB struct{}

var _ Dialect = DuckDB{}

func init() { Register(DuckDB{}) }

// Name implements Dialect.
func (DuckDB) Name() string { return "duckdb" }

// Ident implements Dialect: double quotes, inner quotes doubled.
func (DuckDB) Ident(name string) string { return quoteWith(name, '"') }

// Table implements Dialect.
func (d DuckDB) Table(schema, name string) string { return d.Ident(schema) + "." + d.Ident(name) }

// TableRef implements Dialect.
func (d DuckDB) TableRef(ref string) string {
	parts := splitRef(ref)
	for i, p := range parts {
		parts[i] = d.Ident(p)
	}
	return strings.Join(parts, ".")
}

// String implements Dialect. DuckDB does not treat backslashes specially in
// standard string literals, so doubling quotes is the whole escape.
func (DuckDB) String(s string) string { return quoteWith(s, '\'') }

// CreateSchema implements Dialect.
func (d DuckDB) CreateSchema(schema string) string {
	return "CREATE SCHEMA IF NOT EXISTS " + d.Ident(schema)
}

// ReplaceTable implements Dialect.
func (DuckDB) ReplaceTable(table, query string) string {
	return "CREATE OR REPLACE TABLE " + table + " AS\n" + query
}

// ReplaceView implements Dialect.
func (DuckDB) ReplaceView(view, query string) string {
	return "CREATE OR REPLACE VIEW " + view + " AS\n" + query
}

// DropTable implements Dialect.
func (DuckDB) DropTable(table string) string { return "DROP TABLE IF EXISTS " + table }

// LoadCSV implements Dialect with read_csv: header row, type detection over
// the whole file (so a late odd value cannot break the load), and explicit
// types where the project pins them.
func (d DuckDB) LoadCSV(table, path string, types []ColumnType) (string, error) {
	if path == "" {
		return "", fmt.Errorf("loading CSV into %s: empty path", table)
	}
	opts := []string{"header = true", "sample_size = -1"}
	if len(types) > 0 {
		pairs := make([]string, len(types))
		for i, t := range types {
			pairs[i] = d.String(t.Column) + ": " + d.String(t.Type)
		}
		opts = append(opts, "types = {"+strings.Join(pairs, ", ")+"}")
	}
	return d.ReplaceTable(table, "SELECT *\nFROM read_csv("+d.String(path)+",\n    "+strings.Join(opts, ",\n    ")+")"), nil
}
