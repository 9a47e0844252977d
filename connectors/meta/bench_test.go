package meta_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/benchkit"
	"github.com/sluicehq/sluice/connectors/meta/fake"
	"github.com/sluicehq/sluice/sync/synctest"
)

// benchProject is a segment of N people (everyone consents to ad use)
// synced to a Meta audience with five match keys.
const benchProject = benchkit.AudienceModels + `destinations:
  - name: meta_ads
    type: meta
    access_token: "${META_TOKEN}"
    ad_account_id: act_1234567890
    customer_file_source: USER_PROVIDED_ONLY
    create_audiences: true
    base_url: "${META_URL}"
syncs:
  - name: audience_to_meta
    from: segment.audience
    to: meta_ads
    list: Bench audience
    mode: mirror
    key: email
    consent: {ads_user_data: ads_opt_in}
    mapping: {email: email, phone: phone, first_name: first_name, last_name: last_name, country: country, postal_code: postal_code}
`

// benchHourlyCalls is the hourly call budget the benchmark's fake
// enforces: the custom_audience business use case allows an ad account
// 190,000 + 40 per active audience per hour (Marketing API, "Rate
// Limiting"), far above what a first sync of a million people needs.
const benchHourlyCalls = 190_000

// BenchmarkMetaFirstSync, recorded in docs/benchmarks.md ("## Meta Custom
// Audiences"): a first sync of a segment of N people (default 1,000,000;
// SLUICE_META_BENCH_N overrides) and of 100,000 to compare the heap with,
// into a new audience of the fake Meta API, which enforces 10,000 rows a
// request, its payload and session checks and the ad account's hourly
// call budget; the destination paces itself at its default 5 requests a
// second. The fake runs in a child process, so that this process's Go heap
// is sluice's alone. It reports the wall time, the requests by endpoint,
// the peak of the Go heap during the run, and the records lost (members
// the audience lacks).
//
//	go test ./connectors/meta -run '^$' -bench MetaFirstSync -benchtime 1x -timeout 30m
func BenchmarkMetaFirstSync(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SLUICE_META_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	sizes := []int{100_000, n}
	if n == 100_000 {
		sizes = sizes[:1]
	}
	for _, size := range sizes {
		b.Run(fmt.Sprintf("members=%d", size), func(b *testing.B) {
			for range b.N {
				benchFirstSync(b, size)
			}
		})
	}
}

// TestBenchFakeMeta is the benchmark's fake Meta API when run as its
// child process (skipped otherwise). GET /_bench/requests counts the
// requests by method, endpoint and status.
func TestBenchFakeMeta(t *testing.T) {
	benchkit.Serve(t, func(url string) http.Handler {
		var counts benchkit.Counts
		srv := fake.Handler(fake.Options{Token: testToken, AdAccount: testAccount, HourlyCalls: benchHourlyCalls, OnRequest: counts.Add})
		srv.URL = url
		return counts.Mount(srv)
	})
}

func benchFirstSync(b *testing.B, n int) {
	b.StopTimer()
	url := benchkit.StartChild(b, "TestBenchFakeMeta", nil)
	p := synctest.New(b, synctest.Options{
		Env:   map[string]string{"META_TOKEN": testToken, "META_URL": url},
		Files: map[string]string{"sync.yml": benchProject},
	})
	p.Exec(b, benchkit.AudiencePeople(n)...)
	p.Build(b)
	run := benchkit.TimedSync(b, p.Engine, "audience_to_meta")
	res, wall, inUse, live := run.Result, run.Wall, run.InUseMB, run.LiveMB
	var state struct{ Stats fake.Stats }
	var violations []fake.Violation
	counts := map[string]int{}
	benchkit.GetJSON(b, url+"/_bench/requests", &counts)
	benchkit.GetJSON(b, url+"/_fake/state", &state)
	benchkit.GetJSON(b, url+"/_fake/violations", &violations)
	for _, v := range violations[:min(len(violations), 5)] {
		b.Errorf("the fake saw a request Meta would refuse: %s: %s", v.Endpoint, v.Rule)
	}
	st := state.Stats
	lost := n - st.Members
	if res.Accepted != int64(n) || lost != 0 || st.Invalid != 0 || len(violations) != 0 {
		b.Errorf("accepted %d of %d, %d lost, %d invalid entries, %d violations", res.Accepted, n, lost, st.Invalid, len(violations))
	}
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(float64(st.Requests), "requests")
	b.ReportMetric(float64(st.UsersCalls), "users-requests")
	b.ReportMetric(inUse, "peak-heap-MB")
	b.ReportMetric(live, "peak-live-heap-MB")
	b.ReportMetric(float64(lost), "records-lost")
	b.Logf("%d people: accepted %d in %s, %d requests (%s), Go heap peak %.0f MB (live %.0f MB), %d members, %d lost, %d violations",
		n, res.Accepted, wall.Round(time.Millisecond), st.Requests, benchkit.Endpoints(counts), inUse, live, st.Members, lost, len(violations))
}
