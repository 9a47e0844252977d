package meta_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/meta/fake"
)

const (
	testToken   = "meta-system-user-token"
	testAccount = "1234567890"
)

// The suite's records (item{i}@example.com, "Item i", score i*10) travel
// as match keys: the e-mail as EMAIL, the name as FN, the score as
// EXTERN_ID (which Meta takes unhashed). The fake knows each person's
// raw identifiers, so Records reads back who is in the audience from the
// hashes alone, and any hash that is not Meta's normal form counts as a
// violation.
func TestConformance(t *testing.T) {
	destinationtest.Run(t, destinationtest.Harness{Type: "meta", New: func(t *testing.T) *destinationtest.Env {
		srv := fake.New(t, fake.Options{Token: testToken, AdAccount: testAccount})
		for i := range 25 {
			srv.Register(fake.Person{Email: fmt.Sprintf("item%d@example.com", i), FirstName: fmt.Sprintf("Item %d", i), ExternalID: fmt.Sprint(i * 10)})
		}
		srv.Register(fake.Person{Email: "item1@example.com", FirstName: "changed"}) // the suite renames item 1
		t.Cleanup(func() {
			if v := srv.Violations(); len(v) > 0 {
				t.Errorf("the fake counted %d violations, first: %+v", len(v), v[0])
			}
		})
		opts := `access_token: "${META_TOKEN}", ad_account_id: "act_` + testAccount + `", customer_file_source: USER_PROVIDED_ONLY, ` +
			`audience: Conformance, create_audiences: true, base_url: "${META_URL}"`
		return &destinationtest.Env{
			Options:        opts,
			BadCredentials: `access_token: "${META_BAD_TOKEN}", ad_account_id: "act_` + testAccount + `", customer_file_source: USER_PROVIDED_ONLY, audience: Conformance, base_url: "${META_URL}"`,
			Vars:           map[string]string{"META_TOKEN": testToken, "META_BAD_TOKEN": "not-the-token", "META_URL": srv.URL},
			Mapping:        "{email: email, first_name: name, external_id: score}",
			Consent:        "{ads_user_data: opt_in}",
			Records:        func(t *testing.T) map[string]map[string]any { return audienceRecords(t, srv, "Conformance") },
			Requests: func() []time.Time {
				var out []time.Time
				for _, r := range srv.Requests() {
					out = append(out, r.Time)
				}
				return out
			},
			Reject: srv.Reject,
			Fail:   srv.Fail,
		}
	}})
}

// audienceRecords reads an audience's members back as the suite's
// records: the registered person whose e-mail hash the member holds, the
// name whose hash it holds, and its external id.
func audienceRecords(t *testing.T, srv *fake.Server, name string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	a, ok := srv.AudienceByName(name)
	if !ok {
		return out
	}
	for _, m := range a.Members {
		people := srv.People("EMAIL", m.Cells["EMAIL"])
		if len(people) == 0 {
			t.Errorf("a member's EMAIL is not the hash of a known e-mail")
			continue
		}
		rec := map[string]any{"email": people[0].Email, "name": nil, "score": m.Cells["EXTERN_ID"]}
		for _, p := range people {
			if srv.Expects(p, "FN", m.Cells["FN"]) {
				rec["name"] = p.FirstName
			}
		}
		out[people[0].Email] = rec
	}
	return out
}
