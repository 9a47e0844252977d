package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/builder/incremental"
	"github.com/sluicehq/sluice/models"
)

func newBuildCmd(g *globals) *cobra.Command {
	var full bool
	c := &cobra.Command{
		Use:   "build",
		Short: "Load seeds and materialise sources, identity map, profiles and segments in the warehouse",
		Long: `build runs the compiled SQL (see sluice compile) in the project's warehouse and
prints a summary. Data problems such as NULL or duplicated primary keys are
reported as warnings with the file:line:col of the declaration; SQL errors
stop the build with exit code 1.

A build first compares the sources, the erasure suppression list and the
compiled SQL with what the last successful build recorded (and the rows
that left a time window since then). When nothing changed, the tables
stand as they are. When only source rows changed (or the clock moved), it
re-stitches only the components the changed rows touch and recomputes only
the profiles that changed, then the segments. Any other change (definitions, erasures) recomputes
everything; the build prints why. Seeds whose files did not change are not
loaded again. --full recomputes everything.`,
		Example: `  sluice build
  sluice build --project examples/quickstart
  sluice build --full`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProject(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			w, err := openWarehouse(ctx, p)
			if err != nil {
				return err
			}
			defer w.Close()
			// Compiling first refuses a bad project before anything runs.
			if _, err := models.Compile(p, w.Dialect()); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if _, err := prepareErasures(ctx, p, w, cmd.ErrOrStderr(), true); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			fmt.Fprintf(out, "Building %s on %s\n", p.Name, describeWarehouse(p.Warehouse.Type, p.Warehouse.Path))
			o, err := incremental.Build(ctx, w, p, incremental.Options{Full: full, Progress: progressPrinter(out)})
			if o != nil {
				printOutcome(out, o)
			}
			if err != nil {
				return err
			}
			printSummary(out, o.Result)
			return closeErasures(ctx, p, w)
		},
	}
	c.Flags().BoolVar(&full, "full", false, "recompute every model even if nothing changed since the last build")
	return c
}

// printOutcome says what the build found changed and what it did about it.
func printOutcome(out io.Writer, o *incremental.Outcome) {
	if len(o.SeedsKept) > 0 {
		fmt.Fprintf(out, "Seeds kept (files unchanged): %s\n", strings.Join(o.SeedsKept, ", "))
	}
	switch o.Mode {
	case incremental.ModeUnchanged:
		fmt.Fprintln(out, "Nothing changed since the last build: the models stand as they are.")
	case incremental.ModeFull:
		fmt.Fprintln(out, "Recomputed every model:")
	case incremental.ModeIncremental:
		fmt.Fprintln(out, "Recomputed what changed:")
	}
	for _, r := range o.Reasons {
		fmt.Fprintf(out, "  %s\n", r)
	}
	if o.Compacted {
		fmt.Fprintf(out, "Compacted the rows earlier builds deleted in place: %.0f%% of a table's stored rows.\n", 100*o.DeletedShare)
	}
}

func describeWarehouse(typ, path string) string {
	if typ == "duckdb" {
		if path == "" || path == ":memory:" {
			return "duckdb (in memory)"
		}
		return "duckdb (" + path + ")"
	}
	return typ
}

func progressPrinter(out io.Writer) func(builder.Event) {
	return func(e builder.Event) {
		if !e.Done {
			return
		}
		extra := ""
		if e.Round > 0 {
			extra = "  " + plural(e.Round, "round", "rounds")
		}
		fmt.Fprintf(out, "  %-9s %-36s %8s%s\n", e.Step.Kind, e.Step.Name, e.Duration.Round(time.Millisecond), extra)
	}
}

func printSummary(out io.Writer, res *builder.Result) {
	var rows []string
	for _, c := range res.Checks {
		for i, col := range c.Check.Columns {
			if col.Label == "rows" {
				rows = append(rows, fmt.Sprintf("  %-44s %s", strings.TrimPrefix(c.Check.Name, "primary key of "), group(c.Counts[i])))
			}
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(out, "Rows:")
		fmt.Fprintln(out, strings.Join(rows, "\n"))
	}
	var changes []string
	for _, c := range res.Checks {
		if name, ok := strings.CutPrefix(c.Check.Name, "changes in "); ok && len(c.Counts) == 3 {
			changes = append(changes, fmt.Sprintf("  %-44s %s new, %s changed, %s deleted", name, group(c.Counts[0]), group(c.Counts[1]), group(c.Counts[2])))
		}
	}
	if len(changes) > 0 {
		fmt.Fprintln(out, "Changes since the last build:")
		fmt.Fprintln(out, strings.Join(changes, "\n"))
	}
	if len(res.Metrics) > 0 {
		fmt.Fprintln(out, "Summary:")
		for _, m := range res.Metrics {
			fmt.Fprintf(out, "  %-44s %s\n", m.Name, groupString(m.Value))
		}
	}
	if len(res.Warnings) > 0 {
		fmt.Fprintln(out, "Warnings:")
		for _, w := range res.Warnings {
			fmt.Fprintf(out, "  %s\n", w)
		}
	}
	fmt.Fprintf(out, "Built in %s.\n", res.Duration.Round(time.Millisecond))
}

// group formats 1234567 as 1,234,567.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func groupString(s string) string {
	var n int64
	if _, err := fmt.Sscan(s, &n); err == nil && fmt.Sprint(n) == s {
		return group(n)
	}
	return s
}

func joinNames(names []string) string { return strings.Join(names, "|") }
