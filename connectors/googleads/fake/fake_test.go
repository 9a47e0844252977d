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
	"testing"
	"time"
)

const (
	token   = "ya29.test"
	account = "1234567890"
	list    = "777"
)

func newServer(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Tokens = append(opts.Tokens, token)
	if opts.Accounts == nil {
		opts.Accounts = map[string][]string{account: {list}}
	}
	return New(t, opts)
}

// post sends a JSON body and returns the status and decoded answer.
func post(t *testing.T, s *Server, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer is not JSON: %s", b)
	}
	return resp.StatusCode, out
}

// body builds an ingest request around members (JSON), with the request's
// other parts replaced by extra when given.
func body(members string, extra ...string) string {
	parts := map[string]string{
		"destinations":   fmt.Sprintf(`[{"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": %q}, "productDestinationId": %q}]`, account, list),
		"encoding":       `"HEX"`,
		"termsOfService": `{"customerMatchTermsOfServiceStatus": "ACCEPTED"}`,
		"consent":        `{"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_DENIED"}`,
	}
	for _, e := range extra {
		k, v, _ := strings.Cut(e, "=")
		parts[k] = v
	}
	var b strings.Builder
	b.WriteString(`{"audienceMembers": ` + members)
	for _, k := range []string{"destinations", "encoding", "termsOfService", "consent"} {
		if parts[k] != "" {
			fmt.Fprintf(&b, ", %q: %s", k, parts[k])
		}
	}
	for k, v := range parts {
		if k != "destinations" && k != "encoding" && k != "termsOfService" && k != "consent" && v != "" {
			fmt.Fprintf(&b, ", %q: %s", k, v)
		}
	}
	return b.String() + "}"
}

func email(h string) string {
	return `[{"userData": {"userIdentifiers": [{"emailAddress": "` + h + `"}]}}]`
}

func TestIngestRules(t *testing.T) {
	ok := email(HashEmail("ann@example.com"))
	many := func(n int) string {
		var ms []string
		for i := range n {
			ms = append(ms, `{"userData": {"userIdentifiers": [{"emailAddress": "`+Hash(fmt.Sprint(i))+`"}]}}`)
		}
		return "[" + strings.Join(ms, ",") + "]"
	}
	ids := func(n int) string {
		var is []string
		for i := range n {
			is = append(is, `{"emailAddress": "`+Hash(fmt.Sprint(i))+`"}`)
		}
		return `[{"userData": {"userIdentifiers": [` + strings.Join(is, ",") + `]}}]`
	}
	addr := func(a string) string { return `[{"userData": {"userIdentifiers": [{"address": ` + a + `}]}}]` }
	g, f := Hash("ann"), Hash("lee")
	cases := []struct {
		name        string
		body        string
		status      int
		violation   string // part of the rule counted; "" for none
		needsSchema bool
	}{
		{"a valid member", body(ok), 200, "", false},
		{"10,000 members", body(many(10000)), 200, "", false},
		{"10,001 members", body(many(10001)), 400, "more than the 10000", false},
		{"no member", body("[]"), 400, "at least one member", false},
		{"10 identifiers", body(ids(10)), 200, "", false},
		{"11 identifiers", body(ids(11)), 400, "11 identifiers", false},
		{"an e-mail in clear", body(email("ann@example.com")), 400, "not a SHA-256 hash", false},
		{"an upper-case hash", body(email(strings.ToUpper(HashEmail("ann@example.com")))), 400, "not a SHA-256 hash", false},
		{"no terms of service", body(ok, "termsOfService="), 400, "terms of service", false},
		{"terms rejected", body(ok, `termsOfService={"customerMatchTermsOfServiceStatus": "REJECTED"}`), 400, "terms of service", false},
		{"base64", body(ok, `encoding="BASE64"`), 400, "HEX encoded", false},
		{"no consent", body(ok, "consent="), 400, "consent for ad user data", false},
		{"consent denied", body(ok, `consent={"adUserData": "CONSENT_DENIED"}`), 400, "without ad user data consent", false},
		{"member consent wins", body(`[{"userData": {"userIdentifiers": [{"emailAddress": "`+g+`"}]}, "consent": {"adUserData": "CONSENT_GRANTED"}}]`, "consent="), 200, "", false},
		{"a full address", body(addr(`{"givenName": "` + g + `", "familyName": "` + f + `", "regionCode": "FR", "postalCode": "75011"}`)), 200, "", false},
		{"an address without postal code", body(addr(`{"givenName": "` + g + `", "familyName": "` + f + `", "regionCode": "FR"}`)), 400, "all required", false},
		{"a hashed postal code", body(addr(`{"givenName": "` + g + `", "familyName": "` + f + `", "regionCode": "FR", "postalCode": "` + Hash("75011") + `"}`)), 400, "in clear", false},
		{"a lower-case region", body(addr(`{"givenName": "` + g + `", "familyName": "` + f + `", "regionCode": "fr", "postalCode": "75011"}`)), 400, "region_code", false},
		{"names in clear", body(addr(`{"givenName": "ann", "familyName": "lee", "regionCode": "FR", "postalCode": "75011"}`)), 400, "given_name", false},
		{"two identifiers in one", body(`[{"userData": {"userIdentifiers": [{"emailAddress": "` + g + `", "phoneNumber": "` + f + `"}]}}]`), 400, "exactly one", false},
		{"a dashed account id", body(ok, `destinations=[{"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "123-456-7890"}, "productDestinationId": "777"}]`), 400, "digits only", false},
		{"an unknown field", body(ok, `hashedEmails=["x"]`), 400, `Unknown name "hashedEmails"`, true},
		{"an unknown enum value", body(ok, `encoding="HEXADECIMAL"`), 400, "(enum)", true},
		{"a wrong type", body(ok, `validateOnly="yes"`), 400, "TYPE_BOOL", true},
		{"a snake_case name Google takes", body(ok, `validate_only=true`), 200, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, Options{})
			if c.needsSchema && !s.CheckedAgainstDiscovery() {
				t.Skip("the discovery document of google.golang.org/api is not in the module cache")
			}
			status, ans := post(t, s, "/v1/audienceMembers:ingest", c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %v", status, c.status, ans)
			}
			v := s.Violations()
			switch {
			case c.violation == "" && len(v) > 0:
				t.Errorf("violations: %+v", v)
			case c.violation != "" && (len(v) == 0 || !strings.Contains(v[0].Rule, c.violation)):
				t.Errorf("violations %+v, want one saying %q", v, c.violation)
			}
			if status != 200 {
				e, _ := ans["error"].(map[string]any)
				if e == nil || e["status"] == "" || e["code"] == nil || e["message"] == "" {
					t.Errorf("not a google.rpc.Status document: %v", ans)
				}
			}
		})
	}
}

