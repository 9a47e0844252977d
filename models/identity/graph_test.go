package identity

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

// graph is an undirected graph on nodes 0..n-1. In the warehouse it is the
// source table raw.g(k, node, link, ts): graph edge j between u and v is the
// two rows (node n<u>, link e<j>) and (node n<v>, link e<j>), so identifier
// node:n<u> and link:e<j> share a row, and so do link:e<j> and node:n<v>.
type graph struct {
	n     int
	edges [][2]int
	// seen gives node u the timestamp base + seen(u) seconds, which decides
	// the identifiers' numbering (by first sighting); nil: all equal.
	seen func(u int) int
}

func (g graph) identifiers() int { return g.n + len(g.edges) }

// unionFind returns, for each identifier name, its component root.
func (g graph) unionFind() map[string]int {
	parent := make([]int, g.n+len(g.edges))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b int) {
		ra, rb := find(a), find(b)
		if ra != rb {
			parent[ra] = rb
		}
	}
	for j, e := range g.edges {
		union(e[0], g.n+j)
		union(e[1], g.n+j)
	}
	out := make(map[string]int, len(parent))
	for u := 0; u < g.n; u++ {
		out[fmt.Sprintf("node:n%d", u)] = find(u)
	}
	for j := range g.edges {
		out[fmt.Sprintf("link:e%d", j)] = find(g.n + j)
	}
	return out
}

const graphProject = `
sources:
  - { name: g, table: raw.g, primary_key: k, timestamp: ts }
identity:
  id_types:
    node: {}
    link: {}
  edges:
    - { source: g, ids: { node: node, link: link } }
`

