package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/builder/seedcheck"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

func newValidateCmd(g *globals) *cobra.Command {
	var offline bool
	c := &cobra.Command{
		Use:   "validate",
		Short: "Check the project and report every problem as path:line:col: message",
		Long: `validate reads every project file and reports all problems at once:
unknown or misspelt keys, wrong types, missing required keys, references to
things that do not exist, duplicate names, unset environment variables,
columns that sources do not have, and seed CSV files that would not load
(broken quoting, rows with the wrong number of fields, values that do not
fit column_types, as path:line: message). Exit code 0 when the project is
valid, 1 otherwise.

Columns are checked against seed CSV headers and, unless --offline, against
the warehouse for sources it can already read.`,
		Example: `  sluice validate
  sluice validate --project examples/quickstart`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Column checks run even when the configuration has problems, so
			// that one run reports everything.
			p, byDest, probs, err := loadLenient(g.project, g.redact)
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			noteUnset(cmd.ErrOrStderr(), byDest)
			if p != nil {
				colProbs, err := checkColumns(cmd.Context(), cmd.ErrOrStderr(), p, offline || len(probs) > 0)
				if err != nil {
					return &exitError{code: exitFailure, err: err}
				}
				probs = append(probs, colProbs...)
				probs = append(probs, checkFragments(p)...)
				probs = append(probs, seedcheck.Check(seedcheck.ProjectFiles(p))...).Sorted()
			}
			if len(probs) > 0 {
				printProblems(cmd.ErrOrStderr(), probs)
				return &exitError{code: exitFailure, err: fmt.Errorf("%s in the project", plural(len(probs), "problem", "problems"))}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is valid: %s, %s, %s, %s.\n", p.Name,
				plural(len(p.Sources), "source", "sources"), plural(len(p.Traits), "trait", "traits"),
				plural(len(p.Segments), "segment", "segments"), plural(len(p.Syncs), "sync", "syncs"))
			return nil
		},
	}
	c.Flags().BoolVar(&offline, "offline", false, "do not connect to the warehouse; check columns against seed files only")
	return c
}

// checkColumns checks column references against what can be known without
// building anything. The warehouse is opened read-only: validate writes
// nothing, so a DuckDB file that does not exist yet is not created, and
// the check falls back to seed files.
func checkColumns(ctx context.Context, stderr io.Writer, p *config.Project, offline bool) (config.Problems, error) {
	cat, err := builder.SeedCatalog(p)
	if err != nil {
		return nil, err
	}
	if !offline && len(cat) < len(p.Sources) {
		if missingDuckDB(p) {
			fmt.Fprintf(stderr, "note: the warehouse file %s does not exist yet (sluice build creates it): columns are checked against seed files only\n", p.Warehouse.Path)
			return models.CheckColumnsAt(p, cat, fragmentFileText), nil
		}
		if w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: p.Dir, Warehouse: p.Warehouse, ExternalPaths: p.ExternalPaths, ReadOnly: true}); err == nil {
			builder.WarehouseCatalog(ctx, w, p, cat)
			w.Close()
		}
	}
	return models.CheckColumnsAt(p, cat, fragmentFileText), nil
}

// missingDuckDB tells whether the project's warehouse is a DuckDB file that
// does not exist yet.
func missingDuckDB(p *config.Project) bool {
	w := p.Warehouse
	if w.Type != "duckdb" || w.Path == "" || w.Path == ":memory:" {
		return false
	}
	path, err := config.ResolvePath(p.Dir, w.Path)
	if err != nil {
		return true // reported by validation; never opened
	}
	_, err = os.Stat(path)
	return err != nil
}
