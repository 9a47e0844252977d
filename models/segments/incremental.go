package segments

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
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

// addedTable is the work table of the members of a segment among the
// rewritten profiles.
func addedTable(c *models.Compiler, segment string) string {
	return c.WorkTable(c.Entity() + "_segment_" + segment + "_added")
}

// stepInPlace is a segment's step in a build that updates it in place.
func stepInPlace(c *models.Compiler, s config.Segment) models.Step {
	conds, checks, what := conditions(c, s)
	added := addedTable(c, s.Name)
	step := models.Step{
		Name:        "segment_" + s.Name,
		Kind:        models.KindSegment,
		Description: describe(c, s, what) + "\nIncrementally: only the profiles this build rewrote are selected again.",
		Origin:      s.At.Of("name"),
		Checks:      checks,
		Parts:       parts(s),
	}
	step.SQL = []string{
		"-- The members among the profiles this build rewrote.\n" +
			c.D.ReplaceTable(added, selectMembers(profiles.DeltaTable(c), conds)),
	}
	step.SQL = append(step.SQL, "-- The segment as later steps read it; the publish step deletes the rows of\n-- the rewritten and removed profiles and inserts the new members.\n"+
		c.PublishInPlace(&step, models.Rewrite{Name: c.Entity() + "_segment_" + s.Name, Keep: profiles.Kept(c), Remove: profiles.Replaced(c),
			Added: added, Drop: []string{c.D.DropTable(added)}}))
	return step
}

// membershipInPlace gathers every segment's members in an in-place build:
// the segments updated in place change the rows of the rewritten profiles,
// the others are written whole again.
func membershipInPlace(c *models.Compiler, inPlace map[string]bool) models.Step {
	d := c.D
	added := c.WorkTable(c.Entity() + "_segment_membership_added")
	var parts, whole []string
	for _, s := range c.P.Segments {
		from := Table(c, s.Name)
		if inPlace[s.Name] {
			from = addedTable(c, s.Name)
		} else {
			whole = append(whole, d.String(s.Name))
		}
		parts = append(parts, fmt.Sprintf("SELECT %s AS segment, profile_id FROM %s", d.String(s.Name), from))
	}
	keep, remove := profiles.Kept(c), profiles.Replaced(c)
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
