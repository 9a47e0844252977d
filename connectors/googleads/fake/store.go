package fake

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// reqStatus is what requestStatus:retrieve tells of an accepted request.
type reqStatus struct {
	ingest      bool
	dests       []wireDest
	records     int
	identifiers int
	pollsLeft   int
	failReason  string // "" for SUCCESS
	failed      int    // members that failed: all of them unless a partial failure
}

// apply changes the lists (unless the request is to fail in processing)
// and returns the request id.
func (s *Server) apply(lists []*userList, req *wireRequest, ingest bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := fmt.Sprintf("fake-request-%06d", s.nextID)
	st := &reqStatus{ingest: ingest, dests: req.Destinations, records: len(req.AudienceMembers), pollsLeft: s.opts.ProcessingPolls}
	if len(s.failNext) > 0 {
		f := s.failNext[0]
		s.failNext = s.failNext[1:]
		st.failReason, st.failed = f.reason, min(f.members, st.records)
		if f.members <= 0 {
			st.failed = st.records
		}
	}
	for _, m := range req.AudienceMembers {
		st.identifiers += len(m.UserData.UserIdentifiers)
	}
	s.statuses[id] = st
	for _, l := range lists {
		for _, m := range req.AudienceMembers[st.failed:] {
			consent := m.Consent
			if consent == nil {
				consent = req.Consent
			}
			if ingest {
				l.add(m, consent)
			} else {
				l.drop(m)
			}
		}
	}
	return id
}

// keys are the identifiers of a member, one string each.
func keys(m wireMember) []string {
	var out []string
	for _, id := range m.UserData.UserIdentifiers {
		switch {
		case id.EmailAddress != "":
			out = append(out, "e:"+id.EmailAddress)
		case id.PhoneNumber != "":
			out = append(out, "p:"+id.PhoneNumber)
		case id.Address != nil:
			a := id.Address
			out = append(out, "a:"+a.GivenName+"|"+a.FamilyName+"|"+a.RegionCode+"|"+a.PostalCode)
		}
	}
	return out
}

// add adds a member, merged with the members that share an identifier with
// it (Google matches a person by any of their identifiers).
func (l *userList) add(wm wireMember, consent *wireConsent) {
	ks := keys(wm)
	var found []int
	for _, k := range ks {
		if id, ok := l.index[k]; ok && !slices.Contains(found, id) {
			found = append(found, id)
		}
	}
	var m *Member
	var id int
	if len(found) == 0 {
		l.next++
		id, m = l.next, &Member{}
		l.members[id] = m
	} else {
		slices.Sort(found)
		id, m = found[0], l.members[found[0]]
		for _, other := range found[1:] {
			o := l.members[other]
			m.Emails, m.Phones, m.Addresses = append(m.Emails, o.Emails...), append(m.Phones, o.Phones...), append(m.Addresses, o.Addresses...)
			delete(l.members, other)
		}
	}
	for _, ident := range wm.UserData.UserIdentifiers {
		switch {
		case ident.EmailAddress != "" && !slices.Contains(m.Emails, ident.EmailAddress):
			m.Emails = append(m.Emails, ident.EmailAddress)
		case ident.PhoneNumber != "" && !slices.Contains(m.Phones, ident.PhoneNumber):
			m.Phones = append(m.Phones, ident.PhoneNumber)
		case ident.Address != nil && !slices.Contains(m.Addresses, *ident.Address):
			m.Addresses = append(m.Addresses, *ident.Address)
		}
	}
	if consent != nil {
		m.AdUserData, m.AdPersonalization = consent.AdUserData, consent.AdPersonalization
	}
	l.reindex(id, m)
}

func (l *userList) reindex(id int, m *Member) {
	for _, e := range m.Emails {
		l.index["e:"+e] = id
	}
	for _, p := range m.Phones {
		l.index["p:"+p] = id
	}
	for _, a := range m.Addresses {
		l.index["a:"+a.GivenName+"|"+a.FamilyName+"|"+a.RegionCode+"|"+a.PostalCode] = id
	}
}

// drop removes every member matched by one of the identifiers.
func (l *userList) drop(wm wireMember) {
	for _, k := range keys(wm) {
		id, ok := l.index[k]
		if !ok {
			continue
		}
		for key, other := range l.index {
			if other == id {
				delete(l.index, key)
			}
		}
		delete(l.members, id)
	}
}

// retrieve serves GET /v1/requestStatus:retrieve.
func (s *Server) retrieve(c *call) {
	id := c.r.URL.Query().Get("requestId")
	s.mu.Lock()
	st, ok := s.statuses[id]
	if !ok {
		s.mu.Unlock()
		s.fail(c, http.StatusNotFound, "NOT_FOUND", "Request id "+strconv.Quote(id)+" not found.", nil)
		return
	}
	status := "SUCCESS"
	switch {
	case st.pollsLeft > 0:
		st.pollsLeft--
		status = "PROCESSING"
	case st.failed >= st.records:
		status = "FAILED"
	case st.failed > 0:
		status = "PARTIAL_SUCCESS"
	}
	var per []any
	for _, d := range st.dests {
		per = append(per, st.perDestination(d, status))
	}
	s.mu.Unlock()
	s.reply(c, http.StatusOK, map[string]any{"requestStatusPerDestination": per})
}

func (st *reqStatus) perDestination(d wireDest, status string) map[string]any {
	out := map[string]any{"destination": d, "requestStatus": status}
	if status == "PROCESSING" {
		return out
	}
	counts := map[string]any{"recordCount": strconv.Itoa(st.records), "userIdentifierCount": strconv.Itoa(st.identifiers)}
	if st.ingest {
		counts["uploadMatchRateRange"] = "MATCH_RATE_RANGE_NOT_ELIGIBLE"
		out["audienceMembersIngestionStatus"] = map[string]any{"userDataIngestionStatus": counts}
	} else {
		out["audienceMembersRemovalStatus"] = map[string]any{"userDataRemovalStatus": counts}
	}
	if status == "FAILED" || status == "PARTIAL_SUCCESS" {
		out["errorInfo"] = map[string]any{"errorCounts": []any{map[string]any{"reason": st.failReason, "recordCount": strconv.Itoa(st.failed)}}}
	}
	return out
}

// getUserList serves GET /v1/accountTypes/{type}/accounts/{id}/userLists/{id}.
func (s *Server) getUserList(c *call) {
	acct, id := c.params["accountId"], c.params["userListId"]
	s.mu.Lock()
	l := s.lists[acct+"/"+id]
	_, known := s.opts.Accounts[acct]
	s.mu.Unlock()
	switch {
	case !known:
		s.fail(c, http.StatusForbidden, "PERMISSION_DENIED", "The caller does not have permission", nil)
	case l == nil:
		s.fail(c, http.StatusNotFound, "NOT_FOUND", "User list "+id+" not found.", nil)
	default:
		name := "accountTypes/" + c.params["accountType"] + "/accounts/" + acct + "/userLists/" + id
		s.mu.Lock()
		size := len(l.members)
		s.mu.Unlock()
		s.reply(c, http.StatusOK, map[string]any{
			"name": name, "id": id, "displayName": "Customer Match list " + id, "membershipStatus": "OPEN",
			"ingestedUserListInfo": map[string]any{"uploadKeyTypes": []string{"CONTACT_ID"}},
			"sizeInfo":             map[string]any{"searchNetworkMembersCount": strconv.Itoa(size)},
		})
	}
}
