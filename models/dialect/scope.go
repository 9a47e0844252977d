package dialect

import "strings"

// Scope builds one statement out of named subqueries: a WITH clause where
// the dialect has common table expressions, and otherwise a work table per
// subquery, created before the statement and dropped after it. Bodies and
// the final query refer to a subquery only through the reference Add (or
// Ref) returns, so the same model code serves both forms.
type Scope struct {
	d     Dialect
	table func(name string) string // work table of a subquery
	ctes  []cte
}

type cte struct{ name, comment, body string }

// NewScope starts a scope; table names the work table of a subquery in
// dialects that materialise them (a table in the project's schema, with a
// prefix that keeps parallel statements apart).
func NewScope(d Dialect, table func(name string) string) *Scope {
	return &Scope{d: d, table: table}
}

// Add appends a subquery (it may read the ones added before it) and
// returns how to refer to it in a FROM or JOIN.
func (s *Scope) Add(name, comment, body string) string {
	s.ctes = append(s.ctes, cte{name, comment, body})
	return s.Ref(name)
}

// Ref is how to refer to subquery name in a FROM or JOIN; give it an alias
// (Ref(n) + " AS n") when columns are qualified by its name.
func (s *Scope) Ref(name string) string {
	if s.d.SupportsCTE() {
		return name
	}
	return s.table(name)
}

// Query renders final with the scope's subqueries as one SELECT, for
// dialects with common table expressions.
func (s *Scope) withClause(final string) string {
	if len(s.ctes) == 0 {
		return final
	}
	var b strings.Builder
	b.WriteString("WITH\n")
	for i, c := range s.ctes {
		if i > 0 {
			b.WriteString(",\n")
		}
		if c.comment != "" {
			for _, line := range strings.Split(c.comment, "\n") {
				b.WriteString("-- " + line + "\n")
			}
		}
		b.WriteString(c.name + " AS (\n" + Indent(c.body, "    ") + "\n)")
	}
	b.WriteString("\n" + final)
	return b.String()
}

// ReplaceTable is the statements that (re)create table from final and
// the scope's subqueries, and drop the work tables after.
func (s *Scope) ReplaceTable(table, final string) []string {
	if s.d.SupportsCTE() {
		return []string{s.d.ReplaceTable(table, s.withClause(final))}
	}
	var out []string
	for _, c := range s.ctes {
		q := scratchTable(s.d, s.table(c.name), c.body)
		if c.comment != "" {
			q = "-- " + strings.ReplaceAll(c.comment, "\n", "\n-- ") + "\n" + q
		}
		out = append(out, q)
	}
	out = append(out, s.d.ReplaceTable(table, final))
	return append(out, s.Drops()...)
}

// Drops drops the work tables, in dialects that have them.
func (s *Scope) Drops() []string {
	if s.d.SupportsCTE() {
		return nil
	}
	out := make([]string, len(s.ctes))
	for i, c := range s.ctes {
		out[i] = s.d.DropTable(s.table(c.name))
	}
	return out
}
