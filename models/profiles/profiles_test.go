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

// TestRFMIsNtile compares the RFM scores, written without window functions
// and given to each profile by its values, with DuckDB's NTILE(5) over the
// purchasers, tied values sharing the lowest tile of their group.
func TestRFMIsNtile(t *testing.T) {
	c := profilestest.Build(t, "testdata/oracle/rfm")
	counts := c.Table(t, `SELECT count(*) AS purchasers, count(*) FILTER (WHERE r IS NULL) AS null_recency,
    count(*) FILTER (WHERE m IS NULL) AS null_monetary, count(*) FILTER (WHERE rfm_r IS DISTINCT FROM want_r
        OR rfm_f IS DISTINCT FROM want_f OR rfm_m IS DISTINCT FROM want_m) AS wrong
FROM (
    SELECT *, min(nr) OVER (PARTITION BY r) AS want_r, min(nf) OVER (PARTITION BY f) AS want_f, min(nm) OVER (PARTITION BY m) AS want_m
    FROM (
        SELECT rfm_r, rfm_f, rfm_m, rfm_recency AS r, rfm_frequency AS f, rfm_monetary AS m,
            ntile(5) OVER (ORDER BY rfm_recency DESC NULLS FIRST) AS nr,
            ntile(5) OVER (ORDER BY rfm_frequency ASC NULLS LAST) AS nf,
            ntile(5) OVER (ORDER BY rfm_monetary ASC NULLS FIRST) AS nm
        FROM sluice.customer_profiles
        WHERE rfm_frequency > 0
    ) AS tiled
) AS compared`)
	if want := "purchasers  null_recency  null_monetary  wrong\n986         16            19             0\n"; counts != want {
		t.Errorf("RFM scores against NTILE(5):\n%s\nwant\n%s", counts, want)
	}
	if out := c.Table(t, `SELECT count(*) AS scored FROM sluice.customer_profiles WHERE rfm_frequency = 0 AND (rfm_r IS NOT NULL OR rfm IS NOT NULL)`); out != "scored\n0\n" {
		t.Errorf("customers without purchases have scores:\n%s", out)
	}
}
