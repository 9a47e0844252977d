package fake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxBatch is HubSpot's limit of inputs per batch call.
const MaxBatch = 100

// Property is a contact property.
type Property struct {
	Name           string `json:"name"`
	Label          string `json:"label"`
	Type           string `json:"type"`      // string, number, date, datetime, enumeration, bool
	FieldType      string `json:"fieldType"` // text, textarea, number, date, select, booleancheckbox...
	GroupName      string `json:"groupName"`
	Description    string `json:"description"`
	HasUniqueValue bool   `json:"hasUniqueValue"`
	FormField      bool   `json:"formField"`
	Hidden         bool   `json:"hidden"`
	Calculated     bool   `json:"calculated"`
	ExternalOpts   bool   `json:"externalOptions"`
	Options        []any  `json:"options"`
	HubspotDefined bool   `json:"hubspotDefined,omitempty"`
}

// Contact is a contact record.
type Contact struct {
	ID         string
	Properties map[string]string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func defaultProperties() []Property {
	p := func(name, label, typ, field string) Property {
		return Property{Name: name, Label: label, Type: typ, FieldType: field, GroupName: "contactinformation", FormField: true, HubspotDefined: true, Options: []any{}}
	}
	return []Property{
		p("email", "Email", "string", "text"),
		p("firstname", "First Name", "string", "text"),
		p("lastname", "Last Name", "string", "text"),
		p("phone", "Phone Number", "string", "phonenumber"),
		p("company", "Company Name", "string", "text"),
		p("city", "City", "string", "text"),
		p("country", "Country/Region", "string", "text"),
		p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio"),
		{Name: "hs_object_id", Label: "Record ID", Type: "number", FieldType: "number", GroupName: "contactinformation", HasUniqueValue: true, HubspotDefined: true, Calculated: true, Options: []any{}},
		{Name: "createdate", Label: "Create Date", Type: "datetime", FieldType: "date", GroupName: "contactinformation", HubspotDefined: true, Options: []any{}},
		{Name: "lastmodifieddate", Label: "Last Modified Date", Type: "datetime", FieldType: "date", GroupName: "contactinformation", HubspotDefined: true, Options: []any{}},
	}
}

// addProperty adds or replaces a property; s.mu held or not yet shared.
func (s *Server) addProperty(p Property) {
	if p.Options == nil {
		p.Options = []any{}
	}
	if p.GroupName == "" {
		p.GroupName = "contactinformation"
	}
	for i := range s.props {
		if s.props[i].Name == p.Name {
			s.props[i] = p
			return
		}
	}
	s.props = append(s.props, p)
}

func (s *Server) property(name string) (Property, bool) {
	for _, p := range s.props {
		if p.Name == name {
			return p, true
		}
	}
	return Property{}, false
}

var emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)

// upsertInput is one input of batch/upsert.
type upsertInput struct {
	IDProperty         string `json:"idProperty"`
	ID                 string `json:"id"`
	ObjectWriteTraceID string `json:"objectWriteTraceId"`
	Properties         values `json:"properties"`
}

// values are property values: HubSpot takes strings, and numbers and
// booleans as their text; an object or array is not a value.
type values map[string]string

func (v *values) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("reading properties: %w", err)
	}
	out := make(values, len(raw))
	for k, r := range raw {
		var x any
		if err := json.Unmarshal(r, &x); err != nil {
			return fmt.Errorf("reading property %q: %w", k, err)
		}
		switch t := x.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = t
		case bool, float64:
			out[k] = strings.TrimSpace(string(r))
		default:
			return &json.UnmarshalTypeError{Value: "object", Type: reflect.TypeFor[string](), Field: "properties." + k}
		}
	}
	*v = out
	return nil
}

// inputError is why one input is refused.
type inputError struct {
	category, subCategory, message string
}

