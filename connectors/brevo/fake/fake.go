// Package fake is a Brevo API v3 server for tests: it keeps contacts,
// lists, memberships and blacklist flags in memory and answers like Brevo
// does, with its error shape ({"code", "message"}), its limits (150
// contacts per list call, 10 MB imports, 10 requests a second on /contacts
// endpoints and 100 an hour on the others, with x-sib-ratelimit-* headers
// on every answer and 429 past them), asynchronous imports followed with
// GET /processes/{id}, and either of /contacts/batch's two answers to
// unknown contacts (Options.BatchAnswer): the all-or-nothing 404 naming
// their indexes that Brevo is observed to send, or the 207 with
// successIds/failureIds its API reference documents. Contacts are deleted
// with DELETE /contacts/{identifier} and its identifierType (Deletions).
// Requests can be checked against Brevo's
// published spec (Options.Validator); a request that breaks it is answered
// 400 and recorded (Violations). Tests can make chosen contacts fail
// (Reject), make the next requests fail (Fail) and read back everything the
// server holds.
package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
)

// Validator checks a request against the vendor's spec
// (apispec.Spec.ValidateRequest).
type Validator interface {
	ValidateRequest(*http.Request) error
}

// Options configure a Server.
type Options struct {
	APIKey    string    // the api-key header every request must carry
	Validator Validator // nil: no spec check
	// Limits: requests per second on /contacts endpoints (default 10),
	// per hour on the others (default 100). Negative: no limit.
	ContactsPerSecond int
	OtherPerHour      int
	// ImportDelay is how long an import process takes (default 100ms).
	ImportDelay time.Duration
	// OnRequest, when set, is called after each answer with the method,
	// the endpoint (the method and the path with identifiers replaced by
	// {id}: "POST /contacts/batch", "GET /contacts/{id}") and the status.
	OnRequest func(method, endpoint string, status int)
	// BatchAnswer is how POST /contacts/batch answers contacts it cannot
	// update: BatchObserved (the default, "" too) or BatchDocumented.
	// Check a value from users with CheckBatchAnswer; Handler panics on
	// one it does not know.
	BatchAnswer string
}

// The answers of POST /contacts/batch to contacts it cannot update.
const (
	// BatchObserved is what Brevo is observed to answer: all or nothing.
	// Unknown contacts: 404 document_not_found "No contact found for
	// indexes 3,4" (0-based indexes in the request), nothing applied; a
	// contact refused (Reject, an invalid or duplicate value): 400 with
	// its message, nothing applied.
	BatchObserved = "observed"
	// BatchDocumented is what Brevo's API reference documents: the
	// contacts it can update are updated, and when some are unknown or
	// refused the answer is 207 {"successIds": [...], "failureIds":
	// [...]}, both lists holding 0-based indexes in the request (the spec
	// types them int64 "IDs"; an unknown contact has no id). No failure:
	// 204. A malformed request (not one identifier per contact, a list
	// that does not exist) is still refused as a whole.
	BatchDocumented = "documented"
)

// BatchAnswers are the values of Options.BatchAnswer, the default first.
var BatchAnswers = []string{BatchObserved, BatchDocumented}

// CheckBatchAnswer tells whether v is a value of Options.BatchAnswer ("" is
// the default, BatchObserved).
func CheckBatchAnswer(v string) error {
	if v == "" || slices.Contains(BatchAnswers, v) {
		return nil
	}
	return fmt.Errorf("batch answer %q: want one of %s", v, strings.Join(BatchAnswers, ", "))
}

// Contact is a contact as the server holds it.
type Contact struct {
	ID               int64
	Email            string
	ExtID            string
	Attributes       map[string]any // SMS included, as E.164
	EmailBlacklisted bool
	SMSBlacklisted   bool
	Lists            []int64
}

// SMS is the contact's SMS attribute.
func (c Contact) SMS() string { s, _ := c.Attributes["SMS"].(string); return s }

type contact struct {
	Contact
	lists map[int64]bool
}

type list struct {
	id, folder int64
	name       string
}

type process struct {
	id     int64
	status string
}

// Stats count what the server answered.
type Stats struct {
	Requests    int
	Contacts    int            // requests to /contacts endpoints (Brevo's per-second bucket)
	TooMany     int            // 429 answers
	ByEndpoint  map[string]int // "POST /contacts/batch" -> requests
	Imports     int            // import processes started
	ImportedRow int            // rows imports created or updated
	Deleted     int            // contacts DELETE /contacts/{identifier} deleted
}

// Deletion is a contact DELETE /contacts/{identifier} deleted: the contact
// as it was, and the identifierType of the request ("" when none was sent).
type Deletion struct {
	Contact        Contact
	IdentifierType string
}

