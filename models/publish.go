package models

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// StagingSuffix ends the name under which a build writes each table it
// publishes. The previous build's tables keep their names until the
// publish step, so a build that fails half-way leaves them as they were;
// the next build replaces any staging table a failed one left behind.
const StagingSuffix = "__sluice_next"

// StagingName is the name a build writes the table name under.
func StagingName(name string) string { return name + StagingSuffix }

// StepPublish names the publish step.
const StepPublish = "publish"

// assignPublished records, on the step that writes it, every table
// compiled under a staging name: the first step that (re)creates it, as
// the dialect's ReplaceTable does, through which every published table is
// written. A table that no step of the plan writes (a plan of some stages
// only) is read where the previous build published it.
func (c *Compiler) assignPublished(plan *Plan) {
	var unwritten []string
	for _, name := range c.published {
		if claimed(plan, name) {
			continue
		}
		create := writePrefix(c.D, c.D.Table(c.P.Schema, StagingName(name)))
		written := false
		for i := range plan.Steps {
			s := &plan.Steps[i]
			if mentions(s.Strings(), create) {
				s.Publishes = append(s.Publishes, name)
				written = true
				break
			}
		}
		if !written {
			unwritten = append(unwritten, name)
		}
	}
	for i := range plan.Steps {
		plan.Steps[i] = plan.Steps[i].ReadingPublished(c.D, c.P.Schema, unwritten)
	}
	c.stageWrittenRefs(plan)
}

// claimed tells whether a step of plan already publishes name (in place).
func claimed(plan *Plan, name string) bool {
	for _, s := range plan.Steps {
		if _, ok := s.Deltas[name]; ok {
			return true
		}
	}
	return false
}

// InPlace tells whether this build publishes what it recomputes in place
// (see PublishInPlace): an incremental build on a warehouse that can.
func (c *Compiler) InPlace() bool {
	return c.Previous != nil && c.staging && dialect.PublishesInPlace(c.D)
}

// Rewrite is a published table that a build publishing in place changes
// rather than writes whole.
type Rewrite struct {
	Name string // published name, in the project schema
	// Keep holds on the published rows the build keeps, Remove on the
	// others: its negation, written so that the warehouse plans it as a
	// semi join. Both must be true or false, never NULL, on every row.
	Keep, Remove string
	// Added is the relation of the rows the build adds: a table, or a
	// query in parentheses with the table's columns.
	Added string
	// Update, when set, rewrites some columns of kept rows where they are,
	// which costs far less than deleting and adding them whole.
	Update *Update
	// Drop are the statements dropping the work tables Keep, Remove and
	// Added read, run once the table is published.
	Drop []string
}

// Update is new values for some columns of some kept rows: the table
// From holds Key and Columns (names, unquoted), one row per key. Only
// dialects that publish in place (DuckDB) see it: the view of the kept
// rows uses DuckDB's SELECT * REPLACE.
type Update struct {
	From    string
	Key     string
	Columns []string
}

// PublishInPlace makes step publish r in place. It returns the statement
// creating the staging view (the kept rows with the added ones), which
// later steps read as the table; the publish step deletes the rows not
// kept, inserts the added ones, then drops the view and the work tables.
func (c *Compiler) PublishInPlace(step *Step, r Rewrite) string {
	final := c.FinalTable(r.Name)
	if step.Deltas == nil {
		step.Deltas = map[string]dialect.Delta{}
	}
	step.Publishes = append(step.Publishes, r.Name)
	apply := []string{"DELETE FROM " + final + " WHERE " + r.Remove}
	kept := "SELECT * FROM " + final + " WHERE " + r.Keep
	if u := r.Update; u != nil {
		apply = append(apply, c.updateSQL(final, u))
		kept = c.updatedSQL(kept, u)
	}
	step.Deltas[r.Name] = dialect.Delta{
		Apply: append(apply, "INSERT INTO "+final+" BY NAME SELECT * FROM "+r.Added),
		Drop:  r.Drop,
	}
	// Named last: c.Table registers the table as published.
	return c.D.ReplaceView(c.Table(r.Name), kept+"\nUNION ALL BY NAME\nSELECT * FROM "+r.Added)
}

// updateSQL writes u's values into table.
func (c *Compiler) updateSQL(table string, u *Update) string {
	set := make([]string, len(u.Columns))
	for i, col := range u.Columns {
		set[i] = c.D.Ident(col) + " = u." + c.D.Ident(col)
	}
	key := c.D.Ident(u.Key)
	return "UPDATE " + table + " AS t SET " + strings.Join(set, ", ") + "\nFROM " + u.From + " AS u WHERE t." + key + " = u." + key
}

