package brevo_test

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/connectors/brevo/fake"
	_ "github.com/sluicehq/sluice/connectors/file" // the quickstart's other syncs
	"github.com/sluicehq/sluice/connectors/warehouse"
	_ "github.com/sluicehq/sluice/models/all" // identity, profiles, segments
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

const quickstartDir = "../../examples/quickstart"

// envRef finds ${VAR} references: files of the quickstart that use
// variables other than BREVO_* belong to other destinations.
var envRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

func otherDestination(yml string) bool {
	for _, m := range envRef.FindAllStringSubmatch(yml, -1) {
		if !strings.HasPrefix(m[1], "BREVO_") {
			return true
		}
	}
	return false
}

// quickstart copies the quickstart project (with its brevo.yml) into a
// fresh project pointing at srv.
func quickstart(t *testing.T, srv *fake.Server) *synctest.Project {
	t.Helper()
	files := map[string]string{}
	for _, pattern := range []string{"*.yml", "data/*.csv"} {
		paths, err := filepath.Glob(filepath.Join(quickstartDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(quickstartDir, p)
			if otherDestination(string(b)) {
				continue // another destination's syncs, with credentials of its own
			}
			files[rel] = string(b)
		}
	}
	if _, ok := files["brevo.yml"]; !ok {
		t.Fatal("examples/quickstart/brevo.yml is missing")
	}
	p := synctest.New(t, synctest.Options{Files: files, Env: map[string]string{"BREVO_API_KEY": "test-key", "BREVO_BASE_URL": srv.URL}})
	p.Build(t)
	return p
}

// smsAudience is the model: the phones of the segment's consenting members.
func smsAudience(t *testing.T, p *synctest.Project) []string {
	t.Helper()
	return strings1(t, p, `SELECT p.phone FROM sluice.customer_profiles p
		JOIN sluice.customer_segment_sms_audience s USING (profile_id)
		WHERE coalesce(p.sms_opt_in, false) ORDER BY 1`)
}

func strings1(t *testing.T, p *synctest.Project, q string) []string {
	t.Helper()
	r, err := p.W.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// listPhones is what Brevo holds: the SMS numbers in the list.
func listPhones(srv *fake.Server, name string) []string {
	var out []string
	for _, c := range srv.Members(srv.ListID(name)) {
		out = append(out, c.SMS())
	}
	slices.Sort(out)
	return out
}

// editCSV rewrites a data file of the project.
func editCSV(t *testing.T, p *synctest.Project, name string, edit func(header []string, rows [][]string) [][]string) {
	t.Helper()
	path := filepath.Join(p.Dir, "data", name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	all, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	rows := edit(all[0], all[1:])
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	_ = w.Write(all[0])
	_ = w.WriteAll(rows)
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func col(header []string, name string) int { return slices.Index(header, name) }

const smsSync, smsList = "sms_to_brevo", "SMS audience"

// TestQuickstartSMSAudience syncs the quickstart's SMS audience to the fake
// Brevo, changes the data (new customers, SMS consent withdrawn, a member
// losing their phone, an invalid phone, a number Brevo refuses) and checks
// that each run sends exactly the delta, that the refused record is
// reported and retried, and that the list always equals the model. It runs
// against each of the fake's answers to /contacts/batch for contacts it
// does not have: Brevo's observed 404 and its documented 207.
func TestQuickstartSMSAudience(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the quickstart")
	}
	for _, answer := range fake.BatchAnswers {
		t.Run(answer, func(t *testing.T) { quickstartSMSAudience(t, answer) })
	}
}

// firstSMSSync runs the first sync: every member enters the list, and a
// second sync right after sends nothing.
func firstSMSSync(t *testing.T, p *synctest.Project, srv *fake.Server) {
	t.Helper()
	ctx := context.Background()
	want := smsAudience(t, p)
	res, err := p.Engine.Sync(ctx, smsSync, engine.SyncOptions{})
	if err != nil {
		t.Fatalf("first sync: %v", err)
	}
	if res.Adds != int64(len(want)) || res.Accepted != res.Adds {
		t.Errorf("first sync: %d adds, %d accepted; the segment has %d consenting members", res.Adds, res.Accepted, len(want))
	}
	if got := listPhones(srv, smsList); !slices.Equal(got, want) {
		t.Fatalf("the list holds %d numbers, the model %d", len(got), len(want))
	}
	c, _ := srv.Find(want[0])
	if c.Attributes["FIRSTNAME"] == nil {
		t.Errorf("first names are sent as FIRSTNAME: %+v", c.Attributes)
	}
	pl, err := p.Engine.Plan(ctx, smsSync, engine.PlanOptions{})
	if err != nil || pl.Adds+pl.Updates+pl.Removes != 0 {
		t.Errorf("re-plan after the first sync: %v %+v", err, pl)
	}
	srv.ResetStats()
	res, err = p.Engine.Sync(ctx, smsSync, engine.SyncOptions{})
	if err != nil || res.Sent != 0 {
		t.Errorf("second sync: %v, sent %d, want nothing", err, res.Sent)
	}
	if n := srv.Stats().ByEndpoint["POST /contacts/batch"]; n != 0 {
		t.Errorf("the second sync sent %d /contacts/batch requests", n)
	}
}

func quickstartSMSAudience(t *testing.T, answer string) {
	// The answer to look for: the run must meet the one under test.
	unknownStatus := map[string]int{fake.BatchObserved: http.StatusNotFound, fake.BatchDocumented: http.StatusMultiStatus}[answer]
	var met atomic.Int64
	srv := newFake(t, fake.Options{ContactsPerSecond: -1, BatchAnswer: answer, OnRequest: func(_, endpoint string, status int) {
		if endpoint == "POST /contacts/batch" && status == unknownStatus {
			met.Add(1)
		}
	}})
	t.Cleanup(func() {
		if met.Load() == 0 {
			t.Errorf("no /contacts/batch answer was HTTP %d", unknownStatus)
		}
	})
	p := quickstart(t, srv)
	ctx := context.Background()
	const sync, list = smsSync, smsList

	// 1. First sync: every member enters the list; nothing is left to send.
	firstSMSSync(t, p, srv)

	// 2. The data changes.
	members := strings1(t, p, `SELECT profile_id FROM sluice.customer_segment_sms_audience ORDER BY 1 LIMIT 3`)
	rowsOf := func(source, profile string) []string {
		return strings1(t, p, "SELECT row_key FROM sluice.customer_row_map WHERE source = '"+source+"' AND profile_id = '"+profile+"'")
	}
	withdrawn := append(rowsOf("crm_contacts", members[0]), rowsOf("crm_contacts", members[1])...)
	lostPhone := members[2]
	editCSV(t, p, "crm_contacts.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			switch {
			case slices.Contains(withdrawn, r[col(h, "contact_id")]):
				r[col(h, "sms_consent")] = "false"
			case slices.Contains(rowsOf("crm_contacts", lostPhone), r[col(h, "contact_id")]):
				r[col(h, "phone")] = ""
			}
		}
		newRow := func(id, email, phone string) []string {
			r := make([]string, len(h))
			for k, v := range map[string]string{"contact_id": id, "email": email, "phone": phone, "first_name": "New", "last_name": "Customer", "country": "FR",
				"email_consent": "true", "email_consent_at": "2026-04-01T10:00:00Z", "sms_consent": "true", "sms_consent_at": "2026-04-01T10:00:00Z",
				"created_at": "2026-04-01T10:00:00Z", "updated_at": "2026-04-01T10:00:00Z"} {
				r[col(h, k)] = v
			}
			return r
		}
		return append(rows,
			newRow("C900001", "new.one@example.net", "06 98 76 54 31"),
			newRow("C900002", "new.two@example.net", "06 98 76 54 32"),
			newRow("C900003", "new.three@example.net", "06 98"), // not a phone number: never reaches Brevo
		)
	})
	editCSV(t, p, "orders.csv", func(h []string, rows [][]string) [][]string {
		for _, r := range rows {
			if slices.Contains(rowsOf("orders", lostPhone), r[col(h, "order_id")]) {
				r[col(h, "phone")] = ""
			}
		}
		return rows
	})
	p.Build(t)
	refused := "+33698765432"
	srv.Reject("Invalid phone number: the line cannot receive SMS", refused)

	// 3. The next sync sends exactly the delta; the refused number is
	// reported, the others are delivered.
	res, err := p.Engine.Sync(ctx, sync, engine.SyncOptions{})
	var rej *engine.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("second sync: %v, want a rejection", err)
	}
	// The segment requires SMS consent, so a withdrawal is an exit too.
	if res.Adds != 2 || res.LeftModel != 3 || res.Removes != 3 || res.Sent != 5 || res.Rejected != 1 {
		t.Errorf("second sync: +%d, -%d (%d left), sent %d, rejected %d; want +2, -3 (3 left: 2 withdrawals, 1 phone lost), 5 sent, 1 rejected",
			res.Adds, res.Removes, res.LeftModel, res.Sent, res.Rejected)
	}
	if len(res.Rejections) != 1 || res.Rejections[0].Key != refused || !strings.Contains(res.Rejections[0].Error, "cannot receive SMS") {
		t.Errorf("rejections: %+v", res.Rejections)
	}
	want := smsAudience(t, p)
	wantAtBrevo := slices.DeleteFunc(slices.Clone(want), func(s string) bool { return s == refused })
	if got := listPhones(srv, list); !slices.Equal(got, wantAtBrevo) {
		t.Errorf("after the delta the list holds %d numbers, want %d", len(got), len(wantAtBrevo))
	}
	for _, pid := range members {
		for _, phone := range strings1(t, p, "SELECT id_value FROM sluice.customer_identity_map WHERE id_type = 'phone' AND profile_id = '"+pid+"'") {
			if c, ok := srv.Find(phone); !ok || len(c.Lists) != 0 || c.SMSBlacklisted {
				t.Errorf("a member who left keeps the contact, out of the list, not blacklisted: %+v", c)
			}
		}
	}

	// 4. The rejected record is retried, and only it; still refused, it is
	// still reported.
	res, err = p.Engine.Sync(ctx, sync, engine.SyncOptions{})
	if !errors.As(err, &rej) || res.Sent != 1 || res.Rejected != 1 || res.Pending != 1 {
		t.Fatalf("third sync: %v, sent %d, rejected %d, pending %d; want the refused number alone", err, res.Sent, res.Rejected, res.Pending)
	}
	srv.Reject("", refused)
	res, err = p.Engine.Sync(ctx, sync, engine.SyncOptions{})
	if err != nil || res.Sent != 1 || res.Accepted != 1 {
		t.Fatalf("fourth sync: %v, sent %d, accepted %d", err, res.Sent, res.Accepted)
	}
	if got := listPhones(srv, list); !slices.Equal(got, want) {
		t.Errorf("the list holds %d numbers, the model %d", len(got), len(want))
	}
	pl, err := p.Engine.Plan(ctx, sync, engine.PlanOptions{})
	if err != nil || pl.Adds+pl.Updates+pl.Removes != 0 {
		t.Errorf("re-plan: %v %+v", err, pl)
	}
	var n int64
	if err := warehouse.QueryRow(ctx, p.W, "SELECT count(*) FROM sluice_state.sync_rejections WHERE sync = 'sms_to_brevo'", &n); err != nil || n != 0 {
		t.Errorf("pending rejections after the fix: %d, %v", n, err)
	}
}
