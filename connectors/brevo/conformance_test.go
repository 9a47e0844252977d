package brevo_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/brevo/fake"
	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/internal/apispec"
)

const specFile = "brevo-swagger-v3.yaml"

// newFake starts a fake Brevo that checks every request against Brevo's
// spec when ../shared/specs is there, and fails the test at cleanup if a
// request broke it.
func newFake(t *testing.T, opts fake.Options) *fake.Server {
	t.Helper()
	return newFakeBehind(t, opts, nil)
}

// newFakeBehind is newFake with the fake served behind wrap (nil: none),
// which may rewrite its answers.
func newFakeBehind(t *testing.T, opts fake.Options, wrap func(*fake.Server) http.Handler) *fake.Server {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = "test-key"
	}
	if apispec.Dir() != "" {
		opts.Validator = apispec.ForTest(t, specFile)
	} else {
		t.Log("vendor specs not found: requests are not checked against Brevo's spec")
	}
	var srv *fake.Server
	if wrap == nil {
		srv = fake.New(t, opts)
	} else {
		srv = fake.Handler(opts)
		ts := httptest.NewServer(wrap(srv))
		srv.URL = ts.URL + "/v3"
		t.Cleanup(srv.Close) // after the listener: cleanups run last first
		t.Cleanup(ts.Close)
	}
	t.Cleanup(func() {
		if v := srv.Violations(); len(v) > 0 {
			t.Errorf("%d requests broke Brevo's spec, first: %s", len(v), v[0])
		}
	})
	return srv
}

// TestConformance runs the suite against each of the fake's answers to
// /contacts/batch (Brevo's observed 404 and its documented 207).
func TestConformance(t *testing.T) {
	for _, answer := range fake.BatchAnswers {
		t.Run(answer, func(t *testing.T) { conformance(t, answer) })
	}
}

func conformance(t *testing.T, answer string) {
	destinationtest.Run(t, destinationtest.Harness{Type: "brevo", New: func(t *testing.T) *destinationtest.Env {
		srv := newFake(t, fake.Options{BatchAnswer: answer})
		return &destinationtest.Env{
			Options:        `api_key: "${BREVO_KEY}", base_url: "${BREVO_URL}"`,
			BadCredentials: `api_key: "${BREVO_BAD_KEY}", base_url: "${BREVO_URL}"`,
			Vars:           map[string]string{"BREVO_KEY": "test-key", "BREVO_BAD_KEY": "not-the-key", "BREVO_URL": srv.URL},
			// What the sync holds: contacts it can e-mail (a delete
			// unsubscribes, it does not erase), with their attributes.
			Records: func(t *testing.T) map[string]map[string]any {
				out := map[string]map[string]any{}
				for _, c := range srv.Contacts() {
					if c.EmailBlacklisted {
						continue
					}
					rec := map[string]any{"email": c.Email}
					for k, v := range c.Attributes {
						rec[strings.ToLower(k)] = v
					}
					out[c.Email] = rec
				}
				return out
			},
			Requests: srv.Requests,
			Reject:   srv.Reject,
			// The next n requests fail (a 429 with x-sib-ratelimit-*).
			// The suite's erasures key by email: identifierType email_id.
			Fail: srv.Fail,
		}
	}})
}
