// Package fake is a Klaviyo stand-in for tests and local runs: an HTTP
// server on loopback that speaks the parts of Klaviyo's API (revision
// 2026-07-15) the klaviyo destination uses, and behaves like Klaviyo where
// it matters:
//
//   - private API key authentication (Authorization: Klaviyo-API-Key ...)
//     with Klaviyo's 401 and 403 error documents, per-key scopes;
//   - the revision header required and checked;
//   - request bodies checked against Klaviyo's OpenAPI description when a
//     validator is given (invalid requests get Klaviyo's 400 document and
//     are recorded, so tests can assert there were none);
//   - Klaviyo's batch and size limits (10,000 profiles and 5 MB per bulk
//     import job, 1,000 per list call and per subscribe call, 100 per
//     unsubscribe call) with its error documents;
//   - per-endpoint rate limits in fixed windows (a burst second and a
//     steady minute), answered 429 with Retry-After, and the
//     RateLimit-Limit/-Remaining/-Reset headers on other answers
//     (KlaviyoLimits are the published ones);
//   - asynchronous bulk import jobs (queued, processing, complete) whose
//     per-profile failures are read as import errors: invalid e-mail or
//     phone number, no identifier, or errors a test injects;
//   - profile deletion requests (data-privacy-deletion-jobs), recorded,
//     whose job deletes the profiles and takes them off every list;
//   - profiles, lists, memberships and e-mail/SMS subscriptions kept in
//     memory for tests to read back.
package fake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
)

// Revision is the API revision the fake serves.
const Revision = "2026-07-15"

// Options configure a Server.
type Options struct {
	// APIKey is a private key with every scope. Keys adds keys with the
	// listed scopes only (requests needing another scope get 403).
	APIKey string
	Keys   map[string][]string
	// Validator checks requests against Klaviyo's API description, e.g. an
	// *apispec.Spec; nil: no check.
	Validator interface{ ValidateRequest(*http.Request) error }
	// Limits are per-operation rate limits (by operation id, such as
	// bulk_import_profiles); nil: none. KlaviyoLimits returns Klaviyo's.
	Limits map[string]Limit
	// SteadyWindow is the length of the steady window (default a minute,
	// as Klaviyo's; tests shorten it).
	SteadyWindow time.Duration
	// Jobs: how long a bulk import job stays queued, then processing (plus
	// PerProfile for each of its profiles). Defaults 20ms, 50ms, 0.
	JobQueued, JobProcessing, JobPerProfile time.Duration
	// Lean keeps only profiles' identifiers, memberships and
	// subscriptions, not their attributes, and checks imported phone
	// numbers by their shape only (benchmarks of millions).
	Lean bool
	// OnJob, when set, is called when a bulk import job completes.
	OnJob func(JobInfo)
	// DeletionDelay is how long after a deletion request its job deletes
	// the profiles (Klaviyo's run asynchronously); 0: before answering.
	DeletionDelay time.Duration
}

// JobInfo describes a completed bulk import job.
type JobInfo struct {
	ID                      string
	Total, Imported, Failed int
	Lists                   []string
}

// Server is the fake Klaviyo.
type Server struct {
	URL string

	srv  *httptest.Server
	opts Options

	mu          sync.Mutex
	profiles    map[string]*Profile // by id
	byEmail     map[string]string   // lower-cased e-mail -> profile id
	byPhone     map[string]string
	byExternal  map[string]string
	order       []string // profile ids in creation order
	lists       map[string]*List
	listOrder   []string
	jobs        map[string]*job
	jobOrder    []string
	timers      map[*time.Timer]bool
	closed      bool
	rejects     map[string]string // identifier -> injected import error detail
	requests    []Request
	violations  []string
	windows     map[string]*windowCounts
	script      map[string][]int   // operation -> statuses to answer next
	fails       fakeserve.Failures // the next requests' status, whatever their operation
	deletions   []DeletionRequest
	deleted     int // profiles deleted by deletion jobs
	imported    int // profiles imported by completed jobs
	importFails int
}

