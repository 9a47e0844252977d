package clickhouse_test

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

// TestRowMapWithSharedKeysAsDuckDB builds sources whose primary keys some
// rows share (a source read by one edge, and one read by two) on ClickHouse
// and on DuckDB, and compares the row maps and the duplicate-keys tables:
// shared keys are folded into one entry the same way on both.
func TestRowMapWithSharedKeysAsDuckDB(t *testing.T) {
	chDSN := dsn(t)
	ctx := context.Background()
	schema := fmt.Sprintf("sluice_rm_%d", time.Now().UnixNano()%1_000_000_000)
	raw := schema + "_raw"
	dir := t.TempDir()
	// The project of models/identity's row map test, on a schema of its own.
	project, err := os.ReadFile("../../models/identity/testdata/rowmap-project.yml")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"sluice.yml":  "version: 1\nname: rowmap\nwarehouse:\n  type: duckdb\nschema: " + schema + "\n",
		"project.yml": strings.ReplaceAll(string(project), "raw.", raw+"."),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The same rows in both engines: E1 and (eu, 1) appear twice.
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	data := map[string][][]any{
		"crm": {{"C1", "ann@example.com", at("2024-01-01 09:00:00")}, {"C2", "bob@example.com", at("2024-02-01 09:00:00")}},
		"web": {
			{"E1", "b1", "bob@example.com", at("2024-03-01 10:00:00")}, {"E1", "a1", "ann@example.com", at("2024-03-02 10:00:00")},
			{"E2", "b2", "bob@example.com", at("2024-03-03 10:00:00")}, {"E3", nil, nil, at("2024-03-04 10:00:00")},
		},
		"orders": {
			{"eu", int32(1), "bob@example.com", nil, at("2024-04-01 12:00:00")}, {"eu", int32(1), nil, "a1", at("2024-04-02 12:00:00")},
			{"eu", int32(2), "bob@example.com", "b9", at("2024-04-03 12:00:00")},
		},
	}
	build := func(t *testing.T, wh config.Warehouse) warehouse.Warehouse {
		w, err := warehouse.Open(ctx, warehouse.Config{ProjectDir: dir, Warehouse: wh})
		if err != nil {
			t.Fatal(err)
		}
		text, ts, num, engine := "VARCHAR", "TIMESTAMP", "INTEGER", ""
		if wh.Type == "clickhouse" {
			text, ts, num, engine = "Nullable(String)", "DateTime", "Int32", " ENGINE = Memory"
		}
		stmts := []string{
			"CREATE DATABASE IF NOT EXISTS " + raw,
			fmt.Sprintf("CREATE TABLE %s.crm (contact_id %s, email %s, updated_at %s)%s", raw, text, text, ts, engine),
			fmt.Sprintf("CREATE TABLE %s.web (event_id %s, anonymous_id %s, email %s, occurred_at %s)%s", raw, text, text, text, ts, engine),
			fmt.Sprintf("CREATE TABLE %s.orders (shop %s, order_no %s, email %s, device %s, ordered_at %s)%s", raw, text, num, text, text, ts, engine),
		}
		if wh.Type == "duckdb" {
			stmts[0] = "CREATE SCHEMA IF NOT EXISTS " + raw
		}
		for _, q := range stmts {
			if err := w.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v\n%s", wh.Type, err, q)
			}
		}
		for _, table := range []string{"crm", "web", "orders"} {
			if err := w.(warehouse.RowAppender).AppendRows(ctx, raw, table, data[table]); err != nil {
				t.Fatalf("%s: loading %s: %v", wh.Type, table, err)
			}
		}
		p, err := config.Load(dir, config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p.Warehouse = wh
		plan, err := models.Compile(p, w.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := builder.Run(ctx, w, plan, builder.Options{}); err != nil {
			t.Fatalf("building on %s: %v", wh.Type, err)
		}
		return w
	}
	ch := build(t, config.Warehouse{Type: "clickhouse", DSN: config.Secret(chDSN)})
	defer func() {
		for _, s := range []string{schema, raw} {
			if err := ch.Exec(ctx, "DROP DATABASE IF EXISTS "+ch.Dialect().Ident(s)); err != nil {
				t.Error(err)
			}
		}
		ch.Close()
	}()
	duck := build(t, config.Warehouse{Type: "duckdb"})
	defer duck.Close()

	for _, q := range []string{
		"SELECT source, row_key, profile_id, seen_at FROM %s.customer_row_map",
		"SELECT row_key, row_count FROM %s.src_web_duplicate_keys",
		"SELECT row_key, row_count FROM %s.src_orders_duplicate_keys",
	} {
		want := rowsOf(t, duck, fmt.Sprintf(q, duck.Dialect().Ident(schema)))
		got := rowsOf(t, ch, fmt.Sprintf(q, ch.Dialect().Ident(schema)))
		if len(want) == 0 {
			t.Fatalf("%s: DuckDB built no rows: the comparison would prove nothing", q)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\nclickhouse\n  %s\nduckdb\n  %s", q, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	if n := len(rowsOf(t, duck, fmt.Sprintf("SELECT row_key FROM %s.customer_row_map", duck.Dialect().Ident(schema)))); n != 6 {
		t.Errorf("row map has %d rows; want 6 (one per key with an identifier)", n)
	}
}
