// Package benchkit is what the destinations' first-sync benchmarks share:
// a vendor's fake served from a child process, so that the benchmark's Go
// heap is sluice's alone; the heap's peak sampled while a run goes on; and
// the fake's inspection documents and request counts read back.
package benchkit

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/internal/fakeserve"
	"github.com/sluicehq/sluice/sync/engine"
)

// childEnv names, in the child process, the test that is to serve.
const childEnv = "SLUICE_BENCH_CHILD"

// StartChild runs the test named test of this test binary in a child
// process with extra environment variables, and returns the URL it serves
// on (the test calls Serve). The child stops with tb's cleanup.
func StartChild(tb testing.TB, test string, env map[string]string) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), childEnv+"="+test)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the fake's process: %v", err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close() // the child's signal to stop
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "http://") {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return lines.Text()
		}
	}
	tb.Fatalf("the fake's process (%s) printed no URL", test)
	return ""
}

// Serve, in the child process StartChild runs, serves the handler that
// handler makes for its base URL on a loopback port, prints the URL and
// returns once the parent closes the child's standard input. Anywhere
// else it skips t: the test is a benchmark's fake, not a test.
func Serve(t *testing.T, handler func(url string) http.Handler) {
	if os.Getenv(childEnv) != t.Name() {
		t.Skip("a benchmark's fake, run in a process of its own")
	}
	if path := os.Getenv("SLUICE_BENCH_FAKE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			t.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := fakeserve.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := fakeserve.URL(ln)
	hs := &http.Server{Handler: handler(url), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	fmt.Println(url)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = hs.Close()
}

// Counts counts a fake's requests by method, endpoint and status; Mount
// serves them at GET /_bench/requests.
type Counts struct {
	mu sync.Mutex
	m  map[string]int
}

// Add is a fake's OnRequest hook.
func (c *Counts) Add(method, endpoint string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[fmt.Sprintf("%s %s %d", method, endpoint, status)]++
}

// Mount serves h at / and the counts at GET /_bench/requests.
func (c *Counts) Mount(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("GET /_bench/requests", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		_ = json.NewEncoder(w).Encode(c.m)
	})
	return mux
}

// Endpoints lists request counts by key, most first, as "key: n, ...".
func Endpoints(counts map[string]int) string {
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b string) int {
		return cmp.Or(counts[b]-counts[a], strings.Compare(a, b))
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// GetJSON reads one of the fake's inspection documents into v.
func GetJSON(tb testing.TB, url string, v any) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatalf("reading %s: %v", url, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		tb.Fatalf("reading %s: %v", url, err)
	}
}

// Heap samples the Go heap every 10 ms while a run goes on, with
// runtime/metrics (no stop-the-world): the bytes of heap objects (live and
// garbage not yet collected, what the process holds) and the live heap the
// last GC marked (the working set).
type Heap struct {
	stop        chan struct{}
	done        sync.WaitGroup
	inUse, live uint64
}

// WatchHeap starts sampling. SLUICE_BENCH_HEAPPROFILE names a file for a
// heap profile at the live heap's peak (go tool pprof), to see what holds
// it.
func WatchHeap() *Heap {
	h := &Heap{stop: make(chan struct{})}
	profile := os.Getenv("SLUICE_BENCH_HEAPPROFILE")
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
		profiled := uint64(0)
		for {
			metrics.Read(samples)
			h.inUse = max(h.inUse, samples[0].Value.Uint64())
			h.live = max(h.live, samples[1].Value.Uint64())
			if profile != "" && h.live > profiled+profiled/10 {
				profiled = h.live
				writeHeapProfile(profile)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// End stops sampling and returns the peaks, in MB.
func (h *Heap) End() (inUseMB, liveMB float64) {
	close(h.stop)
	h.done.Wait()
	return float64(h.inUse) / (1 << 20), float64(h.live) / (1 << 20)
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.WriteHeapProfile(f)
}

// Run is one timed sync of a benchmark.
type Run struct {
	Result          *engine.Result
	Wall            time.Duration
	InUseMB, LiveMB float64 // the Go heap's peaks, MB (see Heap)
}

// TimedSync runs the sync after a GC, timing it and sampling the heap
// meanwhile; the benchmark's timer runs only during the sync. A failed
// sync fails b.
func TimedSync(b *testing.B, e *engine.Engine, sync string) Run {
	b.Helper()
	runtime.GC()
	heap := WatchHeap()
	b.StartTimer()
	start := time.Now()
	res, err := e.Sync(context.Background(), sync, engine.SyncOptions{})
	wall := time.Since(start)
	b.StopTimer()
	inUse, live := heap.End()
	if err != nil {
		b.Fatalf("sync %s: %v", sync, err)
	}
	return Run{Result: res, Wall: wall, InUseMB: inUse, LiveMB: live}
}
