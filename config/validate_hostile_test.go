package config

import (
	"strings"
	"testing"
)

// withConstrainedDestination registers, for one test, a destination type
// whose options carry every kind of constraint, so that the spec checks are
// tested without importing a connector (and without it reaching the schema
// that other tests compare).
func withConstrainedDestination(t *testing.T) {
	t.Cleanup(func() {
		registryMu.Lock()
		delete(destinations, "constrained")
		registryMu.Unlock()
	})
	RegisterDestination(ComponentSpec{Type: "constrained", Fields: []FieldSpec{
		{Name: "url", Kind: String, URL: true},
		{Name: "format", Kind: String, Enum: []string{"jsonl", "csv"}},
		{Name: "batch_size", Kind: Int, Min: Bound(1), Max: Bound(500)},
		{Name: "rate", Kind: Number, Positive: true, Max: Bound(1000)},
		{Name: "share", Kind: Number, Positive: true, Max: Bound(1)},
		{Name: "retries", Kind: Int, Min: Bound(0)},
		{Name: "timeout", Kind: DurationKind},
		{Name: "revision", Kind: String, Pattern: `\d{4}-\d{2}-\d{2}`, PatternHint: "a date, YYYY-MM-DD"},
		{Name: "headers", Kind: StrMap, Headers: true},
	}})
}

