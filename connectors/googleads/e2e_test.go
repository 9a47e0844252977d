package googleads_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/googleads/fake"
	"github.com/sluicehq/sluice/examples/examplestest"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/all" // the quickstart's other destinations
	_ "github.com/sluicehq/sluice/models/all"     // identity, profiles, segments
)

const (
	vipList   = "555000111"
	vipEmails = `SELECT p.email FROM sluice.customer_profiles p JOIN sluice.customer_segment_vip v USING (profile_id) WHERE p.email_opt_in`
)

// TestQuickstartEndToEnd syncs the quickstart's segments (its ads.yml: two
// Customer Match lists by e-mail, phone and country, e-mail consent
// standing in for both ad purposes) to the fake:
// the list holds exactly the VIPs' Google hashes, a withdrawal and a
// segment exit leave it, an up-to-date sync sends nothing, an erasure
// removes the person, and the fake counts no hash in a wrong form for
// any of the quickstart's people.
func TestQuickstartEndToEnd(t *testing.T) {
	env := newTestEnv(t, fake.Options{Accounts: map[string][]string{testCustomer: {vipList, "555000222"}}})
	files := examplestest.QuickstartFiles(t)
	if !strings.Contains(files["ads.yml"], "type: google_ads\n") {
		t.Fatal("the quickstart's ads.yml has no google_ads destination")
	}
	p := synctest.New(t, synctest.Options{Files: files, Env: examplestest.ProjectEnv(files, map[string]string{
		"GOOGLE_ADS_CREDENTIALS": env.sa.json, "GOOGLE_ADS_BASE_URL": env.srv.URL,
		"SLUICE_ERASURE_SECRET": "google-e2e-erasure-secret-0123456789",
	})})
	p.Build(t)
	registerPeople(t, env.srv, p)
	ctx := context.Background()

	for _, name := range []string{"vip_to_google", "lapsed_to_google"} {
		res, err := p.Engine.Sync(ctx, name, engine.SyncOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Accepted == 0 || res.Accepted != *res.Entries {
			t.Errorf("%s: %d accepted of %d entries", name, res.Accepted, *res.Entries)
		}
	}
	vips := p.Strings(t, vipEmails)
	sameList(t, env.srv, vips)

	// A VIP withdraws consent, another's orders are cancelled.
	withdrawn, exiting := vips[0], vips[1]
	changeVIPs(t, p, withdrawn, exiting)
	p.Build(t)
	res, err := p.Engine.Sync(ctx, "vip_to_google", engine.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *res.Exits < 1 || *res.Entries != 0 {
		t.Errorf("run 2: %d entries, %d exits", *res.Entries, *res.Exits)
	}
	sameList(t, env.srv, p.Strings(t, vipEmails))

	before := len(env.srv.Requests())
	if res, err := p.Engine.Sync(ctx, "vip_to_google", engine.SyncOptions{}); err != nil || res.Sent != 0 {
		t.Errorf("up to date: sent %d, %v", res.Sent, err)
	}
	if n := len(env.srv.Requests()) - before; n > 2 {
		t.Errorf("an up-to-date sync made %d requests (a check at most)", n)
	}

	who := p.Strings(t, vipEmails)[0]
	svc := p.Engine.Erasure()
	if svc == nil {
		t.Fatal("the quickstart has no erasure block")
	}
	if _, err := svc.Queue(ctx, erasure.Request{IDType: "email", Value: who, Reason: "asked", Origin: erasure.FromForget}); err != nil {
		t.Fatal(err)
	}
	p.Build(t)
	er, err := p.Engine.Erase(ctx, "vip_to_google")
	if err != nil || er.Done != 1 {
		t.Fatalf("erase: %+v, %v", er, err)
	}
	for _, m := range env.srv.Members(testCustomer, vipList) {
		if slices.Contains(m.Emails, fake.HashEmail(who)) {
			t.Error("the erased person is still in the list")
		}
	}
	if v := env.srv.Violations(); len(v) > 0 {
		t.Errorf("%d violations, first %+v", len(v), v[0])
	}
}

// changeVIPs edits the seed data: one VIP withdraws e-mail (here: ad)
// consent, another's orders are all cancelled (a segment exit).
func changeVIPs(t *testing.T, p *synctest.Project, withdrawn, exiting string) {
	t.Helper()
	examplestest.EditCSV(t, p.Dir, "crm_contacts.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if strings.EqualFold(strings.TrimSpace(r[slices.Index(h, "email")]), withdrawn) {
				r[slices.Index(h, "email_consent")] = "false"
			}
		}
		return rows
	})
	ids := p.Strings(t, `SELECT m.id_value FROM sluice.customer_identity_map m JOIN sluice.customer_profiles p USING (profile_id)
		WHERE p.email = ? AND m.id_type IN ('user_id', 'email')`, exiting)
	examplestest.EditCSV(t, p.Dir, "orders.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if slices.Contains(ids, r[slices.Index(h, "contact_id")]) || slices.Contains(ids, strings.ToLower(strings.TrimSpace(r[slices.Index(h, "email")]))) {
				r[slices.Index(h, "status")] = "cancelled"
			}
		}
		return rows
	})
}

// registerPeople tells the fake every quickstart contact's identifiers.
func registerPeople(t *testing.T, srv *fake.Server, p *synctest.Project) {
	t.Helper()
	r, err := p.W.Query(context.Background(), "SELECT email, phone, country FROM sluice.customer_profiles")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var email, phone, country *string
		if err := r.Scan(&email, &phone, &country); err != nil {
			t.Fatal(err)
		}
		srv.Register(fake.Identity{Email: deref(email), Phone: deref(phone), Country: deref(country)})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// sameList checks the VIP list holds exactly these people (by Google's
// hash of their e-mail).
func sameList(t *testing.T, srv *fake.Server, emails []string) {
	t.Helper()
	var want, got []string
	for _, e := range emails {
		want = append(want, fake.HashEmail(e))
	}
	for _, m := range srv.Members(testCustomer, vipList) {
		got = append(got, m.Emails...)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("the list holds %d e-mails, the model %d", len(got), len(want))
	}
}
