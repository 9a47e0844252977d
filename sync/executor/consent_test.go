package executor_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/clickhouse"
	_ "github.com/sluicehq/sluice/models/all" // identity and profiles, for profile syncs
)

// consentRecorder keeps the records written to the test destinations.
var consentRecorder struct {
	sync.Mutex
	got []destination.Record
}

type recorderDest struct{}

func (recorderDest) Check(context.Context) error { return nil }
func (recorderDest) Limits() destination.Limits  { return destination.Limits{BatchSize: 100} }
func (recorderDest) Close() error                { return nil }
func (recorderDest) Write(_ context.Context, b *destination.Batch) ([]error, error) {
	consentRecorder.Lock()
	defer consentRecorder.Unlock()
	consentRecorder.got = append(consentRecorder.got, b.Records...)
	return make([]error, len(b.Records)), nil
}

func init() {
	open := func(context.Context, destination.Config) (destination.Destination, error) { return recorderDest{}, nil }
	destination.Register(config.ComponentSpec{Type: "consent_recorder", Summary: "tests only"}, open)
	// An ad platform: user data gates sending, personalisation only travels.
	destination.Register(config.ComponentSpec{Type: "consent_ads_recorder", Summary: "tests only", ConsentPurposes: []config.ConsentPurpose{
		{Name: "ads_user_data", Required: true, Gate: true},
		{Name: "ads_personalization", Required: true},
	}}, open)
}

// describe renders a record as "op key [reason] [{purpose=value ...}]",
// values true, false or null; no braces when it carries no consent.
func describe(r destination.Record) string {
	out := []string{string(r.Op), r.Key}
	if r.Reason != "" {
		out = append(out, string(r.Reason))
	}
	if r.Consent != nil {
		var parts []string
		for k, v := range r.Consent {
			s := "null"
			if v != nil {
				s = fmt.Sprint(*v)
			}
			parts = append(parts, k+"="+s)
		}
		sort.Strings(parts)
		out = append(out, "{"+strings.Join(parts, " ")+"}")
	}
	return strings.Join(out, " ")
}

// syncRecords runs the sync and returns what the
// destination received, sorted.
func syncRecords(t *testing.T, p *synctest.Project, name string) []string {
	t.Helper()
	consentRecorder.Lock()
	consentRecorder.got = nil
	consentRecorder.Unlock()
	if _, err := p.Engine.Sync(context.Background(), name, engine.SyncOptions{}); err != nil {
		t.Fatalf("sync %s: %v", name, err)
	}
	consentRecorder.Lock()
	defer consentRecorder.Unlock()
	var out []string
	for _, r := range consentRecorder.got {
		out = append(out, describe(r))
	}
	slices.Sort(out)
	return out
}

const consentProject = `
sources:
  - {name: people, table: RAW.people, primary_key: id}
destinations:
  - {name: rec, type: consent_recorder}
  - {name: ads, type: consent_ads_recorder}
syncs:
  - name: purposes
    from: source.people
    to: rec
    key: email
    mode: mirror
    max_removals: 100%
    mapping: {email: email}
    consent:
      email: email_ok
      ads_user_data: ads_ok
      newsletter: email_ok
  - name: gate
    from: source.people
    to: rec
    key: email
    max_removals: 100%
    mapping: {email: email}
    consent: email_ok
  - name: ads
    from: source.people
    to: ads
    key: email
    max_removals: 100%
    mapping: {email: email}
    consent:
      ads_user_data: ads_ok
      ads_personalization: email_ok
`

// consentProjectOn is a people table (id, email, email_ok, ads_ok) and the
// syncs above, on one warehouse.
type consentProjectOn struct {
	*synctest.Project
	kind, raw string
}

// forEachConsentWarehouse runs fn on the project on DuckDB and, when
// SLUICE_CLICKHOUSE_DSN names a server, on ClickHouse (whose booleans are
// 0 and 1), in databases of its own.
func forEachConsentWarehouse(t *testing.T, fn func(t *testing.T, p *consentProjectOn)) {
	for _, kind := range []string{"duckdb", "clickhouse"} {
		t.Run(kind, func(t *testing.T) {
			files, env, raw := map[string]string{}, map[string]string{}, "raw"
			if kind == "clickhouse" {
				dsn := os.Getenv("SLUICE_CLICKHOUSE_DSN")
				if dsn == "" {
					t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
				}
				base := fmt.Sprintf("sluice_consent_test_%d", rand.Uint32())
				raw, env["CH_DSN"] = base+"_raw", dsn
				files["sluice.yml"] = "version: 1\nname: consent\nwarehouse: {type: clickhouse, dsn: \"${CH_DSN}\"}\nschema: " + base + "\nstate_schema: " + base + "_state\n"
				t.Cleanup(func() { dropDatabases(t, env["CH_DSN"], base, base+"_state", raw) })
			}
			files["sync.yml"] = strings.Replace(consentProject, "RAW.", raw+".", 1)
			p := &consentProjectOn{Project: synctest.New(t, synctest.Options{Files: files, Env: env}), kind: kind, raw: raw}
			if kind == "clickhouse" {
				p.Exec(t, "CREATE DATABASE "+raw, "CREATE TABLE "+raw+".people (id Int32, email String, email_ok Nullable(UInt8), ads_ok Nullable(UInt8)) ENGINE = MergeTree ORDER BY id")
			} else {
				p.Exec(t, "CREATE SCHEMA raw", "CREATE TABLE raw.people (id INTEGER, email VARCHAR, email_ok BOOLEAN, ads_ok BOOLEAN)")
			}
			p.write(t, consentRows{1: {yes, yes}, 2: {yes, null}, 3: {no, no}, 4: {null, null}})
			p.Build(t)
			fn(t, p)
		})
	}
}

