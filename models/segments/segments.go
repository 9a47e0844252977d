// Package segments compiles segments (audiences) into membership tables.
//
// # Tables
//
// For entity ENTITY (customer by default), in the project's schema:
//
//   - ENTITY_segment_NAME(profile_id): the members of segment NAME, one row
//     per profile, e.g. sluice.customer_segment_vip.
//   - ENTITY_segment_membership(segment, profile_id): every segment's
//     members, one row per (segment, profile); always built, empty when the
//     project has no segments.
//
// # Membership
//
// A segment's members are the profiles of ENTITY_profiles that
//
//   - match its where (a SQL condition over trait columns; NULL is not a
//     match), or are returned by its sql (a query with a profile_id column;
//     ids that are not profiles are left out and counted by a data check);
//   - are not members of any segment in its exclude list (their final
//     membership, after their own exclusions and groups);
//   - in a priority group, are not held by a segment of the group that ranks
//     before it: lower priority number first, ties by segment name. Each
//     profile lands in at most one segment of a group: the best-ranked
//     segment that selects it.
//
// Segments are built in dependency order (excluded segments and
// better-ranked group peers first); config validation rejects cycles.
// Tables of segments removed from the project are not dropped.
package segments

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
)

func init() { models.RegisterStage(models.OrderSegments, Stage) }

// Table names the membership table of one segment: ENTITY_segment_NAME.
func Table(c *models.Compiler, segment string) string {
	return c.Table(c.Entity() + "_segment_" + segment)
}

// MembershipTable names ENTITY_segment_membership(segment, profile_id),
// every segment's members.
func MembershipTable(c *models.Compiler) string {
	return c.Table(c.Entity() + "_segment_membership")
}

// Stage adds one step per segment, in dependency order, then the step that
// gathers every membership, and one summary metric per segment (its size).
// A project without an identity section has no profiles, so it adds
// nothing.
func Stage(c *models.Compiler, plan *models.Plan) error {
	if c.P.Identity == nil {
		return nil
	}
	inPlace := inPlaceSegments(c)
	rescored := rescoredSegments(c, inPlace)
	for _, s := range Order(c.P.Segments) {
		if inPlace[s.Name] {
			plan.Steps = append(plan.Steps, stepInPlace(c, s, rescored[s.Name]))
		} else {
			plan.Steps = append(plan.Steps, step(c, s))
		}
	}
	final := c.Final() // the summary reads what the build published
	for _, s := range c.P.Segments {
		plan.Report = append(plan.Report, models.Metric{
			Name: "segment " + s.Name,
			SQL:  "SELECT count(*) FROM " + Table(final, s.Name),
		})
	}
	if len(inPlace) > 0 {
		plan.Steps = append(plan.Steps, membershipInPlace(c, inPlace, rescored))
	} else {
		plan.Steps = append(plan.Steps, membership(c))
	}
	return nil
}

// Order returns the segments so that each comes after the segments it
// excludes and the better-ranked segments of its group; otherwise in
// declaration order. It assumes a validated project (no cycles).
func Order(segs []config.Segment) []config.Segment {
	byName := map[string]config.Segment{}
	for _, s := range segs {
		byName[s.Name] = s
	}
	done := map[string]bool{}
	var out []config.Segment
	var visit func(s config.Segment)
	visit = func(s config.Segment) {
		if done[s.Name] {
			return
		}
		done[s.Name] = true
		for _, d := range append(config.RankedBefore(s, segs), s.Exclude...) {
			if ds, ok := byName[d]; ok {
				visit(ds)
			}
		}
		out = append(out, s)
	}
	for _, s := range segs {
		visit(s)
	}
	return out
}

