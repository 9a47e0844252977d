// Package builder runs a compiled plan against a warehouse: statements in
// order, convergence loops, data checks and the closing summary.
package builder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/builder/seedcheck"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

// Event reports progress, for a terminal or a log.
type Event struct {
	Step     *models.Step
	Done     bool          // the step finished
	Round    int           // loop round just finished, when > 0
	Changed  int64         // what the loop's check counted after Round
	Duration time.Duration // of the step, when Done
}

// Options tune a run.
type Options struct {
	Progress func(Event)
	// Only, when set, limits the run to steps for which it returns true.
	Only func(models.Step) bool
}

// Result summarises a build.
type Result struct {
	Steps    []StepResult
	Warnings []Warning
	Checks   []CheckResult
	Metrics  []MetricValue
	Duration time.Duration
}

// StepResult is one step's outcome.
type StepResult struct {
	Name     string
	Kind     models.StepKind
	Duration time.Duration
	Rounds   int // loop rounds, 0 without a loop
}

// CheckResult holds every count of one check.
type CheckResult struct {
	Check  models.Check
	Counts []int64
}

// Warning is a non-zero problem count of a data check.
type Warning struct {
	Origin config.Pos
	Check  string
	Label  string
	Count  int64
}

func (w Warning) String() string {
	return fmt.Sprintf("%s: %s: %s: %d", w.Origin, w.Check, w.Label, w.Count)
}

// MetricValue is an evaluated summary metric.
type MetricValue struct {
	Name  string
	Value string
}

// ErrNotConverged is returned when a loop hits its round cap.
var ErrNotConverged = errors.New("did not converge")

