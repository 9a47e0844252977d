// Package publishtest checks, on any warehouse, that a build publishes its
// tables only at its end: a build that fails or is cancelled half-way
// leaves the previous build's tables as they were, and a build that
// succeeds leaves no staging table behind.
package publishtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

// Now is the reference time of the builds.
var Now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// people is the seed of the first build; morePeople, of the later ones,
// adds a person and links two, so that a build of it publishes other
// tables than the first.
const (
	people     = "id,email,phone,spent\n1,ana@example.org,+33612345678,10\n2,bo@example.org,,20\n3,cy@example.org,+33698765432,5\n"
	morePeople = people + "4,bo@example.org,+33612345678,7\n5,di@example.org,,1\n"
)

// Project writes a small project into dir: one seed, one source, identity,
// two traits (one of which, when broken, fails at run time, after the
// identity steps) and two segments, one of whose sql reads the profiles
// the build makes. Its tables go in schema, its seed in
// schema_raw.
func Project(t testing.TB, dir, schema string, more, broken bool) *config.Project {
	t.Helper()
	data := people
	if more {
		data = morePeople
	}
	spent := "sum(spent)"
	if broken {
		spent = "sum(no_such_function(spent))"
	}
	files := map[string]string{
		"people.csv": data,
		"sluice.yml": fmt.Sprintf(`version: 1
name: publish
warehouse: { type: duckdb }
schema: %[1]s
state_schema: %[1]s_state
seeds:
  - { name: people, path: people.csv, schema: %[1]s_raw, column_types: { id: varchar, phone: varchar, spent: integer } }
sources:
  - { name: people, table: %[1]s_raw.people, primary_key: id }
identity:
  id_types:
    email: { normalize: email }
    phone: { normalize: phone_e164, default_region: FR }
  edges:
    - { source: people, ids: { email: email, phone: phone } }
traits:
  email: { pick: email, rule: most_recent }
  spent: { from: people, aggregate: "%[2]s" }
segments:
  - { name: spenders, where: "spent >= 10" }
  - { name: everyone, sql: "SELECT profile_id FROM %[1]s.customer_profiles" }
`, schema, spent),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.Load(dir, config.Options{Env: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("loading the project: %v", err)
	}
	return p
}

// Tables are the published tables Run compares between builds.
var Tables = []string{"customer_identity_map", "customer_row_map", "customer_profiles", "customer_segment_spenders"}

// Run builds the project, written into dir, on w, then builds changed data again in ways
// that fail after the identity steps (a trait that errors, a cancelled
// context) and checks that every published table is still the first
// build's, then builds the changed data and checks that it is published
// and that no staging table is left. ListTables lists the tables of a
// schema on w.
func Run(t *testing.T, w warehouse.Warehouse, dir, schema string, listTables func(schema string) []string) {
	ctx := context.Background()
	build := func(ctx context.Context, more, broken bool, opt builder.Options) error {
		plan, err := models.Compile(Project(t, dir, schema, more, broken), w.Dialect(), models.WithNow(Now))
		if err != nil {
			t.Fatal(err)
		}
		_, err = builder.Run(ctx, w, plan, opt)
		return err
	}
	if err := build(ctx, false, false, builder.Options{}); err != nil {
		t.Fatalf("first build: %v", err)
	}
	first := snapshot(t, w, schema)
	failures := []struct {
		name string
		run  func() error
		want string
	}{
		{"a trait fails", func() error { return build(ctx, true, true, builder.Options{}) }, "building profiles"},
		{"cancelled after the identity steps", func() error {
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			return build(cctx, true, false, builder.Options{Progress: func(e builder.Event) {
				if e.Done && e.Step.Name == "identity_row_map" {
					cancel()
				}
			}})
		}, "context canceled"},
		// A staging table that vanishes before the publish step makes it
		// fail: DuckDB's half-way, in its transaction, after the identity
		// tables; ClickHouse's before its RENAME, which would otherwise
		// stop half-way and leave the tables moved so far.
		{"the publish step fails", func() error {
			return build(ctx, true, false, builder.Options{Progress: func(e builder.Event) {
				if e.Done && e.Step.Name == "segment_membership" {
					staged := w.Dialect().Table(schema, models.StagingName("customer_profiles"))
					if err := w.Exec(ctx, w.Dialect().DropTable(staged)); err != nil {
						t.Error(err)
					}
				}
			}})
		}, "building publish"},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			err := f.run()
			if err == nil || !strings.Contains(err.Error(), f.want) {
				t.Fatalf("build: got error %v, want one saying %q", err, f.want)
			}
			if got := snapshot(t, w, schema); !equal(got, first) {
				t.Errorf("a failed build changed the published tables:\n got %v\nwant %v", got, first)
			}
		})
	}
	if err := build(ctx, true, false, builder.Options{}); err != nil {
		t.Fatalf("build after the failures: %v", err)
	}
	if got := snapshot(t, w, schema); equal(got, first) {
		t.Errorf("the build of changed data published the first build's tables: %v", got)
	}
	for _, name := range listTables(schema) {
		if strings.Contains(name, models.StagingSuffix) || strings.Contains(name, "__sluice_old") {
			t.Errorf("table %s left behind after a successful build", name)
		}
	}
}

// snapshot reads every row of the compared tables, as sorted text.
func snapshot(t *testing.T, w warehouse.Warehouse, schema string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range Tables {
		q := "SELECT * FROM " + w.Dialect().Table(schema, table)
		rows, err := w.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("reading %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprint(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		sort.Strings(out[table])
	}
	return out
}

func equal(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv := b[k]
		if len(av) != len(bv) {
			return false
		}
		for i := range av {
			if av[i] != bv[i] {
				return false
			}
		}
	}
	return true
}
