package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const token = "pat-na1-test"

// clock is a settable time for sliding the rate-limit window.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, s *Server, tok, method, path string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &a.body)
	}
	return a
}

func newServer(t *testing.T, opts Options) *Server {
	if opts.Token == "" {
		opts.Token = token
	}
	return New(t, opts)
}

func input(i int, email string) map[string]any {
	return map[string]any{"idProperty": "email", "id": email, "objectWriteTraceId": fmt.Sprint("t", i),
		"properties": map[string]any{"firstname": fmt.Sprint("N", i)}}
}

func inputs(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = input(i, fmt.Sprintf("p%d@example.com", i))
	}
	return out
}

func TestAuth(t *testing.T) {
	s := newServer(t, Options{Tokens: map[string][]string{"pat-lists": {"crm.lists.read", "crm.lists.write"}}})
	cases := []struct {
		name, tok, method, path string
		want                    int
		category                string
	}{
		{"no token", "", "GET", "/crm/v3/properties/contacts", 401, "INVALID_AUTHENTICATION"},
		{"unknown token", "pat-nope", "GET", "/crm/v3/properties/contacts", 401, "INVALID_AUTHENTICATION"},
		{"missing scope", "pat-lists", "GET", "/crm/v3/properties/contacts", 403, "MISSING_SCOPES"},
		{"missing write scope", "pat-lists", "POST", "/crm/v3/objects/contacts/batch/upsert", 403, "MISSING_SCOPES"},
		{"scope held", "pat-lists", "GET", "/crm/v3/lists/object-type-id/0-1/name/x", 404, "OBJECT_NOT_FOUND"},
		{"full token", token, "GET", "/crm/v3/properties/contacts", 200, ""},
		{"unknown path", token, "GET", "/crm/v3/nothing", 404, "OBJECT_NOT_FOUND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, tc.tok, tc.method, tc.path, nil)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if tc.category == "" {
				return
			}
			if a.body["category"] != tc.category || a.body["status"] != "error" || a.body["correlationId"] == "" {
				t.Fatalf("body %s", a.raw)
			}
			if tc.want == 401 && !strings.HasPrefix(a.body["message"].(string), "Authentication credentials not found") {
				t.Fatalf("message %s", a.raw)
			}
		})
	}
}

func TestUpsert(t *testing.T) {
	withBad := func(n, bad int, badEmail string) []map[string]any {
		in := inputs(n)
		in[bad] = input(bad, badEmail)
		return in
	}
	unknownProp := inputs(3)
	unknownProp[1]["properties"] = map[string]any{"shoe_size": "42"}
	untraced := inputs(3)
	for _, in := range untraced {
		delete(in, "objectWriteTraceId")
	}
	untracedBad := withBad(3, 2, "not-an-email")
	for _, in := range untracedBad {
		delete(in, "objectWriteTraceId")
	}
	cases := []struct {
		name     string
		inputs   []map[string]any
		want     int
		failed   []string // trace ids of the failed inputs
		contacts int      // contacts after
		message  string   // part of the (first) error message
	}{
		{"all ok", inputs(100), 200, nil, 100, ""},
		{"over the limit", inputs(101), 400, nil, 0, "100"},
		{"only the 37th invalid", withBad(60, 36, "nope@"), 207, []string{"t36"}, 59, "INVALID_EMAIL"},
		{"unknown property", unknownProp, 207, []string{"t1"}, 2, "PROPERTY_DOESNT_EXIST"},
		{"no trace ids, all ok", untraced, 200, nil, 3, ""},
		{"no trace ids, one invalid: whole batch", untracedBad, 400, nil, 0, "INVALID_EMAIL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{})
			a := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": tc.inputs})
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %.300s", a.status, tc.want, a.raw)
			}
			if got := len(s.Contacts()); got != tc.contacts {
				t.Fatalf("%d contacts, want %d", got, tc.contacts)
			}
			if tc.want == 400 {
				if a.body["category"] != "VALIDATION_ERROR" || !strings.Contains(a.body["message"].(string), tc.message) {
					t.Fatalf("body %s", a.raw)
				}
				return
			}
			results := a.body["results"].([]any)
			if len(results) != tc.contacts {
				t.Fatalf("%d results, want %d", len(results), tc.contacts)
			}
			r0 := results[0].(map[string]any)
			if r0["id"] == "" || r0["new"] != true || r0["properties"].(map[string]any)["email"] == nil {
				t.Fatalf("result %v", r0)
			}
			if tc.want == 200 {
				if a.body["errors"] != nil {
					t.Fatalf("errors on 200: %s", a.raw)
				}
				return
			}
			if a.body["numErrors"] != float64(len(tc.failed)) {
				t.Fatalf("numErrors %v", a.body["numErrors"])
			}
			e := a.body["errors"].([]any)[0].(map[string]any)
			trace := e["context"].(map[string]any)["objectWriteTraceId"].([]any)
			if e["status"] != "error" || e["category"] != "VALIDATION_ERROR" || trace[0] != tc.failed[0] || !strings.Contains(e["message"].(string), tc.message) {
				t.Fatalf("error %v", e)
			}
			for _, r := range results {
				if r.(map[string]any)["objectWriteTraceId"] == tc.failed[0] {
					t.Fatal("the failed input is among the results")
				}
			}
		})
	}
}

