// Package executor applies a planned sync: it streams the changes out of the
// warehouse, maps them to records, sends them in batches through the
// destination pipeline (batching, bounded concurrency; pacing and retries
// live in the destination's HTTP client), and commits every batch's
// outcomes to the state store as soon as they are known, one group commit
// at a time while sending goes on. Accepted records are committed by ranges
// of their delta rows' numbers where the delta has them, so that only
// rejections travel from Go to the change log.
package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/planner"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/state"
)

// Options configure one apply.
type Options struct {
	Dest        destination.Destination
	Batch       destination.Batch // sync, run, mode, list of every batch
	BatchSize   int
	Concurrency int
	Store       *state.Store
	Now         func() time.Time
	Progress    func(Progress)
	// GroupSize and GroupWait bound group commits (defaults 20,000
	// outcomes, 250 ms). RangeGroupSize and RangeGroupWait bound them when
	// every waiting outcome is an accepted record committed by ranges
	// (defaults 250,000 outcomes, 1 s): those cost Go no memory, and fewer,
	// larger inserts cost the warehouse less per record.
	GroupSize      int
	GroupWait      time.Duration
	RangeGroupSize int
	RangeGroupWait time.Duration
	// CrashAfter, when positive, simulates the process dying right after
	// the destination answered batch number CrashAfter and before that
	// answer is committed. For crash-safety tests.
	CrashAfter int
}

func (o Options) groupSize() int {
	if o.GroupSize > 0 {
		return o.GroupSize
	}
	return 20000
}

func (o Options) groupWait() time.Duration {
	if o.GroupWait > 0 {
		return o.GroupWait
	}
	return 250 * time.Millisecond
}

func (o Options) rangeGroupSize() int64 {
	if o.RangeGroupSize > 0 {
		return int64(o.RangeGroupSize)
	}
	return 250000
}

func (o Options) rangeGroupWait() time.Duration {
	if o.RangeGroupWait > 0 {
		return o.RangeGroupWait
	}
	return time.Second
}

// Progress is reported after each commit.
type Progress struct {
	Done, Accepted, Rejected int64
}

// Rejection is a rejected record, for reports.
type Rejection struct {
	Key, Op, Error string
}

// Result is what an apply delivered.
type Result struct {
	Sent     int64 // records handed to the destination with a known outcome
	Accepted int64
	Rejected int64
	// AcceptedBy counts accepted records per class.
	AcceptedBy map[spec.Class]int64
	Rejections []Rejection // the first few
	Crashed    bool        // a simulated crash stopped it
}

// ErrCrash is the simulated crash of Options.CrashAfter.
var ErrCrash = errors.New("simulated crash between send and commit")

type meta struct {
	class   spec.Class
	hash    uint64
	kept    string
	ordinal int64
}

// group is the outcomes of one commit.
type group struct {
	pending  []state.Change // committed as change-log rows from Go
	ranges   []planner.Range
	waiting  int64 // records in ranges
	acc, rej int64
	by       map[spec.Class]int64 // accepted, per class
}

func newGroup() group { return group{by: map[spec.Class]int64{}} }

func (g group) empty() bool { return len(g.pending) == 0 && len(g.ranges) == 0 }

// maxRanges bounds the ranges of one set-based commit (twice that while
// the previous commit runs), so that its SQL stays short when rejections
// break batches into many runs.
const maxRanges = 200

const maxRejectionSamples = 5

