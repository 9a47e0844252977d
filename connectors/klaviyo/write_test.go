package klaviyo_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/klaviyo"
	"github.com/sluicehq/sluice/connectors/klaviyo/fake"
)

const goodKey = "pk_test_good"

// open opens the destination on a fake for one sync; extra are more
// options, as flow-mapping entries.
func open(t *testing.T, srv *fake.Server, extra string, si destination.SyncInfo) destination.Destination {
	t.Helper()
	d, err := openErr(srv, extra, si)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openErr(srv *fake.Server, extra string, si destination.SyncInfo) (destination.Destination, error) {
	src := fmt.Sprintf("{api_key: %s, base_url: '%s'", goodKey, srv.URL)
	if extra != "" {
		src += ", " + extra
	}
	opts, err := destination.ParseOptions(klaviyo.Spec, src+"}")
	if err != nil {
		return nil, err
	}
	if si.Name == "" {
		si.Name = "test"
	}
	return klaviyo.Open(context.Background(), destination.Config{Name: "klaviyo", Type: "klaviyo", Options: opts, Sync: si})
}

func write(t *testing.T, d destination.Destination, recs ...destination.Record) []error {
	t.Helper()
	errs, err := d.Write(context.Background(), &destination.Batch{Sync: "test", RunID: "r1", Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != len(recs) {
		t.Fatalf("%d results for %d records", len(errs), len(recs))
	}
	return errs
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func ops(srv *fake.Server) map[string]int { return srv.Stats().ByOperation }

func TestSegmentSyncKeepsAList(t *testing.T) {
	srv := newFake(t, fake.Options{})
	srv.CreateList("VIP customers")
	d := open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "email", List: "VIP customers", Fields: []string{"email", "first_name", "properties.ltv"}})
	if err := d.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	add := func(email, name string, ltv float64) destination.Record {
		return destination.Record{Op: destination.OpAdd, Key: email, Fields: map[string]any{"email": email, "first_name": name, "properties": map[string]any{"ltv": ltv}}}
	}
	errs := write(t, d, add("ann@example.com", "Ann", 900.5), add("bob@example.com", "Bob", 612), add("cy@example.com", "Cy", 700))
	for i, err := range errs {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if n := len(srv.ListMembers("VIP customers")); n != 3 {
		t.Fatalf("list has %d members, want 3", n)
	}
	if o := ops(srv); o["bulk_import_profiles"] != 1 || o["add_profiles_to_list"] != 0 {
		t.Errorf("adds should be one bulk import with the list relationship, not list calls: %v", o)
	}
	ann, _ := srv.ProfileByEmail("ann@example.com")
	if ann.Attributes["first_name"] != "Ann" || ann.Properties["ltv"] != 900.5 {
		t.Errorf("ann: %+v", ann)
	}
	// Exits leave the list; the profile and its consent stay.
	errs = write(t, d, destination.Record{Op: destination.OpRemove, Key: "bob@example.com", Fields: map[string]any{"email": "bob@example.com"}},
		destination.Record{Op: destination.OpRemove, Key: "never@example.com", Fields: map[string]any{"email": "never@example.com"}})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("removals: %v", errs)
	}
	var left []string
	for _, p := range srv.ListMembers("VIP customers") {
		left = append(left, p.Email)
	}
	if strings.Join(left, ",") != "ann@example.com,cy@example.com" {
		t.Errorf("members after the exit: %v", left)
	}
	if _, ok := srv.ProfileByEmail("bob@example.com"); !ok {
		t.Error("an exit must not delete the profile")
	}
	if o := ops(srv); o["bulk_unsubscribe_profiles"] != 0 || o["remove_profiles_from_list"] != 1 || o["get_profiles"] != 1 {
		t.Errorf("an exit is a lookup and a list removal, never an unsubscribe: %v", o)
	}
}

func TestConsentFromMappedFields(t *testing.T) {
	srv := newFake(t, fake.Options{})
	fields := []string{"email", "phone_number", "first_name",
		"subscriptions.email.marketing.consent", "subscriptions.email.marketing.consented_at",
		"subscriptions.sms.marketing.consent"}
	d := open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "email", Fields: fields})
	rec := func(op destination.Op, email, phone string, emailOK, smsOK any, at any) destination.Record {
		f := map[string]any{"email": email}
		if phone != "" {
			f["phone_number"] = phone
		}
		if op == destination.OpUpsert {
			f["subscriptions"] = map[string]any{
				"email": map[string]any{"marketing": map[string]any{"consent": emailOK, "consented_at": at}},
				"sms":   map[string]any{"marketing": map[string]any{"consent": smsOK}},
			}
		}
		return destination.Record{Op: op, Key: email, Fields: f}
	}
	errs := write(t, d,
		rec(destination.OpUpsert, "ann@example.com", "+33612345678", true, true, "2024-05-01T10:00:00Z"),
		rec(destination.OpUpsert, "bob@example.com", "", true, true, nil),            // sms consent but no number
		rec(destination.OpUpsert, "cy@example.com", "+33698765432", false, nil, nil), // e-mail consent withdrawn, sms unknown
	)
	for i, err := range errs {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	sub := func(id, ch string) fake.Subscription { s, _ := srv.Subscription(id, ch); return s }
	if s := sub("ann@example.com", "email"); s.Consent != "SUBSCRIBED" || !s.Historical || s.ConsentedAt != "2024-05-01T10:00:00Z" || s.CustomSource != "sluice" {
		t.Errorf("ann e-mail: %+v (want a historical import dated when consent was given)", s)
	}
	if s := sub("+33612345678", "sms"); s.Consent != "SUBSCRIBED" || s.Historical {
		t.Errorf("ann sms: %+v (no consent time: subscribed now)", s)
	}
	if s := sub("bob@example.com", "email"); s.Consent != "SUBSCRIBED" || s.Historical {
		t.Errorf("bob e-mail: %+v", s)
	}
	if _, ok := srv.Subscription("bob@example.com", "sms"); ok {
		t.Error("bob has no phone: nothing to subscribe to SMS")
	}
	if s := sub("cy@example.com", "email"); s.Consent != "UNSUBSCRIBED" {
		t.Errorf("cy e-mail: %+v", s)
	}
	if _, ok := srv.Subscription("+33698765432", "sms"); ok {
		t.Error("cy's SMS consent is unknown: the channel must be left alone")
	}
	ann, _ := srv.ProfileByEmail("ann@example.com")
	if _, isAttr := ann.Attributes["subscriptions"]; isAttr || ann.Properties["subscriptions"] != nil {
		t.Errorf("consent fields must not become attributes: %+v", ann)
	}
	// A consent withdrawal unsubscribes the mapped channels: the removal
	// needs the phone number for SMS (removal_fields). A record that left
	// the model keeps its consent. A removal without a reason counts as a
	// withdrawal.
	withdrawn := rec(destination.OpDelete, "ann@example.com", "+33612345678", nil, nil, nil)
	withdrawn.Reason = destination.ReasonConsent
	gone := rec(destination.OpDelete, "cy@example.com", "+33698765432", nil, nil, nil)
	gone.Reason = destination.ReasonGone
	errs = write(t, d, withdrawn, rec(destination.OpDelete, "bob@example.com", "", nil, nil, nil), gone)
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("removals: %v", errs)
	}
	if !strings.Contains(errText(errs[1]), "no phone_number; add it to the sync's removal_fields") {
		t.Errorf("bob's removal without a phone: %v", errs[1])
	}
	if _, ok := srv.Subscription("+33698765432", "sms"); ok {
		t.Error("a record that left the model must keep its consent: cy's SMS was touched")
	}
	if s := sub("ann@example.com", "email"); s.Consent != "UNSUBSCRIBED" {
		t.Errorf("ann e-mail after removal: %+v", s)
	}
	if s := sub("+33612345678", "sms"); s.Consent != "UNSUBSCRIBED" {
		t.Errorf("ann sms after removal: %+v", s)
	}
	if _, ok := srv.ProfileByEmail("ann@example.com"); !ok {
		t.Error("a removal must never delete the profile")
	}
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path, "suppression") || strings.Contains(r.Path, "data-privacy") || r.Method == "DELETE" {
			t.Errorf("unexpected request %s %s", r.Method, r.Path)
		}
	}
	if s := sub("bob@example.com", "email"); s.Consent != "SUBSCRIBED" {
		t.Errorf("bob's removal was rejected: his consent must be untouched, got %+v", s)
	}
}