func TestUpsertUpdatesAndUniqueProperty(t *testing.T) {
	s := newServer(t, Options{Properties: []Property{{Name: "external_id", Label: "External id", Type: "string", FieldType: "text", HasUniqueValue: true}}})
	up := func(in ...map[string]any) answer {
		return do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": in})
	}
	a := up(input(1, "Ann@Example.com"))
	id := a.body["results"].([]any)[0].(map[string]any)["id"]
	b := up(map[string]any{"idProperty": "email", "id": "ann@example.com", "objectWriteTraceId": "x", "properties": map[string]any{"lastname": "L"}})
	r := b.body["results"].([]any)[0].(map[string]any)
	if b.status != 200 || r["id"] != id || r["new"] != false {
		t.Fatalf("update by e-mail (other case) did not find the contact: %s", b.raw)
	}
	ct, ok := s.ContactByEmail("ANN@example.com")
	if !ok || ct.Properties["lastname"] != "L" || ct.Properties["firstname"] != "N1" {
		t.Fatalf("contact %+v", ct)
	}
	c := up(map[string]any{"idProperty": "external_id", "id": "E-1", "objectWriteTraceId": "y", "properties": map[string]any{"firstname": "Bo"}})
	if c.status != 200 || len(s.Contacts()) != 2 {
		t.Fatalf("upsert by unique property: %s", c.raw)
	}
	d := up(map[string]any{"idProperty": "firstname", "id": "Bo", "objectWriteTraceId": "z", "properties": map[string]any{}})
	if d.status != 207 || !strings.Contains(d.raw, "non-unique 0-1 property") {
		t.Fatalf("non-unique idProperty: %d %s", d.status, d.raw)
	}
	n := up(map[string]any{"idProperty": "email", "id": "num@example.com", "objectWriteTraceId": "n", "properties": map[string]any{"firstname": 12, "lastname": true}})
	if ct, _ := s.ContactByEmail("num@example.com"); n.status != 200 || ct.Properties["firstname"] != "12" || ct.Properties["lastname"] != "true" {
		t.Fatalf("number and boolean values: %s", n.raw)
	}
	o := up(map[string]any{"idProperty": "email", "id": "obj@example.com", "objectWriteTraceId": "o", "properties": map[string]any{"firstname": map[string]any{"a": 1}}})
	if o.status != 400 || o.body["category"] != "VALIDATION_ERROR" {
		t.Fatalf("object value: %d %s", o.status, o.raw)
	}
	e := up(input(1, "dup@example.com"), input(2, "dup@example.com"))
	if e.status != 207 || e.body["numErrors"] != float64(1) {
		t.Fatalf("duplicate ids: %d %s", e.status, e.raw)
	}
}

