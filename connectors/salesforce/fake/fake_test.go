package fake

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
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

const (
	clientID     = "3MVG9-test-consumer-key"
	clientSecret = "test-consumer-secret"
	username     = "integration@example.com"
	v            = "/services/data/v62.0"
)

// clock is a settable time for expiring sessions and assertions.
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
	raw    string
	obj    map[string]any
	arr    []any
}

// first returns the first element of an error array.
func (a answer) first() map[string]any {
	if len(a.arr) == 0 {
		return map[string]any{}
	}
	m, _ := a.arr[0].(map[string]any)
	return m
}

func send(t *testing.T, s *Server, tok, method, path, ctype string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.obj)
	_ = json.Unmarshal(raw, &a.arr)
	return a
}

func do(t *testing.T, s *Server, tok, method, path string, body any) answer {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	return send(t, s, tok, method, path, "application/json", b)
}

func form(t *testing.T, s *Server, vals url.Values) answer {
	t.Helper()
	return send(t, s, "", "POST", "/services/oauth2/token", "application/x-www-form-urlencoded", []byte(vals.Encode()))
}

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = clientID, clientSecret
	}
	opts.Objects = append(opts.Objects, Object{Name: "Contact", Fields: []Field{ExternalIDField("External_Id__c")}},
		Object{Name: "Lead", Fields: []Field{ExternalIDField("External_Id__c")}})
	return New(t, opts)
}

// login gets a session by client credentials.
func login(t *testing.T, s *Server) string {
	t.Helper()
	a := form(t, s, url.Values{"grant_type": {GrantClientCredentials}, "client_id": {clientID}, "client_secret": {clientSecret}})
	if a.status != 200 {
		t.Fatalf("login: %d %s", a.status, a.raw)
	}
	return a.obj["access_token"].(string)
}

func signJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	head := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(head))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestToken(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := newServer(t, Options{JWTPublicKey: &key.PublicKey, Username: username, Now: clk.now})
	exp := clk.now().Add(2 * time.Minute).Unix()
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"iss": clientID, "sub": username, "aud": "https://login.salesforce.com", "exp": exp}
		if mod != nil {
			mod(c)
		}
		return c
	}
	jwt := func(k *rsa.PrivateKey, mod func(map[string]any)) url.Values {
		return url.Values{"grant_type": {GrantJWTBearer}, "assertion": {signJWT(t, k, "RS256", claims(mod))}}
	}
	cases := []struct {
		name  string
		vals  url.Values
		basic bool
		want  string // "" for success, else the error code
	}{
		{"client credentials in the form", url.Values{"grant_type": {GrantClientCredentials}, "client_id": {clientID}, "client_secret": {clientSecret}}, false, ""},
		{"client credentials by basic auth", url.Values{"grant_type": {GrantClientCredentials}}, true, ""},
		{"wrong secret", url.Values{"grant_type": {GrantClientCredentials}, "client_id": {clientID}, "client_secret": {"nope"}}, false, "invalid_client"},
		{"unknown client", url.Values{"grant_type": {GrantClientCredentials}, "client_id": {"x"}, "client_secret": {clientSecret}}, false, "invalid_client_id"},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, false, "unsupported_grant_type"},
		{"jwt", jwt(key, nil), false, ""},
		{"jwt aud array with the fake's URL", jwt(key, func(c map[string]any) { c["aud"] = []string{s.URL} }), false, ""},
		{"jwt other key", jwt(other, nil), false, "invalid_grant"},
		{"jwt wrong issuer", jwt(key, func(c map[string]any) { c["iss"] = "someone" }), false, "invalid_client_id"},
		{"jwt wrong subject", jwt(key, func(c map[string]any) { c["sub"] = "x@example.com" }), false, "invalid_grant"},
		{"jwt wrong audience", jwt(key, func(c map[string]any) { c["aud"] = "https://evil.example.com" }), false, "invalid_grant"},
		{"jwt expired", jwt(key, func(c map[string]any) { c["exp"] = clk.now().Add(-time.Second).Unix() }), false, "invalid_grant"},
		{"jwt exp too far", jwt(key, func(c map[string]any) { c["exp"] = clk.now().Add(10 * time.Minute).Unix() }), false, "invalid_grant"},
		{"jwt HS256", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {signJWT(t, key, "HS256", claims(nil))}}, false, "invalid_grant"},
		{"jwt garbage", url.Values{"grant_type": {GrantJWTBearer}, "assertion": {"a.b"}}, false, "invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL+"/services/oauth2/token", strings.NewReader(tc.vals.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basic {
				req.SetBasicAuth(clientID, clientSecret)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if tc.want != "" {
				if resp.StatusCode != 400 || body["error"] != tc.want || body["error_description"] == "" {
					t.Fatalf("%d %v, want 400 %s", resp.StatusCode, body, tc.want)
				}
				return
			}
			if resp.StatusCode != 200 || body["instance_url"] != s.URL || body["token_type"] != "Bearer" || body["access_token"] == "" ||
				body["issued_at"] == "" || body["signature"] == "" || !strings.HasPrefix(body["id"].(string), s.URL+"/id/00D") {
				t.Fatalf("%d %v", resp.StatusCode, body)
			}
			a := do(t, s, body["access_token"].(string), "GET", v+"/sobjects/Contact/describe", nil)
			if a.status != 200 {
				t.Fatalf("the new session is refused: %d %s", a.status, a.raw)
			}
		})
	}
	if st := s.Stats(); st.APIUsage != 4 {
		t.Fatalf("api usage %d: only the describe calls count, not the token endpoint", st.APIUsage)
	}
}

