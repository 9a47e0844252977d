package mapping

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/config"
)

func TestApply(t *testing.T) {
	tests := []struct {
		tx     string
		in     any
		region string
		want   any
		ok     bool
	}{
		{"trim", "  a b ", "", "a b", true},
		{"lower", "ÉCOLE", "", "école", true},
		{"upper", "abc", "", "ABC", true},
		{"email", "  Jane.Doe@Example.COM ", "", "jane.doe@example.com", true},
		{"email", "   ", "", nil, true},
		{"phone_e164", "06 12 34 56 78", "FR", "+33612345678", true},
		{"phone_e164", "0033 6 12 34 56 78", "FR", "+33612345678", true},
		{"phone_e164", "+1 (404) 332-2530", "", "+14043322530", true},
		{"phone_e164", "(404) 332-2530", "US", "+14043322530", true},
		{"phone_e164", "12", "FR", nil, false},
		{"phone_e164", "06 12 34 56 78", "", nil, false}, // national number, no region
		{"sha256", "jane@example.com", "", "8c87b489ce35cf2e2f39f80e282cb2e804932a56a213983eeeb428407d43b52d", true},
		{"string", int64(42), "", "42", true},
		{"string", 1.5, "", "1.5", true},
		{"integer", "42", "", int64(42), true},
		{"integer", 42.0, "", int64(42), true},
		{"integer", 42.5, "", nil, false},
		{"integer", "x", "", nil, false},
		{"number", "12.50", "", json.Number("12.50"), true},
		{"number", int64(3), "", int64(3), true},
		{"boolean", "yes", "", true, true},
		{"boolean", int64(0), "", false, true},
		{"boolean", "maybe", "", nil, false},
		{"date", "2024-03-01T10:20:30Z", "", "2024-03-01", true},
		{"timestamp", "2024-03-01 10:20:30", "", "2024-03-01T10:20:30Z", true},
		{"date", "soon", "", nil, false},
		{"email", nil, "", nil, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s(%v)", tt.tx, tt.in), func(t *testing.T) {
			got, ok := Apply(tt.tx, tt.in, tt.region)
			if ok != tt.ok || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Apply(%s, %v) = %v, %v; want %v, %v", tt.tx, tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	ts := time.Date(2024, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		in   any
		want string
	}{
		{int32(7), "7"},
		{uint64(1 << 63), `"9223372036854775808"`},
		{ts, `"2024-03-01T09:00:00Z"`},
		{big.NewInt(12345), "12345"},
		{[]byte("x"), `"x"`},
		{[]any{int16(1), "a"}, `[1,"a"]`},
	} {
		b, err := json.Marshal(Normalize(tt.in))
		if err != nil || (string(b) != tt.want && !(tt.want[0] == '"' && string(b) == tt.want[1:len(tt.want)-1])) {
			t.Errorf("Normalize(%v) = %s (%v), want %s", tt.in, b, err, tt.want)
		}
	}
}

func node(v string) config.Value {
	var n yaml.Node
	_ = yaml.Unmarshal([]byte(v), &n)
	return config.Value{Node: n.Content[0]}
}

func TestRecord(t *testing.T) {
	m := config.FieldMappings{
		{Field: "email", From: "email", Transform: []string{"email"}},
		{Field: "properties.ltv", From: "ltv"},
		{Field: "properties.tier", From: "tier", Nulls: "clear"},
		{Field: "phone", From: "phone", Transform: []string{"phone_e164"}, DefaultRegion: "FR"},
		{Field: "source", Value: node("sluice")},
		{Field: "version", Value: node("2")},
		{Field: "name"},
	}
	mp, err := New(m, []string{"email", "ltv", "tier", "phone", "name"}, "email", "skip", []string{"phone"})
	if err != nil {
		t.Fatal(err)
	}
	rec := mp.Record("a@x.com", []any{" A@X.com", 12.5, nil, "06 12 34 56 78", nil})
	b, _ := json.Marshal(rec)
	want := `{"email":"a@x.com","phone":"+33612345678","properties":{"ltv":12.5,"tier":null},"source":"sluice","version":2}`
	if string(b) != want {
		t.Errorf("record = %s\nwant     %s", b, want)
	}
	if kept := mp.Removal(rec); fmt.Sprint(kept) != "map[phone:+33612345678]" {
		t.Errorf("removal fields = %v", kept)
	}
	b, _ = json.Marshal(mp.RemovalRecord("a@x.com", map[string]any{"phone": "+33612345678"}))
	if string(b) != `{"email":"a@x.com","phone":"+33612345678"}` {
		t.Errorf("removal record = %s", b)
	}
	mp.Record("b@x.com", []any{"b@x.com", 1, "x", "bad", "B"})
	if f := mp.Failures(); f["phone"] != 1 {
		t.Errorf("failures = %v", f)
	}
	// The key field carries the warehouse's key even when mapped from a column.
	if rec := mp.Record("warehouse-key", []any{"other", 1, nil, nil, nil}); rec["email"] != "warehouse-key" {
		t.Errorf("key field = %v", rec["email"])
	}
	// Without the key in the mapping, it is added under its name.
	mp2, _ := New(config.FieldMappings{{Field: "name"}}, []string{"name"}, "profile_id", "", nil)
	if rec := mp2.Record("p1", []any{"Ann"}); fmt.Sprint(rec) != "map[name:Ann profile_id:p1]" {
		t.Errorf("record = %v", rec)
	}
}

// Columns the model says are boolean send 0 and 1 as false and true, as a
// warehouse with a boolean type would; other values and columns are left
// alone.
func TestBooleans(t *testing.T) {
	m := config.FieldMappings{{Field: "id"}, {Field: "opt_in", From: "OPT_IN"}, {Field: "orders"}, {Field: "flag", From: "flag", Transform: []string{"string"}}}
	mp, err := New(m, []string{"id", "opt_in", "orders", "flag"}, "id", "clear", nil)
	if err != nil {
		t.Fatal(err)
	}
	mp.Booleans([]string{"Opt_In", "flag"})
	for _, tt := range []struct {
		row  []any
		want string
	}{
		{[]any{"a", uint8(1), int64(1), uint8(0)}, `{"flag":"false","id":"a","opt_in":true,"orders":1}`},
		{[]any{"b", uint8(0), int64(0), uint8(1)}, `{"flag":"true","id":"b","opt_in":false,"orders":0}`},
		{[]any{"c", nil, nil, nil}, `{"flag":null,"id":"c","opt_in":null,"orders":null}`},
		{[]any{"d", true, int64(2), int64(7)}, `{"flag":"7","id":"d","opt_in":true,"orders":2}`},
	} {
		b, _ := json.Marshal(mp.Record(tt.row[0].(string), tt.row))
		if string(b) != tt.want {
			t.Errorf("record of %v = %s, want %s", tt.row, b, tt.want)
		}
	}
}

func TestConsent(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want string // true, false or nil
	}{
		{nil, "nil"}, {true, "true"}, {false, "false"},
		{int32(1), "true"}, {int64(0), "false"}, {uint8(1), "true"}, {int64(2), "false"},
		{"1", "true"}, {"0", "false"}, {" TRUE ", "true"}, {"yes", "false"}, {[]byte("1"), "true"},
		{1.0, "true"}, {json.Number("1"), "true"}, {json.Number("0"), "false"},
	} {
		got := "nil"
		if v := Consent(tt.in); v != nil {
			got = strconv.FormatBool(*v)
		}
		if got != tt.want {
			t.Errorf("Consent(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
