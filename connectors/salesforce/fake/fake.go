// Package fake is a Salesforce stand-in for tests and local runs: an HTTP
// server on loopback that plays both the login server and the org's
// instance, speaks the parts of the REST API the salesforce destination
// uses, and behaves like Salesforce where it matters:
//
//   - OAuth 2.0 token endpoint: client credentials and the JWT bearer flow
//     (RS256 assertions checked against a public key), sessions that expire
//     (401 INVALID_SESSION_ID);
//   - versioned paths /services/data/vNN.N/..., unsupported versions 404;
//   - an in-memory org with Contact, Lead, Campaign and CampaignMember (and
//     custom objects and fields), describe, 18-character record ids;
//   - sObject Collections: upsert by external id, insert and delete, at most
//     200 records a call, per-record errors in request order, allOrNone;
//   - a small SOQL subset with query locators and paging;
//   - Bulk API 2.0 ingest jobs (CSV upload, UploadComplete, polling,
//     successful/failed/unprocessed results in no particular order);
//   - the daily API request limit with Sforce-Limit-Info on every answer and
//     the concurrent long-running request limit, both 403
//     REQUEST_LIMIT_EXCEEDED;
//   - knobs to inject failures (FailRequests, LockRows, RejectExternalIDs,
//     ExpireTokens) and to inspect what a client did (Requests, Stats,
//     Records, Violations).
//
// Error shapes follow Salesforce's REST API Developer Guide, "Status Codes
// and Error Responses":
// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
package fake

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxVersion is the newest API version served by default: at least
// the salesforce destination's default api_version (v67.0), so a client
// left at its defaults finds its version.
const DefaultMaxVersion = 67

// Options configure a Server.
type Options struct {
	// ClientID and ClientSecret are the connected app's consumer key and
	// secret (client credentials flow; ClientID is also the JWT issuer).
	ClientID, ClientSecret string
	// Username is the JWT subject the org knows ("" accepts any).
	Username string
	// JWTPublicKey verifies RS256 assertions of the JWT bearer flow; nil
	// refuses that flow.
	JWTPublicKey *rsa.PublicKey
	// TokenTTL is a session's lifetime (default 2 hours, Salesforce's
	// default session timeout).
	TokenTTL time.Duration
	// MinVersion and MaxVersion bound the API versions served (defaults 46,
	// the first with collection upserts, and DefaultMaxVersion).
	MinVersion, MaxVersion int
	// Objects adds custom objects, or fields to standard ones when Name is
	// a standard object's (e.g. Contact's External_Id__c).
	Objects []Object
	// QueryPageSize is the number of records in a query answer (default
	// 2000, Salesforce's default batch size).
	QueryPageSize int
	// MaxUploadBytes bounds one Bulk API 2.0 upload (default 100 MB).
	MaxUploadBytes int64
	// BulkPolls is the number of job polls answered InProgress before a
	// job completes.
	BulkPolls int
	// DailyLimit is the org's daily API request allocation (default
	// 100,000; negative: no limit); UsedAtStart the requests already used
	// today. The counter does not reset: Salesforce's window rolls over 24
	// hours, longer than any test.
	DailyLimit, UsedAtStart int
	// MaxConcurrent is the number of long-running requests (running longer
	// than LongRunning, default 20 s) allowed at once (default 25).
	MaxConcurrent int
	LongRunning   time.Duration
	// Latency delays every API answer, to make requests long-running.
	Latency time.Duration
	// Seed seeds the shuffling of bulk results (default 1).
	Seed uint64
	// Now is the clock (default time.Now); tests move it to expire tokens.
	Now func() time.Time
	// OnRequest, when set, is called after each answer with the method, the
	// endpoint (identifiers replaced, e.g.
	// "/services/data/{version}/jobs/ingest/{jobId}") and the status.
	OnRequest func(method, endpoint string, status int)
}

