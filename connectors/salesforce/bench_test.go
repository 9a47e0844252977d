package salesforce_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/salesforce/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

// benchProject is a record sync of raw.people to Contacts upserted by an
// External ID field; %d is bulk_threshold.
const benchProject = `sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - name: salesforce
    type: salesforce
    client_id: "${SALESFORCE_CLIENT_ID}"
    client_secret: "${SALESFORCE_CLIENT_SECRET}"
    login_url: "${SALESFORCE_LOGIN_URL}"
    bulk_threshold: %d
syncs:
  - name: people_to_salesforce
    from: source.people
    to: salesforce
    key: Sluice_Email__c
    mapping: {Sluice_Email__c: email, Email: email, FirstName: first_name, LastName: last_name, Lifetime_Value__c: ltv}
`

// heapPeak samples the Go heap while a run goes on.
type heapPeak struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func watchHeap() *heapPeak {
	h := &heapPeak{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			h.peak = max(h.peak, m.HeapAlloc)
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) end() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak
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
// default 10,000). It reports the wall time, the API requests the run used
// (the fake's daily counter: token requests do not count), the Go heap's
// peak during the run and what stays after it (the fake org's records,
// which live in the same process: the difference is the run's working
// set), and the records lost (model rows the org has no Contact for).
//
//	go test ./connectors/salesforce -run '^$' -bench SalesforceFirstSync -benchtime 1x -timeout 30m
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

func benchFirstSync(b *testing.B, n, threshold int) {
	b.StopTimer()
	srv, _ := startFake(b, fake.Options{Objects: e2eObjects, DailyLimit: -1})
	p := synctest.New(b, synctest.Options{
		Env:   map[string]string{"SALESFORCE_CLIENT_ID": testClientID, "SALESFORCE_CLIENT_SECRET": testSecret, "SALESFORCE_LOGIN_URL": srv.URL},
		Files: map[string]string{"sync.yml": fmt.Sprintf(benchProject, threshold)},
	})
	p.Exec(b, "CREATE SCHEMA raw", fmt.Sprintf(`CREATE TABLE raw.people AS SELECT i AS id, 'person' || i || '@example.com' AS email,
		'First' || i AS first_name, 'Last' || i AS last_name, i * 1.5 AS ltv FROM range(1, %d) t(i)`, n+1))
	p.Build(b)
	runtime.GC()
	usedBefore := srv.Stats().APIUsage
	heap := watchHeap()
	b.StartTimer()
	start := time.Now()
	res, err := p.Engine.Sync(context.Background(), "people_to_salesforce", engine.SyncOptions{})
	wall := time.Since(start)
	b.StopTimer()
	peak := heap.end()
	if err != nil {
		b.Fatalf("sync: %v", err)
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st := srv.Stats()
	lost := n - st.Records["Contact"]
	requests := st.APIUsage - usedBefore
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(float64(requests), "api-requests")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "retained-heap-MB")
	b.ReportMetric(float64(lost), "records-lost")
	b.Logf("%d people: accepted %d in %s, %d API requests (%d jobs), peak heap %d MB, %d MB retained after the run (the fake org), %d lost",
		n, res.Accepted, wall.Round(time.Millisecond), requests, st.Jobs, peak>>20, m.HeapAlloc>>20, lost)
}
