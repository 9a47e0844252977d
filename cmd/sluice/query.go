package main

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/sync/mapping"
)

func newQueryCmd(g *globals) *cobra.Command {
	var format string
	var maxRows int
	c := &cobra.Command{
		Use:   `query "SQL"`,
		Short: "Run SQL on the project's warehouse and print the result",
		Long: `query runs one SQL statement on the project's warehouse. csv and json stream
rows as they arrive (any size); table aligns columns and shows at most
--max-rows rows.`,
		Example: `  sluice query "SELECT count(*) FROM sluice.customer_profiles"
  sluice query "SELECT * FROM sluice.src_orders LIMIT 5" --format json`,
		Args: exactArgs(1, "one SQL statement in quotes"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" && format != "csv" {
				return usageErr("unknown --format %q: use table, json or csv", format)
			}
			p, err := loadProject(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			w, err := openWarehouse(ctx, p)
			if err != nil {
				return err
			}
			defer w.Close()
			rows, err := w.Query(ctx, args[0])
			if err != nil {
				return fmt.Errorf("running query: %w", err)
			}
			defer rows.Close()
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 64<<10)
			defer out.Flush()
			switch format {
			case "csv":
				err = writeCSV(out, rows)
			case "json":
				err = writeJSON(out, rows)
			default:
				err = writeTable(out, rows, maxRows)
			}
			if err != nil {
				return fmt.Errorf("reading query result: %w", err)
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "table", "output format: table, json or csv")
	c.Flags().IntVar(&maxRows, "max-rows", 1000, "table format: rows to show at most")
	return c
}

// scanner reads rows as generic values.
type scanner struct {
	rows  warehouse.Rows
	cols  []string
	kinds []timeKind // per column: how its time values print
	vals  []any
	ptrs  []any
}

func newScanner(rows warehouse.Rows) (*scanner, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	s := &scanner{rows: rows, cols: cols, kinds: columnTimeKinds(rows, len(cols)), vals: make([]any, len(cols)), ptrs: make([]any, len(cols))}
	for i := range s.vals {
		s.ptrs[i] = &s.vals[i]
	}
	return s, nil
}

func (s *scanner) next() (bool, error) {
	if !s.rows.Next() {
		return false, s.rows.Err()
	}
	return true, s.rows.Scan(s.ptrs...)
}

// timeKind says how a column's time.Time values print. Drivers hand DATE,
// TIME and TIMESTAMP columns over alike, as time.Time; only the column's
// type tells a date from a timestamp at midnight.
type timeKind int

const (
	pointInTime timeKind = iota // TIMESTAMP, TIMESTAMPTZ, DateTime...: RFC 3339 in UTC, as syncs send it
	dateOnly                    // DATE, Date32
	timeOfDay                   // TIME
)

// columnTimeKinds reads the result's column types where the warehouse's
// rows offer them (database/sql results do). Without them every time value
// is a point in time: printing a date with its midnight loses nothing,
// printing a timestamp as a date would.
func columnTimeKinds(rows warehouse.Rows, n int) []timeKind {
	kinds := make([]timeKind, n)
	names, err := columnTypeNames(rows)
	if err != nil || len(names) != n {
		return kinds
	}
	for i, t := range names {
		kinds[i] = timeKindOf(t)
	}
	return kinds
}

// columnTypeNames reads the result's database type names, from database/sql
// rows or from a warehouse's own (warehouse.TypedRows); nil when neither.
func columnTypeNames(rows warehouse.Rows) ([]string, error) {
	if typed, ok := rows.(warehouse.TypedRows); ok {
		return typed.ColumnTypeNames()
	}
	typed, ok := rows.(interface {
		ColumnTypes() ([]*sql.ColumnType, error)
	})
	if !ok {
		return nil, nil
	}
	types, err := typed.ColumnTypes()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.DatabaseTypeName()
	}
	return names, nil
}

// timeKindOf classifies a database type name: DuckDB's and Snowflake's
// (DATE, TIME, TIMESTAMP_NTZ...) and ClickHouse's, wrappers included
// (Nullable(Date32), LowCardinality(Nullable(DateTime('UTC')))).
func timeKindOf(dbType string) timeKind {
	t := strings.ToUpper(strings.TrimSpace(dbType))
	for _, wrapper := range []string{"LOWCARDINALITY(", "NULLABLE("} {
		if strings.HasPrefix(t, wrapper) {
			t = strings.TrimPrefix(t, wrapper)
		}
	}
	switch {
	case strings.HasPrefix(t, "DATETIME"), strings.HasPrefix(t, "TIMESTAMP"):
		return pointInTime
	case strings.HasPrefix(t, "DATE"):
		return dateOnly
	case strings.HasPrefix(t, "TIME"):
		return timeOfDay
	}
	return pointInTime
}

