package identity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

func init() {
	models.RegisterStage(models.OrderIdentity, Stage)
	models.RegisterColumnCheck(CheckColumns)
}

// Step names.
const (
	StepEdges      = "identity_edges"
	StepComponents = "identity_components"
	StepGuards     = "identity_guards"
	StepMap        = "identity_map"
)

// rowIDStride separates the row numbers of different edges in row_id:
// row_id = edge number × 2^40 + row number within the edge.
const rowIDStride = "1099511627776"

// rankStride separates the ranks of id types when choosing the profile of a
// row whose identifiers a limit split: rank × 2^48 + id (ids stay far below
// 2^48).
const rankStride = "281474976710656"

// MapTable is the identity map, E_identity_map (qualified and quoted).
func MapTable(c *models.Compiler) string { return c.IdentityMapTable() }

// RowMapTable is E_row_map (qualified and quoted).
func RowMapTable(c *models.Compiler) string { return c.RowMapTable() }

// EdgesTable is E_identity_edges(row_id, id, t): one row per identifier
// (by number) found in a row of an edge source. It is what Explain walks.
func EdgesTable(c *models.Compiler) string { return c.Table(c.Entity() + "_identity_edges") }

// RowsTable is E_identity_rows(row_id, edge, row_key, seen_at): the rows of
// the edge sources; edge is the position of the edge in identity.edges.
func RowsTable(c *models.Compiler) string { return c.Table(c.Entity() + "_identity_rows") }

// IDsTable is E_identity_ids: the identity map with each identifier's
// number (id), which numbers identifiers by first_seen_at, id_type, id_value.
func IDsTable(c *models.Compiler) string { return c.Table(c.Entity() + "_identity_ids") }

// StatsTable is E_identity_stats: per id type, how many values were
// accepted, rejected by normalisation, junk or blocklisted.
func StatsTable(c *models.Compiler) string { return c.Table(c.Entity() + "_identity_stats") }

// RejectsTable is E_identity_rejects: every value that was not stitched
// (rejected, junk, blocklisted) with its source row, for inspection.
func RejectsTable(c *models.Compiler) string { return c.Table(c.Entity() + "_identity_rejects") }

// ConflictsTable is E_identity_limit_conflicts: the components (before
// guards) that held more values of a limited type than its limit, built
// only when some id type has limit_per_profile.
func ConflictsTable(c *models.Compiler) string {
	return c.Table(c.Entity() + "_identity_limit_conflicts")
}

// RowKey is the SQL expression identifying a row of src through alias, as
// text: the primary key cast to text, composite keys joined by the unit
// separator (U+001F). It is models.RowKey, which traits use to join
// E_row_map back to sources.
func RowKey(d dialect.Dialect, src config.Source, alias string) string {
	return models.RowKey(&models.Compiler{D: d}, src, alias)
}

// compiler holds what the identity steps of one compilation share.
type compiler struct {
	c       *models.Compiler
	d       dialect.Dialect
	id      *config.Identity
	types   []config.IDType // in declaration order
	limited []config.IDType // the types with limit_per_profile
	regions bool            // some edge reads each row's phone region from a column
}

// isPhone reports whether the named id type is normalised to E.164.
func (k *compiler) isPhone(name string) bool {
	for _, t := range k.types {
		if t.Name == name {
			return t.Normalize == "phone_e164"
		}
	}
	return false
}

func (k *compiler) table(suffix string) string {
	return k.c.Table(k.c.Entity() + "_identity_" + suffix)
}

// Stage adds the identity steps: identity_edges, identity_components,
// identity_guards (only with limits) and identity_map, and the identity
// figures of the build summary. A project without an identity section has
// none.
func Stage(c *models.Compiler, plan *models.Plan) error {
	id := c.P.Identity
	if id == nil {
		return nil
	}
	k := &compiler{c: c, d: c.D, id: id, types: id.IDTypes}
	for _, e := range id.Edges {
		k.regions = k.regions || e.Region != ""
	}
	for _, t := range id.IDTypes {
		if t.LimitPerProfile > 0 {
			k.limited = append(k.limited, t)
		}
		if t.Normalize == "phone_e164" {
			if _, err := phoneRuleFor(t.DefaultRegion); err != nil {
				return fmt.Errorf("%s: id type %s: %w", t.At.Of("default_region"), t.Name, err)
			}
		}
	}
	edges, err := k.edgesStep()
	if err != nil {
		return err
	}
	plan.Steps = append(plan.Steps, edges, k.componentsStep())
	if len(k.limited) > 0 {
		plan.Steps = append(plan.Steps, k.guardsStep())
	}
	plan.Steps = append(plan.Steps, k.mapStep())
	plan.Report = append(plan.Report, k.metrics()...)
	return nil
}

