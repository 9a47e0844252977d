package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"unicode"
)

// typeDocs describes each configuration struct; the text is shown by editors
// (schema descriptions) and heads the struct's section of the reference.
var typeDocs = map[reflect.Type]string{
	reflect.TypeFor[Warehouse]():   "The warehouse connection: sluice reads sources from it and builds its tables in it.",
	reflect.TypeFor[Seed]():        "A CSV file that sluice build loads into a warehouse table, like a dbt seed.",
	reflect.TypeFor[Source]():      "A table or SELECT in the warehouse that sluice reads, with a declared primary key. Exactly one of table and sql.",
	reflect.TypeFor[Identity]():    "How identifiers found in sources are stitched into profiles: the identifier types, and the sources whose rows link them. A project has one identity section.",
	reflect.TypeFor[IDType]():      "One kind of identifier (email, phone, user_id...) and the guards that keep bad values from merging profiles.",
	reflect.TypeFor[Edge]():        "A source whose rows link identifiers: the identifiers found in the same row belong to the same profile.",
	reflect.TypeFor[Trait]():       "One profile attribute, a column of the profiles table. Exactly one of pick, aggregate, expression and rfm says what kind it is.",
	reflect.TypeFor[RFM]():         "The built-in recency, frequency and monetary score, computed from a source of purchases.",
	reflect.TypeFor[Segment]():     "An audience: a subset of profiles, defined by a condition on traits or by a query. Exactly one of where and sql.",
	reflect.TypeFor[Destination](): "A system that receives data. Keys other than name and type are the options of the destination type.",
	reflect.TypeFor[Sync]():        "What goes where: a model's rows sent to a destination, how and when.",
}

// refExample is a snippet shown in the reference; tests check that it
// decodes and matches the schema of its kind.
type refExample struct {
	kind SchemaKind
	yaml string
}

var refExamples = map[reflect.Type]refExample{
	reflect.TypeFor[ProjectFile](): {ProjectSchema, `version: 1
name: shop
warehouse:
  type: duckdb
  path: shop.duckdb
  memory_limit: 4GB
time_zone: Europe/Paris
exclude:
  - scratch/*.yml
`},
	reflect.TypeFor[Seed](): {SectionsSchema, `seeds:
  - name: countries
    path: seeds/countries.csv
    column_types:
      calling_code: varchar
`},
	reflect.TypeFor[Source](): {SectionsSchema, `sources:
  - name: orders
    table: shop.orders
    primary_key: order_id
    timestamp: created_at
  - name: newsletter
    sql: select * from raw.newsletter where confirmed
    primary_key: [list_id, email]
`},
	reflect.TypeFor[Identity](): {SectionsSchema, `identity:
  id_types:
    email:
      normalize: email
      blocklist: [test@example.com]
    phone:
      normalize: phone_e164
      default_region: FR
    user_id:
  edges:
    - source: orders
      ids:
        email: customer_email
        phone: customer_phone
        user_id: customer_id
`},
	reflect.TypeFor[Trait](): {SectionsSchema, `traits:
  email:
    pick: email
  lifetime_value:
    from: orders
    aggregate: sum(amount)
  orders_90d:
    from: orders
    aggregate: count(*)
    window: 90d
  is_vip:
    expression: lifetime_value > 1000
  rfm_score:
    rfm:
      from: orders
      amount: amount
`},
	reflect.TypeFor[Segment](): {SectionsSchema, `segments:
  - name: vips
    where: is_vip
  - name: lapsed
    where: orders_90d = 0 and lifetime_value > 0
    exclude: [vips]
`},
	reflect.TypeFor[Destination](): {SectionsSchema, `destinations:
  - name: crm_hook
    type: webhook
    # options of the webhook type: see Destination types
`},
	reflect.TypeFor[Sync](): {SectionsSchema, `syncs:
  - name: vips_to_crm
    from: segment.vips
    to: crm_hook
    key: email
    mapping:
      email: email
      ltv: lifetime_value
    schedule: "@hourly"
`},
}

// ReferenceMarkdown returns the configuration reference (docs/configuration.md),
// generated from the configuration types, their tags and the registered
// destination specs.
func ReferenceMarkdown() []byte {
	return referenceMarkdown(DestinationSpecs())
}

type refWriter struct {
	bytes.Buffer
	anchors map[string]int           // GitHub de-duplicates heading anchors with -1, -2...
	links   map[reflect.Type]refLink // where each struct is documented
}

