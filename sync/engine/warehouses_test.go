package engine_test

// The engine's behaviour, checked on every warehouse with a sync state
// store: DuckDB always, ClickHouse when SLUICE_CLICKHOUSE_DSN names a server
// (.ci/clickhouse.sh starts one), Snowflake when SLUICE_SNOWFLAKE_DSN names
// an account and BigQuery when SLUICE_BIGQUERY_PROJECT names a project (with
// SLUICE_BIGQUERY_LOCATION and SLUICE_BIGQUERY_CREDENTIALS_FILE as for the
// connector's conformance suite). The model is a people table whose rows
// the test keeps in Go and writes whole before each run, so the same steps
// run on every warehouse and what the destination must hold is computed in
// Go, not by either warehouse.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/executor"
	"github.com/sluicehq/sluice/sync/state"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/bigquery"
	_ "github.com/sluicehq/sluice/connectors/clickhouse"
	_ "github.com/sluicehq/sluice/connectors/snowflake"
)

// person is a row of the people table; nil pointers are NULLs.
type person struct {
	email, name, tier *string
	ltv               *float64
	optIn             *bool
}

func str(s string) *string   { return &s }
func num(f float64) *float64 { return &f }
func opt(b bool) *bool       { return &b }
func yes() *bool             { return opt(true) }
func no() *bool              { return opt(false) }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// key is the sync's key: the e-mail, trimmed and lower-cased.
func (p person) key() string { return strings.ToLower(strings.Trim(deref(p.email), " ")) }

func (p person) consents() bool { return p.optIn != nil && *p.optIn }

// onWarehouse is a people project on one warehouse.
type onWarehouse struct {
	*synctest.Project
	kind string
	raw  string           // the schema of the people table
	rows map[int32]person // what the table holds
	srv  *fake.Server
}

// forEachWarehouse runs fn on a fresh people project on each warehouse.
func forEachWarehouse(t *testing.T, opts fake.Options, yml func(raw string) string, fn func(t *testing.T, p *onWarehouse)) {
	for _, kind := range []string{"duckdb", "clickhouse", "snowflake", "bigquery"} {
		t.Run(kind, func(t *testing.T) { fn(t, newOnWarehouse(t, kind, opts, yml)) })
	}
}

// peopleOn is the people project of engine_test.go, reading the people
// table of schema raw.
func peopleOn(raw string) string {
	return strings.Replace(peopleProject, "raw.people", raw+".people", 1)
}

