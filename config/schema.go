package config

//go:generate go run ./internal/gen -root ..

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SchemaKind selects which project file a JSON Schema describes.
type SchemaKind int

const (
	// ProjectSchema describes sluice.yml: project settings plus any section.
	ProjectSchema SchemaKind = iota
	// SectionsSchema describes every other project YAML file: sections only.
	SectionsSchema
)

// SchemaKinds lists every schema kind, in the order they are documented.
var SchemaKinds = []SchemaKind{ProjectSchema, SectionsSchema}

// FileName is the name of the schema file, in the repository's schema
// directory and at the end of the schema's $id.
func (k SchemaKind) FileName() string {
	switch k {
	case ProjectSchema:
		return "sluice.schema.json"
	case SectionsSchema:
		return "sluice-file.schema.json"
	}
	return fmt.Sprintf("unknown-%d.schema.json", int(k))
}

func (k SchemaKind) String() string {
	switch k {
	case ProjectSchema:
		return "project file (" + ProjectFileName + ")"
	case SectionsSchema:
		return "project YAML file other than " + ProjectFileName
	}
	return "SchemaKind(" + strconv.Itoa(int(k)) + ")"
}

// rootType is the Go type that a file of this kind decodes into.
func (k SchemaKind) rootType() (reflect.Type, error) {
	switch k {
	case ProjectSchema:
		return reflect.TypeFor[ProjectFile](), nil
	case SectionsSchema:
		return reflect.TypeFor[Sections](), nil
	}
	return nil, fmt.Errorf("config: unknown schema kind %d", int(k))
}

// SchemaBaseURL is where the published schemas live; a schema's $id is this
// followed by its FileName.
const SchemaBaseURL = "https://sluice.dev/schema/"

// Patterns shared by the schema and the reference documentation.
const (
	envRefPattern   = `^\$\{[A-Za-z_][A-Za-z0-9_]*\}$`
	secretPattern   = `(^|[^$])\$\{[A-Za-z_][A-Za-z0-9_]*\}` // a ${VAR} somewhere, not an escaped $${
	durationPattern = `^[0-9]+[smhdw]$`
)

// JSONSchema returns the JSON Schema (draft 2020-12) of a project file of
// the given kind, derived by reflection from the configuration types and the
// registered destination specs. The output is stable: it is indented with
// two spaces and ends with a newline.
func JSONSchema(kind SchemaKind) ([]byte, error) {
	return jsonSchema(kind, DestinationSpecs())
}

// componentHook ties a struct whose free-form options are collected by an
// inline map[string]Value to the registry that describes those options.
type componentHook struct {
	discriminator string // the key that selects the spec, e.g. "type"
	noun          string // e.g. "destination"
}

func (h componentHook) title() string { return strings.ToUpper(h.noun[:1]) + h.noun[1:] + " types" }

var componentHooks = map[reflect.Type]componentHook{
	reflect.TypeFor[Destination](): {discriminator: "type", noun: "destination"},
}

type schemaBuilder struct {
	specs map[reflect.Type][]ComponentSpec
	defs  map[string]*jsonObject
	owner map[string]reflect.Type // def name → type, to catch name clashes
	err   error
}

func jsonSchema(kind SchemaKind, destinations []ComponentSpec) ([]byte, error) {
	root, err := kind.rootType()
	if err != nil {
		return nil, err
	}
	b := &schemaBuilder{
		specs: map[reflect.Type][]ComponentSpec{reflect.TypeFor[Destination](): sortedSpecs(destinations)},
		defs:  map[string]*jsonObject{},
		owner: map[string]reflect.Type{},
	}
	body := b.structSchema(root)
	if b.err != nil {
		return nil, b.err
	}
	out := &jsonObject{}
	out.set("$schema", "https://json-schema.org/draft/2020-12/schema")
	out.set("$id", SchemaBaseURL+kind.FileName())
	switch kind {
	case ProjectSchema:
		out.set("title", "sluice project file ("+ProjectFileName+")")
		out.set("description", "The project's settings and, optionally, any of its definitions. Generated from the sluice configuration types; see docs/configuration.md.")
	case SectionsSchema:
		out.set("title", "sluice project YAML file")
		out.set("description", "Any YAML file of a sluice project other than "+ProjectFileName+" (matched by include): definitions only. Generated from the sluice configuration types; see docs/configuration.md.")
	}
	for _, k := range body.keys {
		if k != "description" {
			out.set(k, body.vals[k])
		}
	}
	if len(b.defs) > 0 {
		defs := &jsonObject{}
		for _, name := range sortedKeys(b.defs) {
			defs.set(name, b.defs[name])
		}
		out.set("$defs", defs)
	}
	var buf bytes.Buffer
	writeJSON(&buf, out, "")
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func (b *schemaBuilder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("config: JSON Schema: "+format, args...)
	}
}

