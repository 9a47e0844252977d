package brevo

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/sluicehq/sluice/connectors/destination"
)

// idKind is what identifies a sync's contacts in Brevo: the sync's key.
type idKind int

const (
	byEmail idKind = iota
	bySMS
	byExtID
)

func keyKind(key string) (idKind, error) {
	switch strings.ToLower(key) {
	case "email":
		return byEmail, nil
	case "sms":
		return bySMS, nil
	case "ext_id":
		return byExtID, nil
	}
	return 0, fmt.Errorf("key %q: Brevo identifies contacts by email, SMS (an E.164 number) or ext_id: key the sync by one of them and map it", key)
}

// Fields the destination reads itself; every other field is an attribute.
const (
	fieldEmail        = "email"
	fieldSMS          = "sms"
	fieldExtID        = "ext_id"
	fieldAttributes   = "attributes"
	fieldEmailConsent = "email_consent"
	fieldSMSConsent   = "sms_consent"
	fieldEmailBL      = "emailblacklisted"
	fieldSMSBL        = "smsblacklisted"
)

// attributeAliases name the Brevo attributes whose names are not the
// upper-cased field: Brevo's default contact attributes.
var attributeAliases = map[string]string{
	"first_name": "FIRSTNAME", "firstname": "FIRSTNAME",
	"last_name": "LASTNAME", "lastname": "LASTNAME",
	"sms": "SMS",
}

// AttributeName is the Brevo attribute a mapping field writes: first_name
// and last_name are Brevo's FIRSTNAME and LASTNAME, any other field is
// upper-cased (lifetime_value → LIFETIME_VALUE). A field under attributes.
// (attributes.Loyalty_Tier) is written verbatim.
func AttributeName(field string) string {
	if a, ok := attributeAliases[strings.ToLower(field)]; ok {
		return a
	}
	return strings.ToUpper(field)
}

// mapping is what the sync's fields mean to Brevo.
type mapping struct {
	key idKind
	// Channels whose consent the sync's fields carry, which a delete
	// unsubscribes from.
	email, sms bool
}

func newMapping(fields []string, key idKind) mapping {
	m := mapping{key: key}
	for _, f := range fields {
		switch strings.ToLower(f) {
		case fieldEmailConsent, fieldEmailBL:
			m.email = true
		case fieldSMSConsent, fieldSMSBL:
			m.sms = true
		}
	}
	if !m.email && !m.sms {
		m.email, m.sms = key == byEmail, key == bySMS
	}
	return m
}

// contact is one record as Brevo sees it.
type contact struct {
	idx   int // in the batch
	op    destination.Op
	email string
	sms   string // E.164
	extID string
	attrs map[string]any
	// Blacklist flags to set; nil leaves the flag as it is.
	emailBL, smsBL *bool

	err     error // the record's outcome, nil for accepted
	existed bool  // /contacts/batch found it
	created bool  // sluice created it in this batch (already in the list)
	// notUpdated: a 2xx answer of /contacts/batch listed it as not
	// updated, which says neither "unknown" nor "refused" (a 404 says
	// unknown).
	notUpdated bool
}

// hasData reports whether an update would change more than membership.
func (c *contact) hasData() bool {
	return len(c.attrs) > 0 || c.emailBL != nil || c.smsBL != nil || (c.extID != "" && c.email+c.sms != "")
}

// toContact maps a record. An error is the record's rejection (a bad phone
// number, a value of the wrong type), never a batch failure.
func (m mapping) toContact(i int, r destination.Record) (*contact, error) {
	c := &contact{idx: i, op: r.Op}
	switch m.key {
	case byEmail:
		c.email = strings.TrimSpace(r.Key)
	case bySMS:
		sms, err := E164(r.Key)
		if err != nil {
			return c, err
		}
		c.sms = sms
	case byExtID:
		c.extID = r.Key
	}
	names := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		names = append(names, k)
	}
	sort.Strings(names) // messages name the first bad field the same way every run
	for _, field := range names {
		v := r.Fields[field]
		var err error
		switch lf := strings.ToLower(field); lf {
		case fieldEmail:
			if s, ok := text(v); ok && s != "" {
				if m.key == byEmail {
					break // the key
				}
				c.email = s
			}
		case fieldSMS:
			if v == nil {
				break
			}
			s, err2 := E164(v)
			if err2 != nil {
				err = err2
				break
			}
			if m.key != bySMS {
				c.sms = s
			}
		case fieldExtID:
			if s, ok := text(v); ok && s != "" && m.key != byExtID {
				c.extID = s
			}
		case fieldEmailConsent, fieldSMSConsent, fieldEmailBL, fieldSMSBL:
			b, ok, err2 := flag(v)
			if err2 != nil {
				err = fmt.Errorf("%s: %w", field, err2)
				break
			}
			if !ok {
				break
			}
			if lf == fieldEmailConsent || lf == fieldSMSConsent {
				b = !b // consent given: not blacklisted
			}
			if lf == fieldEmailConsent || lf == fieldEmailBL {
				c.emailBL = &b
			} else {
				c.smsBL = &b
			}
		case fieldAttributes:
			sub, ok := v.(map[string]any)
			if !ok {
				if v != nil {
					err = fmt.Errorf("attributes: expected attributes.NAME fields, got a single value")
				}
				break
			}
			for name, av := range sub {
				c.setAttr(name, av)
			}
		default:
			if sub, ok := v.(map[string]any); ok {
				// Brevo attributes are flat: properties.ltv is PROPERTIES_LTV.
				flatten(c, AttributeName(field), sub)
				break
			}
			c.setAttr(AttributeName(field), v)
		}
		if err != nil {
			return c, err
		}
	}
	if c.sms != "" && m.key != bySMS {
		c.setAttr("SMS", c.sms)
	}
	if c.email == "" && c.sms == "" && m.key == byExtID && r.Op.IsRemoval() {
		return c, errors.New("Brevo finds a contact by email or SMS, not ext_id: add email (or SMS) to the mapping and to removal_fields")
	}
	return c, nil
}

