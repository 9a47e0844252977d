package webhook_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/destination/destinationtest"
	"github.com/sluicehq/sluice/connectors/webhook/fake"

	_ "github.com/sluicehq/sluice/connectors/webhook"
)

func TestConformance(t *testing.T) {
	destinationtest.Run(t, destinationtest.Harness{
		Type: "webhook",
		New: func(t *testing.T) *destinationtest.Env {
			srv := fake.New(t, fake.Options{Token: "good-token", MaxBatch: 100})
			return &destinationtest.Env{
				Options:        `url: "${HOOK_URL}", bearer_token: "${HOOK_TOKEN}", rate: 500, batch_size: 10`,
				BadCredentials: `url: "${HOOK_URL}", bearer_token: "${BAD_TOKEN}", rate: 500, batch_size: 10`,
				Vars:           map[string]string{"HOOK_URL": srv.URL, "HOOK_TOKEN": "good-token", "BAD_TOKEN": "nope"},
				Records:        func(*testing.T) map[string]map[string]any { return srv.Records() },
				Requests:       func() []time.Time { return srv.Requests() },
				Reject:         srv.RejectKeys,
				Fail:           srv.Fail,
			}
		},
	})
}
