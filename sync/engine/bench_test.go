package engine_test

// Benchmarks of the sync engine, recorded in docs/benchmarks.md ("## Sync").
// Sizes are sub-benchmarks, so a quick run is possible:
//
//	go test ./sync/engine -run '^$' -bench 'Plan/rows=1M' -benchtime 1x
//	go test ./sync/engine -run '^$' -bench . -benchtime 1x -timeout 60m

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/planner"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/synctest"
)

const benchProject = `sources:
  - {name: people, table: raw.people, primary_key: profile_id}
destinations:
  - {name: hook, type: webhook, url: "${HOOK_URL}", rate: 100000, batch_size: 1000, concurrency: 4}
  - {name: void, type: bench_null}
syncs:
  - name: people_sync
    from: source.people
    to: hook
    mode: mirror
    key: email
    max_removals: 100%
    consent: opt_in
    mapping: &m
      email: {from: email, transform: email}
      first_name: first_name
      country: country
      properties.ltv: ltv
      properties.orders: orders
      properties.last_order_at: last_order_at
  - name: people_void
    from: source.people
    to: void
    key: email
    max_removals: 100%
    consent: opt_in
    mapping: *m
`

func init() {
	// A destination that accepts everything instantly: what sluice alone
	// can push.
	destination.Register(config.ComponentSpec{Type: "bench_null", Summary: "benchmarks only"}, func(context.Context, destination.Config) (destination.Destination, error) {
		return nullDest{}, nil
	})
}

type nullDest struct{}

func (nullDest) Check(context.Context) error { return nil }
func (nullDest) Limits() destination.Limits {
	return destination.Limits{BatchSize: 1000, Concurrency: 4}
}
func (nullDest) Write(_ context.Context, b *destination.Batch) ([]error, error) {
	return make([]error, len(b.Records)), nil
}
func (nullDest) Close() error { return nil }

var sizes = []struct {
	name string
	n    int
}{{"100k", 100_000}, {"1M", 1_000_000}, {"10M", 10_000_000}}

func benchPeople(b *testing.B, n int, url string) *synctest.Project {
	b.Helper()
	p := synctest.New(b, synctest.Options{
		Files:  map[string]string{"sync.yml": benchProject},
		DBFile: "bench.duckdb", MemoryLimit: "4GB",
		Env: map[string]string{"HOOK_URL": url},
	})
	p.Exec(b, "CREATE SCHEMA raw", fmt.Sprintf(`CREATE TABLE raw.people AS
SELECT 'p' || i AS profile_id,
       CASE WHEN i %% 50 = 0 THEN ' User' || i || '@Example.com' ELSE 'user' || i || '@example.com' END AS email,
       'name ' || (i %% 9973) AS first_name,
       ['FR', 'DE', 'US', 'GB', 'ES'][1 + i %% 5] AS country,
       CAST((i * 37) %% 100000 AS DECIMAL(12,2)) / 100 AS ltv,
       CAST(i %% 40 AS INTEGER) AS orders,
       TIMESTAMP '2024-01-01' + to_seconds(i %% 10000000) AS last_order_at,
       i %% 10 <> 0 AS opt_in
FROM range(%d) t(i)`, n))
	p.Build(b)
	return p
}

// adopt records the current model as already at the destination, as a
// finished first sync would have (without sending n records).
func adopt(b *testing.B, p *synctest.Project, sync string) {
	b.Helper()
	ctx := context.Background()
	sp, err := spec.Resolve(p.P, p.W.Dialect(), sync)
	if err != nil {
		b.Fatal(err)
	}
	st := p.Engine.Store()
	if err := st.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	pl, err := planner.New(ctx, p.W, st, sp)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.EnsureSnapshot(ctx, sync, pl.Canary(), time.Now()); err != nil {
		b.Fatal(err)
	}
	p.Exec(b, "INSERT INTO "+st.SnapshotTable(sync)+" SELECT d.k, d.h, NULL, 'adopted', now() FROM ("+pl.Classified()+") AS d WHERE d.class = "+fmt.Sprint(planner.ClassCode(spec.Add)), "CHECKPOINT")
}

// change touches 1% of the rows: 0.5% updated, 0.25% deleted, 0.25% new.
func change(b *testing.B, p *synctest.Project, n int) {
	p.Exec(b,
		"UPDATE raw.people SET ltv = ltv + 1 WHERE hash(profile_id) % 200 = 0",
		"DELETE FROM raw.people WHERE hash(profile_id) % 400 = 1",
		fmt.Sprintf("INSERT INTO raw.people SELECT 'q' || i, 'new' || i || '@example.com', 'new', 'FR', 1, 1, TIMESTAMP '2025-01-01', true FROM range(%d) t(i)", n/400),
		"CHECKPOINT",
	)
}

// heapPeak samples the Go heap while fn runs.
func heapPeak(fn func()) (peak uint64) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for !stop.Load() {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	runtime.GC()
	fn()
	stop.Store(true)
	wg.Wait()
	return peak
}