func (c *contact) setAttr(name string, v any) {
	if c.attrs == nil {
		c.attrs = map[string]any{}
	}
	c.attrs[name] = v
}

func flatten(c *contact, prefix string, m map[string]any) {
	for k, v := range m {
		name := prefix + "_" + strings.ToUpper(k)
		if sub, ok := v.(map[string]any); ok {
			flatten(c, name, sub)
			continue
		}
		c.setAttr(name, v)
	}
}

func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case json.Number:
		return x.String(), true
	case int64, float64, int:
		return fmt.Sprint(x), true
	}
	return "", false
}

func flag(v any) (value, set bool, err error) {
	switch x := v.(type) {
	case nil:
		return false, false, nil
	case bool:
		return x, true, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return false, false, fmt.Errorf("expected true or false, got a text value")
		}
		return b, true, nil
	}
	return false, false, fmt.Errorf("expected true or false, got %T", v)
}

// E164 checks a phone number for Brevo's SMS attribute: it must be a valid
// number written with its country code (+33612345678; spaces and dashes
// are tolerated and dropped). National numbers are refused rather than
// guessed: map the phone through transform phone_e164 with default_region.
// The message never repeats the number (personal data).
func E164(v any) (string, error) {
	s, ok := text(v)
	if !ok {
		return "", fmt.Errorf("SMS: expected a phone number, got %T", v)
	}
	if !strings.HasPrefix(s, "+") {
		return "", errors.New("SMS is not a phone number in E.164 form (+ and the country code, e.g. +447700900123): map it with transform: phone_e164 and a default_region")
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", errors.New("SMS is not a valid phone number (E.164, e.g. +447700900123)")
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// identity is how /contacts/batch finds the contact: one of email or sms.
func (c *contact) identity(m map[string]any) {
	switch {
	case c.email != "":
		m["email"] = c.email
	case c.sms != "":
		m["sms"] = c.sms
	}
}

// identified reports whether Brevo can find the contact.
func (c *contact) identified() bool { return c.email != "" || c.sms != "" }

// batchItem is the contact's entry in a /contacts/batch call.
func (c *contact) batchItem(listAdd, listRemove int64) map[string]any {
	m := map[string]any{}
	c.identity(m)
	if len(c.attrs) > 0 {
		attrs := c.attrs
		if c.email != "" && c.sms != "" && c.attrs["SMS"] == nil {
			attrs = withAttr(c.attrs, "SMS", c.sms)
		}
		m["attributes"] = attrs
	} else if c.email != "" && c.sms != "" {
		m["attributes"] = map[string]any{"SMS": c.sms}
	}
	if c.extID != "" {
		m["ext_id"] = c.extID
	}
	if c.emailBL != nil {
		m["emailBlacklisted"] = *c.emailBL
	}
	if c.smsBL != nil {
		m["smsBlacklisted"] = *c.smsBL
	}
	if listAdd != 0 {
		m["listIds"] = []int64{listAdd}
	}
	if listRemove != 0 {
		m["unlinkListIds"] = []int64{listRemove}
	}
	return m
}

func withAttr(attrs map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(attrs)+1)
	for a, x := range attrs {
		out[a] = x
	}
	out[k] = v
	return out
}

// createBody is the contact for POST /contacts.
func (c *contact) createBody(list int64) map[string]any {
	m := map[string]any{"updateEnabled": true}
	if c.email != "" {
		m["email"] = c.email
	}
	attrs := c.attrs
	if c.sms != "" {
		attrs = withAttr(attrs, "SMS", c.sms)
	}
	if len(attrs) > 0 {
		m["attributes"] = attrs
	}
	if c.extID != "" {
		m["ext_id"] = c.extID
	}
	if c.emailBL != nil {
		m["emailBlacklisted"] = *c.emailBL
	}
	if c.smsBL != nil {
		m["smsBlacklisted"] = *c.smsBL
	}
	if list != 0 {
		m["listIds"] = []int64{list}
	}
	return m
}

// importRow is the contact in an import's jsonBody: e-mail and attributes
// only (SMS is an attribute); ext_id and the flags follow with the
// confirming /contacts/batch call.
func (c *contact) importRow() map[string]any {
	m := map[string]any{}
	if c.email != "" {
		m["email"] = c.email
	}
	attrs := c.attrs
	if c.sms != "" {
		attrs = withAttr(attrs, "SMS", c.sms)
	}
	if attrs == nil {
		attrs = map[string]any{}
	}
	m["attributes"] = attrs
	return m
}
