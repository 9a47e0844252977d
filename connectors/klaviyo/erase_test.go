package klaviyo_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/klaviyo/fake"
)

// eraser opens the destination for a sync keyed by key and returns it as
// an Eraser.
func eraser(t *testing.T, srv *fake.Server, extra, key string) destination.Eraser {
	t.Helper()
	d := open(t, srv, extra, destination.SyncInfo{Mode: "upsert", Key: key, List: "Members", Fields: []string{key, "email"}})
	e, ok := destination.CanErase(d)
	if !ok {
		t.Fatal("the klaviyo destination does not implement destination.Eraser")
	}
	return e
}

func erase(t *testing.T, e destination.Eraser, keys ...string) []destination.ErasureOutcome {
	t.Helper()
	out, err := e.Erase(context.Background(), &destination.Erasure{RequestID: "er1", Sync: "test", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(keys) {
		t.Fatalf("%d outcomes for %d keys", len(out), len(keys))
	}
	return out
}

// seed imports profiles into the list Members through a sync, as sluice
// would have sent them.
func seed(t *testing.T, srv *fake.Server, profiles ...map[string]any) {
	t.Helper()
	d := open(t, srv, "create_list: true", destination.SyncInfo{Mode: "upsert", Key: "email", List: "Members", Fields: []string{"email", "phone_number", "external_id"}})
	var recs []destination.Record
	for _, p := range profiles {
		recs = append(recs, destination.Record{Op: destination.OpUpsert, Key: p["email"].(string), Fields: p})
	}
	for i, err := range write(t, d, recs...) {
		if err != nil {
			t.Fatalf("seeding profile %d: %v", i, err)
		}
	}
}

// deletions sums up the fake's deletion requests as by=value.
func deletions(srv *fake.Server) []string {
	var out []string
	for _, d := range srv.DeletionRequests() {
		switch {
		case d.Email != "":
			out = append(out, "email="+d.Email)
		case d.PhoneNumber != "":
			out = append(out, "phone_number="+d.PhoneNumber)
		default:
			out = append(out, "id="+d.ProfileID)
		}
	}
	return out
}

func TestEraseKeyMapping(t *testing.T) {
	ann := map[string]any{"email": "ann@example.com", "phone_number": "+33612345678", "external_id": "cust-1"}
	bob := map[string]any{"email": "bob@example.com", "phone_number": "+33612345679", "external_id": `odd "id" \ 2`}
	for _, tc := range []struct {
		name, key string
		keys      []string
		// want are the deletion requests, with {ann} and {bob} for their
		// profile ids; notHeld the keys Klaviyo has no profile for; gone
		// the seeded e-mails no longer in Klaviyo.
		want    []string
		notHeld []bool
		gone    []string
	}{
		{"email", "email", []string{"ann@example.com", "nobody@example.com"},
			[]string{"email=ann@example.com", "email=nobody@example.com"}, []bool{false, false}, []string{"ann@example.com"}},
		{"phone number", "phone_number", []string{"+33612345679"},
			[]string{"phone_number=+33612345679"}, []bool{false}, []string{"bob@example.com"}},
		{"external id found and unknown", "external_id", []string{"cust-1", "cust-404"},
			[]string{"id={ann}"}, []bool{false, true}, []string{"ann@example.com"}},
		{"external id quoted in the filter", "external_id", []string{`odd "id" \ 2`},
			[]string{"id={bob}"}, []bool{false}, []string{"bob@example.com"}},
		{"a key given twice is requested once", "email", []string{"bob@example.com", "bob@example.com"},
			[]string{"email=bob@example.com"}, []bool{false, false}, []string{"bob@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, fake.Options{})
			seed(t, srv, ann, bob)
			ids := map[string]string{}
			for _, p := range srv.Profiles() {
				ids["{"+strings.TrimSuffix(p.Email, "@example.com")+"}"] = p.ID
			}
			out := erase(t, eraser(t, srv, "", tc.key), tc.keys...)
			for i, o := range out {
				if o.Err != nil {
					t.Errorf("key %d: %v", i, o.Err)
				}
				if (o.Ref == "not held: klaviyo has no such profile") != tc.notHeld[i] {
					t.Errorf("key %d: ref %q, want not held %v", i, o.Ref, tc.notHeld[i])
				}
				if strings.Contains(o.Ref, tc.keys[i]) {
					t.Errorf("key %d: ref %q holds the identifier", i, o.Ref)
				}
			}
			var want []string
			for _, w := range tc.want {
				for k, id := range ids {
					w = strings.ReplaceAll(w, k, id)
				}
				want = append(want, w)
			}
			if got := deletions(srv); !slices.Equal(got, want) {
				t.Errorf("deletion requests %q, want %q", got, want)
			}
			for _, email := range []string{"ann@example.com", "bob@example.com"} {
				_, held := srv.ProfileByEmail(email)
				if held == slices.Contains(tc.gone, email) {
					t.Errorf("%s still held: %v, want %v", email, held, !slices.Contains(tc.gone, email))
				}
			}
			if n := len(srv.ListMembers("Members")); n != 2-len(tc.gone) {
				t.Errorf("list has %d members, want %d", n, 2-len(tc.gone))
			}
		})
	}
}

func TestEraseRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		keys      []string
		inject    []int    // statuses the deletion endpoint (the lookup for external ids) answers first
		want      []string // each key's error, "" for none
	}{
		{"invalid e-mail is that key's error", "email", []string{"ann@example.com", "not-an-email", "bob@example.com"}, nil,
			[]string{"", "klaviyo refused the deletion request: HTTP 400 invalid: Invalid email address", ""}},
		{"phone number not in E.164", "phone_number", []string{"0612345678"}, nil,
			[]string{"Invalid phone number format"}},
		{"empty key", "email", []string{" "}, nil, []string{"the key is empty"}},
		{"404 is not held", "email", []string{"ann@example.com"}, []int{http.StatusNotFound}, []string{""}},
		{"409 is that key's error", "email", []string{"ann@example.com", "bob@example.com"}, []int{http.StatusConflict},
			[]string{"HTTP 409", ""}},
		{"422 is that key's error", "phone_number", []string{"+33612345678"}, []int{http.StatusUnprocessableEntity},
			[]string{"HTTP 422"}},
		{"a refused lookup fails its keys", "external_id", []string{"cust-1", "cust-2"}, []int{http.StatusBadRequest},
			[]string{"looking up the klaviyo profile: HTTP 400", "looking up the klaviyo profile: HTTP 400"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, fake.Options{})
			op := "request_profile_deletion"
			if tc.key == "external_id" {
				op = "get_profiles"
			}
			srv.FailNext(op, tc.inject...)
			out := erase(t, eraser(t, srv, "", tc.key), tc.keys...)
			for i, w := range tc.want {
				got := errText(out[i].Err)
				if (w == "") != (got == "") || !strings.Contains(got, w) {
					t.Errorf("key %d: error %q, want %q", i, got, w)
				}
				if k := strings.TrimSpace(tc.keys[i]); k != "" && strings.Contains(got, k) {
					t.Errorf("key %d: error %q holds the identifier", i, got)
				}
			}
		})
	}
}

