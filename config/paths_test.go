package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// symlink makes link (relative to dir) point at target, failing the test
// where symlinks cannot be made.
func symlink(t *testing.T, dir, target, link string) {
	t.Helper()
	p := filepath.Join(dir, link)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
}

// outside writes a file outside any project and returns its path.
func outside(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret.csv")
	if err := os.WriteFile(p, []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSeedPaths(t *testing.T) {
	const csv = "id,email\n1,a@b.c\n"
	tests := []struct {
		name  string
		path  string
		setup func(t *testing.T, dir string)
		want  string // "" for valid; else the problem, with its position
	}{
		{"inside", "data/c.csv", nil, ""},
		{"inside after cleaning", "data/../data/c.csv", nil, ""},
		{"dotdot", "../../etc/passwd", nil, "seeds.yml:1:27: seed file leaves the project directory: .. goes above it"},
		{"dotdot after a folder", "data/../../x.csv", nil, "seeds.yml:1:27: seed file leaves the project directory: .. goes above it"},
		{"absolute", "/etc/passwd", nil, "seeds.yml:1:27: seed file leaves the project directory: an absolute path is not allowed here, write it relative to the project directory"},
		{"symlinked file", "data/link.csv", func(t *testing.T, dir string) {
			symlink(t, dir, outside(t), "data/link.csv")
		}, "seeds.yml:1:27: seed file leaves the project directory through a symbolic link"},
		{"symlinked folder", "shared/c.csv", func(t *testing.T, dir string) {
			symlink(t, dir, filepath.Dir(outside(t)), "shared")
		}, "seeds.yml:1:27: seed file leaves the project directory through a symbolic link"},
		{"symlink inside the project", "alias.csv", func(t *testing.T, dir string) {
			symlink(t, dir, "data/c.csv", "alias.csv")
		}, ""},
		{"dangling symlink", "data/gone.csv", func(t *testing.T, dir string) {
			symlink(t, dir, "/nonexistent/sluice/x.csv", "data/gone.csv")
		}, "seeds.yml:1:27: seed file follows a symbolic link that points at nothing"},
		{"a directory", "data", nil, "seeds.yml:1:27: seed file is a directory, not a file"},
		{"missing", "data/nope.csv", nil, "seeds.yml:1:27: seed file not found"},
		{"empty", `""`, nil, "seeds.yml:1:27: seed file path is empty"},
		{"blank", `"  "`, nil, "seeds.yml:1:27: seed file path is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{
				"sluice.yml": minimalRoot,
				"data/c.csv": csv,
				"seeds.yml":  "seeds: [ { name: s, path: " + tc.path + " } ]\n",
			})
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			got := loadProblems(t, dir)
			checkOne(t, got, tc.want)
		})
	}
}

// TestPathsWithOtherProblems: a bad path does not hide the project's other
// problems, nor they it.
func TestPathsWithOtherProblems(t *testing.T) {
	got := problems(t, map[string]string{
		"sluice.yml": minimalRoot + "time_zone: Mars/Olympus\n",
		"seeds.yml":  "seeds: [ { name: s, path: ../x.csv }, { name: t } ]\n",
	}, nil)
	joined := strings.Join(got, "\n")
	for _, w := range []string{"unknown time zone", "seeds.yml:1:27: seed file leaves the project directory: .. goes above it", "missing required key `path`"} {
		if !strings.Contains(joined, w) {
			t.Errorf("want a problem containing %q, got:\n%s", w, joined)
		}
	}
}

func TestWarehouseAndCredentialPaths(t *testing.T) {
	tests := []struct {
		name, warehouse string
		setup           func(t *testing.T, dir string)
		want            string
	}{
		{"duckdb relative", "{ type: duckdb, path: .sluice/x.duckdb }", nil, ""},
		{"duckdb absolute", "{ type: duckdb, path: /var/lib/sluice/x.duckdb }", nil, ""},
		{"duckdb in memory", "{ type: duckdb, path: \":memory:\" }", nil, ""},
		{"duckdb dotdot", "{ type: duckdb, path: ../../x.duckdb }", nil, "sluice.yml:3:34: warehouse path leaves the project directory: .. goes above it"},
		{"duckdb a directory", "{ type: duckdb, path: data }", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "data"), 0o755)
		}, "sluice.yml:3:34: warehouse path is a directory, not a file"},
		{"duckdb symlinked folder", "{ type: duckdb, path: .sluice/x.duckdb }", func(t *testing.T, dir string) {
			symlink(t, dir, t.TempDir(), ".sluice")
		}, "sluice.yml:3:34: warehouse path leaves the project directory through a symbolic link"},
		{"key file dotdot", "{ type: snowflake, account: a, user: u, database: d, private_key_file: ../k.p8 }", nil,
			"sluice.yml:3:83: credential file leaves the project directory: .. goes above it"},
		{"key file absolute", "{ type: snowflake, account: a, user: u, database: d, private_key_file: /etc/sluice/k.p8 }", nil, ""},
		{"credentials symlink", "{ type: bigquery, project: p, credentials_file: sa.json }", func(t *testing.T, dir string) {
			symlink(t, dir, outside(t), "sa.json")
		}, "sluice.yml:3:60: credential file leaves the project directory through a symbolic link"},
		{"ca file a directory", "{ type: clickhouse, tls_ca_file: certs }", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "certs"), 0o755)
		}, "sluice.yml:3:45: credential file is a directory, not a file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeProject(t, map[string]string{"sluice.yml": "version: 1\nname: t\nwarehouse: " + tc.warehouse + "\n"})
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			checkOne(t, loadProblems(t, dir), tc.want)
		})
	}
}

