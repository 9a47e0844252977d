// Package fake is a stand-in for Google's Data Manager API, for tests and
// local runs: an HTTP server on loopback that serves the parts the
// googleads destination uses, and behaves like Google where it matters:
//
//   - OAuth 2.0: a token endpoint that takes a service account's signed
//     JWT (RS256, checked against the account's public key) or a user's
//     refresh token, and Bearer tokens on every API call, with Google's
//     401 UNAUTHENTICATED answer;
//   - POST /v1/audienceMembers:ingest and :remove, checked against the
//     discovery document shipped with google.golang.org/api (unknown
//     fields, wrong types, unknown enum values are refused with
//     INVALID_ARGUMENT) and against the API's rules: at most 10,000 members
//     and 10 identifiers each, HEX encoding, 64-character lower-case hashes
//     for hashed fields, a complete address with its region and postal code
//     in clear, Customer Match terms accepted, consent given;
//   - a member store per Customer Match list, where a member is matched
//     by any of its identifiers;
//   - GET /v1/requestStatus:retrieve, PROCESSING for a while if asked, then
//     SUCCESS with counts, or FAILED or PARTIAL_SUCCESS with error counts
//     (FailProcessing, FailProcessingPartly);
//   - GET /v1/accountTypes/{type}/accounts/{id}/userLists/{id};
//   - errors as google.rpc.Status documents, RESOURCE_EXHAUSTED with
//     RetryInfo when the per-minute quota is spent or on demand (Fail);
//   - violations: every request that breaks a documented rule is counted
//     (Violations), including hashes of registered test people (Register)
//     that are not Google's normal form of the identifier.
package fake

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
)

// Options configure a Server.
type Options struct {
	// ServiceAccounts are the service accounts whose signed JWTs the token
	// endpoint takes: client_email → public key.
	ServiceAccounts map[string]*rsa.PublicKey
	// Users are OAuth clients with a user's refresh token
	// (authorized_user credentials).
	Users []User
	// Tokens are access tokens taken as they are, for clients that do not
	// go through the token endpoint.
	Tokens []string
	// Accounts are the Google Ads accounts (customer ids, digits only) and
	// the ids of their Customer Match lists.
	Accounts map[string][]string
	// Managers are manager accounts (login accounts) and the accounts they
	// may operate.
	Managers map[string][]string
	// PerMinute is the number of requests allowed in any minute (default
	// 300, a Google Cloud project's quota; negative: no limit).
	PerMinute int
	// ProcessingPolls is how many retrieves of a request's status answer
	// PROCESSING before the final status (default 0).
	ProcessingPolls int
	// RetryDelay is the retryDelay of the RetryInfo sent with an injected
	// RESOURCE_EXHAUSTED (Fail(429, n)); default 200ms.
	RetryDelay time.Duration
	// Discovery is the API description requests are checked against; nil
	// loads the one shipped with google.golang.org/api (FindDiscovery),
	// unless NoDiscovery.
	Discovery   *Discovery
	NoDiscovery bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnRequest, when set, is called after each answer with the method,
	// the endpoint (identifiers replaced) and the status.
	OnRequest func(method, endpoint string, status int)
}

// User is an OAuth client and a user's refresh token.
type User struct{ ClientID, ClientSecret, RefreshToken string }

// Server is the fake Data Manager API.
type Server struct {
	URL string

	srv  *httptest.Server
	opts Options
	disc *Discovery

	mu         sync.Mutex
	accounts   map[string]*rsa.PublicKey // service accounts trusted
	tokens     map[string]time.Time      // access token → expiry
	lists      map[string]*userList      // "account/list" → list
	people     []expected
	byHash     map[string]Identity // expected e-mail hash → person
	reveal     map[string]string   // expected hash → raw value, for Reveal
	wrong      map[string]string   // wrong-variant hash → why
	rejects    map[string]string   // e-mail hash → message (RejectEmails)
	statuses   map[string]*reqStatus
	failNext   []processingFailure // the next accepted requests fail in processing
	violations []Violation
	requests   []Request
	window     []time.Time
	fails      fakeserve.Failures
	nextID     int
}

// Request is one request the fake answered.
type Request struct {
	Time     time.Time
	Method   string
	Endpoint string // the path, identifiers replaced by {name}
	Status   int
}