// conditions are the conditions of s's WHERE over a profile, its checks
// and what it selects, in words.
func conditions(c *models.Compiler, s config.Segment) (conds []cond, checks []models.Check, what string) {
	d := c.D
	what = "profiles matching where"
	if s.Where != "" {
		conds = append(conds, cond{"where", "(" + strings.TrimSpace(s.Where) + ")"})
	} else {
		what = "profiles returned by sql"
		ids := "SELECT " + d.CastText("q.profile_id") + "\n        FROM (\n" + indent(userSQL(s.SQL), "            ") + "\n        ) AS q"
		conds = append(conds, cond{"returned by the segment's sql", "profile_id IN (\n        " + ids + "\n    )"})
		checks = append(checks, models.Check{
			Name: "sql of segment " + s.Name,
			SQL: fmt.Sprintf(`SELECT count(*)
FROM (
    SELECT DISTINCT %s AS id
    FROM (
%s
    ) AS q
) AS ids
WHERE id IS NULL OR id NOT IN (SELECT profile_id FROM %s)`, d.CastText("q.profile_id"), indent(userSQL(s.SQL), "        "), c.ProfilesTable()),
			Columns: []models.Count{{Label: "profile ids returned that are not profiles (left out)", Problem: true}},
			Origin:  s.At.Of("sql"),
		})
	}
	for _, e := range s.Exclude {
		conds = append(conds, cond{"exclude: members of " + e, "profile_id NOT IN (SELECT profile_id FROM " + Table(c, e) + ")"})
	}
	for _, b := range config.RankedBefore(s, c.P.Segments) {
		conds = append(conds, cond{fmt.Sprintf("group %s: held by %s, which ranks before %s", s.Group, b, s.Name), "profile_id NOT IN (SELECT profile_id FROM " + Table(c, b) + ")"})
	}
	return conds, checks, what
}

// describe is the description of s's step.
func describe(c *models.Compiler, s config.Segment, what string) string {
	desc := fmt.Sprintf("Segment %s: %s", s.Name, what)
	if len(s.Exclude) > 0 {
		desc += ", minus members of " + strings.Join(s.Exclude, ", ")
	}
	if s.Group != "" {
		desc += fmt.Sprintf(".\nGroup %s, priority %d: a profile belongs to the first segment of the group that selects it (lowest priority, then name)", s.Group, s.Priority)
		if before := config.RankedBefore(s, c.P.Segments); len(before) > 0 {
			desc += "; ranked before this one: " + strings.Join(before, ", ")
		}
	}
	desc += "."
	if s.Description != "" {
		desc += "\n" + s.Description
	}
	return desc
}

// selectMembers is the query of the profile ids of from that meet conds.
func selectMembers(from string, conds []cond) string {
	var where strings.Builder
	for i, c := range conds {
		where.WriteString("\n    -- " + c.comment + "\n    ")
		if i > 0 {
			where.WriteString("AND ")
		}
		where.WriteString(c.expr)
	}
	return fmt.Sprintf("SELECT profile_id\nFROM %s\nWHERE%s", from, where.String())
}

func step(c *models.Compiler, s config.Segment) models.Step {
	conds, checks, what := conditions(c, s)
	return models.Step{
		Name:        "segment_" + s.Name,
		Kind:        models.KindSegment,
		Description: describe(c, s, what),
		Origin:      s.At.Of("name"),
		SQL:         []string{c.D.ReplaceTable(Table(c, s.Name), selectMembers(c.ProfilesTable(), conds))},
		Checks:      checks,
		Parts:       parts(s),
	}
}

// parts gives a failing segment step the SQL written for the segment, so
// that the error points at its where or sql rather than at its name.
func parts(s config.Segment) []models.Part {
	part := models.Part{What: "segment " + s.Name, Origin: s.At.Of("name")}
	if s.Where != "" {
		part.Fragments = append(part.Fragments, models.Fragment{Key: "where", Text: s.Where, Value: s.Where, Pos: s.At.Of("where"), OverTraits: true})
	}
	if s.SQL != "" {
		part.Fragments = append(part.Fragments, models.Fragment{Key: "sql", Text: s.SQL, Value: s.SQL, Pos: s.At.Of("sql"), Query: true})
	}
	return []models.Part{part}
}

// membership gathers every segment's members in one table, so that syncs
// and users can query all audiences at once.
func membership(c *models.Compiler) models.Step {
	d := c.D
	var parts []string
	for _, s := range c.P.Segments {
		parts = append(parts, fmt.Sprintf("SELECT %s AS segment, profile_id FROM %s", d.String(s.Name), Table(c, s.Name)))
	}
	q := strings.Join(parts, "\nUNION ALL\n")
	if len(parts) == 0 {
		q = fmt.Sprintf("SELECT %s AS segment, %s AS profile_id\nWHERE 1 = 0", d.CastText("NULL"), d.CastText("NULL"))
	}
	return models.Step{
		Name:        "segment_membership",
		Kind:        models.KindSegment,
		Description: "Every segment's members: one row per segment and profile.",
		SQL:         []string{d.ReplaceTable(MembershipTable(c), q)},
	}
}

// cond is one condition of a segment's WHERE, with why it is there.
type cond struct{ comment, expr string }

func userSQL(s string) string { return strings.TrimRight(strings.TrimSpace(s), ";") }

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