// floor is the plainest possible diff: hash every model row and full outer
// join against the snapshot, counting differences.
func floor(b *testing.B, p *synctest.Project, sync string) time.Duration {
	b.Helper()
	st := p.Engine.Store()
	q := `SELECT count(*) FROM (SELECT lower(trim(email)) AS k, hash(email, first_name, country, ltv, orders, last_order_at) AS h FROM sluice.src_people) AS m
FULL OUTER JOIN ` + st.SnapshotTable(sync) + ` AS s ON m.k = s.key WHERE m.h IS DISTINCT FROM s.hash`
	start := time.Now()
	var n int64
	if err := warehouse.QueryRow(context.Background(), p.W, q, &n); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// BenchmarkPlan: plan of a model with 1% changed, against the floor.
func BenchmarkPlan(b *testing.B) {
	for _, sz := range sizes {
		b.Run("rows="+sz.name, func(b *testing.B) {
			p := benchPeople(b, sz.n, "http://127.0.0.1:1")
			adopt(b, p, "people_sync")
			change(b, p, sz.n)
			ctx := context.Background()
			floor(b, p, "people_sync") // warm the buffer pool like the plan runs will be
			// The floor is measured right before and after each plan, and the
			// plan compared with their mean, so that other load on the
			// machine affects both alike; the best ratio is the least
			// disturbed.
			var planTotal, floorTotal time.Duration
			var ratios []float64
			var peak uint64
			var pl *engine.Plan
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				before := floor(b, p, "people_sync")
				b.StartTimer()
				start := time.Now()
				peak = max(peak, heapPeak(func() {
					var err error
					if pl, err = p.Engine.Plan(ctx, "people_sync", engine.PlanOptions{Samples: 3}); err != nil {
						b.Fatal(err)
					}
				}))
				took := time.Since(start)
				planTotal += took
				b.StopTimer()
				after := floor(b, p, "people_sync")
				b.StartTimer()
				ratios = append(ratios, took.Seconds()/((before+after).Seconds()/2))
				floorTotal += (before + after) / 2
			}
			slices.Sort(ratios)
			b.ReportMetric(planTotal.Seconds()/float64(b.N), "plan-s")
			b.ReportMetric(floorTotal.Seconds()/float64(b.N), "floor-s")
			b.ReportMetric(ratios[0], "best-x-floor")
			b.ReportMetric(ratios[len(ratios)/2], "median-x-floor")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.Logf("%s rows: %d adds, %d updates, %d removes, %d unchanged", sz.name, pl.Adds, pl.Updates, pl.Removes, pl.Unchanged)
		})
	}
}

// BenchmarkPlanNoChange: plan when nothing changed.
func BenchmarkPlanNoChange(b *testing.B) {
	for _, sz := range sizes[:2] {
		b.Run("rows="+sz.name, func(b *testing.B) {
			p := benchPeople(b, sz.n, "http://127.0.0.1:1")
			adopt(b, p, "people_sync")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				pl, err := p.Engine.Plan(ctx, "people_sync", engine.PlanOptions{Samples: 3})
				if err != nil {
					b.Fatal(err)
				}
				if pl.Adds+pl.Updates+pl.Removes != 0 {
					b.Fatalf("not a no-change plan: %+v", pl)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "plan-s")
		})
	}
}

// timedDest records how long the send workers spend in Write (waiting on
// the destination, the webhook's own JSON encoding included) during the
// send phase, to tell whether a run was bound by the destination or by
// sluice's pipeline feeding it.
type timedDest struct {
	destination.Destination
	mu          sync.Mutex
	inWrite     time.Duration
	first, last time.Time
}

func (d *timedDest) Write(ctx context.Context, b *destination.Batch) ([]error, error) {
	start := time.Now()
	errs, err := d.Destination.Write(ctx, b)
	end := time.Now()
	d.mu.Lock()
	d.inWrite += end.Sub(start)
	if d.first.IsZero() || start.Before(d.first) {
		d.first = start
	}
	if end.After(d.last) {
		d.last = end
	}
	d.mu.Unlock()
	return errs, err
}

// busyShare is the share of the send phase's worker time spent in Write:
// near 1, the workers always had a batch to send (bound by the
// destination); lower, they waited on sluice.
func (d *timedDest) busyShare(workers int) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	span := d.last.Sub(d.first)
	if span <= 0 || workers <= 0 {
		return 0
	}
	return d.inWrite.Seconds() / (span.Seconds() * float64(workers))
}