func TestSessions(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := newServer(t, Options{TokenTTL: time.Hour, Now: clk.now})
	tok := login(t, s)
	cases := []struct {
		name string
		tok  string
		step func()
		want int
	}{
		{"valid", tok, nil, 200},
		{"no token", "", nil, 401},
		{"unknown token", "00Dxx!nope", nil, 401},
		{"before the TTL", tok, func() { clk.advance(59 * time.Minute) }, 200},
		{"after the TTL", tok, func() { clk.advance(2 * time.Minute) }, 401},
		{"ExpireTokens", login(t, s), func() { s.ExpireTokens() }, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.step != nil {
				tc.step()
			}
			a := do(t, s, tc.tok, "GET", v+"/limits", nil)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if tc.want == 401 && (a.first()["errorCode"] != "INVALID_SESSION_ID" || a.first()["message"] != "Session expired or invalid") {
				t.Fatalf("body %s", a.raw)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	s := newServer(t, Options{MinVersion: 50, MaxVersion: 60})
	tok := login(t, s)
	cases := []struct {
		path string
		want int
	}{
		{"/services/data/v60.0/limits", 200},
		{"/services/data/v50.0/limits", 200},
		{"/services/data/v61.0/limits", 404},
		{"/services/data/v49.0/limits", 404},
		{"/services/data/v55.5/limits", 404},
		{"/services/data/latest/limits", 404},
		{"/services/data/v55.0/nothing", 404},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			a := do(t, s, tok, "GET", tc.path, nil)
			if a.status != tc.want {
				t.Fatalf("status %d, want %d: %s", a.status, tc.want, a.raw)
			}
			if tc.want == 404 && (a.first()["errorCode"] != "NOT_FOUND" || a.first()["message"] != "The requested resource does not exist") {
				t.Fatalf("body %s", a.raw)
			}
		})
	}
	before := s.Stats().APIUsage
	a := do(t, s, "", "GET", "/services/data/", nil)
	if a.status != 200 || len(a.arr) != 11 || a.arr[10].(map[string]any)["url"] != "/services/data/v60.0" {
		t.Fatalf("versions: %d %s", a.status, a.raw)
	}
	if s.Stats().APIUsage != before {
		t.Fatal("the Versions resource counted against the limit")
	}
}

func TestDescribe(t *testing.T) {
	s := newServer(t, Options{Objects: []Object{{Name: "Member__c", Fields: []Field{{Name: "Code__c", Type: "string", Length: 20, Required: true}}}}})
	tok := login(t, s)
	type want struct{ required, extID, idLookup, unique, createable, updateable bool }
	cases := []struct {
		object, field string
		want          want
		prefix        string
	}{
		{"Contact", "LastName", want{required: true, createable: true, updateable: true}, "003"},
		{"Contact", "Email", want{idLookup: true, createable: true, updateable: true}, "003"},
		{"contact", "External_Id__c", want{extID: true, idLookup: true, unique: true, createable: true, updateable: true}, "003"},
		{"Contact", "Id", want{idLookup: true}, "003"},
		{"Lead", "Company", want{required: true, createable: true, updateable: true}, "00Q"},
		{"Campaign", "Name", want{required: true, createable: true, updateable: true}, "701"},
		{"CampaignMember", "ContactId", want{createable: true}, "00v"},
		{"Member__c", "Code__c", want{required: true, createable: true, updateable: true}, "a01"},
	}
	for _, tc := range cases {
		t.Run(tc.object+"."+tc.field, func(t *testing.T) {
			a := do(t, s, tok, "GET", v+"/sobjects/"+tc.object+"/describe", nil)
			if a.status != 200 || a.obj["keyPrefix"] != tc.prefix {
				t.Fatalf("%d %.300s", a.status, a.raw)
			}
			for _, f := range a.obj["fields"].([]any) {
				f := f.(map[string]any)
				if f["name"] != tc.field {
					continue
				}
				got := want{required: f["nillable"] == false && f["defaultedOnCreate"] == false && f["createable"] == true,
					extID: f["externalIdField"] == true, idLookup: f["idLookup"] == true, unique: f["unique"] == true,
					createable: f["createable"] == true, updateable: f["updateable"] == true}
				if got != tc.want {
					t.Fatalf("%+v, want %+v (%v)", got, tc.want, f)
				}
				return
			}
			t.Fatalf("no field %s", tc.field)
		})
	}
	if a := do(t, s, tok, "GET", v+"/sobjects/Nope/describe", nil); a.status != 404 || a.first()["errorCode"] != "NOT_FOUND" {
		t.Fatalf("unknown object: %d %s", a.status, a.raw)
	}
}

func contact(ext, last, email string) map[string]any {
	r := map[string]any{"attributes": map[string]any{"type": "Contact"}, "External_Id__c": ext}
	if last != "" {
		r["LastName"] = last
	}
	if email != "" {
		r["Email"] = email
	}
	return r
}

func contacts(n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = contact(fmt.Sprint("k", i), fmt.Sprint("L", i), fmt.Sprintf("p%d@example.com", i))
	}
	return out
}

