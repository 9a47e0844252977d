package identity

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/models"
)

func TestZZNormCost(t *testing.T) {
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
	exec(t, w, `CREATE TABLE f AS
		SELECT 'user_id' AS ty, contact_id AS raw FROM raw.crm_contacts UNION ALL SELECT 'email', email FROM raw.crm_contacts UNION ALL SELECT 'phone', phone FROM raw.crm_contacts
		UNION ALL SELECT 'anonymous_id', anonymous_id FROM raw.web_events UNION ALL SELECT 'user_id', user_id FROM raw.web_events UNION ALL SELECT 'email', email FROM raw.web_events
		UNION ALL SELECT 'user_id', contact_id FROM raw.orders UNION ALL SELECT 'email', email FROM raw.orders UNION ALL SELECT 'phone', phone FROM raw.orders`)
	exec(t, w, "DELETE FROM f WHERE raw IS NULL")
	run := func(name, q string) {
		c0 := cpuTime()
		start := time.Now()
		var n int64
		rows, err := w.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		rows.Scan(&n)
		rows.Close()
		fmt.Printf("%-28s %8s cpu %8s  %d\n", name, time.Since(start).Round(time.Millisecond), (cpuTime() - c0).Round(time.Millisecond), n)
	}
	for _, typ := range p.Identity.IDTypes {
		run(typ.Name+" count", "SELECT count(raw) FROM f WHERE ty = "+duck.String(typ.Name))
		run(typ.Name+" junk", "SELECT count(*) FILTER (WHERE "+junkExpr(duck, "raw")+") FROM f WHERE ty = "+duck.String(typ.Name))
		run(typ.Name+" format", "SELECT count("+formatExpr(duck, typ, "raw")+") FROM f WHERE ty = "+duck.String(typ.Name))
	}
}
