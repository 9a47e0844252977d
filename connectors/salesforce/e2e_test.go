package salesforce_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/connectors/salesforce"
	"github.com/sluicehq/sluice/connectors/salesforce/fake"
	"github.com/sluicehq/sluice/examples/examplestest"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/all" // the quickstart's other destinations
	_ "github.com/sluicehq/sluice/models/all"     // identity, profiles, segments
)

// quickstartSalesforce is the quickstart's salesforce.yml (the VIP segment
// as a campaign's members, every profile with e-mail consent as a Contact
// upserted by the External ID field Sluice_Email__c), with bulk_threshold
// and the destination options of extra (lines indented by four) added.
func quickstartSalesforce(t *testing.T, files map[string]string, threshold int, extra string) string {
	t.Helper()
	const anchor = "    object: Contact\n"
	sf := files["salesforce.yml"]
	if !strings.Contains(sf, anchor) {
		t.Fatalf("the quickstart's salesforce.yml has no %q line", strings.TrimSpace(anchor))
	}
	return strings.Replace(sf, anchor, anchor+fmt.Sprintf("    bulk_threshold: %d\n", threshold)+extra, 1)
}

// e2eObjects are the org's custom fields the project maps.
var e2eObjects = []fake.Object{{Name: "Contact", Fields: []fake.Field{
	fake.ExternalIDField("Sluice_Email__c"),
	{Name: "Lifetime_Value__c", Type: "double"},
}}}

const (
	campaign   = "VIP customers"
	vipModel   = examplestest.VIPEmails
	peopleMdl  = examplestest.ConsentingEmails
	badAddress = "bea.new@example.org" // examplestest.NewContacts' last
	upsertEP   = "PATCH /services/data/{version}/composite/sobjects/{sobject}/{field}"
	jobEP      = "POST /services/data/{version}/jobs/ingest"
)

// e2e is the quickstart synced to the fake org.
type e2e struct {
	srv *fake.Server
	rw  *rewriter
	p   *synctest.Project
}

func newE2E(t *testing.T, threshold int, extra string, opts fake.Options) *e2e {
	t.Helper()
	opts.Objects = e2eObjects
	srv, rw := startFake(t, opts)
	files := examplestest.QuickstartFiles(t)
	files["salesforce.yml"] = quickstartSalesforce(t, files, threshold, extra)
	p := synctest.New(t, synctest.Options{Files: files, Env: examplestest.ProjectEnv(files, map[string]string{
		"SALESFORCE_CLIENT_ID": testClientID, "SALESFORCE_CLIENT_SECRET": testSecret, "SALESFORCE_LOGIN_URL": srv.URL,
		"SLUICE_ERASURE_SECRET": "salesforce-e2e-erasure-secret-0123456789",
	})})
	p.Build(t)
	return &e2e{srv: srv, rw: rw, p: p}
}

// sync runs a sync, checking it sent what its plan said.
func (e *e2e) sync(t *testing.T, name string) (*engine.Result, error) {
	t.Helper()
	return e.p.SyncAsPlanned(t, name)
}

// contactKeys lists the Contacts' external ids, sorted, and fails on a
// duplicate (a retried create would make one).
func contactKeys(t *testing.T, srv *fake.Server) []string {
	t.Helper()
	var out []string
	for _, c := range srv.Records("Contact") {
		k, _ := c["Sluice_Email__c"].(string)
		out = append(out, strings.ToLower(k))
	}
	sort.Strings(out)
	if d := slices.Compact(slices.Clone(out)); len(d) != len(out) {
		t.Errorf("%d Contacts for %d external ids: duplicates", len(out), len(d))
	}
	return out
}

