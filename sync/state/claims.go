package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Claims: where no insert can fail on a duplicate key (ClickHouse enforces
// no uniqueness), a lock or a tick is taken by claiming it. A claimant
// inserts its claim, then reads every live claim back:
//
//   - alone, it wins;
//   - with an earlier claim (by claim time, then name) beside it, it
//     withdraws and the earlier claimant is the holder;
//   - earliest itself, it waits for the later claims to be withdrawn, and
//     withdraws in their favour if they are not within claimPolls polls
//     (one of them may have read the claims before this one was written,
//     found itself alone and won).
//
// Two claimants can never both win: each wins only if it reads no other
// claim, and of two claims the later-written one's read comes after both
// inserts, so it sees the other. Claim times only order contenders, so
// clocks that differ between hosts cost at most a wait, never a double run.

// The earliest of several claimants polls the claims every claimPoll, up to
// claimPolls times, for the others to withdraw.
const (
	claimPoll  = 20 * time.Millisecond
	claimPolls = 25
)

// claim is one live claim: who, and when it was made.
type claim struct {
	by string
	at time.Time
}

func (c claim) before(o claim) bool { return c.at.Before(o.at) || c.at.Equal(o.at) && c.by < o.by }

// settle runs the claim protocol once the claim of me is written: read
// lists the live claims (dropping dead ones), withdraw takes me back. It
// returns the winner's name (me when it won).
func settle(ctx context.Context, me string, read func() ([]claim, error), withdraw func() error) (string, error) {
	for wait := 0; ; wait++ {
		claims, err := read()
		if err != nil {
			return "", err
		}
		var mine *claim
		var first *claim
		for i := range claims {
			c := &claims[i]
			if c.by == me {
				mine = c
			} else if first == nil || c.before(*first) {
				first = c
			}
		}
		if mine == nil {
			return "", errors.New("the claim was withdrawn by another process")
		}
		if first == nil {
			return me, nil
		}
		if first.before(*mine) || wait >= claimPolls {
			if err := withdraw(); err != nil {
				return "", err
			}
			return winner(ctx, read, first.by), nil
		}
		select {
		case <-ctx.Done():
			_ = withdraw()
			return "", ctx.Err()
		case <-time.After(claimPoll):
		}
	}
}

// winner names the claimant that won, once the others have withdrawn:
// the earliest claim seen may itself be waiting for a later one that won
// (and withdraw after claimPolls polls), so this polls twice as long, then
// guesses the earliest. A lone claim is named once two reads a poll apart
// find it alone: a claimant whose insert was still on its way may yet
// arrive, earlier in order, and take the lock from it.
func winner(ctx context.Context, read func() ([]claim, error), guess string) string {
	alone := ""
	for range 2 * claimPolls {
		claims, err := read()
		if err != nil || len(claims) == 0 {
			return guess
		}
		if len(claims) == 1 {
			if claims[0].by == alone {
				return alone
			}
			alone, guess = claims[0].by, claims[0].by
		} else {
			alone = ""
			first := claims[0]
			for _, c := range claims[1:] {
				if c.before(first) {
					first = c
				}
			}
			guess = first.by
		}
		select {
		case <-ctx.Done():
			return guess
		case <-time.After(claimPoll):
		}
	}
	return guess
}

func (b *insertOnly) lock(ctx context.Context, sync string, h Holder, stale func(Holder) bool) ([]Takeover, error) {
	f := b.f
	err := b.exec(ctx, b.locks.put([]string{f.String(sync), f.String(h.RunID), f.String(fmt.Sprintf("%s:%d", h.Host, h.PID)), f.String(h.Host),
		fmt.Sprint(h.PID), f.TimestampLiteral(h.AcquiredAt.UTC()), f.TimestampLiteral(h.HeartbeatAt.UTC()), "0"}))
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", sync, err)
	}
	return settleLock(ctx, b.s, sync, h, stale, b)
}

// claimStore is what settling a claimed lock needs from a store.
type claimStore interface {
	lockClaims(ctx context.Context, sync string) ([]Holder, error)
	unlock(ctx context.Context, sync, runID string) error
}

