package fake

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ContactsObjectType is the objectTypeId of contacts.
const ContactsObjectType = "0-1"

// List is a list of records (HubSpot's ILS list).
type List struct {
	ID             string
	Name           string
	ObjectTypeID   string
	ProcessingType string               // MANUAL, SNAPSHOT or DYNAMIC
	Members        map[string]time.Time // record id -> when added
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Version        int
}

func listJSON(l *List) map[string]any {
	return map[string]any{"listId": l.ID, "name": l.Name, "objectTypeId": l.ObjectTypeID, "processingType": l.ProcessingType,
		"processingStatus": "COMPLETE", "listVersion": l.Version, "size": len(l.Members),
		"createdAt": l.CreatedAt.UTC().Format(time.RFC3339Nano), "updatedAt": l.UpdatedAt.UTC().Format(time.RFC3339Nano)}
}

func (s *Server) createList(c *call) {
	var body struct {
		Name           string         `json:"name"`
		ObjectTypeID   string         `json:"objectTypeId"`
		ProcessingType string         `json:"processingType"`
		FilterBranch   map[string]any `json:"filterBranch"`
	}
	if !c.decode(&body) {
		return
	}
	switch {
	case strings.TrimSpace(body.Name) == "" || body.ObjectTypeID == "" || body.ProcessingType == "":
		c.invalid("Invalid input JSON: name, objectTypeId and processingType are required")
		return
	case !slices.Contains([]string{"MANUAL", "SNAPSHOT", "DYNAMIC"}, body.ProcessingType):
		c.invalid(fmt.Sprintf("Invalid processingType %q: use MANUAL, SNAPSHOT or DYNAMIC", body.ProcessingType))
		return
	case body.ProcessingType == "DYNAMIC" && body.FilterBranch == nil:
		c.invalid("A DYNAMIC list needs a filterBranch")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listNamed(body.Name) != nil {
		c.invalid(fmt.Sprintf("A list named '%s' already exists.", body.Name))
		return
	}
	l := s.newList(body.Name, body.ObjectTypeID, body.ProcessingType, c.now)
	c.json(http.StatusOK, map[string]any{"list": listJSON(l)})
}

// newList adds a list; s.mu held.
func (s *Server) newList(name, objectType, processing string, now time.Time) *List {
	id := strconv.FormatInt(s.nextList, 10)
	s.nextList++
	l := &List{ID: id, Name: name, ObjectTypeID: objectType, ProcessingType: processing, Members: map[string]time.Time{},
		CreatedAt: now, UpdatedAt: now, Version: 1}
	s.lists[id] = l
	s.listOrder = append(s.listOrder, id)
	return l
}

// listNamed finds a list by name, as HubSpot does without regard to case;
// s.mu held.
func (s *Server) listNamed(name string) *List {
	for _, id := range s.listOrder {
		if strings.EqualFold(s.lists[id].Name, name) {
			return s.lists[id]
		}
	}
	return nil
}

func (s *Server) listByName(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.listNamed(c.params["name"])
	if l == nil || l.ObjectTypeID != c.params["objectTypeId"] {
		c.notFound("List does not exist with the given name and object type.")
		return
	}
	c.json(http.StatusOK, map[string]any{"list": listJSON(l)})
}

func (s *Server) getList(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[c.params["listId"]]
	if l == nil {
		c.notFound(fmt.Sprintf("List does not exist with id %s.", c.params["listId"]))
		return
	}
	c.json(http.StatusOK, map[string]any{"list": listJSON(l)})
}

// MaxMembershipChange is the most record ids one membership call takes.
const MaxMembershipChange = 100000

// editable finds the list of a membership call, answering 404 or HubSpot's
// refusal for a DYNAMIC list; s.mu held.
func (s *Server) editable(c *call) *List {
	l := s.lists[c.params["listId"]]
	if l == nil {
		c.notFound(fmt.Sprintf("List does not exist with id %s.", c.params["listId"]))
		return nil
	}
	if l.ProcessingType == "DYNAMIC" {
		c.fail(http.StatusBadRequest, hsError{Category: "VALIDATION_ERROR", SubCategory: "ILS.LIST_PROCESSING_TYPE_NOT_SUPPORTED",
			Message: fmt.Sprintf("List %s has processingType DYNAMIC: memberships can only be changed on MANUAL or SNAPSHOT lists.", l.ID)})
		return nil
	}
	return l
}

// change adds and removes members and answers with HubSpot's fields.
// Records that do not exist are reported missing; adding a member or
// removing a non-member changes nothing. s.mu held.
func (s *Server) change(c *call, l *List, add, remove []string) {
	if len(add)+len(remove) > MaxMembershipChange {
		c.invalid(fmt.Sprintf("Too many record ids: at most %d per request", MaxMembershipChange))
		return
	}
	added, removed, missing := []string{}, []string{}, []string{}
	for _, id := range add {
		switch _, member := l.Members[id]; {
		case s.contacts[id] == nil:
			missing = append(missing, id)
		case !member:
			l.Members[id] = c.now
			added = append(added, id)
		}
	}
	for _, id := range remove {
		switch _, member := l.Members[id]; {
		case member:
			delete(l.Members, id)
			removed = append(removed, id)
		case s.contacts[id] == nil:
			missing = append(missing, id)
		}
	}
	if len(added)+len(removed) > 0 {
		l.UpdatedAt = c.now
		l.Version++
	}
	// recordsIdsAdded (sic) is HubSpot's field name.
	c.json(http.StatusOK, map[string]any{"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing})
}

func (s *Server) addMembers(c *call) {
	var ids []string
	if !c.decode(&ids) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.editable(c); l != nil {
		s.change(c, l, ids, nil)
	}
}

func (s *Server) removeMembers(c *call) {
	var ids []string
	if !c.decode(&ids) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.editable(c); l != nil {
		s.change(c, l, nil, ids)
	}
}

func (s *Server) addAndRemoveMembers(c *call) {
	var body struct {
		RecordIDsToAdd    []string `json:"recordIdsToAdd"`
		RecordIDsToRemove []string `json:"recordIdsToRemove"`
	}
	if !c.decode(&body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.editable(c); l != nil {
		s.change(c, l, body.RecordIDsToAdd, body.RecordIDsToRemove)
	}
}

// getMembers pages through a list's members by record id (ascending, as
// numbers), limit 100 by default and at most 250, after a cursor.
func (s *Server) getMembers(c *call) {
	q := c.r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			c.invalid("Invalid limit: a positive number is required")
			return
		}
		limit = min(n, 250)
	}
	after := q.Get("after")
	if after != "" && !isDigits(after) {
		c.invalid("Invalid after: not a paging cursor this endpoint gave")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[c.params["listId"]]
	if l == nil {
		c.notFound(fmt.Sprintf("List does not exist with id %s.", c.params["listId"]))
		return
	}
	ids := slices.SortedFunc(maps.Keys(l.Members), byNumber)
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(ids, after, byNumber)
		if start < len(ids) && ids[start] == after {
			start++
		}
	}
	end := min(len(ids), start+limit)
	results := []map[string]any{}
	for _, id := range ids[start:end] {
		results = append(results, map[string]any{"recordId": id, "membershipTimestamp": l.Members[id].UTC().Format(time.RFC3339Nano)})
	}
	out := map[string]any{"results": results, "total": len(ids)}
	if end < len(ids) {
		out["paging"] = map[string]any{"next": map[string]any{"after": ids[end-1]}}
	}
	c.json(http.StatusOK, out)
}

func byNumber(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// CreateList adds a list, as if made in HubSpot's UI, and returns its id.
func (s *Server) CreateList(name, processingType string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newList(name, ContactsObjectType, processingType, s.opts.Now()).ID
}

// Lists returns copies of every list, in creation order.
func (s *Server) Lists() []List {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]List, 0, len(s.listOrder))
	for _, id := range s.listOrder {
		cp := *s.lists[id]
		cp.Members = maps.Clone(cp.Members)
		out = append(out, cp)
	}
	return out
}

// ListMembers returns the record ids of a list's members, ascending; nil
// when there is no such list.
func (s *Server) ListMembers(listID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[listID]
	if l == nil {
		return nil
	}
	return slices.SortedFunc(maps.Keys(l.Members), byNumber)
}
