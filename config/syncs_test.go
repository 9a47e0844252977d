package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const syncBase = `sources:
  - { name: crm, table: raw.crm, primary_key: id }
  - { name: pairs, table: raw.pairs, primary_key: [a, b] }
identity:
  id_types: { email: {normalize: email} }
  edges: [{ source: crm, ids: { email: email } }]
traits:
  email: { pick: email }
  opt_in: { from: crm, pick: opt_in, rule: most_frequent }
segments:
  - { name: vip, where: "true" }
destinations:
  - { name: d, type: anything }
`

func TestSyncValidation(t *testing.T) {
	tests := []struct {
		name string
		sync string
		want []string // substrings, one per problem, in order
	}{
		{"valid, every feature", `
  - name: s
    from: segment.vip
    to: d
    mode: mirror
    key: email
    mapping:
      email: {from: email, transform: email}
      hashed: {from: email, transform: [email, sha256]}
      properties.id: profile_id
      phone: {from: email, transform: phone_e164, default_region: FR}
      opt_in:
      source: {value: sluice}
      n: {value: 3}
    nulls: clear
    consent: opt_in
    rate: 2.5
    batch_size: 100
    max_removals: 5%
    removal_fields: [hashed]
    change_log_retention: 7d
`, nil},
		{"max_removals as a count", "\n  - {name: s, from: profiles, to: d, max_removals: 500}\n", nil},
		{"source key defaults to the primary key", "\n  - {name: s, from: source.crm, to: d}\n", nil},
		{"unknown column and transform", `
  - name: s
    from: profiles
    to: d
    mapping:
      email: {from: emial, transform: emial}
`, []string{"unknown column `emial`: profiles have profile_id and the traits' columns; did you mean `email`?", "unknown transform `emial`; did you mean `email`?"}},
		{"key transform the warehouse cannot apply", `
  - name: s
    from: profiles
    to: d
    key: phone
    mapping: {phone: {from: email, transform: phone_e164, default_region: FR}}
`, []string{"key `phone` uses transform phone_e164, which the warehouse cannot apply"}},
		{"constant key", "\n  - {name: s, from: profiles, to: d, key: k, mapping: {k: {value: x}}}\n", []string{"key `k` is a constant"}},
		{"from and value", "\n  - {name: s, from: profiles, to: d, mapping: {k: {from: email, value: x}}}\n", []string{"has both from and value"}},
		{"list as a value", "\n  - {name: s, from: profiles, to: d, mapping: {k: {value: [1]}}}\n", []string{"value must be a string, a number or a boolean"}},
		{"nested field under a valued field", "\n  - {name: s, from: profiles, to: d, mapping: {p: email, p.x: email}}\n", []string{"field `p.x` nests inside field `p`"}},
		{"empty nested name", "\n  - {name: s, from: profiles, to: d, mapping: {p..x: email}}\n", []string{"invalid field name `p..x`"}},
		{"region without phone", "\n  - {name: s, from: profiles, to: d, mapping: {e: {from: email, default_region: FR}}}\n", []string{"default_region applies only to the phone_e164 transform"}},
		{"bad region", "\n  - {name: s, from: profiles, to: d, mapping: {e: {from: email, transform: phone_e164, default_region: France}}}\n", []string{`invalid default_region "France": not a region code`}},
		{"composite key", "\n  - {name: s, from: source.pairs, to: d}\n", []string{"composite primary key: set key"}},
		{"bad max_removals", "\n  - {name: s, from: profiles, to: d, max_removals: 120%}\n", []string{"invalid max_removals `120%`"}},
		{"bad rate and batch", "\n  - {name: s, from: profiles, to: d, rate: 0, batch_size: 0}\n", []string{"invalid rate 0: must be above 0", "invalid batch_size 0: must be between 1 and 1000000"}},
		{"removal field not mapped", "\n  - {name: s, from: profiles, to: d, mapping: {email: email}, removal_fields: [phone]}\n", []string{"removal field `phone` is not a field of mapping"}},
		{"unknown consent trait", "\n  - {name: s, from: segment.vip, to: d, consent: optin}\n", []string{"unknown trait `optin` in consent; did you mean `opt_in`?"}},
		{"source consent is a column, not checked", "\n  - {name: s, from: source.crm, to: d, consent: whatever}\n", nil},
		{"mapping as a list", "\n  - {name: s, from: profiles, to: d, mapping: [email]}\n", []string{"expected a mapping of destination field to column, got a list"}},
		{"unknown key in a field", "\n  - {name: s, from: profiles, to: d, mapping: {e: {form: email}}}\n", []string{"unknown column `e`", "unknown key `form`; did you mean `from`?"}},
		{"bad nulls", "\n  - {name: s, from: profiles, to: d, nulls: drop}\n", []string{"invalid nulls \"drop\": must be one of skip, clear"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range problems(t, map[string]string{"sluice.yml": minimalRoot, "p.yml": syncBase + "syncs:" + tt.sync}, nil) {
				if !strings.Contains(p, "unknown destination type `anything`") { // no types are registered here
					got = append(got, p)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestFieldMappingsDecoding(t *testing.T) {
	dir := writeProject(t, map[string]string{"sluice.yml": minimalRoot, "p.yml": syncBase + `syncs:
  - name: s
    from: profiles
    to: d
    mapping:
      email: email
      b: {from: opt_in, transform: boolean}
      opt_in:
      d: {value: true}
`})
	p, err := Load(dir, Options{})
	var probs Problems
	if errors.As(err, &probs) && len(probs) == 1 && strings.Contains(probs[0].Message, "unknown destination type") {
		err = nil
	}
	if err != nil {
		t.Fatal(err)
	}
	m := p.Syncs[0].Mapping
	var got []string
	for _, f := range m {
		got = append(got, f.Field+"<-"+f.Column()+strings.Join(f.Transform, "+"))
	}
	if want := []string{"email<-email", "b<-opt_inboolean", "opt_in<-opt_in", "d<-"}; !slices.Equal(got, want) {
		t.Errorf("mapping = %q, want %q", got, want)
	}
	if !m[3].HasValue() || m[3].Value.Node.Value != "true" || m[0].At.Of("from").Line != 19 {
		t.Errorf("value or position lost: %+v", m)
	}
	if p.Syncs[0].Mode != "upsert" {
		t.Errorf("default mode = %q", p.Syncs[0].Mode)
	}
}

func TestParseMaxRemovals(t *testing.T) {
	for _, tt := range []struct {
		in    string
		share float64
		count int64
		ok    bool
	}{
		{"20%", 0.2, -1, true}, {"0%", 0, -1, true}, {"100%", 1, -1, true}, {"500", -1, 500, true},
		{"101%", 0, 0, false}, {"-1", 0, 0, false}, {"lots", 0, 0, false},
	} {
		share, count, err := ParseMaxRemovals(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (share != tt.share || count != tt.count)) {
			t.Errorf("ParseMaxRemovals(%q) = %v, %v, %v", tt.in, share, count, err)
		}
	}
}
