package identity

import (
	"fmt"

	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

// ccTables are the working tables of one connected-components computation.
// Identity stitching runs it once on the whole graph and, when a limit is
// broken, once more on the regions of the components over the limit.
type ccTables struct {
	links string // (a, b): the current graph of supernodes, both directions, no self-links
	ptr   string // (v, p): the pointer of each live supernode in this round
	live  string // (id, label): identifiers of components still being contracted, and their supernode
	done  string // (id, label): identifiers of finished components, and their final label
	round string // (round): the round number, which seeds the random priorities
}

func (k *compiler) ccTables(prefix string) ccTables {
	return ccTables{
		links: k.table(prefix + "links"),
		ptr:   k.table(prefix + "pointers"),
		live:  k.table(prefix + "live"),
		done:  k.table(prefix + "done"),
		round: k.table(prefix + "round"),
	}
}

func (t ccTables) all() []string { return []string{t.links, t.ptr, t.live, t.done, t.round} }

// ccInit starts a components computation over pairs, a query returning
// BIGINT columns a and b (one direction is enough, self-pairs are ignored).
// Identifiers on no pair are components of their own and never enter the
// working tables: their label is themselves.
func ccInit(d dialect.Dialect, t ccTables, pairs string) []string {
	return append([]string{
		`-- The graph to split into components, with every link in both directions
-- (deduplicated one way first, which is half the work).
` + d.ReplaceTable(t.links, `WITH
    pairs AS (
`+indent(pairs, "        ")+`
    ),
    one_way AS (
        SELECT DISTINCT greatest(a, b) AS a, least(a, b) AS b
        FROM pairs
        WHERE a <> b
    )
SELECT a, b FROM one_way
UNION ALL
SELECT b AS a, a AS b FROM one_way`),
		`-- Every linked identifier starts as a supernode of its own.
` + d.ReplaceTable(t.live, `SELECT DISTINCT a AS id, a AS label
FROM `+t.links),
		`-- Identifiers of finished components land here with their final label.
` + d.ReplaceTable(t.done, `SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS BIGINT) AS label
WHERE 1 = 0`),
		d.ReplaceTable(t.round, `SELECT 0 AS round`),
		`-- A first, cheap contraction before the rounds: each identifier points to
-- the smallest identifier it is linked to (itself when smaller), and pointers
-- are followed twice more. Source rows are stars around their smallest
-- identifier, so this collapses every row, and most small profiles entirely.
` + d.ReplaceTable(t.ptr, `WITH
    smallest AS (
        SELECT a AS v, least(a, min(b)) AS p
        FROM `+t.links+`
        GROUP BY a
    ),
    jump AS (  -- follow the pointer once more
        SELECT s.v, u.p
        FROM smallest AS s
        JOIN smallest AS u ON u.v = s.p
    )
SELECT j.v, k.p
FROM jump AS j
JOIN jump AS k ON k.v = j.p`),
	}, contract(d, t)...)
}

// contract applies the pointers of a round: the links are rewritten
// between the supernodes their ends point to, identifiers follow their
// supernode, and components left without links are finished.
func contract(d dialect.Dialect, t ccTables) []string {
	return []string{
		`-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
` + d.ReplaceTable(t.links, fmt.Sprintf(`SELECT DISTINCT pa.p AS a, pb.p AS b
FROM %[1]s AS l
JOIN %[2]s AS pa ON pa.v = l.a
JOIN %[2]s AS pb ON pb.v = l.b
WHERE pa.p <> pb.p`, t.links, t.ptr)),
		`-- Identifiers follow their supernode.
` + d.ReplaceTable(t.live, fmt.Sprintf(`SELECT i.id, p.p AS label
FROM %[1]s AS i
JOIN %[2]s AS p ON p.v = i.label`, t.live, t.ptr)),
		`-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO ` + t.done + fmt.Sprintf(`
SELECT i.id, i.label
FROM %[1]s AS i
WHERE NOT EXISTS (SELECT 1 FROM %[2]s AS l WHERE l.a = i.label)`, t.live, t.links),
		`DELETE FROM ` + t.live + fmt.Sprintf(`
WHERE NOT EXISTS (SELECT 1 FROM %[1]s AS l WHERE l.a = %[2]s.label)`, t.links, t.live),
	}
}

// ccLoop is one round of randomised contraction: every supernode points to
// the supernode of smallest random priority within two links (itself
// included), pointers are followed twice more, and the graph is contracted
// along the pointers. A pointer always stays inside a component, so the
// components never change; every round merges each supernode with at least
// its best neighbour, and finished components leave the working set.
func ccLoop(d dialect.Dialect, t ccTables, maxRounds int, what string) *models.Loop {
	prio := func(col string) string { return d.Hash64(col, "r.round") }
	return &models.Loop{
		Body: append([]string{
			`-- A new round draws new random priorities.
UPDATE ` + t.round + ` SET round = round + 1`,
			`-- Each supernode points to the supernode with the smallest priority within
-- two links (itself included); then pointers are followed twice (pointer
-- jumping), so chains of up to four pointers collapse within the round.
` + d.ReplaceTable(t.ptr, fmt.Sprintf(`WITH
    r AS (SELECT round FROM %[1]s),
    near AS (  -- best supernode within one link, itself included
        SELECT
            l.a AS v,
            CASE WHEN %[2]s <= min(%[3]s) THEN l.a ELSE %[4]s END AS u,
            least(%[2]s, min(%[3]s)) AS h
        FROM %[5]s AS l, r
        GROUP BY l.a, r.round
    ),
    far AS (  -- best supernode within two links
        SELECT
            n.v,
            CASE WHEN n.h <= min(m.h) THEN n.u ELSE %[6]s END AS p
        FROM near AS n
        JOIN %[5]s AS l ON l.a = n.v
        JOIN near AS m ON m.v = l.b
        GROUP BY n.v, n.u, n.h
    ),
    jump AS (  -- follow the pointer once more
        SELECT f.v, g.p
        FROM far AS f
        JOIN far AS g ON g.v = f.p
    )
SELECT j.v, k.p
FROM jump AS j
JOIN jump AS k ON k.v = j.p`, t.round, prio("l.a"), prio("l.b"), d.ArgMin("l.b", prio("l.b")), t.links, d.ArgMin("m.u", "m.h"))),
		}, contract(d, t)...),
		Changed:   "-- Links left between different supernodes (0: every component is found).\nSELECT count(*) FROM " + t.links,
		MaxRounds: maxRounds,
		What:      what,
	}
}
