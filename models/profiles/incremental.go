package profiles

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// incState is what an incremental build adds to the builder.
type incState struct {
	affected string         // work table: profile_id of every profile to recompute
	delta    string         // in place: work table of the rows that differ from prev
	gone     string         // in place: work table of the affected profiles that no longer exist
	idRows   string         // in place: work table of the identity map rows of the affected profiles
	srcRows  string         // in place: work table of the row map rows (trait sources) of the affected profiles
	numbers  string         // in place: work table of the profile_no of the affected profiles that exist
	rescored string         // in place, when Rescores: work table of the kept profiles' moved RFM columns
	written  string         // in place, when Rescores: work table of the delta's rows and the rescored ones, apart
	prev     string         // the profiles table the previous build published
	shift    int            // calendar days from the previous build's now to this one's
	rfm      []config.Trait // rfm traits, scored over all purchasers after the merge
}

// AffectedTable is the work table in which an incremental build lists the
// profiles it recomputes (profile_id).
func AffectedTable(c *models.Compiler) string {
	return c.WorkTable(c.Entity() + "_profiles_affected")
}

// IncrementalStatements returns the statements that write this build's
// profiles table (c.ProfilesTable, the staging name) from the previous
// build's (c.Final().ProfilesTable()), recomputing only the profiles that
// the new identity tables, the changed keys of the trait sources and the
// clock's move from prevNow to c.Now can have changed. The result is the
// table Statements would write (see "Incremental builds" in the package
// documentation). Both reference times must be set: the previous build's
// values are only valid at its own now.
func IncrementalStatements(c *models.Compiler, prevNow time.Time) ([]string, error) {
	return incrementalStatements(c, prevNow, false)
}

// incrementalStatements is IncrementalStatements; inPlace writes, in
// place of the whole table, the rows that differ from the previous
// build's and the profiles that are gone (see publishInPlace).
func incrementalStatements(c *models.Compiler, prevNow time.Time, inPlace bool) ([]string, error) {
	if c.P.Identity == nil {
		return nil, nil
	}
	if c.Now.IsZero() || prevNow.IsZero() {
		return nil, fmt.Errorf("incremental profiles need this build's and the previous build's reference times: compile with models.WithNow")
	}
	loc, err := location(c.P.TimeZone)
	if err != nil {
		return nil, err
	}
	inc := &incState{
		affected: AffectedTable(c),
		prev:     c.Final().ProfilesTable(),
		shift:    calendarDays(prevNow.In(loc), c.Now.In(loc)),
	}
	if inPlace {
		inc.delta, inc.gone, inc.numbers = DeltaTable(c), GoneTable(c), c.WorkTable(c.Entity()+"_profiles_affected_numbers")
		inc.idRows, inc.srcRows = c.WorkTable(c.Entity()+"_profiles_id_rows"), c.WorkTable(c.Entity()+"_profiles_src_rows")
		if Rescores(c) {
			inc.rescored, inc.written = RescoredTable(c), c.WorkTable(c.Entity()+"_profiles_written")
		}
	}
	b, err := newBuilder(c, "_profiles_i_", inc)
	if err != nil {
		return nil, err
	}
	var stmts []string
	keys := b.edgeKeysSQL(prevNow.In(loc))
	if keys != "" {
		stmts = append(stmts, "-- The keys of the rows that crossed the edge of a window as the clock moved.\n"+
			c.D.ReplaceTable(edgeKeysTable(c), keys))
		if inPlace {
			stmts = append(stmts, "-- The profiles holding those rows, by id and number (one read of the row map).\n"+
				c.D.ReplaceTable(edgeRowsTable(c), "SELECT profile_id, profile_no FROM "+c.RowMapTable()+
					"\nWHERE (source, row_key) IN (SELECT source, row_key FROM "+edgeKeysTable(c)+")"))
		}
	}
	stmts = append(stmts, c.D.ReplaceTable(inc.affected, b.affectedSQL(prevNow.In(loc))))
	if inPlace {
		stmts = append(stmts, "-- The profiles to recompute that exist, by their number in this build.\n"+
			c.D.ReplaceTable(inc.numbers, b.numbersSQL(keys != "")))
		stmts = append(stmts, b.affectedRowsSQL()...)
	}
	stmts = append(stmts, b.render()...)
	if inc.rescored != "" {
		stmts = append(stmts, b.splitWritten()...)
	}
	if inPlace {
		stmts = append(stmts, "-- The recomputed profiles that no longer exist: merged into others, or left\n-- without identifiers.\n"+
			c.D.ReplaceTable(inc.gone, "SELECT profile_id FROM "+inc.affected+"\nWHERE profile_id NOT IN (SELECT profile_id FROM "+inc.idRows+")"),
			c.D.DropTable(inc.idRows), c.D.DropTable(inc.srcRows), c.D.DropTable(inc.numbers))
		if keys != "" {
			stmts = append(stmts, c.D.DropTable(edgeRowsTable(c)))
		}
	}
	return stmts, nil
}

