package main

import (
	"encoding/csv"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	brevofake "github.com/sluicehq/sluice/connectors/brevo/fake"
	googleadsfake "github.com/sluicehq/sluice/connectors/googleads/fake"
	hubspotfake "github.com/sluicehq/sluice/connectors/hubspot/fake"
	klaviyofake "github.com/sluicehq/sluice/connectors/klaviyo/fake"
	metafake "github.com/sluicehq/sluice/connectors/meta/fake"
	salesforcefake "github.com/sluicehq/sluice/connectors/salesforce/fake"
	webhookfake "github.com/sluicehq/sluice/connectors/webhook/fake"
)

// erasureWebhook adds a webhook destination to the quickstart: the VIP
// segment and every profile, keyed by e-mail and by profile id.
const erasureWebhook = `destinations:
  - name: hook
    type: webhook
    url: "${WEBHOOK_URL}"
    bearer_token: "${WEBHOOK_TOKEN}"
    max_retries: 1
syncs:
  - name: vip_to_hook
    from: segment.vip
    to: hook
    key: email
    mapping: { email: email, first_name: first_name }
  - name: profiles_to_hook
    from: profiles
    to: hook
    key: profile_id
    mapping: { profile_id: profile_id, email: email, phone: phone }
`

// erasureEnv is the quickstart synced to the fake Klaviyo, Brevo, HubSpot,
// Salesforce, Meta, Google Customer Match and a webhook, plus its file
// exports.
type erasureEnv struct {
	dir     string
	klaviyo *klaviyofake.Server
	brevo   *brevofake.Server
	hubspot *hubspotfake.Server
	sf      *salesforcefake.Server
	meta    *metafake.Server
	google  *googleadsfake.Server
	hook    *webhookfake.Server
}

func newErasureEnv(t *testing.T) *erasureEnv {
	t.Helper()
	e := &erasureEnv{dir: copyWholeQuickstart(t)}
	if err := os.WriteFile(filepath.Join(e.dir, "webhook.yml"), []byte(erasureWebhook), 0o600); err != nil {
		t.Fatal(err)
	}
	e.klaviyo = klaviyofake.New(t, klaviyofake.Options{APIKey: "pk_erasure_test"})
	e.brevo = brevofake.New(t, brevofake.Options{APIKey: "xkeysib-erasure-test", ContactsPerSecond: -1, OtherPerHour: -1})
	e.hubspot = hubspotfake.New(t, hubspotfake.Options{Token: "pat-erasure-test", TenSecondly: -1, Daily: -1})
	e.sf = salesforcefake.New(t, salesforcefake.Options{ClientID: "sf-erasure-test", ClientSecret: "sf-secret", Objects: salesforceQuickstartObjects(), DailyLimit: -1})
	e.meta = metafake.New(t, metafake.Options{Token: "meta-erasure-test", AdAccount: metaSandboxAccount})
	e.google = googleadsfake.New(t, googleadsfake.Options{Accounts: map[string][]string{googleAdsSandboxCustomer: googleAdsSandboxLists}, PerMinute: -1})
	sa, err := e.google.NewServiceAccount("erasure-test@sluice-test.iam.gserviceaccount.com")
	if err != nil {
		t.Fatal(err)
	}
	e.hook = webhookfake.New(t, webhookfake.Options{Token: "hook-token"})
	for k, v := range map[string]string{
		"KLAVIYO_API_KEY": "pk_erasure_test", "KLAVIYO_BASE_URL": e.klaviyo.URL,
		"BREVO_API_KEY": "xkeysib-erasure-test", "BREVO_BASE_URL": e.brevo.URL,
		"HUBSPOT_ACCESS_TOKEN": "pat-erasure-test", "HUBSPOT_BASE_URL": e.hubspot.URL,
		"SALESFORCE_CLIENT_ID": "sf-erasure-test", "SALESFORCE_CLIENT_SECRET": "sf-secret", "SALESFORCE_LOGIN_URL": e.sf.URL,
		"META_TOKEN": "meta-erasure-test", "META_URL": e.meta.URL,
		"GOOGLE_ADS_CREDENTIALS": string(sa), "GOOGLE_ADS_BASE_URL": e.google.URL,
		"WEBHOOK_URL": e.hook.URL, "WEBHOOK_TOKEN": "hook-token",
		"SLUICE_ERASURE_SECRET": "quickstart-erasure-secret-0123456789",
	} {
		t.Setenv(k, v)
	}
	return e
}

// salesforceHas tells whether the fake org has a Contact of the e-mail.
func (e *erasureEnv) salesforceHas(email string) bool {
	return slices.ContainsFunc(e.sf.Records("Contact"), func(r map[string]any) bool { return r["Sluice_Email__c"] == email })
}

