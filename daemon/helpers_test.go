package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/clocktest"
	"github.com/sluicehq/sluice/daemon/metrics"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/webhook"
)

// t0 is when fake clocks start: a quarter-hour boundary.
var t0 = time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)

const token = "s3cret-webhook-token"

// hook is a webhook receiver (the project's fake) behind a gate: once
// `allow` non-empty batches went through, the next ones wait for release
// (or for the client to give up).
type hook struct {
	*fake.Server
	url     string
	mu      sync.Mutex
	allow   int // -1: no gate
	passed  int
	waiting chan struct{}
	release chan struct{}
	// failErase answers 500 to requests of erase operations only.
	failErase bool
}

// setFailErase makes requests of erase operations fail (500) or not.
func (h *hook) setFailErase(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failErase = on
}

func newHook(t *testing.T) *hook {
	h := &hook{Server: fake.Handler(fake.Options{Token: token}), allow: -1, waiting: make(chan struct{}, 100), release: make(chan struct{})}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	h.url = srv.URL
	return h
}

// hold lets n more batches through, then holds the next ones.
func (h *hook) hold(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allow, h.passed, h.release = n, 0, make(chan struct{})
}

// open releases held batches and stops holding.
func (h *hook) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allow = -1
	close(h.release)
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p struct{ Operations []struct{ Op string } }
	_ = json.Unmarshal(body, &p)
	h.mu.Lock()
	failErase := h.failErase && len(p.Operations) > 0 && p.Operations[0].Op == "erase"
	h.mu.Unlock()
	if failErase {
		w.Header().Set("Retry-After", "0")
		http.Error(w, `{"error":"erasure backend down"}`, http.StatusInternalServerError)
		return
	}
	if len(p.Operations) > 0 {
		h.mu.Lock()
		held := h.allow >= 0 && h.passed >= h.allow
		release := h.release
		if !held {
			h.passed++
		}
		h.mu.Unlock()
		if held {
			h.waiting <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h.Server.ServeHTTP(w, r)
}

// env is a project on an in-memory DuckDB with a table raw.people, syncs
// to the gated webhook, and a fake clock.
type env struct {
	t     *testing.T
	p     *synctest.Project
	hook  *hook
	clock *clocktest.Clock
	vars  map[string]string
}

const projectRoot = `version: 1
name: ops
warehouse: {type: duckdb, threads: 2}
daemon: {trigger_token: "${TRIGGER_TOKEN}", shutdown_timeout: 1s}
`

func newEnv(t *testing.T, root, files string, people int) *env {
	t.Helper()
	return newEnvWith(t, root, files, people, nil)
}

func newEnvWith(t *testing.T, root, files string, people int, extra map[string]string) *env {
	t.Helper()
	h := newHook(t)
	vars := map[string]string{"HOOK_URL": h.url, "HOOK_TOKEN": token, "TRIGGER_TOKEN": "trigger-0123456789abcdef"}
	for k, v := range extra {
		vars[k] = v
	}
	if root == "" {
		root = projectRoot
	}
	p := synctest.New(t, synctest.Options{Files: map[string]string{"sluice.yml": root, "p.yml": files}, Env: vars})
	p.Exec(t, "CREATE SCHEMA raw",
		"CREATE TABLE raw.people (id INTEGER, email VARCHAR, name VARCHAR)",
		fmt.Sprintf("INSERT INTO raw.people SELECT i, 'person' || i || '@example.com', 'Name ' || i FROM range(1, %d) AS t(i)", people+1))
	return &env{t: t, p: p, hook: h, clock: clocktest.New(t0), vars: vars}
}

// loader reloads the project with the test's environment.
func (e *env) loader() func() (*config.Project, error) {
	return func() (*config.Project, error) {
		return config.Load(e.p.Dir, config.Options{Env: func(k string) (string, bool) { v, ok := e.vars[k]; return v, ok }})
	}
}

// sharedWarehouse hands every daemon the test's warehouse handle: DuckDB
// takes one process per file, so daemons in one test process share it.
func (e *env) sharedWarehouse(context.Context, *config.Project) (warehouse.Warehouse, error) {
	return noClose{e.p.W}, nil
}

type noClose struct{ warehouse.Warehouse }

func (noClose) Close() error { return nil }

type running struct {
	d    *daemon.Daemon
	m    *metrics.Metrics
	logs *syncBuffer
	stop context.CancelFunc
	done chan error
	once sync.Once
}

// start runs a daemon on the env's fake clock until the test ends.
func (e *env) start(clock *clocktest.Clock, tweak func(*daemon.Options)) *running {
	e.t.Helper()
	m := metrics.New()
	logs := &syncBuffer{}
	o := daemon.Options{
		Project: e.p.P, Load: e.loader(), OpenWarehouse: e.sharedWarehouse, Clock: clock, Metrics: m,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&o)
	}
	d, err := daemon.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, m: m, logs: logs, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	e.t.Cleanup(func() { r.shutdown(e.t) })
	deadline := time.Now().Add(20 * time.Second)
	for !d.Ready() {
		if time.Now().After(deadline) {
			e.t.Fatal("the daemon did not become ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

// shutdown stops the daemon as SIGTERM does and waits for it.
func (r *running) shutdown(t *testing.T) {
	r.once.Do(func() {
		r.stop()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("daemon: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("the daemon did not stop")
		}
	})
}

// tick moves the clock to at and waits for the batches it started.
func tick(t *testing.T, c *clocktest.Clock, at time.Time, ds ...*running) {
	t.Helper()
	if !c.BlockUntil(1, 10*time.Second) {
		t.Fatal("the scheduler is not waiting for a tick")
	}
	c.Set(at)
	// The scheduler dispatches, then sleeps again on a new timer.
	if !c.BlockUntil(1, 10*time.Second) {
		t.Fatal("the scheduler did not go back to sleep")
	}
	for _, d := range ds {
		d.d.WaitIdle()
	}
}

// runs counts the run log's entries of a sync by status.
func (e *env) runs(sync string) map[string]int64 {
	e.t.Helper()
	rows, err := e.p.W.Query(context.Background(), "SELECT status, count(*) FROM sluice_state.sync_runs WHERE sync = ? GROUP BY 1", sync)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return map[string]int64{}
		}
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			e.t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

func counter(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range mt.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case mt.GetCounter() != nil:
				return mt.GetCounter().GetValue()
			case mt.GetGauge() != nil:
				return mt.GetGauge().GetValue()
			case mt.GetHistogram() != nil:
				return float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the JSON log lines whose msg is msg.
func (s *syncBuffer) lines(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(s.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

var errTimeout = errors.New("timeout")

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, errTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