// settleLock decides a lock h has just claimed: stale claims of dead
// holders are taken back (their runs abandoned, as with an enforced key),
// then settle picks the winner among the live ones; a loser withdraws.
// It returns the takeovers with the outcome.
func settleLock(ctx context.Context, s *Store, sync string, h Holder, stale func(Holder) bool, st claimStore) ([]Takeover, error) {
	holders := map[string]Holder{}
	var took []Takeover
	read := func() ([]claim, error) {
		hs, err := st.lockClaims(ctx, sync)
		if err != nil {
			return nil, err
		}
		var out []claim
		for _, c := range hs {
			if c.RunID != h.RunID && stale(c) {
				t, err := s.takeOver(ctx, sync, c)
				if err != nil {
					return nil, err
				}
				took = append(took, t)
				continue
			}
			holders[c.RunID] = c
			out = append(out, claim{by: c.RunID, at: c.AcquiredAt})
		}
		return out, nil
	}
	winner, err := settle(ctx, h.RunID, read, func() error { return st.unlock(context.WithoutCancel(ctx), sync, h.RunID) })
	switch {
	case err != nil:
		return took, fmt.Errorf("locking %s: %w", sync, err)
	case winner != h.RunID:
		return took, &LockedError{Sync: sync, Holder: holders[winner]}
	}
	return took, nil
}

// lockClaims reads the live claims of a sync's lock.
func (b *insertOnly) lockClaims(ctx context.Context, sync string) ([]Holder, error) {
	rows, err := b.s.w.Query(ctx, "SELECT run_id, host, pid, acquired_at, heartbeat_at FROM "+b.locks.view+" WHERE sync = "+b.f.String(sync))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Holder
	for rows.Next() {
		var h Holder
		if err := rows.Scan(&h.RunID, &h.Host, &h.PID, &h.AcquiredAt, &h.HeartbeatAt); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func (b *insertOnly) lockKey(sync, runID string) string {
	return "sync = " + b.f.String(sync) + " AND run_id = " + b.f.String(runID)
}

func (b *insertOnly) heartbeat(ctx context.Context, sync, runID string, now time.Time) error {
	return b.exec(ctx, b.locks.update(b.lockKey(sync, runID), "released = 0", map[string]string{"heartbeat_at": b.f.TimestampLiteral(now.UTC())}))
}

func (b *insertOnly) unlock(ctx context.Context, sync, runID string) error {
	return b.exec(ctx, b.locks.update(b.lockKey(sync, runID), "released = 0", map[string]string{"released": "1"}))
}

func (b *insertOnly) ensureTicks(ctx context.Context) error {
	return b.create(ctx, b.ticks.create()...)
}

func (b *insertOnly) claimTick(ctx context.Context, sync string, at time.Time, holder string, now time.Time) (bool, string, error) {
	f := b.f
	tick := "sync = " + f.String(sync) + " AND scheduled_at = " + f.TimestampLiteral(at)
	fail := func(err error) (bool, string, error) {
		return false, "", fmt.Errorf("claiming the %s run of %s: %w", at.Format(time.RFC3339), sync, err)
	}
	if err := b.exec(ctx, b.ticks.put([]string{f.String(sync), f.TimestampLiteral(at), f.String(holder), f.TimestampLiteral(now.UTC()), "0"})); err != nil {
		return fail(err)
	}
	read := func() ([]claim, error) {
		rows, err := b.s.w.Query(ctx, "SELECT claimed_by, claimed_at FROM "+b.ticks.view+" WHERE "+tick)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []claim
		for rows.Next() {
			var c claim
			if err := rows.Scan(&c.by, &c.at); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, rows.Err()
	}
	withdraw := func() error {
		return b.exec(context.WithoutCancel(ctx), b.ticks.update(tick+" AND claimed_by = "+f.String(holder), "withdrawn = 0", map[string]string{"withdrawn": "1"}))
	}
	winner, err := settle(ctx, holder, read, withdraw)
	if err != nil {
		return fail(err)
	}
	return winner == holder, winner, nil
}

// pruneTicks drops the weeks of claims whose every tick is older than
// before: claims may outlive it by up to a week.
func (b *insertOnly) pruneTicks(ctx context.Context, before time.Time) error {
	f := b.f
	old, err := b.weeks(ctx, "SELECT "+f.Week(f.Ident("scheduled_at"))+" AS w FROM "+b.ticks.versions+" GROUP BY w HAVING max(scheduled_at) < "+f.TimestampLiteral(before.UTC()))
	if err != nil {
		return err
	}
	for w := range old {
		if err := b.exec(ctx, f.DropPartition(b.ticks.versions, w)); err != nil {
			return err
		}
	}
	return nil
}
