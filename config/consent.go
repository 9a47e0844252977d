package config

import (
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// SyncConsent is a sync's consent: one boolean trait (or source column)
// gating every record (`consent: TRAIT`), or one per purpose
// (`consent: {email: TRAIT, ads_user_data: TRAIT}`). The zero value is no
// consent gate. See docs/syncs.md, Consent.
type SyncConsent struct {
	Gate     string           // the scalar form's column; "" in the mapping form
	Purposes []PurposeConsent // the mapping form, in file order
}

// PurposeConsent is one purpose of a sync's consent mapping.
type PurposeConsent struct {
	Purpose string // a name such as email or ads_user_data
	From    string // boolean trait, or column of the source
	// PurposeAt and FromAt are the positions of the purpose (the key) and
	// of its trait (the value).
	PurposeAt, FromAt Pos
}

// IsSet reports whether the sync has a consent gate.
func (c SyncConsent) IsSet() bool { return c.Gate != "" || len(c.Purposes) > 0 }

// Columns lists the model columns consent reads, each once, in order.
func (c SyncConsent) Columns() []string {
	if c.Gate != "" {
		return []string{c.Gate}
	}
	var out []string
	for _, p := range c.Purposes {
		if p.From != "" && !slices.Contains(out, p.From) {
			out = append(out, p.From)
		}
	}
	return out
}

// PurposeNames lists the purposes of the mapping form, in file order.
func (c SyncConsent) PurposeNames() []string {
	out := make([]string, len(c.Purposes))
	for i, p := range c.Purposes {
		out[i] = p.Purpose
	}
	return out
}

// ConsentPurpose is a consent purpose a destination type understands,
// declared in its ComponentSpec: syncs to it may map the purpose to a
// boolean trait under consent:, and must when it is Required.
type ConsentPurpose struct {
	Name     string // e.g. ads_user_data
	Required bool   // every sync to this destination must map it
	// Gate makes the purpose one of those that decide whether a record is
	// sent at all: with any gating purpose mapped, a record is sent when
	// at least one gating purpose is true. Without, any mapped purpose
	// being true is enough.
	Gate bool
	Doc  string
}

// GatingPurposes returns the purposes of a sync's consent mapping that
// decide whether a record is sent, given the purposes its destination type
// declares (nil when it declares none): the mapped purposes the destination
// marks Gate, or every mapped purpose when it marks none of them.
func GatingPurposes(c SyncConsent, declared []ConsentPurpose) []PurposeConsent {
	var gating []PurposeConsent
	for _, p := range c.Purposes {
		if i := slices.IndexFunc(declared, func(d ConsentPurpose) bool { return d.Name == p.Purpose }); i >= 0 && declared[i].Gate {
			gating = append(gating, p)
		}
	}
	if len(gating) == 0 {
		return c.Purposes
	}
	return gating
}

var syncConsentType = reflect.TypeFor[SyncConsent]()

func init() {
	special[syncConsentType] = func(d *decoder, n *yaml.Node, v reflect.Value) {
		v.Set(reflect.ValueOf(d.decodeConsent(n)))
	}
	customTypeCells[syncConsentType] = "string, or mapping of purpose to string"
	customSchemas[syncConsentType] = func(b *schemaBuilder) *jsonObject {
		return b.ref("SyncConsent", syncConsentType, func() *jsonObject {
			return (&jsonObject{}).
				set("description", "A boolean trait (or source column) gating every record, or a mapping from purpose to boolean trait.").
				set("anyOf", []any{
					(&jsonObject{}).set("type", "string").set("pattern", `\S`),
					(&jsonObject{}).
						set("type", "object").
						set("propertyNames", (&jsonObject{}).set("pattern", namePattern.String())).
						set("additionalProperties", (&jsonObject{}).set("type", "string").set("pattern", `\S`)),
				})
		})
	}
}

// decodeConsent reads `consent: TRAIT` or `consent: {PURPOSE: TRAIT, ...}`.
// Duplicate purposes are reported by entries.
func (d *decoder) decodeConsent(n *yaml.Node) SyncConsent {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		if strings.TrimSpace(n.Value) == "" {
			d.errorf(n, "consent is empty: name a boolean trait, or map purposes to boolean traits")
			return SyncConsent{}
		}
		return SyncConsent{Gate: n.Value}
	case n.Kind != yaml.MappingNode:
		d.typeErrorf(n, "expected a boolean trait name or a mapping of purpose to trait, got %s", d.describe(n))
		return SyncConsent{}
	}
	var out SyncConsent
	entries := d.entries(n)
	if len(entries) == 0 {
		d.errorf(n, "consent is an empty mapping: map at least one purpose to a boolean trait, or name one trait")
	}
	for _, e := range entries {
		k, val := e.key, e.val
		pc := PurposeConsent{Purpose: k.Value, PurposeAt: d.pos(k), FromAt: d.pos(val)}
		if !namePattern.MatchString(k.Value) {
			d.errorf(k, "invalid consent purpose %s: use lower-case letters, digits and _, starting with a letter, such as email or ads_user_data", shortQuote(k.Value))
			continue
		}
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" || strings.TrimSpace(val.Value) == "" {
			d.errorf(val, "consent purpose %s needs a boolean trait, got %s", quote(k.Value), d.describe(val))
			continue
		}
		pc.From = val.Value
		out.Purposes = append(out.Purposes, pc)
	}
	return out
}

// syncConsent checks a sync's consent: its traits exist (when the model is
// profiles or a segment: a source's columns are checked against the
// warehouse), and its purposes suit the destination type.
func (v *validator) syncConsent(s Sync, profiles bool, traits map[string]Trait, dests map[string]Destination) {
	c := s.Consent
	if profiles {
		if c.Gate != "" {
			if _, ok := traits[c.Gate]; !ok {
				v.add(s.At.Of("consent"), "unknown trait %s in consent%s", quote(c.Gate), didYouMean(c.Gate, sortedKeys(traits)))
			}
		}
		for _, p := range c.Purposes {
			if _, ok := traits[p.From]; !ok {
				v.add(p.FromAt, "unknown trait %s for consent purpose %s%s", quote(p.From), quote(p.Purpose), didYouMean(p.From, sortedKeys(traits)))
			}
		}
	}
	d, ok := dests[s.To]
	if !ok {
		return
	}
	spec, ok := DestinationSpec(d.Type)
	if !ok || len(spec.ConsentPurposes) == 0 {
		return // any purposes: they only gate sending
	}
	known := make([]string, len(spec.ConsentPurposes))
	var missing []string
	for i, cp := range spec.ConsentPurposes {
		known[i] = cp.Name
		if cp.Required && !slices.Contains(c.PurposeNames(), cp.Name) {
			missing = append(missing, cp.Name)
		}
	}
	for _, p := range c.Purposes {
		if !slices.Contains(known, p.Purpose) {
			v.add(p.PurposeAt, "destination %s (type %s) has no consent purpose %s%s (purposes: %s)", quote(d.Name), d.Type, quote(p.Purpose), didYouMean(p.Purpose, known), strings.Join(known, ", "))
		}
	}
	if len(missing) > 0 {
		v.add(s.At.Of("consent"), "destination %s (type %s) needs consent for %s: map each purpose to a boolean trait under consent:", quote(d.Name), d.Type, joinAnd(missing))
	}
}

// joinAnd joins names as "a, b and c".
func joinAnd(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