// Violation is a request that broke one of the API's documented rules.
type Violation struct {
	Endpoint string
	Rule     string
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
// of your own (see cmd/googleads-fake); set URL to the address it serves.
func Handler(opts Options) *Server {
	if opts.PerMinute == 0 {
		opts.PerMinute = 300
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 200 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, disc: opts.Discovery, tokens: map[string]time.Time{}, lists: map[string]*userList{},
		byHash: map[string]Identity{}, reveal: map[string]string{}, wrong: map[string]string{}, rejects: map[string]string{}, statuses: map[string]*reqStatus{},
	}
	if s.disc == nil && !opts.NoDiscovery {
		s.disc = defaultDiscovery()
	}
	s.accounts = map[string]*rsa.PublicKey{}
	for email, key := range opts.ServiceAccounts {
		s.accounts[email] = key
	}
	for _, tok := range opts.Tokens {
		s.tokens[tok] = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	for acct, ids := range opts.Accounts {
		for _, id := range ids {
			s.lists[acct+"/"+id] = newUserList(acct, id)
		}
	}
	return s
}

// Close stops the server.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
}

// CheckedAgainstDiscovery reports whether requests are validated against
// the discovery document (false when it could not be found).
func (s *Server) CheckedAgainstDiscovery() bool { return s.disc != nil }

// Register adds test people whose hashes the fake checks.
func (s *Server) Register(ids ...Identity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		x := expect(id)
		s.people = append(s.people, x)
		if x.email != "" {
			s.byHash[x.email] = id
		}
		for h, raw := range map[string]string{x.email: id.Email, x.phone: id.Phone, x.given: id.FirstName, x.family: id.LastName} {
			if h != "" {
				s.reveal[h] = raw
			}
		}
		for h, why := range x.wrong {
			s.wrong[h] = why
		}
	}
	for _, p := range s.people { // a variant of one may be another's right form
		for _, h := range []string{p.email, p.phone, p.given, p.family} {
			delete(s.wrong, h)
		}
	}
}

// Reveal returns the raw value a registered person's identifier hashes
// from, when it is in Google's normal form.
func (s *Server) Reveal(hash string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.reveal[hash]
	return raw, ok
}

// Fail makes the next n requests fail with status: 429 answers
// RESOURCE_EXHAUSTED with RetryInfo, 5xx UNAVAILABLE or INTERNAL.
func (s *Server) Fail(status, n int) { s.fails.Set(status, n) }

// RejectEmails makes ingest and remove requests carrying these e-mail
// addresses (their Google hash) fail with INVALID_ARGUMENT, a field
// violation naming each such member, with msg; msg "" lifts it.
func (s *Server) RejectEmails(msg string, emails ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range emails {
		if msg == "" {
			delete(s.rejects, HashEmail(e))
		} else {
			s.rejects[HashEmail(e)] = msg
		}
	}
}

// FailProcessing makes the next n accepted ingest or remove requests fail
// while Google processes them: their status ends FAILED with reason (a
// ProcessingErrorReason such as PROCESSING_ERROR_REASON_INTERNAL_ERROR)
// and their members are not changed.
func (s *Server) FailProcessing(reason string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, processingFailure{reason: reason})
	}
}

// FailProcessingPartly makes the next accepted ingest or remove request
// fail in part: its first members (as many as given) are not applied, and
// its status ends PARTIAL_SUCCESS with an error count of that many for
// reason, which, as Google's, does not say which members failed.
func (s *Server) FailProcessingPartly(reason string, members int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = append(s.failNext, processingFailure{reason: reason, members: max(members, 1)})
}

// processingFailure is a request to fail in processing: every member, or
// the first ones.
type processingFailure struct {
	reason  string
	members int // 0: all
}

// Violations returns the rule violations seen so far.
func (s *Server) Violations() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Violation(nil), s.violations...)
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// operation is one endpoint the fake serves.
type operation struct {
	method, path string
	handler      func(s *Server, c *call)
}

var operations = []operation{
	{"POST", "/token", (*Server).token},
	{"POST", "/v1/audienceMembers:ingest", (*Server).ingest},
	{"POST", "/v1/audienceMembers:remove", (*Server).remove},
	{"GET", "/v1/requestStatus:retrieve", (*Server).retrieve},
	{"GET", "/v1/accountTypes/{accountType}/accounts/{accountId}/userLists/{userListId}", (*Server).getUserList},
	{"GET", "/_fake/state", (*Server).state},
}

// call is one request being served.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	params   map[string]string
	body     []byte
	endpoint string
	status   int
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, endpoint: r.URL.Path}
	defer func() { s.logRequest(c) }()
	segs, err := fakeserve.Segments(r.URL.EscapedPath())
	if err != nil {
		s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", "malformed path", nil)
		return
	}
	i, params, known := fakeserve.Route(len(operations), func(i int) (string, string) { return operations[i].method, operations[i].path }, r.Method, segs, nil)
	if i < 0 {
		if known {
			s.fail(c, http.StatusMethodNotAllowed, "UNIMPLEMENTED", "method not allowed", nil)
			return
		}
		s.fail(c, http.StatusNotFound, "NOT_FOUND", "The requested URL "+r.URL.Path+" was not found on this server.", nil)
		return
	}
	op := operations[i]
	c.params, c.endpoint = params, op.path
	if c.body, err = io.ReadAll(io.LimitReader(r.Body, 64<<20)); err != nil {
		s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", "reading the body: "+err.Error(), nil)
		return
	}
	if status, ok := s.fails.Next(); ok {
		s.injected(c, status)
		return
	}
	if op.path == "/token" || op.path == "/_fake/state" {
		op.handler(s, c)
		return
	}
	if !s.authorized(c) || !s.admitted(c) || !s.valid(c) {
		return
	}
	op.handler(s, c)
}