// TestValidateRefusesHostileValues checks that every class of bad value is
// refused by Load (what `sluice validate` runs), at the value's position,
// all in one pass.
func TestValidateRefusesHostileValues(t *testing.T) {
	withConstrainedDestination(t)
	const root = minimalRoot
	identity := func(idTypes, edges string) string {
		return "sources:\n  - {name: crm, table: crm, primary_key: id}\nidentity:\n  id_types:\n" + idTypes + "  edges:\n" + edges
	}
	dest := func(opts string) string {
		return "destinations:\n  - {name: d, type: constrained, " + opts + "}\n"
	}
	sync := func(opts string) string {
		return "sources:\n  - {name: crm, table: crm, primary_key: id}\ndestinations:\n  - {name: d, type: constrained}\nsyncs:\n  - {name: s, from: source.crm, to: d, " + opts + "}\n"
	}
	tests := []struct {
		class, name string
		files       map[string]string
		env         map[string]string
		want        []string
	}{
		// An empty or null sluice.yml: each required key is reported.
		{"empty file", "empty", map[string]string{"sluice.yml": ""}, nil, []string{
			"sluice.yml:1:1: missing required key `version`", "sluice.yml:1:1: missing required key `name`", "sluice.yml:1:1: missing required key `warehouse`"}},
		{"empty file", "null", map[string]string{"sluice.yml": "null\n"}, nil, []string{
			"sluice.yml:1:1: missing required key `version`", "sluice.yml:1:1: missing required key `name`", "sluice.yml:1:1: missing required key `warehouse`"}},
		{"empty file", "tilde and comments", map[string]string{"sluice.yml": "# nothing yet\n~\n"}, nil, []string{
			"sluice.yml:1:1: missing required key `version`", "sluice.yml:1:1: missing required key `name`", "sluice.yml:1:1: missing required key `warehouse`"}},
		{"empty file", "version zero", map[string]string{"sluice.yml": "version: 0\nname: t\nwarehouse: {type: duckdb}\n"}, nil, []string{
			"sluice.yml:1:10: unsupported version 0: this sluice reads version 1"}},

		// Names that are empty strings.
		{"empty names", "project name", map[string]string{"sluice.yml": "version: 1\nname: \"\"\nwarehouse: {type: duckdb}\n"}, nil, []string{
			"sluice.yml:2:7: `name` must not be empty"}},
		{"empty names", "source and sync", map[string]string{"sluice.yml": root, "p.yml": "sources:\n  - {name: \"\", table: t, primary_key: id}\n" +
			"destinations:\n  - {name: d, type: constrained}\nsyncs:\n  - {name: s, from: profiles, to: \"\"}\n"}, nil, []string{
			"p.yml:2:12: `name` must not be empty", "p.yml:6:21: from: profiles needs an identity section", "p.yml:6:35: `to` must not be empty"}},
		{"empty names", "trait and id type keys", map[string]string{"sluice.yml": root, "p.yml": identity("    \"\": {}\n", "    - {source: crm, ids: {x: email}}\n") +
			"traits:\n  \"\": {expression: \"1\"}\n"}, nil, []string{
			"p.yml:5:5: empty name: give it a name", "p.yml:7:27: unknown id type `x` (declared: )", "p.yml:9:3: empty name: give it a name"}},
		{"empty names", "segment, destination, seed column", map[string]string{"sluice.yml": root, "data.csv": "a\n1\n", "p.yml": "segments:\n  - {name: \"\", where: \"true\"}\n" +
			"destinations:\n  - {name: \"\", type: constrained}\nseeds:\n  - {name: s, path: data.csv, column_types: {\"\": varchar}}\n"}, nil, []string{
			"p.yml:2:12: `name` must not be empty", "p.yml:4:12: `name` must not be empty", "p.yml:6:46: column_types has an empty column name"}},

		// Numbers: negative, zero where meaningless, NaN, infinite, absurd.
		{"numbers", "warehouse", map[string]string{"sluice.yml": "version: 1\nname: t\nwarehouse: {type: duckdb, threads: 0, memory_limit: -4GB}\n"}, nil, []string{
			"sluice.yml:3:36: invalid threads 0: must be between 1 and 1024", "sluice.yml:3:53: invalid memory_limit \"-4GB\": write a size such as 512MB or 4GB"}},
		{"numbers", "memory limits", map[string]string{"sluice.yml": "version: 1\nname: t\nwarehouse: {type: duckdb, memory_limit: 0GB, threads: 99999}\n"}, nil, []string{
			"sluice.yml:3:41: invalid memory_limit \"0GB\": must be at least 1MB", "sluice.yml:3:55: invalid threads 99999: must be between 1 and 1024"}},
		{"numbers", "huge memory and port", map[string]string{"sluice.yml": "version: 1\nname: t\nwarehouse: {type: clickhouse, memory_limit: 99999TB, port: 70000}\n"}, nil, []string{
			"sluice.yml:3:45: invalid memory_limit \"99999TB\": must be at most 1000TB", "sluice.yml:3:60: invalid port 70000: must be between 1 and 65535"}},
		{"numbers", "sync rate and batch", map[string]string{"sluice.yml": root, "p.yml": sync("rate: NaN, batch_size: -5")}, nil, []string{
			"p.yml:6:46: `rate`: expected a finite number, got \"NaN\"", "p.yml:6:63: invalid batch_size -5: must be between 1 and 1000000"}},
		{"numbers", "infinite rate, rounds, limit", map[string]string{"sluice.yml": root, "p.yml": identity("    email: {limit_per_profile: -3}\n", "    - {source: crm, ids: {email: email}}\n") +
			"  max_rounds: 0\n" + "syncs:\n  - {name: s, from: source.crm, to: d, rate: inf}\ndestinations:\n  - {name: d, type: constrained}\n"}, nil, []string{
			"p.yml:5:32: invalid limit_per_profile -3: must be between 1 and 1000000", "p.yml:8:15: invalid max_rounds 0: must be between 1 and 10000",
			"p.yml:10:46: `rate`: expected a finite number, got \"inf\""}},
		{"numbers", "daemon and alerts", map[string]string{"sluice.yml": root + "daemon: {concurrency: -1}\n", "p.yml": "alerts:\n  - {name: a, url: \"${U}\", stale_intervals: 0, rejected_share: NaN%}\n"},
			map[string]string{"U": "https://example.com/hook"}, []string{
				"p.yml:2:45: invalid stale_intervals 0: must be between 1 and 1000", "p.yml:2:64: invalid rejected_share `NaN%`: write a percentage between 0% and 100%, such as 5%",
				"sluice.yml:4:23: invalid concurrency -1: must be between 1 and 1024"}},
		{"numbers", "windows and retention", map[string]string{"sluice.yml": root, "p.yml": "traits:\n  a: {expression: \"1\", window: -90d}\n  b: {expression: \"1\", window: 0d}\n" +
			"  c: {expression: \"1\", window: 99999d}\n"}, nil, []string{
			"p.yml:2:32: invalid value \"-90d\": write a whole number and a unit (s, m, h, d, w), e.g. 90d",
			"p.yml:3:32: invalid value \"0d\": write a positive whole number and a unit, e.g. 90d",
			"p.yml:4:32: invalid value \"99999d\": at most 3650d (ten years)"}},
		{"numbers", "absurd rate", map[string]string{"sluice.yml": root, "p.yml": sync("rate: 1e300")}, nil, []string{
			"p.yml:6:46: invalid rate 1e+300: must be at most 100000"}},
		{"numbers", "max_removals", map[string]string{"sluice.yml": root, "p.yml": sync("max_removals: NaN%")}, nil, []string{
			"p.yml:6:54: invalid max_removals `NaN%`: write a percentage between 0% and 100%, such as 20%"}},
		{"numbers", "component options", map[string]string{"sluice.yml": root, "p.yml": dest("batch_size: 0, rate: -1, share: 1.5, retries: -2, timeout: 0s")}, nil, []string{
			"p.yml:2:46: invalid batch_size \"0\": must be between 1 and 500", "p.yml:2:55: invalid rate \"-1\": must be above 0",
			"p.yml:2:66: invalid share \"1.5\": must be at most 1", "p.yml:2:80: invalid retries \"-2\": must be at least 0",
			"p.yml:2:93: invalid timeout \"0s\": write a positive whole number and a unit, e.g. 90d"}},
		{"numbers", "component NaN and infinity", map[string]string{"sluice.yml": root, "p.yml": dest("rate: NaN, share: Infinity, batch_size: 1e9")}, nil, []string{
			"p.yml:2:40: invalid rate \"NaN\": must be a finite number", "p.yml:2:52: invalid share \"Infinity\": must be a finite number",
			"p.yml:2:74: batch_size: expected a whole number, got a number"}},

		// Schedules, with the position of the value.
		{"schedules", "negative every", map[string]string{"sluice.yml": root, "p.yml": sync("schedule: \"@every -5m\"")}, nil, []string{
			"p.yml:6:50: invalid schedule \"@every -5m\": the interval must be at least 1s"}},
		{"schedules", "zero and sub-second every", map[string]string{"sluice.yml": root, "p.yml": sync("schedule: \"@every 0s\"}\n  - {name: t, from: source.crm, to: d, schedule: \"@every 1500ms\"")}, nil, []string{
			"p.yml:6:50: invalid schedule \"@every 0s\": the interval must be at least 1s",
			"p.yml:7:50: invalid schedule \"@every 1500ms\": the interval must be a whole number of seconds"}},
		{"schedules", "malformed cron", map[string]string{"sluice.yml": root, "p.yml": sync("schedule: \"61 * * * *\"}\n  - {name: t, from: source.crm, to: d, schedule: \"* * *\"")}, nil, []string{
			"p.yml:6:50: invalid schedule \"61 * * * *\": end of range (61) above maximum (59): 61 (write five cron fields such as */15 * * * *, or @hourly, @daily, @every 15m)",
			"p.yml:7:50: invalid schedule \"* * *\": expected exactly 5 fields, found 3: [* * *] (write five cron fields such as */15 * * * *, or @hourly, @daily, @every 15m)"}},
		{"schedules", "unknown descriptor", map[string]string{"sluice.yml": root, "p.yml": sync("schedule: \"@everyday\"")}, nil, []string{
			"p.yml:6:50: invalid schedule \"@everyday\": write @every and a Go duration such as 15m or 1h30m"}},

		// URLs: absolute http(s) with a host, no spaces, no literal password.
		{"urls", "scheme and host", map[string]string{"sluice.yml": root, "p.yml": dest("url: \"ftp://example.com/x\"}\n  - {name: e, type: constrained, url: \"https://\"")}, nil, []string{
			"p.yml:2:39: invalid url \"ftp://example.com/x\": write an absolute http:// or https:// address",
			"p.yml:3:39: invalid url \"https://\": the address has no host name"}},
		{"urls", "spaces, password, port", map[string]string{"sluice.yml": root, "p.yml": dest("url: \"http://exa mple.com\"}\n  - {name: e, type: constrained, url: \"https://me:hunter2@example.com\"}\n" +
			"  - {name: f, type: constrained, url: \"http://example.com:99999/\"")}, nil, []string{
			"p.yml:2:39: invalid url \"http://exa mple.com\": an address has no spaces (encode them as %20)",
			"p.yml:3:39: invalid url \"https://me:xxxxx@example.com\": the address carries a password: pass credentials as a ${VAR} reference (bearer_token, headers), never in the file",
			"p.yml:4:39: invalid url \"http://example.com:99999/\": the port must be between 1 and 65535"}},
		{"urls", "from the environment, never echoed", map[string]string{"sluice.yml": root, "p.yml": dest("url: \"${HOOK}\"") +
			"alerts:\n  - {name: a, url: \"${ALERT}\"}\n"}, map[string]string{"HOOK": "relative/path", "ALERT": "mailto:someone"}, []string{
			"p.yml:2:39: invalid url (value from environment): write an absolute http:// or https:// address",
			"p.yml:4:20: invalid url (value from environment): write an absolute http:// or https:// address"}},

		{"urls", "request headers", map[string]string{"sluice.yml": root, "p.yml": dest("headers: {\"X Api\": a, \"X-Ok\": [b], \"X-Line\": \"v\\r\\nHost: evil\"}")}, nil, []string{
			"p.yml:2:44: headers: invalid header name \"X Api\": use letters, digits and - (such as X-Api-Key)",
			"p.yml:2:64: headers: header \"X-Ok\" needs a value (a string)",
			"p.yml:2:79: headers: the value of header \"X-Line\" holds a line break"}},

		// Values of a given shape.
		{"patterns", "revision dates", map[string]string{"sluice.yml": root, "p.yml": dest("revision: 2024-1-1}\n  - {name: e, type: constrained, revision: \"2024-01-01; x\"}\n  - {name: f, type: constrained, revision: 20240101")}, nil, []string{
			"p.yml:2:44: invalid revision \"2024-1-1\": write a date, YYYY-MM-DD",
			"p.yml:3:44: invalid revision \"2024-01-01; x\": write a date, YYYY-MM-DD",
			"p.yml:4:44: invalid revision \"20240101\": write a date, YYYY-MM-DD"}},

		// Unknown enum values, with a suggestion.
		{"enums", "component option", map[string]string{"sluice.yml": root, "p.yml": dest("format: jsnol")}, nil, []string{
			"p.yml:2:42: invalid format \"jsnol\": must be one of jsonl, csv; did you mean `jsonl`?"}},
		{"enums", "destination type", map[string]string{"sluice.yml": root, "p.yml": "destinations:\n  - {name: d, type: constraind}\n"}, nil, []string{
			"p.yml:2:21: unknown destination type `constraind`; did you mean `constrained`? (available: constrained)"}},
		{"enums", "transform", map[string]string{"sluice.yml": root, "p.yml": sync("mapping: {e: {from: email, transform: lowr}}")}, nil, []string{
			"p.yml:6:78: unknown transform `lowr`; did you mean `lower`? (available: trim, lower, upper, email, phone_e164, sha256, string, integer, number, boolean, date, timestamp)"}},

		// Region codes.
		{"regions", "id type default_region", map[string]string{"sluice.yml": root, "p.yml": identity("    phone: {normalize: phone_e164, default_region: ZZ}\n", "    - {source: crm, ids: {phone: phone}}\n")}, nil, []string{
			"p.yml:5:52: invalid default_region \"ZZ\": not a region code: write a two-letter ISO 3166 code such as FR or US"}},
		{"regions", "lower-case and names", map[string]string{"sluice.yml": root, "p.yml": identity("    phone: {normalize: phone_e164, default_region: fr}\n", "    - {source: crm, ids: {phone: phone}}\n") +
			"destinations:\n  - {name: d, type: constrained}\nsyncs:\n  - {name: s, from: source.crm, to: d, mapping: {p: {from: phone, transform: phone_e164, default_region: France}}}\n"}, nil, []string{
			"p.yml:5:52: invalid default_region \"fr\": not a region code: write a two-letter ISO 3166 code such as FR or US; did you mean `FR`?",
			"p.yml:11:106: invalid default_region \"France\": not a region code: write a two-letter ISO 3166 code such as FR or US"}},
		{"regions", "edge region is a column", map[string]string{"sluice.yml": root, "p.yml": identity("    phone: {normalize: phone_e164, default_region: FR}\n",
			"    - {source: crm, ids: {phone: phone}, region: GB}\n    - {source: crm, ids: {phone: phone}, region: \"country code\"}\n")}, nil, []string{
			"p.yml:7:50: region names a column holding each row's country code, not a country: for one country, set default_region: GB on the id type",
			"p.yml:8:50: invalid region \"country code\": name the column holding each row's country code, such as country"}},

		// Regular expressions.
		{"regexes", "blocklist patterns", map[string]string{"sluice.yml": root, "p.yml": identity("    email: {blocklist_patterns: [\"(\", \"[a-\", \"x**\"]}\n", "    - {source: crm, ids: {email: email}}\n")}, nil, []string{
			"p.yml:5:34: invalid blocklist pattern \"(\": error parsing regexp: missing closing ): `(`",
			"p.yml:5:39: invalid blocklist pattern \"[a-\": error parsing regexp: missing closing ]: `[a-`",
			"p.yml:5:46: invalid blocklist pattern \"x**\": error parsing regexp: invalid nested repetition operator: `**`"}},

		// SQL type names.
		{"sql types", "seed column types", map[string]string{"sluice.yml": root, "data.csv": "a,b,c\n1,2,3\n", "p.yml": "seeds:\n  - {name: s, path: data.csv, column_types: {a: INTEGR, b: \"TEXT; DROP TABLE x\", c: \"VARCHAR(\"}}\n"}, nil, []string{
			"p.yml:2:49: invalid SQL type \"INTEGR\" for column `a`: unknown type \"INTEGR\"; did you mean `INTEGER`?",
			"p.yml:2:60: invalid SQL type \"TEXT; DROP TABLE x\" for column `b`: unexpected \"; DROP TABLE x\" after the type: write one type name, such as VARCHAR or DECIMAL(12,2)",
			"p.yml:2:85: invalid SQL type \"VARCHAR(\" for column `c`: unclosed ( in type"}},
		{"sql types", "dialect's own names", map[string]string{"sluice.yml": root, "data.csv": "a,b\n1,2\n", "p.yml": "seeds:\n  - {name: s, path: data.csv, column_types: {a: \"Nullable(String)\", b: \"decimal(12, 2)\"}}\n"}, nil, []string{
			"p.yml:2:49: invalid SQL type \"Nullable(String)\" for column `a`: unknown type \"Nullable\""}},
		{"sql types", "trait type", map[string]string{"sluice.yml": root, "p.yml": "traits:\n  a: {expression: \"1\", type: \"bool ean\"}\n  b: {expression: \"1\", type: \"int) + 1\"}\n  c: {expression: \"1\", type: \"\"}\n"}, nil, []string{
			"p.yml:2:30: invalid SQL type \"bool ean\": unexpected \"ean\" after the type: write one type name, such as VARCHAR or DECIMAL(12,2)",
			"p.yml:3:30: invalid SQL type \"int) + 1\": unexpected \") + 1\" after the type: write one type name, such as VARCHAR or DECIMAL(12,2)",
			"p.yml:4:30: invalid SQL type \"\": expected a type name, such as VARCHAR or DECIMAL(12,2)"}},

		// List items that are not mappings.
		{"list items", "scalars", map[string]string{"sluice.yml": root, "p.yml": "sources:\n  - crm\n  - {name: b, table: b, primary_key: id}\nsyncs:\n  - 5\n"}, nil, []string{
			"p.yml:2:5: `sources`: expected a mapping, got a string \"crm\"", "p.yml:5:5: `syncs`: expected a mapping, got a number \"5\""}},
		{"list items", "lists and nulls", map[string]string{"sluice.yml": root, "p.yml": "destinations:\n  - [a, b]\nsegments:\n  -\n  - {name: s, where: \"true\"}\n"}, nil, []string{
			"p.yml:2:5: `destinations`: expected a mapping, got a list", "p.yml:4:4: `segments`: expected a mapping, got null"}},
		{"list items", "flow list of scalars", map[string]string{"sluice.yml": root, "p.yml": "alerts: [a, true]\n"}, nil, []string{
			"p.yml:1:10: `alerts`: expected a mapping, got a string \"a\"", "p.yml:1:13: `alerts`: expected a mapping, got a boolean \"true\""}},
	}
	for _, tt := range tests {
		t.Run(tt.class+"/"+tt.name, func(t *testing.T) {
			got := problems(t, tt.files, tt.env)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, p := range got {
				for _, v := range tt.env {
					if strings.Contains(p, v) {
						t.Errorf("problem echoes a value from the environment: %s", p)
					}
				}
			}
		})
	}
}

