package identity

import (
	"fmt"
	"slices"
	"strconv"
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
	StepNormalise  = "identity_normalise"
	StepEdges      = "identity_edges"
	StepComponents = "identity_components"
	StepGuards     = "identity_guards"
	StepMap        = "identity_map"
	StepRowMap     = "identity_row_map"
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

// StatsTable is E_identity_stats: per id type, how many values were
// accepted, rejected by normalisation, junk or blocklisted.
func StatsTable(c *models.Compiler) string { return c.Table(c.Entity() + "_identity_stats") }

// SizesTable is E_identity_sizes(size, profiles): how many profiles hold
// each number of identifiers. The build summary reads it; an incremental
// build updates it from the profiles it re-stitched, where counting the
// identity map again would read every row.
func SizesTable(c *models.Compiler) string { return c.Table(c.Entity() + "_identity_sizes") }

// sizesOf counts the profiles of an identity map (or of its rows of some
// profiles) by their number of identifiers; n is what each counts for.
func sizesOf(d dialect.Dialect, idMap, n string) string {
	return "SELECT " + d.Cast("count(*)", "BIGINT") + " AS size, " + d.Cast(n, "BIGINT") + " AS n FROM " + idMap + " GROUP BY profile_no"
}

// sizesSQL folds rows of (size, n) into the sizes table's rows.
func sizesSQL(d dialect.Dialect, counted string) string {
	return "SELECT size, " + d.Cast("sum(n)", "BIGINT") + " AS profiles\nFROM (\n" + dialect.Indent(counted, "    ") + "\n) AS counted\nGROUP BY size\nHAVING sum(n) <> 0"
}

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
	erasure *models.Erasure // the suppression list, with an erasure block
	// incr, on an incremental build, restricts the edge reads to the rows
	// that matter and sends the stage's results to work tables (see
	// incremental.go); nil on a full build.
	incr *incremental
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
	return k.c.WorkTable(k.c.Entity() + "_identity_" + suffix)
}

// Stage adds the identity steps: identity_normalise, identity_edges,
// identity_components, identity_guards (only with limits), identity_map and
// identity_row_map, and the identity figures of the build summary. A project
// without an identity section has none.
func Stage(c *models.Compiler, plan *models.Plan) error {
	if c.P.Identity == nil {
		return nil
	}
	if c.Previous != nil {
		if unchanged(c) {
			plan.Steps = append(plan.Steps, unchangedStep(c))
			return nil
		}
		return IncrementalStage(c, plan)
	}
	k, err := newStageCompiler(c, plan.Erasure)
	if err != nil {
		return err
	}
	steps, err := k.steps()
	if err != nil {
		return err
	}
	plan.Steps = append(plan.Steps, steps...)
	plan.Report = append(plan.Report, k.metrics()...)
	return nil
}

// newStageCompiler checks the identity section and gathers what its steps share.
func newStageCompiler(c *models.Compiler, erasure *models.Erasure) (*compiler, error) {
	id := c.P.Identity
	k := &compiler{c: c, d: c.D, id: id, types: id.IDTypes, erasure: erasure}
	for _, e := range id.Edges {
		k.regions = k.regions || e.Region != ""
	}
	for _, t := range id.IDTypes {
		if t.LimitPerProfile > 0 {
			k.limited = append(k.limited, t)
		}
		if t.Normalize == "phone_e164" {
			if _, err := phoneRuleFor(t.DefaultRegion); err != nil {
				return nil, fmt.Errorf("%s: id type %s: %w", t.At.Of("default_region"), t.Name, err)
			}
		}
	}
	return k, nil
}

// steps are the stitching steps, from the edge reads to the row map.
func (k *compiler) steps() ([]models.Step, error) {
	steps, err := k.edgesSteps()
	if err != nil {
		return nil, err
	}
	steps = append(steps, k.componentsStep())
	if len(k.limited) > 0 {
		steps = append(steps, k.guardsStep())
	}
	return append(steps, k.mapStep(), k.rowMapStep()), nil
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
		whens[i] = fmt.Sprintf("WHEN %s = %d THEN %s", col, i+1, k.d.String(name))
	}
	return "CASE " + strings.Join(whens, " ") + " END"
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
		whens[i] = fmt.Sprintf("WHEN %s = %d THEN %s", col, i+1, k.d.String(e.Source))
	}
	return "CASE " + strings.Join(whens, " ") + " END"
}

