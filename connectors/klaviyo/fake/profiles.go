package fake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Profile is a Klaviyo profile as the fake holds it.
type Profile struct {
	ID         string
	Email      string
	Phone      string
	ExternalID string
	// Attributes are the other standard attributes (first_name,
	// location...), Properties the custom ones; both nil in Lean mode.
	Attributes map[string]any
	Properties map[string]any
	// Subscriptions by channel: email, sms.
	Subscriptions map[string]Subscription
	Created       time.Time
	Updated       time.Time
}

// Subscription is a profile's consent on one channel.
type Subscription struct {
	Consent      string // SUBSCRIBED or UNSUBSCRIBED
	ConsentedAt  string // as given, RFC 3339
	Historical   bool   // from a historical import
	CustomSource string
	ListID       string // the list given with the subscription, if any
	At           time.Time
}

func (p *Profile) clone() Profile {
	c := *p
	c.Attributes = cloneMap(p.Attributes)
	c.Properties = cloneMap(p.Properties)
	c.Subscriptions = maps.Clone(p.Subscriptions)
	return c
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = cloneMap(sub)
		}
		out[k] = v
	}
	return out
}

// Profiles returns every profile, in creation order.
func (s *Server) Profiles() []Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Profile, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.profiles[id].clone())
	}
	return out
}

// ProfileByEmail finds a profile by e-mail (any case).
func (s *Server) ProfileByEmail(email string) (Profile, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byEmail[strings.ToLower(strings.TrimSpace(email))]
	if !ok {
		return Profile{}, false
	}
	return s.profiles[id].clone(), true
}

// ProfileByPhone finds a profile by phone number (E.164).
func (s *Server) ProfileByPhone(phone string) (Profile, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.byPhone[phone]
	if !ok {
		return Profile{}, false
	}
	return s.profiles[id].clone(), true
}

// identifiers are the ways a request names a profile.
type identifiers struct {
	Email, Phone, External string
}

// find returns the profile the identifiers name: by e-mail, else phone
// number, else external id. The caller holds s.mu.
func (s *Server) find(ids identifiers) *Profile {
	if ids.Email != "" {
		if id, ok := s.byEmail[strings.ToLower(ids.Email)]; ok {
			return s.profiles[id]
		}
	}
	if ids.Phone != "" {
		if id, ok := s.byPhone[ids.Phone]; ok {
			return s.profiles[id]
		}
	}
	if ids.External != "" {
		if id, ok := s.byExternal[ids.External]; ok {
			return s.profiles[id]
		}
	}
	return nil
}

// upsert finds or creates the profile and sets the identifiers it was
// given. The caller holds s.mu.
func (s *Server) upsert(ids identifiers, now time.Time) *Profile {
	p := s.find(ids)
	if p == nil {
		p = &Profile{ID: profileID(), Created: now}
		if !s.opts.Lean {
			p.Attributes, p.Properties = map[string]any{}, map[string]any{}
		}
		s.profiles[p.ID] = p
		s.order = append(s.order, p.ID)
	}
	p.Updated = now
	if ids.Email != "" && !strings.EqualFold(p.Email, ids.Email) {
		if p.Email != "" {
			delete(s.byEmail, strings.ToLower(p.Email))
		}
		p.Email = ids.Email
		s.byEmail[strings.ToLower(ids.Email)] = p.ID
	}
	if ids.Phone != "" && p.Phone != ids.Phone {
		if p.Phone != "" {
			delete(s.byPhone, p.Phone)
		}
		p.Phone = ids.Phone
		s.byPhone[ids.Phone] = p.ID
	}
	if ids.External != "" && p.ExternalID != ids.External {
		if p.ExternalID != "" {
			delete(s.byExternal, p.ExternalID)
		}
		p.ExternalID = ids.External
		s.byExternal[ids.External] = p.ID
	}
	return p
}

// getProfiles serves GET /api/profiles with the filters the destination
// uses: equals and any on id, email, phone_number and external_id.
func (s *Server) getProfiles(c *call) {
	q := c.r.URL.Query()
	size, ok := pageSize(c, q, 20, 100)
	if !ok {
		return
	}
	var match func(p *Profile) bool
	if f := q.Get("filter"); f != "" {
		field, values, err := parseFilter(f)
		if err != nil {
			c.invalid(err.Error(), parameter("filter"))
			return
		}
		if !slices.Contains([]string{"id", "email", "phone_number", "external_id"}, field) {
			c.invalid(fmt.Sprintf("'%s' is not a valid field for the resource 'profile'.", field), parameter("filter"))
			return
		}
		if len(values) > 100 {
			c.invalid("Filter 'any' accepts at most 100 values.", parameter("filter"))
			return
		}
		want := map[string]bool{}
		for _, v := range values {
			if field == "email" {
				v = strings.ToLower(v)
			}
			want[v] = true
		}
		match = func(p *Profile) bool {
			switch field {
			case "id":
				return want[p.ID]
			case "email":
				return p.Email != "" && want[strings.ToLower(p.Email)]
			case "phone_number":
				return p.Phone != "" && want[p.Phone]
			}
			return p.ExternalID != "" && want[p.ExternalID]
		}
	}
	withSubs := strings.Contains(q.Get("additional-fields[profile]"), "subscriptions")
	fields := splitList(q.Get("fields[profile]"))
	pg := newPager(q, size)
	s.mu.Lock()
	for _, id := range s.order {
		p := s.profiles[id]
		if match != nil && !match(p) {
			continue
		}
		if !pg.add(func() map[string]any { return profileResource(c, p, fields, withSubs) }) {
			break
		}
	}
	s.mu.Unlock()
	pg.write(c, q)
}

