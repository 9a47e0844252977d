package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/builder/incremental"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/executor"
	"github.com/sluicehq/sluice/sync/state"
)

// Exit codes of sync (documented in docs/syncs.md). When syncs end
// differently, the first that applies wins: 1, 4, 5, 3.
const (
	exitRejected = 3 // delivered, but the destination rejected some records
	exitRefused  = 4 // the removal guard refused a sync (run again with --force)
	exitLocked   = 5 // the sync is already running
)

func init() { extraCommands = append(extraCommands, newSyncCmd) }

func newSyncCmd(g *globals) *cobra.Command {
	var force, skipBuild bool
	c := &cobra.Command{
		Use:   "sync [SYNC...]",
		Short: "Build, diff and send the changes of each sync to its destination",
		Long: `sync builds the models, then for each sync (all of them without arguments):
locks it, diffs the model against what the destination received last time
(in the warehouse), sends the adds, updates and removals in batches, and
commits each batch's outcome. Only records the destination accepted count as
synced; rejected ones are stored with their error and sent again next run.

Exit codes: 0 everything delivered; 1 a sync failed (destination or
warehouse error, bad credentials, invalid project); 3 some records were
rejected by the destination; 4 the removal guard refused a sync (more
removals than max_removals: check the model, or use --force); 5 the sync is
already running. With several syncs, the first of 1, 4, 5, 3 that applies.`,
		Example: `  sluice sync
  sluice sync vip_to_klaviyo --project examples/quickstart
  sluice sync lapsed_list --force   # accept a large removal`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd, g, args, syncFlags{force: force, skipBuild: skipBuild})
		},
	}
	c.Flags().BoolVar(&force, "force", false, "let the removal guard pass: remove more than max_removals in this run")
	c.Flags().BoolVar(&skipBuild, "skip-build", false, "do not build the models first; diff the tables of the last build")
	return c
}

type syncFlags struct{ force, skipBuild bool }

// syncTally adds up what the syncs of one command did.
type syncTally struct {
	code                   int
	failed, erasuresFailed int
}

func runSync(cmd *cobra.Command, g *globals, args []string, f syncFlags) error {
	ctx := cmd.Context()
	p, err := loadProject(g, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	w, eng, names, err := openEngine(ctx, p, args)
	if err != nil {
		return err
	}
	defer w.Close()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if len(names) == 0 {
		fmt.Fprintln(out, "The project has no syncs: add some to a project file (see docs/syncs.md).")
		return nil
	}
	var cutoff int64
	if !f.skipBuild {
		if cutoff, err = buildQuietlyFor(ctx, p, w, errOut, true); err != nil {
			return &exitError{code: exitFailure, err: err}
		}
	}
	tally := &syncTally{code: exitOK}
	opt := engine.SyncOptions{Force: f.force, Erase: !f.skipBuild, ErasureCutoff: cutoff}
	for _, name := range names {
		syncOne(ctx, g, p, eng, name, opt, tally, out, errOut)
		if ctx.Err() != nil {
			break
		}
	}
	if !f.skipBuild {
		if err := closeErasures(ctx, p, w); err != nil {
			return &exitError{code: exitFailure, err: err}
		}
	}
	if tally.code != exitOK {
		return &exitError{code: tally.code, err: fmt.Errorf("%d of %s did not deliver everything", tally.failed, plural(len(names), "sync", "syncs"))}
	}
	if tally.erasuresFailed > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s could not erase yet: the requests stay pending (sluice erasures)", plural(tally.erasuresFailed, "sync", "syncs"))}
	}
	return nil
}

