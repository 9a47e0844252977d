package identity

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

// BenchmarkSuppression measures what the erasure suppression list costs
// the identity stage: the same build with no erasure block, and with one
// whose list holds 1,000 erased identifiers (ten of them present in the
// data). Every distinct value is hashed with the key and looked up.
func BenchmarkSuppression(b *testing.B) {
	for _, size := range []struct {
		name string
		ids  int
	}{{"100k", 100_000}, {"1M", 1_000_000}} {
		for _, erasure := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/erasure=%v", size.name, erasure), func(b *testing.B) { benchSuppression(b, size.ids, erasure) })
		}
	}
}

func benchSuppression(b *testing.B, identifiers int, erasure bool) {
	ctx := context.Background()
	w := demoWarehouse(b, identifiers)
	defer w.Close()
	p := loadProject(b, map[string]string{"identity.yml": demoProject})
	if erasure {
		p.Erasure = &config.Erasure{Secret: "benchmark-erasure-secret-0123456789"}
	}
	plan, err := models.Compile(p, duck)
	if err != nil {
		b.Fatal(err)
	}
	isIdentity := func(s models.Step) bool { return s.Kind == models.KindIdentity }
	setup := *plan
	setup.Report = nil
	if _, err := builder.Run(ctx, w, &setup, builder.Options{Only: func(s models.Step) bool { return !isIdentity(s) }}); err != nil {
		b.Fatal(err)
	}
	if erasure {
		suppress(b, w, plan.Erasure)
	}
	var res *builder.Result
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, err = builder.Run(ctx, w, plan, builder.Options{Only: isIdentity}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	total := time.Duration(0)
	for _, s := range res.Steps {
		total += s.Duration
	}
	b.ReportMetric(total.Seconds(), "identity-s")
	b.ReportMetric(stepSeconds(res, StepNormalise), "normalise-s")
	b.ReportMetric(stepSeconds(res, StepEdges), "edges-s")
}

// suppress fills the suppression list: 990 digests of values nobody has
// and the digests of ten e-mails of the data.
func suppress(b *testing.B, w warehouse.Warehouse, e *models.Erasure) {
	b.Helper()
	var rows []string
	for i := range 990 {
		rows = append(rows, fmt.Sprintf("('bench', 'email', '%s', NULL)", models.ErasureDigest(e.Key, "email", fmt.Sprintf("nobody-%d@example.org", i))))
	}
	exec(b, w, "INSERT INTO "+e.SuppressionTable+" SELECT 'bench', 'email', sha256('"+e.Key+"' || 'email:' || lower(trim(email))), NULL FROM (SELECT DISTINCT email FROM raw.crm_contacts WHERE email LIKE '%@%' ORDER BY email LIMIT 10)",
		"INSERT INTO "+e.SuppressionTable+" VALUES "+strings.Join(rows, ", "))
}
