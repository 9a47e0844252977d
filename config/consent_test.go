package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// withAdsDestination registers, for one test, a destination type that
// declares consent purposes, two of them required and gating.
func withAdsDestination(t *testing.T) {
	t.Cleanup(func() {
		registryMu.Lock()
		delete(destinations, "consent_ads")
		registryMu.Unlock()
	})
	RegisterDestination(ComponentSpec{Type: "consent_ads", ConsentPurposes: []ConsentPurpose{
		{Name: "ads_user_data", Required: true, Gate: true, Doc: "may receive the person's data"},
		{Name: "ads_personalization", Required: true, Doc: "may personalise ads"},
		{Name: "email", Doc: "marketing e-mail"},
	}})
}

const consentBase = `sources:
  - { name: crm, table: raw.crm, primary_key: id }
identity:
  id_types: { email: {normalize: email} }
  edges: [{ source: crm, ids: { email: email } }]
traits:
  email: { pick: email }
  email_opt_in: { from: crm, pick: email_opt_in, rule: most_frequent }
  sms_opt_in: { from: crm, pick: sms_opt_in, rule: most_frequent }
  ads_ok: { from: crm, pick: ads_ok, rule: most_frequent }
destinations:
  - { name: hook, type: consent_plain }
  - { name: ads, type: consent_ads }
syncs:`

func TestSyncConsentValidation(t *testing.T) {
	withAdsDestination(t)
	t.Cleanup(func() {
		registryMu.Lock()
		delete(destinations, "consent_plain")
		registryMu.Unlock()
	})
	RegisterDestination(ComponentSpec{Type: "consent_plain"})
	tests := []struct {
		name string
		sync string
		want []string // "line:col: substring", one per problem, in order
	}{
		{"scalar, unchanged", "\n  - {name: s, from: profiles, to: hook, consent: email_opt_in}\n", nil},
		{"good mapping, destination without purposes", `
  - name: s
    from: profiles
    to: hook
    consent:
      email: email_opt_in
      sms: sms_opt_in
`, nil},
		{"good mapping, every required purpose", `
  - name: s
    from: profiles
    to: ads
    consent: {ads_user_data: ads_ok, ads_personalization: ads_ok, email: email_opt_in}
`, nil},
		{"source columns are checked against the warehouse", "\n  - {name: s, from: source.crm, to: hook, consent: {email: whatever}}\n", nil},
		{"unknown trait", `
  - name: s
    from: segment.x
    to: hook
    consent:
      email: emial_opt_in
`, []string{"16:11: unknown segment", "19:14: unknown trait `emial_opt_in` for consent purpose `email`; did you mean `email_opt_in`?"}},
		{"unknown purpose", `
  - name: s
    from: profiles
    to: ads
    consent:
      ads_user_data: ads_ok
      ads_personalisation: ads_ok
`, []string{"19:7: destination `ads` (type consent_ads) needs consent for ads_personalization: map each purpose to a boolean trait under consent:",
			"20:7: destination `ads` (type consent_ads) has no consent purpose `ads_personalisation`; did you mean `ads_personalization`? (purposes: ads_user_data, ads_personalization, email)"}},
		{"missing required purposes, mapping", "\n  - {name: s, from: profiles, to: ads, consent: {email: email_opt_in}}\n",
			[]string{"15:49: destination `ads` (type consent_ads) needs consent for ads_user_data and ads_personalization: map each purpose to a boolean trait under consent:"}},
		{"missing required purposes, scalar", "\n  - {name: s, from: profiles, to: ads, consent: ads_ok}\n",
			[]string{"15:49: destination `ads` (type consent_ads) needs consent for ads_user_data and ads_personalization"}},
		{"missing required purposes, no consent", "\n  - {name: s, from: profiles, to: ads}\n",
			[]string{"15:5: destination `ads` (type consent_ads) needs consent for ads_user_data and ads_personalization"}},
		{"duplicate purpose", `
  - name: s
    from: profiles
    to: hook
    consent:
      email: email_opt_in
      email: sms_opt_in
`, []string{"20:7: duplicate key `email` (first at line 19)"}},
		{"empty scalar", "\n  - {name: s, from: profiles, to: hook, consent: ''}\n", []string{"15:50: consent is empty"}},
		{"empty mapping", "\n  - {name: s, from: profiles, to: hook, consent: {}}\n", []string{"15:50: consent is an empty mapping"}},
		{"purpose without trait", "\n  - {name: s, from: profiles, to: hook, consent: {email: }}\n", []string{"15:58: consent purpose `email` needs a boolean trait, got null"}},
		{"invalid purpose name", "\n  - {name: s, from: profiles, to: hook, consent: {Email: email_opt_in}}\n", []string{"15:51: invalid consent purpose \"Email\""}},
		{"a list", "\n  - {name: s, from: profiles, to: hook, consent: [email_opt_in]}\n", []string{"15:50: `consent`: expected a boolean trait name or a mapping of purpose to trait, got a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, map[string]string{"sluice.yml": minimalRoot, "p.yml": consentBase + tt.sync}, nil)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], "p.yml:"+w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], "p.yml:"+w)
				}
			}
		})
	}
}