// syncOne runs one sync and reports it: a line on out, reasons and
// warnings on errOut.
func syncOne(ctx context.Context, g *globals, p *config.Project, eng *engine.Engine, name string, opt engine.SyncOptions, tally *syncTally, out, errOut io.Writer) {
	if vars := g.unset[destinationOf(p, name)]; len(vars) > 0 {
		tally.failed++
		fmt.Fprintf(out, "%-24s failed: destination %s needs %s\n", name, destinationOf(p, name), strings.Join(vars, ", "))
		fmt.Fprintf(errOut, "sync %s: environment variable %s not set (used by destination %s)\n", name, strings.Join(vars, ", "), destinationOf(p, name))
		tally.code = worse(tally.code, exitFailure)
		return
	}
	bar := newProgress(errOut, name)
	opt.Progress = bar.update
	res, err := eng.Sync(ctx, name, opt)
	bar.finish()
	if res.Erasure != nil {
		fmt.Fprintln(out, erasureLine(res.Erasure))
		if res.Erasure.Failed > 0 {
			tally.erasuresFailed++
			fmt.Fprintf(errOut, "sync %s: erasure: %s; the request stays pending and is retried next run\n", name, oneLine(res.Erasure.Err))
		}
	}
	for _, t := range res.Takeovers {
		fmt.Fprintf(errOut, "sync %s: warning: %s\n", name, takeoverLine(t, time.Now()))
	}
	fmt.Fprintln(out, syncLine(res))
	if err != nil {
		tally.failed++
		fmt.Fprintf(errOut, "sync %s: %s\n", name, oneLine(err))
		tally.code = worse(tally.code, exitCodeOf(err))
		return
	}
	for _, warn := range syncWarnings(&res.Plan) {
		fmt.Fprintf(errOut, "sync %s: warning: %s\n", name, warn)
	}
}

// destinationOf names a sync's destination.
func destinationOf(p *config.Project, sync string) string {
	for _, s := range p.Syncs {
		if s.Name == sync {
			return s.To
		}
	}
	return ""
}

// takeoverLine reports a lock taken over from a dead run.
func takeoverLine(t state.Takeover, now time.Time) string {
	return fmt.Sprintf("took over the lock of run %s (host %s, pid %d, last heartbeat %s ago), whose process died: logged as abandoned, having delivered %s (%s accepted, %s rejected)",
		t.Dead.RunID, t.Dead.Host, t.Dead.PID, roughly(now.Sub(t.Dead.HeartbeatAt)), plural(int(t.Run.Sent), "record", "records"), group(t.Run.Accepted), group(t.Run.Rejected))
}

func exitCodeOf(err error) int {
	var ge *engine.GuardError
	var re *engine.RejectedError
	switch {
	case engine.IsLocked(err):
		return exitLocked
	case errors.As(err, &ge):
		return exitRefused
	case errors.As(err, &re):
		return exitRejected
	}
	return exitFailure
}