func TestExternalPathsAndIncludes(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"seed in an external folder", map[string]string{
			"p/sluice.yml": minimalRoot + "external_paths: [../shared]\n",
			"p/seeds.yml":  "seeds: [ { name: s, path: ../shared/c.csv } ]\n",
			"shared/c.csv": "id\n1\n",
		}, nil, ""},
		{"seed beside the external folder", map[string]string{
			"p/sluice.yml": minimalRoot + "external_paths: [../shared]\n",
			"p/seeds.yml":  "seeds: [ { name: s, path: ../other/c.csv } ]\n",
			"shared/c.csv": "id\n1\n",
			"other/c.csv":  "id\n1\n",
		}, nil, "seeds.yml:1:27: seed file leaves the project directory: .. goes above it"},
		{"external folder missing", map[string]string{
			"p/sluice.yml": minimalRoot + "external_paths: [../nowhere]\n",
		}, nil, "sluice.yml:4:17: external_paths: a folder listed does not exist"},
		{"include dotdot", map[string]string{
			"p/sluice.yml": minimalRoot + "include: [\"../*.yml\"]\n",
		}, nil, "sluice.yml:4:10: include patterns are relative to the project directory"},
		{"include absolute", map[string]string{
			"p/sluice.yml": minimalRoot + "include: [/etc/*.yml]\n",
		}, nil, "sluice.yml:4:10: include patterns are relative to the project directory"},
		{"symlinked project file", map[string]string{
			"p/sluice.yml":  minimalRoot,
			"elsewhere.yml": "traits: []\n",
		}, func(t *testing.T, dir string) {
			symlink(t, dir, filepath.Join(dir, "elsewhere.yml"), "p/more.yml")
		}, "more.yml: project file leaves the project directory through a symbolic link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := writeProject(t, tc.files)
			if tc.setup != nil {
				tc.setup(t, root)
			}
			checkOne(t, loadProblems(t, filepath.Join(root, "p")), tc.want)
		})
	}
}

func TestResolveInProject(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, dir, t.TempDir(), "out")
	tests := []struct {
		rel     string
		outside bool
	}{
		{"data/new/file.csv", false}, // need not exist
		{"data/../x", false},
		{"../x", true},
		{"/etc/passwd", true},
		{"out/x", true},
		{"out/../data/x", false}, // cleaned before resolving, as Join does
	}
	for _, tc := range tests {
		_, err := ResolveInProject(dir, tc.rel)
		if got := errors.Is(err, ErrOutsideProject); got != tc.outside {
			t.Errorf("ResolveInProject(%q): err %v, want outside=%v", tc.rel, err, tc.outside)
		}
	}
	if _, err := ResolvePath(dir, "/var/lib/x.duckdb"); err != nil {
		t.Errorf("ResolvePath refused an absolute path: %v", err)
	}
}

func loadProblems(t *testing.T, dir string) []string {
	t.Helper()
	return problemsIn(t, dir, nil)
}

// checkOne wants no problem when want is empty, else one problem starting
// with want; and never the secret's text.
func checkOne(t *testing.T, got []string, want string) {
	t.Helper()
	joined := strings.Join(got, "\n")
	if strings.Contains(joined, "root:x") {
		t.Errorf("a problem shows the outside file's content:\n%s", joined)
	}
	if want == "" {
		if len(got) > 0 {
			t.Fatalf("unexpected problems:\n%s", joined)
		}
		return
	}
	for _, g := range got {
		if strings.HasPrefix(g, want) {
			return
		}
	}
	t.Errorf("want a problem starting %q, got:\n%s", want, joined)
}
