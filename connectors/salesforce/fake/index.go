package fake

import (
	"fmt"
	"slices"
	"strings"
)

// Salesforce indexes External ID, unique and lookup fields and answers an
// upsert's match, a duplicate check or an SOQL filter on them without
// reading the whole object; the fake does the same so that a run of a
// million records costs what it costs on an org, not n² comparisons.
//
// An index maps a field's folded value (lower-cased for text, whatever the
// field's case rule) to the live records holding it. Folding every text
// value lets one index answer both upsert matching (case-insensitive only
// for unique, not case-sensitive fields: callers filter with matchKey) and
// SOQL's case-insensitive comparisons.

// indexed says whether the fake keeps an index of f: the fields upserts
// match on, unique fields and references (campaign members by person and
// by campaign).
func indexed(f *Field) bool {
	return f.Name != "Id" && (f.ExternalID || f.IDLookup || f.Unique || f.Type == "reference")
}

// foldKey is the index key of a value of f: an id in its 18-character
// form (ids match in either form), text lower-cased.
func foldKey(f *Field, v any) string {
	k := fmt.Sprint(v)
	if f.Type == "id" || f.Type == "reference" {
		if full, ok := normalID(k); ok {
			return full
		}
		return k
	}
	if textual(f.Type) {
		return strings.ToLower(k)
	}
	return k
}

// index adds a live record's indexed values to its table's indexes.
// s.mu held.
func (s *Server) index(r *record) {
	t := s.records[r.object]
	o := s.object(r.object)
	for i := range o.Fields {
		f := &o.Fields[i]
		v := r.fields[f.Name]
		if v == nil || !indexed(f) {
			continue
		}
		if t.idx == nil {
			t.idx = map[string]map[string][]*record{}
		}
		byKey := t.idx[f.Name]
		if byKey == nil {
			byKey = map[string][]*record{}
			t.idx[f.Name] = byKey
		}
		k := foldKey(f, v)
		byKey[k] = append(byKey[k], r)
	}
}

// unindex removes a record's indexed values, as they are now. s.mu held.
func (s *Server) unindex(r *record) {
	t := s.records[r.object]
	o := s.object(r.object)
	for i := range o.Fields {
		f := &o.Fields[i]
		v := r.fields[f.Name]
		if v == nil || !indexed(f) {
			continue
		}
		byKey := t.idx[f.Name]
		k := foldKey(f, v)
		rest := slices.DeleteFunc(byKey[k], func(x *record) bool { return x == r })
		if len(rest) == 0 {
			delete(byKey, k)
		} else {
			byKey[k] = rest
		}
	}
}

// lookup returns the live records of o whose field f may equal one of
// values (a superset, folded; callers compare exactly), in creation order,
// and ok false when f has no index (the caller scans). s.mu held.
func (s *Server) lookup(o *Object, f *Field, values []any) ([]*record, bool) {
	t := s.records[o.Name]
	if f.Name == "Id" {
		var out []*record
		for _, v := range values {
			if full, ok := normalID(fmt.Sprint(v)); ok {
				if r := t.byID[full]; r != nil && !r.deleted {
					out = append(out, r)
				}
			}
		}
		return creationOrder(out), true
	}
	if !indexed(f) {
		return nil, false
	}
	var out []*record
	for _, v := range values {
		if v != nil {
			out = append(out, t.idx[f.Name][foldKey(f, v)]...)
		}
	}
	return creationOrder(out), true
}

// creationOrder sorts records by id and drops repeats: ids are fixed-width
// base-62 counters in ASCII order, so id order is creation order.
func creationOrder(rs []*record) []*record {
	slices.SortFunc(rs, func(a, b *record) int { return strings.Compare(a.id, b.id) })
	return slices.CompactFunc(rs, func(a, b *record) bool { return a == b })
}
