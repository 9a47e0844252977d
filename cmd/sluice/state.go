package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/state"
)

func init() { extraCommands = append(extraCommands, newStateCmd) }

func newStateCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "state",
		Short: "Inspect and reset sync state (snapshots, run log, rejections, locks)",
		Long: `Sync state lives in the warehouse, in the project's state_schema (default
sluice_state): a snapshot per sync of what its destination holds, the run
log (sync_runs), the per-record change log (sync_changes), pending
rejections (sync_rejections) and locks (sync_locks).`,
		Example: `  sluice state show
  sluice state show vip_to_klaviyo
  sluice state reset vip_to_klaviyo`,
		Args: exactArgs(0, "a subcommand (see sluice state --help)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.AddCommand(newStateShowCmd(g), newStateResetCmd(g), newStateUnlockCmd(g))
	return c
}

// openStateEngine loads the project and opens its sync engine.
func openStateEngine(cmd *cobra.Command, g *globals) (*engine.Engine, func(), error) {
	p, err := loadProject(g, cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, err
	}
	w, eng, _, err := openEngine(cmd.Context(), p, nil)
	if err != nil {
		return nil, nil, err
	}
	return eng, func() { w.Close() }, nil
}

func newStateResetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reset SYNC",
		Short: "Forget a sync's snapshot so that its next run sends every record again",
		Long: `reset forgets what the sync's destination received (its snapshot), its
pending rejections and unfolded commits; the run log keeps a "reset" entry.
The next sync sends every record of the model as new: a deliberate full
resync. A mirror sync then removes nothing it sent before the reset, since
it no longer knows those records. reset waits for no one: it fails if the
sync is running.`,
		Example: `  sluice state reset vip_to_klaviyo`,
		Args:    exactArgs(1, "one sync name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, done, err := openStateEngine(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			ctx := cmd.Context()
			if _, err := eng.Names(args); err != nil {
				return usageErr("%v", err)
			}
			n, err := eng.Store().SnapshotSize(ctx, args[0])
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			if err := eng.Reset(ctx, args[0]); err != nil {
				code := exitFailure
				if engine.IsLocked(err) {
					code = exitLocked
				}
				return &exitError{code: code, err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Reset %s: forgot %s at the destination. The next sync sends every record again.\n",
				args[0], plural(int(n), "record", "records"))
			return nil
		},
	}
}

func newStateUnlockCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unlock SYNC",
		Short: "Release a sync's lock left by a process that died",
		Long: `sync takes over the lock of a dead run by itself (a process of this host that
is gone, or a heartbeat older than 5 minutes from another host). unlock
releases it at once, and logs its run as abandoned with what it delivered; use
it only when you know no run is in progress.`,
		Example: `  sluice state unlock vip_to_klaviyo`,
		Args:    exactArgs(1, "one sync name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			eng, done, err := openStateEngine(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			if _, err := eng.Names(args); err != nil {
				return usageErr("%v", err)
			}
			h, ok, err := eng.Store().ForceUnlock(cmd.Context(), args[0])
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			if !ok {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is not locked.\n", args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Released the lock of %s held by %s.\n", args[0], h)
			return nil
		},
	}
}

func newStateShowCmd(g *globals) *cobra.Command {
	var runs int
	c := &cobra.Command{
		Use:   "show [SYNC]",
		Short: "Show each sync's last run, records at the destination, pending rejections and lock",
		Example: `  sluice state show
  sluice state show vip_to_klaviyo --runs 20`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("state show takes at most one sync name")
			}
			eng, done, err := openStateEngine(cmd, g)
			if err != nil {
				return err
			}
			defer done()
			names, err := eng.Names(args)
			if err != nil {
				return usageErr("%v", err)
			}
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			st := eng.Store()
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SYNC\tAT DESTINATION\tPENDING REJECTIONS\tLAST RUN\tSTATUS\tLOCK")
			for _, name := range names {
				n, err := st.SnapshotSize(ctx, name)
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				_, pending, err := st.Rejections(ctx, name, 0)
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				last, err := st.LastRuns(ctx, name, 1)
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				lastAt, status := "never", "-"
				if len(last) > 0 {
					lastAt, status = last[0].StartedAt.UTC().Format(time.RFC3339), last[0].Status
				}
				lock := "-"
				if h, ok, err := st.LockHolder(ctx, name); err == nil && ok {
					dead := eng.Dead(h)
					lock = lockState(h, dead, time.Now())
					if dead && len(last) > 0 && last[0].RunID == h.RunID && status == state.RunRunning {
						status = "dead" // logged as abandoned when the next run takes over
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, group(n), group(pending), lastAt, status, lock)
			}
			tw.Flush()
			if len(args) == 1 {
				return showSync(cmd.Context(), out, st, args[0], runs)
			}
			return nil
		},
	}
	c.Flags().IntVar(&runs, "runs", 10, "runs to list with a sync name")
	return c
}

// lockState describes a lock's holder: a dead one (its process is gone,
// or its heartbeat is older than the lease) is not running, whatever the
// lock says, and the next run will take the lock over.
func lockState(h state.Holder, dead bool, now time.Time) string {
	since := roughly(now.Sub(h.HeartbeatAt))
	if dead {
		return fmt.Sprintf("dead: last heartbeat %s ago, host %s pid %d run %s (the next run takes the lock over)", since, h.Host, h.PID, h.RunID)
	}
	return fmt.Sprintf("running: %s, last heartbeat %s ago", h, since)
}

// roughly is a duration for people: 42s, 3m, 2h5m, 3d.
func roughly(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) - 60*h; m > 0 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func showSync(ctx context.Context, out io.Writer, st *state.Store, name string, n int) error {
	runs, err := st.LastRuns(ctx, name, max(n, 1))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nRuns of %s (newest first):\n", name)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tADDS\tUPDATES\tREMOVES\tSENT\tACCEPTED\tREJECTED\tINVALID\tERROR")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.RunID, r.Status, r.Adds, r.Updates, r.Removes, r.Sent, r.Accepted, r.Rejected, r.Invalid, truncate(r.Error, 80))
	}
	tw.Flush()
	rej, total, err := st.Rejections(ctx, name, 10)
	if err != nil {
		return err
	}
	if total > 0 {
		fmt.Fprintf(out, "\nPending rejections (%s; retried every run):\n", group(total))
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tOP\tATTEMPTS\tLAST FAILED\tERROR")
		for _, r := range rej {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.Key, r.Op, r.Attempts, r.LastFailedAt.UTC().Format(time.RFC3339), truncate(r.Error, 80))
		}
		tw.Flush()
	}
	return nil
}
