package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/identity"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
)

func init() { extraCommands = append(extraCommands, newForgetCmd, newErasuresCmd) }

type forgetOptions struct {
	reason, requestedAt string
	dryRun, now         bool
}

func newForgetCmd(g *globals) *cobra.Command {
	var o forgetOptions
	c := &cobra.Command{
		Use:   "forget TYPE:VALUE",
		Short: "Request the erasure of the person holding an identifier (GDPR/RGPD article 17)",
		Long: `forget normalises VALUE the way build does, finds the profile holding it in the
identity map of the last build, and records an erasure request for the whole
person: every identifier of the profile goes on the suppression list (kept only
as keyed hashes), so that no later build links them again, and every sync whose
destination received the person gets their keys to erase.

The next sluice sync (or sluice run) erases them at each destination, then
purges them from sluice's own tables; --now does it at once (it builds first).
sluice never deletes your source rows: forget lists them, for you to delete.
--dry-run shows what would be erased and where, and writes nothing.

An identifier nobody holds is recorded all the same (status no_match) and
suppressed. Needs the project's erasure block (see docs/privacy.md).`,
		Example: `  sluice forget email:jane.doe@example.com --dry-run
  sluice forget email:jane.doe@example.com --reason "DSR-1234" --requested-at 2026-12-01
  sluice forget "phone:06 12 34 56 78" --now`,
		Args: exactArgs(1, "one TYPE:VALUE argument, such as email:jane@example.com"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runForget(cmd, g, args[0], o)
		},
	}
	c.Flags().StringVar(&o.reason, "reason", "", "why (a ticket number, the DSR reference); kept in the audit, so no personal data here")
	c.Flags().StringVar(&o.requestedAt, "requested-at", "", "when the person asked, as 2026-12-01 or RFC 3339 (default: now); the deadline counts from it")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "show what would be erased and where; write nothing")
	c.Flags().BoolVar(&o.now, "now", false, "build, then erase at every destination right away instead of at the next sync")
	return c
}

func runForget(cmd *cobra.Command, g *globals, arg string, o forgetOptions) error {
	typ, value, err := identity.ParseIdentifier(arg)
	if err != nil {
		return usageErr("%v", err)
	}
	var at time.Time
	if o.requestedAt != "" {
		if at, err = parseWhen(o.requestedAt); err != nil {
			return usageErr("--requested-at: %v", err)
		}
	}
	if o.dryRun && o.now {
		return usageErr("--dry-run and --now exclude each other")
	}
	p, err := loadProject(g, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if err := needErasure(p, g); err != nil {
		return err
	}
	ctx := cmd.Context()
	w, eng, _, err := openEngine(ctx, p, nil)
	if err != nil {
		return err
	}
	defer w.Close()
	svc := eng.Erasure()
	out := cmd.OutOrStdout()
	if o.dryRun {
		t, err := svc.Resolve(ctx, typ, value)
		if err != nil {
			return &exitError{code: exitFailure, err: err}
		}
		printTarget(out, t, func(sync string) string { return erasability(ctx, p, g, sync) })
		fmt.Fprintln(out, "Nothing was written (--dry-run).")
		return nil
	}
	q, err := svc.Queue(ctx, erasure.Request{IDType: typ, Value: value, Reason: o.reason, RequestedAt: at, Origin: erasure.FromForget})
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	printQueued(out, q)
	if !o.now || !q.Target.Found {
		return nil
	}
	return eraseNow(ctx, p, g, w, eng, out, cmd.ErrOrStderr())
}

// needErasure refuses to run without an erasure block or its secret.
func needErasure(p *config.Project, g *globals) error {
	if p.Erasure == nil {
		return &exitError{code: exitFailure, err: erasure.ErrNotConfigured}
	}
	if vars := g.unset[erasureSecret]; len(vars) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("erasure.secret needs %s, which is not set: set it to the project's erasure secret", strings.Join(vars, ", "))}
	}
	return nil
}

// parseWhen reads a date or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2026-12-01) or an RFC 3339 time (2026-12-01T10:00:00Z)", s)
}

// erasability tells whether a sync's destination can erase.
func erasability(ctx context.Context, p *config.Project, g *globals, sync string) string {
	dest := destinationOf(p, sync)
	if vars := g.unset[dest]; len(vars) > 0 {
		return "cannot tell: destination " + dest + " needs " + strings.Join(vars, ", ")
	}
	d, ok := destinationConfig(p, dest)
	if !ok {
		return "unknown destination"
	}
	opened, err := destination.Open(ctx, d, p.Dir, destination.SyncInfo{Name: sync, Key: syncKey(p, sync)}, nil)
	if err != nil {
		return "cannot tell: " + err.Error()
	}
	defer opened.Close()
	if _, ok := destination.CanErase(opened); ok {
		return "erased through its API"
	}
	return "manual action needed: " + dest + " cannot erase people"
}

