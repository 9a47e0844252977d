package salesforce_test

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/benchkit"
	"github.com/sluicehq/sluice/connectors/salesforce"
	"github.com/sluicehq/sluice/connectors/salesforce/fake"
	"github.com/sluicehq/sluice/sync/synctest"
)

// benchProject is a record sync of raw.people to Contacts upserted by an
// External ID field; the %d are bulk_threshold and bulk_batch_size.
const benchProject = `sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - name: salesforce
    type: salesforce
    client_id: "${SALESFORCE_CLIENT_ID}"
    client_secret: "${SALESFORCE_CLIENT_SECRET}"
    login_url: "${SALESFORCE_LOGIN_URL}"
    bulk_threshold: %d
    bulk_batch_size: %d
syncs:
  - name: people_to_salesforce
    from: source.people
    to: salesforce
    key: Sluice_Email__c
    mapping: {Sluice_Email__c: email, Email: email, FirstName: first_name, LastName: last_name, Lifetime_Value__c: ltv}
`

// byEndpoint counts requests by method and endpoint, most first, with the
// time the fake took to answer them.
func byEndpoint(log []fake.Request) string {
	counts, took := map[string]int{}, map[string]time.Duration{}
	for _, r := range log {
		k := r.Method + " " + strings.TrimPrefix(r.Endpoint, "/services/data/{version}")
		counts[k]++
		took[k] += r.Duration
	}
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b string) int { return cmp.Or(counts[b]-counts[a], strings.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d (%s)", k, counts[k], took[k].Round(time.Millisecond))
	}
	return strings.Join(parts, ", ")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSalesforceFirstSync: a first sync of N people to the fake org,
// through Bulk API 2.0 (N from SLUICE_SALESFORCE_BENCH_BULK_N, default
// 1,000,000) and through sObject Collections (SLUICE_SALESFORCE_BENCH_N,
// default 10,000); SLUICE_SALESFORCE_BENCH_BULK_BATCH sets bulk_batch_size
// (default 150,000). The fake org runs in a child process, so that this
// process's Go heap is sluice's alone. It reports the wall time, the API
// requests the run used (the fake's daily counter: token requests do not
// count), the peak of the Go heap during the run (heap objects, and the
// live heap after each GC) and the records lost (model rows the org has no
// Contact for).
//
//	go test ./connectors/salesforce -run '^$' -bench SalesforceFirstSync -benchtime 1x -timeout 60m
func BenchmarkSalesforceFirstSync(b *testing.B) {
	for _, tc := range []struct {
		name      string
		n         int
		threshold int
	}{
		{"bulk", envInt("SLUICE_SALESFORCE_BENCH_BULK_N", 1_000_000), 2000},
		{"collections", envInt("SLUICE_SALESFORCE_BENCH_N", 10_000), 100_000_000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				benchFirstSync(b, tc.n, tc.threshold)
			}
		})
	}
}

// TestBenchFakeOrg is the benchmark's fake org when run as its child
// process (skipped otherwise); SLUICE_BENCH_FAKE_CPUPROFILE names a file
// for a CPU profile of it.
func TestBenchFakeOrg(t *testing.T) {
	benchkit.Serve(t, func(url string) http.Handler {
		srv := fake.Handler(fake.Options{ClientID: testClientID, ClientSecret: testSecret, Objects: e2eObjects, DailyLimit: -1})
		srv.URL = url
		return srv
	})
}

func benchFirstSync(b *testing.B, n, threshold int) {
	b.StopTimer()
	org := benchkit.StartChild(b, "TestBenchFakeOrg", nil)
	p := synctest.New(b, synctest.Options{
		Env:   map[string]string{"SALESFORCE_CLIENT_ID": testClientID, "SALESFORCE_CLIENT_SECRET": testSecret, "SALESFORCE_LOGIN_URL": org},
		Files: map[string]string{"sync.yml": fmt.Sprintf(benchProject, threshold, envInt("SLUICE_SALESFORCE_BENCH_BULK_BATCH", salesforce.BulkBatch))},
	})
	p.Exec(b, "CREATE SCHEMA raw", fmt.Sprintf(`CREATE TABLE raw.people AS SELECT i AS id, 'person' || i || '@example.com' AS email,
		'First' || i AS first_name, 'Last' || i AS last_name, i * 1.5 AS ltv FROM range(1, %d) t(i)`, n+1))
	p.Build(b)
	var before fake.Stats
	benchkit.GetJSON(b, org+"/_fake/state", &before)
	run := benchkit.TimedSync(b, p.Engine, "people_to_salesforce")
	res, wall, inUse, live := run.Result, run.Wall, run.InUseMB, run.LiveMB
	var st fake.Stats
	var violations []string
	var log []fake.Request
	benchkit.GetJSON(b, org+"/_fake/state", &st)
	benchkit.GetJSON(b, org+"/_fake/violations", &violations)
	benchkit.GetJSON(b, org+"/_fake/requests", &log)
	for _, v := range violations {
		b.Errorf("the fake saw a request Salesforce would refuse: %s", v)
	}
	lost := n - st.Records["Contact"]
	requests := st.APIUsage - before.APIUsage
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(float64(requests), "api-requests")
	b.ReportMetric(inUse, "peak-heap-MB")
	b.ReportMetric(live, "peak-live-heap-MB")
	b.ReportMetric(float64(lost), "records-lost")
	b.Logf("%d people: accepted %d in %s, %d API requests (%d jobs), Go heap peak %.0f MB (live %.0f MB), %d lost; requests: %s",
		n, res.Accepted, wall.Round(time.Millisecond), requests, st.Jobs, inUse, live, lost, byEndpoint(log[min(before.Requests, len(log)):]))
}