func (k *compiler) maxRounds() int {
	if k.id.MaxRounds > 0 {
		return k.id.MaxRounds
	}
	return config.DefaultMaxRounds
}

// typeNumber numbers id types in the order of their names, from 1: work
// tables carry this small number instead of the name, and sorting by it
// sorts by name.
func (k *compiler) typeNumber(name string) int {
	n := 1
	for _, t := range k.types {
		if t.Name < name {
			n++
		}
	}
	return n
}

// typeName is a CASE turning the type number in col back into its name.
func (k *compiler) typeName(col string) string {
	whens := make([]string, len(k.types))
	for i, name := range k.typeNames() {
		whens[i] = fmt.Sprintf("WHEN %d THEN %s", i+1, k.d.String(name))
	}
	return "CASE " + col + " " + strings.Join(whens, " ") + " END"
}

func (k *compiler) typeNames() []string {
	names := make([]string, len(k.types))
	for i, t := range k.types {
		names[i] = t.Name
	}
	slices.Sort(names)
	return names
}

// sourceName is a CASE turning the edge number in col into its source.
func (k *compiler) sourceName(col string) string {
	whens := make([]string, len(k.id.Edges))
	for i, e := range k.id.Edges {
		whens[i] = fmt.Sprintf("WHEN %d THEN %s", i+1, k.d.String(e.Source))
	}
	return "CASE " + col + " " + strings.Join(whens, " ") + " END"
}

