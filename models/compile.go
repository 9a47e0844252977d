package models

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// Compiler turns a validated project into build steps for one dialect.
// Later stages (identity, profiles, segments) register themselves as
// stages so that each lives in its own package.
type Compiler struct {
	P *config.Project
	D dialect.Dialect
	// Now, when not zero, is the "now" of time windows and recency in
	// place of the warehouse's clock at build time: reproducible rebuilds
	// and golden tests.
	Now time.Time
	// Previous, when set, makes this an incremental build (Incrementally).
	Previous *Previous

	// staging, set by Compile, makes Table name the staging table a build
	// writes; published lists the names it gave, in first-use order.
	staging   bool
	published []string
}

// Option tunes a compilation.
type Option func(*Compiler)

// WithNow fixes the reference time of windows and recency.
func WithNow(t time.Time) Option { return func(c *Compiler) { c.Now = t } }

// Stage adds build steps for one part of the model.
type Stage func(c *Compiler, plan *Plan) error

type stage struct {
	order int
	fn    Stage
}

var stages []stage

// Build order of the stages that live in their own packages.
const (
	OrderIdentity = 10
	OrderProfiles = 20
	OrderSegments = 30
)

// RegisterStage adds a stage to every compilation, after the built-in seed
// and source stages; stages run by ascending order. Stage packages call it
// from init; package models/all imports them all.
func RegisterStage(order int, s Stage) {
	i := len(stages)
	for i > 0 && stages[i-1].order > order {
		i--
	}
	stages = append(stages[:i], append([]stage{{order, s}}, stages[i:]...)...)
}

// Compile builds the plan for a project.
func Compile(p *config.Project, d dialect.Dialect, opts ...Option) (*Plan, error) {
	c := &Compiler{P: p, D: d, staging: true}
	for _, o := range opts {
		o(c)
	}
	// SQL the project writes is spliced into statements: anything but one
	// expression (or one query) could end a statement and start another.
	if probs := CheckFragmentSyntax(p, d.Name()); len(probs) > 0 {
		return nil, &FragmentError{Problems: probs}
	}
	plan := &Plan{Dialect: d.Name()}
	c.erasure(plan)
	c.schemas(plan)
	if err := c.seeds(plan); err != nil {
		return nil, err
	}
	c.sources(plan)
	for _, s := range stages {
		if err := s.fn(c, plan); err != nil {
			return nil, err
		}
	}
	plan.Schema = p.Schema
	c.assignPublished(plan)
	// The settings a connector applies to every query open every step, so
	// that a step's file run by hand gives what build gives.
	if sd, ok := d.(dialect.Session); ok {
		for i := range plan.Steps {
			plan.Steps[i].SQL = append(sd.SessionStatements(), plan.Steps[i].SQL...)
		}
	}
	if names := plan.PublishedBy(nil); len(names) > 0 {
		plan.Steps = append(plan.Steps, PublishStep(d, p.Schema, names, plan.Deltas()))
	}
	if err := countStatements(plan, d.Name()); err != nil {
		return nil, err
	}
	return plan, nil
}

// countStatements records the strings that hold several statements, so
// that the builder can tell them from a string a fragment extended.
func countStatements(plan *Plan, dialect string) error {
	for i := range plan.Steps {
		if err := countStepStatements(&plan.Steps[i], dialect); err != nil {
			return err
		}
	}
	return nil
}

func countStepStatements(s *Step, dialect string) error {
	lex := sqlfrag.For(dialect)
	for _, q := range s.Strings() {
		n, err := sqlfrag.Statements(lex, q)
		if err != nil {
			return fmt.Errorf("compiling step %s: %w", s.Name, err)
		}
		if n != 1 {
			if s.Statements == nil {
				s.Statements = map[string]int{}
			}
			s.Statements[q] = n
		}
	}
	return nil
}

// Table names a table the build publishes in the project's schema. During
// a compilation it is the staging name the build writes (see StagingName),
// which the publish step renames at the end; on a Compiler made by hand
// (syncs, explain, erasure), which reads what a build published, it is the
// final name.
func (c *Compiler) Table(name string) string {
	if !c.staging {
		return c.FinalTable(name)
	}
	if !contains(c.published, name) {
		c.published = append(c.published, name)
	}
	return c.D.Table(c.P.Schema, StagingName(name))
}

