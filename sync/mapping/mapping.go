// Package mapping turns model rows into destination records: it reads the
// mapped columns, applies transforms (normalise e-mail and phone, hash,
// cast), constants and the null policy, and nests dotted fields.
package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nyaruka/phonenumbers"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/config"
)

// Mapper builds records. It is safe for concurrent use.
type Mapper struct {
	columns  []string
	fields   []field
	keyField string
	keyPath  []string
	removal  []string
	failures []atomic.Int64 // per field: values a transform could not convert
}

type field struct {
	name  string
	path  []string
	col   int // index into the row; -1 for a constant
	value any
	tx    []string
	reg   string
	clear bool
	isKey bool
	// boolean: the column holds booleans the warehouse returns as 0 and 1.
	boolean bool
}

// New builds a mapper for a mapping whose rows hold columns (in order).
// keyField is the destination field of the key: it always carries the key
// as computed by the warehouse. nulls is the sync's null policy.
func New(m config.FieldMappings, columns []string, keyField, nulls string, removal []string) (*Mapper, error) {
	mp := &Mapper{columns: columns, keyField: keyField, keyPath: strings.Split(keyField, "."), removal: removal}
	idx := map[string]int{}
	for i, c := range columns {
		idx[strings.ToLower(c)] = i
	}
	for _, f := range m {
		fd := field{name: f.Field, path: strings.Split(f.Field, "."), col: -1, tx: f.Transform, reg: f.DefaultRegion, isKey: f.Field == keyField}
		fd.clear = cmpOr(f.Nulls, nulls) == "clear"
		if f.HasValue() {
			fd.value = constant(f.Value.Node)
		} else {
			i, ok := idx[strings.ToLower(f.Column())]
			if !ok {
				return nil, fmt.Errorf("mapping field %s: no column %s", f.Field, f.Column())
			}
			fd.col = i
		}
		mp.fields = append(mp.fields, fd)
	}
	mp.failures = make([]atomic.Int64, len(mp.fields))
	return mp, nil
}

func constant(n *yaml.Node) any {
	switch n.Tag {
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f
		}
	case "!!bool":
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return b
		}
	}
	return n.Value
}

// Booleans marks columns that hold booleans returned as integers (by
// warehouses without a boolean type): their 0 and 1 are sent as false and
// true, like the same column read from a warehouse that has booleans.
func (m *Mapper) Booleans(columns []string) {
	set := map[string]bool{}
	for _, c := range columns {
		set[strings.ToLower(c)] = true
	}
	for i := range m.fields {
		if f := &m.fields[i]; f.col >= 0 {
			f.boolean = set[strings.ToLower(m.columns[f.col])]
		}
	}
}

// Record returns the fields of a record with the given key from a row.
func (m *Mapper) Record(key string, row []any) map[string]any {
	return m.record(&key, row)
}

// RecordRaw maps a row whose key is invalid (NULL, empty, duplicated): the
// key field is mapped from its column like any other field.
func (m *Mapper) RecordRaw(row []any) map[string]any { return m.record(nil, row) }

func (m *Mapper) record(key *string, row []any) map[string]any {
	out := make(map[string]any, len(m.fields)+1)
	keyDone := key == nil
	for i := range m.fields {
		f := &m.fields[i]
		var v any
		if f.isKey && key != nil {
			v, keyDone = *key, true
		} else {
			if f.col >= 0 {
				v = Normalize(row[f.col])
				if f.boolean {
					v = integerBoolean(v)
				}
			} else {
				v = f.value
			}
			for _, t := range f.tx {
				var ok bool
				if v, ok = Apply(t, v, f.reg); !ok {
					m.failures[i].Add(1)
					v = nil
					break
				}
			}
		}
		if v == nil && !f.clear {
			continue
		}
		set(out, f.path, v)
	}
	if !keyDone {
		set(out, m.keyPath, *key)
	}
	return out
}

// integerBoolean turns 0 and 1 into false and true, and leaves anything
// else as it is.
func integerBoolean(v any) any {
	if n, ok := v.(int64); ok && (n == 0 || n == 1) {
		return n == 1
	}
	return v
}

// Removal returns the key field and the removal fields of a record's
// fields, flat by destination field name, to keep for a later removal.
func (m *Mapper) Removal(fields map[string]any) map[string]any {
	if len(m.removal) == 0 {
		return nil
	}
	out := make(map[string]any, len(m.removal))
	for _, name := range m.removal {
		if v, ok := get(fields, strings.Split(name, ".")); ok {
			out[name] = v
		}
	}
	return out
}

