package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/demodata"
	"github.com/sluicehq/sluice/examples"
)

func newInitCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "init DIR",
		Short: "Create a working project in DIR, with sample data, ready to build",
		Long: `init scaffolds the quickstart project in DIR: sluice.yml, the sources,
identity, traits, segments and syncs files, and sample CSV data in DIR/data.
It refuses to touch a directory that already holds a sluice.yml.`,
		Example: `  sluice init my-project
  sluice build --project my-project`,
		Args: exactArgs(1, "the directory to create"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if _, err := os.Stat(filepath.Join(dir, config.ProjectFileName)); err == nil {
				return &exitError{code: exitFailure, err: fmt.Errorf("%s already holds a %s; not overwriting it", dir, config.ProjectFileName)}
			}
			if err := writeTree(examples.Quickstart(), dir); err != nil {
				return err
			}
			data := filepath.Join(dir, examples.QuickstartDataDir)
			if _, err := demodata.Generate(data, demodata.Options{Profiles: examples.QuickstartProfiles, Seed: examples.QuickstartSeed}); err != nil {
				return fmt.Errorf("writing sample data: %w", err)
			}
			// The warehouse file and compiled SQL are build output, not source.
			ignore := filepath.Join(dir, ".gitignore")
			if _, err := os.Stat(ignore); errors.Is(err, fs.ErrNotExist) {
				if err := os.WriteFile(ignore, []byte(".sluice/\ntarget/\n"), 0o644); err != nil {
					return fmt.Errorf("writing %s: %w", ignore, err)
				}
			}
			printNextSteps(cmd.OutOrStdout(), dir)
			return nil
		},
	}
	return c
}

// printNextSteps walks a newcomer through the quickstart. Its Klaviyo,
// Brevo and HubSpot syncs need keys: the sandbox provides them, so that the first
// sync succeeds instead of failing on variables nobody has set yet.
func printNextSteps(out io.Writer, dir string) {
	fmt.Fprintf(out, "Created a sluice project in %s with sample data for %d people.\n\nNext:\n", dir, examples.QuickstartProfiles)
	for _, step := range []string{
		"validate",
		"build",
		`query "SELECT rfm, count(*) FROM sluice.customer_profiles GROUP BY 1 ORDER BY 2 DESC LIMIT 5"`,
		"plan",
	} {
		fmt.Fprintf(out, "  sluice %s --project %s\n", step, dir)
	}
	env := filepath.Join(dir, ".sluice", "sandbox.env")
	fmt.Fprintf(out, `
klaviyo.yml, brevo.yml and hubspot.yml sync to Klaviyo, Brevo and HubSpot. To sync offline, serve
the project's fakes of those APIs (they print the variables to export) in a second terminal:
  sluice sandbox klaviyo brevo hubspot
and run the export lines it prints in this one; or, in one shell:
  sluice sandbox klaviyo brevo hubspot --env-file %[2]s 2>/dev/null &
  until [ -s %[2]s ]; do sleep 0.1; done; . %[2]s
Then:
  sluice sync --project %[1]s    # every sync delivered: exit 0
  sluice sync --project %[1]s    # nothing changed: nothing sent
With real accounts, set KLAVIYO_API_KEY, KLAVIYO_BASE_URL, BREVO_API_KEY, BREVO_BASE_URL,
HUBSPOT_ACCESS_TOKEN and HUBSPOT_BASE_URL instead (delete a file if you do not use that tool); without them, sync sends the file syncs and
exits 1 naming what is missing.
`, dir, env)
}

// writeTree copies an embedded tree to dir, refusing to overwrite files.
func writeTree(src fs.FS, dir string) error {
	return fs.WalkDir(src, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(src, path)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; not overwriting it", target)
		}
		if err != nil {
			return fmt.Errorf("creating %s: %w", target, err)
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", target, err)
		}
		return f.Close()
	})
}
