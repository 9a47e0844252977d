package bigquery_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/sluicehq/sluice/connectors/bigquery"
	"github.com/sluicehq/sluice/connectors/bigquery/bqfake"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

const token = "ya29.test-token"

func start(t *testing.T) *bqfake.Server {
	fk := bqfake.Start()
	fk.Token = token
	t.Cleanup(fk.Close)
	return fk
}

func open(t *testing.T, fk *bqfake.Server, tok string) (*bigquery.Warehouse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return bigquery.OpenClient(ctx, bigquery.Settings{Project: "acme-analytics", Dataset: "raw", Location: "EU"},
		option.WithEndpoint(fk.URL()),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})))
}

func mustOpen(t *testing.T, fk *bqfake.Server) *bigquery.Warehouse {
	t.Helper()
	w, err := open(t, fk, token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestJobsCarryTheStatement(t *testing.T) {
	fk := start(t)
	w := mustOpen(t, fk)
	ctx := context.Background()
	q := "CREATE OR REPLACE TABLE `sluice`.`t` AS\nSELECT 1 AS id"
	if err := w.Exec(ctx, q); err != nil {
		t.Fatal(err)
	}
	rows, err := w.Query(ctx, "SELECT * FROM `sluice`.`t` WHERE id = ? AND name = ?", int64(7), "O'Brien")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	st := fk.Statements()
	last := st[len(st)-1]
	if st[len(st)-2].SQL != q {
		t.Errorf("statement sent as %q, want %q", st[len(st)-2].SQL, q)
	}
	if last.DefaultDataset != "raw" || last.Location != "EU" {
		t.Errorf("default dataset %q, location %q; want raw, EU", last.DefaultDataset, last.Location)
	}
	if len(last.Params) != 2 || last.Params[0] != (bqfake.Param{Type: "INT64", Value: "7"}) || last.Params[1] != (bqfake.Param{Type: "STRING", Value: "O'Brien"}) {
		t.Errorf("parameters %+v", last.Params)
	}
}

func TestBadCredentials(t *testing.T) {
	fk := start(t)
	_, err := open(t, fk, "expired-token")
	if err == nil {
		t.Fatal("want an error")
	}
	if !strings.Contains(err.Error(), "rejected the credentials") || !strings.Contains(err.Error(), "credentials_file") {
		t.Errorf("error should say the credentials were rejected and where they come from: %v", err)
	}
	t.Log(err)
	if strings.Contains(err.Error(), "expired-token") {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestMissingCredentialsFile(t *testing.T) {
	_, err := bigquery.OpenClient(context.Background(), bigquery.Settings{Project: "p", CredentialsFile: filepath.Join(t.TempDir(), "nope.json")},
		option.WithAuthCredentialsFile(option.ServiceAccount, filepath.Join(t.TempDir(), "nope.json")))
	if err == nil || !strings.Contains(err.Error(), "credentials_file") {
		t.Fatalf("got %v, want an error naming credentials_file", err)
	}
}

func TestRowsTypesAndPages(t *testing.T) {
	fk := start(t)
	fk.PageSize = 2 // five rows come in three pages
	at := time.Date(2024, 6, 15, 9, 30, 45, 123456000, time.UTC)
	fk.Handler = func(s bqfake.Statement) bqfake.Result {
		if !strings.HasPrefix(s.SQL, "SELECT profile_id") {
			return bqfake.Result{}
		}
		res := bqfake.Result{Schema: []bqfake.Field{
			{Name: "profile_id", Type: "STRING"}, {Name: "orders", Type: "INTEGER"}, {Name: "score", Type: "FLOAT"}, {Name: "vip", Type: "BOOLEAN"},
			{Name: "ltv", Type: "NUMERIC"}, {Name: "last_order_at", Type: "TIMESTAMP"}, {Name: "birthday", Type: "DATE"},
		}}
		for i := 0; i < 5; i++ {
			res.Rows = append(res.Rows, []any{"p" + string(rune('1'+i)), int64(i), 0.25, i%2 == 0, "512.5", at, at})
		}
		res.Rows[4] = []any{"p5", nil, nil, nil, nil, nil, nil}
		return res
	}
	w := mustOpen(t, fk)
	rows, err := w.Query(context.Background(), "SELECT profile_id, orders, score, vip, ltv, last_order_at, birthday FROM `sluice`.`p`")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if strings.Join(cols, ",") != "profile_id,orders,score,vip,ltv,last_order_at,birthday" {
		t.Errorf("columns %v", cols)
	}
	// The types tell a DATE from a TIMESTAMP at midnight (sluice query).
	types, err := rows.(warehouse.TypedRows).ColumnTypeNames()
	if err != nil || strings.Join(types, ",") != "STRING,INTEGER,FLOAT,BOOLEAN,NUMERIC,TIMESTAMP,DATE" {
		t.Errorf("column types %v, %v", types, err)
	}
	n := 0
	for rows.Next() {
		var (
			id       string
			orders   sql.NullInt64
			score    sql.NullFloat64
			vip      sql.NullBool
			ltv      any
			last     sql.NullTime
			birthday sql.NullTime
		)
		if err := rows.Scan(&id, &orders, &score, &vip, &ltv, &last, &birthday); err != nil {
			t.Fatal(err)
		}
		n++
		if id == "p5" {
			if orders.Valid || score.Valid || vip.Valid || ltv != nil || last.Valid || birthday.Valid {
				t.Errorf("p5 should be NULLs")
			}
			continue
		}
		if d, ok := ltv.(interface {
			String() string
			Float64() float64
		}); !ok || d.String() != "512.5" || d.Float64() != 512.5 {
			t.Errorf("NUMERIC came back as %T %v, want an exact decimal", ltv, ltv)
		}
		if orders.Int64 != int64(n-1) || score.Float64 != 0.25 || vip.Bool != ((n-1)%2 == 0) || !last.Time.Equal(at) ||
			!birthday.Time.Equal(time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("row %d: %v %v %v %v %v", n, orders, score, vip, last, birthday)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("read %d rows over the pages, want 5", n)
	}
}

func TestSQLErrorsAreExplainedAndRecoverable(t *testing.T) {
	fk := start(t)
	fk.Handler = func(s bqfake.Statement) bqfake.Result {
		switch {
		case strings.Contains(s.SQL, "no_such_table"):
			return bqfake.Result{Err: &bqfake.Error{Reason: "notFound", Message: "Not found: Table acme-analytics:raw.no_such_table was not found in location EU"}}
		case strings.HasPrefix(s.SQL, "SELEC "):
			return bqfake.Result{Err: &bqfake.Error{Reason: "invalidQuery", Message: "Syntax error: Unexpected identifier \"SELEC\" at [1:1]"}}
		}
		return bqfake.Result{}
	}
	w := mustOpen(t, fk)
	ctx := context.Background()
	tests := []struct {
		name string
		run  func() error
		want []string
	}{
		{"missing table", func() error { return w.Exec(ctx, "SELECT * FROM `raw`.`no_such_table`") }, []string{"no_such_table", "job "}},
		{"syntax error", func() error { _, err := w.Query(ctx, "SELEC 1"); return err }, []string{"Syntax error", "SELEC", "job "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("want an error")
			}
			t.Log(err)
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q should mention %q", err, s)
				}
			}
		})
	}
	if err := w.Check(ctx); err != nil {
		t.Fatalf("connection unusable after an SQL error: %v", err)
	}
}

func TestTableExists(t *testing.T) {
	fk := start(t)
	fk.Tables["sluice.customer_profiles"] = true
	w := mustOpen(t, fk)
	for _, tc := range []struct {
		schema, table string
		want          bool
	}{
		{"sluice", "customer_profiles", true},
		{"sluice", "customer_segment_vip", false},
		{"nodataset", "t", false},
	} {
		got, err := w.TableExists(context.Background(), tc.schema, tc.table)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("TableExists(%s, %s) = %v", tc.schema, tc.table, got)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	fk := start(t)
	w := mustOpen(t, fk)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Query(ctx, "SELECT 1"); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancellation error, got %v", err)
	}
	if err := w.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestLoadCSV(t *testing.T) {
	fk := start(t)
	// The probe asks, per column not pinned, whether every value converts
	// to BOOL, INT64, FLOAT64, DATE, TIMESTAMP, and whether any is set.
	// Here: id is an integer, joined_at a timestamp, note always empty.
	fk.Handler = func(s bqfake.Statement) bqfake.Result {
		if !strings.Contains(s.SQL, "LOGICAL_AND(") {
			return bqfake.Result{}
		}
		answers := []any{
			false, true, true, false, false, true, // id
			false, false, false, false, true, true, // joined_at
			true, true, true, true, true, false, // note: only NULLs
		}
		res := bqfake.Result{Rows: [][]any{answers}}
		for range answers {
			res.Schema = append(res.Schema, bqfake.Field{Name: "f", Type: "BOOLEAN"})
		}
		return res
	}
	w := mustOpen(t, fk)
	path := filepath.Join(t.TempDir(), "people.csv")
	data := "\ufeffid,phone,joined_at,note\n1,0612345678,2024-01-02 10:00:00,\n2,,2024-03-04 11:00:00,\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	err := w.LoadCSV(context.Background(), "raw", "people", path, []dialect.ColumnType{{Column: "phone", Type: "varchar"}})
	if err != nil {
		t.Fatal(err)
	}
	loads := fk.Loads()
	if len(loads) != 1 {
		t.Fatalf("%d load jobs", len(loads))
	}
	l := loads[0]
	if l.Dataset != "raw" || l.Table != "people__sluice_load" || l.SkipLeadingRows != 1 || l.WriteDisposition != "WRITE_TRUNCATE" || string(l.Data) != data {
		t.Errorf("load job %+v", l)
	}
	for _, f := range l.Fields {
		if f.Type != "STRING" {
			t.Errorf("scratch column %s is %s, want STRING", f.Name, f.Type)
		}
	}
	var create, drop string
	for _, s := range fk.Statements() {
		if strings.HasPrefix(s.SQL, "CREATE OR REPLACE TABLE `raw`.`people` AS") {
			create = s.SQL
		}
		if s.SQL == "DROP TABLE IF EXISTS `raw`.`people__sluice_load`" {
			drop = s.SQL
		}
	}
	want := "CREATE OR REPLACE TABLE `raw`.`people` AS\nSELECT\n    CAST(`id` AS INT64) AS `id`,\n    `phone`,\n    CAST(`joined_at` AS TIMESTAMP) AS `joined_at`,\n    `note`\nFROM `raw`.`people__sluice_load`"
	if create != want {
		t.Errorf("create:\n%s\nwant:\n%s", create, want)
	}
	if drop == "" {
		t.Error("the scratch table was not dropped")
	}
}