func newOnWarehouse(t *testing.T, kind string, opts fake.Options, yml func(raw string) string) *onWarehouse {
	t.Helper()
	if opts.Token == "" {
		opts.Token = "s3cret"
	}
	env := map[string]string{"HOOK_TOKEN": opts.Token}
	files := map[string]string{}
	raw := "raw"
	var drop []string
	if kind == "clickhouse" {
		dsn := os.Getenv("SLUICE_CLICKHOUSE_DSN")
		if dsn == "" {
			t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
		}
		// Databases of its own, so that parallel runs on one server never meet.
		base := fmt.Sprintf("sluice_engine_test_%d", rand.Uint32())
		raw = base + "_raw"
		drop = []string{base, base + "_state", raw}
		env["CH_DSN"] = dsn
		files["sluice.yml"] = "version: 1\nname: synctest\nwarehouse: {type: clickhouse, dsn: \"${CH_DSN}\"}\nschema: " + base + "\nstate_schema: " + base + "_state\n"
	}
	if kind == "snowflake" || kind == "bigquery" {
		base := fmt.Sprintf("sluice_engine_test_%d", rand.Uint32())
		raw = base + "_raw"
		drop = []string{base, base + "_state", raw}
		files["sluice.yml"] = cloudProject(t, kind, env) + "schema: " + base + "\nstate_schema: " + base + "_state\n"
	}
	srv := fake.New(t, opts)
	env["HOOK_URL"] = srv.URL
	files["sync.yml"] = yml(raw)
	p := synctest.New(t, synctest.Options{Files: files, Env: env})
	t.Cleanup(func() {
		for _, db := range drop {
			q := "DROP DATABASE IF EXISTS " + p.W.Dialect().Ident(db)
			if kind != "clickhouse" {
				q = "DROP SCHEMA IF EXISTS " + p.W.Dialect().Ident(db) + " CASCADE"
			}
			if err := p.W.Exec(context.Background(), q); err != nil {
				t.Error(err)
			}
		}
	})
	switch d := p.W.Dialect(); kind {
	case "clickhouse":
		p.Exec(t, "CREATE DATABASE "+raw,
			"CREATE TABLE "+raw+".people (id Int32, email Nullable(String), name Nullable(String), ltv Nullable(Float64), tier Nullable(String), opt_in Nullable(UInt8)) ENGINE = MergeTree ORDER BY id")
	case "snowflake", "bigquery":
		types := []string{"INTEGER", "VARCHAR", "VARCHAR", "DOUBLE", "VARCHAR", "BOOLEAN"}
		if kind == "bigquery" {
			types = []string{"INT64", "STRING", "STRING", "FLOAT64", "STRING", "BOOL"}
		}
		cols := make([]string, len(peopleColumns))
		for i, c := range peopleColumns {
			cols[i] = d.Ident(c) + " " + types[i]
		}
		p.Exec(t, d.CreateSchema(raw), "CREATE TABLE "+d.Table(raw, "people")+" ("+strings.Join(cols, ", ")+")")
	default:
		p.Exec(t, "CREATE SCHEMA raw", "CREATE TABLE raw.people (id INTEGER, email VARCHAR, name VARCHAR, ltv DOUBLE, tier VARCHAR, opt_in BOOLEAN)")
	}
	p.Build(t)
	return &onWarehouse{Project: p, kind: kind, raw: raw, rows: map[int32]person{}, srv: srv}
}

// write replaces the table's rows with p.rows.
func (p *onWarehouse) write(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	clear := "DELETE FROM raw.people"
	switch p.kind {
	case "clickhouse":
		clear = "TRUNCATE TABLE " + p.raw + ".people"
	case "snowflake", "bigquery":
		clear = "DELETE FROM " + p.W.Dialect().Table(p.raw, "people") + " WHERE TRUE"
	}
	p.Exec(t, clear)
	var rows [][]any
	for _, id := range slices.Sorted(maps.Keys(p.rows)) {
		r := p.rows[id]
		row := []any{id, nil, nil, nil, nil, nil}
		for i, v := range []any{r.email, r.name, r.ltv, r.tier, r.optIn} {
			switch x := v.(type) {
			case *string:
				if x != nil {
					row[i+1] = *x
				}
			case *float64:
				if x != nil {
					row[i+1] = *x
				}
			case *bool:
				if x != nil {
					row[i+1] = *x
				}
			}
		}
		rows = append(rows, row)
	}
	if a, ok := p.W.(warehouse.RowAppender); ok {
		if err := a.AppendRows(ctx, p.raw, "people", rows); err != nil {
			t.Fatal(err)
		}
		return
	}
	if len(rows) > 0 {
		p.Exec(t, insertValues(p.W.Dialect(), p.W.Dialect().Table(p.raw, "people"), rows))
	}
}

// peopleColumns are the people table's columns, in order.
var peopleColumns = []string{"id", "email", "name", "ltv", "tier", "opt_in"}

// insertValues writes rows as one INSERT of literals, for warehouses
// without a bulk appender.
func insertValues(d dialect.Dialect, table string, rows [][]any) string {
	cols := make([]string, len(peopleColumns))
	for i, c := range peopleColumns {
		cols[i] = d.Ident(c)
	}
	tuples := make([]string, len(rows))
	for i, r := range rows {
		vals := make([]string, len(r))
		for j, v := range r {
			switch x := v.(type) {
			case nil:
				vals[j] = "NULL"
			case string:
				vals[j] = d.String(x)
			case bool:
				vals[j] = d.Bool(x)
			case float64:
				vals[j] = strconv.FormatFloat(x, 'g', -1, 64)
			default:
				vals[j] = fmt.Sprint(x)
			}
		}
		tuples[i] = "(" + strings.Join(vals, ", ") + ")"
	}
	return "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES " + strings.Join(tuples, ", ")
}