// numbersSQL selects the profile_no of the affected profiles that exist:
// those the identity steps re-stitched, and those holding a row that
// crossed a window's edge (edges).
func (b *builder) numbersSQL(edges bool) string {
	c := b.c
	if c.Previous == nil {
		// The affected profiles were found by diffing the identity tables.
		return "SELECT profile_no FROM " + c.IdentityMapTable() + "\nWHERE " + b.only()
	}
	q := "SELECT profile_no FROM " + c.RestitchedNumbersTable()
	if edges {
		q += "\nUNION ALL\nSELECT profile_no FROM " + edgeRowsTable(c)
	}
	return q
}

// affectedRowsSQL copies the identity map rows and the row map rows of
// the affected profiles into work tables: the passes read those few
// rows, where each would otherwise scan the whole maps again (which,
// published in place, are views reading the previous build's tables).
// The rows are found by profile number, which one build gives one
// profile, a cheaper test than profile_id.
func (b *builder) affectedRowsSQL() []string {
	c, only := b.c, "profile_no IN (SELECT profile_no FROM "+b.inc.numbers+")"
	out := []string{"-- The identity map rows of the profiles to recompute.\n" +
		c.D.ReplaceTable(b.inc.idRows, "SELECT * FROM "+c.IdentityMapTable()+"\nWHERE "+only)}
	if len(b.order) == 0 {
		return out
	}
	where := only
	if !b.readsEveryEdgeSource() {
		where = "source IN (" + b.sourceList() + ") AND " + only
	}
	return append(out, "-- The rows of the trait sources the profiles to recompute hold.\n"+
		c.D.ReplaceTable(b.inc.srcRows, "SELECT source, row_key, profile_no FROM "+c.RowMapTable()+"\nWHERE "+where))
}

// readsEveryEdgeSource tells whether traits read every source the row map
// holds rows of (the edge sources): filtering its rows by source would
// then keep them all, at the cost of a test on every row.
func (b *builder) readsEveryEdgeSource() bool {
	for _, e := range b.c.P.Identity.Edges {
		if !slices.Contains(b.order, e.Source) {
			return false
		}
	}
	return true
}

// sourceList is the trait sources' names as a list of SQL strings.
func (b *builder) sourceList() string {
	names := make([]string, len(b.order))
	for i, s := range b.order {
		names[i] = b.d.String(s)
	}
	return strings.Join(names, ", ")
}

// DeltaStatements is IncrementalStatements for a build that publishes in
// place: in place of the whole table they write the rows that may differ
// from the previous build's (DeltaTable) and the recomputed profiles that
// no longer exist (GoneTable). The build's table is the previous build's
// rows for which Kept holds, with the rows of DeltaTable.
func DeltaStatements(c *models.Compiler, prevNow time.Time) ([]string, error) {
	return incrementalStatements(c, prevNow, true)
}

// RescoredTable is the work table in which a build that Rescores writes
// the kept profiles whose RFM values moved: profile_id and
// RescoredColumns.
func RescoredTable(c *models.Compiler) string { return c.WorkTable(c.Entity() + "_profiles_rescored") }

