package klaviyo

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/connectors/internal/apispec"
)

// rawSpec is the part of Klaviyo's API description the tests read beyond
// request shapes: each operation's published rate limit and scopes.
type rawSpec struct {
	Paths map[string]map[string]*struct {
		OperationID string `json:"operationId"`
		RateLimit   struct {
			Burst, Steady, Daily string
		} `json:"x-klaviyo-ratelimit"`
		Scopes []string `json:"x-klaviyo-scopes"`
	} `json:"paths"`
}

func readSpec(t *testing.T) *rawSpec {
	t.Helper()
	dir := apispec.Dir()
	if dir == "" {
		t.Skip("vendor specs folder absent: cannot compare with Klaviyo's published limits")
	}
	b, err := os.ReadFile(filepath.Join(dir, "klaviyo-openapi-stable.json"))
	if err != nil {
		t.Skipf("Klaviyo's API description: %v", err)
	}
	var s rawSpec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}