// edgesStep reads every edge source once: it normalises the identifiers,
// numbers the distinct ones and records which rows carry which. Work tables
// hold numbers (edge, type, row) rather than names: materialising strings
// is what costs most.
func (k *compiler) edgesStep() (models.Step, error) {
	d := k.d
	occ := k.table("occurrences")
	var ctes, found []string
	for i, e := range k.id.Edges {
		src, ok := k.c.Source(e.Source)
		if !ok {
			return models.Step{}, fmt.Errorf("%s: identity edge: unknown source %s", e.At.Of("source"), e.Source)
		}
		// The edge's CTE is read once per id column; its row numbers must
		// agree between the reads, so it is evaluated once (DuckDB
		// materialises a CTE that is referenced several times).
		name := fmt.Sprintf("edge_%d", i+1)
		ts := e.Timestamp
		if ts == "" {
			ts = src.Timestamp
		}
		seen := "CAST(NULL AS TIMESTAMP)"
		if ts != "" {
			seen = d.TryCast("s."+d.Ident(ts), "TIMESTAMP")
		}
		cols := []string{
			"row_number() OVER () AS rn",
			RowKey(d, src, "s") + " AS row_key",
			seen + " AS seen_at",
		}
		if e.Region != "" {
			cols = append(cols, "upper(trim("+d.CastText("s."+d.Ident(e.Region))+")) AS region  -- country of national phone numbers")
		}
		regionless := "NULL AS region, "
		if !k.regions {
			regionless = ""
		}
		for j, m := range e.IDs {
			cols = append(cols, d.CastText("s."+d.Ident(m.Value))+fmt.Sprintf(" AS v%d  -- %s", j+1, m.Key))
			region := regionless
			if e.Region != "" && k.isPhone(m.Key) {
				region = "region, "
			}
			found = append(found, fmt.Sprintf("SELECT %d AS edge, rn, row_key, seen_at, %d AS t, %sv%d AS raw FROM %s WHERE v%d IS NOT NULL  -- %s",
				i+1, k.typeNumber(m.Key), region, j+1, name, j+1, m.Key))
		}
		found = append(found, fmt.Sprintf("SELECT %d AS edge, rn, row_key, seen_at, 0 AS t, %sNULL AS raw FROM %s  -- the row itself", i+1, regionless, name))
		// The comment must not end a line that a column follows.
		for c := range cols[:len(cols)-1] {
			if i := strings.Index(cols[c], "  -- "); i >= 0 {
				cols[c] = cols[c][:i] + "," + cols[c][i:]
			} else {
				cols[c] += ","
			}
		}
		where := ""
		if strings.TrimSpace(e.Where) != "" {
			where = "\n    WHERE (" + strings.TrimSpace(e.Where) + ")"
		}
		ctes = append(ctes, fmt.Sprintf("-- edge %d: source %s%s\n%s AS (\n    SELECT\n        %s\n    FROM %s AS s%s\n)",
			i+1, e.Source, posComment(e.At.Of("source")), name, strings.Join(cols, "\n        "), k.c.SourceView(e.Source), where))
	}
	var formats, blocks []string
	for _, t := range k.types {
		n := k.typeNumber(t.Name)
		region := ""
		if k.regions {
			region = "region"
		}
		formats = append(formats, fmt.Sprintf("WHEN %d THEN %s", n, indentRest(formatExprIn(d, t, "raw", region), "                ")+"  -- "+t.Name))
		if b := blockedExpr(d, t, "value"); b != "false" {
			blocks = append(blocks, fmt.Sprintf("WHEN %d THEN %s", n, b))
		}
	}
	regionCol, regionJoin := "", ""
	if k.regions {
		regionCol = "region, "
		regionJoin = " AND coalesce(v.region, '') = coalesce(f.region, '')"
	}
	blocked := "false"
	if len(blocks) > 0 {
		blocked = "CASE t\n                " + strings.Join(blocks, "\n                ") + "\n                ELSE false\n            END"
	}
	ctes = append(ctes,
		"-- every (row, id type) with a value, t being the id type's number, and\n-- every row itself (t = 0), which alone keeps the row's key\nfound AS (\n    "+strings.Join(found, "\n    UNION ALL\n    ")+"\n)",
		"-- each distinct value is normalised once: the same e-mail or phone\n-- recurs in many rows, and the rules are regular expressions\nvalues_seen AS (\n    SELECT DISTINCT t, "+regionCol+"raw FROM found WHERE t > 0\n)",
		"values_normalised AS (\n    SELECT\n        t,\n        "+regionCol+"raw,\n        "+junkExpr(d, "raw")+" AS junk,\n        CASE t\n            "+
			strings.Join(formats, "\n            ")+"\n        END AS value\n    FROM values_seen\n)",
		"normalised AS (\n    SELECT f.*, v.junk, v.value\n    FROM found AS f\n    LEFT JOIN values_normalised AS v ON v.t = f.t AND v.raw = f.raw"+regionJoin+"\n)",
		"judged AS (\n    SELECT\n        *,\n        CASE\n            WHEN t = 0 THEN NULL\n            WHEN junk THEN 'junk'\n            WHEN value IS NULL THEN 'rejected'\n            WHEN "+
			blocked+" THEN 'blocklisted'\n        END AS problem\n    FROM normalised\n)",
	)
	occurrences := d.ReplaceTable(occ, "WITH\n"+indent(strings.Join(ctes, ",\n"), "    ")+`
SELECT
    edge * `+rowIDStride+` + rn AS row_id,
    edge,
    t,
    CASE WHEN t = 0 OR problem IS NOT NULL THEN row_key END AS row_key,  -- once per row
    seen_at,
    CASE WHEN problem IS NULL THEN value END AS value,
    problem,                                -- NULL when the value is stitched
    CASE WHEN problem IS NOT NULL THEN raw END AS raw  -- kept for inspection only
FROM judged`)

	typeRows := make([]string, len(k.types))
	for i, name := range k.typeNames() {
		typeRows[i] = fmt.Sprintf("(%d, %s)", i+1, d.String(name))
	}
	count := func(problem, as string) string {
		cond := "o.problem = '" + problem + "'"
		if problem == "" {
			cond = "o.row_id IS NOT NULL AND o.problem IS NULL"
		}
		return "sum(CASE WHEN " + cond + " THEN 1 ELSE 0 END) AS " + as
	}
	ids := IDsTable(k.c)
	sqls := []string{
		"-- Every identifier value found in the rows of the edge sources, normalised\n" +
			"-- (see the package documentation of models/identity), and what became of it:\n" +
			"-- stitched, or a problem: junk (null, undefined, 0000...), rejected by\n" +
			"-- normalisation, blocklisted. Rows get a row_id: edge number x 2^40 + row number.\n" + occurrences,
		"-- Per id type: values stitched, rejected, junk and blocklisted (build summary).\n" +
			d.ReplaceTable(StatsTable(k.c), `SELECT
    t.id_type,
    `+count("", "ok")+`,
    `+count("rejected", "rejected")+`,
    `+count("junk", "junk")+`,
    `+count("blocklisted", "blocklisted")+`
FROM (VALUES `+strings.Join(typeRows, ", ")+`) AS t(t, id_type)
LEFT JOIN `+occ+` AS o ON o.t = t.t
GROUP BY t.id_type`),
		"-- Values that were not stitched, with their row, for inspection.\n" +
			d.ReplaceTable(RejectsTable(k.c), `SELECT `+k.sourceName("edge")+` AS source, row_key, `+k.typeName("t")+` AS id_type, raw, problem AS status
FROM `+occ+`
WHERE problem IS NOT NULL`),
		"-- One row per distinct identifier, numbered by first sighting (then type and\n" +
			"-- value): the stitching works on these compact numbers, and the smallest\n" +
			"-- number of a profile is its earliest-seen identifier.\n" +
			d.ReplaceTable(ids, `SELECT
    row_number() OVER (ORDER BY first_seen_at NULLS LAST, t, id_value) AS id,  -- t sorts like id_type
    t,
    id_type,
    id_value,
    first_seen_at,
    last_seen_at,
    seen_count
FROM (
    SELECT t, `+k.typeName("t")+` AS id_type, value AS id_value, min(seen_at) AS first_seen_at, max(seen_at) AS last_seen_at, count(*) AS seen_count
    FROM `+occ+`
    WHERE t > 0 AND problem IS NULL
    GROUP BY t, value
) AS distinct_ids`),
		"-- The rows of the edge sources, by number (edge: position in identity.edges,\n" +
			"-- 1-based), for identity explain and the row map.\n" +
			d.ReplaceTable(RowsTable(k.c), `SELECT row_id, edge, row_key, seen_at
FROM `+occ+`
WHERE t = 0`),
		"-- Which row carries which identifier: the hyperedges of the identity graph.\n" +
			d.ReplaceTable(EdgesTable(k.c), `SELECT o.row_id, i.id, o.t
FROM `+occ+` AS o
JOIN `+ids+` AS i ON i.t = o.t AND i.id_value = o.value
WHERE o.t > 0 AND o.problem IS NULL`),
		d.DropTable(occ),
	}
	var checks []models.Check
	for _, t := range k.types {
		if t.Normalize != "email" && t.Normalize != "phone_e164" {
			continue
		}
		checks = append(checks, models.Check{
			Name:    "normalisation of " + t.Name + " (" + t.Normalize + ")",
			SQL:     "SELECT coalesce(sum(rejected), 0) FROM " + StatsTable(k.c) + " WHERE id_type = " + d.String(t.Name),
			Columns: []models.Count{{Label: "values rejected as unreadable (see " + plainTable(RejectsTable(k.c)) + ")", Problem: true}},
			Origin:  t.At.Of("normalize"),
		})
	}
	return models.Step{
		Name:        StepEdges,
		Kind:        models.KindIdentity,
		Description: "Identity: normalise the identifiers of every edge source and record which rows link them.",
		Origin:      k.id.At.Of("edges"),
		SQL:         sqls,
		Checks:      checks,
	}, nil
}

