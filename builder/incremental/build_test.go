package incremental_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/builder/incremental"
	"github.com/sluicehq/sluice/config"
	_ "github.com/sluicehq/sluice/connectors/all"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	_ "github.com/sluicehq/sluice/models/all"
)

const projectYAML = `version: 1
name: inc
warehouse: { type: duckdb, path: wh.duckdb }
schema: sluice
seeds:
  - { name: tiers, path: tiers.csv }
sources:
  - { name: crm, table: raw.crm, primary_key: id, timestamp: updated_at }
  - { name: orders, table: raw.orders, primary_key: order_id, timestamp: ordered_at }
identity:
  id_types:
    email: { normalize: email }
    user_id: { normalize: trim }
  edges:
    - { source: crm, ids: { user_id: id, email: email } }
    - { source: orders, ids: { user_id: user_id, email: email } }
traits:
  email: { pick: email }
  orders_30d: { from: orders, aggregate: count(*), window: 30d }
  spent: { from: orders, aggregate: sum(amount) }
  last_amount: { from: orders, pick: amount, rule: most_recent }
  rfm: { rfm: { from: orders, amount: amount } }
  big: { expression: "coalesce(spent, 0) > 15 OR rfm_r >= 2" }
segments:
  - { name: buyers, where: "spent > 0" }
  - { name: small, where: "spent <= 10" }
  - { name: top, where: "rfm_r >= 2", group: tier, priority: 1 }
  - { name: rest, where: "spent > 0", exclude: [small], group: tier, priority: 2 }
`

// tables holds the source tables' rows, as SQL tuples.
type tables struct{ crm, orders []string }

var base = tables{
	crm: []string{"('u1', 'ann@example.org', '2026-01-01 00:00:00')", "('u2', 'bob@example.org', '2026-01-02 00:00:00')", "('u3', NULL, '2026-01-03 00:00:00')"},
	orders: []string{"('o1', 'u1', NULL, 10, '2026-05-01 00:00:00')", "('o2', NULL, 'BOB@example.org', 20, '2026-05-20 00:00:00')",
		"('o3', 'u3', NULL, 5, '2026-03-01 00:00:00')"},
}

// env is a warehouse to build in: DuckDB in a file, or ClickHouse.
type env struct {
	name   string
	yaml   func(schema string) string // the warehouse block
	create func(raw, table, cols string) string
	skip   func(t *testing.T)
}

var envs = []env{
	{
		name:   "duckdb",
		yaml:   func(string) string { return "warehouse: { type: duckdb, path: wh.duckdb }\n" },
		create: func(raw, table, cols string) string { return "CREATE TABLE " + raw + "." + table + " (" + cols + ")" },
		skip:   func(*testing.T) {},
	},
	{
		name: "clickhouse",
		yaml: func(string) string {
			return "warehouse: { type: clickhouse, dsn: \"${SLUICE_CLICKHOUSE_DSN}\" }\n"
		},
		create: func(raw, table, cols string) string {
			for _, r := range [][2]string{{"VARCHAR", "Nullable(String)"}, {"TIMESTAMP", "DateTime"}, {"DECIMAL(10,2)", "Decimal(10,2)"}} {
				cols = strings.ReplaceAll(cols, r[0], r[1])
			}
			return "CREATE TABLE " + raw + "." + table + " (" + cols + ") ENGINE = Memory"
		},
		skip: func(t *testing.T) {
			if os.Getenv("SLUICE_CLICKHOUSE_DSN") == "" {
				t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
			}
		},
	},
}

// fixture is a project on one warehouse, with its source tables.
type fixture struct {
	t   *testing.T
	e   env
	p   *config.Project
	w   warehouse.Warehouse
	raw string
}

