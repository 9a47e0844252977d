package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

// counted is how many records the test_counter destination accepted.
var counted atomic.Int64

func init() {
	destination.Register(config.ComponentSpec{Type: "test_counter", Summary: "tests only"}, func(context.Context, destination.Config) (destination.Destination, error) {
		return countingDest{}, nil
	})
	destination.Register(config.ComponentSpec{Type: "test_rejecter", Summary: "tests only"}, func(context.Context, destination.Config) (destination.Destination, error) {
		return countingDest{reject: true}, nil
	})
}

type countingDest struct{ reject bool }

func (countingDest) Check(context.Context) error { return nil }
func (countingDest) Limits() destination.Limits  { return destination.Limits{BatchSize: 100} }
func (countingDest) Close() error                { return nil }
func (d countingDest) Write(_ context.Context, b *destination.Batch) ([]error, error) {
	counted.Add(int64(len(b.Records)))
	errs := make([]error, len(b.Records))
	if d.reject {
		for i := range errs {
			errs[i] = errors.New("refused")
		}
	}
	return errs, nil
}

// gatedWarehouse holds the first statement that writes the change log
// until the test opens the gate: a commit that takes as long as the test
// wants.
type gatedWarehouse struct {
	warehouse.Warehouse
	once    sync.Once
	blocked chan struct{} // closed when the first commit is held
	gate    chan struct{} // closed by the test to let it through
}

func (g *gatedWarehouse) Exec(ctx context.Context, q string, args ...any) error {
	if strings.HasPrefix(q, "INSERT INTO") && strings.Contains(q, "sync_changes") {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.blocked)
			<-g.gate
		}
	}
	return g.Warehouse.Exec(ctx, q, args...)
}

// gatedSync starts a sync of 5,000 people (batches of 100, a group commit
// every 100 outcomes) to destination type dest, with the first commit held
// until the returned gate is closed.
func gatedSync(t *testing.T, dest string) (g *gatedWarehouse, e *engine.Engine, done chan syncOutcome) {
	t.Helper()
	p := synctest.New(t, synctest.Options{Files: map[string]string{"sync.yml": `
sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - {name: counter, type: ` + dest + `}
syncs:
  - name: people_count
    from: source.people
    to: counter
    key: email
    mode: upsert
    mapping: {email: email}
`}})
	p.Exec(t, "CREATE SCHEMA raw",
		"CREATE TABLE raw.people AS SELECT i AS id, 'p' || i || '@x.com' AS email FROM range(5000) AS r(i)")
	p.Build(t)
	g = &gatedWarehouse{Warehouse: p.W, blocked: make(chan struct{}), gate: make(chan struct{})}
	e, err := engine.New(p.P, g)
	if err != nil {
		t.Fatal(err)
	}
	counted.Store(0)
	done = make(chan syncOutcome, 1)
	go func() {
		res, err := e.Sync(context.Background(), "people_count", engine.SyncOptions{GroupCommit: 100})
		done <- syncOutcome{res, err}
	}()
	select {
	case <-g.blocked:
	case o := <-done:
		t.Fatalf("the sync ended before committing anything: %+v, %v", o.res, o.err)
	}
	return g, e, done
}

type syncOutcome struct {
	res *engine.Result
	err error
}

// waitCounted waits until the destination got at least n records; the
// deadline only keeps a broken build from hanging.
func waitCounted(t *testing.T, g *gatedWarehouse, n int64) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for counted.Load() < n {
		select {
		case <-deadline:
			close(g.gate)
			t.Fatalf("while the first commit was held, the destination got %d records; want at least %d", counted.Load(), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// A commit in progress must not hold up sending: outcomes go on arriving
// and wait for the next commit. With the commit of the first batch held,
// every other batch still reaches the destination (the old committer
// stopped sending after about 400 records); once the commit is let through,
// the run commits them all and a re-plan is empty.
func TestSendingGoesOnWhileACommitRuns(t *testing.T) {
	const n = 5000
	g, e, done := gatedSync(t, "test_counter")
	waitCounted(t, g, n)
	close(g.gate)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Accepted != n || o.res.Sent != n {
		t.Fatalf("accepted %d, sent %d; want %d", o.res.Accepted, o.res.Sent, n)
	}
	plan, err := e.Plan(context.Background(), "people_count", engine.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Adds+plan.Updates+plan.Removes != 0 {
		t.Fatalf("re-plan after the sync is not empty: %+v", plan)
	}
}

// Rejections travel from Go as change-log rows, so they cost memory while
// they wait: past twice a group's size the intake waits for the running
// commit (sending stops), and goes on when it ends. Every rejection is
// committed, with no deadlock.
func TestRejectionsWaitForARunningCommit(t *testing.T) {
	const n = 5000
	g, _, done := gatedSync(t, "test_rejecter")
	waitCounted(t, g, 200) // twice the group: the intake is about to wait
	// Held, the sending stops within the pipeline's buffers (4 batches
	// queued, 4 in flight, 8 outcomes waiting: 1,600 records past the 200).
	time.Sleep(300 * time.Millisecond)
	if got := counted.Load(); got > 200+1600 {
		close(g.gate)
		t.Fatalf("with rejections waiting on a held commit, %d records were sent; the intake did not wait", got)
	}
	close(g.gate)
	select {
	case o := <-done:
		if o.err == nil {
			t.Fatal("a sync whose every record was refused reports no error")
		}
		if o.res.Rejected != n || o.res.Accepted != 0 {
			t.Fatalf("rejected %d, accepted %d; want %d, 0 (%v)", o.res.Rejected, o.res.Accepted, n, o.err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the sync did not end after the commit was let through")
	}
}