// cloudProject is the warehouse part of sluice.yml for a real Snowflake
// account or BigQuery project named by the environment; it skips the test
// when none is named.
func cloudProject(t *testing.T, kind string, env map[string]string) string {
	t.Helper()
	if kind == "snowflake" {
		dsn := os.Getenv("SLUICE_SNOWFLAKE_DSN")
		if dsn == "" {
			t.Skip("SLUICE_SNOWFLAKE_DSN is not set: the Snowflake engine tests need a real account (see README, Running against Snowflake)")
		}
		env["SF_DSN"] = dsn
		return "version: 1\nname: synctest\nwarehouse: {type: snowflake, dsn: \"${SF_DSN}\"}\n"
	}
	project := os.Getenv("SLUICE_BIGQUERY_PROJECT")
	if project == "" {
		t.Skip("SLUICE_BIGQUERY_PROJECT is not set: the BigQuery engine tests need a real project and credentials (see README, Running against BigQuery)")
	}
	location := cmp.Or(os.Getenv("SLUICE_BIGQUERY_LOCATION"), "US")
	if f := os.Getenv("SLUICE_BIGQUERY_CREDENTIALS_FILE"); f != "" {
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", f)
	}
	return "version: 1\nname: synctest\nwarehouse: {type: bigquery, project: " + strconv.Quote(project) + ", location: " + strconv.Quote(location) + "}\n"
}

// seed puts n generated people in the table, as seedPeople does.
func (p *onWarehouse) seed(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		r := person{email: str(fmt.Sprintf("u%d@x.com", i)), name: str(fmt.Sprintf("name %d", i)), ltv: num(float64(i) * 1.5), optIn: opt(i%7 != 0)}
		if i%3 == 0 {
			r.tier = str("gold")
		}
		p.rows[int32(i)] = r
	}
	p.write(t)
}

// expected is what the destination must hold: the consenting rows whose
// key is set and unique, mapped.
func (p *onWarehouse) expected() map[string]map[string]any {
	byKey := map[string][]person{}
	for _, r := range p.rows {
		if k := r.key(); k != "" {
			byKey[k] = append(byKey[k], r)
		}
	}
	out := map[string]map[string]any{}
	for k, rs := range byKey {
		if len(rs) != 1 || !rs[0].consents() {
			continue
		}
		r := rs[0]
		rec := map[string]any{"email": k, "source": "sluice", "name": nil, "ltv": nil, "properties": map[string]any{"tier": nil}}
		if r.name != nil {
			rec["name"] = *r.name
		}
		if r.ltv != nil {
			if *r.ltv == float64(int64(*r.ltv)) {
				rec["ltv"] = int64(*r.ltv)
			} else {
				rec["ltv"] = *r.ltv
			}
		}
		if r.tier != nil {
			rec["properties"] = map[string]any{"tier": *r.tier}
		}
		out[k] = rec
	}
	return out
}

func (p *onWarehouse) replanEmpty(t *testing.T) {
	t.Helper()
	pl, err := p.Engine.Plan(context.Background(), "people_hook", engine.PlanOptions{})
	if err != nil || pl.Adds+pl.Updates+pl.Removes != 0 {
		t.Errorf("re-plan after the run: %+v, %v", pl, err)
	}
}

