package profiles

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

// render assembles the query: CTEs for the identity map and each source
// pass, the per-trait CTEs, a base layer joining them to every profile,
// one layer per depth of expressions, and the final column list. It
// returns the statements that build the profiles table (one, in dialects
// with CTEs; see dialect.Scope).
func (b *builder) render() []string {
	ctes := b.baseCTEs()
	last := "base"
	if b.inc != nil {
		var tail []cte
		tail, last = b.incrementalTail(last)
		ctes = append(ctes, tail...)
	}
	exprs, last := b.expressionCTEs(last)
	ctes = append(ctes, exprs...)
	for _, c := range ctes {
		b.scope.Add(c.name, c.comment, c.body)
	}
	final := b.tableColumns()
	sel := "SELECT\n    " + strings.Join(final, ",\n    ") + "\nFROM " + b.ref(last)
	if b.inc != nil && b.inc.rescored != "" {
		// The recomputed profiles and the rescored ones in one table, told
		// apart by a flag (splitWritten): two outputs of one query.
		return b.scope.ReplaceTable(b.inc.written, "SELECT\n    "+strings.Join(final, ",\n    ")+",\n    FALSE AS sluice_rescored\nFROM "+b.ref(last)+
			"\nUNION ALL BY NAME\nSELECT *, TRUE AS sluice_rescored\nFROM "+b.ref("rescored"))
	}
	if b.inc != nil && b.inc.delta != "" {
		// In place: only the rows that may differ from the previous
		// build's (recomputed, rescored, recency shifted) are written.
		return b.scope.ReplaceTable(b.inc.delta, sel)
	}
	return b.scope.ReplaceTable(b.c.ProfilesTable(), sel)
}

// tableColumns lists the profiles table's columns, quoted, in order.
func (b *builder) tableColumns() []string {
	out := []string{"profile_id"}
	for _, t := range b.c.P.Traits {
		for _, col := range t.Columns() {
			out = append(out, b.ident(col))
		}
	}
	return out
}

// only is the condition keeping the rows of the affected profiles in an
// incremental build (see IncrementalStatements), empty in a full build.
func (b *builder) only() string {
	if b.inc == nil {
		return ""
	}
	return "profile_id IN (SELECT profile_id FROM " + b.inc.affected + ")"
}

// baseCTEs are the CTEs up to base: the profiles, the identity map and
// source passes, the per-trait CTEs, and base, which joins them to every
// profile.
func (b *builder) baseCTEs() []cte {
	var ctes []cte
	from, and := b.c.IdentityMapTable(), ""
	idRows, srcRows := b.c.IdentityMapTable(), b.c.RowMapTable()
	switch o := b.only(); {
	case b.inc != nil && b.inc.idRows != "":
		// The affected profiles' rows, copied out (affectedRowsSQL).
		from, idRows, srcRows = b.inc.idRows, b.inc.idRows, b.inc.srcRows
	case o != "":
		// A subquery: ClickHouse would read profile_id in WHERE as the
		// alias of min(profile_id).
		from, and = "(SELECT profile_no, profile_id FROM "+from+" WHERE "+o+") AS m", " AND "+o
	}
	ctes = append(ctes, cte{
		name:    "profiles",
		comment: "Every profile of the identity map, by its number in this build (profile_no):\nthe passes below group and join on it, cheaper than on profile_id.",
		body:    "SELECT profile_no, min(profile_id) AS profile_id\nFROM " + from + "\nGROUP BY profile_no",
	})
	if len(b.ids) > 0 {
		types := make([]string, len(b.idTypes))
		for i, t := range b.idTypes {
			types[i] = b.d.String(t)
		}
		ctes = append(ctes, cte{
			name:    "identifiers",
			comment: "Identifier traits: one pass over the identity map picks them all.",
			body: fmt.Sprintf("SELECT\n    profile_no,\n%s\nFROM %s\nWHERE id_type IN (%s)%s\nGROUP BY profile_no",
				renderColumns(b.ids, "    "), idRows, strings.Join(types, ", "), and),
		})
	}
	for _, name := range b.order {
		p := b.sources[name]
		ctes = append(ctes, cte{
			name:    rowsCTE(name),
			comment: fmt.Sprintf("Rows of %s with the profile each belongs to (from %s).", name, srcRows),
			body: fmt.Sprintf(`SELECT
    r.rm_profile AS %s,
    s.*
FROM %s AS s
JOIN (SELECT row_key AS rm_key, profile_no AS rm_profile FROM %s WHERE source = %s%s) AS r
    ON r.rm_key = %s`, ProfileColumn, b.c.SourceView(name), srcRows, b.d.String(name), and, models.RowKey(b.c, p.src, "s")),
		})
		if len(p.cols) == 0 {
			continue
		}
		ctes = append(ctes, cte{
			name:    traitsCTE(name),
			comment: fmt.Sprintf("One pass over %s computes every trait that reads it.", name),
			body: fmt.Sprintf("SELECT\n    %s AS profile_no,\n%s\nFROM %s\nGROUP BY %s",
				ProfileColumn, renderColumns(p.cols, "    "), b.ref(rowsCTE(name)), ProfileColumn),
		})
	}
	ctes = append(ctes, b.extra...)
	return append(ctes, b.baseCTE())
}

