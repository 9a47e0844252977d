package identity

import (
	"syscall"
	"context"
	"fmt"
	"path/filepath"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/models"
)

func TestZZProfileStatements(t *testing.T) {
	dir := os.Getenv("SLUICE_PROFILE_DIR")
	if dir == "" {
		t.Skip()
	}
	ctx := context.Background()
	w := openDuckDB(t)
	load := []string{"CREATE SCHEMA raw"}
	for _, f := range []string{"crm_contacts", "web_events", "orders"} {
		load = append(load, "CREATE TABLE raw."+f+" AS SELECT * FROM read_csv("+duck.String(filepath.Join(dir, f+".csv"))+", header = true, all_varchar = true)")
	}
	exec(t, w, load...)
	p := loadProject(t, map[string]string{"identity.yml": demoProject})
	plan, _ := models.Compile(p, duck)
	setup := *plan
	setup.Report = nil
	builder.Run(ctx, w, &setup, builder.Options{Only: func(s models.Step) bool { return s.Kind != models.KindIdentity }})
	run := func(q string) {
		start := time.Now()
		c0 := cpuTime()
		if err := w.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		first := strings.SplitN(strings.TrimSpace(q), "\n", 2)[0]
		for _, l := range strings.Split(q, "\n") {
			if !strings.HasPrefix(l, "--") {
				first = l
				break
			}
		}
		fmt.Printf("%8s cpu %8s  %.100s\n", time.Since(start).Round(time.Millisecond), (cpuTime() - c0).Round(time.Millisecond), first)
	}
	if os.Getenv("SLUICE_UNORDERED") != "" {
		exec(t, w, "SET GLOBAL preserve_insertion_order = false")
	}
	total := cpuTime()
	defer func() { fmt.Println("total cpu", (cpuTime() - total).Round(time.Millisecond)) }()
	for _, s := range plan.Steps {
		if s.Kind != models.KindIdentity {
			continue
		}
		fmt.Println("==", s.Name)
		for _, q := range s.SQL {
			run(q)
		}
		if s.Loop != nil {
			for r := 1; r <= 64; r++ {
				fmt.Println("-- round", r)
				for _, q := range s.Loop.Body {
					run(q)
				}
				var n int64
				rows, _ := w.Query(ctx, s.Loop.Changed)
				rows.Next()
				rows.Scan(&n)
				rows.Close()
				if n == 0 {
					break
				}
			}
		}
		for _, q := range s.Finally {
			run(q)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
