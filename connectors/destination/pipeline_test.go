package destination

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type scripted struct {
	mu       sync.Mutex
	sizes    []int
	inFlight atomic.Int32
	maxSeen  atomic.Int32
	write    func(b *Batch) ([]error, error)
}

func (s *scripted) Check(context.Context) error { return nil }
func (s *scripted) Limits() Limits              { return Limits{} }
func (s *scripted) Close() error                { return nil }
func (s *scripted) Write(ctx context.Context, b *Batch) ([]error, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxSeen.Load()
		if n <= m || s.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	s.sizes = append(s.sizes, len(b.Records))
	s.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	if s.write != nil {
		return s.write(b)
	}
	return make([]error, len(b.Records)), nil
}

func run(t *testing.T, d Destination, n, batch, conc int) ([]Outcome[int], error) {
	t.Helper()
	items := make([]Item[int], n)
	for i := range items {
		items[i] = Item[int]{Record: Record{Op: OpUpsert, Key: string(rune('a' + i%26))}, Meta: i}
	}
	return runItems(d, items, batch, conc)
}

// runItems sends items through a pipeline and collects the outcomes.
func runItems(d Destination, items []Item[int], batch, conc int) ([]Outcome[int], error) {
	p := NewPipeline[int](context.Background(), d, Batch{Sync: "s"}, batch, conc)
	var outs []Outcome[int]
	done := make(chan struct{})
	go func() {
		for o := range p.Outcomes() {
			outs = append(outs, o)
		}
		close(done)
	}()
	var err error
	for _, it := range items {
		if err = p.Add(it); err != nil {
			break
		}
	}
	cerr := p.Close()
	<-done
	if cerr != nil {
		err = cerr
	}
	return outs, err
}

func TestPipelineBatchesWithBoundedConcurrency(t *testing.T) {
	before := runtime.NumGoroutine()
	d := &scripted{}
	outs, err := run(t, d, 95, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, o := range outs {
		total += len(o.Items)
		if len(o.Errs) != len(o.Items) {
			t.Errorf("batch %d: %d results for %d items", o.Seq, len(o.Errs), len(o.Items))
		}
	}
	if total != 95 || len(outs) != 10 {
		t.Errorf("%d records in %d batches, want 95 in 10", total, len(outs))
	}
	if m := d.maxSeen.Load(); m > 3 || m < 2 {
		t.Errorf("max concurrency %d, want at most 3 (and some)", m)
	}
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("goroutines: %d before, %d after", before, g)
	}
}

func TestPipelineRejectionsAndFailures(t *testing.T) {
	// A rejected batch goes on; a failed one stops the pipeline.
	var calls atomic.Int32
	d := &scripted{write: func(b *Batch) ([]error, error) {
		switch calls.Add(1) {
		case 1:
			return nil, RejectBatch(errors.New("HTTP 400"))
		case 2:
			errs := make([]error, len(b.Records))
			errs[0] = errors.New("bad e-mail")
			return errs, nil
		default:
			return nil, errors.New("connection refused")
		}
	}}
	outs, err := run(t, d, 200, 10, 1)
	if err == nil || err.Error() != "connection refused" {
		t.Fatalf("want the failure, got %v", err)
	}
	if len(outs) < 3 || outs[0].Errs[0].Error() != "HTTP 400" || outs[0].Errs[9].Error() != "HTTP 400" ||
		outs[1].Errs[0].Error() != "bad e-mail" || outs[1].Errs[1] != nil || outs[2].Err == nil {
		t.Fatalf("outcomes: %+v", outs)
	}
	if calls.Load() > 4 {
		t.Errorf("the pipeline kept sending after a failure: %d writes", calls.Load())
	}
}

