package identity

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
)

// Step names of an incremental build (the stitching steps keep theirs).
const (
	StepAffected = "identity_affected"
	StepMerge    = "identity_merge"
)

// ChangedKeysTable is the work table, filled before the identity steps of
// an incremental build, holding key_hash = Hash64(models.RowKey) of every
// primary key of source whose row was added, changed or deleted since the
// previous build. Several keys may share a hash: it is read as a superset.
func ChangedKeysTable(c *models.Compiler, source string) string { return c.ChangedKeysTable(source) }

// incremental is what an incremental build adds to the compiler: the
// previous build's published tables and the work tables of the re-stitch.
type incremental struct {
	k *compiler
}

// prev names a table the previous build published (final name).
func (x *incremental) prev(name string) string {
	c := x.k.c
	return c.D.Table(c.P.Schema, c.Entity()+"_"+name)
}

// unchanged tells whether no edge source changed since the previous build.
func unchanged(c *models.Compiler) bool {
	for _, e := range c.P.Identity.Edges {
		if !c.Previous.Unchanged[e.Source] {
			return false
		}
	}
	return true
}

// unchangedStep is the identity stage of an incremental build in which no
// edge source changed: the published identity tables stand, and no profile
// was re-stitched.
func unchangedStep(c *models.Compiler) models.Step {
	prevMap := c.D.Table(c.P.Schema, c.Entity()+"_identity_map")
	sql := []string{c.D.ReplaceTable(c.RestitchedTable(), "SELECT profile_id FROM "+prevMap+" WHERE 1 = 0")}
	if c.InPlace() {
		sql = append(sql, c.D.ReplaceTable(c.RestitchedNumbersTable(), "SELECT profile_no FROM "+prevMap+" WHERE 1 = 0"))
	}
	return models.Step{
		Name:        StepAffected,
		Kind:        models.KindIdentity,
		Description: "Identity (incremental): no edge source changed since the last build; the identity tables stand.",
		Origin:      c.P.Identity.At.Of("edges"),
		SQL:         sql,
	}
}

// IncrementalStage is Stage for a build that re-stitches only the
// components a change touched (see the package documentation,
// "Incremental builds"). It reads the previous build's published identity
// tables and the changed keys of every edge source (ChangedKeysTable), and
// writes the same published tables a full build writes, with the same
// content except for the build-local numbers.
func IncrementalStage(c *models.Compiler, plan *models.Plan) error {
	if c.P.Identity == nil {
		return nil
	}
	steps, err := IncrementalSteps(c, plan.Erasure)
	if err != nil {
		return err
	}
	k, err := newStageCompiler(c, plan.Erasure)
	if err != nil {
		return err
	}
	plan.Steps = append(plan.Steps, steps...)
	plan.Report = append(plan.Report, k.metrics()...)
	return nil
}

// IncrementalSteps are the steps of IncrementalStage: identity_affected
// (the components to re-stitch and the rows to re-read), the stitching
// steps on those rows, writing work tables, and identity_merge (the
// published tables: the rows kept from the previous build and the
// re-stitched ones).
func IncrementalSteps(c *models.Compiler, erasure *models.Erasure) ([]models.Step, error) {
	if c.P.Identity == nil {
		return nil, nil
	}
	k, err := newStageCompiler(c, erasure)
	if err != nil {
		return nil, err
	}
	for _, e := range k.id.Edges {
		if _, ok := c.Source(e.Source); !ok {
			return nil, fmt.Errorf("%s: identity edge: unknown source %s", e.At.Of("source"), e.Source)
		}
	}
	k.incr = &incremental{k: k}
	stitch, err := k.steps()
	if err != nil {
		return nil, err
	}
	steps := append([]models.Step{k.incr.affectedStep()}, stitch...)
	return append(steps, k.incr.mergeStep()), nil
}

