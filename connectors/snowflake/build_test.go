package snowflake_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/snowflake/sffake"
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

// statementKind strips the leading comment lines sluice writes above a
// statement and tells what the statement is.
func statementKind(q string) string {
	for _, line := range strings.Split(q, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		word, _, _ := strings.Cut(line, " ")
		return strings.ToUpper(word)
	}
	return ""
}

// The quickstart, compiled for Snowflake, reaches the warehouse exactly as
// compiled, statement by statement and in build order, through the
// builder and the driver. Seeds are left out: their PUT uploads to cloud
// storage, which the loopback fake does not stand in for.
func TestBuildSendsCompiledSQL(t *testing.T) {
	p, err := config.Load(quickstartModel(t), config.Options{Env: examplestest.Env})
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
			plan, err := models.Compile(p, dialect.Snowflake{}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			fk := start(t, password)
			zero := sffake.Text("0")
			fk.Handler = func(s sffake.Statement) sffake.Result {
				if statementKind(s.SQL) != "SELECT" && statementKind(s.SQL) != "WITH" {
					return sffake.Result{}
				}
				// Data checks count problems (none here); loops count what still
				// changes (nothing: they converge at once); metrics count too.
				n := 1
				if strings.Contains(s.SQL, "AS duplicate_keys") || strings.Contains(s.SQL, "AS deleted_rows") {
					n = 3
				}
				if strings.Contains(s.SQL, "max(size)") { // profiles and the largest profile
					n = 2
				}
				res := sffake.Result{Rows: [][]*string{{}}}
				for i := 0; i < n; i++ {
					res.Columns = append(res.Columns, sffake.Column{Name: "N", Type: "fixed", Precision: 18})
					res.Rows[0] = append(res.Rows[0], zero)
				}
				return res
			}
			w := mustOpen(t, fk)
			before := len(fk.Statements())
			res, err := builder.Run(context.Background(), w, plan, builder.Options{
				Only: func(s models.Step) bool { return s.Kind != models.KindSeed },
			})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range fk.Statements()[before:] {
				if s.SQL != "SELECT 1" { // pool health checks
					got = append(got, s.SQL)
				}
			}
			warehousetest.SentAsCompiled(t, plan, got)
			if len(res.Warnings) != 0 {
				t.Errorf("warnings: %v", res.Warnings)
			}
			t.Logf("%d statements sent as compiled", len(got))
		})
	}
}
