package profiles_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/profiles"
	"github.com/sluicehq/sluice/models/profiles/profilestest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden builds every case under testdata in DuckDB and compares the
// compiled SQL (profiles.sql) and the profiles table (profiles.txt) with
// their golden files.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := profilestest.Build(t, dir)
			profilestest.Golden(t, filepath.Join(dir, "profiles.sql"), c.Step(t, "profiles"), *update)
			got := c.Vertical(t, `SELECT * FROM sluice.customer_profiles ORDER BY profile_id`)
			profilestest.Golden(t, filepath.Join(dir, "profiles.txt"), got, *update)
		})
	}
}

// TestInvalid checks the problems validation reports for trait mistakes.
func TestInvalid(t *testing.T) {
	dir := "testdata/invalid/traits"
	profilestest.Golden(t, filepath.Join(dir, "problems.txt"), profilestest.Problems(t, dir), *update)
}

// TestColumnChecks checks that traits naming columns their source lacks are
// reported where they are written, with a suggestion.
func TestColumnChecks(t *testing.T) {
	dir := "testdata/invalid/columns"
	profilestest.Golden(t, filepath.Join(dir, "problems.txt"), profilestest.ColumnProblems(t, dir), *update)
}

// TestWarehouseClock builds with the warehouse's clock (no reference time)
// in a project time zone: windows and recency then follow the build time.
func TestWarehouseClock(t *testing.T) {
	dir := "testdata/rfm"
	p, err := config.Load(dir, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.TimeZone = "Europe/Paris"
	plan, err := models.Compile(p, dialect.DuckDB{})
	if err != nil {
		t.Fatal(err)
	}
	sql := profilestest.StepFile(t, plan, "profiles")
	if want := "(current_timestamp AT TIME ZONE 'Europe/Paris')"; !strings.Contains(sql, want) {
		t.Fatalf("compiled SQL lacks %s:\n%s", want, sql)
	}
	c := profilestest.Run(t, dir, p, plan)
	// c01's last purchase was 2025-06-30: recency is the days since then,
	// give or take the day turning between Paris and UTC.
	want := int(time.Since(time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	out := c.Table(t, `SELECT rfm_recency FROM sluice.customer_profiles WHERE profile_id = 'p01'`)
	var got int
	if _, err := fmt.Sscanf(out, "rfm_recency\n%d\n", &got); err != nil {
		t.Fatalf("reading recency from %q: %v", out, err)
	}
	if got < want-1 || got > want+1 {
		t.Errorf("recency = %d, want %d (± 1)", got, want)
	}
}

func TestAggregateExpr(t *testing.T) {
	tests := []struct {
		agg, filter, want string
	}{
		{"count(*)", "", "count(*)"},
		{"count(*)", "x > 1", "count(CASE WHEN x > 1 THEN 1 END)"},
		{"COUNT(DISTINCT sku)", "", "count(DISTINCT sku)"},
		{"count(distinct sku)", "ok", "count(DISTINCT CASE WHEN ok THEN sku END)"},
		{"sum(amount * qty)", "ok", "sum(CASE WHEN ok THEN amount * qty END)"},
		{"avg( amount )", "", "avg(amount)"},
	}
	for _, tc := range tests {
		a, ok := config.ParseAggregate(tc.agg)
		if !ok {
			t.Fatalf("%s: not parsed", tc.agg)
		}
		if got := profiles.AggregateExpr(a, tc.filter); got != tc.want {
			t.Errorf("%s with %q = %s, want %s", tc.agg, tc.filter, got, tc.want)
		}
	}
}
