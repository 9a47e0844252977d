package brevo_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/brevo/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

// BenchmarkFirstSync sends a first sync of N new contacts (default 100,000;
// SLUICE_BREVO_BENCH_N overrides) to the fake Brevo with Brevo's general
// limits: 10 requests a second on /contacts endpoints, 100 an hour on the
// others, imports that take 500 ms. It reports the wall time, the requests,
// the achieved request rate against the 10 allowed, and the 429 answers.
//
//	go test ./connectors/brevo -run '^$' -bench FirstSync -benchtime 1x
func BenchmarkFirstSync(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SLUICE_BREVO_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	for range b.N {
		b.StopTimer()
		srv := fake.New(b, fake.Options{APIKey: "bench-key", ImportDelay: 500 * time.Millisecond})
		srv.AddList("Customers")
		p := synctest.New(b, synctest.Options{
			Env: map[string]string{"BREVO_KEY": "bench-key", "BREVO_URL": srv.URL},
			Files: map[string]string{"sync.yml": `sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - {name: brevo, type: brevo, api_key: "${BREVO_KEY}", base_url: "${BREVO_URL}", list: Customers}
syncs:
  - name: people_to_brevo
    from: source.people
    to: brevo
    key: email
    mapping: {email: email, first_name: first_name, last_name: last_name, SMS: phone, lifetime_value: ltv, email_consent: email_opt_in}
`}})
		p.Exec(b, "CREATE SCHEMA raw",
			fmt.Sprintf(`CREATE TABLE raw.people AS SELECT i AS id, 'person' || i || '@example.com' AS email,
				'First' || i AS first_name, 'Last' || i AS last_name,
				'+336' || lpad(CAST(10000000 + i AS VARCHAR), 8, '0') AS phone,
				round(i * 1.37, 2) AS ltv, i %% 3 <> 0 AS email_opt_in
				FROM range(%d) t(i)`, n))
		p.Build(b)
		srv.ResetStats()
		b.StartTimer()
		start := time.Now()
		res, err := p.Engine.Sync(context.Background(), "people_to_brevo", engine.SyncOptions{})
		wall := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		st := srv.Stats()
		if res.Accepted != int64(n) || len(srv.Members(srv.ListID("Customers"))) != n {
			b.Fatalf("accepted %d of %d", res.Accepted, n)
		}
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(float64(st.Requests), "requests")
		b.ReportMetric(float64(st.Contacts)/wall.Seconds(), "contacts-req/s")
		b.ReportMetric(float64(st.TooMany), "429s")
		b.ReportMetric(float64(n)/wall.Seconds(), "records/s")
		b.Logf("%d contacts in %s: %d requests (%v), %d imports, %d answered 429", n, wall.Round(time.Millisecond), st.Requests, st.ByEndpoint, st.Imports, st.TooMany)
	}
}
