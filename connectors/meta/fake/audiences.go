package fake

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Audience is one Customer File Custom Audience of the fake ad account.
type Audience struct {
	ID, Name, Subtype, CustomerFileSource, Description string
	// Members are the audience's people, each as the cells Meta holds for
	// them by schema key (EMAIL, PHONE, FN...), hashed as sent.
	Members []Member
	size    int
}

// Member is one person in an audience.
type Member struct {
	Cells map[string]string
}

// customerFileSources are the values of customer_file_source.
var customerFileSources = []string{"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"}

// CreateAudience adds a Customer File Custom Audience, as if made in Ads
// Manager, and returns its id.
func (s *Server) CreateAudience(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newAudience(name, "USER_PROVIDED_ONLY", "").ID
}

func (s *Server) newAudience(name, source, description string) *audience {
	id := strconv.FormatInt(s.nextID, 10)
	s.nextID++
	a := &audience{ID: id, Name: name, Subtype: "CUSTOM", CustomerFileSource: source, Description: description, members: newStore()}
	s.audiences[id] = a
	s.order = append(s.order, id)
	return a
}

// Audiences returns the audiences in creation order, with their members.
func (s *Server) Audiences() []Audience {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Audience, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.audiences[id].snapshot())
	}
	return out
}

// AudienceByName returns the first audience with that name.
func (s *Server) AudienceByName(name string) (Audience, bool) {
	for _, a := range s.Audiences() {
		if a.Name == name {
			return a, true
		}
	}
	return Audience{}, false
}

func (s *Server) getAccount(c *call) {
	if c.params["account"] != "act_"+s.opts.AdAccount {
		c.fail(GraphError{Message: "(#100) Object with ID '" + c.params["account"] + "' does not exist, cannot be loaded due to missing permissions, or does not support this operation",
			Code: 100, Subcode: 33, Type: "GraphMethodException"})
		return
	}
	c.json(http.StatusOK, map[string]any{"id": "act_" + s.opts.AdAccount, "account_id": s.opts.AdAccount, "name": "Fake ad account", "account_status": 1})
}

// account checks the path's ad account.
func (s *Server) account(c *call) bool {
	if c.params["account"] != "act_"+s.opts.AdAccount {
		c.fail(GraphError{Message: "(#100) Unsupported get request. Object with ID '" + c.params["account"] + "' does not exist", Code: 100, Subcode: 33, Type: "GraphMethodException"})
		return false
	}
	return true
}

// listAudiences pages through the account's audiences with cursors.
func (s *Server) listAudiences(c *call) {
	if !s.account(c) {
		return
	}
	limit := s.opts.PageSize
	if v := c.param("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			c.invalidParam("Param limit must be a positive integer")
			return
		}
		limit = min(n, 500)
	}
	start := 0
	if v := c.param("after"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			c.invalidParam("Invalid cursor")
			return
		}
		start = n
	}
	fields := strings.Split(c.param("fields"), ",")
	s.mu.Lock()
	all := make([]Audience, len(s.order))
	for i, id := range s.order {
		all[i] = s.audiences[id].head()
	}
	s.mu.Unlock()
	start = min(start, len(all)) // a cursor past the end: an empty page
	end := min(start+limit, len(all))
	data := []map[string]any{}
	for _, a := range all[start:end] {
		data = append(data, a.fields(fields))
	}
	out := map[string]any{"data": data}
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end)}}
		if end < len(all) {
			paging["next"] = s.URL + c.r.URL.Path + "?limit=" + strconv.Itoa(limit) + "&after=" + cursor(end) + "&fields=" + c.param("fields")
		}
		out["paging"] = paging
	}
	c.json(http.StatusOK, out)
}

func cursor(i int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i))) }

func (a Audience) fields(fields []string) map[string]any {
	m := map[string]any{"id": a.ID}
	for _, f := range fields {
		switch strings.TrimSpace(f) {
		case "name":
			m["name"] = a.Name
		case "subtype":
			m["subtype"] = a.Subtype
		case "customer_file_source":
			m["customer_file_source"] = a.CustomerFileSource
		case "description":
			m["description"] = a.Description
		case "approximate_count_lower_bound":
			m["approximate_count_lower_bound"] = a.size
		case "operation_status":
			m["operation_status"] = map[string]any{"code": 200, "description": "Normal"}
		}
	}
	return m
}

// createAudience is POST /act_{id}/customaudiences: a Customer File
// Custom Audience needs subtype CUSTOM, a name and customer_file_source.
func (s *Server) createAudience(c *call) {
	if !s.account(c) {
		return
	}
	name, sub, src := strings.TrimSpace(c.param("name")), c.param("subtype"), c.param("customer_file_source")
	switch {
	case name == "":
		c.invalidParam("The parameter name is required")
		return
	case sub != "CUSTOM":
		s.violate(c, "an audience was created without subtype CUSTOM")
		c.invalidParam("Param subtype must be one of {CUSTOM, ...} for a customer file audience")
		return
	case !slices.Contains(customerFileSources, src):
		s.violate(c, "an audience was created without a valid customer_file_source")
		c.fail(GraphError{Message: "(#100) Missing customer file source: customer_file_source must be one of " + strings.Join(customerFileSources, ", "),
			Code: 100, Subcode: 1870059})
		return
	}
	s.mu.Lock()
	a := s.newAudience(name, src, c.param("description"))
	s.mu.Unlock()
	c.json(http.StatusOK, map[string]string{"id": a.ID})
}

func (s *Server) getAudience(c *call) {
	s.mu.Lock()
	a, ok := s.audiences[c.params["audience_id"]]
	var snap Audience
	if ok {
		snap = a.head()
	}
	s.mu.Unlock()
	if !ok {
		c.fail(GraphError{Message: "Unsupported get request. Object with ID '" + c.params["audience_id"] + "' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
			Code: 100, Subcode: 33, Type: "GraphMethodException"})
		return
	}
	out := snap.fields(strings.Split(c.param("fields"), ","))
	out["account_id"] = s.opts.AdAccount
	c.json(http.StatusOK, out)
}
