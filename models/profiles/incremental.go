package profiles

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

// incState is what an incremental build adds to the builder.
type incState struct {
	affected string         // work table: profile_id of every profile to recompute
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
	b, err := newBuilder(c, "_profiles_i_", inc)
	if err != nil {
		return nil, err
	}
	affected := b.affectedSQL(prevNow.In(loc))
	return append([]string{c.D.ReplaceTable(inc.affected, affected)}, b.render()...), nil
}

// IncrementalStep is the profiles step of an incremental build: the
// statements of IncrementalStatements, and a count of the profiles it
// recomputed.
func IncrementalStep(c *models.Compiler, prevNow time.Time) (models.Step, error) {
	stmts, err := IncrementalStatements(c, prevNow)
	if err != nil {
		return models.Step{}, err
	}
	if sd, ok := c.D.(dialect.Session); ok {
		stmts = append(sd.SessionStatements(), stmts...)
	}
	return models.Step{
		Name: "profiles",
		Kind: models.KindProfiles,
		Description: fmt.Sprintf("Profiles, incrementally: the profiles of %s that changed since the last build are recomputed, the others kept from %s.",
			c.IdentityMapTable(), c.Final().ProfilesTable()),
		SQL:    stmts,
		Parts:  parts(c.P),
		Checks: []models.Check{{Name: "profiles recomputed", SQL: "SELECT count(*) FROM " + AffectedTable(c), Columns: []models.Count{{Label: "profiles recomputed"}}}},
	}, nil
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
		// no other profile's identifiers or rows can differ.
		parts := []string{"-- profiles the identity steps re-stitched\nSELECT profile_id FROM " + c.RestitchedTable()}
		return b.affectedUnion(append(parts, b.changedRows()...), prevLocal)
	}
	parts := []string{
		"-- identifiers, or their first/last seen times and counts, changed\n" +
			diffSQL(c.IdentityMapTable(), final.IdentityMapTable(), "profile_id, id_type, id_value, first_seen_at, last_seen_at, seen_count", ""),
	}
	if len(b.order) > 0 {
		names := make([]string, len(b.order))
		for i, s := range b.order {
			names[i] = b.d.String(s)
		}
		parts = append(parts, "-- rows of the trait sources joined or left a profile\n"+
			diffSQL(c.RowMapTable(), final.RowMapTable(), "source, row_key, profile_id", "source IN ("+strings.Join(names, ", ")+")"))
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
	return "SELECT DISTINCT profile_id\nFROM (\n" + indent(strings.Join(parts, "\nUNION ALL\n"), "    ") + "\n) AS affected\nWHERE profile_id IS NOT NULL"
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

// windowEdges returns, for each source and window of a windowed trait, the
// profiles owning a row that entered or left the window as now moved from
// prevLocal: its timestamp lies between the two window starts.
func (b *builder) windowEdges(prevLocal time.Time) []string {
	if wall(prevLocal).Equal(wall(b.c.Now.In(prevLocal.Location()))) {
		return nil
	}
	early, late := b.d.TimestampLiteral(prevLocal), b.now
	if wall(prevLocal).After(wall(b.c.Now.In(prevLocal.Location()))) {
		early, late = late, early
	}
	var out, seen []string
	for _, t := range b.c.P.Traits {
		if t.Window.IsZero() {
			continue
		}
		sources := t.Priority
		if t.From != "" {
			sources = []string{t.From}
		}
		for _, name := range sources {
			src, ok := b.c.Source(name)
			if !ok || src.Timestamp == "" {
				continue // a trait naming neither compiles to no pass either
			}
			key := fmt.Sprintf("%s/%d", name, t.Window.D)
			if slices.Contains(seen, key) {
				continue
			}
			seen = append(seen, key)
			ts := "s." + b.ident(src.Timestamp)
			out = append(out, fmt.Sprintf(`-- rows of %[1]s that crossed the edge of a %[2]s window
SELECT profile_id FROM %[3]s WHERE source = %[4]s AND row_key IN (
    SELECT %[5]s FROM %[6]s AS s WHERE %[7]s >= %[8]s AND %[7]s < %[9]s
)`, name, t.Window.Text, b.c.RowMapTable(), b.d.String(name), models.RowKey(b.c, src, "s"), b.c.SourceView(name),
				ts, b.d.TimestampMinus(early, t.Window.D), b.d.TimestampMinus(late, t.Window.D)))
		}
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
	fresh, kept := []string{"profile_id"}, []string{"profile_id"}
	recency := map[string]bool{}
	for _, t := range b.inc.rfm {
		recency[b.ident(t.Name+"_recency")] = true
	}
	for _, col := range b.base {
		fresh = append(fresh, col.alias)
		switch {
		case recency[col.alias] && b.inc.shift > 0:
			kept = append(kept, fmt.Sprintf("%s + %d AS %s", col.alias, b.inc.shift, col.alias))
		case recency[col.alias] && b.inc.shift < 0:
			kept = append(kept, fmt.Sprintf("%s - %d AS %s", col.alias, -b.inc.shift, col.alias))
		default:
			kept = append(kept, col.alias)
		}
	}
	comment := "The recomputed profiles, and the others as the last build left them"
	if b.inc.shift != 0 && len(b.inc.rfm) > 0 {
		comment += fmt.Sprintf(",\nrecency %+d day(s): the calendar days since the last build", b.inc.shift)
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
	chain := "SELECT * FROM " + b.ref("merged")
	var scored []column
	for _, t := range b.inc.rfm {
		purchasers := "purchasers_" + t.Name
		ctes = append(ctes, cte{
			name:    purchasers,
			comment: fmt.Sprintf("%s: every profile with a purchase, recomputed or kept.", t.Name),
			body: fmt.Sprintf("SELECT profile_id AS pid, %s AS recency, %s AS frequency, %s AS monetary\nFROM %s\nWHERE %[2]s > 0",
				b.ident(t.Name+"_recency"), b.ident(t.Name+"_frequency"), b.ident(t.Name+"_monetary"), b.ref("merged")),
		})
		ctes = append(ctes, b.rfmScores(t, purchasers)...)
		var dims []string
		for _, dim := range []string{"r", "f", "m"} {
			score := "score_" + dim + "_" + t.Name
			k := b.ident(col(score, t.Name+"_"+dim))
			chain = fmt.Sprintf("SELECT c.*, j.%[1]s\nFROM (\n%[2]s\n) AS c\nLEFT JOIN (SELECT s_pid AS j_pid, s_score AS %[1]s FROM %[3]s) AS j ON j.j_pid = c.profile_id",
				k, indent(chain, "    "), b.ref(score))
			scored = append(scored, column{expr: k, alias: b.ident(t.Name + "_" + dim)})
			dims = append(dims, b.d.CastText(k))
		}
		scored = append(scored, column{comment: t.Name + ": RFM code, e.g. 545; NULL without purchases", expr: b.d.Concat(dims...), alias: b.ident(t.Name)})
	}
	ctes = append(ctes, cte{
		name:    "scored",
		comment: "RFM scores: quintiles over every purchaser.",
		body:    fmt.Sprintf("SELECT\n    joined.*,\n%s\nFROM (\n%s\n) AS joined", renderColumns(scored, "    "), indent(chain, "    ")),
	})
	return ctes, "scored"
}