// FinalTable names a table in the project's schema by its final name: a
// table the previous build published, a view, or a table no build stages.
func (c *Compiler) FinalTable(name string) string { return c.D.Table(c.P.Schema, name) }

// Final is a copy of c whose Table gives final names: for what is read
// after the publish step (the summary metrics).
func (c *Compiler) Final() *Compiler {
	f := *c
	f.staging, f.published = false, nil
	return &f
}

// WorkTable names an intermediate table of the build: one that later steps
// of the same build read and that is dropped before it ends. Dialects with a
// WorkSpace keep these apart from the published tables.
func (c *Compiler) WorkTable(name string) string {
	if ws, ok := c.D.(dialect.WorkSpace); ok {
		return ws.WorkTable(c.P.Schema, name)
	}
	// Dropped before the build ends, so never published: no staging name.
	return c.FinalTable(name)
}

// SourceView is the view through which every later stage reads a source,
// so that table and sql sources look alike. A view is a definition, not
// data a build computes, so it is replaced in place, not staged.
func (c *Compiler) SourceView(source string) string { return c.FinalTable("src_" + source) }

// Source returns the named source of the project.
func (c *Compiler) Source(name string) (config.Source, bool) {
	for _, s := range c.P.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return config.Source{}, false
}

func (c *Compiler) schemas(plan *Plan) {
	schemas := []string{c.P.Schema}
	for _, s := range c.P.Seeds {
		if !contains(schemas, s.Schema) {
			schemas = append(schemas, s.Schema)
		}
	}
	step := Step{Name: "schemas", Kind: KindSchema, Description: "Schemas sluice builds into."}
	for _, s := range schemas {
		step.SQL = append(step.SQL, c.D.CreateSchema(s))
	}
	if ws, ok := c.D.(dialect.WorkSpace); ok {
		step.SQL = append(step.SQL, ws.WorkSetup(c.P.Schema)...)
	}
	if plan.Erasure != nil {
		// The identity steps read the suppression list: it must exist
		// before the first erasure request does.
		step.SQL = append(step.SQL, SuppressionDDL(c.D, plan.Erasure.StateSchema)...)
	}
	plan.Steps = append(plan.Steps, step)
}

func (c *Compiler) seeds(plan *Plan) error {
	within := append([]string{c.P.Dir}, c.P.ExternalPaths...)
	for _, s := range c.P.Seeds {
		types := make([]dialect.ColumnType, len(s.ColumnTypes))
		for i, ct := range s.ColumnTypes {
			types[i] = dialect.ColumnType{Column: ct.Key, Type: ct.Value}
		}
		q, err := c.D.LoadCSV(c.D.Table(s.Schema, s.Name), filepath.Join(c.P.Dir, s.Path), types)
		if err != nil {
			return fmt.Errorf("%s: seed %s: %w", s.At.Of("name"), s.Name, err)
		}
		plan.Steps = append(plan.Steps, Step{
			Name:        "seed_" + s.Schema + "_" + s.Name,
			Kind:        KindSeed,
			Description: fmt.Sprintf("Load %s into %s.%s.", s.Path, s.Schema, s.Name),
			Origin:      s.At.Of("name"),
			SQL:         []string{q},
			Seed:        &SeedLoad{Schema: s.Schema, Name: s.Name, Path: filepath.Join(c.P.Dir, s.Path), File: s.Path, Types: types, Within: within},
		})
	}
	return nil
}

func (c *Compiler) sources(plan *Plan) {
	for _, s := range c.P.Sources {
		var body string
		if s.Table != "" {
			body = "SELECT *\nFROM " + c.D.TableRef(s.Table)
		} else {
			body = strings.TrimRight(strings.TrimSpace(s.SQL), ";")
		}
		view := c.SourceView(s.Name)
		plan.Steps = append(plan.Steps, Step{
			Name:        "source_" + s.Name,
			Kind:        KindSource,
			Description: "Source " + s.Name + ": " + firstNonEmpty(s.Description, "read through a view so tables and queries look alike."),
			Origin:      s.At.Of("name"),
			SQL:         []string{c.D.ReplaceView(view, body)},
		})
	}
}

