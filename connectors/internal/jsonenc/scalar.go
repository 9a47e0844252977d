package jsonenc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Scalar checks that v, a mapped field's value, is one a vendor's JSON
// field takes: nil, a string, a boolean, a finite number or a time. It
// returns []byte as a string, float32 as float64, and times as they are,
// for the vendor's own format.
func Scalar(v any) (any, error) {
	switch t := v.(type) {
	case nil, string, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, json.Number, time.Time:
		return t, nil
	case float32:
		return Scalar(float64(t))
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, errors.New("a NaN or infinite number has no JSON form")
		}
		return t, nil
	case []byte:
		return string(t), nil
	}
	return nil, fmt.Errorf("a %T is not a string, number, boolean or time", v)
}

// Object sets in out each of names that values holds, converted by conv
// (a vendor's form of Scalar's values); an error names the field.
func Object(out map[string]any, names []string, values map[string]any, conv func(any) (any, error)) error {
	for _, f := range names {
		v, ok := values[f]
		if !ok {
			continue
		}
		cv, err := conv(v)
		if err != nil {
			return fmt.Errorf("field %s: %w", f, err)
		}
		out[f] = cv
	}
	return nil
}