// The tables the stitching steps write: the published ones on a full
// build, work tables that identity_merge reads on an incremental one.
func (k *compiler) mapTable() string       { return k.output("map", MapTable) }
func (k *compiler) rowMapTable() string    { return k.output("row_map", RowMapTable) }
func (k *compiler) edgesTable() string     { return k.output("edges", EdgesTable) }
func (k *compiler) rowsTable() string      { return k.output("rows", RowsTable) }
func (k *compiler) statsTable() string     { return k.output("stats", StatsTable) }
func (k *compiler) rejectsTable() string   { return k.output("rejects", RejectsTable) }
func (k *compiler) conflictsTable() string { return k.output("conflicts", ConflictsTable) }

func (k *compiler) output(name string, published func(*models.Compiler) string) string {
	if k.incr != nil {
		return k.table("next_" + name)
	}
	return published(k.c)
}

// edgeSource is the relation an edge reading source reads: its view, or
// on an incremental build the rows of it to re-read.
func (k *compiler) edgeSource(source string) string {
	if k.incr == nil {
		return k.c.SourceView(source)
	}
	src, _ := k.c.Source(source)
	return "(\n    SELECT * FROM " + k.c.SourceView(source) + " AS s\n    WHERE " + k.incr.reread(src, RowKey(k.d, src, "s")) + "\n)"
}

func (x *incremental) work(name string) string { return x.k.table("inc_" + name) }

// seed is the condition on the text key of a row of src that makes it
// re-read whatever its identifiers: its key changed (by hash), is NULL (a
// row no change detection can name) or is shared by other rows (which a
// key cannot tell apart). The components of such rows' old versions are
// re-stitched, so that every row re-read by key has its whole component.
func (x *incremental) seed(src config.Source, key string) string {
	k := x.k
	return key + " IS NULL OR " + k.d.Hash64(key) + " IN (SELECT key_hash FROM " + ChangedKeysTable(k.c, src.Name) + ")" +
		" OR " + key + " IN (SELECT row_key FROM " + k.c.DuplicateKeysTable(src.Name) + ")"
}

// seedRows is the condition on a row r of the previous build that it is a
// seed (see seed). Where the warehouse publishes in place (DuckDB), each
// row's key is hashed once and looked up by (edge, hash) in one list,
// rather than tested against each edge's list in turn.
func (x *incremental) seedRows() string {
	if !x.k.c.InPlace() {
		return x.perEdge("r.edge", func(i int, src config.Source) string { return x.seed(src, "r.row_key") })
	}
	var hashes, shared []string
	for i, e := range x.k.id.Edges {
		hashes = append(hashes, fmt.Sprintf("SELECT %d AS s_edge, key_hash AS s_hash FROM %s", i+1, ChangedKeysTable(x.k.c, e.Source)))
		shared = append(shared, fmt.Sprintf("SELECT %d AS s_edge, row_key AS s_key FROM %s", i+1, x.k.c.DuplicateKeysTable(e.Source)))
	}
	return "r.row_key IS NULL\n   OR (r.edge, " + x.k.d.Hash64("r.row_key") + ") IN (\n    " + strings.Join(hashes, "\n    UNION ALL\n    ") +
		"\n)\n   OR (r.edge, r.row_key) IN (\n    " + strings.Join(shared, "\n    UNION ALL\n    ") + "\n)"
}

// changedRows is the work table of the current rows of source that are
// seeds (see seed), copied out in one read of the source: the probe reads
// them, and their keys (changedKeys) pick the rows to re-read without
// hashing every key again.
func (x *incremental) changedRows(source string) string { return x.work("changed_" + source) }

// changedKeys is the work table of the (source, row_key) of the changed
// rows, NULL keys left out.
func (x *incremental) changedKeys() string { return x.work("changed_keys") }

// edgeSources lists the sources edges read, each once, in edge order.
func (x *incremental) edgeSources() []config.Source {
	var out []config.Source
	seen := map[string]bool{}
	for _, e := range x.k.id.Edges {
		if src, ok := x.k.c.Source(e.Source); ok && !seen[src.Name] {
			seen[src.Name] = true
			out = append(out, src)
		}
	}
	return out
}