// baseCTE joins the CTEs of the traits to every profile. The joins are
// chained, one per SELECT (some warehouses run no more), each adding its
// CTE's columns to every profile.
func (b *builder) baseCTE() cte {
	chain := "SELECT profile_no, profile_id FROM " + b.ref("profiles")
	for _, j := range b.joins {
		cols := make([]string, len(j.cols))
		right := make([]string, len(j.cols))
		for k, c := range j.cols {
			right[k] = b.ident(col(j.cte, c))
			cols[k] = "j." + right[k]
		}
		chain = fmt.Sprintf("SELECT c.*, %s\nFROM (\n%s\n) AS c\nLEFT JOIN (SELECT profile_no AS j_profile_no, %s FROM %s) AS j ON j.j_profile_no = c.profile_no",
			strings.Join(cols, ", "), dialect.Indent(chain, "    "), strings.Join(right, ", "), b.ref(j.cte))
	}
	base := []column{{expr: "joined.profile_id", alias: "profile_id"}}
	base = append(base, b.base...)
	return cte{
		name:    "base",
		comment: "Traits read from the identity map and sources, one row per profile.",
		body:    fmt.Sprintf("SELECT\n%s\nFROM (\n%s\n) AS joined", renderColumns(base, "    "), dialect.Indent(chain, "    ")),
	}
}

// expressionCTEs computes the expressions in layers over the CTE last,
// and returns the CTEs and the name of the last.
func (b *builder) expressionCTEs(last string) ([]cte, string) {
	var ctes []cte
	for i, layer := range b.layers() {
		cols := []column{{expr: "*"}}
		for _, t := range layer {
			cols = append(cols, column{
				comment: fmt.Sprintf("%s: %s", t.Name, oneLine(t.Expression)),
				expr:    b.cast(t, "("+strings.TrimSpace(t.Expression)+")"),
				alias:   b.ident(t.Name),
			})
		}
		name := fmt.Sprintf("expressions_%d", i+1)
		comment := "Expressions over the traits above."
		if i > 0 {
			comment = "Expressions that use the expressions above."
		}
		ctes = append(ctes, cte{
			name:    name,
			comment: comment,
			body:    fmt.Sprintf("SELECT\n%s\nFROM %s", renderColumns(cols, "    "), b.ref(last)),
		})
		last = name
	}
	return ctes, last
}

// renderColumns writes a select list, one column per line, each preceded by
// its comment.
func renderColumns(cols []column, indent string) string {
	var sb strings.Builder
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(",\n")
		}
		if c.comment != "" {
			sb.WriteString(indent + "-- " + c.comment + "\n")
		}
		sb.WriteString(indent + c.expr)
		if c.alias != "" && c.alias != c.expr {
			sb.WriteString(" AS " + c.alias)
		}
	}
	return sb.String()
}

// layers groups expressions by depth: an expression sits one layer above
// the deepest expression it uses, so every layer only reads columns that
// exist below it.
func (b *builder) layers() [][]config.Trait {
	byName := map[string]config.Trait{}
	for _, t := range b.c.P.Traits {
		byName[t.Name] = t
	}
	depth := map[string]int{}
	var out [][]config.Trait
	for _, t := range config.TraitOrder(b.c.P.Traits) {
		if t.Kind() != config.TraitExpression {
			continue
		}
		d := 1
		for _, w := range config.ExpressionIdents(t.Expression) {
			if dt, ok := byName[w]; ok && w != t.Name && dt.Kind() == config.TraitExpression {
				d = max(d, depth[w]+1)
			}
		}
		depth[t.Name] = d
		for len(out) < d {
			out = append(out, nil)
		}
		out[d-1] = append(out[d-1], t)
	}
	return out
}
