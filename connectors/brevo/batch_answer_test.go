package brevo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/brevo/fake"
	"github.com/sluicehq/sluice/connectors/destination"
)

// answerForm turns the fake's documented 207 (indexes of the request's
// contacts in successIds and failureIds) into another form Brevo's answer
// could plausibly take; sent are the identifiers of the request's contacts.
type answerForm func(srv *fake.Server, sent []string, success, failure []int) (int, any)

var answerForms = map[string]answerForm{
	"200 naming failures by identifier": func(_ *fake.Server, sent []string, _, failure []int) (int, any) {
		names := []string{}
		for _, i := range failure {
			names = append(names, sent[i])
		}
		return http.StatusOK, map[string]any{"failureIds": names}
	},
	"207 with contact ids for successes": func(srv *fake.Server, sent []string, success, failure []int) (int, any) {
		ids := []int64{}
		for _, i := range success {
			c, _ := srv.Find(sent[i])
			ids = append(ids, c.ID)
		}
		return http.StatusMultiStatus, map[string]any{"successIds": ids, "failureIds": failure}
	},
	"201 with failures alone, as a string": func(_ *fake.Server, _ []string, _, failure []int) (int, any) {
		s := []string{}
		for _, i := range failure {
			s = append(s, strconv.Itoa(i))
		}
		return http.StatusCreated, map[string]any{"failureIds": strings.Join(s, ",")}
	},
	"207 with failures of an unknown form": func(_ *fake.Server, _ []string, success, failure []int) (int, any) {
		objs := []map[string]any{}
		for range failure {
			objs = append(objs, map[string]any{"code": "not_updated"})
		}
		return http.StatusMultiStatus, map[string]any{"successIds": success, "failureIds": objs}
	},
}

// rewrite serves the fake with its 207 answers to /contacts/batch in form.
func rewrite(form answerForm) func(*fake.Server) http.Handler {
	return func(srv *fake.Server) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, r)
			var req struct {
				Contacts []struct{ Email, SMS string }
			}
			var ans struct{ SuccessIDs, FailureIDs []int }
			if r.URL.Path != "/v3/contacts/batch" || rec.Code != http.StatusMultiStatus ||
				json.Unmarshal(body, &req) != nil || json.Unmarshal(rec.Body.Bytes(), &ans) != nil {
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
			sent := make([]string, len(req.Contacts))
			for i, c := range req.Contacts {
				sent[i] = c.Email + c.SMS
			}
			status, out := form(srv, sent, ans.SuccessIDs, ans.FailureIDs)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(out)
		})
	}
}

// answers are the ways /contacts/batch answers unknown contacts: the
// fake's two, and the documented one in the other forms.
type answer struct {
	name, batch string
	form        answerForm
}

func answers() []answer {
	out := []answer{{name: fake.BatchObserved, batch: fake.BatchObserved}, {name: fake.BatchDocumented, batch: fake.BatchDocumented}}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range answerForms {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, answer{name: name, batch: fake.BatchDocumented, form: answerForms[name]})
	}
	return out
}

// serve starts a fake without rate limits answering as a says.
func (a answer) serve(t *testing.T) *fake.Server {
	opts := fake.Options{ContactsPerSecond: -1, OtherPerHour: -1, ImportDelay: 1, BatchAnswer: a.batch}
	if a.form == nil {
		return newFake(t, opts)
	}
	return newFakeBehind(t, opts, rewrite(a.form))
}

func add(email, first string) destination.Record {
	return destination.Record{Op: destination.OpAdd, Key: email, Fields: map[string]any{"email": email, "first_name": first}}
}

// TestUnknownContactsAreCreated: whatever the form of the answer, the
// contacts /contacts/batch does not update are created (into the list),
// and the others are updated, once.
func TestUnknownContactsAreCreated(t *testing.T) {
	for _, a := range answers() {
		t.Run(a.name, func(t *testing.T) {
			srv := a.serve(t)
			vip := srv.AddList("VIP")
			for _, e := range []string{"k1@example.com", "k2@example.com", "k3@example.com"} {
				srv.Put(fake.Contact{Email: e})
			}
			d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: "email", List: "VIP", Fields: []string{"email", "first_name"}})
			recs := []destination.Record{add("k1@example.com", "K1"), add("n1@example.com", "N1"), add("k2@example.com", "K2"),
				add("n2@example.com", "N2"), add("k3@example.com", "K3")}
			if errs := write(t, d, "VIP", recs...); errors.Join(errs...) != nil {
				t.Fatal(errs)
			}
			members := srv.Members(vip)
			if len(members) != len(recs) {
				t.Errorf("%d members, want %d", len(members), len(recs))
			}
			for _, c := range members {
				if want := strings.ToUpper(c.Email[:2]); c.Attributes["FIRSTNAME"] != want {
					t.Errorf("%s: FIRSTNAME %v, want %s", c.Email, c.Attributes["FIRSTNAME"], want)
				}
			}
			st := srv.Stats()
			if st.ByEndpoint["POST /contacts"] != 2 {
				t.Errorf("%d single creations, want 2 (the new contacts)", st.ByEndpoint["POST /contacts"])
			}
			// One request tells which contacts are unknown when the answer
			// names them; the 404 needs the others sent again.
			t.Logf("%d /contacts/batch requests", st.ByEndpoint["POST /contacts/batch"])
			wantBatch := map[string]int{fake.BatchObserved: 2, fake.BatchDocumented: 1, "200 naming failures by identifier": 1}[a.name]
			if n := st.ByEndpoint["POST /contacts/batch"]; wantBatch != 0 && n != wantBatch {
				t.Errorf("%d /contacts/batch requests, want %d", n, wantBatch)
			}
		})
	}
}