// componentsStep finds the connected components of the identity graph.
func (k *compiler) componentsStep() models.Step {
	t := k.ccTables("cc_")
	rows := k.table("row_hubs")
	pairs := `-- each row is linked as a star around its smallest identifier
SELECT e.id AS a, r.hub AS b
FROM ` + EdgesTable(k.c) + ` AS e
JOIN (SELECT row_id, hub FROM ` + rows + ` WHERE ids > 1) AS r ON r.row_id = e.row_id`
	sqls := append([]string{
		"-- Per source row with identifiers: how many, the smallest (the hub of its\n" +
			"-- links) and the one that decides its profile in the row map (choice; see\n" +
			"-- choiceKey in models/identity).\n" +
			k.d.ReplaceTable(rows, `SELECT row_id, count(*) AS ids, min(id) AS hub, `+k.choiceKey("t", "id")+` AS choice
FROM `+EdgesTable(k.c)+`
GROUP BY row_id`),
	}, ccInit(k.d, t, pairs)...)
	return models.Step{
		Name: StepComponents,
		Kind: models.KindIdentity,
		Description: "Identity: connected components of the identity graph, in O(log n) rounds on any\n" +
			"graph shape (randomised two-hop hooking with pointer jumping and contraction).",
		Origin: k.id.At.Of("max_rounds"),
		SQL:    sqls,
		Loop:   ccLoop(k.d, t, k.maxRounds(), "identity stitching (identity.max_rounds)"),
	}
}