// Request is one request the fake received.
type Request struct {
	Time      time.Time
	Method    string
	Path      string
	Operation string // Klaviyo's operation id; "" for an unknown path
	Status    int
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
// of your own (see cmd/klaviyo-fake); set URL to the address it serves.
func Handler(opts Options) *Server {
	if opts.JobQueued <= 0 {
		opts.JobQueued = 20 * time.Millisecond
	}
	if opts.JobProcessing <= 0 {
		opts.JobProcessing = 50 * time.Millisecond
	}
	return &Server{
		opts:     opts,
		profiles: map[string]*Profile{}, byEmail: map[string]string{}, byPhone: map[string]string{}, byExternal: map[string]string{},
		lists: map[string]*List{}, jobs: map[string]*job{}, timers: map[*time.Timer]bool{},
		rejects: map[string]string{}, windows: map[string]*windowCounts{}, script: map[string][]int{},
	}
}

// Close stops the server and its pending jobs.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for t := range s.timers {
		t.Stop()
	}
	s.timers = map[*time.Timer]bool{}
	s.mu.Unlock()
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
}

// operation is one endpoint the fake serves.
type operation struct {
	id      string
	method  string
	path    string // with {x} for a path parameter
	scopes  []string
	handler func(s *Server, c *call)
}

var operations = []operation{
	{"get_accounts", "GET", "/api/accounts", []string{"accounts:read"}, (*Server).getAccounts},
	{"get_lists", "GET", "/api/lists", []string{"lists:read"}, (*Server).getLists},
	{"create_list", "POST", "/api/lists", []string{"lists:write"}, (*Server).createList},
	{"get_list", "GET", "/api/lists/{id}", []string{"lists:read"}, (*Server).getList},
	{"get_profile_ids_for_list", "GET", "/api/lists/{id}/relationships/profiles", []string{"lists:read", "profiles:read"}, (*Server).getListProfileIDs},
	{"add_profiles_to_list", "POST", "/api/lists/{id}/relationships/profiles", []string{"lists:write", "profiles:write"}, (*Server).addToList},
	{"remove_profiles_from_list", "DELETE", "/api/lists/{id}/relationships/profiles", []string{"lists:write", "profiles:write"}, (*Server).removeFromList},
	{"get_profiles", "GET", "/api/profiles", []string{"profiles:read"}, (*Server).getProfiles},
	{"bulk_import_profiles", "POST", "/api/profile-bulk-import-jobs", []string{"lists:write", "profiles:write"}, (*Server).createImportJob},
	{"get_bulk_import_profiles_jobs", "GET", "/api/profile-bulk-import-jobs", []string{"lists:read", "profiles:read"}, (*Server).getImportJobs},
	{"get_bulk_import_profiles_job", "GET", "/api/profile-bulk-import-jobs/{job_id}", []string{"lists:read", "profiles:read"}, (*Server).getImportJob},
	{"get_errors_for_bulk_import_profiles_job", "GET", "/api/profile-bulk-import-jobs/{id}/import-errors", []string{"profiles:read"}, (*Server).getImportErrors},
	{"bulk_subscribe_profiles", "POST", "/api/profile-subscription-bulk-create-jobs", []string{"lists:write", "profiles:write", "subscriptions:write"}, (*Server).subscribe},
	{"bulk_unsubscribe_profiles", "POST", "/api/profile-subscription-bulk-delete-jobs", []string{"lists:write", "profiles:write", "subscriptions:write"}, (*Server).unsubscribe},
	{"request_profile_deletion", "POST", "/api/data-privacy-deletion-jobs", []string{"data-privacy:write"}, (*Server).requestDeletion},
}

// Operations lists the operation ids the fake serves.
func Operations() []string {
	out := make([]string, len(operations))
	for i, op := range operations {
		out[i] = op.id
	}
	return out
}

func route(method, path string) (*operation, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	i, params, known := fakeserve.Route(len(operations), func(i int) (string, string) { return operations[i].method, operations[i].path }, method, segs, nil)
	if i < 0 {
		return nil, nil, known
	}
	return &operations[i], params, true
}

// call is one request being served.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	op     *operation
	params map[string]string
	body   []byte
	status int
}

// apiError is one entry of Klaviyo's error document.
type apiError struct {
	Status int            `json:"status"`
	Code   string         `json:"code"`
	Title  string         `json:"title"`
	Detail string         `json:"detail"`
	Source map[string]any `json:"source,omitempty"`
	ID     string         `json:"id"`
	Links  map[string]any `json:"links"`
	Meta   map[string]any `json:"meta"`
}

