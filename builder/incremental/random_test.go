package incremental_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder/incremental"
)

// TestRandomEditsMatchFullBuild edits both sources at random (rows added,
// deleted, identifiers changed or removed, keys shared by two rows, a
// limit per profile that splits components) and moves the clock by random
// steps; after each build, every published table must hold what a full
// build of the same data publishes. SLUICE_BUILD_SEED=n runs one seed,
// SLUICE_BUILD_STEPS=n that many builds.
func TestRandomEditsMatchFullBuild(t *testing.T) {
	// Seed 5 moves a kept purchaser's frequency or monetary score alone,
	// which only the in-place variant handles apart.
	seeds, inPlaceSeeds := []uint64{1, 2, 3}, []uint64{1, 2, 3, 5}
	if s := os.Getenv("SLUICE_BUILD_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds, inPlaceSeeds = []uint64{n}, []uint64{n}
	}
	steps := 6
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BUILD_STEPS")); err == nil && n > 0 {
		steps = n
	}
	limited := strings.Replace(projectYAML, "user_id: { normalize: trim }", "user_id: { normalize: trim, limit_per_profile: 1 }", 1)
	// Where no expression reads an RFM column, an in-place build updates
	// the rescored kept profiles' RFM columns where they are, and segments
	// reading them select those profiles again.
	variants := []struct {
		name, yaml string
		seeds      []uint64
	}{
		{"rfm read by an expression", limited, seeds},
		{"rfm updated in place", strings.Replace(limited, " OR rfm_r >= 2", "", 1), inPlaceSeeds},
	}
	eachWarehouse(t, func(t *testing.T, e env) {
		for _, v := range variants {
			if e.name != "duckdb" && v.name != variants[0].name {
				continue // only DuckDB publishes in place
			}
			yaml := v.yaml
			for _, seed := range v.seeds {
				t.Run(fmt.Sprintf("%s/seed=%d", v.name, seed), func(t *testing.T) {
					f, full := project(t, e, yaml), project(t, e, yaml)
					g := &generator{r: rand.New(rand.NewPCG(seed, 11))}
					data := g.tables(14, 24)
					now := day0
					f.set(data)
					f.build(incremental.Options{Now: now})
					moves := []time.Duration{0, time.Hour, 24 * time.Hour, 10 * 24 * time.Hour}
					modes := map[incremental.Mode]int{}
					for i := range steps {
						data = g.edit(data)
						now = now.Add(moves[g.r.IntN(len(moves))])
						f.set(data)
						o := f.build(incremental.Options{Now: now})
						full.set(data)
						full.build(incremental.Options{Now: now, Full: true})
						f.sameAs(full, fmt.Sprintf("seed %d, build %d (%s)", seed, i+1, o.Mode), published)
						modes[o.Mode]++
					}
					if modes[incremental.ModeIncremental] == 0 {
						t.Fatalf("no build was incremental: %v", modes)
					}
					t.Logf("builds: %v", modes)
				})
			}
		}
	})
}

// generator makes source rows from small pools of identifiers, so that
// rows link into profiles, merge and split as they change.
type generator struct {
	r    *rand.Rand
	next int // keys made so far, from 100 so as not to meet the first crm keys
}

var emails = []string{"ann@example.org", "BOB@example.org", " cy@example.org", "dee@example.org", "eve@example.org", "fay@example.org", "not an e-mail"}

// keyOf is the key of a row written as a tuple: its first value.
func keyOf(row string) string { return row[1:strings.Index(row, ",")] }

func (g *generator) key(prefix string) string {
	g.next++
	return fmt.Sprintf("'%s%d'", prefix, 100+g.next)
}

func (g *generator) maybe(pool []string, nullOneIn int) string {
	if g.r.IntN(nullOneIn) == 0 {
		return "NULL"
	}
	return "'" + pool[g.r.IntN(len(pool))] + "'"
}

func (g *generator) stamp(maxDays int) string {
	return "'" + day0.Add(-time.Duration(g.r.IntN(maxDays*24))*time.Hour).Format(time.DateTime) + "'"
}

func (g *generator) users() []string {
	return []string{"u1", "u2", "u3", "u4", "u5", "u6", " u7"}
}

func (g *generator) crmRow(key string) string {
	return fmt.Sprintf("(%s, %s, %s)", key, g.maybe(emails, 4), g.stamp(90))
}

func (g *generator) orderRow(key string) string {
	return fmt.Sprintf("(%s, %s, %s, %d, %s)", key, g.maybe(g.users(), 3), g.maybe(emails, 3), 1+g.r.IntN(40), g.stamp(60))
}

func (g *generator) tables(crm, orders int) tables {
	var tb tables
	for i := range crm {
		tb.crm = append(tb.crm, g.crmRow(fmt.Sprintf("'u%d'", i+1)))
	}
	for range orders {
		tb.orders = append(tb.orders, g.orderRow(g.key("o")))
	}
	return tb
}

// edit deletes, changes and adds a few rows of each table; a changed
// row keeps its key, and now and then a new row takes an existing key.
func (g *generator) edit(tb tables) tables {
	return tables{
		crm:    g.editRows(tb.crm, func() string { return g.key("u") }, g.crmRow),
		orders: g.editRows(tb.orders, func() string { return g.key("o") }, g.orderRow),
	}
}

func (g *generator) editRows(rows []string, newKey func() string, row func(key string) string) []string {
	var out []string
	for _, r := range rows {
		switch g.r.IntN(8) {
		case 0: // deleted
		case 1: // changed under the same key
			out = append(out, row(keyOf(r)))
		default:
			out = append(out, r)
		}
	}
	for range 1 + g.r.IntN(3) {
		key := newKey()
		if len(out) > 0 && g.r.IntN(6) == 0 {
			key = keyOf(out[g.r.IntN(len(out))])
		}
		out = append(out, row(key))
	}
	return out
}