// changedSQL copies the changed rows of each edge source and gathers their
// keys.
func (x *incremental) changedSQL() []string {
	d := x.k.d
	var out, keys []string
	for _, src := range x.edgeSources() {
		out = append(out, d.ReplaceTable(x.changedRows(src.Name), fmt.Sprintf("SELECT *\nFROM %s AS s\nWHERE %s",
			x.k.c.SourceView(src.Name), x.seed(src, RowKey(d, src, "s")))))
		key := RowKey(d, src, "c")
		keys = append(keys, fmt.Sprintf("SELECT %s AS source, %s AS row_key FROM %s AS c WHERE %s IS NOT NULL",
			d.String(src.Name), key, x.changedRows(src.Name), key))
	}
	return append(out, d.ReplaceTable(x.changedKeys(), strings.Join(keys, "\nUNION ALL\n")))
}

// reread is the condition on the text key of a current row of src that
// makes it part of the re-stitch: a seed (a NULL key, or the key of a
// changed row), or a row whose old version (through any edge reading src)
// carried an identifier of an affected component. A source row is re-read
// through every edge at once: the row map and the rejects name it by
// source and key.
func (x *incremental) reread(src config.Source, key string) string {
	// One list of keys: a test against each would scan every row twice.
	return key + " IS NULL OR " + key + " IN (\n        SELECT row_key FROM " + x.changedKeys() + " WHERE source = " + x.k.d.String(src.Name) +
		"\n        UNION ALL\n        " + x.keysOf(src) + "\n    )"
}

// keyed is the condition on the text key of a row of src that its old
// version (through any edge reading src) carried an identifier of an
// affected component.
func (x *incremental) keyed(src config.Source, key string) string {
	return key + " IN (" + x.keysOf(src) + ")"
}

// keysOf selects the keys of the rows of src whose old version (through
// any edge reading src) carried an identifier of an affected component.
func (x *incremental) keysOf(src config.Source) string {
	var edges []string
	for i, e := range x.k.id.Edges {
		if e.Source == src.Name {
			edges = append(edges, fmt.Sprint(i+1))
		}
	}
	return fmt.Sprintf("SELECT row_key FROM %s WHERE edge IN (%s)", x.work("keys"), strings.Join(edges, ", "))
}

// perEdge joins, with OR, cond(i, src) restricted to the rows of each edge
// (col holds the edge number).
func (x *incremental) perEdge(col string, cond func(i int, src config.Source) string) string {
	var out []string
	for i, e := range x.k.id.Edges {
		src, _ := x.k.c.Source(e.Source)
		out = append(out, fmt.Sprintf("(%s = %d AND (%s))", col, i+1, cond(i, src)))
	}
	return strings.Join(out, "\n   OR ")
}

// probeSQL normalises the identifiers of the current versions of the
// changed rows (and of the rows without a usable key or sharing one), to
// find the components they join. Blocklists and junk
// are not applied: a value the previous build stitched is valid, and one
// it did not stitch matches nothing.
func (x *incremental) probeSQL() string {
	k, d := x.k, x.k.d
	var parts []string
	for _, e := range k.id.Edges {
		where := ""
		if strings.TrimSpace(e.Where) != "" {
			where = "\nWHERE (" + strings.TrimSpace(e.Where) + ")"
		}
		for _, m := range e.IDs {
			t := x.idType(m.Key)
			region := ""
			if e.Region != "" && t.Normalize == "phone_e164" {
				region = d.Upper(d.Trim(d.CastText("s." + d.Ident(e.Region))))
			}
			parts = append(parts, fmt.Sprintf("SELECT %s AS id_type, %s AS id_value\nFROM %s AS s%s",
				d.String(m.Key), formatExprIn(d, t, d.CastText("s."+d.Ident(m.Value)), region), x.changedRows(e.Source), where))
		}
	}
	return strings.Join(parts, "\nUNION ALL\n")
}

func (x *incremental) idType(name string) config.IDType {
	for _, t := range x.k.types {
		if t.Name == name {
			return t
		}
	}
	return config.IDType{Name: name}
}

