package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Names of sources, traits and segments become SQL identifiers and file
// names; keeping them simple keeps compiled SQL readable (quoting still
// makes any name safe).
var (
	namePattern        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	memoryLimitPattern = regexp.MustCompile(`^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)
	sqlTypePattern     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?$`)
	regionPattern      = regexp.MustCompile(`^[A-Z]{2}$`)
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
	if p.Version != 0 && p.Version != CurrentVersion {
		v.add(at.Of("version"), "unsupported version %d: this sluice reads version %d", p.Version, CurrentVersion)
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
	if w.MemoryLimit != "" && !memoryLimitPattern.MatchString(w.MemoryLimit) {
		v.add(w.At.Of("memory_limit"), "invalid memory_limit %s: write a size such as 512MB or 4GB", quote(w.MemoryLimit))
	}
	if w.Threads < 0 {
		v.add(w.At.Of("threads"), "threads must be positive")
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
		if s.Path != "" {
			if _, err := os.Stat(filepath.Join(v.p.Dir, s.Path)); err != nil {
				v.add(s.At.Of("path"), "seed file %s not found (paths are relative to the project directory)", quote(s.Path))
			}
		}
		for _, c := range s.ColumnTypes {
			if !sqlTypePattern.MatchString(c.Value) {
				v.add(c.ValuePos, "invalid SQL type %s for column %s", quote(c.Value), quote(c.Key))
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
	if id.MaxRounds < 0 {
		v.add(id.At.Of("max_rounds"), "max_rounds must be positive")
	}
	types := map[string]IDType{}
	for _, t := range id.IDTypes {
		v.name("id type", t.Name, t.At.Of("name"))
		types[t.Name] = t
		if t.Normalize == "phone_e164" && !regionPattern.MatchString(t.DefaultRegion) {
			v.add(t.At.Of("default_region"), "id type %s normalises phones: set default_region to a two-letter country code such as FR", quote(t.Name))
		}
		if t.DefaultRegion != "" && t.Normalize != "phone_e164" {
			v.add(t.At.Of("default_region"), "default_region applies only to normalize: phone_e164")
		}
		for _, pat := range t.BlocklistPatterns {
			if _, err := regexp.Compile(pat); err != nil {
				v.add(t.At.Of("blocklist_patterns"), "invalid blocklist pattern %s: %v", quote(pat), err)
			}
		}
		if t.LimitPerProfile < 0 {
			v.add(t.At.Of("limit_per_profile"), "limit_per_profile must be positive")
		}
	}
	if _, ok := id.At["id_types"]; ok && len(id.IDTypes) == 0 {
		v.add(id.At.Of("id_types"), "declare at least one id type")
	}
	typeNames := sortedKeys(types)
	for _, e := range id.Edges {
		src, ok := v.sourceRef(e.Source, e.At.Of("source"), sources)
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
		_ = src
		_ = ok
	}
	return types
}

func (v *validator) traits(sources map[string]Source, idTypes map[string]IDType) map[string]Trait {
	traits := unique(v, "trait", v.p.Traits, func(t Trait) string { return t.Name }, func(t Trait) Pos { return t.At.Of("name") })
	traitNames := sortedKeys(traits)
	for _, t := range v.p.Traits {
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
		}
		src, hasSrc := Source{}, false
		if t.From != "" {
			src, hasSrc = v.sourceRef(t.From, t.At.Of("from"), sources)
		}
		switch {
		case t.Pick != "" && t.From == "":
			if v.p.Identity == nil {
				v.add(t.At.Of("pick"), "trait %s picks an identifier but the project has no identity section; add from: SOURCE to pick a column", quote(t.Name))
			} else if _, ok := idTypes[t.Pick]; !ok {
				v.add(t.At.Of("pick"), "unknown id type %s%s; to pick a column of a source, add from: SOURCE", quote(t.Pick), didYouMean(t.Pick, sortedKeys(idTypes)))
			}
		case t.Aggregate != "":
			if t.From == "" {
				v.add(t.At.Of("aggregate"), "trait %s aggregates rows: add from: SOURCE", quote(t.Name))
			}
			if !aggregatePattern.MatchString(t.Aggregate) {
				v.add(t.At.Of("aggregate"), "invalid aggregate %s: write count(*), sum(col), min(col), max(col), avg(col) or count(distinct col)", quote(t.Aggregate))
			}
		case t.RFM != nil:
			src, hasSrc = v.sourceRef(t.RFM.From, t.RFM.At.Of("from"), sources)
			if hasSrc && t.RFM.Timestamp == "" && src.Timestamp == "" {
				v.add(t.RFM.At.Of(""), "rfm needs a timestamp: set timestamp here or on source %s", quote(src.Name))
			}
		}
		if t.Rule == "source_priority" && len(t.Priority) == 0 {
			v.add(t.At.Of("rule"), "rule source_priority needs priority: [source, ...]")
		}
		for _, s := range t.Priority {
			v.sourceRef(s, t.At.Of("priority"), sources)
		}
		if t.Rule != "" && t.Pick == "" {
			v.add(t.At.Of("rule"), "rule applies only to pick traits")
		}
		if !t.Window.IsZero() {
			if t.From == "" {
				v.add(t.At.Of("window"), "window needs from: SOURCE")
			} else if hasSrc && src.Timestamp == "" {
				v.add(t.At.Of("window"), "window needs a timestamp column: set timestamp on source %s", quote(src.Name))
			}
		}
		if t.Type != "" && !sqlTypePattern.MatchString(t.Type) {
			v.add(t.At.Of("type"), "invalid SQL type %s", quote(t.Type))
		}
	}
	// Expressions may use other traits; they are computed in dependency
	// order, so a cycle can never be computed.
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
	if cycle := findCycle(traitNames, deps); cycle != nil {
		t := traits[cycle[0]]
		v.add(t.At.Of("expression"), "traits form a cycle: %s", strings.Join(append(cycle, cycle[0]), " -> "))
	}
	return traits
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

func (v *validator) segments() map[string]Segment {
	segs := unique(v, "segment", v.p.Segments, func(s Segment) string { return s.Name }, func(s Segment) Pos { return s.At.Of("name") })
	names := sortedKeys(segs)
	excl := map[string][]string{}
	for _, s := range v.p.Segments {
		v.name("segment", s.Name, s.At.Of("name"))
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
	}
	return segs
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
	for _, s := range v.p.Syncs {
		v.name("sync", s.Name, s.At.Of("name"))
		if _, ok := dests[s.To]; !ok && s.To != "" {
			v.add(s.At.Of("to"), "unknown destination %s%s", quote(s.To), didYouMean(s.To, sortedKeys(dests)))
		}
		v.syncFrom(s, sources, segs)
		if s.Consent != "" {
			if _, ok := traits[s.Consent]; !ok {
				v.add(s.At.Of("consent"), "unknown trait %s in consent%s", quote(s.Consent), didYouMean(s.Consent, sortedKeys(traits)))
			}
		}
		if s.Schedule != "" {
			if _, err := cron.ParseStandard(s.Schedule); err != nil {
				v.add(s.At.Of("schedule"), "invalid schedule %s: %v", quote(s.Schedule), err)
			}
		}
		if s.BatchSize < 0 {
			v.add(s.At.Of("batch_size"), "batch_size must be positive")
		}
	}
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

var _ = fmt.Sprintf