// project writes the project into a fresh folder with schemas of its own,
// opens its warehouse and fills the source tables.
func project(t *testing.T, e env, yaml string) *fixture {
	t.Helper()
	e.skip(t)
	dir := t.TempDir()
	schema := fmt.Sprintf("inc_%d", time.Now().UnixNano()%1_000_000_000)
	yaml = strings.Replace(yaml, "warehouse: { type: duckdb, path: wh.duckdb }\n", e.yaml(schema), 1)
	yaml = strings.ReplaceAll(strings.Replace(yaml, "schema: sluice", "schema: "+schema+"\nstate_schema: "+schema+"_state", 1), "raw.", schema+"_raw.")
	yaml = strings.ReplaceAll(yaml, "sluice.customer_", schema+".customer_")
	write(t, filepath.Join(dir, "sluice.yml"), yaml)
	write(t, filepath.Join(dir, "tiers.csv"), "tier,min_spent\ngold,100\nsilver,10\n")
	f := &fixture{t: t, e: e, raw: schema + "_raw"}
	f.p = load(t, dir)
	w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: dir, Warehouse: f.p.Warehouse})
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	t.Cleanup(func() {
		if e.name == "clickhouse" {
			for _, s := range []string{schema, schema + "_raw", schema + "_state"} {
				_ = w.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s)
			}
		}
		w.Close()
	})
	f.exec(w.Dialect().CreateSchema(f.raw))
	f.set(base)
	return f
}

// set replaces the source tables' rows.
func (f *fixture) set(tb tables) {
	f.t.Helper()
	d := f.w.Dialect()
	for _, x := range []struct {
		name, cols string
		rows       []string
	}{
		{"crm", "id VARCHAR, email VARCHAR, updated_at TIMESTAMP", tb.crm},
		{"orders", "order_id VARCHAR, user_id VARCHAR, email VARCHAR, amount DECIMAL(10,2), ordered_at TIMESTAMP", tb.orders},
	} {
		f.exec(d.DropTable(f.raw+"."+x.name), f.e.create(f.raw, x.name, x.cols))
		if len(x.rows) > 0 {
			sel := make([]string, len(x.rows))
			for i, r := range x.rows {
				sel[i] = "SELECT " + strings.TrimSuffix(strings.TrimPrefix(r, "("), ")")
			}
			f.exec("INSERT INTO " + f.raw + "." + x.name + " " + strings.Join(sel, " UNION ALL "))
		}
	}
}

func (f *fixture) exec(stmts ...string) {
	f.t.Helper()
	for _, q := range stmts {
		if err := f.w.Exec(context.Background(), q); err != nil {
			f.t.Fatalf("%s: %v", q, err)
		}
	}
}

