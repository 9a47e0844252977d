package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/executor"
	"github.com/sluicehq/sluice/sync/state"
	"github.com/sluicehq/sluice/sync/synctest"
)

func seedPeople(t *testing.T, p interface {
	Exec(testing.TB, ...string)
}, n int) {
	t.Helper()
	p.Exec(t, fmt.Sprintf("INSERT INTO raw.people SELECT i, 'u' || i || '@x.com', 'name ' || i, i * 1.5, CASE WHEN i %% 3 = 0 THEN 'gold' END, i %% 7 <> 0 FROM range(%d) t(i)", n))
}

// Two engines on one state: while one runs, the other refuses and says who
// holds the sync.
func TestSyncNeverOverlapsItself(t *testing.T) {
	p, _ := newPeople(t, fake.Options{Latency: 100 * time.Millisecond})
	seedPeople(t, p, 30)
	ctx := context.Background()
	first, second := p.Engine, p.NewEngine(t)
	var wg sync.WaitGroup
	var firstErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, firstErr = first.Sync(ctx, "people_hook", engine.SyncOptions{})
	}()
	// Wait for the first run to hold the lock.
	deadline := time.Now().Add(10 * time.Second)
	for p.Int(t, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'sync_locks'") == 0 ||
		p.Int(t, "SELECT count(*) FROM sluice_state.sync_locks") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first run never took the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	res, err := second.Sync(ctx, "people_hook", engine.SyncOptions{})
	var le *state.LockedError
	if !errors.As(err, &le) || !engine.IsLocked(err) || res.Status != "locked" {
		t.Fatalf("second run: want a lock error, got %v", err)
	}
	if !strings.Contains(err.Error(), "already running: run ") || !strings.Contains(err.Error(), "process ") {
		t.Errorf("the message should say who holds the lock: %v", err)
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("first run: %v", firstErr)
	}
	// Once the first run is over, the sync runs again.
	if _, err := second.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
}

// A crash between the destination's answer and the commit loses nothing:
// the next run takes over the dead run's lock, sends the uncommitted
// records again and converges.
func TestCrashBetweenSendAndCommit(t *testing.T) {
	for _, crashAfter := range []int{1, 3} {
		t.Run(fmt.Sprint("after batch ", crashAfter), func(t *testing.T) {
			p, srv := newPeople(t, fake.Options{})
			seedPeople(t, p, 20)
			ctx := context.Background()
			res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{CrashAfter: crashAfter})
			if !errors.Is(err, executor.ErrCrash) {
				t.Fatalf("want the simulated crash, got %v", err)
			}
			if n := p.Int(t, "SELECT count(*) FROM sluice_state.sync_locks"); n != 1 {
				t.Fatalf("a crashed run leaves its lock behind (%d)", n)
			}
			if len(srv.Records()) == 0 {
				t.Fatal("the destination should have received the batch before the crash")
			}
			crashedRun := res.RunID
			res, err = p.NewEngine(t).Sync(ctx, "people_hook", engine.SyncOptions{})
			if err != nil {
				t.Fatalf("run after the crash: %v", err)
			}
			equalRecords(t, srv.Records(), expected(t, p))
			if st := p.Int(t, "SELECT count(*) FROM sluice_state.sync_runs WHERE run_id = '"+crashedRun+"' AND status = 'abandoned'"); st != 1 {
				t.Error("the crashed run should be logged as abandoned")
			}
			if pl, _ := p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{}); pl.Adds+pl.Updates+pl.Removes != 0 {
				t.Errorf("re-plan not empty: %+v", pl)
			}
		})
	}
}