// campaignKeys lists the external ids of the campaign's members, sorted.
func campaignKeys(srv *fake.Server) []string {
	var cid string
	for _, c := range srv.Records("Campaign") {
		if c["Name"] == campaign {
			cid, _ = c["Id"].(string)
		}
	}
	byID := map[string]string{}
	for _, c := range srv.Records("Contact") {
		k, _ := c["Sluice_Email__c"].(string)
		byID[c["Id"].(string)] = strings.ToLower(k)
	}
	var out []string
	for _, m := range srv.Records("CampaignMember") {
		if id, _ := m["ContactId"].(string); m["CampaignId"] == cid && cid != "" {
			out = append(out, byID[id])
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

// checkPath checks that a record sync's upserts since the n-th request
// took the run's path only.
func checkPath(t *testing.T, srv *fake.Server, n int, bulk bool, run string) {
	t.Helper()
	ep := endpoints(srv, n)
	if bulk && (ep[upsertEP] != 0 || ep[jobEP] == 0) || !bulk && ep[jobEP] != 0 {
		t.Errorf("%s: bulk %v, but %d collection upserts and %d ingest jobs", run, bulk, ep[upsertEP], ep[jobEP])
	}
}

// TestQuickstartEndToEnd syncs the quickstart's Salesforce syncs to the
// fake org through each path, changes the data, and checks that each run
// sends exactly the delta, that a record Salesforce refuses is reported
// and retried alone, that no Contact is ever created twice, that an
// up-to-date sync sends nothing, and that an erasure deletes the Contact.
func TestQuickstartEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threshold int
	}{
		{"collections", 1_000_000},
		{"bulk", 1},
	} {
		t.Run(tc.name, func(t *testing.T) { endToEnd(t, tc.threshold == 1, newE2E(t, tc.threshold, "", fake.Options{})) })
	}
}

func endToEnd(t *testing.T, bulk bool, e *e2e) {
	srv, p := e.srv, e.p
	// Run 1: everything is new; the campaign is created.
	vip, err := e.sync(t, "vip_to_salesforce")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := campaignKeys(srv), p.Strings(t, vipModel); !slices.Equal(got, want) || len(want) == 0 || vip.Accepted != int64(len(want)) {
		t.Fatalf("campaign members %v, model %v (accepted %d)", got, want, vip.Accepted)
	}
	before := len(srv.Requests())
	profiles, err := e.sync(t, "profiles_to_salesforce")
	if err != nil {
		t.Fatal(err)
	}
	people := p.Strings(t, peopleMdl)
	if got := contactKeys(t, srv); profiles.Accepted != int64(len(people)) || !slices.Equal(got, people) {
		t.Fatalf("profiles accepted %d; contacts %d, model %d", profiles.Accepted, len(got), len(people))
	}
	checkPath(t, srv, before, bulk, "run 1")

	withdrawn, exiting, changed := e.changeData(t)

	// Run 2: exactly the delta.
	vip, err = e.sync(t, "vip_to_salesforce")
	if err != nil {
		t.Fatal(err)
	}
	if *vip.Exits != 2 || *vip.Entries != 0 {
		t.Errorf("vip run 2: %d entries, %d exits; want 0 and 2", *vip.Entries, *vip.Exits)
	}
	if got, want := campaignKeys(srv), p.Strings(t, vipModel); !slices.Equal(got, want) || slices.Contains(got, withdrawn) || slices.Contains(got, exiting) {
		t.Errorf("campaign members after the exits %v, model %v", got, want)
	}
	before = len(srv.Requests())
	profiles, err = e.sync(t, "profiles_to_salesforce")
	var rej *engine.RejectedError
	if !errors.As(err, &rej) || profiles.Rejected != 1 || len(profiles.Rejections) != 1 || !strings.Contains(profiles.Rejections[0].Error, "FIELD_CUSTOM_VALIDATION_EXCEPTION") {
		t.Fatalf("run 2: want the refused record reported, got %v (%d rejected)", err, profiles.Rejected)
	}
	if strings.Contains(profiles.Rejections[0].Error, badAddress) {
		t.Error("the rejection quotes the address")
	}
	// Two new people and the refused one; updates: the changed first name
	// and the exiting VIP's lifetime value; one withdrawal.
	if profiles.Adds != 3 || profiles.Updates != 2 || profiles.Removes != 1 || profiles.Accepted != 5 {
		t.Errorf("profiles run 2: %d adds, %d updates, %d removes, %d accepted; want 3, 2, 1, 5", profiles.Adds, profiles.Updates, profiles.Removes, profiles.Accepted)
	}
	checkPath(t, srv, before, bulk, "run 2")
	// The withdrawal is deleted by the id kept from its upsert: no lookup.
	if ep := endpoints(srv, before); ep["GET /services/data/{version}/query"] != 0 || ep["DELETE /services/data/{version}/composite/sobjects"] != 1 {
		t.Errorf("run 2: want one delete call and no lookup, got %v", ep)
	}
	contacts := contactKeys(t, srv)
	if !slices.Contains(contacts, changed) || slices.Contains(contacts, withdrawn) || slices.Contains(contacts, badAddress) {
		t.Errorf("contacts after run 2: changed %v, withdrawn %v, refused %v", slices.Contains(contacts, changed), slices.Contains(contacts, withdrawn), slices.Contains(contacts, badAddress))
	}
	if want := examplestest.Without(p.Strings(t, peopleMdl), badAddress); !slices.Equal(contacts, want) {
		t.Errorf("contacts after run 2: %d, model %d", len(contacts), len(want))
	}
	if !renamed(srv, changed) {
		t.Error("the changed first name did not reach Salesforce")
	}

	// Run 3: only the refused record is sent again, and refused again.
	profiles, err = e.sync(t, "profiles_to_salesforce")
	if !errors.As(err, &rej) || profiles.Sent != 1 || profiles.Rejected != 1 || profiles.Accepted != 0 || profiles.Pending != 1 {
		t.Fatalf("run 3: sent %d, accepted %d, rejected %d, pending %d, %v; want the refused record retried", profiles.Sent, profiles.Accepted, profiles.Rejected, profiles.Pending, err)
	}
	// Run 4: the org's validation rule is relaxed; the record goes through.
	e.rw.mu.Lock()
	srv.RejectExternalIDs()
	e.rw.mu.Unlock()
	if res, err := e.sync(t, "profiles_to_salesforce"); err != nil || res.Sent != 1 || res.Accepted != 1 {
		t.Fatalf("run 4: %v", err)
	}
	if got, want := contactKeys(t, srv), p.Strings(t, peopleMdl); !slices.Equal(got, want) {
		t.Errorf("contacts after run 4: %d, model %d", len(got), len(want))
	}

	// Run 5: up to date, not a single request.
	before = len(srv.Requests())
	for _, name := range []string{"vip_to_salesforce", "profiles_to_salesforce"} {
		if res, err := e.sync(t, name); err != nil || res.Sent != 0 {
			t.Errorf("%s run 5: sent %d, %v", name, res.Sent, err)
		}
	}
	if n := len(srv.Requests()) - before; n != 0 {
		t.Errorf("up-to-date syncs made %d requests: %v", n, endpoints(srv, before))
	}
	e.forget(t)
}

func renamed(srv *fake.Server, key string) bool {
	for _, c := range srv.Records("Contact") {
		if k, _ := c["Sluice_Email__c"].(string); strings.EqualFold(k, key) {
			return c["FirstName"] == "Renamed"
		}
	}
	return false
}

// changeData edits the seed data: two new customers and one whose record
// an org validation rule refuses, a changed first name, a VIP who
// withdraws e-mail consent, another VIP whose orders are cancelled
// (segment exit). It returns the withdrawn, exiting and changed addresses.
func (e *e2e) changeData(t *testing.T) (withdrawn, exiting, changed string) {
	c := examplestest.QuickstartChanges(t, e.p)
	e.rw.mu.Lock()
	e.srv.RejectExternalIDs(badAddress)
	e.rw.mu.Unlock()
	return c.Withdrawn, c.Exiting, c.Changed
}

// forget queues an erasure for a VIP (as sluice forget does) and erases
// now: the Contact is deleted for the sync that holds it, the other sync's
// key is not held any more, and the audit shows both syncs done.
func (e *e2e) forget(t *testing.T) {
	ctx := context.Background()
	p, srv := e.p, e.srv
	who := p.Strings(t, vipModel)[0]
	svc := p.Engine.Erasure()
	if svc == nil {
		t.Fatal("the quickstart has no erasure block")
	}
	q, err := svc.Queue(ctx, erasure.Request{IDType: "email", Value: who, Reason: "asked by mail", Origin: erasure.FromForget})
	if err != nil || !q.Target.Found {
		t.Fatalf("queue: %v (found %v)", err, q.Target.Found)
	}
	p.Build(t)
	for _, name := range []string{"vip_to_salesforce", "profiles_to_salesforce"} {
		res, err := p.Engine.Erase(ctx, name)
		if err != nil || res.Done != 1 {
			t.Fatalf("erase %s: %+v, %v", name, res, err)
		}
	}
	if slices.Contains(contactKeys(t, srv), who) {
		t.Error("the erased person is still a Contact")
	}
	list, err := svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range list {
		if a.ID != q.ID {
			continue
		}
		for _, s := range a.Syncs {
			if s.Outcome != erasure.Done || !strings.Contains(s.Ref, "salesforce record delete") {
				t.Errorf("audit of %s: %+v", s.Sync, s)
			}
		}
	}
	// The next syncs send the erased person nothing.
	for _, name := range []string{"vip_to_salesforce", "profiles_to_salesforce"} {
		if res, err := e.sync(t, name); err != nil || res.Adds+res.Updates != 0 {
			t.Errorf("%s after the erasure: %d adds, %d updates, %v", name, res.Adds, res.Updates, err)
		}
	}
}

// TestSessionExpiresMidRun: the session expires in the middle of a run;
// the run completes after one re-authentication.
func TestSessionExpiresMidRun(t *testing.T) {
	e := newE2E(t, 1_000_000, "    batch_size: 50\n", fake.Options{})
	var api atomic.Int64
	e.rw.before = func(r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/services/data/") && api.Add(1) == 5 {
			e.srv.ExpireTokens()
		}
	}
	res, err := e.sync(t, "profiles_to_salesforce")
	if err != nil || res.Status != "succeeded" {
		t.Fatalf("run: %v (%s)", err, res.Status)
	}
	st := e.srv.Stats()
	// Each request in flight when the session expired (concurrency 2) is
	// answered 401 once; they share the one new token.
	if st.Tokens != 2 || st.Status401 < 1 || st.Status401 > salesforce.DefaultConcurrency {
		t.Errorf("%d tokens and %d answers 401, want 2 tokens (one re-authentication) and at most one 401 per request in flight", st.Tokens, st.Status401)
	}
	if got, want := contactKeys(t, e.srv), e.p.Strings(t, peopleMdl); !slices.Equal(got, want) {
		t.Errorf("contacts: %d, model %d", len(got), len(want))
	}
}