// Each run sends exactly the delta of the model since the last run.
func TestDeltasOnEveryWarehouse(t *testing.T) {
	forEachWarehouse(t, fake.Options{}, peopleOn, func(t *testing.T, p *onWarehouse) {
		ctx := context.Background()
		steps := []struct {
			name   string
			change func(rows map[int32]person)
			want   []string // operations of the run, sorted
		}{
			{"first run sends everything", func(rows map[int32]person) {
				rows[1] = person{str("a@x.com"), str("Ann"), str("gold"), num(10), yes()}
				rows[2] = person{str("b@x.com"), str("Bob"), nil, num(20), yes()}
				rows[3] = person{str("c@x.com"), str("Cid"), str("x"), num(30), yes()}
				rows[4] = person{str("d@x.com"), str("Dee"), str("x"), num(40.5), yes()}
				rows[5] = person{str("e@x.com"), str("Eve"), str("x"), num(50), no()}
			}, []string{"upsert a@x.com", "upsert b@x.com", "upsert c@x.com", "upsert d@x.com"}},
			{"no change sends nothing", nil, nil},
			{"insert, update, delete", func(rows map[int32]person) {
				rows[6] = person{str("f@x.com"), str("Fay"), nil, num(60), yes()}
				r := rows[2]
				r.name = str("Bobby")
				rows[2] = r
				delete(rows, 3)
			}, []string{"delete c@x.com", "upsert b@x.com", "upsert f@x.com"}},
			{"consent withdrawn is a removal", func(rows map[int32]person) {
				r := rows[4]
				r.optIn = no()
				rows[4] = r
			}, []string{"delete d@x.com"}},
			{"consent given is an add", func(rows map[int32]person) {
				for _, id := range []int32{4, 5} {
					r := rows[id]
					r.optIn = yes()
					rows[id] = r
				}
			}, []string{"upsert d@x.com", "upsert e@x.com"}},
			{"a changed key moves the record", func(rows map[int32]person) {
				r := rows[1]
				r.email = str("A.New@X.com ")
				rows[1] = r
			}, []string{"delete a@x.com", "upsert a.new@x.com"}},
			{"a cleared value is sent as null", func(rows map[int32]person) {
				r := rows[6]
				r.ltv = nil
				rows[6] = r
			}, []string{"upsert f@x.com"}},
			{"a change the mapping does not read sends nothing", func(rows map[int32]person) {
				for id, r := range maps.Clone(rows) {
					delete(rows, id)
					rows[id+100] = r
				}
			}, nil},
			{"a row that becomes a duplicate is held back, not removed", func(rows map[int32]person) {
				rows[7] = person{str("b@x.com"), str("Bob twin"), nil, num(1), yes()}
			}, nil},
		}
		for _, st := range steps {
			if st.change != nil {
				st.change(p.rows)
				p.write(t)
			}
			res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
			if err != nil {
				t.Fatalf("%s: sync: %v", st.name, err)
			}
			if got := ops(p.srv.Log(), res.RunID); !slices.Equal(got, st.want) {
				t.Errorf("%s: run sent %q, want %q", st.name, got, st.want)
			}
			want := p.expected()
			if strings.Contains(st.name, "duplicate") {
				// b@x.com stays at the destination as last sent.
				want["b@x.com"] = p.srv.Records()["b@x.com"]
				if res.Invalid.DuplicateKeys != 1 || res.Invalid.DuplicateRows != 2 {
					t.Errorf("invalid = %+v, want 1 duplicated key on 2 rows", res.Invalid)
				}
			}
			equalRecords(t, p.srv.Records(), want)
			p.replanEmpty(t)
		}
		// A run with nothing to send makes no request at all.
		n := len(p.srv.Requests())
		if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		if len(p.srv.Requests()) != n {
			t.Errorf("a run without changes sent %d requests", len(p.srv.Requests())-n)
		}
	})
}

