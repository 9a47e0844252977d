package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/identity"
	"github.com/sluicehq/sluice/sync/erasure"
	"github.com/sluicehq/sluice/sync/state"
)

func init() { extraCommands = append(extraCommands, newIdentityCmd) }

func newIdentityCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "identity",
		Short: "Inspect identity stitching",
		Example: `  sluice identity explain email:jane.doe@example.com
  sluice identity explain user_id:C000123`,
		Args: exactArgs(0, "a subcommand (see sluice identity --help)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.AddCommand(newIdentityExplainCmd(g))
	return c
}

func newIdentityExplainCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "explain TYPE:VALUE",
		Short: "Show the profile holding an identifier and the source rows that linked it",
		Long: `explain normalises VALUE the way build does (e-mails lower-cased, phones to
E.164...), finds the profile that holds it, lists every identifier of that
profile, and for each the shortest chain of source rows (source and primary
key) linking it to the given identifier. Rows where limit_per_profile kept
the profile apart from another are listed too.

It reads the tables of the last build; run sluice build first. A value that
is junk, blocklisted, unreadable for its type, or carried by no row gets a
message saying so (exit code 1).`,
		Example: `  sluice identity explain email:jane.doe@example.com
  sluice identity explain "phone:06 12 34 56 78" --project examples/quickstart
  sluice identity explain user_id:C000123 --json`,
		Args: exactArgs(1, "one TYPE:VALUE argument, such as email:jane@example.com"),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, value, err := identity.ParseIdentifier(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			p, err := loadProject(g, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if p.Identity == nil {
				return &exitError{code: exitFailure, err: errors.New("the project has no identity section")}
			}
			ctx := cmd.Context()
			w, err := openWarehouse(ctx, p)
			if err != nil {
				return err
			}
			defer w.Close()
			c := &models.Compiler{P: p, D: w.Dialect()}
			ex, err := identity.Explain(ctx, w, c, typ, value)
			if errors.Is(err, identity.ErrNotFound) {
				if id, ok := erasedBy(ctx, p, w, c, typ, value); ok {
					err = fmt.Errorf("%w: it was erased (request %s; see sluice erasures), and no build links it any more", identity.ErrNotFound, id)
				}
			}
			if err != nil {
				return &exitError{code: exitFailure, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(ex); err != nil {
					return fmt.Errorf("writing the explanation: %w", err)
				}
				return nil
			}
			return ex.Render(out)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the explanation as JSON")
	return c
}

// erasedBy names the erasure request that suppressed an identifier, if
// the project erases and one did.
func erasedBy(ctx context.Context, p *config.Project, w warehouse.Warehouse, c *models.Compiler, typ, value string) (string, bool) {
	if p.Erasure == nil {
		return "", false
	}
	norm, err := identity.Normalise(ctx, w, c, typ, value)
	if err != nil {
		return "", false
	}
	st, err := state.New(w, p.StateSchema)
	if err != nil {
		return "", false
	}
	svc, err := erasure.New(p, w, st)
	if err != nil {
		return "", false
	}
	id, ok, err := svc.ErasedBy(ctx, norm.Type, norm.Value)
	return id, ok && err == nil
}