func TestUpsert(t *testing.T) {
	with := func(n int, mods map[int]map[string]any) []map[string]any {
		recs := contacts(n)
		for i, m := range mods {
			for k, val := range m {
				if val == nil {
					delete(recs[i], k)
				} else {
					recs[i][k] = val
				}
			}
		}
		return recs
	}
	cases := []struct {
		name      string
		path      string
		allOrNone bool
		records   []map[string]any
		setup     func(s *Server)
		status    int
		code      string         // whole-call error code, or nil
		failed    map[int]string // index → per-record statusCode
		contacts  int
	}{
		{"200 created", "/Contact/External_Id__c", false, contacts(200), nil, 200, "", nil, 200},
		{"201 records", "/Contact/External_Id__c", false, contacts(201), nil, 400, "EXCEEDED_ID_LIMIT", nil, 0},
		{"last name missing", "/Contact/External_Id__c", false, with(3, map[int]map[string]any{1: {"LastName": nil}}), nil, 200, "", map[int]string{1: "REQUIRED_FIELD_MISSING"}, 2},
		{"invalid e-mail", "/Contact/External_Id__c", false, with(3, map[int]map[string]any{2: {"Email": "nope@"}}), nil, 200, "", map[int]string{2: "INVALID_EMAIL_ADDRESS"}, 2},
		{"same key twice", "/Contact/External_Id__c", false, with(3, map[int]map[string]any{2: {"External_Id__c": "k0"}}), nil, 200, "", map[int]string{0: "DUPLICATE_EXTERNAL_ID", 2: "DUPLICATE_EXTERNAL_ID"}, 1},
		{"same key twice, case aside", "/Contact/External_Id__c", false, with(3, map[int]map[string]any{2: {"External_Id__c": "K0"}}), nil, 200, "", map[int]string{0: "DUPLICATE_EXTERNAL_ID", 2: "DUPLICATE_EXTERNAL_ID"}, 1},
		{"unknown field fails the call", "/Contact/External_Id__c", false, with(3, map[int]map[string]any{1: {"Shoe__c": "42"}}), nil, 400, "INVALID_FIELD", nil, 0},
		{"not an external id", "/Contact/LastName", false, contacts(2), nil, 400, "INVALID_FIELD", nil, 0},
		{"no such external id field", "/Contact/Nope__c", false, contacts(2), nil, 404, "NOT_FOUND", nil, 0},
		{"wrong attributes.type", "/Contact/External_Id__c", false, with(2, map[int]map[string]any{1: {"attributes": map[string]any{"type": "Lead"}}}), nil, 400, "INVALID_TYPE", nil, 0},
		{"boolean as text", "/Contact/External_Id__c", false, with(2, map[int]map[string]any{1: {"HasOptedOutOfEmail": "maybe"}}), nil, 400, "JSON_PARSER_ERROR", nil, 0},
		{"allOrNone rolls back", "/Contact/External_Id__c", true, with(3, map[int]map[string]any{1: {"Email": "bad"}}), nil, 200, "", map[int]string{0: "ALL_OR_NONE_OPERATION_ROLLED_BACK", 1: "INVALID_EMAIL_ADDRESS", 2: "ALL_OR_NONE_OPERATION_ROLLED_BACK"}, 0},
		{"allOrNone all valid", "/Contact/External_Id__c", true, contacts(3), nil, 200, "", nil, 3},
		{"locked rows", "/Contact/External_Id__c", false, contacts(4), func(s *Server) { s.LockRows(2) }, 200, "", map[int]string{0: "UNABLE_TO_LOCK_ROW", 1: "UNABLE_TO_LOCK_ROW"}, 2},
		{"rejected keys", "/Contact/External_Id__c", false, contacts(4), func(s *Server) { s.RejectExternalIDs("k3") }, 200, "", map[int]string{3: "FIELD_CUSTOM_VALIDATION_EXCEPTION"}, 3},
		{"lead needs company", "/Lead/External_Id__c", false, []map[string]any{{"attributes": map[string]any{"type": "Lead"}, "External_Id__c": "x", "LastName": "L"}}, nil, 200, "", map[int]string{0: "REQUIRED_FIELD_MISSING"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{})
			tok := login(t, s)
			if tc.setup != nil {
				tc.setup(s)
			}
			a := do(t, s, tok, "PATCH", v+"/composite/sobjects"+tc.path, map[string]any{"allOrNone": tc.allOrNone, "records": tc.records})
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", a.status, tc.status, a.raw)
			}
			if got := len(s.Records("Contact")); got != tc.contacts {
				t.Fatalf("%d contacts, want %d", got, tc.contacts)
			}
			if tc.code != "" {
				if a.first()["errorCode"] != tc.code || a.first()["message"] == "" {
					t.Fatalf("body %s", a.raw)
				}
				return
			}
			if len(a.arr) != len(tc.records) {
				t.Fatalf("%d results for %d records", len(a.arr), len(tc.records))
			}
			for i, r := range a.arr {
				r := r.(map[string]any)
				code, failed := tc.failed[i]
				if !failed {
					if r["success"] != true || r["created"] != true || !strings.HasPrefix(r["id"].(string), "003") || len(r["id"].(string)) != 18 {
						t.Fatalf("result %d: %v", i, r)
					}
					continue
				}
				errs := r["errors"].([]any)
				if r["success"] != false || r["id"] != nil || len(errs) != 1 || errs[0].(map[string]any)["statusCode"] != code {
					t.Fatalf("result %d: %v, want %s", i, r, code)
				}
			}
		})
	}
}

