package incrementaltest_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	_ "github.com/sluicehq/sluice/connectors/clickhouse"
	_ "github.com/sluicehq/sluice/connectors/duckdb"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	_ "github.com/sluicehq/sluice/models/all"
	"github.com/sluicehq/sluice/models/profiles"
)

// incProject has every kind of trait: identifier picks, column picks of
// each rule, with where and window, source_priority, aggregates with and
// without where and window, RFM and expressions (one over RFM, one over
// another expression).
const incProject = `version: 1
name: incremental
WAREHOUSE
schema: SCHEMA
time_zone: Europe/Paris
sources:
  - { name: crm, table: RAW.crm, primary_key: id, timestamp: updated_at }
  - { name: orders, table: RAW.orders, primary_key: order_id, timestamp: ordered_at }
  - { name: web, table: RAW.web, primary_key: event_id, timestamp: seen_at }
identity:
  id_types:
    email: {}
    user_id: {}
  edges:
    - { source: crm, ids: { user_id: id, email: email } }
    - { source: orders, ids: { user_id: user_id, email: email } }
    - { source: web, ids: { email: email } }
traits:
  email: { pick: email }
  email_first: { pick: email, rule: first_seen }
  email_frequent: { pick: email, rule: most_frequent }
  name: { from: crm, pick: name }
  name_first: { from: crm, pick: name, rule: first_seen }
  fav_country: { from: web, pick: country, rule: most_frequent }
  recent_country: { from: web, pick: country, window: 2d }
  frequent_recent_country: { from: web, pick: country, rule: most_frequent, window: 3d, where: "country <> 'DE'" }
  country: { pick: country, priority: [crm, web] }
  orders_total: { from: orders, aggregate: count(*) }
  paid_spend: { from: orders, aggregate: sum(amount), where: "status = 'paid'" }
  orders_7d: { from: orders, aggregate: count(*), window: 7d }
  spend_30d: { from: orders, aggregate: sum(amount), window: 30d, where: "status = 'paid'" }
  last_order_at: { from: orders, aggregate: max(ordered_at) }
  rfm: { rfm: { from: orders, amount: amount, where: "status <> 'refunded'" } }
  value_band: { expression: "CASE WHEN rfm_m >= 4 THEN 'high' WHEN paid_spend > 0 THEN 'mid' ELSE 'low' END" }
  active_vip: { expression: "value_band = 'high' AND orders_7d > 0" }
`

// incEnv is a warehouse to run the property test on.
type incEnv struct {
	name      string
	warehouse string // the project's warehouse line
	types     map[string]string
	engine    string
}

var duckEnv = incEnv{name: "duckdb", warehouse: "warehouse: { type: duckdb }",
	types: map[string]string{"text": "VARCHAR", "float": "DOUBLE", "ts": "TIMESTAMP"}}

var clickEnv = incEnv{name: "clickhouse", warehouse: `warehouse: { type: clickhouse, dsn: "${SLUICE_CLICKHOUSE_DSN}" }`,
	types:  map[string]string{"text": "Nullable(String)", "float": "Nullable(Float64)", "ts": "Nullable(DateTime)"},
	engine: " ENGINE = Memory"}

// incTable is a source table: its columns (name and kind) and rows by key.
type incTable struct {
	name string
	cols [][2]string
	rows map[string][]any // values: string, float64, time.Time or nil
}

// incWorld is a project, its warehouse and the source rows the test edits.
type incWorld struct {
	t       *testing.T
	e       incEnv
	p       *config.Project
	w       warehouse.Warehouse
	raw     string
	tables  []*incTable
	rng     *rand.Rand
	now     time.Time
	nextKey int

	fullTime, incTime time.Duration // the last build's profiles steps
	// inPlace checks the statements of a build that publishes in place
	// (DuckDB): the rows that differ, applied to the previous table.
	inPlace bool
}

func TestIncrementalMatchesFullDuckDB(t *testing.T) {
	runIncremental(t, duckEnv, steps(60))
}

func TestIncrementalMatchesFullClickHouse(t *testing.T) {
	if os.Getenv("SLUICE_CLICKHOUSE_DSN") == "" {
		t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
	}
	runIncremental(t, clickEnv, steps(8))
}

