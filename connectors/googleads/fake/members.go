package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The API's request limits
// (https://developers.google.com/data-manager/api/devguides/limits).
const (
	MaxMembers     = 10000
	MaxIdentifiers = 10
	MaxDestination = 10
)

// Member is one person in a Customer Match list, as the fake holds it:
// the hashes (and clear address parts) it was sent under.
type Member struct {
	Emails    []string // SHA-256 hex
	Phones    []string
	Addresses []Address
	// Consent is the last one sent: CONSENT_GRANTED, CONSENT_DENIED or
	// CONSENT_STATUS_UNSPECIFIED ("" when none was sent).
	AdUserData, AdPersonalization string
	// Known is the registered person (Register) of one of its e-mail
	// hashes, when any.
	Known *Identity
}

// Address is an address identifier: names hashed, region and postal code
// in clear.
type Address struct {
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
	RegionCode string `json:"regionCode"`
	PostalCode string `json:"postalCode"`
}

type userList struct {
	account, id string
	members     map[int]*Member
	index       map[string]int // identifier key → member
	next        int
}

func newUserList(account, id string) *userList {
	return &userList{account: account, id: id, members: map[int]*Member{}, index: map[string]int{}}
}

// AddList creates a Customer Match list in an account.
func (s *Server) AddList(account, listID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.lists[account+"/"+listID]; !ok {
		s.lists[account+"/"+listID] = newUserList(account, listID)
	}
}

// Members returns the members of a list.
func (s *Server) Members(account, listID string) []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lists[account+"/"+listID]
	if l == nil {
		return nil
	}
	ids := make([]int, 0, len(l.members))
	for id := range l.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Member, 0, len(ids))
	for _, id := range ids {
		m := *l.members[id]
		for _, e := range m.Emails {
			if p, ok := s.byHash[e]; ok {
				m.Known = &p
				break
			}
		}
		out = append(out, m)
	}
	return out
}

// The request bodies, as far as the rules below read them (the discovery
// document has checked their shape already).
type (
	wireRequest struct {
		AudienceMembers []wireMember `json:"audienceMembers"`
		Destinations    []wireDest   `json:"destinations"`
		Consent         *wireConsent `json:"consent"`
		Encoding        string       `json:"encoding"`
		TermsOfService  *struct {
			Status string `json:"customerMatchTermsOfServiceStatus"`
		} `json:"termsOfService"`
		ValidateOnly   bool            `json:"validateOnly"`
		EncryptionInfo json.RawMessage `json:"encryptionInfo"`
	}
	wireMember struct {
		UserData *struct {
			UserIdentifiers []wireIdentifier `json:"userIdentifiers"`
		} `json:"userData"`
		Consent *wireConsent    `json:"consent"`
		Other   json.RawMessage `json:"mobileData"`
	}
	wireIdentifier struct {
		EmailAddress string   `json:"emailAddress"`
		PhoneNumber  string   `json:"phoneNumber"`
		Address      *Address `json:"address"`
	}
	wireConsent struct {
		AdUserData        string `json:"adUserData"`
		AdPersonalization string `json:"adPersonalization"`
	}
	wireDest struct {
		OperatingAccount     *wireAccount `json:"operatingAccount"`
		LoginAccount         *wireAccount `json:"loginAccount"`
		ProductDestinationID string       `json:"productDestinationId"`
	}
	wireAccount struct {
		AccountType string `json:"accountType"`
		AccountID   string `json:"accountId"`
	}
)

func (s *Server) ingest(c *call) { s.members(c, true) }
func (s *Server) remove(c *call) { s.members(c, false) }