// Rescores tells whether an incremental build publishing in place updates
// the RFM columns of the kept profiles whose scores (or, on a new day,
// recency) moved, rather than writing those profiles whole into
// DeltaTable: a full row costs a read of every column of the table, for
// rows spread over all of it. It does when the project has rfm traits and
// no expression trait may read their columns (whose value would move too).
func Rescores(c *models.Compiler) bool {
	cols := RescoredColumns(c)
	if !c.InPlace() || len(cols) == 0 {
		return false
	}
	for _, t := range c.P.Traits {
		if t.Kind() == config.TraitExpression && sqlfrag.Mentions(c.D.Name(), t.Expression, cols) {
			return false
		}
	}
	return true
}

// RescoredColumns are the columns of the rfm traits that move on kept
// profiles: the code, the scores and the recency (which moves on a new
// day only, and is written whenever, to keep the set fixed).
func RescoredColumns(c *models.Compiler) []string {
	var out []string
	for _, t := range c.P.Traits {
		if t.RFM != nil {
			out = append(out, t.Name, t.Name+"_recency", t.Name+"_r", t.Name+"_f", t.Name+"_m")
		}
	}
	return out
}

// rescoredUpdate is the update of the RescoredColumns of the profiles in
// RescoredTable.
func rescoredUpdate(c *models.Compiler) *models.Update {
	return &models.Update{From: RescoredTable(c), Key: "profile_id", Columns: RescoredColumns(c)}
}

// RescoredRows selects the profiles a build that Rescores rescored, as
// later steps read them: the previous build's rows (those profiles are
// kept) with their new RFM values. It reads the published table once,
// joined to the few rescored, where the profiles table later steps read
// would test every row against the recomputed and removed ones too.
func RescoredRows(c *models.Compiler) string {
	return c.UpdatedRowsSQL(c.Final().ProfilesTable(), rescoredUpdate(c))
}

// splitWritten copies the rows render wrote apart: the recomputed
// profiles into the delta, the rescored ones into their table.
func (b *builder) splitWritten() []string {
	cols := b.tableColumns()
	rescored := []string{"profile_id"}
	for _, col := range RescoredColumns(b.c) {
		rescored = append(rescored, b.ident(col))
	}
	return []string{
		"-- The recomputed profiles.\n" + b.d.ReplaceTable(b.inc.delta, "SELECT "+strings.Join(cols, ", ")+"\nFROM "+b.inc.written+"\nWHERE NOT sluice_rescored"),
		"-- The kept profiles whose RFM values moved: the publish step updates those\n-- columns where they are.\n" +
			b.d.ReplaceTable(b.inc.rescored, "SELECT "+strings.Join(rescored, ", ")+"\nFROM "+b.inc.written+"\nWHERE sluice_rescored"),
		b.d.DropTable(b.inc.written),
	}
}

// DeltaTable is the work table of DeltaStatements' rows.
func DeltaTable(c *models.Compiler) string { return c.WorkTable(c.Entity() + "_profiles_delta") }

// GoneTable is the work table of DeltaStatements' profiles gone.
func GoneTable(c *models.Compiler) string { return c.WorkTable(c.Entity() + "_profiles_gone") }

// Kept is the condition on a row of the previous build's profiles that
// the build keeps it: neither rewritten nor gone.
func Kept(c *models.Compiler) string {
	return "profile_id NOT IN (SELECT profile_id FROM " + DeltaTable(c) + ") AND profile_id NOT IN (SELECT profile_id FROM " + GoneTable(c) + ")"
}

// Replaced is Kept's negation: the profiles the build rewrites or removes.
func Replaced(c *models.Compiler) string {
	return "profile_id IN (SELECT profile_id FROM " + DeltaTable(c) + ") OR profile_id IN (SELECT profile_id FROM " + GoneTable(c) + ")"
}

// publishInPlace makes step publish the profiles table in place (see
// DeltaStatements).
func publishInPlace(c *models.Compiler, step *models.Step) {
	r := models.Rewrite{Name: c.Entity() + "_profiles", Keep: Kept(c), Remove: Replaced(c), Added: DeltaTable(c),
		Drop: []string{c.D.DropTable(DeltaTable(c)), c.D.DropTable(GoneTable(c))}}
	if Rescores(c) {
		r.Update = rescoredUpdate(c)
		r.Drop = append(r.Drop, c.D.DropTable(RescoredTable(c)))
	}
	step.SQL = append(step.SQL, "-- What later steps read as the profiles table; the publish step writes\n-- the rows that differ into the published one.\n"+
		c.PublishInPlace(step, r))
}

