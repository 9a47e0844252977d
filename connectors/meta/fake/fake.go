// Package fake is a Meta Marketing API stand-in for tests and local runs:
// an HTTP server on loopback that speaks the parts of the Graph API the
// meta destination uses, and checks every request the way Meta would, and
// more strictly:
//
//   - versioned paths (/v25.0/...), the access token as a Bearer header or
//     an access_token parameter, Graph's OAuthException 190 for a bad one;
//   - an ad account (GET /act_{id}), its Customer File Custom Audiences
//     (GET /act_{id}/customaudiences with cursor paging, POST to create
//     one with subtype CUSTOM and customer_file_source; GET /{id});
//   - POST and DELETE /{audience_id}/users and POST usersreplace, with
//     the payload checked: known schema keys, rows the schema's length,
//     at most 10,000 rows, hashed cells 64 lower-case hex (an empty cell
//     is a skipped key), unhashed keys in their format, and session fields
//     consistent across a session;
//   - Graph error documents ({"error": {"message", "type", "code",
//     "error_subcode", "fbtrace_id"}}), hourly call limits and injected
//     errors (rate-limit codes 4, 17, 613, 80003; 200/1870047, audience too
//     small to remove users);
//   - answers with counts only (num_received, num_invalid_entries,
//     invalid_entry_samples), as Meta gives;
//   - a member store per audience, by each identifying key's hash;
//   - a registry of the raw identities of test people (Register), from
//     which the fake computes Meta's expected hashes itself, counting as a
//     violation any cell that is a wrong variant of a known identifier (an
//     e-mail with Gmail's dots removed, a phone with its "+", a value
//     hashed twice), and any request that breaks a documented rule.
package fake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
)

// Options configure a Server.
type Options struct {
	// Token is the system-user access token requests must carry.
	Token string
	// AdAccount is the ad account's id, digits without act_ (default
	// 1234567890).
	AdAccount string
	// HourlyCalls is the number of calls allowed per ad account in any
	// hour before Meta's business-use-case limit answers 80003 (0: no
	// limit); RegainMinutes is the estimated_time_to_regain_access the
	// X-Business-Use-Case-Usage header then announces.
	HourlyCalls, RegainMinutes int
	// MinRemovalSize makes a removal that would leave an audience with
	// fewer members than this fail with error 200/1870047, "audience too
	// small" (0: never).
	MinRemovalSize int
	// MaxSamples is the number of invalid entries an answer names in
	// invalid_entry_samples (default 100; the rest are only counted).
	MaxSamples int
	// PageSize is the page size of audience listings without limit
	// (default 25).
	PageSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnRequest, when set, is called after each answer with the method,
	// the endpoint (identifiers replaced, e.g. /{version}/{audience_id}/users)
	// and the status; never an identifier.
	OnRequest func(method, endpoint string, status int)
}

// Server is the fake Meta Marketing API.
type Server struct {
	URL string

	srv  *httptest.Server
	opts Options

	mu         sync.Mutex
	audiences  map[string]*audience
	order      []string // audience ids in creation order
	sessions   map[string]*session
	ids        *registry
	rejects    map[string]string // hash → reason (Reject)
	injects    []injected
	violations []Violation
	requests   []Request
	calls      []time.Time // calls of the last hour, for HourlyCalls
	fails      fakeserve.Failures
	nextID     int64
	stats      counters
}

// Request is one request the fake answered.
type Request struct {
	Time     time.Time
	Method   string
	Endpoint string // path with identifiers replaced by {name}
	Status   int
	Code     int // Graph error code, 0 on success
	Rows     int // payload rows, for users calls
}

// Violation is one broken rule: never a raw identifier, at most a hash.
type Violation struct {
	Time     time.Time
	Endpoint string
	Rule     string
}

type counters struct {
	rowsAdded, rowsRemoved, invalid, unknown, verified, throttled, injected int
}

// New starts a server on loopback; it stops with t's cleanup when t is
// given (pass nil and call Close yourself otherwise).
func New(t interface{ Cleanup(func()) }, opts Options) *Server {
	s := Handler(opts)
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Handler returns a server that is not listening, to mount on a listener
// of your own (see cmd/meta-fake); set URL to the address it serves.
func Handler(opts Options) *Server {
	if opts.AdAccount == "" {
		opts.AdAccount = "1234567890"
	}
	opts.AdAccount = strings.TrimPrefix(opts.AdAccount, "act_")
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 100
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 25
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{opts: opts, audiences: map[string]*audience{}, sessions: map[string]*session{},
		ids: newRegistry(), rejects: map[string]string{}, nextID: 23850000000000001}
}

// Close stops the server.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
}

