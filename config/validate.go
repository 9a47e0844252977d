package config

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Names of sources, traits and segments become SQL identifiers and file
// names; keeping them simple keeps compiled SQL readable (quoting still
// makes any name safe).
var (
	namePattern        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	identPattern       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	memoryLimitPattern = regexp.MustCompile(`^(\d+(\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)
	aggregatePattern   = regexp.MustCompile(`(?i)^\s*(count|sum|min|max|avg)\s*\(\s*(distinct\s+)?(.*?)\s*\)\s*$`)
)

// Columns reserved in the tables sluice builds.
var reservedTraitNames = []string{"profile_id", "id_type", "id_value"}

type validator struct {
	p    *Project
	sink *problemSink
}

func validate(p *Project, at Positions, sink *problemSink) {
	v := &validator{p: p, sink: sink}
	v.project(at)
	v.seeds()
	sources := v.sources()
	idTypes := v.identity(sources)
	traits := v.traits(sources, idTypes)
	segments := v.segments()
	dests := v.destinations()
	v.syncs(sources, traits, segments, dests)
	v.daemonAndAlerts()
	v.erasure()
	sink.list = append(sink.list, CheckPaths(p, at)...)
	// Last, so that a value another rule already explains (an empty path)
	// is not reported twice.
	v.checkTags(p)
}

func (v *validator) add(p Pos, format string, args ...any) { v.sink.add(p, format, args...) }

func (v *validator) name(kind, name string, at Pos) {
	if name != "" && !namePattern.MatchString(name) {
		v.add(at, "invalid %s name %s: use lower-case letters, digits and _, starting with a letter (at most 63)", kind, quote(name))
	}
}

// unique reports names defined twice and returns the set of names.
func unique[T any](v *validator, kind string, items []T, name func(T) string, at func(T) Pos) map[string]T {
	out := make(map[string]T, len(items))
	for _, it := range items {
		n := name(it)
		if n == "" {
			continue
		}
		if prev, dup := out[n]; dup {
			v.add(at(it), "duplicate %s name %s (first defined at %s)", kind, quote(n), at(prev))
			continue
		}
		out[n] = it
	}
	return out
}

func (v *validator) project(at Positions) {
	p := v.p
	v.emptyProjectFile(at)
	if _, set := at["version"]; set && p.Version != CurrentVersion {
		v.add(at.Of("version"), "unsupported version %d: this sluice reads version %d", p.Version, CurrentVersion)
	}
	if _, set := at["name"]; set && strings.TrimSpace(p.Name) == "" {
		v.add(at.Of("name"), "`name` must not be empty")
	}
	for key, s := range map[string]string{"schema": p.Schema, "state_schema": p.StateSchema} {
		if !namePattern.MatchString(s) {
			v.add(at.Of(key), "invalid %s %s: use lower-case letters, digits and _", key, quote(s))
		}
	}
	if p.Schema == p.StateSchema {
		v.add(at.Of("state_schema"), "state_schema must differ from schema %s", quote(p.Schema))
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil {
		v.add(at.Of("time_zone"), "unknown time zone %s: use an IANA name such as Europe/Paris", quote(p.TimeZone))
	}
	w := p.Warehouse
	if _, set := w.At["memory_limit"]; set {
		if msg := checkMemoryLimit(w.MemoryLimit); msg != "" {
			v.add(w.At.Of("memory_limit"), "invalid memory_limit %s: %s", shortQuote(w.MemoryLimit), msg)
		}
	}
	if w.Type == "clickhouse" {
		if w.DSN != "" && w.Host != "" {
			v.add(w.At.Of("host"), "give either dsn or host (with port, database, user, password), not both")
		}
	}
	if w.Type == "snowflake" && w.DSN == "" {
		for _, k := range []struct{ key, val string }{{"account", w.Account}, {"user", w.User}, {"database", w.Database}} {
			if k.val == "" {
				v.add(w.At.Of("type"), "snowflake warehouse needs %s (or a dsn)", k.key)
			}
		}
		if w.Password == "" && w.PrivateKeyFile == "" {
			v.add(w.At.Of("type"), "snowflake warehouse needs password or private_key_file (or a dsn)")
		}
		if w.Password != "" && w.PrivateKeyFile != "" {
			v.add(w.At.Of("private_key_file"), "give either password or private_key_file, not both")
		}
	}
	if w.Type == "bigquery" && w.Project == "" {
		v.add(w.At.Of("type"), "bigquery warehouse needs project (the Google Cloud project id)")
	}
}

// emptyProjectFile reports the required keys of an empty (or null)
// sluice.yml, which the decoder never sees. at holds only the file's own
// position then; a file that failed to parse is already reported.
func (v *validator) emptyProjectFile(at Positions) {
	root, ok := at[""]
	if len(at) != 1 || !ok {
		return
	}
	for _, p := range v.sink.list {
		if p.Pos.File == root.File {
			return
		}
	}
	for _, key := range []string{"version", "name", "warehouse"} {
		v.add(root, "missing required key %s", quote(key))
	}
}

func (v *validator) seeds() {
	type key struct{ schema, name string }
	seen := map[key]Seed{}
	for _, s := range v.p.Seeds {
		v.name("seed", s.Name, s.At.Of("name"))
		v.name("seed schema", s.Schema, s.At.Of("schema"))
		k := key{s.Schema, s.Name}
		if prev, dup := seen[k]; dup && s.Name != "" {
			v.add(s.At.Of("name"), "duplicate seed %s.%s (first defined at %s)", s.Schema, s.Name, prev.At.Of("name"))
		}
		seen[k] = s
		for _, c := range s.ColumnTypes {
			if strings.TrimSpace(c.Key) == "" {
				v.add(c.KeyPos, "column_types has an empty column name")
			}
			if msg := CheckSQLType(v.p.Warehouse.Type, c.Value); msg != "" {
				v.add(c.ValuePos, "invalid SQL type %s for column %s: %s", shortQuote(c.Value), quote(c.Key), msg)
			}
		}
	}
}

func (v *validator) sources() map[string]Source {
	for _, s := range v.p.Sources {
		v.name("source", s.Name, s.At.Of("name"))
		switch {
		case s.Table == "" && s.SQL == "":
			v.add(s.At.Of(""), "source %s needs a table or a sql query", quote(s.Name))
		case s.Table != "" && s.SQL != "":
			v.add(s.At.Of("sql"), "source %s has both table and sql: keep one", quote(s.Name))
		case s.Table != "" && strings.Count(s.Table, ".") > 2:
			v.add(s.At.Of("table"), "invalid table %s: write table, schema.table or database.schema.table", quote(s.Table))
		}
		for _, k := range s.PrimaryKey {
			if strings.TrimSpace(k) == "" {
				v.add(s.At.Of("primary_key"), "primary_key has an empty column name")
			}
		}
		if _, ok := s.At["primary_key"]; ok && len(s.PrimaryKey) == 0 {
			v.add(s.At.Of("primary_key"), "primary_key needs at least one column")
		}
		if s.AppendOnly && strings.TrimSpace(s.Timestamp) == "" {
			v.add(s.At.Of("append_only"), "append_only needs the source's timestamp: the column telling when each row was added")
		}
	}
	return unique(v, "source", v.p.Sources, func(s Source) string { return s.Name }, func(s Source) Pos { return s.At.Of("name") })
}

func (v *validator) sourceRef(name string, at Pos, sources map[string]Source) (Source, bool) {
	s, ok := sources[name]
	if !ok && name != "" {
		v.add(at, "unknown source %s%s", quote(name), didYouMean(name, sortedKeys(sources)))
	}
	return s, ok
}

func (v *validator) identity(sources map[string]Source) map[string]IDType {
	id := v.p.Identity
	if id == nil {
		return nil
	}
	v.name("entity", id.Entity, id.At.Of("entity"))
	types := map[string]IDType{}
	for _, t := range id.IDTypes {
		v.name("id type", t.Name, t.At.Of("name"))
		types[t.Name] = t
		_, hasRegion := t.At["default_region"]
		switch {
		case t.Normalize == "phone_e164" && !hasRegion:
			v.add(t.At.Of("default_region"), "id type %s normalises phones: set default_region to a two-letter country code such as FR", quote(t.Name))
		case t.Normalize == "phone_e164":
			if msg := checkRegion(t.DefaultRegion, idTypePhoneRegions()); msg != "" {
				v.add(t.At.Of("default_region"), "invalid default_region %s: %s", shortQuote(t.DefaultRegion), msg)
			}
		case hasRegion:
			v.add(t.At.Of("default_region"), "default_region applies only to normalize: phone_e164")
		}
		for i, pat := range t.BlocklistPatterns {
			if _, err := regexp.Compile(pat); err != nil {
				v.add(t.At.Item("blocklist_patterns", i), "invalid blocklist pattern %s: %v", shortQuote(pat), err)
			}
		}
	}
	if _, ok := id.At["id_types"]; ok && len(id.IDTypes) == 0 {
		v.add(id.At.Of("id_types"), "declare at least one id type")
	}
	typeNames := sortedKeys(types)
	for _, e := range id.Edges {
		v.sourceRef(e.Source, e.At.Of("source"), sources)
		for _, m := range e.IDs {
			if _, known := types[m.Key]; !known {
				v.add(m.KeyPos, "unknown id type %s%s (declared: %s)", quote(m.Key), didYouMean(m.Key, typeNames), strings.Join(typeNames, ", "))
			}
			if strings.TrimSpace(m.Value) == "" {
				v.add(m.ValuePos, "id type %s needs a column name", quote(m.Key))
			}
		}
		if _, present := e.At["ids"]; present && len(e.IDs) == 0 {
			v.add(e.At.Of("ids"), "an edge needs at least one identifier column")
		}
		if e.Region != "" && !slices.ContainsFunc(e.IDs, func(m MappingEntry) bool { return types[m.Key].Normalize == "phone_e164" }) {
			v.add(e.At.Of("region"), "region applies to phone numbers, but this edge has no id type with normalize: phone_e164")
		} else if e.Region != "" && !identPattern.MatchString(e.Region) {
			v.add(e.At.Of("region"), "invalid region %s: name the column holding each row's country code, such as country", shortQuote(e.Region))
		} else if slices.Contains(idTypePhoneRegions(), e.Region) {
			v.add(e.At.Of("region"), "region names a column holding each row's country code, not a country: for one country, set default_region: %s on the id type", e.Region)
		}
	}
	return types
}

func (v *validator) traits(sources map[string]Source, idTypes map[string]IDType) map[string]Trait {
	traits := unique(v, "trait", v.p.Traits, func(t Trait) string { return t.Name }, func(t Trait) Pos { return t.At.Of("name") })
	edges := v.edgeSources(sources)
	for _, t := range v.p.Traits {
		v.trait(t, sources, idTypes, edges)
	}
	v.rfmColumnCollisions(traits)
	v.expressionCycles(traits)
	return traits
}

// edgeSources lists the sources whose rows belong to profiles. An edge
// naming an unknown source is already reported, with the source it probably
// means: count that one as an edge rather than report its traits too.
func (v *validator) edgeSources(sources map[string]Source) map[string]bool {
	edges := map[string]bool{}
	if v.p.Identity != nil {
		for _, e := range v.p.Identity.Edges {
			if _, ok := sources[e.Source]; ok {
				edges[e.Source] = true
			} else if c := closest(e.Source, sortedKeys(sources)); c != "" {
				edges[c] = true
			}
		}
	}
	return edges
}

// trait checks one trait: its name, its kind, then the keys shared by kinds.
func (v *validator) trait(t Trait, sources map[string]Source, idTypes map[string]IDType, edges map[string]bool) {
	v.name("trait", t.Name, t.At.Of("name"))
	if slices.Contains(reservedTraitNames, t.Name) {
		v.add(t.At.Of("name"), "trait name %s is reserved", quote(t.Name))
	}
	kinds := 0
	for _, set := range []bool{t.Pick != "", t.Aggregate != "", t.Expression != "", t.RFM != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		v.add(t.At.Of("name"), "trait %s needs exactly one of pick, aggregate, expression or rfm", quote(t.Name))
		return
	}
	kind := t.Kind()
	src, hasSrc := Source{}, false
	switch kind {
	case TraitIdentifier:
		v.identifierTrait(t, idTypes)
	case TraitColumn:
		src, hasSrc = v.columnTrait(t, sources, edges)
	case TraitSourcePriority:
		v.priorityTrait(t, sources, edges)
	case TraitAggregate:
		src, hasSrc = v.aggregateTrait(t, sources, edges)
	case TraitExpression:
		if t.From != "" {
			v.add(t.At.Of("from"), "an expression reads other traits, not a source: remove from")
		}
	case TraitRFM:
		v.rfmTrait(t, sources, edges)
	}
	v.traitWhere(t, kind)
	v.traitPickOnly(t)
	v.traitWindow(t, kind, src, hasSrc)
	if _, set := t.At["type"]; set && t.RFM == nil {
		if msg := CheckSQLType(v.p.Warehouse.Type, t.Type); msg != "" {
			v.add(t.At.Of("type"), "invalid SQL type %s: %s", shortQuote(t.Type), msg)
		}
	}
}

func (v *validator) identifierTrait(t Trait, idTypes map[string]IDType) {
	if v.p.Identity == nil {
		v.add(t.At.Of("pick"), "trait %s picks an identifier but the project has no identity section; add from: SOURCE to pick a column", quote(t.Name))
	} else if _, ok := idTypes[t.Pick]; !ok {
		v.add(t.At.Of("pick"), "unknown id type %s%s; to pick a column of a source, add from: SOURCE", quote(t.Pick), didYouMean(t.Pick, sortedKeys(idTypes)))
	}
}

// columnTrait returns the source it picks from, for the window check.
func (v *validator) columnTrait(t Trait, sources map[string]Source, edges map[string]bool) (Source, bool) {
	src, hasSrc := v.traitSource(t.From, t.At.Of("from"), sources, edges)
	if hasSrc && src.Timestamp == "" && (t.Rule == "most_recent" || t.Rule == "first_seen") {
		if _, explicit := t.At["rule"]; explicit {
			v.add(t.At.Of("rule"), "rule %s needs a timestamp: set timestamp on source %s, or use rule: most_frequent", t.Rule, quote(src.Name))
		} else {
			v.add(t.At.Of("pick"), "trait %s keeps the most recent value (the default rule), which needs a timestamp: set timestamp on source %s, or use rule: most_frequent", quote(t.Name), quote(src.Name))
		}
	}
	return src, hasSrc
}

func (v *validator) priorityTrait(t Trait, sources map[string]Source, edges map[string]bool) {
	if t.From != "" {
		v.add(t.At.Of("from"), "trait %s takes its sources from priority: remove from", quote(t.Name))
	}
	if _, explicit := t.At["rule"]; explicit && t.Rule != "source_priority" {
		v.add(t.At.Of("rule"), "priority implies rule source_priority: remove rule: %s", t.Rule)
	}
	if len(t.Priority) == 0 {
		v.add(t.At.Of("rule"), "rule source_priority needs priority: [source, ...]")
	}
	seen := map[string]bool{}
	for _, s := range t.Priority {
		if seen[s] {
			v.add(t.At.Of("priority"), "source %s is listed twice in priority", quote(s))
		}
		seen[s] = true
		v.traitSource(s, t.At.Of("priority"), sources, edges)
	}
}

// aggregateTrait returns the source it aggregates, for the window check.
func (v *validator) aggregateTrait(t Trait, sources map[string]Source, edges map[string]bool) (src Source, hasSrc bool) {
	if t.From == "" {
		v.add(t.At.Of("aggregate"), "trait %s aggregates rows: add from: SOURCE", quote(t.Name))
	} else {
		src, hasSrc = v.traitSource(t.From, t.At.Of("from"), sources, edges)
	}
	if _, ok := ParseAggregate(t.Aggregate); !ok {
		v.add(t.At.Of("aggregate"), "invalid aggregate %s: write count(*), sum(col), min(col), max(col), avg(col) or count(distinct col)", quote(t.Aggregate))
	}
	return src, hasSrc
}

func (v *validator) rfmTrait(t Trait, sources map[string]Source, edges map[string]bool) {
	if t.From != "" {
		v.add(t.At.Of("from"), "rfm takes its source in rfm.from: remove from here")
	}
	if s, ok := v.traitSource(t.RFM.From, t.RFM.At.Of("from"), sources, edges); ok && t.RFM.Timestamp == "" && s.Timestamp == "" {
		v.add(t.RFM.At.Of(""), "rfm needs a timestamp: set timestamp here or on source %s", quote(s.Name))
	}
	if t.Type != "" {
		v.add(t.At.Of("type"), "type does not apply to rfm: its columns have fixed types")
	}
}

func (v *validator) traitWhere(t Trait, kind TraitKind) {
	switch {
	case t.Where == "" || kind == TraitColumn || kind == TraitSourcePriority || kind == TraitAggregate:
	case kind == TraitRFM:
		v.add(t.At.Of("where"), "rfm takes its condition in rfm.where: move it there")
	default:
		v.add(t.At.Of("where"), "where filters source rows: it applies only to traits that read a source with pick or aggregate")
	}
}

func (v *validator) traitPickOnly(t Trait) {
	if t.Rule != "" && t.Pick == "" {
		v.add(t.At.Of("rule"), "rule applies only to pick traits")
	}
	if len(t.Priority) > 0 && t.Pick == "" {
		v.add(t.At.Of("priority"), "priority applies only to pick traits")
	}
}

// traitWindow checks window against the source the trait reads, if known.
func (v *validator) traitWindow(t Trait, kind TraitKind, src Source, hasSrc bool) {
	if t.Window.IsZero() {
		return
	}
	switch {
	case kind != TraitColumn && kind != TraitAggregate:
		v.add(t.At.Of("window"), "window applies only to traits with from: SOURCE and pick or aggregate")
	case hasSrc && src.Timestamp == "":
		v.add(t.At.Of("window"), "window needs a timestamp column: set timestamp on source %s", quote(src.Name))
	}
}

// An rfm trait adds several columns; none may be another trait's name.
func (v *validator) rfmColumnCollisions(traits map[string]Trait) {
	for _, t := range v.p.Traits {
		if t.RFM == nil {
			continue
		}
		for _, col := range t.Columns()[1:] {
			if other, ok := traits[col]; ok {
				v.add(other.At.Of("name"), "trait %s collides with column %s of rfm trait %s (declared at %s)", quote(col), quote(col), quote(t.Name), t.At.Of("name"))
			}
		}
	}
}

// Expressions may use other traits; they are computed in dependency
// order, so a cycle can never be computed.
func (v *validator) expressionCycles(traits map[string]Trait) {
	deps := map[string][]string{}
	for _, t := range v.p.Traits {
		if t.Expression == "" {
			continue
		}
		for _, w := range ExpressionIdents(t.Expression) {
			if _, ok := traits[w]; ok && w != t.Name {
				deps[t.Name] = append(deps[t.Name], w)
			} else if w == t.Name {
				v.add(t.At.Of("expression"), "trait %s refers to itself", quote(t.Name))
			}
		}
	}
	if cycle := findCycle(sortedKeys(traits), deps); cycle != nil {
		t := traits[cycle[0]]
		v.add(t.At.Of("expression"), "traits form a cycle: %s", strings.Join(append(cycle, cycle[0]), " -> "))
	}
}

// traitSource resolves a source read by a trait. A trait sees a source's
// rows through the identity graph (each row of an edge source belongs to a
// profile), so the source must be an identity edge.
func (v *validator) traitSource(name string, at Pos, sources map[string]Source, edges map[string]bool) (Source, bool) {
	s, ok := v.sourceRef(name, at, sources)
	if !ok || edges[name] {
		return s, ok
	}
	// Without an identity section there are no profiles to build at all;
	// only a declared identity can be missing an edge.
	if v.p.Identity != nil {
		v.add(at, "source %s is not an identity edge, so its rows cannot be tied to profiles: add { source: %s, ids: { ID_TYPE: COLUMN } } to identity.edges", quote(name), name)
	}
	return s, true
}

// AggregateSpec is a parsed trait aggregate, e.g. count(distinct email).
type AggregateSpec struct {
	Func     string // count, sum, min, max or avg, lower-case
	Distinct bool
	Arg      string // * for count(*), else the SQL inside the parentheses
}

var bareColumn = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+")$`)

// Column is the source column the aggregate reads when its argument is a
// plain (or double-quoted) column name, else "".
func (a AggregateSpec) Column() string {
	if !bareColumn.MatchString(a.Arg) {
		return ""
	}
	if strings.HasPrefix(a.Arg, `"`) {
		return strings.ReplaceAll(a.Arg[1:len(a.Arg)-1], `""`, `"`)
	}
	return a.Arg
}

// ParseAggregate parses a trait's aggregate; ok is false unless it is one of
// count(*), count(x), count(distinct x), sum(x), min(x), max(x), avg(x).
func ParseAggregate(s string) (AggregateSpec, bool) {
	m := aggregatePattern.FindStringSubmatch(s)
	if m == nil {
		return AggregateSpec{}, false
	}
	a := AggregateSpec{Func: strings.ToLower(m[1]), Distinct: m[2] != "", Arg: m[3]}
	switch {
	case a.Arg == "":
		return a, false
	case a.Arg == "*" && (a.Func != "count" || a.Distinct):
		return a, false
	case a.Distinct && a.Func != "count":
		return a, false
	}
	return a, true
}

// ExpressionIdents lists the bare identifiers of a SQL expression, skipping
// string literals and quoted names, in order of first use.
func ExpressionIdents(expr string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				j++
			}
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(expr) && (expr[j] == '_' || expr[j] >= 'a' && expr[j] <= 'z' || expr[j] >= 'A' && expr[j] <= 'Z' || expr[j] >= '0' && expr[j] <= '9') {
				j++
			}
			w := expr[i:j]
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
			i = j
		case c >= '0' && c <= '9':
			for i < len(expr) && (expr[i] == '.' || expr[i] >= '0' && expr[i] <= '9' || expr[i] >= 'a' && expr[i] <= 'z') {
				i++
			}
		default:
			i++
		}
	}
	return out
}

