package brevo

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
)

func TestAttributeName(t *testing.T) {
	for _, tc := range []struct{ field, want string }{
		{"first_name", "FIRSTNAME"},
		{"FirstName", "FIRSTNAME"},
		{"last_name", "LASTNAME"},
		{"sms", "SMS"},
		{"lifetime_value", "LIFETIME_VALUE"},
		{"rfm", "RFM"},
		{"Country", "COUNTRY"},
	} {
		if got := AttributeName(tc.field); got != tc.want {
			t.Errorf("AttributeName(%q) = %q, want %q", tc.field, got, tc.want)
		}
	}
}

func TestE164(t *testing.T) {
	for _, tc := range []struct {
		in      any
		want    string
		wantErr string
	}{
		{"+33612345678", "+33612345678", ""},
		{" +33 6 12 34 56 78 ", "+33612345678", ""},
		{"+1 (404) 332-2530", "+14043322530", ""},
		{"+4915592541877", "+4915592541877", ""},
		{"0612345678", "", "E.164 form"},             // national: not guessed
		{"0033612345678", "", "E.164 form"},          // international prefix, not +
		{"+3361234", "", "not a valid phone number"}, // too short
		{"+999123456789", "", "not a valid phone number"},
		{"call me maybe", "", "E.164 form"},
		{true, "", "expected a phone number"},
	} {
		got, err := E164(tc.in)
		switch {
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("E164(%v) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("E164(%v) = %q, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), fmt.Sprint(tc.in)) && fmt.Sprint(tc.in) != "true":
			t.Errorf("the message repeats the number: %v", err)
		}
	}
}

func TestToContact(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     string
		fields  []string // the sync's fields, for the channels
		rec     destination.Record
		want    string // the /contacts/batch item, as JSON
		wantErr string
	}{
		{
			name: "email key, default and custom attributes",
			key:  "email", fields: []string{"email", "first_name", "lifetime_value"},
			rec:  destination.Record{Op: destination.OpUpsert, Key: "ann@example.com", Fields: map[string]any{"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "lifetime_value": json.Number("1250.50")}},
			want: `{"attributes":{"FIRSTNAME":"Ann","LASTNAME":"Lee","LIFETIME_VALUE":1250.50},"email":"ann@example.com"}`,
		},
		{
			name: "explicit attribute names are verbatim, other nesting is flattened",
			key:  "email",
			rec:  destination.Record{Op: destination.OpUpsert, Key: "ann@example.com", Fields: map[string]any{"attributes": map[string]any{"Loyalty_Tier": "gold"}, "properties": map[string]any{"ltv": int64(3)}}},
			want: `{"attributes":{"Loyalty_Tier":"gold","PROPERTIES_LTV":3},"email":"ann@example.com"}`,
		},
		{
			name: "SMS key: identified by sms, e-mail kept as identifier-free data",
			key:  "SMS", fields: []string{"SMS", "email"},
			rec:  destination.Record{Op: destination.OpAdd, Key: "+33612345678", Fields: map[string]any{"SMS": "+33612345678", "email": "ann@example.com"}},
			want: `{"attributes":{"SMS":"+33612345678"},"email":"ann@example.com"}`,
		},
		{
			name: "SMS attribute normalised, ext_id set",
			key:  "email",
			rec:  destination.Record{Op: destination.OpUpsert, Key: "ann@example.com", Fields: map[string]any{"SMS": "+33 6 12 34 56 78", "ext_id": "P1"}},
			want: `{"attributes":{"SMS":"+33612345678"},"email":"ann@example.com","ext_id":"P1"}`,
		},
		{
			name: "consent fields drive blacklist flags, negated",
			key:  "email", fields: []string{"email_consent", "sms_consent"},
			rec:  destination.Record{Op: destination.OpUpsert, Key: "ann@example.com", Fields: map[string]any{"email_consent": true, "sms_consent": false}},
			want: `{"email":"ann@example.com","emailBlacklisted":false,"smsBlacklisted":true}`,
		},
		{
			name: "blacklist fields as they are; null leaves the flag",
			key:  "email",
			rec:  destination.Record{Op: destination.OpUpsert, Key: "ann@example.com", Fields: map[string]any{"emailBlacklisted": "true", "smsBlacklisted": nil}},
			want: `{"email":"ann@example.com","emailBlacklisted":true}`,
		},
		{
			name:    "a bad phone is the record's rejection",
			key:     "email",
			rec:     destination.Record{Op: destination.OpUpsert, Key: "ann@example.com", Fields: map[string]any{"SMS": "06 12 34 56 78"}},
			wantErr: "E.164",
		},
		{
			name:    "a bad SMS key too",
			key:     "SMS",
			rec:     destination.Record{Op: destination.OpAdd, Key: "+33123"},
			wantErr: "not a valid phone number",
		},
		{
			name:    "a consent that is not a boolean",
			key:     "email",
			rec:     destination.Record{Op: destination.OpUpsert, Key: "ann@example.com", Fields: map[string]any{"email_consent": int64(1)}},
			wantErr: "email_consent: expected true or false",
		},
		{
			name:    "ext_id removal without e-mail or SMS",
			key:     "ext_id",
			rec:     destination.Record{Op: destination.OpDelete, Key: "P1", Fields: map[string]any{"ext_id": "P1"}},
			wantErr: "removal_fields",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, err := keyKind(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			c, err := newMapping(tc.fields, kind).toContact(0, tc.rec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(c.batchItem(0, 0))
			if string(got) != tc.want {
				t.Errorf("batch item\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestChannels(t *testing.T) {
	for _, tc := range []struct {
		key        string
		fields     []string
		email, sms bool
	}{
		{"email", []string{"email", "first_name"}, true, false},
		{"SMS", []string{"SMS"}, false, true},
		{"email", []string{"email", "sms_consent"}, false, true},
		{"SMS", []string{"SMS", "email_consent", "smsBlacklisted"}, true, true},
		{"ext_id", []string{"ext_id", "email"}, false, false},
	} {
		kind, _ := keyKind(tc.key)
		m := newMapping(tc.fields, kind)
		if m.email != tc.email || m.sms != tc.sms {
			t.Errorf("key %s, fields %v: channels email=%v sms=%v, want %v %v", tc.key, tc.fields, m.email, m.sms, tc.email, tc.sms)
		}
	}
}

func TestKeyKind(t *testing.T) {
	for _, k := range []string{"email", "SMS", "sms", "ext_id"} {
		if _, err := keyKind(k); err != nil {
			t.Errorf("key %s: %v", k, err)
		}
	}
	if _, err := keyKind("profile_id"); err == nil || !strings.Contains(err.Error(), "email, SMS") {
		t.Errorf("key profile_id: %v", err)
	}
}

func TestParseIndexes(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		n    int
		want string
		ok   bool
	}{
		{"No contact found for indexes 3,4", 5, "map[3:true 4:true]", true},
		{"No contact found for indexes 0", 1, "map[0:true]", true},
		{"No contact found for index: 2, 7", 8, "map[2:true 7:true]", true},
		{"No contact found for indexes 9", 5, "", false}, // out of range: do not trust it
		{"Contact does not exist", 5, "", false},
	} {
		got, ok := parseIndexes(tc.msg, tc.n)
		if ok != tc.ok || (ok && fmt.Sprint(got) != tc.want) {
			t.Errorf("parseIndexes(%q) = %v, %v; want %s, %v", tc.msg, got, ok, tc.want, tc.ok)
		}
	}
}
