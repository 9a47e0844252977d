package googleads_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/googleads/fake"
	"github.com/sluicehq/sluice/connectors/internal/benchkit"
	"github.com/sluicehq/sluice/sync/synctest"
)

// benchProject is a segment of N people (everyone consents to ad use)
// synced to a Customer Match list by e-mail, phone and address; %t is
// read_status.
const benchProject = benchkit.AudienceModels + `destinations:
  - name: google_ads
    type: google_ads
    credentials_file: sa.json
    customer_id: "123-456-7890"
    terms_of_service_accepted: true
    base_url: "${GOOGLE_ADS_URL}"
    read_status: %t
syncs:
  - name: audience_to_google
    from: segment.audience
    to: google_ads
    list: "555000111"
    mode: mirror
    key: email
    consent: {ads_user_data: ads_opt_in, ads_personalization: ads_opt_in}
    mapping: {email: email, phone: phone, first_name: first_name, last_name: last_name, country: country, postal_code: postal_code}
`

// BenchmarkGoogleAdsFirstSync, recorded in docs/benchmarks.md ("## Google
// Customer Match"): a first sync of a segment of N people (default
// 1,000,000; SLUICE_GOOGLEADS_BENCH_N overrides) and of 100,000 to compare
// the heap with, to a Customer Match list of the fake Data Manager API,
// which enforces 10,000 members a request, 10 identifiers a member, the
// discovery document's shapes and a project's 300 requests a minute; the
// destination paces itself at its default 4 requests a second. With
// read_status true each ingest request's status is read back
// (requestStatus:retrieve), with false it is not. The fake runs in a child
// process, so that this process's Go heap is sluice's alone. It reports
// the wall time, the requests by endpoint, the peak of the Go heap during
// the run, and the records lost (members the list lacks).
//
//	go test ./connectors/googleads -run '^$' -bench GoogleAdsFirstSync -benchtime 1x -timeout 30m
func BenchmarkGoogleAdsFirstSync(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SLUICE_GOOGLEADS_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	sizes := []int{100_000, n}
	if n == 100_000 {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		for _, status := range []bool{true, false} {
			b.Run(fmt.Sprintf("members=%d/read_status=%t", size, status), func(b *testing.B) {
				for range b.N {
					benchFirstSync(b, size, status)
				}
			})
		}
	}
}

// benchKeyFileEnv names the file where TestBenchFakeGoogleAds writes the
// service account key it trusts.
const benchKeyFileEnv = "SLUICE_GOOGLEADS_BENCH_KEYFILE"

// TestBenchFakeGoogleAds is the benchmark's fake Data Manager API when run
// as its child process (skipped otherwise): it writes a service account
// key it trusts before it serves. GET /_bench/requests counts the requests
// by method, endpoint and status.
func TestBenchFakeGoogleAds(t *testing.T) {
	benchkit.Serve(t, func(url string) http.Handler {
		var counts benchkit.Counts
		srv := fake.Handler(fake.Options{Accounts: map[string][]string{testCustomer: {testList}}, OnRequest: counts.Add})
		if !srv.CheckedAgainstDiscovery() {
			t.Fatal("the Data Manager API's discovery document was not found: the fake would not check request bodies")
		}
		srv.URL = url
		sa, err := srv.NewServiceAccount("bench@sluice-test.iam.gserviceaccount.com")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(os.Getenv(benchKeyFileEnv), sa, 0o600); err != nil {
			t.Fatal(err)
		}
		return counts.Mount(srv)
	})
}

// startBenchFake runs TestBenchFakeGoogleAds in a child process and
// returns its URL and the service account JSON it trusts.
func startBenchFake(b *testing.B) (string, string) {
	b.Helper()
	keyFile := filepath.Join(b.TempDir(), "sa.json")
	url := benchkit.StartChild(b, "TestBenchFakeGoogleAds", map[string]string{benchKeyFileEnv: keyFile})
	sa, err := os.ReadFile(keyFile)
	if err != nil {
		b.Fatalf("reading the fake's service account: %v", err)
	}
	return url, string(sa)
}

func benchFirstSync(b *testing.B, n int, readStatus bool) {
	b.StopTimer()
	url, sa := startBenchFake(b)
	p := synctest.New(b, synctest.Options{
		Env:   map[string]string{"GOOGLE_ADS_URL": url},
		Files: map[string]string{"sync.yml": fmt.Sprintf(benchProject, readStatus), "sa.json": sa},
	})
	p.Exec(b, benchkit.AudiencePeople(n)...)
	p.Build(b)
	run := benchkit.TimedSync(b, p.Engine, "audience_to_google")
	res, wall, inUse, live := run.Result, run.Wall, run.InUseMB, run.LiveMB
	var state struct {
		Lists      map[string]int
		Violations []fake.Violation
	}
	counts := map[string]int{}
	benchkit.GetJSON(b, url+"/_bench/requests", &counts) // before the state read, which the fake counts
	benchkit.GetJSON(b, url+"/_fake/state", &state)
	for _, v := range state.Violations[:min(len(state.Violations), 5)] {
		b.Errorf("the fake saw a request Google would refuse: %s: %s", v.Endpoint, v.Rule)
	}
	members := state.Lists[testCustomer+"/"+testList]
	lost := n - members
	if res.Accepted != int64(n) || lost != 0 || len(state.Violations) != 0 {
		b.Errorf("accepted %d of %d, %d lost, %d violations", res.Accepted, n, lost, len(state.Violations))
	}
	requests, ingests := 0, 0
	for k, c := range counts {
		requests += c
		if strings.Contains(k, ":ingest") {
			ingests += c
		}
	}
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(float64(ingests), "ingest-requests")
	b.ReportMetric(inUse, "peak-heap-MB")
	b.ReportMetric(live, "peak-live-heap-MB")
	b.ReportMetric(float64(lost), "records-lost")
	b.Logf("%d people, read_status %t: accepted %d in %s, %d requests (%s), Go heap peak %.0f MB (live %.0f MB), %d members, %d lost, %d violations",
		n, readStatus, res.Accepted, wall.Round(time.Millisecond), requests, benchkit.Endpoints(counts), inUse, live, members, lost, len(state.Violations))
}
