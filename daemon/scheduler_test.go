package daemon_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/daemon"
	"github.com/sluicehq/sluice/daemon/clocktest"
	"github.com/sluicehq/sluice/sync/engine"
)

const twoSyncs = `sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - {name: hook, type: webhook, url: "${HOOK_URL}", bearer_token: "${HOOK_TOKEN}", rate: 1000, batch_size: 10, concurrency: 1, max_retries: 2, timeout: 5s}
syncs:
  - {name: quarter, from: source.people, to: hook, key: email, schedule: "*/15 * * * *", mapping: {email: email, name: name}}
  - {name: hourly, from: source.people, to: hook, key: ref, schedule: "@hourly", mapping: {ref: {from: email, transform: upper}}}
`

// TestSchedulesFireWhenDue drives the scheduler with a fake clock: each
// sync runs at its ticks and only then, missed ticks collapse into one run,
// and syncs firing together share one build.
func TestSchedulesFireWhenDue(t *testing.T) {
	e := newEnv(t, "", twoSyncs, 25)
	d := e.start(e.clock, nil)
	steps := []struct {
		at                     time.Time
		quarter, hourly, built int64
	}{
		{t0.Add(14*time.Minute + 59*time.Second), 0, 0, 0},
		{t0.Add(15 * time.Minute), 1, 0, 1},
		{t0.Add(20 * time.Minute), 1, 0, 1},
		// 08:30 and 08:45 were missed (the process slept): one run at 09:00,
		// together with the hourly sync, after one build.
		{t0.Add(60 * time.Minute), 2, 1, 2},
		{t0.Add(74 * time.Minute), 2, 1, 2},
		{t0.Add(75 * time.Minute), 3, 1, 3},
	}
	for _, s := range steps {
		tick(t, e.clock, s.at, d)
		if got := e.runs("quarter")["succeeded"]; got != s.quarter {
			t.Errorf("at %s: quarter ran %d times, want %d", s.at.Format("15:04:05"), got, s.quarter)
		}
		if got := e.runs("hourly")["succeeded"]; got != s.hourly {
			t.Errorf("at %s: hourly ran %d times, want %d", s.at.Format("15:04:05"), got, s.hourly)
		}
		if got := counter(t, d.m, "sluice_builds_total", map[string]string{"outcome": "succeeded"}); int64(got) != s.built {
			t.Errorf("at %s: %v builds, want %d", s.at.Format("15:04:05"), got, s.built)
		}
	}
	if n := len(e.hook.Records()); n != 50 {
		t.Errorf("the webhook holds %d records, want 25 per sync", n)
	}
	page := d.d.Status()
	if len(page.Syncs) != 2 || page.Syncs[0].NextRun == nil || !page.Syncs[0].NextRun.Equal(t0.Add(90*time.Minute)) ||
		page.Syncs[1].NextRun == nil || !page.Syncs[1].NextRun.Equal(t0.Add(120*time.Minute)) {
		t.Errorf("next runs on the status page: %+v", page.Syncs)
	}
}

// TestOverlapIsSkipped: a sync still running at its next tick skips it.
func TestOverlapIsSkipped(t *testing.T) {
	e := newEnv(t, "", twoSyncs, 25)
	d := e.start(e.clock, nil)
	e.hook.hold(1) // the first batch goes through, the second waits
	if !e.clock.BlockUntil(1, 10*time.Second) {
		t.Fatal("scheduler not waiting")
	}
	e.clock.Set(t0.Add(15 * time.Minute))
	<-e.hook.waiting // quarter is now busy sending
	tick(t, e.clock, t0.Add(30*time.Minute))
	if got := counter(t, d.m, "sluice_sync_skipped_total", map[string]string{"sync": "quarter", "reason": "overlap"}); got != 1 {
		t.Errorf("skipped overlaps = %v, want 1", got)
	}
	if s := d.d.Status().Syncs[0]; !s.Running || s.LastSkip == "" {
		t.Errorf("status while running: %+v", s)
	}
	if len(d.logs.lines("run skipped")) != 1 {
		t.Errorf("the skip is not logged:\n%s", d.logs.String())
	}
	e.hook.open()
	d.d.WaitIdle()
	if runs := e.runs("quarter"); runs["succeeded"] != 1 || len(runs) != 1 {
		t.Errorf("runs of quarter: %v, want one success", runs)
	}
	tick(t, e.clock, t0.Add(45*time.Minute), d)
	if runs := e.runs("quarter"); runs["succeeded"] != 2 {
		t.Errorf("after the overlap, the next tick runs: %v", runs)
	}
}