// IncrementalStep is the profiles step of an incremental build: the
// statements of IncrementalStatements, and a count of the profiles it
// recomputed.
func IncrementalStep(c *models.Compiler, prevNow time.Time) (models.Step, error) {
	stmts, err := incrementalStatements(c, prevNow, c.InPlace())
	if err != nil {
		return models.Step{}, err
	}
	if sd, ok := c.D.(dialect.Session); ok {
		stmts = append(sd.SessionStatements(), stmts...)
	}
	step := models.Step{
		Name: "profiles",
		Kind: models.KindProfiles,
		Description: fmt.Sprintf("Profiles, incrementally: the profiles of %s that changed since the last build are recomputed, the others kept from %s.",
			c.IdentityMapTable(), c.Final().ProfilesTable()),
		SQL:    stmts,
		Parts:  parts(c.P),
		Checks: []models.Check{{Name: "profiles recomputed", SQL: "SELECT count(*) FROM " + AffectedTable(c), Columns: []models.Count{{Label: "profiles recomputed"}}}},
	}
	if c.InPlace() {
		publishInPlace(c, &step)
	}
	return step, nil
}

func location(tz string) (*time.Location, error) {
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("loading time zone %s: %w", tz, err)
	}
	return loc, nil
}

// wall is t's wall clock as a UTC time, which is how the warehouse reads
// the literal of a reference time (a timestamp without time zone).
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// calendarDays is the number of calendar days from from's date to to's, on
// their own wall clocks: how much DaysBetween(x, now) grows between them.
func calendarDays(from, to time.Time) int {
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	return int(day(to).Sub(day(from)).Round(24*time.Hour) / (24 * time.Hour))
}

// affectedSQL lists the profiles (of the new identity map) whose values can
// differ from the previous build's; see the package documentation.
func (b *builder) affectedSQL(prevLocal time.Time) string {
	c, final := b.c, b.c.Final()
	if c.Previous != nil {
		// In a build the identity steps list the profiles they re-stitched:
		// no other profile's identifiers or rows can differ, and the owners
		// of changed rows are among them (see the package documentation).
		parts := []string{"-- profiles the identity steps re-stitched, owners of the changed rows among them\nSELECT profile_id FROM " + c.RestitchedTable()}
		return b.affectedUnion(parts, prevLocal)
	}
	parts := []string{
		"-- identifiers, or their first/last seen times and counts, changed\n" +
			diffSQL(c.IdentityMapTable(), final.IdentityMapTable(), "profile_id, id_type, id_value, first_seen_at, last_seen_at, seen_count", ""),
	}
	if len(b.order) > 0 {
		parts = append(parts, "-- rows of the trait sources joined or left a profile\n"+
			diffSQL(c.RowMapTable(), final.RowMapTable(), "source, row_key, profile_id", "source IN ("+b.sourceList()+")"))
	}
	return b.affectedUnion(append(parts, b.changedRows()...), prevLocal)
}

// changedRows selects the profiles of the trait sources' rows added or
// changed (deleted ones left the row map).
func (b *builder) changedRows() []string {
	var parts []string
	for _, s := range b.order {
		parts = append(parts, fmt.Sprintf("-- rows of %s added or changed (deleted ones left the row map)\nSELECT profile_id FROM %s WHERE source = %s AND %s IN (SELECT key_hash FROM %s)",
			s, b.c.RowMapTable(), b.d.String(s), b.d.Hash64("row_key"), b.c.ChangedKeysTable(s)))
	}
	return parts
}

// affectedUnion adds the window edges to parts and selects every profile
// they name once.
func (b *builder) affectedUnion(parts []string, prevLocal time.Time) string {
	parts = append(parts, b.windowEdges(prevLocal)...)
	return "SELECT DISTINCT profile_id\nFROM (\n" + dialect.Indent(strings.Join(parts, "\nUNION ALL\n"), "    ") + "\n) AS affected\nWHERE profile_id IS NOT NULL"
}