// TestHashVariants: hashes of a registered person in a form other than
// Google's are counted, though Google would take them (and match no one).
func TestHashVariants(t *testing.T) {
	jane := Identity{Email: "Jane.Doe+promo@gmail.com", Phone: "06 12 34 56 78", Region: "FR", FirstName: "Jane", LastName: "Doe"}
	cases := []struct {
		name, member, violation string
	}{
		{"Google's form", email(Hash("janedoe@gmail.com")), ""},
		{"the Gmail rule not applied", email(Hash("jane.doe+promo@gmail.com")), "Gmail"},
		{"not lower-cased", email(Hash("Jane.Doe+promo@gmail.com")), "lower-casing"},
		{"hashed twice", email(Hash(Hash("janedoe@gmail.com"))), "hashed twice"},
		{"a phone in E.164", `[{"userData": {"userIdentifiers": [{"phoneNumber": "` + Hash("+33612345678") + `"}]}}]`, ""},
		{"a phone without its +", `[{"userData": {"userIdentifiers": [{"phoneNumber": "` + Hash("33612345678") + `"}]}}]`, "without the +"},
		{"a phone as written (national)", `[{"userData": {"userIdentifiers": [{"phoneNumber": "` + Hash("06 12 34 56 78") + `"}]}}]`, "national format"},
		{"a name not lower-cased", `[{"userData": {"userIdentifiers": [{"address": {"givenName": "` + Hash("Jane") + `", "familyName": "` + Hash("doe") + `", "regionCode": "FR", "postalCode": "1"}}]}}]`, "name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, Options{})
			s.Register(jane)
			if status, ans := post(t, s, "/v1/audienceMembers:ingest", body(c.member)); status != 200 {
				t.Fatalf("status %d: %v", status, ans)
			}
			v := s.Violations()
			if (c.violation == "") != (len(v) == 0) || (len(v) > 0 && !strings.Contains(v[0].Rule, c.violation)) {
				t.Errorf("violations %+v, want %q", v, c.violation)
			}
		})
	}
}