func pointer(p string) map[string]any   { return map[string]any{"pointer": p} }
func parameter(p string) map[string]any { return map[string]any{"parameter": p} }

// profileSeq numbers profiles: ids are made cheaply, for benchmarks of
// millions, in the shape of Klaviyo's (26 characters starting 01).
var profileSeq atomic.Uint64

func profileID() string {
	return fmt.Sprintf("01%024X", profileSeq.Add(1))
}

func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))[:n]
}

func (c *call) fail(status int, errs ...apiError) {
	for i := range errs {
		errs[i].Status = status
		errs[i].ID = strings.ToLower(newID(8) + "-" + newID(4) + "-" + newID(4) + "-" + newID(4) + "-" + newID(12))
		errs[i].Links, errs[i].Meta = map[string]any{}, map[string]any{}
	}
	c.json(status, map[string]any{"errors": errs})
}

func (c *call) invalid(detail string, source map[string]any) {
	c.fail(http.StatusBadRequest, apiError{Code: "invalid", Title: "Invalid input.", Detail: detail, Source: source})
}

func (c *call) json(status int, v any) {
	c.status = status
	c.w.Header().Set("Content-Type", "application/vnd.api+json")
	c.w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(c.w).Encode(v)
	}
}

func (c *call) noContent(status int) {
	c.status = status
	c.w.WriteHeader(status)
}

// base is the server's own address as the client reached it, for links.
func (c *call) base() string {
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.r.Host
}

var revisionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$`)

// maxBody is Klaviyo's payload limit (5 MB) plus room to read past it.
const maxBody = 5 << 20

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		s.serveInspection(w, r)
		return
	}
	c := &call{w: w, r: r}
	defer func() {
		s.mu.Lock()
		id := ""
		if c.op != nil {
			id = c.op.id
		}
		s.requests = append(s.requests, Request{Time: now, Method: r.Method, Path: r.URL.Path, Operation: id, Status: c.status})
		s.mu.Unlock()
	}()
	op, params, pathKnown := route(r.Method, r.URL.Path)
	if op == nil {
		if pathKnown {
			c.fail(http.StatusMethodNotAllowed, apiError{Code: "method_not_allowed", Title: "Method not allowed.", Detail: fmt.Sprintf("Method %q not allowed.", r.Method)})
			return
		}
		c.fail(http.StatusNotFound, apiError{Code: "not_found", Title: "Not found.", Detail: "Not found."})
		return
	}
	c.op, c.params = op, params
	if !s.authorised(c) {
		return
	}
	rev := r.Header.Get("revision")
	switch {
	case rev == "":
		c.fail(http.StatusBadRequest, apiError{Code: "invalid", Title: "Invalid input.", Detail: "Missing `revision` header.", Source: parameter("revision")})
		return
	case !revisionRE.MatchString(rev):
		c.fail(http.StatusBadRequest, apiError{Code: "invalid", Title: "Invalid input.", Detail: fmt.Sprintf("Invalid revision %q: expected YYYY-MM-DD.", rev), Source: parameter("revision")})
		return
	case rev[:10] > Revision:
		c.fail(http.StatusBadRequest, apiError{Code: "invalid", Title: "Invalid input.", Detail: fmt.Sprintf("Revision %s does not exist.", rev), Source: parameter("revision")})
		return
	}
	if !s.admit(c, now) {
		return
	}
	if st, ok := s.scripted(op.id); ok {
		if st == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
			c.fail(st, apiError{Code: "throttled", Title: "Request was throttled.", Detail: "Request was throttled. Expected available in 1 second."})
			return
		}
		c.fail(st, apiError{Code: "error", Title: "A server error occurred.", Detail: "Injected failure."})
		return
	}
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodDelete || r.Method == http.MethodPatch) {
		ct := strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])
		if ct != "application/vnd.api+json" && ct != "application/json" {
			c.fail(http.StatusUnsupportedMediaType, apiError{Code: "unsupported_media_type", Title: "Unsupported media type.", Detail: fmt.Sprintf("Unsupported media type %q in request.", ct)})
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			c.invalid("could not read the request body", nil)
			return
		}
		if len(b) > maxBody {
			c.fail(http.StatusRequestEntityTooLarge, apiError{Code: "payload_too_large", Title: "Payload too large.", Detail: "The maximum allowed payload size is 5MB."})
			return
		}
		c.body = b
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	if s.opts.Validator != nil {
		if err := s.opts.Validator.ValidateRequest(r); err != nil {
			s.mu.Lock()
			s.violations = append(s.violations, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
			s.mu.Unlock()
			c.invalid(err.Error(), nil)
			return
		}
	}
	op.handler(s, c)
}

func (s *Server) authorised(c *call) bool {
	h := c.r.Header.Get("Authorization")
	key, ok := strings.CutPrefix(h, "Klaviyo-API-Key ")
	if h == "" || !ok {
		c.fail(http.StatusUnauthorized, apiError{Code: "not_authenticated", Title: "Authentication credentials were not provided.", Detail: "Missing or invalid private key."})
		return false
	}
	var scopes []string
	switch {
	case s.opts.APIKey != "" && key == s.opts.APIKey:
		return true
	default:
		sc, known := s.opts.Keys[key]
		if !known {
			c.fail(http.StatusUnauthorized, apiError{Code: "authentication_failed", Title: "Incorrect authentication credentials.", Detail: "Incorrect authentication credentials."})
			return false
		}
		scopes = sc
	}
	var missing []string
	for _, need := range c.op.scopes {
		if !slices.Contains(scopes, need) {
			missing = append(missing, need)
		}
	}
	if len(missing) > 0 {
		c.fail(http.StatusForbidden, apiError{Code: "permission_denied", Title: "You do not have permission to perform this action.", Detail: "This API key is missing required scopes: " + strings.Join(missing, ", ") + "."})
		return false
	}
	return true
}

// FailNext makes the next requests to an operation fail with the given
// statuses, in order (429 comes with Retry-After: 1), after
// authentication and rate limiting.
func (s *Server) FailNext(operation string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[operation] = append(s.script[operation], statuses...)
}

// FailRequests makes the next n requests fail with status, whatever their
// operation (429 comes with Retry-After: 1), after authentication and rate
// limiting; FailNext's scripts for an operation come first.
func (s *Server) FailRequests(status, n int) {
	s.fails.Set(status, n)
}

func (s *Server) scripted(op string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.script[op]; len(q) > 0 {
		s.script[op] = q[1:]
		return q[0], true
	}
	return s.fails.Next()
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestTimes returns the arrival time of every request.
func (s *Server) RequestTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]time.Time, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.Time
	}
	return out
}

// Violations returns the requests the validator refused, with why.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Stats counts what the fake saw.
type Stats struct {
	Requests    int
	ByOperation map[string]int
	Throttled   int // answered 429 by the rate limits
	Imported    int // profiles imported by completed jobs
	ImportFails int // profiles refused by completed jobs
	Profiles    int
	Deletions   int // deletion requests accepted
	Deleted     int // profiles their jobs deleted
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Requests: len(s.requests), ByOperation: map[string]int{}, Imported: s.imported, ImportFails: s.importFails, Profiles: len(s.profiles),
		Deletions: len(s.deletions), Deleted: s.deleted}
	for _, r := range s.requests {
		st.ByOperation[r.Operation]++
		if r.Status == http.StatusTooManyRequests {
			st.Throttled++
		}
	}
	return st
}

// serveInspection answers GET /_fake/state with the lists and counts,
// /_fake/profiles with every profile and /_fake/requests with every
// request, for people and scripts checking a run from outside.
func (s *Server) serveInspection(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	switch r.URL.Path {
	case "/_fake/state":
		st := s.Stats()
		type list struct {
			ID, Name string
			Members  int
		}
		var lists []list
		for _, l := range s.Lists() {
			lists = append(lists, list{l.ID, l.Name, len(l.Members)})
		}
		violations := s.Violations()
		if violations == nil {
			violations = []string{}
		}
		_ = enc.Encode(map[string]any{"profiles": st.Profiles, "lists": lists, "requests": st.Requests, "throttled": st.Throttled,
			"imported": st.Imported, "import_failures": st.ImportFails, "deletion_requests": st.Deletions, "profiles_deleted": st.Deleted,
			"by_operation": st.ByOperation, "violations": violations})
	case "/_fake/profiles":
		_ = enc.Encode(s.Profiles())
	case "/_fake/requests":
		_ = enc.Encode(s.Requests())
	default:
		http.NotFound(w, r)
	}
}
