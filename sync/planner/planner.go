// Package planner diffs a sync's model against its snapshot inside the
// warehouse. One aggregate query classifies every key (add, update,
// removal, unchanged, invalid) and returns counts and a few sample keys;
// only those, and later the changed rows themselves, stream into Go.
//
// The diff, in SQL:
//
//	m = SELECT key, count(*) AS n, min(hash) AS h, bool_and(consent) AS ok
//	    FROM (SELECT NULLIF(KEY_EXPR, '') AS key, hash(FINGERPRINT, COLUMNS..., PURPOSES...), CONSENT FROM MODEL)
//	    GROUP BY key
//	m FULL OUTER JOIN snapshot ON m.key = snapshot.key
//
// A NULL or empty key, or a key shared by several rows, is invalid: counted,
// sampled, never sent, and never treated as a removal.
package planner

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/sync/internal/sqlfn"
	"github.com/sluicehq/sluice/sync/mapping"
	"github.com/sluicehq/sluice/sync/spec"
	"github.com/sluicehq/sluice/sync/state"
)

// Planner diffs one sync.
type Planner struct {
	w      warehouse.Warehouse
	f      sqlfn.Funcs
	store  *state.Store
	spec   *spec.Spec
	mapper *mapping.Mapper

	snapshot    string // SQL relation (key, hash, fields)
	hasSnapshot bool
	hashChanged bool
	canary      uint64
}

