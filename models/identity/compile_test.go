package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

// The compiled SQL is what `sluice compile` shows users: keep it readable
// and catch unintended changes.
func TestCompiledSQLGolden(t *testing.T) {
	p := loadProject(t, map[string]string{"identity.yml": guardProject})
	plan, err := models.Compile(p, duck)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range plan.Steps {
		if s.Kind == models.KindIdentity {
			b.WriteString(s.File("duckdb"))
			b.WriteString("\n")
		}
	}
	b.WriteString("-- Build summary\n")
	for _, m := range plan.Report {
		b.WriteString("-- " + m.Name + "\n" + m.SQL + ";\n")
	}
	golden(t, "compile-guards.sql", strings.ReplaceAll(b.String(), p.Dir+"/", ""))
}

func TestNoIdentityNoSteps(t *testing.T) {
	p := loadProject(t, map[string]string{"s.yml": "sources:\n  - { name: crm, table: raw.crm, primary_key: id }\n"})
	plan, err := models.Compile(p, duck)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range plan.Steps {
		if s.Kind == models.KindIdentity {
			t.Errorf("unexpected step %s", s.Name)
		}
	}
}

func TestColumnCheckReportsMissingEdgeColumns(t *testing.T) {
	p := loadProject(t, map[string]string{"identity.yml": `
sources:
  - { name: crm, table: raw.crm, primary_key: contact_id }
identity:
  id_types:
    email: { normalize: email }
    user_id: {}
  edges:
    - { source: crm, ids: { user_id: contact_id, email: emial }, timestamp: updatd_at }
`})
	cat := models.Catalog{"crm": {"contact_id", "email", "updated_at"}}
	var got []string
	for _, prob := range models.CheckColumns(p, cat) {
		got = append(got, strings.TrimPrefix(prob.String(), p.Dir+"/"))
	}
	want := []string{
		"identity.yml:9:57: source `crm` has no column `emial`; did you mean `email`? (columns: contact_id, email, updated_at)",
		"identity.yml:9:77: source `crm` has no column `updatd_at`; did you mean `updated_at`? (columns: contact_id, email, updated_at)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRoundCapIsAClearError(t *testing.T) {
	w := openDuckDB(t)
	g := chain(2000)
	loadGraph(t, w, g, inOrder(len(g.edges)))
	p := loadProject(t, map[string]string{"g.yml": graphProject + "  max_rounds: 2\n"})
	_, err := tryBuild(w, p)
	if !errors.Is(err, builder.ErrNotConverged) {
		t.Fatalf("err = %v, want ErrNotConverged", err)
	}
	msg := strings.TrimPrefix(err.Error(), p.Dir+"/")
	for _, want := range []string{"g.yml:10:15", "identity_components", "identity.max_rounds", "2 rounds"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

// Names and values from YAML reach SQL only quoted: odd column names and
// blocklist values with quotes work and cannot inject anything.
func TestQuotingOfYAMLNames(t *testing.T) {
	w := openDuckDB(t)
	exec(t, w, "CREATE SCHEMA raw", `CREATE TABLE raw.crm AS SELECT * FROM (VALUES
		(1, 'o''brien@example.com', 'a'),
		(2, 'x@example.com', 'a')) AS t("id; DROP TABLE raw.crm; --", "e""mail", "k")`)
	p := loadProject(t, map[string]string{"identity.yml": `
sources:
  - { name: crm, table: raw.crm, primary_key: 'id; DROP TABLE raw.crm; --' }
identity:
  id_types:
    email: { normalize: email, blocklist: ["O'Brien@example.com"] }
    k: {}
  edges:
    - { source: crm, ids: { email: 'e"mail', k: k } }
`})
	res := build(t, w, p)
	if got := metric(res, "identifiers"); got != "2" {
		t.Errorf("identifiers = %s, want 2 (o'brien blocklisted)", got)
	}
	if got := metric(res, "blocklisted values skipped (junk included)"); got != "1" {
		t.Errorf("blocklisted = %s, want 1", got)
	}
	var n int
	if err := warehouse.QueryRow(context.Background(), w, "SELECT count(*) FROM raw.crm", &n); err != nil || n != 2 {
		t.Errorf("raw.crm: %d rows, %v", n, err)
	}
}

// A source read by two edges: each edge links its own columns, and the row
// map still has one row per source row.
func TestSourceInTwoEdges(t *testing.T) {
	w := openDuckDB(t)
	exec(t, w, "CREATE SCHEMA raw", `CREATE TABLE raw.crm AS SELECT * FROM (VALUES
		('C1', 'a@example.com', '06 12 34 56 78', true),
		('C2', 'b@example.com', '06 99 99 99 99', false),
		('C3', NULL, '06 12 34 56 78', true)) AS t(id, email, phone, active)`)
	p := loadProject(t, map[string]string{"identity.yml": `
sources:
  - { name: crm, table: raw.crm, primary_key: id }
identity:
  id_types:
    email: { normalize: email }
    phone: { normalize: phone_e164, default_region: FR }
    user_id: {}
  edges:
    - { source: crm, ids: { user_id: id, email: email } }
    - { source: crm, ids: { user_id: id, phone: phone }, where: active }
`})
	build(t, w, p)
	got := profiles(t, w)
	if got["user_id:C1"] != got["user_id:C3"] || got["user_id:C1"] != got["email:a@example.com"] {
		t.Errorf("C1 and C3 share a phone and should be one profile: %v", got)
	}
	if _, ok := got["phone:+33699999999"]; ok {
		t.Errorf("C2's phone is on an inactive row and links nothing: %v", got)
	}
	var rows, keys int
	if err := warehouse.QueryRow(context.Background(), w, "SELECT count(*), count(DISTINCT row_key) FROM sluice.customer_row_map", &rows, &keys); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || keys != 3 {
		t.Errorf("row map: %d rows, %d keys; want 3 and 3", rows, keys)
	}
}

func TestUnsupportedPhoneRegion(t *testing.T) {
	p := loadProject(t, map[string]string{"identity.yml": `
sources:
  - { name: crm, table: raw.crm, primary_key: id }
identity:
  id_types:
    phone: { normalize: phone_e164, default_region: FR }
  edges:
    - { source: crm, ids: { phone: phone } }
`})
	// validate refuses JP (this package tells it which regions it has);
	// Compile still refuses a project built by hand.
	p.Identity.IDTypes[0].DefaultRegion = "JP"
	_, err := models.Compile(p, duck)
	if err == nil || !strings.Contains(err.Error(), "identity.yml:6:53") || !strings.Contains(err.Error(), `"JP" is not supported`) {
		t.Fatalf("err = %v", strings.ReplaceAll(fmt.Sprint(err), p.Dir+"/", ""))
	}
}
