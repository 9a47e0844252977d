package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

// idAssigner is a destination that gives every accepted upsert a new id
// of its own (as a CRM's record id, changed on each write so that the
// test sees which one was kept), refuses the keys in refuse, and records
// the ids removals come back with and the run sizes it was told.
var idAssigner struct {
	sync.Mutex
	n        int
	refuse   map[string]bool
	removals []string
	sizes    []destination.RunSize
}

func init() {
	destination.Register(config.ComponentSpec{Type: "test_ids", Summary: "tests only"}, func(context.Context, destination.Config) (destination.Destination, error) {
		return idDest{}, nil
	})
}

type idDest struct{}

func (idDest) Check(context.Context) error { return nil }
func (idDest) Limits() destination.Limits  { return destination.Limits{BatchSize: 2} }
func (idDest) Close() error                { return nil }
func (idDest) SizeRun(s destination.RunSize) {
	idAssigner.Lock()
	defer idAssigner.Unlock()
	idAssigner.sizes = append(idAssigner.sizes, s)
}

func (idDest) Write(_ context.Context, b *destination.Batch) ([]error, error) {
	idAssigner.Lock()
	defer idAssigner.Unlock()
	errs := make([]error, len(b.Records))
	for i := range b.Records {
		r := &b.Records[i]
		switch {
		case idAssigner.refuse[r.Key]:
			errs[i] = errors.New("refused")
			r.RemoteID = "never-kept"
		case r.Op.IsRemoval():
			idAssigner.removals = append(idAssigner.removals, fmt.Sprintf("%s %s %v", r.Key, r.RemoteID, r.Fields["name"]))
		default:
			idAssigner.n++
			r.RemoteID = fmt.Sprintf("id-%s-%d", r.Key, idAssigner.n)
		}
	}
	return errs, nil
}

// A destination's own ids for records, reported on accepted writes, come
// back with the removals of their keys: the latest accepted one, beside
// the removal fields, whatever was refused in between.
func TestRemoteIDsComeBackWithRemovals(t *testing.T) {
	for _, removal := range []string{"", "\n    removal_fields: [name]"} {
		t.Run(fmt.Sprintf("removal_fields=%t", removal != ""), func(t *testing.T) {
			p := synctest.New(t, synctest.Options{Files: map[string]string{"sync.yml": `
sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - {name: ids, type: test_ids}
syncs:
  - name: people_ids
    from: source.people
    to: ids
    key: email
    mode: mirror
    max_removals: 100%` + removal + `
    mapping: {email: email, name: name}
`}})
			p.Exec(t, "CREATE SCHEMA raw",
				"CREATE TABLE raw.people (id INTEGER, email VARCHAR, name VARCHAR)",
				"INSERT INTO raw.people VALUES (1, 'a@x.com', 'A'), (2, 'b@x.com', 'B'), (3, 'c@x.com', 'C')")
			p.Build(t)
			idAssigner.Lock()
			idAssigner.n, idAssigner.refuse, idAssigner.removals, idAssigner.sizes = 0, nil, nil, nil
			idAssigner.Unlock()
			sync := func(rejects int64, sql ...string) {
				t.Helper()
				p.Exec(t, sql...)
				p.Build(t)
				res, err := p.Engine.Sync(context.Background(), "people_ids", engine.SyncOptions{})
				if res == nil || res.Rejected != rejects || (err != nil) != (rejects > 0) {
					t.Fatalf("sync: %v, want %d rejected", err, rejects)
				}
			}
			sync(0) // ids 1..3, in key order or not: read them back below
			// b is updated (a new id); c's update is refused (its first id stays).
			idAssigner.Lock()
			idAssigner.refuse = map[string]bool{"c@x.com": true}
			first := idAssigner.n
			idAssigner.Unlock()
			sync(1, "UPDATE raw.people SET name = name || '2' WHERE id IN (2, 3)")
			idAssigner.Lock()
			idAssigner.refuse = nil
			idAssigner.Unlock()
			sync(0, "DELETE FROM raw.people")

			idAssigner.Lock()
			defer idAssigner.Unlock()
			got := slices.Clone(idAssigner.removals)
			slices.Sort(got)
			if len(got) != 3 || first != 3 {
				t.Fatalf("removals %q after %d first ids", got, first)
			}
			name := func(n string) string {
				if removal == "" {
					return "<nil>"
				}
				return n
			}
			// a kept its first id; b the id of its update (the 4th); c its
			// first, as its update was refused.
			for i, want := range []struct{ key, id, name string }{{"a@x.com", "id-a@x.com-", "A"}, {"b@x.com", "id-b@x.com-4", "B2"}, {"c@x.com", "id-c@x.com-", "C"}} {
				var key, id, nm string
				if _, err := fmt.Sscanf(got[i], "%s %s %s", &key, &id, &nm); err != nil {
					t.Fatalf("removal %q: %v", got[i], err)
				}
				if key != want.key || len(id) < len(want.id) || id[:len(want.id)] != want.id || id == "id-c@x.com-5" || nm != name(want.name) {
					t.Errorf("removal %d = %q, want key %s, id %s…, name %s", i, got[i], want.key, want.id, name(want.name))
				}
			}
			wantSizes := []destination.RunSize{{Records: 3}, {Records: 2}, {Records: 3, Removals: 3}}
			if !slices.Equal(idAssigner.sizes, wantSizes) {
				t.Errorf("run sizes %v, want %v", idAssigner.sizes, wantSizes)
			}
		})
	}
}