func TestImportErrorsRejectTheirRecords(t *testing.T) {
	srv := newFake(t, fake.Options{})
	srv.RejectIdentifier("Profile blocked by the account", "blocked@example.com")
	d := open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "email", Fields: []string{"email", "phone_number"}})
	recs := []destination.Record{
		{Op: destination.OpUpsert, Key: "a@example.com", Fields: map[string]any{"email": "a@example.com"}},
		{Op: destination.OpUpsert, Key: "badphone@example.com", Fields: map[string]any{"email": "badphone@example.com", "phone_number": "+99912345678"}},
		{Op: destination.OpUpsert, Key: "b@example.com", Fields: map[string]any{"email": "b@example.com", "phone_number": "+33612345678"}},
		{Op: destination.OpUpsert, Key: "blocked@example.com", Fields: map[string]any{"email": "blocked@example.com"}},
		{Op: destination.OpUpsert, Key: "nophone@example.com", Fields: map[string]any{"email": "nophone@example.com", "phone_number": "0612345678"}},
	}
	errs := write(t, d, recs...)
	want := []string{"", "klaviyo import error: Invalid phone number format", "", "klaviyo import error: Profile blocked by the account", "not in E.164 format"}
	for i, w := range want {
		if got := errText(errs[i]); (w == "" && got != "") || !strings.Contains(got, w) {
			t.Errorf("record %d (%s): %q, want %q", i, recs[i].Key, got, w)
		}
	}
	if st := srv.Stats(); st.Imported != 2 || st.ImportFails != 2 {
		t.Errorf("fake imported %d, refused %d; want 2 and 2 (the E.164 check happens before sending)", st.Imported, st.ImportFails)
	}
}

