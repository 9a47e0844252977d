package hubspot_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/hubspot"
	"github.com/sluicehq/sluice/connectors/hubspot/fake"
)

var suiteSync = destination.SyncInfo{Name: "people", Mode: "mirror", Key: "email", Fields: []string{"email", "name", "score"}}

// open opens the destination against url with extra options (YAML flow
// entries).
func open(t *testing.T, url, token, extra string, sync destination.SyncInfo) *hubspot.HubSpot {
	t.Helper()
	d, err := openErr(url, token, extra, sync)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.(*hubspot.HubSpot)
}

func openErr(url, token, extra string, sync destination.SyncInfo) (destination.Destination, error) {
	src := fmt.Sprintf("{access_token: %q, base_url: %q, max_retries: 3", token, url)
	if extra != "" {
		src += ", " + extra
	}
	opts, err := destination.ParseOptions(hubspot.Spec, src+"}")
	if err != nil {
		return nil, err
	}
	return hubspot.Open(context.Background(), destination.Config{Name: "hs", Type: "hubspot", Options: opts, Sync: sync})
}

func person(i int) destination.Record {
	return destination.Record{Op: destination.OpUpsert, Key: fmt.Sprintf("p%d@example.com", i),
		Fields: map[string]any{"email": fmt.Sprintf("p%d@example.com", i), "name": fmt.Sprintf("P %d", i), "score": int64(i)}}
}

func people(n int) []destination.Record {
	out := make([]destination.Record, n)
	for i := range out {
		out[i] = person(i)
	}
	return out
}

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		sync        destination.SyncInfo
		want        string // in the error; "" for success
	}{
		{"defaults", "", suiteSync, ""},
		{"nested field", "", destination.SyncInfo{Name: "s", Key: "email", Fields: []string{"email", "properties.ltv"}}, "nested fields (properties.ltv)"},
		{"batch too big", "batch_size: 101", suiteSync, "batch_size must be between 1 and 100"},
		{"insert mode", "", destination.SyncInfo{Name: "s", Mode: "insert", Key: "email", Fields: []string{"email"}}, "mode insert is not supported"},
		{"id property not mapped", "id_property: customer_id", suiteSync, "id_property customer_id is neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := openErr("https://api.hubapi.com", testToken, tc.extra, tc.sync)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				d.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := openErr("ftp://example.com", testToken, "", suiteSync); err == nil {
		t.Error("an ftp base_url was accepted")
	}
}

func TestWriteUpsert(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records func() []destination.Record
		failed  map[int]string // record index → text in its error
		stored  int
	}{
		{"all accepted (200)", func() []destination.Record { return people(100) }, nil, 100},
		{"only the 37th input fails (207)", func() []destination.Record {
			rs := people(100)
			rs[36].Key, rs[36].Fields["email"] = "not-an-address-37", "not-an-address-37"
			return rs
		}, map[int]string{36: "VALIDATION_ERROR"}, 99},
		{"a nested value is that record's error", func() []destination.Record {
			rs := people(3)
			rs[1].Fields["name"] = map[string]any{"first": "x"}
			return rs
		}, map[int]string{1: "not a value HubSpot takes"}, 2},
		{"an empty key", func() []destination.Record {
			rs := people(2)
			rs[0].Key, rs[0].Fields["email"] = " ", " "
			return rs
		}, map[int]string{0: "the key is empty"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
			d := open(t, srv.URL, testToken, "", suiteSync)
			recs := tc.records()
			errs, err := d.Write(context.Background(), &destination.Batch{Sync: "people", Mode: "mirror", Records: recs})
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			if len(errs) != len(recs) {
				t.Fatalf("%d outcomes for %d records", len(errs), len(recs))
			}
			for i, e := range errs {
				want, bad := tc.failed[i]
				switch {
				case bad && (e == nil || !strings.Contains(e.Error(), want)):
					t.Errorf("record %d: error %v, want one with %q", i, e, want)
				case bad && strings.TrimSpace(recs[i].Key) != "" && strings.Contains(e.Error(), recs[i].Key):
					t.Errorf("record %d: the error quotes the key: %v", i, e)
				case !bad && e != nil:
					t.Errorf("record %d: %v", i, e)
				}
			}
			if got := len(srv.Contacts()); got != tc.stored {
				t.Errorf("HubSpot holds %d contacts, want %d", got, tc.stored)
			}
			if c, ok := srv.ContactByEmail("p2@example.com"); ok && (c.Properties["name"] != "P 2" || c.Properties["score"] != "2") {
				t.Errorf("contact p2 has %v", c.Properties)
			}
		})
	}
}