// Run executes the plan. It stops at the first failing statement and says
// which step, and which project file declared it. The steps write the
// tables they publish under staging names; a publish step at the end puts
// those of the steps that ran in place, so that a run that fails leaves
// the previous build's tables as they were. The summary reads them after.
func Run(ctx context.Context, w warehouse.Warehouse, plan *models.Plan, opt Options) (*Result, error) {
	start := time.Now()
	res := &Result{}
	// Seeds are checked before the first step, so that a bad seed file
	// leaves the warehouse as it was rather than half loaded.
	if probs := seedPaths(plan); len(probs) > 0 {
		return res, &SeedError{Problems: probs}
	}
	if probs := seedcheck.Check(seedFiles(plan, opt)); len(probs) > 0 {
		return res, &SeedError{Problems: probs}
	}
	guard := newGuard(plan)
	d := planDialect(w, plan)
	if err := dropLeftovers(ctx, w, d, plan.Schema); err != nil {
		return res, err
	}
	skipped := plan.PublishedBy(func(s models.Step) bool { return !runs(opt, s) })
	for i := range plan.Steps {
		s := &plan.Steps[i]
		if s.Kind == models.KindPublish || !runs(opt, *s) {
			continue
		}
		// The tables of steps this run skips are read where the previous
		// build published them.
		step := s.ReadingPublished(d, plan.Schema, skipped)
		if err := runReported(ctx, w, guard, &step, plan.Dialect, opt, res); err != nil {
			return res, err
		}
	}
	if names := plan.PublishedBy(func(s models.Step) bool { return runs(opt, s) }); len(names) > 0 {
		step := models.PublishStep(d, plan.Schema, names, plan.Deltas())
		if err := runReported(ctx, w, guard, &step, plan.Dialect, opt, res); err != nil {
			return res, err
		}
	}
	if err := summarise(ctx, w, guard, plan, res); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// runs reports whether a run with opt runs the step (the publish step
// always runs, for the steps that ran).
func runs(opt Options, s models.Step) bool {
	return s.Kind == models.KindPublish || opt.Only == nil || opt.Only(s)
}

// planDialect is the dialect the plan was compiled for, which writes the
// publish step again for the steps that run.
func planDialect(w warehouse.Warehouse, plan *models.Plan) dialect.Dialect {
	if d, err := dialect.Get(plan.Dialect); err == nil {
		return d
	}
	return w.Dialect()
}

// runReported runs one step and records its result.
func runReported(ctx context.Context, w warehouse.Warehouse, guard statementGuard, s *models.Step, dialectName string, opt Options, res *Result) error {
	sr, err := runStep(ctx, w, guard, s, opt, res)
	if err != nil {
		return stepError(s, dialectName, err)
	}
	res.Steps = append(res.Steps, sr)
	if opt.Progress != nil {
		opt.Progress(Event{Step: s, Done: true, Duration: sr.Duration, Round: sr.Rounds})
	}
	return nil
}

// summarise computes the summary metrics, which read the published tables.
func summarise(ctx context.Context, w warehouse.Warehouse, guard statementGuard, plan *models.Plan, res *Result) error {
	queries, columns := plan.ReportQueries()
	rows := make(map[string][]any, len(queries))
	for _, q := range queries {
		if err := guard.check(nil, q); err != nil {
			return fmt.Errorf("computing summary %q: %w", metricNames(plan, q), err)
		}
		vals := make([]any, columns[q])
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := warehouse.QueryRow(ctx, w, q, dest...); err != nil {
			return fmt.Errorf("computing summary %q: %w", metricNames(plan, q), err)
		}
		rows[q] = vals
	}
	for _, m := range plan.Report {
		res.Metrics = append(res.Metrics, MetricValue{Name: m.Name, Value: format(rows[m.SQL][m.Column])})
	}
	return nil
}

// metricNames names the metrics that query computes.
func metricNames(plan *models.Plan, query string) string {
	var names []string
	for _, m := range plan.Report {
		if m.SQL == query {
			names = append(names, m.Name)
		}
	}
	return strings.Join(names, ", ")
}

// SeedError says that seed files would not load, with every problem of
// every file; Run returns it before running anything.
type SeedError struct {
	Problems config.Problems
}

func (e *SeedError) Error() string {
	n := "1 problem"
	if len(e.Problems) != 1 {
		n = fmt.Sprintf("%d problems", len(e.Problems))
	}
	return fmt.Sprintf("seed files would not load (%s; nothing was built):\n%s", n, e.Problems.Error())
}

// Unwrap gives the problems, for callers that list them their own way.
func (e *SeedError) Unwrap() error { return e.Problems }

// seedFiles lists the seed files of the steps the run includes.
func seedFiles(plan *models.Plan, opt Options) []seedcheck.File {
	var files []seedcheck.File
	for _, s := range plan.Steps {
		if s.Seed == nil || opt.Only != nil && !opt.Only(s) {
			continue
		}
		name := s.Seed.File
		if name == "" {
			name = s.Seed.Path
		}
		files = append(files, seedcheck.File{Name: name, Path: s.Seed.Path, Types: s.Seed.Types})
	}
	return files
}

// seedPaths checks again, where files are read, that seed files stay in
// the project: one replaced by a symlink since validation is refused.
func seedPaths(plan *models.Plan) config.Problems {
	var probs config.Problems
	for _, s := range plan.Steps {
		if l := s.Seed; l != nil && len(l.Within) > 0 {
			if _, err := config.ResolveInProject(l.Within[0], l.File, l.Within[1:]...); err != nil {
				probs = append(probs, config.Problem{Pos: config.Pos{File: l.File}, Message: "seed file " + err.Error()})
			}
		}
	}
	return probs
}

func stepError(s *models.Step, dialect string, err error) error {
	// A step computing several declared things (the profiles step) names
	// the one the error is about, at the SQL written for it.
	var inj *InjectionError
	if p, at, ok := blame(s.Parts, dialect, err.Error()); ok && !errors.As(err, &inj) {
		return fmt.Errorf("%s: building %s: %s: %w", at, s.Name, p.What, err)
	}
	if s.Origin.File != "" {
		return fmt.Errorf("%s: building %s: %w", s.Origin, s.Name, err)
	}
	return fmt.Errorf("building %s: %w", s.Name, err)
}

// runFallback runs the step's fallback statements when its check asks.
func runFallback(ctx context.Context, w warehouse.Warehouse, g statementGuard, s *models.Step) error {
	f := s.Fallback
	if f == nil {
		return nil
	}
	if err := g.check(s, f.When); err != nil {
		return fmt.Errorf("checking whether to fall back: %w", err)
	}
	var n int64
	if err := warehouse.QueryRow(ctx, w, f.When, &n); err != nil {
		return fmt.Errorf("checking whether to fall back: %w", err)
	}
	if n == 0 {
		return nil
	}
	return g.exec(ctx, w, s, f.SQL)
}

func runStep(ctx context.Context, w warehouse.Warehouse, g statementGuard, s *models.Step, opt Options, res *Result) (StepResult, error) {
	start := time.Now()
	sr := StepResult{Name: s.Name, Kind: s.Kind}
	if l, ok := w.(warehouse.CSVLoader); ok && s.Seed != nil {
		if err := l.LoadCSV(ctx, s.Seed.Schema, s.Seed.Name, s.Seed.Path, s.Seed.Types); err != nil {
			return sr, err
		}
	} else if err := g.exec(ctx, w, s, s.SQL); err != nil {
		return sr, err
	}
	if err := runFallback(ctx, w, g, s); err != nil {
		return sr, err
	}
	if l := s.Loop; l != nil {
		converged := false
		for round := 1; round <= l.MaxRounds; round++ {
			if err := g.exec(ctx, w, s, l.Body); err != nil {
				return sr, fmt.Errorf("round %d: %w", round, err)
			}
			var changed int64
			if err := g.check(s, l.Changed); err != nil {
				return sr, fmt.Errorf("round %d: checking convergence: %w", round, err)
			}
			if err := warehouse.QueryRow(ctx, w, l.Changed, &changed); err != nil {
				return sr, fmt.Errorf("round %d: checking convergence: %w", round, err)
			}
			sr.Rounds = round
			if opt.Progress != nil {
				opt.Progress(Event{Step: s, Round: round, Changed: changed})
			}
			if changed == 0 {
				converged = true
				break
			}
		}
		if !converged {
			return sr, fmt.Errorf("%s %w after %d rounds (the cap); raise it if the data really needs more", l.What, ErrNotConverged, l.MaxRounds)
		}
	}
	if err := g.exec(ctx, w, s, s.Finally); err != nil {
		return sr, err
	}
	for _, c := range s.Checks {
		if err := g.check(s, c.SQL); err != nil {
			return sr, fmt.Errorf("check %s: %w", c.Name, err)
		}
		counts, err := runCheck(ctx, w, c)
		if err != nil {
			return sr, fmt.Errorf("check %s: %w", c.Name, err)
		}
		res.Checks = append(res.Checks, CheckResult{Check: c, Counts: counts})
		for i, col := range c.Columns {
			if col.Problem && counts[i] > 0 {
				res.Warnings = append(res.Warnings, Warning{Origin: c.Origin, Check: c.Name, Label: col.Label, Count: counts[i]})
			}
		}
	}
	sr.Duration = time.Since(start)
	return sr, nil
}

func runCheck(ctx context.Context, w warehouse.Warehouse, c models.Check) ([]int64, error) {
	counts := make([]int64, len(c.Columns))
	dest := make([]any, len(counts))
	for i := range counts {
		dest[i] = &counts[i]
	}
	if err := warehouse.QueryRow(ctx, w, c.SQL, dest...); err != nil {
		return nil, err
	}
	return counts, nil
}

func format(v any) string {
	switch x := v.(type) {
	case nil:
		return "-"
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}
