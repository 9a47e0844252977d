// Package snowflake is the Snowflake warehouse, through the official
// driver (github.com/snowflakedb/gosnowflake). It connects with a DSN, or
// with account, user and password or an RSA key (key-pair
// authentication), in a virtual warehouse, role and database.
//
// sluice quotes names the way Snowflake stores unquoted ones (see
// dialect.Snowflake), and this connector reads result columns back the
// same way: a column Snowflake reports as PROFILE_ID is profile_id to the
// rest of sluice, while Mixed Case stays as it is.
package snowflake

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models/dialect"
)

func init() {
	warehouse.Register("snowflake", Open)
	// The driver logs failed logins and statements at error level on
	// stderr, SQL text included; sluice reports errors itself, once, with
	// context, and never logs data.
	sf.GetLogger().SetOutput(io.Discard)
}

// Warehouse is a Snowflake connection pool.
type Warehouse struct {
	db      *sql.DB
	account string
	user    string
}

var (
	_ warehouse.Warehouse = (*Warehouse)(nil)
	_ warehouse.CSVLoader = (*Warehouse)(nil)
)

// sessionParams are set on every session: quoted names stay case-sensitive
// whatever the account says (sluice's quoting depends on it), timestamps
// written as text keep every digit (TryCast goes through text), and
// sluice's queries are tagged in the query history.
var sessionParams = map[string]string{
	"QUOTED_IDENTIFIERS_IGNORE_CASE": "FALSE",
	"TIMESTAMP_NTZ_OUTPUT_FORMAT":    "YYYY-MM-DD HH24:MI:SS.FF9",
	"TIMESTAMP_LTZ_OUTPUT_FORMAT":    "YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM",
	"TIMESTAMP_TZ_OUTPUT_FORMAT":     "YYYY-MM-DD HH24:MI:SS.FF9 TZH:TZM",
	"QUERY_TAG":                      "sluice",
}

// Open connects with the project's warehouse settings and checks that the
// credentials work.
func Open(ctx context.Context, cfg warehouse.Config) (warehouse.Warehouse, error) {
	sc, err := DriverConfig(cfg)
	if err != nil {
		return nil, err
	}
	return OpenDriver(ctx, sc)
}

// DriverConfig turns the project's settings into the driver's: the DSN
// when one is given, else account, user, password or private key,
// database, warehouse and role (host and port override where the driver
// connects, for proxies and tests).
func DriverConfig(cfg warehouse.Config) (*sf.Config, error) {
	w := cfg.Warehouse
	var sc *sf.Config
	if w.DSN != "" {
		parsed, err := sf.ParseDSN(string(w.DSN))
		if err != nil {
			// The DSN holds the password: the error names the setting, not
			// the value.
			return nil, fmt.Errorf("reading the snowflake dsn (warehouse.dsn): %w", redactDSN(err))
		}
		sc = parsed
	} else {
		sc = &sf.Config{
			Account:   w.Account,
			User:      w.User,
			Password:  string(w.Password),
			Database:  w.Database,
			Warehouse: w.VirtualWarehouse,
			Role:      w.Role,
		}
		missing := ""
		switch {
		case w.Account == "":
			missing = "account"
		case w.User == "":
			missing = "user"
		case w.Password == "" && w.PrivateKeyFile == "":
			missing = "password or private_key_file"
		}
		if missing != "" {
			return nil, fmt.Errorf("snowflake warehouse needs %s (or a dsn)", missing)
		}
		if w.PrivateKeyFile != "" {
			key, err := readPrivateKey(cfg.ProjectDir, w.PrivateKeyFile)
			if err != nil {
				return nil, err
			}
			sc.Password = ""
			sc.Authenticator = sf.AuthTypeJwt
			sc.PrivateKey = key
		}
		if w.Host != "" {
			sc.Host = w.Host
		}
		if w.Port != 0 {
			sc.Port = w.Port
		}
	}
	if sc.Params == nil {
		sc.Params = map[string]*string{}
	}
	for k, v := range sessionParams {
		if _, set := sc.Params[k]; !set {
			sc.Params[k] = &v
		}
	}
	sc.Application = "sluice"
	sc.Tracing = "fatal"
	sc.DisableTelemetry = true
	if sc.LoginTimeout == 0 {
		sc.LoginTimeout = time.Minute
	}
	return sc, nil
}

