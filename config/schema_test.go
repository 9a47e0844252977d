package config

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestGeneratedFilesUpToDate lives in config/internal/gen: the generated
// files include the registered destination types, whose packages import
// config.

func loadSchema(t *testing.T, kind SchemaKind, specs []ComponentSpec) map[string]any {
	t.Helper()
	b, err := jsonSchema(kind, specs)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(b) {
		t.Fatalf("%s: not valid JSON", kind.FileName())
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJSONSchemaShape(t *testing.T) {
	for _, kind := range SchemaKinds {
		for _, specs := range [][]ComponentSpec{nil, testSpecs} {
			name := fmt.Sprintf("%s/%d-specs", kind.FileName(), len(specs))
			t.Run(name, func(t *testing.T) {
				b1, err := jsonSchema(kind, specs)
				if err != nil {
					t.Fatal(err)
				}
				reversed := slices.Clone(specs)
				slices.Reverse(reversed)
				b2, _ := jsonSchema(kind, reversed)
				if !bytes.Equal(b1, b2) {
					t.Error("output depends on the order of the specs")
				}
				if !bytes.HasSuffix(b1, []byte("}\n")) || bytes.Contains(b1, []byte("\t")) {
					t.Error("want 2-space indentation and a trailing newline")
				}
				s := loadSchema(t, kind, specs)
				if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
					t.Errorf("$schema = %v", s["$schema"])
				}
				if s["$id"] != SchemaBaseURL+kind.FileName() {
					t.Errorf("$id = %v", s["$id"])
				}
				// Every $ref resolves, and every definition is used.
				defs, _ := s["$defs"].(map[string]any)
				used := map[string]bool{}
				walkSchema(s, func(m map[string]any) {
					if r, ok := m["$ref"].(string); ok {
						name := strings.TrimPrefix(r, "#/$defs/")
						if _, ok := defs[name]; !ok {
							t.Errorf("dangling $ref %s", r)
						}
						used[name] = true
					}
				})
				for name := range defs {
					if !used[name] {
						t.Errorf("unused definition %s", name)
					}
				}
			})
		}
	}
	if _, err := JSONSchema(SchemaKind(99)); err == nil {
		t.Error("unknown kind: want an error")
	}
}

func walkSchema(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		fn(v)
		for _, e := range v {
			walkSchema(e, fn)
		}
	case []any:
		for _, e := range v {
			walkSchema(e, fn)
		}
	}
}

// Every key of every struct in types.go, found by reading the source rather
// than by reflection, is a property of that struct's schema.
func TestSchemaHasEveryKey(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "types.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	project := loadSchema(t, ProjectSchema, nil)
	sections := loadSchema(t, SectionsSchema, nil)
	props := func(s map[string]any) map[string]any { p, _ := s["properties"].(map[string]any); return p }
	def := func(name string) map[string]any {
		d, _ := project["$defs"].(map[string]any)[name].(map[string]any)
		return d
	}
	checked := 0
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fld := range st.Fields.List {
			if fld.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fld.Tag.Value)
			y, ok := reflect.StructTag(tag).Lookup("yaml")
			if !ok || y == "-" {
				continue
			}
			key, opts, _ := strings.Cut(y, ",")
			if opts != "" { // inline and key fields are not keys
				continue
			}
			if key == "" && len(fld.Names) > 0 {
				key = strings.ToLower(fld.Names[0].Name)
			}
			var where []map[string]any
			switch ts.Name.Name {
			case "ProjectFile":
				where = []map[string]any{props(project)}
			case "Sections":
				where = []map[string]any{props(project), props(sections)}
			default:
				d := def(ts.Name.Name)
				if d == nil {
					t.Errorf("types.go: struct %s has no definition in %s", ts.Name.Name, ProjectSchema.FileName())
					return false
				}
				where = []map[string]any{props(d)}
			}
			for _, p := range where {
				if _, ok := p[key]; !ok {
					t.Errorf("types.go: key %s of %s is missing from the schema", key, ts.Name.Name)
				}
			}
			checked++
		}
		return false
	})
	if checked < 50 {
		t.Errorf("checked only %d keys: is types.go being read?", checked)
	}
}

