package hubspot_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/hubspot/fake"
	"github.com/sluicehq/sluice/examples/examplestest"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/all" // the quickstart's other destinations
	_ "github.com/sluicehq/sluice/models/all"     // identity, profiles, segments
)

// e2eToken is the fake's private-app token.
const e2eToken = "pat-na1-e2e-0123456789abcdef"

// hubspotProject is the quickstart's HubSpot part as this test needs it:
// the VIP segment as a static list, and every profile with e-mail
// consent as a contact keyed by e-mail (mirror: a withdrawal archives).
const hubspotProject = `destinations:
  - name: hubspot
    type: hubspot
    access_token: "${HUBSPOT_TOKEN}"
    base_url: "${HUBSPOT_URL}"
    create_properties: true
    create_lists: true
syncs:
  - name: vip_to_hubspot
    from: segment.vip
    to: hubspot
    list: VIP customers
    key: email
    consent: email_opt_in
    mapping:
      email: email
      firstname: first_name
      lifetime_value: lifetime_value
  - name: profiles_to_hubspot
    from: profiles
    to: hubspot
    mode: mirror
    key: email
    consent: email_opt_in
    mapping:
      email: email
      firstname: first_name
      country: country
      lifetime_value: lifetime_value
`

// quickstartFiles reads examples/quickstart (YAML and seed data), with the
// HubSpot file above.
func quickstartFiles(t *testing.T) map[string]string {
	t.Helper()
	files := examplestest.QuickstartFiles(t)
	// The test's own HubSpot file replaces the example's, if any: the
	// assertions below depend on its sync names, mirror mode and mapping.
	files["hubspot.yml"] = hubspotProject
	return files
}

// contactEmails lists the fake's contacts' e-mails, sorted.
func contactEmails(srv *fake.Server) []string {
	var out []string
	for _, c := range srv.Contacts() {
		out = append(out, c.Properties["email"])
	}
	sort.Strings(out)
	return out
}

// listEmails lists the e-mails of a list's members, sorted; nil when there
// is no list of that name.
func listEmails(srv *fake.Server, name string) []string {
	var out []string
	for _, l := range srv.Lists() {
		if l.Name != name {
			continue
		}
		for _, id := range srv.ListMembers(l.ID) {
			c, _ := srv.ContactByID(id)
			out = append(out, c.Properties["email"])
		}
	}
	sort.Strings(out)
	return out
}

// endpoints counts the requests made since the n-th, by method and endpoint.
func endpoints(srv *fake.Server, n int) map[string]int {
	out := map[string]int{}
	for _, r := range srv.Requests()[n:] {
		out[r.Method+" "+r.Endpoint]++
	}
	return out
}

const (
	vipList    = "VIP customers"
	vipModel   = examplestest.VIPEmails
	peopleMdl  = examplestest.ConsentingEmails
	badAddress = "bea.new@example.org" // examplestest.NewContacts' last
	upsertPath = "POST /crm/v3/objects/contacts/batch/upsert"
	readPath   = "POST /crm/v3/objects/contacts/batch/read"
)

// e2e is the quickstart synced to the fake HubSpot.
type e2e struct {
	srv *fake.Server
	p   *synctest.Project
}

// sync runs a sync, checking it sent what its plan said.
func (e *e2e) sync(t *testing.T, name string) (*engine.Result, error) {
	t.Helper()
	return e.p.SyncAsPlanned(t, name)
}

