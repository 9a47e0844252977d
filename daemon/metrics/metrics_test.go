package metrics

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sync/engine"
)

// The lock takeovers counted by the sync engine are on every daemon's
// registry.
func TestLockTakeoversExposed(t *testing.T) {
	a, b := New(), New() // two daemons in one process share the counter
	engine.LockTakeovers.WithLabelValues("metrics_test_sync").Inc()
	for _, m := range []*Metrics{a, b} {
		mfs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, mf := range mfs {
			if mf.GetName() != "sluice_sync_lock_takeovers_total" || !strings.Contains(mf.GetHelp(), "abandoned") {
				continue
			}
			for _, s := range mf.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == "sync" && l.GetValue() == "metrics_test_sync" && s.GetCounter().GetValue() >= 1 {
						found = true
					}
				}
			}
		}
		if !found {
			t.Error("sluice_sync_lock_takeovers_total{sync=\"metrics_test_sync\"} is not exposed")
		}
	}
}
