// Package changes adds the build steps that find which rows of each source
// changed since the last successful build: every row's key and content are
// hashed into a snapshot in the warehouse, and compared with the snapshot
// the last build left (the same technique as the sync planner's diff).
// Deletions are seen, which a timestamp high-water mark alone would miss.
// Sources declared append_only are read from their high-water mark instead
// and get no snapshot. Importing the package registers the stage.
package changes

import "github.com/sluicehq/sluice/models"

func init() { models.RegisterStage(models.OrderChanges, Stage) }

// Stage adds one changes step per source; an append_only source has one
// only in an incremental build, which reads its rows after the mark. In an
// incremental build, a source known unchanged reads nothing. Then one step
// per source checks its primary key (models.Compiler.KeysStep).
func Stage(c *models.Compiler, plan *models.Plan) error {
	for _, s := range c.P.Sources {
		switch {
		case c.Previous != nil && c.Previous.Unchanged[s.Name]:
			plan.Steps = append(plan.Steps, c.UnchangedStep(s.Name))
		case !s.AppendOnly:
			plan.Steps = append(plan.Steps, c.ChangesStep(s.Name))
		case c.Previous != nil:
			plan.Steps = append(plan.Steps, c.AppendedStep(s.Name))
		}
	}
	// The key checks read what changed.
	for _, s := range c.P.Sources {
		plan.Steps = append(plan.Steps, c.KeysStep(s.Name))
	}
	return nil
}
