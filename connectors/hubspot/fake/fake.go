// Package fake is a HubSpot stand-in for tests and local runs: an HTTP
// server on loopback that speaks the parts of HubSpot's CRM API v3 the
// hubspot destination uses, and behaves like HubSpot where it matters:
//
//   - private-app Bearer tokens, with HubSpot's 401 INVALID_AUTHENTICATION
//     and 403 MISSING_SCOPES documents, per-token scopes;
//   - contacts upserted in batches of at most 100 (idProperty email or a
//     unique property), per-input failures answered 207 with the inputs'
//     objectWriteTraceId, or the whole batch 400 when inputs carry none;
//   - contact properties (read, create), batch read by idProperty;
//   - lists v3 (MANUAL, SNAPSHOT, DYNAMIC) and their memberships by record
//     id, with HubSpot's field names (recordsIdsAdded, recordIdsRemoved,
//     recordIdsMissing);
//   - batch archive by record id (204 whatever each id's state; the e-mail
//     stays usable) and GDPR deletion, after which it cannot be used again;
//   - per-record rejections on demand (RejectEmails), answered in a 207;
//   - the ten-second rolling limit as a real sliding window and the daily
//     limit, with the X-HubSpot-RateLimit-* headers on every answer and
//     HubSpot's 429 documents.
package fake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
)

// Options configure a Server.
type Options struct {
	// Token is a private-app access token with every scope. Tokens adds
	// tokens with the listed scopes only (requests needing another get 403).
	Token  string
	Tokens map[string][]string
	// TenSecondly is the number of requests allowed in any 10 seconds
	// (default 190, a Professional account's private app); Daily the number
	// a day (default 650,000). Negative: no limit.
	TenSecondly, Daily int
	// Now is the clock (default time.Now); tests move it to slide the window.
	Now func() time.Time
	// Properties are contact properties added to HubSpot's defaults.
	Properties []Property
	// OnRequest, when set, is called after each answer with the method, the
	// endpoint (the path with identifiers replaced, e.g.
	// "/crm/v3/lists/{listId}/memberships/add") and the status; never an
	// identifier.
	OnRequest func(method, endpoint string, status int)
}

// Server is the fake HubSpot.
type Server struct {
	URL string

	srv  *httptest.Server
	opts Options

	mu        sync.Mutex
	props     []Property
	contacts  map[string]*Contact // by record id
	order     []string            // record ids in creation order
	unique    map[string]map[string]string
	blocked   map[string]bool   // lower-cased e-mails erased by GDPR deletion
	rejects   map[string]string // lower-cased e-mail → message (RejectEmails)
	archived  int               // contacts archived by batch/archive
	lists     map[string]*List
	listOrder []string
	deletions []Deletion
	requests  []Request
	window    []time.Time // admitted requests of the last ten seconds
	day       string
	inDay     int
	fails     fakeserve.Failures
	nextID    int64
	nextList  int64
}

// Request is one request the fake answered.
type Request struct {
	Time      time.Time
	Method    string
	Endpoint  string // path with identifiers replaced by {name}
	Status    int
	Throttled bool // answered 429 by the rate limits (not injected)
}

