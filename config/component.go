package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// ComponentSpec describes the options of a pluggable component (a
// destination type). Components register their spec; the same spec validates
// project files, feeds the JSON Schema and documents the component.
type ComponentSpec struct {
	Kind    string // "destination"
	Type    string // e.g. "webhook"
	Summary string
	Fields  []FieldSpec
	// ConsentPurposes are the consent purposes the destination reads from
	// a sync's consent mapping (ad platforms: ads_user_data...). A sync
	// must map the Required ones and may map no other; without any, a
	// sync may map any purposes, which then only gate sending.
	ConsentPurposes []ConsentPurpose
}

// FieldSpec is one option of a component. Its constraints (Enum, Min,
// Max, Positive, URL) are checked when the project loads, with the option's
// position, and flow into the JSON Schema and the reference.
type FieldSpec struct {
	Name     string
	Kind     FieldKind
	Required bool
	Secret   bool // must be a ${VAR} reference, never a literal
	Enum     []string
	Doc      string
	Path     PathKind // the option names a file or folder: checked by the paths rule
	// Min and Max bound an Int or Number option (inclusive); Positive
	// requires a Number above 0 (rates, shares). Use Bound to set them.
	Min, Max *float64
	Positive bool
	// URL requires an absolute http:// or https:// address with a host.
	URL bool
	// Pattern is a regular expression (RE2) a String option must match
	// whole; PatternHint says what to write instead, e.g. "YYYY-MM-DD".
	Pattern, PatternHint string
	// Headers requires a StrMap of HTTP header names to values: names are
	// tokens, values hold no line breaks.
	Headers bool
}

// Bound returns a pointer to x, for FieldSpec.Min and Max.
func Bound(x float64) *float64 { return &x }

// WithMax returns the spec with another upper bound, for a shared option
// (such as batch_size) whose limit depends on the component.
func (f FieldSpec) WithMax(x float64) FieldSpec {
	f.Max = Bound(x)
	return f
}

// PathKind marks a component option that names a file or a folder. Such
// paths may be written absolute; a relative one must stay inside the
// project (see CheckPaths).
type PathKind string

// Path kinds.
const (
	PathFile   PathKind = "file"
	PathFolder PathKind = "folder"
)

// FieldKind is the type of a component option.
type FieldKind string

// Field kinds.
const (
	String       FieldKind = "string"
	Int          FieldKind = "integer"
	Number       FieldKind = "number"
	Bool         FieldKind = "boolean"
	StrMap       FieldKind = "map"  // string to string
	StrList      FieldKind = "list" // list of strings
	DurationKind FieldKind = "duration"
)

var (
	registryMu   sync.RWMutex
	destinations = map[string]ComponentSpec{}
)

// RegisterDestination makes a destination type known to validation. It is
// called from the init function of each destination package.
func RegisterDestination(spec ComponentSpec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := destinations[spec.Type]; dup {
		panic("config: destination type registered twice: " + spec.Type)
	}
	spec.Kind = "destination"
	destinations[spec.Type] = spec
}

