package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// copyQuickstart copies the quickstart's project files (not its data or
// warehouse) to a temporary directory and applies edits: file -> old -> new.
func copyQuickstart(t *testing.T, file, old, new string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(quickstart, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() && d.Name() == ".sluice" {
			if err == nil {
				err = filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(quickstart, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == file {
			if !strings.Contains(string(b), old) {
				t.Fatalf("%s has no %q", file, old)
			}
			b = []byte(strings.Replace(string(b), old, new, 1))
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestValidateRefusesHostileFragments: every SQL fragment that could end
// its statement, comment out the rest, reach outside its parentheses or
// name an unknown trait is reported at the line and column inside the
// YAML value, validate exits 1 and writes nothing; build refuses it too.
func TestValidateRefusesHostileFragments(t *testing.T) {
	tests := []struct {
		name, file, old, new string
		want                 string // path:line:col: message (start)
	}{
		// a second statement
		{"segment where drops a table", "segments.yml", `where: "vip AND reachable_by_email"`, `where: "1=1); DROP TABLE raw.orders; --"`,
			"segments.yml:7:16: where: unbalanced `)`"},
		{"expression with a semicolon", "traits.yml", `vip: { expression: "coalesce(lifetime_value, 0) >= 500" }`, `vip: { expression: "lifetime_value > 1; DROP TABLE raw.orders" }`,
			"traits.yml:28:41: expression: `;` ends the statement"},
		{"aggregate argument", "traits.yml", `aggregate: sum(amount), where: "status = 'completed'" }`, `aggregate: "sum(amount); DROP TABLE raw.orders; SELECT sum(amount)", where: "status = 'completed'" }`,
			"traits.yml:18:57: aggregate: unbalanced `)`"},
		{"source sql with two queries", "sources.yml", "      WHERE status <> 'cancelled'", "      WHERE status <> 'cancelled'; DROP TABLE raw.orders",
			"sources.yml:31:34: sql: `;` ends the query"},
		// comments
		{"line comment", "segments.yml", `where: "orders_count > 0 AND orders_90d = 0"`, `where: "orders_count > 0 -- AND orders_90d = 0"`,
			"segments.yml:20:30: where: comments are not allowed"},
		{"block comment", "traits.yml", `where: "event_type = 'page_view'"`, `where: "event_type = 'page_view' /* */"`,
			"traits.yml:22:106: where: comments are not allowed"},
		{"comment in a literal block", "segments.yml", `where: "rfm_r <= 2 AND rfm_f >= 3"`, "where: |\n      rfm_r <= 2\n      AND rfm_f >= 3 -- recent",
			"segments.yml:17:22: where: comments are not allowed"},
		// quoting and brackets
		{"unterminated string", "segments.yml", `where: "phone IS NOT NULL AND coalesce(sms_opt_in, false)"`, `where: "phone = 'x"`,
			"segments.yml:26:21: where: unterminated string"},
		{"unclosed parenthesis", "traits.yml", `vip: { expression: "coalesce(lifetime_value, 0) >= 500" }`, `vip: { expression: "coalesce(lifetime_value, 0 >= 500" }`,
			"traits.yml:28:31: expression: `(` is never closed"},
		{"stray bracket", "traits.yml", `rfm: { rfm: { from: orders, amount: amount, where: "status = 'completed'" } }`, `rfm: { rfm: { from: orders, amount: amount, where: "status = 'completed']" } }`,
			"traits.yml:25:75: where: unbalanced `]`"},
		// statement keywords
		{"attach", "segments.yml", `where: "vip AND reachable_by_email"`, `where: "vip AND (ATTACH 'x.db')"`,
			"segments.yml:7:22: where: `ATTACH` starts a statement"},
		{"copy in a subquery", "traits.yml", `vip: { expression: "coalesce(lifetime_value, 0) >= 500" }`, `vip: { expression: "lifetime_value > (COPY x TO 'y')" }`,
			"traits.yml:28:41: expression: `COPY` starts a statement"},
		{"source that is not a query", "sources.yml", "      SELECT *\n      FROM raw.orders\n      WHERE status <> 'cancelled'", "      PRAGMA version",
			"sources.yml:29:7: sql: sql must be one query"},
		// unknown names
		{"misspelt trait in a segment", "segments.yml", `where: "vip AND reachable_by_email"`, `where: "vip AND reachable_by_emial"`,
			"segments.yml:7:21: unknown trait `reachable_by_emial` in where; did you mean `reachable_by_email`?"},
		{"misspelt trait in an expression", "traits.yml", `vip: { expression: "coalesce(lifetime_value, 0) >= 500" }`, `vip: { expression: "coalesce(lifetime_valu, 0) >= 500" }`,
			"traits.yml:28:32: unknown trait `lifetime_valu` in expression; did you mean `lifetime_value`?"},
		{"unknown column in a trait's where", "traits.yml", `where: "event_type = 'page_view'"`, `where: "event_typ = 'page_view'"`,
			"traits.yml:22:81: source `web_events` has no column `event_typ` (in where); did you mean `event_type`?"},
		// DuckDB's parser
		{"not an expression", "segments.yml", `where: "vip AND reachable_by_email"`, `where: "vip AND AND reachable_by_email"`,
			"segments.yml:7:21: where: DuckDB cannot parse it"},
		{"case without end", "traits.yml", `vip: { expression: "coalesce(lifetime_value, 0) >= 500" }`, `vip: { expression: "CASE WHEN lifetime_value > 1 THEN 1" }`,
			"traits.yml:28:58: expression: DuckDB cannot parse it: it ends too early"},
		{"dangling operator", "segments.yml", `where: "orders_count > 0 AND orders_90d = 0"`, `where: "orders_count > 0 AND orders_90d ="`,
			"segments.yml:20:46: where: DuckDB cannot parse it: it ends too early"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyQuickstart(t, tt.file, tt.old, tt.new)
			before := filesUnder(t, dir)
			code, _, stderr := sluice(t, "validate", "--offline", "--project", dir)
			if code != exitFailure {
				t.Fatalf("exit %d, want %d\n%s", code, exitFailure, stderr)
			}
			got := strings.ReplaceAll(stderr, dir+string(filepath.Separator), "")
			if !strings.Contains(got, tt.want) {
				t.Errorf("validate output lacks %q:\n%s", tt.want, got)
			}
			if after := filesUnder(t, dir); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("validate wrote files: %v", after)
			}
		})
	}
}

// TestBuildRefusesHostileFragment: build compiles before it connects, so
// a fragment that would run a second statement stops it with a located
// message, and no step runs.
func TestBuildRefusesHostileFragment(t *testing.T) {
	dir := copyQuickstart(t, "segments.yml", `where: "vip AND reachable_by_email"`, `where: "1=1); DROP TABLE raw.orders; --"`)
	code, _, stderr := sluice(t, "build", "--project", dir)
	if code == 0 {
		t.Fatalf("build succeeded:\n%s", stderr)
	}
	if !strings.Contains(stderr, "segments.yml:7:") || !strings.Contains(stderr, "unbalanced `)`") {
		t.Errorf("build error does not locate the fragment:\n%s", stderr)
	}
	if strings.Contains(stderr, "building ") {
		t.Errorf("build ran steps although the project was refused:\n%s", stderr)
	}
}

// TestFragmentFromEnvironmentNotShown: a fragment written as a ${VAR}
// reference is checked like any other, and its content is never shown.
func TestFragmentFromEnvironmentNotShown(t *testing.T) {
	for i, value := range []string{"vip AND zz_secret_zz > 1", "vip AND AND zz_secret_zz", "vip; DROP TABLE zz_secret_zz"} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			dir := copyQuickstart(t, "segments.yml", `where: "vip AND reachable_by_email"`, `where: "${SEGMENT_WHERE}"`)
			t.Setenv("SEGMENT_WHERE", value)
			code, stdout, stderr := sluice(t, "validate", "--offline", "--project", dir)
			if code != exitFailure {
				t.Fatalf("exit %d, want %d\n%s", code, exitFailure, stderr)
			}
			if strings.Contains(stdout+stderr, "zz_secret_zz") {
				t.Errorf("validate shows the environment's value:\n%s", stderr)
			}
			if !strings.Contains(stderr, "segments.yml:7:") {
				t.Errorf("the problem is not located at the reference:\n%s", stderr)
			}
		})
	}
}