// Per-record rejections are stored with their error, make the run end as
// rejected, and are retried (and cleared) on later runs.
func TestRejectionsOnEveryWarehouse(t *testing.T) {
	forEachWarehouse(t, fake.Options{}, peopleOn, func(t *testing.T, p *onWarehouse) {
		p.seed(t, 12)
		p.srv.RejectKeys("invalid e-mail domain", "u1@x.com", "u2@x.com")
		ctx := context.Background()
		res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
		var rerr *engine.RejectedError
		if !errors.As(err, &rerr) || res.Status != state.RunRejected || res.Rejected != 2 || res.Pending != 2 {
			t.Fatalf("want 2 rejections, got %v (status %s, rejected %d, pending %d)", err, res.Status, res.Rejected, res.Pending)
		}
		rej, total, err := p.Engine.Store().Rejections(ctx, "people_hook", 10)
		if err != nil || total != 2 || rej[0].Error != "invalid e-mail domain" || rej[0].Attempts != 1 {
			t.Fatalf("stored rejections: %+v %d %v", rej, total, err)
		}
		// Still rejected: retried, attempts counted.
		res, _ = p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
		if res.Sent != 2 || res.Rejected != 2 {
			t.Errorf("second run should retry exactly the 2 rejected records: %+v", res)
		}
		rej, _, _ = p.Engine.Store().Rejections(ctx, "people_hook", 10)
		if len(rej) != 2 || rej[0].Attempts != 2 {
			t.Errorf("rejections after the retry: %+v", rej)
		}
		p.srv.RejectKeys("", "u1@x.com", "u2@x.com")
		res, err = p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
		if err != nil || res.Sent != 2 || res.Pending != 0 {
			t.Fatalf("third run: %+v %v", res, err)
		}
		equalRecords(t, p.srv.Records(), p.expected())
		if n := p.Int(t, "SELECT count(*) FROM "+p.Engine.Store().Table("sync_changes")+" WHERE status = 'rejected' AND error = 'invalid e-mail domain'"); n != 4 {
			t.Errorf("change log has %d rejections, want 4", n)
		}
		p.replanEmpty(t)
	})
}

// Two engines on one state: while one runs, the other refuses and says who
// holds the sync; once the first is done, the sync runs again.
func TestLockOnEveryWarehouse(t *testing.T) {
	forEachWarehouse(t, fake.Options{Latency: 100 * time.Millisecond}, peopleOn, func(t *testing.T, p *onWarehouse) {
		p.seed(t, 30)
		ctx := context.Background()
		first, second := p.Engine, p.NewEngine(t)
		var wg sync.WaitGroup
		var firstErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, firstErr = first.Sync(ctx, "people_hook", engine.SyncOptions{})
		}()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, held, _ := second.Store().LockHolder(ctx, "people_hook"); held {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the first run never took the lock")
			}
			time.Sleep(5 * time.Millisecond)
		}
		res, err := second.Sync(ctx, "people_hook", engine.SyncOptions{})
		if !engine.IsLocked(err) || res.Status != "locked" || !strings.Contains(err.Error(), "already running: run ") {
			t.Fatalf("second run: want a lock error saying who holds the sync, got %v (%s)", err, res.Status)
		}
		wg.Wait()
		if firstErr != nil {
			t.Fatalf("first run: %v", firstErr)
		}
		if _, err := second.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		equalRecords(t, p.srv.Records(), p.expected())
	})
}

// A crash between the destination's answer and the commit loses nothing:
// the next run takes over the dead run's lock, sends the uncommitted
// records again and converges.
func TestCrashOnEveryWarehouse(t *testing.T) {
	forEachWarehouse(t, fake.Options{}, peopleOn, func(t *testing.T, p *onWarehouse) {
		p.seed(t, 20)
		ctx := context.Background()
		res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{CrashAfter: 2})
		if !errors.Is(err, executor.ErrCrash) {
			t.Fatalf("want the simulated crash, got %v", err)
		}
		if h, held, _ := p.Engine.Store().LockHolder(ctx, "people_hook"); !held || h.RunID != res.RunID {
			t.Fatal("a crashed run leaves its lock behind")
		}
		if len(p.srv.Records()) == 0 {
			t.Fatal("the destination should have received batches before the crash")
		}
		crashed := res.RunID
		if _, err := p.NewEngine(t).Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
			t.Fatalf("run after the crash: %v", err)
		}
		equalRecords(t, p.srv.Records(), p.expected())
		if r, ok, err := p.Engine.Store().RunByID(ctx, crashed); err != nil || !ok || r.Status != state.RunAbandoned {
			t.Errorf("the crashed run should be logged as abandoned: %+v %v", r, err)
		}
		p.replanEmpty(t)
	})
}

