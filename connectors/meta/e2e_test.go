package meta_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/meta/fake"
	"github.com/sluicehq/sluice/examples/examplestest"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/all" // the quickstart's other destinations
	_ "github.com/sluicehq/sluice/models/all"     // identity, profiles, segments
)

const (
	vipModel    = `SELECT lower(p.email) FROM sluice.customer_profiles p JOIN sluice.customer_segment_vip v USING (profile_id) WHERE p.email_opt_in AND p.email IS NOT NULL`
	lapsedModel = `SELECT lower(p.email) FROM sluice.customer_profiles p JOIN sluice.customer_segment_lapsed v USING (profile_id) WHERE p.email_opt_in AND p.email IS NOT NULL`
)

// register tells the fake every profile's raw identifiers, as the
// warehouse holds them: it computes Meta's hashes of them on its own.
func register(t *testing.T, srv *fake.Server, p *synctest.Project) {
	t.Helper()
	r, err := p.W.Query(context.Background(), "SELECT email, phone, first_name, last_name, country FROM sluice.customer_profiles")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var email, phone, first, last, country *string
		if err := r.Scan(&email, &phone, &first, &last, &country); err != nil {
			t.Fatal(err)
		}
		v := func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		}
		region := "FR" // phone_region
		if c := strings.TrimSpace(v(country)); len(c) == 2 {
			region = c
		}
		srv.Register(fake.Person{Email: v(email), Phone: v(phone), Region: region, FirstName: v(first), LastName: v(last), Country: v(country)})
	}
}

// members lists the lower-cased e-mails an audience holds, read back from
// the hashes alone.
func members(t *testing.T, srv *fake.Server, name string) []string {
	t.Helper()
	a, _ := srv.AudienceByName(name)
	var out []string
	for _, m := range a.Members {
		people := srv.People("EMAIL", m.Cells["EMAIL"])
		if len(people) == 0 {
			t.Errorf("%s holds an e-mail hash of nobody known", name)
			continue
		}
		out = append(out, strings.ToLower(strings.TrimSpace(people[0].Email)))
	}
	sort.Strings(out)
	return out
}

// TestQuickstartEndToEnd syncs the quickstart's VIP and lapsed segments
// (its ads.yml: every match key the profiles have, e-mail consent standing
// in for ads_user_data) to audiences in the fake, then a consent withdrawal, a segment exit and
// an erasure: the audiences follow the model exactly, every hash sent is
// Meta's expected one for a known person (no violation, nothing unknown),
// and an up-to-date sync sends nothing.
func TestQuickstartEndToEnd(t *testing.T) {
	ctx := context.Background()
	srv := fake.New(t, fake.Options{Token: testToken, AdAccount: testAccount})
	files := examplestest.QuickstartFiles(t)
	if !strings.Contains(files["ads.yml"], "type: meta\n") {
		t.Fatal("the quickstart's ads.yml has no meta destination")
	}
	p := synctest.New(t, synctest.Options{Files: files, Env: examplestest.ProjectEnv(files, map[string]string{
		"META_TOKEN": testToken, "META_URL": srv.URL, "SLUICE_ERASURE_SECRET": "meta-e2e-erasure-secret-0123456789",
	})})
	p.Build(t)
	register(t, srv, p)
	for _, c := range []struct{ sync, audience, model string }{
		{"vip_to_meta", "VIP customers", vipModel}, {"lapsed_to_meta", "Lapsed customers", lapsedModel},
	} {
		res, err := p.Engine.Sync(ctx, c.sync, engine.SyncOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.sync, err)
		}
		want := p.Strings(t, c.model)
		if got := members(t, srv, c.audience); len(want) == 0 || !slices.Equal(got, want) || res.Accepted != int64(len(want)) {
			t.Fatalf("%s: audience %v, model %v, accepted %d", c.sync, got, want, res.Accepted)
		}
	}

	// A VIP withdraws consent, another leaves the segment (orders cancelled).
	vips := p.Strings(t, vipModel)
	withdrawn, exiting := vips[0], vips[1]
	exitingIDs := p.Strings(t, `SELECT m.id_value FROM sluice.customer_identity_map m JOIN sluice.customer_profiles p USING (profile_id)
		WHERE lower(p.email) = ? AND m.id_type IN ('user_id', 'email')`, exiting)
	examplestest.EditCSV(t, p.Dir, "crm_contacts.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if strings.ToLower(strings.TrimSpace(r[slices.Index(h, "email")])) == withdrawn {
				r[slices.Index(h, "email_consent")] = "false"
			}
		}
		return rows
	})
	examplestest.EditCSV(t, p.Dir, "orders.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if slices.Contains(exitingIDs, r[slices.Index(h, "contact_id")]) || slices.Contains(exitingIDs, strings.ToLower(strings.TrimSpace(r[slices.Index(h, "email")]))) {
				r[slices.Index(h, "status")] = "cancelled"
			}
		}
		return rows
	})
	p.Build(t)
	res, err := p.Engine.Sync(ctx, "vip_to_meta", engine.SyncOptions{})
	if err != nil || res.Removes != 2 || res.Adds != 0 {
		t.Fatalf("vip run 2: %d adds, %d removes, %v; want 0 and 2", res.Adds, res.Removes, err)
	}
	if got, want := members(t, srv, "VIP customers"), p.Strings(t, vipModel); !slices.Equal(got, want) || slices.Contains(got, withdrawn) || slices.Contains(got, exiting) {
		t.Errorf("VIP audience after the exits %v, model %v", got, want)
	}

	// An erasure reaches the audience.
	who := p.Strings(t, vipModel)[0]
	svc := p.Engine.Erasure()
	q, err := svc.Queue(ctx, erasure.Request{IDType: "email", Value: who, Reason: "asked by mail", Origin: erasure.FromForget})
	if err != nil || !q.Target.Found {
		t.Fatalf("queue: %v (found %t)", err, q.Target.Found)
	}
	p.Build(t)
	er, err := p.Engine.Erase(ctx, "vip_to_meta")
	if err != nil || er.Done != 1 {
		t.Fatalf("erase: %+v, %v", er, err)
	}
	if slices.Contains(members(t, srv, "VIP customers"), who) {
		t.Error("the erased person is still in the audience")
	}

	// Up to date: not a request.
	before := len(srv.Requests())
	for _, name := range []string{"vip_to_meta", "lapsed_to_meta"} {
		if res, err := p.Engine.Sync(ctx, name, engine.SyncOptions{}); err != nil || res.Sent != 0 {
			t.Errorf("%s up to date: sent %d, %v", name, res.Sent, err)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("up-to-date syncs made %d requests", n)
	}
	st := srv.Stats()
	if st.Violations != 0 || st.Unknown != 0 || st.Verified == 0 {
		t.Errorf("the fake verified %d cells, found %d unknown and %d violations: %+v", st.Verified, st.Unknown, st.Violations, srv.Violations())
	}
	t.Logf("fake: %d requests, %d rows added, %d removed, %d cells verified", st.Requests, st.RowsAdded, st.RowsRemoved, st.Verified)
}