// diffSQL returns the profile_id of the rows (cols, profile_id among
// them) that next and prev do not hold alike, counting copies; where, when
// set, limits both.
func diffSQL(next, prev, cols, where string) string {
	if where != "" {
		where = " WHERE " + where
	}
	return `SELECT profile_id FROM (
    SELECT ` + cols + `, sum(cur) AS c, sum(old) AS p
    FROM (
        SELECT ` + cols + `, 1 AS cur, 0 AS old FROM ` + next + where + `
        UNION ALL
        SELECT ` + cols + `, 0 AS cur, 1 AS old FROM ` + prev + where + `
    ) AS versions
    GROUP BY ` + cols + `
) AS counted
WHERE c <> p`
}

// edgeKeysTable is the work table of the keys of the rows that crossed
// the edge of a window: a table of its own, so that the warehouse knows
// how few they are when it joins them to the row map.
func edgeKeysTable(c *models.Compiler) string { return c.WorkTable(c.Entity() + "_profiles_edge_keys") }

// edgeRowsTable is the work table, in a build publishing in place, of the
// profiles (profile_id, profile_no) holding a row that crossed the edge
// of a window.
func edgeRowsTable(c *models.Compiler) string { return c.WorkTable(c.Entity() + "_profiles_edge_rows") }

// windowed lists the sources (with a timestamp) and windows of the
// windowed traits, each pair once.
func (b *builder) windowed() (sources []config.Source, windows []config.Trait) {
	var seen []string
	for _, t := range b.c.P.Traits {
		if t.Window.IsZero() {
			continue
		}
		names := t.Priority
		if t.From != "" {
			names = []string{t.From}
		}
		for _, name := range names {
			src, ok := b.c.Source(name)
			if !ok || src.Timestamp == "" {
				continue // a trait naming neither compiles to no pass either
			}
			key := fmt.Sprintf("%s/%d", name, t.Window.D)
			if slices.Contains(seen, key) {
				continue
			}
			seen = append(seen, key)
			sources, windows = append(sources, src), append(windows, t)
		}
	}
	return sources, windows
}

// edgeKeysSQL selects, for each source and window of a windowed trait,
// the keys of the rows that entered or left the window as now moved from
// prevLocal (source, row_key): their timestamp lies between the two window
// starts. Empty when the clock did not move or no trait has a window.
func (b *builder) edgeKeysSQL(prevLocal time.Time) string {
	if wall(prevLocal).Equal(wall(b.c.Now.In(prevLocal.Location()))) {
		return ""
	}
	early, late := b.d.TimestampLiteral(prevLocal), b.now
	if wall(prevLocal).After(wall(b.c.Now.In(prevLocal.Location()))) {
		early, late = late, early
	}
	sources, windows := b.windowed()
	var out []string
	for i, src := range sources {
		t := windows[i]
		ts := "s." + b.ident(src.Timestamp)
		out = append(out, fmt.Sprintf(`-- rows of %[1]s that crossed the edge of a %[2]s window
SELECT %[3]s AS source, %[4]s AS row_key FROM %[5]s AS s WHERE %[6]s >= %[7]s AND %[6]s < %[8]s`,
			src.Name, t.Window.Text, b.d.String(src.Name), models.RowKey(b.c, src, "s"), b.c.SourceView(src.Name),
			ts, b.d.TimestampMinus(early, t.Window.D), b.d.TimestampMinus(late, t.Window.D)))
	}
	return strings.Join(out, "\nUNION ALL\n")
}

// windowEdges returns, for each source of edgeKeysSQL, the profiles
// owning a row that crossed the edge of a window.
func (b *builder) windowEdges(prevLocal time.Time) []string {
	if b.edgeKeysSQL(prevLocal) == "" {
		return nil
	}
	if b.inc != nil && b.inc.delta != "" {
		// Read from the row map once (IncrementalStatements).
		return []string{"-- rows that crossed the edge of a window\nSELECT profile_id FROM " + edgeRowsTable(b.c)}
	}
	sources, _ := b.windowed()
	var out, seen []string
	for _, src := range sources {
		if slices.Contains(seen, src.Name) {
			continue
		}
		seen = append(seen, src.Name)
		out = append(out, fmt.Sprintf("-- rows of %[1]s that crossed the edge of a window\nSELECT profile_id FROM %[2]s WHERE source = %[3]s AND row_key IN (SELECT row_key FROM %[4]s WHERE source = %[3]s)",
			src.Name, b.c.RowMapTable(), b.d.String(src.Name), edgeKeysTable(b.c)))
	}
	return out
}