// TestQuickstartEndToEnd syncs the quickstart's HubSpot syncs to the fake,
// changes the data, and checks that each run sends exactly the delta, that
// an address HubSpot refuses inside a 207 is reported and retried, that an
// up-to-date sync sends nothing, and that an erasure reaches HubSpot.
func TestQuickstartEndToEnd(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: e2eToken, TenSecondly: -1})
	files := quickstartFiles(t)
	p := synctest.New(t, synctest.Options{Files: files, Env: examplestest.ProjectEnv(files, map[string]string{
		"HUBSPOT_TOKEN": e2eToken, "HUBSPOT_ACCESS_TOKEN": e2eToken, "HUBSPOT_URL": srv.URL, "HUBSPOT_BASE_URL": srv.URL,
		"SLUICE_ERASURE_SECRET": "hubspot-e2e-erasure-secret-0123456789",
	})})
	e := &e2e{srv: srv, p: p}
	p.Build(t)

	// Run 1: everything is new; the list is created.
	vip, err := e.sync(t, "vip_to_hubspot")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := listEmails(srv, vipList), p.Strings(t, vipModel); !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("VIP list %v, model %v", got, want)
	}
	if vip.Accepted != int64(len(p.Strings(t, vipModel))) {
		t.Errorf("vip accepted %d", vip.Accepted)
	}
	profiles, err := e.sync(t, "profiles_to_hubspot")
	if err != nil {
		t.Fatal(err)
	}
	people := p.Strings(t, peopleMdl)
	if profiles.Accepted != int64(len(people)) || !slices.Equal(contactEmails(srv), people) {
		t.Fatalf("profiles accepted %d; contacts %d, model %d", profiles.Accepted, len(contactEmails(srv)), len(people))
	}

	withdrawn, exiting, changed := e.changeData(t)

	// Run 2: exactly the delta.
	before := len(srv.Requests())
	vip, err = e.sync(t, "vip_to_hubspot")
	if err != nil {
		t.Fatal(err)
	}
	if *vip.Exits != 2 || *vip.Entries != 0 {
		t.Errorf("vip run 2: %d entries, %d exits; want 0 and 2", *vip.Entries, *vip.Exits)
	}
	if got, want := listEmails(srv, vipList), p.Strings(t, vipModel); !slices.Equal(got, want) || slices.Contains(got, withdrawn) || slices.Contains(got, exiting) {
		t.Errorf("VIP list after the exits %v, model %v", got, want)
	}
	if _, ok := srv.ContactByEmail(exiting); !ok {
		t.Error("a segment exit deleted the contact")
	}
	// The exits' record ids are those kept from their entries' upserts.
	if ep := endpoints(srv, before); ep[readPath] != 0 || ep["PUT /crm/v3/lists/{listId}/memberships/remove"] != 1 {
		t.Errorf("vip run 2: want one memberships call and no lookup, got %v", ep)
	}
	before = len(srv.Requests())
	profiles, err = e.sync(t, "profiles_to_hubspot")
	var rej *engine.RejectedError
	if !errors.As(err, &rej) || profiles.Rejected != 1 || len(profiles.Rejections) != 1 || !strings.Contains(profiles.Rejections[0].Error, "GDPR") {
		t.Fatalf("run 2: want the refused address reported, got %v (%d rejected)", err, profiles.Rejected)
	}
	if strings.Contains(profiles.Rejections[0].Error, badAddress) {
		t.Error("the rejection quotes the address")
	}
	// Two new people and the refused address; updates: the changed first
	// name and the exiting VIP's lifetime value (orders cancelled); one
	// withdrawal. One upsert call for the five, one archive.
	if profiles.Adds != 3 || profiles.Updates != 2 || profiles.Removes != 1 || profiles.Accepted != 5 {
		t.Errorf("profiles run 2: %d adds, %d updates, %d removes, %d accepted; want 3, 2, 1, 5", profiles.Adds, profiles.Updates, profiles.Removes, profiles.Accepted)
	}
	if ep := endpoints(srv, before); ep[upsertPath] != 1 || ep["POST /crm/v3/objects/contacts/batch/archive"] != 1 || ep[readPath] != 0 {
		t.Errorf("run 2: want one upsert and one archive call, and no lookup, got %v", ep)
	}
	if c, ok := srv.ContactByEmail(changed); !ok || c.Properties["firstname"] != "Renamed" {
		t.Errorf("changed trait: %+v", c.Properties)
	}
	if _, ok := srv.ContactByEmail(withdrawn); ok {
		t.Error("the withdrawn contact is still active")
	}
	if _, ok := srv.ContactByEmail(badAddress); ok {
		t.Error("the refused contact is at HubSpot")
	}
	if got, want := contactEmails(srv), examplestest.Without(p.Strings(t, peopleMdl), badAddress); !slices.Equal(got, want) {
		t.Errorf("contacts after run 2: %d, model %d", len(got), len(want))
	}

	// Run 3: only the refused record is sent again, and refused again.
	profiles, err = e.sync(t, "profiles_to_hubspot")
	if !errors.As(err, &rej) || profiles.Sent != 1 || profiles.Rejected != 1 || profiles.Accepted != 0 || profiles.Pending != 1 {
		t.Fatalf("run 3: sent %d, accepted %d, rejected %d, pending %d, %v; want the refused record retried", profiles.Sent, profiles.Accepted, profiles.Rejected, profiles.Pending, err)
	}
	// Run 4: the address is corrected at the source.
	examplestest.EditCSV(t, p.Dir, "crm_contacts.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if r[examplestest.Column(t, h, "contact_id")] == "N000003" {
				r[examplestest.Column(t, h, "email")] = "bea.renewed@example.org"
			}
		}
		return rows
	})
	p.Build(t)
	if _, err := e.sync(t, "profiles_to_hubspot"); err != nil {
		t.Fatalf("run 4: %v", err)
	}
	if got, want := contactEmails(srv), p.Strings(t, peopleMdl); !slices.Equal(got, want) {
		t.Errorf("contacts after run 4: %d, model %d", len(got), len(want))
	}

	// Run 5: up to date, not a single request.
	before = len(srv.Requests())
	for _, name := range []string{"vip_to_hubspot", "profiles_to_hubspot"} {
		res, err := e.sync(t, name)
		if err != nil || res.Sent != 0 {
			t.Errorf("%s run 5: sent %d, %v", name, res.Sent, err)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("up-to-date syncs made %d requests: %v", n, endpoints(srv, before))
	}
	if n := len(srv.GDPRDeletions()); n != 1 {
		t.Errorf("%d GDPR deletions, want only the one made by hand", n)
	}

	e.forget(t)
}