// UpdatedRowsSQL selects the rows of table that u updates, with u's
// values in place of theirs.
func (c *Compiler) UpdatedRowsSQL(table string, u *Update) string {
	key := c.D.Ident(u.Key)
	repl := make([]string, len(u.Columns))
	for i, col := range u.Columns {
		repl[i] = "u." + c.D.Ident(col) + " AS " + c.D.Ident(col)
	}
	return "SELECT k.* REPLACE (" + strings.Join(repl, ", ") + ")\nFROM " + table + " AS k\nJOIN " + u.From + " AS u ON u." + key + " = k." + key
}

// updatedSQL is the rows of kept (a query) with u's values in place of
// theirs, for the rows u names.
func (c *Compiler) updatedSQL(kept string, u *Update) string {
	key := c.D.Ident(u.Key)
	cols := []string{key + " AS sluice_update_key"}
	repl := make([]string, len(u.Columns))
	for i, col := range u.Columns {
		q, alias := c.D.Ident(col), c.D.Ident(fmt.Sprintf("sluice_update_%d", i))
		cols = append(cols, q+" AS "+alias)
		repl[i] = "CASE WHEN u.sluice_update_key IS NULL THEN k." + q + " ELSE u." + alias + " END AS " + q
	}
	return "SELECT k.* REPLACE (" + strings.Join(repl, ", ") + ")\nFROM (" + kept + ") AS k\nLEFT JOIN (SELECT " +
		strings.Join(cols, ", ") + " FROM " + u.From + ") AS u ON u.sluice_update_key = k." + key
}

// Deltas gathers the in-place publishing of every step (Step.Deltas),
// compacting as the plan says.
func (p *Plan) Deltas() map[string]dialect.Delta {
	out := map[string]dialect.Delta{}
	for _, s := range p.Steps {
		for n, d := range s.Deltas {
			d.Compact = p.Compact
			out[n] = d
		}
	}
	return out
}

// writePrefix is what the dialect's ReplaceTable writes before the query
// when it creates table.
func writePrefix(d dialect.Dialect, table string) string {
	const mark = "\x00"
	q := d.ReplaceTable(table, mark)
	return q[:strings.Index(q, mark)]
}

func mentions(stmts []string, s string) bool {
	for _, q := range stmts {
		if strings.Contains(q, s) {
			return true
		}
	}
	return false
}

// PublishedBy lists the tables that the steps for which ran returns true
// publish (every step's when ran is nil), in build order.
func (p *Plan) PublishedBy(ran func(Step) bool) []string {
	var out []string
	for _, s := range p.Steps {
		if ran == nil || ran(s) {
			out = append(out, s.Publishes...)
		}
	}
	return out
}

// PublishStep is the step that puts the named tables of schema, written
// under their staging names, in place of the published ones. The compiler
// ends a plan with it for every table; the builder makes it again for the
// tables of the steps it ran.
func PublishStep(d dialect.Dialect, schema string, names []string, deltas map[string]dialect.Delta) Step {
	tables := make([]dialect.Staged, len(names))
	for i, n := range names {
		tables[i] = dialect.Staged{Schema: schema, Name: n, Staging: StagingName(n)}
		if delta, ok := deltas[n]; ok {
			tables[i].Delta = &delta
		}
	}
	var sql []string
	if sd, ok := d.(dialect.Session); ok {
		sql = sd.SessionStatements()
	}
	s := Step{
		Name: StepPublish,
		Kind: KindPublish,
		Description: fmt.Sprintf("Publish the %d tables this build wrote under %s names: each replaces the table of the previous build, %s.",
			len(names), StagingSuffix, publishHow(d.Name())),
		SQL: append(sql, dialect.Publish(d, tables)...),
	}
	// The statements are sluice's own, so counting cannot fail; the count
	// lets the builder run DuckDB's transaction as one string.
	_ = countStepStatements(&s, d.Name())
	return s
}

// publishHow says how atomic a publish is on a warehouse.
func publishHow(dialect string) string {
	switch {
	case dialect == "duckdb":
		return "all in one transaction"
	case strings.HasPrefix(dialect, "clickhouse"):
		return "all in one RENAME TABLE"
	case dialect == "snowflake":
		return "one atomic SWAP WITH at a time, back to back"
	case dialect == "bigquery":
		return "one table copy at a time, back to back"
	}
	return "one table at a time"
}

// ReadingPublished is a copy of s that reads the published tables names
// in place of their staging tables: what a run that skips the steps
// writing them (builder Options.Only) must read.
func (s Step) ReadingPublished(d dialect.Dialect, schema string, names []string) Step {
	if len(names) == 0 {
		return s
	}
	pairs := make([]string, 0, 2*len(names))
	for _, n := range names {
		pairs = append(pairs, d.Table(schema, StagingName(n)), d.Table(schema, n))
	}
	return s.mapStrings(strings.NewReplacer(pairs...).Replace)
}

