//go:build unix

package klaviyo_test

// BenchmarkKlaviyoFirstSync, recorded in docs/benchmarks.md ("## Klaviyo"):
// a first sync of N profiles to the fake Klaviyo enforcing Klaviyo's
// published limits (bulk import jobs: 10/s burst, 150/m steady). Sizes and
// batch sizes are sub-benchmarks:
//
//	go test ./connectors/klaviyo -run '^$' -bench 'FirstSync/profiles=1M/batch=10000' -benchtime 1x -timeout 30m
//	go test ./connectors/klaviyo -run '^$' -bench 'FirstSync/profiles=100k' -benchtime 1x

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/klaviyo/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

const benchSync = `sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - name: klaviyo
    type: klaviyo
    api_key: "${KLAVIYO_API_KEY}"
    base_url: "${KLAVIYO_BASE_URL}"
    batch_size: %d
syncs:
  - name: people_to_klaviyo
    from: source.people
    to: klaviyo
    key: email
    consent: opt_in
    mapping:
      email: {from: email, transform: email}
      phone_number: phone
      external_id: id
      first_name: first_name
      last_name: last_name
      location.country: country
      location.city: city
      properties.ltv: ltv
      properties.orders: orders
      properties.last_order_at: last_order_at
`

// minSpan is the shortest time n requests can take under fixed windows
// aligned to the clock (what Klaviyo counts in), the first sent at t0.
func minSpan(n int, t0 time.Time, burst, steady int) time.Duration {
	t := t0
	sec, min := t.Unix(), t.Unix()/60
	inSec, inMin := 0, 0
	for i := 0; i < n; i++ {
		for {
			if t.Unix() != sec {
				sec, inSec = t.Unix(), 0
			}
			if t.Unix()/60 != min {
				min, inMin = t.Unix()/60, 0
			}
			switch {
			case inMin >= steady:
				t = time.Unix((min+1)*60, 0)
				continue
			case inSec >= burst:
				t = time.Unix(sec+1, 0)
				continue
			}
			break
		}
		inSec++
		inMin++
	}
	return t.Sub(t0)
}

func TestMinSpan(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0) // on a minute boundary
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 0}, {10, 0}, {11, time.Second}, {150, 14 * time.Second}, {151, time.Minute}, {300, time.Minute + 14*time.Second}} {
		if got := minSpan(tc.n, t0, 10, 150); got != tc.want {
			t.Errorf("minSpan(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func BenchmarkKlaviyoFirstSync(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"100k", 100_000}, {"1M", 1_000_000}} {
		for _, batch := range []int{10000, 2000} {
			b.Run(fmt.Sprintf("profiles=%s/batch=%d", size.name, batch), func(b *testing.B) {
				for range b.N {
					firstSync(b, size.n, batch)
				}
			})
		}
	}
}

func firstSync(b *testing.B, n, batch int) {
	b.StopTimer()
	// The fake runs in a process of its own, as Klaviyo would: the Go heap
	// and CPU measured here are sluice's.
	fk := startFakeProcess(b)
	p := synctest.New(b, synctest.Options{
		Files:  map[string]string{"sync.yml": fmt.Sprintf(benchSync, batch)},
		DBFile: "bench.duckdb", MemoryLimit: "4GB",
		Env: map[string]string{"KLAVIYO_API_KEY": goodKey, "KLAVIYO_BASE_URL": fk.url},
	})
	p.Exec(b, "CREATE SCHEMA raw", fmt.Sprintf(`CREATE TABLE raw.people AS
SELECT 'c' || i AS id,
       'person' || i || '@example.com' AS email,
       '+336' || lpad(CAST(i %% 100000000 AS VARCHAR), 8, '0') AS phone,
       'First' || (i %% 9973) AS first_name,
       'Last' || (i %% 7919) AS last_name,
       ['FR', 'DE', 'US', 'GB', 'ES'][1 + i %% 5] AS country,
       ['Paris', 'Berlin', 'Austin', 'Leeds', 'Madrid'][1 + i %% 5] AS city,
       CAST((i * 37) %% 100000 AS DECIMAL(12,2)) / 100 AS ltv,
       CAST(i %% 40 AS INTEGER) AS orders,
       TIMESTAMP '2024-01-01' + to_seconds(i %% 10000000) AS last_order_at,
       true AS opt_in
FROM range(%d) t(i)`, n))
	p.Build(b)
	var phases strings.Builder
	p.Engine.Logger = slog.New(slog.NewTextHandler(&phases, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := trackHeap()
	cpu0 := cpuTime()
	b.StartTimer()
	start := time.Now()
	res, err := p.Engine.Sync(context.Background(), "people_to_klaviyo", engine.SyncOptions{})
	wall := time.Since(start)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	heap := peak()
	if err != nil {
		b.Fatal(err)
	}
	st, reqs := fk.stats(b)
	fakeCPU := fk.stop(b)
	var imports []time.Time
	for _, r := range reqs {
		if r.Operation == "bulk_import_profiles" && r.Status == 202 {
			imports = append(imports, r.Time)
		}
	}
	slices.SortFunc(imports, func(a, b time.Time) int { return a.Compare(b) })
	jobs := len(imports)
	span := imports[jobs-1].Sub(imports[0])
	best := minSpan(jobs, imports[0], 10, 150)
	lost := n - st.Imported
	if res.Accepted != int64(n) || res.Rejected != 0 || lost != 0 || st.Profiles != n {
		b.Fatalf("accepted %d, rejected %d, imported %d, profiles at the fake %d, of %d", res.Accepted, res.Rejected, st.Imported, st.Profiles, n)
	}
	share := 1.0
	if span > 0 {
		share = best.Seconds() / span.Seconds()
	}
	b.ReportMetric(wall.Seconds(), "wall-s")
	b.ReportMetric(float64(n)/wall.Seconds(), "profiles/s")
	b.ReportMetric(float64(jobs), "jobs")
	b.ReportMetric(float64(st.Requests), "requests")
	b.ReportMetric(100*float64(st.Throttled)/float64(st.Requests), "%429")
	b.ReportMetric(span.Seconds(), "import-span-s")
	b.ReportMetric(best.Seconds(), "allowed-span-s")
	b.ReportMetric(100*share, "%allowed-rate")
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(heap-before.HeapInuse)/(1<<20), "heap-peak-MB")
	b.ReportMetric(cpu.Seconds(), "sluice-cpu-s")
	b.ReportMetric(fakeCPU.Seconds(), "fake-cpu-s")
	b.Logf("%d profiles in %s: %d jobs over %s (fastest the limits allow: %s, %.0f%%), %d requests (%v), %d throttled; CPU sluice %s, fake %s",
		n, wall.Round(time.Millisecond), jobs, span.Round(time.Millisecond), best, 100*share, st.Requests, st.ByOperation, st.Throttled, cpu.Round(time.Millisecond), fakeCPU.Round(time.Millisecond))
	// Imports per fixed minute window, as Klaviyo counts them.
	var windows []string
	for i := 0; i < len(imports); {
		w := imports[i].Unix() / 60
		j := i
		for j < len(imports) && imports[j].Unix()/60 == w {
			j++
		}
		windows = append(windows, fmt.Sprintf("%d in [+%.1fs, +%.1fs]", j-i, imports[i].Sub(imports[0]).Seconds(), imports[j-1].Sub(imports[0]).Seconds()))
		i = j
	}
	b.Logf("imports per minute window: %s", strings.Join(windows, "; "))
	for _, line := range strings.Split(strings.TrimSpace(phases.String()), "\n") {
		if strings.Contains(line, "sync phase") {
			b.Log(line[strings.Index(line, "phase="):])
		}
	}
}

// fakeServeEnv makes the test binary serve the fake Klaviyo instead of
// running tests (see TestMain): the benchmark starts it as a process.
const fakeServeEnv = "SLUICE_KLAVIYO_FAKE_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(fakeServeEnv) != "" {
		serveFake()
		return
	}
	os.Exit(m.Run())
}