// TestLegitimateValuesPass guards against refusing what is valid: real type
// names of each dialect, schedules and URLs.
func TestLegitimateValuesPass(t *testing.T) {
	types := map[string][]string{
		"duckdb":     {"varchar", "decimal(12,2)", "DOUBLE PRECISION", "timestamp with time zone", "INTEGER[]", "STRUCT(a INTEGER, b VARCHAR)", "boolean", "int", "date"},
		"clickhouse": {"Nullable(String)", "LowCardinality(Nullable(String))", "DateTime64(3, 'UTC')", "Decimal(18, 3)", "Enum8('a' = 1, 'b' = 2)", "Map(String, UInt64)", "varchar", "timestamp"},
		"snowflake":  {"NUMBER(38,0)", "VARCHAR(255)", "TIMESTAMP_NTZ", "VARIANT", "boolean", "decimal(10,2)"},
		"bigquery":   {"INT64", "STRING", "BIGNUMERIC(40, 2)", "BOOL", "varchar", "timestamp"},
	}
	for dialect, list := range types {
		for _, typ := range list {
			if msg := CheckSQLType(dialect, typ); msg != "" {
				t.Errorf("%s %q refused: %s", dialect, typ, msg)
			}
		}
	}
	for _, s := range []string{"@every 15m", "@every 1s", "@hourly", "*/15 * * * *", "0 6 * * 1-5", "CRON_TZ=Europe/Paris 0 6 * * *"} {
		if msg := checkSchedule(s); msg != "" {
			t.Errorf("schedule %q refused: %s", s, msg)
		}
	}
	for _, u := range []string{"https://a.klaviyo.com", "http://127.0.0.1:8080/hook", "https://api.brevo.com/v3", "https://hooks.example.com/x?token=abc"} {
		if msg := checkURL(u, true); msg != "" {
			t.Errorf("url %q refused: %s", u, msg)
		}
	}
	for _, m := range []string{"4GB", "512MB", "1.5GiB", "2TB"} {
		if msg := checkMemoryLimit(m); msg != "" {
			t.Errorf("memory_limit %q refused: %s", m, msg)
		}
	}
}
