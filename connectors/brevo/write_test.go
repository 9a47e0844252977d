package brevo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/brevo"
	"github.com/sluicehq/sluice/connectors/brevo/fake"
	"github.com/sluicehq/sluice/connectors/destination"
)

// openDest opens a brevo destination on srv with extra options (YAML
// flow-mapping entries).
func openDest(t *testing.T, srv *fake.Server, extra string, sync destination.SyncInfo) destination.Destination {
	t.Helper()
	src := fmt.Sprintf("{api_key: test-key, base_url: %q", srv.URL)
	if extra != "" {
		src += ", " + extra
	}
	opts, err := destination.ParseOptions(brevo.Spec, src+"}")
	if err != nil {
		t.Fatal(err)
	}
	if sync.Name == "" {
		sync.Name = "test"
	}
	d, err := brevo.Open(context.Background(), destination.Config{Name: "brevo", Type: "brevo", Options: opts, Sync: sync, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// fast is a fake without rate limits, for tests about behaviour.
func fast(t *testing.T) *fake.Server { return fastAnswer(t, "") }

// fastAnswer is fast answering /contacts/batch as answer says
// (fake.Options.BatchAnswer).
func fastAnswer(t *testing.T, answer string) *fake.Server {
	return newFake(t, fake.Options{ContactsPerSecond: -1, OtherPerHour: -1, ImportDelay: 1, BatchAnswer: answer})
}

// eachAnswer runs test against each of the fake's answers to
// /contacts/batch: Brevo's observed 404 and its documented 207.
func eachAnswer(t *testing.T, test func(t *testing.T, answer string)) {
	for _, answer := range fake.BatchAnswers {
		t.Run(answer, func(t *testing.T) { test(t, answer) })
	}
}

func write(t *testing.T, d destination.Destination, list string, recs ...destination.Record) []error {
	t.Helper()
	errs, err := d.Write(context.Background(), &destination.Batch{Sync: "test", RunID: "r1", Mode: "upsert", List: list, Records: recs})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	return errs
}

func upsert(email string, fields map[string]any) destination.Record {
	if fields == nil {
		fields = map[string]any{}
	}
	fields["email"] = email
	return destination.Record{Op: destination.OpUpsert, Key: email, Fields: fields}
}

func TestUpsertCreatesThenUpdates(t *testing.T) {
	srv := fast(t)
	d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: "email", Fields: []string{"email", "first_name", "ltv", "sms_consent"}})
	errs := write(t, d, "",
		upsert("ann@example.com", map[string]any{"first_name": "Ann", "ltv": int64(10), "SMS": "+33612345678", "sms_consent": true}),
		upsert("bob@example.com", map[string]any{"first_name": "Bob", "ltv": int64(20)}))
	if errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	srv.ResetStats()
	errs = write(t, d, "", upsert("ann@example.com", map[string]any{"ltv": int64(11), "sms_consent": false}))
	if errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	ann, _ := srv.Find("ann@example.com")
	if ann.Attributes["FIRSTNAME"] != "Ann" || fmt.Sprint(ann.Attributes["LTV"]) != "11" || ann.SMS() != "+33612345678" || !ann.SMSBlacklisted || ann.EmailBlacklisted {
		t.Errorf("ann: %+v", ann)
	}
	// A change to a known contact is one synchronous request.
	if st := srv.Stats(); st.Requests != 1 || st.ByEndpoint["POST /contacts/batch"] != 1 {
		t.Errorf("an update took %+v", st)
	}
}

func TestRejectionsArePerRecord(t *testing.T) { eachAnswer(t, testRejectionsArePerRecord) }

func testRejectionsArePerRecord(t *testing.T, answer string) {
	srv := fastAnswer(t, answer)
	d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: "email", Fields: []string{"email", "n"}})
	var recs []destination.Record
	for i := range 10 {
		recs = append(recs, upsert(fmt.Sprintf("p%d@example.com", i), map[string]any{"n": int64(i)}))
	}
	write(t, d, "", recs...) // create them
	srv.Reject("contact blocked by the account", "p3@example.com")
	recs[5] = upsert("p5@example.com", map[string]any{"SMS": "0612345678"}) // national: refused before sending
	errs := write(t, d, "", recs...)
	for i, err := range errs {
		switch i {
		case 3:
			if err == nil || !strings.Contains(err.Error(), "contact blocked by the account") {
				t.Errorf("record 3: %v", err)
			}
		case 5:
			if err == nil || !strings.Contains(err.Error(), "E.164") {
				t.Errorf("record 5: %v", err)
			}
		default:
			if err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		}
	}
}

func TestImportForManyNewContacts(t *testing.T) { eachAnswer(t, testImportForManyNewContacts) }

