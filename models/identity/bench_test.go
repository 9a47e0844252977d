package identity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/demodata"
	"github.com/sluicehq/sluice/models"
)

// The benchmarks stitch the demo data set (package demodata: CRM contacts,
// web events and orders with messy e-mails, phones and shared junk), sized
// to about 100k, 1M and 10M distinct identifiers, and compare in the same
// run with (a) naive min-label propagation in SQL and (b) union-find in Go
// over the same string identifiers. Three spans are compared with the
// union-find: the stitching proper (numbering the normalised identifiers,
// edges, components: what union-find does), the stitching on to the identity
// map (guards and stable ids too), and the whole identity stage (reading and
// normalising every source row, and the row map as well).
//
//	go test ./models/identity -run '^$' -bench 'Stitch/100k' -benchtime 1x
//	go test ./models/identity -run '^$' -bench Stitch -benchtime 1x -timeout 60m

// demoProject is the quickstart's identity over the demo data.
const demoProject = `
sources:
  - { name: crm_contacts, table: raw.crm_contacts, primary_key: contact_id, timestamp: updated_at }
  - { name: web_events, table: raw.web_events, primary_key: event_id, timestamp: occurred_at }
  - { name: orders, table: raw.orders, primary_key: order_id, timestamp: ordered_at }
identity:
  id_types:
    email: { normalize: email, blocklist: [test@example.com] }
    phone: { normalize: phone_e164, default_region: FR }
    user_id: { limit_per_profile: 1 }
    anonymous_id: {}
  edges:
    - { source: crm_contacts, ids: { user_id: contact_id, email: email, phone: phone } }
    - { source: web_events, ids: { anonymous_id: anonymous_id, user_id: user_id, email: email } }
    - { source: orders, ids: { user_id: contact_id, email: email, phone: phone } }
`

// identifiersPerProfile is measured on the demo data (distinct identifiers
// / Options.Profiles); it sizes the data sets.
const identifiersPerProfile = 3.43

func BenchmarkStitch(b *testing.B) {
	for _, size := range []struct {
		name string
		ids  int
	}{{"100k", 100_000}, {"1M", 1_000_000}, {"10M", 10_000_000}} {
		b.Run(size.name, func(b *testing.B) { benchStitch(b, size.ids) })
	}
}

