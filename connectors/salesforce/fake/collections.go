package fake

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// maxCollection is sObject Collections' limit: "The list can contain up to
// 200 objects" ("Upsert Records Using sObject Collections",
// https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_upsert.htm).
const maxCollection = 200

// collectionBody is the request of a collection insert or upsert.
type collectionBody struct {
	AllOrNone bool             `json:"allOrNone"`
	Records   []map[string]any `json:"records"`
}

// result is one element of a collection answer, in request order. Failed
// elements carry no id, as in the guide's examples.
type result struct {
	ID      string      `json:"id,omitempty"`
	Success bool        `json:"success"`
	Errors  []*recError `json:"errors"`
	Created *bool       `json:"created,omitempty"`
}

// item is one parsed record of a collection request.
type item struct {
	obj    *Object
	values map[string]any
}

// parseRecords checks the records of a collection request as Salesforce
// deserializes them, answering 400 for the whole request when one is
// malformed: more than 200 records (EXCEEDED_ID_LIMIT), no attributes.type
// or a type other than the URI's, a field the object lacks (observed: 400
// INVALID_FIELD "No such column 'X' on sobject of type Contact" for the
// whole call, not a per-record error), or a value of the wrong JSON type
// (JSON_PARSER_ERROR). only, when set, is the object named by the URI.
func (s *Server) parseRecords(c *call, only *Object, raw []map[string]any) ([]item, bool) {
	if len(raw) > maxCollection {
		s.violation(fmt.Sprintf("%s %s: %d records, over %d", c.r.Method, c.endpoint, len(raw), maxCollection))
		c.fail(http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
		return nil, false
	}
	items := make([]item, 0, len(raw))
	for _, rec := range raw {
		attrs, _ := rec["attributes"].(map[string]any)
		typ, _ := attrs["type"].(string)
		o := s.object(typ)
		if typ == "" || o == nil || (only != nil && o != only) {
			s.violation(fmt.Sprintf("%s %s: a record without a matching attributes.type", c.r.Method, c.endpoint))
			c.fail(http.StatusBadRequest, "INVALID_TYPE", "Must send a concrete entity type matching the request: attributes.type is missing or invalid")
			return nil, false
		}
		values := map[string]any{}
		for k, v := range rec {
			if k == "attributes" {
				continue
			}
			f := o.field(k)
			if f == nil {
				c.fail(http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("No such column '%s' on sobject of type %s", k, o.Name))
				return nil, false
			}
			cv, err := coerce(f, v, false)
			if err != nil {
				c.fail(http.StatusBadRequest, "JSON_PARSER_ERROR", "Cannot deserialize the value of "+err.Error())
				return nil, false
			}
			values[f.Name] = cv
		}
		items = append(items, item{obj: o, values: values})
	}
	return items, true
}

// upsert serves PATCH composite/sobjects/{SObject}/{ExternalIdField}.
// The external id field must exist (else 404 NOT_FOUND "Provided external
// ID field does not exist or is not accessible") and be an External ID or
// idLookup field (else 400 INVALID_FIELD "Field name provided, X is not an
// External ID or indexed field for Contact"); record ids are not allowed
// ("Only external ids are supported").
func (s *Server) upsert(c *call) {
	o := s.object(c.params["sobject"])
	if o == nil {
		c.notFound()
		return
	}
	f := o.field(c.params["field"])
	if f == nil {
		c.fail(http.StatusNotFound, "NOT_FOUND", "Provided external ID field does not exist or is not accessible: "+c.params["field"])
		return
	}
	if !(f.ExternalID || f.IDLookup) || f.Name == "Id" {
		c.fail(http.StatusBadRequest, "INVALID_FIELD", fmt.Sprintf("Field name provided, %s is not an External ID or indexed field for %s", f.Name, o.Name))
		return
	}
	var body collectionBody
	if !c.decode(&body) {
		return
	}
	items, ok := s.parseRecords(c, o, body.Records)
	if !ok {
		return
	}
	seen := map[string]int{}
	for _, it := range items {
		if v := it.values[f.Name]; v != nil {
			seen[f.matchKey(v)]++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]result, len(items))
	var steps []undo
	for i, it := range items {
		var u *undo
		results[i], u = s.upsertOne(o, f, it.values, seen, c)
		if u != nil {
			steps = append(steps, *u)
		}
	}
	c.json(http.StatusOK, s.settle(body.AllOrNone, results, steps))
}

// upsertOne matches one record by its external id and creates or updates
// it. An id in the request twice fails both records with
// DUPLICATE_EXTERNAL_ID, as does a value matching several records.
// s.mu held.
func (s *Server) upsertOne(o *Object, f *Field, values map[string]any, seen map[string]int, c *call) (result, *undo) {
	key := values[f.Name]
	var e *recError
	switch {
	case key == nil || key == "":
		e = recErr("MISSING_ARGUMENT", f.Name+" not specified", f.Name)
	case seen[f.matchKey(key)] > 1:
		e = recErr("DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: "+fmt.Sprint(key), f.Name)
	default:
		e = s.knobs(fmt.Sprint(key))
	}
	var target *record
	if e == nil {
		matched := s.matches(o, f.Name, key)
		if len(matched) > 1 {
			ids := make([]string, len(matched))
			for j, m := range matched {
				ids[j] = m.id
			}
			e = recErr("DUPLICATE_EXTERNAL_ID", fmt.Sprintf("%s: more than one record found for external id field: [%s]", f.Name, strings.Join(ids, ", ")), f.Name)
		} else if len(matched) == 1 {
			target = matched[0]
		}
	}
	if e == nil {
		e = s.validate(o, values, target)
	}
	if e != nil {
		return result{Errors: []*recError{e}}, nil
	}
	r, u := s.apply(o, values, target, c.now)
	created := target == nil
	return result{ID: r.id, Success: true, Errors: []*recError{}, Created: &created}, &u
}

// settle applies allOrNone: when a record failed, every change is rolled
// back and the records that had succeeded fail with
// ALL_OR_NONE_OPERATION_ROLLED_BACK. s.mu held.
func (s *Server) settle(allOrNone bool, results []result, steps []undo) []result {
	if !allOrNone || !slices.ContainsFunc(results, func(r result) bool { return !r.Success }) {
		return results
	}
	s.rollback(steps)
	for i, r := range results {
		if r.Success {
			results[i] = result{Errors: []*recError{recErr("ALL_OR_NONE_OPERATION_ROLLED_BACK",
				"Record rolled back because not all records were valid and the request was using AllOrNone header")}}
		}
	}
	return results
}

// knobs applies RejectExternalIDs and LockRows to one record. s.mu held.
func (s *Server) knobs(key string) *recError {
	if msg, ok := s.rejects[key]; ok && key != "" {
		return recErr("FIELD_CUSTOM_VALIDATION_EXCEPTION", msg)
	}
	if s.lockN > 0 {
		s.lockN--
		return recErr("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
	}
	return nil
}

// insert serves POST composite/sobjects: records of any types, each named
// by attributes.type; the destination inserts CampaignMembers with it.
func (s *Server) insert(c *call) {
	var body collectionBody
	if !c.decode(&body) {
		return
	}
	items, ok := s.parseRecords(c, nil, body.Records)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]result, len(items))
	var steps []undo
	for i, it := range items {
		e := s.knobs("")
		if e == nil {
			e = s.validate(it.obj, it.values, nil)
		}
		if e != nil {
			results[i] = result{Errors: []*recError{e}}
			continue
		}
		r, u := s.apply(it.obj, it.values, nil, c.now)
		steps = append(steps, u)
		results[i] = result{ID: r.id, Success: true, Errors: []*recError{}}
	}
	c.json(http.StatusOK, s.settle(body.AllOrNone, results, steps))
}

