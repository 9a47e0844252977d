package identity

import (
	"os"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/models"
)

func TestZZDump(t *testing.T) {
	out := os.Getenv("SLUICE_DUMP")
	if out == "" {
		t.Skip()
	}
	p := loadProject(t, map[string]string{"identity.yml": demoProject})
	plan, _ := models.Compile(p, duck)
	var qs []string
	for _, s := range plan.Steps {
		if s.Kind == models.KindIdentity {
			qs = append(qs, s.SQL...)
			if s.Loop != nil {
				qs = append(qs, s.Loop.Body...)
				qs = append(qs, s.Loop.Body...)
			}
			qs = append(qs, s.Finally...)
		}
	}
	os.WriteFile(out, []byte(strings.Join(qs, ";;\n")), 0o644)
}