// ref returns a $ref to the named definition, building it on first use.
func (b *schemaBuilder) ref(name string, t reflect.Type, build func() *jsonObject) *jsonObject {
	if prev, ok := b.owner[name]; ok {
		if prev != t {
			b.fail("two types are named %s (%s and %s)", name, prev, t)
		}
	} else {
		b.owner[name] = t
		b.defs[name] = nil // placeholder: stops recursion on cyclic types
		b.defs[name] = build()
	}
	return (&jsonObject{}).set("$ref", "#/$defs/"+name)
}

func (b *schemaBuilder) envRef() *jsonObject {
	return b.ref("EnvRef", nil, func() *jsonObject {
		return (&jsonObject{}).
			set("description", "A ${VAR} reference, replaced by the environment variable's value when the project is loaded.").
			set("type", "string").
			set("pattern", envRefPattern)
	})
}

// orEnv accepts a value of the given schema or a ${VAR} reference: values
// from the environment are text until the field's type reads them.
func (b *schemaBuilder) orEnv(s *jsonObject) *jsonObject {
	return (&jsonObject{}).set("anyOf", []any{s, b.envRef()})
}

var (
	stringListType = reflect.TypeFor[StringList]()
	durationType   = reflect.TypeFor[Duration]()
)

// typeSchema is the schema of a value of Go type t.
func (b *schemaBuilder) typeSchema(t reflect.Type) *jsonObject {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case stringListType:
		return b.ref("StringList", t, func() *jsonObject {
			return (&jsonObject{}).
				set("description", "A string, or a list of strings.").
				set("anyOf", []any{
					(&jsonObject{}).set("type", "string"),
					(&jsonObject{}).set("type", "array").set("items", (&jsonObject{}).set("type", "string")),
				})
		})
	case mappingType:
		return b.ref("Mapping", t, func() *jsonObject {
			return (&jsonObject{}).
				set("description", "A mapping of names to strings.").
				set("type", "object").
				set("additionalProperties", (&jsonObject{}).set("type", "string"))
		})
	case durationType:
		return b.ref("Duration", t, func() *jsonObject {
			return (&jsonObject{}).
				set("description", "A whole number and a unit: s, m, h, d (24 hours) or w (7 days), e.g. 90d.").
				set("anyOf", []any{
					(&jsonObject{}).set("type", "string").set("pattern", durationPattern),
					b.envRef(),
				})
		})
	case valueType:
		return &jsonObject{} // any value
	}
	if custom, ok := customSchemas[t]; ok {
		return custom(b)
	}
	switch t.Kind() {
	case reflect.Struct:
		return b.ref(t.Name(), t, func() *jsonObject { return b.structSchema(t) })
	case reflect.Slice:
		et := t.Elem()
		if et.Kind() == reflect.Struct {
			if _, _, _, key := fieldsOf(et); key != nil {
				// Keyed list: written as a mapping from name to settings;
				// a null value means "all defaults".
				return (&jsonObject{}).
					set("type", "object").
					set("propertyNames", (&jsonObject{}).set("pattern", namePattern.String())).
					set("additionalProperties", (&jsonObject{}).set("anyOf", []any{
						b.typeSchema(et),
						(&jsonObject{}).set("type", "null"),
					}))
			}
		}
		return (&jsonObject{}).set("type", "array").set("items", b.typeSchema(et))
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			b.fail("unsupported map key type %s", t.Key())
		}
		return (&jsonObject{}).set("type", "object").set("additionalProperties", b.typeSchema(t.Elem()))
	case reflect.String:
		return (&jsonObject{}).set("type", "string")
	case reflect.Bool:
		return b.orEnv((&jsonObject{}).set("type", "boolean"))
	case reflect.Int, reflect.Int32, reflect.Int64:
		return b.orEnv((&jsonObject{}).set("type", "integer"))
	case reflect.Float64:
		return b.orEnv((&jsonObject{}).set("type", "number"))
	}
	b.fail("unsupported type %s", t)
	return &jsonObject{}
}

