package state

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PurgeKeys removes every trace of the given keys from a sync's state: its
// snapshot, change log and rejections lose their rows, and the errors of
// the sync's other records and runs, which may quote a key (a vendor
// refusing a whole batch names the value it choked on), lose the key.
// Erasure calls it once the destination confirmed: the records then are
// as if never sent, so the diff neither removes nor re-adds them (their
// people are suppressed from the model by then).
func (s *Store) PurgeKeys(ctx context.Context, sync string, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	const chunk = 1000
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		if err := s.b.purge(ctx, sync, s.keyList(part)); err != nil {
			return fmt.Errorf("purging erased records from the state of %s: %w", sync, err)
		}
	}
	// Scrubbing rewrites every error of the sync once per few keys: the
	// keys of one person are a handful.
	const perStatement = 20
	for start := 0; start < len(keys); start += perStatement {
		if err := s.b.scrubErrors(ctx, sync, keys[start:min(start+perStatement, len(keys))]); err != nil {
			return fmt.Errorf("taking erased keys out of the errors of %s: %w", sync, err)
		}
	}
	return nil
}

// ErasedKey replaces an erased key in the errors sluice keeps.
const ErasedKey = "[erased key]"

// scrubbed is the SQL expression of column error with every key replaced,
// by the dialect's replace function.
func (s *Store) scrubbed(replace string, keys []string) string {
	e := "error"
	for _, k := range keys {
		if k != "" {
			e = replace + "(" + e + ", " + s.f.String(k) + ", " + s.f.String(ErasedKey) + ")"
		}
	}
	return e
}

func (m mutable) scrubErrors(ctx context.Context, sync string, keys []string) error {
	s, f := m.s, m.s.f
	set := " SET error = " + s.scrubbed("replace", keys) + " WHERE sync = " + f.String(sync) + " AND error IS NOT NULL"
	for _, t := range []string{"sync_changes", "sync_rejections", "sync_runs"} {
		if err := s.w.Exec(ctx, "UPDATE "+s.Table(t)+set); err != nil {
			return err
		}
	}
	return nil
}

// scrubErrors rewrites the errors with ALTER TABLE ... UPDATE mutations,
// waited for like the deletions.
func (b *insertOnly) scrubErrors(ctx context.Context, sync string, keys []string) error {
	f := b.f
	set := " UPDATE error = " + b.s.scrubbed("replaceAll", keys) + " WHERE sync = " + f.String(sync) + " AND error IS NOT NULL"
	tables := []string{"sync_changes", "sync_rejections_versions", "sync_runs_versions"}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = f.String(t)
		if err := b.exec(ctx, "ALTER TABLE "+b.s.Table(t)+set); err != nil {
			return err
		}
	}
	return b.waitMutations(ctx, names)
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
	tables := []struct{ name, where string }{
		{SnapshotName(sync), key + " IN " + in},
		{"sync_changes", "sync = " + f.String(sync) + " AND " + key + " IN " + in},
		{"sync_rejections_versions", "sync = " + f.String(sync) + " AND " + key + " IN " + in},
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = f.String(t.name)
		if err := b.exec(ctx, "ALTER TABLE "+b.s.Table(t.name)+" DELETE WHERE "+t.where); err != nil {
			return err
		}
	}
	return b.waitMutations(ctx, names)
}

// mutationWait bounds how long a purge waits for ClickHouse's deletions.
const mutationWait = 10 * time.Minute

// waitMutations waits until the given tables (string literals) of the
// state schema have no mutation left to run; mutations of other tables,
// such as another sync's purge, are not waited for.
func (b *insertOnly) waitMutations(ctx context.Context, tables []string) error {
	q := "SELECT count() FROM system.mutations WHERE database = " + b.f.String(b.s.schema) +
		" AND table IN (" + strings.Join(tables, ", ") + ") AND is_done = 0"
	delay := 20 * time.Millisecond
	deadline := time.Now().Add(mutationWait)
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
		if time.Now().After(deadline) {
			// A mutation that fails is retried by the server forever:
			// say so rather than wait as long (system.mutations shows why).
			return fmt.Errorf("%d deletions of erased records still running after %s (see system.mutations, latest_fail_reason)", n, mutationWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}
