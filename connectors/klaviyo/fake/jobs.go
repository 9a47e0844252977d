package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Job limits Klaviyo documents for bulk profile imports.
const (
	MaxJobProfiles   = 10000
	MaxProfileBytes  = 100 << 10
	jobExpiry        = 7 * 24 * time.Hour
	statusQueued     = "queued"
	statusProcessing = "processing"
	statusComplete   = "complete"
)

type job struct {
	id        string
	status    string
	created   time.Time
	started   time.Time
	completed time.Time
	total     int
	done      int
	failed    int
	lists     []string
	profiles  []importProfile // dropped once applied
	errors    []importError
}

// importProfile is one profile of a job, as received.
type importProfile struct {
	Type       string          `json:"type"`
	ID         *string         `json:"id"`
	Attributes json.RawMessage `json:"attributes"`
	Meta       *struct {
		PatchProperties *struct {
			Unset json.RawMessage `json:"unset"`
		} `json:"patch_properties"`
	} `json:"meta"`
}

type importError struct {
	index   int
	code    string
	title   string
	detail  string
	field   string
	payload json.RawMessage
}

// RejectIdentifier makes bulk imports refuse profiles whose e-mail, phone
// number or external id is value, with detail as the import error (an
// empty detail lifts it). Subscribing them is refused too (400).
func (s *Server) RejectIdentifier(detail string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		v = strings.ToLower(strings.TrimSpace(v))
		if detail == "" {
			delete(s.rejects, v)
		} else {
			s.rejects[v] = detail
		}
	}
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// validPhone is Klaviyo's rule: E.164, and a number that exists. In Lean
// mode only the shape is checked: libphonenumber's parse would cost the
// benchmark of millions more than sluice itself.
func (s *Server) validPhone(p string) bool {
	if !e164.MatchString(p) {
		return false
	}
	if s.opts.Lean {
		return true
	}
	return realPhone(p)
}

func realPhone(p string) bool {
	n, err := phonenumbers.Parse(p, "ZZ")
	return err == nil && phonenumbers.IsValidNumber(n)
}

func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	return err == nil && a.Address == e && strings.Contains(e[strings.LastIndexByte(e, '@')+1:], ".")
}

// createImportJob serves POST /api/profile-bulk-import-jobs: the job is
// queued, processed later, and its profiles applied when it completes.
func (s *Server) createImportJob(c *call) {
	var body struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Profiles *struct {
					Data []importProfile `json:"data"`
				} `json:"profiles"`
			} `json:"attributes"`
			Relationships *struct {
				Lists *struct {
					Data []struct {
						Type string `json:"type"`
						ID   string `json:"id"`
					} `json:"data"`
				} `json:"lists"`
			} `json:"relationships"`
		} `json:"data"`
	}
	if err := json.Unmarshal(c.body, &body); err != nil {
		c.invalid("Invalid JSON in request body: "+err.Error(), pointer("/data"))
		return
	}
	if body.Data.Type != "profile-bulk-import-job" {
		c.invalid("The type of the resource must be 'profile-bulk-import-job'.", pointer("/data/type"))
		return
	}
	if body.Data.Attributes.Profiles == nil || body.Data.Attributes.Profiles.Data == nil {
		c.invalid("'profiles' is a required field.", pointer("/data/attributes/profiles"))
		return
	}
	profiles := body.Data.Attributes.Profiles.Data
	if len(profiles) == 0 {
		c.invalid("At least one profile is required.", pointer("/data/attributes/profiles/data"))
		return
	}
	if len(profiles) > MaxJobProfiles {
		c.invalid(fmt.Sprintf("A maximum of %d profiles can be imported per job; got %d.", MaxJobProfiles, len(profiles)), pointer("/data/attributes/profiles/data"))
		return
	}
	for i, ip := range profiles {
		if len(ip.Attributes) > MaxProfileBytes {
			c.invalid("The maximum allowed payload size per-profile is 100KB.", pointer(fmt.Sprintf("/data/attributes/profiles/data/%d", i)))
			return
		}
		if ip.Type != "profile" || len(ip.Attributes) == 0 || ip.Attributes[0] != '{' {
			c.invalid("Each profile needs type 'profile' and attributes.", pointer(fmt.Sprintf("/data/attributes/profiles/data/%d", i)))
			return
		}
	}
	j := &job{id: newID(26), status: statusQueued, created: time.Now(), total: len(profiles), profiles: profiles}
	s.mu.Lock()
	if rel := body.Data.Relationships; rel != nil && rel.Lists != nil {
		for i, l := range rel.Lists.Data {
			if s.lists[l.ID] == nil || l.Type != "list" {
				s.mu.Unlock()
				c.fail(http.StatusNotFound, apiError{Code: "not_found", Title: "Not found.", Detail: fmt.Sprintf("A list with id %s does not exist.", l.ID), Source: pointer(fmt.Sprintf("/data/relationships/lists/data/%d/id", i))})
				return
			}
			j.lists = append(j.lists, l.ID)
		}
	}
	s.jobs[j.id] = j
	s.jobOrder = append(s.jobOrder, j.id)
	s.schedule(s.opts.JobQueued, func() { j.status, j.started = statusProcessing, time.Now() })
	s.schedule(s.opts.JobQueued+s.opts.JobProcessing+time.Duration(j.total)*s.opts.JobPerProfile, func() { s.apply(j) })
	res := jobResource(c, j)
	s.mu.Unlock()
	c.json(http.StatusAccepted, map[string]any{"data": res, "links": map[string]any{"self": c.base() + "/api/profile-bulk-import-jobs/"}})
}

