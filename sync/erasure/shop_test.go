package erasure_test

// A small shop project on each warehouse with a sync state store: DuckDB
// always, the ClickHouse server of SLUICE_CLICKHOUSE_DSN when it is set
// (.ci/clickhouse.sh starts one; 18.16 in CI) and chDB, a current ClickHouse
// release in-process, in test binaries built with the chdb tag (see
// chdb_test.go). The same steps run on each, and what must be left of a
// person is written in Go, not read back from the warehouse that wrote it.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/connectors/webhook/fake"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/sync/engine"
	"github.com/sluicehq/sluice/sync/erasure"
	"github.com/sluicehq/sluice/sync/synctest"

	_ "github.com/sluicehq/sluice/connectors/clickhouse"
	_ "github.com/sluicehq/sluice/connectors/webhook"
	_ "github.com/sluicehq/sluice/models/all" // identity and profiles stages
)

// secret is the erasure secret of the shop project.
const secret = "0123456789abcdef-shop-secret"

// shopProject is the shop: contacts stitched on e-mail and user id; the
// device "unknown" is blocklisted, so that the two people who share it stay
// apart. RAW is the schema of the source tables.
const shopProject = `sources:
  - {name: contacts, table: RAW.contacts, primary_key: id, timestamp: ts}
identity:
  entity: customer
  id_types:
    email: {normalize: email}
    user_id: {}
    device: {blocklist: [unknown]}PHONE_TYPE
  edges:
    - {source: contacts, ids: {user_id: user_id, email: email, device: devicePHONE_ID}PHONE_EDGE}
traits:
  email: {pick: email, rule: most_recent}
  name: {from: contacts, pick: name, rule: most_recent}
destinations:
  - {name: hook, type: webhook, url: "${HOOK_URL}", bearer_token: "${HOOK_TOKEN}", rate: 1000, timeout: 2s, max_retries: 1}
syncs:
  - name: people_hook
    from: profiles
    to: hook
    mode: mirror
    key: email
    mapping:
      email: email
      name: name
`

// regionsIdentity makes the phone an identifier read in each row's
// country: the identity build then takes its other branch (values
// normalised per row rather than per distinct value).
var regionsIdentity = strings.NewReplacer(
	"PHONE_TYPE", "\n    phone: {normalize: phone_e164, default_region: FR}",
	"PHONE_ID", ", phone: phone",
	"PHONE_EDGE", ", region: country")

// contact is a row of RAW.contacts; "" is NULL.
type contact struct {
	id                              int
	userID, email, device, name, ts string
	phone, country                  string
}

// The people: A has two rows (the second spells the e-mail differently),
// B one; both carry the blocklisted device.
var (
	personA = []contact{
		{1, "u1", "alice@example.com", "unknown", "Alice", "2024-01-01 10:00:00", "06 12 34 56 78", "FR"},
		{2, "", " Alice@Example.COM ", "dev-alice", "", "2024-01-02 10:00:00", "", ""},
	}
	personB = []contact{
		{3, "u2", "bob@example.com", "unknown", "Bob", "2024-01-01 11:00:00", "", "DE"},
	}
	// rawOfA are A's identifiers and values as they appear anywhere: none
	// may be left anywhere sluice writes once A is erased.
	rawOfA = []string{"alice@example.com", "Alice@Example.COM", "u1", "dev-alice", "06 12 34 56 78", "+33612345678", "612345678"}
	rawOfB = []string{"bob@example.com", "u2"}
)

// shop is the shop project on one warehouse.
type shop struct {
	*synctest.Project
	kind    string
	regions bool   // the phone is an identifier (regionsIdentity)
	raw     string // schema of the source tables
	srv     *fake.Server
}

// warehouses are the kinds the tests run on; chdb_test.go adds chdb.
var warehouses = []string{"duckdb", "clickhouse"}

// openChDB opens chDB; nil in binaries built without the chdb tag.
var openChDB func(t testing.TB) warehouse.Warehouse

