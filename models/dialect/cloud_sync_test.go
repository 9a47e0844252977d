package dialect

import "testing"

// The sync functions of Snowflake and BigQuery, as the planner and the
// state store call them (their statements in context are in the
// connectors' testdata/state-*.sql, read by cmd/sluice's checker).
func TestCloudSyncRendering(t *testing.T) {
	sf, bq := Snowflake{}, BigQuery{}
	tests := []struct {
		name, got, want string
	}{
		{"snowflake hash", sf.Hash([]string{"a", "b"}), "BITAND(HASH(a, b), 9223372036854775807)"},
		{"bigquery hash", bq.Hash([]string{"a", "b"}), "(FARM_FINGERPRINT(FORMAT('%T|%T', a, b)) & 9223372036854775807)"},
		{"snowflake sample", sf.SampleBy("d.k", "d.k", 3, "d.c <> 0"), "TO_JSON(MIN_BY(IFF(d.c <> 0, d.k, NULL), IFF(d.c <> 0, d.k, NULL), 3))"},
		{"bigquery sample", bq.SampleBy("d.k", "d.k", 3, "d.c <> 0"), "TO_JSON_STRING(ARRAY_AGG(IF(d.c <> 0, d.k, NULL) IGNORE NULLS ORDER BY d.k LIMIT 3))"},
		{"snowflake json", sf.FromJSON([]string{"seq", "key"}), `(SELECT CAST(GET(r.VALUE, 'seq') AS VARCHAR) AS "SEQ", CAST(GET(r.VALUE, 'key') AS VARCHAR) AS "KEY" FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?))) AS r)`},
		{"bigquery json", bq.FromJSON([]string{"seq", "key"}), "(SELECT JSON_VALUE(r, '$.\"seq\"') AS `seq`, JSON_VALUE(r, '$.\"key\"') AS `key` FROM UNNEST(JSON_QUERY_ARRAY(?)) AS r)"},
		{"snowflake is true", sf.IsTrue("m.ok"), "COALESCE(TRY_TO_BOOLEAN(TO_VARCHAR(m.ok)), FALSE)"},
		{"bigquery is true", bq.IsTrue("m.ok"), "COALESCE(LOWER(CAST(m.ok AS STRING)) IN ('1', 'true', 't', 'yes', 'y'), FALSE)"},
		{"snowflake first per key", sf.FirstPerKey("SELECT x FROM t WHERE y", "k", 2), "SELECT x FROM t WHERE y QUALIFY ROW_NUMBER() OVER (PARTITION BY k ORDER BY NULL) <= 2"},
		{"bigquery first per key", bq.FirstPerKey("SELECT x FROM t WHERE y", "k", 2), "SELECT x FROM t WHERE y QUALIFY ROW_NUMBER() OVER (PARTITION BY k) <= 2"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

// Every key transform a mapping may name renders on both warehouses, and
// an unknown one is refused.
func TestCloudKeyTransforms(t *testing.T) {
	type transformer interface {
		KeyTransform(name, expr string) (string, bool)
	}
	want := map[string]map[string]string{
		"snowflake": {"trim": "TRIM(k)", "lower": "LOWER(k)", "upper": "UPPER(k)", "email": "LOWER(TRIM(k))", "sha256": "SHA2(k, 256)", "string": "k"},
		"bigquery":  {"trim": "TRIM(k)", "lower": "LOWER(k)", "upper": "UPPER(k)", "email": "LOWER(TRIM(k))", "sha256": "TO_HEX(SHA256(k))", "string": "k"},
	}
	for name, d := range map[string]transformer{"snowflake": Snowflake{}, "bigquery": BigQuery{}} {
		for tr, w := range want[name] {
			if got, ok := d.KeyTransform(tr, "k"); !ok || got != w {
				t.Errorf("%s %s: got %q, %v; want %q", name, tr, got, ok, w)
			}
		}
		if _, ok := d.KeyTransform("rot13", "k"); ok {
			t.Errorf("%s accepts an unknown transform", name)
		}
	}
}