// affectedStep finds the components to re-stitch and the rows to re-read,
// from the previous build's tables, before any of them is replaced.
func (x *incremental) affectedStep() models.Step {
	k, d := x.k, x.k.d
	prevMap, prevRows, prevEdges := x.prev("identity_map"), x.prev("identity_rows"), x.prev("identity_edges")
	comps, seeds := x.work("components"), x.work("seeds")
	sqls := append(x.changedSQL(),
		"-- The identifiers the changed rows carry now, normalised.\n"+
			d.ReplaceTable(x.work("probe"), x.probeSQL()),
		"-- The previous build's rows of the changed keys (and rows without a usable\n"+
			"-- key, or sharing one), found once: the steps below read them twice.\n"+
			d.ReplaceTable(seeds, fmt.Sprintf("SELECT row_id, edge, row_key\nFROM %s AS r\nWHERE %s", prevRows, x.seedRows())),
		"-- Components (before limit guards) to re-stitch: those of the identifiers\n"+
			"-- the changed rows carried (and rows without a usable key, or sharing\n"+
			"-- one), and those of the identifiers the changed rows carry now.\n"+
			d.ReplaceTable(comps, fmt.Sprintf(`SELECT DISTINCT component
FROM (
    SELECT component
    FROM %[1]s
    WHERE id_no IN (
        SELECT id FROM %[2]s
        WHERE row_id IN (SELECT row_id FROM %[3]s)
    )
    UNION ALL
    SELECT m.component AS component
    FROM %[1]s AS m
    JOIN (SELECT id_type AS p_type, id_value AS p_value FROM %[4]s) AS p ON p.p_type = m.id_type AND p.p_value = m.id_value
) AS c`,
				prevMap, prevEdges, seeds, x.work("probe"))),
	)
	finally := append(x.rereadSQL(prevRows, prevEdges, prevMap, comps, seeds),
		"-- Numbers of the re-stitched identifiers and rows start after the largest\n"+
			"-- of the last build (kept or not: a test for kept would cost more than the\n"+
			"-- numbers it saves), so that they never clash within the published tables.\n"+
			d.ReplaceTable(x.work("offsets"), fmt.Sprintf(`SELECT i.max_id AS max_id, r.max_rn AS max_rn
FROM (SELECT coalesce(max(id_no), 0) AS max_id FROM %[1]s) AS i
CROSS JOIN (SELECT coalesce(max(%[2]s), 0) AS max_rn FROM %[3]s) AS r`,
				prevMap, d.Mod("row_id", rowIDStride), prevRows)),
	)
	return models.Step{
		Name: StepAffected,
		Kind: models.KindIdentity,
		Description: "Identity (incremental): the components the changed rows touch, before and after\n" +
			"the change, and the rows to re-read: every row carrying one of their identifiers.",
		Origin:  k.id.At.Of("edges"),
		SQL:     sqls,
		Loop:    x.tieLoop(),
		Finally: finally,
	}
}

// rereadSQL returns the statements writing the rows of the previous build
// to re-read (and so replace) and their keys: the changed rows (seeds) and
// those carrying an identifier of the components comps.
func (x *incremental) rereadSQL(prevRows, prevEdges, prevMap, comps, seeds string) []string {
	d, keys, rows := x.k.d, x.work("keys"), x.work("rows")
	// The rows carrying an identifier of the components.
	compRows := fmt.Sprintf(`SELECT row_id FROM %[1]s
    WHERE id IN (SELECT id_no FROM %[2]s WHERE component IN (SELECT component FROM %[3]s))`, prevEdges, prevMap, comps)
	if x.uniqueKeys() {
		return []string{
			"-- The previous build's rows that are re-read (and so replaced): the changed\n" +
				"-- rows and those carrying an identifier of those components. Every edge\n" +
				"-- source had a key of its own per row at the last build, and no two edges\n" +
				"-- read one source: no other row of that build shares their keys.\n" +
				d.ReplaceTable(rows, fmt.Sprintf(`SELECT row_id, edge, row_key
FROM %[1]s
WHERE row_id IN (SELECT row_id FROM %[2]s)
   OR row_id IN (
    %[3]s
)`, prevRows, seeds, compRows)),
			"-- Their keys: with the changed keys, the rows to re-read.\n" +
				d.ReplaceTable(keys, "SELECT DISTINCT edge, row_key\nFROM "+rows+"\nWHERE row_key IS NOT NULL"),
		}
	}
	return []string{
		"-- The keys of the rows carrying an identifier of those components: with the\n" +
			"-- changed rows, the rows to re-read.\n" +
			d.ReplaceTable(keys, fmt.Sprintf(`SELECT DISTINCT edge, row_key
FROM %[1]s
WHERE row_key IS NOT NULL AND row_id IN (
    %[2]s
)`, prevRows, compRows)),
		"-- The previous build's rows that are re-read (and so replaced).\n" +
			d.ReplaceTable(rows, fmt.Sprintf(`SELECT row_id, edge, row_key
FROM %[1]s AS r
WHERE r.row_id IN (SELECT row_id FROM %[2]s)
   OR %[3]s`, prevRows, seeds, x.perEdge("r.edge", func(i int, src config.Source) string { return x.keyed(src, "r.row_key") }))),
	}
}

