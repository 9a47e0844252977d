package hubspot_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/hubspot/fake"
)

const testToken = "pat-test-token"

// suiteProperties are the properties the suite's mapping (email, name,
// score) needs besides HubSpot's email.
var suiteProperties = []fake.Property{
	{Name: "name", Label: "Name", Type: "string", FieldType: "text"},
	{Name: "score", Label: "Score", Type: "number", FieldType: "number"},
}

func TestConformance(t *testing.T) {
	destinationtest.Run(t, destinationtest.Harness{Type: "hubspot", New: func(t *testing.T) *destinationtest.Env {
		srv := fake.New(t, fake.Options{Token: testToken, Properties: suiteProperties})
		return &destinationtest.Env{
			Options:        `access_token: "${HS_TOKEN}", base_url: "${HS_URL}"`,
			BadCredentials: `access_token: "${HS_BAD_TOKEN}", base_url: "${HS_URL}"`,
			Vars:           map[string]string{"HS_TOKEN": testToken, "HS_BAD_TOKEN": "pat-not-the-token", "HS_URL": srv.URL},
			Records: func(t *testing.T) map[string]map[string]any {
				out := map[string]map[string]any{}
				for _, c := range srv.Contacts() {
					out[c.Properties["email"]] = map[string]any{"email": c.Properties["email"], "name": c.Properties["name"], "score": c.Properties["score"]}
				}
				return out
			},
			Requests: func() []time.Time {
				var out []time.Time
				for _, r := range srv.Requests() {
					out = append(out, r.Time)
				}
				return out
			},
			Reject: srv.RejectEmails,
			Fail:   srv.Fail,
		}
	}})
}