func TestMembersAndStatus(t *testing.T) {
	s := newServer(t, Options{ProcessingPolls: 1})
	s.Register(Identity{Email: "ann@example.com"})
	both := `[{"userData": {"userIdentifiers": [{"emailAddress": "` + HashEmail("ann@example.com") + `"}, {"phoneNumber": "` + Hash("+33612345678") + `"}]}}]`
	status, ans := post(t, s, "/v1/audienceMembers:ingest", body(both))
	if status != 200 || ans["requestId"] == "" {
		t.Fatalf("ingest: %d %v", status, ans)
	}
	id, _ := ans["requestId"].(string)
	m := s.Members(account, list)
	if len(m) != 1 || m[0].Known == nil || len(m[0].Phones) != 1 || m[0].AdPersonalization != "CONSENT_DENIED" {
		t.Fatalf("members: %+v", m)
	}
	for _, want := range []string{"PROCESSING", "SUCCESS"} {
		req, _ := http.NewRequest("GET", s.URL+"/v1/requestStatus:retrieve?requestId="+url.QueryEscape(id), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		_, st := do(t, req)
		per := st["requestStatusPerDestination"].([]any)[0].(map[string]any)
		if per["requestStatus"] != want {
			t.Errorf("status %v, want %s", per["requestStatus"], want)
		}
	}
	// Removed by the phone alone: the person is gone, e-mail and all.
	phone := `[{"userData": {"userIdentifiers": [{"phoneNumber": "` + Hash("+33612345678") + `"}]}}]`
	if status, ans := post(t, s, "/v1/audienceMembers:remove", body(phone, "termsOfService=", "consent=")); status != 200 {
		t.Fatalf("remove: %d %v", status, ans)
	}
	if m := s.Members(account, list); len(m) != 0 {
		t.Errorf("after the removal: %+v", m)
	}
	s.FailProcessing("PROCESSING_ERROR_REASON_INTERNAL_ERROR", 1)
	_, ans = post(t, s, "/v1/audienceMembers:ingest", body(both))
	if m := s.Members(account, list); len(m) != 0 {
		t.Errorf("a request failing in processing changes nothing: %+v", m)
	}
	if v := s.Violations(); len(v) > 0 {
		t.Errorf("violations: %+v", v)
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t, Options{PerMinute: 2, RetryDelay: 1500 * time.Millisecond})
	req, _ := http.NewRequest("POST", s.URL+"/v1/audienceMembers:ingest", strings.NewReader(body(email(Hash("x")))))
	status, ans := do(t, req)
	if e := ans["error"].(map[string]any); status != 401 || e["status"] != "UNAUTHENTICATED" {
		t.Errorf("without a token: %d %v", status, ans)
	}
	post(t, s, "/v1/audienceMembers:ingest", body(email(Hash("x"))))
	post(t, s, "/v1/audienceMembers:ingest", body(email(Hash("x"))))
	status, ans = post(t, s, "/v1/audienceMembers:ingest", body(email(Hash("x"))))
	if status != 429 || !strings.Contains(fmt.Sprint(ans), "RetryInfo") || !strings.Contains(fmt.Sprint(ans), "RESOURCE_EXHAUSTED") {
		t.Errorf("over the per-minute quota: %d %v", status, ans)
	}
	s.Fail(429, 1)
	_, ans = post(t, s, "/v1/audienceMembers:ingest", body(email(Hash("x"))))
	if !strings.Contains(fmt.Sprint(ans), "retryDelay:1.500s") {
		t.Errorf("an injected 429 carries the configured retryDelay: %v", ans)
	}
	status, _ = post(t, s, "/v1/nothing:here", "{}")
	if status != 404 {
		t.Errorf("unknown path: %d", status)
	}
}

// TestTokenEndpoint signs JWTs as google.golang.org's jwt package does.
func TestTokenEndpoint(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	const sa = "sa@test.iam.gserviceaccount.com"
	s := New(t, Options{ServiceAccounts: map[string]*rsa.PublicKey{sa: &key.PublicKey}, Accounts: map[string][]string{account: {list}}})
	now := time.Now().Unix()
	cases := []struct {
		name  string
		key   *rsa.PrivateKey
		iss   string
		scope string
		aud   string
		exp   int64
		ok    bool
	}{
		{"valid", key, sa, "https://www.googleapis.com/auth/datamanager", TokenURL(s.URL), now + 3600, true},
		{"signed by another key", other, sa, "https://www.googleapis.com/auth/datamanager", TokenURL(s.URL), now + 3600, false},
		{"unknown account", key, "who@x", "https://www.googleapis.com/auth/datamanager", TokenURL(s.URL), now + 3600, false},
		{"another scope", key, sa, "https://www.googleapis.com/auth/adwords", TokenURL(s.URL), now + 3600, false},
		{"another audience", key, sa, "https://www.googleapis.com/auth/datamanager", "https://oauth2.googleapis.com/token", now + 3600, false},
		{"expired", key, sa, "https://www.googleapis.com/auth/datamanager", TokenURL(s.URL), now - 10, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims, _ := json.Marshal(map[string]any{"iss": c.iss, "scope": c.scope, "aud": c.aud, "exp": c.exp, "iat": c.exp - 3600})
			signed := b64(`{"alg":"RS256","typ":"JWT"}`) + "." + b64(string(claims))
			sum := sha256.Sum256([]byte(signed))
			sig, _ := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, sum[:])
			form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {signed + "." + base64.RawURLEncoding.EncodeToString(sig)}}
			req, _ := http.NewRequest("POST", TokenURL(s.URL), bytes.NewBufferString(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			status, ans := do(t, req)
			if c.ok != (status == 200) {
				t.Fatalf("status %d: %v", status, ans)
			}
			if !c.ok {
				if ans["error"] != "invalid_grant" {
					t.Errorf("OAuth error document: %v", ans)
				}
				return
			}
			tok, _ := ans["access_token"].(string)
			api, _ := http.NewRequest("POST", s.URL+"/v1/audienceMembers:ingest", strings.NewReader(body(email(Hash("x")))))
			api.Header.Set("Authorization", "Bearer "+tok)
			if status, ans := do(t, api); status != 200 {
				t.Errorf("the token is taken: %d %v", status, ans)
			}
		})
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