// redactDSN keeps the driver's explanation but never the DSN text.
func redactDSN(err error) error {
	var se *sf.SnowflakeError
	if errors.As(err, &se) {
		return fmt.Errorf("%s (driver error %d)", se.Message, se.Number)
	}
	return errors.New("not a valid gosnowflake DSN: write user:password@account/database?warehouse=WH&role=ROLE")
}

// readPrivateKey reads an unencrypted RSA key in PEM (PKCS#8 or PKCS#1).
func readPrivateKey(dir, path string) (*rsa.PrivateKey, error) {
	// Relative paths stay in the project, checked again here (see config.ResolvePath).
	path, err := config.ResolvePath(dir, path)
	if err != nil {
		return nil, fmt.Errorf("snowflake private_key_file: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading snowflake private_key_file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("reading snowflake private_key_file %s: no PEM block found", path)
	}
	if block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("snowflake private_key_file %s is encrypted: sluice reads unencrypted keys (openssl pkcs8 -topk8 -nocrypt -in key.p8 -out key-plain.p8), kept readable only by sluice's user", path)
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("snowflake private_key_file %s: key-pair authentication needs an RSA key, not %T", path, k)
		}
		return rk, nil
	}
	rk, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("snowflake private_key_file %s: not a PKCS#8 or PKCS#1 RSA private key: %w", path, err)
	}
	return rk, nil
}

// OpenDriver connects with a driver configuration and checks it.
func OpenDriver(ctx context.Context, sc *sf.Config) (*Warehouse, error) {
	db := sql.OpenDB(sf.NewConnector(sf.SnowflakeDriver{}, *sc))
	w := &Warehouse{db: db, account: sc.Account, user: sc.User}
	if err := w.Check(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return w, nil
}

// DB exposes the pool for tests.
func (w *Warehouse) DB() *sql.DB { return w.db }

// Dialect implements warehouse.Warehouse.
func (w *Warehouse) Dialect() dialect.Dialect { return dialect.Snowflake{} }

// Check implements warehouse.Warehouse: logs in (once per pooled
// connection) and runs SELECT 1.
func (w *Warehouse) Check(ctx context.Context) error {
	var one int64
	if err := w.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return w.explain("checking the connection", err)
	}
	return nil
}

// Exec implements warehouse.Warehouse.
func (w *Warehouse) Exec(ctx context.Context, query string, args ...any) error {
	if _, err := w.db.ExecContext(ctx, query, args...); err != nil {
		return w.explain("running a statement", err)
	}
	return nil
}

// Query implements warehouse.Warehouse.
func (w *Warehouse) Query(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	rows, err := w.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, w.explain("running a query", err)
	}
	return newRows(rows)
}

// CreateSchema implements warehouse.Warehouse.
func (w *Warehouse) CreateSchema(ctx context.Context, schema string) error {
	return w.Exec(ctx, w.Dialect().CreateSchema(schema))
}

// TableExists implements warehouse.Warehouse, in the connection's
// database, with names folded as Ident folds them.
func (w *Warehouse) TableExists(ctx context.Context, schema, table string) (bool, error) {
	var n int64
	err := w.db.QueryRowContext(ctx,
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
		dialect.SnowflakeName(schema), dialect.SnowflakeName(table)).Scan(&n)
	if err != nil {
		return false, w.explain(fmt.Sprintf("looking up table %s.%s", schema, table), err)
	}
	return n > 0, nil
}

// LoadCSV implements warehouse.CSVLoader with the statements of
// dialect.Snowflake.LoadCSVStatements, one at a time: PUT is a client
// command (the driver uploads the file to the stage), the others SQL.
func (w *Warehouse) LoadCSV(ctx context.Context, schema, table, path string, types []dialect.ColumnType) error {
	d := dialect.Snowflake{}
	stmts, err := d.LoadCSVStatements(d.Table(schema, table), path, types)
	if err != nil {
		return err
	}
	for _, q := range stmts {
		if err := w.Exec(ctx, q); err != nil {
			return fmt.Errorf("loading %s into %s.%s: %w", path, schema, table, err)
		}
	}
	return nil
}

// Close implements warehouse.Warehouse.
func (w *Warehouse) Close() error { return w.db.Close() }
