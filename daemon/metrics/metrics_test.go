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

// value reads a series; ok is false when it is not exposed.
func value(t *testing.T, m *Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			if s.GetCounter() != nil {
				return s.GetCounter().GetValue(), true
			}
			return s.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// The erasure series appear once a project with an erasure block reports;
// every status shows, at 0 when no request has it.
func TestErasureSeries(t *testing.T) {
	m := New()
	var none *Metrics
	none.Erasures(map[string]int{"done": 1}, 1) // a nil Metrics records nothing
	none.ErasureFailed("s", 1)
	type series struct {
		name   string
		labels map[string]string
		want   float64
		shown  bool
	}
	steps := []struct {
		name   string
		do     func()
		series []series
	}{
		{"before any report", func() {}, []series{
			{"sluice_erasures_overdue", nil, 0, false},
			{"sluice_erasure_requests", map[string]string{"status": "pending"}, 0, false},
			{"sluice_erasure_attempts_failed_total", map[string]string{"sync": "s"}, 0, false},
		}},
		{"two pending, one overdue, a failure", func() { m.Erasures(map[string]int{"pending": 2}, 1); m.ErasureFailed("s", 1) }, []series{
			{"sluice_erasures_overdue", nil, 1, true},
			{"sluice_erasure_requests", map[string]string{"status": "pending"}, 2, true},
			{"sluice_erasure_requests", map[string]string{"status": "done"}, 0, true},
			{"sluice_erasure_requests", map[string]string{"status": "waiting_for_the_build"}, 0, true},
			{"sluice_erasure_attempts_failed_total", map[string]string{"sync": "s"}, 1, true},
		}},
		{"all done", func() { m.Erasures(map[string]int{"done": 2}, 0); m.ErasureFailed("s", 0) }, []series{
			{"sluice_erasures_overdue", nil, 0, true},
			{"sluice_erasure_requests", map[string]string{"status": "pending"}, 0, true},
			{"sluice_erasure_requests", map[string]string{"status": "done"}, 2, true},
			{"sluice_erasure_attempts_failed_total", map[string]string{"sync": "s"}, 1, true},
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			for _, s := range st.series {
				got, shown := value(t, m, s.name, s.labels)
				if shown != s.shown || got != s.want {
					t.Errorf("%s%v = %v (exposed %v), want %v (exposed %v)", s.name, s.labels, got, shown, s.want, s.shown)
				}
			}
		})
	}
}
