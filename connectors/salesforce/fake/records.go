package fake

import (
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

// record is one row of the org; fields are keyed by the field's canonical
// name, a nil value is null.
type record struct {
	id      string
	object  string
	fields  map[string]any
	deleted bool
}

// table holds an object's records in creation order, and the indexes of
// its live records (see index.go): field name, folded value, records.
type table struct {
	byID  map[string]*record
	order []string
	idx   map[string]map[string][]*record
}

func (t *table) live() int {
	n := 0
	for _, r := range t.byID {
		if !r.deleted {
			n++
		}
	}
	return n
}

// recError is a per-record error of sObject Collections and Bulk API
// results ("statusCode", not the REST array's "errorCode").
type recError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func recErr(code, msg string, fields ...string) *recError {
	if fields == nil {
		fields = []string{}
	}
	return &recError{StatusCode: code, Message: msg, Fields: fields}
}

// undo restores a record's former state when allOrNone rolls back.
type undo struct {
	rec     *record
	fields  map[string]any // nil: the record was created
	deleted bool
	members []*record // CampaignMembers deleted with it
}

// find returns the live record with that id, if any (s.mu held).
func (s *Server) find(id string) *record {
	full, ok := normalID(id)
	if !ok {
		return nil
	}
	for _, t := range s.records {
		if r := t.byID[full]; r != nil {
			return r
		}
	}
	return nil
}

// matches returns the live records of o whose field equals v (s.mu held),
// compared as matchKey compares them, in creation order.
func (s *Server) matches(o *Object, field string, v any) []*record {
	f := o.field(field)
	want := f.matchKey(v)
	cands, ok := s.lookup(o, f, []any{v})
	if !ok {
		cands = s.live(o)
	}
	var out []*record
	for _, r := range cands {
		if r.fields[f.Name] != nil && f.matchKey(r.fields[f.Name]) == want {
			out = append(out, r)
		}
	}
	return out
}

// live returns o's live records in creation order, for the rare filter no
// index answers. s.mu held.
func (s *Server) live(o *Object) []*record {
	t := s.records[o.Name]
	out := make([]*record, 0, len(t.order))
	for _, id := range t.order {
		if r := t.byID[id]; !r.deleted {
			out = append(out, r)
		}
	}
	return out
}

// matchKey is the form in which values of f are matched and kept unique:
// "Custom field matching is case-insensitive only if the custom field has
// the Unique and Treat "ABC" and "abc" as duplicate values (case
// insensitive) attributes" (Apex Developer Guide, "Upserting Records");
// case-insensitive is the Setup default for a unique text field, so the
// fake's unique text fields are case-insensitive unless CaseSensitive.
func (f *Field) matchKey(v any) string {
	k := fmt.Sprint(v)
	if f.Unique && !f.CaseSensitive && textual(f.Type) {
		return strings.ToLower(k)
	}
	return k
}

// validate checks values (coerced, canonical names) for a create (target
// nil) or an update of target, with Salesforce's per-record errors
// ("API Fault Element / StatusCode" in the SOAP API Developer Guide lists
// the codes). s.mu held.
func (s *Server) validate(o *Object, values map[string]any, target *record) *recError {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		f, v := o.field(name), values[name]
		if f.Name == "Id" && target == nil {
			return recErr("INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", "Id")
		}
		if f.ReadOnly || (target != nil && f.CreateOnly) {
			return recErr("INVALID_FIELD_FOR_INSERT_UPDATE", fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", f.Name), f.Name)
		}
		if v == nil {
			if f.Required {
				return recErr("REQUIRED_FIELD_MISSING", fmt.Sprintf("Required fields are missing: [%s]", f.Name), f.Name)
			}
			continue
		}
		if e := s.checkValue(o, f, v, target); e != nil {
			return e
		}
	}
	if target == nil {
		var missing []string
		for _, f := range o.Fields {
			if f.Required && values[f.Name] == nil {
				missing = append(missing, f.Name)
			}
		}
		if len(missing) > 0 {
			return recErr("REQUIRED_FIELD_MISSING", fmt.Sprintf("Required fields are missing: [%s]", strings.Join(missing, ", ")), missing...)
		}
		if o.Name == "CampaignMember" {
			return s.checkMember(values)
		}
	}
	return nil
}

// checkValue checks one non-null value: e-mail syntax, length, unique
// values and references.
func (s *Server) checkValue(o *Object, f *Field, v any, target *record) *recError {
	str, isStr := v.(string)
	if f.Type == "email" && !validEmail(str) {
		return recErr("INVALID_EMAIL_ADDRESS", fmt.Sprintf("%s: invalid email address: %s", f.Name, str), f.Name)
	}
	if isStr && textual(f.Type) && len([]rune(str)) > f.length() {
		return recErr("STRING_TOO_LONG", fmt.Sprintf("%s: data value too large: (max length=%d)", f.Name, f.length()), f.Name)
	}
	if f.Unique {
		for _, r := range s.matches(o, f.Name, v) {
			if target == nil || r != target {
				// Observed: the fields array is empty for this error.
				return recErr("DUPLICATE_VALUE", fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", f.Name, r.id))
			}
		}
	}
	if f.Type == "reference" {
		ref := s.object(f.ReferenceTo)
		full, ok := normalID(str)
		if !ok || ref == nil || !strings.HasPrefix(full, ref.KeyPrefix) {
			return recErr("MALFORMED_ID", fmt.Sprintf("%s: id value of incorrect type: %s", f.Name, str), f.Name)
		}
		r := s.records[ref.Name].byID[full]
		if r == nil {
			return recErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", f.Name)
		}
		if r.deleted {
			return recErr("ENTITY_IS_DELETED", "entity is deleted", f.Name)
		}
	}
	return nil
}

// checkMember refuses a CampaignMember without a person, or for a person
// already in the campaign (DUPLICATE_VALUE "Already a campaign member.").
func (s *Server) checkMember(values map[string]any) *recError {
	person := "ContactId"
	if values["ContactId"] == nil {
		person = "LeadId"
	}
	if values[person] == nil {
		return recErr("REQUIRED_FIELD_MISSING", "Required fields are missing: [ContactId]", "ContactId")
	}
	camp, _ := normalID(fmt.Sprint(values["CampaignId"]))
	who, _ := normalID(fmt.Sprint(values[person]))
	o := s.object("CampaignMember")
	theirs, _ := s.lookup(o, o.field(person), []any{who})
	for _, r := range theirs {
		if r.fields["CampaignId"] == camp && r.fields[person] == who {
			return recErr("DUPLICATE_VALUE", "Already a campaign member.")
		}
	}
	return nil
}

// validEmail is close to Salesforce's check: one @, a local part, a
// dotted domain, no spaces.
func validEmail(v string) bool {
	local, domain, ok := strings.Cut(v, "@")
	if !ok || local == "" || strings.ContainsAny(v, " ,;<>()[]\\\"") || strings.Contains(domain, "@") {
		return false
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return false
	}
	_, err := mail.ParseAddress(v)
	return err == nil
}

// apply writes validated values: a new record when target is nil, else an
// update. It returns the undo step. s.mu held.
func (s *Server) apply(o *Object, values map[string]any, target *record, now time.Time) (*record, undo) {
	stamp := now.UTC().Format("2006-01-02T15:04:05.000+0000")
	if target != nil {
		u := undo{rec: target, fields: maps.Clone(target.fields)}
		s.unindex(target)
		for k, v := range values {
			target.fields[k] = v
		}
		target.fields["LastModifiedDate"] = stamp
		s.index(target)
		return target, u
	}
	r := &record{id: s.newID(o.KeyPrefix), object: o.Name, fields: map[string]any{}}
	for _, f := range o.Fields {
		r.fields[f.Name] = nil
		if f.DefaultedOnCreate {
			r.fields[f.Name] = f.Default
		}
	}
	for k, v := range values {
		if f := o.field(k); f.Type == "reference" {
			v, _ = normalID(v.(string))
		}
		r.fields[k] = v
	}
	r.fields["Id"], r.fields["CreatedDate"], r.fields["LastModifiedDate"] = r.id, stamp, stamp
	t := s.records[o.Name]
	t.byID[r.id] = r
	t.order = append(t.order, r.id)
	s.index(r)
	return r, undo{rec: r}
}

// remove deletes a record and, for a person or a campaign, its campaign
// members, as Salesforce cascades them. s.mu held.
func (s *Server) remove(r *record) undo {
	u := undo{rec: r, fields: maps.Clone(r.fields)}
	s.unindex(r)
	r.deleted = true
	if r.object == "Contact" || r.object == "Lead" || r.object == "Campaign" {
		o := s.object("CampaignMember")
		for _, k := range []string{"ContactId", "LeadId", "CampaignId"} {
			theirs, _ := s.lookup(o, o.field(k), []any{r.id})
			for _, m := range theirs {
				if m.fields[k] == r.id {
					s.unindex(m)
					m.deleted = true
					u.members = append(u.members, m)
				}
			}
		}
	}
	return u
}

// rollback undoes steps in reverse order. s.mu held.
func (s *Server) rollback(steps []undo) {
	for i := len(steps) - 1; i >= 0; i-- {
		u := steps[i]
		if !u.rec.deleted {
			s.unindex(u.rec)
		}
		if u.fields == nil {
			s.forget(u.rec)
			continue
		}
		u.rec.fields, u.rec.deleted = u.fields, false
		s.index(u.rec)
		for _, m := range u.members {
			m.deleted = false
			s.index(m)
		}
	}
}

// forget drops a record created by a step being rolled back: it is the
// newest of its table unless the same call created others since, which
// were rolled back before it (steps undo in reverse). s.mu held.
func (s *Server) forget(r *record) {
	t := s.records[r.object]
	delete(t.byID, r.id)
	if n := len(t.order); n > 0 && t.order[n-1] == r.id {
		t.order = t.order[:n-1]
		return
	}
	t.order = slices.DeleteFunc(t.order, func(id string) bool { return id == r.id })
}

// coerce turns a JSON or CSV value into the field's type; CSV values are
// strings. It returns an error naming the field, never the value.
func coerce(f *Field, v any, fromCSV bool) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if s, ok := v.(string); ok && fromCSV {
			switch strings.ToLower(s) {
			case "true", "1", "yes":
				return true, nil
			case "false", "0", "no":
				return false, nil
			}
		}
		return nil, fmt.Errorf("%s: value not of required type boolean", f.Name)
	case "double", "int", "currency", "percent":
		switch x := v.(type) {
		case float64:
			return x, nil
		case string:
			n, err := strconv.ParseFloat(x, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value not of required type %s", f.Name, f.Type)
			}
			return n, nil
		}
		return nil, fmt.Errorf("%s: value not of required type %s", f.Name, f.Type)
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return nil, fmt.Errorf("%s: value not of required type %s", f.Name, f.Type)
	}
	switch f.Type {
	case "date":
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil, fmt.Errorf("%s: invalid date", f.Name)
		}
	case "datetime":
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			if _, err := time.Parse("2006-01-02T15:04:05.000-0700", s); err != nil {
				return nil, fmt.Errorf("%s: invalid datetime", f.Name)
			}
		}
	}
	return s, nil
}

// public returns a copy of a record's fields with its attributes, as the
// REST API shows a record.
func public(r *record, version int) map[string]any {
	out := maps.Clone(r.fields)
	out["attributes"] = map[string]string{"type": r.object, "url": fmt.Sprintf("/services/data/v%d.0/sobjects/%s/%s", version, r.object, r.id)}
	return out
}