// dropDatabases removes a test's ClickHouse databases through a warehouse
// of its own: the project's is closed by then.
func dropDatabases(t *testing.T, dsn string, dbs ...string) {
	w, err := warehouse.Open(context.Background(), warehouse.Config{Warehouse: config.Warehouse{Type: "clickhouse", DSN: config.Secret(dsn)}})
	if err != nil {
		t.Error(err)
		return
	}
	defer w.Close()
	for _, db := range dbs {
		if err := w.Exec(context.Background(), "DROP DATABASE IF EXISTS "+w.Dialect().Ident(db)); err != nil {
			t.Error(err)
		}
	}
}

// A consent value in a row: yes, no or null.
type tri int

const (
	null tri = iota
	yes
	no
)

// consentRows are the people rows by id (id 1 is a@x.com, 2 b@x.com...),
// each with its values of email_ok and ads_ok.
type consentRows map[int][2]tri

// write replaces the people table's rows (ClickHouse updates are
// asynchronous mutations, so every step writes the table whole).
func (p *consentProjectOn) write(t *testing.T, rows consentRows) {
	t.Helper()
	val := func(v tri) any {
		if v == null {
			return nil
		}
		return v == yes
	}
	var table [][]any
	for _, id := range slices.Sorted(maps.Keys(rows)) {
		r := rows[id]
		table = append(table, []any{int32(id), fmt.Sprintf("%c@x.com", 'a'+rune(id-1)), val(r[0]), val(r[1])})
	}
	if a, ok := p.W.(warehouse.RowAppender); ok && p.kind == "clickhouse" {
		p.Exec(t, "TRUNCATE TABLE "+p.raw+".people")
		if err := a.AppendRows(context.Background(), p.raw, "people", table); err != nil {
			t.Fatal(err)
		}
		return
	}
	lit := map[any]string{nil: "NULL", true: "true", false: "false"}
	var vals []string
	for _, r := range table {
		vals = append(vals, fmt.Sprintf("(%d, '%s', %s, %s)", r[0], r[1], lit[r[2]], lit[r[3]]))
	}
	p.Exec(t, "DELETE FROM raw.people", "INSERT INTO raw.people VALUES "+strings.Join(vals, ", "))
}

type consentStep struct {
	name string
	rows consentRows // nil: unchanged
	want []string
}

func runConsentSteps(t *testing.T, p *consentProjectOn, sync string, steps []consentStep) {
	t.Helper()
	for _, s := range steps {
		if s.rows != nil {
			p.write(t, s.rows)
		}
		if got := syncRecords(t, p.Project, sync); !slices.Equal(got, s.want) {
			t.Errorf("%s: %s: records\n%q\nwant\n%q", sync, s.name, got, s.want)
		}
	}
}

// Per-purpose consent: a record is sent while one purpose is true, carries
// every purpose's value, is updated when one changes, and is removed with
// reason consent when none is true.
func TestPurposeConsent(t *testing.T) {
	forEachConsentWarehouse(t, func(t *testing.T, p *consentProjectOn) {
		runConsentSteps(t, p, "purposes", []consentStep{
			{"first run: a NULL purpose is unspecified; no purpose true is not sent", nil, []string{
				"upsert a@x.com {ads_user_data=true email=true newsletter=true}",
				"upsert b@x.com {ads_user_data=null email=true newsletter=true}",
			}},
			{"nothing changed", nil, nil},
			{"a purpose flips from true to false: an update with the new value", consentRows{1: {yes, no}, 2: {yes, null}, 3: {no, no}, 4: {null, null}}, []string{
				"upsert a@x.com {ads_user_data=false email=true newsletter=true}",
			}},
			{"a NULL purpose becomes false: an update", consentRows{1: {yes, no}, 2: {yes, no}, 3: {no, no}, 4: {null, null}}, []string{
				"upsert b@x.com {ads_user_data=false email=true newsletter=true}",
			}},
			{"every purpose false: removed for consent", consentRows{1: {no, no}, 2: {yes, no}, 3: {no, no}, 4: {null, null}}, []string{
				"delete a@x.com consent",
			}},
			{"one purpose turns true: sent", consentRows{1: {no, no}, 2: {yes, no}, 3: {no, yes}, 4: {null, null}}, []string{
				"upsert c@x.com {ads_user_data=true email=false newsletter=false}",
			}},
		})
	})
}

