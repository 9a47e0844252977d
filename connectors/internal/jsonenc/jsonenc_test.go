package jsonenc

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"plain", `quote " and \ backslash`, "tab\tnewline\nbell\x07\b\f", "é ü 中文 🎉", "bad \xff utf8 \xc3", "sep \u2028 \u2029", "<script>&"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := AppendText(nil, s); string(got) != strings.TrimSuffix(buf.String(), "\n") {
			t.Errorf("AppendText(%q) = %s, want %s", s, got, buf.String())
		}
	}
}

func TestAppendValueMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"scalars", map[string]any{"s": "text", "t": true, "f": false, "n": nil, "i": int64(-42), "int": 7, "big": int64(math.MaxInt64)}},
		{"floats", []any{0.1, 1e21, 1e20, 1e-7, 1e-6, -0.0, 123456789.125, 5e-324, math.MaxFloat64, -2.5e-10}},
		{"numbers", []any{json.Number("12.50"), json.Number("-0.001"), json.Number("1e+5"), json.Number("")}},
		{"keys sorted and escaped", map[string]any{"z": 1.0, "a": 2.0, "M": 3.0, "<k>": "v", "é": "e"}},
		{"nested", map[string]any{"p": map[string]any{"tags": []any{"a", 1.5, nil, map[string]any{"x": true}}}, "empty": map[string]any{}, "list": []any{}}},
		{"nil containers", map[string]any{"m": map[string]any(nil), "l": []any(nil), "s": []string(nil)}},
		{"other types", map[string]any{"time": time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), "strs": []string{"a", "<b>"}, "raw": json.RawMessage(`{"b": 1, "a": [ 2 ]}`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendValue(nil, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	// What encoding/json refuses is refused.
	for _, v := range []any{math.NaN(), math.Inf(1), json.Number("1.2.3")} {
		if _, err := AppendValue(nil, v); err == nil {
			t.Errorf("%v: no error", v)
		}
	}
}
