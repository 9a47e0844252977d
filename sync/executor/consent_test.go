package executor_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/synctest"
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

// syncRecords applies the statements, runs the sync and returns what the
// destination received, sorted.
func syncRecords(t *testing.T, p *synctest.Project, name string, sql ...string) []string {
	t.Helper()
	p.Exec(t, sql...)
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
  - {name: people, table: raw.people, primary_key: id}
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

type consentStep struct {
	name string
	sql  []string
	want []string
}

func runConsentSteps(t *testing.T, p *synctest.Project, sync string, steps []consentStep) {
	t.Helper()
	for _, s := range steps {
		if got := syncRecords(t, p, sync, s.sql...); !slices.Equal(got, s.want) {
			t.Errorf("%s: %s: records\n%q\nwant\n%q", sync, s.name, got, s.want)
		}
	}
}

func newConsentProject(t *testing.T) *synctest.Project {
	p := synctest.New(t, synctest.Options{Files: map[string]string{"sync.yml": consentProject}})
	p.Exec(t, "CREATE SCHEMA raw",
		"CREATE TABLE raw.people (id INTEGER, email VARCHAR, email_ok BOOLEAN, ads_ok BOOLEAN)",
		"INSERT INTO raw.people VALUES (1, 'a@x.com', true, true), (2, 'b@x.com', true, NULL), (3, 'c@x.com', false, false), (4, 'd@x.com', NULL, NULL)")
	p.Build(t)
	return p
}

// Per-purpose consent: a record is sent while one purpose is true, carries
// every purpose's value, is updated when one changes, and is removed with
// reason consent when none is true.
func TestPurposeConsent(t *testing.T) {
	p := newConsentProject(t)
	runConsentSteps(t, p, "purposes", []consentStep{
		{"first run: a NULL purpose is unspecified; no purpose true is not sent", nil, []string{
			"upsert a@x.com {ads_user_data=true email=true}",
			"upsert b@x.com {ads_user_data=null email=true}",
		}},
		{"nothing changed", nil, nil},
		{"a purpose flips from true to false: an update with the new value", []string{"UPDATE raw.people SET ads_ok = false WHERE id = 1"}, []string{
			"upsert a@x.com {ads_user_data=false email=true}",
		}},
		{"a NULL purpose becomes false: an update", []string{"UPDATE raw.people SET ads_ok = false WHERE id = 2"}, []string{
			"upsert b@x.com {ads_user_data=false email=true}",
		}},
		{"every purpose false: removed for consent", []string{"UPDATE raw.people SET email_ok = false WHERE id = 1"}, []string{
			"delete a@x.com consent",
		}},
		{"one purpose turns true: sent", []string{"UPDATE raw.people SET ads_ok = true WHERE id = 3"}, []string{
			"upsert c@x.com {ads_user_data=true email=false}",
		}},
	})
}

// The scalar form is unchanged: records carry no consent values, and the
// gate alone decides.
func TestScalarConsentUnchanged(t *testing.T) {
	p := newConsentProject(t)
	runConsentSteps(t, p, "gate", []consentStep{
		{"first run", nil, []string{"upsert a@x.com", "upsert b@x.com"}},
		{"another column changes: nothing sent", []string{"UPDATE raw.people SET ads_ok = false WHERE id = 1"}, nil},
		{"consent withdrawn", []string{"UPDATE raw.people SET email_ok = false WHERE id = 2"}, []string{"delete b@x.com consent"}},
	})
}

// A destination that declares which purposes gate: only those decide
// sending; the others travel with the record.
func TestDestinationGatingPurposes(t *testing.T) {
	p := newConsentProject(t)
	runConsentSteps(t, p, "ads", []consentStep{
		{"only user data gates", nil, []string{"upsert a@x.com {ads_personalization=true ads_user_data=true}"}},
		{"personalisation alone is not enough", []string{"UPDATE raw.people SET ads_ok = false WHERE id = 1"}, []string{
			"delete a@x.com consent",
		}},
		{"user data without personalisation is sent", []string{"UPDATE raw.people SET ads_ok = true WHERE id = 3"}, []string{
			"upsert c@x.com {ads_personalization=false ads_user_data=true}",
		}},
	})
}

// The plan counts records without consent and shows the purposes' values
// in its samples.
func TestPurposeConsentPlan(t *testing.T) {
	p := newConsentProject(t)
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
	want := []string{"upsert a@x.com {ads_user_data=true email=true}", "upsert b@x.com {ads_user_data=null email=true}"}
	if !slices.Equal(got, want) {
		t.Errorf("add samples %q, want %q", got, want)
	}
}