// KeysStep is the step checking a source's primary key: it writes the
// keys several rows share (DuplicateKeysTable) and counts the rows whose
// key is NULL or shared. A full build groups every row by key. An
// incremental one copies the last build's table for a source that did not
// change, and groups only the rows of the keys that gained a version for a
// source whose keys were all unique and not NULL at the last build: a key
// shared now has a row that is new or changed since (ChangesStep makes
// sure of it where it pairs versions). It runs after the changes steps.
func (c *Compiler) KeysStep(source string) Step {
	s, _ := c.Source(source)
	view := c.SourceView(source)
	q := "-- The primary keys several rows share (see the key check below).\n" + c.D.ReplaceTable(c.DuplicateKeysTable(source), c.duplicateKeysSQL(s, view, ""))
	switch p := c.Previous; {
	case p != nil && p.Unchanged[source]:
		q = "-- The source did not change: the keys several rows share are the last build's.\n" +
			c.D.ReplaceTable(c.DuplicateKeysTable(source), "SELECT *\nFROM "+c.FinalTable(DuplicateKeysName(source)))
	case p != nil && p.UniqueKeys[source] && !s.AppendOnly:
		q = "-- The primary keys several rows share (see the key check below). Every row had\n" +
			"-- a key of its own at the last build: a key shared now gained a version.\n" +
			c.D.ReplaceTable(c.DuplicateKeysTable(source), c.duplicateKeysSQL(s, view,
				c.KeyHash(source, "s")+" IN (SELECT key_hash FROM "+c.ChangedKeysTable(source)+" WHERE added = 1)"))
	}
	return Step{
		Name:        "keys_" + source,
		Kind:        KindChanges,
		Description: "Primary key of source " + source + ": the rows whose key is NULL or shared with another row, which later stages cannot tell apart.",
		Origin:      s.At.Of("primary_key"),
		SQL:         []string{q},
		Checks:      []Check{c.keyCheck(s, view)},
	}
}

// duplicateKeysSQL selects the primary keys (not NULL) that several rows
// of the source share, among the rows for which where holds when set.
func (c *Compiler) duplicateKeysSQL(s config.Source, view, where string) string {
	cols := make([]string, len(s.PrimaryKey))
	conds := make([]string, len(s.PrimaryKey))
	for i, k := range s.PrimaryKey {
		cols[i] = "s." + c.D.Ident(k)
		conds[i] = cols[i] + " IS NOT NULL"
	}
	if where != "" {
		conds = append(conds, where)
	}
	return fmt.Sprintf(`SELECT %s AS row_key, count(*) AS row_count
FROM %s AS s
WHERE %s
GROUP BY %s
HAVING count(*) > 1`, RowKey(c, s, "s"), view, strings.Join(conds, " AND "), strings.Join(cols, ", "))
}

// KeyCheckPrefix starts the name of a source's key check; the source's
// name follows. Its counts: rows, rows with a NULL key, keys shared.
const KeyCheckPrefix = "primary key of source "

// keyCheck counts rows whose primary key is NULL or shared with another row.
// Such rows cannot be told apart, so later stages never send them.
func (c *Compiler) keyCheck(s config.Source, view string) Check {
	nulls := make([]string, len(s.PrimaryKey))
	for i, k := range s.PrimaryKey {
		nulls[i] = c.D.Ident(k) + " IS NULL"
	}
	q := fmt.Sprintf(`SELECT
    (SELECT count(*) FROM %[1]s) AS row_count,
    (SELECT count(*) FROM %[1]s WHERE %[2]s) AS null_keys,
    (SELECT count(*) FROM %[3]s) AS duplicate_keys`, view, strings.Join(nulls, " OR "), c.DuplicateKeysTable(s.Name))
	return Check{
		Name:    KeyCheckPrefix + s.Name,
		SQL:     q,
		Columns: []Count{{Label: "rows"}, {Label: "rows with a NULL primary key", Problem: true}, {Label: "primary key values shared by several rows", Problem: true}},
		Origin:  s.At.Of("primary_key"),
	}
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
