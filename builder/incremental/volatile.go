package incremental

import (
	"fmt"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// volatileTraits lists the traits whose SQL may give another result on the
// same rows (it reads the clock or another table): the profiles of an
// incremental build would keep stale values of them, so they need a full
// build whenever the clock moved or a source changed (the table a
// subquery reads may be one of them; an incremental build recomputes only
// the profiles the change touches).
func volatileTraits(c *models.Compiler, prev, now time.Time, changed bool) []string {
	if prev.Equal(now) && !changed {
		return nil
	}
	var reasons []string
	for _, t := range c.P.Traits {
		for _, f := range []struct{ field, sql string }{{"where", t.Where}, {"expression", t.Expression}} {
			if why := sqlfrag.Volatile(c.D.Name(), f.sql); why != "" {
				reasons = append(reasons, fmt.Sprintf("%s: trait %s %s", t.At.Of(f.field), t.Name, why))
			}
		}
	}
	return reasons
}

// timeReasons lists why the profiles and segments must be recomputed
// although no source changed: segments that read the clock or are written
// as queries, RFM recency on a new day, and rows that crossed a window's
// edge (the queries returned, for the caller to count; each must return 0).
func timeReasons(c *models.Compiler, prev, now time.Time) (reasons []string, edges []edgeQuery, err error) {
	p := c.P
	loc, err := time.LoadLocation(firstNonEmpty(p.TimeZone, "UTC"))
	if err != nil {
		return nil, nil, fmt.Errorf("loading time zone %s: %w", p.TimeZone, err)
	}
	moved := !prev.Equal(now)
	for _, t := range p.Traits {
		if t.RFM != nil && prev.In(loc).Format(time.DateOnly) != now.In(loc).Format(time.DateOnly) {
			reasons = append(reasons, fmt.Sprintf("%s: trait %s counts recency in days, and a day has passed", t.At.Of("rfm"), t.Name))
		}
		if t.Kind() == config.TraitAggregate && !t.Window.IsZero() && moved {
			if q, ok := windowEdge(c, t, prev.In(loc), now.In(loc)); ok {
				edges = append(edges, q)
			}
		}
	}
	for _, s := range p.Segments {
		if s.SQL != "" {
			reasons = append(reasons, fmt.Sprintf("%s: segment %s is a query, which may read any table", s.At.Of("sql"), s.Name))
		} else if why := sqlfrag.Volatile(c.D.Name(), s.Where); why != "" && moved {
			reasons = append(reasons, fmt.Sprintf("%s: segment %s %s", s.At.Of("where"), s.Name, why))
		}
	}
	return reasons, edges, nil
}

// edgeQuery counts the rows that left a trait's window between two builds.
type edgeQuery struct {
	why string // the reason, with %s for the count
	sql string
}

// windowEdge counts the rows of a windowed trait's source whose timestamp
// fell out of the window between the previous build time and now: the rows
// at or after prev - window and before now - window.
func windowEdge(c *models.Compiler, t config.Trait, prev, now time.Time) (edgeQuery, bool) {
	src, ok := c.Source(t.From)
	if !ok || src.Timestamp == "" {
		return edgeQuery{}, false
	}
	col := "s." + c.D.Ident(src.Timestamp)
	q := "SELECT count(*) FROM " + c.SourceView(src.Name) + " AS s WHERE " +
		col + " >= " + c.D.TimestampMinus(c.D.TimestampLiteral(prev), t.Window.D) + " AND " +
		col + " < " + c.D.TimestampMinus(c.D.TimestampLiteral(now), t.Window.D)
	return edgeQuery{
		why: fmt.Sprintf("%s: trait %s: %%s rows of %s left its %s window since the last build", t.At.Of("window"), t.Name, src.Name, t.Window.Text),
		sql: q,
	}, true
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
