package fake

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func member(campaign, contactID string) map[string]any {
	return map[string]any{"attributes": map[string]any{"type": "CampaignMember"}, "CampaignId": campaign, "ContactId": contactID}
}

func TestCampaignMembers(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	camp, err := s.Seed("Campaign", map[string]any{"Name": "VIP", "IsActive": true})
	if err != nil {
		t.Fatal(err)
	}
	do(t, s, tok, "PATCH", v+"/composite/sobjects/Contact/External_Id__c", map[string]any{"records": contacts(3)})
	people := s.Records("Contact")
	c0, c1 := people[0]["Id"].(string), people[1]["Id"].(string)
	do(t, s, tok, "POST", v+"/composite/sobjects", map[string]any{"records": []any{member(camp, c0)}})
	cases := []struct {
		name      string
		records   []any
		allOrNone bool
		codes     []string // per record, "" for success
		members   int      // after
	}{
		{"already a member", []any{member(camp, c0), member(camp, c1)}, false, []string{"DUPLICATE_VALUE", ""}, 2},
		{"15-char ids", []any{member(camp[:15], people[2]["Id"].(string)[:15])}, false, []string{""}, 3},
		{"no person", []any{map[string]any{"attributes": map[string]any{"type": "CampaignMember"}, "CampaignId": camp}}, false, []string{"REQUIRED_FIELD_MISSING"}, 3},
		{"campaign of the wrong type", []any{member(c0, c1)}, false, []string{"MALFORMED_ID"}, 3},
		{"unknown campaign", []any{member("7015g000000zzzzAAA", c1)}, false, []string{"INVALID_CROSS_REFERENCE_KEY"}, 3},
		{"an Id on insert", []any{map[string]any{"attributes": map[string]any{"type": "Campaign"}, "Id": camp, "Name": "x"}}, false, []string{"INVALID_FIELD_FOR_INSERT_UPDATE"}, 3},
		{"mixed types, allOrNone", []any{map[string]any{"attributes": map[string]any{"type": "Campaign"}, "Name": "Spring"}, member(camp, c0)}, true,
			[]string{"ALL_OR_NONE_OPERATION_ROLLED_BACK", "DUPLICATE_VALUE"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, tok, "POST", v+"/composite/sobjects", map[string]any{"allOrNone": tc.allOrNone, "records": tc.records})
			if a.status != 200 || len(a.arr) != len(tc.codes) {
				t.Fatalf("%d %s", a.status, a.raw)
			}
			for i, want := range tc.codes {
				r := a.arr[i].(map[string]any)
				if want == "" {
					if r["success"] != true || !strings.HasPrefix(r["id"].(string), "00v") {
						t.Fatalf("result %d: %v", i, r)
					}
					continue
				}
				if r["success"] != false || r["errors"].([]any)[0].(map[string]any)["statusCode"] != want {
					t.Fatalf("result %d: %v, want %s", i, r, want)
				}
			}
			if got := len(s.Records("CampaignMember")); got != tc.members {
				t.Fatalf("%d members, want %d", got, tc.members)
			}
		})
	}
	if got := len(s.Records("Campaign")); got != 1 {
		t.Fatalf("%d campaigns: the rolled-back insert stayed", got)
	}
}

