package engine_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"
)

// recorder is a destination that accepts everything and keeps what it was
// given, for checks on the records themselves.
var recorder struct {
	sync.Mutex
	got []destination.Record
}

func init() {
	destination.Register(config.ComponentSpec{Type: "test_recorder", Summary: "tests only"}, func(context.Context, destination.Config) (destination.Destination, error) {
		return recordingDest{}, nil
	})
}

type recordingDest struct{}

func (recordingDest) Check(context.Context) error { return nil }
func (recordingDest) Limits() destination.Limits  { return destination.Limits{BatchSize: 100} }
func (recordingDest) Close() error                { return nil }
func (recordingDest) Write(_ context.Context, b *destination.Batch) ([]error, error) {
	recorder.Lock()
	defer recorder.Unlock()
	recorder.got = append(recorder.got, b.Records...)
	return make([]error, len(b.Records)), nil
}

// Destinations learn why a record is removed: withdrawn consent (which
// should unsubscribe) is not the same as leaving the model.
func TestRemovalsCarryTheirReason(t *testing.T) {
	p := synctest.New(t, synctest.Options{Files: map[string]string{"sync.yml": `
sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - {name: rec, type: test_recorder}
syncs:
  - name: people_rec
    from: source.people
    to: rec
    key: email
    mode: mirror
    consent: opt_in
    max_removals: 100%
    mapping: {email: email}
`}})
	p.Exec(t, "CREATE SCHEMA raw",
		"CREATE TABLE raw.people (id INTEGER, email VARCHAR, opt_in BOOLEAN)",
		"INSERT INTO raw.people VALUES (1, 'a@x.com', true), (2, 'b@x.com', true), (3, 'c@x.com', true)")
	p.Build(t)
	ctx := context.Background()
	run := func(sql ...string) []string {
		t.Helper()
		p.Exec(t, sql...)
		recorder.Lock()
		recorder.got = nil
		recorder.Unlock()
		if _, err := p.Engine.Sync(ctx, "people_rec", engine.SyncOptions{}); err != nil {
			t.Fatalf("sync: %v", err)
		}
		recorder.Lock()
		defer recorder.Unlock()
		var out []string
		for _, r := range recorder.got {
			out = append(out, string(r.Op)+" "+r.Key+" "+string(r.Reason))
		}
		slices.Sort(out)
		return out
	}
	cases := []struct {
		name string
		sql  []string
		want []string
	}{
		{"first run: upserts have no reason", nil, []string{"upsert a@x.com ", "upsert b@x.com ", "upsert c@x.com "}},
		{"consent withdrawn and a row deleted", []string{
			"UPDATE raw.people SET opt_in = false WHERE id = 1",
			"DELETE FROM raw.people WHERE id = 2",
		}, []string{"delete a@x.com consent", "delete b@x.com gone"}},
	}
	for _, c := range cases {
		if got := run(c.sql...); !slices.Equal(got, c.want) {
			t.Errorf("%s: records %q, want %q", c.name, got, c.want)
		}
	}
}