// structSchema is the schema of a struct's mapping.
func (b *schemaBuilder) structSchema(t reflect.Type) *jsonObject {
	fields, rest, _, _ := fieldsOf(t)
	props := &jsonObject{}
	var required []any
	for _, f := range fields {
		sf := t.FieldByIndex(f.index)
		s := &jsonObject{}
		if doc := sf.Tag.Get("doc"); doc != "" {
			s.set("description", doc)
		}
		if bd, _ := tagBounds(sf.Tag); bd.any() {
			s.merge(b.boundedNumber(sf.Type.Kind() == reflect.Float64, bd))
		} else {
			s.merge(b.typeSchema(sf.Type))
		}
		if f.enum != nil {
			s.set("enum", stringsToAny(f.enum))
		}
		props.set(f.name, s)
		if f.required {
			required = append(required, f.name)
		}
	}
	out := &jsonObject{}
	if doc := typeDocs[t]; doc != "" {
		out.set("description", doc)
	}
	out.set("type", "object")
	hook, hooked := componentHooks[t]
	specs := b.specs[t]
	switch {
	case rest == nil:
		out.set("additionalProperties", false)
	case !hooked || len(specs) == 0:
		out.set("additionalProperties", true)
	}
	if len(required) > 0 {
		out.set("required", required)
	}
	out.set("properties", props)
	if hooked && rest != nil && len(specs) > 0 {
		b.componentBranches(out, props, fields, hook, specs)
	}
	return out
}

// componentBranches adds the discriminator's enum and one if/then branch per
// registered spec, which lists the spec's options and allows no others.
func (b *schemaBuilder) componentBranches(out, props *jsonObject, fields []field, hook componentHook, specs []ComponentSpec) {
	var types []any
	var branches []any
	for _, spec := range specs {
		types = append(types, spec.Type)
		then := &jsonObject{}
		if spec.Summary != "" {
			then.set("description", spec.Summary)
		}
		opts := &jsonObject{}
		var required []any
		for _, f := range fields {
			opts.set(f.name, true) // described above
		}
		for _, f := range spec.Fields {
			if opts.has(f.Name) {
				b.fail("%s type %s: option %s clashes with a common key", hook.noun, spec.Type, f.Name)
			}
			opts.set(f.Name, b.optionSchema(f))
			if f.Required {
				required = append(required, f.Name)
			}
		}
		if len(required) > 0 {
			then.set("required", required)
		}
		then.set("properties", opts)
		then.set("additionalProperties", false)
		cond := (&jsonObject{}).
			set("properties", (&jsonObject{}).set(hook.discriminator, (&jsonObject{}).set("const", spec.Type))).
			set("required", []any{hook.discriminator})
		branches = append(branches, (&jsonObject{}).set("if", cond).set("then", then))
	}
	if d, ok := props.get(hook.discriminator); ok {
		d.set("enum", types)
	}
	out.set("allOf", branches)
}

// optionSchema is the schema of one option of a component.
func (b *schemaBuilder) optionSchema(f FieldSpec) *jsonObject {
	s := &jsonObject{}
	doc := f.Doc
	if f.Secret {
		doc = strings.TrimSpace(doc + " Secret: write it as a ${VAR} reference to an environment variable.")
	}
	if doc != "" {
		s.set("description", doc)
	}
	if f.Secret {
		return s.set("type", "string").set("pattern", secretPattern)
	}
	switch f.Kind {
	case String:
		s.set("type", "string")
		if f.URL {
			s.merge(b.orEnv((&jsonObject{}).set("format", "uri").set("pattern", urlPattern)))
		}
		if f.Pattern != "" {
			s.merge(b.orEnv((&jsonObject{}).set("pattern", "^(?:"+f.Pattern+")$")))
		}
	case Int:
		s.merge(b.boundedNumber(false, f.bounds()))
	case Number:
		s.merge(b.boundedNumber(true, f.bounds()))
	case Bool:
		s.merge(b.orEnv((&jsonObject{}).set("type", "boolean")))
	case StrMap:
		s.merge(b.typeSchema(mappingType))
		if f.Headers {
			s.set("propertyNames", (&jsonObject{}).set("pattern", "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"))
		}
	case StrList:
		s.set("type", "array").set("items", (&jsonObject{}).set("type", "string"))
	case DurationKind:
		s.merge(b.typeSchema(durationType))
	default:
		b.fail("option %s: unknown field kind %q", f.Name, f.Kind)
	}
	if f.Enum != nil {
		s.set("enum", stringsToAny(f.Enum))
	}
	return s
}

// urlPattern is what the schema asks of a URL option: an absolute http(s)
// address without spaces (validate checks the rest).
const urlPattern = `^https?://[^\s/?#@]+([/?#]\S*)?$`