// schedule runs f under s.mu after d; the caller holds s.mu.
func (s *Server) schedule(d time.Duration, f func()) {
	if s.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || !s.timers[t] {
			return
		}
		delete(s.timers, t)
		f()
	})
	s.timers[t] = true
}

// apply imports a job's profiles; the caller holds s.mu.
func (s *Server) apply(j *job) {
	now := time.Now()
	for i, ip := range j.profiles {
		if e, ok := s.importOne(ip, now, j.lists); !ok {
			e.index = i
			e.payload = ip.Attributes
			j.errors = append(j.errors, e)
			j.failed++
			continue
		}
		j.done++
	}
	j.profiles = nil
	j.status, j.completed = statusComplete, now
	s.imported += j.done
	s.importFails += j.failed
	if s.opts.OnJob != nil {
		info := JobInfo{ID: j.id, Total: j.total, Imported: j.done, Failed: j.failed, Lists: j.lists}
		go s.opts.OnJob(info)
	}
}

// standard are the profile attributes besides identifiers, properties and
// location, which import sets as they come.
var standard = []string{"first_name", "last_name", "organization", "locale", "title", "image"}

// importOne validates and applies one profile; the caller holds s.mu.
func (s *Server) importOne(ip importProfile, now time.Time, lists []string) (importError, bool) {
	// Identifiers first, typed: Lean mode needs nothing else.
	var ids struct {
		Email      *string `json:"email"`
		Phone      *string `json:"phone_number"`
		ExternalID *string `json:"external_id"`
	}
	if err := json.Unmarshal(ip.Attributes, &ids); err != nil {
		return importError{code: "invalid", title: "Invalid input.", detail: "email, phone_number and external_id must be strings."}, false
	}
	str := func(v *string) string {
		if v == nil {
			return ""
		}
		return strings.TrimSpace(*v)
	}
	email, phone, external := str(ids.Email), str(ids.Phone), str(ids.ExternalID)
	switch {
	case email == "" && phone == "" && external == "":
		return importError{code: "invalid", title: "Invalid input.", detail: "One of `email`, `phone_number`, or `external_id` is required to create a profile."}, false
	case email != "" && !validEmail(email):
		return importError{code: "invalid", title: "Invalid input.", detail: fmt.Sprintf("Invalid email address: %s", email), field: "email"}, false
	case phone != "" && !s.validPhone(phone):
		return importError{code: "invalid", title: "Invalid input.", detail: "Invalid phone number format (Example of a valid format: +13239169023)", field: "phone_number"}, false
	}
	for _, v := range []string{email, phone, external} {
		if d, bad := s.rejects[strings.ToLower(v)]; v != "" && bad {
			field := "email"
			if v == phone {
				field = "phone_number"
			}
			return importError{code: "invalid", title: "Invalid input.", detail: d, field: field}, false
		}
	}
	p := s.upsert(identifiers{Email: email, Phone: phone, External: external}, now)
	if !s.opts.Lean {
		var attrs map[string]json.RawMessage
		if err := json.Unmarshal(ip.Attributes, &attrs); err != nil {
			return importError{code: "invalid", title: "Invalid input.", detail: "attributes must be an object"}, false
		}
		for _, k := range standard {
			raw, ok := attrs[k]
			if !ok {
				continue
			}
			if string(raw) == "null" {
				delete(p.Attributes, k)
				continue
			}
			p.Attributes[k] = decode(raw)
		}
		if raw, ok := attrs["location"]; ok {
			loc, _ := p.Attributes["location"].(map[string]any)
			if loc == nil {
				loc = map[string]any{}
			}
			var in map[string]json.RawMessage
			_ = json.Unmarshal(raw, &in)
			for k, v := range in {
				if string(v) == "null" {
					delete(loc, k)
				} else {
					loc[k] = decode(v)
				}
			}
			p.Attributes["location"] = loc
		}
		if raw, ok := attrs["properties"]; ok && string(raw) != "null" {
			var in map[string]json.RawMessage
			_ = json.Unmarshal(raw, &in)
			for k, v := range in {
				p.Properties[k] = decode(v)
			}
		}
		if ip.Meta != nil && ip.Meta.PatchProperties != nil && len(ip.Meta.PatchProperties.Unset) > 0 {
			var one string
			var many []string
			if json.Unmarshal(ip.Meta.PatchProperties.Unset, &one) == nil {
				many = []string{one}
			} else {
				_ = json.Unmarshal(ip.Meta.PatchProperties.Unset, &many)
			}
			for _, k := range many {
				delete(p.Properties, k)
			}
		}
	}
	for _, id := range lists {
		s.lists[id].join(p.ID)
	}
	return importError{}, true
}

