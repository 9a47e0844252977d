package engine_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/file"
	_ "github.com/sluicehq/sluice/connectors/webhook"
)

const peopleProject = `sources:
  - {name: people, table: raw.people, primary_key: id}
destinations:
  - {name: hook, type: webhook, url: "${HOOK_URL}", bearer_token: "${HOOK_TOKEN}", rate: 1000, timeout: 2s, max_retries: 8, batch_size: 3}
syncs:
  - name: people_hook
    from: source.people
    to: hook
    mode: mirror
    key: email
    mapping:
      email: {from: email, transform: email}
      name: name
      ltv: {from: ltv, transform: number}
      properties.tier: tier
      source: {value: sluice}
    consent: opt_in
    nulls: clear
    max_removals: 100%
`

func newPeople(t *testing.T, opts fake.Options) (*synctest.Project, *fake.Server) {
	t.Helper()
	if opts.Token == "" {
		opts.Token = "s3cret"
	}
	srv := fake.New(t, opts)
	p := synctest.New(t, synctest.Options{
		Files: map[string]string{"sync.yml": peopleProject},
		Env:   map[string]string{"HOOK_URL": srv.URL, "HOOK_TOKEN": opts.Token},
	})
	p.Exec(t,
		"CREATE SCHEMA raw",
		"CREATE TABLE raw.people (id INTEGER, email VARCHAR, name VARCHAR, ltv DECIMAL(12,2), tier VARCHAR, opt_in BOOLEAN)",
	)
	p.Build(t)
	return p, srv
}

// expected is what the destination must hold: the model's consenting rows,
// mapped.
func expected(t *testing.T, p *synctest.Project) map[string]map[string]any {
	t.Helper()
	rows, err := p.W.Query(context.Background(), "SELECT lower(trim(email)), name, CAST(ltv AS DOUBLE), tier FROM raw.people WHERE NULLIF(lower(trim(email)), '') IS NOT NULL QUALIFY count(*) OVER (PARTITION BY lower(trim(email))) = 1 AND opt_in")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]map[string]any{}
	for rows.Next() {
		var email string
		var name, tier *string
		var ltv *float64
		if err := rows.Scan(&email, &name, &ltv, &tier); err != nil {
			t.Fatal(err)
		}
		rec := map[string]any{"email": email, "source": "sluice", "name": nil, "ltv": nil, "properties": map[string]any{"tier": nil}}
		if name != nil {
			rec["name"] = *name
		}
		if ltv != nil {
			if *ltv == float64(int64(*ltv)) {
				rec["ltv"] = int64(*ltv)
			} else {
				rec["ltv"] = *ltv
			}
		}
		if tier != nil {
			rec["properties"] = map[string]any{"tier": *tier}
		}
		out[email] = rec
	}
	return out
}

func equalRecords(t *testing.T, got, want map[string]map[string]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("destination holds %d records, model has %d", len(got), len(want))
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing at destination: %s", k)
			continue
		}
		if fmt.Sprint(g) != fmt.Sprint(want[k]) {
			t.Errorf("record %s:\n got  %v\n want %v", k, g, want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("extra at destination: %s", k)
		}
	}
}

func TestSmoke(t *testing.T) {
	p, srv := newPeople(t, fake.Options{})
	p.Exec(t, "INSERT INTO raw.people VALUES (1, ' A@x.com', 'Ann', 10.5, 'gold', true), (2, 'b@x.com', 'Bob', NULL, NULL, true), (3, 'c@x.com', 'Cid', 3, 'x', false), (4, NULL, 'Nobody', 1, 'x', true), (5, 'd@x.com', 'D1', 1, 'x', true), (6, 'D@x.com', 'D2', 1, 'x', true)")
	ctx := context.Background()
	pl, err := p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan: %+v", pl)
	res, err := p.Engine.Sync(ctx, "people_hook", engine.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("sync: status %s sent %d accepted %d", res.Status, res.Sent, res.Accepted)
	equalRecords(t, srv.Records(), expected(t, p))
	pl, err = p.Engine.Plan(ctx, "people_hook", engine.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Adds+pl.Updates+pl.Removes != 0 {
		t.Errorf("re-plan not empty: %+v", pl)
	}
	_ = strings.Contains
}