func TestProperties(t *testing.T) {
	s := newServer(t, Options{})
	cases := []struct {
		name string
		body map[string]any
		want int
	}{
		{"created", map[string]any{"name": "loyalty_tier", "label": "Tier", "type": "string", "fieldType": "text", "groupName": "contactinformation"}, 201},
		{"exists", map[string]any{"name": "email", "label": "E", "type": "string", "fieldType": "text", "groupName": "contactinformation"}, 409},
		{"unique", map[string]any{"name": "ext_id", "label": "Ext", "type": "string", "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": true}, 201},
		{"no label", map[string]any{"name": "x", "type": "string", "fieldType": "text", "groupName": "g"}, 400},
		{"bad type", map[string]any{"name": "x", "label": "X", "type": "blob", "fieldType": "text", "groupName": "g"}, 400},
		{"bad field type", map[string]any{"name": "x", "label": "X", "type": "number", "fieldType": "text", "groupName": "g"}, 400},
		{"bad name", map[string]any{"name": "Bad Name", "label": "X", "type": "string", "fieldType": "text", "groupName": "g"}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, token, "POST", "/crm/v3/properties/contacts", tc.body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
		})
	}
	a := do(t, s, token, "GET", "/crm/v3/properties/contacts", nil)
	byName := map[string]map[string]any{}
	for _, r := range a.body["results"].([]any) {
		p := r.(map[string]any)
		byName[p["name"].(string)] = p
	}
	for _, n := range []string{"email", "firstname", "lastname", "phone", "loyalty_tier", "ext_id"} {
		if byName[n] == nil || byName[n]["type"] == nil || byName[n]["fieldType"] == nil {
			t.Fatalf("property %s missing or incomplete: %v", n, byName[n])
		}
	}
	if byName["ext_id"]["hasUniqueValue"] != true {
		t.Fatal("ext_id not unique")
	}
	up := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": []any{
		map[string]any{"idProperty": "ext_id", "id": "A1", "objectWriteTraceId": "t", "properties": map[string]any{"loyalty_tier": "gold"}}}})
	if up.status != 200 {
		t.Fatalf("upsert by the created unique property: %s", up.raw)
	}
}

func TestBatchRead(t *testing.T) {
	s := newServer(t, Options{})
	do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": inputs(3)})
	known, _ := s.ContactByEmail("p1@example.com")
	cases := []struct {
		name    string
		body    map[string]any
		want    int
		results int
		missing int
	}{
		{"by email", map[string]any{"idProperty": "email", "inputs": []any{map[string]any{"id": "P0@example.com"}, map[string]any{"id": "p2@example.com"}}}, 200, 2, 0},
		{"some missing", map[string]any{"idProperty": "email", "inputs": []any{map[string]any{"id": "p0@example.com"}, map[string]any{"id": "zz@example.com"}}}, 207, 1, 1},
		{"by record id", map[string]any{"inputs": []any{map[string]any{"id": known.ID}}}, 200, 1, 0},
		{"over the limit", map[string]any{"idProperty": "email", "inputs": inputs(101)}, 400, 0, 0},
		{"non-unique idProperty", map[string]any{"idProperty": "firstname", "inputs": []any{map[string]any{"id": "N1"}}}, 400, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/read", tc.body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if tc.want == 400 {
				return
			}
			if got := len(a.body["results"].([]any)); got != tc.results {
				t.Fatalf("%d results, want %d", got, tc.results)
			}
			if id := a.body["results"].([]any)[0].(map[string]any)["id"]; id == "" {
				t.Fatal("no record id")
			}
			if tc.missing > 0 {
				e := a.body["errors"].([]any)[0].(map[string]any)
				if e["category"] != "OBJECT_NOT_FOUND" || len(e["context"].(map[string]any)["ids"].([]any)) != tc.missing {
					t.Fatalf("errors %v", e)
				}
			}
		})
	}
}