func load(t *testing.T, dir string) *config.Project {
	t.Helper()
	p, err := config.Load(dir, config.Options{Env: func(k string) (string, bool) {
		if k == "SLUICE_CLICKHOUSE_DSN" {
			return os.LookupEnv(k)
		}
		return "", false
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

var day0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func (f *fixture) build(opt incremental.Options) *incremental.Outcome {
	f.t.Helper()
	if opt.Now.IsZero() {
		opt.Now = day0
	}
	o, err := incremental.Build(context.Background(), f.w, f.p, opt)
	if err != nil {
		f.t.Fatalf("build: %v", err)
	}
	return o
}

// changes reads the counts of the changes step of a source.
func changes(o *incremental.Outcome, source string) []int64 {
	for _, c := range o.Result.Checks {
		if c.Check.Name == "changes in source "+source {
			return c.Counts
		}
	}
	return nil
}

// profiles renders the profiles table, one line per profile.
func (f *fixture) profiles() string {
	f.t.Helper()
	return f.dump(published[2])
}

func eachWarehouse(t *testing.T, test func(t *testing.T, e env)) {
	for _, e := range envs {
		t.Run(e.name, func(t *testing.T) { test(t, e) })
	}
}

// TestDecisions runs a sequence of edits and clock moves; after each, the
// build must take the expected path and publish what a full build of the
// same data publishes (in a warehouse of its own), row for row.
func TestDecisions(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, e env) {
		f := project(t, e, projectYAML)
		full := project(t, e, projectYAML)
		o := f.build(incremental.Options{})
		if o.Mode != incremental.ModeFull || !hasReason(o, "no earlier build") {
			t.Fatalf("first build: %s %q", o.Mode, o.Reasons)
		}
		first := f.profiles()
		changed := base
		changed.orders = append(append([]string(nil), base.orders...), "('o4', 'u2', NULL, 7, '2026-05-30 00:00:00')")
		edited := changed
		edited.crm = []string{"('u1', 'ann@example.net', '2026-01-01 00:00:00')", base.crm[1]}
		merged := edited
		merged.orders = append(append([]string(nil), edited.orders...), "('o5', 'u1', 'bob@example.org', 3, '2026-06-01 00:00:00')")
		hour := incremental.Options{Now: day0.Add(time.Hour)}
		steps := []struct {
			name    string
			data    *tables
			opt     incremental.Options
			mode    incremental.Mode
			reason  string
			changes map[string][]int64 // source: new, changed, deleted
		}{
			{name: "nothing changed", mode: incremental.ModeUnchanged},
			{name: "an hour later, no row left a window", opt: hour, mode: incremental.ModeUnchanged},
			{name: "full asked for", opt: incremental.Options{Full: true, Now: hour.Now}, mode: incremental.ModeFull, reason: "--full"},
			{name: "row added", data: &changed, opt: hour, mode: incremental.ModeIncremental, reason: "rows changed in orders",
				changes: map[string][]int64{"orders": {1, 0, 0}, "crm": nil}},
			{name: "row changed and row deleted", data: &edited, opt: hour, mode: incremental.ModeIncremental, reason: "rows changed in crm",
				changes: map[string][]int64{"crm": {0, 1, 1}, "orders": nil}},
			{name: "two profiles merged", data: &merged, opt: hour, mode: incremental.ModeIncremental, reason: "rows changed in orders"},
			{name: "a row left the 30-day window", opt: incremental.Options{Now: time.Date(2026, 6, 20, 12, 0, 0, 0, time.UTC)},
				mode: incremental.ModeIncremental, reason: "counts recency in days, and a day has passed"},
			{name: "then nothing", opt: incremental.Options{Now: time.Date(2026, 6, 20, 13, 0, 0, 0, time.UTC)}, mode: incremental.ModeUnchanged},
			{name: "a day later: RFM recency moved", opt: incremental.Options{Now: time.Date(2026, 6, 21, 9, 0, 0, 0, time.UTC)},
				mode: incremental.ModeIncremental, reason: "counts recency in days, and a day has passed"},
			{name: "back to the start", data: &base, opt: incremental.Options{Now: time.Date(2026, 6, 21, 13, 0, 0, 0, time.UTC)},
				mode: incremental.ModeIncremental, reason: "rows changed in crm and orders"},
		}
		current := base
		for _, s := range steps {
			if s.data != nil {
				f.set(*s.data)
			}
			o := f.build(s.opt)
			if o.Mode != s.mode || s.reason != "" && !hasReason(o, s.reason) {
				t.Fatalf("%s: %s %q, want %s with %q", s.name, o.Mode, o.Reasons, s.mode, s.reason)
			}
			for src, want := range s.changes {
				if got := changes(o, src); !slices.Equal(got, want) {
					t.Errorf("%s: changes in %s: %v, want %v", s.name, src, got, want)
				}
			}
			if s.data != nil {
				current = *s.data
			}
			full.set(current)
			opt := s.opt
			opt.Full = true
			full.build(opt)
			f.sameAs(full, s.name, published)
		}
		if f.profiles() == first {
			t.Errorf("the profiles did not change:\n%s", first)
		}
	})
}

// sameAs reports the tables whose rows differ from full's.
func (f *fixture) sameAs(full *fixture, step string, tables []struct{ name, cols string }) {
	f.t.Helper()
	for _, table := range tables {
		if got, want := f.dump(table), full.dump(table); got != want {
			f.t.Errorf("%s: %s differs from a full build's:\n%s\nfull build:\n%s", step, table.name, got, want)
		}
	}
}

// published lists the tables users read, with the columns to compare: the
// build-local numbers (profile_no, id_no, component) are left out.
// The snapshots and the identity graph (rows, and edges through the
// numbers that join them to the map, as identity explain walks them) are
// compared too: the next build reads them.
var published = []struct{ name, cols string }{
	{"customer_identity_map", "profile_id, id_type, id_value, first_seen_at, last_seen_at, seen_count"},
	{"customer_row_map", "source, row_key, profile_id, seen_at"},
	{"customer_profiles", "profile_id, email, orders_30d, spent, last_amount, rfm, rfm_recency, rfm_frequency, rfm_monetary, rfm_r, rfm_f, rfm_m, big"},
	{"customer_segment_membership", "segment, profile_id"},
	{"customer_segment_buyers", "profile_id"},
	{"customer_segment_small", "profile_id"},
	{"customer_segment_top", "profile_id"},
	{"customer_segment_rest", "profile_id"},
	{"customer_identity_stats", "id_type, ok, rejected, junk, blocklisted"},
	{"customer_identity_sizes", "size, profiles"},
	{"customer_identity_rows", "edge, row_key, seen_at"},
	{"customer_identity_rejects", "source, row_key, id_type, raw, status"},
	{"src_orders_snapshot", "key_hash, row_hash"},
	{"src_crm_snapshot", "key_hash, row_hash"},
	{"src_orders_duplicate_keys", "row_key, row_count"},
	{"src_crm_duplicate_keys", "row_key, row_count"},
	{"graph", "edge, row_key, id_type, id_value, t"},
}

// graph is the identity graph: which row carries which identifier. One
// join per query level, as ClickHouse 18.16 requires.
const graph = `(SELECT x_edge AS edge, x_key AS row_key, m_type AS id_type, m_value AS id_value, x_t AS t
FROM (
    SELECT r_edge AS x_edge, r_key AS x_key, e_id AS x_id, e_t AS x_t
    FROM (SELECT row_id AS e_row, id AS e_id, t AS e_t FROM %[1]s) AS e
    JOIN (SELECT row_id AS r_row, edge AS r_edge, row_key AS r_key FROM %[2]s) AS r ON r.r_row = e.e_row
) AS x
JOIN (SELECT id_no AS m_id, id_type AS m_type, id_value AS m_value FROM %[3]s) AS m ON m.m_id = x.x_id) AS g`

// dump renders a table's rows, sorted, each column as text.
func (f *fixture) dump(table struct{ name, cols string }) string {
	f.t.Helper()
	d := f.w.Dialect()
	cols := strings.Split(table.cols, ", ")
	for i, c := range cols {
		cols[i] = d.CastText(c)
	}
	from := d.Table(f.p.Schema, table.name)
	if table.name == "graph" {
		tb := func(n string) string { return d.Table(f.p.Schema, "customer_identity_"+n) }
		from = fmt.Sprintf(graph, tb("edges"), tb("rows"), tb("map"))
	}
	rows, err := f.w.Query(context.Background(), "SELECT "+strings.Join(cols, ", ")+" FROM "+from)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			f.t.Fatal(err)
		}
		var b strings.Builder
		for _, v := range vals {
			b.WriteString(v.String + "|")
		}
		lines = append(lines, b.String())
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestUnchangedBuildKeepsTablesAndSeeds(t *testing.T) {
	f := project(t, envs[0], projectYAML)
	shared := base
	shared.orders = append(append([]string(nil), base.orders...), base.orders[1])
	f.set(shared)
	f.build(incremental.Options{})
	before := f.profiles()
	o := f.build(incremental.Options{})
	if o.Mode != incremental.ModeUnchanged {
		t.Fatalf("second build: %s %q", o.Mode, o.Reasons)
	}
	if len(o.SeedsKept) != 1 || !strings.HasSuffix(o.SeedsKept[0], ".tiers") {
		t.Errorf("seeds kept: %v", o.SeedsKept)
	}
	for _, s := range o.Result.Steps {
		if s.Kind != "schema" && s.Kind != "source" && s.Kind != "publish" && !strings.HasPrefix(s.Name, "keys_") {
			t.Errorf("an unchanged build ran %s (%s)", s.Name, s.Kind)
		}
	}
	if len(o.Result.Metrics) == 0 {
		t.Errorf("an unchanged build gave no summary")
	}
	// It reports the key checks as the last build found them: here, a key
	// of orders that two rows share, which the build wrote no table for.
	keyChecks := map[string][]int64{}
	for _, c := range o.Result.Checks {
		if src, ok := strings.CutPrefix(c.Check.Name, models.KeyCheckPrefix); ok {
			keyChecks[src] = c.Counts
		}
	}
	if len(keyChecks) != 2 || len(keyChecks["orders"]) != 3 || keyChecks["orders"][2] != 1 {
		t.Errorf("key checks of an unchanged build: %v, want orders with 1 key shared", keyChecks)
	}
	if got := f.profiles(); got != before {
		t.Errorf("profiles changed:\n%s\nwas\n%s", got, before)
	}
	// A seed file touched is loaded again.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(f.p.Dir, "tiers.csv"), later, later); err != nil {
		t.Fatal(err)
	}
	if o := f.build(incremental.Options{}); len(o.SeedsKept) != 0 {
		t.Errorf("seed kept although its file changed")
	}
}

// A build limited to some steps (the daemon's, for syncs that read
// profiles only) is recorded as partial: the next build is full. One that
// accepts every step is not.
func TestPartialBuilds(t *testing.T) {
	f := project(t, envs[0], projectYAML)
	noSegments := func(s models.Step) bool { return s.Kind != models.KindSegment }
	everything := func(models.Step) bool { return true }
	f.build(incremental.Options{})
	f.set(tables{crm: base.crm, orders: base.orders[:2]})
	f.build(incremental.Options{Only: noSegments})
	if o := f.build(incremental.Options{}); o.Mode != incremental.ModeFull || !hasReason(o, "the last build ran only some steps") {
		t.Fatalf("after a partial build: %s %q", o.Mode, o.Reasons)
	}
	if o := f.build(incremental.Options{Only: everything}); o.Mode != incremental.ModeUnchanged {
		t.Fatalf("a build of every step after a complete one: %s %q", o.Mode, o.Reasons)
	}
	f.set(tables{crm: base.crm[:2], orders: base.orders})
	f.build(incremental.Options{Only: everything})
	if o := f.build(incremental.Options{}); o.Mode != incremental.ModeUnchanged {
		t.Fatalf("after a build of every step through Only: %s %q", o.Mode, o.Reasons)
	}
}

func TestDefinitionChangeRebuilds(t *testing.T) {
	f := project(t, envs[0], projectYAML)
	f.build(incremental.Options{})
	yaml, err := os.ReadFile(filepath.Join(f.p.Dir, "sluice.yml"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(f.p.Dir, "sluice.yml"), strings.Replace(string(yaml), "window: 30d", "window: 60d", 1))
	f.p = load(t, f.p.Dir)
	o := f.build(incremental.Options{})
	if o.Mode != incremental.ModeFull || !hasReason(o, "sluice.yml:") || !hasReason(o, "the SQL of step profiles changed") {
		t.Fatalf("after a trait change: %s %q", o.Mode, o.Reasons)
	}
	if o := f.build(incremental.Options{}); o.Mode != incremental.ModeUnchanged {
		t.Fatalf("rebuilt again: %q", o.Reasons)
	}
}

func TestAppendOnlySource(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, e env) {
		yaml := strings.Replace(projectYAML, "primary_key: order_id, timestamp: ordered_at }", "primary_key: order_id, timestamp: ordered_at, append_only: true }", 1)
		f := project(t, e, yaml)
		f.build(incremental.Options{})
		if o := f.build(incremental.Options{}); o.Mode != incremental.ModeUnchanged {
			t.Fatalf("unchanged append-only source: %s %q", o.Mode, o.Reasons)
		}
		for _, s := range f.build(incremental.Options{Full: true}).Result.Steps {
			if s.Name == "changes_orders" {
				t.Errorf("an append_only source got a snapshot")
			}
		}
		more := base
		more.orders = append(append([]string(nil), base.orders...), "('o9', 'u1', NULL, 1, '2026-05-31 00:00:00')")
		f.set(more)
		if o := f.build(incremental.Options{}); o.Mode != incremental.ModeIncremental || !hasReason(o, "rows changed in orders") {
			t.Fatalf("appended row: %s %q", o.Mode, o.Reasons)
		}
		fewer := more
		fewer.orders = more.orders[1:]
		f.set(fewer)
		if o := f.build(incremental.Options{}); o.Mode != incremental.ModeFull || !hasReason(o, "is append_only, but 3 rows are at or before") {
			t.Fatalf("deleted row of an append_only source: %s %q", o.Mode, o.Reasons)
		}
	})
}