// rfmRaw adds an rfm trait's raw values to the base of an incremental
// build, as the full build's scores CTE gives them; the scores come after
// the merge with the kept profiles (incrementalTail).
func (b *builder) rfmRaw(t config.Trait, pass string) {
	last := b.joinCol(pass, t.Name+"__last_purchase")
	freq := b.joinCol(pass, t.Name+"__purchases")
	money := b.joinCol(pass, t.Name+"__spend")
	b.base = append(b.base,
		column{comment: t.Name + ": recency, frequency and monetary of the purchasers; NULL, 0, NULL without purchases",
			expr: "CASE WHEN " + freq + " > 0 THEN " + b.d.DaysBetween(last, b.now) + " END", alias: b.ident(t.Name + "_recency")},
		column{expr: "COALESCE(" + freq + ", 0)", alias: b.ident(t.Name + "_frequency")},
		column{expr: "CASE WHEN " + freq + " > 0 THEN " + money + " END", alias: b.ident(t.Name + "_monetary")},
	)
	b.inc.rfm = append(b.inc.rfm, t)
}

// incrementalTail adds, after the base of the affected profiles, the kept
// profiles' base columns (merged), the rfm scores over every purchaser
// (scored), and returns the CTEs and the name of the last.
func (b *builder) incrementalTail(base string) ([]cte, string) {
	fresh, kept := b.tailColumns()
	comment := "The recomputed profiles, and the others as the last build left them"
	if b.inc.shift != 0 && len(b.inc.rfm) > 0 {
		comment += fmt.Sprintf(",\nrecency %+d day(s): the calendar days since the last build", b.inc.shift)
	}
	if b.inc.delta != "" {
		return b.deltaTail(base, fresh, kept, comment)
	}
	ctes := []cte{{
		name:    "merged",
		comment: comment + ".",
		body: fmt.Sprintf("SELECT %s FROM %s\nUNION ALL\nSELECT %s FROM %s\nWHERE profile_id NOT IN (SELECT profile_id FROM %s)",
			strings.Join(fresh, ", "), b.ref(base), strings.Join(kept, ", "), b.inc.prev, b.inc.affected),
	}}
	if len(b.inc.rfm) == 0 {
		return ctes, "merged"
	}
	for _, t := range b.inc.rfm {
		purchasers := "purchasers_" + t.Name
		ctes = append(ctes, cte{
			name:    purchasers,
			comment: fmt.Sprintf("%s: every profile with a purchase, recomputed or kept.", t.Name),
			body:    b.purchasersSQL(t, b.ref("merged"), "", false, false),
		})
		ctes = append(ctes, b.rfmTiles(t, purchasers)...)
	}
	return append(ctes, b.scoredCTE("scored", "SELECT * FROM "+b.ref("merged"), fresh, b.ownValues)), "scored"
}

// tailColumns lists the base columns of the recomputed profiles (fresh)
// and of the kept ones (kept: recency moved by the calendar days since the
// last build).
func (b *builder) tailColumns() (fresh, kept []string) {
	fresh, kept = []string{"profile_id"}, []string{"profile_id"}
	for _, col := range b.base {
		fresh = append(fresh, col.alias)
		if b.isRecency(col.alias) {
			kept = append(kept, b.shifted(col.alias)+" AS "+col.alias)
		} else {
			kept = append(kept, col.alias)
		}
	}
	return fresh, kept
}

func (b *builder) isRecency(alias string) bool {
	for _, t := range b.inc.rfm {
		if b.ident(t.Name+"_recency") == alias {
			return true
		}
	}
	return false
}

// shifted is a kept recency column moved by the days since the last build.
func (b *builder) shifted(col string) string {
	switch {
	case b.inc.shift > 0:
		return fmt.Sprintf("%s + %d", col, b.inc.shift)
	case b.inc.shift < 0:
		return fmt.Sprintf("%s - %d", col, -b.inc.shift)
	}
	return col
}

