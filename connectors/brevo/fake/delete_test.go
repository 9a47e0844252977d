package fake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/connectors/brevo/fake"
	"github.com/sluicehq/sluice/connectors/internal/apispec"
)

// send makes a request with the given raw path (escaped as on the wire)
// and query under the base URL, and returns the answer and its error code.
func send(t *testing.T, srv *fake.Server, method, rawPath, query, key string) (*http.Response, string) {
	t.Helper()
	u := srv.URL + rawPath
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("api-key", key)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var eb struct{ Code string }
	_ = json.Unmarshal(body, &eb)
	return resp, eb.Code
}

func newServer(t *testing.T) *fake.Server {
	opts := fake.Options{APIKey: "k"} // Brevo's limits: every answer carries its headers
	if apispec.Dir() != "" {
		opts.Validator = apispec.ForTest(t, "brevo-swagger-v3.yaml")
	}
	srv := fake.New(t, opts)
	t.Cleanup(func() {
		if v := srv.Violations(); len(v) > 0 {
			t.Errorf("requests broke Brevo's spec: %v", v)
		}
	})
	return srv
}

// TestDeleteContact: DELETE /contacts/{identifier} finds the contact as
// identifierType says, reads the identifier as urlencoded, and removes it
// from the store and its lists.
func TestDeleteContact(t *testing.T) {
	const (
		email = "/contacts/ann%40example.com"
		phone = "/contacts/%2B33612345678"
	)
	for _, tc := range []struct {
		name, path, query, key string
		status                 int
		code                   string // Brevo's error code, "" for a 204
	}{
		{"e-mail, no identifierType", email, "", "k", 204, ""},
		{"e-mail", email, "identifierType=email_id", "k", 204, ""},
		{"e-mail in another case", "/contacts/Ann%40Example.com", "identifierType=email_id", "k", 204, ""},
		{"phone", phone, "identifierType=phone_id", "k", 204, ""},
		{"phone with a raw +, read as a space", "/contacts/+33612345678", "identifierType=phone_id", "k", 404, "document_not_found"},
		{"phone without identifierType", phone, "", "k", 404, "document_not_found"},
		{"contact id, no identifierType", "/contacts/{id}", "", "k", 204, ""},
		{"contact id", "/contacts/{id}", "identifierType=contact_id", "k", 204, ""},
		{"contact_id that is not a number", "/contacts/abc", "identifierType=contact_id", "k", 400, "invalid_parameter"},
		{"ext_id", "/contacts/crm%3A1", "identifierType=ext_id", "k", 204, ""},
		{"whatsapp", "/contacts/%2B33611111111", "identifierType=whatsapp_id", "k", 204, ""},
		{"landline", "/contacts/%2B33123456789", "identifierType=landline_number_id", "k", 204, ""},
		{"unknown identifierType", email, "identifierType=email", "k", 400, "invalid_parameter"},
		{"unknown contact", "/contacts/nobody%40example.com", "identifierType=email_id", "k", 404, "document_not_found"},
		{"wrong key", email, "identifierType=email_id", "nope", 401, "unauthorized"},
		{"the account's own e-mail", "/contacts/owner%40example.com", "identifierType=email_id", "k", 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t)
			list := srv.AddList("All")
			ann := srv.Put(fake.Contact{Email: "ann@example.com", ExtID: "crm:1", Lists: []int64{list},
				Attributes: map[string]any{"SMS": "+33612345678", "WHATSAPP": "+33611111111", "LANDLINE_NUMBER": "+33123456789"}})
			srv.Put(fake.Contact{Email: "owner@example.com"})
			bob := srv.Put(fake.Contact{Email: "bob@example.com", Lists: []int64{list}})
			path := tc.path
			if path == "/contacts/{id}" {
				path = "/contacts/" + strconv.FormatInt(ann, 10)
			}
			resp, code := send(t, srv, http.MethodDelete, path, tc.query, tc.key)
			if resp.StatusCode != tc.status || code != tc.code {
				t.Fatalf("HTTP %d %q, want %d %q", resp.StatusCode, code, tc.status, tc.code)
			}
			if tc.status != 401 && resp.Header.Get("x-sib-ratelimit-remaining") == "" {
				t.Error("no x-sib-ratelimit-* headers")
			}
			_, held := srv.Find("ann@example.com")
			dels := srv.Deletions()
			if tc.status == 204 {
				if held || len(dels) != 1 || dels[0].Contact.ID != ann || srv.Stats().Deleted != 1 {
					t.Errorf("ann held %v, deletions %+v: want ann deleted and recorded", held, dels)
				}
				if m := srv.Members(list); len(m) != 1 || m[0].ID != bob {
					t.Errorf("list members %+v, want bob alone", m)
				}
				return
			}
			if len(dels) != 0 || len(srv.Contacts()) != 3 {
				t.Errorf("a refused delete removed something: deletions %+v", dels)
			}
		})
	}
}

// TestFail: the next n requests answer the injected status, a 429 with
// Brevo's headers, then the server recovers.
func TestFail(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{429, "too_many_requests"},
		{503, "internal_error"},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			srv := newServer(t)
			srv.Fail(tc.status, 2)
			for i := range 3 {
				resp, code := send(t, srv, http.MethodGet, "/account", "", "k")
				if i == 2 {
					if resp.StatusCode != 200 {
						t.Errorf("request 3: HTTP %d, want the server recovered", resp.StatusCode)
					}
					continue
				}
				if resp.StatusCode != tc.status || code != tc.code {
					t.Errorf("request %d: HTTP %d %q, want %d %q", i+1, resp.StatusCode, code, tc.status, tc.code)
				}
				h := resp.Header
				if tc.status == 429 && (h.Get("x-sib-ratelimit-reset") != "1" || h.Get("x-sib-ratelimit-remaining") != "0" || h.Get("x-sib-ratelimit-limit") == "") {
					t.Errorf("429 headers: %v", h)
				}
			}
			if st := srv.Stats(); (tc.status == 429) != (st.TooMany == 2) {
				t.Errorf("%d answers counted 429", st.TooMany)
			}
		})
	}
}

// TestEndpointNamesHoldNoIdentifier: the endpoint names of stats and logs
// replace a contact's identifier, whatever it is.
func TestEndpointNamesHoldNoIdentifier(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := fake.New(t, fake.Options{APIKey: "k", OnRequest: func(_, endpoint string, _ int) {
		mu.Lock()
		got = append(got, endpoint)
		mu.Unlock()
	}})
	for _, p := range []string{"/contacts/ann%40example.com", "/contacts/%2B33612345678", "/contacts/crm-42", "/contacts/42"} {
		send(t, srv, http.MethodDelete, p, "identifierType=ext_id", "k")
	}
	send(t, srv, http.MethodGet, "/contacts/lists", "", "k")
	mu.Lock()
	defer mu.Unlock()
	want := []string{"DELETE /contacts/{id}", "DELETE /contacts/{id}", "DELETE /contacts/{id}", "DELETE /contacts/{id}", "GET /contacts/lists"}
	if !slices.Equal(got, want) {
		t.Errorf("endpoints %q, want %q", got, want)
	}
}
