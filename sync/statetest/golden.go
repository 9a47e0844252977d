package statetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/state"

	_ "github.com/sluicehq/sluice/connectors/file" // the quickstart's destination
	"github.com/sluicehq/sluice/examples/examplestest"
)

// Quickstart loads the quickstart project at dir with only its file
// syncs (the others need credentials), from a copy in a temporary
// directory.
func Quickstart(t testing.TB, dir string) *config.Project {
	t.Helper()
	tmp := t.TempDir()
	for _, f := range []string{"sluice.yml", "sources.yml", "identity.yml", "traits.yml", "segments.yml", "syncs.yml",
		"data/crm_contacts.csv", "data/web_events.csv", "data/orders.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tmp, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.Load(tmp, config.Options{Env: examplestest.Env})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Statement is one statement a warehouse received, with its parameters
// as text.
type Statement struct {
	SQL    string
	Params []string
}

// Format writes statements as a SQL file: each ends with a semicolon and
// is preceded by its number and parameters as comments.
func Format(stmts []Statement) string {
	var b strings.Builder
	for i, s := range stmts {
		b.WriteString("-- statement " + strconv.Itoa(i+1) + "\n")
		for j, p := range s.Params {
			b.WriteString("-- parameter " + strconv.Itoa(j+1) + ": " + strings.ReplaceAll(p, "\n", " ") + "\n")
		}
		b.WriteString(strings.TrimSpace(s.SQL) + ";\n\n")
	}
	return b.String()
}

// Compare compares statements with a golden file, rewriting it when update
// is set.
func Compare(t *testing.T, path string, stmts []Statement, update bool) {
	t.Helper()
	got := Format(stmts)
	if update {
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
		t.Fatalf("reading the golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("the SQL differs from %s at line %d (run go test -update if the change is intended):\ngot:  %s\nwant: %s", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("the SQL differs from %s in length: %d lines, want %d (run go test -update if the change is intended)", path, len(gl), len(wl))
	}
}

// CheckEngine checks what Script.Engine did: the plan found the model's two
// profiles as adds, the sync sent both and succeeded, and the file
// destination holds them.
func (s *Script) CheckEngine(t *testing.T, pl *engine.Plan, res *engine.Result) {
	t.Helper()
	if pl.Adds != int64(len(Model.Rows)) || pl.Removes != 0 || pl.Updates != 0 {
		t.Errorf("plan: %d adds, %d updates, %d removes; want %d adds", pl.Adds, pl.Updates, pl.Removes, len(Model.Rows))
	}
	if res.Status != state.RunSucceeded || res.Sent != 2 || res.Accepted != 2 || res.Rejected != 0 {
		t.Errorf("sync: status %s, sent %d, accepted %d, rejected %d", res.Status, res.Sent, res.Accepted, res.Rejected)
	}
	files, err := filepath.Glob(filepath.Join(s.Project.Dir, ".sluice", "exports", s.Sync, "*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("exports: %v, %v", files, err)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Fields map[string]any `json:"fields"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		emails = append(emails, fmt.Sprint(rec.Fields["email"]))
	}
	slices.Sort(emails)
	if want := []string{Model.Rows[0][1], Model.Rows[1][1]}; !slices.Equal(emails, want) {
		t.Errorf("exported %v, want %v:\n%s", emails, want, data)
	}
}
