package fake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzIngest: whatever the body, the fake answers (no panic) with 200 or
// a 4xx google.rpc.Status.
func FuzzIngest(f *testing.F) {
	for _, seed := range []string{
		body(email(HashEmail("ann@example.com"))),
		body(`[{"userData": {"userIdentifiers": [{"address": {"givenName": "x"}}]}}]`),
		body(`[{"userData": null}]`),
		`{"audienceMembers": [{}], "destinations": [{}]}`,
		`{"audienceMembers": "x"}`,
		`[1, 2]`,
		``,
		`{"audienceMembers": [{"userData": {"userIdentifiers": [null]}}]}`,
	} {
		f.Add(seed)
	}
	s := Handler(Options{Tokens: []string{token}, Accounts: map[string][]string{account: {list}}, PerMinute: -1})
	f.Fuzz(func(t *testing.T, b string) {
		for _, path := range []string{"/v1/audienceMembers:ingest", "/v1/audienceMembers:remove"} {
			req := httptest.NewRequest("POST", path, strings.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != http.StatusOK && (w.Code < 400 || w.Code >= 500) {
				t.Fatalf("%s answered %d: %s", path, w.Code, w.Body)
			}
			if w.Code != http.StatusOK && !strings.Contains(w.Body.String(), `"status"`) {
				t.Fatalf("not a google.rpc.Status: %s", w.Body)
			}
		}
	})
}