// boundedNumber is the schema of a number (or integer) with its bounds.
func (b *schemaBuilder) boundedNumber(float bool, bd bounds) *jsonObject {
	s := (&jsonObject{}).set("type", "integer")
	if float {
		s.set("type", "number")
	}
	switch {
	case bd.min != nil && bd.gt:
		s.set("exclusiveMinimum", json.Number(fmtNum(*bd.min)))
	case bd.min != nil:
		s.set("minimum", json.Number(fmtNum(*bd.min)))
	}
	if bd.max != nil {
		s.set("maximum", json.Number(fmtNum(*bd.max)))
	}
	return b.orEnv(s)
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// jsonObject is a JSON object that keeps its keys in insertion order, so the
// schema reads top-down: description, type, then the details.
type jsonObject struct {
	keys []string
	vals map[string]any
}

func (o *jsonObject) set(k string, v any) *jsonObject {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

func (o *jsonObject) has(k string) bool { _, ok := o.vals[k]; return ok }

func (o *jsonObject) get(k string) (*jsonObject, bool) {
	v, ok := o.vals[k].(*jsonObject)
	return v, ok
}

// merge copies other's keys into o, after o's own.
func (o *jsonObject) merge(other *jsonObject) *jsonObject {
	for _, k := range other.keys {
		o.set(k, other.vals[k])
	}
	return o
}

// writeJSON writes v indented by two spaces per level, without the HTML
// escaping of encoding/json (descriptions mention <entity>).
func writeJSON(buf *bytes.Buffer, v any, indent string) {
	const step = "  "
	switch v := v.(type) {
	case *jsonObject:
		if v == nil || len(v.keys) == 0 {
			buf.WriteString("{}")
			return
		}
		buf.WriteString("{\n")
		for i, k := range v.keys {
			buf.WriteString(indent + step)
			writeJSON(buf, k, "")
			buf.WriteString(": ")
			writeJSON(buf, v.vals[k], indent+step)
			if i < len(v.keys)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "}")
	case []any:
		if len(v) == 0 {
			buf.WriteString("[]")
			return
		}
		scalars := !slices.ContainsFunc(v, func(e any) bool { _, ok := e.(*jsonObject); return ok })
		if scalars {
			// Short lists of strings (enum, required) stay on one line.
			buf.WriteByte('[')
			for i, e := range v {
				if i > 0 {
					buf.WriteString(", ")
				}
				writeJSON(buf, e, "")
			}
			buf.WriteByte(']')
			return
		}
		buf.WriteString("[\n")
		for i, e := range v {
			buf.WriteString(indent + step)
			writeJSON(buf, e, indent+step)
			if i < len(v)-1 {
				buf.WriteByte(',')
			}
			buf.WriteByte('\n')
		}
		buf.WriteString(indent + "]")
	default:
		var s bytes.Buffer
		enc := json.NewEncoder(&s)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			panic(fmt.Sprintf("config: JSON Schema: %v", err))
		}
		buf.Write(bytes.TrimRight(s.Bytes(), "\n"))
	}
}

// schemaStructTypes lists the struct types a file of the given kind may
// contain, in the order they first appear (depth first), with the YAML path
// of each; it drives the reference documentation and its tests.
func schemaStructTypes(root reflect.Type) []structUse {
	var out []structUse
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path []string)
	walk = func(t reflect.Type, path []string) {
		fields, _, _, _ := fieldsOf(t)
		for _, f := range fields {
			ft := t.FieldByIndex(f.index).Type
			shape := shapeValue
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && ft != mappingType {
				ft = ft.Elem()
				shape = shapeList
				if _, _, _, key := fieldsOf(ft); key != nil {
					shape = shapeKeyed
				}
			}
			// A struct with its own schema (consent) is not a mapping of keys.
			if ft.Kind() != reflect.Struct || ft == durationType || ft == valueType || customSchemas[ft] != nil || seen[ft] {
				continue
			}
			seen[ft] = true
			p := append(slices.Clone(path), f.name)
			out = append(out, structUse{t: ft, key: f.name, path: p, shape: shape, parent: t})
			switch shape {
			case shapeList:
				p = append(p, "[]")
			case shapeKeyed:
				p = append(p, "<name>")
			}
			walk(ft, p)
		}
	}
	walk(root, nil)
	return out
}

type structShape int

const (
	shapeValue structShape = iota // key: {mapping}
	shapeList                     // key: [{mapping}, ...]
	shapeKeyed                    // key: {name: {mapping}, ...}
)

type structUse struct {
	t      reflect.Type
	key    string   // the key that holds it, e.g. "id_types"
	path   []string // e.g. identity, id_types
	shape  structShape
	parent reflect.Type
}

// sortedSpecs returns specs sorted by type, for callers that build them by hand.
func sortedSpecs(specs []ComponentSpec) []ComponentSpec {
	out := slices.Clone(specs)
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
