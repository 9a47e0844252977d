package identity

import (
	"context"
	"testing"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

// profiles maps every identifier (type:value) to its profile id.
func profiles(t testing.TB, w warehouse.Warehouse) map[string]string {
	t.Helper()
	rows, err := w.Query(context.Background(), "SELECT id_type || ':' || id_value, profile_id FROM sluice.customer_identity_map")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, p string
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		out[id] = p
	}
	return out
}

func TestStableProfileIDs(t *testing.T) {
	w := openDuckDB(t)
	exec(t, w, guardData...)
	p := loadProject(t, map[string]string{"identity.yml": guardProject})
	build(t, w, p)
	base := profiles(t, w)

	same := func(t *testing.T, got map[string]string, except map[string]bool) {
		t.Helper()
		for id, want := range base {
			if except[id] {
				continue
			}
			if got[id] != want {
				t.Errorf("%s: profile %s, was %s", id, got[id], want)
			}
		}
	}

	t.Run("unrelated row added", func(t *testing.T) {
		exec(t, w, "INSERT INTO raw.crm VALUES ('C9', 'zoe@example.com', '07 00 00 00 01', TIMESTAMP '2023-06-01 00:00:00')")
		build(t, w, p)
		got := profiles(t, w)
		same(t, got, nil)
		if got["user_id:C9"] == "" || got["user_id:C9"] != got["email:zoe@example.com"] {
			t.Errorf("new person: %v", got)
		}
		exec(t, w, "DELETE FROM raw.crm WHERE contact_id = 'C9'")
	})

	t.Run("rows in another order", func(t *testing.T) {
		exec(t, w,
			"CREATE OR REPLACE TABLE raw.crm AS SELECT * FROM raw.crm ORDER BY contact_id DESC",
			"CREATE OR REPLACE TABLE raw.web AS SELECT * FROM raw.web ORDER BY event_id DESC",
			"CREATE OR REPLACE TABLE raw.orders AS SELECT * FROM raw.orders ORDER BY order_no DESC, shop DESC")
		build(t, w, p)
		same(t, profiles(t, w), nil)
	})

	t.Run("merge takes the older profile's id, split restores both", func(t *testing.T) {
		// Eve (first seen 2024-04-03) gives Dan's e-mail at checkout: Dan's
		// profile (first seen 2024-01-10) absorbs Eve's.
		exec(t, w, "INSERT INTO raw.orders VALUES ('us', 3, 'eve@example.com', '01 23 45 67 89', 'paid', TIMESTAMP '2024-05-01 00:00:00')")
		build(t, w, p)
		got := profiles(t, w)
		if got["email:eve@example.com"] != base["email:dan@example.com"] {
			t.Errorf("merged profile: eve %s, want dan's %s", got["email:eve@example.com"], base["email:dan@example.com"])
		}
		same(t, got, map[string]bool{"email:eve@example.com": true})

		exec(t, w, "DELETE FROM raw.orders WHERE shop = 'us' AND order_no = 3")
		build(t, w, p)
		same(t, profiles(t, w), nil)
	})
}
