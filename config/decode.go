package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The decoder walks yaml.v3 nodes against Go types by reflection. It is
// strict (unknown keys, wrong types and missing required keys are problems)
// and it never stops at the first problem, so one `sluice validate` shows
// everything that is wrong. The same struct tags drive the JSON Schema.
//
// Tags understood on struct fields:
//
//	yaml:"name"        key name; yaml:",inline" merges an embedded struct, or
//	                   collects unknown keys into a map[string]Value;
//	                   yaml:",key" receives the mapping key of a keyed list
//	required:"true"    the key must be present
//	enum:"a,b,c"       allowed values of a string
//	doc:"..."          documentation, used by the JSON Schema
//
// A struct field named At of type Positions receives the position of the
// struct's mapping and of each of its values, for later semantic checks.

// Positions maps a key of a decoded mapping to the position of its value;
// the empty key holds the position of the mapping itself.
type Positions map[string]Pos

// Of returns the position of key's value, or of the mapping when the key was
// absent.
func (p Positions) Of(key string) Pos {
	if pos, ok := p[key]; ok {
		return pos
	}
	return p[""]
}

// Item returns the position of item i of key's list, or of the list when
// the item has none (the value was not written as a list).
func (p Positions) Item(key string, i int) Pos {
	if pos, ok := p[itemKey(key, i)]; ok {
		return pos
	}
	return p.Of(key)
}

func itemKey(key string, i int) string { return key + "[" + strconv.Itoa(i) + "]" }

// Value is a raw option kept for a component (e.g. a destination type) to
// check against its own spec.
type Value struct {
	Node    *yaml.Node
	Pos     Pos
	FromEnv bool // the value came from a ${VAR} reference
}

// scalarDecoder is implemented by types that parse themselves from a scalar.
type scalarDecoder interface {
	decodeScalar(s string) error
}

type decoder struct {
	key     string // the key whose value is being decoded, for messages
	file    string
	sink    *problemSink
	secrets map[*yaml.Node]bool // nodes whose value came from the environment
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.sink.add(d.pos(n), format, args...)
}

// typeErrorf reports a value of the wrong shape, naming the key it belongs to.
func (d *decoder) typeErrorf(n *yaml.Node, format string, args ...any) {
	if d.key != "" {
		format = "%s: " + format
		args = append([]any{quote(d.key)}, args...)
	}
	d.sink.unreadable(d.pos(n), format, args...)
}

var (
	positionsType = reflect.TypeFor[Positions]()
	valueType     = reflect.TypeFor[Value]()
	scalarDecType = reflect.TypeFor[scalarDecoder]()
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int", "!!float":
			return "a number"
		}
		return "a string"
	case yaml.DocumentNode:
		return "an empty document"
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unknown node"
}