func testImportForManyNewContacts(t *testing.T, answer string) {
	srv := fastAnswer(t, answer)
	srv.AddList("Customers")
	d := openDest(t, srv, "rate: 1000, list: Customers, import_threshold: 20", destination.SyncInfo{Key: "email", Fields: []string{"email", "ext_id", "email_consent"}})
	var recs []destination.Record
	for i := range 60 {
		recs = append(recs, upsert(fmt.Sprintf("n%d@example.com", i), map[string]any{"ext_id": fmt.Sprint("P", i), "email_consent": i%2 == 0}))
	}
	srv.Reject("skipped by the import", "n7@example.com")
	errs := write(t, d, "", recs...)
	for i, err := range errs {
		if (i == 7) != (err != nil) {
			t.Errorf("record %d: %v", i, err)
		}
	}
	st := srv.Stats()
	if st.Imports != 1 || st.ByEndpoint["POST /contacts"] != 1 {
		t.Errorf("want one import and one single create (the skipped row), got %+v", st)
	}
	list := srv.ListID("Customers")
	if n := len(srv.Members(list)); n != 59 {
		t.Errorf("%d contacts in the list, want 59", n)
	}
	c, _ := srv.Find("n4@example.com")
	if c.ExtID != "P4" || c.EmailBlacklisted {
		t.Errorf("ext_id and flags follow the import: %+v", c)
	}
	c, _ = srv.Find("n5@example.com")
	if !c.EmailBlacklisted {
		t.Errorf("n5 has no e-mail consent: %+v", c)
	}
}

func TestListMembership(t *testing.T) { eachAnswer(t, testListMembership) }

func testListMembership(t *testing.T, answer string) {
	srv := fastAnswer(t, answer)
	vip := srv.AddList("VIP")
	srv.Put(fake.Contact{Email: "old@example.com", Lists: []int64{vip}}) // already a member
	srv.Put(fake.Contact{Email: "known@example.com"})                    // exists, not a member
	srv.Put(fake.Contact{Attributes: map[string]any{"SMS": "+33611111111"}, Lists: []int64{vip}})
	d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: "email", List: "VIP", Fields: []string{"email"}})
	add := func(e string) destination.Record {
		return destination.Record{Op: destination.OpAdd, Key: e, Fields: map[string]any{"email": e}}
	}
	errs := write(t, d, "VIP", add("old@example.com"), add("known@example.com"), add("new@example.com"),
		destination.Record{Op: destination.OpRemove, Key: "gone@example.com", Fields: map[string]any{"email": "gone@example.com"}})
	if errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	var got []string
	for _, c := range srv.Members(vip) {
		if c.Email != "" {
			got = append(got, c.Email)
		}
	}
	if fmt.Sprint(got) != "[old@example.com known@example.com new@example.com]" {
		t.Errorf("members: %q", got)
	}
	// SMS-keyed syncs go through /contacts/batch (list calls take e-mails).
	sms := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: "SMS", List: "VIP", Fields: []string{"SMS"}})
	errs = write(t, sms, "VIP", destination.Record{Op: destination.OpRemove, Key: "+33611111111", Fields: map[string]any{"SMS": "+33611111111"}},
		destination.Record{Op: destination.OpAdd, Key: "+33622222222", Fields: map[string]any{"SMS": "+33622222222"}})
	if errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	if c, _ := srv.Find("+33611111111"); len(c.Lists) != 0 {
		t.Errorf("removed SMS contact still in %v", c.Lists)
	}
	if c, ok := srv.Find("+33622222222"); !ok || len(c.Lists) != 1 {
		t.Errorf("added SMS contact: %+v", c)
	}
}

func TestListCallsHold150(t *testing.T) {
	srv := fast(t)
	list := srv.AddList("Big")
	var recs []destination.Record
	for i := range 300 {
		e := fmt.Sprintf("m%d@example.com", i)
		srv.Put(fake.Contact{Email: e})
		recs = append(recs, destination.Record{Op: destination.OpAdd, Key: e, Fields: map[string]any{"email": e}})
	}
	d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: "email", List: fmt.Sprint(list), Fields: []string{"email"}})
	if errs := write(t, d, "", recs...); errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	if st := srv.Stats(); st.ByEndpoint["POST /contacts/lists/{id}/contacts/add"] != 2 {
		t.Errorf("300 entries in %d list calls, want 2", st.ByEndpoint["POST /contacts/lists/{id}/contacts/add"])
	}
	if n := len(srv.Members(list)); n != 300 {
		t.Errorf("%d members", n)
	}
	// And the fake refuses a 151st like Brevo, spec check or not.
	plain := fake.New(t, fake.Options{APIKey: "test-key"})
	plain.AddList("Big")
	emails := make([]string, 151)
	for i := range emails {
		emails[i] = fmt.Sprintf("\"m%d@example.com\"", i)
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/contacts/lists/1/contacts/add", plain.URL), bytes.NewBufferString(`{"emails":[`+strings.Join(emails, ",")+`]}`))
	req.Header.Set("api-key", "test-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("151 e-mails in a list call: HTTP %d, want 400", resp.StatusCode)
	}
}