// RemovalRecord builds the fields of a removal: the key and the kept
// removal fields (flat, as Removal returned them).
func (m *Mapper) RemovalRecord(key string, kept map[string]any) map[string]any {
	out := map[string]any{}
	for name, v := range kept {
		set(out, strings.Split(name, "."), v)
	}
	set(out, m.keyPath, key)
	return out
}

// Failures reports, per destination field, how many values a transform
// could not convert (sent as NULL).
func (m *Mapper) Failures() map[string]int64 {
	out := map[string]int64{}
	for i := range m.fields {
		if n := m.failures[i].Load(); n > 0 {
			out[m.fields[i].name] = n
		}
	}
	return out
}

func set(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}

func get(m map[string]any, path []string) (any, bool) {
	for _, p := range path[:len(path)-1] {
		sub, ok := m[p].(map[string]any)
		if !ok {
			return nil, false
		}
		m = sub
	}
	v, ok := m[path[len(path)-1]]
	return v, ok
}

// Normalize converts a value scanned from the warehouse into one that
// encodes to JSON as users expect: exact decimals stay numbers, times are
// RFC 3339 in UTC, UUIDs and big integers are text or numbers.
func Normalize(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, float64, json.Number:
		return x
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return json.Number(strconv.FormatUint(x, 10))
	case float32:
		return float64(x)
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case *big.Int:
		if x == nil {
			return nil
		}
		return json.Number(x.String())
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = Normalize(e)
		}
		return out
	case interface {
		Float64() float64
		String() string
	}:
		return json.Number(x.String()) // exact decimals
	case fmt.Stringer:
		return x.String() // UUIDs, intervals
	}
	if f, ok := v.(interface{ Float64() float64 }); ok {
		return f.Float64()
	}
	return fmt.Sprint(v)
}

// Apply applies one transform; ok is false when the value cannot be
// converted. NULL stays NULL.
func Apply(name string, v any, region string) (any, bool) {
	if v == nil {
		return nil, true
	}
	switch name {
	case "trim":
		return strings.TrimSpace(text(v)), true
	case "lower":
		return strings.ToLower(text(v)), true
	case "upper":
		return strings.ToUpper(text(v)), true
	case "email":
		s := strings.ToLower(strings.TrimSpace(text(v)))
		if s == "" {
			return nil, true
		}
		return s, true
	case "phone_e164":
		s := strings.TrimSpace(text(v))
		if s == "" {
			return nil, true
		}
		reg := strings.ToUpper(region)
		if reg == "" {
			reg = "ZZ" // only numbers with a + prefix
		}
		num, err := phonenumbers.Parse(s, reg)
		if err != nil || !phonenumbers.IsValidNumber(num) {
			return nil, false
		}
		return phonenumbers.Format(num, phonenumbers.E164), true
	case "sha256":
		h := sha256.Sum256([]byte(text(v)))
		return hex.EncodeToString(h[:]), true
	case "string":
		return text(v), true
	case "integer":
		switch x := v.(type) {
		case int64:
			return x, true
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
				return int64(x), true
			}
			return nil, false
		case bool:
			if x {
				return int64(1), true
			}
			return int64(0), true
		}
		s := strings.TrimSpace(text(v))
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return int64(f), true
		}
		return nil, false
	case "number":
		switch x := v.(type) {
		case int64, float64, json.Number:
			return x, true
		}
		s := strings.TrimSpace(text(v))
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return json.Number(s), true
		}
		return nil, false
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x, true
		case int64:
			return x != 0, true
		case float64:
			return x != 0, true
		}
		switch strings.ToLower(strings.TrimSpace(text(v))) {
		case "true", "t", "yes", "y", "1":
			return true, true
		case "false", "f", "no", "n", "0":
			return false, true
		}
		return nil, false
	case "date", "timestamp":
		t, ok := parseTime(v)
		if !ok {
			return nil, false
		}
		if name == "date" {
			return t.Format(time.DateOnly), true
		}
		return t.UTC().Format(time.RFC3339), true
	}
	return nil, false
}

func parseTime(v any) (time.Time, bool) {
	s := strings.TrimSpace(text(v))
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Consent reads a consent purpose's value as the planner selects it (1, 0
// or NULL, whatever integer or text type the warehouse returns it as): nil
// for NULL, "unspecified"; anything else that is not 1 or true is false,
// as the consent gate reads it.
func Consent(v any) *bool {
	yes := false
	switch x := Normalize(v).(type) {
	case nil:
		return nil
	case bool:
		yes = x
	case int64:
		yes = x == 1
	case float64:
		yes = x == 1
	case json.Number:
		yes = x.String() == "1"
	case string:
		s := strings.TrimSpace(x)
		yes = s == "1" || strings.EqualFold(s, "true")
	}
	return &yes
}