// operation is one endpoint the fake serves; paths are after the version.
type operation struct {
	method  string
	path    string
	handler func(s *Server, c *call)
}

var operations = []operation{
	{"GET", "/{account}", (*Server).getAccount},
	{"GET", "/{account}/customaudiences", (*Server).listAudiences},
	{"POST", "/{account}/customaudiences", (*Server).createAudience},
	{"GET", "/{audience_id}", (*Server).getAudience},
	{"POST", "/{audience_id}/users", (*Server).addUsers},
	{"DELETE", "/{audience_id}/users", (*Server).removeUsers},
	{"POST", "/{audience_id}/usersreplace", (*Server).replaceUsers},
}

var (
	versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)
	accountRE = regexp.MustCompile(`^act_[0-9]+$`)
	digitsRE  = regexp.MustCompile(`^[0-9]+$`)
)

func route(method string, segs []string) (*operation, map[string]string, bool) {
	i, params, known := fakeserve.Route(len(operations), func(i int) (string, string) { return operations[i].method, operations[i].path }, method, segs,
		func(name, seg string) bool {
			if name == "account" {
				return accountRE.MatchString(seg)
			}
			return digitsRE.MatchString(seg)
		})
	if i < 0 {
		return nil, nil, known
	}
	return &operations[i], params, true
}

// call is one request being served.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	params   map[string]string
	form     map[string][]string // query and body parameters
	status   int
	code     int
	rows     int
	endpoint string
	now      time.Time
}

func (c *call) param(name string) string {
	if v := c.form[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c *call) json(status int, v any) {
	c.status = status
	c.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(v)
}

// GraphError is a Graph API error, as the fake answers it.
type GraphError struct {
	Status      int // HTTP status (default 400)
	Message     string
	Type        string // default OAuthException
	Code        int
	Subcode     int
	Transient   bool
	UserTitle   string
	UserMessage string
}

func fbtrace() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *call) fail(e GraphError) {
	if e.Status == 0 {
		e.Status = http.StatusBadRequest
	}
	if e.Type == "" {
		e.Type = "OAuthException"
	}
	doc := map[string]any{"message": e.Message, "type": e.Type, "code": e.Code, "fbtrace_id": fbtrace()}
	if e.Subcode != 0 {
		doc["error_subcode"] = e.Subcode
	}
	if e.Transient {
		doc["is_transient"] = true
	}
	if e.UserTitle != "" {
		doc["error_user_title"] = e.UserTitle
		doc["error_user_msg"] = e.UserMessage
	}
	c.code = e.Code
	c.json(e.Status, map[string]any{"error": doc})
}

// invalidParam is Graph's (#100) answer to a request it cannot take.
func (c *call) invalidParam(msg string) {
	c.fail(GraphError{Message: "(#100) " + msg, Code: 100})
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		s.serveInspection(w, r)
		return
	}
	c := &call{w: w, r: r, now: s.opts.Now(), endpoint: "{unknown}"}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Time: c.now, Method: r.Method, Endpoint: c.endpoint, Status: c.status, Code: c.code, Rows: c.rows})
		s.mu.Unlock()
		if s.opts.OnRequest != nil {
			s.opts.OnRequest(r.Method, c.endpoint, c.status)
		}
	}()
	segs, err := fakeserve.Segments(r.URL.EscapedPath())
	if err != nil || len(segs) == 0 {
		c.fail(GraphError{Message: "Unknown path components", Code: 2500})
		return
	}
	version := "{none}"
	if versionRE.MatchString(segs[0]) {
		version, segs = "{version}", segs[1:]
	} else {
		s.violate(c, "the request does not pin a Graph API version in its path (/vNN.N/...)")
	}
	op, params, known := route(r.Method, segs)
	if op == nil {
		if known {
			c.fail(GraphError{Message: "(#3) Unsupported method " + r.Method + " on this endpoint", Code: 3})
			return
		}
		c.fail(GraphError{Message: "Unsupported request - method type: " + strings.ToLower(r.Method), Type: "GraphMethodException", Code: 100, Subcode: 33})
		return
	}
	c.endpoint, c.params = "/"+version+op.path, params
	if !s.readForm(c) || !s.authorised(c) || !s.admit(c) {
		return
	}
	op.handler(s, c)
}

