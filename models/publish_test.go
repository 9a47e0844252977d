package models_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder/publishtest"
	"github.com/sluicehq/sluice/models"
	_ "github.com/sluicehq/sluice/models/all"
	"github.com/sluicehq/sluice/models/dialect"
)

// On every dialect, each table a build publishes is written under its
// staging name by exactly one step, which Publishes names; the publish
// step comes last; the summary reads final names only.
func TestCompileStagesPublishedTables(t *testing.T) {
	p := publishtest.Project(t, t.TempDir(), "pub", false, false)
	for _, name := range []string{"duckdb", "clickhouse", "clickhouse-18", "snowflake", "bigquery"} {
		t.Run(name, func(t *testing.T) {
			d, err := dialect.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := models.Compile(p, d)
			if err != nil {
				t.Fatal(err)
			}
			last := plan.Steps[len(plan.Steps)-1]
			if last.Kind != models.KindPublish || last.Name != models.StepPublish {
				t.Fatalf("last step %s (%s), want the publish step", last.Name, last.Kind)
			}
			writers := publishers(t, plan)
			want := map[string]string{
				"src_people_duplicate_keys": "keys_people",
				"customer_identity_map":     "identity_map",
				"customer_row_map":          "identity_row_map",
				"customer_profiles":         "profiles",
				"customer_segment_spenders": "segment_spenders",
				"customer_segment_everyone": "segment_everyone",
			}
			for n, step := range want {
				if writers[n] != step {
					t.Errorf("%s published by %q, want %q", n, writers[n], step)
				}
			}
			for n := range writers {
				staged := d.Table("pub", models.StagingName(n))
				if !strings.Contains(strings.Join(last.SQL, "\n"), staged) {
					t.Errorf("the publish step does not publish %s", staged)
				}
			}
			// The segment's sql, written with the final name, reads the
			// profiles of the build.
			for _, s := range plan.Steps {
				if s.Name == "segment_everyone" && strings.Count(strings.Join(s.Strings(), "\n"), d.Table("pub", models.StagingName("customer_profiles"))) < 2 {
					t.Errorf("segment everyone does not read the profiles of the build:\n%s", strings.Join(s.Strings(), "\n"))
				}
			}
			for _, m := range plan.Report {
				if strings.Contains(strings.ToLower(m.SQL), "__sluice_next") {
					t.Errorf("summary %q reads a staging table: %s", m.Name, m.SQL)
				}
			}
			for _, s := range plan.Steps {
				for _, q := range s.Strings() {
					if strings.Contains(q, d.Table("pub", models.StagingName("src_people"))) {
						t.Errorf("step %s stages the source view", s.Name)
					}
				}
			}
		})
	}
}

// ReadingPublished points every string of a step, checks and loop
// included, at the published tables, and keeps the statement counts.
func TestReadingPublished(t *testing.T) {
	d := dialect.DuckDB{}
	staged, final := d.Table("s", models.StagingName("m")), d.Table("s", "m")
	multi := "DROP TABLE x; SELECT * FROM " + staged
	s := models.Step{
		SQL:        []string{"SELECT * FROM " + staged, multi},
		Loop:       &models.Loop{Body: []string{"SELECT 1 FROM " + staged}, Changed: "SELECT count(*) FROM " + staged},
		Finally:    []string{"SELECT 2 FROM " + staged},
		Checks:     []models.Check{{SQL: "SELECT 3 FROM " + staged}},
		Statements: map[string]int{multi: 2},
	}
	tests := []struct {
		name  string
		names []string
		want  string // the table every string reads
	}{
		{"published", []string{"m"}, final},
		{"another table", []string{"other"}, staged},
		{"none", nil, staged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.ReadingPublished(d, "s", tc.names)
			for _, q := range got.Strings() {
				if !strings.HasSuffix(q, tc.want) {
					t.Errorf("%q does not read %s", q, tc.want)
				}
			}
			if n := got.Statements["DROP TABLE x; SELECT * FROM "+tc.want]; n != 2 {
				t.Errorf("statement count %d, want 2: %v", n, got.Statements)
			}
		})
	}
	if !strings.HasSuffix(s.SQL[0], staged) || !strings.HasSuffix(s.Loop.Changed, staged) {
		t.Error("ReadingPublished changed the step it copied")
	}
}

// An incremental build publishes the identity tables, the profiles, the
// segments whose where reads only the profile, and the snapshots in place where the warehouse can (DuckDB): the step computing
// each writes a view under the staging name and the publish step deletes
// and inserts rows; elsewhere every table is written whole, as in a full
// build.
func TestCompileIncrementalPublishesInPlace(t *testing.T) {
	p := publishtest.Project(t, t.TempDir(), "pub", false, false)
	prev := models.Previous{Now: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), Marks: map[string]string{}, Unchanged: map[string]bool{}}
	inPlace := []string{"customer_identity_map", "customer_row_map", "customer_identity_rows", "customer_identity_edges", "customer_profiles", "src_people_snapshot",
		"customer_segment_spenders", "customer_segment_membership"}
	for _, name := range []string{"duckdb", "clickhouse-18", "snowflake", "bigquery"} {
		t.Run(name, func(t *testing.T) {
			d, err := dialect.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := models.Compile(p, d, models.WithNow(prev.Now.Add(time.Hour)), models.Incrementally(prev))
			if err != nil {
				t.Fatal(err)
			}
			deltas := plan.Deltas()
			publish := strings.Join(plan.Steps[len(plan.Steps)-1].SQL, "\n")
			for _, n := range inPlace {
				_, ok := deltas[n]
				if ok != (name == "duckdb") {
					t.Errorf("%s published in place: %v", n, ok)
				}
				if ok != strings.Contains(publish, "DELETE FROM "+d.Table("pub", n)+" WHERE ") {
					t.Errorf("the publish step deletes from %s: %v, want %v:\n%s", n, !ok, ok, publish)
				}
				view := "CREATE OR REPLACE VIEW " + d.Table("pub", models.StagingName(n))
				found := false
				for _, s := range plan.Steps {
					found = found || strings.Contains(strings.Join(s.Strings(), "\n"), view)
				}
				if found != ok {
					t.Errorf("a step creates the view of %s: %v, want %v", n, found, ok)
				}
			}
			if _, ok := deltas["customer_segment_everyone"]; ok {
				t.Error("a segment written as a query is published in place")
			}
			publishers(t, plan)
		})
	}
}

// publishers maps each table the plan publishes to the step publishing it,
// and fails the test when two steps publish one table.
func publishers(t *testing.T, plan *models.Plan) map[string]string {
	t.Helper()
	writers := map[string]string{}
	for _, s := range plan.Steps {
		for _, n := range s.Publishes {
			if w, dup := writers[n]; dup {
				t.Errorf("%s published by %s and %s", n, w, s.Name)
			}
			writers[n] = s.Name
		}
	}
	return writers
}
