package snowflake_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/snowflake"
	"github.com/sluicehq/sluice/connectors/snowflake/sffake"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

const (
	account  = "testorg-acct"
	user     = "SLUICE_SVC"
	password = "correct horse battery"
)

// start runs a fake for the test; it stops after the connections the
// test opened are closed (cleanups run last-registered first).
func start(t *testing.T, password string) *sffake.Server {
	fk := sffake.Start(account, user, password)
	t.Cleanup(fk.Close)
	return fk
}

func settings(fk *sffake.Server) config.Warehouse {
	return config.Warehouse{
		Type: "snowflake", Account: account, User: user, Password: password,
		Database: "ANALYTICS", VirtualWarehouse: "TRANSFORMING", Role: "SLUICE_ROLE",
		Host: fk.Host(), Port: fk.Port(),
	}
}

// open connects to the fake: the production configuration, speaking http
// to loopback instead of https to Snowflake.
func open(t *testing.T, w config.Warehouse, dir string) (*snowflake.Warehouse, error) {
	t.Helper()
	sc, err := snowflake.DriverConfig(warehouse.Config{ProjectDir: dir, Warehouse: w})
	if err != nil {
		return nil, err
	}
	sc.Protocol = "http"
	sc.MaxRetryCount = 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return snowflake.OpenDriver(ctx, sc)
}