// testSpecs are destination specs for tests; the registry is global, so
// tests pass specs to jsonSchema and referenceMarkdown directly.
var testSpecs = []ComponentSpec{
	{Type: "webhook", Summary: "POSTs records as JSON.", Fields: []FieldSpec{
		{Name: "url", Kind: String, Required: true, Doc: "Endpoint URL."},
		{Name: "token", Kind: String, Secret: true, Doc: "Bearer token."},
		{Name: "method", Kind: String, Enum: []string{"POST", "PUT"}},
		{Name: "retries", Kind: Int},
		{Name: "ratio", Kind: Number},
		{Name: "verify_tls", Kind: Bool},
		{Name: "timeout", Kind: DurationKind},
		{Name: "headers", Kind: StrMap},
		{Name: "tags", Kind: StrList},
	}},
	{Type: "file", Fields: []FieldSpec{
		{Name: "path", Kind: String, Required: true},
	}},
}

type sample struct {
	name     string
	kind     SchemaKind
	yaml     string
	schemaOK bool // the schema accepts it
	decodeOK bool // the decoder (and component option checks) accept it
}

var samples = []sample{
	{"minimal project", ProjectSchema, "version: 1\nname: shop\nwarehouse: {type: duckdb}\n", true, true},
	{"full project", ProjectSchema, `
version: 1
name: shop
warehouse:
  type: duckdb
  path: shop.duckdb
  threads: ${THREADS}
include: ["*.yml", "models/**/*.yml"]
sources:
  - {name: orders, table: orders, primary_key: [id, line]}
traits:
  ltv: {from: orders, aggregate: sum(amount), window: 90d}
`, true, true},
	{"project: missing warehouse", ProjectSchema, "version: 1\nname: shop\n", false, false},
	{"project: unknown warehouse type", ProjectSchema, "version: 1\nname: shop\nwarehouse: {type: postgres}\n", false, false},
	{"project: threads not a number", ProjectSchema, "version: 1\nname: shop\nwarehouse: {type: duckdb, threads: many}\n", false, false},
	{"project: include is a list", ProjectSchema, "version: 1\nname: shop\nwarehouse: {type: duckdb}\ninclude: {a: b}\n", false, false},
	{"empty sections file", SectionsSchema, "{}\n", true, true},
	{"sections", SectionsSchema, `
seeds:
  - name: countries
    path: countries.csv
    column_types: {code: varchar}
sources:
  - name: orders
    sql: select 1
    primary_key: id
identity:
  id_types:
    email: {normalize: email, blocklist: [a@b.c]}
    anonymous_id:
  edges:
    - source: orders
      ids: {email: email}
traits:
  email: {pick: email, rule: most_recent}
  score:
    rfm: {from: orders, amount: amount}
segments:
  - {name: vips, where: ltv > 100, priority: 1, group: tier}
destinations:
  - {name: hook, type: webhook, url: "https://example.com"}
syncs:
  - {name: s, from: segment.vips, to: hook, mode: mirror, batch_size: 100, mapping: {email: email}}
`, true, true},
	{"project key in another file", SectionsSchema, "version: 1\n", false, false},
	{"typo in a section name", SectionsSchema, "sorces: []\n", false, false},
	{"source without primary_key", SectionsSchema, "sources: [{name: a, table: a}]\n", false, false},
	{"primary_key as a mapping", SectionsSchema, "sources: [{name: a, table: a, primary_key: {a: b}}]\n", false, false},
	{"unknown trait key", SectionsSchema, "traits:\n  ltv: {from: o, agregate: count(*)}\n", false, false},
	{"bad rule", SectionsSchema, "traits:\n  e: {pick: email, rule: latest}\n", false, false},
	{"bad window", SectionsSchema, "traits:\n  n: {from: o, aggregate: count(*), window: 90 days}\n", false, false},
	{"window from the environment", SectionsSchema, "traits:\n  n:\n    from: o\n    aggregate: count(*)\n    window: ${WINDOW}\n", true, true},
	{"ids as a list", SectionsSchema, "identity:\n  id_types: {email: }\n  edges: [{source: s, ids: [email]}]\n", false, false},
	{"identity without edges", SectionsSchema, "identity:\n  id_types: {email: }\n", false, false},
	{"rfm without amount", SectionsSchema, "traits:\n  r:\n    rfm: {from: orders}\n", false, false},
	{"sync mode", SectionsSchema, "syncs: [{name: s, from: profiles, to: d, mode: upsrt}]\n", false, false},
	{"batch_size from the environment", SectionsSchema, "syncs:\n  - name: s\n    from: profiles\n    to: d\n    batch_size: ${BATCH}\n", true, true},
	{"destination without type", SectionsSchema, "destinations: [{name: d}]\n", false, false},
	// The schema checks names the decoder leaves to validation.
	{"trait name not an identifier", SectionsSchema, "traits:\n  Lifetime Value: {expression: '1'}\n", false, true},
	// Known difference: the decoder reads any scalar as a string; the
	// schema asks for a string, as YAML editors expect.
	{"number where a string is expected", SectionsSchema, "seeds: [{name: s, path: 2024}]\n", false, true},
}