// uniqueKeys tells whether every edge source had a primary key of its own
// per row at the last build, and no two edges read one source: a key then
// names one row of that build, through one edge. (A key shared now gained
// a version, so its rows are re-read as changed ones.)
func (x *incremental) uniqueKeys() bool {
	c := x.k.c
	if c.Previous == nil || len(x.sharedEdges()) > 0 {
		return false
	}
	for _, e := range x.k.id.Edges {
		if !c.Previous.UniqueKeys[e.Source] {
			return false
		}
	}
	return true
}

// sharedEdges lists the edges (from 1) whose source other edges read too.
func (x *incremental) sharedEdges() []string {
	perSource := map[string]int{}
	for _, e := range x.k.id.Edges {
		perSource[e.Source]++
	}
	var out []string
	for i, e := range x.k.id.Edges {
		if perSource[e.Source] > 1 {
			out = append(out, fmt.Sprint(i+1))
		}
	}
	return out
}

// perSharedSource is the condition on a row r of the previous build that
// its source is read by several edges and its key is in keys for that
// source.
func (x *incremental) perSharedSource(keys string) string {
	edges := map[string][]string{}
	var sources []string
	for i, e := range x.k.id.Edges {
		if len(edges[e.Source]) == 0 {
			sources = append(sources, e.Source)
		}
		edges[e.Source] = append(edges[e.Source], fmt.Sprint(i+1))
	}
	var out []string
	for _, s := range sources {
		if len(edges[s]) > 1 {
			out = append(out, fmt.Sprintf("(r.edge IN (%s) AND r.row_key IN (SELECT row_key FROM %s WHERE source = %s))", strings.Join(edges[s], ", "), keys, x.k.d.String(s)))
		}
	}
	return strings.Join(out, "\n           OR ")
}

// tieLoop, when a source is read by several edges, adds to the affected
// components those of the other readings of their rows: the row map folds
// a source row's readings into one entry, which must be re-stitched as a
// whole. Readings tie components that share no identifier, possibly in a
// chain: the loop runs until no component is added. Nil otherwise.
func (x *incremental) tieLoop() *models.Loop {
	shared := x.sharedEdges()
	if len(shared) == 0 {
		return nil
	}
	k, d := x.k, x.k.d
	prevMap, prevRows, prevEdges := x.prev("identity_map"), x.prev("identity_rows"), x.prev("identity_edges")
	comps, keys, tied := x.work("components"), x.work("tied_keys"), x.work("tied")
	in := "r.edge IN (" + strings.Join(shared, ", ") + ")"
	return &models.Loop{
		Body: []string{
			"-- The keys of the rows of affected components in sources read by several edges.\n" +
				d.ReplaceTable(keys, fmt.Sprintf(`SELECT DISTINCT %[1]s AS source, r.row_key AS row_key
FROM %[2]s AS r
WHERE %[3]s AND r.row_key IS NOT NULL AND r.row_id IN (
    SELECT row_id FROM %[4]s
    WHERE id IN (SELECT id_no FROM %[5]s WHERE component IN (SELECT component FROM %[6]s))
)`, k.sourceName("r.edge"), prevRows, in, prevEdges, prevMap, comps)),
			"-- The components of the other readings of those rows, not yet affected.\n" +
				d.ReplaceTable(tied, fmt.Sprintf(`SELECT DISTINCT component
FROM %[1]s
WHERE component NOT IN (SELECT component FROM %[2]s) AND id_no IN (
    SELECT id FROM %[3]s
    WHERE row_id IN (
        SELECT r.row_id FROM %[4]s AS r
        WHERE %[5]s
    )
)`, prevMap, comps, prevEdges, prevRows, x.perSharedSource(keys))),
			"INSERT INTO " + comps + "\nSELECT component FROM " + tied,
		},
		Changed:   "-- Components added (0: every tie is followed).\nSELECT count(*) FROM " + tied,
		MaxRounds: k.maxRounds(),
		What:      "incremental identity: components tied by sources read by several edges (identity.max_rounds)",
	}
}

