package snowflake_test

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/snowflake/sffake"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/statetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// sfResult is a statetest answer in the fake's wire form: Snowflake's
// column types, values as text, names as Snowflake returns unquoted ones.
func sfResult(r statetest.Result) sffake.Result {
	var out sffake.Result
	for _, c := range r.Columns {
		col := sffake.Column{Name: dialect.SnowflakeName(c.Name), Type: "text"}
		switch c.Kind {
		case statetest.Int:
			col.Type, col.Precision = "fixed", 19
		case statetest.Time:
			col.Type = "timestamp_ntz"
		}
		out.Columns = append(out.Columns, col)
	}
	for _, row := range r.Rows {
		vals := make([]*string, len(row))
		for i, v := range row {
			switch x := v.(type) {
			case nil:
			case time.Time:
				vals[i] = sffake.Text(fmt.Sprintf("%d.%09d", x.Unix(), x.Nanosecond()))
			case int64:
				vals[i] = sffake.Text(strconv.FormatInt(x, 10))
			case string:
				vals[i] = sffake.Text(x)
			}
		}
		out.Rows = append(out.Rows, vals)
	}
	return out
}

// answer answers the fake's statements as a warehouse holding the
// script's model would, noting the statements it has no answer for.
func answer(sc *statetest.Script, unanswered *[]string) func(sffake.Statement) sffake.Result {
	return func(s sffake.Statement) sffake.Result {
		if strings.HasPrefix(s.SQL, "SELECT count(*) FROM information_schema.tables") {
			n := "0"
			if sc.Exists(strings.ToLower(fmt.Sprint(s.Bindings["1"].Value)), strings.ToLower(fmt.Sprint(s.Bindings["2"].Value))) {
				n = "1"
			}
			return sffake.Result{Columns: []sffake.Column{{Name: "COUNT(*)", Type: "fixed"}}, Rows: [][]*string{{sffake.Text(n)}}}
		}
		r, err := sc.Answer(s.SQL)
		if err != nil {
			*unanswered = append(*unanswered, err.Error())
			return sffake.Result{Err: &sffake.Error{Code: "001003", SQLState: "42000", Message: err.Error()}}
		}
		return sfResult(r)
	}
}

// One plan and one sync of the quickstart's VIP audience, on the fake: the
// planner and the state store reach Snowflake through the driver, read
// back what a warehouse would answer, and send exactly the SQL of
// testdata/state-snowflake.sql (which cmd/sluice's checker reads as
// Snowflake's parser would).
func TestSyncStateSQL(t *testing.T) {
	sc := &statetest.Script{
		Project: statetest.Quickstart(t, filepath.Join("..", "..", "examples", "quickstart")),
		Sync:    "vip_to_file", RunID: "run-0001", Host: "host-a", PID: 4242,
		At: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC),
	}
	fk := start(t, password)
	var unanswered []string
	fk.Handler = answer(sc, &unanswered)
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
		if s.SQL == "SELECT 1" || strings.HasPrefix(s.SQL, "SELECT count(*) FROM information_schema.tables") {
			continue // the pool's probes; the connector's own lookups
		}
		st := statetest.Statement{SQL: s.SQL}
		for i := 1; i <= len(s.Bindings); i++ {
			b := s.Bindings[strconv.Itoa(i)]
			st.Params = append(st.Params, b.Type+" "+fmt.Sprint(b.Value))
		}
		stmts = append(stmts, st)
	}
	statetest.Compare(t, filepath.Join("testdata", "state-snowflake.sql"), stmts, *update)
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
	fk := start(t, password)
	var unanswered []string
	fk.Handler = answer(sc, &unanswered)
	w := mustOpen(t, fk)
	pl, res, err := sc.Engine(context.Background(), w)
	if err != nil {
		t.Fatalf("%v (unanswered: %v)", err, unanswered)
	}
	sc.CheckEngine(t, pl, res)
}
