package clickhouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	_ "github.com/sluicehq/sluice/connectors/all"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/models"
	_ "github.com/sluicehq/sluice/models/all"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/state"
)

// TestSameResultsAsDuckDB builds the quickstart (examples/clickhouse: the
// quickstart's data and model, with expressions both engines read) on
// ClickHouse and on DuckDB and compares what users see: the identity map,
// every trait of every profile and every segment's members. Then it runs
// the example's syncs from each warehouse to a webhook fake of its own, and
// compares what the two fakes received, operation by operation, field by
// field, to the digit: the same sync sends the same JSON from either
// warehouse.
//
// Deliberate tolerances, and nothing else: timestamps are compared in whole
// seconds (ClickHouse 18.16 stores no fractions; the data has none), floats
// to 9 significant digits (engines sum in different orders), booleans as
// 0/1 (ClickHouse has no boolean type before 21.x) and decimals by value
// (2.50 and 2.5 are the same amount).
func TestSameResultsAsDuckDB(t *testing.T) {
	chDSN := dsn(t)
	sameResultsAsDuckDB(t, func(t *testing.T) warehouse.Warehouse {
		w, err := warehouse.Open(context.Background(), warehouse.Config{ProjectDir: t.TempDir(),
			Warehouse: config.Warehouse{Type: "clickhouse", DSN: config.Secret(chDSN)}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	})
}

// sameResultsAsDuckDB is TestSameResultsAsDuckDB on the ClickHouse that
// openCH opens: a server, or chDB in-process.
func sameResultsAsDuckDB(t *testing.T, openCH func(t *testing.T) warehouse.Warehouse) {
	if testing.Short() {
		t.Skip("builds the quickstart twice")
	}
	ctx := context.Background()
	dir, err := filepath.Abs("../../examples/clickhouse")
	if err != nil {
		t.Fatal(err)
	}
	// A database of its own, so that parallel runs on one server never meet.
	schema := fmt.Sprintf("sluice_eq_%d", time.Now().UnixNano()%1_000_000_000)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	build := func(t *testing.T, wh config.Warehouse) (warehouse.Warehouse, *config.Project) {
		p, err := config.Load(dir, config.Options{Env: func(k string) (string, bool) {
			if k == "SLUICE_CLICKHOUSE_DSN" {
				return "clickhouse://127.0.0.1:9000/default", true // replaced below
			}
			return "", false
		}})
		if err != nil {
			t.Fatal(err)
		}
		p.Warehouse = wh
		p.Schema = schema
		p.StateSchema = schema + "_state"
		for i := range p.Seeds {
			p.Seeds[i].Schema = schema + "_raw"
		}
		for i := range p.Sources {
			p.Sources[i].Table = strings.Replace(p.Sources[i].Table, "raw.", schema+"_raw.", 1)
			p.Sources[i].SQL = strings.Replace(p.Sources[i].SQL, "raw.", schema+"_raw.", 1)
		}
		var w warehouse.Warehouse
		if wh.Type == "clickhouse" {
			w = openCH(t)
		} else if w, err = warehouse.Open(ctx, warehouse.Config{ProjectDir: p.Dir, Warehouse: wh, ExternalPaths: p.ExternalPaths}); err != nil {
			t.Fatal(err)
		}
		plan, err := models.Compile(p, w.Dialect(), models.WithNow(now))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := builder.Run(ctx, w, plan, builder.Options{}); err != nil {
			t.Fatalf("building on %s: %v", wh.Type, err)
		}
		return w, p
	}
	ch, chProject := build(t, config.Warehouse{Type: "clickhouse"})
	defer func() {
		for _, s := range []string{schema, schema + "_raw", schema + "_state"} {
			if err := ch.Exec(ctx, "DROP DATABASE IF EXISTS "+ch.Dialect().Ident(s)); err != nil {
				t.Error(err)
			}
		}
		ch.Close()
	}()
	duck, duckProject := build(t, config.Warehouse{Type: "duckdb"})
	defer duck.Close()

	queries := []struct{ name, sql string }{
		{"identity map", "SELECT profile_id, id_type, id_value, first_seen_at, last_seen_at, seen_count FROM %s.customer_identity_map"},
		{"profiles", "SELECT * FROM %s.customer_profiles"},
		{"segment membership", "SELECT segment, profile_id FROM %s.customer_segment_membership"},
		{"row map", "SELECT source, row_key, profile_id, seen_at FROM %s.customer_row_map"},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			want := rowsOf(t, duck, fmt.Sprintf(q.sql, duck.Dialect().Ident(schema)))
			got := rowsOf(t, ch, fmt.Sprintf(q.sql, ch.Dialect().Ident(schema)))
			if len(want) == 0 {
				t.Fatal("DuckDB built no rows: the comparison would prove nothing")
			}
			if len(got) != len(want) {
				t.Errorf("clickhouse has %d rows, duckdb %d", len(got), len(want))
			}
			diffs := 0
			for i := 0; i < min(len(got), len(want)) && diffs < 10; i++ {
				if got[i] != want[i] {
					t.Errorf("row %d differs:\n  clickhouse %s\n  duckdb     %s", i, got[i], want[i])
					diffs++
				}
			}
		})
	}

	t.Run("syncs", func(t *testing.T) {
		want := syncToWebhook(t, duck, duckProject)
		got := syncToWebhook(t, ch, chProject)
		if len(want) == 0 {
			t.Fatal("DuckDB sent nothing: the comparison would prove nothing")
		}
		if len(got) != len(want) {
			t.Errorf("clickhouse sent %d operations, duckdb %d", len(got), len(want))
		}
		diffs := 0
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got[k] != want[k] && diffs < 10 {
				t.Errorf("%s differs:\n  clickhouse %s\n  duckdb     %s", k, got[k], want[k])
				diffs++
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok && diffs < 10 {
				t.Errorf("only clickhouse sent %s: %s", k, got[k])
				diffs++
			}
		}
	})
}