func benchStitch(b *testing.B, identifiers int) {
	ctx := context.Background()
	w := demoWarehouse(b, identifiers)
	defer w.Close()
	p := loadProject(b, map[string]string{"identity.yml": demoProject})
	plan, err := models.Compile(p, duck)
	if err != nil {
		b.Fatal(err)
	}
	isIdentity := func(s models.Step) bool { return s.Kind == models.KindIdentity }
	setup := *plan
	setup.Report = nil
	if _, err := builder.Run(ctx, w, &setup, builder.Options{Only: func(s models.Step) bool { return !isIdentity(s) }}); err != nil {
		b.Fatal(err)
	}

	var res *builder.Result
	var peak peaks
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		resetPeakRSS()
		stop := peak.watch(w)
		c0 := processCPU()
		res, err = builder.Run(ctx, w, plan, builder.Options{Only: isIdentity})
		cpu = processCPU() - c0
		stop()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ids, _ := strconv.Atoi(metric(res, "identifiers"))
	var steps []string
	total := time.Duration(0)
	for _, s := range res.Steps {
		total += s.Duration
		steps = append(steps, fmt.Sprintf("%s %s", s.Name, s.Duration.Round(time.Millisecond)))
	}
	r := rounds(res, StepComponents)
	b.ReportMetric(float64(ids), "identifiers")
	b.ReportMetric(float64(r), "rounds")
	b.ReportMetric(total.Seconds(), "identity-s")
	b.ReportMetric(stepSeconds(res, StepComponents), "components-s")
	// stitch: from normalised identifiers to the partition (numbering,
	// edges, components), the work union-find does below.
	stitch := stepSeconds(res, StepEdges) + stepSeconds(res, StepComponents)
	b.ReportMetric(stitch, "stitch-s")
	// toMap: on to the identity map, E_identity_map (guards and stable ids
	// included); what the stage adds beyond it is reading and normalising
	// the source rows, and the row map.
	toMap := stitch + stepSeconds(res, StepGuards) + stepSeconds(res, StepMap)
	b.ReportMetric(toMap, "to-identity-map-s")
	b.ReportMetric(cpu.Seconds(), "identity-cpu-s")
	b.ReportMetric(float64(peak.rss)/(1<<20), "peak-rss-MB")
	b.ReportMetric(float64(peak.duck)/(1<<20), "peak-duckdb-MB")
	b.Logf("sluice: %d identifiers, %s profiles, largest %s, %d rounds after the first pass (bound %d); %s; CPU %s; peak RSS %d MB, DuckDB %d MB",
		ids, metric(res, "profiles"), metric(res, "largest profile (identifiers)"), r, roundBound(ids), strings.Join(steps, ", "), cpu.Round(time.Millisecond), peak.rss>>20, peak.duck>>20)

	// (a) naive min-label propagation over the same graph, capped.
	naiveRounds, naiveTime, naiveDone := naivePropagation(b, w, 200, 10*time.Minute)
	b.ReportMetric(float64(naiveRounds), "naive-rounds")
	b.ReportMetric(naiveTime.Seconds(), "naive-s")
	b.Logf("naive min-label propagation: %d rounds in %s (converged: %v)", naiveRounds, naiveTime.Round(time.Millisecond), naiveDone)

	// (b) union-find in Go over the same string identifiers.
	ufTime, ufHeap, comps := unionFindStrings(b, w)
	b.ReportMetric(ufTime.Seconds(), "unionfind-s")
	b.ReportMetric(total.Seconds()/ufTime.Seconds(), "stage/unionfind")
	b.ReportMetric(stitch/ufTime.Seconds(), "stitch/unionfind")
	b.ReportMetric(toMap/ufTime.Seconds(), "to-identity-map/unionfind")
	b.ReportMetric(float64(ufHeap)/(1<<20), "unionfind-heap-MB")
	b.Logf("union-find in Go: %s, %d components, heap %d MB; identity stage %.1f×, stitching (%s + %s) %.1f×, to the identity map (+ %s, %s) %.1f× the union-find",
		ufTime.Round(time.Millisecond), comps, ufHeap>>20, total.Seconds()/ufTime.Seconds(), StepEdges, StepComponents, stitch/ufTime.Seconds(),
		StepGuards, StepMap, toMap/ufTime.Seconds())
}

func stepSeconds(res *builder.Result, name string) float64 {
	for _, s := range res.Steps {
		if s.Name == name {
			return s.Duration.Seconds()
		}
	}
	return 0
}

// peaks samples the process's peak RSS and DuckDB's own accounting.
type peaks struct {
	mu        sync.Mutex
	rss, duck int64
}

func (p *peaks) watch(w warehouse.Warehouse) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			var used int64
			if err := warehouse.QueryRow(context.Background(), w, "SELECT coalesce(sum(memory_usage_bytes), 0)::BIGINT FROM duckdb_memory()", &used); err == nil {
				p.mu.Lock()
				p.duck = max(p.duck, used)
				p.mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		p.rss = peakRSS()
	}
}