func destinationConfig(p *config.Project, name string) (config.Destination, bool) {
	for _, d := range p.Destinations {
		if d.Name == name {
			return d, true
		}
	}
	return config.Destination{}, false
}

func syncKey(p *config.Project, sync string) string {
	for _, s := range p.Syncs {
		if s.Name == sync {
			return s.Key
		}
	}
	return ""
}

// printTarget shows what a request erases: the operator typed the
// identifier, so the values are shown (on standard output, never logged).
func printTarget(out io.Writer, t *erasure.Target, can func(sync string) string) {
	if !t.Found {
		fmt.Fprintf(out, "%s: %s. Nothing to erase; a request would be recorded (no_match) and the identifier suppressed.\n", t.Named, t.Note)
		return
	}
	fmt.Fprintf(out, "Would erase %s%s: profile %s with %s:\n", t.Named, normalisedFrom(t), t.ProfileID, plural(len(t.Identifiers), "identifier", "identifiers"))
	for _, id := range t.Identifiers {
		fmt.Fprintf(out, "  %s\n", id)
	}
	if len(t.Syncs) == 0 {
		fmt.Fprintln(out, "No sync sent them anything.")
	} else {
		fmt.Fprintln(out, "Destinations (what each sync sent them):")
		for _, s := range t.Syncs {
			fmt.Fprintf(out, "  %s -> %s (%s): %s [%s]\n", s.Sync, s.Destination, s.Type, strings.Join(s.Keys, ", "), can(s.Sync))
		}
	}
	printRows(out, t)
	fmt.Fprintln(out, "sluice's own tables: identity map, profiles and segments at the next build; sync state once each destination confirmed.")
}

func normalisedFrom(t *erasure.Target) string {
	if t.Input != t.Named.Value {
		return fmt.Sprintf(" (normalised from %q)", t.Input)
	}
	return ""
}

// printRows lists the source rows of the person, the data team's to
// delete.
func printRows(out io.Writer, t *erasure.Target) {
	if len(t.Rows) == 0 {
		return
	}
	fmt.Fprintln(out, "Source rows (yours to delete: sluice never deletes source rows):")
	bySource := map[string][]string{}
	for _, r := range t.Rows {
		bySource[r.Source] = append(bySource[r.Source], strings.ReplaceAll(r.Key, "\x1f", "|"))
	}
	for _, src := range slices.Sorted(maps.Keys(bySource)) {
		keys := bySource[src]
		slices.Sort(keys)
		fmt.Fprintf(out, "  %s: %s\n", src, strings.Join(keys, ", "))
	}
}

func printQueued(out io.Writer, q *erasure.Queued) {
	t := q.Target
	if !t.Found {
		fmt.Fprintf(out, "%s: %s. Recorded as request %s (no_match): nothing sent; the identifier is suppressed, so no build will link it.\n", t.Named, t.Note, q.ID)
		return
	}
	fmt.Fprintf(out, "Erasure request %s recorded: profile %s, %s suppressed%s.\n", q.ID, t.ProfileID, plural(len(t.Identifiers), "identifier", "identifiers"), normalisedFrom(t))
	if len(t.Syncs) == 0 {
		fmt.Fprintln(out, "No sync sent them anything: the next build drops them from the identity map, profiles and segments.")
	} else {
		var names []string
		for _, s := range t.Syncs {
			names = append(names, s.Sync+" ("+s.Destination+")")
		}
		fmt.Fprintf(out, "To erase at: %s. The next sluice sync does it (or sluice forget --now); sluice erasures shows the progress.\n", strings.Join(names, ", "))
	}
	printRows(out, t)
}

// eraseNow builds, then carries out every pending erasure at once.
func eraseNow(ctx context.Context, p *config.Project, g *globals, w warehouse.Warehouse, eng *engine.Engine, out, errOut io.Writer) error {
	if err := buildQuietly(ctx, p, w, errOut); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	failed := 0
	for _, s := range p.Syncs {
		if vars := g.unset[s.To]; len(vars) > 0 {
			fmt.Fprintf(errOut, "sync %s: destination %s needs %s: erasure left for later\n", s.Name, s.To, strings.Join(vars, ", "))
			continue
		}
		res, err := eng.Erase(ctx, s.Name)
		if err == nil && res.Err != nil {
			err = res.Err
		}
		if res != nil && len(res.Requests) > 0 {
			fmt.Fprintln(out, erasureLine(res))
		}
		if err != nil {
			failed++
			fmt.Fprintf(errOut, "sync %s: erasure: %s\n", s.Name, oneLine(err))
		}
	}
	if _, err := eng.Erasure().Close(ctx); err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if failed > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s could not erase yet: retried at the next sync", plural(failed, "sync", "syncs"))}
	}
	return nil
}