// readForm reads the query and, for POST and DELETE, a form or JSON body:
// Graph takes parameters either way.
func (s *Server) readForm(c *call) bool {
	form, err := parseParams(c.r)
	if err != nil {
		c.invalidParam("could not read the request's parameters: " + err.Error())
		return false
	}
	c.form = form
	return true
}

// authorised checks the access token: a Bearer header or access_token.
func (s *Server) authorised(c *call) bool {
	token, _ := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	if token = strings.TrimSpace(token); token == "" {
		token = c.param("access_token")
	}
	switch {
	case token == "":
		c.fail(GraphError{Message: "An access token is required to request this resource.", Code: 104})
		return false
	case token != s.opts.Token:
		c.fail(GraphError{Message: "Invalid OAuth access token - Cannot parse access token", Code: 190})
		return false
	}
	return true
}

// admit applies injected failures, injected Graph errors and the hourly
// limit, and sets the usage headers.
func (s *Server) admit(c *call) bool {
	if st, ok := s.fails.Next(); ok {
		s.count(func(n *counters) { n.injected++ })
		if st == http.StatusTooManyRequests {
			c.w.Header().Set("Retry-After", "1")
			c.fail(GraphError{Status: st, Message: "(#4) Application request limit reached", Code: 4, Transient: true})
			return false
		}
		c.fail(GraphError{Status: st, Message: "An unexpected error has occurred. Please retry your request later.", Code: 2, Transient: true})
		return false
	}
	s.mu.Lock()
	var inj *injected
	if len(s.injects) > 0 && s.injects[0].matches(c) {
		in := s.injects[0]
		inj = &in
		if s.injects[0].n--; s.injects[0].n <= 0 {
			s.injects = s.injects[1:]
		}
	}
	over := false
	if lim := s.opts.HourlyCalls; lim > 0 {
		cut := c.now.Add(-time.Hour)
		s.calls = slices.DeleteFunc(s.calls, func(t time.Time) bool { return t.Before(cut) })
		over = len(s.calls) >= lim
		if !over {
			s.calls = append(s.calls, c.now)
		}
		s.usageHeader(c, len(s.calls)*100/lim, over)
	}
	s.mu.Unlock()
	switch {
	case inj != nil:
		s.count(func(n *counters) { n.injected++ })
		if inj.regain >= 0 {
			c.w.Header().Set("X-Business-Use-Case-Usage", usage(s.opts.AdAccount, 100, inj.regain))
		}
		c.fail(inj.err)
		return false
	case over:
		s.count(func(n *counters) { n.throttled++ })
		c.fail(GraphError{Message: "There have been too many calls to this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
			Code: 80003, Subcode: 2446079, Transient: true})
		return false
	}
	return true
}

func (s *Server) usageHeader(c *call, pct int, over bool) {
	regain := 0
	if over {
		regain = s.opts.RegainMinutes
	}
	c.w.Header().Set("X-Business-Use-Case-Usage", usage(s.opts.AdAccount, min(pct, 100), regain))
}

// usage is an X-Business-Use-Case-Usage value for the custom_audience
// business use case.
func usage(account string, pct, regainMinutes int) string {
	b, _ := json.Marshal(map[string]any{account: []map[string]any{{
		"type": "custom_audience", "call_count": pct, "total_cputime": pct / 2, "total_time": pct / 2,
		"estimated_time_to_regain_access": regainMinutes,
	}}})
	return string(b)
}

// injected is a Graph error armed for the next n matching requests.
type injected struct {
	err    GraphError
	method string // "" any
	n      int
	regain int // minutes announced in X-Business-Use-Case-Usage; -1: no header
}

func (in injected) matches(c *call) bool { return in.method == "" || in.method == c.r.Method }

// InjectError makes the next n requests with method ("" for any) fail
// with e, announcing regainMinutes in X-Business-Use-Case-Usage (-1: no
// header). Injections queue up in order.
func (s *Server) InjectError(method string, e GraphError, n, regainMinutes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.injects = append(s.injects, injected{err: e, method: method, n: n, regain: regainMinutes})
}