// resetPeakRSS resets VmHWM (Linux: writing 5 to clear_refs).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS reads VmHWM from /proc/self/status, in bytes.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// naivePropagation runs min-label propagation (every identifier takes the
// smallest label among itself and its neighbours, until nothing changes)
// over the same links, in SQL, for at most maxRounds rounds or maxTime.
func naivePropagation(b *testing.B, w warehouse.Warehouse, maxRounds int, maxTime time.Duration) (int, time.Duration, bool) {
	edges := "sluice.customer_identity_edges"
	exec(b, w,
		`CREATE OR REPLACE TABLE naive_links AS
WITH pairs AS (
    SELECT e.id AS a, h.hub AS b FROM `+edges+` AS e
    JOIN (SELECT row_id, min(id) AS hub FROM `+edges+` GROUP BY row_id HAVING count(*) > 1) AS h ON h.row_id = e.row_id
)
SELECT DISTINCT a, b FROM (SELECT a, b FROM pairs UNION ALL SELECT b, a FROM pairs) WHERE a <> b`,
		"CREATE OR REPLACE TABLE naive_label AS SELECT DISTINCT a AS id, a AS label FROM naive_links")
	start := time.Now()
	round := 0
	for round < maxRounds && time.Since(start) < maxTime {
		round++
		exec(b, w, `CREATE OR REPLACE TABLE naive_next AS
SELECT l.id, least(l.label, min(n.label)) AS label
FROM naive_label AS l
JOIN naive_links AS e ON e.a = l.id
JOIN naive_label AS n ON n.id = e.b
GROUP BY l.id, l.label`)
		var changed int64
		if err := warehouse.QueryRow(context.Background(), w, "SELECT count(*) FROM naive_next AS x JOIN naive_label AS l USING (id) WHERE x.label <> l.label", &changed); err != nil {
			b.Fatal(err)
		}
		exec(b, w, "DROP TABLE naive_label", "ALTER TABLE naive_next RENAME TO naive_label")
		if changed == 0 {
			return round, time.Since(start), true
		}
	}
	return round, time.Since(start), false
}

// unionFindStrings reads every (row, identifier) occurrence as strings
// (not timed) and times union-find over them: a map from identifier string
// to index, then union by size with path halving.
func unionFindStrings(b *testing.B, w warehouse.Warehouse) (time.Duration, uint64, int) {
	rows, err := w.Query(context.Background(), `SELECT e.row_id, i.id_type || ':' || i.id_value
FROM sluice.customer_identity_edges AS e JOIN sluice.customer_identity_map AS i ON i.id_no = e.id
ORDER BY e.row_id`)
	if err != nil {
		b.Fatal(err)
	}
	var rowIDs []int64
	var values []string
	for rows.Next() {
		var r int64
		var v string
		if err := rows.Scan(&r, &v); err != nil {
			b.Fatal(err)
		}
		rowIDs = append(rowIDs, r)
		values = append(values, v)
	}
	rows.Close()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	start := time.Now()
	index := make(map[string]int32)
	parent := make([]int32, 0)
	size := make([]int32, 0)
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	prevRow, prevID := int64(-1), int32(-1)
	for i, v := range values {
		id, ok := index[v]
		if !ok {
			id = int32(len(parent))
			index[v] = id
			parent = append(parent, id)
			size = append(size, 1)
		}
		if rowIDs[i] == prevRow {
			ra, rb := find(prevID), find(id)
			if ra != rb {
				if size[ra] < size[rb] {
					ra, rb = rb, ra
				}
				parent[rb] = ra
				size[ra] += size[rb]
			}
		}
		prevRow, prevID = rowIDs[i], id
	}
	comps := 0
	for i := range parent {
		if find(int32(i)) == int32(i) {
			comps++
		}
	}
	elapsed := time.Since(start)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return elapsed, after.HeapAlloc - before.HeapAlloc, comps
}

