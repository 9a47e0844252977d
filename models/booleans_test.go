package models

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/config"
)

func TestIsPredicate(t *testing.T) {
	known := map[string]bool{"email_opt_in": true}
	cases := []struct {
		expr string
		want bool
	}{
		{"coalesce(lifetime_value, 0) >= 500", true},
		{"email IS NOT NULL AND coalesce(email_opt_in, 0) = 1", true},
		{"a <> b", true},
		{"a != b", true},
		{"NOT vip", true},
		{"x BETWEEN 1 AND 2", true},
		{"country IN ('FR', 'DE')", true},
		{"email LIKE '%@x.com'", true},
		{"true", true},
		{"FALSE", true},
		{"email_opt_in", true},
		{`"email_opt_in"`, true},
		{"CAST(flag AS BOOLEAN)", true},
		{"coalesce(email_opt_in, false) OR coalesce(sms_opt_in, false)", true},
		{"orders_count", false},
		{"coalesce(lifetime_value, 0) + 1", false},
		{"CASE WHEN a > 1 THEN 'high' ELSE 'low' END", false},
		{"CASE WHEN a > 1 THEN 1 ELSE 0 END", false},
		{"coalesce(a > 1, 0)", false},
		{"'a = b'", false},
		{"concat(first_name, ' AND ', last_name)", false},
		{"CAST(a AS INTEGER)", false},
		{"CAST(a AS BOOLEAN) + 1", false},
		{"", false},
	}
	for _, c := range cases {
		if got := IsPredicate(c.expr, known); got != c.want {
			t.Errorf("IsPredicate(%q) = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestBooleanColumns(t *testing.T) {
	p := &config.Project{Sections: config.Sections{
		Seeds: []config.Seed{{Name: "crm", Schema: "raw", ColumnTypes: config.Mapping{{Key: "newsletter", Value: "boolean"}, {Key: "phone", Value: "varchar"}}}},
		Sources: []config.Source{
			{Name: "crm", Table: "raw.crm"},
			{Name: "orders", SQL: "SELECT * FROM raw.orders"},
		},
		Traits: []config.Trait{
			{Name: "email_opt_in", From: "crm", Pick: "email_consent"},      // a consent gate below
			{Name: "newsletter", From: "crm", Pick: "newsletter"},           // boolean in its seed
			{Name: "phone", From: "crm", Pick: "phone"},                     // text
			{Name: "ltv", From: "orders", Aggregate: "sum(amount)"},         // a number
			{Name: "vip", Expression: "coalesce(ltv, 0) > 500"},             // a comparison
			{Name: "vip_again", Expression: "vip"},                          // a boolean trait
			{Name: "score", Expression: "CASE WHEN vip THEN 1 ELSE 0 END"},  // a number
			{Name: "flag", From: "crm", Pick: "flag_text", Type: "boolean"}, // cast
			{Name: "consent_text", From: "crm", Pick: "c", Type: "varchar"}, // typed otherwise
		},
		Syncs: []config.Sync{
			{Name: "a", From: "segment.vip", Consent: config.SyncConsent{Gate: "email_opt_in"}},
			{Name: "b", From: "profiles", Consent: config.SyncConsent{Gate: "consent_text"}},
			{Name: "c", From: "source.crm", Consent: config.SyncConsent{Gate: "opt_in"}},
		},
	}}
	cases := []struct {
		from string
		want []string
	}{
		{"profiles", []string{"email_opt_in", "newsletter", "vip", "vip_again", "flag"}},
		{"segment.vip", []string{"email_opt_in", "newsletter", "vip", "vip_again", "flag"}},
		{"source.crm", []string{"opt_in", "newsletter"}},
		{"source.orders", nil},
	}
	for _, c := range cases {
		if got := BooleanColumns(p, c.from); !slices.Equal(got, c.want) {
			t.Errorf("BooleanColumns(%s) = %q, want %q", c.from, got, c.want)
		}
	}
}