func TestDelete(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	camp, _ := s.Seed("Campaign", map[string]any{"Name": "VIP"})
	do(t, s, tok, "PATCH", v+"/composite/sobjects/Contact/External_Id__c", map[string]any{"records": contacts(4)})
	ids := []string{}
	for _, r := range s.Records("Contact") {
		ids = append(ids, r["Id"].(string))
	}
	do(t, s, tok, "POST", v+"/composite/sobjects", map[string]any{"records": []any{member(camp, ids[0]), member(camp, ids[1])}})
	many := make([]string, 201)
	for i := range many {
		many[i] = ids[0]
	}
	cases := []struct {
		name     string
		query    string
		status   int
		codes    []string
		contacts int
		members  int
	}{
		{"delete with its membership", "ids=" + ids[0], 200, []string{""}, 3, 1},
		{"already deleted, unknown, malformed", "ids=" + ids[0] + ",0035g000000zzzzAAA,nope", 200, []string{"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID"}, 3, 1},
		{"allOrNone rolls back", "allOrNone=true&ids=" + ids[1] + "," + ids[0], 200, []string{"ALL_OR_NONE_OPERATION_ROLLED_BACK", "ENTITY_IS_DELETED"}, 3, 1},
		{"15-char id", "ids=" + ids[2][:15], 200, []string{""}, 2, 1},
		{"over 200 ids", "ids=" + strings.Join(many, ","), 400, nil, 2, 1},
		{"no ids", "", 400, nil, 2, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, tok, "DELETE", v+"/composite/sobjects?"+tc.query, nil)
			if a.status != tc.status {
				t.Fatalf("%d %s", a.status, a.raw)
			}
			for i, want := range tc.codes {
				r := a.arr[i].(map[string]any)
				ok := r["success"] == true && want == ""
				if want != "" {
					ok = r["success"] == false && r["errors"].([]any)[0].(map[string]any)["statusCode"] == want
				}
				if !ok {
					t.Fatalf("result %d: %v, want %q", i, r, want)
				}
			}
			if c, m := len(s.Records("Contact")), len(s.Records("CampaignMember")); c != tc.contacts || m != tc.members {
				t.Fatalf("%d contacts and %d members, want %d and %d", c, m, tc.contacts, tc.members)
			}
		})
	}
}

