package brevo_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connectors/brevo"
	"github.com/sluicehq/sluice/connectors/brevo/fake"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/internal/apispec"
)

// recorder serves the fake and keeps the request URIs of every DELETE as
// sent on the wire (escaping included).
type recorder struct {
	mu   sync.Mutex
	uris []string
}

func (rc *recorder) wrap(srv *fake.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			rc.mu.Lock()
			rc.uris = append(rc.uris, r.RequestURI)
			rc.mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	})
}

func (rc *recorder) deletes() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.uris...)
}

func eraser(t *testing.T, d destination.Destination) destination.Eraser {
	t.Helper()
	e, ok := destination.CanErase(d)
	if !ok {
		t.Fatal("brevo does not implement destination.Eraser")
	}
	return e
}

func erase(t *testing.T, d destination.Destination, keys ...string) []destination.ErasureOutcome {
	t.Helper()
	out, err := eraser(t, d).Erase(context.Background(), &destination.Erasure{RequestID: "er-1", Sync: "test", Keys: keys})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if len(out) != len(keys) {
		t.Fatalf("%d outcomes for %d keys", len(out), len(keys))
	}
	for i, o := range out {
		if keys[i] != "" && (strings.Contains(o.Ref, keys[i]) || (o.Err != nil && strings.Contains(o.Err.Error(), keys[i]))) {
			t.Errorf("outcome %d quotes its key: ref %q, err %v", i, o.Ref, o.Err)
		}
	}
	return out
}

// TestEraseKeyMapping: each key field Brevo takes is deleted with its
// identifierType, the identifier escaped so that a '+' survives.
func TestEraseKeyMapping(t *testing.T) {
	ann := fake.Contact{Email: "ann@example.com", Attributes: map[string]any{"SMS": "+33612345678"}}
	tagged := fake.Contact{Email: "ann+news@example.com"}
	withExt := func(id string) fake.Contact { return fake.Contact{Email: "ann@example.com", ExtID: id} }
	for _, tc := range []struct {
		keyField, key string
		target        fake.Contact
		wantType      string
		wantURI       string
	}{
		{"email", "ann@example.com", ann, "email_id", "/v3/contacts/ann%40example.com?identifierType=email_id"},
		{"email", " Ann+news@Example.com ", tagged, "email_id", "/v3/contacts/Ann%2Bnews%40Example.com?identifierType=email_id"},
		{"SMS", "+33612345678", ann, "phone_id", "/v3/contacts/%2B33612345678?identifierType=phone_id"},
		{"sms", "+33 6 12 34 56 78", ann, "phone_id", "/v3/contacts/%2B33612345678?identifierType=phone_id"},
		{"EXT_ID", "crm:42 a", withExt("crm:42 a"), "ext_id", "/v3/contacts/crm%3A42%20a?identifierType=ext_id"},
		{"ext_id", "crm-42", withExt("crm-42"), "ext_id", "/v3/contacts/crm-42?identifierType=ext_id"},
	} {
		t.Run(tc.keyField+" "+tc.wantType, func(t *testing.T) {
			rc := &recorder{}
			srv := newFakeBehind(t, fake.Options{ContactsPerSecond: -1, OtherPerHour: -1}, rc.wrap)
			list := srv.AddList("All")
			tc.target.Lists = []int64{list}
			target := srv.Put(tc.target)
			other := srv.Put(fake.Contact{Email: "bob@example.com", ExtID: "crm-43", Attributes: map[string]any{"SMS": "+33698765432"}, Lists: []int64{list}})
			d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: tc.keyField, Mode: "upsert"})

			out := erase(t, d, tc.key)
			if out[0].Err != nil || !strings.Contains(out[0].Ref, "contact deleted") {
				t.Fatalf("outcome %+v, want deleted", out[0])
			}
			if uris := rc.deletes(); len(uris) != 1 || uris[0] != tc.wantURI {
				t.Errorf("DELETE sent as %q, want %q", uris, tc.wantURI)
			}
			dels := srv.Deletions()
			if len(dels) != 1 || dels[0].Contact.ID != target || dels[0].IdentifierType != tc.wantType {
				t.Fatalf("deletions %+v, want contact %d by %s", dels, target, tc.wantType)
			}
			if m := srv.Members(list); len(m) != 1 || m[0].ID != other {
				t.Errorf("list holds %+v, want only the other contact", m)
			}
		})
	}
}

