package klaviyo_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/klaviyo/fake"
	"github.com/sluicehq/sluice/examples/examplestest"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/all" // the quickstart's other destinations
	_ "github.com/sluicehq/sluice/models/all"     // identity, profiles, segments
)

// quickstartFiles reads examples/quickstart (YAML and seed data).
func quickstartFiles(t *testing.T) map[string]string {
	t.Helper()
	files := examplestest.QuickstartFiles(t)
	if _, ok := files["klaviyo.yml"]; !ok {
		t.Fatal("examples/quickstart/klaviyo.yml is missing")
	}
	return files
}

func col(header []string, name string) int {
	i := slices.Index(header, name)
	if i < 0 {
		panic("no column " + name)
	}
	return i
}

func listEmails(srv *fake.Server, list string) []string {
	var out []string
	for _, p := range srv.ListMembers(list) {
		out = append(out, p.Email)
	}
	sort.Strings(out)
	return out
}

// consentCheck compares every synced profile's subscriptions with the
// model: a channel with consent true is SUBSCRIBED (historical, dated by
// its consent time when the model has one); false is UNSUBSCRIBED or was
// never subscribed; NULL was never touched.
func consentCheck(t *testing.T, p *synctest.Project, srv *fake.Server, pending ...string) {
	t.Helper()
	r, err := p.W.Query(context.Background(), `SELECT profile_id, email, phone, email_opt_in, strftime(email_opt_in_at, '%Y-%m-%dT%H:%M:%SZ'), sms_opt_in
		FROM sluice.customer_profiles WHERE marketing_consent`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	checked := 0
	for r.Next() {
		var id string
		var email, phone, emailAt *string
		var emailOK, smsOK *bool
		if err := r.Scan(&id, &email, &phone, &emailOK, &emailAt, &smsOK); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(pending, id) {
			continue // refused by Klaviyo, retried next run
		}
		if email != nil {
			sub, ok := srv.Subscription(*email, "email")
			switch {
			case emailOK != nil && *emailOK:
				if !ok || sub.Consent != "SUBSCRIBED" || (emailAt != nil && (!sub.Historical || sub.ConsentedAt != *emailAt)) {
					t.Errorf("profile %s: e-mail subscription %+v, model consent true at %v", id, sub, deref(emailAt))
				}
			case emailOK != nil:
				if ok && sub.Consent != "UNSUBSCRIBED" {
					t.Errorf("profile %s: e-mail %+v, model consent false", id, sub)
				}
			default:
				if ok {
					t.Errorf("profile %s: e-mail consent unknown in the model, yet %+v", id, sub)
				}
			}
		}
		if phone != nil {
			sub, ok := srv.Subscription(*phone, "sms")
			if smsOK != nil && *smsOK && (!ok || sub.Consent != "SUBSCRIBED") {
				t.Errorf("profile %s: sms %+v, model consent true", id, sub)
			}
			if smsOK != nil && !*smsOK && ok && sub.Consent == "SUBSCRIBED" {
				t.Errorf("profile %s: sms subscribed, model consent false", id)
			}
		}
		checked++
	}
	if checked < 100 {
		t.Fatalf("only %d consenting profiles checked", checked)
	}
}

func deref(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}

// TestQuickstartEndToEnd syncs the quickstart's Klaviyo syncs to the fake,
// changes the data, and checks that each run sends exactly the delta, that
// a record Klaviyo refuses is reported and retried, and that consent and
// list membership follow the model.
func TestQuickstartEndToEnd(t *testing.T) {
	srv := newFake(t, fake.Options{JobProcessing: 30 * time.Millisecond})
	files := quickstartFiles(t)
	p := synctest.New(t, synctest.Options{Files: files, Env: examplestest.ProjectEnv(files, map[string]string{"KLAVIYO_API_KEY": goodKey, "KLAVIYO_BASE_URL": srv.URL})})
	p.Build(t)
	const vipList = "VIP customers"
	vipModel := `SELECT p.email FROM sluice.customer_profiles p JOIN sluice.customer_segment_vip v USING (profile_id) WHERE p.email_opt_in`
	sync := func(name string) (*engine.Result, error) {
		t.Helper()
		before := srv.Stats()
		res, err := p.SyncAsPlanned(t, name)
		after := srv.Stats()
		// Exactly the delta: every add and update is one profile in a bulk
		// import job, and nothing else is imported.
		if got := (after.Imported + after.ImportFails) - (before.Imported + before.ImportFails); int64(got) != res.Adds+res.Updates {
			t.Errorf("%s: %d profiles in import jobs for %d adds and updates", name, got, res.Adds+res.Updates)
		}
		return res, err
	}

	// Run 1: everything is new.
	vip, err := sync("vip_to_klaviyo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listEmails(srv, vipList), p.Strings(t, vipModel); !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("VIP list %v, model %v", got, want)
	}
	if vip.Sent != int64(len(p.Strings(t, vipModel))) {
		t.Errorf("vip sent %d", vip.Sent)
	}
	profiles, err := sync("profiles_to_klaviyo")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Strings(t, "SELECT profile_id FROM sluice.customer_profiles WHERE marketing_consent")); profiles.Accepted != int64(n) {
		t.Errorf("profiles accepted %d, model %d", profiles.Accepted, n)
	}
	consentCheck(t, p, srv)

	// The data changes: three new customers, a VIP withdraws e-mail consent,
	// another VIP's orders are cancelled (segment exit). One new customer's
	// phone number looks like E.164, so sluice's normalisation keeps it,
	// but it is not a real number (a UK drama number), so Klaviyo refuses
	// the profile.
	vips := p.Strings(t, vipModel)
	withdrawn := ""
	for _, e := range vips {
		// A VIP without SMS consent: withdrawing e-mail leaves no consent.
		if len(p.Strings(t, "SELECT email FROM sluice.customer_profiles WHERE email = ? AND NOT coalesce(sms_opt_in, false)", e)) == 1 {
			withdrawn = e
			break
		}
	}
	if withdrawn == "" {
		t.Fatal("no VIP without SMS consent in the quickstart data")
	}
	exiting := vips[0]
	if exiting == withdrawn {
		exiting = vips[1]
	}
	exitingIDs := p.Strings(t, `SELECT m.id_value FROM sluice.customer_identity_map m JOIN sluice.customer_profiles p USING (profile_id)
		WHERE p.email = ? AND m.id_type IN ('user_id', 'email')`, exiting)
	examplestest.EditCSV(t, p.Dir, "crm_contacts.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if strings.EqualFold(strings.TrimSpace(r[col(h, "email")]), withdrawn) {
				r[col(h, "email_consent")] = "false"
			}
		}
		add := func(id, email, phone, first, country string) {
			r := make([]string, len(h))
			r[col(h, "contact_id")], r[col(h, "email")], r[col(h, "phone")], r[col(h, "first_name")], r[col(h, "country")] = id, email, phone, first, country
			r[col(h, "email_consent")], r[col(h, "email_consent_at")] = "true", "2026-01-15T08:00:00Z"
			r[col(h, "sms_consent")], r[col(h, "sms_consent_at")] = "true", "2026-01-15T08:00:00Z"
			r[col(h, "created_at")], r[col(h, "updated_at")] = "2026-01-15T08:00:00Z", "2026-01-15T08:00:00Z"
			rows = append(rows, r)
		}
		add("N000001", "nina.new@example.org", "+33611111111", "Nina", "FR")
		add("N000002", "noah.new@example.org", "", "Noah", "FR")
		add("N000003", "badphone.new@example.org", "+447700900123", "Bea", "GB")
		return rows
	})
	examplestest.EditCSV(t, p.Dir, "orders.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if slices.Contains(exitingIDs, r[col(h, "contact_id")]) || slices.Contains(exitingIDs, strings.ToLower(strings.TrimSpace(r[col(h, "email")]))) {
				r[col(h, "status")] = "cancelled"
			}
		}
		return rows
	})
	const refusal = "klaviyo import error: Invalid phone number format"
	p.Build(t)
	badID := p.Strings(t, "SELECT profile_id FROM sluice.customer_profiles WHERE email = 'badphone.new@example.org'")

	// Run 2: exactly the delta.
	vip, err = sync("vip_to_klaviyo")
	if err != nil {
		t.Fatal(err)
	}
	if *vip.Exits != 2 || *vip.Entries != 0 {
		t.Errorf("vip run 2: %d entries, %d exits; want 0 and 2", *vip.Entries, *vip.Exits)
	}
	if got, want := listEmails(srv, vipList), p.Strings(t, vipModel); !slices.Equal(got, want) || slices.Contains(got, withdrawn) || slices.Contains(got, exiting) {
		t.Errorf("VIP list after the exits %v, model %v", got, want)
	}
	if _, ok := srv.ProfileByEmail(exiting); !ok {
		t.Error("a segment exit deleted the profile")
	}
	if sub, _ := srv.Subscription(exiting, "email"); sub.Consent != "SUBSCRIBED" {
		t.Errorf("a segment exit touched consent: %+v", sub)
	}
	profiles, err = sync("profiles_to_klaviyo")
	var rej *engine.RejectedError
	if !errors.As(err, &rej) || profiles.Rejected != 1 || !strings.Contains(profiles.Rejections[0].Error, refusal) {
		t.Fatalf("run 2: want the refused phone reported, got %v (%d rejected)", err, profiles.Rejected)
	}
	if profiles.Adds != 3 || profiles.Removes != 1 {
		t.Errorf("profiles run 2: %d adds, %d removes; want 3 new customers and 1 withdrawal", profiles.Adds, profiles.Removes)
	}
	if sub, _ := srv.Subscription(withdrawn, "email"); sub.Consent != "UNSUBSCRIBED" {
		t.Errorf("withdrawn consent: %+v, want unsubscribed", sub)
	}
	if _, ok := srv.ProfileByEmail(withdrawn); !ok {
		t.Error("a consent withdrawal deleted the profile")
	}
	if sub, _ := srv.Subscription("nina.new@example.org", "email"); sub.Consent != "SUBSCRIBED" || !sub.Historical || sub.ConsentedAt != "2026-01-15T08:00:00Z" {
		t.Errorf("new customer's e-mail consent: %+v", sub)
	}
	if sub, _ := srv.Subscription("+33611111111", "sms"); sub.Consent != "SUBSCRIBED" || !sub.Historical {
		t.Errorf("new customer's SMS consent: %+v", sub)
	}
	if _, ok := srv.ProfileByEmail("badphone.new@example.org"); ok {
		t.Error("the refused profile is at Klaviyo")
	}
	consentCheck(t, p, srv, badID...)

	// Run 3: nothing changed but the refused record, which is sent again
	// (and refused again).
	profiles, err = sync("profiles_to_klaviyo")
	if !errors.As(err, &rej) || profiles.Sent != 1 || profiles.Rejected != 1 || profiles.Pending != 1 {
		t.Fatalf("run 3: sent %d, rejected %d, pending %d, %v; want the one refused record retried", profiles.Sent, profiles.Rejected, profiles.Pending, err)
	}
	// Run 4: the number is corrected at the source; Klaviyo takes it.
	examplestest.EditCSV(t, p.Dir, "crm_contacts.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if r[col(h, "contact_id")] == "N000003" {
				r[col(h, "phone")] = "+447911123456"
			}
		}
		return rows
	})
	p.Build(t)
	profiles, err = sync("profiles_to_klaviyo")
	if err != nil || profiles.Sent != 1 || profiles.Accepted != 1 || profiles.Pending != 0 {
		t.Fatalf("run 4: sent %d, accepted %d, pending %d, %v", profiles.Sent, profiles.Accepted, profiles.Pending, err)
	}
	if p, ok := srv.ProfileByEmail("badphone.new@example.org"); !ok || p.Phone != "+447911123456" {
		t.Errorf("retried profile: %+v", p)
	}
	consentCheck(t, p, srv)
	// Run 5: up to date, not a single request.
	before := srv.Stats().Requests
	for _, name := range []string{"vip_to_klaviyo", "profiles_to_klaviyo"} {
		res, err := sync(name)
		if err != nil || res.Sent != 0 {
			t.Errorf("%s run 5: sent %d, %v", name, res.Sent, err)
		}
	}
	if n := srv.Stats().Requests - before; n != 0 {
		t.Errorf("up-to-date syncs made %d requests", n)
	}
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path, "suppression") || strings.Contains(r.Path, "data-privacy") {
			t.Errorf("a sync must never suppress or erase: %s %s", r.Method, r.Path)
		}
	}
}