func mustOpen(t *testing.T, fk *sffake.Server) *snowflake.Warehouse {
	t.Helper()
	w, err := open(t, settings(fk), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func TestLoginSendsSettings(t *testing.T) {
	fk := start(t, password)
	mustOpen(t, fk)
	logins := fk.Logins()
	if len(logins) == 0 {
		t.Fatal("no login request")
	}
	l := logins[0]
	for _, c := range []struct{ name, got, want string }{
		{"account", l.Account, strings.ToUpper(account)},
		{"user", l.User, user},
		{"database", l.Database, "ANALYTICS"},
		{"warehouse", l.Warehouse, "TRANSFORMING"},
		{"role", l.Role, "SLUICE_ROLE"},
	} {
		if !strings.EqualFold(c.got, c.want) {
			t.Errorf("login %s = %q, want %q", c.name, c.got, c.want)
		}
	}
	// sluice's quoting relies on case-sensitive quoted names, whatever
	// the account's default.
	for k, want := range map[string]string{"QUOTED_IDENTIFIERS_IGNORE_CASE": "FALSE", "QUERY_TAG": "sluice"} {
		if got := l.SessionParameters[k]; got != want {
			t.Errorf("session parameter %s = %v, want %s", k, got, want)
		}
	}
}

func TestLoginErrors(t *testing.T) {
	fk := start(t, password)
	tests := []struct {
		name   string
		change func(*config.Warehouse)
		want   []string
	}{
		{"wrong password", func(w *config.Warehouse) { w.Password = "wrong guess" }, []string{"incorrect user name or password", "warehouse.password", user}},
		{"unknown user", func(w *config.Warehouse) { w.User = "NOBODY" }, []string{"incorrect user name or password", "NOBODY"}},
		{"no credentials", func(w *config.Warehouse) { w.Password = "" }, []string{"needs password or private_key_file"}},
		{"no account", func(w *config.Warehouse) { w.Account = "" }, []string{"needs account"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := settings(fk)
			tc.change(&s)
			_, err := open(t, s, t.TempDir())
			if err == nil {
				t.Fatal("want an error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q should mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong guess") || strings.Contains(err.Error(), password) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestBadDSNIsNotEchoed(t *testing.T) {
	_, err := snowflake.DriverConfig(warehouse.Config{Warehouse: config.Warehouse{Type: "snowflake", DSN: "sluice:hunter2@/?bad=%zz"}})
	if err == nil {
		t.Fatal("want an error for a malformed DSN")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the DSN's password: %v", err)
	}
	if !strings.Contains(err.Error(), "warehouse.dsn") {
		t.Errorf("error should name the setting: %v", err)
	}
}

func writeKey(t *testing.T, dir string, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rsa_key.p8")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return "rsa_key.p8"
}

func TestKeyPairAuthentication(t *testing.T) {
	registered, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fk := start(t, "")
	fk.PublicKey = &registered.PublicKey
	tests := []struct {
		name    string
		key     *rsa.PrivateKey
		wantErr string
	}{
		{"registered key", registered, ""},
		{"another key", other, "RSA_PUBLIC_KEY matches warehouse.private_key_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := settings(fk)
			s.Password = ""
			s.PrivateKeyFile = writeKey(t, dir, tc.key)
			w, err := open(t, s, dir)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				w.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestEncryptedKeyIsExplained(t *testing.T) {
	dir := t.TempDir()
	pemText := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	if err := os.WriteFile(filepath.Join(dir, "k.p8"), pemText, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := snowflake.DriverConfig(warehouse.Config{ProjectDir: dir, Warehouse: config.Warehouse{
		Type: "snowflake", Account: account, User: user, PrivateKeyFile: "k.p8",
	}})
	if err == nil || !strings.Contains(err.Error(), "-nocrypt") {
		t.Fatalf("got %v, want the way to decrypt the key", err)
	}
}

func TestRowsAndTypes(t *testing.T) {
	fk := start(t, password)
	tx := sffake.Text
	fk.Handler = func(s sffake.Statement) sffake.Result {
		if s.SQL != "SELECT 1" && !strings.HasPrefix(s.SQL, "SELECT profile_id") {
			return sffake.Result{}
		}
		if s.SQL == "SELECT 1" {
			return sffake.Result{Columns: []sffake.Column{{Name: "1", Type: "fixed", Precision: 1}}, Rows: [][]*string{{tx("1")}}}
		}
		return sffake.Result{
			Columns: []sffake.Column{
				{Name: "PROFILE_ID", Type: "text"},
				{Name: "ORDERS", Type: "fixed", Precision: 18},
				{Name: "LTV", Type: "fixed", Precision: 12, Scale: 2},
				{Name: "SCORE", Type: "real"},
				{Name: "VIP", Type: "boolean"},
				{Name: "LAST_ORDER_AT", Type: "timestamp_ntz"},
				{Name: "FIRST_NAME", Type: "variant"},
				{Name: "Mixed Case", Type: "text"},
			},
			Rows: [][]*string{
				{tx("p1"), tx("3"), tx("512.50"), tx("0.25"), tx("1"), tx("1718443845.123456000"), tx(`"Zoé"`), tx("x")},
				{tx("p2"), nil, nil, nil, tx("0"), nil, nil, nil},
			},
		}
	}
	w := mustOpen(t, fk)
	ctx := context.Background()
	rows, err := w.Query(ctx, "SELECT profile_id, orders, ltv, score, vip, last_order_at, first_name, \"Mixed Case\" FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if got := strings.Join(cols, ","); got != "profile_id,orders,ltv,score,vip,last_order_at,first_name,Mixed Case" {
		t.Errorf("columns %s: folded names should read back in lower case, others as they are", got)
	}
	type row struct {
		id     string
		orders sql.NullInt64
		ltv    sql.NullString
		score  sql.NullFloat64
		vip    bool
		last   sql.NullTime
		first  sql.NullString
		mixed  sql.NullString
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.orders, &r.ltv, &r.score, &r.vip, &r.last, &r.first, &r.mixed); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d rows", len(got))
	}
	r := got[0]
	wantTime := time.Date(2024, 6, 15, 9, 30, 45, 123456000, time.UTC)
	if r.id != "p1" || r.orders.Int64 != 3 || r.ltv.String != "512.50" || r.score.Float64 != 0.25 || !r.vip ||
		!r.last.Time.Equal(wantTime) || r.first.String != "Zoé" || r.mixed.String != "x" {
		t.Errorf("row 1 = %+v", r)
	}
	r = got[1]
	if r.orders.Valid || r.ltv.Valid || r.score.Valid || r.vip || r.last.Valid || r.first.Valid {
		t.Errorf("row 2 should hold NULLs: %+v", r)
	}
}

func TestSQLErrorsAreExplainedAndRecoverable(t *testing.T) {
	fk := start(t, password)
	fk.Handler = func(s sffake.Statement) sffake.Result {
		if strings.Contains(s.SQL, "NO_SUCH_TABLE") {
			return sffake.Result{Err: &sffake.Error{Code: "002003", SQLState: "42S02",
				Message: "SQL compilation error:\nObject 'ANALYTICS.RAW.NO_SUCH_TABLE' does not exist or not authorized."}}
		}
		if s.SQL == "SELECT 1" {
			return sffake.Result{Columns: []sffake.Column{{Name: "1", Type: "fixed"}}, Rows: [][]*string{{sffake.Text("1")}}}
		}
		return sffake.Result{}
	}
	w := mustOpen(t, fk)
	ctx := context.Background()
	err := w.Exec(ctx, "SELECT * FROM "+w.Dialect().TableRef("raw.no_such_table"))
	if err == nil {
		t.Fatal("want an error")
	}
	t.Log(err)
	for _, want := range []string{"does not exist or not authorized", "NO_SUCH_TABLE", "42S02", "query id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q should mention %q", err, want)
		}
	}
	if _, err := w.Query(ctx, "SELECT * FROM RAW.NO_SUCH_TABLE"); err == nil {
		t.Error("Query: want an error")
	}
	if err := w.Check(ctx); err != nil {
		t.Fatalf("connection unusable after an SQL error: %v", err)
	}
}

func TestTableExistsFoldsNames(t *testing.T) {
	fk := start(t, password)
	fk.Handler = func(s sffake.Statement) sffake.Result {
		if strings.Contains(s.SQL, "information_schema.tables") {
			n := "0"
			if s.Bindings["1"].Value == "SLUICE" && s.Bindings["2"].Value == "CUSTOMER_PROFILES" {
				n = "1"
			}
			return sffake.Result{Columns: []sffake.Column{{Name: "COUNT(*)", Type: "fixed"}}, Rows: [][]*string{{sffake.Text(n)}}}
		}
		return sffake.Result{Columns: []sffake.Column{{Name: "1", Type: "fixed"}}, Rows: [][]*string{{sffake.Text("1")}}}
	}
	w := mustOpen(t, fk)
	ctx := context.Background()
	tests := []struct {
		schema, table string
		want          bool
	}{
		{"sluice", "customer_profiles", true},
		{"sluice", "Customer_Profiles", false}, // quoted as written: another table
		{"sluice", "customer_segment_vip", false},
	}
	for _, tc := range tests {
		got, err := w.TableExists(ctx, tc.schema, tc.table)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("TableExists(%s, %s) = %v, want %v", tc.schema, tc.table, got, tc.want)
		}
	}
}

func TestCancelledQuery(t *testing.T) {
	fk := start(t, password)
	fk.Handler = func(s sffake.Statement) sffake.Result {
		return sffake.Result{Columns: []sffake.Column{{Name: "1", Type: "fixed"}}, Rows: [][]*string{{sffake.Text("1")}}}
	}
	w := mustOpen(t, fk)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Query(ctx, "SELECT 1"); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("want a cancellation error, got %v", err)
	}
	if err := w.Check(context.Background()); err != nil {
		t.Fatalf("connection unusable after a cancelled query: %v", err)
	}
}

func TestDialectIsSnowflake(t *testing.T) {
	fk := start(t, password)
	w := mustOpen(t, fk)
	if _, ok := w.Dialect().(dialect.Snowflake); !ok {
		t.Fatalf("dialect %T", w.Dialect())
	}
}

// Values scanned into any come typed, as from other warehouses: the query
// command and syncs write numbers as numbers, not as the driver's text.
func TestAnyValuesAreTyped(t *testing.T) {
	fk := start(t, password)
	tx := sffake.Text
	fk.Handler = func(s sffake.Statement) sffake.Result {
		if !strings.HasPrefix(s.SQL, "SELECT n") {
			return sffake.Result{}
		}
		return sffake.Result{
			Columns: []sffake.Column{{Name: "N", Type: "fixed", Precision: 38}, {Name: "D", Type: "fixed", Precision: 12, Scale: 2},
				{Name: "F", Type: "real"}, {Name: "B", Type: "boolean"}, {Name: "V", Type: "variant"}, {Name: "BIG", Type: "fixed", Precision: 38}},
			Rows: [][]*string{{tx("42"), tx("512.50"), tx("0.5"), tx("1"), tx(`{"a": 1}`), tx("123456789012345678901234567890")}},
		}
	}
	w := mustOpen(t, fk)
	rows, err := w.Query(context.Background(), "SELECT n, d, f, b, v, big FROM t")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal("no row")
	}
	vals := make([]any, 6)
	ptrs := make([]any, 6)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	if vals[0] != int64(42) || vals[2] != 0.5 || vals[3] != true || vals[4] != `{"a": 1}` {
		t.Errorf("got %#v", vals)
	}
	for i, want := range map[int]string{1: "512.50", 5: "123456789012345678901234567890"} {
		if d, ok := vals[i].(interface{ String() string }); !ok || d.String() != want {
			t.Errorf("column %d = %#v, want the exact decimal %s", i, vals[i], want)
		}
	}
}
