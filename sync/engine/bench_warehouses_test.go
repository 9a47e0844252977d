package engine_test

// BenchmarkPlanWarehouses plans the same sync over the same generated
// people, 1% of them changed since the snapshot, on DuckDB and on
// ClickHouse (when SLUICE_CLICKHOUSE_DSN names a server), in one run so
// that both see the same machine load. Recorded in docs/benchmarks.md
// ("ClickHouse"):
//
//	. .ci/clickhouse.sh
//	go test ./sync/engine -run '^$' -bench 'PlanWarehouses/rows=1M' -benchtime 3x -timeout 30m

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/planner"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/synctest"
)

// benchPeopleSQL generates n people, the same on both warehouses (the
// columns of bench_test.go's benchPeople; ltv as a double, which both
// store alike).
var benchPeopleSQL = map[string]func(n int) []string{
	"duckdb": func(n int) []string {
		return []string{"CREATE SCHEMA raw", fmt.Sprintf(`CREATE TABLE raw.people AS
SELECT 'p' || i AS profile_id,
       CASE WHEN i %% 50 = 0 THEN ' User' || i || '@Example.com' ELSE 'user' || i || '@example.com' END AS email,
       'name ' || (i %% 9973) AS first_name,
       ['FR', 'DE', 'US', 'GB', 'ES'][1 + i %% 5] AS country,
       CAST((i * 37) %% 100000 AS DOUBLE) / 100 AS ltv,
       CAST(i %% 40 AS INTEGER) AS orders,
       TIMESTAMP '2024-01-01' + to_seconds(i %% 10000000) AS last_order_at,
       i %% 10 <> 0 AS opt_in
FROM range(%d) t(i)`, n), "CHECKPOINT"}
	},
	"clickhouse": func(n int) []string {
		return []string{"CREATE DATABASE {raw}", "CREATE TABLE {raw}.people (profile_id String, email Nullable(String), first_name Nullable(String), country Nullable(String), ltv Nullable(Float64), orders Nullable(Int32), last_order_at Nullable(DateTime('UTC')), opt_in Nullable(UInt8)) ENGINE = MergeTree ORDER BY tuple()",
			fmt.Sprintf(`INSERT INTO {raw}.people
SELECT concat('p', toString(number)),
       if(number %% 50 = 0, concat(' User', toString(number), '@Example.com'), concat('user', toString(number), '@example.com')),
       concat('name ', toString(number %% 9973)),
       ['FR', 'DE', 'US', 'GB', 'ES'][1 + number %% 5],
       ((number * 37) %% 100000) / 100,
       toInt32(number %% 40),
       toDateTime('2024-01-01 00:00:00', 'UTC') + number %% 10000000,
       number %% 10 != 0
FROM numbers(%d)`, n)}
	},
}

// benchChangeSQL changes 1% of the rows, the same ones on both warehouses:
// 0.5% updated, 0.25% deleted, 0.25% new. ClickHouse rewrites the table (sluice never relies on its
// mutations, and neither does the benchmark).
var benchChangeSQL = map[string]func(n int) []string{
	"duckdb": func(n int) []string {
		return []string{
			"UPDATE raw.people SET ltv = ltv + 1 WHERE CAST(substr(profile_id, 2) AS BIGINT) % 200 = 3",
			"DELETE FROM raw.people WHERE CAST(substr(profile_id, 2) AS BIGINT) % 400 = 1",
			fmt.Sprintf("INSERT INTO raw.people SELECT 'q' || i, 'new' || i || '@example.com', 'new', 'FR', 1, 1, TIMESTAMP '2025-01-01', true FROM range(%d) t(i)", n/400),
			"CHECKPOINT",
		}
	},
	"clickhouse": func(n int) []string {
		return []string{
			"CREATE TABLE {raw}.people_next AS {raw}.people",
			"INSERT INTO {raw}.people_next SELECT profile_id, email, first_name, country, if(toUInt64(substring(profile_id, 2)) % 200 = 3, ltv + 1, ltv), orders, last_order_at, opt_in FROM {raw}.people WHERE toUInt64(substring(profile_id, 2)) % 400 != 1",
			fmt.Sprintf("INSERT INTO {raw}.people_next SELECT concat('q', toString(number)), concat('new', toString(number), '@example.com'), 'new', 'FR', 1, 1, toDateTime('2025-01-01 00:00:00', 'UTC'), 1 FROM numbers(%d)", n/400),
			"DROP TABLE {raw}.people",
			"RENAME TABLE {raw}.people_next TO {raw}.people",
		}
	},
}