// choiceKey is the aggregate that picks the identifier deciding a row's
// profile when a limit split the row: types with the strictest limit first,
// types without a limit last, then the earliest seen (the smallest number),
// encoded as rank x 2^48 + number (numbers stay far below 2^48). Without
// limits every identifier of a row is in the same profile: the smallest
// number is as good as any.
func (k *compiler) choiceKey(typeCol, idCol string) string {
	if len(k.limited) == 0 {
		return "min(" + idCol + ")"
	}
	ranked := slices.Clone(k.limited)
	slices.SortStableFunc(ranked, func(a, b config.IDType) int { return a.LimitPerProfile - b.LimitPerProfile })
	whens := make([]string, len(ranked))
	for i, t := range ranked {
		whens[i] = fmt.Sprintf("WHEN %d THEN %d", k.typeNumber(t.Name), i)
	}
	return fmt.Sprintf("min(CASE %s %s ELSE %d END * %s + %s)", typeCol, strings.Join(whens, " "), len(ranked), rankStride, idCol)
}

// guardsStep enforces limit_per_profile. A component holding more values
// of a limited type than the limit is split:
//
//  1. every value of an over-limit type (an anchor) heads its own profile;
//  2. an identifier that shares a row with anchors joins the earliest-seen
//     of them;
//  3. the other identifiers are cut into regions (connected through rows
//     once anchors and the identifiers of 2 are removed), and each region
//     joins the earliest-seen anchor among those of the identifiers of 2
//     it shares a row with.
//
// Each resulting profile is connected, holds exactly one anchor, and so
// respects every limit. Components within their limits are untouched.
func (k *compiler) guardsStep() models.Step {
	d := k.d
	cc := k.ccTables("cc_")
	g := k.ccTables("guard_cc_")
	ids := IDsTable(k.c)
	edges := EdgesTable(k.c)
	anchors := k.table("guard_anchors")
	attached := k.table("guard_attached")
	rest := k.table("guard_rest")
	assign := k.table("guard_assignment")
	conflicts := ConflictsTable(k.c)
	var names, limits []string
	for _, t := range k.limited {
		names = append(names, d.String(t.Name))
		limits = append(limits, fmt.Sprintf("WHEN %s THEN %d", d.String(t.Name), t.LimitPerProfile))
	}
	sqls := []string{
		"-- Components holding more values of a limited type than its limit.\n" +
			d.ReplaceTable(conflicts, fmt.Sprintf(`SELECT c.label AS component, i.id_type, count(*) AS value_count
FROM %[1]s AS c
JOIN %[2]s AS i ON i.id = c.id
WHERE i.id_type IN (%[3]s)
GROUP BY c.label, i.id_type
HAVING count(*) > CASE i.id_type %[4]s END`, cc.done, ids, strings.Join(names, ", "), strings.Join(limits, " "))),
		"-- Anchors: the values of the over-limit types; each heads its own profile.\n" +
			d.ReplaceTable(anchors, fmt.Sprintf(`SELECT c.id, c.label AS component
FROM %[1]s AS c
JOIN %[2]s AS i ON i.id = c.id
JOIN %[3]s AS x ON x.component = c.label AND x.id_type = i.id_type`, cc.done, ids, conflicts)),
		"-- Identifiers sharing a row with anchors join the earliest-seen of them\n" +
			"-- (the smallest number: identifiers are numbered by first sighting).\n" +
			d.ReplaceTable(attached, fmt.Sprintf(`SELECT em.id, min(a.id) AS anchor
FROM %[1]s AS a
JOIN %[2]s AS ea ON ea.id = a.id
JOIN %[2]s AS em ON em.row_id = ea.row_id
WHERE em.id NOT IN (SELECT id FROM %[1]s)
GROUP BY em.id`, anchors, edges)),
		"-- The other identifiers of those components.\n" +
			d.ReplaceTable(rest, fmt.Sprintf(`SELECT c.id, c.label AS component
FROM %[1]s AS c
WHERE c.label IN (SELECT component FROM %[2]s)
  AND c.id NOT IN (SELECT id FROM %[3]s)
  AND c.id NOT IN (SELECT id FROM %[4]s)`, cc.done, conflicts, anchors, attached)),
	}
	pairs := fmt.Sprintf(`-- rows restricted to those other identifiers, each as a star around its
-- smallest such identifier: their components are the regions
WITH e AS (
    SELECT e.row_id, e.id
    FROM %[1]s AS e
    WHERE e.id IN (SELECT id FROM %[2]s)
)
SELECT e.id AS a, h.hub AS b
FROM e
JOIN (SELECT row_id, min(id) AS hub FROM e GROUP BY row_id HAVING count(*) > 1) AS h ON h.row_id = e.row_id`, edges, rest)
	sqls = append(sqls, ccInit(d, g, pairs)...)
	finally := []string{
		"-- Each region joins the earliest-seen anchor among those of the attached\n" +
			"-- identifiers it shares a row with; attached identifiers join their anchor,\n" +
			"-- and anchors head their own group.\n" +
			d.ReplaceTable(assign, fmt.Sprintf(`WITH
    region AS (  -- region of every remaining identifier
        SELECT m.id, coalesce(r.label, m.id) AS region
        FROM %[1]s AS m
        LEFT JOIN %[2]s AS r ON r.id = m.id
    ),
    touch AS (  -- anchor of the attached identifiers sharing a row with a region
        SELECT g.region, min(t.anchor) AS anchor
        FROM %[3]s AS t
        JOIN %[4]s AS et ON et.id = t.id
        JOIN %[4]s AS em ON em.row_id = et.row_id
        JOIN region AS g ON g.id = em.id
        GROUP BY g.region
    )
SELECT g.id, coalesce(t.anchor, g.region) AS grp
FROM region AS g
LEFT JOIN touch AS t ON t.region = g.region
UNION ALL
SELECT id, anchor AS grp
FROM %[3]s
UNION ALL
SELECT id, id AS grp
FROM %[5]s`, rest, g.done, attached, edges, anchors)),
	}
	for _, tb := range append(g.all(), anchors, attached, rest) {
		finally = append(finally, d.DropTable(tb))
	}
	return models.Step{
		Name: StepGuards,
		Kind: models.KindIdentity,
		Description: "Identity: limit_per_profile. A component over a limit is split around the values\n" +
			"of the over-limit types (anchors): identifiers in a row with anchors join the\n" +
			"earliest-seen one, the rest joins by regions the earliest-seen anchor it reaches.",
		Origin:  k.limited[0].At.Of("limit_per_profile"),
		SQL:     sqls,
		Loop:    ccLoop(d, g, k.maxRounds(), "identity limit guards (identity.max_rounds)"),
		Finally: finally,
	}
}