// Server is the fake Brevo.
type Server struct {
	URL string // base URL, ending in /v3

	srv  *httptest.Server
	opts Options

	mu         sync.Mutex
	contacts   map[int64]*contact
	byEmail    map[string]int64
	bySMS      map[string]int64
	lists      map[int64]*list
	processes  map[int64]*process
	nextID     int64
	reject     map[string]string // lower-cased email or E.164 SMS -> message
	violations []string
	times      []time.Time
	stats      Stats
	windows    map[string]*window
	pending    sync.WaitGroup
	deletions  []Deletion
	fails      fakeserve.Failures // the next requests' status (Fail)
}

type window struct {
	start time.Time
	n     int
}

// New starts a server on loopback, closed with t's cleanup (nil: call
// Close).
func New(t interface{ Cleanup(func()) }, opts Options) *Server {
	s := Handler(opts)
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL + "/v3"
	if t != nil {
		t.Cleanup(s.Close)
	}
	return s
}

// Handler returns a server that is not listening, to mount on a listener
// of your own (see cmd/brevo-fake).
func Handler(opts Options) *Server {
	if opts.ContactsPerSecond == 0 {
		opts.ContactsPerSecond = 10
	}
	if opts.OtherPerHour == 0 {
		opts.OtherPerHour = 100
	}
	if opts.ImportDelay <= 0 {
		opts.ImportDelay = 100 * time.Millisecond
	}
	if err := CheckBatchAnswer(opts.BatchAnswer); err != nil {
		panic("fake.Handler: " + err.Error())
	}
	if opts.BatchAnswer == "" {
		opts.BatchAnswer = BatchObserved
	}
	s := &Server{
		opts: opts, contacts: map[int64]*contact{}, byEmail: map[string]int64{}, bySMS: map[string]int64{},
		lists: map[int64]*list{}, processes: map[int64]*process{}, reject: map[string]string{},
		windows: map[string]*window{}, stats: Stats{ByEndpoint: map[string]int{}},
	}
	return s
}

// Close stops the server and waits for running imports.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
	s.pending.Wait()
}

// AddList creates a list and returns its id.
func (s *Server) AddList(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addList(name, 1)
}

func (s *Server) addList(name string, folder int64) int64 {
	s.nextID++
	s.lists[s.nextID] = &list{id: s.nextID, name: name, folder: folder}
	return s.nextID
}

// ListID returns the id of the list named name, or 0.
func (s *Server) ListID(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lists {
		if l.name == name {
			return l.id
		}
	}
	return 0
}

// Contacts returns a copy of every contact.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contacts))
	for _, c := range s.contacts {
		out = append(out, c.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *contact) snapshot() Contact {
	out := c.Contact
	out.Attributes = maps.Clone(c.Attributes)
	out.Lists = slices.Sorted(maps.Keys(c.lists))
	return out
}

// Find returns the contact with this e-mail or SMS number.
func (s *Server) Find(identifier string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.find(identifier)
	if c == nil {
		return Contact{}, false
	}
	return c.snapshot(), true
}

// Members returns the contacts in a list.
func (s *Server) Members(listID int64) []Contact {
	var out []Contact
	for _, c := range s.Contacts() {
		if slices.Contains(c.Lists, listID) {
			out = append(out, c)
		}
	}
	return out
}

// Put stores a contact as if someone else had created it in Brevo.
func (s *Server) Put(c Contact) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	nc := s.newContact(c.Email, c.SMS())
	nc.ExtID, nc.EmailBlacklisted, nc.SMSBlacklisted = c.ExtID, c.EmailBlacklisted, c.SMSBlacklisted
	for k, v := range c.Attributes {
		nc.Attributes[k] = v
	}
	for _, l := range c.Lists {
		nc.lists[l] = true
	}
	return nc.ID
}

// Reject makes every write touching these contacts (by e-mail or E.164
// SMS) fail with msg: a 400 for /contacts/batch and POST /contacts, a row
// an import skips, a failure in list calls. msg "" lifts it.
func (s *Server) Reject(msg string, identifiers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range identifiers {
		id = strings.ToLower(strings.TrimSpace(id))
		if msg == "" {
			delete(s.reject, id)
		} else {
			s.reject[id] = msg
		}
	}
}

// Fail makes the next n requests answer status, before anything else is
// checked, as an overloaded Brevo would: a 429 carries Brevo's
// x-sib-ratelimit-* headers (remaining 0, reset in 1 second), a 5xx
// Brevo's error shape. n <= 0 lifts it.
func (s *Server) Fail(status, n int) {
	s.fails.Set(status, n)
}

// failure takes one injected failure, if any is left.
func (s *Server) failure(w http.ResponseWriter) (answer, bool) {
	status, ok := s.fails.Next()
	if !ok {
		return answer{}, false
	}
	if status == http.StatusTooManyRequests {
		h := w.Header()
		h.Set("x-sib-ratelimit-limit", strconv.Itoa(max(1, s.opts.ContactsPerSecond)))
		h.Set("x-sib-ratelimit-remaining", "0")
		h.Set("x-sib-ratelimit-reset", "1")
		return fail(status, "too_many_requests", "Too many requests: the rate limit is reached, wait for x-sib-ratelimit-reset"), true
	}
	return fail(status, "internal_error", "%s: try again later", http.StatusText(status)), true
}

