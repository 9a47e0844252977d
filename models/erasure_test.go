package models

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/dialect"
)

// TestErasureVectors pins the key derivation and the digest: digests
// already stored must keep matching after any change (vectors computed
// with openssl dgst -hmac and sha256sum).
func TestErasureVectors(t *testing.T) {
	key := ErasureKey("secret-of-sixteen-chars")
	if want := "266e4a4f6e62c84dd769ac4616e65f337b93ae38fb167ce3973183d3ab427be6"; key != want {
		t.Fatalf("ErasureKey = %s, want %s", key, want)
	}
	cases := []struct{ key, idType, value, want string }{
		{"k1", "email", "a@example.com", "3bd8448cbeb07970162b8de0c0c5f5aa0e6c1a10074d0d085b87675dacd66cda"},
		{key, "phone", "+33612345678", "2ea267d23a8bf7f490096b18c531c35d17ef4aec5eba608f0c2f18533f52034c"},
	}
	for _, c := range cases {
		if got := ErasureDigest(c.key, c.idType, c.value); got != c.want {
			t.Errorf("ErasureDigest(%s, %s, %s) = %s, want %s", c.key, c.idType, c.value, got, c.want)
		}
	}
	if ErasureDigest("k1", "email", "a@example.com") == ErasureDigest("k2", "email", "a@example.com") {
		t.Error("the digest does not depend on the key")
	}
}

// TestErasurePlan: the compiled SQL names the placeholder, never the key,
// and a project without an erasure block has no erasure plan.
func TestErasurePlan(t *testing.T) {
	d := dialect.DuckDB{}
	cases := []struct {
		name    string
		erasure *config.Erasure
	}{
		{"without an erasure block", nil},
		{"with one", &config.Erasure{Secret: "secret-of-sixteen-chars"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &config.Project{Name: "p", Schema: "s", StateSchema: "s_state", Erasure: c.erasure}
			plan := &Plan{}
			(&Compiler{P: p, D: d}).erasure(plan)
			if c.erasure == nil {
				if plan.Erasure != nil || plan.Bindings() != nil {
					t.Fatalf("plan %+v without an erasure block", plan.Erasure)
				}
				return
			}
			e := plan.Erasure
			expr := e.SuppressedExpr(d, "'email'", "value")
			if strings.Contains(expr, e.Key) || !strings.Contains(expr, e.KeyPlaceholder) {
				t.Errorf("suppressed expression shows the key or lacks the placeholder: %s", expr)
			}
			if got := plan.Bindings()[e.KeyPlaceholder]; got != e.Key {
				t.Errorf("bindings %v", plan.Bindings())
			}
		})
	}
}