// bulkJob runs a Bulk API 2.0 upsert of csvData and returns the final job
// info and the successful and failed results.
func bulkJob(t *testing.T, s *Server, tok, object, csvData string) (map[string]any, [][]string, [][]string) {
	t.Helper()
	a := do(t, s, tok, "POST", v+"/jobs/ingest", map[string]any{"object": object, "externalIdFieldName": "External_Id__c",
		"contentType": "CSV", "operation": "upsert", "lineEnding": "LF"})
	if a.status != 200 || a.obj["state"] != "Open" || !strings.HasPrefix(a.obj["id"].(string), "750") {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	id := a.obj["id"].(string)
	if a := send(t, s, tok, "PUT", "/"+a.obj["contentUrl"].(string), "text/csv", []byte(csvData)); a.status != 201 {
		t.Fatalf("upload: %d %s", a.status, a.raw)
	}
	if a := do(t, s, tok, "PATCH", v+"/jobs/ingest/"+id, map[string]any{"state": "UploadComplete"}); a.status != 200 || a.obj["state"] != "UploadComplete" {
		t.Fatalf("close: %d %s", a.status, a.raw)
	}
	var info map[string]any
	for i := 0; ; i++ {
		info = do(t, s, tok, "GET", v+"/jobs/ingest/"+id, nil).obj
		if st := info["state"]; st == "JobComplete" || st == "Failed" {
			break
		}
		if i > 10 {
			t.Fatalf("job never completes: %v", info)
		}
	}
	read := func(kind string) [][]string {
		a := do(t, s, tok, "GET", v+"/jobs/ingest/"+id+"/"+kind+"/", nil)
		rows, err := csv.NewReader(strings.NewReader(a.raw)).ReadAll()
		if a.status != 200 || err != nil {
			t.Fatalf("%s: %d %v %s", kind, a.status, err, a.raw)
		}
		return rows
	}
	return info, read("successfulResults"), read("failedResults")
}

func TestBulkUpsert(t *testing.T) {
	var rows strings.Builder
	rows.WriteString("External_Id__c,LastName,Email,HasOptedOutOfEmail\n")
	for i := range 50 {
		fmt.Fprintf(&rows, "k%d,L%d,p%d@example.com,false\n", i, i, i)
	}
	cases := []struct {
		name      string
		csv       string
		setup     func(s *Server)
		state     string
		processed int
		failed    map[string]string // key → sf__Error prefix
		errMsg    string
	}{
		{"all ok", rows.String(), nil, "JobComplete", 50, nil, ""},
		{"row rules", "External_Id__c,LastName,Email\nk1,,a@example.com\nk2,L,bad@\nk3,L,c@example.com\nk3,L,d@example.com\n,L,e@example.com\nk4,L,\"x@example.com\"\n",
			nil, "JobComplete", 6, map[string]string{"k1": "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
				"k2": "INVALID_EMAIL_ADDRESS:", "k3": "DUPLICATE_EXTERNAL_ID:", "": "MISSING_ARGUMENT:"}, ""},
		{"knobs", "External_Id__c,LastName\nk1,A\nk2,B\nk3,C\n", func(s *Server) { s.LockRows(1); s.RejectExternalIDs("k3") }, "JobComplete", 3,
			map[string]string{"k1": "UNABLE_TO_LOCK_ROW:", "k3": "FIELD_CUSTOM_VALIDATION_EXCEPTION:"}, ""},
		{"bad boolean", "External_Id__c,LastName,HasOptedOutOfEmail\nk1,A,maybe\n", nil, "JobComplete", 1, map[string]string{"k1": "INVALID_TYPE_ON_FIELD_IN_RECORD:"}, ""},
		{"unknown column", "External_Id__c,Shoe__c\nk1,42\n", nil, "Failed", 0, nil, "InvalidBatch : Field name not found : Shoe__c"},
		{"CRLF in an LF job", "External_Id__c,LastName\r\nk1,A\r\n", nil, "Failed", 0, nil, "ClientInputError : LineEnding is invalid"},
		{"no key column", "LastName\nA\n", nil, "Failed", 0, nil, "InvalidBatch : Field name not found : External_Id__c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{BulkPolls: 2})
			tok := login(t, s)
			if tc.setup != nil {
				tc.setup(s)
			}
			info, ok, failed := bulkJob(t, s, tok, "Contact", tc.csv)
			if info["state"] != tc.state || info["numberRecordsProcessed"] != float64(tc.processed) || info["numberRecordsFailed"] != float64(len(failed)-1) {
				t.Fatalf("job %v", info)
			}
			if tc.errMsg != "" {
				if !strings.HasPrefix(fmt.Sprint(info["errorMessage"]), tc.errMsg) {
					t.Fatalf("errorMessage %v", info["errorMessage"])
				}
				return
			}
			if !slices.Equal(ok[0][:2], []string{"sf__Id", "sf__Created"}) || !slices.Equal(failed[0][:2], []string{"sf__Id", "sf__Error"}) {
				t.Fatalf("headers %v %v", ok[0], failed[0])
			}
			for _, row := range failed[1:] {
				want, found := tc.failed[row[2]]
				if !found || !strings.HasPrefix(row[1], want) {
					t.Fatalf("failed row %v, want %q", row, want)
				}
			}
			if len(ok)-1+len(failed)-1 != tc.processed || len(s.Records("Contact")) != len(ok)-1 {
				t.Fatalf("%d ok, %d failed, %d contacts", len(ok)-1, len(failed)-1, len(s.Records("Contact")))
			}
			for _, row := range ok[1:] {
				if !strings.HasPrefix(row[0], "003") || row[1] != "true" {
					t.Fatalf("successful row %v", row)
				}
			}
		})
	}
}

func TestBulkShuffledAndNull(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	var in strings.Builder
	in.WriteString("External_Id__c,LastName,FirstName\n")
	for i := range 20 {
		fmt.Fprintf(&in, "k%02d,L,F\n", i)
	}
	_, ok, _ := bulkJob(t, s, tok, "Contact", in.String())
	keys := []string{}
	for _, row := range ok[1:] {
		keys = append(keys, row[2])
	}
	if slices.IsSorted(keys) {
		t.Fatal("successful results come in upload order; Salesforce gives no order")
	}
	_, ok, _ = bulkJob(t, s, tok, "Contact", "External_Id__c,FirstName,LastName\nk01,#N/A,\n")
	if ok[1][1] != "false" {
		t.Fatalf("an update reported as created: %v", ok[1])
	}
	for _, r := range s.Records("Contact") {
		if r["External_Id__c"] == "k01" && (r["FirstName"] != nil || r["LastName"] != "L") {
			t.Fatalf("#N/A should null FirstName, an empty LastName leave it: %v", r)
		}
	}
}

