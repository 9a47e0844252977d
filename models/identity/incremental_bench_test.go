package identity

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
)

// BenchmarkIncremental changes 1% of the web events of the demo data (half
// of them get a new anonymous id, half are deleted, and as many new events
// reuse existing identifiers), then times an incremental build against a
// full build of the same data, and reports the rows each incremental step
// read or wrote. Both builds must publish the same tables.
func BenchmarkIncremental(b *testing.B) {
	for _, size := range []struct {
		name string
		ids  int
	}{{"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run(size.name, func(b *testing.B) { benchIncremental(b, size.ids) })
	}
}

func benchIncremental(b *testing.B, identifiers int) {
	ctx := context.Background()
	w := demoWarehouse(b, identifiers)
	defer w.Close()
	p := loadProject(b, map[string]string{"identity.yml": demoProject})
	plan, err := models.Compile(p, duck)
	if err != nil {
		b.Fatal(err)
	}
	count := func(q string) int {
		lines := queryLines(b, w, "SELECT count(*) FROM "+q)
		n, _ := strconv.Atoi(lines[0])
		return n
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		exec(b, w, "CREATE OR REPLACE TABLE raw.web_events AS SELECT * FROM raw.web_events ORDER BY event_id")
		if _, err := builder.Run(ctx, w, plan, builder.Options{}); err != nil {
			b.Fatal(err)
		}
		events := count("raw.web_events")
		n := events / 200 // 0.5%: updated, deleted and inserted each
		exec(b, w,
			"CREATE OR REPLACE TABLE raw.changed_events AS SELECT event_id FROM raw.web_events USING SAMPLE "+strconv.Itoa(2*n)+" ROWS (reservoir, 42)",
			"CREATE OR REPLACE TABLE raw.updated_events AS SELECT event_id FROM raw.changed_events LIMIT "+strconv.Itoa(n),
			"UPDATE raw.web_events SET anonymous_id = 'anon-' || event_id WHERE event_id IN (SELECT event_id FROM raw.updated_events)",
			"DELETE FROM raw.web_events WHERE event_id IN (SELECT event_id FROM raw.changed_events) AND event_id NOT IN (SELECT event_id FROM raw.updated_events)",
			"CREATE OR REPLACE TABLE raw.new_events AS SELECT * REPLACE ('new-' || event_id AS event_id) FROM raw.web_events USING SAMPLE "+strconv.Itoa(n)+" ROWS (reservoir, 43)",
			"INSERT INTO raw.web_events SELECT * FROM raw.new_events",
			"INSERT INTO raw.changed_events SELECT event_id FROM raw.new_events",
		)
		changed := map[string][]string{"web_events": queryLines(b, w, "SELECT event_id FROM raw.changed_events")}
		// The source steps (views, duplicate keys) of the changed data.
		setup := *plan
		setup.Report = nil
		if _, err := builder.Run(ctx, w, &setup, builder.Options{Only: func(s models.Step) bool { return s.Kind != models.KindIdentity }}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		// The merge step keeps the work tables, counted below.
		ip, err := incrPlan(p, duck, nil, changed)
		if err != nil {
			b.Fatal(err)
		}
		merge := &ip.Steps[len(ip.Steps)-1]
		merge.SQL = slices.DeleteFunc(merge.SQL, func(q string) bool { return strings.HasPrefix(q, "DROP TABLE") })
		res, err := builder.Run(ctx, w, ip, builder.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		kc := incrCompiler(b, p)
		touched := map[string]int{}
		for _, t := range []string{"components", "keys", "rows", "probe"} {
			touched[t] = count(kc.incr.work(t))
		}
		touched["rows re-read"] = count(kc.rowsTable())
		touched["identifiers re-stitched"] = count(kc.mapTable())
		for _, t := range []string{"components", "keys", "rows", "probe"} {
			exec(b, w, duck.DropTable(kc.incr.work(t)))
		}
		for _, t := range []string{kc.mapTable(), kc.rowsTable(), kc.edgesTable(), kc.rowMapTable(), kc.rejectsTable(), kc.conflictsTable()} {
			exec(b, w, duck.DropTable(t))
		}
		c := newCompiler(p)
		total := map[string]int{"rows": count(RowsTable(c)), "identifiers": count(MapTable(c)), "components": count("(SELECT DISTINCT component FROM " + MapTable(c) + ") AS x")}
		incState := identityState(b, w, duck, p.Schema)
		start := time.Now()
		full, err := builder.Run(ctx, w, plan, builder.Options{})
		if err != nil {
			b.Fatal(err)
		}
		fullTime := time.Since(start)
		if got := identityState(b, w, duck, p.Schema); got != incState {
			b.Fatalf("incremental build differs from a full build at %s", firstDiff(incState, got))
		}
		// The changed keys and duplicate keys this test writes first are
		// the change detection's and the source steps' work, not counted.
		var steps string
		var incremental time.Duration
		for _, s := range res.Steps {
			steps += fmt.Sprintf(" %s %s", s.Name, s.Duration.Round(time.Millisecond))
			if s.Kind == models.KindIdentity {
				incremental += s.Duration
			}
		}
		var fullIdentity time.Duration
		for _, s := range full.Steps {
			if s.Kind == models.KindIdentity {
				fullIdentity += s.Duration
			}
		}
		b.ReportMetric(incremental.Seconds(), "incremental-s")
		b.ReportMetric(fullIdentity.Seconds(), "full-identity-s")
		b.ReportMetric(float64(touched["rows re-read"])/float64(total["rows"])*100, "rows-reread-%")
		b.Logf("changed %d web events of %d: affected %d components of %d, %d identifiers of %d re-stitched, %d rows re-read of %d (%d old rows replaced, %d old row keys by their identifiers, %d probe values); incremental identity steps %s (%s); full build's identity steps %s (whole build %s)",
			len(changed["web_events"]), events, touched["components"], total["components"], touched["identifiers re-stitched"], total["identifiers"],
			touched["rows re-read"], total["rows"], touched["rows"], touched["keys"], touched["probe"], incremental.Round(time.Millisecond), steps,
			fullIdentity.Round(time.Millisecond), fullTime.Round(time.Millisecond))
	}
}

// incrCompiler is the identity compiler of an incremental build of p, for
// the names of its work tables.
func incrCompiler(b *testing.B, p *config.Project) *compiler {
	k, err := newStageCompiler(newCompiler(p), nil)
	if err != nil {
		b.Fatal(err)
	}
	k.incr = &incremental{k: k}
	return k
}