// DestinationSpecs returns the registered destination specs by type name.
func DestinationSpecs() []ComponentSpec {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]ComponentSpec, 0, len(destinations))
	for _, s := range destinations {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// DestinationSpec returns the registered spec of a destination type.
func DestinationSpec(typ string) (ComponentSpec, bool) {
	s, _, ok := destinationSpec(typ)
	return s, ok
}

func destinationSpec(t string) (ComponentSpec, []string, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := destinations[t]
	return s, sortedKeys(destinations), ok
}

// checkOptions validates a component's options against its spec.
func checkOptions(spec ComponentSpec, opts map[string]Value, at Pos, sink *problemSink) {
	names := make([]string, 0, len(spec.Fields)+2)
	for _, f := range spec.Fields {
		names = append(names, f.Name)
	}
	for _, k := range sortedKeys(opts) {
		v := opts[k]
		i := slices.IndexFunc(spec.Fields, func(f FieldSpec) bool { return f.Name == k })
		if i < 0 {
			sink.add(keyPos(v), "unknown key %s for %s type %s%s", quote(k), spec.Kind, spec.Type, didYouMean(k, names))
			continue
		}
		checkValue(spec.Fields[i], v, sink)
	}
	for _, f := range spec.Fields {
		if _, ok := opts[f.Name]; f.Required && !ok {
			sink.add(at, "missing required key %s for %s type %s", quote(f.Name), spec.Kind, spec.Type)
		}
	}
}

// keyPos approximates the key's position from its value's: values sit on
// the key's line, and the message names the key anyway.
func keyPos(v Value) Pos { return v.Pos }

func checkValue(f FieldSpec, v Value, sink *problemSink) {
	n := v.Node
	if f.Secret && !v.FromEnv {
		sink.add(v.Pos, "%s is a secret: write it as a ${VAR} reference to an environment variable, not a literal", quote(f.Name))
		return
	}
	if f.Secret && sink.literalSecret(v.Pos, f.Name) {
		return
	}
	shown := func() string {
		if v.FromEnv {
			return "(value from environment)"
		}
		return shortQuote(n.Value)
	}
	bad := func(want string) {
		sink.add(v.Pos, "%s: expected %s, got %s", f.Name, want, kindName(n))
	}
	switch f.Kind {
	case String, DurationKind:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			bad("a string")
			return
		}
		if f.Enum != nil && !slices.Contains(f.Enum, n.Value) {
			sink.add(v.Pos, "invalid %s %s: must be one of %s%s", f.Name, shown(), public(strings.Join(f.Enum, ", ")), didYouMean(n.Value, f.Enum))
		}
		if f.URL && !(v.FromEnv && n.Value == "") {
			// An empty value from the environment is an unset variable,
			// reported (or tolerated) by whoever resolves it.
			if msg := checkURL(n.Value, !v.FromEnv); msg != "" {
				sink.add(v.Pos, "invalid %s %s: %s", f.Name, shownURL(n.Value, v.FromEnv), msg)
			}
		}
		if f.Pattern != "" && !regexp.MustCompile(`^(?:`+f.Pattern+`)$`).MatchString(n.Value) {
			sink.add(v.Pos, "invalid %s %s: write %s", f.Name, shown(), f.PatternHint)
		}
		if f.Kind == DurationKind {
			var d Duration
			if err := (&d).decodeScalar(n.Value); err != nil {
				sink.add(v.Pos, "invalid %s %s: %v", f.Name, shown(), err)
			}
		}
	case Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			bad("a whole number")
			return
		}
		if msg := f.bounds().check(float64(i)); msg != "" {
			sink.add(v.Pos, "invalid %s %s: %s", f.Name, shown(), msg)
		}
	case Number:
		x, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			bad("a number")
			return
		}
		if msg := f.bounds().check(x); msg != "" {
			sink.add(v.Pos, "invalid %s %s: %s", f.Name, shown(), msg)
		}
	case Bool:
		if n.Kind != yaml.ScalarNode || (n.Value != "true" && n.Value != "false") {
			bad("true or false")
		}
	case StrMap:
		if n.Kind != yaml.MappingNode {
			bad("a mapping")
			return
		}
		if f.Headers {
			checkHeaders(f, v, sink)
		}
	case StrList:
		if n.Kind != yaml.SequenceNode {
			bad("a list")
		}
	default:
		panic(fmt.Sprintf("config: unknown field kind %q", f.Kind))
	}
}

// checkHeaders checks a mapping of HTTP header names to values: a name
// that is not a token, or a value with a line break, would be refused by
// the HTTP client at the first request, or split the request.
func checkHeaders(f FieldSpec, v Value, sink *problemSink) {
	n := v.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		at := func(n *yaml.Node) Pos { return Pos{File: v.Pos.File, Line: n.Line, Col: n.Column} }
		if !isHTTPToken(k.Value) {
			sink.add(at(k), "%s: invalid header name %s: use letters, digits and - (such as X-Api-Key)", f.Name, shortQuote(k.Value))
		}
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
			sink.add(at(val), "%s: header %s needs a value (a string)", f.Name, shortQuote(k.Value))
		} else if strings.ContainsAny(val.Value, "\r\n\x00") {
			sink.add(at(val), "%s: the value of header %s holds a line break", f.Name, shortQuote(k.Value))
		}
	}
}

// isHTTPToken reports whether s is an RFC 9110 token, what header names are.
func isHTTPToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
