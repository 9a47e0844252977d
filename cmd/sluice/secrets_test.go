package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A project whose every file is valid; variants change one line.
const secretsRoot = `version: 1
name: canary
warehouse: { type: duckdb, path: w.duckdb }
`

const secretsBase = `seeds:
  - { name: people, path: people.csv }
sources:
  - { name: people, table: raw.people, primary_key: id, timestamp: updated_at }
identity:
  id_types:
    email: { normalize: email }
  edges:
    - { source: people, ids: { email: email } }
traits:
  email_addr: { pick: email }
destinations:
  - name: hook
    type: webhook
    url: "http://127.0.0.1:9/"
syncs:
  - name: to_hook
    from: profiles
    to: hook
    key: email
    mapping:
      email: email_addr
`

const canary = "CANARY_S3CR3T_x9"

// secretVariant is one way a value from the environment could be echoed.
type secretVariant struct {
	name   string
	root   string            // sed-like replacements in sluice.yml: old -> new
	base   map[string]string // replacements in project.yml
	value  string            // the value of $X; must never be shown
	hidden []string          // other texts that must never be shown
	want   string            // the problem, with its position
}

func (v secretVariant) files(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root, base := secretsRoot, secretsBase
	for old, new := range v.base {
		if !strings.Contains(base, old) {
			t.Fatalf("variant %s: %q not in the base project", v.name, old)
		}
		base = strings.Replace(base, old, new, 1)
	}
	if v.root != "" {
		old, new, _ := strings.Cut(v.root, " => ")
		root = strings.Replace(root, old, new, 1)
	}
	writeFile(t, dir, "sluice.yml", root)
	writeFile(t, dir, "project.yml", base)
	writeFile(t, dir, "people.csv", "id,email,updated_at\n1,a@example.com,2024-01-01\n")
	return dir
}

