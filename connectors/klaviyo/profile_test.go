package klaviyo

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
)

func TestPlanFields(t *testing.T) {
	tests := []struct {
		fields   []string
		channels []string
		custom   []string
		err      string // "" when valid
	}{
		{fields: []string{"email", "phone_number", "first_name", "location.city", "properties.ltv"}},
		{fields: []string{"email", "subscriptions.sms.marketing.consent", "subscriptions.email.marketing.consent", "subscriptions.email.marketing.consented_at"},
			channels: []string{"email", "sms"}},
		{fields: []string{"email", "name", "score"}, custom: []string{"name", "score"}},
		{fields: []string{"email", "frist_name"}, err: "field frist_name is not a Klaviyo profile attribute; did you mean `first_name`? (custom properties are written properties.frist_name)"},
		{fields: []string{"email", "location.cty"}, err: "did you mean `city`?"},
		{fields: []string{"email", "location"}, err: "location takes address1"},
		{fields: []string{"email", "properties"}, err: "as properties.NAME"},
		{fields: []string{"email", "id"}, err: "Klaviyo's own profile id"},
		{fields: []string{"email.domain"}, err: "has no sub-fields"},
		{fields: []string{"subscriptions.whatsapp.marketing.consent"}, err: "sluice drives the email and sms channels"},
		{fields: []string{"subscriptions.email.consent"}, err: "consent fields are subscriptions.CHANNEL.marketing.consent"},
		{fields: []string{"subscriptions.sms.marketing.consented_at"}, err: "needs subscriptions.sms.marketing.consent too"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.fields, ","), func(t *testing.T) {
			p, err := planFields(tc.fields)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(p.channels) != fmt.Sprint(tc.channels) && (len(p.channels) > 0 || len(tc.channels) > 0) {
				t.Errorf("channels %v, want %v", p.channels, tc.channels)
			}
			if fmt.Sprint(p.custom) != fmt.Sprint(tc.custom) && (len(p.custom) > 0 || len(tc.custom) > 0) {
				t.Errorf("custom %v, want %v", p.custom, tc.custom)
			}
		})
	}
}

func TestProfile(t *testing.T) {
	plan, err := planFields([]string{"email", "phone_number", "external_id", "first_name", "location.city", "location.latitude", "properties.ltv", "properties.tags", "score",
		"subscriptions.email.marketing.consent", "subscriptions.email.marketing.consented_at", "subscriptions.sms.marketing.consent"})
	if err != nil {
		t.Fatal(err)
	}
	sub := func(email, emailAt, sms any) map[string]any {
		return map[string]any{
			"email": map[string]any{"marketing": map[string]any{"consent": email, "consented_at": emailAt}},
			"sms":   map[string]any{"marketing": map[string]any{"consent": sms}},
		}
	}
	tests := []struct {
		name    string
		fields  map[string]any
		json    string // the profile resource
		consent string // fmt of the consent map
		err     string
	}{
		{name: "attributes, location, properties, custom",
			fields: map[string]any{"email": "Ann@Example.com", "first_name": "Ann \"A\"", "external_id": int64(42),
				"location":   map[string]any{"city": "Lyon", "latitude": json.Number("45.75")},
				"properties": map[string]any{"ltv": json.Number("1250.50"), "tags": []any{"a", "b"}}, "score": int64(7)},
			json: `{"type":"profile","attributes":{"email":"Ann@Example.com","external_id":"42","first_name":"Ann \"A\"","location":{"city":"Lyon","latitude":45.75},"properties":{"ltv":1250.50,"score":7,"tags":["a","b"]}}}`},
		{name: "nulls clear attributes and unset properties",
			fields: map[string]any{"email": "a@example.com", "first_name": nil, "properties": map[string]any{"ltv": nil}, "score": nil},
			json:   `{"type":"profile","attributes":{"email":"a@example.com","first_name":null},"meta":{"patch_properties":{"unset":["ltv","score"]}}}`},
		{name: "consent with a time, sms unknown",
			fields:  map[string]any{"email": "a@example.com", "subscriptions": sub(true, "2025-03-01T12:00:00Z", nil)},
			json:    `{"type":"profile","attributes":{"email":"a@example.com"}}`,
			consent: "map[email:{1 2025-03-01T12:00:00Z} sms:{0 }]"},
		{name: "consent as words, a date for the time",
			fields:  map[string]any{"phone_number": "+33612345678", "subscriptions": sub("yes", "2025-03-01", "UNSUBSCRIBED")},
			json:    `{"type":"profile","attributes":{"phone_number":"+33612345678"}}`,
			consent: "map[email:{1 2025-03-01T00:00:00Z} sms:{2 }]"},
		{name: "no identifier", fields: map[string]any{"first_name": "Ann"}, err: "no email, phone_number or external_id"},
		{name: "phone not E.164", fields: map[string]any{"phone_number": "06 12 34 56 78"}, err: "not in E.164 format"},
		{name: "bad consent", fields: map[string]any{"email": "a@example.com", "subscriptions": sub("maybe", nil, nil)}, err: "subscriptions.email.marketing.consent: expected true or false"},
		{name: "bad consent time", fields: map[string]any{"email": "a@example.com", "subscriptions": sub(true, "last week", nil)}, err: "consented_at is not a date or time"},
		{name: "text attribute given a list", fields: map[string]any{"email": "a@example.com", "first_name": []any{"x"}}, err: "first_name must be text"},
		{name: "bad latitude", fields: map[string]any{"email": "a@example.com", "location": map[string]any{"latitude": "north"}}, err: "location.latitude must be a number"},
		{name: "too big", fields: map[string]any{"email": "a@example.com", "properties": map[string]any{"blob": strings.Repeat("x", 110<<10)}}, err: "above Klaviyo's 100 KB per profile"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := plan.profile(destination.Record{Op: destination.OpUpsert, Key: "k", Fields: tc.fields})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(p.json) != tc.json {
				t.Errorf("json\n got %s\nwant %s", p.json, tc.json)
			}
			if !json.Valid(p.json) {
				t.Errorf("not valid JSON: %s", p.json)
			}
			if tc.consent != "" && fmt.Sprint(p.consent) != tc.consent {
				t.Errorf("consent %v, want %s", p.consent, tc.consent)
			}
		})
	}
}