// TestIncrementalScale measures an incremental build after 1% of the orders
// changed and a day passed (or SLUICE_TEST_MOVE), against the full profiles step, on DuckDB with
// SLUICE_TEST_PROFILES profiles (skipped when unset).
func TestIncrementalScale(t *testing.T) {
	n, err := strconv.Atoi(os.Getenv("SLUICE_TEST_PROFILES"))
	if err != nil || n <= 0 {
		t.Skip("SLUICE_TEST_PROFILES is not set")
	}
	x := openWorld(t, duckEnv, 7)
	// Each user has a crm row, three orders and two web events, over the
	// 40 days before now.
	x.exec(
		fmt.Sprintf(`CREATE TABLE %[1]s.crm AS SELECT 'u' || i AS id, 'e' || i || '@example.org' AS email,
    ['Ann', 'Bob', 'Cy', 'Di'][1 + i %% 4] AS name, ['FR', 'DE', 'US'][1 + i %% 3] AS country,
    TIMESTAMP '2026-03-27 22:00:00' - to_minutes(CAST(i %% 57600 AS BIGINT)) AS updated_at
FROM range(%[2]d) AS r(i)`, x.raw, n),
		fmt.Sprintf(`CREATE TABLE %[1]s.orders AS SELECT 'o' || i AS order_id, 'u' || (i %% %[2]d) AS user_id, NULL::VARCHAR AS email,
    CAST(i %% 40 AS DOUBLE) * 2.5 AS amount, ['paid', 'paid', 'refunded', 'pending'][1 + i %% 4] AS status,
    TIMESTAMP '2026-03-27 22:00:00' - to_minutes(CAST((i * 7919) %% 57600 AS BIGINT)) AS ordered_at
FROM range(%[3]d) AS r(i)`, x.raw, n, 3*n),
		fmt.Sprintf(`CREATE TABLE %[1]s.web AS SELECT 'w' || i AS event_id, 'e' || (i %% %[2]d) || '@example.org' AS email,
    ['FR', 'DE', 'US'][1 + i %% 3] AS country,
    TIMESTAMP '2026-03-27 22:00:00' - to_minutes(CAST((i * 104729) %% 57600 AS BIGINT)) AS seen_at
FROM range(%[3]d) AS r(i)`, x.raw, n, 2*n),
	)
	x.build(x.now, false)
	t.Logf("first build: full profiles step %s", x.fullTime)
	// 1% of the orders change amount (spread over the users), and a day (or
	// SLUICE_TEST_MOVE) passes.
	x.exec(fmt.Sprintf("UPDATE %s.orders SET amount = amount + 1 WHERE hash(order_id) %% 100 = 0", x.raw))
	move := 24 * time.Hour
	if d, err := time.ParseDuration(os.Getenv("SLUICE_TEST_MOVE")); err == nil {
		move = d
	}
	prev := x.now
	x.now = x.now.Add(move)
	affected, total := x.build(prev, true)
	t.Logf("1%% of the orders changed, %s later: %d of %d profiles recomputed (%.1f%%); full profiles step %s, incremental %s",
		move, affected, total, 100*float64(affected)/float64(total), x.fullTime, x.incTime)
}

// steps is n, or SLUICE_TEST_STEPS when set (longer runs).
func steps(n int) int {
	if v, err := strconv.Atoi(os.Getenv("SLUICE_TEST_STEPS")); err == nil && v > 0 {
		return v
	}
	return n
}

// runIncremental edits the sources and moves the clock at random, then
// builds the identity tables in full and checks that the incremental
// profiles equal the full profiles step's, every row and column.
func runIncremental(t *testing.T, e incEnv, steps int) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("SLUICE_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (rerun with SLUICE_TEST_SEED=%d)", seed, seed)
	x := newWorld(t, e, seed)
	prev := x.now
	x.build(prev, false)
	var touched, total int64
	for i := 1; i <= steps; i++ {
		x.edit()
		prev = x.move()
		x.inPlace = e.name == "duckdb" && i%2 == 1
		a, n := x.build(prev, true)
		touched, total = touched+a, total+n
		if t.Failed() {
			t.Fatalf("step %d differs (seed %d, now %s, previous %s)", i, seed, x.now.Format(time.RFC3339), prev.Format(time.RFC3339))
		}
	}
	t.Logf("%d steps: %d of %d profiles recomputed", steps, touched, total)
}