// deleteRecords serves DELETE composite/sobjects?ids=a,b&allOrNone=false.
// A malformed id fails with MALFORMED_ID, an id of no record with
// INVALID_CROSS_REFERENCE_KEY, a deleted record's with ENTITY_IS_DELETED
// ("Delete Records Using sObject Collections").
func (s *Server) deleteRecords(c *call) {
	q := c.r.URL.Query()
	var ids []string
	for _, id := range strings.Split(q.Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		c.fail(http.StatusBadRequest, "MISSING_ARGUMENT", "ids parameter not specified")
		return
	}
	if len(ids) > maxCollection {
		s.violation(fmt.Sprintf("DELETE %s: %d ids, over %d", c.endpoint, len(ids), maxCollection))
		c.fail(http.StatusBadRequest, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call")
		return
	}
	allOrNone := strings.EqualFold(q.Get("allOrNone"), "true")
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]result, len(ids))
	var steps []undo
	for i, id := range ids {
		full, ok := normalID(id)
		r := s.find(id)
		var e *recError
		switch {
		case !ok:
			e = recErr("MALFORMED_ID", "malformed id "+id)
		case r == nil:
			e = recErr("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
		case r.deleted:
			e = recErr("ENTITY_IS_DELETED", "entity is deleted")
		default:
			e = s.knobs("")
		}
		if e != nil {
			results[i] = result{Errors: []*recError{e}}
			continue
		}
		steps = append(steps, s.remove(r))
		results[i] = result{ID: full, Success: true, Errors: []*recError{}}
	}
	c.json(http.StatusOK, s.settle(allOrNone, results, steps))
}