func TestDeletes(t *testing.T) {
	for _, tc := range []struct {
		onDelete string
		fields   []string
		reason   destination.Reason
		check    func(c fake.Contact, ok bool) string
	}{
		{"unsubscribe", []string{"email"}, destination.ReasonGone, func(c fake.Contact, ok bool) string {
			if !ok || !c.EmailBlacklisted || c.SMSBlacklisted || len(c.Lists) != 0 {
				return fmt.Sprintf("want kept, e-mail blacklisted, out of the list: %+v", c)
			}
			return ""
		}},
		{"unsubscribe", []string{"email", "sms_consent"}, destination.ReasonConsent, func(c fake.Contact, ok bool) string {
			if !ok || c.EmailBlacklisted || !c.SMSBlacklisted {
				return fmt.Sprintf("want the SMS channel only: %+v", c)
			}
			return ""
		}},
		{"delete_contact", []string{"email"}, destination.ReasonGone, func(c fake.Contact, ok bool) string {
			if ok {
				return "want the contact deleted"
			}
			return ""
		}},
		// An opt-out unsubscribes even where leaving the model erases.
		{"delete_contact", []string{"email"}, destination.ReasonConsent, func(c fake.Contact, ok bool) string {
			if !ok || !c.EmailBlacklisted {
				return fmt.Sprintf("want kept and e-mail blacklisted: %+v", c)
			}
			return ""
		}},
	} {
		t.Run(tc.onDelete+" "+strings.Join(tc.fields, ",")+" "+string(tc.reason), func(t *testing.T) {
			eachAnswer(t, func(t *testing.T, answer string) {
				srv := fastAnswer(t, answer)
				list := srv.AddList("All")
				srv.Put(fake.Contact{Email: "ann@example.com", Attributes: map[string]any{"SMS": "+33612345678"}, Lists: []int64{list}})
				d := openDest(t, srv, "rate: 1000, list: All, on_delete: "+tc.onDelete, destination.SyncInfo{Key: "email", Mode: "mirror", Fields: tc.fields})
				del := func(e string) destination.Record {
					return destination.Record{Op: destination.OpDelete, Key: e, Fields: map[string]any{"email": e}, Reason: tc.reason}
				}
				if errs := write(t, d, "", del("ann@example.com"), del("nobody@example.com")); errors.Join(errs...) != nil {
					t.Fatal(errs)
				}
				if msg := tc.check(srv.Find("ann@example.com")); msg != "" {
					t.Error(msg)
				}
			})
		})
	}
}

func TestCheck(t *testing.T) {
	srv := fast(t)
	srv.AddList("Exists")
	ctx := context.Background()
	for _, tc := range []struct {
		name, opts, list, wantErr string
	}{
		{"good key, no list", "", "", ""},
		{"list by name", "", "Exists", ""},
		{"list by id", "", fmt.Sprint(srv.ListID("Exists")), ""},
		{"unknown list", "", "Nope", "no list named \"Nope\""},
		{"unknown id", "", "999", "no list with id 999"},
		{"list to create", "create_lists: true", "Later", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openDest(t, srv, tc.opts, destination.SyncInfo{Key: "email", List: tc.list})
			err := d.Check(ctx)
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("check: %v, want %q", err, tc.wantErr)
			}
		})
	}
	if srv.ListID("Later") != 0 {
		t.Error("check created a list")
	}
	bad, err := destination.ParseOptions(brevo.Spec, fmt.Sprintf("{api_key: wrong, base_url: %q}", srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	d, err := brevo.Open(ctx, destination.Config{Name: "brevo", Type: "brevo", Options: bad, Sync: destination.SyncInfo{Name: "s", Key: "email"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Check(ctx); err == nil || !strings.Contains(err.Error(), "check api_key") || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("bad key: %v", err)
	}
	// create_lists creates the list when data moves.
	d2 := openDest(t, srv, "rate: 1000, create_lists: true", destination.SyncInfo{Key: "email", List: "Later"})
	write(t, d2, "Later", destination.Record{Op: destination.OpAdd, Key: "x@example.com", Fields: map[string]any{"email": "x@example.com"}})
	if id := srv.ListID("Later"); id == 0 || len(srv.Members(id)) != 1 {
		t.Errorf("list Later: id %d", id)
	}
}

func TestOpenErrors(t *testing.T) {
	srv := fast(t)
	for _, tc := range []struct{ opts, key, want string }{
		{"", "profile_id", "Brevo identifies contacts by email, SMS"},
		{"batch_size: 151", "email", "between 1 and 150"},
		{"on_delete: erase", "email", "on_delete must be"},
		{`base_url: "ftp://x"`, "email", "base_url must be"},
	} {
		src := fmt.Sprintf("{api_key: k, base_url: %q", srv.URL)
		if strings.HasPrefix(tc.opts, "base_url") {
			src = "{api_key: k"
		}
		if tc.opts != "" {
			src += ", " + tc.opts
		}
		opts, err := destination.ParseOptions(brevo.Spec, src+"}")
		if err != nil {
			t.Fatal(err)
		}
		_, err = brevo.Open(context.Background(), destination.Config{Name: "brevo", Type: "brevo", Options: opts, Sync: destination.SyncInfo{Name: "s", Key: tc.key}, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("options %q, key %s: %v, want %q", tc.opts, tc.key, err, tc.want)
		}
	}
}