// blockAddress GDPR-deletes an address at HubSpot directly, as someone
// would in HubSpot's UI: HubSpot then refuses any contact with it.
func blockAddress(t *testing.T, srv *fake.Server, email string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/crm/v3/objects/contacts/gdpr-delete", strings.NewReader(`{"objectId":"`+email+`","idProperty":"email"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e2eToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("gdpr-delete: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || !srv.Blocked(email) {
		t.Fatalf("gdpr-delete: %s", resp.Status)
	}
}

// changeData edits the seed data: two new customers and one whose address
// HubSpot refuses (GDPR-deleted there before: an address the fake finds
// invalid is one sluice's normalisation drops, so it never reaches HubSpot), a
// changed first name, a VIP who withdraws e-mail consent, another VIP
// whose orders are cancelled (segment exit). It returns the withdrawn,
// exiting and changed addresses.
func (e *e2e) changeData(t *testing.T) (withdrawn, exiting, changed string) {
	c := examplestest.QuickstartChanges(t, e.p)
	blockAddress(t, e.srv, badAddress)
	return c.Withdrawn, c.Exiting, c.Changed
}

// forget queues an erasure for a VIP (as sluice forget does), builds and
// erases now: HubSpot records a GDPR deletion by e-mail for each sync, and
// the audit shows both HubSpot syncs done.
func (e *e2e) forget(t *testing.T) {
	ctx := context.Background()
	p, srv := e.p, e.srv
	who := p.Strings(t, vipModel)[0]
	svc := p.Engine.Erasure()
	if svc == nil {
		t.Fatal("the quickstart has no erasure block")
	}
	q, err := svc.Queue(ctx, erasure.Request{IDType: "email", Value: who, Reason: "asked by mail", Origin: erasure.FromForget})
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	if !q.Target.Found {
		t.Fatal("the erasure found nobody")
	}
	p.Build(t)
	for _, name := range []string{"vip_to_hubspot", "profiles_to_hubspot"} {
		res, err := p.Engine.Erase(ctx, name)
		if err != nil {
			t.Fatalf("erase %s: %v", name, err)
		}
		if res.Done != 1 {
			t.Errorf("erase %s: %+v, want one done", name, res)
		}
	}
	dels := srv.GDPRDeletions()[1:] // the first was made by hand
	if len(dels) != 2 || !dels[0].ByEmail || dels[0].RecordID == "" {
		t.Errorf("GDPR deletions %+v, want the contact deleted by e-mail (then not held)", dels)
	}
	if _, ok := srv.ContactByEmail(who); ok || !srv.Blocked(who) {
		t.Error("the erased person is still at HubSpot")
	}
	list, err := svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var a *erasure.Audit
	for i := range list {
		if list[i].ID == q.ID {
			a = &list[i]
		}
	}
	if a == nil {
		t.Fatalf("request %s not in the audit", q.ID)
	}
	done := map[string]string{}
	for _, s := range a.Syncs {
		done[s.Sync] = s.Outcome
		if s.Destination == "hubspot" && (s.DoneAt == nil || !strings.Contains(s.Ref, "gdpr-delete")) {
			t.Errorf("audit of %s: %+v", s.Sync, s)
		}
	}
	for _, name := range []string{"vip_to_hubspot", "profiles_to_hubspot"} {
		if done[name] != erasure.Done {
			t.Errorf("audit: %s is %q, want done (%v)", name, done[name], done)
		}
	}
	// The next sync sends the erased person nothing.
	before := len(srv.Requests())
	for _, name := range []string{"vip_to_hubspot", "profiles_to_hubspot"} {
		if res, err := e.sync(t, name); err != nil || res.Adds+res.Updates != 0 {
			t.Errorf("%s after the erasure: %d adds, %d updates, %v", name, res.Adds, res.Updates, err)
		}
	}
	if n := endpoints(srv, before)[upsertPath]; n != 0 {
		t.Errorf("after the erasure: %d upserts", n)
	}
}

