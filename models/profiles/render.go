package profiles

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
)

// render assembles the query: CTEs for the identity map and each source
// pass, the per-trait CTEs, a base layer joining them to every profile,
// one layer per depth of expressions, and the final column list.
func (b *builder) render() string {
	var ctes []cte
	ctes = append(ctes, cte{
		name:    "profiles",
		comment: "Every profile of the identity map.",
		body:    "SELECT DISTINCT profile_id\n    FROM " + b.c.IdentityMapTable(),
	})
	if len(b.ids) > 0 {
		types := make([]string, len(b.idTypes))
		for i, t := range b.idTypes {
			types[i] = b.d.String(t)
		}
		ctes = append(ctes, cte{
			name:    "identifiers",
			comment: "Identifier traits: one pass over the identity map picks them all.",
			body: fmt.Sprintf("SELECT\n        profile_id,\n%s\n    FROM %s\n    WHERE id_type IN (%s)\n    GROUP BY profile_id",
				renderColumns(b.ids, "        "), b.c.IdentityMapTable(), strings.Join(types, ", ")),
		})
	}
	for _, name := range b.order {
		p := b.sources[name]
		ctes = append(ctes, cte{
			name:    rowsCTE(name),
			comment: fmt.Sprintf("Rows of %s with the profile each belongs to (from %s).", name, b.c.RowMapTable()),
			body: fmt.Sprintf(`SELECT
        r.profile_id AS %s,
        s.*
    FROM %s AS s
    JOIN %s AS r
        ON r.source = %s
        AND r.row_key = %s`, ProfileColumn, b.c.SourceView(name), b.c.RowMapTable(), b.d.String(name), models.RowKey(b.c, p.src, "s")),
		})
		if len(p.cols) == 0 {
			continue
		}
		ctes = append(ctes, cte{
			name:    traitsCTE(name),
			comment: fmt.Sprintf("One pass over %s computes every trait that reads it.", name),
			body: fmt.Sprintf("SELECT\n        %s AS profile_id,\n%s\n    FROM %s\n    GROUP BY %s",
				ProfileColumn, renderColumns(p.cols, "        "), rowsCTE(name), ProfileColumn),
		})
	}
	ctes = append(ctes, b.extra...)

	base := []column{{expr: "profiles.profile_id", alias: "profile_id"}}
	base = append(base, b.base...)
	from := "profiles"
	for _, j := range b.joins {
		from += fmt.Sprintf("\n    LEFT JOIN %[1]s ON %[1]s.profile_id = profiles.profile_id", j.cte)
	}
	ctes = append(ctes, cte{
		name:    "base",
		comment: "Traits read from the identity map and sources, one row per profile.",
		body:    fmt.Sprintf("SELECT\n%s\n    FROM %s", renderColumns(base, "        "), from),
	})
	last := "base"
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
			body:    fmt.Sprintf("SELECT\n%s\n    FROM %s", renderColumns(cols, "        "), last),
		})
		last = name
	}

	var sb strings.Builder
	sb.WriteString("WITH\n")
	for i, c := range ctes {
		if i > 0 {
			sb.WriteString(",\n")
		}
		if c.comment != "" {
			sb.WriteString("-- " + c.comment + "\n")
		}
		sb.WriteString(c.name + " AS (\n    " + c.body + "\n)")
	}
	final := []string{"profile_id"}
	for _, t := range b.c.P.Traits {
		for _, col := range t.Columns() {
			final = append(final, b.ident(col))
		}
	}
	sb.WriteString("\nSELECT\n    " + strings.Join(final, ",\n    ") + "\nFROM " + last)
	return sb.String()
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