// A segment written as a query is selected again from every profile in
// every build, and so is one that excludes it; the others are updated in
// place for the profiles that changed (on DuckDB).
func TestQuerySegmentAlwaysRebuilds(t *testing.T) {
	yaml := strings.Replace(projectYAML, "  - { name: buyers, where: \"spent > 0\" }",
		"  - { name: buyers, where: \"spent > 0\" }\n  - { name: recent, sql: \"SELECT profile_id FROM sluice.customer_profiles WHERE orders_30d > 0\" }\n"+
			"  - { name: quiet, where: \"email IS NOT NULL\", exclude: [recent] }", 1)
	f := project(t, envs[0], yaml)
	full := project(t, envs[0], yaml)
	f.build(incremental.Options{})
	if o := f.build(incremental.Options{}); o.Mode != incremental.ModeIncremental || !hasReason(o, "segment recent is a query") {
		t.Fatalf("segment written as a query: %s %q", o.Mode, o.Reasons)
	}
	compared := append(slices.Clone(published), struct{ name, cols string }{"customer_segment_recent", "profile_id"},
		struct{ name, cols string }{"customer_segment_quiet", "profile_id"})
	added := base
	added.orders = append(slices.Clone(base.orders), "('o4', 'u2', NULL, 7, '2026-05-30 00:00:00')")
	merged := added
	merged.orders = append(slices.Clone(added.orders), "('o5', 'u1', 'bob@example.org', 3, '2026-06-01 00:00:00')")
	for i, data := range []tables{added, merged, base} {
		opt := incremental.Options{Now: day0.Add(time.Duration(i+1) * time.Hour)}
		f.set(data)
		if o := f.build(opt); o.Mode != incremental.ModeIncremental {
			t.Fatalf("step %d: %s %q", i, o.Mode, o.Reasons)
		}
		full.set(data)
		opt.Full = true
		full.build(opt)
		f.sameAs(full, fmt.Sprint("step ", i), compared)
	}
}

