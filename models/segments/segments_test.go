package segments_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/profiles/profilestest"
	"github.com/sluicehq/sluice/models/segments"

	_ "github.com/sluicehq/sluice/models/profiles"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden builds every case under testdata in DuckDB and compares the
// compiled segment steps (segments.sql) and the build's outcome: metrics,
// data warnings and every membership (segments.txt).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden cases")
	}
	for _, f := range files {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c := profilestest.Build(t, dir)
			comp := &models.Compiler{P: c.Project, D: dialect.DuckDB{}}

			var sql strings.Builder
			for _, s := range c.Plan.Steps {
				if s.Kind == models.KindSegment {
					sql.WriteString(s.File(c.Plan.Dialect))
					sql.WriteString("\n")
				}
			}
			profilestest.Golden(t, filepath.Join(dir, "segments.sql"), sql.String(), *update)

			var out strings.Builder
			out.WriteString("# metrics\n")
			for _, m := range c.Result.Metrics {
				fmt.Fprintf(&out, "%s = %s\n", m.Name, m.Value)
			}
			out.WriteString("\n# warnings\n")
			for _, w := range c.Result.Warnings {
				fmt.Fprintf(&out, "%s: %d %s\n", w.Check, w.Count, w.Label)
			}
			out.WriteString("\n# " + segments.MembershipTable(comp) + "\n")
			out.WriteString(c.Table(t, `SELECT segment, string_agg(profile_id, ' ' ORDER BY profile_id) AS members
FROM `+segments.MembershipTable(comp)+`
GROUP BY segment
ORDER BY segment`))
			for _, s := range c.Project.Segments {
				// Each segment's own table holds the same members.
				got := c.Table(t, `SELECT count(*) AS n FROM (
    SELECT profile_id FROM `+segments.Table(comp, s.Name)+`
    EXCEPT ALL
    SELECT profile_id FROM `+segments.MembershipTable(comp)+` WHERE segment = '`+s.Name+`'
) AS d`)
				if got != "n\n0\n" {
					t.Errorf("segment %s: its table and the membership table differ", s.Name)
				}
			}
			profilestest.Golden(t, filepath.Join(dir, "segments.txt"), out.String(), *update)
		})
	}
}

func TestOrder(t *testing.T) {
	segs := []config.Segment{
		{Name: "casual", Exclude: []string{"champions", "loyal"}},
		{Name: "vip"},
		{Name: "lapsed", Exclude: []string{"vip"}},
		{Name: "loyal", Group: "g", Priority: 2},
		{Name: "at_risk", Group: "g", Priority: 2},
		{Name: "champions", Group: "g", Priority: 1},
	}
	var got []string
	for _, s := range segments.Order(segs) {
		got = append(got, s.Name)
	}
	want := "champions at_risk loyal casual vip lapsed"
	if strings.Join(got, " ") != want {
		t.Errorf("order = %s, want %s", strings.Join(got, " "), want)
	}
}

// TestInvalid checks the problems validation reports for segment mistakes.
func TestInvalid(t *testing.T) {
	dir := "testdata/invalid/segments"
	profilestest.Golden(t, filepath.Join(dir, "problems.txt"), profilestest.Problems(t, dir), *update)
}