// purchasersSQL selects the purchasers of rfm trait t from from; kept
// moves their recency (kept profiles) and reads their previous scores as
// old_r, old_f and old_m, which are NULL otherwise; withOld adds those.
func (b *builder) purchasersSQL(t config.Trait, from, where string, kept, withOld bool) string {
	recency := b.ident(t.Name + "_recency")
	if kept {
		recency = b.shifted(recency)
	}
	freq := b.ident(t.Name + "_frequency")
	if where != "" {
		where = " AND " + where
	}
	old := ""
	if withOld {
		for _, dim := range []string{"r", "f", "m"} {
			v := "NULL"
			if kept {
				v = b.ident(t.Name + "_" + dim)
			}
			old += ", " + v + " AS old_" + dim
		}
	}
	return fmt.Sprintf("SELECT profile_id AS pid, %s AS recency, %s AS frequency, %s AS monetary%s\nFROM %s\nWHERE %s > 0%s",
		recency, freq, b.ident(t.Name+"_monetary"), old, from, freq, where)
}

// ownValues are the rfm trait t's values of a profile in the profile's
// own columns, and the test that it is a purchaser.
func (b *builder) ownValues(t config.Trait) ([3]string, string) {
	freq := b.ident(t.Name + "_frequency")
	return [3]string{b.ident(t.Name + "_recency"), freq, b.ident(t.Name + "_monetary")}, freq + " > 0"
}

// purchaserValues are the rfm trait t's values of a profile as read from
// the purchasers (rescoredCTE), NULL for a profile that is none.
func (b *builder) purchaserValues(t config.Trait) ([3]string, string) {
	var v [3]string
	for i, dim := range rfmDims {
		v[i] = b.ident(col("purchasers_"+t.Name, t.Name+"_"+dim.value))
	}
	return v, v[1] + " > 0"
}

// scoredCTE joins the rfm scores to the profiles of the query from, by
// their values (vals), and keeps from's columns pass.
func (b *builder) scoredCTE(name, from string, pass []string, vals func(config.Trait) ([3]string, string)) cte {
	chain := from
	var scored []column
	for _, t := range b.inc.rfm {
		var out [3]string
		var dims []string
		for i, dim := range rfmDims {
			out[i] = b.ident(col("score_"+dim.name+"_"+t.Name, t.Name+"_"+dim.name))
			scored = append(scored, column{expr: out[i], alias: b.ident(t.Name + "_" + dim.name)})
			dims = append(dims, b.d.CastText(out[i]))
		}
		v, purchaser := vals(t)
		chain = b.tileJoins(chain, t, v, purchaser, out)
		scored = append(scored, column{comment: t.Name + ": RFM code, e.g. 545; NULL without purchases", expr: b.d.Concat(dims...), alias: b.ident(t.Name)})
	}
	for i := len(pass) - 1; i >= 0; i-- {
		scored = append([]column{{expr: pass[i], alias: pass[i]}}, scored...)
	}
	return cte{
		name:    name,
		comment: "RFM scores: quintiles over every purchaser.",
		body:    fmt.Sprintf("SELECT\n%s\nFROM (\n%s\n) AS joined", renderColumns(scored, "    "), dialect.Indent(chain, "    ")),
	}
}

