package bigquery_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/bigquery/bqfake"
	"github.com/sluicehq/sluice/connectors/warehouse/warehousetest"
	"github.com/sluicehq/sluice/examples/examplestest"
	"github.com/sluicehq/sluice/models"
	_ "github.com/sluicehq/sluice/models/all"
	"github.com/sluicehq/sluice/models/dialect"
)

// quickstartModel copies the quickstart's model and data (not its syncs,
// whose destinations this package does not register) into a directory.
func quickstartModel(t *testing.T) string {
	return examplestest.CopyQuickstart(t, "sluice.yml", "sources.yml", "identity.yml", "traits.yml", "segments.yml",
		"data/crm_contacts.csv", "data/web_events.csv", "data/orders.csv")
}

// The quickstart, compiled for BigQuery, reaches BigQuery as compiled:
// every statement of every step as one query job, in build order, and each
// seed as a load job of the file itself followed by the typing queries.
func TestBuildSendsCompiledSQL(t *testing.T) {
	dir := quickstartModel(t)
	p, err := config.Load(dir, config.Options{Env: examplestest.Env})
	if err != nil {
		t.Fatal(err)
	}
	// The plan of a full build, and of an incremental one (change
	// detection, the identity re-stitch and merge, incremental profiles).
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for name, opts := range map[string][]models.Option{
		"full":        nil,
		"incremental": {models.WithNow(now), models.Incrementally(models.Previous{Now: now.Add(-time.Hour)})},
	} {
		t.Run(name, func(t *testing.T) {
			plan, err := models.Compile(p, dialect.BigQuery{}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			fk := start(t)
			fk.Handler = func(s bqfake.Statement) bqfake.Result {
				q := strings.TrimSpace(s.SQL)
				if strings.Contains(q, "LOGICAL_AND(") {
					// The seed type probe: answer "only NULLs" for every column,
					// which keeps them STRING.
					n := strings.Count(q, "LOGICAL_AND(") + strings.Count(q, "COUNTIF(")
					res := bqfake.Result{Rows: [][]any{make([]any, n)}}
					for i := 0; i < n; i++ {
						res.Schema = append(res.Schema, bqfake.Field{Name: "f", Type: "BOOLEAN"})
						res.Rows[0][i] = false
					}
					return res
				}
				if !strings.HasPrefix(strings.TrimLeft(stripComments(q), " \n"), "SELECT") {
					return bqfake.Result{}
				}
				n := 1
				if strings.Contains(q, "AS duplicate_keys") || strings.Contains(q, "AS deleted_rows") {
					n = 3
				}
				if strings.Contains(q, "max(size)") { // profiles and the largest profile
					n = 2
				}
				res := bqfake.Result{Rows: [][]any{make([]any, n)}}
				for i := 0; i < n; i++ {
					res.Schema = append(res.Schema, bqfake.Field{Name: "n", Type: "INTEGER"})
					res.Rows[0][i] = int64(0)
				}
				return res
			}
			w := mustOpen(t, fk)
			before := len(fk.Statements())
			if _, err := builder.Run(context.Background(), w, plan, builder.Options{}); err != nil {
				t.Fatal(err)
			}
			seeds := 0
			for _, s := range plan.Steps {
				if s.Kind == models.KindSeed {
					seeds++ // a load job and the loader's own queries instead
				}
			}
			var got []string
			for _, s := range fk.Statements()[before:] {
				if s.SQL == "SELECT 1" || strings.Contains(s.SQL, "__sluice_load") {
					continue
				}
				got = append(got, s.SQL)
			}
			warehousetest.SentAsCompiled(t, plan, got)
			loads := fk.Loads()
			if len(loads) != seeds {
				t.Fatalf("%d load jobs for %d seeds", len(loads), seeds)
			}
			orders, err := os.ReadFile(filepath.Join(dir, "data", "orders.csv"))
			if err != nil {
				t.Fatal(err)
			}
			if loads[2].Table != "orders__sluice_load" || string(loads[2].Data) != string(orders) {
				t.Errorf("third load job: table %s, %d bytes; want the orders file", loads[2].Table, len(loads[2].Data))
			}
			t.Logf("%d statements sent as compiled, %d load jobs", len(got), len(loads))
		})
	}
}

// stripComments drops leading -- comment lines.
func stripComments(q string) string {
	var keep []string
	for _, l := range strings.Split(q, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