// TestValuesFromEnvironmentAreNeverShown runs validate on projects whose
// ${X} values are wrong in every kind of way that produces a message, and
// checks that the value never appears while the message keeps its place.
func TestValuesFromEnvironmentAreNeverShown(t *testing.T) {
	const envMarker = "(value from environment)"
	variants := []secretVariant{
		// Schedules: cron parsers quote the field they choke on.
		{name: "schedule words", base: map[string]string{"    key: email\n": "    key: email\n    schedule: \"${X}\"\n"},
			value: canary + " not a cron", want: "project.yml:21:15: invalid schedule " + envMarker},
		{name: "schedule field", base: map[string]string{"    key: email\n": "    key: email\n    schedule: \"${X}\"\n"},
			value: "*/" + canary + " * * * *", want: "project.yml:21:15: invalid schedule " + envMarker},
		{name: "schedule descriptor", base: map[string]string{"    key: email\n": "    key: email\n    schedule: \"${X}\"\n"},
			value: "@every " + canary, want: "project.yml:21:15: invalid schedule " + envMarker},
		{name: "schedule glued to text", base: map[string]string{"    key: email\n": "    key: email\n    schedule: \"0 ${X} * * *\"\n"},
			value: canary, want: "project.yml:21:15: invalid schedule " + envMarker},

		// Regular expressions: RE2 errors quote the offending piece.
		{name: "regexp group", base: map[string]string{"{ normalize: email }": `{ normalize: email, blocklist_patterns: ["${X}"] }`},
			value: "(" + canary, want: "project.yml:7:53: invalid blocklist pattern " + envMarker},
		{name: "regexp named group", base: map[string]string{"{ normalize: email }": `{ normalize: email, blocklist_patterns: ["^ok$", "${X}"] }`},
			value: "(?P<" + canary, want: "project.yml:7:61: invalid blocklist pattern " + envMarker},
		{name: "regexp class", base: map[string]string{"{ normalize: email }": `{ normalize: email, blocklist_patterns: ["${X}"] }`},
			value: canary + "[z-a]", want: "project.yml:7:53: invalid blocklist pattern " + envMarker + ": (details not shown"},

		// Names, references and suggestions.
		{name: "unknown destination", base: map[string]string{"    to: hook\n": "    to: \"${X}\"\n"},
			value: canary, want: "project.yml:19:9: unknown destination " + envMarker},
		{name: "suggestion of a name from the environment", base: map[string]string{"  - name: hook\n": "  - name: \"${X}\"\n"},
			value: "hookx", want: "project.yml:19:9: unknown destination `hook`"},
		{name: "suggestion for a name from the environment", base: map[string]string{"    to: hook\n": "    to: \"${X}\"\n"},
			value: "hoook", hidden: []string{"did you mean"}, want: "project.yml:19:9: unknown destination " + envMarker},
		{name: "invalid destination name", base: map[string]string{"  - name: hook\n": "  - name: \"${X}\"\n"},
			value: canary, want: "project.yml:13:11: invalid destination name " + envMarker},
		{name: "unknown segment in from", base: map[string]string{"    from: profiles\n": "    from: \"segment.${X}\"\n"},
			value: canary, want: "project.yml:18:11: unknown segment " + envMarker},
		{name: "unknown id type picked", base: map[string]string{"{ pick: email }": `{ pick: "${X}" }`},
			value: "emial" + canary, want: "project.yml:11:23: unknown id type " + envMarker},

		// Enum values.
		{name: "warehouse type", root: "type: duckdb, => type: \"${X}\",",
			value: "duckdbb", want: "sluice.yml:3:20: invalid type " + envMarker},
		{name: "sync mode", base: map[string]string{"    key: email\n": "    key: email\n    mode: \"${X}\"\n"},
			value: "mirrorr", want: "project.yml:21:11: invalid mode " + envMarker},
		{name: "normalize", base: map[string]string{"{ normalize: email }": `{ normalize: "${X}" }`},
			value: "email" + canary, want: "project.yml:7:25: invalid normalize " + envMarker},

		// Numbers.
		{name: "threads", root: "type: duckdb, => type: duckdb, threads: \"${X}\",",
			value: canary, want: "sluice.yml:3:37: `threads`: expected a whole number, got a string " + envMarker},
		{name: "max_rounds", base: map[string]string{"  id_types:\n": "  max_rounds: \"${X}\"\n  id_types:\n"},
			value: "1e999" + canary, want: "project.yml:6:15: `max_rounds`: expected a whole number"},
		{name: "batch_size option", base: map[string]string{"    type: webhook\n": "    type: webhook\n    batch_size: \"${X}\"\n"},
			value: "12" + canary, want: "project.yml:15:17: batch_size: expected a whole number"},

		// URLs (a webhook's URL is checked when the sync runs, below).
		{name: "alert url scheme", base: map[string]string{"syncs:\n": "alerts:\n  - { name: team, url: \"${X}\" }\nsyncs:\n"},
			value: "mailto:" + canary, want: "project.yml:17:24: "},
		{name: "alert url ftp", base: map[string]string{"syncs:\n": "alerts:\n  - { name: team, url: \"${X}\" }\nsyncs:\n"},
			value: "ftp://" + canary + "/", want: "project.yml:17:24: "},
		{name: "alert url host", base: map[string]string{"syncs:\n": "alerts:\n  - { name: team, url: \"${X}\" }\nsyncs:\n"},
			value: "http://" + canary + " x/", want: "project.yml:17:24: "},

		// Literal text glued to a reference in a secret is a literal secret.
		{name: "glued bearer token", base: map[string]string{"    type: webhook\n": "    type: webhook\n    bearer_token: \"pk_live_" + canary + "${X}\"\n"},
			value: "tail_" + canary, hidden: []string{"pk_live"}, want: "project.yml:15:20: `bearer_token` is a secret"},
		{name: "glued after the reference", base: map[string]string{"    type: webhook\n": "    type: webhook\n    bearer_token: \"${X}" + canary + "\"\n"},
			value: "head_" + canary, want: "project.yml:15:24: `bearer_token` is a secret"},
		{name: "glued alert url", base: map[string]string{"syncs:\n": "alerts:\n  - { name: team, url: \"https://hooks.example.com/T0" + canary + "${X}\" }\nsyncs:\n"},
			value: "B0" + canary, want: "project.yml:17:51: `url` is a secret"},
		{name: "glued trigger token", root: "warehouse: => daemon: { trigger_token: \"tok" + canary + "${X}\" }\nwarehouse:",
			value: canary + canary, want: "sluice.yml:3:27: `trigger_token` is a secret"},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			dir := v.files(t)
			t.Setenv("X", v.value)
			code, stdout, stderr := sluice(t, "validate", "--offline", "--project", dir)
			out := strings.ReplaceAll(stdout+stderr, dir+string(filepath.Separator), "")
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			for _, h := range append([]string{v.value, canary}, v.hidden...) {
				if strings.Contains(out, h) {
					t.Errorf("%q shown:\n%s", h, out)
				}
			}
			if !strings.Contains(out, v.want) {
				t.Errorf("want %q in:\n%s", v.want, out)
			}
		})
	}
}