// Run sends the planner's materialised changes. The error is the first
// failure that stopped the run (destination unusable, commit failed,
// context cancelled); outcomes known before it are committed.
func Run(ctx context.Context, pl *planner.Planner, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	res := &Result{AcceptedBy: map[spec.Class]int64{}}
	p := destination.NewPipeline[meta](ctx, o.Dest, o.Batch, o.BatchSize, o.Concurrency)
	sp := pl.Spec()

	var (
		commitErr error
		wg        sync.WaitGroup
		mu        sync.Mutex
	)
	// Commits must finish even when the run is cancelled: an answer the
	// destination gave is worth keeping.
	commitCtx, cancelCommit := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCommit()

	// The committer runs one commit at a time, apart from the intake of
	// outcomes below: while a commit runs, outcomes keep arriving and wait
	// for the next one, so that the send workers never stall on a
	// warehouse statement.
	work := make(chan group)
	finished := make(chan error)
	go func() {
		for g := range work {
			cctx, cancel := context.WithTimeout(commitCtx, 2*time.Minute)
			at := o.Now()
			var err error
			if len(g.ranges) > 0 {
				err = o.Store.CommitAccepted(cctx, sp.Sync.Name, o.Batch.RunID, at, pl.AcceptedRows(g.ranges))
			}
			if err == nil {
				err = o.Store.Commit(cctx, sp.Sync.Name, o.Batch.RunID, at, g.pending)
			}
			cancel()
			if err == nil {
				mu.Lock()
				res.Accepted += g.acc
				res.Rejected += g.rej
				res.Sent += g.acc + g.rej
				for c, n := range g.by {
					res.AcceptedBy[c] += n
				}
				progress := Progress{Done: res.Sent, Accepted: res.Accepted, Rejected: res.Rejected}
				mu.Unlock()
				if o.Progress != nil {
					o.Progress(progress)
				}
			}
			finished <- err
		}
		close(finished)
	}()

	wg.Add(1)
	go func() {
		defer wg.Done()
		// Outcomes wait in cur as change-log rows (pending) or, for
		// accepted records whose delta rows are numbered and who keep no
		// removal fields, as ranges of those numbers, committed in SQL from
		// the delta table.
		cur := newGroup()
		busy := false // a commit is running
		// send hands cur to the committer when it is idle; when it is not,
		// cur keeps growing until it is, or (wait) until the commit ends.
		send := func(wait bool) {
			if cur.empty() || commitErr != nil || res.Crashed {
				return
			}
			if busy {
				if !wait {
					return
				}
				busy = false
				if err := <-finished; err != nil {
					commitErr = err
					p.Abort(err)
					return
				}
			}
			work <- cur
			busy, cur = true, newGroup()
		}
		add := func(out destination.Outcome[meta]) {
			if out.Err != nil || res.Crashed || commitErr != nil {
				return // unknown outcome: sent again next run
			}
			if o.CrashAfter > 0 && out.Seq == o.CrashAfter {
				res.Crashed = true
				p.Abort(ErrCrash)
				return
			}
			for i, it := range out.Items {
				c := state.Change{Seq: int64(out.Seq), Key: it.Record.Key, Op: string(it.Record.Op), Class: string(it.Meta.class), Hash: it.Meta.hash}
				if err := out.Errs[i]; err != nil {
					c.Status, c.Error = state.Rejected, err.Error()
					cur.rej++
					mu.Lock()
					if len(res.Rejections) < maxRejectionSamples {
						res.Rejections = append(res.Rejections, Rejection{Key: c.Key, Op: c.Op, Error: c.Error})
					}
					mu.Unlock()
				} else {
					c.Status, c.Fields = state.Accepted, it.Meta.kept
					if !it.Record.Op.IsRemoval() {
						c.Fields = planner.KeepRemoteID(c.Fields, it.Record.RemoteID)
					}
					cur.acc++
					cur.by[it.Meta.class]++
					if n := it.Meta.ordinal; n > 0 && c.Fields == "" {
						cur.waiting++
						if l := len(cur.ranges) - 1; l >= 0 && cur.ranges[l].Seq == out.Seq && cur.ranges[l].Hi+1 == n {
							cur.ranges[l].Hi = n
						} else {
							cur.ranges = append(cur.ranges, planner.Range{Seq: out.Seq, Lo: n, Hi: n})
						}
						continue
					}
				}
				cur.pending = append(cur.pending, c)
			}
		}
		// due: the group is as large as a commit should be. full: past twice
		// that in rows from Go or ranges, the intake waits for the running
		// commit, which bounds the memory outcomes take and the length of a
		// commit's SQL (ranges themselves cost nothing to keep).
		due := func() bool {
			return len(cur.pending) >= o.groupSize() || cur.waiting >= o.rangeGroupSize() || len(cur.ranges) >= maxRanges
		}
		full := func() bool { return len(cur.pending) >= 2*o.groupSize() || len(cur.ranges) >= 2*maxRanges }
		// Group commit: outcomes are committed as soon as GroupSize of them
		// are waiting or the oldest has waited GroupWait (RangeGroupSize,
		// RangeGroupWait when all are ranges), so that a fast destination
		// does not pay one warehouse transaction per batch and a slow one
		// still commits each batch promptly.
		outs := p.Outcomes()
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		armed, long := false, false // long: armed for RangeGroupWait
		late := false               // a commit was due while another ran
		for {
			select {
			case out, ok := <-outs:
				if !ok {
					send(true)
					if busy {
						if err := <-finished; err != nil && commitErr == nil {
							commitErr = err
						}
					}
					close(work)
					return
				}
				add(out)
				switch {
				case full():
					send(true)
				case due():
					send(false)
					late = !cur.empty()
				case len(cur.pending) > 0 && (!armed || long):
					timer.Reset(o.groupWait())
					armed, long = true, false
				case len(cur.ranges) > 0 && !armed:
					timer.Reset(o.rangeGroupWait())
					armed, long = true, true
				}
			case <-timer.C:
				armed = false
				send(false)
				late = !cur.empty()
			case err := <-finished:
				busy = false
				if err != nil {
					commitErr = err
					p.Abort(err)
					continue
				}
				if late {
					send(false)
					late = false
				}
			}
		}
	}()

	streamErr := pl.Stream(ctx, func(c planner.Change) error {
		return p.Add(destination.Item[meta]{
			Record: destination.Record{Op: c.Op, Key: c.Key, Fields: c.Fields, Reason: reasonOf(c.Class), Consent: c.Consent, RemoteID: c.RemoteID},
			Meta:   meta{class: c.Class, hash: c.Hash, kept: c.Kept, ordinal: c.Ordinal},
		})
	})
	if streamErr != nil {
		p.Abort(streamErr)
	}
	pipeErr := p.Close()
	wg.Wait()

	switch {
	case res.Crashed:
		return res, ErrCrash
	case commitErr != nil:
		return res, commitErr
	case pipeErr != nil && !errors.Is(pipeErr, context.Canceled):
		return res, pipeErr
	case ctx.Err() != nil:
		return res, ctx.Err()
	case streamErr != nil:
		if errors.Is(streamErr, destination.ErrStopped) && pipeErr != nil {
			return res, pipeErr
		}
		return res, fmt.Errorf("%w", streamErr)
	}
	return res, nil
}

// reasonOf tells a destination why a removal happens.
func reasonOf(c spec.Class) destination.Reason {
	switch c {
	case spec.Consent:
		return destination.ReasonConsent
	case spec.Gone:
		return destination.ReasonGone
	}
	return ""
}