// TestRejectedInside207EndToEnd syncs a batch of 100 people straight from
// a source (no identity normalisation) in which only one address, row 37's,
// is invalid: HubSpot answers 207 naming that input, and the engine counts 99
// delivered, reports the one (without quoting it) and retries it alone.
func TestRejectedInside207EndToEnd(t *testing.T) {
	const bad = "person37-at-example.com"
	srv := fake.New(t, fake.Options{Token: e2eToken, TenSecondly: -1})
	p := synctest.New(t, synctest.Options{
		Env:   map[string]string{"HUBSPOT_TOKEN": e2eToken, "HUBSPOT_URL": srv.URL},
		Files: map[string]string{"sync.yml": fmt.Sprintf(benchProject, 19.0)},
	})
	p.Exec(t, "CREATE SCHEMA raw", `CREATE TABLE raw.people AS SELECT i AS id,
			CASE WHEN i = 37 THEN '`+bad+`' ELSE 'person' || i || '@example.com' END AS email,
			'First' || i AS first_name, 'Last' || i AS last_name, NULL AS phone, 'FR' AS country, i * 1.5 AS ltv
			FROM range(1, 101) t(i)`)
	p.Build(t)
	e := &e2e{srv: srv, p: p}
	for _, tc := range []struct {
		run                               string
		fix                               bool
		sent, accepted, rejected, pending int64
		upserts, contacts                 int
	}{
		{run: "first", sent: 100, accepted: 99, rejected: 1, pending: 1, upserts: 1, contacts: 99},
		{run: "retry", sent: 1, accepted: 0, rejected: 1, pending: 1, upserts: 1, contacts: 99},
		{run: "fixed at the source", fix: true, sent: 1, accepted: 1, rejected: 0, pending: 0, upserts: 1, contacts: 100},
	} {
		if tc.fix {
			p.Exec(t, "UPDATE raw.people SET email = 'person37@example.com' WHERE id = 37")
			p.Build(t)
		}
		before := len(srv.Requests())
		res, err := e.sync(t, "people_to_hubspot")
		var rej *engine.RejectedError
		if (tc.rejected > 0) != errors.As(err, &rej) || (tc.rejected == 0 && err != nil) {
			t.Fatalf("%s run: %v", tc.run, err)
		}
		if res.Sent != tc.sent || res.Accepted != tc.accepted || res.Rejected != tc.rejected || res.Pending != tc.pending {
			t.Errorf("%s run: sent %d, accepted %d, rejected %d, pending %d; want %d, %d, %d, %d", tc.run,
				res.Sent, res.Accepted, res.Rejected, res.Pending, tc.sent, tc.accepted, tc.rejected, tc.pending)
		}
		if tc.rejected > 0 && (len(res.Rejections) != 1 || !strings.Contains(res.Rejections[0].Error, "INVALID_EMAIL") || strings.Contains(res.Rejections[0].Error, bad)) {
			t.Errorf("%s run: rejections %+v, want INVALID_EMAIL without the address", tc.run, res.Rejections)
		}
		if n := endpoints(srv, before)[upsertPath]; n != tc.upserts {
			t.Errorf("%s run: %d upsert calls, want %d", tc.run, n, tc.upserts)
		}
		if n := len(srv.Contacts()); n != tc.contacts {
			t.Errorf("%s run: %d contacts at HubSpot, want %d", tc.run, n, tc.contacts)
		}
	}
	if _, ok := srv.ContactByEmail(bad); ok {
		t.Error("the refused address is at HubSpot")
	}
}
