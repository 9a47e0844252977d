package engine_test

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/spec"
)

// The plan diffs model rows without grouping them by key and falls back to
// the grouped diff when a key has several rows: every way a key can be
// duplicated (already at the destination or not, its rows changed or not,
// with or without consent) must still be found, counted and sampled.
func TestPlanFindsDuplicatedKeys(t *testing.T) {
	seed := "INSERT INTO raw.people VALUES (1, 'a@x.com', 'Ann', 10, NULL, true), (2, 'b@x.com', 'Bob', 20, NULL, true), (3, 'c@x.com', 'Cid', 30, NULL, true)"
	cases := []struct {
		name                          string
		sql                           []string
		dupKeys, dupRows, nullRows    int64
		adds, updates, removes, unchg int64
	}{
		{"no duplicate", []string{"UPDATE raw.people SET name = 'Bobby' WHERE id = 2", "INSERT INTO raw.people VALUES (4, 'd@x.com', 'Dee', 1, NULL, true)"}, 0, 0, 0, 1, 1, 0, 2},
		{"NULL and empty keys are not duplicates", []string{"INSERT INTO raw.people VALUES (4, NULL, 'N1', 1, NULL, true), (5, '', 'N2', 1, NULL, true), (6, ' ', 'N3', 1, NULL, true)"}, 0, 0, 3, 0, 0, 0, 3},
		{"a held key gets an identical twin", []string{"INSERT INTO raw.people VALUES (4, 'a@x.com', 'Ann', 10, NULL, true)"}, 1, 2, 0, 0, 0, 0, 2},
		{"a held key gets a different twin", []string{"INSERT INTO raw.people VALUES (4, ' A@X.com', 'Other', 1, NULL, true)"}, 1, 2, 0, 0, 0, 0, 2},
		{"a held key gets a twin without consent", []string{"INSERT INTO raw.people VALUES (4, 'b@x.com', 'Bob', 20, NULL, false)"}, 1, 2, 0, 0, 0, 0, 2},
		{"a new key comes twice", []string{"INSERT INTO raw.people VALUES (4, 'd@x.com', 'D1', 1, NULL, true), (5, 'd@x.com', 'D2', 1, NULL, true), (6, 'e@x.com', 'Eve', 1, NULL, true)"}, 1, 2, 0, 1, 0, 0, 3},
		{"a new key comes twice, once with consent and once without", []string{"INSERT INTO raw.people VALUES (4, 'd@x.com', 'D1', 1, NULL, true), (5, 'd@x.com', 'D2', 1, NULL, false)"}, 1, 2, 0, 0, 0, 0, 3},
		{"a new key comes twice without consent", []string{"INSERT INTO raw.people VALUES (4, 'd@x.com', 'D1', 1, NULL, false), (5, 'd@x.com', 'D2', 1, NULL, false)"}, 1, 2, 0, 0, 0, 0, 3},
		{"a held key leaves and comes back twice", []string{"DELETE FROM raw.people WHERE id = 3", "INSERT INTO raw.people VALUES (4, 'c@x.com', 'C1', 1, NULL, true), (5, 'c@x.com', 'C2', 1, NULL, true), (6, 'c@x.com', 'C3', 1, NULL, true)"}, 1, 3, 0, 0, 0, 0, 2},
		{"two held keys are duplicated, one is removed", []string{"DELETE FROM raw.people WHERE id = 1", "INSERT INTO raw.people VALUES (4, 'b@x.com', 'B', 1, NULL, true), (5, 'c@x.com', 'C', 1, NULL, true)"}, 2, 4, 0, 0, 0, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _ := newPeople(t, fake.Options{})
			ctx := context.Background()
			p.Exec(t, seed)
			if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
				t.Fatalf("first sync: %v", err)
			}
			p.Exec(t, c.sql...)
			pl, err := p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{Samples: 3})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			got := []int64{pl.Invalid.DuplicateKeys, pl.Invalid.DuplicateRows, pl.Invalid.NullKeyRows, pl.Adds, pl.Updates, pl.Removes, pl.Unchanged}
			want := []int64{c.dupKeys, c.dupRows, c.nullRows, c.adds, c.updates, c.removes, c.unchg}
			for i, what := range []string{"duplicated keys", "duplicated rows", "NULL-key rows", "adds", "updates", "removes", "unchanged"} {
				if got[i] != want[i] {
					t.Errorf("%s = %d, want %d (plan %+v)", what, got[i], want[i], pl)
				}
			}
			// Samples are the rows of one raw spelling of a key: some, when
			// there is any such row.
			if n := len(pl.Samples[spec.Duplicate]); (n > 0) != (c.dupKeys > 0) || int64(n) > c.dupRows {
				t.Errorf("%d duplicate samples for %d duplicated rows", n, c.dupRows)
			}
			if n := len(pl.Samples[spec.NullKey]); (n > 0) != (c.nullRows > 0) {
				t.Errorf("%d NULL-key samples for %d NULL-key rows", n, c.nullRows)
			}
			// A sync sends the plan's changes and never a duplicated key.
			res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if res.Sent != c.adds+c.updates+c.removes {
				t.Errorf("sync sent %d records, want %d", res.Sent, c.adds+c.updates+c.removes)
			}
		})
	}
}