func TestGDPRDelete(t *testing.T) {
	s := newServer(t, Options{})
	do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": inputs(3)})
	c1, _ := s.ContactByEmail("p1@example.com")
	l := s.CreateList("members", "MANUAL")
	do(t, s, token, "PUT", "/crm/v3/lists/"+l+"/memberships/add", []string{c1.ID})
	cases := []struct {
		name    string
		body    map[string]any
		want    int
		blocked string
	}{
		{"by email", map[string]any{"objectId": "P0@example.com", "idProperty": "email"}, 204, "p0@example.com"},
		{"by id", map[string]any{"objectId": c1.ID}, 204, "p1@example.com"},
		{"unknown email is block-listed", map[string]any{"objectId": "never@example.com", "idProperty": "email"}, 204, "never@example.com"},
		{"unknown id", map[string]any{"objectId": "999999"}, 404, ""},
		{"no objectId", map[string]any{"idProperty": "email"}, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, token, "POST", "/crm/v3/objects/contacts/gdpr-delete", tc.body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if tc.blocked == "" {
				return
			}
			if _, ok := s.ContactByEmail(tc.blocked); ok || !s.Blocked(tc.blocked) {
				t.Fatal("contact still there or not blocked")
			}
			up := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": []any{input(7, tc.blocked), input(8, "fresh-"+tc.name[:2]+"@example.com")}})
			if up.status != 207 || up.body["numErrors"] != float64(1) {
				t.Fatalf("upsert of a blocked e-mail: %d %s", up.status, up.raw)
			}
			e := up.body["errors"].([]any)[0].(map[string]any)
			if e["context"].(map[string]any)["objectWriteTraceId"].([]any)[0] != "t7" {
				t.Fatalf("error %v", e)
			}
		})
	}
	if got := len(s.GDPRDeletions()); got != 3 {
		t.Fatalf("%d deletions recorded, want 3", got)
	}
	if m := s.ListMembers(l); len(m) != 0 {
		t.Fatalf("deleted contact still a list member: %v", m)
	}
}

