package redact

import "testing"

func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		values    []string
		want      string
	}{
		{"key in another case", "Duplicate external id: ANN@Example.com", []string{"ann@example.com"}, "Duplicate external id: [key]"},
		{"value inside another", "ann-lee and ann", []string{"ann", "ann-lee"}, "[key] and [key]"},
		{"other address", `Email "bob@example.org" is invalid.`, nil, `Email "[email]" is invalid.`},
		{"regexp characters", "id a+b(c) taken", []string{"a+b(c)"}, "id [key] taken"},
		{"blank values", "nothing to hide", []string{"", "  "}, "nothing to hide"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Message(tc.msg, tc.values...); got != tc.want {
				t.Errorf("Message(%q) = %q, want %q", tc.msg, got, tc.want)
			}
		})
	}
}
