package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// List is a Klaviyo list and its members.
type List struct {
	ID      string
	Name    string
	Members []string // profile ids, in the order they joined
	Created time.Time

	members map[string]bool
}

// Lists returns every list.
func (s *Server) Lists() []List {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]List, 0, len(s.listOrder))
	for _, id := range s.listOrder {
		out = append(out, s.lists[id].clone())
	}
	return out
}

func (l *List) clone() List {
	c := *l
	c.Members = slices.Clone(l.Members)
	c.members = nil
	return c
}

// CreateList adds a list, as someone using Klaviyo's app would, and returns
// its id.
func (s *Server) CreateList(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newList(name).ID
}

func (s *Server) newList(name string) *List {
	l := &List{ID: newID(6), Name: name, Created: time.Now(), members: map[string]bool{}}
	s.lists[l.ID] = l
	s.listOrder = append(s.listOrder, l.ID)
	return l
}

// ListMembers returns the profiles in the list with this id or name.
func (s *Server) ListMembers(idOrName string) []Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[idOrName]
	if l == nil {
		for _, id := range s.listOrder {
			if s.lists[id].Name == idOrName {
				l = s.lists[id]
				break
			}
		}
	}
	if l == nil {
		return nil
	}
	out := make([]Profile, 0, len(l.Members))
	for _, id := range l.Members {
		out = append(out, s.profiles[id].clone())
	}
	return out
}

// join adds a profile to a list; the caller holds s.mu.
func (l *List) join(id string) {
	if !l.members[id] {
		l.members[id] = true
		l.Members = append(l.Members, id)
	}
}

// leave removes a profile from a list; the caller holds s.mu.
func (l *List) leave(id string) {
	if l.members[id] {
		delete(l.members, id)
		l.Members = slices.DeleteFunc(l.Members, func(m string) bool { return m == id })
	}
}

func listResource(c *call, l *List) map[string]any {
	return map[string]any{
		"type": "list", "id": l.ID,
		"attributes": map[string]any{
			"name": l.Name, "created": l.Created.UTC().Format(time.RFC3339), "updated": l.Created.UTC().Format(time.RFC3339),
			"opt_in_process": "single_opt_in",
		},
		"links": map[string]any{"self": c.base() + "/api/lists/" + l.ID + "/"},
	}
}

func (s *Server) listNotFound(c *call, id string) {
	c.fail(http.StatusNotFound, apiError{Code: "not_found", Title: "Not found.", Detail: fmt.Sprintf("A list with id %s does not exist.", id), Source: parameter("id")})
}

// getLists serves GET /api/lists, with filters on name and id.
func (s *Server) getLists(c *call) {
	q := c.r.URL.Query()
	size, ok := pageSize(c, q, 10, 10)
	if !ok {
		return
	}
	var field string
	var values []string
	if f := q.Get("filter"); f != "" {
		var err error
		field, values, err = parseFilter(f)
		if err != nil {
			c.invalid(err.Error(), parameter("filter"))
			return
		}
		if field != "name" && field != "id" {
			c.invalid(fmt.Sprintf("'%s' is not a valid field for the resource 'list'.", field), parameter("filter"))
			return
		}
	}
	pg := newPager(q, size)
	s.mu.Lock()
	for _, id := range s.listOrder {
		l := s.lists[id]
		if field == "name" && !slices.Contains(values, l.Name) || field == "id" && !slices.Contains(values, l.ID) {
			continue
		}
		if !pg.add(func() map[string]any { return listResource(c, l) }) {
			break
		}
	}
	s.mu.Unlock()
	pg.write(c, q)
}

// getList serves GET /api/lists/{id}.
func (s *Server) getList(c *call) {
	s.mu.Lock()
	l := s.lists[c.params["id"]]
	var res map[string]any
	if l != nil {
		res = listResource(c, l)
	}
	s.mu.Unlock()
	if l == nil {
		s.listNotFound(c, c.params["id"])
		return
	}
	c.json(http.StatusOK, map[string]any{"data": res, "links": map[string]any{"self": c.base() + c.r.URL.Path}})
}

