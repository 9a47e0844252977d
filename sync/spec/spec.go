// Package spec resolves a sync of the project into what the planner and the
// executor need: the model relation it reads, the key expression, the
// columns of the mapping, which kinds of change it sends and as which
// operation.
package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

// FromKind tells what a sync reads.
type FromKind string

// What a sync reads.
const (
	FromProfiles FromKind = "profiles"
	FromSegment  FromKind = "segment"
	FromSource   FromKind = "source"
)

// Class is the planner's verdict on one key.
type Class string

// Classes. Adds, updates and the two removals are changes; the others are
// reported, never sent.
const (
	Add       Class = "add"        // eligible, not at the destination
	Update    Class = "update"     // eligible, at the destination with other values
	Consent   Class = "consent"    // at the destination, consent now false
	Gone      Class = "gone"       // at the destination, left the model (or the segment)
	Unchanged Class = "unchanged"  // at the destination with the same values
	NoConsent Class = "no_consent" // in the model without consent, never sent
	Duplicate Class = "duplicate"  // key shared by several rows
	NullKey   Class = "null_key"   // key NULL or empty
)

// Changes lists the classes that are changes, in sending order.
var Changes = []Class{Consent, Gone, Add, Update}

// IsRemoval reports whether the class takes a record away.
func (c Class) IsRemoval() bool { return c == Consent || c == Gone }

// Spec is a resolved sync.
type Spec struct {
	Sync config.Sync
	Dest config.Destination

	Kind    FromKind
	Name    string // segment or source name
	Model   string // SQL relation of the model's rows
	Tables  [][2]string
	Entity  string
	Segment bool

	KeyField      string   // destination field of the key
	KeyColumn     string   // model column the key reads
	KeyTransforms []string // applied in the warehouse
	Consent       string   // model column of the scalar consent gate; "" without one
	// Purposes is the per-purpose consent (consent: {PURPOSE: TRAIT}), in
	// file order; nil without. Each purpose's value travels with the
	// records, and the Gate ones decide whether a record is sent.
	Purposes []Purpose

	// Mapping, with the default (every column) filled in by Complete.
	Mapping config.FieldMappings
	// Columns are the model columns the mapping reads, key column first,
	// each once.
	Columns []string

	// Booleans are the model columns holding true/false that the warehouse
	// returns as 0 and 1; their values are sent as booleans. Empty where
	// the warehouse has a boolean type.
	Booleans []string

	MaxRemovalShare float64 // or -1
	MaxRemovalCount int64   // or -1
	Retention       time.Duration
}

// Purpose is one purpose of a sync's per-purpose consent.
type Purpose struct {
	Name   string // e.g. ads_user_data
	Column string // model column holding its boolean
	Gate   bool   // one of the purposes whose truth sends the record
}

// GateColumns lists the model columns of which at least one must be true for
// a record to be sent; nil without a consent gate.
func (s *Spec) GateColumns() []string {
	if s.Consent != "" {
		return []string{s.Consent}
	}
	var out []string
	for _, p := range s.Purposes {
		if p.Gate && !slices.Contains(out, p.Column) {
			out = append(out, p.Column)
		}
	}
	return out
}

// HashColumns are the model columns a record's hash covers: the mapping's
// columns, then the purposes' (a change of consent is a change of the
// record, sent as an update).
func (s *Spec) HashColumns() []string {
	out := slices.Clone(s.Columns)
	for _, p := range s.Purposes {
		if !slices.Contains(out, p.Column) {
			out = append(out, p.Column)
		}
	}
	return out
}

// resolvePurposes fills Purposes from the sync's consent mapping, marking
// the gating ones by the destination type's declared purposes.
func (s *Spec) resolvePurposes() {
	c := s.Sync.Consent
	if len(c.Purposes) == 0 {
		return
	}
	var declared []config.ConsentPurpose
	if ds, ok := config.DestinationSpec(s.Dest.Type); ok {
		declared = ds.ConsentPurposes
	}
	gating := config.GatingPurposes(c, declared)
	for _, p := range c.Purposes {
		gate := slices.ContainsFunc(gating, func(g config.PurposeConsent) bool { return g.Purpose == p.Purpose })
		s.Purposes = append(s.Purposes, Purpose{Name: p.Purpose, Column: p.From, Gate: gate})
	}
}