func TestBulkJobRules(t *testing.T) {
	s := newServer(t, Options{MaxUploadBytes: 64})
	tok := login(t, s)
	create := func() string {
		return do(t, s, tok, "POST", v+"/jobs/ingest", map[string]any{"object": "Contact", "externalIdFieldName": "External_Id__c", "operation": "upsert"}).obj["id"].(string)
	}
	small := []byte("External_Id__c,LastName\nk1,A\n")
	cases := []struct {
		name   string
		steps  func(id string) answer
		status int
		code   string
	}{
		{"second upload", func(id string) answer {
			send(t, s, tok, "PUT", v+"/jobs/ingest/"+id+"/batches", "text/csv", small)
			return send(t, s, tok, "PUT", v+"/jobs/ingest/"+id+"/batches", "text/csv", small)
		}, 400, "INVALIDJOBSTATE"},
		{"upload too large", func(id string) answer {
			return send(t, s, tok, "PUT", v+"/jobs/ingest/"+id+"/batches", "text/csv", bytes.Repeat([]byte("x"), 65))
		}, 413, "REQUEST_ENTITY_TOO_LARGE"},
		{"not CSV", func(id string) answer {
			return send(t, s, tok, "PUT", v+"/jobs/ingest/"+id+"/batches", "application/json", small)
		}, 415, "INVALIDCONTENTTYPE"},
		{"upload after close", func(id string) answer {
			do(t, s, tok, "PATCH", v+"/jobs/ingest/"+id, map[string]any{"state": "UploadComplete"})
			return send(t, s, tok, "PUT", v+"/jobs/ingest/"+id+"/batches", "text/csv", small)
		}, 400, "INVALIDJOBSTATE"},
		{"results before completion", func(id string) answer {
			return do(t, s, tok, "GET", v+"/jobs/ingest/"+id+"/successfulResults", nil)
		}, 400, "INVALIDJOBSTATE"},
		{"unknown job", func(string) answer { return do(t, s, tok, "GET", v+"/jobs/ingest/7505g0000000zzzAAA", nil) }, 404, "NOT_FOUND"},
		{"delete an open job", func(id string) answer { return do(t, s, tok, "DELETE", v+"/jobs/ingest/"+id, nil) }, 400, "INVALIDJOBSTATE"},
		{"abort then unprocessed", func(id string) answer {
			send(t, s, tok, "PUT", v+"/jobs/ingest/"+id+"/batches", "text/csv", small)
			if a := do(t, s, tok, "PATCH", v+"/jobs/ingest/"+id, map[string]any{"state": "Aborted"}); a.obj["state"] != "Aborted" {
				t.Fatalf("abort: %s", a.raw)
			}
			a := do(t, s, tok, "GET", v+"/jobs/ingest/"+id+"/unprocessedrecords/", nil)
			if a.raw != string(small) {
				t.Fatalf("unprocessed records %q", a.raw)
			}
			return do(t, s, tok, "DELETE", v+"/jobs/ingest/"+id, nil)
		}, 204, ""},
		{"unknown object", func(string) answer {
			return do(t, s, tok, "POST", v+"/jobs/ingest", map[string]any{"object": "Nope", "operation": "upsert"})
		}, 400, "INVALIDENTITY"},
		{"upsert on a plain field", func(string) answer {
			return do(t, s, tok, "POST", v+"/jobs/ingest", map[string]any{"object": "Contact", "externalIdFieldName": "LastName", "operation": "upsert"})
		}, 400, "INVALIDJOB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.steps(create())
			if a.status != tc.status || (tc.code != "" && a.first()["errorCode"] != tc.code) {
				t.Fatalf("%d %s, want %d %s", a.status, a.raw, tc.status, tc.code)
			}
		})
	}
	if n := len(s.Violations()); n != 4 {
		t.Fatalf("violations %q, want the second upload, the large one, the JSON one and the late one", s.Violations())
	}
}

