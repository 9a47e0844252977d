package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const token = "tok"

type answer struct {
	status int
	doc    map[string]any
}

func (a answer) code() int {
	e, _ := a.doc["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

func do(t *testing.T, s *Server, method, path, tok string, params url.Values) answer {
	t.Helper()
	var body io.Reader
	target := s.URL + path
	if method == http.MethodGet {
		target += "?" + params.Encode()
	} else {
		body = strings.NewReader(params.Encode())
	}
	req, _ := http.NewRequest(method, target, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return answer{resp.StatusCode, doc}
}

func users(schema []string, rows ...[]string) url.Values {
	b, _ := json.Marshal(map[string]any{"schema": schema, "data": rows})
	return url.Values{"payload": {string(b)}}
}

func withSession(v url.Values, id string, seq int, last bool, total int) url.Values {
	v.Set("session", fmt.Sprintf(`{"session_id":%s,"batch_seq":%d,"last_batch_flag":%t,"estimated_num_total":%d}`, id, seq, last, total))
	return v
}

func newServer(t *testing.T) (*Server, string) {
	s := New(t, Options{Token: token})
	s.Register(Person{Email: "Jane.Doe+x@gmail.com", Phone: "06 12 34 56 78", Region: "FR", FirstName: "Zoë", Country: "FR"})
	s.Register(Person{Email: "dana@example.com", PostalCode: "94105-1234", Country: "US"})
	return s, "/v25.0/" + s.CreateAudience("VIP") + "/users"
}

// TestHashJudgement: the expected hashes pass; each wrong variant of a
// registered identifier is a violation that names the mistake; a cell
// that is no hash at all is an invalid entry too.
func TestHashJudgement(t *testing.T) {
	cases := []struct {
		name    string
		key     string
		cell    string
		rule    string // "" for none
		invalid bool
	}{
		{"e-mail as Meta wants it (dots and +suffix kept)", "EMAIL", sum("jane.doe+x@gmail.com"), "", false},
		{"Gmail's rule applied", "EMAIL", sum("janedoe@gmail.com"), "Gmail", false},
		{"e-mail not lower-cased", "EMAIL", sum("Jane.Doe+x@gmail.com"), "without trimming and lower-casing", false},
		{"e-mail hashed twice", "EMAIL", sum(sum("dana@example.com")), "hashed twice", false},
		{"phone digits with country code", "PHONE", sum("33612345678"), "", false},
		{"phone with +", "PHONE", sum("+33612345678"), "with its +", false},
		{"phone national", "PHONE", sum("0612345678"), "no country code", false},
		{"name with accent kept", "FN", sum("zoë"), "", false},
		{"country upper-case", "COUNTRY", sum("FR"), "upper-cased", false},
		{"country lower-case", "COUNTRY", sum("fr"), "", false},
		{"US zip+4", "ZIP", sum("94105-1234"), "+4", false},
		{"US zip 5 digits", "ZIP", sum("94105"), "", false},
		{"upper-case hex", "EMAIL", strings.ToUpper(sum("dana@example.com")), "not a lower-case SHA-256", true},
		{"raw e-mail", "EMAIL", "dana@example.com", "not a lower-case SHA-256", true},
		{"unknown person", "EMAIL", sum("someone@example.com"), "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, path := newServer(t)
			a := do(t, s, "POST", path, token, users([]string{c.key}, []string{c.cell}))
			if a.status != 200 {
				t.Fatalf("status %d: %v", a.status, a.doc)
			}
			if inv := a.doc["num_invalid_entries"].(float64); (inv == 1) != c.invalid {
				t.Errorf("invalid entries %v, want invalid=%t", inv, c.invalid)
			}
			v := s.Violations()
			switch {
			case c.rule == "" && len(v) > 0:
				t.Errorf("unexpected violations %+v", v)
			case c.rule != "" && (len(v) != 1 || !strings.Contains(v[0].Rule, c.rule)):
				t.Errorf("violations %+v, want one about %q", v, c.rule)
			}
			for _, x := range v {
				if strings.Contains(x.Rule, "@") {
					t.Errorf("a violation quotes an identifier: %q", x.Rule)
				}
			}
		})
	}
}

// TestRequestRules: what Meta refuses is refused with Graph's error
// document, and counted a violation.
func TestRequestRules(t *testing.T) {
	h := sum("dana@example.com")
	many := make([][]string, MaxRows+1)
	for i := range many {
		many[i] = []string{h}
	}
	cases := []struct {
		name   string
		params url.Values
		code   int
	}{
		{"unknown schema key", users([]string{"EMAIL", "SSN"}, []string{h, h}), 100},
		{"duplicate schema key", users([]string{"EMAIL", "EMAIL"}, []string{h, h}), 100},
		{"row shorter than the schema", users([]string{"EMAIL", "PHONE"}, []string{h}), 100},
		{"no rows", users([]string{"EMAIL"}), 100},
		{"too many rows", users([]string{"EMAIL"}, many...), 100},
		{"no payload", url.Values{}, 100},
		{"session starting past 1", withSession(users([]string{"EMAIL"}, []string{h}), "7", 2, false, 10), 100},
		{"session without a flag", func() url.Values {
			v := users([]string{"EMAIL"}, []string{h})
			v.Set("session", `{"session_id":7,"batch_seq":1}`)
			return v
		}(), 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, path := newServer(t)
			a := do(t, s, "POST", path, token, c.params)
			if a.status != 400 || a.code() != c.code {
				t.Errorf("status %d code %d, want 400 and %d: %v", a.status, a.code(), c.code, a.doc)
			}
			if e := a.doc["error"].(map[string]any); e["type"] == nil || e["fbtrace_id"] == nil || e["message"] == nil {
				t.Errorf("not a Graph error document: %v", a.doc)
			}
			if len(s.Violations()) != 1 {
				t.Errorf("violations %+v", s.Violations())
			}
		})
	}
}

// TestSessionRules: a session carries one operation on one audience,
// batch_seq grows by one (a retry may repeat it), its estimate holds,
// and nothing follows the last batch.
func TestSessionRules(t *testing.T) {
	s, path := newServer(t)
	row := func(i int) url.Values { return users([]string{"EMAIL"}, []string{sum(fmt.Sprint(i))}) }
	steps := []struct {
		method string
		v      url.Values
		ok     bool
	}{
		{"POST", withSession(row(1), "42", 1, false, 3), true},
		{"POST", withSession(row(2), "42", 1, false, 3), true}, // a retry of batch 1
		{"POST", withSession(row(2), "42", 3, false, 3), false},
		{"POST", withSession(row(2), "42", 2, false, 4), false},
		{"DELETE", withSession(row(2), "42", 2, false, 3), false},
		{"POST", withSession(row(2), "42", 2, true, 3), true},
		{"POST", withSession(row(3), "42", 3, true, 3), false},
	}
	for i, st := range steps {
		a := do(t, s, st.method, path, token, st.v)
		if (a.status == 200) != st.ok {
			t.Errorf("step %d: status %d %v", i, a.status, a.doc)
		}
	}
	if a, _ := s.AudienceByName("VIP"); len(a.Members) != 2 {
		t.Errorf("members %d, want 2", len(a.Members))
	}
	if n := len(s.Violations()); n != 4 {
		t.Errorf("%d violations, want 4", n)
	}
}

// TestAuthAndErrors: Graph's OAuthException 190 for a bad token, 104 for
// none; injected errors come in order; the audience-too-small rule.
func TestAuthAndErrors(t *testing.T) {
	s, path := newServer(t)
	if a := do(t, s, "GET", "/v25.0/act_1234567890", "bad", nil); a.status != 400 || a.code() != 190 {
		t.Errorf("bad token: %d %v", a.status, a.doc)
	}
	if a := do(t, s, "GET", "/v25.0/act_1234567890", "", nil); a.code() != 104 {
		t.Errorf("no token: %v", a.doc)
	}
	if a := do(t, s, "GET", "/v25.0/act_1234567890", "", url.Values{"access_token": {token}}); a.status != 200 {
		t.Errorf("token as a parameter: %v", a.doc)
	}
	s.InjectError("POST", ErrUserLimit, 1, 5)
	a := do(t, s, "POST", path, token, users([]string{"EMAIL"}, []string{sum("x")}))
	if e := a.doc["error"].(map[string]any); a.code() != 17 || e["error_subcode"].(float64) != 2446079 {
		t.Errorf("injected: %v", a.doc)
	}
	if a := do(t, s, "POST", path, token, users([]string{"EMAIL"}, []string{sum("x")})); a.status != 200 {
		t.Errorf("after the injection: %v", a.doc)
	}
	s.opts.MinRemovalSize = 1
	a = do(t, s, "DELETE", path, token, users([]string{"EMAIL"}, []string{sum("x")}))
	if e, _ := a.doc["error"].(map[string]any); a.code() != 200 || e["error_subcode"].(float64) != 1870047 {
		t.Errorf("too small: %v", a.doc)
	}
	if a := do(t, s, "GET", "/act_1234567890", token, nil); a.status != 200 || len(s.Violations()) != 1 {
		t.Errorf("a path without a version is served but counted: %d, %+v", a.status, s.Violations())
	}
}

// TestAudiencesPaging: listings page by cursor; creation needs CUSTOM and
// a customer_file_source.
func TestAudiencesPaging(t *testing.T) {
	s := New(t, Options{Token: token, PageSize: 2})
	for i := range 5 {
		s.CreateAudience(fmt.Sprintf("A%d", i))
	}
	var names []string
	params := url.Values{"fields": {"id,name"}}
	for range 10 {
		a := do(t, s, "GET", "/v25.0/act_1234567890/customaudiences", token, params)
		for _, d := range a.doc["data"].([]any) {
			names = append(names, d.(map[string]any)["name"].(string))
		}
		p, _ := a.doc["paging"].(map[string]any)
		if p["next"] == nil {
			break
		}
		params.Set("after", p["cursors"].(map[string]any)["after"].(string))
	}
	if strings.Join(names, ",") != "A0,A1,A2,A3,A4" {
		t.Errorf("paged names %v", names)
	}
	if a := do(t, s, "POST", "/v25.0/act_1234567890/customaudiences", token, url.Values{"name": {"X"}, "subtype": {"CUSTOM"}}); a.status != 400 {
		t.Errorf("no customer_file_source: %v", a.doc)
	}
	a := do(t, s, "POST", "/v25.0/act_1234567890/customaudiences", token, url.Values{"name": {"X"}, "subtype": {"CUSTOM"}, "customer_file_source": {"USER_PROVIDED_ONLY"}})
	if a.status != 200 || a.doc["id"] == nil {
		t.Errorf("create: %v", a.doc)
	}
}

// TestReplace: usersreplace needs a session; the audience holds the
// session's rows once its last batch arrives, and other updates wait.
func TestReplace(t *testing.T) {
	s, path := newServer(t)
	do(t, s, "POST", path, token, users([]string{"EMAIL"}, []string{sum("old")}))
	rp := strings.Replace(path, "/users", "/usersreplace", 1)
	if a := do(t, s, "POST", rp, token, users([]string{"EMAIL"}, []string{sum("new")})); a.status != 400 {
		t.Errorf("usersreplace without a session: %v", a.doc)
	}
	do(t, s, "POST", rp, token, withSession(users([]string{"EMAIL"}, []string{sum("n1")}), "9", 1, false, 2))
	if a := do(t, s, "POST", path, token, users([]string{"EMAIL"}, []string{sum("x")})); a.code() != 2650 {
		t.Errorf("an update during a replace: %v", a.doc)
	}
	do(t, s, "POST", rp, token, withSession(users([]string{"EMAIL"}, []string{sum("n2")}), "9", 2, true, 2))
	a, _ := s.AudienceByName("VIP")
	if len(a.Members) != 2 || a.Members[0].Cells["EMAIL"] != sum("n1") {
		t.Errorf("after the replace: %+v", a.Members)
	}
}

// FuzzUsers: whatever the payload and session, the fake answers 200 or a
// Graph 400, and never panics.
func FuzzUsers(f *testing.F) {
	f.Add(`{"schema":["EMAIL"],"data":[["`+sum("a")+`"]]}`, `{"session_id":1,"batch_seq":1,"last_batch_flag":true}`)
	f.Add(`{"schema":"EMAIL","data":["x"]}`, ``)
	f.Add(`{"schema":["EMAIL","FN"],"data":[[1,null],[{},[]]]}`, `{"session_id":"x"}`)
	f.Add(`[]`, `{}`)
	s := New(f, Options{Token: token})
	path := "/v25.0/" + s.CreateAudience("VIP") + "/users"
	f.Fuzz(func(t *testing.T, payload, session string) {
		v := url.Values{"payload": {payload}}
		if session != "" {
			v.Set("session", session)
		}
		for _, m := range []string{"POST", "DELETE"} {
			if a := do(t, s, m, path, token, v); a.status != 200 && a.status != 400 {
				t.Fatalf("%s: status %d", m, a.status)
			}
		}
	})
}
