package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/connectors/clickhouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

func newCompileCmd(g *globals) *cobra.Command {
	var dialectName, out string
	var incremental bool
	c := &cobra.Command{
		Use:   "compile",
		Short: "Write the SQL of every build step, without connecting to a warehouse",
		Long: `compile turns the project into the exact SQL that build runs, one file per
step, numbered in build order. Without --out the SQL is printed.
The dialect defaults to the project's warehouse type.

--incremental writes the steps of an incremental build instead: the one a
build runs when rows of every source changed since the last build, an hour
before, in which every row had a primary key of its own (both times appear
as literals; docs/builds.md).`,
		Example: `  sluice compile --out target/sql
  sluice compile --dialect duckdb
  sluice compile --dialect clickhouse-18 --out target/sql
  sluice compile --incremental --out target/incremental`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := loadProject(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if dialectName == "" {
				dialectName = p.Warehouse.Type
			}
			d, err := dialect.Get(dialectName)
			if err != nil {
				return usageErr("%v", err)
			}
			var opts []models.Option
			if incremental {
				now := time.Now().UTC().Truncate(time.Second)
				// As after a build whose sources each had a key of its own
				// per row: the usual case, and the cheaper statements.
				unique := map[string]bool{}
				for _, s := range p.Sources {
					unique[s.Name] = true
				}
				opts = append(opts, models.WithNow(now), models.Incrementally(models.Previous{Now: now.Add(-time.Hour), UniqueKeys: unique}))
			}
			plan, err := models.Compile(p, d, opts...)
			if err != nil {
				return err
			}
			// The ClickHouse connector's seed statements depend on each
			// file's values (the column types), which the compiler does not
			// read.
			if chd, ok := d.(dialect.ClickHouse); ok {
				if err := clickhouse.PlanSeeds(plan, chd); err != nil {
					return err
				}
			}
			if out == "" {
				for i, s := range plan.Steps {
					if i > 0 {
						fmt.Fprintln(cmd.OutOrStdout())
					}
					fmt.Fprint(cmd.OutOrStdout(), s.File(plan.Dialect))
				}
				return nil
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", out, err)
			}
			// Files of an earlier compile whose step no longer exists would
			// read as current; remove them.
			old, _ := filepath.Glob(filepath.Join(out, "[0-9][0-9]_*.sql"))
			for _, f := range old {
				if err := os.Remove(f); err != nil {
					return fmt.Errorf("removing stale %s: %w", f, err)
				}
			}
			for i, s := range plan.Steps {
				path := filepath.Join(out, fmt.Sprintf("%02d_%s.sql", i+1, s.Name))
				if err := os.WriteFile(path, []byte(s.File(plan.Dialect)), 0o644); err != nil {
					return fmt.Errorf("writing %s: %w", path, err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (%s) to %s\n", plural(len(plan.Steps), "SQL file", "SQL files"), plan.Dialect, out)
			return nil
		},
	}
	c.Flags().StringVar(&dialectName, "dialect", "", "SQL dialect: "+joinNames(dialect.Names())+" (default: the project's warehouse; clickhouse is for current servers, clickhouse-18 for 18.16-era ones)")
	c.Flags().StringVar(&out, "out", "", "directory to write one .sql file per step into (default: print)")
	c.Flags().BoolVar(&incremental, "incremental", false, "the steps of an incremental build (every source changed since a build an hour before)")
	return c
}