// text renders a value for csv and table output; ok is false for NULL.
func text(v any, k timeKind) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case []byte:
		return string(x), true
	case string:
		return x, true
	case time.Time:
		return formatTime(x, k), true
	case *big.Int:
		return x.String(), true
	case fmt.Stringer:
		return x.String(), true
	default:
		return fmt.Sprint(x), true
	}
}

// formatTime prints a date as a date, a time of day as a clock, and a
// point in time as syncs send it (the sync mapping's own formatting), so
// that what query shows is what a destination receives.
func formatTime(t time.Time, k timeKind) string {
	switch k {
	case dateOnly:
		return t.Format(time.DateOnly)
	case timeOfDay:
		return t.Format("15:04:05.999999999")
	}
	if s, ok := mapping.Normalize(t).(string); ok {
		return s
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// jsonValue keeps JSON-native types and renders the rest as text.
func jsonValue(v any, k timeKind) any {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, float32, float64:
		return x
	case map[string]any, []any:
		return x
	case interface {
		Float64() float64
		String() string
	}:
		// Exact decimals (e.g. DuckDB's DECIMAL) stay numbers, digit for digit.
		return json.Number(x.String())
	default:
		s, _ := text(x, k)
		return s
	}
}

func writeCSV(out io.Writer, rows warehouse.Rows) error {
	s, err := newScanner(rows)
	if err != nil {
		return err
	}
	w := csv.NewWriter(out)
	if err := w.Write(s.cols); err != nil {
		return err
	}
	rec := make([]string, len(s.cols))
	for {
		ok, err := s.next()
		if err != nil || !ok {
			w.Flush()
			if err == nil {
				err = w.Error()
			}
			return err
		}
		for i, v := range s.vals {
			rec[i], _ = text(v, s.kinds[i])
		}
		if len(rec) == 1 && rec[0] == "" {
			// A lone empty field would be an empty line, which CSV
			// readers skip: the row would vanish.
			w.Flush()
			if _, err := io.WriteString(out, "\"\"\n"); err != nil {
				return err
			}
			continue
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
}

// writeJSON streams a JSON array of objects with keys in column order.
func writeJSON(out io.Writer, rows warehouse.Rows) error {
	s, err := newScanner(rows)
	if err != nil {
		return err
	}
	keys := make([][]byte, len(s.cols))
	for i, c := range s.cols {
		keys[i], _ = json.Marshal(c)
	}
	io.WriteString(out, "[")
	n := 0
	for {
		ok, err := s.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if n > 0 {
			io.WriteString(out, ",")
		}
		io.WriteString(out, "\n  {")
		for i, v := range s.vals {
			if i > 0 {
				io.WriteString(out, ", ")
			}
			b, err := json.Marshal(jsonValue(v, s.kinds[i]))
			if err != nil {
				return fmt.Errorf("column %s: %w", s.cols[i], err)
			}
			out.Write(keys[i])
			io.WriteString(out, ": ")
			out.Write(b)
		}
		io.WriteString(out, "}")
		n++
	}
	if n > 0 {
		io.WriteString(out, "\n")
	}
	_, err = io.WriteString(out, "]\n")
	return err
}

func writeTable(out io.Writer, rows warehouse.Rows, maxRows int) error {
	s, err := newScanner(rows)
	if err != nil {
		return err
	}
	widths := make([]int, len(s.cols))
	for i, c := range s.cols {
		widths[i] = utf8.RuneCountInString(c)
	}
	var cells [][]string
	more := false
	for {
		ok, err := s.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if len(cells) == maxRows {
			more = true
			break
		}
		rec := make([]string, len(s.cols))
		for i, v := range s.vals {
			t, ok := text(v, s.kinds[i])
			if !ok {
				t = "NULL"
			}
			t = strings.ReplaceAll(t, "\n", `\n`)
			rec[i] = t
			widths[i] = max(widths[i], utf8.RuneCountInString(t))
		}
		cells = append(cells, rec)
	}
	line := func(rec []string) {
		for i, c := range rec {
			if i > 0 {
				io.WriteString(out, " | ")
			}
			io.WriteString(out, c+strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
		}
		io.WriteString(out, "\n")
	}
	line(s.cols)
	sep := make([]string, len(s.cols))
	for i := range sep {
		sep[i] = strings.Repeat("-", widths[i])
	}
	io.WriteString(out, strings.ReplaceAll(strings.Join(sep, "-+-"), " ", "-")+"\n")
	for _, rec := range cells {
		line(rec)
	}
	switch {
	case more:
		fmt.Fprintf(out, "(first %d rows shown; use --max-rows or --format csv for more)\n", maxRows)
	case len(cells) == 1:
		io.WriteString(out, "(1 row)\n")
	default:
		fmt.Fprintf(out, "(%d rows)\n", len(cells))
	}
	return nil
}
