package clickhouse_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/demodata"
	"github.com/sluicehq/sluice/models"
)

// BenchmarkStitch stitches the demo data set (package demodata, as the
// DuckDB benchmark in models/identity does) on ClickHouse and on DuckDB in
// the same run, at about 100k and 1M distinct identifiers:
//
//	. .ci/clickhouse.sh
//	go test ./connectors/clickhouse -run '^$' -bench Stitch/1M -benchtime 1x -timeout 60m
//
// It reports the identity steps' time per warehouse (loading the CSV files
// is not timed) and the rounds of the components loop.
func BenchmarkStitch(b *testing.B) {
	for _, size := range []struct {
		name     string
		profiles int
	}{{"100k", 29_150}, {"1M", 291_500}} { // 3.43 identifiers per profile
		for _, typ := range []string{"clickhouse", "duckdb"} {
			b.Run(size.name+"/"+typ, func(b *testing.B) { benchStitch(b, typ, size.profiles) })
		}
	}
}

const benchIdentity = `
seeds:
  - { name: crm_contacts, path: crm_contacts.csv, schema: %[1]s, column_types: { contact_id: varchar, phone: varchar } }
  - { name: web_events, path: web_events.csv, schema: %[1]s, column_types: { user_id: varchar, anonymous_id: varchar, email: varchar } }
  - { name: orders, path: orders.csv, schema: %[1]s, column_types: { contact_id: varchar, email: varchar, phone: varchar } }
sources:
  - { name: crm_contacts, table: %[1]s.crm_contacts, primary_key: contact_id, timestamp: updated_at }
  - { name: web_events, table: %[1]s.web_events, primary_key: event_id, timestamp: occurred_at }
  - { name: orders, table: %[1]s.orders, primary_key: order_id, timestamp: ordered_at }
identity:
  id_types:
    email: { normalize: email, blocklist: [test@example.com] }
    phone: { normalize: phone_e164, default_region: FR }
    user_id: { limit_per_profile: 1 }
    anonymous_id: {}
  edges:
    - { source: crm_contacts, ids: { user_id: contact_id, email: email, phone: phone } }
    - { source: web_events, ids: { anonymous_id: anonymous_id, user_id: user_id, email: email } }
    - { source: orders, ids: { user_id: contact_id, email: email, phone: phone } }
`

func benchStitch(b *testing.B, typ string, profiles int) {
	ctx := context.Background()
	wh := config.Warehouse{Type: "duckdb"}
	if typ == "clickhouse" {
		wh = config.Warehouse{Type: "clickhouse", DSN: config.Secret(dsn(b))}
	}
	data := filepath.Join(os.TempDir(), fmt.Sprintf("sluice-bench-demo-%d", profiles))
	if _, err := os.Stat(filepath.Join(data, "orders.csv")); err != nil {
		if _, err := demodata.Generate(data, demodata.Options{Profiles: profiles, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano()%1_000_000_000)
	dir := b.TempDir()
	for _, f := range []string{"crm_contacts", "web_events", "orders"} {
		if err := os.Symlink(filepath.Join(data, f+".csv"), filepath.Join(dir, f+".csv")); err != nil {
			b.Fatal(err)
		}
	}
	files := map[string]string{
		"sluice.yml":   "version: 1\nname: bench\nwarehouse: { type: duckdb }\nschema: " + schema + "\n",
		"identity.yml": fmt.Sprintf(benchIdentity, schema+"_raw"),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	p, err := config.Load(dir, config.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p.Warehouse = wh
	w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: dir, Warehouse: wh})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if typ == "clickhouse" {
			for _, s := range []string{schema, schema + "_raw"} {
				_ = w.Exec(ctx, "DROP DATABASE IF EXISTS "+w.Dialect().Ident(s))
			}
		}
		w.Close()
	}()
	plan, err := models.Compile(p, w.Dialect())
	if err != nil {
		b.Fatal(err)
	}
	isIdentity := func(s models.Step) bool { return s.Kind == models.KindIdentity }
	setup := *plan
	setup.Report = nil
	start := time.Now()
	loading := func(s models.Step) bool {
		return s.Kind == models.KindSchema || s.Kind == models.KindSeed || s.Kind == models.KindSource
	}
	if _, err := builder.Run(ctx, w, &setup, builder.Options{Only: loading}); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: loaded the demo data in %s", typ, time.Since(start).Round(time.Millisecond))
	var res *builder.Result
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		only := *plan
		only.Report = plan.Report[:3] // identifiers, profiles, largest profile
		if res, err = builder.Run(ctx, w, &only, builder.Options{Only: isIdentity}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var steps []string
	total, rounds := time.Duration(0), 0
	for _, s := range res.Steps {
		total += s.Duration
		steps = append(steps, fmt.Sprintf("%s %s", s.Name, s.Duration.Round(time.Millisecond)))
		if s.Name == "identity_components" {
			rounds = s.Rounds
		}
	}
	metric := func(name string) string {
		for _, m := range res.Metrics {
			if m.Name == name {
				return m.Value
			}
		}
		return "?"
	}
	b.ReportMetric(total.Seconds(), "identity-s")
	b.ReportMetric(float64(rounds), "rounds")
	b.Logf("%s: %s identifiers, %s profiles, %d rounds; %s", typ, metric("identifiers"), metric("profiles"), rounds, strings.Join(steps, ", "))
}
