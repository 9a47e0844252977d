package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Numbers in project files are bounded: a value out of range (a negative
// batch size, zero threads, a rate of NaN or 1e300) is refused by validate
// with its position rather than found by build or at run time. Struct
// fields declare their bounds with tags, component options with FieldSpec:
//
//	min:"1"     inclusive lower bound
//	max:"1000"  inclusive upper bound
//	gt:"0"      exclusive lower bound (rates, shares)
//
// A bound applies to a value written in the file; an absent key keeps its
// default.

// bounds are the limits of a number.
type bounds struct {
	min, max *float64
	gt       bool // min is exclusive
}

func (f FieldSpec) bounds() bounds {
	if f.Positive && f.Min == nil {
		return bounds{min: Bound(0), max: f.Max, gt: true}
	}
	return bounds{min: f.Min, max: f.Max}
}

// tagBounds reads the min, max and gt tags of a struct field.
func tagBounds(tag reflect.StructTag) (bounds, error) {
	var b bounds
	read := func(key string) (*float64, error) {
		s, ok := tag.Lookup(key)
		if !ok {
			return nil, nil
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("config: bad %s tag %q", key, s)
		}
		return &x, nil
	}
	var err error
	if b.min, err = read("min"); err != nil {
		return b, err
	}
	if b.max, err = read("max"); err != nil {
		return b, err
	}
	gt, err := read("gt")
	if err != nil {
		return b, err
	}
	if gt != nil {
		b.min, b.gt = gt, true
	}
	return b, nil
}

func (b bounds) any() bool { return b.min != nil || b.max != nil }

// check returns what is wrong with x, or "".
func (b bounds) check(x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "must be a finite number"
	case b.min != nil && b.gt && x <= *b.min:
		return "must be above " + fmtNum(*b.min)
	case b.min != nil && !b.gt && x < *b.min && b.max != nil:
		return "must be between " + fmtNum(*b.min) + " and " + fmtNum(*b.max)
	case b.min != nil && !b.gt && x < *b.min:
		return "must be at least " + fmtNum(*b.min)
	case b.max != nil && x > *b.max && b.min != nil && !b.gt:
		return "must be between " + fmtNum(*b.min) + " and " + fmtNum(*b.max)
	case b.max != nil && x > *b.max:
		return "must be at most " + fmtNum(*b.max)
	}
	return ""
}

// fmtNum writes a number as a person would, switching to an exponent only
// for huge ones (1e300 in full would fill a screen).
func fmtNum(x float64) string {
	if math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// shortQuote quotes a value from a project file for a message, as the
// decoder does: Go-quoted, so no character of it can break the message's
// line, and cut so that a huge value does not flood the terminal.
func shortQuote(s string) string {
	if len(s) > 60 {
		return strconv.Quote(strings.ToValidUTF8(s[:57], "")) + "..."
	}
	return strconv.Quote(s)
}

// walkStructs calls fn for every struct value reachable from v that has an
// At positions field, with that struct's type.
func walkStructs(v reflect.Value, fn func(v reflect.Value, at Positions)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStructs(v.Elem(), fn)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkStructs(v.Index(i), fn)
		}
	case reflect.Struct:
		if v.Type() == durationType || v.Type() == valueType {
			return
		}
		if _, _, at, _ := fieldsOf(v.Type()); at != nil {
			if pos, ok := v.FieldByIndex(at).Interface().(Positions); ok && pos != nil {
				fn(v, pos)
			}
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walkStructs(v.Field(i), fn)
			}
		}
	}
}

// checkTags enforces the required and bound tags of every decoded struct:
// a required name written as "" is as good as missing, and a number
// outside its bounds is refused.
func (v *validator) checkTags(root any) {
	walkStructs(reflect.ValueOf(root), func(s reflect.Value, at Positions) {
		fields, _, _, key := fieldsOf(s.Type())
		if key != nil {
			if name := s.FieldByIndex(key).String(); strings.TrimSpace(name) == "" && !v.reported(at.Of("name")) {
				v.add(at.Of("name"), "empty name: give it a name")
			}
		}
		for _, f := range fields {
			pos, set := at[f.name]
			if !set {
				continue
			}
			sf := s.Type().FieldByIndex(f.index)
			fv := s.FieldByIndex(f.index)
			switch fv.Kind() {
			case reflect.String:
				if f.required && strings.TrimSpace(fv.String()) == "" && !v.reported(pos) {
					v.add(pos, "%s must not be empty", quote(f.name))
				}
			case reflect.Int, reflect.Int64, reflect.Float64:
				b, err := tagBounds(sf.Tag)
				if err != nil {
					panic(err)
				}
				x := float64(0)
				if fv.Kind() == reflect.Float64 {
					x = fv.Float()
				} else {
					x = float64(fv.Int())
				}
				if msg := b.check(x); msg != "" {
					v.add(pos, "invalid %s %s: %s", f.name, fmtNum(x), msg)
				}
			}
		}
	})
}

