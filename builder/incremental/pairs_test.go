package incremental_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/builder/incremental"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// recording records the statements a build runs.
type recording struct {
	warehouse.Warehouse
	stmts []string
}

func (r *recording) Exec(ctx context.Context, q string, args ...any) error {
	r.stmts = append(r.stmts, q)
	return r.Warehouse.Exec(ctx, q, args...)
}

// ExecOne keeps the DuckDB driver's single-statement check in the path.
func (r *recording) ExecOne(ctx context.Context, q string) error {
	r.stmts = append(r.stmts, q)
	return r.Warehouse.(interface {
		ExecOne(context.Context, string) error
	}).ExecOne(ctx, q)
}

// pairs tells whether the build diffed source's versions with a join
// (every row had a key of its own at both builds) rather than by
// counting them.
func (r *recording) pairs(source string) (paired, counted bool) {
	for _, q := range r.stmts {
		if strings.Contains(q, "src_"+source+"_versions") && strings.Contains(q, "CREATE") {
			paired = paired || strings.Contains(q, "FULL OUTER JOIN")
			counted = counted || strings.Contains(q, "GROUP BY key_hash, row_hash")
		}
	}
	return paired, counted
}

// TestChangesPairVersionsOfUniqueKeys: on DuckDB, the change detection of
// a source whose rows all had a key of their own at the last build pairs
// the versions with a join, and counts them when the join could not see a
// change (a row copied whole); a source with a NULL or shared key at the
// last build counts them. Either way the build publishes what a full build
// does, the keys several rows share included.
func TestChangesPairVersionsOfUniqueKeys(t *testing.T) {
	f := project(t, envs[0], projectYAML)
	full := project(t, envs[0], projectYAML)
	f.build(incremental.Options{})
	twice := base
	twice.orders = append(append([]string(nil), base.orders...), base.orders[1]) // o2 twice, the same row
	noKey := base
	noKey.orders = append(append([]string(nil), base.orders...), "(NULL, 'u2', NULL, 4, '2026-05-21 00:00:00')")
	edited := base
	edited.orders = []string{base.orders[0], "('o2', NULL, 'BOB@example.org', 21, '2026-05-20 00:00:00')", base.orders[2]}
	copied := edited
	copied.orders = append(append([]string(nil), edited.orders...), edited.orders[1]) // o2 twice, as the last build saw it
	shared := edited
	shared.orders = append(append([]string(nil), edited.orders...), "('o3', 'u2', NULL, 7, '2026-05-22 00:00:00')") // o3 twice, another row
	steps := []struct {
		name           string
		data           tables
		paired, counts bool
	}{
		{"a row changed, keys unique", edited, true, false},
		{"a row copied whole: paired, then counted", copied, true, true},
		{"the copy gone: the key was shared at the last build", edited, false, true},
		{"a row changed and copied: both copies new", twice, true, false},
		{"the copy gone again", base, false, true},
		{"a row without a key", noKey, true, false},
		{"back: the last build saw a NULL key", base, false, true},
		{"a row changed again, keys unique at the last build", edited, true, false},
		{"a new row under an existing key", shared, true, false},
		{"back: the last build saw a shared key", edited, false, true},
	}
	for _, s := range steps {
		f.set(s.data)
		rec := &recording{Warehouse: f.w}
		o, err := incremental.Build(context.Background(), rec, f.p, incremental.Options{Now: day0})
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if o.Mode != incremental.ModeIncremental {
			t.Fatalf("%s: %s build %q", s.name, o.Mode, o.Reasons)
		}
		if paired, counted := rec.pairs("orders"); paired != s.paired || counted != s.counts {
			t.Errorf("%s: versions paired %v, counted %v; want %v, %v", s.name, paired, counted, s.paired, s.counts)
		}
		full.set(s.data)
		full.build(incremental.Options{Now: day0, Full: true})
		f.sameAs(full, s.name, published)
	}
}