// shown renders a scalar for an error message, hiding values that came
// from the environment: those are secrets.
func (d *decoder) shown(n *yaml.Node) string {
	if d.secrets[n] {
		return EnvMarker
	}
	v := n.Value
	if lines := strings.Count(v, "\n"); lines > 0 {
		// Nobody types a value over lines by mistake; it is more likely a
		// file that is not YAML (a symlinked .env), not to be quoted.
		return fmt.Sprintf("(%d lines of text)", lines+1)
	}
	if len(v) > 60 {
		v = v[:57] + "..."
	}
	return strconv.Quote(v)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return resolve(n.Content[0])
	}
	return n
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value) {
	n = resolve(n)
	if n == nil {
		return
	}
	if v.Kind() == reflect.Pointer {
		if n.Tag == "!!null" {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem())
		return
	}
	if fn, ok := special[v.Type()]; ok {
		fn(d, n, v)
		return
	}
	if v.Type() == valueType {
		v.Set(reflect.ValueOf(Value{Node: n, Pos: d.pos(n), FromEnv: d.secrets[n]}))
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(scalarDecType) {
		if n.Kind != yaml.ScalarNode {
			d.typeErrorf(n, "expected a string, got %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(scalarDecoder).decodeScalar(n.Value); err != nil {
			d.sink.unreadable(d.pos(n), "invalid value %s: %v", d.shown(n), err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v)
	case reflect.Slice:
		d.decodeSlice(n, v)
	case reflect.Map:
		d.decodeMap(n, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.typeErrorf(n, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.typeErrorf(n, "expected true or false, got %s", d.describe(n))
			return
		}
		b, err := strconv.ParseBool(n.Value)
		if err != nil { // an explicit !!bool tag on a value that is not one
			d.typeErrorf(n, "expected true or false, got %s", d.shown(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		d.decodeInt(n, v)
	case reflect.Float64:
		d.decodeFloat(n, v)
	default:
		panic(fmt.Sprintf("config: unsupported field kind %s", v.Kind()))
	}
}

func (d *decoder) decodeInt(n *yaml.Node, v reflect.Value) {
	i, err := strconv.ParseInt(n.Value, 0, 64)
	switch {
	// A value that does not fit would otherwise wrap around silently.
	case n.Kind == yaml.ScalarNode && (isRangeErr(err) || err == nil && v.OverflowInt(i)):
		d.typeErrorf(n, "number %s is out of range", d.shown(n))
	case n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && !d.secrets[n]) || err != nil:
		d.typeErrorf(n, "expected a whole number, got %s", d.describe(n))
	default:
		v.SetInt(i)
	}
}

// decodeFloat accepts finite numbers only: NaN and infinities compare and
// print in surprising ways wherever a rate or threshold is used.
func (d *decoder) decodeFloat(n *yaml.Node, v reflect.Value) {
	s := n.Value
	if n.Tag == "!!float" {
		// YAML writes the special values .nan, .inf and -.inf.
		s = strings.Replace(strings.ToLower(s), ".inf", "inf", 1)
		s = strings.Replace(s, ".nan", "nan", 1)
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case n.Kind != yaml.ScalarNode || n.Tag == "!!null" || n.Tag == "!!bool" || (err != nil && !isRangeErr(err)):
		d.typeErrorf(n, "expected a number, got %s", d.describe(n))
	case err != nil || math.IsNaN(f) || math.IsInf(f, 0):
		d.typeErrorf(n, "expected a finite number, got %s", d.shown(n))
	default:
		v.SetFloat(f)
	}
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func (d *decoder) describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return kindName(n) + " " + d.shown(n)
	}
	return kindName(n)
}

// field describes one decodable struct field.
type field struct {
	name     string
	index    []int
	required bool
	enum     []string
}

// fieldsOf lists the YAML keys of a struct type, flattening inline structs.
// It also returns the index of an inline map that collects unknown keys, of
// the At positions field and of the ",key" field.
func fieldsOf(t reflect.Type) (fields []field, rest, at, key []int) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if sf.Type == positionsType && sf.Name == "At" {
			at = []int{i}
			continue
		}
		tag := sf.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case opts == "inline" && sf.Type.Kind() == reflect.Struct:
			sub, subRest, subAt, subKey := fieldsOf(sf.Type)
			for _, f := range sub {
				f.index = append([]int{i}, f.index...)
				fields = append(fields, f)
			}
			if subRest != nil {
				rest = append([]int{i}, subRest...)
			}
			if subAt != nil && at == nil {
				at = append([]int{i}, subAt...)
			}
			if subKey != nil {
				key = append([]int{i}, subKey...)
			}
			continue
		case opts == "inline":
			rest = []int{i}
			continue
		case opts == "key":
			key = []int{i}
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		f := field{name: name, index: []int{i}, required: sf.Tag.Get("required") == "true"}
		if e := sf.Tag.Get("enum"); e != "" {
			f.enum = strings.Split(e, ",")
		}
		fields = append(fields, f)
	}
	return fields, rest, at, key
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value) {
	fields, rest, at, _ := fieldsOf(v.Type())
	var positions Positions
	if at != nil {
		// Set even when the value is not a mapping, so later checks still
		// have a place to point at.
		positions = Positions{"": d.pos(n)}
		v.FieldByIndex(at).Set(reflect.ValueOf(positions))
	}
	if n.Kind != yaml.MappingNode {
		d.typeErrorf(n, "expected a mapping, got %s", d.describe(n))
		return
	}
	byName := make(map[string]field, len(fields))
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		byName[f.name] = f
		names = append(names, f.name)
	}
	seen := map[string]bool{}
	for _, e := range d.entries(n) {
		k, val := e.key, e.val
		seen[k.Value] = true
		if positions != nil {
			positions[k.Value] = d.pos(val)
			if val.Kind == yaml.SequenceNode {
				for i, item := range val.Content {
					positions[itemKey(k.Value, i)] = d.pos(item)
				}
			}
		}
		f, ok := byName[k.Value]
		if !ok {
			if rest != nil {
				m := v.FieldByIndex(rest)
				if m.IsNil() {
					m.Set(reflect.MakeMap(m.Type()))
				}
				m.SetMapIndex(reflect.ValueOf(k.Value), reflect.ValueOf(Value{Node: val, Pos: d.pos(val), FromEnv: d.secrets[val]}))
				continue
			}
			d.errorf(k, "unknown key %s%s", quote(k.Value), didYouMean(k.Value, names))
			continue
		}
		fv := v.FieldByIndex(f.index)
		rv := val
		if f.enum != nil && rv.Kind == yaml.ScalarNode && rv.Tag != "!!null" && fv.Kind() == reflect.String {
			if !contains(f.enum, rv.Value) {
				d.sink.unreadable(d.pos(rv), "invalid %s %s: must be one of %s%s", f.name, d.shown(rv), public(strings.Join(f.enum, ", ")), didYouMean(rv.Value, f.enum))
				continue
			}
		}
		outer := d.key
		d.key = f.name
		d.decode(val, fv)
		d.key = outer
	}
	for _, f := range fields {
		if f.required && !seen[f.name] {
			d.errorf(n, "missing required key %s", quote(f.name))
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// decodeSlice accepts a list; a list of structs with a ",key" field also
// accepts a mapping (name: {...}), the readable form for traits and id types;
// a StringList also accepts a single scalar.
func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value) {
	if et := v.Type().Elem(); et.Kind() == reflect.Struct && n.Tag != "!!null" {
		if _, _, _, key := fieldsOf(et); key != nil {
			switch n.Kind {
			case yaml.MappingNode:
				d.decodeKeyed(n, v, key)
			case yaml.SequenceNode:
				d.typeErrorf(n, "expected a mapping of name: definition, got a list (write `name: {...}` entries without dashes)")
			default:
				d.typeErrorf(n, "expected a mapping of name: definition, got %s", d.describe(n))
			}
			return
		}
	}
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" && v.Type() == reflect.TypeFor[StringList]() {
		v.Set(reflect.ValueOf(StringList{n.Value}))
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.typeErrorf(n, "expected a list, got %s", d.describe(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.decode(c, out.Index(i))
	}
	v.Set(out)
}

// decodeKeyed reads a mapping of name: definition into a list of structs
// whose key field receives the name.
func (d *decoder) decodeKeyed(n *yaml.Node, v reflect.Value, key []int) {
	et := v.Type().Elem()
	_, _, at, _ := fieldsOf(et)
	out := reflect.MakeSlice(v.Type(), 0, len(n.Content)/2)
	for _, e := range d.entries(n) {
		elem := reflect.New(et).Elem()
		elem.FieldByIndex(key).SetString(e.key.Value)
		rv := e.val
		if rv.Kind == yaml.ScalarNode && rv.Tag == "!!null" {
			// `anonymous_id:` or `anonymous_id: {}` both mean "all defaults".
			rv = &yaml.Node{Kind: yaml.MappingNode, Line: rv.Line, Column: rv.Column}
		}
		outer := d.key
		d.key = e.key.Value
		d.decodeStruct(rv, elem)
		d.key = outer
		if rv.Kind != yaml.MappingNode {
			// Checks of the empty definition left would only repeat the
			// problem, at the name.
			d.sink.markUnusable(d.pos(e.key))
		}
		if at != nil {
			// decodeStruct always sets At, whatever the value's shape.
			elem.FieldByIndex(at).Interface().(Positions)["name"] = d.pos(e.key)
		}
		out = reflect.Append(out, elem)
	}
	v.Set(out)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.typeErrorf(n, "expected a mapping, got %s", d.describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, e := range d.entries(n) {
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(e.val, ev)
		v.SetMapIndex(reflect.ValueOf(e.key.Value), ev)
	}
}

// entry is one key/value pair of a mapping, aliases resolved.
type entry struct{ key, val *yaml.Node }

// entries lists a mapping's pairs in file order, merge keys (`<<: *base`)
// expanded the YAML way: keys written in the mapping win over merged ones,
// and an earlier merged mapping wins over a later one. Keys that are not
// plain scalars and duplicate keys are problems and left out. Every decode
// of a mapping goes through here, so no caller indexes Content itself.
func (d *decoder) entries(n *yaml.Node) []entry {
	var out, merged []entry
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k == nil || val == nil {
			continue
		}
		switch {
		case k.Kind == yaml.ScalarNode && k.Tag == "!!merge":
			merged = append(merged, d.mergeEntries(val)...)
			continue
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, "expected a key, got %s: keys are plain names", kindName(k))
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.errorf(k, "duplicate key %s (first at line %d)", quote(k.Value), prev.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, entry{key: k, val: val})
	}
	for _, e := range merged {
		if seen[e.key.Value] == nil {
			seen[e.key.Value] = e.key
			out = append(out, e)
		}
	}
	return out
}

// mergeEntries returns the pairs a merge key brings in: those of a mapping,
// or of each mapping of a list.
func (d *decoder) mergeEntries(val *yaml.Node) []entry {
	switch val.Kind {
	case yaml.MappingNode:
		return d.entries(val)
	case yaml.SequenceNode:
		var out []entry
		for _, c := range val.Content {
			if c = resolve(c); c == nil {
				continue
			}
			if c.Kind == yaml.MappingNode {
				out = append(out, d.entries(c)...)
				continue
			}
			d.errorf(c, "a merge key (<<) takes a mapping or a list of mappings, got %s", kindName(c))
		}
		return out
	}
	d.errorf(val, "a merge key (<<) takes a mapping or a list of mappings, got %s", kindName(val))
	return nil
}

// StringList is a list of strings that may be written as a single string.
type StringList []string

// Mapping is an ordered string-to-string mapping (e.g. id type to column),
// keeping each entry's position for later checks.
type Mapping []MappingEntry

// MappingEntry is one key/value of a Mapping.
type MappingEntry struct {
	Key      string
	Value    string
	KeyPos   Pos
	ValuePos Pos
}

// Get returns the value for key.
func (m Mapping) Get(key string) (string, bool) {
	for _, e := range m {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// Keys returns the keys in file order.
func (m Mapping) Keys() []string {
	out := make([]string, len(m))
	for i, e := range m {
		out[i] = e.Key
	}
	return out
}

func (d *decoder) decodeMapping(n *yaml.Node) Mapping {
	if n.Kind != yaml.MappingNode {
		d.typeErrorf(n, "expected a mapping, got %s", d.describe(n))
		return nil
	}
	var out Mapping
	for _, e := range d.entries(n) {
		k, val := e.key, e.val
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
			d.typeErrorf(val, "expected a string, got %s", kindName(val))
			continue
		}
		out = append(out, MappingEntry{Key: k.Value, Value: val.Value, KeyPos: d.pos(k), ValuePos: d.pos(val)})
	}
	return out
}

var mappingType = reflect.TypeFor[Mapping]()

func init() {
	// Mapping needs the decoder, so it is special-cased rather than a
	// scalarDecoder; registering here keeps decode() free of a type switch.
	special[mappingType] = func(d *decoder, n *yaml.Node, v reflect.Value) {
		v.Set(reflect.ValueOf(d.decodeMapping(n)))
	}
}

var special = map[reflect.Type]func(*decoder, *yaml.Node, reflect.Value){}

// sortedKeys is a helper for deterministic messages.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
