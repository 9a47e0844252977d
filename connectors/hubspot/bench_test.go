package hubspot_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/hubspot/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

// benchProject is a record sync of raw.people to HubSpot at the given rate.
const benchProject = `sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - name: hubspot
    type: hubspot
    access_token: "${HUBSPOT_TOKEN}"
    base_url: "${HUBSPOT_URL}"
    create_properties: true
syncs:
  - name: people_to_hubspot
    from: source.people
    to: hubspot
    key: email
    rate: %g
    mapping: {email: email, firstname: first_name, lastname: last_name, phone: phone, country: country, lifetime_value: ltv}
`

// proLimit is a Professional private app's requests per 10 seconds.
const proLimit = 190

// scaledClock runs k times faster than the wall clock from its start, so
// that the fake's 10-second window lasts 10/k real seconds.
func scaledClock(k float64) func() time.Time {
	start := time.Now()
	var mu sync.Mutex
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return start.Add(time.Duration(float64(time.Since(start)) * k))
	}
}

// arrivals records when requests reach the fake: the first comes after
// the plan and the materialisation of the changes, which the wall time
// includes.
type arrivals struct {
	mu          sync.Mutex
	n           int
	first, last time.Time
}

// startFake serves the fake HubSpot on loopback, recording the arrivals.
func startFake(b *testing.B, opts fake.Options) (*fake.Server, *arrivals) {
	srv, seen := fake.Handler(opts), &arrivals{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		seen.mu.Lock()
		if seen.n == 0 {
			seen.first = now
		}
		seen.n++
		seen.last = now
		seen.mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	b.Cleanup(ts.Close)
	srv.URL = ts.URL
	return srv, seen
}

func (a *arrivals) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n = 0
}

// report gives the time to the first request, and the share of the
// allowed rate from the first request to the last (the pacing alone).
func (a *arrivals) report(b *testing.B, start time.Time, window time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n < 2 {
		return
	}
	sending := a.last.Sub(a.first)
	b.ReportMetric(a.first.Sub(start).Seconds(), "first-request-s")
	b.ReportMetric(100*float64(a.n-1)/(sending.Seconds()/window.Seconds()*proLimit), "%-of-allowed-while-sending")
	b.Logf("first request after %s; %d requests in the %s from the first to the last",
		a.first.Sub(start).Round(time.Millisecond), a.n, sending.Round(time.Millisecond))
}

// BenchmarkHubSpotFirstSync, recorded in docs/benchmarks.md ("## HubSpot"):
// a first sync of N contacts (default 100,000; SLUICE_HUBSPOT_BENCH_N
// overrides) to the fake HubSpot enforcing a Professional private app's
// 190 requests per 10 s as a sliding window. It reports the wall time, the
// requests, the share of the allowed request rate achieved (over the wall
// time, and from the first request to the last), the time to the first
// request, the 429 answers, and the records lost (model rows the fake has
// no contact for).
// SLUICE_HUBSPOT_BENCH_SCALE=k (e.g. 10) runs the fake's clock k times
// faster, a window of 10/k s with the sync's rate k times 19, for quicker
// runs; the limit per window is unchanged.
//
//	go test ./connectors/hubspot -run '^$' -bench HubSpotFirstSync -benchtime 1x -timeout 10m
func BenchmarkHubSpotFirstSync(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("SLUICE_HUBSPOT_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	scale := 1.0
	if v, err := strconv.ParseFloat(os.Getenv("SLUICE_HUBSPOT_BENCH_SCALE"), 64); err == nil && v > 0 {
		scale = v
	}
	for range b.N {
		benchFirstSync(b, n, scale)
	}
}

func benchFirstSync(b *testing.B, n int, scale float64) {
	b.StopTimer()
	opts := fake.Options{Token: e2eToken, TenSecondly: proLimit, Daily: -1}
	window := fake.Interval
	if scale != 1 {
		opts.Now = scaledClock(scale)
		window = time.Duration(float64(fake.Interval) / scale)
	}
	srv, seen := startFake(b, opts)
	p := synctest.New(b, synctest.Options{
		Env:   map[string]string{"HUBSPOT_TOKEN": e2eToken, "HUBSPOT_URL": srv.URL},
		Files: map[string]string{"sync.yml": fmt.Sprintf(benchProject, float64(proLimit)/10*scale)},
	})
	p.Exec(b, "CREATE SCHEMA raw",
		fmt.Sprintf(`CREATE TABLE raw.people AS SELECT i AS id, 'person' || i || '@example.com' AS email,
			'First' || i AS first_name, 'Last' || i AS last_name,
			'+336' || lpad(CAST(10000000 + i AS VARCHAR), 8, '0') AS phone,
			CASE i %% 3 WHEN 0 THEN 'FR' WHEN 1 THEN 'DE' ELSE 'US' END AS country,
			round(i * 1.37, 2) AS ltv
			FROM range(%d) t(i)`, n))
	p.Build(b)
	before := srv.Stats()
	seen.reset()
	b.StartTimer()
	start := time.Now()
	res, err := p.Engine.Sync(context.Background(), "people_to_hubspot", engine.SyncOptions{})
	wall := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	st := srv.Stats()
	requests := st.Requests - before.Requests
	throttled := st.Failed429 - before.Failed429
	lost := 0
	for i := range n {
		if _, ok := srv.ContactByEmail(fmt.Sprintf("person%d@example.com", i)); !ok {
			lost++
		}
	}
	if res.Accepted != int64(n) || lost != 0 {
		b.Errorf("accepted %d of %d, %d records lost", res.Accepted, n, lost)
	}
	allowed := wall.Seconds() / window.Seconds() * proLimit
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(100*float64(requests)/allowed, "%-of-allowed-rate")
	b.ReportMetric(float64(throttled), "429s")
	b.ReportMetric(100*float64(throttled)/float64(max(1, requests)), "%-429")
	b.ReportMetric(float64(lost), "lost")
	seen.report(b, start, window)
	b.Logf("%d contacts in %s (window %s, %d per window): %d requests, %.1f%% of the allowed rate, %d answered 429, %d lost",
		n, wall.Round(time.Millisecond), window, proLimit, requests, 100*float64(requests)/allowed, throttled, lost)
}
