package fake

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Person is a test person's raw identifiers, registered with the fake so
// that it can tell a correct hash from a wrong variant. Region is the
// ISO country to read a national phone number in (else Country).
type Person struct {
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	Region     string `json:"region,omitempty"`
	FirstName  string `json:"first_name,omitempty"`
	LastName   string `json:"last_name,omitempty"`
	Country    string `json:"country,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

// registry maps, per schema key, the cells Meta expects for registered
// people to those people, and the hashes of wrong variants to what is
// wrong with them. The fake's normal forms are written from Meta's
// customer file rules
// (https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences#hash),
// independently of the destination's code, so that the two check each
// other; where the rules leave a choice open (digits and inner spaces in
// names), every reading is accepted.
type registry struct {
	people   []Person
	expected map[string]map[string][]int  // key → cell → people
	variants map[string]map[string]string // key → cell → what is wrong
}

func newRegistry() *registry {
	return &registry{expected: map[string]map[string][]int{}, variants: map[string]map[string]string{}}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (r *registry) expect(key, cell string) {
	if r.expected[key] == nil {
		r.expected[key] = map[string][]int{}
	}
	who := len(r.people) - 1
	if l := r.expected[key][cell]; len(l) == 0 || l[len(l)-1] != who {
		r.expected[key][cell] = append(l, who)
	}
}

// variant notes a wrong form, unless it is also a right one.
func (r *registry) variant(key, norm, what string) {
	if strings.TrimSpace(norm) == "" {
		return
	}
	cell := sum(norm)
	if _, ok := r.expected[key][cell]; ok {
		return
	}
	if r.variants[key] == nil {
		r.variants[key] = map[string]string{}
	}
	r.variants[key][cell] = what
}

// hashed registers the accepted normal forms of a hashed key, and the
// wrong variants, a double hash always among them.
func (r *registry) hashed(key, raw string, accepted []string, wrong map[string]string) {
	if strings.TrimSpace(raw) == "" || len(accepted) == 0 {
		return
	}
	for _, a := range accepted {
		r.expect(key, sum(a))
	}
	r.variant(key, sum(accepted[0]), key+" hashed twice")
	for v, what := range wrong {
		r.variant(key, v, what)
	}
}

// Register adds a test person.
func (s *Server) Register(p Person) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.ids
	r.people = append(r.people, p)
	if e := strings.ToLower(strings.TrimSpace(p.Email)); e != "" {
		r.hashed("EMAIL", p.Email, []string{e}, map[string]string{
			p.Email: "EMAIL hashed without trimming and lower-casing", gmailForm(e): "EMAIL hashed with Gmail's dots or +suffix removed (Meta keeps them)",
			strings.ToUpper(e): "EMAIL hashed upper-cased"})
	}
	s.registerPhone(p)
	for key, v := range map[string]string{"FN": p.FirstName, "LN": p.LastName} {
		r.hashed(key, v, nameForms(v), map[string]string{v: key + " hashed without normalising (lower case, no punctuation)",
			strings.ToLower(strings.TrimSpace(v)): key + " hashed with its punctuation"})
	}
	if c := strings.ToLower(strings.TrimSpace(p.Country)); len(c) == 2 {
		r.hashed("COUNTRY", p.Country, []string{c}, map[string]string{strings.ToUpper(c): "COUNTRY hashed upper-cased (Meta wants lower-case ISO codes)"})
	}
	if z := zipForm(p.PostalCode, p.Country); z != "" {
		r.hashed("ZIP", p.PostalCode, []string{z}, map[string]string{p.PostalCode: "ZIP hashed as written",
			strings.ReplaceAll(strings.ToLower(strings.TrimSpace(p.PostalCode)), " ", ""): "ZIP hashed with its +4 part (Meta wants the first 5 digits in the US)"})
	}
	for key, v := range map[string]string{"CT": p.City, "ST": p.State} {
		r.hashed(key, v, []string{lettersOnly(v)}, map[string]string{v: key + " hashed as written", strings.ToLower(strings.TrimSpace(v)): key + " hashed with spaces or punctuation"})
	}
	if x := strings.TrimSpace(p.ExternalID); x != "" {
		r.expect("EXTERN_ID", x)
		r.expect("EXTERN_ID", sum(x)) // Meta takes external ids hashed or not
	}
}

// registerPhone: Meta wants the digits with the country code and no "+"
// (33612345678); the national form, the "+" form and the raw text are
// wrong variants.
func (s *Server) registerPhone(p Person) {
	raw := strings.TrimSpace(p.Phone)
	if raw == "" {
		return
	}
	region := strings.ToUpper(strings.TrimSpace(p.Region))
	if region == "" {
		region = strings.ToUpper(strings.TrimSpace(p.Country))
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return // never a match: whatever is sent for it is unknown
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	s.ids.hashed("PHONE", raw, []string{strings.TrimPrefix(e164, "+")}, map[string]string{
		e164: "PHONE hashed with its + (Meta wants digits only)", raw: "PHONE hashed as written",
		phonenumbers.GetNationalSignificantNumber(num): "PHONE hashed without its country code",
		digitsOnly(raw): "PHONE hashed as written, digits only (no country code)"})
}

func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// gmailForm is Google's rule for Gmail addresses (dots and +suffix
// dropped), which Meta does not apply: a hash of it is a mistake here.
func gmailForm(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || (domain != "gmail.com" && domain != "googlemail.com") {
		return e
	}
	local, _, _ = strings.Cut(local, "+")
	return strings.ReplaceAll(local, ".", "") + "@" + domain
}

// nameForms: lower case, no punctuation, UTF-8 letters kept (accents
// too). Meta's rules do not say whether digits and inner spaces stay, so
// each reading is accepted.
func nameForms(v string) []string {
	var out []string
	for _, keep := range []func(rune) bool{unicode.IsLetter, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) }} {
		clean := strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || keep(r) {
				return unicode.ToLower(r)
			}
			return -1
		}, strings.TrimSpace(v))
		for _, f := range []string{strings.Join(strings.Fields(clean), ""), strings.Join(strings.Fields(clean), " ")} {
			if f != "" && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}

func lettersOnly(v string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, v)
}

// zipForm: lower case without spaces; a US zip+4 keeps its first 5 digits.
func zipForm(zip, country string) string {
	z := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(zip), " ", ""))
	if c := strings.ToLower(strings.TrimSpace(country)); (c == "us" || c == "") && len(z) == 10 && z[5] == '-' && digitsOnly(z) == z[:5]+z[6:] {
		return z[:5]
	}
	return z
}

func isLowerHex64(v string) bool {
	if len(v) != 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// judge checks one cell: a hashed key's cell must be 64 lower-case hex (a
// problem returned makes the row an invalid entry); a wrong variant of a
// registered identifier is a violation (Meta would take it and never
// match it). Called with s.mu held.
func (s *Server) judge(c *call, key, v string) string {
	hashed, known := schemaKeys[key]
	if !known {
		return "unknown key"
	}
	viol := func(rule string) {
		s.violations = append(s.violations, Violation{Time: c.now, Endpoint: c.endpoint, Rule: rule})
	}
	if !hashed {
		if key == "EXTERN_ID" && strings.Contains(v, "@") {
			viol("EXTERN_ID holds what looks like a raw e-mail address")
		}
		if _, ok := s.ids.expected[key][v]; ok {
			s.stats.verified++
		}
		return ""
	}
	if !isLowerHex64(v) {
		viol(key + " cell is not a lower-case SHA-256 hex digest")
		return "Invalid " + key + ": expected a SHA-256 hash in lower-case hex"
	}
	if _, ok := s.ids.expected[key][v]; ok {
		s.stats.verified++
		return ""
	}
	if what, ok := s.ids.variants[key][v]; ok {
		viol(what)
		return ""
	}
	s.stats.unknown++
	return ""
}

// People returns the registered people for whom a cell is the expected
// form of their identifier under key (EMAIL, FN...).
func (s *Server) People(key, cell string) []Person {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Person
	for _, i := range s.ids.expected[key][cell] {
		out = append(out, s.ids.people[i])
	}
	return out
}

// Expects reports whether cell is an expected form of p's identifier
// under key, p being registered.
func (s *Server) Expects(p Person, key, cell string) bool {
	for _, q := range s.People(key, cell) {
		if q == p {
			return true
		}
	}
	return false
}

// Reject makes every row holding one of these e-mails (hashed by Meta's
// rule) an invalid entry named in the samples with reason, until called
// again with reason "" for them.
func (s *Server) Reject(reason string, emails ...string) {
	hashes := make([]string, len(emails))
	for i, e := range emails {
		hashes[i] = sum(strings.ToLower(strings.TrimSpace(e)))
	}
	s.RejectHashes(reason, hashes...)
}

// RejectHashes is Reject for cells as sent (any key).
func (s *Server) RejectHashes(reason string, cells ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range cells {
		if reason == "" {
			delete(s.rejects, h)
		} else {
			s.rejects[h] = reason
		}
	}
}