// mapStep gives every identifier its profile, derives stable profile ids
// and builds the identity map and the row map.
func (k *compiler) mapStep() models.Step {
	d := k.d
	cc := k.ccTables("cc_")
	ids := IDsTable(k.c)
	groups := k.table("groups")
	profiles := k.table("profiles")
	assign := k.table("guard_assignment")
	grp, join := "coalesce(c.label, i.id)", ""
	if len(k.limited) > 0 {
		grp = "coalesce(a.grp, c.label, i.id)"
		join = "\nLEFT JOIN " + assign + " AS a ON a.id = i.id"
	}
	profileID := d.HexDigest(d.Concat("i.id_type", d.String(":"), "i.id_value"))
	sqls := []string{
		"-- The group (future profile) of every identifier.\n" +
			d.ReplaceTable(groups, fmt.Sprintf(`SELECT i.id, %[1]s AS grp
FROM %[2]s AS i
LEFT JOIN %[3]s AS c ON c.id = i.id%[4]s`, grp, ids, cc.done, join)),
		"-- Stable profile ids: a profile is named after its earliest-seen identifier\n" +
			"-- (smallest first_seen_at, then id_type, then id_value; the smallest number),\n" +
			"-- as md5(id_type || ':' || id_value). It changes only when that identifier\n" +
			"-- changes: a merge with an older profile, a split, or backfilled older data.\n" +
			d.ReplaceTable(profiles, fmt.Sprintf(`SELECT a.grp, %[3]s AS profile_id
FROM (SELECT grp, min(id) AS id FROM %[1]s GROUP BY grp) AS a
JOIN %[2]s AS i ON i.id = a.id`, groups, ids, profileID)),
		"-- The identity map: one row per identifier, with its profile.\n" +
			d.ReplaceTable(MapTable(k.c), fmt.Sprintf(`SELECT p.profile_id, i.id_type, i.id_value, i.first_seen_at, i.last_seen_at, i.seen_count
FROM %[1]s AS i
JOIN %[2]s AS g ON g.id = i.id
JOIN %[3]s AS p ON p.grp = g.grp`, ids, groups, profiles)),
		"-- The row map: the profile of every edge-source row with an identifier. When\n" +
			"-- a limit split a row's identifiers, the row goes with its identifier of the\n" +
			"-- type with the strictest limit (types without a limit last), the earliest\n" +
			"-- seen among equals.\n" +
			d.ReplaceTable(RowMapTable(k.c), k.rowMapQuery(groups, profiles)),
	}
	for _, tb := range append(cc.all(), groups, profiles, k.table("row_hubs")) {
		sqls = append(sqls, d.DropTable(tb))
	}
	if len(k.limited) > 0 {
		sqls = append(sqls, d.DropTable(assign))
	}
	return models.Step{
		Name:        StepMap,
		Kind:        models.KindIdentity,
		Description: "Identity: stable profile ids, the identity map and the row map.",
		Origin:      k.id.At.Of("entity"),
		SQL:         sqls,
	}
}

