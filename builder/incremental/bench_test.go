package incremental_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder/incremental"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/demodata"
	"github.com/sluicehq/sluice/models"
)

// BenchmarkIncrementalBuild builds the quickstart on demo data (DuckDB
// file), then times, in the same run (seed loading left out of every
// figure): a build with nothing changed, one
// with only the clock an hour later, one after 1% of the source rows
// changed (new, updated, deleted: identifiers added and removed, amounts
// changed), a full build of that same data, and a build a day later. Run it once per size:
//
//	SLUICE_BENCH_PROFILES=1000000 go test -run '^$' -bench IncrementalBuild -benchtime 1x -timeout 60m ./builder/incremental/
//
// With SLUICE_BENCH_STATEMENTS=N it also logs the N statements the 1%
// build spent longest in (a query: until its first row).
func BenchmarkIncrementalBuild(b *testing.B) {
	profiles := 100_000
	if v := os.Getenv("SLUICE_BENCH_PROFILES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("SLUICE_BENCH_PROFILES: %v", err)
		}
		profiles = n
	}
	for i := 0; i < b.N; i++ {
		benchOnce(b, profiles)
	}
}

// changeOnePercent edits about 1% of each raw table's rows: 0.5% updated,
// 0.25% deleted, 0.25% added (copies of existing rows under new keys, so
// they join existing profiles).
var changeOnePercent = []string{
	"UPDATE raw.web_events SET user_id = NULL WHERE hash(event_id) % 200 = 0",
	"DELETE FROM raw.web_events WHERE hash(event_id) % 400 = 1",
	"INSERT INTO raw.web_events SELECT * REPLACE (event_id || '-n' AS event_id) FROM raw.web_events WHERE hash(event_id) % 400 = 2",
	"UPDATE raw.orders SET amount = amount + 1 WHERE hash(order_id) % 200 = 0",
	"DELETE FROM raw.orders WHERE hash(order_id) % 400 = 1",
	"INSERT INTO raw.orders SELECT * REPLACE (order_id || '-n' AS order_id) FROM raw.orders WHERE hash(order_id) % 400 = 2",
	"UPDATE raw.crm_contacts SET email = 'x' || email WHERE hash(contact_id) % 200 = 0",
	"DELETE FROM raw.crm_contacts WHERE hash(contact_id) % 400 = 1",
	"INSERT INTO raw.crm_contacts SELECT * REPLACE (contact_id || '-n' AS contact_id) FROM raw.crm_contacts WHERE hash(contact_id) % 400 = 2",
}