// edgesSteps reads every edge source once: it normalises the identifiers
// (identity_normalise), then numbers the distinct ones and records which rows
// carry which (identity_edges). Work tables
// hold numbers (edge, type, row) rather than names: materialising strings
// is what costs most.
func (k *compiler) edgesSteps() ([]models.Step, error) {
	d := k.d
	occ := k.table("occurrences")
	scope := dialect.NewScope(d, func(name string) string { return k.table("w_" + name) })
	// found: every (row, id type) with a value; rowsOf: every row itself
	// (t = 0), which alone keeps the row's key; edgeRows: the same, read
	// from the edge subqueries where found does not carry them.
	var found, rowsOf, edgeRows []string
	for i, e := range k.id.Edges {
		src, ok := k.c.Source(e.Source)
		if !ok {
			return nil, fmt.Errorf("%s: identity edge: unknown source %s", e.At.Of("source"), e.Source)
		}
		// The edge's subquery is read once per id column; its row numbers
		// must agree between the reads, so it is evaluated once (DuckDB
		// materialises a CTE that is referenced several times; other
		// dialects a work table).
		name := fmt.Sprintf("edge_%d", i+1)
		ts := e.Timestamp
		if ts == "" {
			ts = src.Timestamp
		}
		seen := d.Cast("NULL", "TIMESTAMP")
		if ts != "" {
			seen = d.TryCast("s."+d.Ident(ts), "TIMESTAMP")
		}
		cols := []string{
			d.RowNumber() + " AS rn",
			RowKey(d, src, "s") + " AS row_key",
			seen + " AS seen_at",
		}
		if e.Region != "" {
			cols = append(cols, d.Upper(d.Trim(d.CastText("s."+d.Ident(e.Region))))+" AS region  -- country of national phone numbers")
		}
		regionless := d.CastText("NULL") + " AS region, "
		if !k.regions {
			regionless = ""
		}
		for j, m := range e.IDs {
			cols = append(cols, d.CastText("s."+d.Ident(m.Value))+fmt.Sprintf(" AS v%d  -- %s", j+1, m.Key))
		}
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
			where = "\nWHERE (" + strings.TrimSpace(e.Where) + ")"
		}
		ref := scope.Add(name, fmt.Sprintf("edge %d: source %s%s", i+1, e.Source, posComment(e.At.Of("source"))),
			fmt.Sprintf("SELECT\n    %s\nFROM %s AS s%s", strings.Join(cols, "\n    "), k.edgeSource(e.Source), where))
		for j, m := range e.IDs {
			region := regionless
			if e.Region != "" && k.isPhone(m.Key) {
				region = "region, "
			}
			// Only the row itself (t = 0 below) carries the row's key: the
			// values do not drag it through the normalisation join.
			found = append(found, fmt.Sprintf("SELECT %d AS edge, rn, %s AS row_key, seen_at, %d AS t, %sv%d AS raw FROM %s WHERE v%d IS NOT NULL  -- %s",
				i+1, d.CastText("NULL"), k.typeNumber(m.Key), region, j+1, ref, j+1, m.Key))
		}
		rowsOf = append(rowsOf, fmt.Sprintf("SELECT %d AS edge, rn, row_key, seen_at, 0 AS t, %s%s AS raw FROM %s  -- the row itself", i+1, regionless, d.CastText("NULL"), ref))
		edgeRows = append(edgeRows, fmt.Sprintf("SELECT 0, %d * %s + rn, %d, row_key, seen_at, NULL, NULL, NULL, NULL, NULL, NULL FROM %s", i+1, rowIDStride, i+1, ref))
	}
	var formats, blocks []string
	for _, t := range k.types {
		n := k.typeNumber(t.Name)
		region := ""
		if k.regions {
			region = "region"
		}
		formats = append(formats, fmt.Sprintf("WHEN t = %d THEN %s", n, indentRest(formatExprIn(d, t, "raw", region), "            ")+"  -- "+t.Name))
		if b := blockedExpr(d, t, "value"); b != d.Bool(false) {
			blocks = append(blocks, fmt.Sprintf("WHEN t = %d THEN %s", n, b))
		}
	}
	regionCol, regionKey, regionJoin := "", "", ""
	if k.regions {
		regionCol = "region, "
		regionKey = "coalesce(region, '') AS v_region, "
		regionJoin = " AND v.v_region = coalesce(f.region, '')"
	}
	blocked := d.Bool(false)
	if len(blocks) > 0 {
		blocked = "CASE\n            " + strings.Join(blocks, "\n            ") + "\n            ELSE " + d.Bool(false) + "\n        END"
	}
	var occurrences []string
	// What the later statements read from the occurrences: per id type and
	// problem, how many occurrences (stats); the rows of the values that were
	// not stitched (rejects); the sightings of each identifier (ids); and the
	// rows each identifier occurs in (edges).
	var (
		rejectRow, seenFirst         string
		seenLast, seenCount, edgeRow string
	)
	l, lists := d.(dialect.Lists)
	if lists {
		// Each distinct raw value is one row, normalised once, with the list
		// of the rows it occurs in and its sightings already folded: the
		// numbering groups 1.2M values rather than 3M occurrences, and the
		// edges unnest the lists with no join back to the occurrences.
		regionSel, regionGroup := "", ""
		if k.regions {
			regionSel, regionGroup = "coalesce(region, '') AS region, ", "coalesce(region, ''), "
		}
		// The rows come straight from the edge subqueries, so that found is
		// read once and not materialised (DuckDB materialises a CTE that is
		// read twice).
		foundRef := scope.Add("found", "every (row, id type) with a value, t being the id type's number",
			strings.Join(found, "\nUNION ALL\n"))
		groupedRef := scope.Add("values_seen", "each distinct value once, with the rows it occurs in: the same e-mail or\nphone recurs in many rows, and the rules are regular expressions",
			"SELECT t, "+regionSel+"raw, "+l.ListAgg("edge * "+rowIDStride+" + rn")+" AS row_ids, min(seen_at) AS first_seen_at, max(seen_at) AS last_seen_at, count(*) AS n\nFROM "+foundRef+"\nGROUP BY t, "+regionGroup+"raw")
		normRef := scope.Add("values_normalised", "",
			"SELECT\n    *,\n    "+junkExpr(d, "raw")+" AS junk,\n    CASE\n        "+
				strings.Join(formats, "\n        ")+"\n    END AS value\nFROM "+groupedRef)
		judgedRef := scope.Add("judged", "",
			"SELECT\n    *,\n    "+"CASE\n        WHEN junk THEN 'junk'\n        WHEN value IS NULL THEN 'rejected'\n        "+
				k.suppressedWhen()+"WHEN "+blocked+" THEN 'blocklisted'\n    END AS problem\nFROM "+normRef)
		occurrences = scope.ReplaceTable(occ, `SELECT
    t,
    `+d.Cast("NULL", "BIGINT")+` AS row_id,    -- rows (t = 0) only
    `+d.Cast("NULL", "INTEGER")+` AS edge,
    `+d.CastText("NULL")+` AS row_key,
    first_seen_at AS seen_at,               -- a row's own; a value's first
    last_seen_at,
    n,                                      -- occurrences of the value
    row_ids,
    CASE WHEN problem IS NULL THEN value END AS value,
    problem,                                -- NULL when the value is stitched
    CASE WHEN problem IS NOT NULL`+k.notSuppressed()+` THEN raw END AS raw  -- kept for inspection only
FROM `+judgedRef+`
UNION ALL
`+strings.Join(edgeRows, "\nUNION ALL\n"))
		rejectRow = l.Unnest("row_ids")
		seenFirst, seenLast, seenCount = "min(seen_at)", "max(last_seen_at)", d.Cast("sum(n)", "BIGINT")
		edgeRow = l.Unnest("o.row_ids") + " AS row_id"
	} else {
		foundRef := scope.Add("found", "every (row, id type) with a value, t being the id type's number, and\nevery row itself (t = 0), which alone keeps the row's key",
			strings.Join(append(found, rowsOf...), "\nUNION ALL\n"))
		seenRef := scope.Add("values_seen", "each distinct value is normalised once: the same e-mail or phone\nrecurs in many rows, and the rules are regular expressions",
			"SELECT DISTINCT t, "+regionCol+"raw FROM "+foundRef+" WHERE t > 0")
		normRef := scope.Add("values_normalised", "",
			"SELECT\n    t AS v_t,\n    "+regionKey+"raw AS v_raw,\n    "+junkExpr(d, "raw")+" AS junk,\n    CASE\n        "+
				strings.Join(formats, "\n        ")+"\n    END AS value\nFROM "+seenRef)
		// The join's right side has names of its own: ClickHouse 18.16
		// mishandles a join on several keys whose names both sides share.
		// The rows themselves (t = 0) have no value to look up: they skip the
		// join, a third of its input.
		joinedRef := scope.Add("normalised", "",
			"SELECT f.*, v.junk, v.value\nFROM (SELECT * FROM "+foundRef+" WHERE t > 0) AS f\nLEFT JOIN "+normRef+" AS v ON v.v_t = f.t AND v.v_raw = f.raw"+regionJoin+
				"\nUNION ALL\nSELECT f.*, f.t < 0 AS junk, "+d.CastText("NULL")+" AS value\nFROM "+foundRef+" AS f\nWHERE t = 0")
		judgedRef := scope.Add("judged", "",
			"SELECT\n    *,\n    CASE\n        WHEN t = 0 THEN NULL\n        WHEN junk THEN 'junk'\n        WHEN value IS NULL THEN 'rejected'\n        "+
				k.suppressedWhen()+"WHEN "+blocked+" THEN 'blocklisted'\n    END AS problem\nFROM "+joinedRef)
		occurrences = scope.ReplaceTable(occ, `SELECT
    edge * `+rowIDStride+` + rn AS row_id,
    edge,
    t,
    row_key,                                -- once per row: on t = 0 only
    seen_at,
    CASE WHEN problem IS NULL THEN value END AS value,
    problem,                                -- NULL when the value is stitched
    CASE WHEN problem IS NOT NULL`+k.notSuppressed()+` THEN raw END AS raw  -- kept for inspection only
FROM `+judgedRef)
		rejectRow = "row_id"
		seenFirst, seenLast, seenCount = "min(seen_at)", "max(seen_at)", "count(*)"
		edgeRow = "o.row_id"
	}
	occurrences[0] = "-- Every identifier value found in the rows of the edge sources, normalised\n" +
		"-- (see the package documentation of models/identity), and what became of it:\n" +
		"-- stitched, or a problem: junk (null, undefined, 0000...), rejected by\n" +
		"-- normalisation, blocklisted. Rows get a row_id: edge number x 2^40 + row number.\n" + occurrences[0]

	ids := k.table("ids")
	sqls := append(occurrences, k.erasedRowsSQL(occ, rejectRow)...)
	if k.incr == nil {
		sqls = append(sqls, k.liveSourcesSQL(occ)...)
	} else {
		sqls = append(sqls, k.incr.liveSourcesSQL(k, occ)...)
	}
	sqls = append(sqls,
		"-- The rows of the edge sources, by number (edge: position in identity.edges,\n"+
			"-- 1-based), for identity explain and the row map.\n"+
			d.ReplaceTable(k.rowsTable(), `SELECT row_id, edge, row_key, seen_at
FROM `+occ+`
WHERE t = 0`+k.rowNotErased("row_id")),
		"-- Values that were not stitched, with their row, for inspection.\n"+
			d.ReplaceTable(k.rejectsTable(), `SELECT `+k.sourceName("edge")+` AS source, r_key AS row_key, `+k.typeName("t")+` AS id_type, raw, problem AS status
FROM (SELECT `+rejectRow+` AS o_row, t, raw, problem FROM `+occ+` WHERE problem IS NOT NULL`+k.notSuppressed()+`) AS o
JOIN (SELECT row_id AS r_row, edge, row_key AS r_key FROM `+k.rowsTable()+`) AS r ON r.r_row = o.o_row`),
	)
	normalise := models.Step{
		Name:        StepNormalise,
		Kind:        models.KindIdentity,
		Description: "Identity: read the identifiers of every edge source and normalise them.",
		Origin:      k.id.At.Of("edges"),
		SQL:         sqls,
	}
	// Numbering and edges are a step of their own: from here on the work
	// is on normalised identifiers, what the stitching benchmark compares
	// with union-find.
	sqls = []string{
		"-- One row per distinct identifier, numbered by first sighting (then type and\n" +
			"-- value): the stitching works on these compact numbers, and the smallest\n" +
			"-- number of a profile is its earliest-seen identifier.\n" +
			// The type's name is added after numbering: the sort carries every
			// column along, and a narrower row sorts faster.
			d.ReplaceTable(ids, `SELECT id, t, `+k.typeName("t")+` AS id_type, id_value, first_seen_at, last_seen_at, seen_count
FROM (
`+dialect.Indent(d.NumberRows(`SELECT t, value AS id_value, `+seenFirst+` AS first_seen_at, `+seenLast+` AS last_seen_at, `+seenCount+` AS seen_count
FROM `+occ+`
WHERE t > 0 AND problem IS NULL
GROUP BY t, value`, "id", []dialect.SortKey{{Expr: "first_seen_at"}, {Expr: "t"}, {Expr: "id_value"}}), "    ")+`
) AS numbered`), // t sorts like id_type
		"-- Which row carries which identifier: the hyperedges of the identity graph.\n" +
			d.ReplaceTable(k.edgesTable(), `SELECT `+edgeRow+`, i.id, o.t
FROM `+occ+` AS o
JOIN (SELECT id, t AS i_t, id_value AS i_value FROM `+ids+`) AS i ON i.i_t = o.t AND i.i_value = o.value
WHERE o.t > 0 AND o.problem IS NULL`),
		d.DropTable(occ),
	}
	var checks []models.Check
	if k.incr == nil {
		// An incremental build counts the tables it publishes instead.
		sqls = append(sqls, "-- Per id type: values stitched, rejected, junk and blocklisted (build summary).\n"+
			d.ReplaceTable(k.statsTable(), k.statsQuery(k.edgesTable(), k.rejectsTable())))
		checks = k.normaliseChecks(k.statsTable())
	}
	if k.erasure != nil {
		sqls = append(sqls, d.DropTable(k.erasedTable()))
	}
	if _, ok := d.(dialect.WorkSpace); ok {
		// Earlier releases published the numbered identifiers in the
		// project schema; the identity map's id_no replaced them.
		sqls = append(sqls, d.DropTable(k.c.FinalTable(k.c.Entity()+"_identity_ids")))
	}
	return []models.Step{normalise, {
		Name:        StepEdges,
		Kind:        models.KindIdentity,
		Description: "Identity: number the identifiers and record which rows link them.",
		Origin:      k.id.At.Of("edges"),
		SQL:         sqls,
		Checks:      checks,
	}}, nil
}