// Without RFM, only the rows that left a window ask for the profiles.
func TestWindowEdge(t *testing.T) {
	yaml := strings.NewReplacer("  rfm: { rfm: { from: orders, amount: amount } }\n", "", " OR rfm_r >= 2", "", `where: "rfm_r >= 2"`, `where: "spent >= 10"`).Replace(projectYAML)
	f := project(t, envs[0], yaml)
	f.build(incremental.Options{})
	steps := []struct {
		now    time.Time
		mode   incremental.Mode
		reason string
	}{
		{day0.Add(48 * time.Hour), incremental.ModeUnchanged, ""},
		{time.Date(2026, 6, 20, 12, 0, 0, 0, time.UTC), incremental.ModeIncremental, "1 rows of orders left its 30d window"},
		{time.Date(2026, 6, 20, 13, 0, 0, 0, time.UTC), incremental.ModeUnchanged, ""},
	}
	for _, s := range steps {
		if o := f.build(incremental.Options{Now: s.now}); o.Mode != s.mode || s.reason != "" && !hasReason(o, s.reason) {
			t.Fatalf("at %s: %s %q, want %s with %q", s.now, o.Mode, o.Reasons, s.mode, s.reason)
		}
	}
}

func TestClockReadingTraitRebuildsEverything(t *testing.T) {
	yaml := strings.Replace(projectYAML, "  big: {", "  recent_buyer: { expression: \"spent > 0 AND current_date > DATE '2026-01-01'\" }\n  big: {", 1)
	f := project(t, envs[0], yaml)
	f.build(incremental.Options{})
	if o := f.build(incremental.Options{}); o.Mode != incremental.ModeUnchanged {
		t.Fatalf("same time: %s %q", o.Mode, o.Reasons)
	}
	if o := f.build(incremental.Options{Now: day0.Add(time.Minute)}); o.Mode != incremental.ModeFull || !hasReason(o, "trait recent_buyer reads current_date") {
		t.Fatalf("a minute later: %s %q", o.Mode, o.Reasons)
	}
	// A source changed at the same time: the incremental build would
	// recompute only the profiles the change touches.
	f.set(tables{crm: base.crm, orders: base.orders[:2]})
	if o := f.build(incremental.Options{Now: day0.Add(time.Minute)}); o.Mode != incremental.ModeFull || !hasReason(o, "trait recent_buyer reads current_date") {
		t.Fatalf("a source changed: %s %q", o.Mode, o.Reasons)
	}
}