// forEachWarehouse runs fn on each warehouse.
func forEachWarehouse(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range warehouses {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

// shopOptions vary the shop.
type shopOptions struct {
	erasure string // appended to sluice.yml's erasure block; RAW. as in shopProject
	regions bool   // the phone is an identifier (regionsIdentity)
	more    string // more destinations and syncs, as more.yml
}

// newShop writes the shop project on a warehouse, loads the contacts and
// builds.
func newShop(t *testing.T, kind string, o shopOptions) *shop {
	t.Helper()
	env := map[string]string{"HOOK_TOKEN": "s3cret", "SECRET": secret}
	raw, yml := "raw", "version: 1\nname: shop\nwarehouse:\n  type: duckdb\n  threads: 2\n"
	var drop []string
	if kind != "duckdb" {
		dsn := os.Getenv("SLUICE_CLICKHOUSE_DSN")
		if kind == "clickhouse" && dsn == "" {
			t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
		}
		if kind == "chdb" {
			dsn = "clickhouse://default@127.0.0.1:9000/default" // not dialled: the warehouse is chDB's
		}
		// Databases of its own, so that parallel runs on one server never meet.
		base := fmt.Sprintf("sluice_erasure_test_%d", rand.Uint32())
		raw = base + "_raw"
		drop = []string{base, base + "_state", raw}
		env["CH_DSN"] = dsn
		yml = "version: 1\nname: shop\nwarehouse: {type: clickhouse, dsn: \"${CH_DSN}\"}\nschema: " + base + "\nstate_schema: " + base + "_state\n"
	}
	yml += "erasure:\n  secret: ${SECRET}\n" + strings.ReplaceAll(o.erasure, "RAW.", raw+".")
	srv := fake.New(t, fake.Options{Token: "s3cret"})
	env["HOOK_URL"] = srv.URL
	project := strings.NewReplacer("PHONE_TYPE", "", "PHONE_ID", "", "PHONE_EDGE", "").Replace(shopProject)
	if o.regions {
		project = regionsIdentity.Replace(shopProject)
	}
	files := map[string]string{"sluice.yml": yml, "shop.yml": strings.ReplaceAll(project, "RAW.", raw+".")}
	if o.more != "" {
		files["more.yml"] = o.more
	}
	var p *synctest.Project
	if kind == "chdb" {
		if openChDB == nil {
			t.Skip("built without the chdb tag")
		}
		p = onWarehouse(t, files, env, openChDB(t))
	} else {
		p = synctest.New(t, synctest.Options{Files: files, Env: env})
	}
	t.Cleanup(func() {
		for _, db := range drop {
			if err := p.W.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db); err != nil {
				t.Error(err)
			}
		}
	})
	s := &shop{Project: p, kind: kind, regions: o.regions, raw: raw, srv: srv}
	s.createTables(t)
	s.insert(t, append(append([]contact{}, personA...), personB...))
	s.Build(t)
	return s
}

// onWarehouse is synctest.New on a warehouse opened by the caller.
func onWarehouse(t *testing.T, files, env map[string]string, w warehouse.Warehouse) *synctest.Project {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.Load(dir, config.Options{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	e, err := engine.New(p, w)
	if err != nil {
		t.Fatal(err)
	}
	return &synctest.Project{Dir: dir, P: p, W: w, Engine: e, Env: env}
}

func (s *shop) createTables(t *testing.T) {
	t.Helper()
	if s.kind == "duckdb" {
		s.Exec(t, "CREATE SCHEMA raw",
			"CREATE TABLE raw.contacts (id INTEGER, user_id VARCHAR, email VARCHAR, device VARCHAR, name VARCHAR, ts TIMESTAMP, phone VARCHAR, country VARCHAR)",
			"CREATE TABLE raw.erasure_requests (id_type VARCHAR, id_value VARCHAR, requested_at TIMESTAMP)")
		return
	}
	s.Exec(t, "CREATE DATABASE "+s.raw,
		"CREATE TABLE "+s.raw+".contacts (id Int32, user_id Nullable(String), email Nullable(String), device Nullable(String), name Nullable(String), ts DateTime, phone Nullable(String), country Nullable(String)) ENGINE = MergeTree ORDER BY id",
		"CREATE TABLE "+s.raw+".erasure_requests (id_type String, id_value String, requested_at DateTime) ENGINE = MergeTree ORDER BY requested_at")
}

// insert appends contacts.
func (s *shop) insert(t *testing.T, rows []contact) {
	t.Helper()
	d := s.W.Dialect()
	lit := func(v string) string {
		if v == "" {
			return "NULL"
		}
		return d.String(v)
	}
	// One INSERT ... SELECT per row: ClickHouse's native protocol waits for
	// data blocks after an inline VALUES.
	for _, r := range rows {
		s.Exec(t, fmt.Sprintf("INSERT INTO %s.contacts (id, user_id, email, device, name, ts, phone, country) SELECT %d, %s, %s, %s, %s, %s, %s, %s",
			s.raw, r.id, lit(r.userID), lit(r.email), lit(r.device), lit(r.name), s.timestamp(t, r.ts), lit(r.phone), lit(r.country)))
	}
}

// request appends a row to the requests table.
func (s *shop) request(t *testing.T, idType, value, at string) {
	t.Helper()
	d := s.W.Dialect()
	s.Exec(t, "INSERT INTO "+s.raw+".erasure_requests (id_type, id_value, requested_at) SELECT "+d.String(idType)+", "+d.String(value)+", "+s.timestamp(t, at))
}

// timestamp is a literal of the warehouse's timestamp type.
func (s *shop) timestamp(t *testing.T, v string) string {
	t.Helper()
	ts, err := time.Parse(time.DateTime, v)
	if err != nil {
		t.Fatal(err)
	}
	return s.W.Dialect().TimestampLiteral(ts)
}

// service is the project's erasure service, as the engine has it.
func (s *shop) service(t *testing.T) *erasure.Service {
	t.Helper()
	svc := s.Engine.Erasure()
	if svc == nil {
		t.Fatal("the engine has no erasure service")
	}
	return svc
}

// serviceWith is an erasure service of the same project with another
// secret.
func (s *shop) serviceWith(t *testing.T, secret string) *erasure.Service {
	t.Helper()
	p := *s.P
	e := *s.P.Erasure
	e.Secret = config.Secret(secret)
	p.Erasure = &e
	svc, err := erasure.New(&p, s.W, s.Engine.Store())
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// sync runs the sync after a build, erasing first, as sluice sync does.
func (s *shop) sync(t *testing.T) *engine.Result {
	t.Helper()
	res, err := s.Engine.Sync(context.Background(), "people_hook", engine.SyncOptions{Erase: true})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return res
}

// strings runs a query returning one text column.
func (s *shop) strings(t *testing.T, q string) []string {
	t.Helper()
	rows, err := s.W.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v *string
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if v != nil {
			out = append(out, *v)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// compiler names the project's tables.
func (s *shop) compiler() *models.Compiler { return &models.Compiler{P: s.P, D: s.W.Dialect()} }

// table is a table of the project's schema.
func (s *shop) table(name string) string { return s.compiler().Table(name) }

// stateTable is a table of the state schema.
func (s *shop) stateTable(name string) string { return s.Engine.Store().Table(name) }

// text casts a column to text.
func (s *shop) text(col string) string { return s.W.Dialect().CastText(col) }
