package engine_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/state"
	"github.com/sluicehq/sluice/sync/synctest"
)

// ops renders the operations a run applied, sorted, as "op key".
func ops(log []fake.Op, runID string) []string {
	var out []string
	for _, o := range log {
		if o.RunID == runID {
			out = append(out, o.Op+" "+o.Key)
		}
	}
	slices.Sort(out)
	return out
}

// Each run sends exactly the delta of the model since the last run.
func TestEachRunSendsExactlyTheDelta(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	ctx := context.Background()
	steps := []struct {
		name string
		sql  []string
		want []string // operations of the run, sorted
	}{
		{"first run sends everything", []string{
			"INSERT INTO raw.people VALUES (1, 'a@x.com', 'Ann', 10, 'gold', true), (2, 'b@x.com', 'Bob', 20, NULL, true), (3, 'c@x.com', 'Cid', 30, 'x', true), (4, 'd@x.com', 'Dee', 40, 'x', true), (5, 'e@x.com', 'Eve', 50, 'x', false)",
		}, []string{"upsert a@x.com", "upsert b@x.com", "upsert c@x.com", "upsert d@x.com"}},
		{"no change sends nothing", nil, nil},
		{"insert, update, delete", []string{
			"INSERT INTO raw.people VALUES (6, 'f@x.com', 'Fay', 60, NULL, true)",
			"UPDATE raw.people SET name = 'Bobby' WHERE id = 2",
			"DELETE FROM raw.people WHERE id = 3",
		}, []string{"delete c@x.com", "upsert b@x.com", "upsert f@x.com"}},
		{"consent withdrawn is a removal", []string{"UPDATE raw.people SET opt_in = false WHERE id = 4"}, []string{"delete d@x.com"}},
		{"consent given is an add", []string{"UPDATE raw.people SET opt_in = true WHERE id IN (4, 5)"}, []string{"upsert d@x.com", "upsert e@x.com"}},
		{"a changed key moves the record", []string{"UPDATE raw.people SET email = 'A.New@X.com ' WHERE id = 1"}, []string{"delete a@x.com", "upsert a.new@x.com"}},
		{"a cleared value is sent as null", []string{"UPDATE raw.people SET ltv = NULL WHERE id = 6"}, []string{"upsert f@x.com"}},
		{"a change the mapping does not read sends nothing", []string{"UPDATE raw.people SET id = id + 100"}, nil},
		{"a row that becomes a duplicate is held back, not removed", []string{"INSERT INTO raw.people VALUES (7, 'b@x.com', 'Bob twin', 1, NULL, true)"}, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			p.Exec(t, st.sql...)
			res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := ops(srv.Log(), res.RunID); !slices.Equal(got, st.want) {
				t.Errorf("run sent %q, want %q", got, st.want)
			}
			want := expected(t, p)
			if strings.Contains(st.name, "duplicate") {
				// b@x.com stays at the destination as last sent.
				want["b@x.com"] = srv.Records()["b@x.com"]
				if res.Invalid.DuplicateKeys != 1 || res.Invalid.DuplicateRows != 2 {
					t.Errorf("invalid = %+v, want 1 duplicated key on 2 rows", res.Invalid)
				}
			}
			equalRecords(t, srv.Records(), want)
			if pl, err := p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{}); err != nil || pl.Adds+pl.Updates+pl.Removes != 0 {
				t.Errorf("re-plan after the run: %+v, %v", pl, err)
			}
		})
	}
	// A run with nothing to send makes no request at all.
	n := len(srv.Requests())
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(srv.Requests()) != n {
		t.Errorf("a run without changes sent %d requests", len(srv.Requests())-n)
	}
}

const segmentProject = `sources:
  - {name: crm, table: raw.crm, primary_key: id}
identity:
  id_types: {email: {normalize: email}}
  edges: [{source: crm, ids: {email: email}}]
traits:
  email: {pick: email}
  ltv: {from: crm, aggregate: sum(amount)}
  opt_in: {from: crm, pick: opt_in, rule: most_frequent}
segments:
  - {name: vip, where: "ltv > 100"}
destinations:
  - {name: hook, type: webhook, url: "${HOOK_URL}", rate: 1000}
syncs:
  - name: vip_list
    from: segment.vip
    to: hook
    key: email
    mapping: {email: email, ltv: ltv}
    consent: opt_in
    max_removals: 100%
  - name: everyone
    from: profiles
    to: hook
    mapping: {email: email}
`