var destinationSamples = []sample{
	{"webhook", SectionsSchema, `
destinations:
  - name: hook
    type: webhook
    url: https://example.com/in
    token: ${HOOK_TOKEN}
    method: PUT
    retries: 3
    ratio: 0.5
    verify_tls: false
    timeout: 30s
    headers: {X-Source: sluice}
    tags: [a, b]
`, true, true},
	{"file", SectionsSchema, "destinations: [{name: f, type: file, path: out.csv}]\n", true, true},
	{"secret inside a longer value", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, token: 'Bearer ${T}'}]\n", true, true},
	{"options from the environment", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, retries: '${N}', verify_tls: '${V}', timeout: '${T}'}]\n", true, true},
	{"secret as a literal", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, token: hunter2}]\n", false, false},
	{"escaped reference is a literal", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, token: '$${T}'}]\n", false, false},
	{"missing required option", SectionsSchema, "destinations: [{name: h, type: webhook}]\n", false, false},
	{"option of another type", SectionsSchema, "destinations: [{name: f, type: file, path: p, url: u}]\n", false, false},
	{"unknown type", SectionsSchema, "destinations: [{name: x, type: fax}]\n", false, false},
	{"bad enum option", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, method: GET}]\n", false, false},
	{"integer option", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, retries: three}]\n", false, false},
	{"boolean option", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, verify_tls: 1}]\n", false, false},
	{"list option", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, tags: a}]\n", false, false},
	{"map option", SectionsSchema, "destinations: [{name: h, type: webhook, url: u, headers: [a]}]\n", false, false},
}

func TestSamplesAgainstSchemaAndDecoder(t *testing.T) {
	run := func(t *testing.T, samples []sample, specs []ComponentSpec) {
		schemas := map[SchemaKind]map[string]any{}
		for _, k := range SchemaKinds {
			schemas[k] = loadSchema(t, k, specs)
		}
		for _, s := range samples {
			t.Run(s.name, func(t *testing.T) {
				errs := validateYAML(t, schemas[s.kind], s.yaml)
				if s.schemaOK && len(errs) > 0 {
					t.Errorf("schema rejects a valid document:\n%s", strings.Join(errs, "\n"))
				}
				if !s.schemaOK && len(errs) == 0 {
					t.Errorf("schema accepts an invalid document")
				}
				probs := decodeSample(s.kind, s.yaml, specs)
				if s.decodeOK && len(probs) > 0 {
					t.Errorf("decoder rejects it:\n%v", probs)
				}
				if !s.decodeOK && len(probs) == 0 {
					t.Errorf("decoder accepts it")
				}
			})
		}
	}
	t.Run("no destination types", func(t *testing.T) { run(t, samples, nil) })
	t.Run("destination types", func(t *testing.T) { run(t, destinationSamples, testSpecs) })
}

func TestDestinationsOpenWithoutSpecs(t *testing.T) {
	s := loadSchema(t, SectionsSchema, nil)
	doc := "destinations: [{name: h, type: anything, whatever: 1, url: [x]}]\n"
	if errs := validateYAML(t, s, doc); len(errs) > 0 {
		t.Errorf("without registered types, options should be open: %v", errs)
	}
	d := s["$defs"].(map[string]any)["Destination"].(map[string]any)
	if d["additionalProperties"] != true || d["properties"].(map[string]any)["type"] == nil {
		t.Errorf("Destination = %v", d)
	}
}