func TestLists(t *testing.T) {
	s := newServer(t, Options{})
	do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": inputs(3)})
	var ids []string
	for _, c := range s.Contacts() {
		ids = append(ids, c.ID)
	}
	a := do(t, s, token, "POST", "/crm/v3/lists", map[string]any{"name": "VIP / EU", "objectTypeId": "0-1", "processingType": "MANUAL"})
	if a.status != 200 {
		t.Fatalf("create: %s", a.raw)
	}
	listID := a.body["list"].(map[string]any)["listId"].(string)
	dyn := s.CreateList("dynamic", "DYNAMIC")
	cases := []struct {
		name, method, path string
		body               any
		want               int
		added, removed     int
		missing            []string
	}{
		{"duplicate name", "POST", "/crm/v3/lists", map[string]any{"name": "vip / eu", "objectTypeId": "0-1", "processingType": "MANUAL"}, 400, 0, 0, nil},
		{"bad processing type", "POST", "/crm/v3/lists", map[string]any{"name": "x", "objectTypeId": "0-1", "processingType": "STATIC"}, 400, 0, 0, nil},
		{"find by name", "GET", "/crm/v3/lists/object-type-id/0-1/name/" + url.PathEscape("VIP / EU"), nil, 200, 0, 0, nil},
		{"absent name", "GET", "/crm/v3/lists/object-type-id/0-1/name/nope", nil, 404, 0, 0, nil},
		{"get", "GET", "/crm/v3/lists/" + listID, nil, 200, 0, 0, nil},
		{"get absent", "GET", "/crm/v3/lists/987", nil, 404, 0, 0, nil},
		{"add", "PUT", "/crm/v3/lists/" + listID + "/memberships/add", []string{ids[0], ids[1], "5555"}, 200, 2, 0, []string{"5555"}},
		{"add again", "PUT", "/crm/v3/lists/" + listID + "/memberships/add", []string{ids[0]}, 200, 0, 0, []string{}},
		{"remove", "PUT", "/crm/v3/lists/" + listID + "/memberships/remove", []string{ids[1]}, 200, 0, 1, []string{}},
		{"add and remove", "PUT", "/crm/v3/lists/" + listID + "/memberships/add-and-remove",
			map[string]any{"recordIdsToAdd": []string{ids[2], "6666"}, "recordIdsToRemove": []string{ids[0]}}, 200, 1, 1, []string{"6666"}},
		{"dynamic refuses", "PUT", "/crm/v3/lists/" + dyn + "/memberships/add", []string{ids[0]}, 400, 0, 0, nil},
		{"absent list", "PUT", "/crm/v3/lists/987/memberships/add", []string{ids[0]}, 404, 0, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, token, tc.method, tc.path, tc.body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if a.status >= 400 {
				if a.body["status"] != "error" || a.body["category"] == nil {
					t.Fatalf("error body %s", a.raw)
				}
				return
			}
			if tc.missing == nil {
				return
			}
			if len(a.body["recordsIdsAdded"].([]any)) != tc.added || len(a.body["recordIdsRemoved"].([]any)) != tc.removed {
				t.Fatalf("body %s", a.raw)
			}
			if fmt.Sprint(a.body["recordIdsMissing"]) != fmt.Sprint(tc.missing) {
				t.Fatalf("recordIdsMissing %v, want %v", a.body["recordIdsMissing"], tc.missing)
			}
		})
	}
	if got := s.ListMembers(listID); fmt.Sprint(got) != fmt.Sprint([]string{ids[2]}) {
		t.Fatalf("members %v, want [%s]", got, ids[2])
	}
}