// mapStrings is a copy of s with f applied to every string it runs,
// statement counts kept.
func (s Step) mapStrings(f func(string) string) Step {
	all := func(in []string) []string {
		out := make([]string, len(in))
		for i, q := range in {
			out[i] = f(q)
		}
		return out
	}
	out := s
	out.SQL, out.Finally = all(s.SQL), all(s.Finally)
	if s.Fallback != nil {
		out.Fallback = &Fallback{When: f(s.Fallback.When), SQL: all(s.Fallback.SQL)}
	}
	if s.Loop != nil {
		l := *s.Loop
		l.Body, l.Changed = all(l.Body), f(l.Changed)
		out.Loop = &l
	}
	out.Checks = make([]Check, len(s.Checks))
	for i, c := range s.Checks {
		c.SQL = f(c.SQL)
		out.Checks[i] = c
	}
	if s.Deltas != nil {
		out.Deltas = make(map[string]dialect.Delta, len(s.Deltas))
		for n, d := range s.Deltas {
			out.Deltas[n] = dialect.Delta{Apply: all(d.Apply), Drop: all(d.Drop)}
		}
	}
	if s.Statements != nil {
		out.Statements = make(map[string]int, len(s.Statements))
		for q, n := range s.Statements {
			out.Statements[f(q)] = n
		}
	}
	return out
}

// stageWrittenRefs points the references that SQL written in the project
// (the fragments of a step's Parts) makes to tables of the build (a segment's sql reading
// sluice.customer_profiles) at their staging names: the project means the
// tables of the build that runs it, not the previous build's. Source views
// are left alone: a view outlives the build, and its staging tables.
func (c *Compiler) stageWrittenRefs(plan *Plan) {
	written := map[string]string{} // folded name -> name
	for _, s := range plan.Steps {
		for _, n := range s.Publishes {
			written[strings.ToLower(n)] = n
		}
	}
	if len(written) == 0 {
		return
	}
	lex := sqlfrag.For(c.D.Name())
	f := func(q string) string {
		toks, issue := sqlfrag.Lex(lex, q)
		if issue != nil {
			return q
		}
		var b strings.Builder
		last := 0
		for i := 0; i+2 < len(toks); i++ {
			if toks[i+1].Kind != sqlfrag.Punct || toks[i+1].Text != "." || !sameName(toks[i], c.P.Schema) ||
				i > 0 && toks[i-1].Kind == sqlfrag.Punct && toks[i-1].Text == "." {
				continue
			}
			name, ok := written[strings.ToLower(nameOf(toks[i+2]))]
			if !ok || !sameName(toks[i+2], name) {
				continue
			}
			b.WriteString(q[last:toks[i].Offset])
			b.WriteString(c.D.Table(c.P.Schema, StagingName(name)))
			last = toks[i+2].Offset + len(toks[i+2].Text)
			i += 2
		}
		if last == 0 {
			return q
		}
		return b.String() + q[last:]
	}
	// Only the text the project wrote is rewritten: the compiler's own SQL
	// names the previous build's tables on purpose (change detection and
	// incremental steps read them).
	for i := range plan.Steps {
		s := &plan.Steps[i]
		if s.Kind == KindSource {
			continue
		}
		// Line by line: the compiler indents a query it splices in.
		var written []string
		for _, p := range s.Parts {
			for _, fr := range p.Fragments {
				for _, line := range strings.Split(fr.Text, "\n") {
					if t := strings.TrimRight(strings.TrimSpace(line), "; "); t != "" && f(t) != t {
						written = append(written, t)
					}
				}
			}
		}
		if len(written) == 0 {
			continue
		}
		*s = s.mapStrings(func(q string) string {
			for _, t := range written {
				q = strings.ReplaceAll(q, t, f(t))
			}
			return q
		})
	}
}

// nameOf is the name a word or quoted name token stands for.
func nameOf(t sqlfrag.Token) string {
	if t.Kind == sqlfrag.Name {
		q := t.Text[:1]
		return strings.ReplaceAll(t.Text[1:len(t.Text)-1], q+q, q)
	}
	if t.Kind == sqlfrag.Word {
		return t.Text
	}
	return ""
}

// sameName reports whether the token names want: a quoted name exactly,
// a bare word in any case (as warehouses fold them).
func sameName(t sqlfrag.Token, want string) bool {
	switch t.Kind {
	case sqlfrag.Name:
		return nameOf(t) == want
	case sqlfrag.Word:
		return strings.EqualFold(t.Text, want)
	}
	return false
}