// state reset makes the next run a full resync; a changed hash function
// (canary) re-sends every record once.
func TestResetOnEveryWarehouse(t *testing.T) {
	forEachWarehouse(t, fake.Options{}, peopleOn, func(t *testing.T, p *onWarehouse) {
		p.seed(t, 9)
		ctx := context.Background()
		if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		n := int64(len(p.srv.Records()))
		if err := p.Engine.Reset(ctx, "people_hook"); err != nil {
			t.Fatal(err)
		}
		pl, err := p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{})
		if err != nil || pl.Adds != n || pl.AtDestination != 0 {
			t.Fatalf("after reset: %+v %v", pl, err)
		}
		if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		st := p.Engine.Store()
		canary, _, err := st.Canary(ctx, "people_hook")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetCanary(ctx, "people_hook", canary+1, time.Now()); err != nil {
			t.Fatal(err)
		}
		pl, _ = p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{})
		if !pl.HashChanged || pl.Updates != n {
			t.Fatalf("after a hash change: %+v", pl)
		}
		res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
		if err != nil || res.Updates != n {
			t.Fatalf("resend after hash change: %+v %v", res, err)
		}
		if pl, _ := p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{}); pl.HashChanged || pl.Updates != 0 {
			t.Errorf("after the resend: %+v", pl)
		}
		equalRecords(t, p.srv.Records(), p.expected())
	})
}

