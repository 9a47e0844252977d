package destination

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Item is a record with the caller's bookkeeping, which destinations never
// see (the executor keeps the diff's hash there).
type Item[M any] struct {
	Record Record
	Meta   M
}

// Outcome is what became of one batch.
type Outcome[M any] struct {
	Seq int // batch number, from 1, in the order batches were formed
	// Items are the batch's records and metadata; their Fields are
	// cleared once written (keys, ops and remote ids remain).
	Items []Item[M]
	// Errs has one entry per item, nil for an accepted record; it is nil
	// when Err is set.
	Errs []error
	// Err is a batch-level failure: the records' fate is unknown (they are
	// sent again next run) and the pipeline stops.
	Err error
}

// Pipeline batches records and writes the batches with bounded
// concurrency. Outcomes arrive on Outcomes in completion order; the
// channel closes after Close.
type Pipeline[M any] struct {
	dest      Destination
	batchSize int
	tmpl      Batch

	ctx     context.Context
	cancel  context.CancelCauseFunc
	queue   chan *pending[M]
	out     chan Outcome[M]
	wg      sync.WaitGroup
	cur     []Item[M]
	seq     int
	closed  bool
	errOnce sync.Once
	err     error
}

type pending[M any] struct {
	seq   int
	items []Item[M]
}

// ErrStopped is returned by Add after the pipeline stopped on a failure.
var ErrStopped = errors.New("delivery stopped")

// NewPipeline starts a pipeline writing to dest. tmpl gives the batches'
// sync, run, mode and list. batchSize and concurrency come from the sync and
// the destination's Limits (see EffectiveLimits).
func NewPipeline[M any](ctx context.Context, dest Destination, tmpl Batch, batchSize, concurrency int) *Pipeline[M] {
	ctx, cancel := context.WithCancelCause(ctx)
	p := &Pipeline[M]{
		dest: dest, batchSize: max(1, batchSize), tmpl: tmpl,
		ctx: ctx, cancel: cancel,
		queue: make(chan *pending[M], queueLen(batchSize, concurrency)),
		out:   make(chan Outcome[M], max(1, concurrency)*2),
	}
	for range max(1, concurrency) {
		p.wg.Add(1)
		go p.worker()
	}
	go func() {
		p.wg.Wait()
		close(p.out)
	}()
	return p
}

// maxQueued is the most records waiting in full batches for a free
// worker. Small batches queue up to one per worker, which keeps the
// workers busy while records are read; large ones (a Bulk API job's) wait
// unqueued, so that memory holds concurrency + 1 batches, not twice that.
const maxQueued = 50_000

func queueLen(batchSize, concurrency int) int {
	return min(max(1, concurrency), maxQueued/max(1, batchSize))
}

// EffectiveLimits resolves batch size and concurrency: the sync's batch
// size, else the destination's, never above the destination's hard limit.
func EffectiveLimits(l Limits, syncBatch int) (batch, concurrency int, err error) {
	batch = l.BatchSize
	if syncBatch > 0 {
		batch = syncBatch
	}
	if batch <= 0 {
		batch = 100
	}
	if l.MaxBatchSize > 0 && batch > l.MaxBatchSize {
		if syncBatch > 0 {
			return 0, 0, fmt.Errorf("batch_size %d is above the destination's limit of %d records per request", batch, l.MaxBatchSize)
		}
		batch = l.MaxBatchSize
	}
	return batch, max(1, l.Concurrency), nil
}

// Outcomes delivers each batch's outcome once.
func (p *Pipeline[M]) Outcomes() <-chan Outcome[M] { return p.out }

// Add queues a record; it blocks while every worker is busy. It returns
// ErrStopped (wrapping the cause) once a batch failed, and the context's
// error when it is cancelled.
func (p *Pipeline[M]) Add(it Item[M]) error {
	if err := p.stopped(); err != nil {
		return err
	}
	p.cur = append(p.cur, it)
	if len(p.cur) >= p.batchSize {
		return p.flush()
	}
	return nil
}

func (p *Pipeline[M]) stopped() error {
	if err := context.Cause(p.ctx); err != nil {
		return err
	}
	return nil
}

func (p *Pipeline[M]) flush() error {
	if len(p.cur) == 0 {
		return nil
	}
	p.seq++
	b := &pending[M]{seq: p.seq, items: p.cur}
	p.cur = nil
	select {
	case p.queue <- b:
		return nil
	case <-p.ctx.Done():
		return context.Cause(p.ctx)
	}
}

// Close sends the last partial batch and waits for every Write to finish.
// Outcomes must be drained concurrently (the channel closes when done). It
// returns the failure that stopped the pipeline, if any.
func (p *Pipeline[M]) Close() error {
	if p.closed {
		return p.err
	}
	p.closed = true
	err := p.flush()
	close(p.queue)
	p.wg.Wait()
	p.cancel(nil)
	if p.err != nil {
		return p.err
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return err
}

// Abort stops the pipeline: queued batches are dropped, Writes in flight
// are cancelled. Close must still be called.
func (p *Pipeline[M]) Abort(cause error) { p.cancel(cause) }

func (p *Pipeline[M]) fail(err error) {
	p.errOnce.Do(func() {
		p.err = err
		p.cancel(fmt.Errorf("%w: %w", ErrStopped, err))
	})
}

func (p *Pipeline[M]) worker() {
	defer p.wg.Done()
	for b := range p.queue {
		if p.ctx.Err() != nil {
			continue // drain: these were never sent
		}
		batch := p.tmpl
		batch.Records = make([]Record, len(b.items))
		for i := range b.items {
			// The fields are the Write's alone, which may drop them once
			// encoded; the outcome keeps key, op and remote id.
			batch.Records[i] = b.items[i].Record
			b.items[i].Record.Fields = nil
		}
		errs, err := p.dest.Write(p.ctx, &batch)
		o := Outcome[M]{Seq: b.seq, Items: b.items}
		var rej *BatchRejected
		switch {
		case err != nil && errors.As(err, &rej):
			o.Errs = make([]error, len(b.items))
			for i := range o.Errs {
				o.Errs[i] = rej.Err
			}
		case err != nil:
			if cause := context.Cause(p.ctx); cause != nil {
				err = cause
			}
			o.Err = err
			p.fail(err)
		case len(errs) != len(b.items):
			o.Err = fmt.Errorf("destination returned %d results for %d records", len(errs), len(b.items))
			p.fail(o.Err)
		default:
			o.Errs = errs
			for i := range b.items {
				if errs[i] == nil {
					b.items[i].Record.RemoteID = batch.Records[i].RemoteID
				}
			}
		}
		p.out <- o
	}
}
