package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
)

// Accepted records are committed to the change log by ranges of their
// delta rows, in SQL, and rejected ones from Go: either way every record a
// run sent has exactly one change-log row, with its batch, operation, class
// and status.
func TestChangeLogHasOneRowPerRecord(t *testing.T) {
	cases := []struct {
		name   string
		reject []string // keys the webhook rejects
		change string   // applied after a first, clean run
	}{
		{"all accepted", nil, ""},
		{"rejections split batches", []string{"u1@x.com", "u5@x.com", "u6@x.com", "u19@x.com"}, ""},
		{"every record of a batch rejected", []string{"u0@x.com", "u1@x.com", "u2@x.com", "u3@x.com"}, ""},
		{"removals, updates and adds", []string{"u4@x.com"}, "DELETE FROM raw.people WHERE id % 4 = 0; UPDATE raw.people SET name = 'x' WHERE id % 4 = 1; INSERT INTO raw.people VALUES (100, 'new@x.com', 'New', 1, NULL, true)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, srv := newPeople(t, fake.Options{})
			ctx := context.Background()
			seedPeople(t, p, 20)
			if c.change != "" {
				if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
					t.Fatalf("first sync: %v", err)
				}
				p.Exec(t, c.change)
			}
			srv.RejectKeys("no", c.reject...)
			res, _ := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
			if res.Sent == 0 || res.Sent != res.Accepted+res.Rejected {
				t.Fatalf("run: %+v", res)
			}
			run := "run_id = '" + res.RunID + "'"
			checks := []struct {
				what string
				q    string
				want int64
			}{
				{"rows", "SELECT count(*) FROM sluice_state.sync_changes WHERE " + run, res.Sent},
				{"keys", "SELECT count(DISTINCT key) FROM sluice_state.sync_changes WHERE " + run, res.Sent},
				{"accepted", "SELECT count(*) FROM sluice_state.sync_changes WHERE status = 'accepted' AND error IS NULL AND " + run, res.Accepted},
				{"rejected", "SELECT count(*) FROM sluice_state.sync_changes WHERE status = 'rejected' AND error = 'no' AND " + run, res.Rejected},
				{"removals", "SELECT count(*) FROM sluice_state.sync_changes WHERE op = 'delete' AND class IN ('gone', 'consent') AND " + run, res.Removes},
				{"upserts", "SELECT count(*) FROM sluice_state.sync_changes WHERE op = 'upsert' AND class IN ('add', 'update') AND hash IS NOT NULL AND " + run, res.Adds + res.Updates},
				// batch_size is 3: seq numbers the batches from 1.
				{"batches of at most 3", "SELECT count(*) FROM (SELECT seq FROM sluice_state.sync_changes WHERE " + run + " GROUP BY seq HAVING count(*) > 3 OR seq < 1)", 0},
				{"batches", "SELECT count(DISTINCT seq) FROM sluice_state.sync_changes WHERE " + run, (res.Sent + 2) / 3},
			}
			for _, ch := range checks {
				if got := p.Int(t, ch.q); got != ch.want {
					t.Errorf("%s: %d, want %d", ch.what, got, ch.want)
				}
			}
			// The change log agrees with what the webhook received.
			for _, o := range srv.Log() {
				if o.RunID != res.RunID {
					continue
				}
				if n := p.Int(t, fmt.Sprintf("SELECT count(*) FROM sluice_state.sync_changes WHERE %s AND key = '%s' AND status = 'accepted'", run, o.Key)); n != 1 {
					t.Errorf("applied %s %s has %d accepted change-log rows", o.Op, o.Key, n)
				}
			}
		})
	}
}
