package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

const quickstart = "../../examples/quickstart"

// sluice runs the CLI in-process and returns its exit code and output.
func sluice(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// normalize replaces machine-specific paths so golden files are portable.
func normalize(t *testing.T, s string) string {
	abs, err := filepath.Abs(quickstart)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(s, abs, "$QUICKSTART")
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run go test ./cmd/sluice -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestGolden checks whole CLI outputs against files under testdata/golden.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"validate-ten-mistakes", []string{"validate", "--offline", "--project", "testdata/projects/ten-mistakes"}},
		{"validate-hostile-yaml", []string{"validate", "--offline", "--project", "testdata/projects/hostile-yaml"}},
		{"validate-quickstart", []string{"validate", "--offline", "--project", quickstart}},
		{"compile-quickstart-duckdb", []string{"compile", "--dialect", "duckdb", "--project", quickstart}},
		{"compile-quickstart-clickhouse", []string{"compile", "--dialect", "clickhouse", "--project", quickstart}},
		{"compile-quickstart-clickhouse-18", []string{"compile", "--dialect", "clickhouse-18", "--project", quickstart}},
		{"compile-quickstart-snowflake", []string{"compile", "--dialect", "snowflake", "--project", quickstart}},
		{"compile-quickstart-bigquery", []string{"compile", "--dialect", "bigquery", "--project", quickstart}},
		{"validate-no-project", []string{"validate", "--project", "testdata/projects/does-not-exist"}},
		{"compile-unknown-dialect", []string{"compile", "--dialect", "oracle", "--project", quickstart}},
		{"query-no-sql", []string{"query", "--project", quickstart}},
		{"unknown-flag", []string{"build", "--frobnicate"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := sluice(t, tc.args...)
			got := normalize(t, fmt.Sprintf("$ sluice %s\nexit: %d\n--- stdout\n%s--- stderr\n%s", strings.Join(tc.args, " "), code, stdout, stderr))
			golden(t, filepath.Join("testdata", "golden", tc.name+".txt"), got)
		})
	}
}

func TestTenMistakesAllReported(t *testing.T) {
	code, _, stderr := sluice(t, "validate", "--project", "testdata/projects/ten-mistakes")
	if code != exitFailure {
		t.Fatalf("exit %d, want %d", code, exitFailure)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(l, "error:") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 10 {
		t.Fatalf("got %d problems, want 10:\n%s", len(lines), stderr)
	}
	for _, l := range lines {
		parts := strings.SplitN(l, ":", 4)
		if len(parts) < 4 || !strings.HasSuffix(parts[0], ".yml") {
			t.Errorf("problem not in path:line:col: message form: %q", l)
		}
	}
}

func TestEveryVerbHasHelpWithExample(t *testing.T) {
	root := newRootCmd()
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			code, stdout, _ := sluice(t, c.Name(), "--help")
			if code != 0 {
				t.Fatalf("--help exit %d", code)
			}
			if !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "sluice "+c.Name()) {
				t.Errorf("help of %s lacks an example:\n%s", c.Name(), stdout)
			}
		})
	}
}

// TestInitBuildQuery is the first-use path: scaffold, validate, build, query.
func TestInitBuildQuery(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	if code, out, errs := sluice(t, "init", dir); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := sluice(t, "init", dir); code != exitFailure || !strings.Contains(errs, "already holds") {
		t.Fatalf("second init: exit %d, %s", code, errs)
	}
	if code, out, errs := sluice(t, "validate", "--project", dir); code != 0 {
		t.Fatalf("validate: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := sluice(t, "build", "--project", dir)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "Built in") {
		t.Errorf("build output lacks the summary:\n%s", out)
	}
	tests := []struct {
		format string
		want   string
	}{
		{"csv", "n\n888\n"},
		{"json", "[\n  {\"n\": 888}\n]\n"},
		{"table", "n  \n---\n888\n(1 row)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			code, out, errs := sluice(t, "query", "--project", dir, "--format", tc.format, "SELECT count(*) AS n FROM sluice.src_crm_contacts")
			if code != 0 || out != tc.want {
				t.Fatalf("exit %d\n--- got\n%q\n--- want\n%q\n%s", code, out, tc.want, errs)
			}
		})
	}
	if code, _, errs := sluice(t, "query", "--project", dir, "SELECT * FROM nowhere"); code != exitFailure || !strings.Contains(errs, "nowhere") {
		t.Fatalf("bad SQL: exit %d, stderr %q", code, errs)
	}
}

func TestQuickstartDataIsGenerated(t *testing.T) {
	// The committed CSV files must be exactly what the generator makes, so
	// that init and the quickstart agree and anyone can regenerate them.
	dir := t.TempDir()
	if code, out, errs := sluice(t, "demo-data", "--profiles", "1000", "--seed", "42", "--out", dir); code != 0 {
		t.Fatalf("demo-data: exit %d\n%s%s", code, out, errs)
	}
	for _, f := range []string{"crm_contacts.csv", "web_events.csv", "orders.csv"} {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(quickstart, "data", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("examples/quickstart/data/%s differs from `sluice demo-data --profiles 1000 --seed 42`", f)
		}
	}
}

// TestValidateReportsEveryBadValue runs validate once on a project with a
// bad value of every kind (numbers, schedules, addresses, enumerations,
// regions, regular expressions, SQL types, empty names, list items): each
// is reported at its path:line:col, in one run, exit 1, nothing written in
// the project, and no value from the environment shown.
func TestValidateReportsEveryBadValue(t *testing.T) {
	const dir = "testdata/projects/hostile-values"
	const alertURL = "not a url at all"
	t.Setenv("BREVO_API_KEY", "xkeysib-test")
	t.Setenv("ALERT_URL", alertURL)
	before := filesUnder(t, dir)
	code, stdout, stderr := sluice(t, "validate", "--offline", "--project", dir)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s", code, exitFailure, stderr)
	}
	if strings.Contains(stdout+stderr, alertURL) || strings.Contains(stdout+stderr, "xkeysib-test") {
		t.Errorf("validate shows a value from the environment:\n%s", stderr)
	}
	if after := filesUnder(t, dir); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("validate changed the project's files:\nbefore %v\nafter  %v", before, after)
	}
	golden(t, filepath.Join("testdata", "golden", "validate-hostile-values.txt"), stderr)
}

// filesUnder lists the files under dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compile --incremental writes the steps of an incremental build, in every
// dialect: change detection, the identity re-stitch and merge, the
// incremental profiles step.
func TestCompileIncremental(t *testing.T) {
	for _, d := range []string{"duckdb", "clickhouse", "clickhouse-18", "snowflake", "bigquery"} {
		t.Run(d, func(t *testing.T) {
			code, out, errOut := sluice(t, "compile", "--incremental", "--dialect", d, "--project", quickstart)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, step := range []string{"-- changes_orders (changes,", "-- identity_affected (identity,", "-- identity_merge (identity,",
				"-- profiles (profiles,", "profiles recomputed", "-- publish (publish,"} {
				if !strings.Contains(out, step) {
					t.Errorf("no %q in the incremental plan", step)
				}
			}
		})
	}
}
