package bigquery_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/bigquery/bqfake"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/statetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// bqResult is a statetest answer in the fake's form.
func bqResult(r statetest.Result) bqfake.Result {
	var out bqfake.Result
	for _, c := range r.Columns {
		typ := "STRING"
		switch c.Kind {
		case statetest.Int:
			typ = "INTEGER"
		case statetest.Time:
			typ = "TIMESTAMP"
		}
		out.Schema = append(out.Schema, bqfake.Field{Name: c.Name, Type: typ})
	}
	out.Rows = r.Rows
	return out
}

// startAnswering starts a fake that answers as a warehouse holding the
// script's model would, noting the statements it has no answer for.
func startAnswering(t *testing.T, sc *statetest.Script, unanswered *[]string) *bqfake.Server {
	fk := start(t)
	fk.Exists = sc.Exists // tables.get finds what such a warehouse holds
	fk.Handler = func(s bqfake.Statement) bqfake.Result {
		r, err := sc.Answer(s.SQL)
		if err != nil {
			*unanswered = append(*unanswered, err.Error())
			return bqfake.Result{Err: &bqfake.Error{Reason: "invalidQuery", Message: err.Error()}}
		}
		return bqResult(r)
	}
	return fk
}

// One plan and one sync of the quickstart's VIP audience, on the fake: the
// planner and the state store reach BigQuery through the client, read back
// what a warehouse would answer, and send exactly the SQL of
// testdata/state-bigquery.sql (which cmd/sluice's checker reads as
// GoogleSQL's parser would).
func TestSyncStateSQL(t *testing.T) {
	sc := &statetest.Script{
		Project: statetest.Quickstart(t, filepath.Join("..", "..", "examples", "quickstart")),
		Sync:    "vip_to_file", RunID: "run-0001", Host: "host-a", PID: 4242,
		At: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
	}
	var unanswered []string
	fk := startAnswering(t, sc, &unanswered)
	w := mustOpen(t, fk)
	before := len(fk.Statements())
	if err := sc.Run(context.Background(), w); err != nil {
		t.Fatalf("%v (unanswered: %v)", err, unanswered)
	}
	if got := sc.Plan.Counts[spec.Add].Keys; got != 2 || len(sc.Plan.Samples[spec.Add]) != 2 {
		t.Errorf("plan: %d adds, samples %+v", got, sc.Plan.Samples)
	}
	if len(sc.Sent) != 2 || sc.Sent[0].Key != "ada@example.com" || sc.Sent[0].Hash != 1111 || sc.Sent[0].Fields["first_name"] != "Ada" {
		t.Errorf("changes read back: %+v", sc.Sent)
	}
	var stmts []statetest.Statement
	for _, s := range fk.Statements()[before:] {
		st := statetest.Statement{SQL: s.SQL}
		for _, p := range s.Params {
			st.Params = append(st.Params, p.Type+" "+p.Value)
		}
		stmts = append(stmts, st)
	}
	statetest.Compare(t, filepath.Join("testdata", "state-bigquery.sql"), stmts, *update)
}

// `sluice plan` and `sluice sync` of the VIP audience through the engine,
// on the fake: the plan finds the two profiles, the sync writes them to
// the file destination and records the run, its lock claimed and read
// back under the engine's own run id.
func TestEngineSyncOnFake(t *testing.T) {
	sc := &statetest.Script{
		Project: statetest.Quickstart(t, filepath.Join("..", "..", "examples", "quickstart")),
		Sync:    "vip_to_file", At: time.Now().UTC(),
	}
	var unanswered []string
	fk := startAnswering(t, sc, &unanswered)
	w := mustOpen(t, fk)
	pl, res, err := sc.Engine(context.Background(), w)
	if err != nil {
		t.Fatalf("%v (unanswered: %v)", err, unanswered)
	}
	sc.CheckEngine(t, pl, res)
}