// Deletions returns the contacts deleted so far, in order.
func (s *Server) Deletions() []Deletion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deletions)
}

// Violations returns the requests that broke Brevo's spec.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Requests returns the arrival time of every request.
func (s *Server) Requests() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.times)
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByEndpoint = maps.Clone(s.stats.ByEndpoint)
	return st
}

// ResetStats zeroes the counts and request times (contacts stay).
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{ByEndpoint: map[string]int{}}
	s.times = nil
}

// errorBody is Brevo's error shape.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type answer struct {
	status int
	body   any
}

func fail(status int, code, format string, args ...any) answer {
	return answer{status, errorBody{Code: code, Message: fmt.Sprintf(format, args...)}}
}

// template names an endpoint with its identifiers (ids, e-mails, phone
// numbers) replaced by {id}, for stats and logs without personal data.
func template(path string) string {
	seg := strings.Split(path, "/")
	for i, p := range seg {
		if p == "" {
			continue
		}
		// /contacts/{identifier}: any identifier, an ext_id included.
		contact := i == 2 && seg[1] == "contacts" && !slices.Contains(contactWords, p)
		if _, err := strconv.ParseInt(p, 10, 64); err == nil || contact || strings.ContainsAny(p, "@+% ") {
			seg[i] = "{id}"
		}
	}
	return strings.Join(seg, "/")
}