// statsQuery counts, per id type, the values stitched (an edge each) and
// the values not stitched (a reject each) by status: the occurrences of
// every value in the rows kept, erased people's rows excepted.
func (k *compiler) statsQuery(edges, rejects string) string {
	return k.statsFrom("SELECT "+k.typeName("t")+" AS x_type, 'ok' AS x_status, count(*) AS x_n FROM "+edges+" GROUP BY t", rejects)
}

// statsFromMap is statsQuery reading the values stitched from an identity
// map: an identifier's seen_count is its number of edges, and the map
// holds a third as many rows as the edges.
func (k *compiler) statsFromMap(idMap, rejects string) string {
	return k.statsFrom("SELECT id_type AS x_type, 'ok' AS x_status, sum(seen_count) AS x_n FROM "+idMap+" GROUP BY id_type", rejects)
}

// statsFrom is statsQuery with the query counting the values stitched.
func (k *compiler) statsFrom(stitched, rejects string) string {
	d := k.d
	typeRows := make([]string, len(k.types))
	for i, name := range k.typeNames() {
		typeRows[i] = fmt.Sprintf("SELECT %s AS id_type", d.String(name))
	}
	count := func(status, as string) string {
		return "sum(CASE WHEN x.x_status = '" + status + "' THEN x.x_n ELSE 0 END) AS " + as
	}
	return fmt.Sprintf(`SELECT
    t.id_type,
    %[1]s,
    %[2]s,
    %[3]s,
    %[4]s
FROM (%[5]s) AS t
LEFT JOIN (
    %[6]s
    UNION ALL
    SELECT id_type AS x_type, status AS x_status, count(*) AS x_n FROM %[7]s GROUP BY id_type, status
) AS x ON x.x_type = t.id_type
GROUP BY t.id_type`, count("ok", "ok"), count("rejected", "rejected"), count("junk", "junk"), count("blocklisted", "blocklisted"),
		strings.Join(typeRows, " UNION ALL "), stitched, rejects)
}

