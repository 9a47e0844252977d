package identity

import (
	"context"
	"strings"
	"testing"
)

// TestPhoneRegionColumn: with `region:` on an edge, a national number is
// read in the row's country; rows without a supported country fall back to
// the default region, and the same raw number in two countries gives two
// different identifiers.
func TestPhoneRegionColumn(t *testing.T) {
	p := loadProject(t, map[string]string{
		"project.yml": `
sources:
  - { name: crm, table: raw.crm, primary_key: id }
  - { name: orders, table: raw.orders, primary_key: id }
identity:
  id_types:
    user_id: {}
    phone: { normalize: phone_e164, default_region: FR }
  edges:
    - { source: crm, ids: { user_id: id, phone: phone }, region: country }
    - { source: orders, ids: { user_id: id, phone: phone } }
`,
	})
	w := openDuckDB(t)
	exec(t, w,
		"CREATE SCHEMA raw",
		`CREATE TABLE raw.crm AS SELECT * FROM (VALUES
			('c1', '06 12 34 56 78', 'FR'),
			('c2', '07911 123456', 'GB'),
			('c3', '(415) 555-2671', 'us'),
			('c4', '0151 23456789', 'DE'),
			('c5', '06 98 76 54 32', NULL),
			('c6', '06 11 11 11 11', 'XX'),
			('c7', '+44 7911 654321', 'FR')
		) AS v(id, phone, country)`,
		`CREATE TABLE raw.orders AS SELECT * FROM (VALUES
			('o1', '07911 123456'),
			('o2', '0612345678')
		) AS v(id, phone)`,
	)
	build(t, w, p)
	got := map[string]string{}
	var id, phone string
	r, err := w.Query(context.Background(), `
		SELECT m.id_value AS user_id, coalesce(p.id_value, 'NULL') AS phone
		FROM sluice.customer_identity_map m
		LEFT JOIN sluice.customer_identity_map p ON p.profile_id = m.profile_id AND p.id_type = 'phone'
		WHERE m.id_type = 'user_id'
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		if err := r.Scan(&id, &phone); err != nil {
			t.Fatal(err)
		}
		got[id] = phone
	}
	want := map[string]string{
		"c1": "+33612345678",
		"c2": "+447911123456",
		"c3": "+14155552671",
		"c4": "+4915123456789",
		"c5": "+33698765432",  // no country: the default region
		"c6": "+33611111111",  // unsupported country: the default region
		"c7": "+447911654321", // international numbers ignore the region
		"o1": "NULL",          // no region column: read in FR, where 07911 123456 is not a number
		"o2": "+33612345678",
	}
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, k+": got "+got[k]+", want "+v)
		}
	}
	if len(diffs) > 0 {
		t.Errorf("phones by user:\n%s", strings.Join(diffs, "\n"))
	}
}