func TestSplitJobs(t *testing.T) {
	mk := func(sizes ...int) []*profile {
		out := make([]*profile, len(sizes))
		for i, n := range sizes {
			out[i] = &profile{idx: i, json: make([]byte, n)}
		}
		return out
	}
	tests := []struct {
		name     string
		sizes    []int
		maxN     int
		maxBytes int
		want     string // sizes of the jobs
	}{
		{"one job", []int{10, 10, 10}, 10, 1000, "[3]"},
		{"by count", []int{1, 1, 1, 1, 1}, 2, 1000, "[2 2 1]"},
		{"by size", []int{40, 40, 40, 40}, 10, 100, "[2 2]"},
		{"a big one alone", []int{10, 95, 10}, 10, 100, "[1 1 1]"},
		{"empty", nil, 10, 100, "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs := splitJobs(mk(tc.sizes...), tc.maxN, tc.maxBytes)
			var got []int
			total := 0
			for _, j := range jobs {
				got = append(got, len(j))
				total += len(j)
			}
			if fmt.Sprint(got) != tc.want && !(len(got) == 0 && tc.want == "[]") {
				t.Errorf("jobs %v, want %s", got, tc.want)
			}
			if total != len(tc.sizes) {
				t.Errorf("%d profiles in jobs, want %d", total, len(tc.sizes))
			}
		})
	}
}

func TestJobBodyIsValidJSON(t *testing.T) {
	ps := []*profile{{json: []byte(`{"type":"profile","attributes":{"email":"a@example.com"}}`)}, {json: []byte(`{"type":"profile","attributes":{"email":"b@example.com"}}`)}}
	for _, list := range []string{"", "Ab12Cd"} {
		b := jobBody(ps, list)
		var doc struct {
			Data struct {
				Type       string
				Attributes struct {
					Profiles struct{ Data []json.RawMessage }
				}
				Relationships struct {
					Lists struct{ Data []struct{ Type, ID string } }
				}
			}
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if doc.Data.Type != "profile-bulk-import-job" || len(doc.Data.Attributes.Profiles.Data) != 2 {
			t.Errorf("body %s", b)
		}
		if list != "" && (len(doc.Data.Relationships.Lists.Data) != 1 || doc.Data.Relationships.Lists.Data[0].ID != list) {
			t.Errorf("list relationship missing: %s", b)
		}
	}
}

func TestProfileIndex(t *testing.T) {
	for ptr, want := range map[string]int{
		"/data/attributes/profiles/data/3/attributes/phone_number": 3,
		"/data/attributes/profiles/data/12":                        12,
		"/data/attributes/profiles":                                -1,
		"/data/relationships/lists/data/0/id":                      -1,
		"":                                                         -1,
	} {
		got, ok := profileIndex(ptr)
		if (want < 0 && ok) || (want >= 0 && (!ok || got != want)) {
			t.Errorf("profileIndex(%q) = %d, %v; want %d", ptr, got, ok, want)
		}
	}
}

func TestEndpointTableMatchesSpecLimits(t *testing.T) {
	// The limits sluice paces by are Klaviyo's published ones.
	spec := readSpec(t)
	for _, e := range endpoints {
		op := spec.Paths[e.path][strings.ToLower(e.method)]
		if op == nil {
			t.Errorf("%s %s is not in Klaviyo's API description", e.method, e.path)
			continue
		}
		want := fmt.Sprintf("%d/s %d/m", e.burst, e.steady)
		got := op.RateLimit.Burst + " " + op.RateLimit.Steady
		if got != want {
			t.Errorf("%s %s: sluice paces at %s, Klaviyo publishes %s", e.method, e.path, want, got)
		}
		if e.daily > 0 && op.RateLimit.Daily != fmt.Sprintf("%d/d", e.daily) {
			t.Errorf("%s %s: daily limit %d, Klaviyo publishes %s", e.method, e.path, e.daily, op.RateLimit.Daily)
		}
		if strings.Join(op.Scopes, ", ") != e.scopes {
			t.Errorf("%s %s: scopes %q, Klaviyo lists %q", e.method, e.path, e.scopes, strings.Join(op.Scopes, ", "))
		}
	}
}