func TestEffectiveLimits(t *testing.T) {
	for _, tt := range []struct {
		l          Limits
		sync       int
		batch, con int
		err        bool
	}{
		{Limits{BatchSize: 500, Concurrency: 4}, 0, 500, 4, false},
		{Limits{BatchSize: 500, MaxBatchSize: 1000}, 200, 200, 1, false},
		{Limits{BatchSize: 500, MaxBatchSize: 1000}, 2000, 0, 0, true},
		{Limits{BatchSize: 5000, MaxBatchSize: 1000}, 0, 1000, 1, false},
	} {
		b, c, err := EffectiveLimits(tt.l, tt.sync)
		if (err != nil) != tt.err || (!tt.err && (b != tt.batch || c != tt.con)) {
			t.Errorf("EffectiveLimits(%+v, %d) = %d, %d, %v", tt.l, tt.sync, b, c, err)
		}
	}
}

func TestServerWait(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC()
	for _, tt := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{"Retry-After": {"3"}}, 3 * time.Second, true},
		{http.Header{"Retry-After": {future.Format(http.TimeFormat)}}, 90 * time.Second, true},
		{http.Header{"X-Sib-Ratelimit-Reset": {"7"}}, 7 * time.Second, true},
		{http.Header{"X-Ratelimit-Reset": {"1"}}, 0, false}, // not a configured vendor header here
		{http.Header{}, 0, false},
	} {
		got, ok := serverWait(&http.Response{Header: tt.h}, []string{"x-sib-ratelimit-reset"})
		if ok != tt.ok || got < tt.want-2*time.Second || got > tt.want {
			t.Errorf("serverWait(%v) = %s, %v; want %s, %v", tt.h, got, ok, tt.want, tt.ok)
		}
	}
}

// TestPipelineBatchesAhead counts the records Add takes while the only
// worker is stuck in Write: small batches queue one batch for the worker
// besides the one being filled; batches above maxQueued records queue
// none, so that memory holds two of them, not three.
func TestPipelineBatchesAhead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch int
		want  int // records Add accepts before it blocks
	}{
		{"small batches", 10, 3*10 - 1},
		{"large batches", maxQueued + 1, 2*(maxQueued+1) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			d := &scripted{write: func(b *Batch) ([]error, error) {
				<-release
				return make([]error, len(b.Records)), nil
			}}
			p := NewPipeline[int](context.Background(), d, Batch{Sync: "s"}, tc.batch, 1)
			go func() {
				for range p.Outcomes() {
				}
			}()
			var added atomic.Int64
			done := make(chan error, 1)
			go func() {
				for i := range 4 * tc.batch {
					if err := p.Add(Item[int]{Record: Record{Op: OpUpsert, Key: "k", Fields: map[string]any{"a": i}}, Meta: i}); err != nil {
						done <- err
						return
					}
					added.Add(1)
				}
				done <- nil
			}()
			for deadline := time.Now().Add(10 * time.Second); added.Load() < int64(tc.want) && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // room to overshoot, were Add not blocked
			if got := added.Load(); got != int64(tc.want) {
				t.Errorf("Add took %d records while the worker was busy, want %d", got, tc.want)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOutcomesDropFields: an outcome's records keep key, op and remote id
// for the state, not their fields.
func TestOutcomesDropFields(t *testing.T) {
	d := &scripted{write: func(b *Batch) ([]error, error) {
		for i := range b.Records {
			if b.Records[i].Fields == nil {
				t.Error("Write got a record without its fields")
			}
			b.Records[i].RemoteID = "id-" + b.Records[i].Key
		}
		return make([]error, len(b.Records)), nil
	}}
	var items []Item[int]
	for i, k := range []string{"a", "b", "c"} {
		items = append(items, Item[int]{Record: Record{Op: OpUpsert, Key: k, Fields: map[string]any{"n": i}}, Meta: i})
	}
	outs, err := runItems(d, items, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, o := range outs {
		for _, it := range o.Items {
			n++
			if it.Record.Fields != nil || it.Record.RemoteID != "id-"+it.Record.Key || it.Record.Op != OpUpsert {
				t.Errorf("outcome record %+v", it.Record)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d records in the outcomes, want 3", n)
	}
}