// worse picks the exit code that wins when syncs end differently.
func worse(a, b int) int {
	rank := map[int]int{exitOK: 0, exitRejected: 1, exitLocked: 2, exitRefused: 3, exitFailure: 4}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// syncLine is the one-line summary of a sync run.
func syncLine(r *engine.Result) string {
	took := fmt.Sprintf("%.1fs", r.Seconds)
	switch r.Status {
	case "locked":
		return fmt.Sprintf("%-24s locked: already running", r.Name)
	case state.RunRefused:
		return fmt.Sprintf("%-24s refused: %s removals above max_removals %s (limit %s)", r.Name, group(r.Removes), r.Guard.Setting, group(r.Guard.Limit))
	}
	what := changes(&r.Plan)
	if r.Sent == 0 && r.Status == state.RunSucceeded {
		return fmt.Sprintf("%-24s up to date (%s at %s) in %s", r.Name, group(r.AtDestination), r.Destination, took)
	}
	line := fmt.Sprintf("%-24s %s: %s → %s: %s sent, %s accepted", r.Name, r.Status, what, r.Destination, group(r.Sent), group(r.Accepted))
	if r.Rejected > 0 {
		line += fmt.Sprintf(", %s rejected (%s pending)", group(r.Rejected), group(r.Pending))
	}
	return line + " in " + took
}

func changes(p *engine.Plan) string {
	if p.Entries != nil {
		return fmt.Sprintf("+%s entries ~%s updates -%s exits", group(*p.Entries), group(p.Updates), group(*p.Exits))
	}
	return fmt.Sprintf("+%s ~%s -%s", group(p.Adds), group(p.Updates), group(p.Removes))
}

// syncWarnings are the plan's data problems, one line each.
func syncWarnings(p *engine.Plan) []string {
	var out []string
	if n := p.Invalid.NullKeyRows; n > 0 {
		out = append(out, fmt.Sprintf("%s with a NULL or empty key %s: never sent", plural(int(n), "row", "rows"), p.Key))
	}
	if n := p.Invalid.DuplicateKeys; n > 0 {
		out = append(out, fmt.Sprintf("%s shared by %s: never sent until fixed", plural(int(n), "key "+p.Key+" value", "key "+p.Key+" values"), plural(int(p.Invalid.DuplicateRows), "row", "rows")))
	}
	if p.HashChanged {
		out = append(out, "the warehouse's hash function changed (an upgrade): every record is compared as changed and sent once more")
	}
	return out
}

// progressEvery is how often progress is printed as plain lines (not on a
// terminal); tests print every commit.
var progressEvery = 5 * time.Second

// progress shows a bar on a terminal, and a few plain lines otherwise.
type progress struct {
	name  string
	w     io.Writer
	bar   *progressbar.ProgressBar
	tty   bool
	last  time.Time
	total int64
}

func newProgress(w io.Writer, name string) *progress {
	p := &progress{name: name, w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) update(pr executor.Progress, total int64) {
	if total <= 0 {
		return
	}
	p.total = total
	if p.tty {
		if p.bar == nil {
			p.bar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.name),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		}
		_ = p.bar.Set64(pr.Done)
		return
	}
	if pr.Done == 0 {
		fmt.Fprintf(p.w, "%s: sending %s\n", p.name, plural(int(total), "change", "changes"))
		p.last = time.Now()
		return
	}
	if time.Since(p.last) >= progressEvery {
		fmt.Fprintf(p.w, "%s: %s of %s sent\n", p.name, group(pr.Done), group(total))
		p.last = time.Now()
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// buildQuietly builds the models, reporting only a summary line.
func buildQuietly(ctx context.Context, p *config.Project, w warehouse.Warehouse, out io.Writer) error {
	_, err := buildQuietlyFor(ctx, p, w, out, true)
	return err
}

// buildQuietlyFor builds; intake false (plan) reads no erasure requests
// table and writes no erasure state, but still refuses a build that could
// not keep erased people out. It returns the erasure cutoff of the build
// (see erasure.Cutoff).
func buildQuietlyFor(ctx context.Context, p *config.Project, w warehouse.Warehouse, out io.Writer, intake bool) (int64, error) {
	if _, err := models.Compile(p, w.Dialect()); err != nil {
		return 0, err
	}
	cutoff, err := prepareErasures(ctx, p, w, out, intake)
	if err != nil {
		return 0, err
	}
	o, err := incremental.Build(ctx, w, p, incremental.Options{})
	if err != nil {
		return 0, err
	}
	res := o.Result
	if o.Mode == incremental.ModeUnchanged {
		fmt.Fprintf(out, "Nothing changed since the last build: checked in %s.\n", res.Duration.Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, "Built the models in %s.\n", res.Duration.Round(time.Millisecond))
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(out, "warning: %s\n", warn)
	}
	return cutoff, nil
}

// duckdbLock matches DuckDB's message for a file another process holds.
var duckdbLock = regexp.MustCompile(`Could not set lock on file "([^"]*)": Conflicting lock is held in (.*?) \(PID (\d+)\)`)

// openEngine opens the warehouse and a sync engine over it, and resolves
// the sync names given on the command line (all syncs when none).
func openEngine(ctx context.Context, p *config.Project, args []string) (warehouse.Warehouse, *engine.Engine, []string, error) {
	w, err := openSyncWarehouse(ctx, p)
	if err != nil {
		return nil, nil, nil, err
	}
	eng, err := engine.New(p, w)
	if err != nil {
		w.Close()
		return nil, nil, nil, &exitError{code: exitFailure, err: err}
	}
	names, err := eng.Names(args)
	if err != nil {
		w.Close()
		return nil, nil, nil, usageErr("%v", err)
	}
	return w, eng, names, nil
}

// openSyncWarehouse opens the warehouse, turning DuckDB's file lock (a
// second process on an embedded database file) into the lock message of a
// running sync.
func openSyncWarehouse(ctx context.Context, p *config.Project) (warehouse.Warehouse, error) {
	w, err := openWarehouse(ctx, p)
	if err == nil {
		return w, nil
	}
	if m := duckdbLock.FindStringSubmatch(err.Error()); m != nil {
		return nil, &exitError{code: exitLocked, err: fmt.Errorf("the warehouse file %s is open in another process (PID %s, %s), probably a running sync; DuckDB files take one process at a time and a sync never overlaps itself: wait for it to finish", m[1], m[3], m[2])}
	}
	if strings.Contains(err.Error(), "Could not set lock on file") {
		return nil, &exitError{code: exitLocked, err: fmt.Errorf("the warehouse file is open in another process, probably a running sync; a sync never overlaps itself: wait for it to finish (%v)", err)}
	}
	return nil, &exitError{code: exitFailure, err: err}
}

// loadProjectForPlan loads the project like loadProject, except that
// environment variables that only destination options use may be unset:
// plan never connects to a destination, so it needs no credentials.
func loadProjectForPlan(g *globals, stderr io.Writer) (*config.Project, []string, error) {
	p, err := config.Load(g.project, config.Options{Redactor: g.redact})
	var probs config.Problems
	if err == nil || !errors.As(err, &probs) {
		if err != nil {
			return nil, nil, &exitError{code: exitFailure, err: err}
		}
		return p, nil, nil
	}
	var missing []config.Problem
	for _, pr := range probs {
		if strings.HasPrefix(pr.Message, "environment variable ") && strings.Contains(pr.Message, " is not set ") {
			missing = append(missing, pr)
		}
	}
	if len(missing) > 0 {
		// The other problems, if any, must be consequences of the unset
		// variables: the lenient load below has none.
		lenient, lerr := config.Load(g.project, config.Options{Env: func(k string) (string, bool) {
			if v, ok := os.LookupEnv(k); ok {
				return v, true
			}
			return "", true
		}, Redactor: g.redact})
		if lerr == nil && allInDestinations(lenient, missing) {
			var vars []string
			for _, m := range missing {
				vars = append(vars, strings.Fields(m.Message)[2])
			}
			return lenient, vars, nil
		}
	}
	printProblems(stderr, probs)
	return nil, nil, &exitError{code: exitFailure, err: fmt.Errorf("%s in the project", plural(len(probs), "problem", "problems"))}
}

// allInDestinations reports whether every problem sits in a destination's
// options.
func allInDestinations(p *config.Project, probs []config.Problem) bool {
	at := map[config.Pos]bool{}
	var walk func(file string, n *yaml.Node)
	walk = func(file string, n *yaml.Node) {
		if n == nil {
			return
		}
		at[config.Pos{File: file, Line: n.Line, Col: n.Column}] = true
		for _, c := range n.Content {
			walk(file, c)
		}
	}
	for _, d := range p.Destinations {
		for _, v := range d.Options {
			walk(v.Pos.File, v.Node)
		}
	}
	// Alerts and the daemon's token are only read by sluice run.
	for _, a := range p.Alerts {
		for _, pos := range a.At {
			at[pos] = true
		}
	}
	for _, pos := range p.Daemon.At {
		at[pos] = true
	}
	for _, pr := range probs {
		// The erasure secret is needed once something was erased: the
		// build checks.
		if e := p.Erasure; e != nil && pr.Pos.File == e.At.Of("secret").File && pr.Pos.Line == e.At.Of("secret").Line {
			continue
		}
		if !at[pr.Pos] {
			return false
		}
	}
	return true
}