// findCycle returns one cycle of the dependency graph, or nil.
func findCycle(nodes []string, deps map[string][]string) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		color[n] = grey
		stack = append(stack, n)
		for _, d := range deps[n] {
			switch color[d] {
			case grey:
				i := slices.Index(stack, d)
				return slices.Clone(stack[i:])
			case white:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return nil
	}
	for _, n := range nodes {
		if color[n] == white {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}

// TraitOrder returns the traits in an order where every expression comes
// after the traits it uses. It assumes a validated project.
func TraitOrder(traits []Trait) []Trait {
	byName := map[string]Trait{}
	for _, t := range traits {
		byName[t.Name] = t
	}
	done := map[string]bool{}
	var out []Trait
	var visit func(t Trait)
	visit = func(t Trait) {
		if done[t.Name] {
			return
		}
		done[t.Name] = true
		if t.Expression != "" {
			for _, w := range ExpressionIdents(t.Expression) {
				if d, ok := byName[w]; ok && w != t.Name {
					visit(d)
				}
			}
		}
		out = append(out, t)
	}
	for _, t := range traits {
		visit(t)
	}
	return out
}

// Segment names that would collide with the tables sluice builds.
var reservedSegmentNames = []string{"membership"}

func (v *validator) segments() map[string]Segment {
	segs := unique(v, "segment", v.p.Segments, func(s Segment) string { return s.Name }, func(s Segment) Pos { return s.At.Of("name") })
	names := sortedKeys(segs)
	excl := map[string][]string{}
	for _, s := range v.p.Segments {
		v.name("segment", s.Name, s.At.Of("name"))
		if slices.Contains(reservedSegmentNames, s.Name) {
			v.add(s.At.Of("name"), "segment name %s is reserved (table ENTITY_segment_membership lists every segment's members)", quote(s.Name))
		}
		switch {
		case s.Where == "" && s.SQL == "":
			v.add(s.At.Of(""), "segment %s needs where or sql", quote(s.Name))
		case s.Where != "" && s.SQL != "":
			v.add(s.At.Of("sql"), "segment %s has both where and sql: keep one", quote(s.Name))
		}
		for _, e := range s.Exclude {
			switch {
			case e == s.Name:
				v.add(s.At.Of("exclude"), "segment %s excludes itself", quote(s.Name))
			case segs[e].Name == "":
				v.add(s.At.Of("exclude"), "unknown segment %s in exclude%s", quote(e), didYouMean(e, names))
			case s.Group != "" && segs[e].Group == s.Group:
				v.add(s.At.Of("exclude"), "segment %s excludes %s of its own group %s, which already gives each profile to one segment: remove the exclude", quote(s.Name), quote(e), quote(s.Group))
			default:
				excl[s.Name] = append(excl[s.Name], e)
			}
		}
		if s.Group != "" {
			v.name("group", s.Group, s.At.Of("group"))
		}
		if _, ok := s.At["priority"]; ok && s.Group == "" {
			v.add(s.At.Of("priority"), "priority applies only to segments in a group")
		}
	}
	if cycle := findCycle(names, excl); cycle != nil {
		v.add(segs[cycle[0]].At.Of("exclude"), "segments exclude each other in a cycle: %s", strings.Join(append(cycle, cycle[0]), " -> "))
		return segs
	}
	// Within a group, a segment leaves out the profiles of the segments
	// ranked before it, so it depends on them as on its excludes.
	deps := map[string][]string{}
	for _, s := range v.p.Segments {
		deps[s.Name] = append(deps[s.Name], excl[s.Name]...)
		deps[s.Name] = append(deps[s.Name], RankedBefore(s, v.p.Segments)...)
	}
	if cycle := findCycle(names, deps); cycle != nil {
		at := segs[cycle[0]].At.Of("exclude")
		for _, n := range cycle {
			if len(excl[n]) > 0 {
				at = segs[n].At.Of("exclude")
				break
			}
		}
		v.add(at, "segments depend on each other in a cycle (through exclude and group priority): %s", strings.Join(append(cycle, cycle[0]), " -> "))
	}
	return segs
}

// RankedBefore lists the segments of s's group that outrank it (lower
// priority, then name), best first: a profile they hold is not s's.
func RankedBefore(s Segment, all []Segment) []string {
	if s.Group == "" {
		return nil
	}
	var peers []Segment
	for _, o := range all {
		if o.Group == s.Group && o.Name != s.Name && (o.Priority < s.Priority || o.Priority == s.Priority && o.Name < s.Name) {
			peers = append(peers, o)
		}
	}
	sort.SliceStable(peers, func(i, j int) bool {
		if peers[i].Priority != peers[j].Priority {
			return peers[i].Priority < peers[j].Priority
		}
		return peers[i].Name < peers[j].Name
	})
	out := make([]string, len(peers))
	for i, o := range peers {
		out[i] = o.Name
	}
	return out
}

func (v *validator) destinations() map[string]Destination {
	for _, d := range v.p.Destinations {
		v.name("destination", d.Name, d.At.Of("name"))
		if d.Type == "" {
			continue
		}
		spec, known, ok := destinationSpec(d.Type)
		if !ok {
			avail := "none are available in this build"
			if len(known) > 0 {
				avail = "available: " + strings.Join(known, ", ")
			}
			v.add(d.At.Of("type"), "unknown destination type %s%s (%s)", quote(d.Type), didYouMean(d.Type, known), avail)
			continue
		}
		checkOptions(spec, d.Options, d.At.Of(""), v.sink)
	}
	return unique(v, "destination", v.p.Destinations, func(d Destination) string { return d.Name }, func(d Destination) Pos { return d.At.Of("name") })
}

func (v *validator) syncs(sources map[string]Source, traits map[string]Trait, segs map[string]Segment, dests map[string]Destination) {
	unique(v, "sync", v.p.Syncs, func(s Sync) string { return s.Name }, func(s Sync) Pos { return s.At.Of("name") })
	// Columns of the profiles table, which profile and segment syncs read.
	profileCols := []string{"profile_id"}
	for _, t := range v.p.Traits {
		profileCols = append(profileCols, t.Columns()...)
	}
	for _, s := range v.p.Syncs {
		v.sync(s, profileCols, sources, traits, segs, dests)
	}
}

func (v *validator) sync(s Sync, profileCols []string, sources map[string]Source, traits map[string]Trait, segs map[string]Segment, dests map[string]Destination) {
	v.name("sync", s.Name, s.At.Of("name"))
	if _, ok := dests[s.To]; !ok && s.To != "" {
		v.add(s.At.Of("to"), "unknown destination %s%s", quote(s.To), didYouMean(s.To, sortedKeys(dests)))
	}
	v.syncFrom(s, sources, segs)
	cols, src := syncColumns(s, profileCols, sources)
	v.syncConsent(s, cols != nil, traits, dests)
	v.syncOptions(s)
	fields := v.syncMapping(s, cols)
	v.syncKey(s, fields, cols, src)
	for _, rf := range s.RemovalFields {
		if _, ok := fields[rf]; !ok {
			v.add(s.At.Of("removal_fields"), "removal field %s is not a field of mapping%s", quote(rf), didYouMean(rf, s.Mapping.names()))
		}
	}
}

// syncColumns returns the model's columns when they are known from the
// project (nil otherwise: a source's columns are checked against the
// warehouse instead), and the source a source sync reads, if it exists.
func syncColumns(s Sync, profileCols []string, sources map[string]Source) ([]string, *Source) {
	kind, name, _ := strings.Cut(s.From, ".")
	switch {
	case s.From == "profiles" || kind == "segment":
		return profileCols, nil
	case kind == "source":
		if so, ok := sources[name]; ok {
			return nil, &so
		}
	}
	return nil, nil
}

// profileColumn reports col when the model's columns are known and lack it.
func (v *validator) profileColumn(cols []string, col string, at Pos, what string) {
	if cols != nil && col != "" && !slices.Contains(cols, col) {
		v.add(at, "unknown %s %s: profiles have profile_id and the traits' columns%s", what, quote(col), didYouMean(col, cols))
	}
}

func (v *validator) syncOptions(s Sync) {
	if _, set := s.At["schedule"]; set {
		if msg := checkSchedule(s.Schedule); msg != "" {
			v.add(s.At.Of("schedule"), "invalid schedule %s: %s", shortQuote(s.Schedule), msg)
		}
	}
	if s.MaxRemovals != "" {
		if _, _, err := ParseMaxRemovals(s.MaxRemovals); err != nil {
			v.add(s.At.Of("max_removals"), "invalid max_removals %s: %v", quote(s.MaxRemovals), err)
		}
	}
}

// syncMapping checks the mapping and returns its fields by name: one source
// per field, known transforms, no field both a value and an object
// (properties: x beside properties.ltv: y).
func (v *validator) syncMapping(s Sync, cols []string) map[string]FieldMap {
	fields := map[string]FieldMap{}
	for _, f := range s.Mapping {
		fields[f.Field] = f
		v.fieldMap(f, cols)
	}
	for _, f := range s.Mapping {
		for p := f.Field; strings.Contains(p, "."); {
			p = p[:strings.LastIndex(p, ".")]
			if other, ok := fields[p]; ok {
				v.add(f.At.Of("name"), "field %s nests inside field %s (at %s), which already has a value", quote(f.Field), quote(p), other.At.Of("name"))
				break
			}
		}
	}
	return fields
}

func (v *validator) fieldMap(f FieldMap, cols []string) {
	if strings.TrimSpace(f.Field) == "" || strings.HasPrefix(f.Field, ".") || strings.HasSuffix(f.Field, ".") || strings.Contains(f.Field, "..") {
		v.add(f.At.Of("name"), "invalid field name %s: dots separate nested names, which must not be empty", quote(f.Field))
	}
	if f.From != "" && f.HasValue() {
		v.add(f.At.Of("value"), "field %s has both from and value: keep one", quote(f.Field))
	}
	if f.HasValue() {
		if f.Value.Node.Kind != yaml.ScalarNode || f.Value.Node.Tag == "!!null" {
			v.add(f.At.Of("value"), "field %s: value must be a string, a number or a boolean", quote(f.Field))
		}
	} else {
		v.profileColumn(cols, f.Column(), f.At.Of("from"), "column")
	}
	hasPhone := false
	for _, t := range f.Transform {
		if _, ok := Transform(t); !ok {
			v.add(f.At.Of("transform"), "unknown transform %s%s (available: %s)", quote(t), didYouMean(t, transformNames()), strings.Join(transformNames(), ", "))
		}
		hasPhone = hasPhone || t == "phone_e164"
	}
	if f.DefaultRegion != "" {
		if !hasPhone {
			v.add(f.At.Of("default_region"), "default_region applies only to the phone_e164 transform")
		} else if msg := checkRegion(f.DefaultRegion, phoneLibraryRegions()); msg != "" {
			v.add(f.At.Of("default_region"), "invalid default_region %s: %s", shortQuote(f.DefaultRegion), msg)
		}
	}
}

// The key is compared in the warehouse, so it must come from a column
// through transforms the warehouse can apply.
func (v *validator) syncKey(s Sync, fields map[string]FieldMap, cols []string, src *Source) {
	if s.Key == "" {
		if src != nil && len(src.PrimaryKey) > 1 {
			v.add(s.At.Of("from"), "source %s has a composite primary key: set key to the destination field that identifies a record", quote(src.Name))
		}
		return
	}
	f, ok := fields[s.Key]
	if !ok {
		v.profileColumn(cols, s.Key, s.At.Of("key"), "key column")
		return
	}
	if f.HasValue() {
		v.add(s.At.Of("key"), "key %s is a constant in mapping: the key must come from a column", quote(s.Key))
	}
	for _, t := range f.Transform {
		if info, ok := Transform(t); ok && !info.SQL {
			v.add(s.At.Of("key"), "key %s uses transform %s, which the warehouse cannot apply (keys are compared there): normalise the column in the model instead, e.g. normalize: phone_e164 on an id type", quote(s.Key), t)
		}
	}
}

// names lists the destination fields in file order.
func (m FieldMappings) names() []string {
	out := make([]string, len(m))
	for i, f := range m {
		out[i] = f.Field
	}
	return out
}

func (v *validator) syncFrom(s Sync, sources map[string]Source, segs map[string]Segment) {
	if s.From == "" {
		return
	}
	at := s.At.Of("from")
	kind, name, _ := strings.Cut(s.From, ".")
	switch {
	case s.From == "profiles":
		if v.p.Identity == nil {
			v.add(at, "from: profiles needs an identity section")
		}
	case kind == "segment" && name != "":
		if _, ok := segs[name]; !ok {
			v.add(at, "unknown segment %s%s", quote(name), didYouMean(name, sortedKeys(segs)))
		}
	case kind == "source" && name != "":
		if _, ok := sources[name]; !ok {
			v.add(at, "unknown source %s%s", quote(name), didYouMean(name, sortedKeys(sources)))
		}
	default:
		v.add(at, "invalid from %s: write profiles, segment.NAME or source.NAME", quote(s.From))
	}
}
