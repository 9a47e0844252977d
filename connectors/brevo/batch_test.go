package brevo

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestBatchAnswerOutcomes reads the plausible forms of a 2xx answer to
// /contacts/batch for a request of three contacts: ann and bob by e-mail,
// one by SMS number. A = applied, N = not applied, ? = unknown (sent again).
func TestBatchAnswerOutcomes(t *testing.T) {
	three := []*contact{{email: "ann@example.com"}, {email: "Bob@Example.com"}, {sms: "+33612345678"}}
	for _, tc := range []struct {
		name string
		body string
		cs   []*contact
		want string
	}{
		{"204, no body", ``, three, "AAA"},
		{"empty object", `{}`, three, "AAA"},
		{"empty failures", `{"successIds":[0,1,2],"failureIds":[]}`, three, "AAA"},
		{"documented: indexes in both lists", `{"successIds":[0,2],"failureIds":[1]}`, three, "ANA"},
		{"indexes as strings", `{"successIds":["0","2"],"failureIds":["1"]}`, three, "ANA"},
		{"the spec's example form: a comma-separated string", `{"successIds":"0,2","failureIds":"1"}`, three, "ANA"},
		{"identifiers", `{"successIds":["ann@example.com","+33612345678"],"failureIds":["bob@example.com"]}`, three, "ANA"},
		{"identifier failures alone", `{"failureIds":["BOB@example.com"]}`, three, "ANA"},
		{"an SMS number written otherwise", `{"failureIds":["+33 6 12 34 56 78"]}`, three, "AAN"},
		{"identifiers beside contact ids", `{"successIds":[1001,1002],"failureIds":["bob@example.com"]}`, three, "ANA"},
		{"numbers alone may be contact ids", `{"failureIds":[1]}`, three, "???"},
		{"contact ids beside indexes", `{"successIds":[1001,1003],"failureIds":[1]}`, three, "???"},
		{"1-based numbers are not indexes", `{"successIds":[1,3],"failureIds":[2]}`, three, "???"},
		{"an index listed twice", `{"successIds":[0,1],"failureIds":[1]}`, three, "???"},
		{"a failure of an unknown form", `{"successIds":[0,2],"failureIds":[{"code":"x"}]}`, three, "???"},
		{"an identifier not in the request", `{"failureIds":["zed@example.com"]}`, three, "???"},
		{"a named failure beside an unnamed one", `{"failureIds":["bob@example.com",7]}`, three, "?N?"},
		{"fewer successes than contacts", `{"successIds":[0]}`, three, "???"},
		{"no success at all", `{"successIds":[],"failureIds":[]}`, three, "???"},
		{"as many failures as contacts", `{"failureIds":[7,8,9]}`, three, "NNN"},
		{"one contact, a failure", `{"successIds":[],"failureIds":[4711]}`, three[:1], "N"},
		{"one contact, no success", `{"successIds":[]}`, three[:1], "N"},
		{"one contact, a success", `{"successIds":[4711]}`, three[:1], "A"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ans batchAnswer
			if tc.body != "" {
				if err := json.Unmarshal([]byte(tc.body), &ans); err != nil {
					t.Fatal(err)
				}
			}
			got := ""
			for _, o := range ans.outcomes(tc.cs) {
				got += map[outcome]string{applied: "A", notApplied: "N", unknown: "?"}[o]
			}
			if got != tc.want {
				t.Errorf("%s: %s, want %s", tc.body, got, tc.want)
			}
		})
	}
}

func TestRefs(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		want    string
		present bool
	}{
		{``, "[]", false},
		{`null`, "[]", false},
		{`[]`, "[]", true},
		{`[3,4]`, "[#3 #4]", true},
		{`"3, 4"`, "[#3 #4]", true},
		{`5`, "[#5]", true},
		{`["a@example.com",2]`, "[a@example.com #2]", true},
		{`[{"id":1}]`, "[?]", true},
	} {
		rs, present := refs(json.RawMessage(tc.raw))
		out := []string{}
		for _, r := range rs {
			switch {
			case r.isNum:
				out = append(out, fmt.Sprintf("#%d", r.num))
			case r.parsed:
				out = append(out, r.ident)
			default:
				out = append(out, "?")
			}
		}
		if got := fmt.Sprint(out); got != tc.want || present != tc.present {
			t.Errorf("refs(%s) = %s %v, want %s %v", tc.raw, got, present, tc.want, tc.present)
		}
	}
}