type refLink struct{ key, anchor string }

func (w *refWriter) p(format string, args ...any) {
	fmt.Fprintf(w, format, args...)
	w.WriteString("\n\n")
}

// heading writes a heading and returns its anchor.
func (w *refWriter) heading(level int, text string) string {
	w.p("%s %s", strings.Repeat("#", level), text)
	return w.anchor(text)
}

// slug is GitHub's anchor for a heading text, before de-duplication.
func slug(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// peekAnchor is the anchor the next heading with this text will get.
func (w *refWriter) peekAnchor(text string) string {
	a := slug(text)
	if n := w.anchors[a]; n > 0 {
		a = fmt.Sprintf("%s-%d", a, n)
	}
	return a
}

// anchor is peekAnchor, and counts the heading.
func (w *refWriter) anchor(text string) string {
	a := w.peekAnchor(text)
	w.anchors[slug(text)]++
	return a
}

func referenceMarkdown(specs []ComponentSpec) []byte {
	specs = sortedSpecs(specs)
	// The first pass finds where each struct is documented, so that tables
	// can link to sections that come later.
	first := &refWriter{anchors: map[string]int{}, links: map[reflect.Type]refLink{}}
	first.render(specs)
	w := &refWriter{anchors: map[string]int{}, links: first.links}
	w.render(specs)
	return append(bytes.TrimRight(w.Bytes(), "\n"), '\n')
}

const sectionsTitle = "Other project files"

func (w *refWriter) render(specs []ComponentSpec) {
	w.heading(1, "Configuration reference")
	w.p("<!-- Code generated by `go generate ./config` (config/internal/gen) from the types in config/types.go. DO NOT EDIT. -->")
	w.p("A sluice project is a directory of YAML files, much like a dbt project. This page lists every key sluice understands. It is generated from the Go types sluice decodes the files into, so it always matches the code.")
	w.layoutSection()
	w.environmentSection()
	w.valueTypesSection()
	w.checkingSection()
	w.limitsSection()
	w.sqlSection()
	w.valuesSection()
	w.pathsSection()
	w.editorSection()
	w.projectFileSection()
	w.sectionsSection()
	w.structSections(specs)
}

// sectionFields are the keys of Sections, allowed in any project file.
func sectionFields() []field {
	fields, _, _, _ := fieldsOf(reflect.TypeFor[Sections]())
	return fields
}

func (w *refWriter) layoutSection() {
	var sectionNames []string
	for _, f := range sectionFields() {
		sectionNames = append(sectionNames, "`"+f.name+"`")
	}
	projectAnchor, sectionsAnchor := slug(ProjectFileName), slug(sectionsTitle)
	w.heading(2, "Project layout")
	w.p("- **`%s`** marks the project directory, like `dbt_project.yml`. It holds the project's settings (see [%s](#%s)) and may also hold definitions.\n"+
		"- **Every other YAML file** matched by `include` holds definitions only: %s (see [%s](#%s)). Split them however you like, e.g. one file per source system, as you would split dbt `schema.yml` files. A project setting in such a file is an error that says it belongs in `%s`.\n"+
		"- `include` defaults to %s; `**` matches any number of directories. Files matching `exclude` are skipped, and so are %s, hidden files and directories, and the `node_modules` and `target` directories.\n"+
		"- The definitions of all files are merged: lists are concatenated, and names must be unique across the project. `identity` may appear in one file only.\n"+
		"- A file holds one YAML document; an empty file is fine. Keys are case-sensitive, and an unknown key is an error (with a suggestion when it looks like a typo).\n"+
		"- The names of seeds, sources, id types, traits, segments, destinations and syncs become SQL identifiers: lower-case letters, digits and `_`, starting with a letter, at most 63 characters (`%s`).",
		ProjectFileName, ProjectFileName, projectAnchor,
		strings.Join(sectionNames, ", "), sectionsTitle, sectionsAnchor, ProjectFileName,
		codeList(defaultInclude), codeList(notHidden(alwaysExclude)), namePattern.String())
}

func (w *refWriter) environmentSection() {
	w.heading(2, "Environment variables and secrets")
	w.p("Any value may refer to an environment variable as `${NAME}` (letters, digits and `_`). sluice substitutes it when it loads the project; a variable that is not set is an error at the place that uses it. Write `$${` for a literal `${`. " +
		"Numbers and booleans may come from the environment too, e.g. `threads: ${SLUICE_THREADS}`.")
	w.p("A value that came from the environment, wholly or partly, is never shown: every message sluice prints or logs (`validate`'s problems, build and sync errors, `sluice run`'s logs in text or JSON, run history, alerts) says `(value from environment)` in its place, and keeps the value's `path:line:col`. " +
		"That holds for suggestions too (no \"did you mean\" names a value from the environment, or is offered for one), for parser explanations that would quote a piece of the value (cron, regular expression, number, URL: they are replaced by \"details not shown\"), and for a URL's host, user and path, which network errors quote on their own (`lookup HOST: no such host`). " +
		"`compile` and `query` print SQL and data as they are. A project file that is not YAML (say, a link to a `.env` file) never has its content quoted either.")
	w.p("Options marked **secret** (API keys, tokens, alert URLs) must be written as a `${VAR}` reference, never as a literal, so that secrets stay out of version control: `api_key: ${KLAVIYO_API_KEY}`. " +
		"Literal text glued to the reference is a piece of the secret and is refused as well (`api_key: pk_live_abc${SUFFIX}`: put the whole key in the variable); text set apart by a space or punctuation is a format and is fine (`Bearer ${TOKEN}`, `clickhouse://sluice:${PASSWORD}@host:9000`).")
}

func (w *refWriter) valueTypesSection() {
	w.heading(2, "Value types")
	w.p("| Type | How to write it |\n| --- | --- |\n" +
		"| string | Any text: `orders`, `customer_email`. Quote values that start with `@`, `*`, `{`, `[` or `!`, e.g. `\"@hourly\"`. |\n" +
		"| integer | A whole number: `64`. |\n" +
		"| duration | A whole number and a unit: `s`, `m`, `h`, `d` (24 hours) or `w` (7 days), e.g. `90d`, `12h`, `4w`. |\n" +
		"| list of strings | `[a, b]`, or one item per line starting with `- `. |\n" +
		"| string or list of strings | `primary_key: id` or `primary_key: [order_id, line_no]`. |\n" +
		"| mapping of string to string | `ids: {email: email_address, phone: mobile}`, or one `key: value` per line. |\n" +
		"| mapping of name to mapping | Each key is a name, and its value the settings of that item (see [traits](#traits)). |")
}

func (w *refWriter) checkingSection() {
	w.heading(2, "Checking a project")
	w.p("`sluice validate` reads every file and reports every problem at once, not just the first, one per line as `path:line:col: message` in file order (a format editors and CI systems turn into annotations):")
	w.p("```text\nmodels/traits.yml:12:5: unknown key `agregate`; did you mean `aggregate`?\nsluice.yml:6:17: invalid memory_limit \"4 gigs\": write a size such as 512MB or 4GB\n```")
	w.p("Besides the structure described on this page, it checks what spans files: that the sources, id types, traits, segments and destinations referred to exist, that names are unique, SQL types, cron schedules, and so on.")
}

func (w *refWriter) editorSection() {
	w.heading(2, "Editor support")
	w.p("Two JSON Schemas, generated with this page, give completion, hover documentation and inline checks in editors that use the YAML language server (VS Code with the YAML extension, JetBrains IDEs, Neovim):")
	w.p("| File | Schema | `$id` |\n| --- | --- | --- |\n| `%s` | [`schema/%s`](../schema/%s) | `%s` |\n| every other project YAML file | [`schema/%s`](../schema/%s) | `%s` |",
		ProjectFileName, ProjectSchema.FileName(), ProjectSchema.FileName(), SchemaBaseURL+ProjectSchema.FileName(),
		SectionsSchema.FileName(), SectionsSchema.FileName(), SchemaBaseURL+SectionsSchema.FileName())
	w.p("Point a file at its schema with a first-line comment such as `# yaml-language-server: $schema=%s` (a path to a local copy works too), or configure a whole project in VS Code's `settings.json`:", SchemaBaseURL+SectionsSchema.FileName())
	w.p("```json\n\"yaml.schemas\": {\n  \"%s\": \"%s\",\n  \"%s\": [\"*.yml\", \"models/**/*.yml\", \"!%s\"]\n}\n```",
		SchemaBaseURL+ProjectSchema.FileName(), ProjectFileName, SchemaBaseURL+SectionsSchema.FileName(), ProjectFileName)
}

// projectFileSection documents sluice.yml's own settings; the section keys
// it may also hold come next.
func (w *refWriter) projectFileSection() {
	projectT := reflect.TypeFor[ProjectFile]()
	sectionKeys := map[string]bool{}
	for _, f := range sectionFields() {
		sectionKeys[f.name] = true
	}
	w.heading(2, ProjectFileName)
	w.p("The project's settings. `%s` may also hold any key of [%s](#%s).", ProjectFileName, sectionsTitle, slug(sectionsTitle))
	w.example(projectT)
	projFields, _, _, _ := fieldsOf(projectT)
	var only []field
	for _, f := range projFields {
		if !sectionKeys[f.name] {
			only = append(only, f)
		}
	}
	w.table(projectT, only, "")
}

func (w *refWriter) sectionsSection() {
	w.heading(2, sectionsTitle)
	w.p("Definitions, allowed in any project YAML file, `%s` included. Every key is optional.", ProjectFileName)
	w.table(reflect.TypeFor[Sections](), sectionFields(), "")
}

// structSections documents every struct reachable from the project file, one
// section each (a subsection when nested below a top-level key).
func (w *refWriter) structSections(specs []ComponentSpec) {
	projectT, sectionsT := reflect.TypeFor[ProjectFile](), reflect.TypeFor[Sections]()
	for _, u := range schemaStructTypes(projectT) {
		level := 2
		if u.parent != projectT && u.parent != sectionsT {
			level = 3
		}
		w.links[u.t] = refLink{key: u.key, anchor: w.heading(level, u.key)}
		if doc := typeDocs[u.t]; doc != "" {
			w.p("%s", mdEscape(doc))
		}
		keyName := w.structIntro(u)
		w.example(u.t)
		fields, _, _, _ := fieldsOf(u.t)
		w.table(u.t, fields, keyName)
		if hook, ok := componentHooks[u.t]; ok {
			w.components(level+1, hook, specs)
		}
	}
}

// structIntro says how a struct is written at its path, and returns the name
// of its key when it is a mapping keyed by name ("" otherwise).
func (w *refWriter) structIntro(u structUse) string {
	path := "`" + joinPath(u.path) + "`"
	switch u.shape {
	case shapeValue:
		w.p("%s is a mapping with the keys below.", path)
	case shapeList:
		w.p("%s is a list; each item is a mapping with the keys below.", path)
	case shapeKeyed:
		_, _, _, key := fieldsOf(u.t)
		keyName := strings.ToLower(u.t.FieldByIndex(key).Name)
		if intro, ok := keyedIntros[u.t]; ok {
			w.p("%s %s", path, intro)
		} else {
			w.p("%s is a mapping from %s to settings: each key is a %s (`%s`) and its value a mapping with the keys below. A key with an empty value stands for an empty mapping.",
				path, keyName, keyName, namePattern.String())
		}
		return keyName
	}
	return ""
}

func (w *refWriter) example(t reflect.Type) {
	if ex, ok := refExamples[t]; ok {
		w.p("```yaml\n%s```", ex.yaml)
	}
}

// table writes the key | type | required | description table of a struct.
func (w *refWriter) table(t reflect.Type, fields []field, keyName string) {
	var b strings.Builder
	b.WriteString("| Key | Type | Required | Description |\n| --- | --- | --- | --- |\n")
	if keyName != "" {
		fmt.Fprintf(&b, "| *(key)* | string | yes | The %s, written as the key of the mapping. |\n", keyName)
	}
	for _, f := range fields {
		sf := t.FieldByIndex(f.index)
		desc := mdEscape(sf.Tag.Get("doc"))
		if f.enum != nil {
			desc = strings.TrimSpace(desc + " One of: " + codeList(f.enum) + ".")
		}
		if bd, _ := tagBounds(sf.Tag); bd.any() {
			desc = strings.TrimSpace(desc + " " + bd.doc())
		}
		req := "no"
		if f.required {
			req = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.name, w.typeCell(sf.Type), req, desc)
	}
	if _, rest, _, _ := fieldsOf(t); rest != nil {
		if hook, ok := componentHooks[t]; ok {
			fmt.Fprintf(&b, "| *(options)* | | | The options of the %s type: see [%s](#%s). |\n", hook.noun, hook.title(), w.peekAnchor(hook.title()))
		} else {
			b.WriteString("| *(other keys)* | | | Free-form options. |\n")
		}
	}
	w.p("%s", strings.TrimSuffix(b.String(), "\n"))
}

// components documents the registered specs of a pluggable component.
func (w *refWriter) components(level int, hook componentHook, specs []ComponentSpec) {
	w.heading(level, hook.title())
	if len(specs) == 0 {
		w.p("No %s types are compiled into this build of the reference. Each %s package registers its type and options, and they are listed here as packages are added; until then any options are accepted by the schema and checked by `sluice validate`.", hook.noun, hook.noun)
		return
	}
	var names []string
	for _, s := range specs {
		names = append(names, "`"+s.Type+"`")
	}
	w.p("The `%s` key selects one of: %s. Each type accepts the options below and no others.", hook.discriminator, strings.Join(names, ", "))
	for _, s := range specs {
		w.heading(level+1, "`"+s.Type+"`")
		if s.Summary != "" {
			w.p("%s", mdEscape(s.Summary))
		}
		w.consentPurposes(s)
		if len(s.Fields) == 0 {
			w.p("This type has no options.")
			continue
		}
		var b strings.Builder
		b.WriteString("| Key | Type | Required | Description |\n| --- | --- | --- | --- |")
		for _, f := range s.Fields {
			desc := mdEscape(f.Doc)
			if f.Enum != nil {
				desc = strings.TrimSpace(desc + " One of: " + codeList(f.Enum) + ".")
			}
			if bd := f.bounds(); bd.any() {
				desc = strings.TrimSpace(desc + " " + bd.doc())
			}
			if f.URL {
				desc = strings.TrimSpace(desc + " An absolute http:// or https:// address.")
			}
			if f.Secret {
				desc = strings.TrimSpace(desc + " **Secret:** write it as a `${VAR}` reference.")
			}
			req := "no"
			if f.Required {
				req = "yes"
			}
			fmt.Fprintf(&b, "\n| `%s` | %s | %s | %s |", f.Name, kindCell(f.Kind), req, desc)
		}
		w.p("%s", b.String())
	}
}

// customTypeCells describes, in the reference's type column, the types
// with their own decoder and schema.
var customTypeCells = map[reflect.Type]string{}

// consentPurposes lists the consent purposes a destination type declares.
func (w *refWriter) consentPurposes(s ComponentSpec) {
	if len(s.ConsentPurposes) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("Consent purposes (keys of a sync's `consent` mapping; see docs/syncs.md):\n")
	for _, c := range s.ConsentPurposes {
		var tags []string
		if c.Required {
			tags = append(tags, "required")
		}
		if c.Gate {
			tags = append(tags, "gates sending")
		}
		extra := ""
		if len(tags) > 0 {
			extra = " (" + strings.Join(tags, ", ") + ")"
		}
		fmt.Fprintf(&b, "\n- `%s`%s: %s", c.Name, extra, mdEscape(c.Doc))
	}
	w.p("%s", b.String())
}

func kindCell(k FieldKind) string {
	switch k {
	case StrMap:
		return "mapping of string to string"
	case StrList:
		return "list of strings"
	}
	return string(k)
}

// typeCell describes a Go type in the reference's words.
func (w *refWriter) typeCell(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	see := func(t reflect.Type) string {
		if l, ok := w.links[t]; ok {
			return fmt.Sprintf(", see [%s](#%s)", l.key, l.anchor)
		}
		return ""
	}
	if cell, ok := customTypeCells[t]; ok {
		return cell
	}
	switch t {
	case stringListType:
		return "string or list of strings"
	case mappingType:
		return "mapping of string to string"
	case durationType:
		return "duration"
	case valueType:
		return "string, number or boolean"
	}
	switch t.Kind() {
	case reflect.Struct:
		return "mapping" + see(t)
	case reflect.Slice:
		et := t.Elem()
		if et.Kind() == reflect.Struct {
			if _, _, _, key := fieldsOf(et); key != nil {
				return "mapping of name to mapping" + see(et)
			}
			return "list of mappings" + see(et)
		}
		return "list of " + w.typeCell(et) + "s"
	case reflect.Map:
		return "mapping"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	}
	return t.String()
}

func joinPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if i > 0 && p != "[]" {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// notHidden drops the patterns that exclude hidden files, which the
// reference states in words.
func notHidden(patterns []string) []string {
	var out []string
	for _, p := range patterns {
		if !strings.HasPrefix(p, ".") && !strings.Contains(p, "/.") {
			out = append(out, p)
		}
	}
	return out
}

func codeList(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}

// mdEscape makes free text safe in a Markdown table cell: pipes would split
// the cell, * would start emphasis and <entity> would vanish as HTML.
func mdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "|", `\|`, "*", `\*`, "<", "&lt;", ">", "&gt;").Replace(s)
}
