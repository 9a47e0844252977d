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
	round string // (n): the round number, which seeds the random priorities
	work  func(name string) string
}

func (k *compiler) ccTables(prefix string) ccTables {
	return ccTables{
		links: k.table(prefix + "links"),
		ptr:   k.table(prefix + "pointers"),
		live:  k.table(prefix + "live"),
		done:  k.table(prefix + "done"),
		round: k.table(prefix + "round"),
		work:  func(name string) string { return k.table(prefix + "w_" + name) },
	}
}

func (t ccTables) all() []string { return []string{t.links, t.ptr, t.live, t.done, t.round} }

// The queries below keep to SQL every warehouse runs (ClickHouse 18.16
// included): one join per SELECT, the right side of a join renamed so that
// no name is shared, and no alias that shadows a column the query reads.

// ccInit starts a components computation over pairs, a query returning
// BIGINT columns a and b (one direction is enough, self-pairs are ignored).
// Identifiers on no pair are components of their own and never enter the
// working tables: their label is themselves.
func ccInit(d dialect.Dialect, t ccTables, pairs string) []string {
	links := dialect.NewScope(d, t.work)
	oneWay := links.Add("one_way", "", `SELECT DISTINCT greatest(p.a, p.b) AS x, least(p.a, p.b) AS y
FROM (
`+dialect.Indent(pairs, "    ")+`
) AS p
WHERE p.a <> p.b`)
	ptr := dialect.NewScope(d, t.work)
	smallest := ptr.Add("smallest", "", `SELECT a AS v, least(a, min(b)) AS p
FROM `+t.links+`
GROUP BY a`)
	jump := ptr.Add("jump", "follow the pointer once more", `SELECT s.v AS v, u.u_p AS p
FROM `+smallest+` AS s
JOIN (SELECT v AS u_v, p AS u_p FROM `+smallest+`) AS u ON u.u_v = s.p`)
	stmts := links.ReplaceTable(t.links, `SELECT x AS a, y AS b FROM `+oneWay+`
UNION ALL
SELECT y AS a, x AS b FROM `+oneWay)
	stmts[0] = "-- The graph to split into components, with every link in both directions\n-- (deduplicated one way first, which is half the work).\n" + stmts[0]
	stmts = append(stmts, d.ReplaceTable(t.round, `SELECT 0 AS n`))
	first := ptr.ReplaceTable(t.ptr, `SELECT j.v AS v, k.k_p AS p
FROM `+jump+` AS j
JOIN (SELECT v AS k_v, p AS k_p FROM `+jump+`) AS k ON k.k_v = j.p`)
	first[0] = `-- A first, cheap contraction before the rounds: each identifier points to
-- the smallest identifier it is linked to (itself when smaller), and pointers
-- are followed twice more. Source rows are stars around their smallest
-- identifier, so this collapses every row, and most small profiles entirely.
` + first[0]
	stmts = append(append(stmts, first...),
		contractLinks(d, t),
		// The pointers hold every linked identifier once, so they are the
		// first working set as they are.
		`-- Every linked identifier joins the supernode it points to.
`+d.ReplaceTable(t.live, `SELECT v AS id, p AS label
FROM `+t.ptr),
		`-- Identifiers of finished components land here with their final label.
`+d.ReplaceTable(t.done, `SELECT id, label
FROM `+t.live+`
WHERE 1 = 0`))
	return append(stmts, retire(d, t)...)
}

// contract applies the pointers of a round: the links are rewritten
// between the supernodes their ends point to, identifiers follow their
// supernode, and components left without links are finished.
func contract(d dialect.Dialect, t ccTables) []string {
	return append([]string{contractLinks(d, t),
		`-- Identifiers follow their supernode.
` + d.ReplaceTable(t.live, fmt.Sprintf(`SELECT f.i_id AS id, f.i_label AS label
FROM (
    SELECT i.id AS i_id, p.p_p AS i_label
    FROM %[1]s AS i
    JOIN (SELECT v AS p_v, p AS p_p FROM %[2]s) AS p ON p.p_v = i.label
) AS f`, t.live, t.ptr)),
	}, retire(d, t)...)
}

