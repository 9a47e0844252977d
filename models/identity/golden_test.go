package identity

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// guardProject exercises normalisation, junk, blocklists and limits on a
// handful of people (see the comments of guardData).
const guardProject = `
sources:
  - { name: crm, table: raw.crm, primary_key: contact_id, timestamp: updated_at }
  - { name: web, table: raw.web, primary_key: event_id, timestamp: occurred_at }
  - { name: orders, table: raw.orders, primary_key: [shop, order_no], timestamp: ordered_at }
identity:
  id_types:
    email: { normalize: email, blocklist: [" Test@Example.com"], blocklist_patterns: ['.*@mailinator\.com'] }
    phone: { normalize: phone_e164, default_region: FR, limit_per_profile: 2 }
    user_id: { limit_per_profile: 1 }
    anonymous_id: {}
  edges:
    - { source: crm, ids: { user_id: contact_id, email: email, phone: phone } }
    - { source: web, ids: { anonymous_id: anonymous_id, user_id: user_id, email: email } }
    - { source: orders, ids: { email: email, phone: phone }, where: "status <> 'test'" }
`

var guardData = []string{
	"CREATE SCHEMA IF NOT EXISTS raw",
	`CREATE OR REPLACE TABLE raw.crm AS SELECT * FROM (VALUES
	-- Jane: C1, and a duplicate CRM contact C2 with the same e-mail, created later.
	('C1', 'Jane@Example.com ', '06 12 34 56 78', TIMESTAMP '2024-01-01 09:00:00'),
	('C2', 'jane@example.com', NULL, TIMESTAMP '2024-02-01 09:00:00'),
	-- Bob: C3, who shares a tablet (anonymous id a1) with Jane.
	('C3', 'bob@example.com', '+33 6 99 99 99 99', TIMESTAMP '2024-01-05 09:00:00'),
	-- Junk and blocklisted values link nothing.
	('C4', 'null', '0000000000', TIMESTAMP '2024-01-06 09:00:00'),
	('C5', 'test@example.com', 'abc', TIMESTAMP '2024-01-07 09:00:00'),
	('C6', 'x@MAILINATOR.com', '06 12', TIMESTAMP '2024-01-08 09:00:00'),
	-- Dan: three phones, one more than phone's limit of 2.
	('C7', 'dan@example.com', '01 23 45 67 89', TIMESTAMP '2024-01-10 09:00:00')
	) AS t(contact_id, email, phone, updated_at)`,
	`CREATE OR REPLACE TABLE raw.web AS SELECT * FROM (VALUES
	('E1', 'a1', 'C1', NULL, TIMESTAMP '2024-03-01 10:00:00'),
	('E2', 'a1', NULL, 'bob@example.com', TIMESTAMP '2024-03-02 10:00:00'),
	('E3', 'a2', NULL, NULL, TIMESTAMP '2024-03-03 10:00:00'),
	('E4', 'a1', NULL, 'JANE@example.com', TIMESTAMP '2024-03-04 10:00:00'),
	('E5', 'a1', 'C3', NULL, TIMESTAMP '2024-03-05 10:00:00'),
	('E6', 'undefined', 'C2', NULL, TIMESTAMP '2024-03-06 10:00:00'),
	('E7', 'a3', NULL, 'not an email', TIMESTAMP '2024-03-07 10:00:00')
	) AS t(event_id, anonymous_id, user_id, email, occurred_at)`,
	`CREATE OR REPLACE TABLE raw.orders AS SELECT * FROM (VALUES
	('eu', 1, 'dan@example.com', '+33 1 11 11 11 11', 'paid', TIMESTAMP '2024-04-01 12:00:00'),
	('eu', 2, 'dan@example.com', '0033 1 22 22 22 22', 'paid', TIMESTAMP '2024-04-02 12:00:00'),
	('us', 1, 'eve@example.com', '(415) 234-5678', 'paid', TIMESTAMP '2024-04-03 12:00:00'),
	('us', 2, 'bob@example.com', NULL, 'test', TIMESTAMP '2024-04-04 12:00:00')
	) AS t(shop, order_no, email, phone, status, ordered_at)`,
}

// dump renders the identity tables in a stable order.
func dump(t testing.TB, w warehouse.Warehouse, res *builder.Result) string {
	t.Helper()
	var b strings.Builder
	query := func(q string, each func(vals []sql.NullString)) {
		rows, err := w.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			each(vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	s := func(v sql.NullString) string {
		if !v.Valid {
			return "NULL"
		}
		return v.String
	}
	b.WriteString("== identity map (profile: identifiers, first seen, last seen, rows)\n")
	last := ""
	query(`SELECT profile_id, id_type, id_value, strftime(first_seen_at, '%Y-%m-%d %H:%M'), strftime(last_seen_at, '%Y-%m-%d %H:%M'), seen_count
		FROM sluice.customer_identity_map ORDER BY min(first_seen_at) OVER (PARTITION BY profile_id), profile_id, first_seen_at, id_type, id_value`, func(v []sql.NullString) {
		if v[0].String != last {
			fmt.Fprintf(&b, "%s\n", v[0].String)
			last = v[0].String
		}
		fmt.Fprintf(&b, "    %-13s %-20s %s  %s  %s\n", v[1].String, v[2].String, s(v[3]), s(v[4]), v[5].String)
	})
	b.WriteString("\n== row map (source, row key -> profile)\n")
	query(`SELECT source, replace(row_key, chr(31), '|'), profile_id FROM sluice.customer_row_map ORDER BY source, row_key`, func(v []sql.NullString) {
		fmt.Fprintf(&b, "%-7s %-6s %s\n", v[0].String, v[1].String, v[2].String)
	})
	b.WriteString("\n== not stitched (source, row key, type, raw value, why)\n")
	query(`SELECT source, replace(row_key, chr(31), '|'), id_type, raw, status FROM sluice.customer_identity_rejects ORDER BY source, row_key, id_type`, func(v []sql.NullString) {
		fmt.Fprintf(&b, "%-7s %-6s %-13s %-20q %s\n", v[0].String, v[1].String, v[2].String, v[3].String, v[4].String)
	})
	b.WriteString("\n== summary\n")
	for _, m := range res.Metrics {
		fmt.Fprintf(&b, "%s: %s\n", m.Name, m.Value)
	}
	for _, wn := range res.Warnings {
		fmt.Fprintf(&b, "warning: %s: %s: %d %s\n", strings.TrimPrefix(wn.Origin.String(), filepath.Dir(wn.Origin.File)+string(filepath.Separator)), wn.Check, wn.Count, wn.Label)
	}
	return b.String()
}

func TestGuardsGolden(t *testing.T) {
	w := openDuckDB(t)
	exec(t, w, guardData...)
	p := loadProject(t, map[string]string{"identity.yml": guardProject})
	res := build(t, w, p)
	golden(t, "guards.golden", dump(t, w, res))
}

// The same data without limits: the partition must be union-find's.
func TestNoLimitsIsUnionFind(t *testing.T) {
	w := openDuckDB(t)
	exec(t, w, guardData...)
	p := loadProject(t, map[string]string{"identity.yml": strings.NewReplacer(", limit_per_profile: 2", "", "{ limit_per_profile: 1 }", "{}").Replace(guardProject)})
	for _, typ := range p.Identity.IDTypes {
		if typ.LimitPerProfile != 0 {
			t.Fatal("limits left in the project")
		}
	}
	res := build(t, w, p)
	golden(t, "no-limits.golden", dump(t, w, res))
}