// loadGraph writes the graph's rows (in the given order of edges) to a CSV
// file and loads it as raw.g. Isolated nodes get a row of their own.
func loadGraph(t testing.TB, w warehouse.Warehouse, g graph, order []int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "g.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(bw, "k,node,link,ts")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ts := func(u int) string {
		if g.seen == nil {
			return base.Format(time.DateTime)
		}
		return base.Add(time.Duration(g.seen(u)) * time.Second).Format(time.DateTime)
	}
	k := 0
	touched := make([]bool, g.n)
	for _, j := range order {
		e := g.edges[j]
		for _, u := range e {
			fmt.Fprintf(bw, "%d,n%d,e%d,%s\n", k, u, j, ts(u))
			touched[u] = true
			k++
		}
	}
	for u := 0; u < g.n; u++ {
		if !touched[u] {
			fmt.Fprintf(bw, "%d,n%d,,%s\n", k, u, ts(u))
			k++
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	exec(t, w, "CREATE SCHEMA IF NOT EXISTS raw",
		"CREATE OR REPLACE TABLE raw.g AS SELECT * FROM read_csv("+duck.String(path)+", header = true, columns = {'k': 'BIGINT', 'node': 'VARCHAR', 'link': 'VARCHAR', 'ts': 'TIMESTAMP'})")
}

// checkPartition compares the identity map with union-find.
func checkPartition(t testing.TB, w warehouse.Warehouse, g graph) {
	t.Helper()
	want := g.unionFind()
	rows, err := w.Query(context.Background(), "SELECT id_type || ':' || id_value, profile_id FROM sluice.customer_identity_map")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rootOf := map[string]int{} // profile -> union-find root
	profileOf := map[int]string{}
	n := 0
	for rows.Next() {
		var id, profile string
		if err := rows.Scan(&id, &profile); err != nil {
			t.Fatal(err)
		}
		n++
		root, ok := want[id]
		if !ok {
			t.Fatalf("unexpected identifier %s", id)
		}
		if r, seen := rootOf[profile]; seen && r != root {
			t.Fatalf("profile %s joins identifiers of different components (%s)", profile, id)
		}
		rootOf[profile] = root
		if p, seen := profileOf[root]; seen && p != profile {
			t.Fatalf("component of %s is split over profiles %s and %s", id, p, profile)
		}
		profileOf[root] = profile
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("identity map has %d identifiers, want %d", n, len(want))
	}
}

func roundBound(n int) int { return 2*int(math.Ceil(math.Log2(float64(n)))) + 4 }

func chain(n int) graph {
	g := graph{n: n}
	for u := 0; u+1 < n; u++ {
		g.edges = append(g.edges, [2]int{u, u + 1})
	}
	return g
}

func star(leaves int) graph {
	g := graph{n: leaves + 1}
	for u := 1; u <= leaves; u++ {
		g.edges = append(g.edges, [2]int{0, u})
	}
	return g
}

func ladder(rungs int) graph {
	g := graph{n: 2 * rungs}
	for i := 0; i < rungs; i++ {
		g.edges = append(g.edges, [2]int{2 * i, 2*i + 1})
		if i+1 < rungs {
			g.edges = append(g.edges, [2]int{2 * i, 2 * (i + 1)}, [2]int{2*i + 1, 2*(i+1) + 1})
		}
	}
	return g
}

func binaryTree(n int) graph {
	g := graph{n: n}
	for u := 1; u < n; u++ {
		g.edges = append(g.edges, [2]int{(u - 1) / 2, u})
	}
	return g
}

// tiny is many small components: pairs, triangles and paths of 4.
func tiny(count int) graph {
	g := graph{}
	for i := 0; i < count; i++ {
		b := g.n
		switch i % 3 {
		case 0:
			g.n += 2
			g.edges = append(g.edges, [2]int{b, b + 1})
		case 1:
			g.n += 3
			g.edges = append(g.edges, [2]int{b, b + 1}, [2]int{b + 1, b + 2}, [2]int{b + 2, b})
		default:
			g.n += 4
			g.edges = append(g.edges, [2]int{b, b + 1}, [2]int{b + 1, b + 2}, [2]int{b + 2, b + 3})
		}
	}
	return g
}

func random(n, m int, seed uint64) graph {
	r := rand.New(rand.NewPCG(seed, 7))
	g := graph{n: n}
	for i := 0; i < m; i++ {
		g.edges = append(g.edges, [2]int{r.IntN(n), r.IntN(n)})
	}
	return g
}

func inOrder(m int) []int {
	o := make([]int, m)
	for i := range o {
		o[i] = i
	}
	return o
}

func shuffled(m int, seed uint64) []int {
	o := inOrder(m)
	rand.New(rand.NewPCG(seed, 1)).Shuffle(m, func(i, j int) { o[i], o[j] = o[j], o[i] })
	return o
}

func TestComponentsMatchUnionFind(t *testing.T) {
	type tc struct {
		name  string
		g     graph
		order []int
	}
	var cases []tc
	add := func(name string, g graph, order []int) {
		if order == nil {
			order = inOrder(len(g.edges))
		}
		cases = append(cases, tc{name, g, order})
	}
	long := 100_000
	if testing.Short() {
		long = 10_000
	}
	c := chain(long)
	add(fmt.Sprintf("chain %d sorted", long), c, nil)
	add(fmt.Sprintf("chain %d shuffled", long), c, shuffled(len(c.edges), 1))
	rev := chain(long)
	rev.seen = func(u int) int { return long - u } // numbering runs backwards along the chain
	add(fmt.Sprintf("chain %d numbered backwards", long), rev, shuffled(len(rev.edges), 2))
	add("star 20000", star(20_000), shuffled(20_000, 3))
	add("ladder 2x5000", ladder(5000), nil)
	add("binary tree 16383", binaryTree(1<<14-1), shuffled(1<<14-2, 4))
	add("10000 tiny components", tiny(10_000), shuffled(len(tiny(10_000).edges), 5))
	add("one big random component 20000", random(20_000, 60_000, 6), nil)
	for i, size := range []int{2, 10, 100, 1000, 5000} {
		for j, density := range []float64{0.3, 0.5, 1, 2} {
			seed := uint64(100 + 10*i + j)
			add(fmt.Sprintf("random n=%d m=%.1fn seed %d", size, density, seed), random(size, int(density*float64(size))+1, seed), shuffled(int(density*float64(size))+1, seed))
		}
	}
	w := openDuckDB(t)
	p := loadProject(t, map[string]string{"g.yml": graphProject})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loadGraph(t, w, c.g, c.order)
			res := build(t, w, p)
			checkPartition(t, w, c.g)
			// The loop's rounds, plus the contraction pass that precedes them.
			r, bound := rounds(res, StepComponents)+1, roundBound(c.g.identifiers())
			t.Logf("%d identifiers: %d rounds including the first pass (bound %d)", c.g.identifiers(), r, bound)
			if r > bound {
				t.Errorf("%d rounds, more than 2*ceil(log2 %d)+4 = %d", r, c.g.identifiers(), bound)
			}
		})
	}
}