func TestRetriesAndRetryAfter(t *testing.T) {
	srv := newFake(t, fake.Options{})
	srv.FailNext("bulk_import_profiles", 429, 503)
	srv.FailNext("get_bulk_import_profiles_jobs", 500)
	d := open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "email", Fields: []string{"email"}})
	errs := write(t, d, destination.Record{Op: destination.OpUpsert, Key: "a@example.com", Fields: map[string]any{"email": "a@example.com"}})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	if o := ops(srv); o["bulk_import_profiles"] != 3 {
		t.Errorf("bulk import attempts %d, want 3 (429, 503, then accepted)", o["bulk_import_profiles"])
	}
	if _, ok := srv.ProfileByEmail("a@example.com"); !ok {
		t.Error("profile not imported")
	}
	// Retries exhausted: the run stops, nothing is rejected (outcome unknown).
	srv.FailNext("bulk_import_profiles", 500, 500)
	d2 := open(t, srv, "max_retries: 1", destination.SyncInfo{Mode: "upsert", Key: "email", Fields: []string{"email"}})
	_, err := d2.Write(context.Background(), &destination.Batch{Records: []destination.Record{{Op: destination.OpUpsert, Key: "b@example.com", Fields: map[string]any{"email": "b@example.com"}}}})
	var rej *destination.BatchRejected
	if err == nil || errors.As(err, &rej) || !strings.Contains(err.Error(), "still answered HTTP 500") {
		t.Errorf("error %v, want the run stopped after retries", err)
	}
}

func TestJobsSplitBySize(t *testing.T) {
	srv := newFake(t, fake.Options{})
	d := open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "email", Fields: []string{"email", "properties.bio"}})
	// 120 profiles of ~60 KB: 7 MB, more than one job may carry.
	var recs []destination.Record
	for i := range 120 {
		email := fmt.Sprintf("p%d@example.com", i)
		recs = append(recs, destination.Record{Op: destination.OpUpsert, Key: email, Fields: map[string]any{"email": email, "properties": map[string]any{"bio": strings.Repeat("x", 60<<10)}}})
	}
	for i, err := range write(t, d, recs...) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if o := ops(srv); o["bulk_import_profiles"] != 2 {
		t.Errorf("%d jobs, want 2 (5 MB each at most)", o["bulk_import_profiles"])
	}
	if st := srv.Stats(); st.Imported != 120 {
		t.Errorf("imported %d", st.Imported)
	}
}