// The change log keeps a run's outcomes for the sync's retention, then
// forgets them.
func TestRetentionOnEveryWarehouse(t *testing.T) {
	forEachWarehouse(t, fake.Options{}, peopleOn, func(t *testing.T, p *onWarehouse) {
		p.seed(t, 6)
		ctx := context.Background()
		first, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st := p.Engine.Store()
		if c, _ := st.RunOutcomes(ctx, "people_hook", first.RunID); len(c) == 0 {
			t.Fatal("no change log")
		}
		r := p.rows[1]
		r.name = str("x")
		p.rows[1] = r
		p.write(t)
		e := p.NewEngine(t)
		e.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
		last, err := e.Sync(ctx, "people_hook", engine.SyncOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := st.RunOutcomes(ctx, "people_hook", first.RunID); len(c) != 0 {
			t.Errorf("after 31 days the first run's outcomes should be gone: %+v", c)
		}
		if c, _ := st.RunOutcomes(ctx, "people_hook", last.RunID); len(c) != 1 || c[0].N != 1 {
			t.Errorf("the last run's outcomes: %+v", c)
		}
	})
}

// A mirror sync refuses to remove more than max_removals unless forced.
func TestRemovalGuardOnEveryWarehouse(t *testing.T) {
	guarded := func(raw string) string {
		return strings.Replace(peopleOn(raw), "max_removals: 100%", "max_removals: 20%", 1)
	}
	forEachWarehouse(t, fake.Options{}, guarded, func(t *testing.T, p *onWarehouse) {
		ctx := context.Background()
		for i := range 10 {
			p.rows[int32(i)] = person{email: str(fmt.Sprintf("u%d@x.com", i)), name: str("n"), ltv: num(float64(i)), optIn: yes()}
		}
		p.write(t)
		if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		clear(p.rows) // an empty extract
		p.write(t)
		before := len(p.srv.Requests())
		res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
		var gerr *engine.GuardError
		if !errors.As(err, &gerr) || res.Status != state.RunRefused || !strings.Contains(err.Error(), "would remove 10 of the 10 records") {
			t.Fatalf("want a guard refusal, got %v (status %s)", err, res.Status)
		}
		if len(p.srv.Requests()) != before || len(p.srv.Records()) != 10 {
			t.Errorf("a refused run sent %d requests; destination has %d records", len(p.srv.Requests())-before, len(p.srv.Records()))
		}
		if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		if len(p.srv.Records()) != 0 {
			t.Errorf("forced run left %d records", len(p.srv.Records()))
		}
	})
}

// Crash safety on every warehouse: a webhook failing at random (500, 429,
// timeouts, 207 with rejections, sometimes after doing the work), a model
// changing between runs, a run cancelled midway and a crash between send
// and commit. Once the faults stop, one more sync leaves the destination
// exactly equal to the model.
func TestFaultsConvergeOnEveryWarehouse(t *testing.T) {
	faulty := func(raw string) string {
		return strings.NewReplacer("timeout: 2s", "timeout: 1s", "batch_size: 3", "batch_size: 4").Replace(peopleOn(raw))
	}
	forEachWarehouse(t, fake.Options{}, faulty, func(t *testing.T, p *onWarehouse) {
		faults := fake.Faults{
			P500: 0.15, P429: 0.15, RetryAfter: "0", RetryAfter500: "0", Hang: 3 * time.Second,
			P207: 0.3, RejectShare: 0.3, PApplyFirst: 0.5, Seed: 7,
			Script: []string{"timeout-applied", "500-applied", "429", "207", "500"},
		}
		p.srv.SetFaults(faults)
		ctx := context.Background()
		p.seed(t, 60)
		edit := func(fn func(id int32, r *person) bool) {
			for id, r := range maps.Clone(p.rows) {
				if keep := fn(id, &r); keep {
					p.rows[id] = r
				} else {
					delete(p.rows, id)
				}
			}
		}
		changes := []func(){
			func() {
				edit(func(id int32, r *person) bool {
					if id%5 == 0 {
						r.name = str(deref(r.name) + "!")
					}
					return true
				})
			},
			func() { edit(func(id int32, _ *person) bool { return id%11 != 0 }) },
			func() {
				for i := int32(100); i < 115; i++ {
					p.rows[i] = person{email: str(fmt.Sprintf("v%d@x.com", i)), name: str("new"), ltv: num(float64(i)), optIn: yes()}
				}
			},
			func() {
				edit(func(id int32, r *person) bool {
					if id%13 == 1 {
						r.optIn = opt(!r.consents())
					}
					if id%3 == 1 {
						r.name = str(deref(r.name) + "?")
					}
					return true
				})
			},
			func() {
				edit(func(id int32, r *person) bool {
					if id%4 == 2 {
						r.tier, r.ltv = str("silver"), nil
					}
					return true
				})
			},
		}
		for i, change := range changes {
			change()
			p.write(t)
			opt := engine.SyncOptions{Force: true}
			runCtx, cancel := context.WithCancel(ctx)
			switch i {
			case 1:
				opt.CrashAfter = 1
			case 2:
				faults.Script = []string{"207", "timeout-applied", "500-applied"}
				faults.Seed = 11
				p.srv.SetFaults(faults)
			case 3:
				n := len(p.srv.Requests())
				go func() {
					for len(p.srv.Requests()) < n+2 && runCtx.Err() == nil {
						time.Sleep(2 * time.Millisecond)
					}
					cancel()
				}()
			}
			res, err := p.NewEngine(t).Sync(runCtx, "people_hook", opt)
			cancel()
			if i == 3 && res.Status != state.RunCancelled {
				t.Errorf("run 3 should have been cancelled midway: %s", res.Status)
			}
			t.Logf("run %d: status %s, sent %d, accepted %d, rejected %d, err %v", i, res.Status, res.Sent, res.Accepted, res.Rejected, err)
		}
		p.srv.SetFaults(fake.Faults{})
		res, err := p.NewEngine(t).Sync(ctx, "people_hook", engine.SyncOptions{Force: true})
		if err != nil {
			t.Fatalf("final sync without faults: %v", err)
		}
		if res.Pending != 0 {
			t.Errorf("%d rejections still pending", res.Pending)
		}
		equalRecords(t, p.srv.Records(), p.expected())
		p.replanEmpty(t)
		t.Logf("faults injected: %v", p.srv.Injected())
	})
}
