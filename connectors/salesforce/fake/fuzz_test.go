package fake

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzSOQL checks that no statement makes the parser panic and that what
// parses names at least one field and an object.
func FuzzSOQL(f *testing.F) {
	for _, q := range []string{
		"SELECT Id FROM Contact",
		"SELECT Id, Email FROM Contact WHERE External_Id__c IN ('a','b') AND LastName = 'O\\'B' LIMIT 5",
		"SELECT Id FROM Contact WHERE Email NOT IN ('x') AND FirstName != null",
		"SELECT FROM", "SELECT Id FROM Contact WHERE x = '\\", "select id from contact limit -1",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		parsed, err := parseSOQL(q)
		if err == nil && (len(parsed.fields) == 0 || parsed.object == "") {
			t.Fatalf("%q parsed to %+v", q, parsed)
		}
	})
}

// FuzzCollections sends arbitrary bodies to the collection endpoints; the
// fake must answer, never panic.
func FuzzCollections(f *testing.F) {
	for _, b := range []string{
		`{"allOrNone":false,"records":[{"attributes":{"type":"Contact"},"External_Id__c":"k","LastName":"L"}]}`,
		`{"records":[null,{"attributes":null},{"attributes":{"type":"CampaignMember"},"CampaignId":7,"ContactId":true}]}`,
		`{"records":[{"attributes":{"type":"Contact"},"External_Id__c":null,"Birthdate":"x","Email":1}]}`,
		`[]`, `{"records":{}}`,
	} {
		f.Add([]byte(b))
	}
	s := Handler(Options{ClientID: "id", ClientSecret: "secret", DailyLimit: -1, Objects: []Object{{Name: "Contact", Fields: []Field{ExternalIDField("External_Id__c")}}}})
	s.mu.Lock()
	s.sessions["tok"] = s.opts.Now().Add(time.Hour)
	s.mu.Unlock()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []struct{ method, path string }{
			{"PATCH", "/services/data/v62.0/composite/sobjects/Contact/External_Id__c"},
			{"POST", "/services/data/v62.0/composite/sobjects"},
		} {
			req := httptest.NewRequest(target.method, target.path, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer tok")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
				t.Fatalf("%s %s: status %d: %s", target.method, target.path, w.Code, w.Body)
			}
		}
	})
}
