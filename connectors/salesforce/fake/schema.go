package fake

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Object is an sObject type of the org.
type Object struct {
	Name      string
	KeyPrefix string // the three characters every record id starts with
	Label     string
	Custom    bool
	Fields    []Field
}

// Field is one field of an sObject, as describe reports it.
type Field struct {
	Name string
	// Type is Salesforce's field type: id, string, email, phone, url,
	// textarea, picklist, boolean, date, datetime, double, int, reference.
	Type   string
	Length int // for text types (default 255)
	// ExternalID marks a custom external id field (externalIdField);
	// IDLookup a field upserts may match on (external ids and, e.g., Email).
	ExternalID, IDLookup bool
	// Unique text fields compare case-insensitively (Salesforce's default)
	// unless CaseSensitive.
	Unique, CaseSensitive bool
	// Required fields are not nillable and need a value on create.
	Required bool
	// DefaultedOnCreate fields get Default when created without a value.
	DefaultedOnCreate bool
	Default           any
	// ReadOnly fields are neither createable nor updateable; CreateOnly
	// fields are createable, not updateable (e.g. CampaignMember.ContactId).
	ReadOnly, CreateOnly bool
	ReferenceTo          string // the object a reference field points to
}

// ExternalIDField is a custom text field marked External ID and unique,
// as an admin would create for a sync key.
func ExternalIDField(name string) Field {
	return Field{Name: name, Type: "string", Length: 255, ExternalID: true, IDLookup: true, Unique: true}
}

// standardObjects is the part of a standard org the destination touches.
// Field names, types and lengths follow the Object Reference for the
// Salesforce Platform (Contact, Lead, Campaign, CampaignMember).
func standardObjects() []Object {
	audit := []Field{
		{Name: "Id", Type: "id", Length: 18, IDLookup: true, ReadOnly: true},
		{Name: "IsDeleted", Type: "boolean", ReadOnly: true, DefaultedOnCreate: true, Default: false},
		{Name: "CreatedDate", Type: "datetime", ReadOnly: true},
		{Name: "LastModifiedDate", Type: "datetime", ReadOnly: true},
	}
	person := []Field{
		{Name: "FirstName", Type: "string", Length: 40},
		{Name: "LastName", Type: "string", Length: 80, Required: true},
		{Name: "Email", Type: "email", Length: 80, IDLookup: true},
		{Name: "Phone", Type: "phone", Length: 40},
		{Name: "MobilePhone", Type: "phone", Length: 40},
		{Name: "Title", Type: "string", Length: 128},
		{Name: "HasOptedOutOfEmail", Type: "boolean", DefaultedOnCreate: true, Default: false},
		{Name: "LeadSource", Type: "picklist", Length: 255},
		{Name: "Description", Type: "textarea", Length: 32000},
	}
	contact := slices.Concat(audit, person, []Field{
		{Name: "Birthdate", Type: "date"},
		{Name: "MailingCity", Type: "string", Length: 40},
		{Name: "MailingCountry", Type: "string", Length: 80},
	})
	lead := slices.Concat(audit, person, []Field{
		{Name: "Company", Type: "string", Length: 255, Required: true},
		{Name: "Status", Type: "picklist", Length: 255, DefaultedOnCreate: true, Default: "Open - Not Contacted"},
		{Name: "City", Type: "string", Length: 40},
		{Name: "Country", Type: "string", Length: 80},
	})
	campaign := slices.Concat(audit, []Field{
		{Name: "Name", Type: "string", Length: 80, Required: true},
		{Name: "IsActive", Type: "boolean", DefaultedOnCreate: true, Default: false},
		{Name: "Status", Type: "picklist", Length: 255, DefaultedOnCreate: true, Default: "Planned"},
		{Name: "Type", Type: "picklist", Length: 255},
		{Name: "Description", Type: "textarea", Length: 32000},
	})
	member := slices.Concat(audit, []Field{
		{Name: "CampaignId", Type: "reference", Length: 18, Required: true, CreateOnly: true, ReferenceTo: "Campaign"},
		{Name: "ContactId", Type: "reference", Length: 18, CreateOnly: true, ReferenceTo: "Contact"},
		{Name: "LeadId", Type: "reference", Length: 18, CreateOnly: true, ReferenceTo: "Lead"},
		{Name: "Status", Type: "picklist", Length: 255, DefaultedOnCreate: true, Default: "Sent"},
		{Name: "HasResponded", Type: "boolean", ReadOnly: true, DefaultedOnCreate: true, Default: false},
	})
	return []Object{
		{Name: "Contact", KeyPrefix: "003", Label: "Contact", Fields: contact},
		{Name: "Lead", KeyPrefix: "00Q", Label: "Lead", Fields: lead},
		{Name: "Campaign", KeyPrefix: "701", Label: "Campaign", Fields: campaign},
		{Name: "CampaignMember", KeyPrefix: "00v", Label: "Campaign Member", Fields: member},
	}
}

