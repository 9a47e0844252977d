package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/planner"
	"github.com/sluicehq/sluice/sync/spec"
)

func init() { extraCommands = append(extraCommands, newPlanCmd) }

func newPlanCmd(g *globals) *cobra.Command {
	var asJSON, skipBuild bool
	var samples int
	c := &cobra.Command{
		Use:   "plan [SYNC...]",
		Short: "Show what each sync would add, update and remove, without sending or writing anything",
		Long: `plan builds the models, then diffs each sync (all of them without arguments)
in the warehouse against what its destination received last time, and prints
the counts of records to add, update and remove (segment syncs: entries and
exits) with a few sample records as they would be sent, the rows that can
never be sent (NULL or duplicated keys, no consent), and whether the removal
guard would stop the run.

It sends nothing to destinations and writes no sync state, so it needs no
destination credentials: environment variables used only by destination
options may be unset. --json prints one JSON document:
{"syncs": [{"name", "destination", "mode", "adds", "updates", "removes", ...}]}.`,
		Example: `  sluice plan
  sluice plan vip_to_klaviyo --json
  sluice plan --project examples/quickstart --samples 5`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, unset, err := loadProjectForPlan(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			w, eng, names, err := openEngine(ctx, p, args)
			if err != nil {
				return err
			}
			defer w.Close()
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			if !skipBuild {
				logTo := errOut
				if asJSON {
					logTo = io.Discard
				}
				if _, err := buildQuietlyFor(ctx, p, w, logTo, false); err != nil {
					return &exitError{code: exitFailure, err: err}
				}
			}
			type entry struct {
				*engine.Plan
				Name  string `json:"name"`
				Error string `json:"error,omitempty"`
			}
			doc := struct {
				Syncs []entry `json:"syncs"`
			}{Syncs: []entry{}}
			failed := 0
			for _, name := range names {
				pl, err := eng.Plan(ctx, name, engine.PlanOptions{Samples: samples})
				e := entry{Plan: pl, Name: name}
				if err != nil {
					failed++
					e.Plan = &engine.Plan{}
					e.Error = oneLine(err)
					if !asJSON {
						fmt.Fprintf(errOut, "sync %s: %s\n", name, e.Error)
					}
				} else if !asJSON {
					printPlan(out, pl)
				}
				doc.Syncs = append(doc.Syncs, e)
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				if err := enc.Encode(doc); err != nil {
					return err
				}
			} else {
				printPlanTotal(out, doc.Syncs, func(e entry) *engine.Plan { return e.Plan }, unset)
			}
			if failed > 0 {
				return &exitError{code: exitFailure, err: fmt.Errorf("could not plan %d of %s", failed, plural(len(names), "sync", "syncs"))}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON document instead of text")
	c.Flags().IntVar(&samples, "samples", 3, "sample records per kind of change")
	c.Flags().BoolVar(&skipBuild, "skip-build", false, "do not build the models first; diff the tables of the last build")
	return c
}

func printPlan(out io.Writer, p *engine.Plan) {
	fmt.Fprintf(out, "%s  %s → %s (%s), mode %s, key %s\n", p.Name, p.From, p.Destination, p.DestinationType, p.Mode, p.Key)
	if p.Entries != nil {
		fmt.Fprintf(out, "  + %s entries   ~ %s updates   - %s exits", group(*p.Entries), group(p.Updates), group(*p.Exits))
	} else {
		fmt.Fprintf(out, "  + %s to add   ~ %s to update   - %s to remove", group(p.Adds), group(p.Updates), group(p.Removes))
	}
	fmt.Fprintf(out, "   (%s unchanged, %s at the destination)\n", group(p.Unchanged), group(p.AtDestination))
	if p.ConsentWithdrawn > 0 {
		fmt.Fprintf(out, "  - %s of the removals withdrew consent\n", group(p.ConsentWithdrawn))
	}
	if p.NotConsented > 0 {
		fmt.Fprintf(out, "  · %s without consent: not sent\n", plural(int(p.NotConsented), "record", "records"))
	}
	if p.KeptByMode > 0 {
		fmt.Fprintf(out, "  · %s left the model and stay at the destination (mode %s removes nothing; mirror would)\n", plural(int(p.KeptByMode), "record", "records"), p.Mode)
	}
	if p.UpdatesSkipped > 0 {
		fmt.Fprintf(out, "  · %s changed but are not sent (mode insert)\n", plural(int(p.UpdatesSkipped), "record", "records"))
	}
	for _, w := range syncWarnings(p) {
		fmt.Fprintf(out, "  ! %s\n", w)
	}
	if p.Guard.Blocked {
		fmt.Fprintf(out, "  ! removal guard: %s removals exceed max_removals %s (%s of %s): sluice sync will refuse this without --force\n",
			group(p.Removes), p.Guard.Setting, group(p.Guard.Limit), group(p.AtDestination))
	}
	printSamples(out, p.Samples)
	fmt.Fprintln(out)
}

func printSamples(out io.Writer, samples map[spec.Class][]planner.Sample) {
	if len(samples) == 0 {
		return
	}
	order := []spec.Class{spec.Add, spec.Update, spec.Consent, spec.Gone, spec.NullKey, spec.Duplicate, spec.NoConsent}
	reason := map[spec.Class]string{spec.Update: " (changed)", spec.Consent: " (consent)", spec.Gone: " (left)"}
	label := map[spec.Class]string{spec.Gone: "kept (left)", spec.NullKey: "null key", spec.Duplicate: "duplicate", spec.NoConsent: "no consent", spec.Update: "not sent (changed)"}
	fmt.Fprintln(out, "  samples:")
	for _, c := range order {
		ss := samples[c]
		sort.SliceStable(ss, func(i, j int) bool { return keyOf(ss[i]) < keyOf(ss[j]) })
		for _, s := range ss {
			l := label[c]
			if s.Op != "" {
				l = s.Op + reason[c]
			}
			b, _ := json.Marshal(s.Fields)
			fmt.Fprintf(out, "    %-18s %-28s %s\n", l, keyOf(s), truncate(string(b), 120))
		}
	}
}

func keyOf(s planner.Sample) string {
	if s.Key == nil {
		return "(null)"
	}
	return *s.Key
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

func printPlanTotal[E any](out io.Writer, entries []E, plan func(E) *engine.Plan, unset []string) {
	var adds, updates, removes int64
	for _, e := range entries {
		p := plan(e)
		adds, updates, removes = adds+p.Adds, updates+p.Updates, removes+p.Removes
	}
	if len(entries) == 0 {
		fmt.Fprintln(out, "The project has no syncs: add some to a project file (see docs/syncs.md).")
		return
	}
	fmt.Fprintf(out, "Plan: %s to add, %s to update, %s to remove across %s. Nothing was sent or written.\n",
		group(adds), group(updates), group(removes), plural(len(entries), "sync", "syncs"))
	if len(unset) > 0 {
		fmt.Fprintf(out, "(Unset destination variables, not needed to plan: %s.)\n", strings.Join(unset, ", "))
	}
}