// normaliseChecks warn about the values normalisation rejected, as counted
// in the stats table given.
func (k *compiler) normaliseChecks(stats string) []models.Check {
	d := k.d
	var checks []models.Check
	for _, t := range k.types {
		if t.Normalize != "email" && t.Normalize != "phone_e164" {
			continue
		}
		checks = append(checks, models.Check{
			Name:    "normalisation of " + t.Name + " (" + t.Normalize + ")",
			SQL:     "SELECT coalesce(sum(rejected), 0) FROM " + stats + " WHERE id_type = " + d.String(t.Name),
			Columns: []models.Count{{Label: "values rejected as unreadable (see " + plainTable(RejectsTable(k.c.Final())) + ")", Problem: true}},
			Origin:  t.At.Of("normalize"),
		})
	}
	return checks
}

// componentsStep finds the connected components of the identity graph.
func (k *compiler) componentsStep() models.Step {
	t := k.ccTables("cc_")
	rows := k.table("row_hubs")
	pairs := `-- each row is linked as a star around its smallest identifier
SELECT e.id AS a, r.hub AS b
FROM ` + k.edgesTable() + ` AS e
JOIN (SELECT row_id AS r_row, hub FROM ` + rows + ` WHERE ids > 1) AS r ON r.r_row = e.row_id`
	sqls := append([]string{
		"-- Per source row with identifiers: how many, the smallest (the hub of its\n" +
			"-- links) and the one that decides its profile in the row map (choice; see\n" +
			"-- choiceKey in models/identity).\n" +
			k.d.ReplaceTable(rows, `SELECT row_id, count(*) AS ids, min(id) AS hub, `+k.choiceKey("t", "id")+` AS choice
FROM `+k.edgesTable()+`
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
		whens[i] = fmt.Sprintf("WHEN %s = %d THEN %d", typeCol, k.typeNumber(t.Name), i)
	}
	return fmt.Sprintf("min(CASE %s ELSE %d END * %s + %s)", strings.Join(whens, " "), len(ranked), rankStride, idCol)
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
	ids := k.table("ids")
	edges := k.edgesTable()
	anchors := k.table("guard_anchors")
	attached := k.table("guard_attached")
	rest := k.table("guard_rest")
	assign := k.table("guard_assignment")
	conflicts := k.conflictsTable()
	var names, limits []string
	for _, t := range k.limited {
		names = append(names, d.String(t.Name))
		limits = append(limits, fmt.Sprintf("WHEN i.id_type = %s THEN %d", d.String(t.Name), t.LimitPerProfile))
	}
	sqls := []string{
		"-- Components holding more values of a limited type than its limit.\n" +
			d.ReplaceTable(conflicts, fmt.Sprintf(`SELECT c.label AS component, i.id_type AS id_type, count(*) AS value_count
FROM %[1]s AS c
JOIN (SELECT id AS i_id, id_type FROM %[2]s) AS i ON i.i_id = c.id
WHERE i.id_type IN (%[3]s)
GROUP BY c.label, i.id_type
HAVING count(*) > CASE %[4]s END`, cc.done, ids, strings.Join(names, ", "), strings.Join(limits, " "))),
		"-- Anchors: the values of the over-limit types; each heads its own profile.\n" +
			d.ReplaceTable(anchors, fmt.Sprintf(`SELECT ci.c_id AS id, ci.c_label AS component
FROM (
    SELECT c.id AS c_id, c.label AS c_label, i.id_type AS c_type
    FROM %[1]s AS c
    JOIN (SELECT id AS i_id, id_type FROM %[2]s) AS i ON i.i_id = c.id
) AS ci
JOIN (SELECT component AS x_component, id_type AS x_type FROM %[3]s) AS x ON x.x_component = ci.c_label AND x.x_type = ci.c_type`, cc.done, ids, conflicts)),
		"-- Identifiers sharing a row with anchors join the earliest-seen of them\n" +
			"-- (the smallest number: identifiers are numbered by first sighting).\n" +
			d.ReplaceTable(attached, fmt.Sprintf(`SELECT em.em_id AS id, min(ar.anchor_id) AS anchor
FROM (
    SELECT a.id AS anchor_id, ea.ea_row AS arow
    FROM %[1]s AS a
    JOIN (SELECT id AS ea_id, row_id AS ea_row FROM %[2]s) AS ea ON ea.ea_id = a.id
) AS ar
JOIN (SELECT row_id AS em_row, id AS em_id FROM %[2]s) AS em ON em.em_row = ar.arow
WHERE em.em_id NOT IN (SELECT id FROM %[1]s)
GROUP BY em.em_id`, anchors, edges)),
		"-- The other identifiers of those components.\n" +
			d.ReplaceTable(rest, fmt.Sprintf(`SELECT c.id AS id, c.label AS component
FROM %[1]s AS c
WHERE c.label IN (SELECT component FROM %[2]s)
  AND c.id NOT IN (SELECT id FROM %[3]s)
  AND c.id NOT IN (SELECT id FROM %[4]s)`, cc.done, conflicts, anchors, attached)),
	}
	restEdges := fmt.Sprintf("SELECT row_id, id FROM %s WHERE id IN (SELECT id FROM %s)", edges, rest)
	pairs := fmt.Sprintf(`-- rows restricted to those other identifiers, each as a star around its
-- smallest such identifier: their components are the regions
SELECT e.id AS a, h.hub AS b
FROM (%[1]s) AS e
JOIN (
    SELECT row_id AS h_row, min(id) AS hub
    FROM (%[1]s) AS r
    GROUP BY row_id
    HAVING count(*) > 1
) AS h ON h.h_row = e.row_id`, restEdges)
	sqls = append(sqls, ccInit(d, g, pairs)...)
	s := dialect.NewScope(d, g.work)
	region := s.Add("region", "region of every remaining identifier", fmt.Sprintf(`SELECT m.id AS id, coalesce(r.r_label, m.id) AS region
FROM %[1]s AS m
LEFT JOIN (SELECT id AS r_id, label AS r_label FROM %[2]s) AS r ON r.r_id = m.id`, rest, g.done))
	touch := s.Add("touch", "anchor of the attached identifiers sharing a row with a region", fmt.Sprintf(`SELECT g.g_region AS touched, min(tm.anchor) AS touch_anchor
FROM (
    SELECT tr.anchor AS anchor, em.em_id AS mid
    FROM (
        SELECT t.anchor AS anchor, et.et_row AS trow
        FROM %[1]s AS t
        JOIN (SELECT id AS et_id, row_id AS et_row FROM %[2]s) AS et ON et.et_id = t.id
    ) AS tr
    JOIN (SELECT row_id AS em_row, id AS em_id FROM %[2]s) AS em ON em.em_row = tr.trow
) AS tm
JOIN (SELECT id AS g_id, region AS g_region FROM %[3]s) AS g ON g.g_id = tm.mid
GROUP BY g.g_region`, attached, edges, region))
	finally := s.ReplaceTable(assign, fmt.Sprintf(`SELECT g.id AS id, coalesce(t.touch_anchor, g.region) AS grp
FROM %[1]s AS g
LEFT JOIN %[2]s AS t ON t.touched = g.region
UNION ALL
SELECT id, anchor AS grp
FROM %[3]s
UNION ALL
SELECT id, id AS grp
FROM %[4]s`, region, touch, attached, anchors))
	finally[0] = "-- Each region joins the earliest-seen anchor among those of the attached\n" +
		"-- identifiers it shares a row with; attached identifiers join their anchor,\n" +
		"-- and anchors head their own group.\n" + finally[0]
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
// and builds the identity map.
func (k *compiler) mapStep() models.Step {
	d := k.d
	cc := k.ccTables("cc_")
	ids := k.table("ids")
	groups := k.table("groups")
	profiles := k.table("profiles")
	assign := k.table("guard_assignment")
	labelled := fmt.Sprintf(`SELECT i.id AS i_id, c.c_label AS i_label
FROM %[1]s AS i
LEFT JOIN (SELECT id AS c_id, label AS c_label FROM %[2]s) AS c ON c.c_id = i.id`, ids, cc.done)
	groupsQuery := "SELECT x.i_id AS id, coalesce(x.i_label, x.i_id) AS grp, coalesce(x.i_label, x.i_id) AS component\nFROM (\n" + dialect.Indent(labelled, "    ") + "\n) AS x"
	if len(k.limited) > 0 {
		groupsQuery = "SELECT x.i_id AS id, coalesce(a.a_grp, x.i_label, x.i_id) AS grp, coalesce(x.i_label, x.i_id) AS component\nFROM (\n" + dialect.Indent(labelled, "    ") +
			"\n) AS x\nLEFT JOIN (SELECT id AS a_id, grp AS a_grp FROM " + assign + ") AS a ON a.a_id = x.i_id"
	}
	profileID := d.HexDigest(d.Concat("i.id_type", d.String(":"), "i.id_value"))
	sqls := []string{
		"-- The group (future profile) of every identifier.\n" +
			d.ReplaceTable(groups, groupsQuery),
		"-- Stable profile ids: a profile is named after its earliest-seen identifier\n" +
			"-- (smallest first_seen_at, then id_type, then id_value; the smallest number),\n" +
			"-- as md5(id_type || ':' || id_value). It changes only when that identifier\n" +
			"-- changes: a merge with an older profile, a split, or backfilled older data.\n" +
			d.ReplaceTable(profiles, fmt.Sprintf(`SELECT a.grp AS grp, %[3]s AS profile_id, a.first_id AS first_id
FROM (SELECT grp, min(id) AS first_id FROM %[1]s GROUP BY grp) AS a
JOIN (SELECT id AS i_id, id_type, id_value FROM %[2]s) AS i ON i.i_id = a.first_id`, groups, ids, profileID)),
		"-- The identity map: one row per identifier, with its profile. profile_no\n" +
			"-- numbers the profile within this build only (its group): later steps\n" +
			"-- join and group on it, which is cheaper than on profile_id. component\n" +
			"-- names the connected component before limit guards split it: what an\n" +
			"-- incremental build re-stitches as a whole.\n" +
			d.ReplaceTable(k.mapTable(), fmt.Sprintf(`SELECT p.p_profile AS profile_id, x.id_type AS id_type, x.id_value AS id_value, x.first_seen_at AS first_seen_at, x.last_seen_at AS last_seen_at, x.seen_count AS seen_count, x.igrp AS profile_no, x.id_no AS id_no, x.icomp AS component
FROM (
    SELECT i.id AS id_no, i.id_type AS id_type, i.id_value AS id_value, i.first_seen_at AS first_seen_at, i.last_seen_at AS last_seen_at, i.seen_count AS seen_count, g.g_grp AS igrp, g.g_comp AS icomp
    FROM %[1]s AS i
    JOIN (SELECT id AS g_id, grp AS g_grp, component AS g_comp FROM %[2]s) AS g ON g.g_id = i.id
) AS x
JOIN (SELECT grp AS p_grp, profile_id AS p_profile FROM %[3]s) AS p ON p.p_grp = x.igrp`, ids, groups, profiles)),
	}
	if k.incr == nil {
		// identity_merge updates them on an incremental build.
		sqls = append(sqls, "-- How many profiles hold each number of identifiers (build summary).\n"+
			d.ReplaceTable(SizesTable(k.c), sizesSQL(d, sizesOf(d, k.mapTable(), "1"))))
	}
	return models.Step{
		Name:        StepMap,
		Kind:        models.KindIdentity,
		Description: "Identity: stable profile ids and the identity map.",
		Origin:      k.id.At.Of("entity"),
		SQL:         sqls,
	}
}

// rowMapStep gives every edge-source row its profile, then drops the work
// tables of the identity stage. It is a step of its own so that the build
// times the identity map (the stitching's result) and the row map (what
// traits join through) apart.
func (k *compiler) rowMapStep() models.Step {
	d := k.d
	groups := k.table("groups")
	profiles := k.table("profiles")
	sqls := k.rowMapQuery(groups, profiles)
	sqls[0] = "-- The row map: the profile of every edge-source row with an identifier. When\n" +
		"-- a limit split a row's identifiers, the row goes with its identifier of the\n" +
		"-- type with the strictest limit (types without a limit last), the earliest\n" +
		"-- seen among equals.\n" + sqls[0]
	for _, tb := range append(k.ccTables("cc_").all(), groups, profiles, k.table("row_hubs"), k.table("ids")) {
		sqls = append(sqls, d.DropTable(tb))
	}
	if len(k.limited) > 0 {
		sqls = append(sqls, d.DropTable(k.table("guard_assignment")))
	}
	return models.Step{
		Name:        StepRowMap,
		Kind:        models.KindIdentity,
		Description: "Identity: the row map, the profile of every edge-source row.",
		Origin:      k.id.At.Of("entity"),
		SQL:         sqls,
	}
}

// rowMapQuery gives each row the profile of its deciding identifier (see
// choiceKey), from the rows table: one join, no grouping, except for rows
// whose primary key other rows share (the source step lists those keys). A
// source read by several edges has each row under several row numbers;
// those are grouped by (source, row_key). It returns the statements
// building the row map.
func (k *compiler) rowMapQuery(groups, profiles string) []string {
	d := k.d
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
	// decide turns the smallest choice key into the identifier it encodes.
	decide := func(choice string) string { return choice }
	if len(k.limited) > 0 {
		decide = func(choice string) string { return k.d.Mod(choice, rankStride) }
	}
	hubJoin := func(rows string) string {
		return "FROM " + rows + " AS r\nJOIN (SELECT row_id AS h_row, choice FROM " + hubs + ") AS h ON h.h_row = r.row_id"
	}
	groupOf := func(rel string) string {
		return "JOIN (SELECT id AS g_id, grp AS g_grp FROM " + groups + ") AS g ON g.g_id = " + rel + ".decider"
	}
	s := dialect.NewScope(d, func(name string) string { return k.table("w_" + name) })
	var parts []string // each gives (f_edge, f_key, f_grp, f_seen), one row per key
	if len(single) > 0 {
		// Rows sharing a primary key (reported by the source's key check,
		// listed in its duplicate-keys table) are folded into one entry, so
		// that a trait joining on row_key counts each source row once; the
		// profile seen first (the smallest earliest identifier) wins, which
		// depends on the data only. Only those rows are grouped: the others
		// are one entry each as they are.
		var dups []string
		for i, e := range k.id.Edges {
			if perSource[e.Source] == 1 {
				dups = append(dups, fmt.Sprintf("SELECT %d AS d_edge, row_key AS d_key, 1 AS d_dup FROM %s", i+1, k.c.DuplicateKeysTable(e.Source)))
			}
		}
		dupRel := "(" + strings.Join(dups, " UNION ALL ") + ")"
		in := "r.row_key IS NOT NULL AND r.edge IN (" + strings.Join(single, ", ") + ")"
		// One join per SELECT: some warehouses run no more.
		unique := s.Add("unique_rows", "", fmt.Sprintf(`SELECT r.row_id AS row_id, r.edge AS edge, r.row_key AS row_key, r.seen_at AS seen_at
FROM %s AS r
LEFT JOIN %s AS d ON d.d_edge = r.edge AND d.d_key = r.row_key
WHERE %s AND coalesce(d.d_dup, 0) = 0`, k.rowsTable(), dupRel, in))
		dupRows := s.Add("duplicated_rows", "", fmt.Sprintf(`SELECT r.row_id AS row_id, r.edge AS edge, r.row_key AS row_key, r.seen_at AS seen_at
FROM %s AS r
JOIN %s AS d ON d.d_edge = r.edge AND d.d_key = r.row_key
WHERE %s`, k.rowsTable(), dupRel, in))
		uniqueHubs := s.Add("unique_hubs", "", fmt.Sprintf("SELECT r.edge AS p_edge, r.row_key AS p_key, r.seen_at AS p_seen, %s AS decider\n%s", decide("h.choice"), hubJoin(unique)))
		dupHubs := s.Add("duplicated_hubs", "", fmt.Sprintf("SELECT r.edge AS p_edge, r.row_key AS p_key, r.seen_at AS p_seen, %s AS decider\n%s", decide("h.choice"), hubJoin(dupRows)))
		parts = append(parts,
			fmt.Sprintf("SELECT r.p_edge AS f_edge, r.p_key AS f_key, g.g_grp AS f_grp, r.p_seen AS f_seen\nFROM %s AS r\n%s", uniqueHubs, groupOf("r")),
			k.foldDuplicates(dupHubs, groupOf("r"), profiles))
	}
	if len(shared) > 0 {
		// A source read by several edges has each row under several row
		// numbers: its rows are grouped by key (which folds shared keys too).
		several := s.Add("several_edges", "", fmt.Sprintf(`SELECT min(r.edge) AS p_edge, r.row_key AS p_key, max(r.seen_at) AS p_seen, %s AS decider
%s
WHERE r.row_key IS NOT NULL AND r.edge IN (%s)
GROUP BY %s, r.row_key`, decide("min(h.choice)"), hubJoin(k.rowsTable()), strings.Join(shared, ", "), k.sourceName("r.edge")))
		parts = append(parts, fmt.Sprintf("SELECT r.p_edge AS f_edge, r.p_key AS f_key, g.g_grp AS f_grp, r.p_seen AS f_seen\nFROM %s AS r\n%s", several, groupOf("r")))
	}
	folded := s.Add("folded", "", strings.Join(parts, "\nUNION ALL\n"))
	return s.ReplaceTable(k.rowMapTable(), fmt.Sprintf(`SELECT %[1]s AS source, r.f_key AS row_key, p.p_profile AS profile_id, r.f_seen AS seen_at, r.f_grp AS profile_no
FROM %[2]s AS r
JOIN (SELECT grp AS p_grp, profile_id AS p_profile FROM %[3]s) AS p ON p.p_grp = r.f_grp`, k.sourceName("r.f_edge"), folded, profiles))
}

// foldDuplicates gives the rows sharing a key (hubs, joined to their
// group by groupJoin) one entry, in the profile seen first: the one whose
// earliest identifier (first_id in profiles) is the smallest.
func (k *compiler) foldDuplicates(hubs, groupJoin, profiles string) string {
	return fmt.Sprintf(`SELECT r.x_edge AS f_edge, r.x_key AS f_key, %[1]s AS f_grp, max(r.x_seen) AS f_seen
FROM (
    SELECT x.p_edge AS x_edge, x.p_key AS x_key, x.p_seen AS x_seen, x.x_grp AS x_grp, p.pf_first AS x_first
    FROM (
        SELECT r.p_edge AS p_edge, r.p_key AS p_key, r.p_seen AS p_seen, g.g_grp AS x_grp
        FROM %[2]s AS r
        %[3]s
    ) AS x
    JOIN (SELECT grp AS pf_grp, first_id AS pf_first FROM %[4]s) AS p ON p.pf_grp = x.x_grp
) AS r
GROUP BY r.x_edge, r.x_key`, k.d.ArgMin("r.x_grp", "r.x_first"), hubs, groupJoin, profiles)
}

// metrics are the identity figures of the build summary, which read the
// published tables.
func (k *compiler) metrics() []models.Metric {
	d, c := k.d, k.c.Final()
	m := MapTable(c)
	sizes := "SELECT coalesce(sum(profiles), 0), coalesce(max(size), 0) FROM " + SizesTable(c)
	out := []models.Metric{
		{Name: "identifiers", SQL: "SELECT count(*) FROM " + m},
		// One read for both.
		{Name: "profiles", SQL: sizes},
		{Name: "largest profile (identifiers)", SQL: sizes, Column: 1},
	}
	for _, t := range k.types {
		if t.Normalize == "email" || t.Normalize == "phone_e164" {
			out = append(out, models.Metric{
				Name: fmt.Sprintf("%s values rejected by normalisation (%s)", t.Name, t.Normalize),
				SQL:  "SELECT coalesce(sum(rejected), 0) FROM " + StatsTable(c) + " WHERE id_type = " + d.String(t.Name),
			})
		}
	}
	out = append(out, models.Metric{
		Name: "blocklisted values skipped (junk included)",
		SQL:  "SELECT coalesce(sum(junk + blocklisted), 0) FROM " + StatsTable(c),
	})
	for _, t := range k.limited {
		out = append(out, models.Metric{
			Name: fmt.Sprintf("merges blocked by %s limit %d", t.Name, t.LimitPerProfile),
			SQL:  "SELECT coalesce(sum(value_count - 1), 0) FROM " + ConflictsTable(c) + " WHERE id_type = " + d.String(t.Name),
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
func plainTable(q string) string { return strings.NewReplacer(`"`, "", "`", "").Replace(q) }

// indentRest indents every line but the first.
func indentRest(s, prefix string) string {
	first, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return s
	}
	return first + "\n" + dialect.Indent(rest, prefix)
}

// suppressedWhen is the CASE branch that marks a value on the erasure
// suppression list; empty without an erasure block. It comes before the
// blocklist: an erased value is reported as such.
func (k *compiler) suppressedWhen() string {
	if k.erasure == nil {
		return ""
	}
	return "WHEN " + k.erasure.SuppressedExpr(k.d, k.typeName("t"), "value") + " THEN 'suppressed'\n        "
}

// notSuppressed keeps the raw value of a problem row out of the tables
// when the problem is an erasure: nothing of an erased person is written.
func (k *compiler) notSuppressed() string {
	if k.erasure == nil {
		return ""
	}
	return " AND problem <> 'suppressed'"
}

// erasedTable holds the numbers of the rows of erased people.
func (k *compiler) erasedTable() string { return k.table("erased_rows") }

// erasedRowsSQL finds the rows of erased people: a row carrying an erased
// identifier and no stitched one. Such a row links nothing, and its key
// (often an identifier itself: a CRM contact id) is not kept in the
// identity rows, the row map or the rejects. A row that also carries a
// live identifier (a household's shared phone on someone else's row) is
// kept: only the erased value links nothing. Nothing without an erasure
// block.
func (k *compiler) erasedRowsSQL(occ, rowExpr string) []string {
	if k.erasure == nil {
		return nil
	}
	return []string{"-- Rows of erased people: an erased identifier and none stitched.\n" +
		k.d.ReplaceTable(k.erasedTable(), `SELECT o_row AS row_id
FROM (SELECT `+rowExpr+` AS o_row, problem FROM `+occ+` WHERE t > 0) AS o
WHERE o_row IN (SELECT `+rowExpr+` FROM `+occ+` WHERE problem = 'suppressed')
GROUP BY o_row
HAVING max(CASE WHEN problem IS NULL THEN 1 ELSE 0 END) = 0`)}
}

// rowNotErased is the condition, appended to a WHERE, that leaves the
// rows of erased people out.
func (k *compiler) rowNotErased(col string) string {
	if k.erasure == nil {
		return ""
	}
	return " AND " + col + " NOT IN (SELECT row_id FROM " + k.erasedTable() + ")"
}

// liveSource is an edge source that gets a live table (see
// models.NeedsLiveSource), with the numbers of the edges that read it.
type liveSource struct {
	src   config.Source
	edges string // e.g. "1, 3"
}

// liveSources lists the edge sources a sync reads, when the project erases.
func (k *compiler) liveSources() []liveSource {
	if k.erasure == nil {
		return nil
	}
	var out []liveSource
	done := map[string]bool{}
	for _, e := range k.id.Edges {
		if done[e.Source] || !models.NeedsLiveSource(k.c.P, e.Source) {
			continue
		}
		done[e.Source] = true
		src, _ := k.c.Source(e.Source)
		var edges []string
		for i, e2 := range k.id.Edges {
			if e2.Source == e.Source {
				edges = append(edges, strconv.Itoa(i+1))
			}
		}
		out = append(out, liveSource{src: src, edges: strings.Join(edges, ", ")})
	}
	return out
}

// notErased is the condition that a row of a live source (key: its
// RowKey) is not an erased person's, by the occurrences of this build.
func (k *compiler) notErased(l liveSource, key, occ string) string {
	return key + ` IS NULL OR ` + key + ` NOT IN (
    SELECT row_key FROM ` + occ + `
    WHERE t = 0 AND row_key IS NOT NULL AND edge IN (` + l.edges + `) AND row_id IN (SELECT row_id FROM ` + k.erasedTable() + `)
)`
}

// liveSourcesSQL copies, for the edge sources a sync reads, the rows that
// are not erased people's into the source's live table (see
// models.NeedsLiveSource): the row keys of erased rows exist only in the
// work tables of this step, so the copy needs no key and keeps nothing of
// them.
func (k *compiler) liveSourcesSQL(occ string) []string {
	var out []string
	for _, l := range k.liveSources() {
		name := l.src.Name
		out = append(out, "-- Source "+name+" without the rows of erased people, for the syncs that read it.\n"+
			k.d.ReplaceTable(k.c.Table(models.LiveSourceName(name)), `SELECT s.*
FROM `+k.c.SourceView(name)+` AS s
WHERE `+k.notErased(l, RowKey(k.d, l.src, "s"), occ)))
	}
	return out
}