// liveSourcesSQL is liveSourcesSQL of an incremental build: the previous
// live table without the re-read rows, and the re-read rows that are not
// erased people's.
func (x *incremental) liveSourcesSQL(k *compiler, occ string) []string {
	var out []string
	for _, l := range k.liveSources() {
		name := l.src.Name
		key := RowKey(k.d, l.src, "s")
		out = append(out, "-- Source "+name+" without the rows of erased people: the rows kept from the\n-- previous build and the re-read ones.\n"+
			k.d.ReplaceTable(k.c.Table(models.LiveSourceName(name)), `SELECT s.*
FROM `+k.c.D.Table(k.c.P.Schema, models.LiveSourceName(name))+` AS s
WHERE NOT (`+x.reread(l.src, key)+`)
UNION ALL
SELECT s.*
FROM `+k.edgeSource(name)+` AS s
WHERE `+k.notErased(l, key, occ)))
	}
	return out
}

// merged is one published table of identity_merge: the previous build's
// rows for which keep holds, with the re-stitched rows of fresh.
type merged struct {
	name         string // published name, after the entity's prefix
	comment      string
	cols         string // of the kept rows
	keep, remove string // conditions on the previous rows, one the other's negation
	fresh        string // query of the re-stitched rows, numbered after the kept ones
}