// TestEraseRefusesOtherKeys: a sync keyed by a field Brevo cannot delete
// by is refused when the destination opens, naming the field.
func TestEraseRefusesOtherKeys(t *testing.T) {
	srv := fast(t)
	for _, key := range []string{"user_id", "phone", "contact_id"} {
		opts, err := destination.ParseOptions(brevo.Spec, fmt.Sprintf("{api_key: k, base_url: %q}", srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		_, err = brevo.Open(context.Background(), destination.Config{Name: "brevo", Type: "brevo", Options: opts, Sync: destination.SyncInfo{Name: "s", Key: key}, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
			t.Errorf("key %s: %v, want a refusal naming it", key, err)
		}
	}
}

// answerWith serves the fake, except DELETEs, answered status and body.
func answerWith(status int, body string) func(*fake.Server) http.Handler {
	return func(srv *fake.Server) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodDelete {
				srv.ServeHTTP(w, r)
				return
			}
			if body != "" {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		})
	}
}

// TestEraseOutcomes: what each of Brevo's answers to a DELETE makes of a
// key, or of the whole call.
func TestEraseOutcomes(t *testing.T) {
	const ann, bob, owner = "ann@example.com", "bob@example.com", "owner@example.com"
	for _, tc := range []struct {
		name    string
		wrap    func(*fake.Server) http.Handler
		setup   func(srv *fake.Server)
		keys    []string
		apiKey  string
		wantErr string   // the whole call's error; "" for none
		want    []string // per key: "deleted", "not held", or a substring of its error
		kept    []string // contacts still in Brevo after the call
	}{
		{name: "deleted and not held", keys: []string{ann, "nobody@example.com", bob}, want: []string{"deleted", "not held", "deleted"}},
		{name: "400 is that key's error", setup: func(srv *fake.Server) { srv.Reject("Contact is under a legal hold", bob) },
			keys: []string{ann, bob}, want: []string{"deleted", "HTTP 400 invalid_parameter: Contact is under a legal hold"}, kept: []string{bob}},
		{name: "405 for the account's own e-mail", setup: func(srv *fake.Server) { srv.Put(fake.Contact{Email: owner}) },
			keys: []string{owner, ann}, want: []string{"not allowed to delete", "deleted"}, kept: []string{owner}},
		{name: "a message quoting the identifier is redacted", wrap: answerWith(400, `{"code":"invalid_parameter","message":"Contact ann@example.com is locked"}`),
			keys: []string{ann}, want: []string{"Contact {identifier} is locked"}, kept: []string{ann}},
		{name: "an error in a 200 is not a success", wrap: answerWith(200, `{"code":"not_deleted","message":"Contact could not be deleted"}`),
			keys: []string{ann}, want: []string{"Contact could not be deleted"}, kept: []string{ann}},
		{name: "a 404 not of Brevo's shape stops the call", wrap: answerWith(404, `<html>Not Found</html>`),
			keys: []string{ann}, wantErr: "check base_url", kept: []string{ann}},
		{name: "a refused key stops the call", apiKey: "wrong", keys: []string{ann}, wantErr: "check api_key", kept: []string{ann}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeBehind(t, fake.Options{ContactsPerSecond: -1, OtherPerHour: -1}, tc.wrap)
			srv.Put(fake.Contact{Email: ann})
			srv.Put(fake.Contact{Email: bob})
			if tc.setup != nil {
				tc.setup(srv)
			}
			extra := "rate: 1000"
			if tc.apiKey != "" {
				extra += ", api_key: " + tc.apiKey
			}
			d := openDest(t, srv, extra, destination.SyncInfo{Key: "email", Mode: "mirror"})
			out, err := eraser(t, d).Erase(context.Background(), &destination.Erasure{RequestID: "er-1", Sync: "test", Keys: tc.keys})
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Erase: %v, want an error with %q", err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Erase: %v", err)
			case tc.wantErr != "" && out != nil:
				t.Fatalf("Erase failed, yet gave outcomes %+v", out)
			}
			for i, o := range out {
				switch want := tc.want[i]; want {
				case "deleted", "not held":
					if o.Err != nil || o.Ref == "" || (want == "deleted") != strings.Contains(o.Ref, "contact deleted") {
						t.Errorf("key %d: %+v, want %s", i, o, want)
					}
				default:
					if o.Err == nil || !strings.Contains(o.Err.Error(), want) {
						t.Errorf("key %d: %+v, want an error with %q", i, o, want)
					}
				}
			}
			for _, k := range tc.kept {
				if _, ok := srv.Find(k); !ok {
					t.Errorf("%s was deleted", k)
				}
			}
		})
	}
}

