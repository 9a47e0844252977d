package identity

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/builder"
	"github.com/sluicehq/sluice/config"
	_ "github.com/sluicehq/sluice/connectors/clickhouse"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// incrProject stitches three sources: a CRM (user ids, e-mails), web
// events (anonymous ids, user ids, e-mails) and orders (e-mails, phones,
// anonymous ids; national phone numbers read in the order's country; test
// orders left out), with a limit of one user id per
// profile, a blocklist and junk values.
const incrProject = `
sources:
  - { name: crm, table: raw.crm, primary_key: id, timestamp: ts }
  - { name: web, table: raw.web, primary_key: id, timestamp: ts }
  - { name: ord, table: raw.ord, primary_key: id, timestamp: ts }
identity:
  id_types:
    email: { normalize: email, blocklist: ["test@example.com"], blocklist_patterns: ['.*@mailinator\.com'] }
    phone: { normalize: phone_e164, default_region: FR }
    user_id: { limit_per_profile: 1 }
    anon: {}
  edges:
    - { source: crm, ids: { user_id: uid, email: email } }
    - { source: web, ids: { anon: anon, user_id: uid, email: email } }
    - { source: ord, ids: { email: email, phone: phone, anon: anon }, region: country, where: "status <> 'test'" }
`

// incrRow is one row of a source of incrProject; empty strings are NULL.
type incrRow struct {
	id                      string
	uid, email, anon, phone string
	status, country         string
	day                     int // days after 2024-01-01
}

// incrData is the content of the three sources.
type incrData struct {
	rows   map[string][]incrRow // by source
	nextID int
}

var incrSources = []string{"crm", "web", "ord"}

// value draws an identifier of a type: mostly from a small pool (so that
// rows link), sometimes junk, blocklisted or unreadable, sometimes NULL.
func incrValue(r *rand.Rand, typ string, pool int) string {
	switch x := r.IntN(100); {
	case x < 12:
		return ""
	case x < 15:
		return []string{"null", "n/a", "0", " ", "undefined"}[r.IntN(5)]
	case x < 17 && typ == "email":
		return []string{"test@example.com", "Foo@Mailinator.com", "not an email"}[r.IntN(3)]
	case x < 17 && typ == "phone":
		return "06 12"
	}
	n := r.IntN(pool)
	switch typ {
	case "email":
		if r.IntN(4) == 0 {
			return fmt.Sprintf(" E%d@Example.com", n)
		}
		return fmt.Sprintf("e%d@example.com", n)
	case "phone":
		return fmt.Sprintf("06 12 34 56 %02d", n)
	case "user_id":
		return fmt.Sprintf("u%d", n)
	}
	return fmt.Sprintf("a%d", n)
}

func (d *incrData) newRow(r *rand.Rand, source string, pools int) incrRow {
	d.nextID++
	row := incrRow{id: "k" + strconv.Itoa(d.nextID), day: r.IntN(300), status: "paid"}
	row.email = incrValue(r, "email", 2*pools)
	switch source {
	case "crm":
		row.uid = incrValue(r, "user_id", pools)
	case "web":
		row.uid = incrValue(r, "user_id", pools)
		row.anon = incrValue(r, "anon", 2*pools)
	case "ord":
		row.phone = incrValue(r, "phone", pools)
		row.anon = incrValue(r, "anon", 2*pools)
		row.country = []string{"FR", "GB", " gb", ""}[r.IntN(4)]
		if r.IntN(8) == 0 {
			row.status = "test"
		}
	}
	return row
}