// createList serves POST /api/lists.
func (s *Server) createList(c *call) {
	var body struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Name *string `json:"name"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(c.body, &body); err != nil || body.Data.Type != "list" || body.Data.Attributes.Name == nil {
		c.invalid("A list needs data.type 'list' and data.attributes.name.", pointer("/data"))
		return
	}
	name := strings.TrimSpace(*body.Data.Attributes.Name)
	if name == "" {
		c.invalid("A list name cannot be blank.", pointer("/data/attributes/name"))
		return
	}
	s.mu.Lock()
	l := s.newList(name)
	res := listResource(c, l)
	s.mu.Unlock()
	c.json(http.StatusCreated, map[string]any{"data": res, "links": map[string]any{"self": c.base() + "/api/lists/" + l.ID + "/"}})
}

// getListProfileIDs serves GET /api/lists/{id}/relationships/profiles.
func (s *Server) getListProfileIDs(c *call) {
	q := c.r.URL.Query()
	size, ok := pageSize(c, q, 20, 1000)
	if !ok {
		return
	}
	pg := newPager(q, size)
	s.mu.Lock()
	l := s.lists[c.params["id"]]
	if l == nil {
		s.mu.Unlock()
		s.listNotFound(c, c.params["id"])
		return
	}
	lo, hi := pg.window(len(l.Members))
	for _, id := range l.Members[lo:hi] {
		pg.data = append(pg.data, map[string]any{"type": "profile", "id": id})
	}
	s.mu.Unlock()
	pg.write(c, q)
}

// relationshipIDs reads {"data": [{"type": "profile", "id": ...}]}, at most
// 1,000 of them.
func relationshipIDs(c *call) ([]string, bool) {
	var body struct {
		Data []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(c.body, &body); err != nil || body.Data == nil {
		c.invalid("Expected data: a list of profile identifiers.", pointer("/data"))
		return nil, false
	}
	if len(body.Data) > 1000 {
		c.invalid("A maximum of 1000 profiles can be provided per request.", pointer("/data"))
		return nil, false
	}
	ids := make([]string, len(body.Data))
	for i, d := range body.Data {
		if d.Type != "profile" || d.ID == "" {
			c.invalid("Each entry needs type 'profile' and an id.", pointer(fmt.Sprintf("/data/%d", i)))
			return nil, false
		}
		ids[i] = d.ID
	}
	return ids, true
}

// addToList serves POST /api/lists/{id}/relationships/profiles.
func (s *Server) addToList(c *call) {
	ids, ok := relationshipIDs(c)
	if !ok {
		return
	}
	s.mu.Lock()
	l := s.lists[c.params["id"]]
	if l == nil {
		s.mu.Unlock()
		s.listNotFound(c, c.params["id"])
		return
	}
	for i, id := range ids {
		if s.profiles[id] == nil {
			s.mu.Unlock()
			c.fail(http.StatusNotFound, apiError{Code: "not_found", Title: "Not found.", Detail: fmt.Sprintf("A profile with id %s does not exist.", id), Source: pointer(fmt.Sprintf("/data/%d/id", i))})
			return
		}
	}
	for _, id := range ids {
		l.join(id)
	}
	s.mu.Unlock()
	c.noContent(http.StatusNoContent)
}

// removeFromList serves DELETE /api/lists/{id}/relationships/profiles.
// Profiles that are not members are ignored, as Klaviyo does.
func (s *Server) removeFromList(c *call) {
	ids, ok := relationshipIDs(c)
	if !ok {
		return
	}
	s.mu.Lock()
	l := s.lists[c.params["id"]]
	if l == nil {
		s.mu.Unlock()
		s.listNotFound(c, c.params["id"])
		return
	}
	for _, id := range ids {
		l.leave(id)
	}
	s.mu.Unlock()
	c.noContent(http.StatusNoContent)
}
