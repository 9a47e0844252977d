package fake

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func deletionBody(profile string) string {
	return `{"data":{"type":"data-privacy-deletion-job","attributes":{"profile":{"data":` + profile + `}}}}`
}

// seedMember creates a profile in the list through a subscription, which
// the fake applies at once.
func seedMember(t *testing.T, s *Server, listID, email, phone string) string {
	t.Helper()
	body := `{"data":{"type":"profile-subscription-bulk-create-job","attributes":{"profiles":{"data":[` +
		`{"type":"profile","attributes":{"email":"` + email + `","phone_number":"` + phone + `","subscriptions":{"email":{"marketing":{"consent":"SUBSCRIBED"}}}}}]}},` +
		`"relationships":{"list":{"data":{"type":"list","id":"` + listID + `"}}}}}`
	if r := do(t, s, "POST", "/api/profile-subscription-bulk-create-jobs", body); r.status != 202 {
		t.Fatalf("seeding %s: %d %s", email, r.status, r.firstError())
	}
	p, ok := s.ProfileByEmail(email)
	if !ok {
		t.Fatalf("seeding %s: no profile", email)
	}
	return p.ID
}

func TestDeletionRequests(t *testing.T) {
	tests := []struct {
		name    string
		profile string // the body's profile data; {ann} is ann's profile id
		headers []string
		status  int
		err     string   // code: detail prefix
		gone    []string // e-mails deleted
	}{
		{"by email, any case", `{"type":"profile","attributes":{"email":"ANN@example.com"}}`, nil, 202, "", []string{"ann@example.com"}},
		{"by phone number", `{"type":"profile","attributes":{"phone_number":"+33612345679"}}`, nil, 202, "", []string{"bob@example.com"}},
		{"by id", `{"type":"profile","id":"{ann}","attributes":{}}`, nil, 202, "", []string{"ann@example.com"}},
		{"unknown e-mail is accepted: the job finds nothing", `{"type":"profile","attributes":{"email":"nobody@example.com"}}`, nil, 202, "", nil},
		{"unknown id", `{"type":"profile","id":"01NOPE","attributes":{}}`, nil, 404, "not_found: A profile with id 01NOPE does not exist.", nil},
		{"two identifiers", `{"type":"profile","attributes":{"email":"ann@example.com","phone_number":"+33612345678"}}`, nil, 400, "invalid: Only one of", nil},
		{"id and email", `{"type":"profile","id":"{ann}","attributes":{"email":"ann@example.com"}}`, nil, 400, "invalid: Only one of", nil},
		{"no identifier", `{"type":"profile","attributes":{}}`, nil, 400, "invalid: One of 'email', 'phone_number' or 'id' is required.", nil},
		{"invalid e-mail", `{"type":"profile","attributes":{"email":"not-an-email"}}`, nil, 400, "invalid: Invalid email address.", nil},
		{"phone not in E.164", `{"type":"profile","attributes":{"phone_number":"0612345678"}}`, nil, 400, "invalid: Invalid phone number format", nil},
		{"wrong profile type", `{"type":"list","attributes":{"email":"ann@example.com"}}`, nil, 400, "invalid: 'profile' needs data", nil},
		{"missing scope", `{"type":"profile","attributes":{"email":"ann@example.com"}}`, []string{"Authorization", "Klaviyo-API-Key pk_profiles"}, 403,
			"permission_denied: This API key is missing required scopes: data-privacy:write.", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(t, Options{APIKey: key, Keys: map[string][]string{"pk_profiles": {"profiles:read", "profiles:write", "lists:read", "lists:write"}}})
			list := s.CreateList("Members")
			annID := seedMember(t, s, list, "ann@example.com", "+33612345678")
			seedMember(t, s, list, "bob@example.com", "+33612345679")
			r := do(t, s, "POST", "/api/data-privacy-deletion-jobs", deletionBody(strings.ReplaceAll(tc.profile, "{ann}", annID)), tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d (%s)", r.status, tc.status, r.firstError())
			}
			if tc.err != "" && !strings.HasPrefix(r.firstError(), tc.err) {
				t.Errorf("error %q, want %q", r.firstError(), tc.err)
			}
			if r.status == 202 && r.body != nil {
				t.Errorf("202 with a body: %v", r.body)
			}
			if n := len(s.DeletionRequests()); (n == 1) != (tc.status == 202) || n > 1 {
				t.Errorf("%d deletion requests recorded after a %d", n, tc.status)
			}
			for _, email := range []string{"ann@example.com", "bob@example.com"} {
				_, held := s.ProfileByEmail(email)
				wantGone := strings.Contains(strings.Join(tc.gone, " "), email)
				if held == wantGone {
					t.Errorf("%s held %v, want %v", email, held, !wantGone)
				}
			}
			if got, want := len(s.ListMembers(list)), 2-len(tc.gone); got != want {
				t.Errorf("list has %d members, want %d", got, want)
			}
		})
	}
}

func TestDeletionForgetsTheProfile(t *testing.T) {
	s := New(t, Options{APIKey: key, DeletionDelay: 50 * time.Millisecond})
	list := s.CreateList("Members")
	oldID := seedMember(t, s, list, "ann@example.com", "+33612345678")
	if r := do(t, s, "POST", "/api/data-privacy-deletion-jobs", deletionBody(`{"type":"profile","attributes":{"phone_number":"+33612345678"}}`)); r.status != 202 {
		t.Fatalf("status %d %s", r.status, r.firstError())
	}
	if _, held := s.ProfileByEmail("ann@example.com"); !held {
		t.Error("deleted before the job ran")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, held := s.ProfileByEmail("ann@example.com"); !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the job never ran")
		}
	}
	if found := do(t, s, "GET", `/api/profiles?filter=equals(phone_number,"+33612345678")`, "").body["data"].([]any); len(found) != 0 {
		t.Errorf("lookup by the deleted phone number: %v", found)
	}
	// The same person coming back is a new profile.
	newID := seedMember(t, s, list, "ann@example.com", "+33612345678")
	if newID == oldID {
		t.Error("a deleted profile's id came back")
	}
	st := s.Stats()
	if st.Deletions != 1 || st.Deleted != 1 || st.Profiles != 1 {
		t.Errorf("stats %+v, want 1 deletion request, 1 profile deleted, 1 profile", st)
	}
	if d := s.DeletionRequests(); len(d) != 1 || d[0].PhoneNumber != "+33612345678" || d[0].Email != "" || d[0].ProfileID != "" || d[0].Time.IsZero() {
		t.Errorf("deletion requests %+v", d)
	}
}

func TestFailRequests(t *testing.T) {
	s := New(t, Options{APIKey: key})
	s.FailNext("get_lists", 503)
	s.FailRequests(429, 2)
	var got []string
	for _, path := range []string{"/api/lists", "/api/accounts", "/api/lists", "/api/accounts"} {
		r := do(t, s, "GET", path, "")
		got = append(got, fmt.Sprintf("%d%s", r.status, r.header.Get("Retry-After")))
	}
	// The operation's script first, then two requests of any operation.
	if fmt.Sprint(got) != "[503 4291 4291 200]" {
		t.Errorf("statuses (with Retry-After) %v", got)
	}
}