func TestMembershipPaging(t *testing.T) {
	s := newServer(t, Options{})
	var ids []string
	for b := range 3 {
		in := make([]map[string]any, 100)
		for i := range in {
			in[i] = input(i, fmt.Sprintf("m%d-%d@example.com", b, i))
		}
		a := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": in})
		for _, r := range a.body["results"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
	}
	l := s.CreateList("big", "MANUAL")
	do(t, s, token, "PUT", "/crm/v3/lists/"+l+"/memberships/add", ids[:250])
	seen := map[string]bool{}
	after, pages := "", 0
	for {
		a := do(t, s, token, "GET", "/crm/v3/lists/"+l+"/memberships?limit=100&after="+after, nil)
		if a.status != 200 {
			t.Fatalf("page: %s", a.raw)
		}
		pages++
		for _, r := range a.body["results"].([]any) {
			seen[r.(map[string]any)["recordId"].(string)] = true
		}
		next, ok := a.body["paging"].(map[string]any)
		if !ok {
			break
		}
		after = next["next"].(map[string]any)["after"].(string)
	}
	if pages != 3 || len(seen) != 250 {
		t.Fatalf("%d pages, %d members; want 3, 250", pages, len(seen))
	}
}

func TestSlidingWindow(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	s := newServer(t, Options{Now: clk.now})
	get := func() answer { return do(t, s, token, "GET", "/crm/v3/properties/contacts", nil) }
	// 100 requests, then 90 five seconds later: 190 in the window.
	for i := range 190 {
		if i == 100 {
			clk.advance(5 * time.Second)
		}
		if a := get(); a.status != 200 {
			t.Fatalf("request %d: %d", i+1, a.status)
		}
	}
	a := get()
	if a.status != 429 || a.body["policyName"] != "TEN_SECONDLY_ROLLING" || a.body["errorType"] != "RATE_LIMIT" ||
		a.body["message"] != "You have reached your ten_secondly_rolling limit." {
		t.Fatalf("191st: %d %s", a.status, a.raw)
	}
	for h, want := range map[string]string{"X-HubSpot-RateLimit-Max": "190", "X-HubSpot-RateLimit-Remaining": "0",
		"X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Daily": "650000",
		"X-HubSpot-RateLimit-Daily-Remaining": "649810", "Retry-After": ""} {
		if got := a.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	// A fixed 10 s bucket would reset here; the sliding window still holds
	// the 90 later requests and frees exactly the 100 older ones.
	clk.advance(5 * time.Second)
	for i := range 100 {
		if a := get(); a.status != 200 {
			t.Fatalf("after the first 100 left the window, request %d: %d", i+1, a.status)
		}
	}
	if a := get(); a.status != 429 {
		t.Fatalf("window should be full again: %d", a.status)
	}
	clk.advance(5 * time.Second)
	a = get()
	if a.status != 200 || a.header.Get("X-HubSpot-RateLimit-Remaining") != "89" {
		t.Fatalf("recovered: %d remaining %s", a.status, a.header.Get("X-HubSpot-RateLimit-Remaining"))
	}
	if st := s.Stats(); st.Throttled != 2 || st.Failed429 != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDailyLimit(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 7, 23, 59, 0, 0, time.UTC)}
	s := newServer(t, Options{Now: clk.now, Daily: 3, TenSecondly: -1})
	for i := range 3 {
		if a := do(t, s, token, "GET", "/crm/v3/properties/contacts", nil); a.status != 200 || a.header.Get("X-HubSpot-RateLimit-Daily-Remaining") != fmt.Sprint(2-i) {
			t.Fatalf("request %d: %d %v", i, a.status, a.header)
		}
	}
	a := do(t, s, token, "GET", "/crm/v3/properties/contacts", nil)
	if a.status != 429 || a.body["policyName"] != "DAILY" || a.header.Get("X-HubSpot-RateLimit-Max") != "" {
		t.Fatalf("4th: %d %s", a.status, a.raw)
	}
	clk.advance(time.Minute)
	if a := do(t, s, token, "GET", "/crm/v3/properties/contacts", nil); a.status != 200 {
		t.Fatalf("next day: %d", a.status)
	}
}

func TestFailRequestsAndLog(t *testing.T) {
	var logged []string
	var mu sync.Mutex
	s := newServer(t, Options{OnRequest: func(method, endpoint string, status int) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf("%s %s %d", method, endpoint, status))
	}})
	listID := s.CreateList("l", "MANUAL")
	s.FailRequests(429, 2)
	a := do(t, s, token, "GET", "/crm/v3/lists/"+listID, nil)
	if a.status != 429 || a.body["policyName"] != "TEN_SECONDLY_ROLLING" || a.header.Get("X-HubSpot-RateLimit-Remaining") != "0" {
		t.Fatalf("injected 429: %d %s", a.status, a.raw)
	}
	do(t, s, token, "GET", "/crm/v3/lists/object-type-id/0-1/name/secret@example.com", nil)
	s.Fail(503, 1)
	if a := do(t, s, token, "GET", "/crm/v3/lists/"+listID, nil); a.status != 503 {
		t.Fatalf("injected 503: %d", a.status)
	}
	if a := do(t, s, token, "GET", "/crm/v3/lists/"+listID, nil); a.status != 200 {
		t.Fatalf("recovered: %d", a.status)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET /crm/v3/lists/{listId} 429", "GET /crm/v3/lists/object-type-id/{objectTypeId}/name/{name} 429",
		"GET /crm/v3/lists/{listId} 503", "GET /crm/v3/lists/{listId} 200"}
	if fmt.Sprint(logged) != fmt.Sprint(want) {
		t.Fatalf("logged %q, want %q", logged, want)
	}
	reqs := s.Requests()
	if len(reqs) != 4 || reqs[1].Endpoint != "/crm/v3/lists/object-type-id/{objectTypeId}/name/{name}" || reqs[0].Time.IsZero() {
		t.Fatalf("requests %+v", reqs)
	}
	if st := s.Stats(); st.Failed429 != 2 || st.Throttled != 0 {
		t.Fatalf("stats %+v", st)
	}
	resp, err := http.Get(s.URL + "/_fake/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil || state["status_429"] != float64(2) {
		t.Fatalf("state %v %v", state, err)
	}
}

