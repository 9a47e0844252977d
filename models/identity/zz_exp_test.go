package identity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

// SLUICE_EXP_DIR=demo dir SLUICE_EXP_DB=file SLUICE_EXP_SQL=file-with-statements-separated-by-;;
func TestZZExperiment(t *testing.T) {
	dir := os.Getenv("SLUICE_EXP_DIR")
	if dir == "" {
		t.Skip()
	}
	ctx := context.Background()
	dbPath := os.Getenv("SLUICE_EXP_DB")
	_, statErr := os.Stat(dbPath)
	w, err := warehouse.Open(ctx, warehouse.Config{Warehouse: config.Warehouse{Type: "duckdb", Path: dbPath}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p := loadProject(t, map[string]string{"identity.yml": demoProject})
	plan, _ := models.Compile(p, duck)
	if statErr != nil {
		load := []string{"CREATE SCHEMA raw"}
		for _, f := range []string{"crm_contacts", "web_events", "orders"} {
			load = append(load, "CREATE TABLE raw."+f+" AS SELECT * FROM read_csv("+duck.String(filepath.Join(dir, f+".csv"))+", header = true, all_varchar = true)")
		}
		exec(t, w, load...)
		setup := *plan
		setup.Report = nil
		if _, err := builder.Run(ctx, w, &setup, builder.Options{Only: func(s models.Step) bool { return s.Kind != models.KindIdentity }}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(os.Getenv("SLUICE_EXP_SQL"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range strings.Split(string(data), ";;") {
		q = strings.TrimSpace(q)
		if q == "" {
			continue
		}
		start := time.Now()
		c0 := cpuTime()
		rows, err := w.Query(ctx, q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		cols, _ := rows.Columns()
		var out []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			out = append(out, fmt.Sprint(vals...))
			if strings.HasPrefix(q, "EXPLAIN") {
				fmt.Println(vals[len(vals)-1])
			}
			if len(out) > 5 {
				break
			}
		}
		rows.Close()
		first := q
		if i := strings.Index(q, "\n"); i > 0 {
			first = q[:i]
		}
		fmt.Printf("%8s cpu %8s  %.80s  %s\n", time.Since(start).Round(time.Millisecond), (cpuTime() - c0).Round(time.Millisecond), first, strings.Join(out, " | "))
	}
}
