package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/sync/engine"
)

// crashProject is syncProject on a warehouse: DuckDB, or ClickHouse in
// databases of its own (dropped afterwards) when SLUICE_CLICKHOUSE_DSN
// names a server. Its webhook sync sends batches of 50.
func crashProject(t *testing.T, kind string) string {
	t.Helper()
	dir := syncProject(t, "1 = 1")
	if kind == "clickhouse" {
		dsn := os.Getenv("SLUICE_CLICKHOUSE_DSN")
		if dsn == "" {
			t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
		}
		t.Setenv("SYNCCLI_CH_DSN", dsn)
		base := fmt.Sprintf("sluice_cli_crash_%d", rand.Uint32())
		writeFile(t, dir, "sluice.yml", "version: 1\nname: synccli\nwarehouse: {type: clickhouse, dsn: \"${SYNCCLI_CH_DSN}\"}\n"+
			"schema: "+base+"\nstate_schema: "+base+"_state\nseeds:\n  - {name: contacts, schema: "+base+"_raw, path: data/contacts.csv, column_types: {phone: varchar, contact_id: varchar}}\n")
		writeSource(t, dir, "SELECT * FROM "+base+"_raw.contacts")
		t.Cleanup(func() {
			ctx := context.Background()
			w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: dir, Warehouse: config.Warehouse{Type: "clickhouse", DSN: config.Secret(dsn)}})
			if err != nil {
				t.Error(err)
				return
			}
			defer w.Close()
			for _, db := range []string{base, base + "_state", base + "_raw"} {
				if err := w.Exec(ctx, "DROP DATABASE IF EXISTS "+w.Dialect().Ident(db)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	body, err := os.ReadFile(filepath.Join(dir, "syncs.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "syncs.yml", strings.Replace(string(body), "    to: hook\n", "    to: hook\n    batch_size: 50\n", 1))
	return dir
}

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

var progressLine = regexp.MustCompile(`^to_hook: ([\d,]+) of [\d,]+ sent$`)

// TestKilledSyncIsAbandoned: a sync killed with SIGKILL mid-send, after
// some batches were committed, shows as dead in `state show`; the next run
// takes its lock over and says so, and `runs` logs the killed run as
// abandoned with what the destination received from it and it committed.
func TestKilledSyncIsAbandoned(t *testing.T) {
	for _, kind := range []string{"duckdb", "clickhouse"} {
		t.Run(kind, func(t *testing.T) {
			dir := crashProject(t, kind)
			var srv *fake.Server
			var batches atomic.Int32
			// After two batches every request hangs, unanswered and not
			// applied: the sync is mid-send when it is killed.
			srv = fake.New(t, fake.Options{Token: "tok", OnBatch: func(string, map[string]int, int) {
				if batches.Add(1) == 2 {
					srv.SetFaults(fake.Faults{PTimeout: 1, Hang: 10 * time.Minute})
				}
			}})
			t.Setenv("SYNCCLI_HOOK_URL", srv.URL)
			t.Setenv("SYNCCLI_TOKEN", "tok")
			adds := planJSON(t, dir, "to_hook").Syncs[0].Adds

			pid, runID, delivered := killMidSend(t, dir, srv)
			host, _ := os.Hostname()

			code, out, errs := sluice(t, "state", "show", "to_hook", "--project", dir)
			want := fmt.Sprintf("host %s pid %d run %s", host, pid, runID)
			if code != 0 || !strings.Contains(out, "dead: last heartbeat ") || !strings.Contains(out, want) {
				t.Fatalf("state show should mark the killed holder dead (%q): exit %d\n%s%s", want, code, out, errs)
			}

			before := takeovers(t, "to_hook")
			srv.SetFaults(fake.Faults{})
			code, out, errs = sluice(t, "sync", "to_hook", "--project", dir)
			want = fmt.Sprintf("took over the lock of run %s (host %s, pid %d, ", runID, host, pid)
			if code != 0 || !strings.Contains(errs, "sync to_hook: warning: "+want) {
				t.Fatalf("the run after the kill should take the lock over and say so (%q): exit %d\n%s%s", want, code, out, errs)
			}
			if got := takeovers(t, "to_hook"); got != before+1 {
				t.Errorf("takeover metric went from %v to %v", before, got)
			}
			if int64(len(srv.Records())) != adds {
				t.Errorf("the destination holds %d records, the model %d", len(srv.Records()), adds)
			}
			checkAbandoned(t, dir, runID, delivered)
		})
	}
}

// takeovers reads the takeover counter of a sync.
func takeovers(t *testing.T, sync string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(engine.LockTakeovers)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "sync" && l.GetValue() == sync {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// killMidSend starts `sluice sync to_hook` in a child process and kills it
// with SIGKILL once it has committed every batch the destination took.
// It returns the child's pid, its run id and how many records it delivered.
func killMidSend(t *testing.T, dir string, srv *fake.Server) (int, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSync$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_SYNC_PROJECT="+dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	committed := make(chan int64)
	go func() {
		defer close(committed)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := progressLine.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
				committed <- n
			}
		}
	}()
	applied := func() (string, int) {
		log := srv.Log()
		if len(log) == 0 {
			return "", 0
		}
		return log[0].RunID, len(log)
	}
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case n, ok := <-committed:
			if !ok {
				t.Fatal("the sync ended before it could be killed")
			}
			if runID, sent := applied(); n > 0 && n == int64(sent) {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
				_ = cmd.Wait() // reaped: its pid is no longer a process
				killed = true
				return cmd.Process.Pid, runID, sent
			}
		case <-deadline:
			t.Fatal("the sync never committed the batches the destination took")
		}
	}
}

// checkAbandoned checks `runs` and `runs show` for the killed run.
func checkAbandoned(t *testing.T, dir, runID string, delivered int) {
	t.Helper()
	code, out, errs := sluice(t, "runs", "to_hook", "--project", dir)
	if code != 0 {
		t.Fatalf("runs: exit %d %s", code, errs)
	}
	var row []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 11 && f[3] == runID {
			row = f
		}
	}
	n := group(int64(delivered))
	// STARTED (2 fields) SYNC RUN DURATION OUTCOME ADDS UPDATES REMOVES SENT ACCEPTED REJECTED
	if row == nil || row[5] != "abandoned" || row[9] != n || row[10] != n || row[11] != "0" || row[6] == "0" {
		t.Errorf("runs should list %s as abandoned, with its plan and %s sent and accepted:\n%s", runID, n, out)
	}
	code, out, errs = sluice(t, "runs", "show", runID, "--project", dir)
	checks := []struct{ what, pattern string }{
		{"outcome", `(?m)^  outcome\s+abandoned$`},
		{"end time", `(?m)^  finished\s+\d{4}-\d\d-\d\dT`},
		{"delivered", `(?m)^  sent\s+` + n + `: ` + n + ` accepted, 0 rejected$`},
		{"per operation", `(?m)^  by operation\s+upsert accepted ` + n + `$`},
		{"error", `(?m)^  error\s+the process running it stopped before it finished$`},
	}
	for _, c := range checks {
		if code != 0 || !regexp.MustCompile(c.pattern).MatchString(out) {
			t.Errorf("runs show %s: %s should match %s: exit %d\n%s%s", runID, c.what, c.pattern, code, out, errs)
		}
	}
}

// TestHelperSync is not a test: run by TestKilledSyncIsAbandoned in a
// child process, it runs `sluice sync to_hook`, printing its progress at
// every commit, until it is killed.
func TestHelperSync(t *testing.T) {
	dir := os.Getenv("SLUICE_TEST_SYNC_PROJECT")
	if dir == "" {
		t.Skip("helper process only")
	}
	progressEvery = 0
	os.Exit(run(context.Background(), []string{"sync", "to_hook", "--project", dir}, os.Stdout, os.Stderr))
}
