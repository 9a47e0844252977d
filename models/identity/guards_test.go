package identity

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomRows draws web-event-like rows (user_id, email, anonymous id) from
// small pools, so that components often hold several user ids.
func randomRows(n int, seed uint64) [][4]string {
	r := rand.New(rand.NewPCG(seed, 3))
	pick := func(prefix string, pool int, p float64) string {
		if r.Float64() >= p {
			return ""
		}
		return fmt.Sprintf("%s%d", prefix, r.IntN(pool))
	}
	rows := make([][4]string, n)
	for i := range rows {
		rows[i] = [4]string{fmt.Sprint(i), pick("u", n/3+1, 0.5), pick("e", n/2+1, 0.5), pick("a", n/2+1, 0.8)}
	}
	return rows
}

const guardGraphProject = `
sources:
  - { name: ev, table: raw.ev, primary_key: k, timestamp: ts }
identity:
  id_types:
    user_id: { limit_per_profile: 1 }
    email: { limit_per_profile: 2 }
    anonymous_id: {}
  edges:
    - { source: ev, ids: { user_id: u, email: e, anonymous_id: a } }
`

// TestGuardInvariants checks, on random data, what the guards promise:
// every profile respects every limit, every profile is connected through
// its own rows, components within the limits are union-find's, and the
// result does not depend on row order.
func TestGuardInvariants(t *testing.T) {
	w := openDuckDB(t)
	p := loadProject(t, map[string]string{"g.yml": guardGraphProject})
	for seed := uint64(1); seed <= 6; seed++ {
		rows := randomRows(300, seed)
		var maps []map[string]string
		for _, order := range [][]int{inOrder(len(rows)), shuffled(len(rows), seed)} {
			values := make([]string, len(order))
			for i, j := range order {
				r := rows[j]
				lit := func(s string) string {
					if s == "" {
						return "NULL"
					}
					return duck.String(s)
				}
				// Timestamps follow the row number, not the insertion order.
				values[i] = fmt.Sprintf("(%s, %s, %s, %s, TIMESTAMP '2024-01-01' + INTERVAL (%s) MINUTE)", duck.String(r[0]), lit(r[1]), lit(r[2]), lit(r[3]), r[0])
			}
			exec(t, w, "CREATE SCHEMA IF NOT EXISTS raw", "CREATE OR REPLACE TABLE raw.ev AS SELECT * FROM (VALUES "+strings.Join(values, ", ")+") AS t(k, u, e, a, ts)")
			res := build(t, w, p)
			if m := metric(res, "merges blocked by user_id limit 1"); m == "0" {
				t.Errorf("seed %d: no conflict to exercise", seed)
			}
			maps = append(maps, profiles(t, w))
		}
		if fmt.Sprint(maps[0]) != fmt.Sprint(maps[1]) {
			t.Errorf("seed %d: the result depends on row order", seed)
		}
		checkGuardInvariants(t, seed, rows, maps[0])
	}
}

func checkGuardInvariants(t *testing.T, seed uint64, rows [][4]string, prof map[string]string) {
	t.Helper()
	types := []string{"user_id", "email", "anonymous_id"}
	limit := map[string]int{"user_id": 1, "email": 2}
	// Limits.
	count := map[string]map[string]int{}
	for id, p := range prof {
		typ := strings.SplitN(id, ":", 2)[0]
		if count[p] == nil {
			count[p] = map[string]int{}
		}
		count[p][typ]++
	}
	for p, c := range count {
		for typ, n := range limit {
			if c[typ] > n {
				t.Errorf("seed %d: profile %s has %d %s values, limit %d", seed, p, c[typ], typ, n)
			}
		}
	}
	ids := func(r [4]string) []string {
		var out []string
		for i, typ := range types {
			if r[i+1] != "" {
				out = append(out, typ+":"+r[i+1])
			}
		}
		return out
	}
	// Union-find over all rows, and over each profile's own links.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == "" || parent[x] == x {
			parent[x] = x
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	inner := map[string]string{}
	var findIn func(string) string
	findIn = func(x string) string {
		if inner[x] == "" || inner[x] == x {
			inner[x] = x
			return x
		}
		inner[x] = findIn(inner[x])
		return inner[x]
	}
	for _, r := range rows {
		v := ids(r)
		for i := 1; i < len(v); i++ {
			parent[find(v[i])] = find(v[0])
		}
		// Links within a profile: identifiers of the row in the same profile.
		for i := 0; i < len(v); i++ {
			for j := i + 1; j < len(v); j++ {
				if prof[v[i]] == prof[v[j]] {
					inner[findIn(v[j])] = findIn(v[i])
				}
			}
		}
	}
	// Connectedness: one inner root per profile.
	rootOf := map[string]string{}
	for id, p := range prof {
		r := findIn(id)
		if q, ok := rootOf[p]; ok && q != r {
			t.Errorf("seed %d: profile %s is not connected through its own rows", seed, p)
			break
		}
		rootOf[p] = r
	}
	// Components within the limits are exactly union-find's.
	members := map[string][]string{}
	for id := range prof {
		members[find(id)] = append(members[find(id)], id)
	}
	for _, m := range members {
		c := map[string]int{}
		for _, id := range m {
			c[strings.SplitN(id, ":", 2)[0]]++
		}
		if c["user_id"] > 1 || c["email"] > 2 {
			continue
		}
		for _, id := range m {
			if prof[id] != prof[m[0]] {
				t.Errorf("seed %d: component within limits split: %s and %s", seed, id, m[0])
			}
		}
	}
}