// deltaTail is incrementalTail for a build that publishes in place: only
// the rows that can differ from the previous build's go on to the
// expressions and into the table written. Those are the affected profiles
// and the kept purchasers whose RFM score moved (every kept purchaser on a
// new day, whose recency moved). The scores are still quintiles over every
// purchaser, read from the previous build's narrow columns.
func (b *builder) deltaTail(base string, fresh, kept []string, comment string) ([]cte, string) {
	keptRows := b.inc.prev + "\nWHERE profile_id NOT IN (SELECT profile_id FROM " + b.inc.affected + ")"
	merged := fmt.Sprintf("SELECT %s FROM %s", strings.Join(fresh, ", "), b.ref(base))
	if len(b.inc.rfm) == 0 {
		return []cte{{name: "merged", comment: "The recomputed profiles: the others are kept as they are.", body: merged}}, "merged"
	}
	var ctes []cte
	var moved []string
	for _, t := range b.inc.rfm {
		purchasers := "purchasers_" + t.Name
		ctes = append(ctes, cte{
			name:    purchasers,
			comment: fmt.Sprintf("%s: every profile with a purchase, recomputed or kept.", t.Name),
			body: b.purchasersSQL(t, b.ref(base), "", false, true) + "\nUNION ALL\n" +
				b.purchasersSQL(t, b.inc.prev, "profile_id NOT IN (SELECT profile_id FROM "+b.inc.affected+")", true, true),
		})
		ctes = append(ctes, b.rfmTiles(t, purchasers)...)
		// A kept purchaser has scores (old); the recomputed ones have none.
		keptPurchasers := "SELECT pid, recency, frequency, monetary, old_r, old_f, old_m FROM " + b.ref(purchasers) + " WHERE old_r IS NOT NULL"
		if b.inc.shift != 0 {
			moved = append(moved, "SELECT pid AS profile_id FROM "+b.ref(purchasers)+" WHERE old_r IS NOT NULL")
			continue
		}
		tiled := b.tileJoins(keptPurchasers, t, [3]string{"recency", "frequency", "monetary"}, "", [3]string{"new_r", "new_f", "new_m"})
		moved = append(moved, "SELECT pid AS profile_id\nFROM (\n"+dialect.Indent(tiled, "    ")+"\n) AS tiled\nWHERE new_r <> old_r OR new_f <> old_f OR new_m <> old_m")
	}
	ctes = append(ctes, cte{
		name:    "moved",
		comment: "Kept profiles whose RFM score moved (or, on a new day, their recency).",
		body:    strings.Join(moved, "\nUNION ALL\n"),
	})
	if b.inc.rescored != "" {
		ctes = append(ctes, cte{name: "merged", comment: "The recomputed profiles: the kept ones whose RFM values moved are rescored apart.", body: merged},
			b.scoredCTE("scored", "SELECT * FROM "+b.ref("merged"), fresh, b.ownValues), b.rescoredCTE())
		return ctes, "scored"
	}
	ctes = append(ctes, cte{
		name:    "merged",
		comment: comment + ": only those whose values may have moved.",
		body: merged + fmt.Sprintf("\nUNION ALL\nSELECT %s FROM %s\n  AND profile_id IN (SELECT profile_id FROM %s)",
			strings.Join(kept, ", "), keptRows, b.ref("moved")),
	})
	return append(ctes, b.scoredCTE("scored", "SELECT * FROM "+b.ref("merged"), fresh, b.ownValues)), "scored"
}

// rescoredCTE selects the RescoredColumns of the kept profiles whose RFM
// values moved: their new scores, and their recency moved by the days
// since the last build.
func (b *builder) rescoredCTE() cte {
	from := "SELECT DISTINCT profile_id FROM " + b.ref("moved")
	pass := []string{"profile_id"}
	for _, t := range b.inc.rfm {
		v, _ := b.purchaserValues(t)
		from = fmt.Sprintf("SELECT c.*, j.%[1]s, j.%[2]s, j.%[3]s\nFROM (\n%[4]s\n) AS c\nLEFT JOIN (SELECT pid AS j_pid, recency AS %[1]s, frequency AS %[2]s, monetary AS %[3]s FROM %[5]s) AS j ON j.j_pid = c.profile_id",
			v[0], v[1], v[2], dialect.Indent(from, "    "), b.ref("purchasers_"+t.Name))
		pass = append(pass, v[0])
	}
	scored := b.scoredCTE("rescored_scores", from, pass, b.purchaserValues)
	cols := []string{"profile_id"}
	for _, t := range b.inc.rfm {
		v, _ := b.purchaserValues(t)
		cols = append(cols, v[0]+" AS "+b.ident(t.Name+"_recency"))
		for _, c := range []string{t.Name, t.Name + "_r", t.Name + "_f", t.Name + "_m"} {
			cols = append(cols, b.ident(c))
		}
	}
	return cte{
		name:    "rescored",
		comment: "Kept profiles whose RFM values moved: their new scores and recency.",
		body:    "SELECT " + strings.Join(cols, ", ") + "\nFROM (\n" + dialect.Indent(scored.body, "    ") + "\n) AS rescored_scores",
	}
}
