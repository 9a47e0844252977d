// Package incremental decides how much of a project a build must compute,
// runs it, and records what it was built from.
//
// Every build first loads the seeds whose files changed and reads its
// sources through their views. It then compares each source with the last
// successful build (a row count and the sum of the row hashes: one read,
// nothing written; append_only sources from their high-water mark), the
// erasure suppression list, the SQL of every step (so a change of identity,
// trait or segment definitions, or of sluice itself, is seen), and the
// parts of the models that move with the clock: rows that left a trait's
// window, RFM recency on a new day, fragments that read the clock. When
// nothing differs, the published tables are already what a full build
// would give and the build stops there. Otherwise it runs every model step
// and says why. The state lives in the state schema (StateTableName).
package incremental

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

// Mode says what a build computed.
type Mode string

// Build modes.
const (
	// ModeFull recomputed every model step.
	ModeFull Mode = "full"
	// ModeIncremental recomputed what changed: the identity of the
	// components that changed rows touch, then the profiles and segments.
	ModeIncremental Mode = "incremental"
	// ModeUnchanged found nothing changed: the published tables stand.
	ModeUnchanged Mode = "unchanged"
	// ModeSourcesOnly ran no model step (Options.Only stopped at sources).
	ModeSourcesOnly Mode = "sources only"
)

// Options tune a build.
type Options struct {
	// Full recomputes everything whatever changed (build --full).
	Full bool
	// Now is the build's reference time for windows and recency; the
	// clock's, truncated to the second, when zero.
	Now time.Time
	// Only, when set, limits the build to the steps it accepts.
	Only func(models.Step) bool
	// Progress reports steps as they run.
	Progress func(builder.Event)
}

// Outcome is what a build did and why.
type Outcome struct {
	Mode Mode
	// Reasons say why the models were recomputed (Mode full).
	Reasons []string
	// Changed lists the sources whose rows changed since the last build.
	Changed []string
	// SeedsKept lists the seeds not reloaded: their files did not change.
	SeedsKept []string
	// Compacted, on a build publishing in place, tells that its publish
	// compacted the rows left deleted in storage; DeletedShare is the
	// largest share of them in one of its tables before (see CompactAt).
	Compacted    bool
	DeletedShare float64
	// Result is the builder's result, both phases together.
	Result *builder.Result
}

// prefix tells the steps every build runs before deciding: they only read
// the sources (and load the seed files that changed).
func prefix(s models.Step) bool {
	return s.Kind == models.KindSchema || s.Kind == models.KindSeed || s.Kind == models.KindSource
}

// Build builds the project's models in w, recomputing only what depends on
// something that changed since the last build.
func Build(ctx context.Context, w warehouse.Warehouse, p *config.Project, opt Options) (*Outcome, error) {
	start := time.Now()
	now := opt.Now
	if now.IsZero() {
		now = start.UTC().Truncate(time.Second)
	}
	b, err := newRun(ctx, w, p, now, opt)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Result: &builder.Result{}}
	defer func() { out.Result.Duration = time.Since(start) }()
	keep, seeds := b.seeds(ctx, out)
	// The summary reads the model tables: not before they are decided on.
	sources := *b.plan
	sources.Report = nil
	res, err := builder.Run(ctx, w, &sources, builder.Options{Progress: opt.Progress, Only: func(s models.Step) bool {
		return prefix(s) && !keep[s.Name] && b.accepts(s)
	}})
	merge(out.Result, res)
	if err != nil {
		return out, err
	}
	if !b.runsModels() {
		out.Mode = ModeSourcesOnly
		return out, nil
	}
	st, err := b.decide(ctx, out, seeds)
	if err != nil {
		return out, err
	}
	plan, only := b.phase(out)
	if out.Mode == ModeIncremental {
		if err := b.compaction(ctx, plan, out); err != nil {
			return out, err
		}
	}
	res, err = builder.Run(ctx, w, plan, builder.Options{Progress: opt.Progress, Only: func(s models.Step) bool {
		return only(s) && !prefix(s) && b.accepts(s)
	}})
	merge(out.Result, res)
	if err != nil || out.Mode == ModeUnchanged {
		return out, err
	}
	st.Complete = b.runsAll()
	st.UniqueKeys = uniqueKeys(out.Result)
	if st.DeletedFloor, err = b.deletedFloor(ctx, plan, out); err != nil {
		return out, err
	}
	if err := b.store.ensure(ctx); err != nil {
		return out, err
	}
	return out, b.store.record(ctx, st)
}

