package builder_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/builder/publishtest"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	_ "github.com/sluicehq/sluice/models/all"
)

// fileWarehouse opens a DuckDB file for the project in dir.
func fileWarehouse(t *testing.T, dir string) warehouse.Warehouse {
	t.Helper()
	w, err := warehouse.Open(context.Background(), warehouse.Config{
		ProjectDir: dir,
		Warehouse:  config.Warehouse{Type: "duckdb", Path: filepath.Join(dir, "w.duckdb")},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func duckTables(t *testing.T, w warehouse.Warehouse) func(string) []string {
	return func(schema string) []string {
		return strings.Fields(queryString(t, w, "SELECT coalesce(string_agg(table_name, ' '), '') FROM information_schema.tables WHERE table_schema = '"+schema+"'"))
	}
}

func queryString(t *testing.T, w warehouse.Warehouse, q string) string {
	t.Helper()
	var s string
	if err := warehouse.QueryRow(context.Background(), w, q, &s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// A build that fails or is cancelled after the identity steps, or whose
// publish step fails half-way, leaves every table of the previous build
// as it was (DuckDB publishes in one transaction).
func TestFailedBuildKeepsPublishedTables(t *testing.T) {
	dir := t.TempDir()
	w := fileWarehouse(t, dir)
	publishtest.Run(t, w, dir, "pub", duckTables(t, w))
	// The transaction the failed publish opened was rolled back: every
	// connection of the pool still runs statements.
	for i := 0; i < 8; i++ {
		if got := queryString(t, w, "SELECT CAST(count(*) AS VARCHAR) FROM pub.customer_profiles"); got != "3" {
			t.Fatalf("profiles after the last build: %s, want 3", got)
		}
	}
}

// A run of some steps only (Options.Only) reads the tables of the steps
// it skips where the previous build published them, and publishes only
// the tables of the steps it ran.
func TestOnlyPublishesTheStepsThatRan(t *testing.T) {
	dir := t.TempDir()
	w := fileWarehouse(t, dir)
	ctx := context.Background()
	compile := func(more bool) *models.Plan {
		plan, err := models.Compile(publishtest.Project(t, dir, "pub", more, false), w.Dialect(), models.WithNow(publishtest.Now))
		if err != nil {
			t.Fatal(err)
		}
		return plan
	}
	if _, err := builder.Run(ctx, w, compile(false), builder.Options{}); err != nil {
		t.Fatal(err)
	}
	count := func(table string) string {
		return queryString(t, w, "SELECT CAST(count(*) AS VARCHAR) FROM pub."+table)
	}
	profiles, idMap := count("customer_profiles"), count("customer_identity_map")
	// New data reaches the seed and the source, then only the identity
	// steps run: they read the source's duplicate keys as published.
	loading := func(s models.Step) bool { return s.Kind == models.KindSeed || s.Kind == models.KindSource }
	if _, err := builder.Run(ctx, w, compile(true), builder.Options{Only: loading}); err != nil {
		t.Fatal(err)
	}
	var publish string
	res, err := builder.Run(ctx, w, compile(true), builder.Options{
		Only: func(s models.Step) bool { return s.Kind == models.KindIdentity },
		Progress: func(e builder.Event) {
			if e.Done && e.Step.Kind == models.KindPublish {
				publish = strings.Join(e.Step.SQL, "\n")
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Steps[len(res.Steps)-1].Name; got != models.StepPublish {
		t.Errorf("last step %s, want the publish step", got)
	}
	if got := count("customer_identity_map"); got == idMap {
		t.Errorf("the identity map still has %s rows: the identity run was not published", got)
	}
	if got := count("customer_profiles"); got != profiles {
		t.Errorf("profiles has %s rows, want the first build's %s", got, profiles)
	}
	for _, name := range duckTables(t, w)("pub") {
		if strings.HasSuffix(name, models.StagingSuffix) {
			t.Errorf("table %s left behind", name)
		}
	}
	if !strings.Contains(publish, "customer_identity_map") || strings.Contains(publish, "customer_profiles") {
		t.Errorf("the publish step of an identity-only run:\n%s", publish)
	}
}
