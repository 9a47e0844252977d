package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/models"
)

func newBuildCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "build",
		Short: "Load seeds and materialise sources, identity map, profiles and segments in the warehouse",
		Long: `build runs the compiled SQL (see sluice compile) in the project's warehouse and
prints a summary. Data problems such as NULL or duplicated primary keys are
reported as warnings with the file:line:col of the declaration; SQL errors
stop the build with exit code 1.`,
		Example: `  sluice build
  sluice build --project examples/quickstart`,
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
			plan, err := models.Compile(p, w.Dialect())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if _, err := prepareErasures(ctx, p, w, cmd.ErrOrStderr(), true); err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			fmt.Fprintf(out, "Building %s on %s\n", p.Name, describeWarehouse(p.Warehouse.Type, p.Warehouse.Path))
			res, err := builder.Run(ctx, w, plan, builder.Options{Progress: progressPrinter(out)})
			if err != nil {
				return err
			}
			printSummary(out, res)
			return closeErasures(ctx, p, w)
		},
	}
	return c
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
