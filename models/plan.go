// Package models is sluice's semantic layer: sources, the identity graph,
// profiles and segments, compiled to SQL for a dialect. It performs no I/O;
// package builder runs what it compiles.
package models

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/dialect"
)

// StepKind groups build steps for display and selection.
type StepKind string

// Step kinds, in build order.
const (
	KindSchema   StepKind = "schema"
	KindSeed     StepKind = "seed"
	KindSource   StepKind = "source"
	KindIdentity StepKind = "identity"
	KindProfiles StepKind = "profiles"
	KindSegment  StepKind = "segment"
	// KindPublish is the last step: it puts the tables the build wrote
	// under staging names in place of the published ones.
	KindPublish StepKind = "publish"
)

// Plan is the ordered list of build steps for one dialect.
type Plan struct {
	Dialect string
	// Schema is the project schema, where the build publishes its tables.
	Schema string
	Steps  []Step
	// Report lists single-value queries run after a build to summarise it.
	Report []Metric
	// Erasure, when the project has an erasure block: the suppression list
	// the identity steps read and the key their SQL hashes with.
	Erasure *Erasure
	// Compact, on a plan publishing in place, has its publish compact the
	// rows deleted so far, where the warehouse keeps them until told to
	// (dialect.Compactor): the incremental builder sets it once they have
	// piled up.
	Compact bool
}

// Step is one unit of build work: statements run in order, then an optional
// fallback, an optional loop, then closing statements.
type Step struct {
	Name        string // unique and file-name safe, e.g. source_orders
	Kind        StepKind
	Description string
	Origin      config.Pos // where the step was declared, for error messages
	SQL         []string
	Fallback    *Fallback
	Loop        *Loop
	Finally     []string
	Checks      []Check
	// Statements counts the statements of each SQL string of the step that
	// holds more than one (some dialects write DROP ...; CREATE ... in one
	// string); every other string holds exactly one. The builder refuses a
	// string that would run more statements than the compiler wrote.
	Statements map[string]int
	// Parts, on a step that computes several things declared apart (the
	// profiles step: every trait), tell a failure which of them it names.
	Parts []Part
	// Publishes lists the tables (unquoted names in the project schema)
	// that the step writes under their staging names: the publish step
	// puts them in place when the step has run.
	Publishes []string
	// Deltas holds, for tables of Publishes that the step wrote as a view
	// over the published table and the rows that change, how the publish
	// step changes the published table in place (an incremental build on
	// a warehouse that can: dialect.InPlace).
	Deltas map[string]dialect.Delta
	// Seed, on a seed step, is the file SQL loads: a warehouse whose client
	// loads local files itself (warehouse.CSVLoader) loads it instead of
	// running SQL.
	Seed *SeedLoad
}

// Part is one declared thing a step computes, with the SQL fragments the
// project wrote for it and where each was written.
type Part struct {
	What      string // e.g. trait lifetime_value
	Origin    config.Pos
	Fragments []Fragment
}

// Strings lists every SQL string the step runs, checks included.
func (s Step) Strings() []string {
	out := append([]string(nil), s.SQL...)
	if s.Fallback != nil {
		out = append(append(out, s.Fallback.When), s.Fallback.SQL...)
	}
	if s.Loop != nil {
		out = append(append(out, s.Loop.Body...), s.Loop.Changed)
	}
	out = append(out, s.Finally...)
	for _, c := range s.Checks {
		out = append(out, c.SQL)
	}
	return out
}

// SeedLoad is a CSV file to load into a table (schema and name unquoted).
type SeedLoad struct {
	Schema, Name string
	Path         string // absolute
	File         string // as the project writes it, relative to the project: for messages
	Types        []dialect.ColumnType
	// Within lists the folders File must stay in (the project directory,
	// then external_paths), checked again before loading.
	Within []string
}

// Fallback runs SQL when When, a query returning one integer, returns
// more than 0: the statements that redo what a step's cheaper statements
// could not do right on this data.
type Fallback struct {
	When string
	SQL  []string
}

// Loop repeats Body until Changed returns 0, at most MaxRounds times.
// Stitching is the user: the number of rounds depends on the data.
type Loop struct {
	Body      []string
	Changed   string // a query returning one integer: how much is still changing
	MaxRounds int
	What      string // what is converging, for messages
}

// Check is a query returning one row of counts. Counts marked Problem are
// warnings when non-zero: data problems that do not stop the build.
type Check struct {
	Name    string  // e.g. "primary key of orders"
	SQL     string  // one row, one integer column per entry of Columns
	Columns []Count // what each column counts
	Origin  config.Pos
}

// Count labels one column of a Check.
type Count struct {
	Label   string
	Problem bool
}

// Metric is a single-value query for the build summary.
type Metric struct {
	Name string
	SQL  string
	// Column is the column of SQL's row that holds the value: metrics with
	// the same SQL share one query.
	Column int
}

// ReportQueries lists the distinct queries of the plan's report, in order,
// with the number of columns the report reads of each.
func (p *Plan) ReportQueries() (queries []string, columns map[string]int) {
	columns = map[string]int{}
	for _, m := range p.Report {
		if _, ok := columns[m.SQL]; !ok {
			queries = append(queries, m.SQL)
		}
		columns[m.SQL] = max(columns[m.SQL], m.Column+1)
	}
	return queries, columns
}

// File renders a step as a readable SQL file: what it does, where it comes
// from, and every statement, each ending in a semicolon.
func (s Step) File(dialect string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- %s (%s, %s)\n", s.Name, s.Kind, dialect)
	if s.Description != "" {
		for _, line := range strings.Split(s.Description, "\n") {
			fmt.Fprintf(&b, "-- %s\n", line)
		}
	}
	if s.Origin.File != "" {
		fmt.Fprintf(&b, "-- declared at %s\n", s.Origin)
	}
	write := func(stmts []string) {
		for _, q := range stmts {
			q = strings.TrimRight(q, "; \n")
			b.WriteString("\n")
			b.WriteString(q)
			// A statement ending in a -- comment gets its semicolon on the
			// next line, where the comment does not swallow it.
			if last := q[strings.LastIndex(q, "\n")+1:]; strings.Contains(last, "--") {
				b.WriteString("\n")
			}
			b.WriteString(";\n")
		}
	}
	write(s.SQL)
	if f := s.Fallback; f != nil {
		b.WriteString("\n-- Run the statements below only if this check returns more than 0.\n")
		write([]string{f.When})
		write(f.SQL)
		b.WriteString("\n-- End of conditional part.\n")
	}
	if s.Loop != nil {
		fmt.Fprintf(&b, "\n-- Repeat the statements below until the check returns 0 (at most %d rounds).\n", s.Loop.MaxRounds)
		write(s.Loop.Body)
		b.WriteString("\n-- Check: still changing\n")
		write([]string{s.Loop.Changed})
		b.WriteString("\n-- End of repeated part.\n")
	}
	write(s.Finally)
	for _, c := range s.Checks {
		labels := make([]string, len(c.Columns))
		for i, col := range c.Columns {
			labels[i] = col.Label
		}
		fmt.Fprintf(&b, "\n-- Check: %s (%s)\n", c.Name, strings.Join(labels, "; "))
		write([]string{c.SQL})
	}
	return b.String()
}