// Deletion is one GDPR deletion the fake accepted.
type Deletion struct {
	Time     time.Time
	ByEmail  bool   // identified by e-mail (idProperty email), else by record id
	RecordID string // the contact deleted; "" when none matched
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
// of your own (see cmd/hubspot-fake); set URL to the address it serves.
func Handler(opts Options) *Server {
	if opts.TenSecondly == 0 {
		opts.TenSecondly = 190
	}
	if opts.Daily == 0 {
		opts.Daily = 650000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, contacts: map[string]*Contact{}, unique: map[string]map[string]string{},
		blocked: map[string]bool{}, rejects: map[string]string{}, lists: map[string]*List{}, nextID: 1001, nextList: 1,
	}
	s.props = defaultProperties()
	for _, p := range opts.Properties {
		s.addProperty(p)
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

// operation is one endpoint the fake serves.
type operation struct {
	method  string
	path    string // with {x} for a path parameter
	scope   string
	handler func(s *Server, c *call)
}

var operations = []operation{
	{"POST", "/crm/v3/objects/contacts/batch/upsert", "crm.objects.contacts.write", (*Server).upsert},
	{"POST", "/crm/v3/objects/contacts/batch/archive", "crm.objects.contacts.write", (*Server).batchArchive},
	{"POST", "/crm/v3/objects/contacts/batch/read", "crm.objects.contacts.read", (*Server).batchRead},
	{"POST", "/crm/v3/objects/contacts/gdpr-delete", "crm.objects.contacts.write", (*Server).gdprDelete},
	{"GET", "/crm/v3/properties/contacts", "crm.schemas.contacts.read", (*Server).getProperties},
	{"POST", "/crm/v3/properties/contacts", "crm.schemas.contacts.write", (*Server).createProperty},
	{"POST", "/crm/v3/lists", "crm.lists.write", (*Server).createList},
	{"GET", "/crm/v3/lists/object-type-id/{objectTypeId}/name/{name}", "crm.lists.read", (*Server).listByName},
	{"GET", "/crm/v3/lists/{listId}", "crm.lists.read", (*Server).getList},
	{"GET", "/crm/v3/lists/{listId}/memberships", "crm.lists.read", (*Server).getMembers},
	{"PUT", "/crm/v3/lists/{listId}/memberships/add", "crm.lists.write", (*Server).addMembers},
	{"PUT", "/crm/v3/lists/{listId}/memberships/remove", "crm.lists.write", (*Server).removeMembers},
	{"PUT", "/crm/v3/lists/{listId}/memberships/add-and-remove", "crm.lists.write", (*Server).addAndRemoveMembers},
}

// route finds the operation of a request; segments are unescaped one by
// one so that a list name may hold a slash.
func route(method, escapedPath string) (*operation, map[string]string, bool) {
	segs, err := fakeserve.Segments(escapedPath)
	if err != nil {
		return nil, nil, false
	}
	i, params, known := fakeserve.Route(len(operations), func(i int) (string, string) { return operations[i].method, operations[i].path }, method, segs,
		func(name, seg string) bool { return name != "listId" || isDigits(seg) })
	if i < 0 {
		return nil, nil, known
	}
	return &operations[i], params, true
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	params map[string]string
	status int
	now    time.Time
}

// hsError is HubSpot's error document.
type hsError struct {
	Status        string         `json:"status"`
	Message       string         `json:"message"`
	CorrelationID string         `json:"correlationId"`
	Category      string         `json:"category,omitempty"`
	SubCategory   string         `json:"subCategory,omitempty"`
	Errors        []any          `json:"errors,omitempty"`
	Links         map[string]any `json:"links,omitempty"`
	Context       map[string]any `json:"context,omitempty"`
	ErrorType     string         `json:"errorType,omitempty"`
	PolicyName    string         `json:"policyName,omitempty"`
}

func correlationID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (c *call) json(status int, v any) {
	c.status = status
	c.w.Header().Set("Content-Type", "application/json;charset=utf-8")
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(v)
}

func (c *call) fail(status int, e hsError) {
	e.Status = "error"
	e.CorrelationID = correlationID()
	c.json(status, e)
}

func (c *call) invalid(msg string) {
	c.fail(http.StatusBadRequest, hsError{Message: msg, Category: "VALIDATION_ERROR"})
}

func (c *call) notFound(msg string) {
	c.fail(http.StatusNotFound, hsError{Message: msg, Category: "OBJECT_NOT_FOUND"})
}

// decode reads the JSON body into v, answering 400 when it cannot.
func (c *call) decode(v any) bool {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, 32<<20))
	if err != nil {
		c.invalid("Could not read the request body")
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.invalid("Invalid input JSON on line 1: " + jsonProblem(err))
		return false
	}
	return true
}

// jsonProblem says what is wrong with a body without quoting it.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("Cannot deserialize value of type %s at %q", te.Type, te.Field)
	}
	return "malformed JSON"
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		s.serveInspection(w, r)
		return
	}
	c := &call{w: w, r: r, now: s.opts.Now()}
	endpoint := r.URL.Path
	throttled := false
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Time: c.now, Method: r.Method, Endpoint: endpoint, Status: c.status, Throttled: throttled})
		s.mu.Unlock()
		if s.opts.OnRequest != nil {
			s.opts.OnRequest(r.Method, endpoint, c.status)
		}
	}()
	op, params, pathKnown := route(r.Method, r.URL.EscapedPath())
	if op == nil {
		endpoint = "{unknown}"
		if pathKnown {
			c.fail(http.StatusMethodNotAllowed, hsError{Message: "HTTP " + r.Method + " is not supported by this endpoint", Category: "VALIDATION_ERROR"})
			return
		}
		c.fail(http.StatusNotFound, hsError{Message: "Unable to route " + r.Method + " request", Category: "OBJECT_NOT_FOUND"})
		return
	}
	endpoint, c.params = op.path, params
	if !s.authorised(c, op.scope) {
		return
	}
	if !s.admit(c) {
		throttled = true
		return
	}
	if st, ok := s.fails.Next(); ok {
		s.injected(c, st)
		return
	}
	op.handler(s, c)
}