var testEnv = map[string]string{"WINDOW": "90d", "T": "30s", "V": "true"}

// decodeSample runs a document through the real decoder and, for
// destinations, the option checks of the given specs.
func decodeSample(kind SchemaKind, doc string, specs []ComponentSpec) Problems {
	sink := &problemSink{}
	l := &loader{sink: sink, env: func(name string) (string, bool) { return cmp.Or(testEnv[name], "7"), true }}
	var secs Sections
	switch kind {
	case ProjectSchema:
		var pf ProjectFile
		l.decodeFile("sluice.yml", []byte(doc), &pf)
		secs = pf.Sections
	default:
		var sf sectionsFile
		l.decodeFile("x.yml", []byte(doc), &sf)
		secs = sf.Sections
	}
	for _, d := range secs.Destinations {
		i := slices.IndexFunc(specs, func(s ComponentSpec) bool { return s.Type == d.Type })
		if i < 0 {
			if specs != nil && d.Type != "" {
				sink.add(d.At.Of("type"), "unknown destination type %s", d.Type)
			}
			continue
		}
		spec := specs[i]
		spec.Kind = "destination"
		checkOptions(spec, d.Options, d.At.Of(""), sink)
	}
	return sink.list
}

func validateYAML(t *testing.T, schema map[string]any, doc string) []string {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("sample is not YAML: %v", err)
	}
	// Through JSON, as an editor sees it: numbers become float64.
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("sample is not JSON-compatible: %v", err)
	}
	var jv any
	if err := json.Unmarshal(b, &jv); err != nil {
		t.Fatal(err)
	}
	c := &checker{root: schema}
	c.check(schema, jv, "")
	return c.errs
}

// checker is a small validator for the subset of JSON Schema 2020-12 that
// JSONSchema emits: $ref to $defs, type, enum, const, pattern, properties,
// additionalProperties, required, propertyNames, items, anyOf, allOf, if/then.
type checker struct {
	root map[string]any
	errs []string
}

func (c *checker) errorf(path, format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf("%s: %s", cmp.Or(path, "/"), fmt.Sprintf(format, args...)))
}

// valid reports whether v matches s, without recording errors.
func (c *checker) valid(s any, v any) bool {
	sub := &checker{root: c.root}
	sub.check(s, v, "")
	return len(sub.errs) == 0
}