func (s *Server) upsert(c *call) {
	var body struct {
		Inputs []upsertInput `json:"inputs"`
	}
	if !c.decode(&body) {
		return
	}
	if body.Inputs == nil {
		c.invalid("Invalid input JSON: inputs is required")
		return
	}
	if len(body.Inputs) > MaxBatch {
		c.invalid(fmt.Sprintf("Batch input limit exceeded: at most %d inputs are allowed, %d were given", MaxBatch, len(body.Inputs)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]*inputError, len(body.Inputs))
	traced := true
	seen := map[string]bool{}
	for i, in := range body.Inputs {
		if in.ObjectWriteTraceID == "" {
			traced = false
		}
		key := in.IDProperty + "\x00" + strings.ToLower(in.ID)
		if seen[key] {
			errs[i] = &inputError{category: "VALIDATION_ERROR", message: "Duplicate IDs found in batch input: the same id appears more than once"}
		}
		seen[key] = true
		if errs[i] == nil {
			errs[i] = s.checkInput(in)
		}
	}
	first := slices.IndexFunc(errs, func(e *inputError) bool { return e != nil })
	if first >= 0 && !traced {
		// Observed: without objectWriteTraceId HubSpot cannot say which
		// input failed, and fails the whole batch with the first error.
		e := errs[first]
		c.fail(http.StatusBadRequest, hsError{Message: e.message, Category: e.category, SubCategory: e.subCategory})
		return
	}
	results := []map[string]any{}
	failures := []map[string]any{}
	for i, in := range body.Inputs {
		if e := errs[i]; e != nil {
			f := map[string]any{"status": "error", "category": e.category, "message": e.message,
				"context": map[string]any{"objectWriteTraceId": []string{in.ObjectWriteTraceID}}}
			if e.subCategory != "" {
				f["subCategory"] = e.subCategory
			}
			failures = append(failures, f)
			continue
		}
		ct, isNew := s.apply(in, c.now)
		r := contactJSON(ct)
		r["new"] = isNew
		if in.ObjectWriteTraceID != "" {
			r["objectWriteTraceId"] = in.ObjectWriteTraceID
		}
		results = append(results, r)
	}
	out := map[string]any{"status": "COMPLETE", "results": results,
		"startedAt": c.now.UTC().Format(time.RFC3339Nano), "completedAt": s.opts.Now().UTC().Format(time.RFC3339Nano)}
	if len(failures) == 0 {
		c.json(http.StatusOK, out)
		return
	}
	out["numErrors"], out["errors"] = len(failures), failures
	c.json(http.StatusMultiStatus, out)
}

// checkInput says why HubSpot would refuse an input, or nil; s.mu held.
func (s *Server) checkInput(in upsertInput) *inputError {
	if in.ID == "" {
		return &inputError{category: "VALIDATION_ERROR", message: "Invalid input: id is required"}
	}
	idp, ok := s.property(in.IDProperty)
	if in.IDProperty != "email" && (!ok || !idp.HasUniqueValue || idp.Name == "hs_object_id") {
		// HubSpot's observed wording for an idProperty that is not unique.
		return &inputError{category: "VALIDATION_ERROR", message: "Unable to perform update/upsert by non-unique 0-1 property"}
	}
	var bad []map[string]any
	for _, name := range slices.Sorted(maps.Keys(in.Properties)) {
		p, ok := s.property(name)
		switch {
		case !ok:
			bad = append(bad, map[string]any{"isValid": false, "message": fmt.Sprintf("Property %q does not exist", name), "error": "PROPERTY_DOESNT_EXIST", "name": name})
		case p.Calculated:
			bad = append(bad, map[string]any{"isValid": false, "message": fmt.Sprintf("%q is a read only property; its value cannot be set.", name), "error": "READ_ONLY_VALUE", "name": name})
		case p.Type == "number" && in.Properties[name] != "" && !isNumber(in.Properties[name]):
			bad = append(bad, map[string]any{"isValid": false, "message": fmt.Sprintf("Property values were not valid: %q is not a number", name), "error": "INVALID_LONG", "name": name})
		}
	}
	email := in.Properties["email"]
	if in.IDProperty == "email" {
		email = in.ID
	}
	if email != "" && !emailRE.MatchString(email) {
		// HubSpot quotes the address in this message; the fake does too,
		// so a client is tested on not passing it on.
		bad = append(bad, map[string]any{"isValid": false, "message": "Email address " + email + " is invalid", "error": "INVALID_EMAIL", "name": "email"})
	}
	if len(bad) > 0 {
		b, _ := json.Marshal(bad)
		return &inputError{category: "VALIDATION_ERROR", message: "Property values were not valid: " + string(b)}
	}
	if msg, ok := s.rejects[strings.ToLower(email)]; ok && email != "" {
		return &inputError{category: "VALIDATION_ERROR", message: msg}
	}
	if email != "" && s.blocked[strings.ToLower(email)] {
		return &inputError{category: "VALIDATION_ERROR", subCategory: "GDPR_DELETED_EMAIL",
			message: "This email address was permanently deleted (GDPR) and cannot be used to create a contact"}
	}
	return nil
}

func isNumber(v string) bool {
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

// find returns the contact whose idProperty has value id; s.mu held.
func (s *Server) find(idProperty, id string) *Contact {
	if idProperty == "" || idProperty == "hs_object_id" {
		return s.contacts[id]
	}
	if idProperty == "email" {
		id = strings.ToLower(id)
	}
	if rid, ok := s.unique[idProperty][id]; ok {
		return s.contacts[rid]
	}
	return nil
}

// apply creates or updates the contact of a checked input; s.mu held.
func (s *Server) apply(in upsertInput, now time.Time) (*Contact, bool) {
	ct := s.find(in.IDProperty, in.ID)
	isNew := ct == nil
	if isNew {
		id := strconv.FormatInt(s.nextID, 10)
		s.nextID++
		ct = &Contact{ID: id, Properties: map[string]string{"hs_object_id": id, "createdate": now.UTC().Format(time.RFC3339Nano)}, CreatedAt: now}
		s.contacts[id] = ct
		s.order = append(s.order, id)
	}
	props := maps.Clone(in.Properties)
	if props == nil {
		props = map[string]string{}
	}
	props[in.IDProperty] = in.ID
	for k, v := range props {
		s.setProp(ct, k, v)
	}
	ct.UpdatedAt = now
	ct.Properties["lastmodifieddate"] = now.UTC().Format(time.RFC3339Nano)
	return ct, isNew
}

// setProp sets a property, keeping the unique indexes; s.mu held.
func (s *Server) setProp(ct *Contact, name, value string) {
	p, _ := s.property(name)
	if p.HasUniqueValue || name == "email" {
		idx := s.unique[name]
		if idx == nil {
			idx = map[string]string{}
			s.unique[name] = idx
		}
		key := func(v string) string {
			if name == "email" {
				return strings.ToLower(v)
			}
			return v
		}
		if old, ok := ct.Properties[name]; ok {
			delete(idx, key(old))
		}
		if value != "" {
			idx[key(value)] = ct.ID
		}
	}
	ct.Properties[name] = value
}

func contactJSON(ct *Contact) map[string]any {
	return map[string]any{"id": ct.ID, "properties": maps.Clone(ct.Properties), "archived": false,
		"createdAt": ct.CreatedAt.UTC().Format(time.RFC3339Nano), "updatedAt": ct.UpdatedAt.UTC().Format(time.RFC3339Nano)}
}

func (s *Server) batchRead(c *call) {
	var body struct {
		IDProperty string   `json:"idProperty"`
		Properties []string `json:"properties"`
		Inputs     []struct {
			ID string `json:"id"`
		} `json:"inputs"`
	}
	if !c.decode(&body) {
		return
	}
	if body.Inputs == nil {
		c.invalid("Invalid input JSON: inputs is required")
		return
	}
	if len(body.Inputs) > MaxBatch {
		c.invalid(fmt.Sprintf("Batch input limit exceeded: at most %d inputs are allowed, %d were given", MaxBatch, len(body.Inputs)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.property(body.IDProperty); body.IDProperty != "" && body.IDProperty != "email" && (!ok || !p.HasUniqueValue) {
		c.invalid(fmt.Sprintf("Invalid idProperty %q: it must be a property with unique values", body.IDProperty))
		return
	}
	results := []map[string]any{}
	var missing []string
	for _, in := range body.Inputs {
		ct := s.find(body.IDProperty, in.ID)
		if ct == nil {
			missing = append(missing, in.ID)
			continue
		}
		// HubSpot returns the requested properties (and a few defaults).
		r := contactJSON(ct)
		props := map[string]string{"hs_object_id": ct.ID, "createdate": ct.Properties["createdate"], "lastmodifieddate": ct.Properties["lastmodifieddate"]}
		for _, name := range append(slices.Clone(body.Properties), body.IDProperty) {
			if v, ok := ct.Properties[name]; ok {
				props[name] = v
			}
		}
		r["properties"] = props
		results = append(results, r)
	}
	out := map[string]any{"status": "COMPLETE", "results": results,
		"startedAt": c.now.UTC().Format(time.RFC3339Nano), "completedAt": s.opts.Now().UTC().Format(time.RFC3339Nano)}
	if len(missing) == 0 {
		c.json(http.StatusOK, out)
		return
	}
	out["numErrors"] = 1
	out["errors"] = []map[string]any{{"status": "error", "category": "OBJECT_NOT_FOUND",
		"message": "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
		"context": map[string]any{"ids": missing}}}
	c.json(http.StatusMultiStatus, out)
}

func (s *Server) gdprDelete(c *call) {
	var body struct {
		ObjectID   string `json:"objectId"`
		IDProperty string `json:"idProperty"`
	}
	if !c.decode(&body) {
		return
	}
	if body.ObjectID == "" {
		c.invalid("Invalid input JSON: objectId is required")
		return
	}
	if body.IDProperty != "" && body.IDProperty != "email" && body.IDProperty != "hs_object_id" {
		c.invalid(fmt.Sprintf("Invalid idProperty %q: use email, or no idProperty for a record id", body.IDProperty))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byEmail := body.IDProperty == "email"
	ct := s.find(body.IDProperty, body.ObjectID)
	if ct == nil && !byEmail {
		c.notFound("resource not found")
		return
	}
	d := Deletion{Time: c.now, ByEmail: byEmail}
	if byEmail {
		// An address that matches no contact is block-listed all the same.
		s.blocked[strings.ToLower(body.ObjectID)] = true
	}
	if ct != nil {
		d.RecordID = ct.ID
		s.deleteContact(ct)
	}
	s.deletions = append(s.deletions, d)
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}

// deleteContact removes a contact everywhere and block-lists its e-mail;
// s.mu held.
func (s *Server) deleteContact(ct *Contact) {
	if e := ct.Properties["email"]; e != "" {
		s.blocked[strings.ToLower(e)] = true
	}
	s.removeContact(ct)
}

// removeContact removes a contact from reads, indexes and lists without
// blocking its e-mail (what an archive does); s.mu held.
func (s *Server) removeContact(ct *Contact) {
	for name, idx := range s.unique {
		if v, ok := ct.Properties[name]; ok {
			if name == "email" {
				v = strings.ToLower(v)
			}
			delete(idx, v)
		}
	}
	delete(s.contacts, ct.ID)
	s.order = slices.DeleteFunc(s.order, func(id string) bool { return id == ct.ID })
	for _, l := range s.lists {
		delete(l.Members, ct.ID)
	}
}

// batchArchive archives contacts by record id. As HubSpot documents, it
// answers 204 whatever the state of each id (active, already archived,
// unknown). Archived contacts leave reads and lists; unlike a GDPR
// deletion their e-mail may be used again.
func (s *Server) batchArchive(c *call) {
	var body struct {
		Inputs []struct {
			ID string `json:"id"`
		} `json:"inputs"`
	}
	if !c.decode(&body) {
		return
	}
	if body.Inputs == nil {
		c.invalid("Invalid input JSON: inputs is required")
		return
	}
	if len(body.Inputs) > MaxBatch {
		c.invalid(fmt.Sprintf("Batch input limit exceeded: at most %d inputs are allowed, %d were given", MaxBatch, len(body.Inputs)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range body.Inputs {
		if ct := s.contacts[in.ID]; ct != nil {
			s.removeContact(ct)
			s.archived++
		}
	}
	c.status = http.StatusNoContent
	c.w.WriteHeader(http.StatusNoContent)
}

// RejectEmails makes upserts of contacts with those e-mails fail, each as
// one input of a 207 answer (with its objectWriteTraceId) carrying msg,
// as HubSpot answers an input it refuses; an empty msg lifts the
// rejection.
func (s *Server) RejectEmails(msg string, emails ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range emails {
		if msg == "" {
			delete(s.rejects, strings.ToLower(e))
		} else {
			s.rejects[strings.ToLower(e)] = msg
		}
	}
}

func (s *Server) getProperties(c *call) {
	s.mu.Lock()
	out := slices.Clone(s.props)
	s.mu.Unlock()
	c.json(http.StatusOK, map[string]any{"results": out})
}

var propNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

var fieldTypes = map[string][]string{
	"string":      {"text", "textarea", "phonenumber", "html", "file"},
	"number":      {"number", "calculation_equation"},
	"date":        {"date"},
	"datetime":    {"date"},
	"enumeration": {"select", "radio", "checkbox", "booleancheckbox", "calculation_equation"},
	"bool":        {"booleancheckbox"},
}

func (s *Server) createProperty(c *call) {
	var p Property
	if !c.decode(&p) {
		return
	}
	switch {
	case p.Name == "" || p.Label == "" || p.Type == "" || p.FieldType == "" || p.GroupName == "":
		c.invalid("Invalid input JSON: name, label, type, fieldType and groupName are required")
		return
	case !propNameRE.MatchString(p.Name):
		c.invalid(fmt.Sprintf("Property name %q is invalid: use lower-case letters, digits and underscores, starting with a letter", p.Name))
		return
	case fieldTypes[p.Type] == nil:
		c.invalid(fmt.Sprintf("Unknown property type %q", p.Type))
		return
	case !slices.Contains(fieldTypes[p.Type], p.FieldType):
		c.invalid(fmt.Sprintf("Field type %q is not valid for property type %q", p.FieldType, p.Type))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.property(p.Name); exists {
		c.fail(http.StatusConflict, hsError{Message: fmt.Sprintf("Property named '%s' already exists.", p.Name), Category: "OBJECT_ALREADY_EXISTS"})
		return
	}
	p.HubspotDefined, p.Calculated = false, false
	s.addProperty(p)
	created, _ := s.property(p.Name)
	c.json(http.StatusCreated, created)
}

// AddProperty adds a contact property, as if created in HubSpot's UI.
func (s *Server) AddProperty(p Property) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addProperty(p)
}

// ContactByEmail returns a copy of the contact with that e-mail.
func (s *Server) ContactByEmail(email string) (Contact, bool) {
	return s.contact("email", email)
}

// ContactByID returns a copy of the contact with that record id.
func (s *Server) ContactByID(id string) (Contact, bool) {
	return s.contact("", id)
}

func (s *Server) contact(idProperty, id string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ct := s.find(idProperty, id)
	if ct == nil {
		return Contact{}, false
	}
	cp := *ct
	cp.Properties = maps.Clone(ct.Properties)
	return cp, true
}

// Contacts returns copies of every contact, in creation order.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.order))
	for _, id := range s.order {
		cp := *s.contacts[id]
		cp.Properties = maps.Clone(cp.Properties)
		out = append(out, cp)
	}
	return out
}

// GDPRDeletions returns the GDPR deletions accepted, in order.
func (s *Server) GDPRDeletions() []Deletion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deletions)
}

// Blocked reports whether an e-mail was erased by a GDPR deletion.
func (s *Server) Blocked(email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked[strings.ToLower(email)]
}