// TestEraseRetries: a 429 (with Brevo's reset header) and 5xx answers are
// retried within the call; a failure that lasts stops the call, claiming
// nothing.
func TestEraseRetries(t *testing.T) {
	for _, tc := range []struct {
		status, n int
		wantErr   bool
	}{
		{http.StatusTooManyRequests, 2, false},
		{http.StatusServiceUnavailable, 2, false},
		{http.StatusInternalServerError, 100, true},
	} {
		t.Run(fmt.Sprintf("%d x%d", tc.status, tc.n), func(t *testing.T) {
			srv := fast(t)
			srv.Put(fake.Contact{Email: "ann@example.com"})
			srv.Put(fake.Contact{Email: "bob@example.com"})
			d := openDest(t, srv, "rate: 1000, concurrency: 1, max_retries: 2", destination.SyncInfo{Key: "email", Mode: "mirror"})
			srv.Fail(tc.status, tc.n)
			out, err := eraser(t, d).Erase(context.Background(), &destination.Erasure{Sync: "test", Keys: []string{"ann@example.com", "bob@example.com"}})
			st := srv.Stats()
			if tc.wantErr {
				if err == nil || out != nil {
					t.Fatalf("Erase under a lasting %d: %+v, %v; want an error for the call", tc.status, out, err)
				}
				if st.Deleted != 0 || st.Requests != 3 {
					t.Errorf("%d requests, %d deleted; want 3 attempts (max_retries 2), none deleted", st.Requests, st.Deleted)
				}
				return
			}
			if err != nil || out[0].Err != nil || out[1].Err != nil {
				t.Fatalf("Erase: %+v, %v", out, err)
			}
			if st.Deleted != 2 || st.Requests != 2+tc.n {
				t.Errorf("%d requests, %d deleted; want %d and 2", st.Requests, st.Deleted, 2+tc.n)
			}
			if tc.status == http.StatusTooManyRequests && st.TooMany != tc.n {
				t.Errorf("%d answers 429, want %d", st.TooMany, tc.n)
			}
		})
	}
}

// TestErasePaced: many erasures go through the client's pacing at Brevo's
// default rate, within its limit of 10 requests a second on /contacts
// endpoints. Brevo counts in whole-second windows, so a request delayed on
// a busy machine can land in a full one and be answered 429, then retried:
// at most one such answer, where 25 unpaced requests draw 15.
func TestErasePaced(t *testing.T) {
	srv := newFake(t, fake.Options{})
	var keys []string
	for i := range 25 {
		k := fmt.Sprintf("p%d@example.com", i)
		srv.Put(fake.Contact{Email: k})
		keys = append(keys, k)
	}
	d := openDest(t, srv, "", destination.SyncInfo{Key: "email", Mode: "mirror"})
	for i, o := range erase(t, d, keys...) {
		if o.Err != nil {
			t.Errorf("key %d: %v", i, o.Err)
		}
	}
	if st := srv.Stats(); st.Deleted != 25 || st.TooMany > 1 || st.Requests != 25+st.TooMany {
		t.Errorf("%d requests, %d deleted, %d answered 429; want 25 and a retry per 429, 25, at most 1", st.Requests, st.Deleted, st.TooMany)
	}
}

// TestEraseRequestMatchesSpec checks the DELETE against Brevo's published
// spec directly: an operation of that method and path, the api-key header.
func TestEraseRequestMatchesSpec(t *testing.T) {
	if apispec.Dir() == "" {
		t.Skip("vendor specs not found")
	}
	spec := apispec.ForTest(t, specFile)
	var reqs []*http.Request
	var mu sync.Mutex
	capture := func(srv *fake.Server) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				mu.Lock()
				reqs = append(reqs, r.Clone(context.Background()))
				mu.Unlock()
			}
			srv.ServeHTTP(w, r)
		})
	}
	srv := newFakeBehind(t, fake.Options{ContactsPerSecond: -1, OtherPerHour: -1}, capture)
	srv.Put(fake.Contact{Email: "ann+x@example.com", Attributes: map[string]any{"SMS": "+33612345678"}})
	for _, key := range []struct{ field, value string }{{"email", "ann+x@example.com"}, {"SMS", "+33612345678"}, {"ext_id", "crm-1"}} {
		d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: key.field, Mode: "upsert"})
		erase(t, d, key.value)
	}
	if len(reqs) != 3 {
		t.Fatalf("%d DELETE requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if err := spec.ValidateRequest(r); err != nil {
			t.Errorf("DELETE %s: %v", r.URL.RequestURI(), err)
		}
	}
	bad, _ := http.NewRequest(http.MethodDelete, srv.URL+"/contacts/x", nil)
	if err := spec.ValidateRequest(bad); err == nil {
		t.Error("a DELETE without api-key passed the spec check: the check is not looking")
	}
}

// TestEraseKeysNotSent: a key Write could never have sent (a national
// number for an SMS key, an empty key) is that key's error, with no
// request; an empty erasure sends nothing.
func TestEraseKeysNotSent(t *testing.T) {
	srv := fast(t)
	srv.Put(fake.Contact{Email: "ann@example.com", Attributes: map[string]any{"SMS": "+33612345678"}})
	d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: "SMS", Mode: "upsert"})
	if out, err := eraser(t, d).Erase(context.Background(), &destination.Erasure{Sync: "test"}); err != nil || len(out) != 0 {
		t.Errorf("empty erasure: %+v, %v", out, err)
	}
	out := erase(t, d, "0612345678", "", "+33612345678")
	for i, want := range []string{"E.164", "empty", ""} {
		if got := out[i].Err; (want == "") != (got == nil) || (got != nil && !strings.Contains(got.Error(), want)) {
			t.Errorf("key %d: %v, want %q", i, got, want)
		}
	}
	if st := srv.Stats(); st.Requests != 1 || st.Deleted != 1 {
		t.Errorf("%d requests, %d deleted; want 1 and 1", st.Requests, st.Deleted)
	}
}