// members serves :ingest and :remove.
func (s *Server) members(c *call, ingest bool) {
	var req wireRequest
	if err := json.Unmarshal(c.body, &req); err != nil {
		s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), nil)
		return
	}
	lists, ok := s.destinations(c, req.Destinations)
	if !ok || !s.requestRules(c, &req, ingest) {
		return
	}
	var fvs []fieldViolation
	for i := range req.AudienceMembers {
		fvs = append(fvs, s.memberRules(c, &req, i, ingest)...)
	}
	if len(fvs) > 0 {
		s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("%d audience members are invalid; the request was not processed: %s", len(fvs), fvs[0].Description), badRequest(fvs))
		return
	}
	if req.ValidateOnly {
		s.reply(c, http.StatusOK, map[string]any{})
		return
	}
	id := s.apply(lists, &req, ingest)
	s.reply(c, http.StatusOK, map[string]any{"requestId": id})
}

// destinations resolves the request's destinations to lists, answering
// Google's errors for an unknown account or list.
func (s *Server) destinations(c *call, dests []wireDest) ([]*userList, bool) {
	if len(dests) == 0 || len(dests) > MaxDestination {
		s.violate(c, fmt.Sprintf("%d destinations: 1 to %d are allowed", len(dests), MaxDestination))
		s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", "destinations: between 1 and 10 destinations are required", nil)
		return nil, false
	}
	var out []*userList
	for i, d := range dests {
		field := fmt.Sprintf("destinations[%d]", i)
		if d.OperatingAccount == nil || d.OperatingAccount.AccountID == "" || d.ProductDestinationID == "" {
			s.violate(c, field+": operatingAccount and productDestinationId are required")
			s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", field+": operating_account and product_destination_id are required", badRequest([]fieldViolation{{field, "required"}}))
			return nil, false
		}
		acct := d.OperatingAccount.AccountID
		if !isDigits(acct) || (d.LoginAccount != nil && !isDigits(d.LoginAccount.AccountID)) {
			s.violate(c, field+": account ids are digits only, without dashes")
			s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid account id: use digits only, without dashes.", badRequest([]fieldViolation{{field + ".operating_account.account_id", "must be digits"}}))
			return nil, false
		}
		if _, known := s.opts.Accounts[acct]; !known || !s.mayOperate(d.LoginAccount, acct) {
			s.fail(c, http.StatusForbidden, "PERMISSION_DENIED", "The caller does not have permission", []any{
				map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "PERMISSION_DENIED", "domain": "datamanager.googleapis.com"},
			})
			return nil, false
		}
		s.mu.Lock()
		l := s.lists[acct+"/"+d.ProductDestinationID]
		s.mu.Unlock()
		if l == nil {
			s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", "The destination's product_destination_id is not a Customer Match list of the operating account.",
				badRequest([]fieldViolation{{field + ".product_destination_id", "user list " + d.ProductDestinationID + " not found"}}))
			return nil, false
		}
		out = append(out, l)
	}
	return out, true
}

func (s *Server) mayOperate(login *wireAccount, acct string) bool {
	if login == nil || login.AccountID == acct {
		return true
	}
	return slices.Contains(s.opts.Managers[login.AccountID], acct)
}

// requestRules checks the request-wide rules.
func (s *Server) requestRules(c *call, req *wireRequest, ingest bool) bool {
	n := len(req.AudienceMembers)
	var why string
	switch {
	case n == 0:
		why = "audience_members: at least one member is required"
	case n > MaxMembers:
		why = fmt.Sprintf("audience_members: %d members, more than the %d allowed per request", n, MaxMembers)
	case req.Encoding != "HEX":
		why = "encoding: hashed identifiers are sent HEX encoded, got " + strconv.Quote(req.Encoding)
	case len(req.EncryptionInfo) > 0:
		why = "encryptionInfo: sluice sends no encrypted identifiers"
	case ingest && (req.TermsOfService == nil || req.TermsOfService.Status != "ACCEPTED"):
		why = "termsOfService: the Customer Match terms of service must be accepted (customerMatchTermsOfServiceStatus ACCEPTED)"
	}
	if why == "" {
		return true
	}
	s.violate(c, why)
	s.fail(c, http.StatusBadRequest, "INVALID_ARGUMENT", why, badRequest([]fieldViolation{{Field: strings.SplitN(why, ":", 2)[0], Description: why}}))
	return false
}