func newWorld(t *testing.T, e incEnv, seed int64) *incWorld {
	x := openWorld(t, e, seed)
	x.tables = []*incTable{
		{name: "crm", cols: [][2]string{{"id", "text"}, {"email", "text"}, {"name", "text"}, {"country", "text"}, {"updated_at", "ts"}}},
		{name: "orders", cols: [][2]string{{"order_id", "text"}, {"user_id", "text"}, {"email", "text"}, {"amount", "float"}, {"status", "text"}, {"ordered_at", "ts"}}},
		{name: "web", cols: [][2]string{{"event_id", "text"}, {"email", "text"}, {"country", "text"}, {"seen_at", "ts"}}},
	}
	for _, tb := range x.tables {
		tb.rows = map[string][]any{}
		n := 25
		if tb.name == "crm" {
			n = 12
		}
		for range n {
			x.insert(tb)
		}
		x.write(tb)
	}
	return x
}

// openWorld writes the project, opens its warehouse and creates the schema
// of the source tables.
func openWorld(t *testing.T, e incEnv, seed int64) *incWorld {
	dir := t.TempDir()
	schema := fmt.Sprintf("incp_%d", seed%1_000_000_000)
	raw := schema + "_raw"
	yaml := strings.NewReplacer("WAREHOUSE", e.warehouse, "SCHEMA", schema, "RAW", raw).Replace(incProject)
	if err := os.WriteFile(filepath.Join(dir, "sluice.yml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(dir, config.Options{Env: func(k string) (string, bool) {
		if k == "SLUICE_CLICKHOUSE_DSN" {
			return os.LookupEnv(k)
		}
		return "", false
	}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: dir, Warehouse: p.Warehouse})
	if err != nil {
		t.Fatal(err)
	}
	x := &incWorld{t: t, e: e, p: p, w: w, raw: raw, rng: rand.New(rand.NewSource(seed)),
		now: time.Date(2026, 3, 27, 22, 0, 0, 0, time.UTC)} // the clocks change in Paris on the 29th
	t.Cleanup(func() {
		if e.name == "clickhouse" {
			for _, s := range []string{schema, raw, schema + "_work"} {
				_ = w.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s)
			}
		}
		w.Close()
	})
	x.exec(w.Dialect().CreateSchema(raw))
	return x
}

func (x *incWorld) exec(stmts ...string) {
	x.t.Helper()
	for _, q := range stmts {
		if err := x.w.Exec(context.Background(), q); err != nil {
			x.t.Fatalf("%s: %v", q, err)
		}
	}
}

// value draws a value for a column: small pools, so that profiles merge
// and split and picks tie; NULLs now and then.
func (x *incWorld) value(col, kind string) any {
	r := x.rng
	if col != "order_id" && col != "event_id" && col != "id" && r.Intn(8) == 0 {
		return nil
	}
	switch {
	case kind == "ts":
		// Within 40 days before now, on whole hours half the time (ties).
		d := time.Duration(r.Intn(40*24)) * time.Hour
		if r.Intn(2) == 0 {
			d += time.Duration(r.Intn(3600)) * time.Second
		}
		return wallClock(x.now).Add(-d)
	case kind == "float":
		return float64(r.Intn(40)) * 2.5
	case col == "email":
		return fmt.Sprintf("e%d@example.org", r.Intn(30))
	case col == "user_id":
		return fmt.Sprintf("u%d", r.Intn(20))
	case col == "name":
		return []string{"Ann", "Bob", "Cy", "Di"}[r.Intn(4)]
	case col == "country":
		return []string{"FR", "DE", "US"}[r.Intn(3)]
	case col == "status":
		return []string{"paid", "paid", "refunded", "pending"}[r.Intn(4)]
	}
	return fmt.Sprintf("v%d", r.Intn(10))
}

