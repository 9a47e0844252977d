package models

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// Fragment is a piece of SQL a project writes that the compiler splices
// into a statement.
type Fragment struct {
	Key   string     // the YAML key, e.g. where, for messages
	Text  string     // the SQL
	Pos   config.Pos // of the YAML value
	Value string     // the whole YAML value; Text starts at Offset in it
	// Offset of Text in Value: an aggregate's argument sits inside it.
	Offset int
	Query  bool // a whole query (sql:), else one expression
	// OverTraits: the expression reads profile columns (traits); else,
	// when Sources is set, the columns of those sources' rows.
	OverTraits bool
	Sources    []string
	Trait      string // the trait that owns the fragment, if any
}

// Fragments lists every SQL fragment of a project, in declaration order.
func Fragments(p *config.Project) []Fragment {
	var out []Fragment
	add := func(f Fragment) {
		if f.Text != "" {
			if f.Value == "" {
				f.Value = f.Text
			}
			out = append(out, f)
		}
	}
	for _, s := range p.Sources {
		add(Fragment{Key: "sql", Text: s.SQL, Pos: s.At.Of("sql"), Query: true})
	}
	if e := p.Erasure; e != nil && e.Requests != nil {
		add(Fragment{Key: "sql", Text: e.Requests.SQL, Pos: e.Requests.At.Of("sql"), Query: true})
	}
	if p.Identity != nil {
		for _, e := range p.Identity.Edges {
			add(Fragment{Key: "where", Text: e.Where, Pos: e.At.Of("where"), Sources: []string{e.Source}})
		}
	}
	for _, t := range p.Traits {
		from := []string{t.From}
		if len(t.Priority) > 0 {
			from = t.Priority
		}
		if t.From == "" && len(t.Priority) == 0 {
			from = nil
		}
		add(Fragment{Key: "where", Text: t.Where, Pos: t.At.Of("where"), Sources: from, Trait: t.Name})
		add(Fragment{Key: "expression", Text: t.Expression, Pos: t.At.Of("expression"), OverTraits: true, Trait: t.Name})
		if a, ok := config.ParseAggregate(t.Aggregate); ok && a.Arg != "*" {
			open := strings.IndexByte(t.Aggregate, '(')
			off := open + 1 + strings.Index(t.Aggregate[open+1:], a.Arg)
			add(Fragment{Key: "aggregate", Text: a.Arg, Value: t.Aggregate, Offset: off, Pos: t.At.Of("aggregate"), Sources: from, Trait: t.Name})
		}
		if t.RFM != nil {
			add(Fragment{Key: "where", Text: t.RFM.Where, Pos: t.RFM.At.Of("where"), Sources: []string{t.RFM.From}, Trait: t.Name})
		}
	}
	for _, s := range p.Segments {
		add(Fragment{Key: "where", Text: s.Where, Pos: s.At.Of("where"), OverTraits: true})
		add(Fragment{Key: "sql", Text: s.SQL, Pos: s.At.Of("sql"), Query: true})
	}
	return out
}

// FileText returns the text of a project file by the name positions use,
// or false; it lets messages point inside a YAML value.
type FileText func(file string) ([]byte, bool)

// Parser checks a fragment with the warehouse's own SQL parser, without
// running it (see connectors/duckdb). It returns nil when the fragment
// parses as exactly one expression, or one query.
type Parser func(text string, query bool) *sqlfrag.Issue

// CheckFragments reports every fragment that is not exactly one SQL
// expression (or query) of the dialect, and every bare name in a segment's
// where or a trait's expression that is no profile column. files (may be
// nil) lets a problem point at its column inside the value; parse (may be
// nil) adds the warehouse's parser to the lexical checks.
func CheckFragments(p *config.Project, dialect string, files FileText, parse Parser) config.Problems {
	return checkFragments(p, dialect, files, parse, true)
}

// CheckFragmentSyntax reports the fragments that are not exactly one
// expression (or query); Compile refuses a project that has any.
func CheckFragmentSyntax(p *config.Project, dialect string) config.Problems {
	return checkFragments(p, dialect, nil, nil, false)
}