// getRecord serves GET sobjects/{SObject}/{id}.
func (s *Server) getRecord(c *call) {
	o := s.object(c.params["sobject"])
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(c.params["id"])
	if o == nil || r == nil || r.deleted || r.object != o.Name {
		c.notFound()
		return
	}
	c.json(http.StatusOK, public(r, c.version))
}

// Seed creates a record directly (no API call counted), for records a
// client finds but did not create, such as a Campaign. Fields are checked
// as on create; it returns the new id.
func (s *Server) Seed(object string, fields map[string]any) (string, error) {
	o := s.object(object)
	if o == nil {
		return "", fmt.Errorf("seed: no sObject %q in the fake org", object)
	}
	values := map[string]any{}
	for k, v := range fields {
		f := o.field(k)
		if f == nil {
			return "", fmt.Errorf("seed %s: no field %q", o.Name, k)
		}
		cv, err := coerce(f, v, false)
		if err != nil {
			return "", fmt.Errorf("seed %s: %w", o.Name, err)
		}
		values[f.Name] = cv
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.validate(o, values, nil); e != nil {
		return "", fmt.Errorf("seed %s: %s: %s", o.Name, e.StatusCode, e.Message)
	}
	r, _ := s.apply(o, values, nil, s.opts.Now())
	return r.id, nil
}

// Records returns copies of an object's live records in creation order,
// each with its fields (Id included).
func (s *Server) Records(object string) []map[string]any {
	o := s.object(object)
	if o == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.records[o.Name]
	var out []map[string]any
	for _, id := range t.order {
		if r := t.byID[id]; !r.deleted {
			out = append(out, public(r, s.opts.MaxVersion))
		}
	}
	return out
}

// LockRows makes the next n records written (collections or bulk) fail
// with UNABLE_TO_LOCK_ROW, as concurrent work on the same rows does.
func (s *Server) LockRows(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockN = max(0, n)
}

// DefaultRejection is the message of a record RejectExternalIDs refuses.
const DefaultRejection = "This record was rejected by a validation rule"

// RejectExternalIDs makes records upserted with these external id values
// fail with FIELD_CUSTOM_VALIDATION_EXCEPTION and DefaultRejection, as a
// validation rule would, until cleared with no values.
func (s *Server) RejectExternalIDs(values ...string) {
	s.RejectExternalIDsWith(DefaultRejection, values...)
}

// RejectExternalIDsWith is RejectExternalIDs with the validation rule's
// own error message (an admin writes it; "" is DefaultRejection). With no
// values it clears every rejection.
func (s *Server) RejectExternalIDsWith(msg string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(values) == 0 {
		s.rejects = map[string]string{}
	}
	for _, v := range values {
		s.rejects[v] = cmpOr(msg, DefaultRejection)
	}
}