// The scalar form is unchanged: records carry no consent values, and the
// gate alone decides.
func TestScalarConsentUnchanged(t *testing.T) {
	forEachConsentWarehouse(t, func(t *testing.T, p *consentProjectOn) {
		runConsentSteps(t, p, "gate", []consentStep{
			{"first run", nil, []string{"upsert a@x.com", "upsert b@x.com"}},
			{"another column changes: nothing sent", consentRows{1: {yes, no}, 2: {yes, null}, 3: {no, no}, 4: {null, null}}, nil},
			{"consent withdrawn", consentRows{1: {yes, no}, 2: {no, null}, 3: {no, no}, 4: {null, null}}, []string{"delete b@x.com consent"}},
		})
	})
}

// A destination that declares which purposes gate: only those decide
// sending; the others travel with the record.
func TestDestinationGatingPurposes(t *testing.T) {
	forEachConsentWarehouse(t, func(t *testing.T, p *consentProjectOn) {
		runConsentSteps(t, p, "ads", []consentStep{
			{"only user data gates", nil, []string{"upsert a@x.com {ads_personalization=true ads_user_data=true}"}},
			{"personalisation alone is not enough", consentRows{1: {yes, no}, 2: {yes, null}, 3: {no, no}, 4: {null, null}}, []string{
				"delete a@x.com consent",
			}},
			{"user data without personalisation is sent", consentRows{1: {yes, no}, 2: {yes, null}, 3: {no, yes}, 4: {null, null}}, []string{
				"upsert c@x.com {ads_personalization=false ads_user_data=true}",
			}},
		})
	})
}

// The plan counts records without consent and shows the purposes' values
// in its samples.
func TestPurposeConsentPlan(t *testing.T) {
	forEachConsentWarehouse(t, func(t *testing.T, p *consentProjectOn) { checkPurposeConsentPlan(t, p) })
}

func checkPurposeConsentPlan(t *testing.T, p *consentProjectOn) {
	plan, err := p.Engine.Plan(context.Background(), "purposes", engine.PlanOptions{Samples: 5})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Adds != 2 || plan.NotConsented != 2 {
		t.Errorf("adds %d, not consented %d; want 2 and 2", plan.Adds, plan.NotConsented)
	}
	var got []string
	for _, s := range plan.Samples[spec.Add] {
		got = append(got, describe(destination.Record{Op: destination.Op(s.Op), Key: *s.Key, Consent: s.Consent}))
	}
	slices.Sort(got)
	want := []string{"upsert a@x.com {ads_user_data=true email=true newsletter=true}", "upsert b@x.com {ads_user_data=null email=true newsletter=true}"}
	if !slices.Equal(got, want) {
		t.Errorf("add samples %q, want %q", got, want)
	}
}

// Traits carry per-purpose consent for profile syncs as columns do for
// source syncs; a purpose naming a column the model lacks stops the sync
// before anything is sent.
func TestPurposeConsentFromTraits(t *testing.T) {
	p := synctest.New(t, synctest.Options{Files: map[string]string{"sync.yml": `
sources:
  - {name: people, table: raw.people, primary_key: id}
  - {name: extra, table: raw.people, primary_key: id}
identity:
  id_types: {email: {normalize: email}}
  edges: [{source: people, ids: {email: email}}]
traits:
  email: {pick: email}
  email_ok: {from: people, pick: email_ok, rule: most_frequent}
  ads_ok: {from: people, pick: ads_ok, rule: most_frequent}
destinations:
  - {name: rec, type: consent_recorder}
syncs:
  - name: profiles_rec
    from: profiles
    to: rec
    key: email
    mapping: {email: email}
    consent: {email: email_ok, ads_user_data: ads_ok}
  - name: missing_column
    from: source.extra
    to: rec
    key: email
    mapping: {email: email}
    consent: {email: email_okay}
`}})
	p.Exec(t, "CREATE SCHEMA raw",
		"CREATE TABLE raw.people (id INTEGER, email VARCHAR, email_ok BOOLEAN, ads_ok BOOLEAN)",
		"INSERT INTO raw.people VALUES (1, 'a@x.com', true, NULL), (2, 'b@x.com', false, false)")
	p.Build(t)
	want := []string{"upsert a@x.com {ads_user_data=null email=true}"}
	if got := syncRecords(t, p, "profiles_rec"); !slices.Equal(got, want) {
		t.Errorf("profiles: records %q, want %q", got, want)
	}
	_, err := p.Engine.Sync(context.Background(), "missing_column", engine.SyncOptions{})
	if err == nil || !strings.Contains(err.Error(), "has no column email_okay") {
		t.Errorf("sync with a missing consent column: err = %v, want it to name the column", err)
	}
}
