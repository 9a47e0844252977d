package models

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluicehq/sluice/config"
)

// Catalog knows the columns of sources, so that a column named in YAML but
// missing from the data is reported at its file:line:col by validate, before
// any SQL runs. Names compare case-insensitively, as warehouses do.
type Catalog map[string][]string // source name -> columns

// Has reports whether the catalog knows the source, and whether it has the
// column. An unknown source cannot be checked, so it passes.
func (c Catalog) Has(source, column string) (known, ok bool) {
	cols, known := c[source]
	if !known {
		return false, true
	}
	for _, col := range cols {
		if strings.EqualFold(col, column) {
			return true, true
		}
	}
	return true, false
}

// ColumnCheck reports references to columns a source lacks.
type ColumnCheck func(p *config.Project, cat Catalog, report func(config.Pos, string, ...any))

var columnChecks []ColumnCheck

// RegisterColumnCheck adds a check run by CheckColumns; stage packages
// register the checks of the columns they use.
func RegisterColumnCheck(c ColumnCheck) { columnChecks = append(columnChecks, c) }

// CheckColumns runs every registered column check plus the sources' own
// (primary key and timestamp columns).
func CheckColumns(p *config.Project, cat Catalog) config.Problems {
	return CheckColumnsAt(p, cat, nil)
}

// CheckColumnsAt is CheckColumns with the project's file texts, so that a
// name inside a SQL fragment is reported at its own column.
func CheckColumnsAt(p *config.Project, cat Catalog, files FileText) config.Problems {
	var out config.Problems
	report := func(pos config.Pos, format string, args ...any) {
		out = append(out, config.Problem{Pos: pos, Message: fmt.Sprintf(format, args...)})
	}
	for _, s := range p.Sources {
		for _, k := range s.PrimaryKey {
			RequireColumn(cat, s.Name, k, s.At.Of("primary_key"), report)
		}
		if s.Timestamp != "" {
			RequireColumn(cat, s.Name, s.Timestamp, s.At.Of("timestamp"), report)
		}
	}
	for _, c := range columnChecks {
		c(p, cat, report)
	}
	checkSourceFragments(p, cat, files, report)
	return out.Sorted()
}

// RequireColumn reports column when the catalog knows source and it lacks
// the column, suggesting the closest existing one.
func RequireColumn(cat Catalog, source, column string, at config.Pos, report func(config.Pos, string, ...any)) {
	known, ok := cat.Has(source, column)
	if !known || ok {
		return
	}
	cols := append([]string(nil), cat[source]...)
	sort.Strings(cols)
	report(at, "source %s has no column %s%s (columns: %s)", "`"+source+"`", "`"+column+"`", config.DidYouMean(column, cols), strings.Join(cols, ", "))
}