// phase picks the plan and the steps that compute what the decision asks
// for. Unchanged, only the summary runs, on the tables that stand.
func (b *run) phase(out *Outcome) (*models.Plan, func(models.Step) bool) {
	switch {
	case out.Mode == ModeUnchanged:
		return keyChecks(b.plan, b.w.Dialect()), func(models.Step) bool { return true }
	case out.Mode == ModeFull:
		return b.plan, func(models.Step) bool { return true }
	default:
		return b.inc, func(models.Step) bool { return true }
	}
}

// keyChecks is plan reduced to the checks of the sources' primary keys,
// reading the published tables: an unchanged build reports what the last
// build found, as every build does, and its summary.
func keyChecks(plan *models.Plan, d dialect.Dialect) *models.Plan {
	out := *plan
	out.Steps = nil
	for _, s := range plan.Steps {
		var checks []models.Check
		var names []string
		for _, c := range s.Checks {
			if source, ok := strings.CutPrefix(c.Name, models.KeyCheckPrefix); ok {
				checks = append(checks, c)
				names = append(names, models.DuplicateKeysName(source))
			}
		}
		if len(checks) > 0 {
			out.Steps = append(out.Steps, models.Step{Name: s.Name, Kind: s.Kind, Description: s.Description, Origin: s.Origin, Checks: checks}.
				ReadingPublished(d, plan.Schema, names))
		}
	}
	return &out
}

// CompactAt is how much the share of deleted rows in a table an
// incremental build publishes in place may grow, from what the last
// compaction left, before a publish compacts the deleted rows of every
// table (on warehouses that are a dialect.Compactor). Until then they stay
// in storage, and builds skip rewriting the storage they thin out. DuckDB
// merges neighbouring row groups once their rows fit in fewer (four into
// three when a quarter of their rows are deleted), so a compaction does
// not always bring the share down to nothing.
const CompactAt = 0.25

// compaction measures the deleted rows in the tables plan publishes in
// place and decides whether its publish compacts them.
func (b *run) compaction(ctx context.Context, plan *models.Plan, out *Outcome) error {
	share, err := b.deletedShare(ctx, plan)
	if err != nil {
		return err
	}
	floor := 0.0
	if b.prev != nil {
		floor = b.prev.DeletedFloor
	}
	out.DeletedShare = share
	if share >= floor+CompactAt {
		plan.Compact, out.Compacted = true, true
	}
	return nil
}