// TestShutdownCommitsAcceptedWork stops the daemon while a sync is sending:
// after the shutdown timeout the run is cancelled, the batches the
// destination accepted are committed (and not sent again), and the next run
// sends only the rest.
func TestShutdownCommitsAcceptedWork(t *testing.T) {
	root := `version: 1
name: ops
warehouse: {type: duckdb, threads: 2}
daemon: {shutdown_timeout: 1s}
`
	e := newEnv(t, root, twoSyncs, 45)
	d := e.start(e.clock, nil)
	e.hook.hold(3)
	if !e.clock.BlockUntil(1, 10*time.Second) {
		t.Fatal("scheduler not waiting")
	}
	e.clock.Set(t0.Add(15 * time.Minute))
	<-e.hook.waiting // three batches of 10 accepted, the fourth in flight
	start := time.Now()
	d.shutdown(t)
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("shutdown took %s", took)
	}
	if runs := e.runs("quarter"); runs["cancelled"] != 1 || len(runs) != 1 {
		t.Fatalf("runs: %v, want one cancelled", runs)
	}
	if n := e.p.Int(t, "SELECT count(*) FROM sluice_state.snapshot_quarter"); n != 30 {
		t.Errorf("snapshot holds %d records, want the 30 accepted", n)
	}
	if n := e.p.Int(t, "SELECT accepted FROM sluice_state.sync_runs WHERE sync = 'quarter'"); n != 30 {
		t.Errorf("the run log says %d accepted, want 30", n)
	}
	if n := e.p.Int(t, "SELECT count(*) FROM sluice_state.sync_locks"); n != 0 {
		t.Errorf("%d locks left behind", n)
	}
	e.hook.open()
	e.hook.ClearLog()
	res, err := e.p.Engine.Sync(context.Background(), "quarter", engine.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 15 || len(e.hook.Log()) != 15 {
		t.Errorf("the next run sent %d records (%d received), want the 15 not accepted before", res.Sent, len(e.hook.Log()))
	}
}

// TestTwoDaemonsOneState runs two daemons over one state, as two replicas
// would. DuckDB lets one process open a file, so both daemons share this
// process's connection: what this proves is that the state store (tick
// claims, the sync lock and the build lock), not process memory, keeps each
// scheduled sync to exactly one run per tick and the models to one build.
func TestTwoDaemonsOneState(t *testing.T) {
	e := newEnv(t, "", twoSyncs, 25)
	ca, cb := clocktest.New(t0), clocktest.New(t0)
	a := e.start(ca, func(o *daemon.Options) { o.Holder = "daemon-a" })
	b := e.start(cb, func(o *daemon.Options) { o.Holder = "daemon-b" })
	ticks := []time.Time{t0.Add(15 * time.Minute), t0.Add(30 * time.Minute), t0.Add(45 * time.Minute), t0.Add(60 * time.Minute)}
	for i, at := range ticks {
		for _, c := range []*clocktest.Clock{ca, cb} {
			if !c.BlockUntil(1, 10*time.Second) {
				t.Fatal("scheduler not waiting")
			}
		}
		// Both daemons wake up at the same time.
		ca.Set(at)
		cb.Set(at)
		for _, c := range []*clocktest.Clock{ca, cb} {
			if !c.BlockUntil(1, 10*time.Second) {
				t.Fatal("scheduler did not sleep again")
			}
		}
		a.d.WaitIdle()
		b.d.WaitIdle()
		if got := e.runs("quarter")["succeeded"]; got != int64(i+1) {
			t.Fatalf("after tick %d, quarter ran %d times", i+1, got)
		}
	}
	if got := e.runs("hourly"); got["succeeded"] != 1 || len(got) != 1 {
		t.Errorf("hourly runs: %v, want one", got)
	}
	runsBy := func(r *running, sync string) float64 {
		return counter(t, r.m, "sluice_sync_runs_total", map[string]string{"sync": sync, "outcome": "succeeded"})
	}
	claimed := func(r *running, sync string) float64 {
		return counter(t, r.m, "sluice_sync_skipped_total", map[string]string{"sync": sync, "reason": "claimed"})
	}
	if q := runsBy(a, "quarter") + runsBy(b, "quarter"); q != 4 {
		t.Errorf("quarter ran %v times across daemons, want 4", q)
	}
	if c := claimed(a, "quarter") + claimed(b, "quarter"); c != 4 {
		t.Errorf("quarter was skipped as claimed %v times, want 4 (once per tick)", c)
	}
	// Each record went out once (first tick); later ticks were up to date.
	if n := len(e.hook.Log()); n != 50 {
		t.Errorf("the webhook received %d operations, want 50", n)
	}
	built := counter(t, a.m, "sluice_builds_total", map[string]string{"outcome": "succeeded"}) +
		counter(t, b.m, "sluice_builds_total", map[string]string{"outcome": "succeeded"})
	if built != 4 {
		t.Errorf("%v builds for 4 ticks", built)
	}
}