const authMessage = "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"

func (s *Server) authorised(c *call, scope string) bool {
	token, ok := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		c.fail(http.StatusUnauthorized, hsError{Message: authMessage, Category: "INVALID_AUTHENTICATION"})
		return false
	}
	if s.opts.Token != "" && token == s.opts.Token {
		return true
	}
	scopes, known := s.opts.Tokens[token]
	if !known {
		c.fail(http.StatusUnauthorized, hsError{Message: "Authentication credentials not found. The access token provided is invalid or expired.",
			Category: "INVALID_AUTHENTICATION"})
		return false
	}
	if slices.Contains(scopes, scope) {
		return true
	}
	c.fail(http.StatusForbidden, hsError{
		Message:  "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
		Category: "MISSING_SCOPES",
		Errors: []any{map[string]any{"message": "One or more of the following scopes are required.",
			"context": map[string]any{"requiredGranularScopes": []string{scope}}}},
		Links: map[string]any{"scopes": "https://developers.hubspot.com/scopes"},
	})
	return false
}

// FailRequests makes the next n authenticated requests fail with status
// (429 with HubSpot's TEN_SECONDLY_ROLLING document and no remaining
// requests in the headers, 5xx with an internal error), then recover.
func (s *Server) FailRequests(status, n int) { s.fails.Set(status, n) }

// Fail is FailRequests, the shape destinationtest.Env.Fail takes.
func (s *Server) Fail(status, n int) { s.FailRequests(status, n) }

func (s *Server) injected(c *call, status int) {
	if status == http.StatusTooManyRequests {
		c.w.Header().Set("X-HubSpot-RateLimit-Remaining", "0")
		c.w.Header().Set("X-HubSpot-RateLimit-Secondly-Remaining", "0")
		c.fail(status, tenSecondlyError())
		return
	}
	c.fail(status, hsError{Message: "internal error", Category: "INTERNAL_ERROR"})
}

// Requests returns every request answered, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Stats counts what the fake saw.
type Stats struct {
	Requests  int
	Throttled int // answered 429 by the rate limits
	Failed429 int // every 429, injected ones too
	Contacts  int
	Lists     int
	Deletions int
	Archived  int // contacts archived by batch/archive
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Requests: len(s.requests), Contacts: len(s.contacts), Lists: len(s.lists), Deletions: len(s.deletions), Archived: s.archived}
	for _, r := range s.requests {
		if r.Throttled {
			st.Throttled++
		}
		if r.Status == http.StatusTooManyRequests {
			st.Failed429++
		}
	}
	return st
}

// serveInspection answers GET /_fake/state with counts and lists, and
// /_fake/requests with the request log, for checking a run from outside.
func (s *Server) serveInspection(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	switch r.URL.Path {
	case "/_fake/state":
		st := s.Stats()
		type list struct {
			ID, Name, ProcessingType string
			Members                  int
		}
		lists := []list{}
		for _, l := range s.Lists() {
			lists = append(lists, list{l.ID, l.Name, l.ProcessingType, len(l.Members)})
		}
		_ = enc.Encode(map[string]any{"contacts": st.Contacts, "lists": lists, "requests": st.Requests,
			"throttled": st.Throttled, "status_429": st.Failed429, "gdpr_deletions": st.Deletions, "archived": st.Archived})
	case "/_fake/requests":
		_ = enc.Encode(s.Requests())
	default:
		http.NotFound(w, r)
	}
}