func checkFragments(p *config.Project, dialect string, files FileText, parse Parser, names bool) config.Problems {
	d := sqlfrag.For(dialect)
	var out config.Problems
	profileCols := profileColumns(p)
	for _, f := range Fragments(p) {
		loc := locator{f: f, files: files}
		check := sqlfrag.CheckExpr
		if f.Query {
			check = sqlfrag.CheckQuery
		}
		if issue := check(d, f.Text); issue != nil {
			out = append(out, config.Problem{Pos: loc.at(issue.Offset), Message: f.Key + ": " + issue.Message})
			continue
		}
		if i := strings.Index(strings.ToLower(f.Text), ErasureKeyPlaceholder); i >= 0 {
			// The builder substitutes the erasure key for this name: SQL
			// of the project must not be able to read it.
			out = append(out, config.Problem{Pos: loc.at(i), Message: f.Key + ": " + ErasureKeyPlaceholder + " is reserved by sluice"})
			continue
		}
		if parse != nil {
			if issue := parse(f.Text, f.Query); issue != nil {
				msg := issue.Message
				if loc.fromEnv() { // the parser quotes the value
					msg = "the warehouse's parser cannot read it (details not shown: the value comes from the environment)"
				}
				out = append(out, config.Problem{Pos: loc.at(issue.Offset), Message: f.Key + ": " + msg})
				continue
			}
		}
		if names && f.OverTraits {
			out = append(out, unknownRefs(d, f, loc, profileCols, func(name, suggest string) string {
				return fmt.Sprintf("unknown trait %s in %s%s", name, f.Key, suggest)
			})...)
		}
	}
	return out.Sorted()
}

// unknownRefs reports the bare names of f that known (lower-cased) lacks;
// say words the message for one name (with its did-you-mean suffix).
func unknownRefs(d sqlfrag.Dialect, f Fragment, loc locator, known []string, say func(name, suggest string) string) config.Problems {
	refs, ok := sqlfrag.Refs(d, f.Text)
	if !ok {
		return nil
	}
	var out config.Problems
	seen := map[string]bool{}
	for _, r := range refs {
		n := strings.ToLower(r.Name)
		if slices.Contains(known, n) || seen[n] || strings.HasPrefix(n, "sluice_") {
			continue
		}
		seen[n] = true
		msg := say("`"+r.Name+"`", config.DidYouMean(n, known))
		if loc.fromEnv() {
			msg = say("(a name the environment gave)", "")
		}
		out = append(out, config.Problem{Pos: loc.at(r.Offset), Message: msg})
	}
	return out
}

// profileColumns lists the columns of the profiles table, lower-cased.
func profileColumns(p *config.Project) []string {
	cols := []string{"profile_id"}
	for _, t := range p.Traits {
		for _, c := range t.Columns() {
			cols = append(cols, strings.ToLower(c))
		}
	}
	return cols
}

// checkSourceFragments reports names in fragments over source rows (a
// trait's or edge's where, an aggregate's argument) that the catalog says
// the source lacks. Sources the catalog does not know are not checked.
func checkSourceFragments(p *config.Project, cat Catalog, files FileText, report func(config.Pos, string, ...any)) {
	d := sqlfrag.For(p.Warehouse.Type)
	for _, f := range Fragments(p) {
		if f.Query || f.OverTraits || sqlfrag.CheckExpr(d, f.Text) != nil {
			continue
		}
		if f.Key == "aggregate" && (config.AggregateSpec{Arg: f.Text}).Column() != "" {
			continue // a bare column: the profiles column check reports it
		}
		for _, src := range f.Sources {
			cols, known := cat[src]
			if !known {
				continue
			}
			lower := make([]string, len(cols))
			for i, c := range cols {
				lower[i] = strings.ToLower(c)
			}
			say := func(name, suggest string) string {
				sorted := slices.Sorted(slices.Values(cols))
				return fmt.Sprintf("source `%s` has no column %s (in %s)%s (columns: %s)", src, name, f.Key, suggest, strings.Join(sorted, ", "))
			}
			for _, prob := range unknownRefs(d, f, locator{f: f, files: files}, lower, say) {
				report(prob.Pos, "%s", prob.Message)
			}
		}
	}
}

// FragmentError is returned by Compile when a fragment is not one
// expression or query: it is never spliced into SQL.
type FragmentError struct{ Problems config.Problems }

func (e *FragmentError) Error() string {
	return "SQL in the project that is not one expression or query:\n" + e.Problems.Error()
}

// Unwrap gives the problems.
func (e *FragmentError) Unwrap() error { return e.Problems }