// decode reads a JSON value with numbers as int64 when whole, else float64.
func decode(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	return numbers(v)
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

func jobResource(c *call, j *job) map[string]any {
	attrs := map[string]any{
		"status": j.status, "created_at": j.created.UTC().Format(time.RFC3339Nano), "total_count": j.total,
		"completed_count": j.done, "failed_count": j.failed,
		"completed_at": nil, "started_at": nil, "expires_at": j.created.Add(jobExpiry).UTC().Format(time.RFC3339),
	}
	if !j.started.IsZero() {
		attrs["started_at"] = j.started.UTC().Format(time.RFC3339Nano)
	}
	if !j.completed.IsZero() {
		attrs["completed_at"] = j.completed.UTC().Format(time.RFC3339Nano)
	}
	self := c.base() + "/api/profile-bulk-import-jobs/" + j.id + "/"
	lists := make([]map[string]any, len(j.lists))
	for i, id := range j.lists {
		lists[i] = map[string]any{"type": "list", "id": id}
	}
	return map[string]any{
		"type": "profile-bulk-import-job", "id": j.id, "attributes": attrs,
		"relationships": map[string]any{
			"lists":         map[string]any{"data": lists, "links": map[string]any{"self": self + "relationships/lists/", "related": self + "lists/"}},
			"import-errors": map[string]any{"links": map[string]any{"related": self + "import-errors/"}},
		},
		"links": map[string]any{"self": self},
	}
}

// getImportJob serves GET /api/profile-bulk-import-jobs/{job_id}.
func (s *Server) getImportJob(c *call) {
	s.mu.Lock()
	j := s.jobs[c.params["job_id"]]
	var res map[string]any
	if j != nil {
		res = jobResource(c, j)
	}
	s.mu.Unlock()
	if j == nil {
		c.fail(http.StatusNotFound, apiError{Code: "not_found", Title: "Not found.", Detail: "A job with id " + c.params["job_id"] + " does not exist.", Source: parameter("job_id")})
		return
	}
	c.json(http.StatusOK, map[string]any{"data": res, "links": map[string]any{"self": c.base() + c.r.URL.Path}})
}

// getImportJobs serves GET /api/profile-bulk-import-jobs: at most 100 a
// page, sorted by created_at either way, filtered by status.
func (s *Server) getImportJobs(c *call) {
	q := c.r.URL.Query()
	size, ok := pageSize(c, q, 20, 100)
	if !ok {
		return
	}
	var status []string
	if f := q.Get("filter"); f != "" {
		field, values, err := parseFilter(f)
		if err != nil || field != "status" {
			c.invalid("Invalid filter provided: only status can be filtered on.", parameter("filter"))
			return
		}
		status = values
	}
	desc := false
	switch q.Get("sort") {
	case "", "created_at":
	case "-created_at":
		desc = true
	default:
		c.invalid("Invalid sort: created_at or -created_at.", parameter("sort"))
		return
	}
	pg := newPager(q, size)
	s.mu.Lock()
	ids := s.jobOrder
	for i := range ids {
		id := ids[i]
		if desc {
			id = ids[len(ids)-1-i]
		}
		j := s.jobs[id]
		if status != nil && !slices.Contains(status, j.status) {
			continue
		}
		if !pg.add(func() map[string]any { return jobResource(c, j) }) {
			break
		}
	}
	s.mu.Unlock()
	pg.write(c, q)
}

// getImportErrors serves GET /api/profile-bulk-import-jobs/{id}/import-errors.
func (s *Server) getImportErrors(c *call) {
	q := c.r.URL.Query()
	size, ok := pageSize(c, q, 20, 100)
	if !ok {
		return
	}
	pg := newPager(q, size)
	s.mu.Lock()
	j := s.jobs[c.params["id"]]
	if j == nil {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, apiError{Code: "not_found", Title: "Not found.", Detail: "A job with id " + c.params["id"] + " does not exist.", Source: parameter("id")})
		return
	}
	errs := j.errors
	s.mu.Unlock()
	lo, hi := pg.window(len(errs))
	for k, e := range errs[lo:hi] {
		ptr := fmt.Sprintf("/data/attributes/profiles/data/%d/attributes", e.index)
		if e.field != "" {
			ptr += "/" + e.field
		}
		pg.data = append(pg.data, map[string]any{
			"type": "import-error", "id": fmt.Sprintf("%s-%d", j.id, lo+k),
			"attributes": map[string]any{"code": e.code, "title": e.title, "detail": e.detail, "source": map[string]any{"pointer": ptr}, "original_payload": e.payload},
		})
	}
	pg.write(c, q)
}