// syncToWebhook runs every sync of the project, its destination replaced by
// a webhook fake, twice (the second run must send nothing), and returns
// what the fake received: "SYNC OP KEY" -> the operation's fields as JSON,
// numbers digit for digit.
func syncToWebhook(t *testing.T, w warehouse.Warehouse, p *config.Project) map[string]string {
	t.Helper()
	ctx := context.Background()
	received := map[string]string{}
	var mu sync.Mutex
	srv := fake.Handler(fake.Options{})
	hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		var batch struct {
			Sync       string `json:"sync"`
			Operations []struct {
				Op     string          `json:"op"`
				Key    string          `json:"key"`
				Fields json.RawMessage `json:"fields"`
			} `json:"operations"`
		}
		if err := json.Unmarshal(body, &batch); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, o := range batch.Operations {
			// Fields re-encoded with sorted keys, numbers kept as written.
			var fields map[string]any
			dec := json.NewDecoder(bytes.NewReader(o.Fields))
			dec.UseNumber()
			if err := dec.Decode(&fields); err != nil {
				t.Error(err)
			}
			canon, _ := json.Marshal(fields)
			received[batch.Sync+" "+o.Op+" "+o.Key] = string(canon)
		}
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		srv.ServeHTTP(rw, r)
	}))
	defer hs.Close()
	opts := map[string]config.Value{}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("url: "+hs.URL+"\nrate: 1000\nbatch_size: 500"), &n); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(n.Content[0].Content); i += 2 {
		opts[n.Content[0].Content[i].Value] = config.Value{Node: n.Content[0].Content[i+1]}
	}
	for i := range p.Destinations {
		p.Destinations[i].Type, p.Destinations[i].Options = "webhook", opts
	}
	eng, err := engine.New(p, w)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Syncs {
		res, err := eng.Sync(ctx, s.Name, engine.SyncOptions{})
		if err != nil || res.Status != state.RunSucceeded || res.Accepted == 0 {
			t.Fatalf("%s on %s: %v (%s, %d accepted)", s.Name, w.Dialect().Name(), err, res.Status, res.Accepted)
		}
	}
	sent := len(received)
	for _, s := range p.Syncs {
		if pl, err := eng.Plan(ctx, s.Name, engine.PlanOptions{}); err != nil || pl.Adds+pl.Updates+pl.Removes != 0 {
			t.Errorf("%s on %s: re-plan after the sync is not empty: %+v %v", s.Name, w.Dialect().Name(), pl, err)
		}
		if res, err := eng.Sync(ctx, s.Name, engine.SyncOptions{}); err != nil || res.Sent != 0 {
			t.Errorf("%s on %s: a second sync sent %d records (%v)", s.Name, w.Dialect().Name(), res.Sent, err)
		}
	}
	if len(received) != sent {
		t.Errorf("%s: the second syncs sent something", w.Dialect().Name())
	}
	return received
}

// rowsOf reads a query's rows as normalised text (columns sorted by name
// so that column order does not matter), sorted.
func rowsOf(t *testing.T, w warehouse.Warehouse, q string) []string {
	t.Helper()
	rows, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	order := make([]int, len(cols))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(cols[a], cols[b]) })
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for j, i := range order {
			parts[j] = cols[i] + "=" + normalise(vals[i])
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// normalise renders a value so that both engines' spellings of the same
// value compare equal (see TestSameResultsAsDuckDB for the tolerances).
func normalise(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case *any:
		if x == nil {
			return "NULL"
		}
		return normalise(*x)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case time.Time:
		return x.UTC().Truncate(time.Second).Format(time.RFC3339)
	case *time.Time:
		if x == nil {
			return "NULL"
		}
		return normalise(*x)
	case float32:
		return number(float64(x))
	case float64:
		return number(x)
	case decimal.Decimal:
		return x.String()
	case *decimal.Decimal:
		if x == nil {
			return "NULL"
		}
		return x.String()
	case *big.Int:
		return x.String()
	case []byte:
		return string(x)
	case *string:
		if x == nil {
			return "NULL"
		}
		return *x
	case string:
		return x
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return fmt.Sprint(x)
	case fmt.Stringer:
		// DuckDB decimals (and other exact numbers) print their value.
		if d, err := decimal.NewFromString(x.String()); err == nil {
			return d.String()
		}
		return x.String()
	}
	return fmt.Sprintf("%v", v)
}

func number(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 9, 64)
}