// Rate-limit and audience errors as Meta answers them, for InjectError.
var (
	ErrAppLimit         = GraphError{Message: "(#4) Application request limit reached", Code: 4, Transient: true}
	ErrUserLimit        = GraphError{Message: "(#17) User request limit reached", Code: 17, Subcode: 2446079, Transient: true}
	ErrAccountLimit     = GraphError{Message: "(#613) Calls to this api have exceeded the rate limit.", Code: 613, Subcode: 1487742, Transient: true}
	ErrAudienceTooSmall = GraphError{Message: "(#200) Audience Size too low: You cannot remove users from this audience because it will result in a low audience size.",
		Type: "OAuthException", Code: 200, Subcode: 1870047, UserTitle: "Audience Size too low",
		UserMessage: "You cannot remove users from this audience because it will result in a low audience size."}
)

// FailRequests makes the next n authenticated-or-not requests fail with
// status: 429 with Graph's code 4 document and Retry-After, 5xx with a
// transient error; then the fake recovers.
func (s *Server) FailRequests(status, n int) { s.fails.Set(status, n) }

// Fail is FailRequests, the shape destinationtest.Env.Fail takes.
func (s *Server) Fail(status, n int) { s.FailRequests(status, n) }

func (s *Server) count(f func(*counters)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// violate records a broken rule.
func (s *Server) violate(c *call, rule string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, Violation{Time: c.now, Endpoint: c.endpoint, Rule: rule})
}

// Violations returns every broken rule seen, in order.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Requests returns every request answered, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Stats counts what the fake saw.
type Stats struct {
	Requests     int
	UsersCalls   int // POST/DELETE users and usersreplace answered 200
	RowsAdded    int
	RowsRemoved  int
	Invalid      int // invalid entries counted in answers
	Verified     int // hashed cells matching a registered identity's expected hash
	Unknown      int // hashed cells matching no registered identity
	Violations   int
	Throttled    int // answered 80003 by the hourly limit
	Injected     int // failures and errors injected
	Audiences    int
	Members      int // across audiences
	ErrorsByCode map[int]int
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Requests: len(s.requests), RowsAdded: s.stats.rowsAdded, RowsRemoved: s.stats.rowsRemoved, Invalid: s.stats.invalid,
		Verified: s.stats.verified, Unknown: s.stats.unknown, Violations: len(s.violations), Throttled: s.stats.throttled,
		Injected: s.stats.injected, Audiences: len(s.audiences), ErrorsByCode: map[int]int{}}
	for _, a := range s.audiences {
		st.Members += a.members.len()
	}
	for _, r := range s.requests {
		if r.Code != 0 {
			st.ErrorsByCode[r.Code]++
		}
		if r.Status == http.StatusOK && (strings.HasSuffix(r.Endpoint, "/users") || strings.HasSuffix(r.Endpoint, "/usersreplace")) {
			st.UsersCalls++
		}
	}
	return st
}

// serveInspection answers GET /_fake/state (counts and audiences),
// /_fake/requests (the request log), /_fake/violations, and POST
// /_fake/identities (JSON array of Person: registers test people).
func (s *Server) serveInspection(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	switch {
	case r.URL.Path == "/_fake/identities" && r.Method == http.MethodPost:
		var people []Person
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20)).Decode(&people); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = enc.Encode(map[string]string{"error": "expected a JSON array of people: " + err.Error()})
			return
		}
		for _, p := range people {
			s.Register(p)
		}
		_ = enc.Encode(map[string]int{"registered": len(people)})
	case r.URL.Path == "/_fake/state":
		type aud struct {
			ID, Name string
			Members  int
		}
		auds := []aud{}
		for _, a := range s.Audiences() {
			auds = append(auds, aud{a.ID, a.Name, len(a.Members)})
		}
		_ = enc.Encode(map[string]any{"stats": s.Stats(), "audiences": auds})
	case r.URL.Path == "/_fake/requests":
		_ = enc.Encode(s.Requests())
	case r.URL.Path == "/_fake/violations":
		_ = enc.Encode(s.Violations())
	default:
		http.NotFound(w, r)
	}
}
