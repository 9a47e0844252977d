package config

import (
	"strings"
	"testing"
)

// Snowflake and BigQuery settings are checked at validate time, with the
// position of the warehouse type, before anything connects.
func TestCloudWarehouseValidation(t *testing.T) {
	tests := []struct {
		name      string
		warehouse string
		env       map[string]string
		want      []string
	}{
		{"snowflake complete", `{ type: snowflake, account: org-acct, user: SLUICE, password: "${SF_PW}", database: ANALYTICS, warehouse: WH, role: R }`,
			map[string]string{"SF_PW": "pw"}, nil},
		{"snowflake dsn alone", `{ type: snowflake, dsn: "${SF_DSN}" }`, map[string]string{"SF_DSN": "u:p@acct/db"}, nil},
		{"snowflake key pair", `{ type: snowflake, account: a, user: u, database: d, private_key_file: k.p8 }`, nil, nil},
		{"snowflake missing parts", `{ type: snowflake, user: u }`, nil, []string{
			"sluice.yml:3:20: snowflake warehouse needs account (or a dsn)",
			"sluice.yml:3:20: snowflake warehouse needs database (or a dsn)",
			"sluice.yml:3:20: snowflake warehouse needs password or private_key_file (or a dsn)",
		}},
		{"snowflake two credentials", `{ type: snowflake, account: a, user: u, database: d, password: "${SF_PW}", private_key_file: k.p8 }`,
			map[string]string{"SF_PW": "pw"}, []string{"give either password or private_key_file, not both"}},
		{"snowflake literal password", `{ type: snowflake, account: a, user: u, database: d, password: hunter2 }`, nil, []string{"${VAR}"}},
		{"bigquery complete", `{ type: bigquery, project: acme, dataset: raw, location: EU, credentials_file: sa.json }`, nil, nil},
		{"bigquery without project", `{ type: bigquery, dataset: raw }`, nil, []string{"sluice.yml:3:20: bigquery warehouse needs project (the Google Cloud project id)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, map[string]string{"sluice.yml": "version: 1\nname: t\nwarehouse: " + tc.warehouse + "\n"}, tc.env)
			joined := strings.Join(got, "\n")
			if len(tc.want) == 0 && len(got) > 0 {
				t.Fatalf("unexpected problems:\n%s", joined)
			}
			for _, w := range tc.want {
				if !strings.Contains(joined, w) {
					t.Errorf("want a problem containing %q, got:\n%s", w, joined)
				}
			}
			if strings.Contains(joined, "hunter2") {
				t.Errorf("a problem echoes the password:\n%s", joined)
			}
		})
	}
}