// valid checks the request against the discovery document.
func (s *Server) valid(c *call) bool {
	if s.disc == nil {
		return true
	}
	m, ok := s.disc.method(c.r.Method, c.r.URL.Path)
	if !ok {
		s.fail(c, http.StatusNotFound, "NOT_FOUND", "the discovery document has no method "+c.r.Method+" "+c.r.URL.Path, nil)
		return false
	}
	probs := append(s.disc.checkQuery(m, c.r.URL.Query()), s.disc.checkBody(m, c.body)...)
	if len(probs) == 0 {
		return true
	}
	s.violate(c, "request does not match the discovery document: "+probs[0])
	var fvs []fieldViolation
	for _, p := range probs {
		fvs = append(fvs, fieldViolation{Description: p})
	}
	s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", probs[0], badRequest(fvs))
	return false
}

// admitted applies the per-minute quota.
func (s *Server) admitted(c *call) bool {
	if s.opts.PerMinute < 0 {
		return true
	}
	s.mu.Lock()
	now := s.opts.Now()
	keep := s.window[:0]
	for _, t := range s.window {
		if now.Sub(t) < time.Minute {
			keep = append(keep, t)
		}
	}
	s.window = keep
	if len(s.window) >= s.opts.PerMinute {
		wait := time.Minute - now.Sub(s.window[0])
		s.mu.Unlock()
		s.resourceExhausted(c, wait, "Quota exceeded for quota metric 'Ingestion mutate requests' and limit 'IngestionMutateRequestsPerMinutePerProject'.")
		return false
	}
	s.window = append(s.window, now)
	s.mu.Unlock()
	return true
}

// injected answers a failure armed by Fail.
func (s *Server) injected(c *call, status int) {
	switch {
	case status == http.StatusTooManyRequests:
		s.resourceExhausted(c, s.opts.RetryDelay, "Quota exceeded (injected by the fake).")
	case status == http.StatusServiceUnavailable:
		s.fail(c, status, "UNAVAILABLE", "The service is currently unavailable.", nil)
	default:
		s.fail(c, status, "INTERNAL", "Internal error encountered.", nil)
	}
}

func (s *Server) resourceExhausted(c *call, wait time.Duration, msg string) {
	details := []any{
		map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
			"metadata": map[string]string{"quota_limit": "IngestionMutateRequestsPerMinutePerProject", "service": "datamanager.googleapis.com"}},
		map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": fmt.Sprintf("%.3fs", wait.Seconds())},
	}
	s.fail(c, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", msg, details)
}

// authorized checks the Bearer token.
func (s *Server) authorized(c *call) bool {
	tok, ok := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	exp, known := s.tokens[strings.TrimSpace(tok)]
	s.mu.Unlock()
	if ok && known && s.opts.Now().Before(exp) {
		return true
	}
	msg := "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential."
	if ok {
		msg = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."
	}
	c.w.Header().Set("WWW-Authenticate", `Bearer realm="https://accounts.google.com/"`)
	s.fail(c, http.StatusUnauthorized, "UNAUTHENTICATED", msg, []any{
		map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED", "domain": "googleapis.com"},
	})
	return false
}

// fieldViolation is one entry of a google.rpc.BadRequest.
type fieldViolation struct {
	Field       string `json:"field,omitempty"`
	Description string `json:"description"`
}

func badRequest(fvs []fieldViolation) []any {
	return []any{map[string]any{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": fvs}}
}

// fail answers a google.rpc.Status error document.
func (s *Server) fail(c *call, code int, status, msg string, details []any) {
	body := map[string]any{"code": code, "message": msg, "status": status}
	if len(details) > 0 {
		body["details"] = details
	}
	s.reply(c, code, map[string]any{"error": body})
}

func (s *Server) reply(c *call, code int, v any) {
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(v)
	c.w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	c.w.WriteHeader(code)
	_, _ = c.w.Write(buf.Bytes())
	c.status = code
}

// violate counts a broken rule.
func (s *Server) violate(c *call, rule string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, Violation{Endpoint: c.endpoint, Rule: rule})
}

func (s *Server) logRequest(c *call) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Time: s.opts.Now(), Method: c.r.Method, Endpoint: c.endpoint, Status: c.status})
	s.mu.Unlock()
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(c.r.Method, c.endpoint, c.status)
	}
}

// state answers GET /_fake/state: the lists and their sizes, the
// violations, and the requests by status.
func (s *Server) state(c *call) {
	s.mu.Lock()
	lists := map[string]int{}
	for k, l := range s.lists {
		lists[k] = len(l.members)
	}
	byStatus := map[int]int{}
	for _, r := range s.requests {
		byStatus[r.Status]++
	}
	out := map[string]any{"lists": lists, "violations": append([]Violation{}, s.violations...), "requests_by_status": byStatus}
	s.mu.Unlock()
	s.reply(c, http.StatusOK, out)
}
