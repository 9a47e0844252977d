package dialect

import "strings"

// The helpers below let a package outside sync/ create and read the few
// small tables it shares with the sync state store (the erasure
// suppression list) with the same types and storage.

type texter interface{ Text() string }
type timestamper interface{ Timestamp() string }
type tableCreator interface {
	CreateTable(table string, cols []TableColumn, layout TableLayout) string
}
type keyTransformer interface {
	KeyTransform(name, expr string) (string, bool)
}

// TextType is the dialect's nullable text column type.
func TextType(d Dialect) string {
	if t, ok := d.(texter); ok {
		return t.Text()
	}
	return "VARCHAR"
}

// TimestampType is the dialect's nullable timestamp column type.
func TimestampType(d Dialect) string {
	if t, ok := d.(timestamper); ok {
		return t.Timestamp()
	}
	return "TIMESTAMP"
}

// CreateTableIfMissing creates a plain table when it does not exist.
func CreateTableIfMissing(d Dialect, table string, cols []TableColumn) string {
	if c, ok := d.(tableCreator); ok {
		return c.CreateTable(table, cols, TableLayout{})
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = d.Ident(c.Name) + " " + c.Type
	}
	return "CREATE TABLE IF NOT EXISTS " + table + " (" + strings.Join(defs, ", ") + ")"
}

// SHA256Hex is the lower-case hex SHA-256 of a text expression.
func SHA256Hex(d Dialect, expr string) string {
	if k, ok := d.(keyTransformer); ok {
		if s, ok := k.KeyTransform("sha256", expr); ok {
			return s
		}
	}
	return "sha256(" + expr + ")"
}