// serveFake serves a lean fake with Klaviyo's limits on a free loopback
// port, prints its URL, and stops when its standard input closes (when the
// benchmark ends, or dies).
func serveFake() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := fake.Handler(fake.Options{
		APIKey: goodKey, Limits: fake.KlaviyoLimits(), Lean: true,
		// Klaviyo takes a while per job; the fake, about a second for 10,000.
		JobQueued: 100 * time.Millisecond, JobProcessing: 400 * time.Millisecond, JobPerProfile: 50 * time.Microsecond,
	})
	srv.URL = "http://" + ln.Addr().String()
	go func() { _ = http.Serve(ln, srv) }()
	fmt.Println(srv.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	srv.Close()
	os.Exit(0)
}

type fakeProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
}

func startFakeProcess(b *testing.B) *fakeProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fakeServeEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	fk := &fakeProcess{cmd: cmd, stdin: stdin}
	b.Cleanup(func() { fk.stop(b) })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("starting the fake: %v", err)
	}
	fk.url = strings.TrimSpace(line)
	return fk
}

// stop ends the fake and returns the CPU time it used.
func (f *fakeProcess) stop(b *testing.B) time.Duration {
	if f.cmd.ProcessState == nil {
		f.stdin.Close()
		if err := f.cmd.Wait(); err != nil {
			b.Errorf("fake: %v", err)
		}
	}
	return f.cmd.ProcessState.UserTime() + f.cmd.ProcessState.SystemTime()
}

type fakeStats struct {
	Profiles       int            `json:"profiles"`
	Requests       int            `json:"requests"`
	Throttled      int            `json:"throttled"`
	Imported       int            `json:"imported"`
	ImportFailures int            `json:"import_failures"`
	ByOperation    map[string]int `json:"by_operation"`
}

func (f *fakeProcess) stats(b *testing.B) (fakeStats, []fake.Request) {
	b.Helper()
	var st fakeStats
	var reqs []fake.Request
	for path, v := range map[string]any{"/_fake/state": &st, "/_fake/requests": &reqs} {
		resp, err := http.Get(f.url + path)
		if err != nil {
			b.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(v)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	return st, reqs
}

// cpuTime is the CPU time of this process so far (DuckDB's threads
// included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// trackHeap samples the Go heap until the returned function is called,
// which returns the peak.
func trackHeap() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