// erasureLine is one line per sync on what its erasures did.
func erasureLine(r *erasure.Result) string {
	var parts []string
	add := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Done, "erased")
	add(r.NotHeld, "not held")
	add(r.Manual, "manual action needed")
	add(r.Failed, "failed (retried next run)")
	return fmt.Sprintf("%-24s erasure: %s", r.Sync, strings.Join(parts, ", "))
}

// prepareErasures runs before every build of a project with an erasure
// block: it checks the secret and queues new rows of the requests table.
func prepareErasures(ctx context.Context, p *config.Project, w warehouse.Warehouse, errOut io.Writer, intake bool) (cutoff int64, err error) {
	if p.Erasure == nil {
		return 0, nil
	}
	eng, err := engine.New(p, w)
	if err != nil {
		return 0, err
	}
	if !intake {
		if err := eng.Erasure().CheckSecret(ctx); err != nil {
			return 0, fmt.Errorf("%w: set the variable erasure.secret names", err)
		}
		return 0, nil
	}
	prep, err := eng.Erasure().Prepare(ctx)
	if errors.Is(err, erasure.ErrSecretUnset) {
		return 0, fmt.Errorf("%w: set the variable erasure.secret names", err)
	}
	if err != nil {
		return 0, err
	}
	if prep.Queued > 0 {
		fmt.Fprintf(errOut, "Queued %s from the erasure requests table.\n", plural(prep.Queued, "erasure request", "erasure requests"))
	}
	for _, pr := range prep.Problems {
		fmt.Fprintf(errOut, "warning: %v\n", pr)
	}
	return prep.Cutoff, nil
}

// closeErasures completes the requests every destination is through
// with, after a build dropped their people.
func closeErasures(ctx context.Context, p *config.Project, w warehouse.Warehouse) error {
	if p.Erasure == nil || p.Erasure.Secret == "" {
		return nil
	}
	eng, err := engine.New(p, w)
	if err != nil {
		return err
	}
	_, err = eng.Erasure().Close(ctx)
	return err
}

func newErasuresCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "erasures",
		Short: "List erasure requests and their state at each destination (the audit)",
		Long: `erasures lists every erasure request, newest first: when it was received and
requested, its status (pending, waiting_for_the_build, done,
manual_action_needed, no_match), and per sync its destination's outcome,
attempts, first attempt and completion times and the vendor's reference.
Identifiers appear only as keyed hashes. A request still open past the
deadline (erasure.deadline, default 25d) is marked overdue; exit code 1 when
any is.`,
		Example: `  sluice erasures
  sluice erasures --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProject(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if p.Erasure == nil {
				return &exitError{code: exitFailure, err: erasure.ErrNotConfigured}
			}
			ctx := cmd.Context()
			w, eng, _, err := openEngine(ctx, p, nil)
			if err != nil {
				return err
			}
			defer w.Close()
			list, err := eng.Erasure().List(ctx)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if list == nil {
					list = []erasure.Audit{}
				}
				if err := enc.Encode(map[string]any{"requests": list}); err != nil {
					return err
				}
			} else {
				printAudit(out, list)
			}
			if n := erasure.Overdue(list); n > 0 {
				return &exitError{code: exitFailure, err: fmt.Errorf("%s past the deadline", plural(n, "erasure request is", "erasure requests are"))}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the requests as JSON")
	return c
}

func printAudit(out io.Writer, list []erasure.Audit) {
	if len(list) == 0 {
		fmt.Fprintln(out, "No erasure requests.")
		return
	}
	for _, a := range list {
		overdue := ""
		if a.Overdue {
			overdue = " OVERDUE (deadline " + a.Deadline.UTC().Format("2006-01-02") + ")"
		}
		fmt.Fprintf(out, "%s  %s  %s:%s…  %s%s\n", a.ID, a.ReceivedAt.UTC().Format("2006-01-02 15:04"), a.IDType, a.IDDigest[:12], a.Status, overdue)
		for _, s := range a.Syncs {
			line := fmt.Sprintf("    %-24s %-12s %-22s %s", s.Sync, s.Destination, s.Outcome, plural(s.Attempts, "attempt", "attempts"))
			if s.Ref != "" {
				line += "  ref " + s.Ref
			}
			if s.Error != "" {
				line += "  error: " + s.Error
			}
			if s.Outcome == erasure.Manual {
				line += "  -> manual action needed at " + s.Destination
			}
			fmt.Fprintln(out, line)
		}
		if len(a.SourceRows) > 0 {
			var parts []string
			for _, src := range slices.Sorted(maps.Keys(a.SourceRows)) {
				parts = append(parts, fmt.Sprintf("%s %d", src, a.SourceRows[src]))
			}
			fmt.Fprintf(out, "    source rows to delete (yours): %s\n", strings.Join(parts, ", "))
		}
	}
}
