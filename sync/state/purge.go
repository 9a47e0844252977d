package state

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PurgeKeys removes every trace of the given keys from a sync's state: its
// snapshot, change log and rejections. Erasure calls it once the
// destination confirmed: the records then are as if never sent, so the
// diff neither removes nor re-adds them (their people are suppressed from
// the model by then).
func (s *Store) PurgeKeys(ctx context.Context, sync string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	const chunk = 1000
	for start := 0; start < len(keys); start += chunk {
		in := s.keyList(keys[start:min(start+chunk, len(keys))])
		if err := s.b.purge(ctx, sync, in); err != nil {
			return fmt.Errorf("purging erased records from the state of %s: %w", sync, err)
		}
	}
	return nil
}

func (s *Store) keyList(keys []string) string {
	lits := make([]string, len(keys))
	for i, k := range keys {
		lits[i] = s.f.String(k)
	}
	return "(" + strings.Join(lits, ", ") + ")"
}

func (m mutable) purge(ctx context.Context, sync, in string) error {
	s, f := m.s, m.s.f
	key := f.Ident("key")
	stmts := []string{
		"DELETE FROM " + s.SnapshotTable(sync) + " WHERE " + key + " IN " + in,
		"DELETE FROM " + s.Table("sync_changes") + " WHERE sync = " + f.String(sync) + " AND " + key + " IN " + in,
		"DELETE FROM " + s.Table("sync_rejections") + " WHERE sync = " + f.String(sync) + " AND " + key + " IN " + in,
	}
	for _, q := range stmts {
		if err := s.w.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// purge deletes with mutations, ClickHouse's asynchronous DELETE, and
// waits for them: the rows must be gone when the erasure is reported done.
func (b *insertOnly) purge(ctx context.Context, sync, in string) error {
	f := b.f
	key := f.Ident("key")
	tables := []struct{ table, where string }{
		{b.s.SnapshotTable(sync), key + " IN " + in},
		{b.changesTable(), "sync = " + f.String(sync) + " AND " + key + " IN " + in},
		{b.rejections.versions, "sync = " + f.String(sync) + " AND " + key + " IN " + in},
	}
	for _, t := range tables {
		if err := b.exec(ctx, "ALTER TABLE "+t.table+" DELETE WHERE "+t.where); err != nil {
			return err
		}
	}
	return b.waitMutations(ctx)
}

// waitMutations waits until the state schema has no mutation left to run.
func (b *insertOnly) waitMutations(ctx context.Context) error {
	q := "SELECT count() FROM system.mutations WHERE database = " + b.f.String(b.s.schema) + " AND is_done = 0"
	delay := 20 * time.Millisecond
	for {
		var n int64
		rows, err := b.s.w.Query(ctx, q)
		if err != nil {
			return err
		}
		if rows.Next() {
			err = rows.Scan(&n)
		}
		rows.Close()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}