// TestQuotaNearlySpent: the org's daily quota is nearly spent; the run
// stops before the reserve, says so, and the next run (once the org's
// usage has fallen) sends exactly the rest.
func TestQuotaNearlySpent(t *testing.T) {
	e := newE2E(t, 1_000_000, "    batch_size: 20\n", fake.Options{DailyLimit: 1000, UsedAtStart: 880})
	res, err := e.sync(t, "profiles_to_salesforce")
	if err == nil || !strings.Contains(err.Error(), "quota_reserve keeps the last 100") || res.Accepted == 0 {
		t.Fatalf("run 1: %v (accepted %d)", err, res.Accepted)
	}
	if used := e.srv.Stats().APIUsage; used > 900 {
		t.Errorf("the org's usage reached %d, into the reserve (from 900)", used)
	}
	first := res.Accepted
	e.srv.UseRequests(-500) // a day later: other requests left the 24-hour window
	res, err = e.sync(t, "profiles_to_salesforce")
	people := e.p.Strings(t, peopleMdl)
	if err != nil || res.Sent != int64(len(people))-first || res.Accepted != res.Sent {
		t.Fatalf("run 2: sent %d, accepted %d, %v; want the %d left", res.Sent, res.Accepted, err, int64(len(people))-first)
	}
	if got := contactKeys(t, e.srv); !slices.Equal(got, people) {
		t.Errorf("contacts: %d, model %d", len(got), len(people))
	}
}