// contractLinks rewrites each link between the supernodes its ends point to.
func contractLinks(d dialect.Dialect, t ccTables) string {
	return `-- Contract: each link now joins the supernodes its ends point to; links
-- inside a supernode disappear.
` + d.ReplaceTable(t.links, fmt.Sprintf(`SELECT DISTINCT h.pa AS a, pb.pb_p AS b
FROM (
    SELECT pa.pa_p AS pa, l.b AS lb
    FROM %[1]s AS l
    JOIN (SELECT v AS pa_v, p AS pa_p FROM %[2]s) AS pa ON pa.pa_v = l.a
) AS h
JOIN (SELECT v AS pb_v, p AS pb_p FROM %[2]s) AS pb ON pb.pb_v = h.lb
WHERE h.pa <> pb.pb_p`, t.links, t.ptr))
}

// retire moves the identifiers of supernodes left without links, which are
// finished components, from the working set to the done table.
func retire(d dialect.Dialect, t ccTables) []string {
	return []string{
		`-- A supernode without links is a finished component: it leaves the
-- working set, which only keeps what can still change.
INSERT INTO ` + t.done + fmt.Sprintf(`
SELECT id, label
FROM %[1]s
WHERE label NOT IN (SELECT a FROM %[2]s)`, t.live, t.links),
		d.ReplaceTable(t.live, fmt.Sprintf(`SELECT id, label
FROM %[1]s
WHERE label IN (SELECT a FROM %[2]s)`, t.live, t.links)),
	}
}

// ccLoop is one round of randomised contraction: every supernode points to
// the supernode of smallest random priority within two links (itself
// included), pointers are followed twice more, and the graph is contracted
// along the pointers. A pointer always stays inside a component, so the
// components never change; every round merges each supernode with at least
// its best neighbour, and finished components leave the working set.
func ccLoop(d dialect.Dialect, t ccTables, maxRounds int, what string) *models.Loop {
	round := "(SELECT n FROM " + t.round + ")"
	prio := func(col string) string { return d.Hash64(col, round) }
	s := dialect.NewScope(d, t.work)
	near := s.Add("near", "best supernode within one link, itself included", fmt.Sprintf(`SELECT
    l.a AS v,
    CASE WHEN %[1]s <= min(%[2]s) THEN l.a ELSE %[3]s END AS u,
    least(%[1]s, min(%[2]s)) AS h
FROM %[4]s AS l
GROUP BY l.a`, prio("l.a"), prio("l.b"), d.ArgMin("l.b", prio("l.b")), t.links))
	far := s.Add("far", "best supernode within two links", fmt.Sprintf(`SELECT
    nl.v AS v,
    CASE WHEN nl.h <= min(m.m_h) THEN nl.u ELSE %[1]s END AS p
FROM (
    SELECT n.v AS v, n.u AS u, n.h AS h, l.l_b AS lb
    FROM %[2]s AS n
    JOIN (SELECT a AS l_a, b AS l_b FROM %[3]s) AS l ON l.l_a = n.v
) AS nl
JOIN (SELECT v AS m_v, u AS m_u, h AS m_h FROM %[2]s) AS m ON m.m_v = nl.lb
GROUP BY nl.v, nl.u, nl.h`, d.ArgMin("m.m_u", "m.m_h"), near, t.links))
	jump := s.Add("jump", "follow the pointer once more", `SELECT f.v AS v, g.g_p AS p
FROM `+far+` AS f
JOIN (SELECT v AS g_v, p AS g_p FROM `+far+`) AS g ON g.g_v = f.p`)
	pointers := s.ReplaceTable(t.ptr, `SELECT j.v AS v, k.k_p AS p
FROM `+jump+` AS j
JOIN (SELECT v AS k_v, p AS k_p FROM `+jump+`) AS k ON k.k_v = j.p`)
	pointers[0] = `-- Each supernode points to the supernode with the smallest priority within
-- two links (itself included); then pointers are followed twice (pointer
-- jumping), so chains of up to four pointers collapse within the round.
` + pointers[0]
	body := []string{
		`-- A new round draws new random priorities.
` + d.ReplaceTable(t.round, `SELECT r.n + 1 AS n FROM `+t.round+` AS r`),
	}
	body = append(body, pointers...)
	return &models.Loop{
		Body:      append(body, contract(d, t)...),
		Changed:   "-- Links left between different supernodes (0: every component is found).\nSELECT count(*) FROM " + t.links,
		MaxRounds: maxRounds,
		What:      what,
	}
}
