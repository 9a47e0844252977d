package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/webhook/fake"

	_ "github.com/duckdb/duckdb-go/v2"
)

// syncProject writes a project with one source (a SELECT over a seed, so
// tests can empty it) and a file and a webhook sync.
func syncProject(t *testing.T, where string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(quickstart, "data", "crm_contacts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"data/contacts.csv": string(data),
		"sluice.yml": `version: 1
name: synccli
warehouse: {type: duckdb, path: .sluice/w.duckdb}
seeds:
  - {name: contacts, path: data/contacts.csv, column_types: {phone: varchar, contact_id: varchar}}
`,
		"sources.yml": `sources:
  - name: contacts
    sql: SELECT * FROM raw.contacts WHERE ` + where + `
    primary_key: contact_id
`,
		"syncs.yml": `destinations:
  - {name: files, type: file, path: out}
  - {name: hook, type: webhook, url: "${SYNCCLI_HOOK_URL}", bearer_token: "${SYNCCLI_TOKEN}", rate: 1000}
syncs:
  - name: to_file
    from: source.contacts
    to: files
    mode: mirror
    key: email
    mapping: {email: {from: email, transform: email}, name: first_name}
  - name: to_hook
    from: source.contacts
    to: hook
    key: email
    mapping: {email: {from: email, transform: email}}
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type planDoc struct {
	Syncs []struct {
		Name, Destination, Mode string
		Adds, Updates, Removes  int64
		Invalid                 struct {
			NullKeyRows   int64 `json:"null_key_rows"`
			DuplicateKeys int64 `json:"duplicate_keys"`
		}
		Samples map[string][]json.RawMessage
		Error   string
	}
}

func planJSON(t *testing.T, dir string, args ...string) planDoc {
	t.Helper()
	code, out, errs := sluice(t, append([]string{"plan", "--json", "--project", dir}, args...)...)
	if code != 0 {
		t.Fatalf("plan --json: exit %d\n%s", code, errs)
	}
	var doc planDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("plan --json is not one JSON document: %v\n%s", err, out)
	}
	return doc
}

func TestPlanThenSync(t *testing.T) {
	dir := syncProject(t, "true")
	srv := fake.New(t, fake.Options{Token: "tok"})
	// plan needs no destination credentials.
	t.Setenv("SYNCCLI_HOOK_URL", "")
	os.Unsetenv("SYNCCLI_HOOK_URL")
	code, out, errs := sluice(t, "plan", "--project", dir)
	if code != 0 || !strings.Contains(out, "to_file  source.contacts → files (file), mode mirror, key email") ||
		!strings.Contains(out, "Nothing was sent or written.") || !strings.Contains(out, "not needed to plan: SYNCCLI_HOOK_URL, SYNCCLI_TOKEN") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errs)
	}
	doc := planJSON(t, dir)
	if len(doc.Syncs) != 2 || doc.Syncs[0].Name != "to_file" || doc.Syncs[0].Adds == 0 || doc.Syncs[0].Destination != "files" ||
		doc.Syncs[0].Mode != "mirror" || doc.Syncs[0].Invalid.DuplicateKeys == 0 || len(doc.Syncs[0].Samples["add"]) != 3 {
		t.Fatalf("plan --json: %+v", doc)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Error("plan wrote to the file destination")
	}
	adds := doc.Syncs[0].Adds

	t.Setenv("SYNCCLI_HOOK_URL", srv.URL)
	t.Setenv("SYNCCLI_TOKEN", "tok")
	code, out, errs = sluice(t, "sync", "--project", dir)
	if code != 0 || !strings.Contains(out, "to_file                  succeeded") || !strings.Contains(errs, "warning: ") {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errs)
	}
	if int64(len(srv.Records())) != adds {
		t.Errorf("webhook holds %d records, plan said %d", len(srv.Records()), adds)
	}
	// A second sync does nothing.
	code, out, _ = sluice(t, "sync", "--project", dir)
	if code != 0 || strings.Count(out, "up to date") != 2 {
		t.Fatalf("second sync: exit %d\n%s", code, out)
	}
	for _, s := range planJSON(t, dir).Syncs {
		if s.Adds+s.Updates+s.Removes != 0 {
			t.Errorf("re-plan of %s: %+v", s.Name, s)
		}
	}
	// state reset makes the next plan a full resync.
	if code, out, errs := sluice(t, "state", "reset", "to_file", "--project", dir); code != 0 || !strings.Contains(out, "The next sync sends every record again") {
		t.Fatalf("state reset: exit %d\n%s%s", code, out, errs)
	}
	if got := planJSON(t, dir, "to_file").Syncs[0].Adds; got != adds {
		t.Errorf("after reset, plan adds %d, want %d", got, adds)
	}
	if code, out, _ := sluice(t, "state", "show", "to_hook", "--project", dir); code != 0 || !strings.Contains(out, "Runs of to_hook") {
		t.Errorf("state show: exit %d\n%s", code, out)
	}
	if code, _, errs := sluice(t, "plan", "nope", "--project", dir); code != exitUsage || !strings.Contains(errs, `unknown sync "nope"`) {
		t.Errorf("unknown sync: exit %d %s", code, errs)
	}
}

func TestSyncExitCodes(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: "tok"})
	t.Setenv("SYNCCLI_HOOK_URL", srv.URL)
	t.Setenv("SYNCCLI_TOKEN", "tok")
	dir := syncProject(t, "true")
	if code, _, errs := sluice(t, "sync", "--project", dir); code != 0 {
		t.Fatalf("first sync: %d %s", code, errs)
	}

	t.Run("3: records rejected", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "sources.yml"), []byte("sources:\n  - name: contacts\n    sql: SELECT * FROM raw.contacts WHERE true OR 1 = 1\n    primary_key: contact_id\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := sluice(t, "sync", "to_hook", "--project", dir)
		if code != 0 || !strings.Contains(out, "up to date") {
			t.Fatalf("exit %d %s %s", code, out, errs)
		}
		// Make two records change, and the webhook reject one.
		writeSource(t, dir, "SELECT * REPLACE (CASE WHEN contact_id IN ('C000001', 'C000002') THEN 'x' || email ELSE email END AS email) FROM raw.contacts")
		srv.RejectKeys("mailbox unknown", "xtheo_andre1@orange.fr")
		code, out, errs = sluice(t, "sync", "to_hook", "--project", dir)
		if code != exitRejected || !strings.Contains(errs, "sync to_hook: 1 of 2 records rejected") || !strings.Contains(errs, "mailbox unknown") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		srv.RejectKeys("", "xtheo_andre1@orange.fr")
	})
	t.Run("4: removal guard", func(t *testing.T) {
		writeSource(t, dir, "SELECT * FROM raw.contacts WHERE false")
		code, out, errs := sluice(t, "sync", "to_file", "--project", dir)
		if code != exitRefused || !strings.Contains(errs, "would remove") || !strings.Contains(errs, "--force") || !strings.Contains(out, "refused") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		code, _, errs = sluice(t, "sync", "to_file", "--force", "--project", dir)
		if code != 0 {
			t.Fatalf("--force: exit %d %s", code, errs)
		}
	})
	t.Run("1: bad credentials", func(t *testing.T) {
		writeSource(t, dir, "SELECT * REPLACE ('y' || email AS email) FROM raw.contacts")
		t.Setenv("SYNCCLI_TOKEN", "wrong")
		code, _, errs := sluice(t, "sync", "to_hook", "--project", dir)
		if code != exitFailure || !strings.Contains(errs, "sync to_hook: ") || !strings.Contains(errs, "refused the credentials") {
			t.Fatalf("exit %d\n%s", code, errs)
		}
	})
	t.Run("5: warehouse file held by another process", func(t *testing.T) {
		db := filepath.Join(dir, ".sluice", "w.duckdb")
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldWarehouse$")
		cmd.Env = append(os.Environ(), "SLUICE_TEST_HOLD_DB="+db)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { stdin.Close(); _ = cmd.Wait() }()
		ready := make(chan bool)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "holding" {
					ready <- true
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(20 * time.Second):
			t.Fatal("the helper process did not open the database")
		}
		for _, verb := range []string{"sync", "plan"} {
			code, _, errs := sluice(t, verb, "--project", dir)
			if code != exitLocked || !strings.Contains(errs, "is open in another process (PID") || !strings.Contains(errs, "never overlaps itself") {
				t.Errorf("%s: exit %d\n%s", verb, code, errs)
			}
		}
	})
}

func writeSource(t *testing.T, dir, sql string) {
	t.Helper()
	body := "sources:\n  - name: contacts\n    sql: " + sql + "\n    primary_key: contact_id\n"
	if err := os.WriteFile(filepath.Join(dir, "sources.yml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHelperHoldWarehouse is not a test: run by TestSyncExitCodes in a
// child process, it holds a DuckDB file open (as a running sync would)
// until its standard input closes.
func TestHelperHoldWarehouse(t *testing.T) {
	path := os.Getenv("SLUICE_TEST_HOLD_DB")
	if path == "" {
		t.Skip("helper process only")
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("holding\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}
