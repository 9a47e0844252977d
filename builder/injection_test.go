package builder_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	_ "github.com/sluicehq/sluice/models/all"
)

// injectionProject writes a small project whose trait expression, trait
// aggregate and segment where are the given fragments.
func injectionProject(t *testing.T, expr, agg, where string) *config.Project {
	t.Helper()
	dir := t.TempDir()
	write := projectWriter(t, dir)
	write("sluice.yml", "version: 1\nname: t\nwarehouse: { type: duckdb }\n")
	write("data/orders.csv", "order_id,email,amount\n1,a@x.org,10\n2,b@x.org,20\n")
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
  ltv: { from: orders, aggregate: `+yamlQuote("sum("+agg+")")+` }
  big: { expression: `+yamlQuote(expr)+` }
segments:
  - { name: all, where: `+yamlQuote(where)+` }
`)
	p, err := config.Load(dir, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func yamlQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// TestFragmentsCannotRunSecondStatement: a fragment that ends its
// statement is refused by the compiler, and a step carrying one anyway
// (a compiler that let it through) is refused by the builder before any
// of it runs: raw.orders survives.
func TestFragmentsCannotRunSecondStatement(t *testing.T) {
	const drop = "1=1); DROP TABLE raw.orders; --"
	tests := []struct {
		name            string
		expr, agg, cond string // the hostile variant
		benign          string // what the hostile one replaces in compiled SQL
	}{
		{"segment where", "ltv > 0", "amount", drop, "(1=1)"},
		{"trait expression", "1 = 1); DROP TABLE raw.orders; SELECT (1", "amount", "big", "(1 = 1)"},
		{"aggregate argument", "ltv > 0", "amount); DROP TABLE raw.orders; SELECT sum(amount", "big", "sum(amount)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostile := injectionProject(t, tt.expr, tt.agg, tt.cond)
			w := memWarehouse(t)
			_, err := models.Compile(hostile, w.Dialect())
			var fe *models.FragmentError
			if !errors.As(err, &fe) {
				t.Fatalf("Compile: err = %v, want a FragmentError", err)
			}

			// The same project with benign fragments compiles; splice the
			// hostile one into its SQL as a faulty compiler would.
			benign := injectionProject(t, "1 = 1", "amount", "1=1")
			plan, err := models.Compile(benign, w.Dialect())
			if err != nil {
				t.Fatal(err)
			}
			evil := map[string]string{"segment where": "(" + drop + ")", "trait expression": "(" + tt.expr + ")", "aggregate argument": "sum(" + tt.agg + ")"}[tt.name]
			spliced := false
			for i := range plan.Steps {
				for j, q := range plan.Steps[i].SQL {
					if strings.Contains(q, tt.benign) && plan.Steps[i].Kind != models.KindSeed {
						plan.Steps[i].SQL[j] = strings.ReplaceAll(q, tt.benign, evil)
						spliced = true
					}
				}
			}
			if !spliced {
				t.Fatalf("%q not found in the compiled SQL", tt.benign)
			}
			_, err = builder.Run(context.Background(), w, plan, builder.Options{})
			var ie *builder.InjectionError
			if !errors.As(err, &ie) {
				t.Fatalf("Run: err = %v, want an InjectionError", err)
			}
			var n int
			if err := warehouse.QueryRow(context.Background(), w, "SELECT count(*) FROM raw.orders", &n); err != nil || n != 2 {
				t.Fatalf("raw.orders after the build: %d rows, %v; want it intact", n, err)
			}
		})
	}
}

// TestExecOneRefusesTwoStatements: DuckDB's parser is the last word on
// what a string holds, whatever the builder's lexer thought.
func TestExecOneRefusesTwoStatements(t *testing.T) {
	w := memWarehouse(t)
	one, ok := w.(interface {
		ExecOne(context.Context, string) error
	})
	if !ok {
		t.Skip("the warehouse has no single-statement path")
	}
	ctx := context.Background()
	for _, q := range []string{
		"CREATE TABLE a AS SELECT 1 AS x; CREATE TABLE b AS SELECT 2 AS x",
		"CREATE TABLE a AS SELECT 1 AS x; DROP TABLE IF EXISTS z",
		"CREATE TABLE a AS SELECT 'x' AS s; CREATE TABLE c AS SELECT 1 AS y",
	} {
		if err := one.ExecOne(ctx, q); err == nil {
			t.Errorf("ExecOne(%q) ran", q)
		}
		var n int
		if err := warehouse.QueryRow(ctx, w, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('a', 'b', 'c')", &n); err != nil || n != 0 {
			t.Errorf("ExecOne(%q) left %d tables (%v)", q, n, err)
		}
	}
	if err := one.ExecOne(ctx, "CREATE TABLE ok AS SELECT 1 AS x"); err != nil {
		t.Errorf("one statement: %v", err)
	}
}
