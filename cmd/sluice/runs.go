package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/sync/state"
)

func init() { extraCommands = append(extraCommands, newRunsCmd) }

func newRunsCmd(g *globals) *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:   "runs [SYNC]",
		Short: "List recent sync runs: start, duration, counts, outcome, error",
		Long: `runs lists the latest runs of every sync (or of one), newest first, from the
run log in the warehouse (sluice_state.sync_runs): whoever ran them, sluice
sync by hand or the sluice run daemon. 'runs show RUN_ID' details one run,
with samples of the records the destination rejected and their errors (from
the change log, kept for the sync's change_log_retention). A run whose
process died (killed, out of memory, a lost machine) is logged as abandoned
by the next run of its sync, with what it delivered before it died and its
last sign of life as end time.`,
		Example: `  sluice runs
  sluice runs vip_to_klaviyo --limit 50
  sluice runs show 20250301T120000.000000Z-a1b2c3`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("runs takes at most one sync name (see sluice runs --help)")
			}
			eng, done, err := openStateEngine(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			sync := ""
			if len(args) == 1 {
				if _, err := eng.Names(args); err != nil {
					return usageErr("%v", err)
				}
				sync = args[0]
			}
			runs, err := eng.Store().History(cmd.Context(), sync, max(limit, 1), true)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			printRuns(cmd.OutOrStdout(), runs)
			return nil
		},
	}
	c.Flags().IntVar(&limit, "limit", 20, "runs to list")
	c.AddCommand(newRunsShowCmd(g))
	return c
}

func printRuns(out io.Writer, runs []state.Run) {
	if len(runs) == 0 {
		fmt.Fprintln(out, "No runs yet: run sluice sync, or sluice run for the schedules.")
		return
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED (UTC)\tSYNC\tRUN\tDURATION\tOUTCOME\tADDS\tUPDATES\tREMOVES\tSENT\tACCEPTED\tREJECTED\tERROR")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.StartedAt.UTC().Format("2006-01-02 15:04:05"), r.Sync, r.RunID,
			runDuration(r), r.Status, group(r.Adds), group(r.Updates), group(r.Removes), group(r.Sent), group(r.Accepted), group(r.Rejected),
			truncate(oneLineText(r.Error), 60))
	}
	tw.Flush()
}

func runDuration(r state.Run) string {
	if r.FinishedAt.IsZero() {
		if r.Status == state.RunRunning {
			return "running"
		}
		return "-"
	}
	return fmt.Sprintf("%.1fs", r.FinishedAt.Sub(r.StartedAt).Seconds())
}

func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }

func newRunsShowCmd(g *globals) *cobra.Command {
	var samples int
	c := &cobra.Command{
		Use:   "show RUN_ID",
		Short: "Show one run: outcome, counts by operation, error, rejected records",
		Example: `  sluice runs show 20250301T120000.000000Z-a1b2c3
  sluice runs show 20250301T120000.000000Z-a1b2c3 --samples 50`,
		Args: exactArgs(1, "one run id (see sluice runs)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, done, err := openStateEngine(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			ctx, st := cmd.Context(), eng.Store()
			r, ok, err := st.RunByID(ctx, args[0])
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			if !ok {
				return &exitError{code: exitFailure, err: fmt.Errorf("no run %s in the run log (sluice runs lists them)", args[0])}
			}
			outcomes, err := st.RunOutcomes(ctx, r.Sync, r.RunID)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			rejected, total, err := st.RunRejections(ctx, r.Sync, r.RunID, max(samples, 0))
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			printRun(cmd.OutOrStdout(), r, outcomes, rejected, total)
			return nil
		},
	}
	c.Flags().IntVar(&samples, "samples", 10, "rejected records to show")
	return c
}

// delivered is what a run delivered, every figure from one source, so that
// `runs show` never contradicts itself (a "sent 0" beside accepted
// outcomes): the change log when it holds all the run's outcomes (a run
// still going, or one whose process died, has its outcomes there first),
// else the run log (the change log was pruned after change_log_retention,
// possibly in part), without the per-operation counts it no longer has.
type delivered struct {
	sent, accepted, rejected int64
	byOp                     []state.OpCount
}

func deliveredBy(r state.Run, outcomes []state.OpCount) delivered {
	sent, accepted, rejected := state.Totals(outcomes)
	if len(outcomes) == 0 || sent < r.Sent {
		return delivered{sent: r.Sent, accepted: r.Accepted, rejected: r.Rejected}
	}
	return delivered{sent: sent, accepted: accepted, rejected: rejected, byOp: outcomes}
}

func printRun(out io.Writer, r state.Run, outcomes []state.OpCount, rejected []state.RejectedRecord, total int64) {
	d := deliveredBy(r, outcomes)
	fmt.Fprintf(out, "Run %s of sync %s → %s (mode %s)\n", r.RunID, r.Sync, r.Destination, r.Mode)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  outcome\t%s\n", r.Status)
	fin := "-"
	if !r.FinishedAt.IsZero() {
		fin = r.FinishedAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "  started\t%s\n", r.StartedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "  finished\t%s (%s)\n", fin, runDuration(r))
	fmt.Fprintf(tw, "  planned\t+%s ~%s -%s\n", group(r.Adds), group(r.Updates), group(r.Removes))
	fmt.Fprintf(tw, "  sent\t%s: %s accepted, %s rejected\n", group(d.sent), group(d.accepted), group(d.rejected))
	if r.Invalid > 0 {
		fmt.Fprintf(tw, "  invalid rows\t%s (NULL or shared keys: never sent)\n", group(r.Invalid))
	}
	if len(d.byOp) > 0 {
		var parts []string
		for _, o := range d.byOp {
			parts = append(parts, fmt.Sprintf("%s %s %s", o.Op, o.Status, group(o.N)))
		}
		fmt.Fprintf(tw, "  by operation\t%s\n", strings.Join(parts, ", "))
	}
	if r.Holder != "" {
		fmt.Fprintf(tw, "  ran on\t%s\n", r.Holder)
	}
	if r.Error != "" {
		fmt.Fprintf(tw, "  error\t%s\n", oneLineText(r.Error))
	}
	tw.Flush()
	if total == 0 {
		if d.rejected > 0 {
			fmt.Fprintf(out, "\nThe change log no longer holds this run's rejected records (older than change_log_retention).\n")
		}
		return
	}
	fmt.Fprintf(out, "\nRejected records (%s of %s):\n", group(int64(len(rejected))), group(total))
	tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tOP\tCHANGE\tERROR")
	for _, rj := range rejected {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", rj.Key, rj.Op, rj.Class, truncate(oneLineText(rj.Error), 100))
	}
	tw.Flush()
}