// contactWords are the paths under /contacts/ that are not an identifier.
var contactWords = []string{"batch", "import", "lists", "folders", "attributes", "export", "segments", "doubleOptinConfirmation"}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/v3")
	endpoint := r.Method + " " + template(path)
	s.mu.Lock()
	s.times = append(s.times, time.Now())
	s.stats.Requests++
	s.stats.ByEndpoint[endpoint]++
	if strings.HasPrefix(path, "/contacts") {
		s.stats.Contacts++
	}
	s.mu.Unlock()

	a := s.serve(w, r, path)
	if a.status == http.StatusTooManyRequests {
		s.mu.Lock()
		s.stats.TooMany++
		s.mu.Unlock()
	}
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(r.Method, endpoint, a.status)
	}
	if a.body == nil {
		w.WriteHeader(a.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_ = json.NewEncoder(w).Encode(a.body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, path string) answer {
	if !strings.HasPrefix(r.URL.Path, "/v3/") {
		return fail(http.StatusNotFound, "document_not_found", "Not found: the API lives under /v3")
	}
	if a, ok := s.failure(w); ok {
		return a
	}
	if r.Header.Get("api-key") == "" || r.Header.Get("api-key") != s.opts.APIKey {
		return fail(http.StatusUnauthorized, "unauthorized", "Key not found")
	}
	if ok := s.admit(w, path); !ok {
		return fail(http.StatusTooManyRequests, "too_many_requests", "Too many requests: the rate limit is reached, wait for x-sib-ratelimit-reset")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		return fail(http.StatusBadRequest, "bad_request", "reading the body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if s.opts.Validator != nil {
		if err := s.opts.Validator.ValidateRequest(r); err != nil {
			s.mu.Lock()
			s.violations = append(s.violations, err.Error())
			s.mu.Unlock()
			return fail(http.StatusBadRequest, "invalid_parameter", "%v", err)
		}
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && path == "/account":
		return answer{200, account()}
	case r.Method == http.MethodGet && len(seg) == 2 && seg[0] == "processes":
		return s.process(seg[1])
	case len(seg) < 1 || seg[0] != "contacts":
	case r.Method == http.MethodPost && path == "/contacts/batch":
		return s.batch(body)
	case r.Method == http.MethodPost && path == "/contacts":
		return s.create(body)
	case r.Method == http.MethodPost && path == "/contacts/import":
		return s.importContacts(body)
	case r.Method == http.MethodGet && path == "/contacts/lists":
		return s.listLists(r)
	case r.Method == http.MethodPost && path == "/contacts/lists":
		return s.createList(body)
	case r.Method == http.MethodGet && path == "/contacts/folders":
		return answer{200, map[string]any{"folders": []map[string]any{{"id": 1, "name": "Your first folder", "totalBlacklisted": 0, "totalSubscribers": 0, "uniqueSubscribers": 0}}, "count": 1}}
	case r.Method == http.MethodGet && len(seg) == 3 && seg[1] == "lists":
		return s.getList(seg[2])
	case r.Method == http.MethodPost && len(seg) == 5 && seg[1] == "lists" && seg[3] == "contacts":
		return s.membership(seg[2], seg[4], body)
	case len(seg) >= 2 && (r.Method == http.MethodGet || r.Method == http.MethodDelete):
		ident, ok := contactIdentifier(r)
		switch {
		case !ok:
		case r.Method == http.MethodGet:
			return s.getContact(ident)
		default:
			return s.deleteContact(ident, r.URL.Query())
		}
	}
	return fail(http.StatusNotFound, "document_not_found", "%s %s is not served by this fake", r.Method, path)
}

// admit counts a request in its fixed window (aligned on the clock) and
// writes the x-sib-ratelimit-* headers.
func (s *Server) admit(w http.ResponseWriter, path string) bool {
	bucket, limit, per := "other", s.opts.OtherPerHour, time.Hour
	if strings.HasPrefix(path, "/contacts") {
		bucket, limit, per = "contacts", s.opts.ContactsPerSecond, time.Second
	}
	if limit < 0 {
		return true
	}
	now := time.Now()
	start := now.Truncate(per)
	s.mu.Lock()
	win := s.windows[bucket]
	if win == nil || !win.start.Equal(start) {
		win = &window{start: start}
		s.windows[bucket] = win
	}
	ok := win.n < limit
	if ok {
		win.n++
	}
	remaining := limit - win.n
	s.mu.Unlock()
	reset := start.Add(per).Sub(now)
	// Whole seconds, rounded up, as Brevo sends them.
	secs := int((reset + time.Second - 1) / time.Second)
	h := w.Header()
	h.Set("x-sib-ratelimit-limit", strconv.Itoa(limit))
	h.Set("x-sib-ratelimit-remaining", strconv.Itoa(remaining))
	h.Set("x-sib-ratelimit-reset", strconv.Itoa(secs))
	return ok
}

func account() map[string]any {
	return map[string]any{
		"email": "owner@example.com", "firstName": "Test", "lastName": "Account", "companyName": "sluice tests",
		"address": map[string]any{"city": "Paris", "street": "1 rue de test", "zipCode": "75001", "country": "France"},
		"plan":    []map[string]any{{"type": "free", "credits": 300, "creditsType": "sendLimit"}},
		"relay":   map[string]any{"enabled": true, "data": map[string]any{"userName": "owner@example.com", "relay": "smtp-relay.example.com", "port": 587}},
	}
}

// --- contacts ---

var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// normSMS reads a number the way Brevo accepts it: +33..., 0033... or
// 33... with the country code.
func normSMS(v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "00"):
		s = "+" + s[2:]
	case !strings.HasPrefix(s, "+"):
		s = "+" + s
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}

func (s *Server) find(identifier string) *contact {
	id := strings.ToLower(strings.TrimSpace(identifier))
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		if c := s.contacts[n]; c != nil {
			return c
		}
	}
	if cid, ok := s.byEmail[id]; ok {
		return s.contacts[cid]
	}
	if sms, ok := normSMS(id); ok {
		if cid, ok := s.bySMS[sms]; ok {
			return s.contacts[cid]
		}
	}
	return nil
}

func (s *Server) newContact(email, sms string) *contact {
	s.nextID++
	c := &contact{Contact: Contact{ID: s.nextID, Email: strings.ToLower(email), Attributes: map[string]any{}}, lists: map[int64]bool{}}
	s.contacts[c.ID] = c
	if email != "" {
		s.byEmail[c.Email] = c.ID
	}
	if sms != "" {
		c.Attributes["SMS"] = sms
		s.bySMS[sms] = c.ID
	}
	return c
}

// rejected returns the injected failure of a contact, if any.
func (s *Server) rejected(email, sms string) (string, bool) {
	if m, ok := s.reject[strings.ToLower(email)]; ok && email != "" {
		return m, true
	}
	if m, ok := s.reject[sms]; ok && sms != "" {
		return m, true
	}
	return "", false
}

// change is what one write asks of a contact.
type change struct {
	Email            *string        `json:"email"`
	ID               *int64         `json:"id"`
	SMS              *string        `json:"sms"`
	ExtID            *string        `json:"ext_id"`
	Attributes       map[string]any `json:"attributes"`
	EmailBlacklisted *bool          `json:"emailBlacklisted"`
	SMSBlacklisted   *bool          `json:"smsBlacklisted"`
	ListIDs          []int64        `json:"listIds"`
	UnlinkListIDs    []int64        `json:"unlinkListIds"`
	UpdateEnabled    bool           `json:"updateEnabled"`
}

// check validates a change against a contact (nil: a new one) without
// applying it.
func (s *Server) check(ch change, c *contact) *answer {
	if v, ok := ch.Attributes["SMS"]; ok && v != nil && v != "" {
		sms, ok := normSMS(v)
		if !ok {
			a := fail(http.StatusBadRequest, "invalid_parameter", "Invalid phone number")
			return &a
		}
		if other, ok := s.bySMS[sms]; ok && (c == nil || other != c.ID) {
			a := fail(http.StatusBadRequest, "duplicate_parameter", "Unable to update contact, SMS is already associated with another Contact")
			return &a
		}
	}
	if v, ok := ch.Attributes["EMAIL"].(string); ok && v != "" {
		if !emailRE.MatchString(v) {
			a := fail(http.StatusBadRequest, "invalid_parameter", "Invalid email address")
			return &a
		}
		if other, ok := s.byEmail[strings.ToLower(v)]; ok && (c == nil || other != c.ID) {
			a := fail(http.StatusBadRequest, "duplicate_parameter", "Unable to update contact, email is already associated with another Contact")
			return &a
		}
	}
	for _, l := range ch.ListIDs {
		if s.lists[l] == nil {
			a := fail(http.StatusNotFound, "document_not_found", "List ID does not exist")
			return &a
		}
	}
	return nil
}

func (s *Server) apply(c *contact, ch change) {
	for k, v := range ch.Attributes {
		switch k {
		case "SMS":
			if old := c.SMS(); old != "" {
				delete(s.bySMS, old)
			}
			if sms, ok := normSMS(v); ok {
				c.Attributes["SMS"] = sms
				s.bySMS[sms] = c.ID
			} else {
				delete(c.Attributes, "SMS")
			}
		case "EMAIL":
			if e, ok := v.(string); ok && e != "" {
				delete(s.byEmail, c.Email)
				c.Email = strings.ToLower(e)
				s.byEmail[c.Email] = c.ID
			}
		default:
			if v == nil {
				delete(c.Attributes, k)
			} else {
				c.Attributes[k] = v
			}
		}
	}
	if ch.ExtID != nil {
		c.ExtID = *ch.ExtID
	}
	if ch.EmailBlacklisted != nil {
		c.EmailBlacklisted = *ch.EmailBlacklisted
	}
	if ch.SMSBlacklisted != nil {
		c.SMSBlacklisted = *ch.SMSBlacklisted
	}
	for _, l := range ch.ListIDs {
		c.lists[l] = true
	}
	for _, l := range ch.UnlinkListIDs {
		delete(c.lists, l)
	}
}

func decode(body []byte, v any) *answer {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		a := fail(http.StatusBadRequest, "bad_request", "Invalid JSON body: %v", err)
		return &a
	}
	return nil
}