// BenchmarkChain stitches a single chain (the worst case of label
// propagation: as many rounds as the chain is long) and runs naive
// min-label propagation on it, capped.
//
//	go test ./models/identity -run '^$' -bench Chain -benchtime 1x
func BenchmarkChain(b *testing.B) {
	for _, size := range []struct {
		name string
		ids  int
	}{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run(size.name, func(b *testing.B) {
			w := openDuckDB(b)
			g := chain((size.ids + 1) / 2) // nodes + links = identifiers
			loadGraph(b, w, g, shuffled(len(g.edges), 1))
			p := loadProject(b, map[string]string{"g.yml": graphProject + "  max_rounds: 200\n"})
			var res *builder.Result
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res = build(b, w, p)
			}
			b.StopTimer()
			r := rounds(res, StepComponents)
			b.ReportMetric(float64(g.identifiers()), "identifiers")
			b.ReportMetric(float64(r), "rounds")
			b.ReportMetric(stepSeconds(res, StepComponents), "components-s")
			capRounds := 300
			nr, nt, done := naivePropagation(b, w, capRounds, 5*time.Minute)
			b.ReportMetric(float64(nr), "naive-rounds")
			b.ReportMetric(nt.Seconds(), "naive-s")
			b.Logf("chain of %d identifiers: sluice %d rounds after the first pass (bound %d) in %s; naive propagation %d rounds in %s, converged: %v (needs %d rounds: the distance from the smallest label to the far end)",
				g.identifiers(), r, roundBound(g.identifiers()), time.Duration(stepSeconds(res, StepComponents)*float64(time.Second)).Round(time.Millisecond),
				nr, nt.Round(time.Millisecond), done, naiveNeeds(b, w))
		})
	}
}

// naiveNeeds is the number of rounds label propagation needs on a chain:
// the largest distance from the identifier with the smallest number.
func naiveNeeds(b *testing.B, w warehouse.Warehouse) int64 {
	var n int64
	// On a chain every identifier but the ends has two links; walk it in SQL
	// by position instead: nodes n<i> and links e<i> alternate.
	q := `WITH m AS (SELECT id_type, id_value FROM sluice.customer_identity_map ORDER BY id_no LIMIT 1),
pos AS (SELECT CASE WHEN id_type = 'node' THEN 2 * CAST(substr(id_value, 2) AS BIGINT) ELSE 2 * CAST(substr(id_value, 2) AS BIGINT) + 1 END AS p FROM m)
SELECT greatest(p, (SELECT count(*) FROM sluice.customer_identity_map) - 1 - p) FROM pos`
	if err := warehouse.QueryRow(context.Background(), w, q, &n); err != nil {
		b.Fatal(err)
	}
	return n
}

// processCPU is the user and system time of the process so far (DuckDB's
// threads included): a measure that other load on the machine disturbs
// less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// demoWarehouse opens an in-memory DuckDB holding the demo data's three
// tables (generated once per size, cached in the temporary folder) as
// raw.crm_contacts, raw.web_events and raw.orders. The caller closes it:
// each run of a benchmark function opens its own.
func demoWarehouse(b *testing.B, identifiers int) warehouse.Warehouse {
	b.Helper()
	ctx := context.Background()
	profiles := int(float64(identifiers) / identifiersPerProfile)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("sluice-bench-demo-%d", profiles))
	if _, err := os.Stat(filepath.Join(dir, "orders.csv")); err != nil {
		start := time.Now()
		if _, err := demodata.Generate(dir, demodata.Options{Profiles: profiles, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %d profiles of demo data in %s (cached in %s)", profiles, time.Since(start).Round(time.Millisecond), dir)
	}
	w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: b.TempDir(), Warehouse: config.Warehouse{Type: "duckdb"}, ExternalPaths: []string{os.TempDir()}})
	if err != nil {
		b.Fatal(err)
	}
	load := []string{"CREATE SCHEMA raw"}
	for _, f := range []string{"crm_contacts", "web_events", "orders"} {
		load = append(load, "CREATE TABLE raw."+f+" AS SELECT * FROM read_csv("+duck.String(filepath.Join(dir, f+".csv"))+", header = true, all_varchar = true)")
	}
	start := time.Now()
	exec(b, w, load...)
	b.Logf("loaded the CSV files in %s", time.Since(start).Round(time.Millisecond))
	if os.Getenv("SLUICE_BENCH_UNORDERED") != "" {
		// An experiment: DuckDB's order-preserving table writes cost CPU;
		// sluice's tables do not need an order.
		exec(b, w, "SET GLOBAL preserve_insertion_order = false")
		b.Logf("preserve_insertion_order = false")
	}
	return w
}
