package daemon

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
)

// parser reads schedules as `sluice validate` does: five fields, or a
// descriptor such as @hourly or @every 15m.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a sync's cron schedule in the project's time zone.
type Schedule struct {
	Spec  string
	sched cron.Schedule
	loc   *time.Location
}

// ParseSchedule reads spec; times are those of loc unless the spec says
// CRON_TZ=...
func ParseSchedule(spec string, loc *time.Location) (*Schedule, error) {
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %w", spec, err)
	}
	return &Schedule{Spec: spec, sched: s, loc: loc}, nil
}

// Next is the first time the schedule fires strictly after t.
func (s *Schedule) Next(t time.Time) time.Time {
	return s.sched.Next(t.In(s.loc)).In(t.Location())
}

// After is the n-th time the schedule fires after t.
func (s *Schedule) After(t time.Time, n int) time.Time {
	for range n {
		t = s.Next(t)
	}
	return t
}

// buildRank orders the kinds of build steps: a sync needs every step up to
// the rank of what it reads.
var buildRank = map[models.StepKind]int{
	models.KindSchema: 0, models.KindSeed: 1, models.KindSource: 2, models.KindChanges: 3,
	models.KindIdentity: 3, models.KindProfiles: 4, models.KindSegment: 5,
}

// needs is the rank of the last kind of build step a sync reads.
func needs(s config.Sync) int {
	switch {
	case strings.HasPrefix(s.From, "source."):
		return buildRank[models.KindSource]
	case s.From == "profiles":
		return buildRank[models.KindProfiles]
	}
	return buildRank[models.KindSegment]
}

// schedules parses the schedules of a project's syncs.
func schedules(p *config.Project) (map[string]*Schedule, error) {
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("time_zone %s: %w", p.TimeZone, err)
	}
	out := map[string]*Schedule{}
	for _, s := range p.Syncs {
		if s.Schedule == "" {
			continue
		}
		sch, err := ParseSchedule(s.Schedule, loc)
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", s.Name, err)
		}
		out[s.Name] = sch
	}
	return out, nil
}