// Segment syncs send entries as add and exits as remove.
func TestSegmentEntriesAndExits(t *testing.T) {
	srv := fake.New(t, fake.Options{})
	p := newProject(t, segmentProject, srv.URL)
	// The profiles and segment tables are built by other stages; here they
	// are made by hand, by the names those stages use.
	p.Exec(t,
		"CREATE SCHEMA IF NOT EXISTS sluice",
		"CREATE TABLE sluice.customer_profiles (profile_id VARCHAR, email VARCHAR, ltv DOUBLE, opt_in BOOLEAN)",
		"CREATE TABLE sluice.customer_segment_vip (profile_id VARCHAR)",
		"INSERT INTO sluice.customer_profiles VALUES ('p1', 'a@x.com', 150, true), ('p2', 'b@x.com', 500, true), ('p3', 'c@x.com', 50, true), ('p4', 'd@x.com', 900, false)",
		"INSERT INTO sluice.customer_segment_vip VALUES ('p1'), ('p2'), ('p4')",
	)
	ctx := context.Background()
	steps := []struct {
		name string
		sql  []string
		want []string
	}{
		{"entries", nil, []string{"add a@x.com", "add b@x.com"}},
		{"an exit and an entry", []string{
			"DELETE FROM sluice.customer_segment_vip WHERE profile_id = 'p1'",
			"INSERT INTO sluice.customer_segment_vip VALUES ('p3')",
		}, []string{"add c@x.com", "remove a@x.com"}},
		{"a member's trait changes", []string{"UPDATE sluice.customer_profiles SET ltv = 600 WHERE profile_id = 'p2'"}, []string{"add b@x.com"}},
		{"consent withdrawn removes", []string{"UPDATE sluice.customer_profiles SET opt_in = false WHERE profile_id = 'p3'"}, []string{"remove c@x.com"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			p.Exec(t, st.sql...)
			pl, err := p.Engine.Plan(ctx, "vip_list", engine.PlanOptions{Samples: 3})
			if err != nil {
				t.Fatal(err)
			}
			if pl.Entries == nil || pl.Exits == nil {
				t.Fatalf("a segment plan reports entries and exits: %+v", pl)
			}
			res, err := p.Engine.Sync(ctx, "vip_list", engine.SyncOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ops(srv.Log(), res.RunID); !slices.Equal(got, st.want) {
				t.Errorf("run sent %q, want %q", got, st.want)
			}
			if *pl.Entries+pl.Updates+*pl.Exits != int64(len(st.want)) {
				t.Errorf("plan said %d entries, %d updates, %d exits; the run sent %d", *pl.Entries, pl.Updates, *pl.Exits, len(st.want))
			}
		})
	}
	// from: profiles keys on profile_id by default and sends upserts.
	res, err := p.Engine.Sync(ctx, "everyone", engine.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(srv.Log(), res.RunID); !slices.Equal(got, []string{"upsert p1", "upsert p2", "upsert p3", "upsert p4"}) {
		t.Errorf("profiles sync sent %q", got)
	}
}

func newProject(t *testing.T, yml, url string) *synctest.Project {
	t.Helper()
	return synctest.New(t, synctest.Options{
		Files: map[string]string{"sync.yml": yml},
		Env:   map[string]string{"HOOK_URL": url, "HOOK_TOKEN": "s3cret"},
	})
}

// A mirror sync refuses to remove more than max_removals unless forced.
func TestRemovalGuard(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	ctx := context.Background()
	p.Write(t, "sync.yml", strings.Replace(peopleProject, "max_removals: 100%", "max_removals: 20%", 1))
	p.Exec(t, "INSERT INTO raw.people SELECT i, 'u' || i || '@x.com', 'n', i, NULL, true FROM range(10) t(i)")
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	p.Exec(t, "DELETE FROM raw.people WHERE id < 2") // 2 of 10: allowed
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
		t.Fatalf("removing 20%%: %v", err)
	}
	p.Exec(t, "DELETE FROM raw.people") // an empty extract
	before := len(srv.Requests())
	pl, err := p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{})
	if err != nil || !pl.Guard.Blocked || pl.Guard.Limit != 1 {
		t.Fatalf("plan should show the guard blocking (limit 1 of 8): %+v %v", pl.Guard, err)
	}
	res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
	var gerr *engine.GuardError
	if !errors.As(err, &gerr) || res.Status != state.RunRefused {
		t.Fatalf("want a guard refusal, got %v (status %s)", err, res.Status)
	}
	if !strings.Contains(err.Error(), "would remove 8 of the 8 records") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("message: %v", err)
	}
	if len(srv.Requests()) != before || len(srv.Records()) != 8 {
		t.Errorf("a refused run sent %d requests; destination has %d records", len(srv.Requests())-before, len(srv.Records()))
	}
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if len(srv.Records()) != 0 {
		t.Errorf("forced run left %d records", len(srv.Records()))
	}
}

// Only records this sync sent are ever removed: a record the destination
// had before is not sluice's to delete.
func TestMirrorRemovesOnlyWhatItSent(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	ctx := context.Background()
	p.Exec(t, "INSERT INTO raw.people VALUES (1, 'a@x.com', 'Ann', 1, NULL, true), (2, 'b@x.com', 'Bob', 2, NULL, true)")
	if _, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// Someone else's record at the destination.
	srv.Apply("other", "upsert", "z@x.com", map[string]any{"email": "z@x.com"})
	p.Exec(t, "DELETE FROM raw.people WHERE id = 1")
	res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ops(srv.Log(), res.RunID); !slices.Equal(got, []string{"delete a@x.com"}) {
		t.Errorf("sent %q", got)
	}
	if _, ok := srv.Records()["z@x.com"]; !ok {
		t.Error("mirror removed a record it never sent")
	}
}
