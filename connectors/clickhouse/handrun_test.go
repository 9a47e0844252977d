package clickhouse_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/clickhouse"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

// TestCompiledFilesRunInClickHouseClient runs what sluice compile writes
// for the server's flavour through clickhouse-client, file by file, the
// way the files say (rows piped in where a seed file says so, a loop's
// statements repeated until its check gives 0), and compares the tables
// with those build makes: the files are all a person needs.
func TestCompiledFilesRunInClickHouseClient(t *testing.T) {
	chDSN := dsn(t)
	if testing.Short() {
		t.Skip("builds the quickstart twice")
	}
	if _, err := exec.LookPath("clickhouse-client"); err != nil {
		t.Skip("clickhouse-client is not on PATH")
	}
	u, err := url.Parse(chDSN)
	if err != nil {
		t.Fatal(err)
	}
	client := []string{"clickhouse-client", "--host", u.Hostname(), "--port", u.Port()}
	w := open(t)
	defer w.Close()
	compiledFilesGiveTheBuild(t, w, func(sql string) string {
		cmd := exec.Command(client[0], append(client[1:], "--multiquery")...)
		cmd.Stdin = strings.NewReader(sql)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("clickhouse-client: %v: %s\n%s", err, stderr.String(), sql)
		}
		return out.String()
	}, func(pipe string) {
		cmd := exec.Command("sh", "-c", strings.Replace(pipe, "clickhouse-client", strings.Join(client, " "), 1))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("piping the rows: %v: %s", err, out)
		}
	})
}

// compiledFilesGiveTheBuild builds the quickstart on w, runs its compiled
// files with run (one session per call; its output is the last result as
// text) and pipe (a seed file's shell command), and compares the tables.
func compiledFilesGiveTheBuild(t *testing.T, w warehouse.Warehouse, run func(sql string) string, pipe func(cmd string)) {
	ctx := context.Background()
	stamp := time.Now().UnixNano() % 1_000_000_000
	built, byHand := fmt.Sprintf("sluice_built_%d", stamp), fmt.Sprintf("sluice_hand_%d", stamp)
	defer func() {
		for _, s := range []string{built, built + "_raw", byHand, byHand + "_raw"} {
			_ = w.Exec(ctx, "DROP DATABASE IF EXISTS "+w.Dialect().Ident(s))
		}
	}()
	plan := func(schema string) *models.Plan {
		p := quickstartIn(t, schema)
		pl, err := models.Compile(p, w.Dialect(), models.WithNow(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)))
		if err != nil {
			t.Fatal(err)
		}
		if err := clickhouse.PlanSeeds(pl, w.Dialect().(dialect.ClickHouse)); err != nil {
			t.Fatal(err)
		}
		return pl
	}
	if _, err := builder.Run(ctx, w, plan(built), builder.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range plan(byHand).Steps {
		runFile(t, s.File(w.Dialect().Name()), run, pipe)
	}
	for _, q := range []string{
		"SELECT count() FROM %s.customer_profiles",
		"SELECT count() FROM %s.customer_identity_map",
		"SELECT toString(groupArray((segment, n))) FROM (SELECT segment, count() AS n FROM %s.customer_segment_membership GROUP BY segment ORDER BY segment)",
	} {
		var want, got string
		if err := warehouse.QueryRow(ctx, w, "SELECT toString(("+fmt.Sprintf(q, built)+"))", &want); err != nil {
			t.Fatal(err)
		}
		if err := warehouse.QueryRow(ctx, w, "SELECT toString(("+fmt.Sprintf(q, byHand)+"))", &got); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", q, got)
		if got != want || want == "0" {
			t.Errorf("%s: by hand %s, build %s", q, got, want)
		}
	}
}

// quickstartIn loads examples/clickhouse with its tables in schema and
// schema_raw.
func quickstartIn(t *testing.T, schema string) *config.Project {
	dir, err := filepath.Abs("../../examples/clickhouse")
	if err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(dir, config.Options{Env: func(string) (string, bool) { return "clickhouse://127.0.0.1:9000/default", true }})
	if err != nil {
		t.Fatal(err)
	}
	p.Schema, p.StateSchema = schema, schema+"_state"
	for i := range p.Seeds {
		p.Seeds[i].Schema = schema + "_raw"
	}
	for i := range p.Sources {
		p.Sources[i].Table = strings.Replace(p.Sources[i].Table, "raw.", schema+"_raw.", 1)
		p.Sources[i].SQL = strings.Replace(p.Sources[i].SQL, "raw.", schema+"_raw.", 1)
	}
	return p
}

var (
	pipeLine   = regexp.MustCompile(`(?m)^--   (clickhouse-client --query .*)$`)
	repeatLine = regexp.MustCompile(`(?m)^-- Repeat the statements below until the check returns 0 \(at most (\d+) rounds\)\.$`)
)

// runFile does what a compiled file says, as a person at a shell would:
// its SET statements open every session.
func runFile(t *testing.T, file string, run func(sql string) string, pipe func(cmd string)) {
	t.Helper()
	var session strings.Builder
	for _, l := range strings.Split(file, "\n") {
		if strings.HasPrefix(l, "SET ") {
			session.WriteString(l + "\n")
		}
	}
	runs := func(sql string) string { return run(session.String() + sql) }
	if m := pipeLine.FindStringSubmatchIndex(file); m != nil {
		runs(file[:m[0]])
		pipe(file[m[2]:m[3]])
		runs(file[m[1]:])
		return
	}
	m := repeatLine.FindStringIndex(file)
	if m == nil {
		runs(file)
		return
	}
	runs(file[:m[0]])
	body, rest, _ := strings.Cut(file[m[1]:], "\n-- Check: still changing\n")
	check, rest, _ := strings.Cut(rest, "\n-- End of repeated part.\n")
	for round := 1; ; round++ {
		runs(body)
		if strings.TrimSpace(runs(check)) == "0" {
			break
		}
		if round == 64 {
			t.Fatal("the loop did not converge in 64 rounds")
		}
	}
	runs(rest)
}