func TestDailyLimit(t *testing.T) {
	s := newServer(t, Options{DailyLimit: 5, UsedAtStart: 3})
	tok := login(t, s)
	want := []struct {
		status int
		usage  string
	}{{200, "api-usage=4/5"}, {200, "api-usage=5/5"}, {403, "api-usage=5/5"}, {403, "api-usage=5/5"}}
	for i, w := range want {
		a := do(t, s, tok, "GET", v+"/limits", nil)
		if a.status != w.status || a.header.Get("Sforce-Limit-Info") != w.usage {
			t.Fatalf("call %d: %d %q %s", i, a.status, a.header.Get("Sforce-Limit-Info"), a.raw)
		}
		if w.status == 403 && (a.first()["errorCode"] != "REQUEST_LIMIT_EXCEEDED" || a.first()["message"] != "TotalRequests Limit exceeded.") {
			t.Fatalf("body %s", a.raw)
		}
	}
	if st := s.Stats(); st.Limited != 2 || st.APIUsage != 5 {
		t.Fatalf("stats %+v", st)
	}
	if a := form(t, s, url.Values{"grant_type": {GrantClientCredentials}, "client_id": {clientID}, "client_secret": {clientSecret}}); a.status != 200 {
		t.Fatalf("the token endpoint is not an API call: %d", a.status)
	}
}

func TestConcurrentLimit(t *testing.T) {
	s := newServer(t, Options{MaxConcurrent: 2, LongRunning: 50 * time.Millisecond, Latency: 800 * time.Millisecond})
	tok := login(t, s)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(t, s, tok, "GET", v+"/limits", nil)
		}()
	}
	time.Sleep(300 * time.Millisecond)
	a := do(t, s, tok, "GET", v+"/limits", nil)
	wg.Wait()
	if a.status != 403 || a.first()["errorCode"] != "REQUEST_LIMIT_EXCEEDED" || !strings.HasPrefix(a.first()["message"].(string), "ConcurrentRequests") {
		t.Fatalf("%d %s", a.status, a.raw)
	}
	if a := do(t, s, tok, "GET", v+"/limits", nil); a.status != 200 {
		t.Fatalf("after the long requests: %d", a.status)
	}
	if st := s.Stats(); st.Concurrent != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFailRequests(t *testing.T) {
	cases := []struct {
		status int
		code   string
	}{{503, "SERVER_UNAVAILABLE"}, {500, "UNKNOWN_EXCEPTION"}, {403, "REQUEST_LIMIT_EXCEEDED"}, {401, "INVALID_SESSION_ID"}}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			var seen []string
			var mu sync.Mutex
			s := newServer(t, Options{OnRequest: func(m, e string, st int) { mu.Lock(); seen = append(seen, fmt.Sprint(m, " ", e, " ", st)); mu.Unlock() }})
			tok := login(t, s)
			s.FailRequests(2, tc.status)
			for i := range 3 {
				a := do(t, s, tok, "GET", v+"/sobjects/Contact/describe", nil)
				want := tc.status
				if i == 2 {
					want = 200
				}
				if a.status != want || (want != 200 && a.first()["errorCode"] != tc.code) {
					t.Fatalf("call %d: %d %s", i, a.status, a.raw)
				}
			}
			reqs := s.Requests()
			if len(reqs) != 4 || reqs[1].Endpoint != "/services/data/{version}/sobjects/{sobject}/describe" || reqs[1].Status != tc.status || reqs[1].Time.IsZero() {
				t.Fatalf("requests %+v", reqs)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 4 || seen[3] != "GET /services/data/{version}/sobjects/{sobject}/describe 200" {
				t.Fatalf("OnRequest saw %q", seen)
			}
		})
	}
}

func TestHeaderLimit(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	req, _ := http.NewRequest("GET", s.URL+v+"/limits", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("X-Padding", strings.Repeat("p", 16400))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || len(s.Violations()) != 1 {
		t.Fatalf("%d, violations %v", resp.StatusCode, s.Violations())
	}
}

func TestSeedAndRead(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	cases := []struct {
		object string
		fields map[string]any
		err    string
	}{
		{"Lead", map[string]any{"LastName": "L", "Company": "C", "Email": "l@example.com"}, ""},
		{"Lead", map[string]any{"LastName": "L"}, "REQUIRED_FIELD_MISSING"},
		{"Nope", nil, "no sObject"},
		{"Contact", map[string]any{"LastName": "L", "Shoe__c": "1"}, "no field"},
	}
	for _, tc := range cases {
		id, err := s.Seed(tc.object, tc.fields)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("seed %s: %v, want %s", tc.object, err, tc.err)
			}
			continue
		}
		a := do(t, s, tok, "GET", v+"/sobjects/Lead/"+id, nil)
		if err != nil || a.status != 200 || a.obj["Status"] != "Open - Not Contacted" || a.obj["Email"] != "l@example.com" {
			t.Fatalf("%v %d %s", err, a.status, a.raw)
		}
	}
}