func TestSyncConsentDecoding(t *testing.T) {
	dir := writeProject(t, map[string]string{"sluice.yml": minimalRoot, "p.yml": consentBase + `
  - {name: scalar, from: profiles, to: hook, consent: email_opt_in}
  - name: purposes
    from: profiles
    to: hook
    consent:
      sms: sms_opt_in
      email: email_opt_in
      newsletter: email_opt_in
  - {name: none, from: profiles, to: hook}
`})
	p, err := Load(dir, Options{})
	var probs Problems
	if errors.As(err, &probs) && len(probs) == 2 && strings.Contains(probs[0].Message, "unknown destination type") {
		err = nil // neither test type is registered here
	}
	if err != nil {
		t.Fatal(err)
	}
	scalar, purposes, none := p.Syncs[0].Consent, p.Syncs[1].Consent, p.Syncs[2].Consent
	if scalar.Gate != "email_opt_in" || len(scalar.Purposes) != 0 || !slices.Equal(scalar.Columns(), []string{"email_opt_in"}) {
		t.Errorf("scalar consent = %+v", scalar)
	}
	if purposes.Gate != "" || !slices.Equal(purposes.PurposeNames(), []string{"sms", "email", "newsletter"}) ||
		!slices.Equal(purposes.Columns(), []string{"sms_opt_in", "email_opt_in"}) {
		t.Errorf("purpose consent = %+v, columns %v", purposes, purposes.Columns())
	}
	if at := purposes.Purposes[1]; at.PurposeAt.Line != 21 || at.FromAt.Col != 14 {
		t.Errorf("positions of email = %v, %v; want line 21, column 14", at.PurposeAt, at.FromAt)
	}
	if none.IsSet() || !scalar.IsSet() || !purposes.IsSet() {
		t.Errorf("IsSet: none %v, scalar %v, purposes %v", none.IsSet(), scalar.IsSet(), purposes.IsSet())
	}
}

func TestGatingPurposes(t *testing.T) {
	c := SyncConsent{Purposes: []PurposeConsent{{Purpose: "email", From: "a"}, {Purpose: "ads_user_data", From: "b"}, {Purpose: "ads_personalization", From: "c"}}}
	declared := []ConsentPurpose{{Name: "ads_user_data", Gate: true}, {Name: "ads_personalization"}, {Name: "email"}}
	for _, tt := range []struct {
		name     string
		declared []ConsentPurpose
		want     []string
	}{
		{"no declared purposes: every purpose gates", nil, []string{"email", "ads_user_data", "ads_personalization"}},
		{"declared gates", declared, []string{"ads_user_data"}},
		{"declared, none gating: every purpose gates", declared[1:], []string{"email", "ads_user_data", "ads_personalization"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := SyncConsent{Purposes: GatingPurposes(c, tt.declared)}.PurposeNames()
			if !slices.Equal(got, tt.want) {
				t.Errorf("GatingPurposes = %v, want %v", got, tt.want)
			}
		})
	}
}

// The JSON Schema takes both forms of consent and nothing else.
func TestConsentSchema(t *testing.T) {
	schema := loadSchema(t, SectionsSchema, nil)
	for _, tt := range []struct {
		name, consent string
		ok            bool
	}{
		{"a trait", "email_opt_in", true},
		{"purposes", "{email: email_opt_in, ads_user_data: ads_ok}", true},
		{"a list", "[email_opt_in]", false},
		{"an empty trait", "''", false},
		{"a purpose not a name", "{Email: email_opt_in}", false},
		{"a purpose without trait", "{email: }", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			errs := validateYAML(t, schema, "syncs:\n  - {name: s, from: profiles, to: d, consent: "+tt.consent+"}\n")
			if (len(errs) == 0) != tt.ok {
				t.Errorf("consent: %s: schema errors %q, want ok = %v", tt.consent, errs, tt.ok)
			}
		})
	}
}

// The reference lists the consent purposes a destination type declares.
func TestConsentPurposesInReference(t *testing.T) {
	md := string(referenceMarkdown([]ComponentSpec{{Kind: "destination", Type: "ads", ConsentPurposes: []ConsentPurpose{
		{Name: "ads_user_data", Required: true, Gate: true, Doc: "may receive the data"},
		{Name: "email", Doc: "marketing e-mail"},
	}}}))
	for _, want := range []string{
		"- `ads_user_data` (required, gates sending): may receive the data",
		"- `email`: marketing e-mail",
		"| `consent` | string, or mapping of purpose to string | no |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}