// batch is POST /contacts/batch, answered as Options.BatchAnswer says.
func (s *Server) batch(body []byte) answer {
	var req struct {
		Contacts []change `json:"contacts"`
	}
	if a := decode(body, &req); a != nil {
		return *a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found, a := s.batchContacts(req.Contacts)
	if a != nil {
		return *a
	}
	if s.opts.BatchAnswer == BatchDocumented {
		return s.batchDocumented(req.Contacts, found)
	}
	return s.batchObserved(req.Contacts, found)
}

// batchContacts finds the contact each change names (nil: unknown). A
// request without exactly one identifier per contact is refused.
func (s *Server) batchContacts(chs []change) ([]*contact, *answer) {
	found := make([]*contact, len(chs))
	for i, ch := range chs {
		n := 0
		var c *contact
		if ch.Email != nil {
			n++
			c = s.find(*ch.Email)
		}
		if ch.ID != nil {
			n++
			c = s.contacts[*ch.ID]
		}
		if ch.SMS != nil {
			n++
			if sms, ok := normSMS(*ch.SMS); ok {
				if id, ok := s.bySMS[sms]; ok {
					c = s.contacts[id]
				}
			}
		}
		if n != 1 {
			a := fail(http.StatusBadRequest, "invalid_parameter", "contacts[%d]: pass exactly one identifier among email, id and sms", i)
			return nil, &a
		}
		found[i] = c
	}
	return found, nil
}

// batchObserved is all or nothing: a 404 naming the indexes of unknown
// contacts, else a 400 for the first refused one, else every change.
func (s *Server) batchObserved(chs []change, found []*contact) answer {
	var missing []string
	for i, c := range found {
		if c == nil {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if len(missing) > 0 {
		return fail(http.StatusNotFound, "document_not_found", "No contact found for indexes %s", strings.Join(missing, ","))
	}
	for i, ch := range chs {
		if a := s.refusal(ch, found[i]); a != nil {
			return *a
		}
	}
	for i, ch := range chs {
		s.apply(found[i], ch)
	}
	return answer{status: http.StatusNoContent}
}

// batchDocumented applies the changes it can and lists, by their index
// in the request, those it applied and those it did not (unknown or
// refused contacts): 207, or 204 when there are none of the latter.
func (s *Server) batchDocumented(chs []change, found []*contact) answer {
	for _, ch := range chs {
		for _, l := range ch.ListIDs {
			if s.lists[l] == nil { // the request's fault, not a contact's
				return fail(http.StatusNotFound, "document_not_found", "List ID does not exist")
			}
		}
	}
	success, failure := []int{}, []int{}
	for i, ch := range chs {
		c := found[i]
		if c == nil || s.refusal(ch, c) != nil {
			failure = append(failure, i)
			continue
		}
		s.apply(c, ch)
		success = append(success, i)
	}
	if len(failure) == 0 {
		return answer{status: http.StatusNoContent}
	}
	return answer{http.StatusMultiStatus, map[string][]int{"successIds": success, "failureIds": failure}}
}

// refusal is why a change to an existing contact is refused, or nil.
func (s *Server) refusal(ch change, c *contact) *answer {
	if msg, bad := s.rejected(c.Email, c.SMS()); bad {
		a := fail(http.StatusBadRequest, "invalid_parameter", "%s", msg)
		return &a
	}
	return s.check(ch, c)
}

// create is POST /contacts.
func (s *Server) create(body []byte) answer {
	var ch change
	if a := decode(body, &ch); a != nil {
		return *a
	}
	email := ""
	if ch.Email != nil {
		email = strings.TrimSpace(*ch.Email)
		if !emailRE.MatchString(email) {
			return fail(http.StatusBadRequest, "invalid_parameter", "Invalid email address")
		}
	}
	sms := ""
	if v, ok := ch.Attributes["SMS"]; ok && v != nil {
		var valid bool
		if sms, valid = normSMS(v); !valid {
			return fail(http.StatusBadRequest, "invalid_parameter", "Invalid phone number")
		}
	}
	if email == "" && sms == "" {
		return fail(http.StatusBadRequest, "missing_parameter", "email is missing: pass an email, or an SMS attribute")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg, bad := s.rejected(email, sms); bad {
		return fail(http.StatusBadRequest, "invalid_parameter", "%s", msg)
	}
	c := s.find(email)
	if c == nil && sms != "" {
		if id, ok := s.bySMS[sms]; ok {
			c = s.contacts[id]
		}
	}
	if c != nil {
		if !ch.UpdateEnabled {
			return fail(http.StatusBadRequest, "duplicate_parameter", "Contact already exist")
		}
		if a := s.check(ch, c); a != nil {
			return *a
		}
		s.apply(c, ch)
		return answer{status: http.StatusNoContent}
	}
	if a := s.check(ch, nil); a != nil {
		return *a
	}
	c = s.newContact(email, sms)
	s.apply(c, ch)
	return answer{http.StatusCreated, map[string]int64{"id": c.ID}}
}

// importContacts is POST /contacts/import: accepted at once, applied by a
// process after ImportDelay. Rows the import cannot take (no e-mail and no
// SMS, an invalid e-mail or number, a rejected contact) are skipped, as
// Brevo's import reports them only in its notification.
func (s *Server) importContacts(body []byte) answer {
	if len(body) > 10<<20 {
		return fail(http.StatusBadRequest, "out_of_range", "jsonBody is larger than 10 MB: use fileUrl for bigger imports")
	}
	var req struct {
		JSONBody []struct {
			Email      string         `json:"email"`
			Attributes map[string]any `json:"attributes"`
		} `json:"jsonBody"`
		ListIDs []int64 `json:"listIds"`
		NewList *struct {
			ListName string `json:"listName"`
			FolderID int64  `json:"folderId"`
		} `json:"newList"`
		UpdateExisting *bool `json:"updateExistingContacts"`
		EmailBlacklist bool  `json:"emailBlacklist"`
		SMSBlacklist   bool  `json:"smsBlacklist"`
	}
	if a := decode(body, &req); a != nil {
		return *a
	}
	if req.JSONBody == nil {
		return fail(http.StatusBadRequest, "missing_parameter", "one of fileUrl, fileBody and jsonBody is required")
	}
	if len(req.ListIDs) == 0 && (req.NewList == nil || req.NewList.ListName == "") {
		return fail(http.StatusBadRequest, "missing_parameter", "listIds or newList is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lists := slices.Clone(req.ListIDs)
	for _, l := range lists {
		if s.lists[l] == nil {
			return fail(http.StatusNotFound, "document_not_found", "List ID does not exist")
		}
	}
	if req.NewList != nil && req.NewList.ListName != "" {
		lists = append(lists, s.addList(req.NewList.ListName, max(1, req.NewList.FolderID)))
	}
	s.nextID++
	p := &process{id: s.nextID, status: "queued"}
	s.processes[p.id] = p
	s.stats.Imports++
	update := req.UpdateExisting == nil || *req.UpdateExisting
	rows := req.JSONBody
	s.pending.Add(1)
	time.AfterFunc(s.opts.ImportDelay, func() {
		defer s.pending.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, row := range rows {
			email := strings.ToLower(strings.TrimSpace(row.Email))
			if email != "" && !emailRE.MatchString(email) {
				continue
			}
			sms := ""
			if v, ok := row.Attributes["SMS"]; ok && v != nil && v != "" {
				var valid bool
				if sms, valid = normSMS(v); !valid {
					continue
				}
			}
			if email == "" && sms == "" {
				continue
			}
			if _, bad := s.rejected(email, sms); bad {
				continue
			}
			c := s.find(email)
			if c == nil && sms != "" {
				if id, ok := s.bySMS[sms]; ok {
					c = s.contacts[id]
				}
			}
			ch := change{Attributes: row.Attributes, ListIDs: lists}
			if req.EmailBlacklist {
				ch.EmailBlacklisted = &req.EmailBlacklist
			}
			if req.SMSBlacklist {
				ch.SMSBlacklisted = &req.SMSBlacklist
			}
			if c == nil {
				if s.check(ch, nil) != nil {
					continue
				}
				c = s.newContact(email, sms)
			} else if !update || s.check(ch, c) != nil {
				continue
			}
			s.apply(c, ch)
			s.stats.ImportedRow++
		}
		p.status = "completed"
	})
	return answer{http.StatusAccepted, map[string]int64{"processId": p.id}}
}

func (s *Server) process(idText string) answer {
	id, err := strconv.ParseInt(idText, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.processes[id]
	if err != nil || p == nil {
		return fail(http.StatusNotFound, "invalid_parameter", "processId is invalid")
	}
	return answer{200, map[string]any{"id": p.id, "status": p.status, "name": "IMPORTUSER"}}
}

func (s *Server) getContact(identifier string) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.find(identifier)
	if c == nil {
		return fail(http.StatusNotFound, "document_not_found", "Contact does not exist")
	}
	snap := c.snapshot()
	return answer{200, map[string]any{
		"id": c.ID, "email": c.Email, "emailBlacklisted": c.EmailBlacklisted, "smsBlacklisted": c.SMSBlacklisted,
		"createdAt": "2025-01-01T00:00:00Z", "modifiedAt": "2025-01-01T00:00:00Z",
		"attributes": snap.Attributes, "listIds": snap.Lists, "statistics": map[string]any{},
	}}
}

// contactIdentifier reads the {identifier} of /v3/contacts/{identifier}
// from the path as sent, decoded as urlencoded (Brevo's reference: "Email
// (urlencoded)"): a '+' left raw reads as a space, so a client must send
// the '+' of a phone number or of an e-mail's tag as %2B. ok is false for
// a path of more segments.
func contactIdentifier(r *http.Request) (string, bool) {
	raw := strings.TrimPrefix(r.URL.EscapedPath(), "/v3/contacts/")
	if raw == r.URL.EscapedPath() || raw == "" || strings.Contains(raw, "/") {
		return "", false
	}
	id, err := url.QueryUnescape(raw)
	return id, err == nil
}

// IdentifierTypes are the values of DELETE /contacts/{identifier}'s
// identifierType query parameter in Brevo's API reference, each with the
// contact attribute it names (the spec file of February 2025 predates the
// parameter).
var IdentifierTypes = map[string]string{
	"email_id": "EMAIL", "contact_id": "ID", "ext_id": "EXT_ID", "phone_id": "SMS",
	"whatsapp_id": "WHATSAPP", "landline_number_id": "LANDLINE_NUMBER",
}

// lookup finds the contact an identifier names as identifierType says
// (nil: none). Without identifierType, the identifier is an e-mail or a
// contact id, Brevo's "option 1".
func (s *Server) lookup(identifier, typ string) (*contact, *answer) {
	switch typ {
	case "":
		if n, err := strconv.ParseInt(identifier, 10, 64); err == nil {
			return s.contacts[n], nil
		}
		return s.contacts[s.byEmail[strings.ToLower(identifier)]], nil
	case "email_id":
		return s.contacts[s.byEmail[strings.ToLower(strings.TrimSpace(identifier))]], nil
	case "contact_id":
		n, err := strconv.ParseInt(identifier, 10, 64)
		if err != nil {
			a := fail(http.StatusBadRequest, "invalid_parameter", "identifier must be a contact id when identifierType is contact_id")
			return nil, &a
		}
		return s.contacts[n], nil
	case "phone_id", "whatsapp_id", "landline_number_id":
		// A number with spaces around it is not one Brevo holds: this is
		// what a raw '+' becomes once decoded.
		num, ok := normSMS(identifier)
		if !ok || strings.TrimSpace(identifier) != identifier {
			return nil, nil
		}
		if typ == "phone_id" {
			return s.contacts[s.bySMS[num]], nil
		}
		for _, c := range s.contacts {
			if v, ok := normSMS(c.Attributes[IdentifierTypes[typ]]); ok && v == num {
				return c, nil
			}
		}
		return nil, nil
	case "ext_id":
		for _, c := range s.contacts {
			if c.ExtID != "" && c.ExtID == identifier {
				return c, nil
			}
		}
		return nil, nil
	}
	a := fail(http.StatusBadRequest, "invalid_parameter", "identifierType is not valid: use one of %s", strings.Join(slices.Sorted(maps.Keys(IdentifierTypes)), ", "))
	return nil, &a
}

// deleteContact is DELETE /contacts/{identifier}: the contact goes, with
// its list memberships. Brevo refuses to delete the account's own e-mail
// (405); a rejected contact (Reject) is refused with a 400.
func (s *Server) deleteContact(identifier string, q url.Values) answer {
	typ := q.Get("identifierType")
	s.mu.Lock()
	defer s.mu.Unlock()
	c, a := s.lookup(identifier, typ)
	if a != nil {
		return *a
	}
	if c == nil {
		return fail(http.StatusNotFound, "document_not_found", "Contact does not exist")
	}
	if c.Email != "" && c.Email == account()["email"] {
		return fail(http.StatusMethodNotAllowed, "method_not_allowed", "You're not allowed to delete registered email contact with Brevo")
	}
	if msg, bad := s.rejected(c.Email, c.SMS()); bad {
		return fail(http.StatusBadRequest, "invalid_parameter", "%s", msg)
	}
	s.deletions = append(s.deletions, Deletion{Contact: c.snapshot(), IdentifierType: typ})
	s.stats.Deleted++
	delete(s.contacts, c.ID)
	delete(s.byEmail, c.Email)
	if sms := c.SMS(); sms != "" {
		delete(s.bySMS, sms)
	}
	return answer{status: http.StatusNoContent}
}

// --- lists ---

func (s *Server) listJSON(l *list) map[string]any {
	n := 0
	for _, c := range s.contacts {
		if c.lists[l.id] {
			n++
		}
	}
	return map[string]any{"id": l.id, "name": l.name, "folderId": l.folder, "totalSubscribers": n, "totalBlacklisted": 0, "uniqueSubscribers": n}
}

func (s *Server) listLists(r *http.Request) answer {
	limit, offset := 10, 0
	if v := r.URL.Query().Get("limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	if v := r.URL.Query().Get("offset"); v != "" {
		offset, _ = strconv.Atoi(v)
	}
	if limit > 50 {
		return fail(http.StatusBadRequest, "out_of_range", "limit must be at most 50")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := slices.Sorted(maps.Keys(s.lists))
	if r.URL.Query().Get("sort") != "asc" {
		slices.Reverse(ids)
	}
	page := []map[string]any{}
	for i := offset; i < len(ids) && i < offset+limit; i++ {
		page = append(page, s.listJSON(s.lists[ids[i]]))
	}
	return answer{200, map[string]any{"lists": page, "count": len(ids)}}
}

func (s *Server) getList(idText string) answer {
	id, _ := strconv.ParseInt(idText, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[id]
	if l == nil {
		return fail(http.StatusNotFound, "document_not_found", "List ID does not exist")
	}
	out := s.listJSON(l)
	out["createdAt"] = "2025-01-01T00:00:00Z"
	out["dynamicList"] = false
	return answer{200, out}
}

func (s *Server) createList(body []byte) answer {
	var req struct {
		Name     string `json:"name"`
		FolderID int64  `json:"folderId"`
	}
	if a := decode(body, &req); a != nil {
		return *a
	}
	if req.Name == "" || req.FolderID == 0 {
		return fail(http.StatusBadRequest, "missing_parameter", "name and folderId are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return answer{http.StatusCreated, map[string]int64{"id": s.addList(req.Name, req.FolderID)}}
}

// membership is POST /contacts/lists/{id}/contacts/add and .../remove.
func (s *Server) membership(idText, verb string, body []byte) answer {
	if verb != "add" && verb != "remove" {
		return fail(http.StatusNotFound, "document_not_found", "no such operation")
	}
	var req struct {
		Emails []string `json:"emails"`
		IDs    []int64  `json:"ids"`
		All    bool     `json:"all"`
	}
	if a := decode(body, &req); a != nil {
		return *a
	}
	if len(req.Emails) > 150 || len(req.IDs) > 150 {
		return fail(http.StatusBadRequest, "out_of_range", "You can pass a maximum of 150 emails or ids in one request")
	}
	if len(req.Emails) == 0 && len(req.IDs) == 0 && !(verb == "remove" && req.All) {
		return fail(http.StatusBadRequest, "missing_parameter", "emails or ids are required")
	}
	id, _ := strconv.ParseInt(idText, 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lists[id] == nil {
		return fail(http.StatusNotFound, "document_not_found", "List ID does not exist")
	}
	success, failure := []string{}, []string{}
	idents := slices.Clone(req.Emails)
	for _, n := range req.IDs {
		idents = append(idents, strconv.FormatInt(n, 10))
	}
	if req.All && verb == "remove" {
		for _, c := range s.contacts {
			delete(c.lists, id)
		}
		return answer{http.StatusCreated, map[string]any{"contacts": map[string]any{"total": 0, "processId": 0}}}
	}
	for _, ident := range idents {
		c := s.find(ident)
		bad := false
		if c != nil {
			_, bad = s.rejected(c.Email, c.SMS())
		}
		switch {
		case c == nil || bad:
			failure = append(failure, ident)
		case verb == "add" && !c.lists[id]:
			c.lists[id] = true
			success = append(success, ident)
		case verb == "remove" && c.lists[id]:
			delete(c.lists, id)
			success = append(success, ident)
		default: // already in (or out of) the list
			failure = append(failure, ident)
		}
	}
	return answer{http.StatusCreated, map[string]any{"contacts": map[string]any{"success": success, "failure": failure}}}
}
