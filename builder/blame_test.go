package builder_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/builder"
)

// TestProfilesErrorNamesTheTrait: when the profiles step fails, the error
// points at the trait whose SQL the warehouse rejects, not at the first
// trait of the file; a failing segment points at its where.
func TestProfilesErrorNamesTheTrait(t *testing.T) {
	tests := []struct {
		name, trait string
		want        string // position and trait the error must start with
		segments    string
	}{
		{"unknown column in an aggregate", "broken: { from: orders, aggregate: sum(amout) }", "project.yml:16:38: building profiles: trait broken: ", ""},
		{"unknown function in an expression", "broken: { expression: \"lenght(email) > 3\" }", "project.yml:16:25: building profiles: trait broken: ", ""},
		{"unknown column in a where", "broken: { from: orders, aggregate: count(*), where: \"statuss = 'paid'\" }", "project.yml:16:55: building profiles: trait broken: ", ""},
		{"bad type in an expression", "broken: { expression: \"ltv + 'abc' > date '2020-01-01'\" }", "project.yml:16:25: building profiles: trait broken: ", ""},
		{"bad type in a segment", "fine: { expression: \"ltv > 1\" }", "project.yml:18:23: building segment_s: segment s: ",
			"segments:\n  - { name: s, where: \"ltv + 'abc' > date '2020-01-01'\" }\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write := projectWriter(t, dir)
			write("sluice.yml", "version: 1\nname: t\nwarehouse: { type: duckdb }\n")
			write("data/orders.csv", "order_id,email,amount,status\n1,a@x.org,10,paid\n2,b@x.org,20,open\n")
			write("project.yml", `seeds:
  - { name: orders, path: data/orders.csv }
sources:
  - { name: orders, table: raw.orders, primary_key: order_id }
identity:
  id_types:
    email: { normalize: email }
  edges:
    - { source: orders, ids: { email: email } }
traits:
  email: { pick: email }
  ltv: { from: orders, aggregate: sum(amount) }
  paid: { from: orders, aggregate: count(*), where: "status = 'paid'" }
  n: { from: orders, aggregate: count(*) }
  big: { expression: "ltv > 10" }
  `+tt.trait+`
`+tt.segments)
			_, w, plan := compileProject(t, dir)
			_, err := builder.Run(context.Background(), w, plan, builder.Options{})
			if err == nil {
				t.Fatal("the build succeeded")
			}
			if got := strings.TrimPrefix(err.Error(), dir+"/"); !strings.HasPrefix(got, tt.want) {
				t.Errorf("error:\n%s\nwant it to start with %q", got, tt.want)
			}
		})
	}
}