// TestWriteUnaccounted: a 2xx whose body leaves records out never counts
// them delivered.
func TestWriteUnaccounted(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		delivered  []bool
	}{
		{"200 without the second", `{"status":"COMPLETE","results":[{"id":"1","objectWriteTraceId":"0","properties":{}}]}`, 200, []bool{true, false}},
		{"207 naming the first, silent on the second", `{"status":"COMPLETE","results":[],"errors":[{"status":"error","category":"VALIDATION_ERROR","message":"bad","context":{"objectWriteTraceId":["0"]}}]}`, 207, []bool{false, false}},
		{"200 by idProperty value, no trace ids", `{"status":"COMPLETE","results":[{"id":"1","properties":{"email":"P0@example.com"}},{"id":"2","properties":{"email":"p1@example.com"}}]}`, 200, []bool{true, true}},
		{"empty 200", ``, 200, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer ts.Close()
			d := open(t, ts.URL, testToken, "", suiteSync)
			errs, err := d.Write(context.Background(), &destination.Batch{Mode: "mirror", Records: people(2)})
			if tc.delivered == nil {
				if err == nil {
					t.Fatalf("an unreadable 200 was read as an answer: %v", errs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, ok := range tc.delivered {
				if (errs[i] == nil) != ok {
					t.Errorf("record %d: delivered %v, want %v (%v)", i, errs[i] == nil, ok, errs[i])
				}
			}
		})
	}
}

func TestWriteRetries429(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
	d := open(t, srv.URL, testToken, "", suiteSync)
	// HubSpot's TEN_SECONDLY_ROLLING 429 holds requests for the window
	// (10 s), so one is enough to show the retry.
	srv.FailRequests(http.StatusTooManyRequests, 1)
	errs, err := d.Write(context.Background(), &destination.Batch{Mode: "mirror", Records: people(5)})
	if err != nil {
		t.Fatalf("write after a 429: %v", err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Failed429 != 1 || st.Requests != 2 || st.Contacts != 5 {
		t.Errorf("stats %+v: want one 429, then one upsert of 5 contacts", st)
	}
	// Retries run out: the run stops, nothing counted.
	srv.FailRequests(http.StatusServiceUnavailable, 100)
	if _, err := d.Write(context.Background(), &destination.Batch{Mode: "mirror", Records: people(6)}); err == nil {
		t.Error("a write that never got through returned no error")
	}
}

func TestWriteDeleteAndUpdate(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
	d := open(t, srv.URL, testToken, "", suiteSync)
	ctx := context.Background()
	if _, err := d.Write(ctx, &destination.Batch{Mode: "mirror", Records: people(3)}); err != nil {
		t.Fatal(err)
	}
	del := []destination.Record{
		{Op: destination.OpDelete, Key: "P1@example.com", Fields: map[string]any{"email": "P1@example.com"}},
		{Op: destination.OpDelete, Key: "never@example.com", Fields: map[string]any{"email": "never@example.com"}},
	}
	errs, err := d.Write(ctx, &destination.Batch{Mode: "mirror", Records: del})
	if err != nil || errors.Join(errs...) != nil {
		t.Fatalf("delete: %v %v", err, errs)
	}
	if _, ok := srv.ContactByEmail("p1@example.com"); ok || len(srv.Contacts()) != 2 {
		t.Errorf("after the delete HubSpot holds %d contacts (p1 held: %v)", len(srv.Contacts()), ok)
	}
	// A delete archives: the address is not block-listed as by a GDPR deletion.
	if srv.Blocked("p1@example.com") || srv.Stats().Deletions != 0 || srv.Stats().Archived != 1 {
		t.Errorf("a delete must archive, not GDPR-delete: stats %+v", srv.Stats())
	}
	// Update mode changes known contacts and creates none.
	upd := []destination.Record{person(0), person(9)}
	upd[0].Fields["name"] = "changed"
	errs, err = d.Write(ctx, &destination.Batch{Mode: "update", Records: upd})
	if err != nil || errors.Join(errs...) != nil {
		t.Fatalf("update: %v %v", err, errs)
	}
	if c, _ := srv.ContactByEmail("p0@example.com"); c.Properties["name"] != "changed" {
		t.Errorf("p0 not updated: %v", c.Properties)
	}
	if _, ok := srv.ContactByEmail("p9@example.com"); ok {
		t.Error("update mode created a contact")
	}
}

func TestCheck(t *testing.T) {
	unique := fake.Property{Name: "customer_id", Label: "Customer", Type: "string", FieldType: "text", HasUniqueValue: true}
	for _, tc := range []struct {
		name, token, extra string
		props              []fake.Property
		sync               destination.SyncInfo
		want               string // in the error; "" for success
	}{
		{"all there", testToken, "", suiteProperties, suiteSync, ""},
		{"bad token", "pat-wrong", "", suiteProperties, suiteSync, "access token was refused"},
		{"missing properties named", testToken, "", nil, suiteSync, "mapped fields name, score are not contact properties"},
		{"missing but created on write", testToken, "create_properties: true", nil, suiteSync, ""},
		{"read-only property", testToken, "", suiteProperties, destination.SyncInfo{Name: "s", Key: "email", Fields: []string{"email", "hs_object_id"}}, "read-only"},
		{"id property not unique", testToken, "id_property: name", suiteProperties, suiteSync, "does not have unique values"},
		{"id property unique", testToken, "id_property: customer_id", append([]fake.Property{unique}, suiteProperties...),
			destination.SyncInfo{Name: "s", Key: "customer_id", Fields: []string{"customer_id", "email", "name"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake.New(t, fake.Options{Token: testToken, Properties: tc.props})
			d := open(t, srv.URL, tc.token, tc.extra, tc.sync)
			err := d.Check(context.Background())
			if tc.want == "" && err != nil {
				t.Fatalf("check: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("check: %v, want an error with %q", err, tc.want)
			}
			if strings.Contains(fmt.Sprint(err), tc.token) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}

func TestCreateProperties(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: testToken})
	d := open(t, srv.URL, testToken, "create_properties: true", suiteSync)
	errs, err := d.Write(context.Background(), &destination.Batch{Mode: "mirror", Records: people(2)})
	if err != nil || errors.Join(errs...) != nil {
		t.Fatalf("write: %v %v", err, errs)
	}
	if c, _ := srv.ContactByEmail("p1@example.com"); c.Properties["name"] != "P 1" || c.Properties["score"] != "1" {
		t.Errorf("contact p1 has %v", c.Properties)
	}
	d2 := open(t, srv.URL, testToken, "", suiteSync)
	if err := d2.Check(context.Background()); err != nil {
		t.Errorf("the created properties do not satisfy check: %v", err)
	}
}

func TestErase(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
	d := open(t, srv.URL, testToken, "", suiteSync)
	ctx := context.Background()
	if _, err := d.Write(ctx, &destination.Batch{Mode: "mirror", Records: people(3)}); err != nil {
		t.Fatal(err)
	}
	srv.FailRequests(http.StatusTooManyRequests, 1)
	out, err := d.Erase(ctx, &destination.Erasure{RequestID: "r1", Sync: "people", Keys: []string{"p1@example.com", "nobody@example.com", ""}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false} {
		if (out[i].Err == nil) != want {
			t.Errorf("outcome %d: %+v", i, out[i])
		}
	}
	if out[0].Ref != hubspot.RefGDPRDelete {
		t.Errorf("ref %q", out[0].Ref)
	}
	if _, ok := srv.ContactByEmail("p1@example.com"); ok || !srv.Blocked("p1@example.com") || len(srv.Contacts()) != 2 {
		t.Errorf("p1 not erased: %d contacts left", len(srv.Contacts()))
	}
	// A refusal of one key is that key's error, its address masked.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status":"error","category":"VALIDATION_ERROR","message":"Email address p2@example.com is invalid"}`))
	}))
	defer ts.Close()
	d2 := open(t, ts.URL, testToken, "", suiteSync)
	out, err = d2.Erase(ctx, &destination.Erasure{Sync: "people", Keys: []string{"p2@example.com"}})
	if err != nil || out[0].Err == nil || strings.Contains(out[0].Err.Error(), "p2@example.com") {
		t.Errorf("erase refused: %v, %+v", err, out)
	}
	// Credentials refused: the whole call fails.
	d3 := open(t, srv.URL, "pat-wrong", "", suiteSync)
	if _, err := d3.Erase(ctx, &destination.Erasure{Sync: "people", Keys: []string{"p0@example.com"}}); err == nil {
		t.Error("erase with a bad token returned no error")
	}
}

// TestWriteDailyLimit: a 429 naming the DAILY policy stops the run at
// once, rather than retrying into a quota that resets at midnight.
func TestWriteDailyLimit(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties, Daily: 1})
	d := open(t, srv.URL, testToken, "", suiteSync)
	ctx := context.Background()
	if _, err := d.Write(ctx, &destination.Batch{Mode: "mirror", Records: people(2)}); err != nil {
		t.Fatalf("first write: %v", err)
	}
	_, err := d.Write(ctx, &destination.Batch{Mode: "mirror", Records: people(3)})
	var qe *destination.QuotaError
	if !errors.As(err, &qe) {
		t.Fatalf("write past the daily limit: %v, want a *destination.QuotaError", err)
	}
	if st := srv.Stats(); st.Requests > 2 {
		t.Errorf("%d requests: the daily 429 was retried", st.Requests)
	}
	if u := qe.Until.UTC(); u.Hour() != 0 || u.Minute() != 0 || u.Before(time.Now()) {
		t.Errorf("without time_zone the quota resets at %s, want the next midnight UTC", qe.Until)
	}
}

// The daily quota resets at midnight in the account's time zone.
func TestDailyResetInAccountZone(t *testing.T) {
	for _, c := range []struct {
		zone string
		ok   bool
	}{{"Pacific/Kiritimati", true}, {"America/New_York", true}, {"Mars/Olympus", false}, {"Local", false}} {
		t.Run(c.zone, func(t *testing.T) {
			srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties, Daily: 1})
			d, err := openErr(srv.URL, testToken, "time_zone: "+c.zone, suiteSync)
			if !c.ok {
				if err == nil || !strings.Contains(err.Error(), "IANA") {
					t.Fatalf("open with time_zone %s: %v, want a refusal naming IANA names", c.zone, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ctx := context.Background()
			if _, err := d.Write(ctx, &destination.Batch{Mode: "mirror", Records: people(2)}); err != nil {
				t.Fatalf("first write: %v", err)
			}
			_, err = d.Write(ctx, &destination.Batch{Mode: "mirror", Records: people(3)})
			var qe *destination.QuotaError
			if !errors.As(err, &qe) {
				t.Fatalf("write past the daily limit: %v", err)
			}
			loc, _ := time.LoadLocation(c.zone)
			if u := qe.Until.In(loc); u.Hour() != 0 || u.Minute() != 0 || u.Before(time.Now()) || u.After(time.Now().Add(24*time.Hour)) {
				t.Errorf("the quota resets at %s (%s there), want the next midnight in %s", qe.Until.UTC(), u, c.zone)
			}
		})
	}
}

// TestEraseByUniqueProperty: a sync keyed by a unique property erases by
// record id, looked up by that property; a key with no contact is not held.
func TestEraseByUniqueProperty(t *testing.T) {
	unique := fake.Property{Name: "customer_id", Label: "Customer", Type: "string", FieldType: "text", HasUniqueValue: true}
	srv := fake.New(t, fake.Options{Token: testToken, Properties: append([]fake.Property{unique}, suiteProperties...)})
	sync := destination.SyncInfo{Name: "s", Mode: "upsert", Key: "customer_id", Fields: []string{"customer_id", "email", "name"}}
	d := open(t, srv.URL, testToken, "", sync)
	ctx := context.Background()
	recs := []destination.Record{
		{Op: destination.OpUpsert, Key: "c-1", Fields: map[string]any{"customer_id": "c-1", "email": "one@example.com", "name": "One"}},
		{Op: destination.OpUpsert, Key: "c-2", Fields: map[string]any{"customer_id": "c-2", "email": "two@example.com", "name": "Two"}},
	}
	if errs, err := d.Write(ctx, &destination.Batch{Mode: "upsert", Records: recs}); err != nil || errors.Join(errs...) != nil {
		t.Fatalf("write: %v %v", err, errs)
	}
	out, err := d.Erase(ctx, &destination.Erasure{Sync: "s", Keys: []string{"c-2", "c-9"}})
	if err != nil || out[0].Err != nil || out[1].Err != nil {
		t.Fatalf("erase: %v %+v", err, out)
	}
	if _, ok := srv.ContactByEmail("two@example.com"); ok || len(srv.Contacts()) != 1 {
		t.Errorf("c-2 not erased: %d contacts", len(srv.Contacts()))
	}
	if dels := srv.GDPRDeletions(); len(dels) != 1 || dels[0].ByEmail {
		t.Errorf("deletions %+v: want one, by record id", dels)
	}
	// The record id kept from the upsert needs no lookup.
	if recs[0].RemoteID == "" {
		t.Fatal("the upsert reported no record id")
	}
	before := len(srv.Requests())
	out, err = d.Erase(ctx, &destination.Erasure{Sync: "s", Keys: []string{"c-1"}, RemoteIDs: []string{recs[0].RemoteID}})
	if err != nil || out[0].Err != nil || len(srv.Contacts()) != 0 {
		t.Fatalf("erase by kept id: %v %+v, %d contacts left", err, out, len(srv.Contacts()))
	}
	for _, r := range srv.Requests()[before:] {
		if r.Method+" "+r.Endpoint != "POST /crm/v3/objects/contacts/gdpr-delete" {
			t.Errorf("erasing by a kept record id made a %s %s request", r.Method, r.Endpoint)
		}
	}
	// Keyed by a field that is not id_property: the keys name no contact.
	d2 := open(t, srv.URL, testToken, "id_property: email", sync)
	if _, err := d2.Erase(ctx, &destination.Erasure{Sync: "s", Keys: []string{"c-1"}}); !errors.Is(err, destination.ErrCannotErase) {
		t.Errorf("erase keyed by customer_id with id_property email: %v, want ErrCannotErase", err)
	}
}