// Server is the fake Salesforce org with its login server.
type Server struct {
	URL string

	srv  *httptest.Server
	opts Options

	mu         sync.Mutex
	schema     map[string]*Object // by lower-cased name
	records    map[string]*table  // by object name
	sessions   map[string]time.Time
	queries    map[string]*cursor
	jobs       map[string]*job
	requests   []Request
	violations []string
	used       int
	inFlight   map[int64]time.Time
	nextCall   int64
	failStatus int
	failN      int
	lockN      int
	rejects    map[string]string // external id: validation message
	nextID     int64
	rng        *rand.Rand
	tokens     int
	limited    int
	concurrent int
}

// Request is one request the fake answered.
type Request struct {
	Time     time.Time
	Method   string
	Endpoint string // path with identifiers replaced by {name}
	Status   int
	Duration time.Duration
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
// of your own (see cmd/salesforce-fake); set URL to the address it serves.
func Handler(opts Options) *Server {
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 2 * time.Hour
	}
	if opts.MinVersion == 0 {
		opts.MinVersion = 46
	}
	if opts.MaxVersion == 0 {
		opts.MaxVersion = DefaultMaxVersion
	}
	if opts.QueryPageSize <= 0 {
		opts.QueryPageSize = 2000
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = 100 << 20
	}
	if opts.DailyLimit == 0 {
		opts.DailyLimit = 100000
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 25
	}
	if opts.LongRunning <= 0 {
		opts.LongRunning = 20 * time.Second
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, records: map[string]*table{}, sessions: map[string]time.Time{},
		queries: map[string]*cursor{}, jobs: map[string]*job{}, inFlight: map[int64]time.Time{},
		rejects: map[string]string{}, used: opts.UsedAtStart, nextID: 1,
		rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5f)),
	}
	s.schema = buildSchema(opts.Objects)
	for _, o := range s.schema {
		s.records[o.Name] = &table{byID: map[string]*record{}}
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

// sfError is one element of Salesforce's REST error array.
type sfError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields,omitempty"`
}

// call is one request being served.
type call struct {
	w        http.ResponseWriter
	r        *http.Request
	s        *Server
	status   int
	now      time.Time
	version  int
	endpoint string
	params   map[string]string
	slot     int64 // key in Server.inFlight while admitted
}

func (c *call) json(status int, v any) {
	c.status = status
	c.w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	c.w.WriteHeader(status)
	_ = json.NewEncoder(c.w).Encode(v)
}

// fail answers Salesforce's error array with one error.
func (c *call) fail(status int, code, msg string, fields ...string) {
	c.json(status, []sfError{{Message: msg, ErrorCode: code, Fields: fields}})
}

// notFound is Salesforce's answer for an unknown resource (also for an
// unsupported API version).
func (c *call) notFound() {
	c.fail(http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
}

// readBody reads at most limit bytes; ok is false (and the answer sent)
// when the body is larger or cannot be read.
func (c *call) readBody(limit int64) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, limit+1))
	if err != nil {
		c.fail(http.StatusBadRequest, "JSON_PARSER_ERROR", "could not read the request body")
		return nil, false
	}
	if int64(len(b)) > limit {
		c.s.violation(fmt.Sprintf("%s %s: body over %d bytes", c.r.Method, c.endpoint, limit))
		c.fail(http.StatusRequestEntityTooLarge, "REQUEST_ENTITY_TOO_LARGE",
			fmt.Sprintf("The request body exceeds the maximum size of %d bytes", limit))
		return nil, false
	}
	return b, true
}

// decode reads a JSON body into v, answering 400 JSON_PARSER_ERROR when it
// cannot.
func (c *call) decode(v any) bool {
	b, ok := c.readBody(64 << 20)
	if !ok {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.fail(http.StatusBadRequest, "JSON_PARSER_ERROR", "Unexpected character or malformed JSON in the request body: "+jsonProblem(err))
		return false
	}
	return true
}

// jsonProblem says what is wrong with a body without quoting it.
func jsonProblem(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok {
		return fmt.Sprintf("cannot deserialize %s into %s at %q", te.Value, te.Type, te.Field)
	}
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("syntax error at offset %d", se.Offset)
	}
	return "malformed JSON"
}