// deletedShare is the largest share of deleted rows still stored in one
// of the tables plan publishes in place; 0 where the warehouse keeps none.
func (b *run) deletedShare(ctx context.Context, plan *models.Plan) (float64, error) {
	c, ok := b.w.Dialect().(dialect.Compactor)
	if !ok {
		return 0, nil
	}
	var names []string
	for _, n := range sortedKeys(plan.Deltas()) {
		exists, err := b.w.TableExists(ctx, b.p.Schema, n)
		if err != nil {
			return 0, fmt.Errorf("table %s.%s: %w", b.p.Schema, n, err)
		}
		if exists {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return 0, nil
	}
	var share float64
	if err := warehouse.QueryRow(ctx, b.w, c.DeletedShareSQL(b.p.Schema, names), &share); err != nil {
		return 0, fmt.Errorf("reading the share of deleted rows in the tables published in place: %w", err)
	}
	return share, nil
}

// deletedFloor is the share of deleted rows the next build measures
// growth from: what this build's compaction left, or the last one's.
func (b *run) deletedFloor(ctx context.Context, plan *models.Plan, out *Outcome) (float64, error) {
	switch {
	case out.Mode != ModeIncremental:
		return 0, nil // a full build writes every table whole
	case out.Compacted:
		return b.deletedShare(ctx, plan)
	case b.prev != nil:
		return b.prev.DeletedFloor, nil
	}
	return 0, nil
}

// run is one build in progress.
type run struct {
	w      warehouse.Warehouse
	p      *config.Project
	c      *models.Compiler
	plan   *models.Plan // a full build's
	inc    *models.Plan // an incremental build's, when one can follow the last
	incErr error        // why none can, when compiling it failed
	fps    map[string]string
	store  store
	prev   *State
	now    time.Time
	full   bool
	accept func(models.Step) bool
}

func newRun(ctx context.Context, w warehouse.Warehouse, p *config.Project, now time.Time, opt Options) (*run, error) {
	d := w.Dialect()
	plan, err := models.Compile(p, d, models.WithNow(now))
	if err != nil {
		return nil, err
	}
	// The step fingerprints come from SQL without the build time in it.
	timeless, err := models.Compile(p, d)
	if err != nil {
		return nil, err
	}
	b := &run{w: w, p: p, c: &models.Compiler{P: p, D: d, Now: now}, plan: plan, fps: fingerprints(timeless),
		store: newStore(w, p), now: now, full: opt.Full, accept: opt.Only}
	if b.prev, err = b.store.latest(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// uniqueKeys names the sources whose key check, in the keys steps of
// res, found every row with a primary key of its own.
func uniqueKeys(res *builder.Result) map[string]bool {
	out := map[string]bool{}
	for _, c := range res.Checks {
		if name, ok := strings.CutPrefix(c.Check.Name, models.KeyCheckPrefix); ok && len(c.Counts) == 3 {
			out[name] = c.Counts[1] == 0 && c.Counts[2] == 0
		}
	}
	return out
}

// compileIncremental compiles the incremental plan, once the sources that
// changed are known.
func (b *run) compileIncremental(changed []string) {
	if b.prev == nil || !b.prev.Complete {
		return
	}
	prev := models.Previous{Now: b.prev.Now, Marks: map[string]string{}, Unchanged: map[string]bool{}, UniqueKeys: map[string]bool{}}
	for name, s := range b.prev.Sources {
		prev.Marks[name] = s.Mark
	}
	for _, s := range b.p.Sources {
		prev.Unchanged[s.Name] = !slices.Contains(changed, s.Name)
		prev.UniqueKeys[s.Name] = b.prev.UniqueKeys[s.Name]
	}
	b.inc, b.incErr = models.Compile(b.p, b.w.Dialect(), models.WithNow(b.now), models.Incrementally(prev))
}

func (b *run) accepts(s models.Step) bool { return b.accept == nil || b.accept(s) }

// runsAll tells whether the build includes every step of the project (a
// daemon building for syncs that read segments does).
func (b *run) runsAll() bool {
	for _, s := range b.plan.Steps {
		if !b.accepts(s) {
			return false
		}
	}
	return true
}

// runsModels tells whether the build includes any step past the sources.
func (b *run) runsModels() bool {
	for _, s := range b.plan.Steps {
		if !prefix(s) && s.Kind != models.KindPublish && b.accepts(s) {
			return true
		}
	}
	return false
}

// seeds picks the seeds to keep: files unchanged since the last build that
// loaded them, into tables that still exist. It returns them and every
// seed's fingerprint for the next state.
func (b *run) seeds(ctx context.Context, out *Outcome) (keep map[string]bool, next map[string]string) {
	keep, next = map[string]bool{}, map[string]string{}
	for _, s := range b.plan.Steps {
		if s.Seed == nil {
			continue
		}
		fp, err := seedFingerprint(s, b.fps[s.Name])
		if err != nil {
			continue // the load says what is wrong with the file
		}
		next[s.Name] = fp
		if b.full || b.prev == nil || b.prev.Seeds[s.Name] != fp || !tableExists(ctx, b.w, b.w.Dialect().Table(s.Seed.Schema, s.Seed.Name)) {
			continue
		}
		keep[s.Name] = true
		out.SeedsKept = append(out.SeedsKept, s.Seed.Schema+"."+s.Seed.Name)
	}
	return keep, next
}

// tableExists tells whether table can be read.
func tableExists(ctx context.Context, w warehouse.Warehouse, table string) bool {
	rows, err := w.Query(ctx, "SELECT 1 FROM "+table+" WHERE 1 = 0")
	if err != nil {
		return false
	}
	rows.Close()
	return true
}

// decide compares the sources, the suppression list, the definitions and
// the clock with the last build's, and sets out.Mode and out.Reasons. It
// returns the state to record after a full build.
func (b *run) decide(ctx context.Context, out *Outcome, seeds map[string]string) (*State, error) {
	sources, changed, reasons, err := sourceStates(ctx, b.w, b.c, b.prev)
	if err != nil {
		return nil, err
	}
	suppression, err := suppressionChecksum(ctx, b.w, b.plan)
	if err != nil {
		return nil, err
	}
	st := &State{BuildID: buildID(time.Now()), Now: b.now, Steps: b.fps, Sources: sources, Suppression: suppression, Seeds: seeds}
	out.Changed = changed
	b.compileIncremental(changed)
	switch {
	case b.full:
		reasons = append(reasons, "a full build was asked for (--full)")
	case b.prev == nil:
		reasons = append(reasons, "no earlier build recorded what it was built from")
	case !b.prev.Complete:
		reasons = append(reasons, "the last build ran only some steps")
	case b.incErr != nil:
		reasons = append(reasons, "this change cannot be built incrementally: "+b.incErr.Error())
	default:
		reasons = append(reasons, definitionReasons(b.plan, b.fps, b.prev.Steps)...)
		if suppression != b.prev.Suppression {
			reasons = append(reasons, "the erasure suppression list changed")
		}
		reasons = append(reasons, volatileTraits(b.c, b.prev.Now, b.now, len(changed) > 0)...)
	}
	if len(reasons) > 0 {
		out.Mode, out.Reasons = ModeFull, reasons
		return st, nil
	}
	moved, err := b.clockReasons(ctx, len(changed) > 0)
	if err != nil {
		return nil, err
	}
	switch {
	case len(changed) > 0:
		out.Mode, out.Reasons = ModeIncremental, append([]string{"rows changed in " + joinList(changed)}, moved...)
	case len(moved) > 0:
		out.Mode, out.Reasons = ModeIncremental, moved
	default:
		out.Mode = ModeUnchanged
	}
	return st, nil
}

// clockReasons lists what moved with the clock since the last build:
// fragments reading it, recency on a new day, rows that left a window
// (counted only when nothing else already asks for the profiles, since
// they are recomputed anyway).
func (b *run) clockReasons(ctx context.Context, recompute bool) ([]string, error) {
	reasons, edges, err := timeReasons(b.c, b.prev.Now, b.now)
	if err != nil || recompute || len(reasons) > 0 {
		return reasons, err
	}
	for _, e := range edges {
		var n int64
		if err := warehouse.QueryRow(ctx, b.w, e.sql, &n); err != nil {
			return nil, fmt.Errorf("counting the rows that left a window: %w", err)
		}
		if n > 0 {
			reasons = append(reasons, fmt.Sprintf(e.why, fmt.Sprint(n)))
		}
	}
	return reasons, nil
}

func joinList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, n := range names[1 : len(names)-1] {
		out += ", " + n
	}
	return out + " and " + names[len(names)-1]
}

// merge adds a phase's result to the build's.
func merge(into, r *builder.Result) {
	if r == nil {
		return
	}
	into.Steps = append(into.Steps, r.Steps...)
	into.Warnings = append(into.Warnings, r.Warnings...)
	into.Checks = append(into.Checks, r.Checks...)
	into.Metrics = append(into.Metrics, r.Metrics...)
}
