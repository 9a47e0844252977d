package hubspot_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/hubspot/fake"
)

func segmentSync(list string) destination.SyncInfo {
	return destination.SyncInfo{Name: "vip", Mode: "upsert", Key: "email", List: list, Fields: []string{"email", "name"}}
}

func entry(op destination.Op, i int) destination.Record {
	r := person(i)
	r.Op = op
	delete(r.Fields, "score")
	if op == destination.OpRemove {
		r.Fields = map[string]any{"email": r.Key}
	}
	return r
}

func TestListCheck(t *testing.T) {
	for _, tc := range []struct {
		name, list, extra string
		want              string // in the error; "" for success
	}{
		{"static list by name", "VIP", "", ""},
		{"static list by id", "1", "", ""},
		{"dynamic list refused", "Active", "", "active (DYNAMIC) list"},
		{"missing list", "Nope", "", `no contact list "Nope"`},
		{"missing list to create", "Nope", "create_lists: true", ""},
		{"missing id not created", "999", "create_lists: true", `no contact list "999"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
			srv.CreateList("VIP", "MANUAL")
			srv.CreateList("Active", "DYNAMIC")
			d := open(t, srv.URL, testToken, tc.extra, segmentSync(tc.list))
			err := d.Check(context.Background())
			if tc.want == "" && err != nil {
				t.Fatalf("check: %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("check: %v, want an error with %q", err, tc.want)
			}
			if n := len(srv.Lists()); n != 2 {
				t.Errorf("check changed the lists: %d", n)
			}
		})
	}
}

func TestListWrite(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
	d := open(t, srv.URL, testToken, "create_lists: true", segmentSync("Newsletter"))
	ctx := context.Background()
	write := func(recs ...destination.Record) []error {
		t.Helper()
		errs, err := d.Write(ctx, &destination.Batch{Sync: "vip", Mode: "upsert", List: "Newsletter", Records: recs})
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		return errs
	}
	if err := errors.Join(write(entry(destination.OpAdd, 0), entry(destination.OpAdd, 1), entry(destination.OpAdd, 2))...); err != nil {
		t.Fatal(err)
	}
	lists := srv.Lists()
	if len(lists) != 1 || lists[0].ProcessingType != "MANUAL" || len(lists[0].Members) != 3 {
		t.Fatalf("after three entries: %+v", lists)
	}
	// An exit, an exit of someone HubSpot never had, a repeated entry.
	errs := write(entry(destination.OpRemove, 1), entry(destination.OpRemove, 8), entry(destination.OpAdd, 0))
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	p0, _ := srv.ContactByEmail("p0@example.com")
	p2, _ := srv.ContactByEmail("p2@example.com")
	want := []string{p0.ID, p2.ID}
	slices.Sort(want)
	if got := srv.ListMembers(lists[0].ID); !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	// An entry HubSpot refuses is that record's error and joins no list.
	bad := entry(destination.OpAdd, 5)
	bad.Key, bad.Fields["email"] = "not-an-address", "not-an-address"
	errs = write(bad, entry(destination.OpAdd, 6))
	if errs[0] == nil || errs[1] != nil {
		t.Errorf("outcomes %v", errs)
	}
	if got := srv.ListMembers(lists[0].ID); len(got) != 3 {
		t.Errorf("members after a refused entry: %v", got)
	}
}

func TestListWriteDynamicRefused(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
	srv.CreateList("Active", "DYNAMIC")
	d := open(t, srv.URL, testToken, "", segmentSync("Active"))
	_, err := d.Write(context.Background(), &destination.Batch{Sync: "vip", Records: []destination.Record{entry(destination.OpAdd, 0)}})
	if err == nil || !strings.Contains(err.Error(), "DYNAMIC") {
		t.Fatalf("write to a dynamic list: %v", err)
	}
	if n := len(srv.Contacts()); n != 0 {
		t.Errorf("%d contacts created for a list that cannot take them", n)
	}
}

// TestListRecordIDsMissing: a record id the membership call reports
// missing (the contact deleted between the upsert and the add) is that
// record's error; the others are members.
func TestListRecordIDsMissing(t *testing.T) {
	srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
	listID := srv.CreateList("VIP", "MANUAL")
	var gone string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/memberships/add") {
			// Delete the second contact just before the add reaches HubSpot.
			c, _ := srv.ContactByEmail("p1@example.com")
			gone = c.ID
			req := httptest.NewRequest(http.MethodPost, "/crm/v3/objects/contacts/gdpr-delete", strings.NewReader(`{"objectId":"`+gone+`"}`))
			req.Header = r.Header.Clone()
			srv.ServeHTTP(httptest.NewRecorder(), req)
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	d := open(t, ts.URL, testToken, "", segmentSync("VIP"))
	errs, err := d.Write(context.Background(), &destination.Batch{Sync: "vip", Records: []destination.Record{entry(destination.OpAdd, 0), entry(destination.OpAdd, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "not added to the list") {
		t.Errorf("outcomes %v", errs)
	}
	p0, _ := srv.ContactByEmail("p0@example.com")
	if got := srv.ListMembers(listID); !slices.Equal(got, []string{p0.ID}) || gone == "" {
		t.Errorf("members %v (gone %q)", got, gone)
	}
}