// edit changes the data at random and returns the keys it touched (the
// keys of rows added, changed or deleted), by source.
func (d *incrData) edit(r *rand.Rand, pools int) map[string][]string {
	touched := map[string][]string{}
	source := incrSources[r.IntN(len(incrSources))]
	rows := d.rows[source]
	pick := func() int { return r.IntN(len(rows)) }
	switch op := r.IntN(100); {
	case op < 25 || len(rows) < 3: // new rows
		for range 1 + r.IntN(3) {
			row := d.newRow(r, source, pools)
			rows = append(rows, row)
			touched[source] = append(touched[source], row.id)
		}
	case op < 50: // a row gains, loses or changes an identifier
		i := pick()
		fresh := d.newRow(r, source, pools)
		d.nextID--
		switch r.IntN(4) {
		case 0:
			rows[i].email = fresh.email
		case 1:
			rows[i].uid, rows[i].anon = fresh.uid, fresh.anon
		case 2:
			rows[i].anon, rows[i].phone, rows[i].country = fresh.anon, fresh.phone, fresh.country
		default:
			rows[i].status = fresh.status
		}
		touched[source] = append(touched[source], rows[i].id)
	case op < 72: // deletions, which may split a profile
		for range 1 + r.IntN(3) {
			if len(rows) == 0 {
				break
			}
			i := pick()
			touched[source] = append(touched[source], rows[i].id)
			rows = slices.Delete(rows, i, i+1)
		}
	case op < 82: // a backdated row, which may rename a profile
		i := pick()
		rows[i].day = -1 - r.IntN(50)
		touched[source] = append(touched[source], rows[i].id)
	case op < 87: // a row copying another's identifiers (a merge), maybe over the limit
		other := d.rows[incrSources[r.IntN(len(incrSources))]]
		if len(other) == 0 {
			break
		}
		row := d.newRow(r, source, pools)
		o := other[r.IntN(len(other))]
		row.email, row.uid = o.email, o.uid
		if source != "crm" {
			row.anon = o.anon
		}
		rows = append(rows, row)
		touched[source] = append(touched[source], row.id)
	case op < 96: // a second row under an existing key, or one without a key
		row := d.newRow(r, source, pools)
		if r.IntN(2) == 0 {
			row.id = rows[pick()].id
		} else {
			row.id = ""
		}
		rows = append(rows, row)
		if row.id != "" {
			touched[source] = append(touched[source], row.id)
		}
	default: // nothing changed
	}
	d.rows[source] = rows
	return touched
}

