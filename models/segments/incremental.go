package segments

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/profiles"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// An incremental build that publishes in place (models.Compiler.InPlace)
// rewrites only the rows of the profiles it recomputed or removed
// (profiles.Replaced): a segment whose where reads nothing but the
// profile's own columns changes membership for those profiles only. Its
// step selects the members among the rewritten rows (profiles.DeltaTable)
// and the publish step deletes the membership rows of the rewritten and
// removed profiles and inserts the new ones.
//
// The other segments are selected again from every profile: those written
// as a query (sql may read any table), those whose where reads the clock,
// random numbers or a table, and those that exclude or rank after one of
// them (their membership follows it).
//
// Where the build updates the RFM columns of kept profiles in place
// (profiles.Rescores), a segment updated in place whose where may read one
// of those columns, or that excludes or ranks after such a segment, also
// selects again the rescored profiles (profiles.RescoredRows): only the
// columns its where reads.

// inPlaceSegments names the segments that an in-place build updates for
// the rewritten profiles only; nil when the build does not publish in
// place.
func inPlaceSegments(c *models.Compiler) map[string]bool {
	if !c.InPlace() {
		return nil
	}
	out := map[string]bool{}
	for _, s := range Order(c.P.Segments) {
		ok := s.SQL == "" && sqlfrag.Volatile(c.D.Name(), s.Where) == ""
		for _, d := range append(config.RankedBefore(s, c.P.Segments), s.Exclude...) {
			ok = ok && out[d]
		}
		if ok {
			out[s.Name] = true
		}
	}
	return out
}

// rescoredSegments names the segments updated in place (inPlace) whose
// membership may move for the profiles rescored in place; nil when the
// build rescores none.
func rescoredSegments(c *models.Compiler, inPlace map[string]bool) map[string]bool {
	if len(inPlace) == 0 || !profiles.Rescores(c) {
		return nil
	}
	cols := profiles.RescoredColumns(c)
	out := map[string]bool{}
	for _, s := range Order(c.P.Segments) {
		if !inPlace[s.Name] {
			continue
		}
		moves := sqlfrag.Mentions(c.D.Name(), s.Where, cols)
		for _, d := range append(config.RankedBefore(s, c.P.Segments), s.Exclude...) {
			moves = moves || out[d]
		}
		if moves {
			out[s.Name] = true
		}
	}
	return out
}

// rescoredIDs selects the profiles whose RFM columns the build rescores.
func rescoredIDs(c *models.Compiler) string {
	return "SELECT profile_id FROM " + profiles.RescoredTable(c)
}

// addedTable is the work table of the members of a segment among the
// rewritten profiles.
func addedTable(c *models.Compiler, segment string) string {
	return c.WorkTable(c.Entity() + "_segment_" + segment + "_added")
}

// stepInPlace is a segment's step in a build that updates it in place.
func stepInPlace(c *models.Compiler, s config.Segment, rescored bool) models.Step {
	conds, checks, what := conditions(c, s)
	added := addedTable(c, s.Name)
	members := selectMembers(profiles.DeltaTable(c), conds)
	keep, remove := profiles.Kept(c), profiles.Replaced(c)
	if rescored {
		members += "\nUNION ALL\n-- The members among the profiles whose RFM columns this build rescored.\n" +
			selectMembers("(\n"+dialect.Indent(profiles.RescoredRows(c), "    ")+"\n) AS rescored", conds)
		keep += " AND profile_id NOT IN (" + rescoredIDs(c) + ")"
		remove += " OR profile_id IN (" + rescoredIDs(c) + ")"
	}
	step := models.Step{
		Name:        "segment_" + s.Name,
		Kind:        models.KindSegment,
		Description: describe(c, s, what) + "\nIncrementally: only the profiles this build rewrote are selected again.",
		Origin:      s.At.Of("name"),
		Checks:      checks,
		Parts:       parts(s),
	}
	step.SQL = []string{
		"-- The members among the profiles this build rewrote.\n" + c.D.ReplaceTable(added, members),
	}
	step.SQL = append(step.SQL, "-- The segment as later steps read it; the publish step deletes the rows of\n-- the rewritten and removed profiles and inserts the new members.\n"+
		c.PublishInPlace(&step, models.Rewrite{Name: c.Entity() + "_segment_" + s.Name, Keep: keep, Remove: remove,
			Added: added, Drop: []string{c.D.DropTable(added)}}))
	return step
}

// membershipInPlace gathers every segment's members in an in-place build:
// the segments updated in place change the rows of the rewritten profiles,
// the others are written whole again.
func membershipInPlace(c *models.Compiler, inPlace, rescored map[string]bool) models.Step {
	d := c.D
	added := c.WorkTable(c.Entity() + "_segment_membership_added")
	var parts, whole, moved []string
	for _, s := range c.P.Segments {
		from := Table(c, s.Name)
		if inPlace[s.Name] {
			from = addedTable(c, s.Name)
		} else {
			whole = append(whole, d.String(s.Name))
		}
		if rescored[s.Name] {
			moved = append(moved, d.String(s.Name))
		}
		parts = append(parts, fmt.Sprintf("SELECT %s AS segment, profile_id FROM %s", d.String(s.Name), from))
	}
	keep, remove := profiles.Kept(c), profiles.Replaced(c)
	if len(moved) > 0 {
		// The rows of the rescored profiles in the segments selecting them again.
		list := strings.Join(moved, ", ")
		keep += " AND (segment NOT IN (" + list + ") OR profile_id NOT IN (" + rescoredIDs(c) + "))"
		remove += " OR (segment IN (" + list + ") AND profile_id IN (" + rescoredIDs(c) + "))"
	}
	if len(whole) > 0 {
		list := strings.Join(whole, ", ")
		keep = "segment NOT IN (" + list + ") AND " + keep
		remove = "segment IN (" + list + ") OR " + remove
	}
	step := models.Step{
		Name:        "segment_membership",
		Kind:        models.KindSegment,
		Description: "Every segment's members: one row per segment and profile.\nIncrementally: the rows of the profiles this build rewrote, and of the segments selected again from every profile.",
		SQL: []string{
			"-- The rows to add.\n" + d.ReplaceTable(added, strings.Join(parts, "\nUNION ALL\n")),
		},
	}
	step.SQL = append(step.SQL, "-- The membership as readers see it once published.\n"+
		c.PublishInPlace(&step, models.Rewrite{Name: c.Entity() + "_segment_membership", Keep: keep, Remove: remove,
			Added: added, Drop: []string{d.DropTable(added)}}))
	return step
}