func BenchmarkPlanWarehouses(b *testing.B) {
	for _, sz := range sizes[:2] {
		for _, kind := range []string{"duckdb", "clickhouse"} {
			b.Run("rows="+sz.name+"/"+kind, func(b *testing.B) {
				p, raw := benchOn(b, kind, sz.n)
				adoptPortable(b, p, "people_sync")
				for _, q := range benchChangeSQL[kind](sz.n) {
					p.Exec(b, strings.ReplaceAll(q, "{raw}", raw))
				}
				ctx := context.Background()
				var pl *engine.Plan
				b.ResetTimer()
				for b.Loop() {
					var err error
					if pl, err = p.Engine.Plan(ctx, "people_sync", engine.PlanOptions{Samples: 3}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "plan-s")
				b.Logf("%s, %s rows: %d adds, %d updates, %d removes, %d unchanged", kind, sz.name, pl.Adds, pl.Updates, pl.Removes, pl.Unchanged)
			})
		}
	}
}

// benchOn is benchProject on a warehouse, with n generated people; raw is
// the schema of their table.
func benchOn(b *testing.B, kind string, n int) (*synctest.Project, string) {
	b.Helper()
	srv := fake.New(b, fake.Options{Discard: true})
	o := synctest.Options{Files: map[string]string{}, Env: map[string]string{"HOOK_URL": srv.URL}}
	raw := "raw"
	var drop []string
	if kind == "clickhouse" {
		dsn := os.Getenv("SLUICE_CLICKHOUSE_DSN")
		if dsn == "" {
			b.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to benchmark ClickHouse")
		}
		base := fmt.Sprintf("sluice_bench_%d", rand.Uint32())
		raw = base + "_raw"
		drop = []string{base, base + "_state", raw}
		o.Env["CH_DSN"] = dsn
		o.Files["sluice.yml"] = "version: 1\nname: bench\nwarehouse: {type: clickhouse, dsn: \"${CH_DSN}\"}\nschema: " + base + "\nstate_schema: " + base + "_state\n"
	} else {
		o.DBFile, o.MemoryLimit = "bench.duckdb", "4GB"
	}
	o.Files["sync.yml"] = strings.Replace(benchProject, "raw.people", raw+".people", 1)
	p := synctest.New(b, o)
	b.Cleanup(func() {
		for _, db := range drop {
			_ = p.W.Exec(context.Background(), "DROP DATABASE IF EXISTS "+p.W.Dialect().Ident(db))
		}
	})
	for _, q := range benchPeopleSQL[kind](n) {
		p.Exec(b, strings.ReplaceAll(q, "{raw}", raw))
	}
	p.Build(b)
	return p, raw
}

// adoptPortable records the current model as already at the destination,
// as a finished first sync would have, in SQL every warehouse runs.
func adoptPortable(b *testing.B, p *synctest.Project, sync string) {
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
	now := time.Now()
	if err := st.EnsureSnapshot(ctx, sync, pl.Canary(), now); err != nil {
		b.Fatal(err)
	}
	d := p.W.Dialect()
	p.Exec(b, "INSERT INTO "+st.SnapshotTable(sync)+" SELECT d.k, d.h, NULL, 'adopted', "+d.TimestampLiteral(now.UTC())+
		" FROM ("+pl.Classified()+") AS d WHERE d.class = "+fmt.Sprint(planner.ClassCode(spec.Add)))
}

// BenchmarkSyncWarehouses: a first sync of every row to a destination
// that accepts everything at once (bench_null), on each warehouse: what
// the warehouse side of a sync sustains (diff, stream, commit every
// outcome, fold the snapshot).
//
//	go test ./sync/engine -run '^$' -bench 'SyncWarehouses/rows=100k' -benchtime 1x -timeout 30m
func BenchmarkSyncWarehouses(b *testing.B) {
	for _, sz := range sizes[:2] {
		for _, kind := range []string{"duckdb", "clickhouse"} {
			b.Run("rows="+sz.name+"/"+kind, func(b *testing.B) {
				p, _ := benchOn(b, kind, sz.n)
				if os.Getenv("SLUICE_BENCH_DEBUG") != "" {
					p.Engine.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
				}
				ctx := context.Background()
				var sent int64
				var peak uint64
				for b.Loop() {
					b.StopTimer()
					if err := p.Engine.Reset(ctx, "people_void"); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					peak = max(peak, heapPeak(func() {
						res, err := p.Engine.Sync(ctx, "people_void", engine.SyncOptions{})
						if err != nil {
							b.Fatal(err)
						}
						sent += res.Accepted
					}))
				}
				b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			})
		}
	}
}
