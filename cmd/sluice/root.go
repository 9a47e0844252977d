package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// version is set at link time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

type globals struct {
	project string
	unset   map[string][]string // destination -> unset variables of its options
	// redact learns every value from the environment the project uses;
	// the CLI's messages and logs pass through it.
	redact *config.Redactor
}

func newRootCmd() *cobra.Command { return newRoot(&globals{redact: &config.Redactor{}}) }

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Warehouse-native activation: stitch identities, build profiles and segments, sync deltas",
		Long: `sluice compiles a YAML project (sources, identity, traits, segments, syncs)
to SQL that runs inside your warehouse, then syncs only what changed to your tools.

Every verb reads the project in --project (default: the current directory).`,
		Example: `  sluice init my-project
  sluice validate --project my-project
  sluice build --project my-project`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.project, "project", ".", "project directory (holds sluice.yml)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%v (see %s --help)", err, c.CommandPath())
	})
	root.AddCommand(
		newInitCmd(),
		newValidateCmd(g),
		newCompileCmd(g),
		newBuildCmd(g),
		newQueryCmd(g),
		newDemoDataCmd(),
	)
	for _, c := range extraCommands {
		root.AddCommand(c(g))
	}
	return root
}

// extraCommands lets verbs in other files of this package register
// themselves without editing the root.
var extraCommands []func(*globals) *cobra.Command

// exactArgs is cobra.ExactArgs with the usage exit code.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s takes %s (see %s --help)", c.CommandPath(), what, c.CommandPath())
		}
		return nil
	}
}

// loadProject loads and validates the project, printing every problem.
// Unset variables of destination options are not problems here (see
// envvars.go): they are remembered for sync, which says so per sync.
func loadProject(g *globals, stderr io.Writer) (*config.Project, error) {
	p, byDest, probs, err := loadLenient(g.project, g.redact)
	if len(probs) > 0 {
		printProblems(stderr, probs)
		return nil, &exitError{code: exitFailure, err: fmt.Errorf("%s", plural(len(probs), "problem", "problems")+" in the project")}
	}
	if err != nil {
		return nil, &exitError{code: exitFailure, err: err}
	}
	g.unset = byDest
	return p, nil
}

func printProblems(w io.Writer, probs config.Problems) {
	for _, p := range probs {
		fmt.Fprintln(w, p.String())
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// openWarehouse connects to the project's warehouse.
func openWarehouse(ctx context.Context, p *config.Project) (warehouse.Warehouse, error) {
	return warehouse.Open(ctx, warehouse.Config{ProjectDir: p.Dir, Warehouse: p.Warehouse, ExternalPaths: p.ExternalPaths})
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