// reported tells whether a problem is already reported at p.
func (v *validator) reported(p Pos) bool {
	for _, q := range v.sink.list {
		if q.Pos == p {
			return true
		}
	}
	return false
}

// Byte sizes of memory_limit.
var byteUnits = map[string]float64{
	"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

// Memory limits below a megabyte cannot run a build; above a petabyte
// they are a typo.
const (
	minMemoryLimit = 1e6
	maxMemoryLimit = 1e15
)

// checkMemoryLimit returns what is wrong with a memory_limit, or "".
func checkMemoryLimit(s string) string {
	m := memoryLimitPattern.FindStringSubmatch(s)
	if m == nil {
		return "write a size such as 512MB or 4GB"
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return "write a size such as 512MB or 4GB"
	}
	bytes := n * byteUnits[m[3]]
	switch {
	case bytes < minMemoryLimit:
		return "must be at least 1MB"
	case bytes > maxMemoryLimit:
		return "must be at most 1000TB"
	}
	return ""
}

// doc describes the bounds for the reference, e.g. "Between 1 and 1024.".
func (b bounds) doc() string {
	switch {
	case b.min != nil && b.gt && b.max != nil:
		return "Above " + fmtNum(*b.min) + ", at most " + fmtNum(*b.max) + "."
	case b.min != nil && b.gt:
		return "Above " + fmtNum(*b.min) + "."
	case b.min != nil && b.max != nil:
		return "Between " + fmtNum(*b.min) + " and " + fmtNum(*b.max) + "."
	case b.min != nil:
		return "At least " + fmtNum(*b.min) + "."
	case b.max != nil:
		return "At most " + fmtNum(*b.max) + "."
	}
	return ""
}

// valuesSection documents, in the reference, which values validate refuses.
func (w *refWriter) valuesSection() {
	w.heading(2, "Values refused")
	w.p("Besides the structure, `sluice validate` checks every value before anything runs, so that no mistake is found later by `build` or `run`; each is reported at the value's `path:line:col`, all in one run:")
	w.p("%s", "- **Empty files and names.** An empty or `null` `sluice.yml` is reported as missing `version`, `name` and `warehouse`. A name (of a source, trait, id type, segment, destination, sync, seed, alert...) or a required value written as `\"\"` counts as missing.\n"+
		"- **Numbers** must be finite and within the bounds given in the tables above (for instance `batch_size` between 1 and 1000000, `threads` between 1 and 1024, `port` between 1 and 65535); a key written with 0 where 0 means nothing (`threads: 0`, `max_rounds: 0`) is refused rather than read as the default. Shares (`rejected_share`, `max_removals`) are percentages between 0% and 100%.\n"+
		"- **Durations** (`window`, `timeout`, `change_log_retention`...) are a positive whole number and a unit, at most 3650d. `memory_limit` is between 1MB and 1000TB.\n"+
		"- **Schedules** are five cron fields, a descriptor such as `@hourly`, or `@every` and a whole number of seconds of at least 1s (`@every -5m` and `@every 0s` are refused).\n"+
		"- **Addresses** (`url`, `base_url`, alert URLs) are absolute `http://` or `https://` URLs with a host, without spaces; a password written in one is refused (pass credentials as `${VAR}` references). An address from the environment is checked too, and never shown.\n"+
		"- **Region codes**: an id type's `default_region` is one of the regions its SQL normalisation supports; a mapping's `default_region` is an ISO 3166 code the phone library knows (FR, GB, US...). An edge's `region` names the column holding each row's code, not a code.\n"+
		"- **Regular expressions** (`blocklist_patterns`) must compile (RE2 syntax).\n"+
		"- **SQL types** (seed `column_types`, trait `type`) must be a type of the project's warehouse: the portable names sluice translates (VARCHAR, BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, DECIMAL(12,2)...) or the warehouse's own (Nullable(String) on ClickHouse, NUMBER(38,0) on Snowflake, INT64 on BigQuery), with parameters of numbers, quoted strings or types; `INTEGR` or `TEXT; DROP TABLE x` is refused.\n"+
		"- **Enumerations** (`mode`, `rule`, `normalize`, `type`, `format`, `on_delete`...) accept the listed values only, with a suggestion for a near miss.\n"+
		"- **List items** of sections are mappings; any other item is reported at its own position.")
}
