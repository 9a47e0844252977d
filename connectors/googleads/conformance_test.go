package googleads_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/googleads/fake"
)

// The conformance sync, as a Customer Match audience: the e-mail, and the
// item's name as given and family name with its score as postal code, so
// that the model's name and score reach Google inside an address (in
// France: phone_region). The fake knows the suite's people, so it reads
// the hashes back to the raw values.
const (
	suiteMapping = "{email: email, first_name: name, last_name: name, postal_code: score}"
	suiteConsent = "{ads_user_data: opt_in, ads_personalization: opt_in}"
)

func TestConformance(t *testing.T) {
	destinationtest.Run(t, destinationtest.Harness{Type: "google_ads", New: func(t *testing.T) *destinationtest.Env {
		env := newTestEnv(t, fake.Options{})
		registerSuitePeople(env.srv)
		other := newServiceAccount(t, "stranger@elsewhere.iam.gserviceaccount.com", fake.TokenURL(env.srv.URL))
		opts := `credentials_json: "${GA_CREDS}", customer_id: "123-456-7890", user_list_id: "` + testList + `", terms_of_service_accepted: true, base_url: "${GA_URL}", phone_region: FR, status_wait: 2s`
		t.Cleanup(func() {
			if v := env.srv.Violations(); len(v) > 0 {
				t.Errorf("the fake counted %d violations, first: %+v", len(v), v[0])
			}
		})
		return &destinationtest.Env{
			Options:        opts,
			BadCredentials: `credentials_json: "${GA_BAD_CREDS}", customer_id: "123-456-7890", user_list_id: "` + testList + `", terms_of_service_accepted: true, base_url: "${GA_URL}", phone_region: FR`,
			Vars:           map[string]string{"GA_CREDS": env.sa.json, "GA_BAD_CREDS": other.json, "GA_URL": env.srv.URL},
			Mapping:        suiteMapping,
			Consent:        suiteConsent,
			Records:        func(t *testing.T) map[string]map[string]any { return suiteRecords(t, env.srv) },
			Requests: func() []time.Time {
				var out []time.Time
				for _, r := range env.srv.Requests() {
					out = append(out, r.Time)
				}
				return out
			},
			Reject: env.srv.RejectEmails,
			Fail:   env.srv.Fail,
		}
	}})
}

// registerSuitePeople tells the fake the suite's raw identifiers.
func registerSuitePeople(srv *fake.Server) {
	for i := range 100 {
		name := fmt.Sprintf("Item %d", i)
		srv.Register(fake.Identity{Email: fmt.Sprintf("item%d@example.com", i), FirstName: name, LastName: name, Country: "FR"})
	}
	srv.Register(fake.Identity{FirstName: "changed", LastName: "changed"})
}

// suiteRecords reads the list back as the suite's records: the e-mail,
// the name of the last address sent, its postal code as the score.
func suiteRecords(t *testing.T, srv *fake.Server) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, m := range srv.Members(testCustomer, testList) {
		if m.Known == nil {
			t.Errorf("the list holds a member the suite does not know: %+v", m)
			continue
		}
		rec := map[string]any{"email": m.Known.Email}
		if n := len(m.Addresses); n > 0 {
			a := m.Addresses[n-1]
			name, _ := srv.Reveal(a.GivenName)
			rec["name"] = name
			if score, err := strconv.ParseInt(a.PostalCode, 10, 64); err == nil {
				rec["score"] = score
			} else {
				rec["score"] = a.PostalCode
			}
		}
		out[m.Known.Email] = rec
	}
	return out
}
