package models

import (
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/dialect"
)

// SQL written in the project that names a table of the build by its final
// name reads its staging table; anything else is left as written.
func TestStageWrittenRefs(t *testing.T) {
	tests := []struct {
		name, sql, want string
	}{
		{"bare", "SELECT * FROM sluice.customer_profiles", `SELECT * FROM "sluice"."customer_profiles__sluice_next"`},
		{"any case", "SELECT * FROM Sluice.CUSTOMER_PROFILES p", `SELECT * FROM "sluice"."customer_profiles__sluice_next" p`},
		{"quoted", `SELECT * FROM "sluice"."customer_profiles"`, `SELECT * FROM "sluice"."customer_profiles__sluice_next"`},
		{"twice", "SELECT 1 FROM sluice.customer_profiles a JOIN sluice.customer_profiles b ON true",
			`SELECT 1 FROM "sluice"."customer_profiles__sluice_next" a JOIN "sluice"."customer_profiles__sluice_next" b ON true`},
		{"quoted in another case", `SELECT * FROM "sluice"."Customer_Profiles"`, `SELECT * FROM "sluice"."Customer_Profiles"`},
		{"another schema", "SELECT * FROM raw.customer_profiles", "SELECT * FROM raw.customer_profiles"},
		{"three parts", "SELECT * FROM db.sluice.customer_profiles", "SELECT * FROM db.sluice.customer_profiles"},
		{"a column", "SELECT sluice.customer_profiles_count FROM t AS sluice", "SELECT sluice.customer_profiles_count FROM t AS sluice"},
		{"in a string", "SELECT 'sluice.customer_profiles'", "SELECT 'sluice.customer_profiles'"},
		{"in a comment", "SELECT 1 -- sluice.customer_profiles", "SELECT 1 -- sluice.customer_profiles"},
		{"not built", "SELECT * FROM sluice.customer_segment_x", "SELECT * FROM sluice.customer_segment_x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Compiler{P: &config.Project{Schema: "sluice"}, D: dialect.DuckDB{}}
			plan := &Plan{Steps: []Step{
				{Kind: KindProfiles, Publishes: []string{"customer_profiles"}},
				{Kind: KindSegment, SQL: []string{"CREATE TABLE x AS\n" + tc.sql}, Checks: []Check{{SQL: tc.sql}},
					Parts: []Part{{Fragments: []Fragment{{Text: tc.sql + ";\n"}}}}},
				{Kind: KindSource, SQL: []string{tc.sql}, Parts: []Part{{Fragments: []Fragment{{Text: tc.sql}}}}},
				// The compiler's own SQL reads the previous build's tables.
				{Kind: KindChanges, SQL: []string{tc.sql}},
			}}
			c.stageWrittenRefs(plan)
			if got := plan.Steps[1].SQL[0]; got != "CREATE TABLE x AS\n"+tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if got := plan.Steps[1].Checks[0].SQL; got != tc.want {
				t.Errorf("check: got %s, want %s", got, tc.want)
			}
			if got := plan.Steps[2].SQL[0]; got != tc.sql {
				t.Errorf("a source view changed: %s", got)
			}
			if got := plan.Steps[3].SQL[0]; got != tc.sql {
				t.Errorf("the compiler's own SQL changed: %s", got)
			}
		})
	}
}
