package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeProject writes files (name -> content) into a temp dir.
func writeProject(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const minimalRoot = "version: 1\nname: t\nwarehouse: { type: duckdb }\n"

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// problems loads the project and returns its problems with the directory
// stripped, one "file:line:col: message" per entry.
func problems(t *testing.T, files map[string]string, vars map[string]string) []string {
	t.Helper()
	return problemsIn(t, writeProject(t, files), vars)
}

// problemsIn loads the project in dir and lists its problems, with paths
// relative to dir.
func problemsIn(t *testing.T, dir string, vars map[string]string) []string {
	t.Helper()
	_, err := Load(dir, Options{Env: env(vars)})
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %T: %v", err, err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strings.ReplaceAll(p.String(), dir+string(filepath.Separator), "")
	}
	return out
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		env   map[string]string
		want  []string
	}{
		{
			name:  "valid minimal project",
			files: map[string]string{"sluice.yml": minimalRoot},
		},
		{
			name:  "unknown key with suggestion",
			files: map[string]string{"sluice.yml": "version: 1\nname: t\nwarehuose: { type: duckdb }\n"},
			want: []string{
				"sluice.yml:1:1: missing required key `warehouse`",
				"sluice.yml:3:1: unknown key `warehuose`; did you mean `warehouse`?",
			},
		},
		{
			name:  "wrong types",
			files: map[string]string{"sluice.yml": "version: one\nname: [a]\nwarehouse: { type: duckdb, threads: many }\n"},
			want: []string{
				"sluice.yml:1:10: `version`: expected a whole number, got a string \"one\"",
				"sluice.yml:2:7: `name`: expected a string, got a list",
				"sluice.yml:3:37: `threads`: expected a whole number, got a string \"many\"",
			},
		},
		{
			name:  "enum with suggestion",
			files: map[string]string{"sluice.yml": "version: 1\nname: t\nwarehouse: { type: duckbd }\n"},
			want:  []string{"sluice.yml:3:20: invalid type \"duckbd\": must be one of duckdb, clickhouse, snowflake, bigquery; did you mean `duckdb`?"},
		},
		{
			name:  "unsupported version",
			files: map[string]string{"sluice.yml": "version: 2\nname: t\nwarehouse: { type: duckdb }\n"},
			want:  []string{"sluice.yml:1:10: unsupported version 2: this sluice reads version 1"},
		},
		{
			name:  "invalid yaml",
			files: map[string]string{"sluice.yml": minimalRoot, "a.yml": "sources:\n  - name: x\n   bad: indent\n"},
			want:  []string{"a.yml:3:4: invalid YAML: did not find expected list dash (-)"},
		},
		{
			name: "duplicate names across files",
			files: map[string]string{
				"sluice.yml": minimalRoot,
				"a.yml":      "sources:\n  - { name: orders, table: raw.orders, primary_key: id }\n",
				"b.yml":      "sources:\n  - { name: orders, table: raw.orders2, primary_key: id }\n",
			},
			want: []string{"b.yml:2:13: duplicate source name `orders` (first defined at a.yml:2:13)"},
		},
		{
			name: "append_only without a timestamp",
			files: map[string]string{
				"sluice.yml": minimalRoot,
				"a.yml":      "sources:\n  - { name: events, table: raw.events, primary_key: id, append_only: true }\n",
			},
			want: []string{"a.yml:2:70: append_only needs the source's timestamp: the column telling when each row was added"},
		},
		{
			name:  "duplicate key in one mapping",
			files: map[string]string{"sluice.yml": minimalRoot + "name: again\n"},
			want:  []string{"sluice.yml:4:1: duplicate key `name` (first at line 2)"},
		},
		{
			name: "project keys outside sluice.yml",
			files: map[string]string{
				"sluice.yml": minimalRoot,
				"a.yml":      "warehouse: { type: duckdb }\nsourcse: []\n",
			},
			want: []string{
				"a.yml:1:1: `warehouse` belongs in sluice.yml, not in this file",
				"a.yml:2:1: unknown key `sourcse`; did you mean `sources`?",
			},
		},
		{
			name: "dangling references",
			files: map[string]string{
				"sluice.yml": minimalRoot,
				"a.yml": `segments:
  - { name: vip, where: "true", exclude: [lapsed] }
syncs:
  - { name: s, from: segment.vipp, to: nowhere, consent: opt_in }
`,
			},
			want: []string{
				"a.yml:2:42: unknown segment `lapsed` in exclude",
				"a.yml:4:22: unknown segment `vipp`; did you mean `vip`?",
				"a.yml:4:40: unknown destination `nowhere`",
				"a.yml:4:58: unknown trait `opt_in` in consent",
			},
		},
		{
			name: "missing environment variable",
			files: map[string]string{
				"sluice.yml": "version: 1\nname: ${PROJECT_NAME}\nwarehouse: { type: duckdb, path: \"${DATA_DIR}/x.duckdb\" }\n",
			},
			env:  map[string]string{"PROJECT_NAME": "p"},
			want: []string{"sluice.yml:3:34: environment variable DATA_DIR is not set (referenced as ${DATA_DIR})"},
		},
		{
			name: "secret never echoed in a type error",
			files: map[string]string{
				"sluice.yml": "version: 1\nname: t\nwarehouse: { type: duckdb, threads: \"${SECRET}\" }\n",
			},
			env:  map[string]string{"SECRET": "hunter2"},
			want: []string{"sluice.yml:3:37: `threads`: expected a whole number, got a string (value from environment)"},
		},
		{
			name: "identity mistakes",
			files: map[string]string{
				"sluice.yml": minimalRoot,
				"id.yml": `sources:
  - { name: crm, table: raw.crm, primary_key: id }
identity:
  id_types:
    email: { normalize: emial }
    phone: { normalize: phone_e164 }
    anon:
  edges:
    - { source: crm, ids: { email: email, user_id: uid } }
`,
			},
			want: []string{
				"id.yml:5:25: invalid normalize \"emial\": must be one of none, email, phone_e164, lower, trim; did you mean `email`?",
				"id.yml:6:12: id type `phone` normalises phones: set default_region to a two-letter country code such as FR",
				"id.yml:9:43: unknown id type `user_id` (declared: anon, email, phone)",
			},
		},
		{
			name: "region without a phone id type",
			files: map[string]string{
				"sluice.yml": minimalRoot,
				"id.yml": `sources:
  - { name: crm, table: raw.crm, primary_key: id }
identity:
  id_types: { email: { normalize: email } }
  edges:
    - { source: crm, ids: { email: email }, region: country }
`,
			},
			want: []string{"id.yml:6:53: region applies to phone numbers, but this edge has no id type with normalize: phone_e164"},
		},
		{
			name: "trait mistakes",
			files: map[string]string{
				"sluice.yml": minimalRoot,
				"t.yml": `sources:
  - { name: orders, table: raw.orders, primary_key: id }
traits:
  ltv: { from: orders, aggregate: total(amount) }
  both: { from: orders, pick: x, expression: "1" }
  recent: { from: orders, aggregate: count(*), window: 90 }
  a: { expression: "b + 1" }
  b: { expression: "a * 2" }
`,
			},
			want: []string{
				"t.yml:4:35: invalid aggregate `total(amount)`: write count(*), sum(col), min(col), max(col), avg(col) or count(distinct col)",
				"t.yml:5:3: trait `both` needs exactly one of pick, aggregate, expression or rfm",
				"t.yml:6:56: invalid value \"90\": write a whole number and a unit (s, m, h, d, w), e.g. 90d",
				"t.yml:7:20: traits form a cycle: a -> b -> a",
			},
		},
		{
			name:  "keyed list written as a list",
			files: map[string]string{"sluice.yml": minimalRoot, "t.yml": "traits:\n  - { name: x, expression: \"1\" }\n"},
			want:  []string{"t.yml:2:3: `traits`: expected a mapping of name: definition, got a list (write `name: {...}` entries without dashes)"},
		},
		{
			name:  "docker-compose beside the project is ignored",
			files: map[string]string{"sluice.yml": minimalRoot, "docker-compose.yml": "services: {}\n"},
		},
		{
			name:  "empty file defines nothing",
			files: map[string]string{"sluice.yml": minimalRoot, "empty.yml": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, tc.files, tc.env)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLoadMergesFilesAndAppliesDefaults(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"sluice.yml":          minimalRoot,
		"sources.yml":         "sources:\n  - { name: crm, table: raw.crm, primary_key: [a, b] }\n",
		"models/identity.yml": "identity:\n  id_types: { email: { normalize: email }, anon: }\n  edges: [{ source: crm, ids: { email: e } }]\n",
		"models/traits.yml":   "traits:\n  email: { pick: email }\n",
	})
	p, err := Load(dir, Options{Env: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Schema != "sluice" || p.StateSchema != "sluice_state" || p.Identity.Entity != "customer" || p.Identity.MaxRounds != 64 {
		t.Errorf("defaults not applied: %+v", p)
	}
	if got := strings.Join(p.Sources[0].PrimaryKey, ","); got != "a,b" {
		t.Errorf("primary key %q", got)
	}
	if len(p.Identity.IDTypes) != 2 || p.Identity.IDTypes[1].Name != "anon" || p.Identity.IDTypes[1].Normalize != "trim" {
		t.Errorf("id types %+v", p.Identity.IDTypes)
	}
	if p.Traits[0].Rule != "most_recent" {
		t.Errorf("trait rule default: %q", p.Traits[0].Rule)
	}
	if strings.Join(p.Files, ",") != "sluice.yml,models/identity.yml,models/traits.yml,sources.yml" {
		t.Errorf("files %v", p.Files)
	}
}

func TestEnvInterpolation(t *testing.T) {
	dir := writeProject(t, map[string]string{
		"sluice.yml": "version: 1\nname: \"${A}-$${literal}-${B}\"\nwarehouse: { type: duckdb, threads: \"${N}\" }\n",
	})
	p, err := Load(dir, Options{Env: env(map[string]string{"A": "x", "B": "y", "N": "3"})})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "x-${literal}-y" || p.Warehouse.Threads != 3 {
		t.Errorf("name %q threads %d", p.Name, p.Warehouse.Threads)
	}
}

func TestNoSluiceYML(t *testing.T) {
	_, err := Load(t.TempDir(), Options{})
	var ps Problems
	if !errors.As(err, &ps) || !strings.Contains(ps[0].Message, "sluice init") {
		t.Fatalf("got %v", err)
	}
}

func TestEditDistanceAndSuggestions(t *testing.T) {
	tests := []struct {
		in   string
		cand []string
		want string
	}{
		{"primay_key", []string{"primary_key", "table"}, "primary_key"},
		{"tabel", []string{"primary_key", "table"}, "table"},
		{"xyz", []string{"primary_key", "table"}, ""},
		{"emial", []string{"email", "phone"}, "email"},
	}
	for _, tc := range tests {
		if got := closest(tc.in, tc.cand); got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestGlobMatching(t *testing.T) {
	tests := []struct {
		pat, path string
		want      bool
	}{
		{"*.yml", "a.yml", true},
		{"*.yml", "models/a.yml", false},
		{"models/**/*.yml", "models/a.yml", true},
		{"models/**/*.yml", "models/x/y/a.yml", true},
		{"docker-compose*.yml", "docker-compose.override.yml", true},
	}
	for _, tc := range tests {
		if got := matchAny([]string{tc.pat}, tc.path); got != tc.want {
			t.Errorf("%s ~ %s = %v", tc.pat, tc.path, got)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in    string
		hours float64
		bad   bool
	}{
		{"90d", 90 * 24, false}, {"12h", 12, false}, {"2w", 14 * 24, false},
		{"90", 0, true}, {"d", 0, true}, {"5y", 0, true}, {"-3d", 0, true},
	}
	for _, tc := range tests {
		var d Duration
		err := d.decodeScalar(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && d.D.Hours() != tc.hours) {
			t.Errorf("%q: %v, %v", tc.in, d.D, err)
		}
	}
}