// TestSymlinkedFileContentIsNeverShown: a project file that is really
// another file (a .env, /etc/passwd) has no line of it quoted.
func TestSymlinkedFileContentIsNeverShown(t *testing.T) {
	contents := map[string]string{
		"dotenv":        "API_KEY=" + canary + "\nOTHER=1\n",
		"one line":      canary + "=1",
		"unknown alias": "a: *" + canary + "\n",
		"passwd":        "root:x:0:0:" + canary + ":/root:/bin/bash\n",
		"json":          `{"token": "` + canary + `"`,
	}
	for name, content := range contents {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "sluice.yml", secretsRoot)
			outside := filepath.Join(t.TempDir(), "secrets")
			if err := os.WriteFile(outside, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, "syncs.yml")); err != nil {
				t.Skipf("symlinks: %v", err)
			}
			code, stdout, stderr := sluice(t, "validate", "--offline", "--project", dir)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if strings.Contains(stdout+stderr, canary) {
				t.Errorf("the file's content is shown:\n%s%s", stdout, stderr)
			}
			if !strings.Contains(stderr, "syncs.yml") {
				t.Errorf("no problem names syncs.yml:\n%s", stderr)
			}
		})
	}
}

// TestWebhookURLNeverShownInSyncErrors: a webhook URL from the environment
// whose host does not resolve (.invalid never does) fails the sync with
// an error that names neither the URL nor its host.
func TestWebhookURLNeverShownInSyncErrors(t *testing.T) {
	urls := []string{
		"http://canary-host.invalid/" + canary,
		"https://" + canary + ".invalid/hook",
		"http://user:" + canary + "@canary-host.invalid/?token=" + canary,
	}
	for i, u := range urls {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := secretVariant{base: map[string]string{`url: "http://127.0.0.1:9/"`: `url: "${X}"`, "    type: webhook\n": "    type: webhook\n    max_retries: 0\n"}}.files(t)
			t.Setenv("X", u)
			if code, stdout, stderr := sluice(t, "build", "--project", dir); code != 0 {
				t.Fatalf("build: exit %d\n%s%s", code, stdout, stderr)
			}
			code, stdout, stderr := sluice(t, "sync", "to_hook", "--project", dir)
			out := stdout + stderr
			if code == 0 {
				t.Fatalf("sync to an unresolvable host succeeded:\n%s", out)
			}
			for _, h := range []string{u, canary, "canary-host"} {
				if strings.Contains(out, h) {
					t.Errorf("%q shown:\n%s", h, out)
				}
			}
			if !strings.Contains(out, "(value from environment)") {
				t.Errorf("the error does not say where the URL comes from:\n%s", out)
			}
		})
	}
}