// mergedTables lists the published tables identity_merge writes from the
// kept and the re-stitched rows.
func (x *incremental) mergedTables() []merged {
	k := x.k
	comps, rows, offsets := x.work("components"), x.work("rows"), x.work("offsets")
	notAffected := "component NOT IN (SELECT component FROM " + comps + ")"
	affected := "component IN (SELECT component FROM " + comps + ")"
	notReread := "row_id NOT IN (SELECT row_id FROM " + rows + ")"
	reread := "row_id IN (SELECT row_id FROM " + rows + ")"
	// Row map and rejects name rows by source and key.
	keptKey := "row_key IS NOT NULL AND NOT (" + x.perSource(func(i int) string {
		return fmt.Sprintf("row_key IN (SELECT row_key FROM %s WHERE edge = %d AND row_key IS NOT NULL)", rows, i+1)
	}) + ")"
	replacedKey := "NOT (" + keptKey + ")"
	if k.c.InPlace() {
		// One join on (source, key), which a publish deleting from the
		// row map runs faster than one test per source.
		keptKey = "row_key IS NOT NULL AND (source, row_key) NOT IN (SELECT source, row_key FROM " + x.work("replaced") + ")"
		replacedKey = "row_key IS NULL OR (source, row_key) IN (SELECT source, row_key FROM " + x.work("replaced") + ")"
	}
	keptRows, replacedRows := keptKey, replacedKey
	if k.c.InPlace() && x.uniqueKeys() {
		// A key named one row, so an entry of the row map one row: the
		// rows re-read are those of the re-stitched profiles (a changed
		// row's too: its component is re-stitched). A test of their
		// numbers costs less than of (source, key).
		keptRows = "profile_no NOT IN (SELECT profile_no FROM " + x.work("was") + ")"
		replacedRows = "profile_no IN (SELECT profile_no FROM " + x.work("was") + ")"
	}
	out := []merged{
		{"identity_map", "The identity map: kept identifiers, then the re-stitched ones.",
			"profile_id, id_type, id_value, first_seen_at, last_seen_at, seen_count, profile_no, id_no, component", notAffected, affected,
			"SELECT n.profile_id, n.id_type, n.id_value, n.first_seen_at, n.last_seen_at, n.seen_count, n.profile_no + o.max_id AS profile_no, n.id_no + o.max_id AS id_no, n.component + o.max_id AS component\nFROM " +
				k.mapTable() + " AS n\nCROSS JOIN " + offsets + " AS o"},
		{"identity_rows", "The rows of the edge sources.", "row_id, edge, row_key, seen_at", notReread, reread,
			"SELECT n.row_id + o.max_rn AS row_id, n.edge, n.row_key, n.seen_at\nFROM " + k.rowsTable() + " AS n\nCROSS JOIN " + offsets + " AS o"},
		{"identity_edges", "Which row carries which identifier.", "row_id, id, t", notReread, reread,
			"SELECT n.row_id + o.max_rn AS row_id, n.id + o.max_id AS id, n.t\nFROM " + k.edgesTable() + " AS n\nCROSS JOIN " + offsets + " AS o"},
		{"row_map", "The row map.", "source, row_key, profile_id, seen_at, profile_no", keptRows, replacedRows,
			"SELECT n.source, n.row_key, n.profile_id, n.seen_at, n.profile_no + o.max_id AS profile_no\nFROM " + k.rowMapTable() + " AS n\nCROSS JOIN " + offsets + " AS o"},
		{"identity_rejects", "Values that were not stitched.", "source, row_key, id_type, raw, status", keptKey, replacedKey,
			"SELECT source, row_key, id_type, raw, status\nFROM " + k.rejectsTable()},
	}
	if len(k.limited) > 0 {
		out = append(out, merged{"identity_limit_conflicts", "Components over a limit.", "component, id_type, value_count", notAffected, affected,
			"SELECT n.component + o.max_id AS component, n.id_type, n.value_count\nFROM " + k.conflictsTable() + " AS n\nCROSS JOIN " + offsets + " AS o"})
	}
	return out
}