// Resolve builds the spec of the named sync of a validated project.
func Resolve(p *config.Project, d dialect.Dialect, name string) (*Spec, error) {
	i := slices.IndexFunc(p.Syncs, func(s config.Sync) bool { return s.Name == name })
	if i < 0 {
		names := make([]string, len(p.Syncs))
		for j, s := range p.Syncs {
			names[j] = s.Name
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("unknown sync %q: the project has no syncs", name)
		}
		return nil, fmt.Errorf("unknown sync %q%s (syncs: %s)", name, config.DidYouMean(name, names), strings.Join(names, ", "))
	}
	s := p.Syncs[i]
	di := slices.IndexFunc(p.Destinations, func(x config.Destination) bool { return x.Name == s.To })
	if di < 0 {
		return nil, fmt.Errorf("sync %s: unknown destination %q", s.Name, s.To)
	}
	c := &models.Compiler{P: p, D: d}
	sp := &Spec{Sync: s, Dest: p.Destinations[di], Entity: c.Entity(), Consent: s.Consent.Gate}
	sp.resolvePurposes()
	kind, rest, _ := strings.Cut(s.From, ".")
	switch {
	case s.From == "profiles":
		sp.Kind = FromProfiles
		sp.Model = c.ProfilesTable()
		sp.Tables = [][2]string{{p.Schema, c.Entity() + "_profiles"}}
	case kind == "segment":
		sp.Kind, sp.Name, sp.Segment = FromSegment, rest, true
		seg := c.Table(SegmentTable(c.Entity(), rest))
		sp.Model = "(SELECT p.* FROM " + c.ProfilesTable() + " AS p WHERE p." + d.Ident("profile_id") +
			" IN (SELECT m." + d.Ident("profile_id") + " FROM " + seg + " AS m))"
		sp.Tables = [][2]string{{p.Schema, c.Entity() + "_profiles"}, {p.Schema, SegmentTable(c.Entity(), rest)}}
	case kind == "source":
		sp.Kind, sp.Name = FromSource, rest
		sp.Model = c.SourceView(rest)
		sp.Tables = [][2]string{{p.Schema, "src_" + rest}}
		if models.NeedsLiveSource(p, rest) {
			// The build leaves the rows of erased people out of it.
			sp.Model = c.Table(models.LiveSourceName(rest))
			sp.Tables = [][2]string{{p.Schema, models.LiveSourceName(rest)}}
		}
	default:
		return nil, fmt.Errorf("sync %s: invalid from %q", s.Name, s.From)
	}
	// The key: a mapping field, else a model column sent under its name.
	sp.KeyField = s.Key
	if sp.KeyField == "" {
		switch sp.Kind {
		case FromSource:
			src, _ := c.Source(sp.Name)
			if len(src.PrimaryKey) != 1 {
				return nil, fmt.Errorf("sync %s: source %s has a composite primary key: set key", s.Name, sp.Name)
			}
			sp.KeyField = src.PrimaryKey[0]
		default:
			sp.KeyField = "profile_id"
		}
	}
	sp.KeyColumn = sp.KeyField
	if f, ok := s.Mapping.Field(sp.KeyField); ok {
		if f.HasValue() {
			return nil, fmt.Errorf("sync %s: key %s is a constant", s.Name, sp.KeyField)
		}
		sp.KeyColumn = f.Column()
		sp.KeyTransforms = f.Transform
	}
	sp.Mapping = s.Mapping
	var err error
	sp.MaxRemovalShare, sp.MaxRemovalCount, err = config.ParseMaxRemovals(cmpOr(s.MaxRemovals, config.DefaultMaxRemovals))
	if err != nil {
		return nil, fmt.Errorf("sync %s: max_removals: %w", s.Name, err)
	}
	sp.Retention = s.ChangeLogRetention.D
	if sp.Retention <= 0 {
		sp.Retention = config.DefaultChangeLogRetention
	}
	if len(sp.Mapping) > 0 {
		sp.Columns = sp.columns()
	}
	if ib, ok := d.(dialect.IntegerBooleans); ok && ib.IntegerBooleans() {
		sp.Booleans = models.BooleanColumns(p, s.From)
	}
	return sp, nil
}