func (c *checker) check(sv any, v any, path string) {
	switch s := sv.(type) {
	case bool:
		if !s {
			c.errorf(path, "no value allowed")
		}
		return
	case map[string]any:
		known := []string{"$schema", "$id", "$defs", "title", "description", "$ref", "type", "enum", "const", "pattern",
			"properties", "additionalProperties", "required", "propertyNames", "items", "anyOf", "allOf", "if", "then",
			"minimum", "maximum", "exclusiveMinimum", "format"}
		for k := range s {
			if !slices.Contains(known, k) {
				c.errorf(path, "checker does not understand keyword %s", k)
			}
		}
		if r, ok := s["$ref"].(string); ok {
			name, ok := strings.CutPrefix(r, "#/$defs/")
			def, found := c.root["$defs"].(map[string]any)[name]
			if !ok || !found {
				c.errorf(path, "unresolvable $ref %s", r)
				return
			}
			c.check(def, v, path)
		}
		if ty, ok := s["type"]; ok {
			var types []any
			if l, ok := ty.([]any); ok {
				types = l
			} else {
				types = []any{ty}
			}
			if !slices.ContainsFunc(types, func(t any) bool { return jsonTypeIs(t.(string), v) }) {
				c.errorf(path, "want %v, got %s", ty, jsonTypeOf(v))
				return
			}
		}
		if e, ok := s["enum"].([]any); ok && !slices.Contains(e, v) {
			c.errorf(path, "%v is not one of %v", v, e)
		}
		if f, ok := v.(float64); ok {
			if m, ok := s["minimum"].(float64); ok && f < m {
				c.errorf(path, "%v is below the minimum %v", f, m)
			}
			if m, ok := s["exclusiveMinimum"].(float64); ok && f <= m {
				c.errorf(path, "%v is not above %v", f, m)
			}
			if m, ok := s["maximum"].(float64); ok && f > m {
				c.errorf(path, "%v is above the maximum %v", f, m)
			}
		}
		if cst, ok := s["const"]; ok && cst != v {
			c.errorf(path, "want %v", cst)
		}
		if p, ok := s["pattern"].(string); ok {
			if str, ok := v.(string); ok && !regexp.MustCompile(p).MatchString(str) {
				c.errorf(path, "%q does not match %s", str, p)
			}
		}
		if obj, ok := v.(map[string]any); ok {
			props, _ := s["properties"].(map[string]any)
			for _, k := range sortedKeys(obj) {
				if ps, ok := props[k]; ok {
					c.check(ps, obj[k], path+"/"+k)
				} else if ap, ok := s["additionalProperties"]; ok {
					c.check(ap, obj[k], path+"/"+k)
				}
				if pn, ok := s["propertyNames"]; ok {
					c.check(pn, k, path+"/"+k+" (name)")
				}
			}
			if req, ok := s["required"].([]any); ok {
				for _, r := range req {
					if _, ok := obj[r.(string)]; !ok {
						c.errorf(path, "missing required key %s", r)
					}
				}
			}
		}
		if arr, ok := v.([]any); ok {
			if items, ok := s["items"]; ok {
				for i, e := range arr {
					c.check(items, e, path+"/"+strconv.Itoa(i))
				}
			}
		}
		if alts, ok := s["anyOf"].([]any); ok && !slices.ContainsFunc(alts, func(sub any) bool { return c.valid(sub, v) }) {
			c.errorf(path, "matches none of anyOf")
		}
		if all, ok := s["allOf"].([]any); ok {
			for _, sub := range all {
				c.check(sub, v, path)
			}
		}
		if cond, ok := s["if"]; ok && c.valid(cond, v) {
			if then, ok := s["then"]; ok {
				c.check(then, v, path)
			}
		}
	default:
		c.errorf(path, "schema is %T", sv)
	}
}

func jsonTypeIs(t string, v any) bool {
	switch t {
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "number":
		_, ok := v.(float64)
		return ok
	}
	return jsonTypeOf(v) == t
}

func jsonTypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// The checker itself must catch what it claims to check.
func TestChecker(t *testing.T) {
	schema := map[string]any{}
	if err := json.Unmarshal([]byte(`{
		"type": "object", "additionalProperties": false, "required": ["a"],
		"properties": {
			"a": {"type": "integer"},
			"b": {"type": "string", "enum": ["x", "y"]},
			"c": {"type": "array", "items": {"type": "string", "pattern": "^z"}},
			"d": {"type": "object", "propertyNames": {"pattern": "^[a-z0-9]+$"}, "additionalProperties": {"type": ["string", "null"]}}
		}}`), &schema); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		doc   string
		valid bool
	}{
		{`{"a": 1}`, true},
		{`{"a": 1.5}`, false},
		{`{}`, false},
		{`{"a": 1, "e": 1}`, false},
		{`{"a": 1, "b": "x"}`, true},
		{`{"a": 1, "b": "q"}`, false},
		{`{"a": 1, "c": ["z1", "z2"]}`, true},
		{`{"a": 1, "c": ["z1", "y"]}`, false},
		{`{"a": 1, "d": {"ok": null, "ok2": "s"}}`, true},
		{`{"a": 1, "d": {"Bad": "s"}}`, false},
		{`{"a": 1, "d": {"ok": 1}}`, false},
	}
	for _, tt := range tests {
		var v any
		if err := json.Unmarshal([]byte(tt.doc), &v); err != nil {
			t.Fatal(err)
		}
		c := &checker{root: schema}
		c.check(schema, v, "")
		if got := len(c.errs) == 0; got != tt.valid {
			t.Errorf("%s: valid = %v, want %v (%v)", tt.doc, got, tt.valid, c.errs)
		}
	}
}