func TestEraseRetries(t *testing.T) {
	srv := newFake(t, fake.Options{})
	seed(t, srv, map[string]any{"email": "ann@example.com", "external_id": "cust-1"})
	srv.FailNext("get_profiles", http.StatusTooManyRequests)
	srv.FailNext("request_profile_deletion", http.StatusTooManyRequests, http.StatusServiceUnavailable)
	out := erase(t, eraser(t, srv, "", "external_id"), "cust-1")
	if out[0].Err != nil || !strings.HasPrefix(out[0].Ref, "klaviyo deletion job requested") {
		t.Fatalf("outcome %+v, want the deletion requested", out[0])
	}
	if o := ops(srv); o["get_profiles"] != 2 || o["request_profile_deletion"] != 3 {
		t.Errorf("lookups %d (want 2: 429, then found), deletion requests %d (want 3: 429, 503, then accepted)", o["get_profiles"], o["request_profile_deletion"])
	}
	if n := len(srv.DeletionRequests()); n != 1 {
		t.Errorf("%d deletion requests accepted, want 1", n)
	}

	// Retries spent: the whole call fails, every key stays pending.
	srv.FailNext("request_profile_deletion", 500, 500)
	e := eraser(t, srv, "max_retries: 1", "email")
	_, err := e.Erase(context.Background(), &destination.Erasure{RequestID: "er2", Sync: "test", Keys: []string{"bob@example.com"}})
	if err == nil || !strings.Contains(err.Error(), "still answered HTTP 500") || strings.Contains(err.Error(), "bob@example.com") {
		t.Errorf("error %v, want the call failed after retries, without the identifier", err)
	}
}

func TestEraseWholeCallErrors(t *testing.T) {
	srv := fake.New(t, fake.Options{Validator: validator(t), Keys: map[string][]string{goodKey: {"profiles:read", "profiles:write", "lists:read", "lists:write"}}})
	t.Cleanup(func() { noViolations(t, srv) })
	_, err := eraser(t, srv, "", "email").Erase(context.Background(), &destination.Erasure{Keys: []string{"ann@example.com"}})
	if err == nil || !strings.Contains(err.Error(), "data-privacy:write") || errors.Is(err, destination.ErrCannotErase) {
		t.Errorf("error %v, want the missing scope named", err)
	}

	// A custom property as key names no profile to Klaviyo: manual action.
	d := open(t, srv, "", destination.SyncInfo{Mode: "upsert", Key: "customer_id", Fields: []string{"customer_id", "email"}})
	_, err = d.(destination.Eraser).Erase(context.Background(), &destination.Erasure{Keys: []string{"c1"}})
	if !errors.Is(err, destination.ErrCannotErase) {
		t.Errorf("error %v, want ErrCannotErase", err)
	}
	if n := srv.Stats().Requests; n != 1 {
		t.Errorf("%d requests, want 1 (the refused deletion; none for the custom key)", n)
	}
}

func TestEraseIsAsynchronousAtKlaviyo(t *testing.T) {
	srv := newFake(t, fake.Options{DeletionDelay: 100 * time.Millisecond})
	seed(t, srv, map[string]any{"email": "ann@example.com"})
	out := erase(t, eraser(t, srv, "", "email"), "ann@example.com")
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	if _, held := srv.ProfileByEmail("ann@example.com"); !held {
		t.Error("the profile went before Klaviyo's job ran")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, held := srv.ProfileByEmail("ann@example.com"); !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deletion job never deleted the profile")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := srv.ListMembers("Members"); len(m) != 0 {
		t.Errorf("list still has %d members", len(m))
	}
}