func profileResource(c *call, p *Profile, fields []string, withSubs bool) map[string]any {
	attrs := map[string]any{
		"email": nullable(p.Email), "phone_number": nullable(p.Phone), "external_id": nullable(p.ExternalID),
		"created": p.Created.UTC().Format(time.RFC3339), "updated": p.Updated.UTC().Format(time.RFC3339),
	}
	for k, v := range p.Attributes {
		attrs[k] = v
	}
	if p.Properties != nil {
		attrs["properties"] = p.Properties
	}
	if len(fields) > 0 {
		for k := range attrs {
			if !slices.Contains(fields, k) {
				delete(attrs, k)
			}
		}
	}
	if withSubs {
		subs := map[string]any{}
		for ch, sub := range p.Subscriptions {
			subs[ch] = map[string]any{"marketing": map[string]any{"consent": sub.Consent, "consent_timestamp": sub.ConsentedAt, "method": "API", "custom_method_detail": sub.CustomSource}}
		}
		attrs["subscriptions"] = subs
	}
	return map[string]any{"type": "profile", "id": p.ID, "attributes": attrs,
		"links": map[string]any{"self": c.base() + "/api/profiles/" + p.ID + "/"}}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func pageSize(c *call, q url.Values, def, maxSize int) (int, bool) {
	v := q.Get("page[size]")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxSize {
		c.invalid(fmt.Sprintf("Invalid page size: must be between 1 and %d.", maxSize), parameter("page[size]"))
		return 0, false
	}
	return n, true
}

func cursor(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// parseFilter reads equals(field,value) and any(field,[values]), with
// values quoted in double quotes (JSON strings) or single quotes.
func parseFilter(f string) (field string, values []string, err error) {
	f = strings.TrimSpace(f)
	opEnd := strings.IndexByte(f, '(')
	if opEnd < 0 || !strings.HasSuffix(f, ")") {
		return "", nil, fmt.Errorf("Invalid filter provided: %q", f)
	}
	op, inner := f[:opEnd], f[opEnd+1:len(f)-1]
	comma := strings.IndexByte(inner, ',')
	if comma < 0 {
		return "", nil, fmt.Errorf("Invalid filter provided: %q", f)
	}
	field, arg := strings.TrimSpace(inner[:comma]), strings.TrimSpace(inner[comma+1:])
	switch op {
	case "equals":
		v, err := filterString(arg)
		if err != nil {
			return "", nil, err
		}
		return field, []string{v}, nil
	case "any":
		if !strings.HasPrefix(arg, "[") || !strings.HasSuffix(arg, "]") {
			return "", nil, fmt.Errorf("Invalid filter provided: any() takes a list")
		}
		var raw []string
		if err := json.Unmarshal([]byte(arg), &raw); err == nil {
			return field, raw, nil
		}
		for _, part := range strings.Split(arg[1:len(arg)-1], ",") {
			v, err := filterString(strings.TrimSpace(part))
			if err != nil {
				return "", nil, err
			}
			values = append(values, v)
		}
		return field, values, nil
	}
	return "", nil, fmt.Errorf("Invalid filter provided: unknown operator %q", op)
}

func filterString(s string) (string, error) {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return s[1 : len(s)-1], nil
	}
	var v string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return "", fmt.Errorf("Invalid filter value %s: quote strings", s)
	}
	return v, nil
}

// getAccounts serves GET /api/accounts: one account.
func (s *Server) getAccounts(c *call) {
	c.json(http.StatusOK, map[string]any{
		"data": []map[string]any{{
			"type": "account", "id": "FakeAcct",
			"attributes": map[string]any{
				"test_account":        true,
				"contact_information": map[string]any{"organization_name": "Fake Klaviyo", "default_sender_name": "Fake", "default_sender_email": "fake@example.com"},
				"industry":            "Retail", "timezone": "UTC", "preferred_currency": "EUR", "public_api_key": "FakePk",
				"locale": "en-US",
			},
			"links": map[string]any{"self": c.base() + "/api/accounts/FakeAcct/"},
		}},
		"links": map[string]any{"self": c.base() + "/api/accounts/"},
	})
}