// maxURI is the REST API's limit on the URI, and on the URI and headers
// together: "In each REST call, the maximum length for the combined URI and
// headers is 16,384 bytes. A request exceeding this limit returns a 431
// Request Header Fields Too Large error. If the URI itself exceeds this
// limit, the request returns a 414 URI Too Long error" (Salesforce Help
// 000386264, "Maximum number of rows returned by SOQL queries over the REST
// API"). A client looking records up by key must chunk its IN lists.
const maxURI = 16384

// requestSize is the URI and header bytes of a request, as on the wire.
func requestSize(r *http.Request) int {
	n := len(r.RequestURI)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_fake/") {
		s.serveInspection(w, r)
		return
	}
	c := &call{w: w, r: r, s: s, now: s.opts.Now(), endpoint: "{unknown}"}
	start := time.Now()
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Time: c.now, Method: r.Method, Endpoint: c.endpoint, Status: c.status, Duration: time.Since(start)})
		s.mu.Unlock()
		if s.opts.OnRequest != nil {
			s.opts.OnRequest(r.Method, c.endpoint, c.status)
		}
	}()
	switch {
	case len(r.RequestURI) > maxURI:
		s.violation(fmt.Sprintf("%s: URI of %d bytes, over %d", r.Method, len(r.RequestURI), maxURI))
		c.fail(http.StatusRequestURITooLong, "URI_TOO_LONG", fmt.Sprintf("The length of the URI exceeds the %d byte limit", maxURI))
		return
	case requestSize(r) > maxURI:
		s.violation(fmt.Sprintf("%s: URI and headers of %d bytes, over %d", r.Method, requestSize(r), maxURI))
		c.fail(http.StatusRequestHeaderFieldsTooLarge, "REQUEST_HEADER_FIELDS_TOO_LARGE", fmt.Sprintf("The combined length of the URI and headers exceeds the %d byte limit", maxURI))
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/services/oauth2/token":
		c.endpoint = "/services/oauth2/token"
		s.token(c)
	case path == "/services/data":
		c.endpoint = "/services/data"
		s.versions(c)
	case strings.HasPrefix(path, "/services/data/"):
		s.api(c, strings.TrimPrefix(path, "/services/data/"))
	default:
		c.notFound()
	}
}

// versions lists the API versions; it needs no session and, as Salesforce
// documents for the Versions resource, does not count against the limit.
func (s *Server) versions(c *call) {
	if c.r.Method != http.MethodGet {
		c.fail(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are GET,HEAD")
		return
	}
	out := []map[string]string{}
	for v := s.opts.MinVersion; v <= s.opts.MaxVersion; v++ {
		out = append(out, map[string]string{"label": "v" + strconv.Itoa(v), "url": fmt.Sprintf("/services/data/v%d.0", v), "version": fmt.Sprintf("%d.0", v)})
	}
	c.json(http.StatusOK, out)
}

// parseVersion reads "v62.0" (Salesforce versions are whole numbers).
func parseVersion(seg string) (int, bool) {
	num, ok := strings.CutPrefix(seg, "v")
	if !ok {
		return 0, false
	}
	whole, frac, _ := strings.Cut(num, ".")
	if frac != "0" {
		return 0, false
	}
	v, err := strconv.Atoi(whole)
	return v, err == nil && v > 0
}

// api serves /services/data/vNN.N/...: version, session, daily limit,
// concurrency, injected failures, then the resource.
func (s *Server) api(c *call, rest string) {
	vseg, rest, _ := strings.Cut(rest, "/")
	v, ok := parseVersion(vseg)
	if !ok || v < s.opts.MinVersion || v > s.opts.MaxVersion {
		c.endpoint = "/services/data/{version}"
		c.notFound()
		return
	}
	c.version = v
	rt, params, pathKnown := route(c.r.Method, rest)
	if rt != nil {
		c.endpoint, c.params = "/services/data/{version}/"+rt.path, params
	}
	if !s.authorised(c) {
		return
	}
	if !s.admit(c) {
		return
	}
	defer s.release(c)
	if st, ok := s.failure(); ok {
		s.injected(c, st)
		return
	}
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	switch {
	case rt != nil:
		rt.handler(s, c)
	case pathKnown:
		c.fail(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed")
	default:
		c.notFound()
	}
}

// authorised checks the session: "Authorization: Bearer <token>" (or the
// older "OAuth <token>"), known and not expired.
func (s *Server) authorised(c *call) bool {
	h := c.r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "OAuth ")
	}
	tok = strings.TrimSpace(tok)
	s.mu.Lock()
	exp, known := s.sessions[tok]
	s.mu.Unlock()
	if !ok || !known || !c.now.Before(exp) {
		c.fail(http.StatusUnauthorized, "INVALID_SESSION_ID", "Session expired or invalid")
		return false
	}
	return true
}

