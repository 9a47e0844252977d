package klaviyo_test

import (
	"net/http"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/internal/apispec"
	"github.com/sluicehq/sluice/connectors/klaviyo/fake"

	_ "github.com/sluicehq/sluice/connectors/klaviyo"
)

const specFile = "klaviyo-openapi-stable.json"

// validator checks requests against Klaviyo's API description when the
// vendor specs folder is there; without it requests go unchecked, and
// noViolations says so.
func validator(t testing.TB) interface{ ValidateRequest(*http.Request) error } {
	t.Helper()
	if apispec.Dir() == "" {
		return nil
	}
	return apispec.ForTest(t, specFile)
}

// newFake starts a fake Klaviyo checked against the spec, whose violations
// fail the test at its end.
func newFake(t *testing.T, o fake.Options) *fake.Server {
	t.Helper()
	if o.APIKey == "" {
		o.APIKey = "pk_test_good"
	}
	o.Validator = validator(t)
	srv := fake.New(t, o)
	t.Cleanup(func() { noViolations(t, srv) })
	return srv
}

func noViolations(t *testing.T, srv *fake.Server) {
	t.Helper()
	if apispec.Dir() == "" {
		t.Log("vendor specs folder absent: requests were not checked against Klaviyo's API description")
		return
	}
	for _, v := range srv.Violations() {
		t.Errorf("request not valid against Klaviyo's API description: %s", v)
	}
}

func TestConformance(t *testing.T) {
	destinationtest.Run(t, destinationtest.Harness{
		Type: "klaviyo",
		New: func(t *testing.T) *destinationtest.Env {
			srv := newFake(t, fake.Options{})
			opts := `base_url: "${KLAVIYO_URL}", list: Conformance, create_list: true`
			return &destinationtest.Env{
				Options:        `api_key: "${KLAVIYO_KEY}", ` + opts,
				BadCredentials: `api_key: "${BAD_KEY}", ` + opts,
				Vars:           map[string]string{"KLAVIYO_URL": srv.URL, "KLAVIYO_KEY": "pk_test_good", "BAD_KEY": "pk_test_revoked"},
				// What the sync holds at Klaviyo: the list's members, with
				// the fields the suite maps (name and score are custom
				// properties).
				Records: func(*testing.T) map[string]map[string]any {
					out := map[string]map[string]any{}
					for _, p := range srv.ListMembers("Conformance") {
						out[p.Email] = map[string]any{"email": p.Email, "name": p.Properties["name"], "score": p.Properties["score"]}
					}
					return out
				},
				Requests: srv.RequestTimes,
				Reject: func(msg string, keys ...string) {
					srv.RejectIdentifier(msg, keys...)
				},
				// Klaviyo's 429 carries Retry-After, as the fake's does.
				Fail: srv.FailRequests,
			}
		},
	})
}