func TestUpsertUpdates(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	path := v + "/composite/sobjects/Contact/External_Id__c"
	first := do(t, s, tok, "PATCH", path, map[string]any{"records": contacts(2)})
	id0 := first.arr[0].(map[string]any)["id"]
	update := contact("K0", "", "new@example.com") // a unique text field matches case-insensitively
	update["FirstName"] = "Ann"
	clear := contact("k1", "", "")
	clear["LastName"] = nil
	a := do(t, s, tok, "PATCH", path, map[string]any{"records": []any{update, clear}})
	r0, r1 := a.arr[0].(map[string]any), a.arr[1].(map[string]any)
	if r0["success"] != true || r0["created"] != false || r0["id"] != id0 {
		t.Fatalf("update: %v", r0)
	}
	if r1["success"] != false || r1["errors"].([]any)[0].(map[string]any)["statusCode"] != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("clearing a required field: %v", r1)
	}
	got := s.Records("Contact")[0]
	if got["Email"] != "new@example.com" || got["LastName"] != "L0" || got["FirstName"] != "Ann" {
		t.Fatalf("record after update: %v", got)
	}
}

func TestQuery(t *testing.T) {
	s := newServer(t, Options{QueryPageSize: 3})
	tok := login(t, s)
	recs := contacts(7)
	recs[2]["LastName"] = "O'Brien"
	do(t, s, tok, "PATCH", v+"/composite/sobjects/Contact/External_Id__c", map[string]any{"records": recs})
	id0 := s.Records("Contact")[0]["Id"].(string)
	cases := []struct {
		name  string
		soql  string
		total int
		code  string
	}{
		{"all", "SELECT Id, External_Id__c FROM Contact", 7, ""},
		{"equals", "SELECT Id FROM Contact WHERE External_Id__c = 'k3'", 1, ""},
		{"case-insensitive", "select id from contact where email = 'P3@EXAMPLE.COM'", 1, ""},
		{"escaped quote", `SELECT Id FROM Contact WHERE LastName = 'O\'Brien'`, 1, ""},
		{"in", "SELECT Id FROM Contact WHERE External_Id__c IN ('k1','k2', 'k9')", 2, ""},
		{"in and", "SELECT Id FROM Contact WHERE External_Id__c IN ('k1','k2') AND LastName = 'L1'", 1, ""},
		{"not in", "SELECT Id FROM Contact WHERE External_Id__c NOT IN ('k1','k2')", 5, ""},
		{"15-char id", "SELECT Id FROM Contact WHERE Id = '" + id0[:15] + "'", 1, ""},
		{"null", "SELECT Id FROM Contact WHERE FirstName = null", 7, ""},
		{"limit", "SELECT Id FROM Contact LIMIT 2", 2, ""},
		{"unknown field", "SELECT Shoe__c FROM Contact", 0, "INVALID_FIELD"},
		{"unknown object", "SELECT Id FROM Nope", 0, "INVALID_TYPE"},
		{"order by", "SELECT Id FROM Contact ORDER BY Id", 0, "MALFORMED_QUERY"},
		{"like", "SELECT Id FROM Contact WHERE Email LIKE 'p%'", 0, "MALFORMED_QUERY"},
		{"bad escape", `SELECT Id FROM Contact WHERE LastName = 'a\qb'`, 0, "MALFORMED_QUERY"},
		{"unterminated", "SELECT Id FROM Contact WHERE LastName = 'a", 0, "MALFORMED_QUERY"},
		{"relationship", "SELECT Account.Name FROM Contact", 0, "MALFORMED_QUERY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, tok, "GET", v+"/query?q="+url.QueryEscape(tc.soql), nil)
			if tc.code != "" {
				if a.status != 400 || a.first()["errorCode"] != tc.code {
					t.Fatalf("%d %s, want 400 %s", a.status, a.raw, tc.code)
				}
				return
			}
			if a.status != 200 || a.obj["totalSize"] != float64(tc.total) {
				t.Fatalf("%d %s, want %d records", a.status, a.raw, tc.total)
			}
			n := len(a.obj["records"].([]any))
			for a.obj["done"] == false {
				next := a.obj["nextRecordsUrl"].(string)
				if !strings.HasPrefix(next, v+"/query/01g") {
					t.Fatalf("nextRecordsUrl %s", next)
				}
				a = do(t, s, tok, "GET", next, nil)
				n += len(a.obj["records"].([]any))
			}
			if n != tc.total {
				t.Fatalf("%d records over the pages, want %d", n, tc.total)
			}
		})
	}
	rec := do(t, s, tok, "GET", v+"/query?q="+url.QueryEscape("SELECT Id, Email FROM Contact WHERE External_Id__c = 'k0'"), nil).obj["records"].([]any)[0].(map[string]any)
	if rec["Email"] != "p0@example.com" || rec["attributes"].(map[string]any)["type"] != "Contact" || rec["Id"] != id0 {
		t.Fatalf("record %v", rec)
	}
	if a := do(t, s, tok, "GET", v+"/query/01gnope-3", nil); a.status != 400 || a.first()["errorCode"] != "INVALID_QUERY_LOCATOR" {
		t.Fatalf("unknown locator: %d %s", a.status, a.raw)
	}
}

func TestURILimit(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	keys := make([]string, 2000)
	for i := range keys {
		keys[i] = fmt.Sprintf("'key-%05d'", i)
	}
	q := "SELECT Id FROM Contact WHERE External_Id__c IN (" + strings.Join(keys, ",") + ")"
	a := do(t, s, tok, "GET", v+"/query?q="+url.QueryEscape(q), nil)
	if a.status != http.StatusRequestURITooLong || a.first()["errorCode"] != "URI_TOO_LONG" {
		t.Fatalf("%d %.200s", a.status, a.raw)
	}
	if len(s.Violations()) != 1 {
		t.Fatalf("violations %v", s.Violations())
	}
}