// BenchmarkSync: a first sync of every row (all changed). Destinations:
//   - null: accepts instantly; what sluice itself sustains (read the
//     warehouse, map, batch, commit outcomes, fold);
//   - webhook: the fake webhook on loopback, answering at once (it shares
//     the 2 cores with sluice and DuckDB);
//   - webhook-100ms: the same, answering each request after 100 ms, like a
//     remote API: its ceiling is concurrency 4 x 1000 records / 0.1 s =
//     40,000 records/s.
//
// Besides rows/s it reports the process's CPU per row (cpu-us/row), the
// share of the send phase the 4 send workers spent in Write (busy-share:
// near 1 means bound by the destination), rows/s over the send phase alone
// (send-rows/s) and, for the instant webhook, the webhook's own capacity
// measured right after on the same server with pre-encoded payloads
// (alone-rows/s) with the CPU the webhook and the HTTP exchange take per row
// (alone-cpu-us/row, part of the sync's cpu-us/row too), so that the bound
// is read from one run.
func BenchmarkSync(b *testing.B) {
	for _, sz := range sizes[:2] {
		for _, dest := range []struct {
			name    string
			latency time.Duration
		}{{"null", 0}, {"webhook", 0}, {"webhook-100ms", 100 * time.Millisecond}} {
			b.Run(fmt.Sprintf("rows=%s/dest=%s", sz.name, dest.name), func(b *testing.B) {
				srv := fake.New(b, fake.Options{Discard: true, Latency: dest.latency})
				p := benchPeople(b, sz.n, srv.URL)
				if v := os.Getenv("SLUICE_BENCH_CHECKPOINT"); v != "" {
					p.Exec(b, "SET checkpoint_threshold = '"+v+"'")
				}
				if os.Getenv("SLUICE_BENCH_DEBUG") != "" {
					p.Engine.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
				}
				var td *timedDest
				open := p.Engine.Open
				p.Engine.Open = func(ctx context.Context, d config.Destination, dir string, s destination.SyncInfo, l *slog.Logger) (destination.Destination, error) {
					dst, err := open(ctx, d, dir, s, l)
					if err != nil {
						return nil, err
					}
					td = &timedDest{Destination: dst}
					return td, nil
				}
				name := "people_sync"
				if dest.name == "null" {
					name = "people_void"
				}
				ctx := context.Background()
				var sent int64
				var peak uint64
				var cpu, sendSpan time.Duration
				var busy float64
				for b.Loop() {
					b.StopTimer()
					if err := p.Engine.Reset(ctx, name); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					c0 := cpuTime()
					peak = max(peak, heapPeak(func() {
						res, err := p.Engine.Sync(ctx, name, engine.SyncOptions{})
						if err != nil {
							b.Fatal(err)
						}
						sent += res.Accepted
					}))
					cpu += cpuTime() - c0
					if td == nil {
						b.Fatal("the sync opened no destination")
					}
					busy += td.busyShare(4)
					sendSpan += td.last.Sub(td.first)
				}
				b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(sent)/sendSpan.Seconds(), "send-rows/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(sent), "cpu-us/row")
				b.ReportMetric(busy/float64(b.N), "busy-share")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
				if dest.name == "webhook" {
					b.StopTimer()
					rate, cpu := webhookAlone(b, srv.URL, sz.n)
					b.ReportMetric(rate, "alone-rows/s")
					b.ReportMetric(cpu, "alone-cpu-us/row")
				}
			})
		}
	}
}

// webhookAlone measures what the webhook at url absorbs by itself, with n
// records' payloads encoded in advance and posted by as many workers as the
// webhook destination uses (4), in batches of the same size (1000): rows/s
// and the process's CPU per row (the webhook's and the HTTP client's).
func webhookAlone(b *testing.B, url string, n int) (rate, cpuPerRow float64) {
	b.Helper()
	const batch = 1000
	payloads := make([][]byte, 0, n/batch)
	for i := 0; i < n; i += batch {
		ops := make([]map[string]any, batch)
		for j := range ops {
			k := fmt.Sprintf("user%d@example.com", i+j)
			ops[j] = map[string]any{"op": "upsert", "key": k, "fields": map[string]any{
				"email": k, "first_name": "name 42", "country": "FR",
				"properties": map[string]any{"ltv": json.Number("123.45"), "orders": 7, "last_order_at": "2024-03-01T10:00:00Z"}}}
		}
		body, _ := json.Marshal(map[string]any{"sync": "people_sync", "run_id": "r", "mode": "mirror", "operations": ops})
		payloads = append(payloads, body)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start, c0 := time.Now(), cpuTime()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if int(i) >= len(payloads) {
					return
				}
				resp, err := http.Post(url, "application/json", bytes.NewReader(payloads[i]))
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	rows := float64(len(payloads) * batch)
	return rows / time.Since(start).Seconds(), float64((cpuTime() - c0).Microseconds()) / rows
}

// BenchmarkWebhookAlone: what the loopback webhook absorbs by itself (see
// webhookAlone): the ceiling of BenchmarkSync's webhook case on this
// machine.
func BenchmarkWebhookAlone(b *testing.B) {
	for _, sz := range sizes[:2] {
		b.Run("rows="+sz.name, func(b *testing.B) {
			srv := fake.New(b, fake.Options{Discard: true})
			var rate, cpu float64
			for b.Loop() {
				rate, cpu = webhookAlone(b, srv.URL, sz.n)
			}
			b.ReportMetric(rate, "rows/s")
			b.ReportMetric(cpu, "cpu-us/row")
		})
	}
}