func hasReason(o *incremental.Outcome, part string) bool {
	for _, r := range o.Reasons {
		if strings.Contains(r, part) {
			return true
		}
	}
	return false
}

// An incremental build stopped after every table was recomputed (in place
// of the publish on DuckDB: views and work tables written) leaves the
// published tables as they were; the next build, incremental or full,
// drops what it left and publishes what a full build would.
func TestStoppedIncrementalBuildKeepsTables(t *testing.T) {
	eachWarehouse(t, func(t *testing.T, e env) {
		f := project(t, e, projectYAML)
		full := project(t, e, projectYAML)
		f.build(incremental.Options{})
		data := base
		for i, next := range []incremental.Options{{}, {Full: true}} {
			before := map[string]string{}
			for _, table := range published {
				before[table.name] = f.dump(table)
			}
			data.orders = append(append([]string(nil), data.orders...), fmt.Sprintf("('o%d', 'u1', 'bob@example.org', 3, '2026-06-01 00:00:00')", 5+i))
			f.set(data)
			ctx, stop := context.WithCancel(context.Background())
			_, err := incremental.Build(ctx, f.w, f.p, incremental.Options{Now: day0, Progress: func(ev builder.Event) {
				if ev.Done && ev.Step.Kind == models.KindSegment {
					stop()
				}
			}})
			stop()
			if err == nil {
				t.Fatal("a build stopped before its publish step succeeded")
			}
			for _, table := range published {
				if got := f.dump(table); got != before[table.name] {
					t.Errorf("%s changed by a stopped build:\n%s\nbefore:\n%s", table.name, got, before[table.name])
				}
			}
			want := incremental.ModeIncremental
			if next.Full {
				want = incremental.ModeFull
			}
			if o := f.build(next); o.Mode != want {
				t.Fatalf("the build after a stopped one: %s %q, want %s", o.Mode, o.Reasons, want)
			}
			full.set(data)
			full.build(incremental.Options{Full: true})
			for _, table := range published {
				if got, want := f.dump(table), full.dump(table); got != want {
					t.Errorf("%s differs from a full build's:\n%s\nfull build:\n%s", table.name, got, want)
				}
			}
		}
	})
}