// The acceptance test for crash safety: a webhook that fails at random (500,
// 429 with Retry-After, timeouts, 207 with rejections, sometimes after doing
// the work), a model that changes between runs, a run cancelled midway and
// a crash between send and commit. Once the faults stop, one more sync
// leaves the destination exactly equal to the model.
func TestFaultInjectionConverges(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	p.Write(t, "sync.yml", strings.NewReplacer("timeout: 2s", "timeout: 1s", "batch_size: 3", "batch_size: 4").Replace(peopleProject))
	faults := fake.Faults{
		P500: 0.15, P429: 0.15, RetryAfter: "0", RetryAfter500: "0", Hang: 3 * time.Second,
		P207: 0.3, RejectShare: 0.3, PApplyFirst: 0.5, Seed: 7,
		// Every kind at least once, whatever the dice say; timeouts only so
		// (each costs the client's 1 s timeout).
		Script: []string{"timeout-applied", "500-applied", "429", "207", "timeout", "500"},
	}
	srv.SetFaults(faults)
	ctx := context.Background()
	seedPeople(t, p, 60)
	changes := []string{
		"UPDATE raw.people SET name = name || '!' WHERE id % 5 = 0",
		"DELETE FROM raw.people WHERE id % 11 = 0",
		"INSERT INTO raw.people SELECT i, 'v' || i || '@x.com', 'new', i, NULL, true FROM range(100, 115) t(i)",
		"UPDATE raw.people SET opt_in = NOT opt_in WHERE id % 13 = 1; UPDATE raw.people SET name = name || '?' WHERE id % 3 = 1",
		"UPDATE raw.people SET tier = 'silver', ltv = NULL WHERE id % 4 = 2",
	}
	outcomes := map[string]int{}
	for i, change := range changes {
		p.Exec(t, change)
		opt := engine.SyncOptions{Force: true}
		runCtx, cancel := context.WithCancel(ctx)
		switch i {
		case 1:
			opt.CrashAfter = 1
		case 2:
			faults.Script = []string{"207", "timeout-applied", "500-applied"}
			faults.Seed = 11
			srv.SetFaults(faults)
		case 3:
			// Cancel the run once a few requests went out.
			n := len(srv.Requests())
			go func() {
				for len(srv.Requests()) < n+2 && runCtx.Err() == nil {
					time.Sleep(2 * time.Millisecond)
				}
				cancel()
			}()
		}
		eng := p.NewEngine(t)
		if os.Getenv("SLUICE_TEST_DEBUG") != "" {
			eng.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		res, err := eng.Sync(runCtx, "people_hook", opt)
		cancel()
		outcomes[res.Status]++
		if i == 3 && res.Status != "cancelled" {
			t.Errorf("run 3 should have been cancelled midway: %s", res.Status)
		}
		t.Logf("run %d: status %s, sent %d, accepted %d, rejected %d, err %v", i, res.Status, res.Sent, res.Accepted, res.Rejected, err)
	}
	injected := srv.Injected()
	for _, kind := range []string{"500", "429", "timeout", "207"} {
		if injected[kind] == 0 {
			t.Errorf("no %s was injected: %v", kind, injected)
		}
	}
	srv.SetFaults(fake.Faults{})
	syncConverges(t, p, srv, engine.SyncOptions{Force: true})
	if p.Int(t, "SELECT count(*) FROM sluice_state.sync_rejections") != 0 {
		t.Error("rejections table should be empty once everything is delivered")
	}
	t.Logf("run outcomes: %v; faults injected: %v", outcomes, injected)
}

// A webhook that refuses the credentials fails the run before anything is
// sent, with a message that says so.
func TestBadCredentialsFailTheRun(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	seedPeople(t, p, 5)
	p.Env["HOOK_TOKEN"] = "wrong"
	p.Write(t, "sync.yml", peopleProject)
	res, err := p.Engine.Sync(context.Background(), "people_hook", engine.SyncOptions{})
	if err == nil || res.Status != state.RunFailed || !strings.Contains(err.Error(), "refused the credentials (HTTP 401") {
		t.Fatalf("got %v, status %s", err, res.Status)
	}
	if len(srv.Records()) != 0 {
		t.Error("nothing should be sent")
	}
}

// state reset makes the next run a full resync; a changed hash function
// (canary) re-sends every record once.
func TestResetAndHashChange(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	seedPeople(t, p, 9)
	ctx := context.Background()
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	n := int64(len(srv.Records()))
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
	p.Exec(t, "UPDATE sluice_state.sync_snapshots SET hash_canary = hash_canary + 1")
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
}

// The change log keeps entries for the sync's retention.
func TestChangeLogRetention(t *testing.T) {
	p, _ := newPeople(t, fake.Options{})
	seedPeople(t, p, 6)
	ctx := context.Background()
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	logged := p.Int(t, "SELECT count(*) FROM sluice_state.sync_changes")
	if logged == 0 {
		t.Fatal("no change log")
	}
	p.Exec(t, "UPDATE raw.people SET name = 'x' WHERE id = 1")
	e := p.NewEngine(t)
	e.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	if _, err := e.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := p.Int(t, "SELECT count(*) FROM sluice_state.sync_changes"); n != 1 {
		t.Errorf("after 31 days the log should hold only the last run's entry, has %d", n)
	}
}

// An add the destination applied and then refused (an earlier attempt of
// the request went through before an error) leaves the record there
// although sluice saw a rejection. When the record then leaves the model,
// its removal must be retried until accepted, even if it is refused once:
// forgetting it would leave the record behind for good.
func TestRefusedRemovalOfUnknownRecordIsRetried(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	ctx := context.Background()
	seedPeople(t, p, 5)
	p.Exec(t, "INSERT INTO raw.people VALUES (100, 'x@x.com', 'Xavier', 1, NULL, true)")
	srv.RejectKeys("busy", "x@x.com")
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err == nil {
		t.Fatal("the refused add should fail the run")
	}
	// The refused add had reached the destination after all.
	srv.Apply("earlier-attempt", "upsert", "x@x.com", map[string]any{"email": "x@x.com", "name": "Xavier"})

	p.Exec(t, "UPDATE raw.people SET opt_in = false WHERE id = 100")
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err == nil {
		t.Fatal("the refused removal should fail the run")
	}
	srv.RejectKeys("", "x@x.com")
	syncConverges(t, p, srv, engine.SyncOptions{})
}

// syncConverges runs one more sync once the destination accepts everything
// and checks that the destination then holds exactly the model, with
// nothing pending and nothing left to plan.
func syncConverges(t *testing.T, p *synctest.Project, srv *fake.Server, opt engine.SyncOptions) {
	t.Helper()
	ctx := context.Background()
	res, err := p.NewEngine(t).Sync(ctx, "people_hook", opt)
	if err != nil {
		t.Fatalf("sync once the destination accepts everything: %v", err)
	}
	if res.Pending != 0 {
		t.Errorf("%d rejections still pending", res.Pending)
	}
	equalRecords(t, srv.Records(), expected(t, p))
	if pl, _ := p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{}); pl.Adds+pl.Updates+pl.Removes != 0 {
		t.Errorf("re-plan not empty: %+v", pl)
	}
}
