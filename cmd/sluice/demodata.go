package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/demodata"
)

func newDemoDataCmd() *cobra.Command {
	var (
		profiles int
		out      string
		seed     uint64
	)
	c := &cobra.Command{
		Use:   "demo-data",
		Short: "Generate realistic, messy sample customer data as CSV",
		Long: `demo-data writes crm_contacts.csv, web_events.csv and orders.csv for a number of
simulated people, with the mess real data has: mixed-case and junk e-mails,
phones in national and international formats, duplicate CRM records, blanks,
shared junk identifiers. The same --seed and --profiles give the same bytes.`,
		Example: `  sluice demo-data --profiles 1000 --out examples/quickstart/data
  sluice demo-data --profiles 1000000 --out /tmp/bench --seed 7`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profiles <= 0 {
				return usageErr("--profiles must be positive")
			}
			if out == "" {
				return usageErr("--out DIR is required")
			}
			start := time.Now()
			st, err := demodata.Generate(out, demodata.Options{Profiles: profiles, Seed: seed})
			if err != nil {
				return err
			}
			for _, name := range []string{demodata.ContactsFile, demodata.EventsFile, demodata.OrdersFile} {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-18s %12s rows\n", name, group(st.Files[name]))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s people (%.1f MB) to %s in %s\n", group(int64(profiles)),
				float64(st.Bytes)/1e6, out, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	c.Flags().IntVar(&profiles, "profiles", 1000, "number of people to simulate")
	c.Flags().StringVar(&out, "out", "", "directory to write the CSV files into")
	c.Flags().Uint64Var(&seed, "seed", 1, "random seed; same seed, same data")
	return c
}