func TestBulkInsertAndDelete(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	do(t, s, tok, "PATCH", v+"/composite/sobjects/Contact/External_Id__c", map[string]any{"records": contacts(3)})
	people := s.Records("Contact")
	run := func(op, data string) map[string]any {
		a := do(t, s, tok, "POST", v+"/jobs/ingest", map[string]any{"object": "Contact", "operation": op, "lineEnding": "LF"})
		id := a.obj["id"].(string)
		send(t, s, tok, "PUT", v+"/jobs/ingest/"+id+"/batches", "text/csv", []byte(data))
		do(t, s, tok, "PATCH", v+"/jobs/ingest/"+id, map[string]any{"state": "UploadComplete"})
		return do(t, s, tok, "GET", v+"/jobs/ingest/"+id, nil).obj
	}
	cases := []struct {
		name, op, csv     string
		processed, failed int
		contacts          int
	}{
		{"insert", "insert", "LastName,Email\nA,a@example.com\n,b@example.com\n", 2, 1, 4},
		{"delete", "delete", "Id\n" + people[0]["Id"].(string) + "\n" + people[0]["Id"].(string) + "\nnope\n" + people[1]["Id"].(string)[:15] + "\n", 4, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info := run(tc.op, tc.csv)
			if info["state"] != "JobComplete" || info["numberRecordsProcessed"] != float64(tc.processed) || info["numberRecordsFailed"] != float64(tc.failed) {
				t.Fatalf("job %v", info)
			}
			if got := len(s.Records("Contact")); got != tc.contacts {
				t.Fatalf("%d contacts, want %d", got, tc.contacts)
			}
		})
	}
}

func TestRoutesAndQueriesOfMembers(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	camp, _ := s.Seed("Campaign", map[string]any{"Name": "VIP"})
	c1, _ := s.Seed("Contact", map[string]any{"LastName": "A"})
	c2, _ := s.Seed("Contact", map[string]any{"LastName": "B"})
	do(t, s, tok, "POST", v+"/composite/sobjects", map[string]any{"records": []any{member(camp, c1), member(camp, c2)}})
	soql := fmt.Sprintf("SELECT Id, ContactId FROM CampaignMember WHERE CampaignId = '%s' AND ContactId IN ('%s')", camp[:15], c2)
	cases := []struct {
		name, method, path string
		status             int
		check              func(a answer) bool
	}{
		{"members by campaign and contact", "GET", v + "/query?q=" + url.QueryEscape(soql), 200, func(a answer) bool {
			recs := a.obj["records"].([]any)
			return len(recs) == 1 && recs[0].(map[string]any)["ContactId"] == c2
		}},
		{"version root", "GET", v, 200, func(a answer) bool { return a.obj["sobjects"] == v+"/sobjects" }},
		{"global describe", "GET", v + "/sobjects", 200, func(a answer) bool { return len(a.obj["sobjects"].([]any)) == 4 }},
		{"limits", "GET", v + "/limits", 200, func(a answer) bool {
			return a.obj["DailyApiRequests"].(map[string]any)["Max"] == float64(100000)
		}},
		{"record", "GET", v + "/sobjects/Contact/" + c1, 200, func(a answer) bool { return a.obj["LastName"] == "A" }},
		{"record of another object", "GET", v + "/sobjects/Lead/" + c1, 404, nil},
		{"wrong method", "PUT", v + "/query", 405, func(a answer) bool { return a.first()["errorCode"] == "METHOD_NOT_ALLOWED" }},
		{"token endpoint by GET", "GET", "/services/oauth2/token", 405, nil},
		{"outside the API", "GET", "/nothing", 404, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, tok, tc.method, tc.path, nil)
			if a.status != tc.status || (tc.check != nil && !tc.check(a)) {
				t.Fatalf("%d %.300s", a.status, a.raw)
			}
		})
	}
}
