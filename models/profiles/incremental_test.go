package profiles_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/profiles"
	"github.com/sluicehq/sluice/models/profiles/profilestest"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

func TestCalendarDays(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		from, to time.Time
		want     int
	}{
		{time.Date(2026, 3, 28, 23, 0, 0, 0, paris), time.Date(2026, 3, 29, 0, 30, 0, 0, paris), 1},  // 1h30 later, next day
		{time.Date(2026, 3, 28, 0, 0, 0, 0, paris), time.Date(2026, 3, 29, 23, 59, 0, 0, paris), 1},  // across the 23-hour day
		{time.Date(2026, 10, 24, 12, 0, 0, 0, paris), time.Date(2026, 10, 26, 1, 0, 0, 0, paris), 2}, // across the 25-hour day
		{time.Date(2026, 3, 1, 10, 0, 0, 0, paris), time.Date(2026, 3, 1, 23, 0, 0, 0, paris), 0},
		{time.Date(2026, 3, 2, 1, 0, 0, 0, paris), time.Date(2026, 3, 1, 23, 0, 0, 0, paris), -1},
	}
	for _, tc := range tests {
		if got := profiles.CalendarDays(tc.from, tc.to); got != tc.want {
			t.Errorf("CalendarDays(%s, %s) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}

// TestIncrementalSQL compiles the incremental statements of every golden
// case for every dialect: each string lexes, and the DuckDB statements of
// the column picks case read the previous build's tables, write the
// staging table and restrict every pass to the affected profiles.
func TestIncrementalSQL(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	now := profilestest.Now
	for _, f := range dirs {
		dir := filepath.Dir(f)
		p, err := config.Load(dir, config.Options{Env: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range dialect.Names() {
			d, err := dialect.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			var c *models.Compiler
			if _, err := models.Compile(p, d, models.WithNow(now), func(cc *models.Compiler) { c = cc }); err != nil {
				t.Fatalf("%s, %s: %v", dir, name, err)
			}
			stmts, err := profiles.IncrementalStatements(c, now.Add(-36*time.Hour))
			if err != nil {
				t.Fatalf("%s, %s: %v", dir, name, err)
			}
			for _, q := range stmts {
				if _, err := sqlfrag.Statements(sqlfrag.For(name), q); err != nil {
					t.Errorf("%s, %s: %v\n%s", dir, name, err, q)
				}
			}
			if name != "duckdb" || filepath.Base(dir) != "column_picks" {
				continue
			}
			all := strings.Join(stmts, "\n")
			for _, want := range []string{
				`"sluice"."customer_profiles__sluice_next"`,             // written
				`FROM "sluice"."customer_profiles"`,                     // kept rows
				`FROM "sluice"."customer_identity_map"`,                 // the previous map, diffed
				`WHERE source = 'web_events' AND profile_id IN (SELECT`, // a restricted pass
				`TIMESTAMP '2025-06-29 12:00:00' - INTERVAL 30 DAY`,     // the window's previous edge
			} {
				if !strings.Contains(all, want) {
					t.Errorf("the incremental statements lack %s:\n%s", want, all)
				}
			}
		}
	}
	if _, err := profiles.IncrementalStatements(&models.Compiler{P: &config.Project{Sections: config.Sections{Identity: &config.Identity{}}}, D: dialect.DuckDB{}}, now); err == nil {
		t.Error("no error without the reference times")
	}
}

// TestRescores: an in-place build updates the rfm columns of the kept
// profiles unless an expression trait may read one of them.
func TestRescores(t *testing.T) {
	now := profilestest.Now
	prev := models.Previous{Now: now.Add(-time.Hour), Marks: map[string]string{}, Unchanged: map[string]bool{}}
	tests := []struct {
		name, dialect, expression string
		want                      bool
	}{
		{"expression reads a score", "duckdb", "rfm_r >= 4 AND rfm_f >= 4", false},
		{"expression reads a code, quoted and in capitals", "duckdb", `"RFM_JUNE" = '555'`, false},
		{"expression reads neither", "duckdb", "coalesce(1, 0) > 0", true},
		{"no expression", "duckdb", "", true},
		{"not published in place", "clickhouse-18", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := config.Load("testdata/rfm", config.Options{Env: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			var traits []config.Trait
			for _, tr := range p.Traits {
				if tr.Name == "loyal" {
					if tc.expression == "" {
						continue
					}
					tr.Expression = tc.expression
				}
				traits = append(traits, tr)
			}
			p.Traits = traits
			d, err := dialect.Get(tc.dialect)
			if err != nil {
				t.Fatal(err)
			}
			var c *models.Compiler
			if _, err := models.Compile(p, d, models.WithNow(now), models.Incrementally(prev), func(cc *models.Compiler) { c = cc }); err != nil {
				t.Fatal(err)
			}
			if got := profiles.Rescores(c); got != tc.want {
				t.Errorf("Rescores = %v, want %v", got, tc.want)
			}
			want := []string{"rfm", "rfm_recency", "rfm_r", "rfm_f", "rfm_m", "rfm_june", "rfm_june_recency", "rfm_june_r", "rfm_june_f", "rfm_june_m"}
			if got := profiles.RescoredColumns(c); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("RescoredColumns = %v, want %v", got, want)
			}
		})
	}
}