// memberRules checks one member; the field violations it returns refuse
// the request. Hashes of registered people in a wrong form are counted as
// violations without refusing anything: Google takes them and matches
// nobody.
func (s *Server) memberRules(c *call, req *wireRequest, i int, ingest bool) []fieldViolation {
	m := req.AudienceMembers[i]
	at := fmt.Sprintf("audience_members[%d]", i)
	var fvs []fieldViolation
	bad := func(field, why string, violation bool) {
		if violation {
			s.violate(c, at+field+": "+why)
		}
		fvs = append(fvs, fieldViolation{Field: at + field, Description: why})
	}
	if len(m.Other) > 0 || m.UserData == nil {
		bad(".user_data", "Customer Match members carry user_data", true)
		return fvs
	}
	ids := m.UserData.UserIdentifiers
	if len(ids) == 0 || len(ids) > MaxIdentifiers {
		bad(".user_data.user_identifiers", fmt.Sprintf("%d identifiers: 1 to %d are allowed", len(ids), MaxIdentifiers), true)
	}
	if ingest {
		consent := m.Consent
		if consent == nil {
			consent = req.Consent
		}
		switch {
		case consent == nil || consent.AdUserData == "":
			bad(".consent.ad_user_data", "consent for ad user data is not given", true)
		case consent.AdUserData != "CONSENT_GRANTED":
			bad(".consent.ad_user_data", "a member without ad user data consent ("+consent.AdUserData+") was sent", true)
		}
	}
	for j, id := range ids {
		fvs = append(fvs, s.identifierRules(c, at, j, id)...)
	}
	s.mu.Lock()
	for j, id := range ids {
		if msg, ok := s.rejects[id.EmailAddress]; ok && id.EmailAddress != "" {
			fvs = append(fvs, fieldViolation{Field: fmt.Sprintf("%s.user_data.user_identifiers[%d].email_address", at, j), Description: msg})
		}
	}
	s.mu.Unlock()
	return fvs
}

func (s *Server) identifierRules(c *call, at string, j int, id wireIdentifier) []fieldViolation {
	field := fmt.Sprintf("%s.user_data.user_identifiers[%d]", at, j)
	var fvs []fieldViolation
	bad := func(sub, why string) {
		s.violate(c, field+sub+": "+why)
		fvs = append(fvs, fieldViolation{Field: field + sub, Description: why})
	}
	set := 0
	for _, v := range []bool{id.EmailAddress != "", id.PhoneNumber != "", id.Address != nil} {
		if v {
			set++
		}
	}
	if set != 1 {
		bad("", "exactly one of email_address, phone_number and address is set in an identifier")
		return fvs
	}
	hashed := map[string]string{".email_address": id.EmailAddress, ".phone_number": id.PhoneNumber}
	if a := id.Address; a != nil {
		hashed[".address.given_name"], hashed[".address.family_name"] = a.GivenName, a.FamilyName
		switch {
		case a.GivenName == "" || a.FamilyName == "" || a.RegionCode == "" || a.PostalCode == "":
			bad(".address", "given_name, family_name, region_code and postal_code are all required")
		case len(a.RegionCode) != 2 || strings.ToUpper(a.RegionCode) != a.RegionCode:
			bad(".address.region_code", "an ISO 3166-1 alpha-2 code in capitals, in clear")
		case isHex64(strings.ToLower(a.PostalCode)):
			bad(".address.postal_code", "the postal code is sent in clear, not hashed")
		}
	}
	for _, sub := range []string{".email_address", ".phone_number", ".address.given_name", ".address.family_name"} {
		v := hashed[sub]
		if v == "" {
			continue
		}
		if !isHex64(v) {
			bad(sub, "not a SHA-256 hash in lower-case hex (64 characters)")
			continue
		}
		s.mu.Lock()
		why, wrong := s.wrong[v]
		s.mu.Unlock()
		if wrong {
			s.violate(c, field+sub+": "+why)
		}
	}
	return fvs
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
