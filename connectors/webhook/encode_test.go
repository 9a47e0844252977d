package webhook

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// The hand-written encoder must write exactly what json.Marshal writes, for
// every value a mapping produces and for anything else.
func TestAppendPayloadMatchesEncodingJSON(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]any
	}{
		{"empty", map[string]any{}},
		{"nil fields", nil},
		{"scalars", map[string]any{"s": "text", "t": true, "f": false, "n": nil, "i": int64(-42), "big": int64(math.MaxInt64)}},
		{"floats", map[string]any{"a": 0.1, "b": 1e21, "c": 1e20, "d": 1e-7, "e": 1e-6, "f": -0.0, "g": 123456789.125, "h": 5e-324, "i": math.MaxFloat64, "j": -2.5e-10}},
		{"numbers", map[string]any{"a": json.Number("12.50"), "b": json.Number("-0.001"), "c": json.Number("1e+5"), "d": json.Number("")}},
		{"escapes", map[string]any{"html": "<a href=\"x\">&amp;</a>", "ctl": "a\tb\nc\rd\be\ff\x00\x1f", "slash": `back\slash`, "uni": "é 漢字 🙂", "seps": "a\u2028b\u2029c", "bad": "x\xffy\xc3"}},
		{"keys sorted and escaped", map[string]any{"z": 1.0, "a": 2.0, "M": 3.0, "<k>": "v", "é": "e"}},
		{"nested", map[string]any{"properties": map[string]any{"ltv": json.Number("123.45"), "orders": int64(7), "tags": []any{"a", 1.5, nil, map[string]any{"x": true}}}, "empty": map[string]any{}, "list": []any{}}},
		{"nil containers", map[string]any{"m": map[string]any(nil), "l": []any(nil)}},
		{"other types", map[string]any{"time": time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), "strs": []string{"a", "<b>"}, "int": 3, "raw": json.RawMessage(`{"b": 1, "a": [ 2 ]}`)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &Payload{Sync: "s<1>", RunID: "r&1", Mode: "mirror", Operations: []Operation{
				{Op: "upsert", Key: "k\"1", Fields: c.fields},
				{Op: "delete", Key: "k2", Fields: map[string]any{"email": "k2"}},
			}}
			want, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendPayload(nil, p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	for _, p := range []*Payload{
		{Sync: "s", RunID: "check", Operations: []Operation{}},
		{Sync: "s", RunID: "r", List: "vip", Operations: nil},
	} {
		want, _ := json.Marshal(p)
		if got, err := appendPayload(nil, p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("got %s (%v), want %s", got, err, want)
		}
	}
	// What encoding/json refuses is refused.
	for _, v := range []any{math.NaN(), math.Inf(1), json.Number("1.2.3")} {
		p := &Payload{Operations: []Operation{{Fields: map[string]any{"v": v}}}}
		if _, err := appendPayload(nil, p); err == nil {
			t.Errorf("%v: no error", v)
		}
	}
}