// SegmentTable names a segment's membership table: ENTITY_segment_NAME.
func SegmentTable(entity, segment string) string { return entity + "_segment_" + segment }

// Complete fills in the default mapping (every model column under its own
// name) once the model's columns are known, and checks that the mapping's
// columns exist.
func (s *Spec) Complete(modelColumns []string) error {
	if len(s.Sync.Mapping) == 0 {
		s.Mapping = nil
		for _, c := range modelColumns {
			s.Mapping = append(s.Mapping, config.FieldMap{Field: c})
		}
		if _, ok := s.Mapping.Field(s.KeyField); !ok && !slices.Contains(modelColumns, s.KeyColumn) {
			return fmt.Errorf("sync %s: the model has no column %s for the key (columns: %s)", s.Sync.Name, s.KeyColumn, strings.Join(modelColumns, ", "))
		}
	}
	s.Columns = s.columns()
	have := map[string]bool{}
	for _, c := range modelColumns {
		have[strings.ToLower(c)] = true
	}
	for _, c := range append(s.HashColumns(), s.GateColumns()...) {
		if c != "" && !have[strings.ToLower(c)] {
			return fmt.Errorf("sync %s: %s has no column %s (columns: %s)", s.Sync.Name, s.Sync.From, c, strings.Join(modelColumns, ", "))
		}
	}
	return nil
}

func (s *Spec) columns() []string {
	cols := []string{s.KeyColumn}
	for _, f := range s.Mapping {
		if c := f.Column(); c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	return cols
}

// Fields lists the destination fields in mapping order, the key field
// first when the mapping lacks it.
func (s *Spec) Fields() []string {
	var out []string
	if _, ok := s.Mapping.Field(s.KeyField); !ok {
		out = append(out, s.KeyField)
	}
	for _, f := range s.Mapping {
		out = append(out, f.Field)
	}
	return out
}

// Sends reports whether the sync sends changes of class c.
func (s *Spec) Sends(c Class) bool {
	mode := s.Sync.Mode
	switch c {
	case Add, Consent:
		return true
	case Update:
		return mode != "insert"
	case Gone:
		return mode == "mirror" || (s.Segment && mode != "insert")
	}
	return false
}

// Op is the operation a change of class c becomes.
func (s *Spec) Op(c Class) destination.Op {
	switch {
	case s.Segment && c.IsRemoval():
		return destination.OpRemove
	case s.Segment:
		return destination.OpAdd
	case c.IsRemoval():
		return destination.OpDelete
	}
	return destination.OpUpsert
}

// Fingerprint identifies what the mapping sends; it is part of every
// record's hash, so changing the mapping re-sends every record once.
func (s *Spec) Fingerprint() string {
	type fm struct {
		Field, From, Value, Region, Nulls string
		Transform                         []string
	}
	v := struct {
		Key       string
		KeyTx     []string
		Nulls     string
		List      string
		Mapping   []fm
		Segment   bool
		KeyColumn string
		// Booleans change what is sent, not the hash; empty (and left out)
		// where the warehouse has a boolean type.
		Booleans []string `json:",omitempty"`
		// Consent purposes are sent with each record; left out without, so
		// that the scalar form's hashes stay as they were.
		Purposes []string `json:",omitempty"`
	}{s.KeyField, s.KeyTransforms, s.Sync.Nulls, s.Sync.List, nil, s.Segment, s.KeyColumn, s.Booleans, nil}
	for _, p := range s.Purposes {
		v.Purposes = append(v.Purposes, p.Name+"="+p.Column)
	}
	for _, f := range s.Mapping {
		val := ""
		if f.HasValue() {
			val = f.Value.Node.Tag + ":" + f.Value.Node.Value
		}
		v.Mapping = append(v.Mapping, fm{f.Field, f.Column(), val, f.DefaultRegion, f.Nulls, f.Transform})
	}
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