// adAudiences names the Meta audiences and Google Customer Match lists
// holding the person of the e-mail, told apart by each fake's own reading
// of its vendor's hashing rules.
func (e *erasureEnv) adAudiences(email string) []string {
	var in []string
	who := metafake.Person{Email: email}
	e.meta.Register(who)
	for _, a := range e.meta.Audiences() {
		if slices.ContainsFunc(a.Members, func(m metafake.Member) bool { return e.meta.Expects(who, "EMAIL", m.Cells["EMAIL"]) }) {
			in = append(in, "meta "+a.Name)
		}
	}
	for _, list := range googleAdsSandboxLists {
		members := e.google.Members(googleAdsSandboxCustomer, list)
		if slices.ContainsFunc(members, func(m googleadsfake.Member) bool { return slices.Contains(m.Emails, googleadsfake.HashEmail(email)) }) {
			in = append(in, "google "+list)
		}
	}
	return in
}

// run runs a verb on the project and fails the test unless it exits with
// want.
func (e *erasureEnv) run(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out, errs := sluice(t, append(args, "--project", e.dir)...)
	if code != want {
		t.Fatalf("sluice %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errs)
	}
	return out
}

// rows runs a query and returns its rows, header first.
func (e *erasureEnv) rows(t *testing.T, q string) [][]string {
	t.Helper()
	out := e.run(t, 0, "query", q, "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("reading %q: %v", out, err)
	}
	return recs
}

// person is one profile of the quickstart with its identifiers.
type person struct {
	profile string
	ids     map[string][]string // type -> values
}

func (p person) values() []string {
	out := []string{p.profile}
	for _, vs := range p.ids {
		out = append(out, vs...)
	}
	return out
}

// find picks people: a query returning profile ids, in order.
func (e *erasureEnv) find(t *testing.T, q string, n int) []person {
	t.Helper()
	var out []person
	for _, r := range e.rows(t, q)[1:] {
		p := person{profile: r[0], ids: map[string][]string{}}
		for _, id := range e.rows(t, "SELECT id_type, id_value FROM sluice.customer_identity_map WHERE profile_id = '"+r[0]+"' ORDER BY 1, 2")[1:] {
			p.ids[id[0]] = append(p.ids[id[0]], id[1])
		}
		out = append(out, p)
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("found %d people with %s, want %d", len(out), q, n)
	return nil
}

// leftovers lists the tables of the schemas sluice writes, and the export
// files, whose text holds any of the values.
func (e *erasureEnv) leftovers(t *testing.T, values []string) []string {
	t.Helper()
	var conds []string
	for _, v := range values {
		conds = append(conds, "contains(CAST(x AS VARCHAR), '"+strings.ReplaceAll(v, "'", "''")+"')")
	}
	var found []string
	tables := e.rows(t, "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_schema IN ('sluice', 'sluice_state') AND table_type = 'BASE TABLE' ORDER BY 1")
	if len(tables) < 20 {
		t.Fatalf("only %d tables in sluice's schemas: %v", len(tables)-1, tables)
	}
	for _, tb := range tables[1:] {
		if n := e.rows(t, "SELECT count(*) FROM "+tb[0]+" AS x WHERE "+strings.Join(conds, " OR "))[1][0]; n != "0" {
			found = append(found, tb[0]+" ("+n+" rows)")
		}
	}
	err := filepath.WalkDir(filepath.Join(e.dir, ".sluice", "exports"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		for _, v := range values {
			if strings.Contains(string(data), v) {
				found = append(found, path)
				break
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

type erasuresDoc struct {
	Requests []struct {
		ID       string `json:"request_id"`
		Status   string `json:"status"`
		Profiles int    `json:"profiles"`
		Syncs    []struct {
			Sync     string `json:"sync"`
			Outcome  string `json:"outcome"`
			Attempts int    `json:"attempts"`
			Error    string `json:"error"`
		} `json:"destinations"`
	} `json:"requests"`
}

func (e *erasureEnv) erasures(t *testing.T) erasuresDoc {
	t.Helper()
	var doc erasuresDoc
	if err := json.Unmarshal([]byte(e.run(t, 0, "erasures", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestForgetQuickstart is the erasure contract end to end: a person synced
// to Klaviyo, Brevo, HubSpot, Salesforce, Meta and Google audiences, a
// webhook and files is erased everywhere and from
// every table sluice writes, is never re-created from the source rows
// that linger, and nobody else is touched.
func TestForgetQuickstart(t *testing.T) {
	e := newErasureEnv(t)
	e.run(t, 0, "build")
	e.run(t, 0, "sync")

	// A VIP with a phone in the SMS audience: at every destination.
	x := e.find(t, `SELECT profile_id FROM sluice.customer_segment_vip JOIN sluice.customer_segment_sms_audience USING (profile_id) ORDER BY profile_id`, 1)[0]
	email, phone := x.ids["email"][0], x.ids["phone"][0]
	if _, ok := e.klaviyo.ProfileByEmail(email); !ok {
		t.Fatalf("the person is not at Klaviyo before the erasure")
	}
	if _, ok := e.hubspot.ContactByEmail(email); !ok {
		t.Fatalf("the person is not at HubSpot before the erasure")
	}
	if !e.salesforceHas(email) {
		t.Fatalf("the person is not at Salesforce before the erasure")
	}
	if got := e.adAudiences(email); !slices.Equal(got, []string{"meta VIP customers", "google 555000111"}) {
		t.Fatalf("before the erasure, the person is in the ad audiences %v, want Meta's and Google's VIP ones", got)
	}
	if got := e.leftovers(t, x.values()); len(got) < 5 {
		t.Fatalf("the scan finds the person in only %v before the erasure: it would miss leftovers", got)
	}
	// A person sharing the blocklisted junk e-mail with others, and one of
	// those others, who must stay as they are.
	pair := e.find(t, `SELECT DISTINCT m.profile_id FROM raw.crm_contacts c JOIN sluice.customer_identity_map m ON m.id_type = 'user_id' AND m.id_value = c.contact_id WHERE lower(trim(c.email)) = 'test@example.com' ORDER BY 1`, 2)
	z, w := pair[0], pair[1]

	dry := e.run(t, 0, "forget", "email:"+strings.ToUpper(email), "--dry-run")
	for _, want := range []string{"Would erase email:" + email, "vip_to_klaviyo", "sms_to_brevo", "vip_to_hubspot", "vip_to_salesforce", "vip_to_meta", "vip_to_google", "vip_to_hook", "profiles_to_file", "crm_contacts", "Nothing was written"} {
		if !strings.Contains(dry, want) {
			t.Errorf("forget --dry-run lacks %q:\n%s", want, dry)
		}
	}
	if doc := e.erasures(t); len(doc.Requests) != 0 {
		t.Fatalf("--dry-run recorded a request: %+v", doc)
	}

	e.run(t, 0, "forget", "email:"+email, "--reason", "DSR-1")
	e.run(t, 0, "forget", "user_id:"+z.ids["user_id"][0])
	out := e.run(t, 0, "sync")
	if !strings.Contains(out, "erasure: 1 erased") {
		t.Errorf("sync does not report the erasures:\n%s", out)
	}

	if got := e.leftovers(t, append(x.values(), z.values()...)); len(got) > 0 {
		t.Errorf("the erased people are still in: %v", got)
	}
	if code, _, errs := sluice(t, "identity", "explain", "email:"+email, "--project", e.dir); code != 1 || !strings.Contains(errs, "it was erased (request er_") {
		t.Errorf("identity explain of an erased identifier: exit %d, %s", code, errs)
	}
	if !slices.ContainsFunc(e.klaviyo.DeletionRequests(), func(r klaviyofake.DeletionRequest) bool { return r.Email == email }) {
		t.Errorf("Klaviyo holds no deletion request for the person: %+v", e.klaviyo.DeletionRequests())
	}
	if _, ok := e.klaviyo.ProfileByEmail(email); ok {
		t.Errorf("Klaviyo still has the profile")
	}
	if !slices.ContainsFunc(e.hubspot.GDPRDeletions(), func(d hubspotfake.Deletion) bool { return d.ByEmail }) || !e.hubspot.Blocked(email) {
		t.Errorf("HubSpot received no GDPR deletion of the person's e-mail: %+v", e.hubspot.GDPRDeletions())
	}
	if _, ok := e.hubspot.ContactByEmail(email); ok {
		t.Errorf("HubSpot still has the contact")
	}
	if e.salesforceHas(email) {
		t.Errorf("Salesforce still has the contact")
	}
	if got := e.adAudiences(email); len(got) > 0 {
		t.Errorf("the person is still in the ad audiences %v", got)
	}
	if _, ok := e.brevo.Find(phone); ok {
		t.Errorf("Brevo still has the contact")
	}
	if erased := e.hook.Erased(); !slices.Contains(erased, email) || !slices.Contains(erased, x.profile) {
		t.Errorf("the webhook did not receive the erase operations: %v", erased)
	}
	for k := range e.hook.Records() {
		if k == email || k == x.profile {
			t.Errorf("the webhook receiver still holds %s", k)
		}
	}
	for _, r := range e.erasures(t).Requests {
		if r.Status != "done" {
			t.Errorf("request %s: status %s, want done: %+v", r.ID, r.Status, r)
		}
		for _, s := range r.Syncs {
			if s.Outcome != "done" && s.Outcome != "not_held" {
				t.Errorf("request %s at %s: %s", r.ID, s.Sync, s.Outcome)
			}
		}
	}

	// Nothing more to send; the source rows linger, yet a rebuild does not
	// bring the people back, and the other holder of the junk e-mail is
	// untouched.
	out = e.run(t, 0, "sync")
	if n := strings.Count(out, "up to date"); n != 16 {
		t.Errorf("second sync: %d of 16 syncs up to date:\n%s", n, out)
	}
	e.run(t, 0, "build")
	if got := e.leftovers(t, append(x.values(), z.values()...)); len(got) > 0 {
		t.Errorf("a rebuild re-created the erased people in: %v", got)
	}
	if n := e.rows(t, "SELECT count(*) FROM raw.crm_contacts WHERE contact_id = '"+x.ids["user_id"][0]+"'")[1][0]; n != "1" {
		t.Errorf("the source row was touched: %s rows", n)
	}
	if again := e.find(t, "SELECT '"+w.profile+"'", 1)[0]; !equalIDs(again.ids, w.ids) {
		t.Errorf("the other person sharing the junk value changed: %v, was %v", again.ids, w.ids)
	}
	if out := e.run(t, 0, "sync"); strings.Count(out, "up to date") != 16 {
		t.Errorf("a sync after the rebuild sent something:\n%s", out)
	}
	if mv, gv := e.meta.Violations(), e.google.Violations(); len(mv)+len(gv) > 0 {
		t.Errorf("the ad fakes saw requests breaking their vendor's rules: Meta %+v, Google %+v", mv, gv)
	}
}

func equalIDs(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestForgetRetriesAFailingDestination: a destination answering 500 keeps
// the request pending, the next run retries and completes it, and the
// audit counts the attempts; an identifier nobody holds is audited and
// sends nothing.
func TestForgetRetriesAFailingDestination(t *testing.T) {
	e := newErasureEnv(t)
	e.run(t, 0, "build")
	e.run(t, 0, "sync")
	x := e.find(t, `SELECT profile_id FROM sluice.customer_segment_vip ORDER BY profile_id`, 1)[0]

	e.run(t, 0, "forget", "email:"+x.ids["email"][0])
	e.hook.Fail(500, 1000)
	out := e.run(t, 1, "sync")
	if !strings.Contains(out, "failed (retried next run)") {
		t.Errorf("sync does not say the erasure failed:\n%s", out)
	}
	doc := e.erasures(t)
	if len(doc.Requests) != 1 || doc.Requests[0].Status != "pending" {
		t.Fatalf("want one pending request: %+v", doc)
	}
	for _, s := range doc.Requests[0].Syncs {
		if strings.HasSuffix(s.Sync, "_hook") && (s.Outcome != "failed" || s.Attempts != 1 || s.Error == "") {
			t.Errorf("%s: %+v, want failed after 1 attempt with its error", s.Sync, s)
		}
	}

	e.hook.Fail(0, 0)
	e.run(t, 0, "sync")
	doc = e.erasures(t)
	if doc.Requests[0].Status != "done" {
		t.Fatalf("the retried request is %s: %+v", doc.Requests[0].Status, doc)
	}
	for _, s := range doc.Requests[0].Syncs {
		if strings.HasSuffix(s.Sync, "_hook") && (s.Outcome != "done" || s.Attempts != 2) {
			t.Errorf("%s: %+v, want done after 2 attempts", s.Sync, s)
		}
	}
	if got := e.leftovers(t, x.values()); len(got) > 0 {
		t.Errorf("the person is still in: %v", got)
	}

	before := len(e.hook.Requests())
	out = e.run(t, 0, "forget", "email:nobody-at-all@example.org")
	if !strings.Contains(out, "no profile holds it") || !strings.Contains(out, "no_match") {
		t.Errorf("forget of an unknown identifier: %s", out)
	}
	e.run(t, 0, "sync")
	if after := len(e.hook.Requests()); after != before {
		t.Errorf("erasing nobody sent %d requests", after-before)
	}
	doc = e.erasures(t)
	if doc.Requests[0].Status != "no_match" || doc.Requests[0].Profiles != 0 {
		t.Errorf("the unknown identifier's request: %+v", doc.Requests[0])
	}
}