// rowMapQuery gives each row the profile of its deciding identifier (see
// choiceKey), from the rows table: one join, no grouping. A source read by
// several edges has each row under several row numbers; those are grouped
// by (source, row_key).
func (k *compiler) rowMapQuery(groups, profiles string) string {
	hubs := k.table("row_hubs")
	perSource := map[string]int{}
	for _, e := range k.id.Edges {
		perSource[e.Source]++
	}
	var single, shared []string
	for i, e := range k.id.Edges {
		if perSource[e.Source] > 1 {
			shared = append(shared, fmt.Sprint(i+1))
		} else {
			single = append(single, fmt.Sprint(i+1))
		}
	}
	decide := "h.choice"
	if len(k.limited) > 0 {
		decide = "h.choice % " + rankStride
	}
	from := RowsTable(k.c) + " AS r\nJOIN " + hubs + " AS h ON h.row_id = r.row_id\nWHERE r.row_key IS NOT NULL"
	var parts []string
	if len(single) > 0 {
		filter := ""
		if len(shared) > 0 {
			filter = " AND r.edge IN (" + strings.Join(single, ", ") + ")"
		}
		parts = append(parts, fmt.Sprintf("SELECT r.edge, r.row_key, r.seen_at, %s AS decider\nFROM %s%s", decide, from, filter))
	}
	if len(shared) > 0 {
		parts = append(parts, fmt.Sprintf(`SELECT min(r.edge) AS edge, r.row_key, max(r.seen_at) AS seen_at, min(h.choice)%s AS decider
FROM %s AND r.edge IN (%s)
GROUP BY %s, r.row_key  -- these sources are read by several edges`, strings.TrimPrefix(decide, "h.choice"), from, strings.Join(shared, ", "), k.sourceName("r.edge")))
	}
	// Rows sharing a primary key (reported by the source's key check) are
	// folded into one entry, so that a trait joining on row_key counts each
	// source row once; the smallest group wins, deterministically. Folding
	// on numbers before naming sources and profiles keeps it cheap.
	return fmt.Sprintf(`WITH per_row AS (
%[1]s
),
folded AS (
    SELECT r.edge, r.row_key, min(g.grp) AS grp, max(r.seen_at) AS seen_at
    FROM per_row AS r
    JOIN %[3]s AS g ON g.id = r.decider
    GROUP BY r.edge, r.row_key
)
SELECT %[2]s AS source, r.row_key, p.profile_id, r.seen_at
FROM folded AS r
JOIN %[4]s AS p ON p.grp = r.grp`, indent(strings.Join(parts, "\nUNION ALL\n"), "    "), k.sourceName("r.edge"), groups, profiles)
}