func benchOnce(b *testing.B, profiles int) {
	b.StopTimer()
	ctx := context.Background()
	dir := b.TempDir()
	if _, err := demodata.Generate(filepath.Join(dir, "data"), demodata.Options{Profiles: profiles, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	// The quickstart's model; its syncs are not needed to build.
	for _, name := range []string{"sluice.yml", "sources.yml", "identity.yml", "traits.yml", "segments.yml"} {
		f := filepath.Join("../../examples/quickstart", name)
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), body, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	p, err := config.Load(dir, config.Options{Env: func(k string) (string, bool) {
		return "benchmark-erasure-secret-0123456789", k == "SLUICE_ERASURE_SECRET"
	}})
	if err != nil {
		b.Fatal(err)
	}
	p.Warehouse.MemoryLimit = "16GB"
	w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: dir, Warehouse: p.Warehouse})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	timed := &timedWarehouse{Warehouse: w}
	w = timed
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	run := func(name string, opt incremental.Options, want incremental.Mode) (time.Duration, *incremental.Outcome) {
		b.Helper()
		// Writes not yet in the database file (the edits of the sources
		// among them) are checkpointed before the build, and the build's
		// own after it, within its time: DuckDB checkpoints at a commit
		// only once its log outgrows checkpoint_threshold, so a build
		// would otherwise pay for the writes before it, or leave its own
		// to the next.
		if err := timed.Warehouse.Exec(ctx, "CHECKPOINT"); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		o, err := incremental.Build(ctx, w, p, opt)
		if err != nil {
			b.Fatalf("%s: %v", name, err)
		}
		if err := timed.Warehouse.Exec(ctx, "CHECKPOINT"); err != nil {
			b.Fatal(err)
		}
		// Loading the seeds is not building: a full build reloads them,
		// a warehouse holding its tables already would not.
		d := time.Since(start)
		for _, s := range o.Result.Steps {
			if s.Kind == models.KindSeed {
				d -= s.Duration
			}
		}
		if o.Mode != want {
			b.Fatalf("%s: %s build (%q), want %s", name, o.Mode, o.Reasons, want)
		}
		b.Logf("%s: %s in %s %q", name, o.Mode, d.Round(time.Millisecond), o.Reasons)
		return d, o
	}
	run("first build (seeds loaded)", incremental.Options{Now: now}, incremental.ModeFull)
	full, _ := run("full build", incremental.Options{Now: now, Full: true}, incremental.ModeFull)
	b.StartTimer()
	unchanged, _ := run("nothing changed", incremental.Options{Now: now}, incremental.ModeUnchanged)
	clock, _ := run("clock an hour later", incremental.Options{Now: now.Add(time.Hour)}, incremental.ModeIncremental)
	b.StopTimer()
	for _, q := range changeOnePercent {
		if err := w.Exec(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	b.StartTimer()
	timed.start()
	inc, o := run("1% of rows changed", incremental.Options{Now: now.Add(time.Hour)}, incremental.ModeIncremental)
	b.StopTimer()
	timed.report(b)
	fullAfter, _ := run("full build of the same data", incremental.Options{Now: now.Add(time.Hour), Full: true}, incremental.ModeFull)
	// A new day moves every purchaser's RFM recency: a schedule meets
	// this build once a day.
	b.StartTimer()
	nextDay, day := run("clock a day later", incremental.Options{Now: now.Add(25 * time.Hour)}, incremental.ModeIncremental)
	b.StopTimer()
	var touched int64
	for _, c := range o.Result.Checks {
		if len(c.Counts) == 3 && len(c.Check.Name) > 11 && c.Check.Name[:11] == "changes in " {
			touched += c.Counts[0] + c.Counts[1] + c.Counts[2]
			b.Logf("%s: %d new, %d changed, %d deleted", c.Check.Name, c.Counts[0], c.Counts[1], c.Counts[2])
		}
	}
	for _, c := range o.Result.Checks {
		if c.Check.Name == "profiles recomputed" {
			b.Logf("profiles recomputed: %v", c.Counts)
		}
	}
	logSteps(b, "1% changed", o)
	logSteps(b, "a day later", day)
	b.ReportMetric(full.Seconds(), "full_s")
	b.ReportMetric(unchanged.Seconds(), "unchanged_s")
	b.ReportMetric(100*unchanged.Seconds()/full.Seconds(), "unchanged_%_of_full")
	b.ReportMetric(clock.Seconds(), "clock_s")
	b.ReportMetric(inc.Seconds(), "incremental_s")
	b.ReportMetric(fullAfter.Seconds(), "full_after_s")
	b.ReportMetric(100*inc.Seconds()/fullAfter.Seconds(), "incremental_%_of_full")
	b.ReportMetric(float64(touched), "rows_changed")
	b.ReportMetric(nextDay.Seconds(), "next_day_s")
}

// timedWarehouse times each statement of one build, so that the benchmark
// can say which statements an incremental build spends its time in (set
// SLUICE_BENCH_STATEMENTS to how many of the slowest to log).
type timedWarehouse struct {
	warehouse.Warehouse
	on    bool
	times map[string]time.Duration
}

func (t *timedWarehouse) start() { t.on, t.times = true, map[string]time.Duration{} }

func (t *timedWarehouse) record(q string, since time.Time) {
	if t.on {
		t.times[q] += time.Since(since)
	}
}

func (t *timedWarehouse) Exec(ctx context.Context, q string, args ...any) error {
	defer t.record(q, time.Now())
	return t.Warehouse.Exec(ctx, q, args...)
}

// ExecOne keeps the DuckDB driver's single-statement check in the path.
func (t *timedWarehouse) ExecOne(ctx context.Context, q string) error {
	defer t.record(q, time.Now())
	return t.Warehouse.(interface {
		ExecOne(context.Context, string) error
	}).ExecOne(ctx, q)
}

func (t *timedWarehouse) Query(ctx context.Context, q string, args ...any) (warehouse.Rows, error) {
	defer t.record(q, time.Now())
	return t.Warehouse.Query(ctx, q, args...)
}

func (t *timedWarehouse) report(b *testing.B) {
	t.on = false
	n, _ := strconv.Atoi(os.Getenv("SLUICE_BENCH_STATEMENTS"))
	qs := make([]string, 0, len(t.times))
	for q := range t.times {
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool { return t.times[qs[i]] > t.times[qs[j]] })
	for i := 0; i < n && i < len(qs); i++ {
		q := strings.Join(strings.Fields(qs[i]), " ")
		if len(q) > 300 {
			q = q[:300] + "…"
		}
		b.Logf("  %8s  %s", t.times[qs[i]].Round(time.Millisecond), q)
	}
}

// logSteps logs the time of each step of a build.
func logSteps(b *testing.B, build string, o *incremental.Outcome) {
	b.Logf("steps of the build %s:", build)
	for _, s := range o.Result.Steps {
		b.Logf("  %-24s %s", s.Name, s.Duration.Round(time.Millisecond))
	}
}
