package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quickstartEnv sets the variables the quickstart's vendor files refer to,
// so that it validates offline.
func quickstartEnv(t *testing.T) {
	for _, k := range []string{"KLAVIYO_API_KEY", "BREVO_API_KEY"} {
		t.Setenv(k, "test-key-0123456789")
	}
	for _, k := range []string{"KLAVIYO_BASE_URL", "BREVO_BASE_URL"} {
		t.Setenv(k, "http://127.0.0.1:9")
	}
}

// snapshot describes every file and folder under dir: path, mode, size and
// content hash.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "%s %s %d", rel, st.Mode(), st.Size())
		if st.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", sha256.Sum256(data))
		}
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestValidateWritesNothing: validate leaves the project folder exactly as
// it was, whether the warehouse file exists or not and whether the project
// is valid or not.
func TestValidateWritesNothing(t *testing.T) {
	quickstartEnv(t)
	tests := []struct {
		name     string
		prepare  func(t *testing.T, dir string)
		wantCode int
		wantErr  string
	}{
		{"fresh quickstart", nil, 0, ""},
		{"sources the warehouse must answer, no warehouse file yet", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "sources.yml"), "  - { name: extra, sql: SELECT 1 AS id, primary_key: id }\n")
		}, 0, "does not exist yet"},
		{"after a build", func(t *testing.T, dir string) {
			if code, _, errb := sluice(t, "build", "--project", dir); code != 0 {
				t.Fatalf("build: %d %s", code, errb)
			}
			appendFile(t, filepath.Join(dir, "sources.yml"), "  - { name: extra, sql: SELECT 1 AS id, primary_key: id }\n")
		}, 0, ""},
		{"an invalid project", func(t *testing.T, dir string) {
			appendFile(t, filepath.Join(dir, "sources.yml"), "  - { name: extra, sql: SELECT 1 AS id }\n")
		}, 1, "primary_key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyProject(t, quickstart)
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			before := snapshot(t, dir)
			code, _, errb := sluice(t, "validate", "--project", dir)
			if code != tc.wantCode || !strings.Contains(errb, tc.wantErr) {
				t.Errorf("validate: exit %d, want %d; stderr:\n%s", code, tc.wantCode, errb)
			}
			if after := snapshot(t, dir); after != before {
				t.Errorf("validate changed the project folder:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// TestPrivateFilesAfterSync: after build and sync of the quickstart (file
// destination), every file under .sluice is owner-only, or group-readable
// with file_mode: group; files an earlier version left readable are
// tightened.
func TestPrivateFilesAfterSync(t *testing.T) {
	quickstartEnv(t)
	tests := []struct {
		name              string
		prepare           func(t *testing.T, dir string)
		wantFile, wantDir fs.FileMode
	}{
		{"private by default", nil, 0o600, 0o700},
		{"group", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "sluice.yml"), "  path: .sluice/quickstart.duckdb", "  path: .sluice/quickstart.duckdb\n  file_mode: group")
			replaceIn(t, filepath.Join(dir, "syncs.yml"), "path: .sluice/exports }", "path: .sluice/exports, file_mode: group }")
		}, 0o640, 0o750},
		{"left readable by an earlier version", func(t *testing.T, dir string) {
			if code, _, errb := sluice(t, "sync", "--project", dir, "profiles_to_file"); code != 0 {
				t.Fatalf("sync: %d %s", code, errb)
			}
			filepath.WalkDir(filepath.Join(dir, ".sluice"), func(p string, e fs.DirEntry, err error) error {
				mode := fs.FileMode(0o644)
				if e.IsDir() {
					mode = 0o755
				}
				return os.Chmod(p, mode)
			})
			// A sync with nothing to send opens no destination: a reset
			// makes the next run send everything again.
			if code, _, errb := sluice(t, "state", "reset", "--project", dir, "profiles_to_file"); code != 0 {
				t.Fatalf("state reset: %d %s", code, errb)
			}
		}, 0o600, 0o700},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyProject(t, quickstart)
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			if code, _, errb := sluice(t, "build", "--project", dir); code != 0 {
				t.Fatalf("build: %d %s", code, errb)
			}
			if code, _, errb := sluice(t, "sync", "--project", dir, "profiles_to_file", "vip_to_file"); code != 0 {
				t.Fatalf("sync: %d %s", code, errb)
			}
			n := 0
			err := filepath.WalkDir(filepath.Join(dir, ".sluice"), func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				st, err := e.Info()
				if err != nil {
					return err
				}
				want := tc.wantFile
				if e.IsDir() {
					want = tc.wantDir
				}
				if st.Mode().Perm() != want {
					t.Errorf("%s: mode %04o, want %04o", p, st.Mode().Perm(), want)
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n < 5 { // .sluice, the database, exports, a sync folder, a file
				t.Errorf("only %d entries under .sluice: did the sync write its files?", n)
			}
		})
	}
}

// TestValidateRefusesPathsLeaving: validate reports each path leaving the
// project at its place, exits 1 and shows nothing of the outside file.
func TestValidateRefusesPathsLeaving(t *testing.T) {
	quickstartEnv(t)
	secret := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(secret, []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    string
	}{
		{"seed dotdot", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "sources.yml"), "path: data/orders.csv", "path: ../../../../../../../../etc/passwd")
		}, "sources.yml:11:11: seed file leaves the project directory"},
		{"seed absolute", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "sources.yml"), "path: data/orders.csv", "path: "+secret)
		}, "sources.yml:11:11: seed file leaves the project directory: an absolute path"},
		{"seed symlink", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "data", "orders.csv")
			os.Remove(p)
			if err := os.Symlink(secret, p); err != nil {
				t.Skip(err)
			}
		}, "sources.yml:11:11: seed file leaves the project directory through a symbolic link"},
		{"warehouse dotdot", func(t *testing.T, dir string) {
			replaceIn(t, filepath.Join(dir, "sluice.yml"), "path: .sluice/quickstart.duckdb", "path: ../elsewhere.duckdb")
		}, "sluice.yml:7:9: warehouse path leaves the project directory"},
		{"exports through a symlinked folder", func(t *testing.T, dir string) {
			if err := os.Symlink(t.TempDir(), filepath.Join(dir, ".sluice")); err != nil {
				t.Skip(err)
			}
		}, "syncs.yml:7:40: path leaves the project directory through a symbolic link"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyProject(t, quickstart)
			tc.prepare(t, dir)
			code, out, errb := sluice(t, "validate", "--project", dir)
			errb = strings.ReplaceAll(errb, dir+string(filepath.Separator), "")
			if code != 1 || !strings.Contains(errb, tc.want) {
				t.Errorf("validate: exit %d; want 1 and a line containing %q; stderr:\n%s", code, tc.want, errb)
			}
			if strings.Contains(out+errb, "root:") {
				t.Errorf("validate shows the outside file:\n%s%s", out, errb)
			}
		})
	}
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not hold %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}
