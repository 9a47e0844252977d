package destination

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/config"
)

// Options are a destination's settings from the project file, read through
// its spec. Project files are validated against the spec when they load, so
// the typed getters fail only for options built by hand.
type Options struct {
	spec   config.ComponentSpec
	values map[string]config.Value
}

// NewOptions wraps raw values, for tests and tools.
func NewOptions(spec config.ComponentSpec, values map[string]config.Value) Options {
	return Options{spec: spec, values: values}
}

// ParseOptions reads options written as a YAML mapping, for tests.
func ParseOptions(spec config.ComponentSpec, src string) (Options, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return Options{}, err
	}
	values := map[string]config.Value{}
	if len(doc.Content) > 0 {
		m := doc.Content[0]
		if m.Kind != yaml.MappingNode {
			return Options{}, fmt.Errorf("options: expected a mapping")
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			values[m.Content[i].Value] = config.Value{Node: m.Content[i+1]}
		}
	}
	return Options{spec: spec, values: values}, nil
}

func (o Options) checkRequired() error {
	var missing []string
	for _, f := range o.spec.Fields {
		if _, ok := o.values[f.Name]; f.Required && !ok {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required option %s", strings.Join(missing, ", "))
	}
	return nil
}

// FromEnv reports whether the option's value came from a ${VAR}
// reference: such a value is a secret, never to be quoted in a message.
func (o Options) FromEnv(name string) bool { return o.values[name].FromEnv }

// Has reports whether the option is set.
func (o Options) Has(name string) bool { _, ok := o.values[name]; return ok }

func (o Options) scalar(name string) (string, bool, error) {
	v, ok := o.values[name]
	if !ok || v.Node == nil {
		return "", false, nil
	}
	if v.Node.Kind != yaml.ScalarNode {
		return "", false, fmt.Errorf("option %s: expected a single value", name)
	}
	return v.Node.Value, true, nil
}

// String returns a string option, or def when unset.
func (o Options) String(name, def string) (string, error) {
	s, ok, err := o.scalar(name)
	if err != nil || !ok {
		return def, err
	}
	return s, nil
}

// Int returns an integer option, or def when unset.
func (o Options) Int(name string, def int) (int, error) {
	s, ok, err := o.scalar(name)
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("option %s: expected a whole number", name)
	}
	return n, nil
}

// Float returns a number option, or def when unset.
func (o Options) Float(name string, def float64) (float64, error) {
	s, ok, err := o.scalar(name)
	if err != nil || !ok {
		return def, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("option %s: expected a number", name)
	}
	return f, nil
}

// Bool returns a boolean option, or def when unset.
func (o Options) Bool(name string, def bool) (bool, error) {
	s, ok, err := o.scalar(name)
	if err != nil || !ok {
		return def, err
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("option %s: expected true or false", name)
	}
	return b, nil
}

// Duration returns a duration option (30s, 5m...), or def when unset.
func (o Options) Duration(name string, def time.Duration) (time.Duration, error) {
	s, ok, err := o.scalar(name)
	if err != nil || !ok {
		return def, err
	}
	d, err := config.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("option %s: %w", name, err)
	}
	return d, nil
}

// StringMap returns a mapping option in file order.
func (o Options) StringMap(name string) ([][2]string, error) {
	v, ok := o.values[name]
	if !ok || v.Node == nil {
		return nil, nil
	}
	if v.Node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("option %s: expected a mapping", name)
	}
	var out [][2]string
	for i := 0; i+1 < len(v.Node.Content); i += 2 {
		out = append(out, [2]string{v.Node.Content[i].Value, v.Node.Content[i+1].Value})
	}
	return out, nil
}

// Common option specs shared by destination types, so that the same knob
// has the same name and meaning everywhere.
var (
	BatchSizeField   = config.FieldSpec{Name: "batch_size", Kind: config.Int, Min: config.Bound(1), Max: config.Bound(1_000_000), Doc: "Records per request. A sync's batch_size overrides it."}
	RateField        = config.FieldSpec{Name: "rate", Kind: config.Number, Positive: true, Max: config.Bound(100_000), Doc: "Requests per second at most (a token bucket). A sync's rate overrides it."}
	ConcurrencyField = config.FieldSpec{Name: "concurrency", Kind: config.Int, Min: config.Bound(1), Max: config.Bound(1024), Doc: "Requests in flight at once."}
	TimeoutField     = config.FieldSpec{Name: "timeout", Kind: config.DurationKind, Doc: "Time limit of one request attempt, e.g. 30s."}
	MaxRetriesField  = config.FieldSpec{Name: "max_retries", Kind: config.Int, Min: config.Bound(0), Max: config.Bound(100), Doc: "Retries of a request answered 429 or 5xx, or that timed out, before the run stops (the records are sent again next run)."}
)