// TestCreationRefusedAfterBatch: a contact the batch does not update and
// Brevo then refuses to create (or update) is rejected with Brevo's message;
// the rest of the batch is delivered.
func TestCreationRefusedAfterBatch(t *testing.T) {
	for _, a := range answers() {
		t.Run(a.name, func(t *testing.T) {
			srv := a.serve(t)
			vip := srv.AddList("VIP")
			srv.Put(fake.Contact{Email: "k1@example.com"})
			srv.Put(fake.Contact{Email: "k2@example.com"})
			srv.Reject("the line cannot receive SMS", "n1@example.com")
			srv.Reject("blocked by the account", "k2@example.com")
			d := openDest(t, srv, "rate: 1000", destination.SyncInfo{Key: "email", List: "VIP", Fields: []string{"email", "first_name"}})
			errs := write(t, d, "VIP", add("k1@example.com", "K1"), add("n1@example.com", "N1"),
				add("k2@example.com", "K2"), add("n2@example.com", "N2"))
			want := []string{"", "the line cannot receive SMS", "blocked by the account", ""}
			for i, err := range errs {
				if (want[i] == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want[i])) {
					t.Errorf("record %d: %v, want %q", i, err, want[i])
				}
			}
			var got []string
			for _, c := range srv.Members(vip) {
				got = append(got, c.Email)
			}
			slices.Sort(got)
			if fmt.Sprint(got) != "[k1@example.com n2@example.com]" {
				t.Errorf("members %v", got)
			}
		})
	}
}

// TestNotUpdatedWithoutCreating: where nothing is created (mode update,
// create_contacts false, unsubscribes), a contact the answer lists is
// looked up: one Brevo lacks needs nothing (or is rejected as not created),
// one it has but did not update is rejected, never counted as delivered.
func TestNotUpdatedWithoutCreating(t *testing.T) {
	for _, a := range answers() {
		for _, tc := range []struct {
			name, opts string
			mode       string
			op         destination.Op
			wantNew    string // the error of the unknown contact ("": accepted)
		}{
			{"mode update", "", "update", destination.OpUpsert, ""},
			{"create_contacts false", "create_contacts: false", "upsert", destination.OpUpsert, "create_contacts is false"},
			{"unsubscribe", "on_delete: unsubscribe", "mirror", destination.OpDelete, ""},
		} {
			t.Run(a.name+"/"+tc.name, func(t *testing.T) {
				srv := a.serve(t)
				srv.Put(fake.Contact{Email: "ok@example.com"})
				srv.Put(fake.Contact{Email: "bad@example.com"})
				srv.Reject("blocked by the account", "bad@example.com")
				d := openDest(t, srv, "rate: 1000, "+tc.opts, destination.SyncInfo{Key: "email", Mode: tc.mode, Fields: []string{"email", "n"}})
				rec := func(e string) destination.Record {
					return destination.Record{Op: tc.op, Key: e, Fields: map[string]any{"email": e, "n": int64(1)}, Reason: destination.ReasonGone}
				}
				errs, err := d.Write(context.Background(), &destination.Batch{Sync: "test", RunID: "r1", Mode: tc.mode,
					Records: []destination.Record{rec("ok@example.com"), rec("new@example.com"), rec("bad@example.com")}})
				if err != nil {
					t.Fatal(err)
				}
				if errs[0] != nil {
					t.Errorf("known contact: %v", errs[0])
				}
				if (tc.wantNew == "") != (errs[1] == nil) || (errs[1] != nil && !strings.Contains(errs[1].Error(), tc.wantNew)) {
					t.Errorf("unknown contact: %v, want %q", errs[1], tc.wantNew)
				}
				// The 400 of the observed answer carries Brevo's reason; a
				// 2xx listing the contact carries none.
				if errs[2] == nil || !strings.Contains(errs[2].Error(), "blocked by the account") && !strings.Contains(errs[2].Error(), "did not apply") {
					t.Errorf("refused contact: %v", errs[2])
				}
				if _, ok := srv.Find("new@example.com"); ok {
					t.Error("the unknown contact was created")
				}
			})
		}
	}
}