// New prepares a planner: it checks that the model exists, reads its
// columns, completes the mapping and checks the hash canary. It writes
// nothing.
func New(ctx context.Context, w warehouse.Warehouse, store *state.Store, sp *spec.Spec) (*Planner, error) {
	f, err := sqlfn.For(w.Dialect())
	if err != nil {
		return nil, err
	}
	p := &Planner{w: w, f: f, store: store, spec: sp}
	for _, t := range sp.Tables {
		ok, err := w.TableExists(ctx, t[0], t[1])
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", sp.Sync.Name, err)
		}
		if !ok {
			return nil, fmt.Errorf("sync %s reads %s.%s, which does not exist: run sluice build first", sp.Sync.Name, t[0], t[1])
		}
	}
	cols, err := p.modelColumns(ctx)
	if err != nil {
		return nil, err
	}
	if err := sp.Complete(cols); err != nil {
		return nil, err
	}
	if p.mapper, err = mapping.New(sp.Mapping, sp.Columns, sp.KeyField, sp.Sync.Nulls, sp.Sync.RemovalFields); err != nil {
		return nil, fmt.Errorf("sync %s: %w", sp.Sync.Name, err)
	}
	p.mapper.Booleans(sp.Booleans)
	if err := p.Refresh(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// Refresh re-reads the state the diff compares against (after a fold).
func (p *Planner) Refresh(ctx context.Context) error {
	name := p.spec.Sync.Name
	var err error
	if p.hasSnapshot, err = p.store.SnapshotExists(ctx, name); err != nil {
		return err
	}
	var txt string
	if err := warehouse.QueryRow(ctx, p.w, "SELECT CAST("+p.f.Canary()+" AS "+p.f.Text()+")", &txt); err != nil {
		return fmt.Errorf("computing the hash canary: %w", err)
	}
	if p.canary, err = strconv.ParseUint(txt, 10, 64); err != nil {
		return err
	}
	p.hashChanged = false
	if p.hasSnapshot {
		stored, ok, err := p.store.Canary(ctx, name)
		if err != nil {
			return err
		}
		p.hashChanged = ok && stored != p.canary
		pending, err := p.store.Pending(ctx, name)
		if err != nil {
			return err
		}
		p.snapshot = p.store.Snapshot(name, pending)
	} else {
		t := p.f.Text()
		// An empty relation: selected from a one-row table, since BigQuery
		// takes no WHERE in a SELECT without FROM.
		p.snapshot = "(SELECT CAST(NULL AS " + t + ") AS " + p.f.Ident("key") + ", CAST(NULL AS " + p.f.HashType() + ") AS " + p.f.Ident("hash") +
			", CAST(NULL AS " + t + ") AS fields FROM (SELECT 1 AS one) AS one_row WHERE 1 = 0)"
	}
	return nil
}

// Mapper is the sync's record builder.
func (p *Planner) Mapper() *mapping.Mapper { return p.mapper }

// Spec is the resolved sync.
func (p *Planner) Spec() *spec.Spec { return p.spec }

// Canary is the warehouse's current hash canary.
func (p *Planner) Canary() uint64 { return p.canary }

// HashChanged reports that the warehouse's hash function changed since the
// snapshot was taken: every record is compared as changed.
func (p *Planner) HashChanged() bool { return p.hashChanged }

func (p *Planner) modelColumns(ctx context.Context) ([]string, error) {
	rows, err := p.w.Query(ctx, "SELECT * FROM "+p.spec.Model+" AS m WHERE 1 = 0")
	if err != nil {
		return nil, fmt.Errorf("sync %s: reading the columns of %s: %w", p.spec.Sync.Name, p.spec.Sync.From, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	return cols, rows.Close()
}

// KeyExpr is the key as the warehouse computes it, from a row aliased as
// alias: text, transformed, NULL when empty.
func (p *Planner) KeyExpr(alias string) string {
	e := p.f.CastText(alias + "." + p.f.Ident(p.spec.KeyColumn))
	for _, t := range p.spec.KeyTransforms {
		e, _ = p.f.KeyTransform(t, e)
	}
	return "NULLIF(" + e + ", '')"
}

func (p *Planner) hashExpr(alias string) string {
	exprs := []string{p.f.String(p.spec.Fingerprint())}
	for _, c := range p.spec.HashColumns() {
		exprs = append(exprs, alias+"."+p.f.Ident(c))
	}
	return p.f.Hash(exprs)
}

// consentExpr is true when the row may be sent: its consent gate is true,
// or at least one of its gating purposes.
func (p *Planner) consentExpr(alias string) string {
	cols := p.spec.GateColumns()
	if len(cols) == 0 {
		return p.f.Bool(true)
	}
	conds := make([]string, len(cols))
	for i, c := range cols {
		conds[i] = p.f.IsTrue(alias + "." + p.f.Ident(c))
	}
	if len(conds) == 1 {
		return conds[0]
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}

// purposeColumns selects each consent purpose's value read the way the
// gate reads it: 1 when true, NULL when NULL, 0 otherwise. Empty without
// per-purpose consent. Each is named, so that two purposes reading one
// column stay two columns of a subquery.
func (p *Planner) purposeColumns(alias string) string {
	var b strings.Builder
	for i, pu := range p.spec.Purposes {
		col := alias + "." + p.f.Ident(pu.Column)
		b.WriteString(", CASE WHEN " + p.f.IsTrue(col) + " THEN 1 WHEN " + col + " IS NULL THEN NULL ELSE 0 END AS sluice_purpose_" + strconv.Itoa(i))
	}
	return b.String()
}

// consentOf reads the purposes' values selected by purposeColumns; nil
// without per-purpose consent.
func (p *Planner) consentOf(vals []any) map[string]*bool {
	if len(p.spec.Purposes) == 0 {
		return nil
	}
	out := make(map[string]*bool, len(p.spec.Purposes))
	for i, pu := range p.spec.Purposes {
		out[pu.Name] = mapping.Consent(vals[i])
	}
	return out
}

// classes are the diff's classes by the integer code the SQL uses (an
// integer groups faster than text).
var classes = []spec.Class{spec.Unchanged, spec.Consent, spec.Gone, spec.Add, spec.Update, spec.NoConsent, spec.Duplicate, spec.NullKey}

// ClassCode is the SQL code of a class in Classified.
func ClassCode(c spec.Class) int { return slices.Index(classes, c) }

func codes(cs ...spec.Class) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = strconv.Itoa(ClassCode(c))
	}
	return strings.Join(out, ", ")
}

func classOfCode(code int) spec.Class {
	if code < 0 || code >= len(classes) {
		return ""
	}
	return classes[code]
}

// Classified is the diff: one row per key (k) with its class (a code, see
// ClassCode), its model hash (h), its number of model rows (n), and the
// smallest hash of the raw key column among its rows (hk), which finds
// sample rows cheaply.
func (p *Planner) Classified() string {
	f := p.f
	return p.classified(`SELECT r.sluice_k AS m_k, count(*) AS m_n, min(r.sluice_h) AS m_h, min(r.sluice_hk) AS m_hk, `+f.BoolAnd("r.sluice_ok")+` AS m_ok
    FROM (
        `+p.modelRows("sluice_", "")+`
    ) AS r
    GROUP BY r.sluice_k`, true)
}

// rowClassified is Classified without the GROUP BY on the key: one row per
// model row, so it is only the diff when no key has several rows, which
// its column fresh (a model row whose key is not in the snapshot) and
// column sk (the snapshot's key) let Plan check in the same pass. It saves
// a hash aggregation over the whole model, the bulk of the diff's cost
// beyond the join.
func (p *Planner) rowClassified() string {
	return p.classified(p.modelRows("m_", "1 AS m_n"), false)
}

// modelRows reads the model as (key, hash, raw key hash, consent) columns
// named with the prefix, and extra.
func (p *Planner) modelRows(prefix, extra string) string {
	if extra != "" {
		extra = ", " + extra
	}
	return `SELECT ` + p.KeyExpr("src") + ` AS ` + prefix + `k, ` + p.hashExpr("src") + ` AS ` + prefix + `h, ` + p.rawKeyHash("src") + ` AS ` + prefix + `hk, ` + p.consentExpr("src") + ` AS ` + prefix + `ok` + extra + `
        FROM ` + p.spec.Model + ` AS src`
}

// classified joins model keys m (m_k, m_n, m_h, m_hk, m_ok) with the
// snapshot and classifies them; grouped says m has one row per key (else
// the duplicate class is left to the caller's check).
func (p *Planner) classified(m string, grouped bool) string {
	f := p.f
	k := f.Ident("key")
	changed := p.f.IsDistinct("m.m_h", "s.s_hash")
	if p.hashChanged {
		changed = p.f.Bool(true)
	}
	c := func(cl spec.Class) string { return strconv.Itoa(ClassCode(cl)) }
	dup, check := "", ""
	if grouped {
		dup = `
        WHEN m.m_n > 1 THEN ` + c(spec.Duplicate)
	} else {
		check = `,
    CASE WHEN m.m_n IS NOT NULL AND m.m_k IS NOT NULL AND s.s_key IS NULL THEN m.m_k END AS fresh,
    s.s_key AS sk`
	}
	// The snapshot's key is joined on under one name and read under another:
	// some engines (ClickHouse 18.16) do not return a join's right-hand keys,
	// and give a snapshot-only row the snapshot's key as the model's key
	// (m_k), so such a row is told by its missing count (m_n). Inner columns
	// are named apart from the outer aliases: in ClickHouse 18.16 an alias
	// shadows a column of the same name, even a qualified one.
	return `SELECT coalesce(m.m_k, s.s_key) AS k,
    CASE
        WHEN m.m_n IS NOT NULL AND m.m_k IS NULL THEN ` + c(spec.NullKey) + dup + `
        WHEN m.m_n IS NULL THEN ` + c(spec.Gone) + `
        WHEN NOT m.m_ok AND s.s_key IS NOT NULL THEN ` + c(spec.Consent) + `
        WHEN NOT m.m_ok THEN ` + c(spec.NoConsent) + `
        WHEN s.s_key IS NULL THEN ` + c(spec.Add) + `
        WHEN ` + changed + ` THEN ` + c(spec.Update) + `
        ELSE ` + c(spec.Unchanged) + `
    END AS class,
    m.m_h AS h,
    m.m_hk AS hk,
    coalesce(m.m_n, 0) AS n` + check + `
FROM (
    ` + m + `
) AS m
FULL OUTER JOIN (SELECT ` + k + ` AS s_join, ` + k + ` AS s_key, ` + f.Ident("hash") + ` AS s_hash FROM ` + p.snapshot + ` AS snap) AS s ON m.m_k = s.s_join`
}

// rawKeyHash hashes the key column as stored, a cheap filter to find the
// rows of a key again.
func (p *Planner) rawKeyHash(alias string) string {
	return p.f.Hash([]string{alias + "." + p.f.Ident(p.spec.KeyColumn)})
}

// Count is the size of one class.
type Count struct {
	Keys int64 // distinct keys
	Rows int64 // model rows (several per key for duplicates)
}

// Sample is a record as it would be sent, or an invalid row.
type Sample struct {
	Class  spec.Class     `json:"class"`
	Op     string         `json:"op,omitempty"`
	Key    *string        `json:"key"`
	Fields map[string]any `json:"fields"`
	// Consent holds the consent purposes' values, when the sync has them.
	Consent map[string]*bool `json:"consent,omitempty"`
}

// Plan is the diff's summary.
type Plan struct {
	Counts      map[spec.Class]Count
	Samples     map[spec.Class][]Sample
	HashChanged bool
}

// Plan runs the diff and returns counts per class and up to samples sample
// records per class. It writes nothing.
//
// It first diffs model rows without grouping them by key, checking in the
// same pass that no key has several rows: every snapshot row joins at most
// one model row (the join's rows with a snapshot key number the snapshot's
// rows) and the model rows whose key is not in the snapshot have distinct
// keys. Only when that check fails is the diff run again grouped by key,
// which classes the duplicated keys.
func (p *Planner) Plan(ctx context.Context, samples int) (*Plan, error) {
	_, rowDiff := p.f.(sqlfn.GroupingSets)
	out, keys, hashes, ok, err := p.diff(ctx, samples, !rowDiff)
	if err != nil {
		return nil, err
	}
	if !ok {
		if out, keys, hashes, _, err = p.diff(ctx, samples, true); err != nil {
			return nil, err
		}
	}
	if samples > 0 {
		if err := p.samples(ctx, out, keys, hashes, samples); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// diff runs the aggregate diff query, over the rows of Classified (grouped)
// or of rowClassified; ok is false when the rows showed a key with several
// rows, so that only the grouped diff is right.
func (p *Planner) diff(ctx context.Context, samples int, grouped bool) (out *Plan, keys, hashes map[spec.Class][]string, ok bool, err error) {
	name := p.spec.Sync.Name
	n := max(samples, 1)
	filter := "d.class <> " + codes(spec.Unchanged)
	if samples <= 0 {
		filter = p.f.Bool(false)
	}
	// Sample keys are the smallest of each class; the NULL-key class is one
	// row, whose raw key hash min(hk) gives.
	txt, big := p.f.Text(), p.f.BigInt()
	rel, check, snap, group := p.Classified(), "", "", " GROUP BY d.class"
	if !grouped {
		// Keys new to the snapshot are counted over the whole diff (the
		// total row, class -2): a key with several rows may have them in
		// different classes (one row consented, one not).
		group = " " + p.f.(sqlfn.GroupingSets).GroupByAndTotal("d.class")
		rel = p.rowClassified()
		check = ", CAST(count(DISTINCT d.fresh) AS " + big + "), CAST(count(d.fresh) AS " + big + "), CAST(count(d.sk) AS " + big + ")"
		// The snapshot is counted in the same statement as the diff, so
		// that both see the same snapshot while a sync commits: one more
		// row, of class -1.
		null := func(t string) string { return "CAST(NULL AS " + t + ")" }
		snap = " UNION ALL SELECT -1, CAST(count(*) AS " + big + "), " + null(big) + ", " + null(txt) + ", " + null(txt) + ", " + null(txt) +
			", " + null(big) + ", " + null(big) + ", " + null(big) + " FROM " + p.snapshot + " AS snap"
	}
	q := "SELECT coalesce(d.class, -2), CAST(count(*) AS " + big + "), CAST(sum(d.n) AS " + big + "), " +
		p.f.SampleBy("d.k", "d.k", n, filter) + ", " +
		p.f.SampleBy("CAST(d.hk AS "+txt+")", "d.k", n, filter) + ", " +
		"CAST(min(d.hk) AS " + txt + ")" + check +
		" FROM (" + rel + ") AS d" + group + snap
	rows, err := p.w.Query(ctx, q)
	if err != nil {
		return nil, nil, nil, false, fmt.Errorf("sync %s: diffing %s against its snapshot: %w", name, p.spec.Sync.From, err)
	}
	defer rows.Close()
	out = &Plan{Counts: map[spec.Class]Count{}, Samples: map[spec.Class][]Sample{}, HashChanged: p.hashChanged}
	keys = map[spec.Class][]string{}
	hashes = map[spec.Class][]string{}
	list := func(js *string) []string {
		var vs []*string
		var out []string
		if js != nil {
			_ = json.Unmarshal([]byte(*js), &vs)
		}
		for _, v := range vs {
			if v != nil {
				out = append(out, *v)
			}
		}
		return out
	}
	ok = true
	var joined, snapRows int64
	for rows.Next() {
		var code int
		var c Count
		var sk, lo, minHash *string
		var sumRows *int64
		// Counts of nothing but NULLs are NULL on some engines (ClickHouse).
		var freshKeys, freshRows, snapJoined *int64
		dest := []any{&code, &c.Keys, &sumRows, &sk, &lo, &minHash}
		if !grouped {
			dest = append(dest, &freshKeys, &freshRows, &snapJoined)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, nil, false, fmt.Errorf("sync %s: reading the diff: %w", name, err)
		}
		orZero := func(v *int64) int64 {
			if v == nil {
				return 0
			}
			return *v
		}
		switch code {
		case -1:
			snapRows = c.Keys
			continue
		case -2:
			if orZero(freshKeys) != orZero(freshRows) {
				ok = false
			}
			continue
		}
		joined += orZero(snapJoined)
		if sumRows != nil {
			c.Rows = *sumRows
		}
		cl := classOfCode(code)
		out.Counts[cl] = c
		keys[cl] = list(sk)
		hashes[cl] = list(lo)
		if cl == spec.NullKey && minHash != nil {
			hashes[cl] = []string{*minHash}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, nil, false, fmt.Errorf("sync %s: diffing: %w", name, err)
	}
	if !grouped && joined != snapRows {
		ok = false
	}
	return out, keys, hashes, ok, nil
}

// samples fetches the sample records: model rows for adds, updates,
// duplicates, rows without consent and NULL keys, found by their hashes
// (hashing is the cheapest filter over the model); the key for removals.
func (p *Planner) samples(ctx context.Context, out *Plan, keys, hashes map[spec.Class][]string, n int) error {
	classOf := map[string]spec.Class{}
	var lits, nullLits []string
	for _, c := range []spec.Class{spec.Add, spec.Update, spec.Duplicate, spec.NoConsent, spec.NullKey} {
		for _, k := range keys[c] {
			classOf[k] = c
		}
		for _, h := range hashes[c] {
			if _, err := strconv.ParseUint(h, 10, 64); err != nil {
				continue
			}
			if c == spec.NullKey {
				nullLits = append(nullLits, h)
			} else {
				lits = append(lits, h)
			}
		}
	}
	in := func(ls []string) string { return strings.Join(slices.Compact(slices.Sorted(slices.Values(ls))), ", ") }
	var qs []string
	if len(lits) > 0 {
		// A key spelt many ways, or shared by many rows, gives at most a
		// few sample rows.
		qs = append(qs, p.f.FirstPerKey("SELECT "+p.KeyExpr("m")+" AS __sluice_key, "+p.selectColumns("m")+p.purposeColumns("m")+" FROM "+p.spec.Model+" AS m WHERE "+
			p.rawKeyHash("m")+" IN ("+in(lits)+")", p.rawKeyHash("m"), n))
	}
	if len(nullLits) > 0 {
		qs = append(qs, "SELECT * FROM (SELECT "+p.KeyExpr("m")+" AS __sluice_key, "+p.selectColumns("m")+p.purposeColumns("m")+" FROM "+p.spec.Model+" AS m WHERE "+
			p.rawKeyHash("m")+" IN ("+in(nullLits)+")) AS x WHERE x.__sluice_key IS NULL LIMIT "+strconv.Itoa(n))
	}
	for _, q := range qs {
		type row struct {
			key     *string
			row     []any
			consent map[string]*bool
		}
		var got []row
		nc := len(p.spec.Columns)
		if err := p.scanSamples(ctx, q, func(key *string, r []any) { got = append(got, row{key, r[:nc], p.consentOf(r[nc:])}) }); err != nil {
			return err
		}
		sort.SliceStable(got, func(i, j int) bool {
			return (got[i].key == nil && got[j].key != nil) || (got[i].key != nil && got[j].key != nil && *got[i].key < *got[j].key)
		})
		for _, r := range got {
			if r.key == nil {
				if len(out.Samples[spec.NullKey]) < n {
					out.Samples[spec.NullKey] = append(out.Samples[spec.NullKey], Sample{Class: spec.NullKey, Fields: p.mapper.RecordRaw(r.row), Consent: r.consent})
				}
				continue
			}
			c, ok := classOf[*r.key]
			if !ok {
				continue // a row with the same values under another key
			}
			s := Sample{Class: c, Key: r.key, Fields: p.mapper.Record(*r.key, r.row), Consent: r.consent}
			if c == spec.Duplicate {
				s.Fields = p.mapper.RecordRaw(r.row)
			}
			if p.spec.Sends(c) {
				s.Op = string(p.spec.Op(c))
			}
			if c != spec.Duplicate && len(out.Samples[c]) >= n {
				continue
			}
			out.Samples[c] = append(out.Samples[c], s)
		}
	}
	for _, c := range []spec.Class{spec.Consent, spec.Gone} {
		for _, k := range keys[c] {
			k := k
			s := Sample{Class: c, Key: &k, Fields: p.mapper.RemovalRecord(k, nil)}
			if p.spec.Sends(c) {
				s.Op = string(p.spec.Op(c))
			}
			out.Samples[c] = append(out.Samples[c], s)
		}
	}
	return nil
}

func (p *Planner) scanSamples(ctx context.Context, q string, fn func(key *string, row []any)) error {
	rows, err := p.w.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("sync %s: reading sample rows: %w", p.spec.Sync.Name, err)
	}
	defer rows.Close()
	n := len(p.spec.Columns) + len(p.spec.Purposes)
	for rows.Next() {
		var key *string
		row := make([]any, n)
		dest := make([]any, n+1)
		dest[0] = &key
		for i := range row {
			dest[i+1] = &row[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("sync %s: reading sample rows: %w", p.spec.Sync.Name, err)
		}
		fn(key, row)
	}
	return rows.Err()
}

func (p *Planner) selectColumns(alias string) string {
	cols := make([]string, len(p.spec.Columns))
	for i, c := range p.spec.Columns {
		cols[i] = alias + "." + p.f.Ident(c)
	}
	return strings.Join(cols, ", ")
}

// sentClasses lists the codes of the classes the sync sends.
func (p *Planner) sentClasses() string {
	var out []spec.Class
	for _, c := range spec.Changes {
		if p.spec.Sends(c) {
			out = append(out, c)
		}
	}
	return codes(out...)
}

// DeltaTable is the work table a sync run materialises its changes in.
func (p *Planner) DeltaTable() string { return p.store.Table("delta_" + p.spec.Sync.Name) }

// ordinal is the delta table's column numbering its rows, where the
// warehouse numbers rows cheaply (see Ordinals).
const ordinal = "sluice_i"

// Ordinals reports whether the delta table numbers its rows, so that
// accepted records can be committed by ranges of numbers (AcceptedRows).
func (p *Planner) Ordinals() bool {
	_, ok := p.f.(sqlfn.Ordinals)
	return ok
}

// Materialize writes the changes the sync sends into the delta table and
// counts them per class. Where the warehouse numbers rows, they are
// numbered from 1, removals first, in the order Stream reads them, so that
// a batch of records is one range of numbers.
func (p *Planner) Materialize(ctx context.Context) (map[spec.Class]int64, error) {
	f := p.f
	k := f.Ident("key")
	num := ""
	if o, ok := f.(sqlfn.Ordinals); ok {
		num = o.OrdinalOver("CASE WHEN d.class IN ("+codes(spec.Consent, spec.Gone)+") THEN 0 ELSE 1 END") + " AS " + ordinal + ", "
	}
	q := f.ReplaceTable(p.DeltaTable(), "SELECT "+num+"d.k AS "+k+", d.class, d.h AS "+f.Ident("hash")+" FROM ("+p.Classified()+") AS d WHERE d.class IN ("+p.sentClasses()+")")
	if err := p.w.Exec(ctx, q); err != nil {
		return nil, fmt.Errorf("sync %s: computing the changes: %w", p.spec.Sync.Name, err)
	}
	rows, err := p.w.Query(ctx, "SELECT class, count(*) FROM "+p.DeltaTable()+" GROUP BY class")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[spec.Class]int64{}
	for rows.Next() {
		var c int
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			return nil, err
		}
		out[classOfCode(c)] = n
	}
	return out, rows.Err()
}

// Range is a run of consecutive delta rows (by their Change.Ordinal, Lo to
// Hi included) that the destination accepted in batch Seq.
type Range struct {
	Seq    int
	Lo, Hi int64
}

// AcceptedRows is the SQL relation (seq, key, op, class, hash) of the delta
// rows in the given ranges: the change-log rows of accepted records, built
// in the warehouse from the delta table rather than sent from Go.
func (p *Planner) AcceptedRows(ranges []Range) string {
	f := p.f
	k, h := f.Ident("key"), f.Ident("hash")
	i := "d." + ordinal
	lo, hi := ranges[0].Lo, ranges[0].Hi
	var seq, in []string
	for _, r := range ranges {
		lo, hi = min(lo, r.Lo), max(hi, r.Hi)
		cond := i + " BETWEEN " + strconv.FormatInt(r.Lo, 10) + " AND " + strconv.FormatInt(r.Hi, 10)
		seq = append(seq, "WHEN "+cond+" THEN "+strconv.Itoa(r.Seq))
		in = append(in, "("+cond+")")
	}
	var op, class []string
	for _, c := range spec.Changes {
		if p.spec.Sends(c) {
			code := strconv.Itoa(ClassCode(c))
			op = append(op, "WHEN "+code+" THEN "+f.String(string(p.spec.Op(c))))
			class = append(class, "WHEN "+code+" THEN "+f.String(string(c)))
		}
	}
	// The outer bounds let the warehouse skip the rest of the table by its
	// min/max statistics: the delta is stored in the order of its numbers.
	return "SELECT CAST(CASE " + strings.Join(seq, " ") + " END AS " + f.BigInt() + ") AS seq, d." + k + " AS " + k +
		", CASE d.class " + strings.Join(op, " ") + " END AS op, CASE d.class " + strings.Join(class, " ") + " END AS class, d." + h + " AS " + h +
		" FROM " + p.DeltaTable() + " AS d WHERE " + i + " BETWEEN " + strconv.FormatInt(lo, 10) + " AND " + strconv.FormatInt(hi, 10) +
		" AND (" + strings.Join(in, " OR ") + ")"
}

// DropDelta removes the delta table.
func (p *Planner) DropDelta(ctx context.Context) error {
	return p.w.Exec(ctx, p.f.DropTable(p.DeltaTable()))
}

// Change is one record to send.
type Change struct {
	Class  spec.Class
	Op     destination.Op
	Key    string
	Hash   uint64
	Fields map[string]any
	// Consent holds the values of the sync's consent purposes (nil for a
	// purpose whose trait is NULL) for adds and updates; nil without
	// per-purpose consent, and for removals.
	Consent map[string]*bool
	// Kept is the JSON of the removal fields to keep in the snapshot.
	Kept string
	// Ordinal numbers the change's delta row (see Ordinals); 0 when the
	// delta has no numbers.
	Ordinal int64
	// RemoteID is, for removals, the destination's id for the key kept
	// from its last accepted write (destination.Record.RemoteID).
	RemoteID string
}

// Stream reads the materialised changes with their mapped fields, calling
// fn for each: removals first, then adds and updates, in the order of
// their numbers where the delta has them. Memory stays proportional to a
// row.
func (p *Planner) Stream(ctx context.Context, fn func(Change) error) error {
	f := p.f
	k := f.Ident("key")
	removals, others := codes(spec.Consent, spec.Gone), codes(spec.Add, spec.Update)
	num, order := "0", ""
	if p.Ordinals() {
		num, order = "d."+ordinal, " ORDER BY d."+ordinal
	}
	// Removals need the kept fields of the snapshot; the others the
	// model's row.
	rq := "SELECT d." + k + ", d.class, d." + f.Ident("hash") + ", s.s_fields, " + num + " FROM " + p.DeltaTable() + " AS d" +
		" LEFT JOIN (SELECT " + k + " AS s_key, fields AS s_fields FROM " + p.snapshot + " AS snap) AS s ON s.s_key = d." + k +
		" WHERE d.class IN (" + removals + ")" + order
	oq := "SELECT d." + k + ", d.class, d." + f.Ident("hash") + ", NULL, " + num + ", " + p.selectColumns("m") + p.purposeColumns("m") + " FROM " + p.DeltaTable() + " AS d" +
		" JOIN (SELECT " + p.KeyExpr("x") + " AS __sluice_key, x.* FROM " + p.spec.Model + " AS x) AS m ON m.__sluice_key = d." + k +
		" WHERE d.class IN (" + others + ")" + order
	if err := p.stream(ctx, rq, 0, fn); err != nil {
		return err
	}
	return p.stream(ctx, oq, len(p.spec.Columns)+len(p.spec.Purposes), fn)
}

const streamFixed = 5 // key, class, hash, kept, ordinal

func (p *Planner) stream(ctx context.Context, q string, ncols int, fn func(Change) error) error {
	rows, err := p.w.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("sync %s: reading the changes: %w", p.spec.Sync.Name, err)
	}
	defer rows.Close()
	row := make([]any, ncols)
	dest := make([]any, ncols+streamFixed)
	var key string
	var class int
	var hash *uint64
	var kept *string
	var num int64
	dest[0], dest[1], dest[2], dest[3], dest[4] = &key, &class, &hash, &kept, &num
	for i := range row {
		dest[i+streamFixed] = &row[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("sync %s: reading the changes: %w", p.spec.Sync.Name, err)
		}
		cl := classOfCode(class)
		c := Change{Class: cl, Op: p.spec.Op(cl), Key: key, Ordinal: num}
		if hash != nil {
			c.Hash = *hash
		}
		if c.Class.IsRemoval() {
			var keptFields map[string]any
			if kept != nil {
				_ = json.Unmarshal([]byte(*kept), &keptFields)
			}
			c.RemoteID = takeRemoteID(keptFields)
			c.Fields = p.mapper.RemovalRecord(key, keptFields)
		} else {
			nc := len(p.spec.Columns)
			c.Fields = p.mapper.Record(key, row[:nc])
			c.Consent = p.consentOf(row[nc:])
			if rf := p.mapper.Removal(c.Fields); len(rf) > 0 {
				b, _ := json.Marshal(rf)
				c.Kept = string(b)
			}
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}
