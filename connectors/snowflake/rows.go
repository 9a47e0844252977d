package snowflake

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/rowscan"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// foldedColumn matches the names Snowflake gives unquoted columns.
var foldedColumn = regexp.MustCompile(`^[A-Z_][A-Z0-9_$]*$`)

// rows streams a result, with column names as sluice wrote them (folded
// names back in lower case) and values typed as other warehouses give
// them: the driver hands NUMBER, FLOAT and BOOLEAN over as text (JSON
// results), and VARIANT as JSON text.
type rows struct {
	*sql.Rows
	cols  []string
	kinds []columnKind
	vals  []any
	ptrs  []any
}

type columnKind int

const (
	kindOther   columnKind = iota
	kindInteger            // NUMBER without a scale
	kindDecimal            // NUMBER with a scale
	kindReal
	kindBoolean
	kindVariant
)

func newRows(r *sql.Rows) (warehouse.Rows, error) {
	types, err := r.ColumnTypes()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("snowflake: reading result columns: %w", err)
	}
	out := &rows{Rows: r, cols: make([]string, len(types)), kinds: make([]columnKind, len(types)),
		vals: make([]any, len(types)), ptrs: make([]any, len(types))}
	for i, t := range types {
		out.cols[i] = columnName(t.Name())
		out.ptrs[i] = &out.vals[i]
		switch strings.ToUpper(t.DatabaseTypeName()) {
		case "FIXED":
			out.kinds[i] = kindInteger
			if _, scale, ok := t.DecimalSize(); ok && scale > 0 {
				out.kinds[i] = kindDecimal
			}
		case "REAL":
			out.kinds[i] = kindReal
		case "BOOLEAN":
			out.kinds[i] = kindBoolean
		case "VARIANT":
			out.kinds[i] = kindVariant
		}
	}
	return out, nil
}

// columnName undoes Snowflake's upper-casing of unquoted names.
func columnName(name string) string {
	if foldedColumn.MatchString(name) {
		return strings.ToLower(name)
	}
	return name
}

// Columns implements warehouse.Rows.
func (r *rows) Columns() ([]string, error) { return r.cols, nil }

// Scan implements warehouse.Rows.
func (r *rows) Scan(dest ...any) error {
	if len(dest) != len(r.cols) {
		return fmt.Errorf("snowflake: scan: %d destinations for %d columns", len(dest), len(r.cols))
	}
	if err := r.Rows.Scan(r.ptrs...); err != nil {
		return err
	}
	for i, v := range r.vals {
		if err := rowscan.Assign(dest[i], typed(r.kinds[i], v)); err != nil {
			return fmt.Errorf("snowflake: scan: column %s: %w", r.cols[i], err)
		}
	}
	return nil
}

// typed turns the driver's text for a column of kind k into a value of
// that kind; anything it cannot read stays as it is.
func typed(k columnKind, v any) any {
	s, isText := v.(string)
	if !isText {
		return v
	}
	switch k {
	case kindInteger:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
		if d, ok := rowscan.ParseDecimal(s); ok {
			return d // beyond 64 bits: exact all the same
		}
	case kindDecimal:
		if d, ok := rowscan.ParseDecimal(s); ok {
			return d
		}
	case kindReal:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	case kindBoolean:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	case kindVariant:
		return variantValue(s)
	}
	return v
}

// variantValue decodes a VARIANT's JSON text: a string, number (as its
// text, exact), boolean or null becomes that value; objects and arrays stay
// JSON text.
func variantValue(v any) any {
	var text []byte
	switch x := v.(type) {
	case string:
		text = []byte(x)
	case []byte:
		text = x
	default:
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var decoded any
	if err := dec.Decode(&decoded); err != nil {
		return string(text)
	}
	switch x := decoded.(type) {
	case nil:
		return nil
	case string:
		return x
	case bool:
		return x
	case json.Number:
		return x.String()
	}
	return string(text)
}
