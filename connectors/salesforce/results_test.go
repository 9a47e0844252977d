package salesforce

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
)

// collectionServer plays the token endpoint and answers every collection
// upsert with answer(records sent).
func collectionServer(t *testing.T, answer func(n int) (int, string)) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == tokenPath {
			fmt.Fprintf(w, `{"access_token":"00D!tok","instance_url":%q,"token_type":"Bearer"}`, srv.URL)
			return
		}
		if r.Method != http.MethodPatch || r.URL.Path != "/services/data/"+DefaultAPIVersion+"/composite/sobjects/Contact/External_Id__c" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req struct {
			AllOrNone bool              `json:"allOrNone"`
			Records   []json.RawMessage `json:"records"`
		}
		if err := json.Unmarshal(b, &req); err != nil || req.AllOrNone {
			t.Errorf("request: allOrNone %v, %v", req.AllOrNone, err)
		}
		status, body := answer(len(req.Records))
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// results builds a collection answer where fail(k) gives the k-th
// record's error item ("" for success).
func results(n int, fail func(k int) string) string {
	parts := make([]string, n)
	for k := range parts {
		if e := fail(k); e != "" {
			parts[k] = `{"success":false,"errors":[` + e + `]}`
		} else {
			parts[k] = fmt.Sprintf(`{"id":"003000000000%03dAAA","success":true,"created":true,"errors":[]}`, k)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestCollectionResults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   func(n int) string
		check  func(t *testing.T, errs []error, ids []string)
	}{
		{"only the 37th fails", 200, func(n int) string {
			return results(n, func(k int) string {
				if k == 36 {
					return `{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}`
				}
				return ""
			})
		}, func(t *testing.T, errs []error, ids []string) {
			for k, err := range errs {
				var ae *APIError
				switch {
				case k == 36 && (!errors.As(err, &ae) || ae.Code != "REQUIRED_FIELD_MISSING" || !strings.Contains(err.Error(), "Required fields are missing: [LastName] (fields: LastName)")):
					t.Errorf("the 37th record: %v", err)
				case k != 36 && err != nil:
					t.Errorf("record %d: %v", k+1, err)
				case k != 36 && ids[k] != fmt.Sprintf("003000000000%03dAAA", k):
					t.Errorf("record %d: remote id %q", k+1, ids[k])
				case k == 36 && ids[k] != "":
					t.Errorf("the refused record has a remote id %q", ids[k])
				}
			}
		}},
		{"identifiers masked", 200, func(n int) string {
			return results(n, func(k int) string {
				switch k {
				case 2:
					return `{"statusCode":"DUPLICATE_EXTERNAL_ID","message":"Duplicate external id specified: p2@example.com","fields":[]}`
				case 3:
					return `{"statusCode":"INVALID_EMAIL_ADDRESS","message":"Email: invalid email address: bob@@x.org","fields":["Email"]}`
				}
				return ""
			})
		}, func(t *testing.T, errs []error, _ []string) {
			if got := errs[2].Error(); !strings.Contains(got, "DUPLICATE_EXTERNAL_ID: Duplicate external id specified: [key]") {
				t.Errorf("duplicate: %s", got)
			}
			if got := errs[3].Error(); !strings.Contains(got, "INVALID_EMAIL_ADDRESS") || strings.Contains(got, "bob@") {
				t.Errorf("invalid e-mail: %s", got)
			}
		}},
		{"fewer results than records", 200, func(n int) string { return results(n-1, func(int) string { return "" }) },
			func(t *testing.T, errs []error, _ []string) {
				for k, err := range errs {
					if !errors.Is(err, errNotAccounted) {
						t.Errorf("record %d: %v, want not accounted", k+1, err)
					}
				}
			}},
		{"whole call refused", 400, func(int) string {
			return `[{"message":"No such column 'Tier__c' on sObject of type Contact","errorCode":"INVALID_FIELD"}]`
		}, func(t *testing.T, errs []error, _ []string) {
			for k, err := range errs {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Code != "INVALID_FIELD" || ae.Status != 400 {
					t.Errorf("record %d: %v", k+1, err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := collectionServer(t, func(n int) (int, string) { return tc.status, tc.body(n) })
			sf := openSF(t, srv.URL, "", extSync)
			recs := people(50)
			errs := write(t, sf, recs)
			ids := make([]string, len(recs))
			for k := range recs {
				ids[k] = recs[k].RemoteID
			}
			tc.check(t, errs, ids)
		})
	}
}

func TestFatalAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"daily limit", 403, `[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, "the org's API request limit is used up"},
		{"long-running requests", 403, `[{"message":"ConcurrentRequests (Concurrent API Requests) Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]`, "lower concurrency"},
		{"permission", 403, `[{"message":"insufficient access rights on object id","errorCode":"INSUFFICIENT_ACCESS_OR_READONLY"}]`, "lacks a permission"},
		{"session refused twice", 401, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`, "the session was refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := collectionServer(t, func(int) (int, string) { return tc.status, tc.body })
			sf := openSF(t, srv.URL, "", extSync)
			_, err := sf.Write(t.Context(), &destination.Batch{Sync: "people", Records: people(3)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("write: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