// wallClock is now on the wall clock of the project (Europe/Paris), the
// time source rows are written in.
func wallClock(t time.Time) time.Time {
	loc, _ := time.LoadLocation("Europe/Paris")
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

func (x *incWorld) insert(tb *incTable) {
	x.nextKey++
	key := fmt.Sprintf("k%d", x.nextKey)
	if tb.name == "crm" {
		key = fmt.Sprintf("u%d", x.rng.Intn(20)) // crm rows are users: ids shared with orders
		if _, ok := tb.rows[key]; ok {
			return
		}
	}
	row := []any{key}
	for _, c := range tb.cols[1:] {
		row = append(row, x.value(c[0], c[1]))
	}
	tb.rows[key] = row
}

// edit inserts, updates and deletes a few rows (none, sometimes: then only
// the clock moves), and writes the tables.
func (x *incWorld) edit() {
	for range x.rng.Intn(4) {
		tb := x.tables[x.rng.Intn(len(x.tables))]
		keys := make([]string, 0, len(tb.rows))
		for k := range tb.rows {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		switch op := x.rng.Intn(3); {
		case op == 0 || len(keys) == 0:
			x.insert(tb)
		case op == 1: // an update, which may move the row to another profile
			row := tb.rows[keys[x.rng.Intn(len(keys))]]
			for range 1 + x.rng.Intn(2) {
				i := 1 + x.rng.Intn(len(tb.cols)-1)
				row[i] = x.value(tb.cols[i][0], tb.cols[i][1])
			}
		default:
			delete(tb.rows, keys[x.rng.Intn(len(keys))])
		}
	}
	for _, tb := range x.tables {
		x.write(tb)
	}
}

func (x *incWorld) write(tb *incTable) {
	d := x.w.Dialect()
	name := x.raw + "." + tb.name
	cols := make([]string, len(tb.cols))
	for i, c := range tb.cols {
		cols[i] = c[0] + " " + x.e.types[c[1]]
	}
	x.exec(d.DropTable(name), "CREATE TABLE "+name+" ("+strings.Join(cols, ", ")+")"+x.e.engine)
	if len(tb.rows) == 0 {
		return
	}
	keys := make([]string, 0, len(tb.rows))
	for k := range tb.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var vals []string
	for _, k := range keys {
		lits := make([]string, len(tb.cols))
		for i, v := range tb.rows[k] {
			switch v := v.(type) {
			case nil:
				lits[i] = "NULL"
			case string:
				lits[i] = d.String(v)
			case float64:
				lits[i] = strconv.FormatFloat(v, 'f', -1, 64)
			case time.Time:
				lits[i] = d.String(v.Format(time.DateTime))
			}
		}
		vals = append(vals, "SELECT "+strings.Join(lits, ", "))
	}
	// INSERT ... SELECT: ClickHouse's native protocol sends VALUES apart.
	x.exec("INSERT INTO " + name + " " + strings.Join(vals, " UNION ALL "))
}

// move moves the clock: by minutes, hours or days, across window edges and
// day boundaries; it returns the previous time.
func (x *incWorld) move() time.Time {
	prev := x.now
	steps := []time.Duration{0, 17 * time.Minute, time.Hour, 5 * time.Hour, 23 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour}
	x.now = x.now.Add(steps[x.rng.Intn(len(steps))])
	return prev
}

// build compiles the project at now and builds every step up to the
// identity tables; then the full profiles step (kept aside as the
// expected table) and, when incremental, the incremental one, compared;
// then publishes. It returns the profiles recomputed and the profiles.
func (x *incWorld) build(prev time.Time, incremental bool) (affected, total int64) {
	x.t.Helper()
	// The compiler Compile makes names the staging tables the build writes.
	var staged *models.Compiler
	plan, err := models.Compile(x.p, x.w.Dialect(), models.WithNow(x.now), func(c *models.Compiler) { staged = c })
	if err != nil {
		x.t.Fatal(err)
	}
	for _, s := range plan.Steps {
		switch s.Kind {
		case models.KindPublish:
			continue
		case models.KindProfiles:
			start := time.Now()
			x.runStep(s)
			x.fullTime = time.Since(start)
			if !incremental {
				continue
			}
			affected, total = x.checkIncremental(staged, prev)
		default:
			x.runStep(s)
		}
	}
	for _, s := range plan.Steps {
		if s.Kind == models.KindPublish {
			x.runStep(s)
		}
	}
	return affected, total
}

// checkIncremental keeps the full profiles step's table aside, runs the
// incremental statements in its place and compares the two tables.
func (x *incWorld) checkIncremental(staged *models.Compiler, prev time.Time) (affected, total int64) {
	x.t.Helper()
	ctx := context.Background()
	expected := x.p.Schema + ".expected_profiles"
	x.exec(x.w.Dialect().DropTable(expected), "CREATE TABLE "+expected+x.e.engine+" AS SELECT * FROM "+staged.ProfilesTable())
	incremental := profiles.IncrementalStatements
	if x.inPlace {
		incremental = profiles.DeltaStatements
	}
	stmts, err := incremental(staged, prev)
	if err != nil {
		x.t.Fatal(err)
	}
	start := time.Now()
	for i, q := range stmts {
		t0 := time.Now()
		x.exec(q)
		if os.Getenv("SLUICE_TEST_PROFILES") != "" {
			x.t.Logf("statement %d: %s", i, time.Since(t0))
		}
	}
	if x.inPlace {
		// What the build reads as the table before its publish step.
		table := staged.ProfilesTable()
		x.exec(x.w.Dialect().DropTable(table), "CREATE TABLE "+table+" AS SELECT * FROM "+staged.Final().ProfilesTable()+
			" WHERE coalesce(("+profiles.Kept(staged)+"), false)\nUNION ALL BY NAME\nSELECT * FROM "+profiles.DeltaTable(staged))
	}
	x.incTime = time.Since(start)
	x.compare(expected, staged.ProfilesTable())
	if err := warehouse.QueryRow(ctx, x.w, "SELECT count(*) FROM "+profiles.AffectedTable(staged), &affected); err != nil {
		x.t.Fatal(err)
	}
	if err := warehouse.QueryRow(ctx, x.w, "SELECT count(*) FROM "+expected, &total); err != nil {
		x.t.Fatal(err)
	}
	return affected, total
}

// runStep runs a step's statements, its loop and its closing statements.
func (x *incWorld) runStep(s models.Step) {
	x.t.Helper()
	x.exec(s.SQL...)
	if l := s.Loop; l != nil {
		for round := 1; ; round++ {
			if round > l.MaxRounds {
				x.t.Fatalf("step %s did not converge", s.Name)
			}
			x.exec(l.Body...)
			var changed int64
			if err := warehouse.QueryRow(context.Background(), x.w, l.Changed, &changed); err != nil {
				x.t.Fatalf("step %s: %v", s.Name, err)
			}
			if changed == 0 {
				break
			}
		}
	}
	x.exec(s.Finally...)
}

// compare checks that two tables hold the same rows, column for column,
// with the same column types.
func (x *incWorld) compare(want, got string) {
	x.t.Helper()
	wc, wr := x.rows(want)
	gc, gr := x.rows(got)
	if !slices.Equal(wc, gc) {
		x.t.Errorf("columns differ:\n  full:        %v\n  incremental: %v", wc, gc)
		return
	}
	for i := 0; i < max(len(wr), len(gr)); i++ {
		var w, g string
		if i < len(wr) {
			w = wr[i]
		}
		if i < len(gr) {
			g = gr[i]
		}
		if w != g {
			x.t.Errorf("row %d differs:\n  full:        %s\n  incremental: %s", i, w, g)
			return
		}
	}
}

// rows returns a table's columns (name and type) and its rows as text,
// sorted.
func (x *incWorld) rows(table string) ([]string, []string) {
	x.t.Helper()
	names, out := x.rowsOf("SELECT * FROM " + table)
	cols := x.columnTypes(table)
	if len(cols) != len(names) {
		x.t.Fatalf("%s: %d columns, DESCRIBE lists %d", table, len(names), len(cols))
	}
	return cols, out
}

// rowsOf runs a query and returns its columns and rows as text, sorted.
func (x *incWorld) rowsOf(query string) ([]string, []string) {
	x.t.Helper()
	rows, err := x.w.Query(context.Background(), query)
	if err != nil {
		x.t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		x.t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			x.t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = formatExact(v)
		}
		out = append(out, strings.Join(parts, " | "))
	}
	if err := rows.Err(); err != nil {
		x.t.Fatal(err)
	}
	sort.Strings(out)
	return cols, out
}

// columnTypes lists a table's columns as name and type, in order.
func (x *incWorld) columnTypes(table string) []string {
	x.t.Helper()
	rows, err := x.w.Query(context.Background(), "DESCRIBE "+table)
	if err != nil {
		x.t.Fatal(err)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		x.t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			x.t.Fatal(err)
		}
		out = append(out, formatExact(vals[0])+" "+formatExact(vals[1]))
	}
	if err := rows.Err(); err != nil {
		x.t.Fatal(err)
	}
	return out
}

// formatExact renders a scanned value without rounding.
func formatExact(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case *float64:
		if v == nil {
			return "NULL"
		}
		return strconv.FormatFloat(*v, 'g', -1, 64)
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}
