package engine_test

import (
	"context"
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
}

type countingDest struct{}

func (countingDest) Check(context.Context) error { return nil }
func (countingDest) Limits() destination.Limits  { return destination.Limits{BatchSize: 100} }
func (countingDest) Close() error                { return nil }
func (countingDest) Write(_ context.Context, b *destination.Batch) ([]error, error) {
	counted.Add(int64(len(b.Records)))
	return make([]error, len(b.Records)), nil
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

// A commit in progress must not hold up sending: outcomes go on arriving
// and wait for the next commit. With the commit of the first batch held,
// every other batch still reaches the destination; once the commit is let
// through, the run commits them all and a re-plan is empty.
func TestSendingGoesOnWhileACommitRuns(t *testing.T) {
	const n = 5000 // 50 batches: far more than the pipeline's buffers hold
	p := synctest.New(t, synctest.Options{Files: map[string]string{"sync.yml": `
sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - {name: counter, type: test_counter}
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
	g := &gatedWarehouse{Warehouse: p.W, blocked: make(chan struct{}), gate: make(chan struct{})}
	e, err := engine.New(p.P, g)
	if err != nil {
		t.Fatal(err)
	}
	counted.Store(0)
	ctx := context.Background()
	type outcome struct {
		res *engine.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.Sync(ctx, "people_count", engine.SyncOptions{GroupCommit: 100})
		done <- outcome{res, err}
	}()
	select {
	case <-g.blocked:
	case o := <-done:
		t.Fatalf("the sync ended before committing anything: %+v, %v", o.res, o.err)
	}
	// The wait is for the sends to happen at all; under the old committer
	// they stopped for good, about 17 batches in, until the commit ended.
	deadline := time.After(30 * time.Second)
	for counted.Load() < n {
		select {
		case <-deadline:
			close(g.gate)
			t.Fatalf("while the first commit was held, the destination got %d of %d records", counted.Load(), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
	close(g.gate)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Accepted != n || o.res.Sent != n {
		t.Fatalf("accepted %d, sent %d; want %d", o.res.Accepted, o.res.Sent, n)
	}
	plan, err := e.Plan(ctx, "people_count", engine.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Adds+plan.Updates+plan.Removes != 0 {
		t.Fatalf("re-plan after the sync is not empty: %+v", plan)
	}
}