func TestBatchArchive(t *testing.T) {
	s := newServer(t, Options{})
	do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": inputs(3)})
	c0, _ := s.ContactByEmail("p0@example.com")
	c1, _ := s.ContactByEmail("p1@example.com")
	l := s.CreateList("members", "MANUAL")
	do(t, s, token, "PUT", "/crm/v3/lists/"+l+"/memberships/add", []string{c0.ID, c1.ID})
	id := func(ids ...string) map[string]any {
		in := []map[string]string{}
		for _, x := range ids {
			in = append(in, map[string]string{"id": x})
		}
		return map[string]any{"inputs": in}
	}
	cases := []struct {
		name     string
		body     any
		want     int
		archived int // total so far
	}{
		{"one contact", id(c0.ID), 204, 1},
		{"already archived and unknown ids", id(c0.ID, "999999"), 204, 1},
		{"no inputs", map[string]any{}, 400, 1},
		{"too many inputs", id(strings.Split(strings.Repeat("1,", MaxBatch+1), ",")[:MaxBatch+1]...), 400, 1},
		{"second contact", id(c1.ID), 204, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/archive", tc.body)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if got := s.Stats().Archived; got != tc.archived {
				t.Fatalf("%d archived, want %d", got, tc.archived)
			}
		})
	}
	if _, ok := s.ContactByEmail("p0@example.com"); ok || len(s.Contacts()) != 1 {
		t.Fatalf("archived contact still readable (%d contacts)", len(s.Contacts()))
	}
	if m := s.ListMembers(l); len(m) != 0 {
		t.Fatalf("archived contacts still list members: %v", m)
	}
	r := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/read", map[string]any{"idProperty": "email", "inputs": []map[string]string{{"id": "p0@example.com"}}})
	if r.status != 207 {
		t.Fatalf("batch read of an archived contact: %d %s", r.status, r.raw)
	}
	// Unlike a GDPR deletion, the address can come back as a new contact.
	if s.Blocked("p0@example.com") || len(s.GDPRDeletions()) != 0 {
		t.Fatal("archive block-listed the e-mail")
	}
	up := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": []any{input(0, "p0@example.com")}})
	if c, ok := s.ContactByEmail("p0@example.com"); up.status != 200 || !ok || c.ID == c0.ID {
		t.Fatalf("re-creating an archived address: %d %s", up.status, up.raw)
	}
}

func TestRejectEmails(t *testing.T) {
	s := newServer(t, Options{})
	s.RejectEmails("refused for the test", "P1@example.com", "p2@example.com")
	up := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": inputs(3)})
	if up.status != 207 || up.body["numErrors"] != float64(2) || len(up.body["results"].([]any)) != 1 {
		t.Fatalf("upsert with two rejected inputs: %d %s", up.status, up.raw)
	}
	traces := map[any]bool{}
	for _, e := range up.body["errors"].([]any) {
		e := e.(map[string]any)
		if e["message"] != "refused for the test" {
			t.Errorf("message %v", e["message"])
		}
		traces[e["context"].(map[string]any)["objectWriteTraceId"].([]any)[0]] = true
	}
	if !traces["t1"] || !traces["t2"] {
		t.Fatalf("failed inputs %v, want t1 and t2", traces)
	}
	s.RejectEmails("", "p1@example.com", "p2@example.com")
	if up := do(t, s, token, "POST", "/crm/v3/objects/contacts/batch/upsert", map[string]any{"inputs": inputs(3)}); up.status != 200 || len(s.Contacts()) != 3 {
		t.Fatalf("after lifting the rejections: %d %s", up.status, up.raw)
	}
}