// ExpireTokens ends every session issued so far, as a session timeout or
// a revocation would.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.sessions {
		s.sessions[t] = time.Time{}
	}
}

// FailRequests makes the next n API requests fail with status (503
// SERVER_UNAVAILABLE, 500 UNKNOWN_EXCEPTION, 403 REQUEST_LIMIT_EXCEEDED,
// 401 INVALID_SESSION_ID, others a generic error), then recover. They
// are answered after the limits, so they count against the daily limit.
func (s *Server) FailRequests(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failStatus, s.failN = status, max(0, n)
}

// Fail is FailRequests in the shape destinationtest.Env.Fail takes.
func (s *Server) Fail(status, n int) { s.FailRequests(n, status) }

func (s *Server) failure() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failN > 0 {
		s.failN--
		return s.failStatus, true
	}
	return 0, false
}

func (s *Server) injected(c *call, status int) {
	switch status {
	case http.StatusServiceUnavailable:
		c.fail(status, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
	case http.StatusInternalServerError:
		c.fail(status, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-1234567890)")
	case http.StatusForbidden:
		c.fail(status, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
	case http.StatusUnauthorized:
		c.fail(status, "INVALID_SESSION_ID", "Session expired or invalid")
	default:
		c.fail(status, "UNKNOWN_EXCEPTION", http.StatusText(status))
	}
}

// violation records a request that breaks a documented rule.
func (s *Server) violation(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, what)
}

// Violations returns what requests broke a documented rule (a collection
// over 200 records, a URI over 16,384 bytes, an upload over the limit, a
// request past the daily limit after being refused, ...).
func (s *Server) Violations() []string {
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
	Requests   int // every request, the token endpoint's too
	APIUsage   int // the daily counter, UsedAtStart included
	Tokens     int // sessions issued
	Limited    int // refused 403 REQUEST_LIMIT_EXCEEDED for the daily limit
	Concurrent int // refused for the concurrent long-running limit
	Status401  int
	Status5xx  int
	Violations int
	Jobs       int
	Records    map[string]int // live records by object
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Requests: len(s.requests), APIUsage: s.used, Tokens: s.tokens, Limited: s.limited,
		Concurrent: s.concurrent, Violations: len(s.violations), Jobs: len(s.jobs), Records: map[string]int{}}
	for _, r := range s.requests {
		switch {
		case r.Status == http.StatusUnauthorized:
			st.Status401++
		case r.Status >= 500:
			st.Status5xx++
		}
	}
	for name, t := range s.records {
		st.Records[name] = t.live()
	}
	return st
}

// serveInspection answers GET /_fake/state with counts and
// /_fake/requests with the request log, for checking a run from outside.
func (s *Server) serveInspection(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	switch r.URL.Path {
	case "/_fake/state":
		_ = enc.Encode(s.Stats())
	case "/_fake/requests":
		_ = enc.Encode(s.Requests())
	case "/_fake/violations":
		_ = enc.Encode(s.Violations())
	default:
		http.NotFound(w, r)
	}
}