// metrics are the identity figures of the build summary.
func (k *compiler) metrics() []models.Metric {
	d := k.d
	m := MapTable(k.c)
	out := []models.Metric{
		{Name: "identifiers", SQL: "SELECT count(*) FROM " + m},
		{Name: "profiles", SQL: "SELECT count(DISTINCT profile_id) FROM " + m},
		{Name: "largest profile (identifiers)", SQL: "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM " + m + " GROUP BY profile_id) AS sizes"},
	}
	for _, t := range k.types {
		if t.Normalize == "email" || t.Normalize == "phone_e164" {
			out = append(out, models.Metric{
				Name: fmt.Sprintf("%s values rejected by normalisation (%s)", t.Name, t.Normalize),
				SQL:  "SELECT coalesce(sum(rejected), 0) FROM " + StatsTable(k.c) + " WHERE id_type = " + d.String(t.Name),
			})
		}
	}
	out = append(out, models.Metric{
		Name: "blocklisted values skipped (junk included)",
		SQL:  "SELECT coalesce(sum(junk + blocklisted), 0) FROM " + StatsTable(k.c),
	})
	for _, t := range k.limited {
		out = append(out, models.Metric{
			Name: fmt.Sprintf("merges blocked by %s limit %d", t.Name, t.LimitPerProfile),
			SQL:  "SELECT coalesce(sum(value_count - 1), 0) FROM " + ConflictsTable(k.c) + " WHERE id_type = " + d.String(t.Name),
		})
	}
	return out
}

// CheckColumns reports edge columns (identifiers, timestamp) missing from
// their source, at the position of the column name.
func CheckColumns(p *config.Project, cat models.Catalog, report func(config.Pos, string, ...any)) {
	if p.Identity == nil {
		return
	}
	for _, e := range p.Identity.Edges {
		for _, m := range e.IDs {
			if strings.TrimSpace(m.Value) != "" {
				models.RequireColumn(cat, e.Source, m.Value, m.ValuePos, report)
			}
		}
		if e.Timestamp != "" {
			models.RequireColumn(cat, e.Source, e.Timestamp, e.At.Of("timestamp"), report)
		}
		if e.Region != "" {
			models.RequireColumn(cat, e.Source, e.Region, e.At.Of("region"), report)
		}
	}
}

func posComment(p config.Pos) string {
	if p.File == "" {
		return ""
	}
	return " (" + p.String() + ")"
}

// plainTable drops the quotes of a quoted table name, for messages.
func plainTable(q string) string { return strings.ReplaceAll(q, `"`, "") }

// indentRest indents every line but the first.
func indentRest(s, prefix string) string {
	first, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return s
	}
	return first + "\n" + indent(rest, prefix)
}

func indent(s, prefix string) string {
	if prefix == "" {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
