package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestScalar(t *testing.T) {
	when := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		in, out any
		err     bool
	}{
		{"nil", nil, nil, false},
		{"string", "a", "a", false},
		{"bytes", []byte("a"), "a", false},
		{"int", int32(3), int32(3), false},
		{"number", json.Number("1.5"), json.Number("1.5"), false},
		{"float32", float32(0.5), 0.5, false},
		{"time", when, when, false},
		{"NaN", math.NaN(), nil, true},
		{"infinite", float32(math.Inf(-1)), nil, true},
		{"list", []any{1}, nil, true},
		{"map", map[string]any{}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Scalar(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("Scalar(%v) error %v, want error %t", tc.in, err, tc.err)
			}
			if err == nil && got != tc.out {
				t.Errorf("Scalar(%v) = %#v, want %#v", tc.in, got, tc.out)
			}
		})
	}
}

func TestObject(t *testing.T) {
	out := map[string]any{"kept": 1}
	err := Object(out, []string{"a", "b", "missing"}, map[string]any{"a": float32(0.5), "b": nil, "other": 2}, Scalar)
	if err != nil || len(out) != 3 || out["a"] != 0.5 || out["b"] != nil || out["kept"] != 1 {
		t.Errorf("Object: %v, %v", out, err)
	}
	err = Object(map[string]any{}, []string{"bad"}, map[string]any{"bad": []int{1}}, Scalar)
	if err == nil || err.Error() != "field bad: a []int is not a string, number, boolean or time" {
		t.Errorf("Object with a list: %v", err)
	}
}