// load writes the data into the raw tables of w, in schema raw.
func (d *incrData) load(t testing.TB, w warehouse.Warehouse, dl dialect.Dialect, raw string) {
	t.Helper()
	lit := func(s string) string {
		if s == "" {
			return dl.Cast("NULL", "VARCHAR")
		}
		return dl.Cast(dl.String(s), "VARCHAR")
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cols := []string{"id", "uid", "email", "anon", "phone", "status", "country", "ts"}
	stmts := []string{dl.CreateSchema(raw)}
	for _, source := range incrSources {
		// A first row of NULLs, dropped, gives an empty source its columns.
		rows := [][]string{{lit(""), lit(""), lit(""), lit(""), lit(""), lit(""), lit(""), dl.Cast("NULL", "TIMESTAMP")}}
		for _, r := range d.rows[source] {
			ts := dl.Cast(dl.String(base.AddDate(0, 0, r.day).Format(time.DateTime)), "TIMESTAMP")
			rows = append(rows, []string{lit(r.id), lit(r.uid), lit(r.email), lit(r.anon), lit(r.phone), lit(r.status), lit(r.country), ts})
		}
		var rel string
		if dl.Name() == "duckdb" {
			// A VALUES list: DuckDB plans a long UNION ALL slowly.
			vals := make([]string, len(rows))
			for i, r := range rows {
				vals[i] = "(" + strings.Join(r, ", ") + ")"
			}
			rel = "(VALUES " + strings.Join(vals, ", ") + ") AS v(" + strings.Join(cols, ", ") + ")"
		} else {
			sel := make([]string, len(rows))
			for i, r := range rows {
				if i == 0 {
					for j := range r {
						r[j] += " AS " + cols[j]
					}
				}
				sel[i] = "SELECT " + strings.Join(r, ", ")
			}
			rel = "(\n" + strings.Join(sel, "\nUNION ALL\n") + "\n) AS v"
		}
		stmts = append(stmts, dl.ReplaceTable(dl.Table(raw, source), "SELECT * FROM "+rel+"\nWHERE ts IS NOT NULL"))
	}
	exec(t, w, stmts...)
}

// incrBuild runs an incremental identity build on w: the changed keys
// given (by source, as the text models.RowKey gives) and the duplicate keys of each source are written
// where the source steps and change detection would leave them, then the
// incremental steps run.
func incrBuild(w warehouse.Warehouse, p *config.Project, d dialect.Dialect, erasure *models.Erasure, changed map[string][]string) (*builder.Result, error) {
	plan, err := incrPlan(p, d, erasure, changed)
	if err != nil {
		return nil, err
	}
	return builder.Run(context.Background(), w, plan, builder.Options{})
}

// incrPlan is the plan incrBuild runs.
func incrPlan(p *config.Project, d dialect.Dialect, erasure *models.Erasure, changed map[string][]string) (*models.Plan, error) {
	c := &models.Compiler{P: p, D: d}
	var setup []string
	if ws, ok := d.(dialect.WorkSpace); ok {
		setup = append(setup, ws.WorkSetup(p.Schema)...)
	}
	for _, e := range p.Identity.Edges {
		src, _ := c.Source(e.Source)
		keys := []string{"SELECT " + d.CastText("NULL") + " AS k WHERE 1 = 0"}
		for _, k := range changed[e.Source] {
			keys = append(keys, "SELECT "+d.CastText(d.String(k))+" AS k")
		}
		rowKey := models.RowKey(c, src, "s")
		setup = append(setup,
			d.ReplaceTable(ChangedKeysTable(c, e.Source), "SELECT DISTINCT "+d.Hash64("s.k")+" AS key_hash FROM ("+strings.Join(keys, " UNION ALL ")+") AS s"),
			d.ReplaceTable(c.DuplicateKeysTable(e.Source), "SELECT "+rowKey+" AS row_key, count(*) AS row_count FROM "+c.SourceView(e.Source)+" AS s WHERE "+rowKey+" IS NOT NULL GROUP BY "+rowKey+" HAVING count(*) > 1"))
	}
	steps, err := IncrementalSteps(c, erasure)
	if err != nil {
		return nil, err
	}
	plan := &models.Plan{Dialect: d.Name(), Schema: p.Schema, Erasure: erasure, Steps: append([]models.Step{{Name: "changes", Kind: models.KindSource, SQL: setup}}, steps...)}
	// What models.Compile does to every step: session settings first, and
	// the strings holding several statements counted.
	lex := sqlfrag.For(d.Name())
	for i := range plan.Steps {
		s := &plan.Steps[i]
		if sd, ok := d.(dialect.Session); ok {
			s.SQL = append(sd.SessionStatements(), s.SQL...)
		}
		for _, q := range s.Strings() {
			n, err := sqlfrag.Statements(lex, q)
			if err != nil {
				return nil, fmt.Errorf("step %s: %w", s.Name, err)
			}
			if n != 1 {
				if s.Statements == nil {
					s.Statements = map[string]int{}
				}
				s.Statements[q] = n
			}
		}
	}
	return plan, nil
}

// identityState renders, in a stable order and without the build-local
// numbers, every published identity table, and checks that the numbers
// agree with each other.
func identityState(t testing.TB, w warehouse.Warehouse, d dialect.Dialect, schema string) string {
	t.Helper()
	tb := func(name string) string { return d.Table(schema, "customer_"+name) }
	m, rm, r, e := tb("identity_map"), tb("row_map"), tb("identity_rows"), tb("identity_edges")
	ident := d.Concat("id_type", "':'", "id_value")
	queries := []struct{ name, q string }{
		{"map", `SELECT profile_id, id_type, id_value, ` + d.CastText("first_seen_at") + `, ` + d.CastText("last_seen_at") + `, seen_count, c.first FROM ` + m + ` AS m
			JOIN (SELECT component AS c_component, min(` + ident + `) AS first FROM ` + m + ` GROUP BY component) AS c ON c.c_component = m.component`},
		{"row map", `SELECT source, row_key, profile_id, ` + d.CastText("seen_at") + ` FROM ` + rm},
		{"rejects", `SELECT source, row_key, id_type, raw, status FROM ` + tb("identity_rejects")},
		{"stats", `SELECT id_type, ` + d.CastText("ok") + `, ` + d.CastText("rejected") + `, ` + d.CastText("junk") + `, ` + d.CastText("blocklisted") + ` FROM ` + tb("identity_stats")},
		{"conflicts", `SELECT id_type, value_count, c.first FROM ` + tb("identity_limit_conflicts") + ` AS f
			JOIN (SELECT component AS c_component, min(` + ident + `) AS first FROM ` + m + ` GROUP BY component) AS c ON c.c_component = f.component`},
		{"rows", `SELECT edge, row_key, ` + d.CastText("seen_at") + ` FROM ` + r},
		{"edges", `SELECT x.edge, x.row_key, i.i_ident FROM (SELECT e.id AS e_id, r.edge AS edge, r.row_key AS row_key FROM ` + e + ` AS e JOIN ` + r + ` AS r ON r.row_id = e.row_id) AS x
			JOIN (SELECT id_no, ` + ident + ` AS i_ident FROM ` + m + `) AS i ON i.id_no = x.e_id`},
		// The numbers: a bijection between profile_no and profile_id, the
		// row map's profile_no that of its profile, unique id and row numbers,
		// and no edge without its row and identifier.
		{"numbers", numbersQuery(d, m, rm, r, e)},
	}
	var b strings.Builder
	for _, q := range queries {
		lines := queryLines(t, w, q.q)
		if q.name == "numbers" {
			for _, l := range lines {
				if !strings.HasSuffix(l, "|0") {
					t.Errorf("inconsistent numbers: %s", l)
				}
			}
		}
		slices.Sort(lines)
		fmt.Fprintf(&b, "== %s (%d)\n%s\n", q.name, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// liveQuery lists the keys of the web events' live table (only when the
// project erases).
func liveQuery(d dialect.Dialect, schema string) string {
	return "SELECT " + d.CastText("id") + " FROM " + d.Table(schema, models.LiveSourceName("web"))
}

// numbersQuery counts what would break the build-local numbers: a
// profile_no that is not a bijection with profile_id, a row map whose
// profile_no is not its profile's, id or row numbers used twice, an edge
// without its row or identifier. Every count must be 0.
func numbersQuery(d dialect.Dialect, m, rm, r, e string) string {
	checks := [][2]string{
		{"profile_no per profile_id", "count(*) FROM (SELECT profile_id FROM " + m + " GROUP BY profile_id HAVING count(DISTINCT profile_no) > 1) AS x"},
		{"profile_id per profile_no", "count(*) FROM (SELECT profile_no FROM " + m + " GROUP BY profile_no HAVING count(DISTINCT profile_id) > 1) AS x"},
		{"row map numbers", "count(*) FROM " + rm + " AS a JOIN (SELECT DISTINCT profile_id AS b_profile, profile_no AS b_no FROM " + m + ") AS b ON b.b_profile = a.profile_id WHERE b.b_no <> a.profile_no"},
		{"row map profiles unknown", "count(*) FROM " + rm + " WHERE profile_id NOT IN (SELECT profile_id FROM " + m + ")"},
		{"duplicate id_no", "count(*) - count(DISTINCT id_no) FROM " + m},
		{"duplicate row_id", "count(*) - count(DISTINCT row_id) FROM " + r},
		{"edges without row", "count(*) FROM " + e + " WHERE row_id NOT IN (SELECT row_id FROM " + r + ")"},
		{"edges without identifier", "count(*) FROM " + e + " WHERE id NOT IN (SELECT id_no FROM " + m + ")"},
	}
	parts := make([]string, len(checks))
	for i, c := range checks {
		count, from, _ := strings.Cut(c[1], " FROM ")
		parts[i] = "SELECT " + d.String(c[0]) + " AS what, " + d.CastText(count) + " AS n FROM " + from
	}
	return strings.Join(parts, "\nUNION ALL\n")
}

// queryLines runs q and returns each row's columns joined by '|'.
func queryLines(t testing.TB, w warehouse.Warehouse, q string) []string {
	t.Helper()
	rows, err := w.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = v.String
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// firstDiff shows the first line where two states differ.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) || i < len(lb); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			section := ""
			for j := i; j >= 0 && j < len(la); j-- {
				if strings.HasPrefix(la[j], "== ") {
					section = la[j]
					break
				}
			}
			return fmt.Sprintf("line %d (%s):\n  incremental: %s\n  full:        %s", i+1, section, x, y)
		}
	}
	return ""
}

// incrRun is one property run: a random data set built in full on two
// databases, then edits, each followed by an incremental build on one and
// a full build on the other, whose tables must agree.
type incrRun struct {
	seed        uint64
	rows, edits int // edits: build steps, each after one to three edits
	pools       int
	// erasure adds an erasure block whose suppression list holds a few
	// identifiers of the pools.
	erasure bool
	// shared reads the orders through two edges (e-mails and anonymous
	// ids of every order but test ones; phones of all), tied by the row map.
	shared bool
}

// incrSide is one of the two databases a run compares.
type incrSide struct {
	w           warehouse.Warehouse
	d           dialect.Dialect
	schema, raw string
}

func (run incrRun) check(t *testing.T, open func(t testing.TB, side string) incrSide) {
	r := rand.New(rand.NewPCG(run.seed, 7))
	data := &incrData{rows: map[string][]incrRow{}}
	for range run.rows {
		s := incrSources[r.IntN(len(incrSources))]
		data.rows[s] = append(data.rows[s], data.newRow(r, s, run.pools))
	}
	inc, full := open(t, "inc"), open(t, "full")
	pInc, planInc := run.project(t, inc)
	_, planFull := run.project(t, full)
	d := inc.d
	for _, x := range []struct {
		side incrSide
		plan *models.Plan
	}{{inc, planInc}, {full, planFull}} {
		data.load(t, x.side.w, d, x.side.raw)
		if _, err := builder.Run(context.Background(), x.side.w, x.plan, builder.Options{}); err != nil {
			t.Fatalf("seed %d: full build: %v", run.seed, err)
		}
	}
	for step := range run.edits {
		// Each step makes one to three edits, then builds.
		changed := map[string][]string{}
		for range 1 + r.IntN(3) {
			for s, keys := range data.edit(r, run.pools) {
				changed[s] = append(changed[s], keys...)
			}
		}
		if r.IntN(5) == 0 { // change detection may name unchanged keys
			s := incrSources[r.IntN(len(incrSources))]
			if rows := data.rows[s]; len(rows) > 0 {
				changed[s] = append(changed[s], rows[r.IntN(len(rows))].id)
			}
		}
		data.load(t, inc.w, d, inc.raw)
		data.load(t, full.w, d, full.raw)
		// The two builds run side by side: they share nothing.
		errs := make(chan error, 1)
		go func() {
			_, err := builder.Run(context.Background(), full.w, planFull, builder.Options{})
			errs <- err
		}()
		if _, err := incrBuild(inc.w, pInc, d, planInc.Erasure, changed); err != nil {
			<-errs
			t.Fatalf("seed %d, edit %d: incremental build: %v", run.seed, step, err)
		}
		if err := <-errs; err != nil {
			t.Fatalf("seed %d, edit %d: full build: %v", run.seed, step, err)
		}
		if got, want := run.state(t, inc), run.state(t, full); got != want {
			t.Fatalf("seed %d, edit %d (changed %v): incremental build differs from a full build at %s", run.seed, step, changed, firstDiff(got, want))
		}
	}
}

// project loads incrProject reading the side's raw schema and compiles
// it; with erasure, it also fills the suppression list.
func (run incrRun) project(t *testing.T, side incrSide) (*config.Project, *models.Plan) {
	project := strings.ReplaceAll(incrProject, "table: raw.", "table: "+side.raw+".")
	if run.shared {
		project = strings.Replace(project, `    - { source: ord, ids: { email: email, phone: phone, anon: anon }, region: country, where: "status <> 'test'" }`,
			`    - { source: ord, ids: { email: email, anon: anon }, where: "status <> 'test'" }
    - { source: ord, ids: { phone: phone }, region: country }`, 1)
	}
	p := loadProject(t, map[string]string{"identity.yml": project})
	p.Schema = side.schema
	if run.erasure {
		p.Erasure = &config.Erasure{Secret: "incremental-erasure-secret-0123456789"}
		// A sync reading the web events gives them a live table
		// (models.NeedsLiveSource): the source without erased people.
		p.Syncs = append(p.Syncs, config.Sync{Name: "events", From: "source.web", To: "somewhere"})
	}
	plan, err := models.Compile(p, side.d)
	if err != nil {
		t.Fatal(err)
	}
	if run.erasure {
		stmts := models.SuppressionDDL(side.d, p.StateSchema)
		var erased [][2]string
		for i := range 6 {
			erased = append(erased, [2]string{"email", fmt.Sprintf("e%d@example.com", i)}, [2]string{"anon", fmt.Sprintf("a%d", i)})
			if i < 4 {
				erased = append(erased, [2]string{"user_id", fmt.Sprintf("u%d", i)})
			}
		}
		for _, v := range erased {
			stmts = append(stmts, "INSERT INTO "+plan.Erasure.SuppressionTable+" VALUES ('test', "+side.d.String(v[0])+", "+
				side.d.String(models.ErasureDigest(plan.Erasure.Key, v[0], v[1]))+", NULL)")
		}
		exec(t, side.w, stmts...)
	}
	return p, plan
}

// state is identityState, with the web events' live table when erasing.
func (run incrRun) state(t *testing.T, side incrSide) string {
	st := identityState(t, side.w, side.d, side.schema)
	if run.erasure {
		live := queryLines(t, side.w, liveQuery(side.d, side.schema))
		slices.Sort(live)
		st += fmt.Sprintf("== live web events (%d)\n%s\n", len(live), strings.Join(live, "\n"))
	}
	return st
}

// TestIncrementalMatchesFullBuild compares incremental builds with full
// builds of the same data after random edits. SLUICE_INCR_SEED=n runs one
// seed (a failure prints its seed), SLUICE_INCR_STEPS=n makes every run
// that many steps long.
func TestIncrementalMatchesFullBuild(t *testing.T) {
	runs := []incrRun{
		{seed: 1, rows: 30, edits: 8, pools: 6},
		{seed: 2, rows: 80, edits: 8, pools: 15},
		{seed: 3, rows: 200, edits: 8, pools: 40, shared: true},
		{seed: 4, rows: 120, edits: 8, pools: 10, erasure: true},
	}
	if s := os.Getenv("SLUICE_INCR_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		runs = []incrRun{{seed: seed, rows: 30 + int(seed%5)*40, edits: 10, pools: 6 + int(seed%7)*5, erasure: seed%2 == 0, shared: seed%3 == 0}}
	}
	if s := os.Getenv("SLUICE_INCR_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		for i := range runs {
			runs[i].edits = n
		}
	}
	if testing.Short() {
		runs = runs[:1]
	}
	open := func(t testing.TB, _ string) incrSide {
		return incrSide{w: openDuckDB(t), d: duck, schema: "sluice", raw: "raw"}
	}
	for _, run := range runs {
		t.Run(fmt.Sprintf("seed=%d", run.seed), func(t *testing.T) {
			start := time.Now()
			run.check(t, open)
			t.Logf("%d steps in %v", run.edits, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestIncrementalMatchesFullBuildClickHouse is the same comparison on the
// ClickHouse server of SLUICE_CLICKHOUSE_DSN, in databases of its own.
func TestIncrementalMatchesFullBuildClickHouse(t *testing.T) {
	dsn := os.Getenv("SLUICE_CLICKHOUSE_DSN")
	if dsn == "" {
		t.Skip("SLUICE_CLICKHOUSE_DSN is not set: start a server with `. .ci/clickhouse.sh` to run the ClickHouse tests")
	}
	open := func(t testing.TB, side string) incrSide {
		w, err := warehouse.Open(context.Background(), warehouse.Config{
			ProjectDir: t.TempDir(),
			Warehouse:  config.Warehouse{Type: "clickhouse", DSN: config.Secret(dsn)},
		})
		if err != nil {
			t.Fatal(err)
		}
		schema := fmt.Sprintf("sluice_incr_%s_%d", side, os.Getpid())
		s := incrSide{w: w, d: w.Dialect(), schema: schema, raw: schema + "_raw"}
		drop := func() {
			for _, db := range []string{s.schema, s.raw} {
				if err := w.Exec(context.Background(), "DROP DATABASE IF EXISTS "+s.d.Ident(db)); err != nil {
					t.Error(err)
				}
			}
		}
		drop()
		t.Cleanup(func() { drop(); w.Close() })
		return s
	}
	run := incrRun{seed: 21, rows: 60, edits: 4, pools: 12, shared: true}
	if s := os.Getenv("SLUICE_INCR_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		run.edits = n
	}
	start := time.Now()
	run.check(t, open)
	t.Logf("%d steps in %v", run.edits, time.Since(start).Round(time.Millisecond))
}

// Explain reads the tables an incremental build publishes as it reads a
// full build's: the same profiles, identifiers and chains.
func TestExplainAfterIncrementalBuild(t *testing.T) {
	edits := []string{
		// Dan's e-mail now on Bob's CRM contact too: a merge over the user_id limit.
		"UPDATE raw.crm SET email = 'bob@example.com' WHERE contact_id = 'C7'",
		// Jane's duplicate contact goes.
		"DELETE FROM raw.crm WHERE contact_id = 'C2'",
		// A new event ties a3 to Bob; an old one loses its e-mail.
		"INSERT INTO raw.web VALUES ('E8', 'a3', 'C3', NULL, TIMESTAMP '2024-03-08 10:00:00')",
		"UPDATE raw.web SET email = NULL WHERE event_id = 'E4'",
	}
	changed := map[string][]string{"crm": {"C7", "C2"}, "web": {"E8", "E4"}}
	p := loadProject(t, map[string]string{"identity.yml": guardProject})
	var got []string
	for _, incremental := range []bool{true, false} {
		w := openDuckDB(t)
		exec(t, w, guardData...)
		build(t, w, p)
		exec(t, w, edits...)
		if incremental {
			if _, err := incrBuild(w, p, duck, nil, changed); err != nil {
				t.Fatal(err)
			}
		} else {
			build(t, w, p)
		}
		var b strings.Builder
		for _, q := range []struct{ typ, value string }{
			{"email", "bob@example.com"}, {"email", "dan@example.com"}, {"anonymous_id", "a1"},
			{"anonymous_id", "a3"}, {"user_id", "C1"}, {"phone", "+33 1 22 22 22 22"},
		} {
			ex, err := Explain(context.Background(), w, newCompiler(p), q.typ, q.value)
			if err != nil {
				t.Fatalf("%s:%s: %v", q.typ, q.value, err)
			}
			if err := ex.Render(&b); err != nil {
				t.Fatal(err)
			}
			b.WriteString("\n")
		}
		got = append(got, b.String())
	}
	if got[0] != got[1] {
		t.Errorf("explain after an incremental build:\n%s\nafter a full build:\n%s", got[0], got[1])
	}
	if !strings.Contains(got[0], "C7") {
		t.Errorf("the explanations do not show the edited rows:\n%s", got[0])
	}
}

// stagedTable finds the tables a DuckDB statement writes under their
// staging names, which the publish step puts in place.
var stagedTable = regexp.MustCompile(`CREATE OR REPLACE TABLE "[^"]+"\."([^"]+)` + models.StagingSuffix + `"`)

// An incremental build compiled like a build (the compiler of
// models.Compile, which writes staging tables) reads the previous build's
// published tables, writes its own under staging names and publishes them
// like a full build.
func TestIncrementalStagedBuild(t *testing.T) {
	edits := []string{
		"UPDATE raw.crm SET email = 'bob@example.com' WHERE contact_id = 'C7'",
		"DELETE FROM raw.web WHERE event_id = 'E1'",
		"INSERT INTO raw.orders VALUES ('eu', 3, 'jane@example.com', '01 23 45 67 89', 'paid', TIMESTAMP '2023-12-01 12:00:00')",
	}
	changed := map[string][]string{"crm": {"C7"}, "web": {"E1"}, "orders": {"eu\x1f3"}}
	p := loadProject(t, map[string]string{"identity.yml": guardProject})
	var states []string
	for _, mode := range []string{"incremental", "in place", "full"} {
		incremental := mode != "full"
		w := openDuckDB(t)
		exec(t, w, guardData...)
		var c *models.Compiler
		plan, err := models.Compile(p, duck, func(cc *models.Compiler) { c = cc })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := builder.Run(context.Background(), w, plan, builder.Options{}); err != nil {
			t.Fatal(err)
		}
		exec(t, w, edits...)
		if incremental {
			if mode == "in place" {
				// What an incremental build compiles: the identity tables
				// published by deleting and inserting the rows that change.
				c.Previous = &models.Previous{}
			}
			plan = stagedIncrementalPlan(t, c, plan, changed)
		}
		if _, err := builder.Run(context.Background(), w, plan, builder.Options{}); err != nil {
			t.Fatal(err)
		}
		if left := queryLines(t, w, "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%"+models.StagingSuffix+"'"); len(left) > 0 {
			t.Errorf("staging tables left: %v", left)
		}
		states = append(states, identityState(t, w, duck, p.Schema))
	}
	for i, mode := range []string{"incremental", "in place"} {
		if states[i] != states[2] {
			t.Errorf("%s build differs from a full build at %s", mode, firstDiff(states[i], states[2]))
		}
	}
}

// stagedIncrementalPlan is plan with its identity steps replaced by the
// incremental ones of the same compiler, after a step writing the changed
// keys, each step publishing the staging tables it writes.
func stagedIncrementalPlan(t *testing.T, c *models.Compiler, plan *models.Plan, changed map[string][]string) *models.Plan {
	t.Helper()
	steps, err := IncrementalSteps(c, plan.Erasure)
	if err != nil {
		t.Fatal(err)
	}
	var setup []string
	for _, e := range c.P.Identity.Edges {
		keys := []string{"SELECT CAST(NULL AS VARCHAR) AS k WHERE 1 = 0"}
		for _, k := range changed[e.Source] {
			keys = append(keys, "SELECT "+duck.String(k)+" AS k")
		}
		setup = append(setup, duck.ReplaceTable(ChangedKeysTable(c, e.Source), "SELECT DISTINCT hash(k) AS key_hash FROM ("+strings.Join(keys, " UNION ALL ")+") AS s"))
	}
	out := *plan
	out.Steps = nil
	for _, s := range plan.Steps {
		if s.Kind != models.KindIdentity && s.Kind != models.KindPublish {
			out.Steps = append(out.Steps, s)
		}
	}
	out.Steps = append(out.Steps, models.Step{Name: "changed_keys", Kind: models.KindSource, SQL: setup})
	for _, s := range steps {
		for _, q := range s.SQL {
			for _, m := range stagedTable.FindAllStringSubmatch(q, -1) {
				s.Publishes = append(s.Publishes, m[1])
			}
		}
		out.Steps = append(out.Steps, s)
	}
	return &out
}
