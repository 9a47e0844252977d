package warehousetest

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/models"
)

// SentAsCompiled fails t unless got, the statements a warehouse received
// while a build ran plan without its seed steps (health checks and seed
// loading left out by the caller), are the plan's strings and summary
// queries in order, with the plan's bindings in place of their
// placeholders.
func SentAsCompiled(t testing.TB, plan *models.Plan, got []string) {
	t.Helper()
	var want []string
	for _, s := range plan.Steps {
		if s.Kind != models.KindSeed {
			want = append(want, s.Strings()...)
		}
	}
	queries, _ := plan.ReportQueries()
	want = append(want, queries...)
	if len(got) != len(want) {
		t.Fatalf("sent %d statements, the plan has %d", len(got), len(want))
	}
	for i := range want {
		// The builder binds the erasure key where the compiled SQL names
		// its placeholder; nothing else differs.
		for ph, v := range plan.Bindings() {
			want[i] = strings.ReplaceAll(want[i], ph, v)
		}
		if got[i] != want[i] {
			t.Fatalf("statement %d differs from the compiled SQL:\ngot:\n%s\nwant:\n%s", i+1, got[i], want[i])
		}
	}
}
