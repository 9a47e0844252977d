package state

import (
	"context"
	"fmt"
	"time"
)

// Scheduled ticks. Daemons sharing one state claim each scheduled run of a
// sync (its sync and scheduled time) before running it: the first claim
// wins, so a tick runs once however many daemons watch the schedule, even
// when the first daemon's run finished before another looked. The sync's
// lock still keeps any two runs (a hand-run `sluice sync` included) from
// overlapping.

const ticksTable = "sync_ticks"

// EnsureTicks creates the claims table.
func (s *Store) EnsureTicks(ctx context.Context) error {
	if err := s.b.ensureTicks(ctx); err != nil {
		return fmt.Errorf("creating %s.%s: %w", s.schema, ticksTable, err)
	}
	return nil
}

// ClaimTick claims the run of sync scheduled at at for holder. It returns
// false and the holder that claimed it first when another did.
func (s *Store) ClaimTick(ctx context.Context, sync string, at time.Time, holder string, now time.Time) (bool, string, error) {
	return s.b.claimTick(ctx, sync, at.UTC().Truncate(time.Second), holder, now)
}

// PruneTicks forgets claims of ticks scheduled before the given time.
func (s *Store) PruneTicks(ctx context.Context, before time.Time) error {
	return s.b.pruneTicks(ctx, before)
}