// mergeStep writes the published tables: every row of the previous build
// outside the re-stitched components and re-read rows, as it was, and the
// re-stitched rows, numbered after the kept ones. Where the warehouse
// publishes in place, only the re-stitched rows are written, and the
// publish step swaps them for the replaced ones. The stats and profile
// sizes are counted from the tables written. Then the work tables go.
func (x *incremental) mergeStep() models.Step {
	k, d, c := x.k, x.k.d, x.k.c
	step := models.Step{
		Name:        StepMerge,
		Kind:        models.KindIdentity,
		Description: "Identity (incremental): the published tables, the previous build's rows outside\nthe re-stitched components with the re-stitched ones.",
		Origin:      k.id.At.Of("edges"),
		Checks:      k.normaliseChecks(StatsTable(c)),
	}
	inPlace := c.InPlace()
	tables := x.mergedTables()
	var sqls []string
	if inPlace {
		sqls = append(sqls, "-- The source rows re-read, by source and key: the row map and rejects replace theirs.\n"+
			d.ReplaceTable(x.work("replaced"), "SELECT DISTINCT "+k.sourceName("edge")+" AS source, row_key\nFROM "+x.work("rows")+"\nWHERE row_key IS NOT NULL"))
	}
	sqls = append(sqls, "-- The re-stitched profiles as they were: their numbers and sizes.\n"+
		d.ReplaceTable(x.work("was"), "SELECT profile_no, "+d.Cast("count(*)", "BIGINT")+" AS size\nFROM "+x.prev("identity_map")+"\nWHERE NOT ("+tables[0].keep+")\nGROUP BY profile_no"))
	for i, m := range tables {
		name := c.Entity() + "_" + m.name
		if !inPlace {
			sqls = append(sqls, "-- "+m.comment+"\n"+d.ReplaceTable(c.Table(name),
				"SELECT "+m.cols+"\nFROM "+x.prev(m.name)+"\nWHERE "+m.keep+"\nUNION ALL\n"+m.fresh))
			continue
		}
		added := x.work("add_" + m.name)
		var drop []string
		if i == len(tables)-1 {
			// The last table published drops what every view read.
			for _, n := range append([]string{"components", "rows", "replaced", "was"}, addNames(tables)...) {
				drop = append(drop, d.DropTable(x.work(n)))
			}
		}
		sqls = append(sqls, "-- "+m.comment+" The re-stitched rows; the kept ones stay where\n-- they are, and the publish step swaps the replaced ones for these.\n"+
			d.ReplaceTable(added, m.fresh), c.PublishInPlace(&step, models.Rewrite{Name: name, Keep: m.keep, Remove: m.remove, Added: added, Drop: drop}))
	}
	sqls = append(sqls, "-- Per id type: values stitched (the edges, as the identifiers' seen_count),\n-- rejected, junk and blocklisted.\n"+
		d.ReplaceTable(StatsTable(c), k.statsFromMap(MapTable(c), RejectsTable(c))))
	sqls = append(sqls, "-- How many profiles hold each number of identifiers: the last build's, less\n-- the re-stitched profiles as they were, plus them as they are.\n"+
		d.ReplaceTable(SizesTable(c), sizesSQL(d, "SELECT size, "+d.Cast("profiles", "BIGINT")+" AS n FROM "+x.prev("identity_sizes")+
			"\nUNION ALL\nSELECT size, "+d.Cast("-1", "BIGINT")+" AS n FROM "+x.work("was")+
			"\nUNION ALL\n"+sizesOf(d, k.mapTable(), "1"))))
	sqls = append(sqls, "-- The profiles re-stitched, as they were and as they are: the profiles step\n-- recomputes them.\n"+
		d.ReplaceTable(c.RestitchedTable(), fmt.Sprintf(`SELECT DISTINCT profile_id
FROM (
    SELECT profile_id FROM %[1]s WHERE NOT (%[2]s)
    UNION ALL
    SELECT profile_id FROM %[3]s
) AS restitched`, x.prev("identity_map"), tables[0].keep, k.mapTable())))
	if inPlace {
		// Every re-stitched profile has rows in the identity map it publishes.
		sqls = append(sqls, "-- The profiles re-stitched, by their number in this build.\n"+
			d.ReplaceTable(c.RestitchedNumbersTable(), "SELECT DISTINCT profile_no\nFROM "+x.work("add_identity_map")))
	}
	work := []string{"probe", "seeds", "keys", "offsets", "tied_keys", "tied", "changed_keys"}
	for _, src := range x.edgeSources() {
		work = append(work, "changed_"+src.Name)
	}
	if !inPlace {
		work = append(work, "components", "rows", "was")
	}
	for _, name := range work {
		sqls = append(sqls, d.DropTable(x.work(name)))
	}
	for _, tb := range []string{k.mapTable(), k.rowsTable(), k.edgesTable(), k.rowMapTable(), k.rejectsTable()} {
		sqls = append(sqls, d.DropTable(tb))
	}
	if len(k.limited) > 0 {
		sqls = append(sqls, d.DropTable(k.conflictsTable()))
	}
	step.SQL = sqls
	return step
}

// addNames are the work tables of the re-stitched rows of tables.
func addNames(tables []merged) []string {
	out := make([]string, len(tables))
	for i, m := range tables {
		out[i] = "add_" + m.name
	}
	return out
}

// perSource joins, with OR, a condition on the rows of each edge's source.
func (x *incremental) perSource(cond func(i int) string) string {
	var out []string
	for i, e := range x.k.id.Edges {
		out = append(out, fmt.Sprintf("(source = %s AND %s)", x.k.d.String(e.Source), cond(i)))
	}
	return strings.Join(out, " OR ")
}