// buildSchema merges the standard objects with the custom ones; a custom
// object without a key prefix gets a01, a02, ...
func buildSchema(extra []Object) map[string]*Object {
	out := map[string]*Object{}
	for _, o := range standardObjects() {
		o := o
		out[strings.ToLower(o.Name)] = &o
	}
	next := 1
	for _, x := range extra {
		if o, ok := out[strings.ToLower(x.Name)]; ok {
			for _, f := range x.Fields {
				o.Fields = slices.DeleteFunc(o.Fields, func(g Field) bool { return strings.EqualFold(g.Name, f.Name) })
				o.Fields = append(o.Fields, f)
			}
			continue
		}
		o := x
		o.Custom = true
		if o.KeyPrefix == "" {
			o.KeyPrefix = fmt.Sprintf("a%02d", next)
			next++
		}
		if o.Label == "" {
			o.Label = strings.TrimSuffix(o.Name, "__c")
		}
		o.Fields = slices.Concat(standardObjects()[0].Fields[:4], o.Fields)
		out[strings.ToLower(o.Name)] = &o
	}
	return out
}

// field finds a field by name, case-insensitively as Salesforce does.
func (o *Object) field(name string) *Field {
	for i := range o.Fields {
		if strings.EqualFold(o.Fields[i].Name, name) {
			return &o.Fields[i]
		}
	}
	return nil
}

// object finds an sObject by name, case-insensitively.
func (s *Server) object(name string) *Object {
	return s.schema[strings.ToLower(name)]
}

// describe serves GET sobjects/{SObject}/describe with the field
// attributes a client checks ("sObject Describe", REST API Developer Guide).
func (s *Server) describe(c *call) {
	o := s.object(c.params["sobject"])
	if o == nil {
		c.notFound()
		return
	}
	fields := make([]map[string]any, 0, len(o.Fields))
	for _, f := range o.Fields {
		length := 0
		if textual(f.Type) {
			length = f.length()
		}
		fields = append(fields, map[string]any{
			"name": f.Name, "label": f.Name, "type": f.Type, "length": length, "custom": strings.HasSuffix(f.Name, "__c"),
			"externalId": f.ExternalID, "externalIdField": f.ExternalID, "idLookup": f.IDLookup || f.ExternalID,
			"createable": !f.ReadOnly, "updateable": !f.ReadOnly && !f.CreateOnly,
			"nillable": !f.Required && f.Type != "boolean" && f.Type != "id", "unique": f.Unique, "caseSensitive": f.CaseSensitive,
			"defaultedOnCreate": f.DefaultedOnCreate, "referenceTo": refs(f),
		})
	}
	c.json(http.StatusOK, map[string]any{
		"name": o.Name, "label": o.Label, "keyPrefix": o.KeyPrefix, "custom": o.Custom,
		"createable": true, "updateable": true, "deletable": true, "queryable": true,
		"fields": fields, "urls": s.objectURLs(c.version, o),
	})
}

func refs(f Field) []string {
	if f.ReferenceTo == "" {
		return []string{}
	}
	return []string{f.ReferenceTo}
}

func (s *Server) objectURLs(version int, o *Object) map[string]string {
	base := fmt.Sprintf("/services/data/v%d.0/sobjects/%s", version, o.Name)
	return map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"}
}

// globalDescribe serves GET sobjects: the org's objects.
func (s *Server) globalDescribe(c *call) {
	names := slices.Sorted(maps.Keys(s.schema))
	out := []map[string]any{}
	for _, n := range names {
		o := s.schema[n]
		out = append(out, map[string]any{"name": o.Name, "label": o.Label, "keyPrefix": o.KeyPrefix, "custom": o.Custom,
			"createable": true, "queryable": true, "urls": s.objectURLs(c.version, o)})
	}
	c.json(http.StatusOK, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": out})
}

// versionRoot serves GET /services/data/vNN.N: the resources available.
func (s *Server) versionRoot(c *call) {
	base := fmt.Sprintf("/services/data/v%d.0/", c.version)
	out := map[string]string{}
	for _, r := range []string{"limits", "sobjects", "query", "composite", "jobs"} {
		out[r] = base + r
	}
	c.json(http.StatusOK, out)
}

// textual says whether a type has a length.
func textual(t string) bool {
	switch t {
	case "string", "email", "phone", "url", "textarea", "picklist", "reference", "id":
		return true
	}
	return false
}

func (f *Field) length() int {
	if f.Length > 0 {
		return f.Length
	}
	return 255
}

// idAlphabet encodes record id counters (base 62, like Salesforce ids).
const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID makes an 18-character id with the object's key prefix: prefix,
// a fixed pod "5g0", a base-62 counter and the case-safe checksum suffix.
func (s *Server) newID(prefix string) string {
	s.nextID++
	n := s.nextID
	b := []byte(prefix + "5g0" + "000000000")
	for i := len(b) - 1; n > 0 && i >= 6; i-- {
		b[i] = idAlphabet[n%62]
		n /= 62
	}
	return string(b) + idSuffix(string(b))
}

// idSuffix is the three-character checksum that makes a 15-character id
// case-insensitive: one character per five, whose bits mark upper-case
// letters.
func idSuffix(id15 string) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	out := make([]byte, 3)
	for i := range 3 {
		v := 0
		for j := range 5 {
			if ch := id15[i*5+j]; ch >= 'A' && ch <= 'Z' {
				v |= 1 << j
			}
		}
		out[i] = chars[v]
	}
	return string(out)
}

// normalID turns a 15- or 18-character id into the 18-character form; ok
// is false for a malformed id.
func normalID(id string) (string, bool) {
	if len(id) != 15 && len(id) != 18 {
		return "", false
	}
	for i := range len(id) {
		if !strings.ContainsRune(idAlphabet, rune(id[i])) {
			return "", false
		}
	}
	full := id[:15] + idSuffix(id[:15])
	if len(id) == 18 && !strings.EqualFold(id[15:], full[15:]) {
		return "", false
	}
	return full, true
}