func TestPacedToEndpointLimits(t *testing.T) {
	tests := []struct {
		name     string
		share    string
		wantNo   bool // no 429 at all
		requests int
	}{
		// The client paces bulk imports at 20% of Klaviyo's 10/s: 2/s,
		// exactly what this fake allows.
		{name: "paced below the limit", share: "rate_limit_share: 0.2", wantNo: true},
		// At full speed it runs into the fake's 2/s and waits out each 429.
		{name: "over the limit, retried", share: "rate_limit_share: 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, fake.Options{Limits: map[string]fake.Limit{"bulk_import_profiles": {Burst: 2, Steady: 100}}})
			d := open(t, srv, tc.share+", max_retries: 10", destination.SyncInfo{Mode: "upsert", Key: "email", Fields: []string{"email"}})
			var wg sync.WaitGroup
			for i := range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					email := fmt.Sprintf("p%d@example.com", i)
					errs, err := d.Write(context.Background(), &destination.Batch{Records: []destination.Record{{Op: destination.OpUpsert, Key: email, Fields: map[string]any{"email": email}}}})
					if err != nil || errs[0] != nil {
						t.Errorf("write %d: %v %v", i, err, errs)
					}
				}()
			}
			wg.Wait()
			st := srv.Stats()
			if st.Imported != 6 {
				t.Errorf("imported %d of 6", st.Imported)
			}
			if tc.wantNo && st.Throttled != 0 {
				t.Errorf("%d requests throttled: the client did not pace itself", st.Throttled)
			}
			if !tc.wantNo && st.Throttled == 0 {
				t.Log("no 429 this time: the six requests happened to straddle windows")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	srv := newFake(t, fake.Options{Keys: map[string][]string{"pk_writeonly": {"profiles:write", "lists:write"}}})
	srv.CreateList("Newsletter")
	srv.CreateList("Twice")
	srv.CreateList("Twice")
	id := srv.CreateList("By id")
	tests := []struct {
		name  string
		extra string
		list  string
		err   string
	}{
		{name: "good key, no list"},
		{name: "list by name", list: "Newsletter"},
		{name: "list by id", list: id},
		{name: "missing list", list: "Nope", err: `klaviyo has no list "Nope": create it in Klaviyo`},
		{name: "missing list, created at the first send", list: "Nope", extra: "create_list: true"},
		{name: "two lists with the name", list: "Twice", err: `klaviyo has 2 lists named "Twice"`},
		{name: "bad key", extra: "api_key: pk_wrong", err: "klaviyo refused the API key (HTTP 401 authentication_failed"},
		{name: "key without read scopes", extra: "api_key: pk_writeonly", err: "give the key the scopes lists:read, profiles:read"},
		{name: "default list from the destination", extra: "list: Newsletter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t, srv, tc.extra, destination.SyncInfo{Mode: "upsert", Key: "email", List: tc.list, Fields: []string{"email"}})
			err := d.Check(context.Background())
			if tc.err == "" && err != nil {
				t.Fatal(err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("check: %v, want %q", err, tc.err)
			}
		})
	}
	if n := len(srv.Lists()); n != 4 {
		t.Errorf("check created lists: %d lists", n)
	}
	for _, r := range srv.Requests() {
		if r.Method != "GET" {
			t.Errorf("check sent %s %s", r.Method, r.Path)
		}
	}
}

func TestCreateListAtFirstSend(t *testing.T) {
	srv := newFake(t, fake.Options{})
	d := open(t, srv, "create_list: true", destination.SyncInfo{Mode: "upsert", Key: "email", List: "Fresh", Fields: []string{"email"}})
	var wg sync.WaitGroup
	for i := range 3 { // concurrent writes create the list once
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := fmt.Sprintf("p%d@example.com", i)
			if _, err := d.Write(context.Background(), &destination.Batch{Records: []destination.Record{{Op: destination.OpAdd, Key: e, Fields: map[string]any{"email": e}}}}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ls := srv.Lists(); len(ls) != 1 || ls[0].Name != "Fresh" || len(ls[0].Members) != 3 {
		t.Errorf("lists: %+v", ls)
	}
}

func TestOpenAndWriteRefuseMisconfiguration(t *testing.T) {
	srv := newFake(t, fake.Options{})
	tests := []struct {
		name  string
		extra string
		sync  destination.SyncInfo
		err   string
	}{
		{"mirror without a list", "", destination.SyncInfo{Mode: "mirror", Key: "email", Fields: []string{"email", "subscriptions.email.marketing.consent"}}, "sluice never deletes Klaviyo profiles: give the sync a list"},
		{"a misspelt attribute", "", destination.SyncInfo{Key: "email", Fields: []string{"email", "last_nmae"}}, "did you mean `last_name`?"},
		{"batch above the job limit", "batch_size: 20000", destination.SyncInfo{Key: "email", Fields: []string{"email"}}, "batch_size must be between 1 and 10000"},
		{"base_url not http", "base_url: 'ftp://x'", destination.SyncInfo{Key: "email", Fields: []string{"email"}}, "base_url must be an http"},
		{"revision not a date", "revision: latest", destination.SyncInfo{Key: "email", Fields: []string{"email"}}, `revision "latest" is not a Klaviyo API revision`},
		{"share out of range", "rate_limit_share: 2", destination.SyncInfo{Key: "email", Fields: []string{"email"}}, "rate_limit_share must be above 0 and at most 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openErr(srv, tc.extra, tc.sync)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("open: %v, want %q", err, tc.err)
			}
		})
	}
	// A segment sync cannot carry consent: an exit is not a withdrawal.
	d := open(t, srv, "", destination.SyncInfo{Key: "email", List: "VIP", Fields: []string{"email", "subscriptions.email.marketing.consent"}})
	_, err := d.Write(context.Background(), &destination.Batch{Sync: "vip", Records: []destination.Record{{Op: destination.OpAdd, Key: "a@example.com", Fields: map[string]any{"email": "a@example.com"}}}})
	if err == nil || !strings.Contains(err.Error(), "a segment exit is not a consent withdrawal") {
		t.Errorf("segment sync with consent: %v", err)
	}
	d = open(t, srv, "", destination.SyncInfo{Key: "email", Fields: []string{"email"}})
	_, err = d.Write(context.Background(), &destination.Batch{Sync: "vip", Records: []destination.Record{{Op: destination.OpAdd, Key: "a@example.com", Fields: map[string]any{"email": "a@example.com"}}}})
	if err == nil || !strings.Contains(err.Error(), "segment sync vip has no list") {
		t.Errorf("segment sync without a list: %v", err)
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("misconfigured syncs sent %d requests", n)
	}
}

func TestSteadyWindowPacedByHeaders(t *testing.T) {
	// Klaviyo reports the steady window's state on every answer: once it
	// says the window is used up, the next import waits for the reset
	// instead of being refused. (A 3 s window stands in for the minute.)
	const window = 4 * time.Second
	srv := newFake(t, fake.Options{Limits: map[string]fake.Limit{"bulk_import_profiles": {Burst: 10, Steady: 2}}, SteadyWindow: window})
	d := open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "email", Fields: []string{"email"}})
	// Start at the beginning of a window: the shared pacer reads resets
	// under two seconds as a per-second window's and does not pace by them.
	time.Sleep(time.Until(time.Now().Truncate(window).Add(window + 50*time.Millisecond)))
	for i := range 4 {
		email := fmt.Sprintf("p%d@example.com", i)
		if errs := write(t, d, destination.Record{Op: destination.OpUpsert, Key: email, Fields: map[string]any{"email": email}}); errs[0] != nil {
			t.Fatal(errs[0])
		}
	}
	st := srv.Stats()
	if st.Imported != 4 {
		t.Errorf("imported %d", st.Imported)
	}
	if st.Throttled != 0 {
		t.Errorf("%d requests throttled: the client did not wait for the steady window's reset", st.Throttled)
	}
}

func TestRecordSyncRemovalsWithoutConsentFields(t *testing.T) {
	srv := newFake(t, fake.Options{})
	d := open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "email", Fields: []string{"email"}})
	withdrawn := destination.Record{Op: destination.OpDelete, Key: "a@example.com", Fields: map[string]any{"email": "a@example.com"}, Reason: destination.ReasonConsent}
	errs := write(t, d, withdrawn)
	if !strings.Contains(errText(errs[0]), "a consent withdrawal must change something in Klaviyo") {
		t.Errorf("a withdrawal with nothing to do: %v", errs[0])
	}
	// With a list, the withdrawal leaves it.
	srv.CreateList("Members")
	d = open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "email", List: "Members", Fields: []string{"email"}})
	if errs := write(t, d, destination.Record{Op: destination.OpUpsert, Key: "a@example.com", Fields: map[string]any{"email": "a@example.com"}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if n := len(srv.ListMembers("Members")); n != 1 {
		t.Fatalf("record sync with a list: %d members", n)
	}
	if errs := write(t, d, withdrawn); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if n := len(srv.ListMembers("Members")); n != 0 {
		t.Errorf("the withdrawal should leave the list: %d members", n)
	}
}
