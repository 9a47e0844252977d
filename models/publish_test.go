package models_test

import (
	"strings"
	"testing"

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
			writers := map[string]string{}
			for _, s := range plan.Steps {
				for _, n := range s.Publishes {
					if w, dup := writers[n]; dup {
						t.Errorf("%s published by %s and %s", n, w, s.Name)
					}
					writers[n] = s.Name
				}
			}
			want := map[string]string{
				"src_people_duplicate_keys": "source_people",
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
