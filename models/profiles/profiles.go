// Package profiles compiles traits into the golden record: the table
// ENTITY_profiles (e.g. customer_profiles), one row per profile of the
// identity map, with profile_id and one column per trait.
//
// # Trait kinds
//
//   - Identifier picks (pick: email, no from) choose one value per profile
//     from ENTITY_identity_map: most_recent (last_seen_at), most_frequent
//     (seen_count, then last_seen_at) or first_seen (first_seen_at).
//   - Column picks (from: SOURCE, pick: COLUMN) choose one value among the
//     profile's rows of the source (those matching where and window):
//     most_recent and first_seen order rows by the source's timestamp,
//     most_frequent counts values (ties: the value seen most recently).
//   - source_priority picks (pick: COLUMN, priority: [S1, S2]) take the
//     value of the first listed source that has one, and within a source the
//     most recent (by its timestamp, when it has one).
//   - Aggregates (from: SOURCE, aggregate: sum(amount)) over the profile's
//     rows, optionally within a window before the build time.
//   - Expressions over other traits, computed after the traits they use, in
//     successive layers, so an expression may use another expression.
//   - RFM (rfm: {from, amount, timestamp}) adds the columns NAME_recency
//     (calendar days since the last purchase), NAME_frequency (purchases),
//     NAME_monetary (sum of amount), the scores NAME_r, NAME_f, NAME_m and
//     NAME, the three scores as text such as '545'. Scores are quintiles,
//     NTILE(5), over the profiles with at least one purchase: 5 is the most
//     recent, most frequent, highest spending fifth. Tied values share a
//     score (the lowest their group reaches), so equal customers are never
//     split by an arbitrary order; with fewer than five purchasers the
//     scores stop below 5. Profiles without purchases get NULL scores,
//     recency and monetary, and frequency 0.
//
// # Rules shared by every pick
//
// A NULL value never wins. A row whose timestamp is NULL loses to every
// row with a timestamp. Remaining ties go to the smallest value (for a
// boolean that is false, the cautious choice for consent flags), so a build
// is deterministic.
//
// # Empty aggregates
//
// A profile without (matching) rows gets 0 from count and NULL from sum,
// min, max and avg — as SQL's aggregates do over no rows.
//
// # Time
//
// Windows and RFM recency are measured from the build time on the wall
// clock of the project's time_zone, or from the compiler's Now when it is set (models.WithNow)
// (tests, reproducible rebuilds). A window keeps rows whose timestamp is at
// or after the build time minus the window.
//
// # Cost
//
// Each source is read once: one grouped pass computes every column pick,
// aggregate, source_priority candidate and RFM input that reads it. Only
// most_frequent column picks add a grouping of their own (per value), over
// the same joined rows. Identifier picks share one pass over the identity
// map.
//
// # Incremental builds
//
// IncrementalStatements writes the same table from the previous build's
// profiles, recomputing only the affected profiles (a work table,
// AffectedTable), those of the new identity map that
//
//   - have an identity map row (profile_id, id_type, id_value, first and
//     last seen, seen_count) that the previous map does not have alike, or
//     lost one;
//   - gained or lost a row of a source traits read (row map diff on
//     source, row_key, profile_id: moved and deleted rows);
//   - own a row of such a source whose key is in the source's changed keys
//     (models.Compiler.ChangedKeysTable: added or changed rows);
//   - own a row whose timestamp lies between the start of a trait's window
//     at the previous build's now and at this one's (rows that entered or
//     left the window, either way the clock moved).
//
// Every pick, aggregate and RFM input depends only on the profile's own
// rows and identifiers, so the others keep their values. What each kind
// costs:
//
//	kind                    recomputed
//	identifier pick         affected profiles: one pass over their identity map rows
//	column pick             affected profiles: their rows of the source
//	most_frequent pick      affected profiles: their rows, grouped by value
//	source_priority         affected profiles: their rows of each listed source
//	aggregate               affected profiles: their rows of the source
//	window (pick/aggregate) + profiles owning rows that crossed the window's edge (scan of the source by timestamp)
//	rfm inputs              affected profiles: their purchases; the others'
//	                        recency moves by the calendar days between the
//	                        two builds' now, frequency and monetary are kept
//	rfm scores and code     every purchaser: quintiles are global (sorts of all purchasers)
//	expression              every profile (a scan of the merged columns)
//
// Besides, finding the affected profiles reads both identity maps and the
// trait sources' rows of both row maps (grouped diffs), and the result
// copies every kept row of the previous table. The statements assume the
// previous profiles were built from the same traits (a changed definition
// needs a full build), and trait SQL (where, expressions) that reads no
// clock or other table: such SQL needs a full build too.
//
// Within an incremental build (models.Compiler.Previous set), the identity
// steps list the profiles they re-stitched (RestitchedTable), as they were
// and as they are, and no diff of the maps is needed. Those include the
// owners of every changed row: traits read rows through the row map, so a
// trait source is an edge source, and the identity steps re-read each of
// its changed rows and re-stitch its component. The window edges are
// added to them. Where the warehouse publishes in place (DeltaStatements),
// the affected profiles' identity map and row map rows are first copied
// into work tables that the passes read, and only the rows that can
// differ are written: the affected profiles, and the kept purchasers
// whose RFM score moved (compared with the score each carries) or, on a
// new day, whose recency did.
package profiles

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
)

func init() {
	models.RegisterStage(models.OrderProfiles, Stage)
	models.RegisterColumnCheck(CheckColumns)
}

// ProfileColumn is the column that links the rows of a source to the number
// of their profile (profile_no) inside the compiled query; it is prefixed so
// that it cannot clash with a source column that a where or aggregate names.
const ProfileColumn = "sluice_profile_no"

// Stage adds the step that builds ENTITY_profiles. A project without an
// identity section has no profiles, so it adds nothing.
func Stage(c *models.Compiler, plan *models.Plan) error {
	if c.P.Identity == nil {
		return nil
	}
	origin := c.P.Identity.At.Of("")
	if len(c.P.Traits) > 0 {
		origin = c.P.Traits[0].At.Of("name")
	}
	if c.Previous != nil {
		step, err := IncrementalStep(c, c.Previous.Now)
		if err != nil {
			return err
		}
		step.Origin = origin
		plan.Steps = append(plan.Steps, step)
		return nil
	}
	stmts, err := Statements(c)
	if err != nil {
		return err
	}
	n := 0
	for _, t := range c.P.Traits {
		n += len(t.Columns())
	}
	plan.Steps = append(plan.Steps, models.Step{
		Name: "profiles",
		Kind: models.KindProfiles,
		Description: fmt.Sprintf("Profiles: one row per profile of %s with its %d trait column(s), the golden record.",
			c.Final().IdentityMapTable(), n),
		Origin: origin,
		SQL:    stmts,
		Parts:  parts(c.P),
	})
	return nil
}

// parts lists every trait with the SQL and column names written for it,
// so that a failing build names the trait the warehouse complains about.
func parts(p *config.Project) []models.Part {
	frags := models.Fragments(p)
	var out []models.Part
	for _, t := range p.Traits {
		part := models.Part{What: "trait " + t.Name, Origin: t.At.Of("name")}
		for _, f := range frags {
			if f.Trait == t.Name {
				part.Fragments = append(part.Fragments, f)
			}
		}
		names := map[string]config.Pos{"pick": t.At.Of("pick")}
		vals := map[string]string{"pick": t.Pick}
		if t.RFM != nil {
			names["amount"], vals["amount"] = t.RFM.At.Of("amount"), t.RFM.Amount
			names["timestamp"], vals["timestamp"] = t.RFM.At.Of("timestamp"), t.RFM.Timestamp
		}
		for _, k := range []string{"pick", "amount", "timestamp"} {
			if vals[k] != "" {
				part.Fragments = append(part.Fragments, models.Fragment{Key: k, Text: vals[k], Value: vals[k], Pos: names[k], Trait: t.Name})
			}
		}
		out = append(out, part)
	}
	return out
}

// Statements returns the statements that build the profiles table.
func Statements(c *models.Compiler) ([]string, error) {
	b, err := newBuilder(c, "_profiles_w_", nil)
	if err != nil {
		return nil, err
	}
	return b.render(), nil
}

// newBuilder compiles every trait of the project; inc, when set, makes the
// passes read only the affected profiles (see IncrementalStatements).
// Work tables of dialects without CTEs are named ENTITY + prefix + CTE.
func newBuilder(c *models.Compiler, prefix string, inc *incState) (*builder, error) {
	b := &builder{c: c, d: c.D, sources: map[string]*sourcePass{}, inc: inc}
	b.scope = dialect.NewScope(c.D, func(name string) string { return c.WorkTable(c.Entity() + prefix + name) })
	now, err := b.nowExpr()
	if err != nil {
		return nil, err
	}
	b.now = now
	for _, t := range c.P.Traits {
		if err := b.trait(t); err != nil {
			return nil, fmt.Errorf("%s: trait %s: %w", t.At.Of("name"), t.Name, err)
		}
	}
	return b, nil
}

// builder collects the pieces of the profiles query: common table
// expressions, the joins and columns of the base layer, and expressions.
type builder struct {
	c   *models.Compiler
	d   dialect.Dialect
	now string

	ids     []column // identifier picks, over the identity map
	idTypes []string
	order   []string // sources in order of first use
	sources map[string]*sourcePass
	extra   []cte  // per-trait CTEs (most_frequent, rfm), after the source passes
	joins   []join // CTEs joined to the profiles in the base layer
	base    []column
	scope   *dialect.Scope
	inc     *incState // nil in a full build
}

type cte struct {
	name, comment, body string
}

type column struct {
	comment, expr, alias string
}

// join is a CTE joined to the profiles in the base layer, and the columns
// of it the base reads. Those columns are named CTE__TRAIT (see col), so
// that the joins can be chained one per SELECT with unique names.
type join struct {
	cte  string
	cols []string
}

// sourcePass is the single grouped pass over one source.
type sourcePass struct {
	src  config.Source
	cols []column
}

func (b *builder) nowExpr() (string, error) {
	tz := b.c.P.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if b.c.Now.IsZero() {
		return b.d.Now(tz), nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return "", fmt.Errorf("loading time zone %s: %w", tz, err)
	}
	return b.d.TimestampLiteral(b.c.Now.In(loc)), nil
}

func (b *builder) ident(s string) string { return b.d.Ident(s) }

// pass returns the pass over a source, creating it on first use.
func (b *builder) pass(name string) (*sourcePass, error) {
	if p, ok := b.sources[name]; ok {
		return p, nil
	}
	src, ok := b.c.Source(name)
	if !ok {
		return nil, fmt.Errorf("unknown source %s", name)
	}
	p := &sourcePass{src: src}
	b.sources[name] = p
	b.order = append(b.order, name)
	return p, nil
}

func rowsCTE(source string) string   { return "rows_" + source }
func traitsCTE(source string) string { return "traits_" + source }

// col is the name of a trait's column in a CTE joined to the profiles:
// unique across CTEs, and never the name of a source column, so that no
// warehouse can confuse the alias with a column it reads.
func col(cte, name string) string { return cte + "__" + name }

// joinCol records that the base layer reads column name of cte, and
// returns how the base refers to it.
func (b *builder) joinCol(cte, name string) string {
	i := slices.IndexFunc(b.joins, func(j join) bool { return j.cte == cte })
	if i < 0 {
		b.joins = append(b.joins, join{cte: cte})
		i = len(b.joins) - 1
	}
	if !slices.Contains(b.joins[i].cols, name) {
		b.joins[i].cols = append(b.joins[i].cols, name)
	}
	return b.ident(col(cte, name))
}

// ref is how a query refers to a CTE of the profiles query.
func (b *builder) ref(cte string) string { return b.scope.Ref(cte) }

// cast applies the trait's type, when it has one.
func (b *builder) cast(t config.Trait, expr string) string {
	if t.Type == "" {
		return expr
	}
	return b.d.Cast(expr, t.Type)
}

// and joins conditions, each parenthesised; empty ones are skipped.
func and(conds ...string) string {
	var out []string
	for _, c := range conds {
		if c != "" {
			out = append(out, "("+c+")")
		}
	}
	if len(out) == 1 {
		return strings.TrimSuffix(strings.TrimPrefix(out[0], "("), ")")
	}
	return strings.Join(out, " AND ")
}

// rowFilter is the condition a trait's rows must meet: its where and its
// window.
func (b *builder) rowFilter(t config.Trait, src config.Source) string {
	var window string
	if !t.Window.IsZero() {
		window = b.ident(src.Timestamp) + " >= " + b.d.TimestampMinus(b.now, t.Window.D)
	}
	return and(strings.TrimSpace(t.Where), window)
}

func describeFilter(t config.Trait) string {
	var parts []string
	if t.Where != "" {
		parts = append(parts, "where "+oneLine(t.Where))
	}
	if !t.Window.IsZero() {
		parts = append(parts, "within "+t.Window.Text)
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (b *builder) trait(t config.Trait) error {
	switch t.Kind() {
	case config.TraitIdentifier:
		b.identifier(t)
	case config.TraitColumn:
		return b.columnPick(t)
	case config.TraitSourcePriority:
		return b.sourcePriority(t)
	case config.TraitAggregate:
		return b.aggregate(t)
	case config.TraitExpression:
		// computed in layers above the base, see layers
	case config.TraitRFM:
		return b.rfm(t)
	default:
		return fmt.Errorf("the trait does not say what it computes")
	}
	return nil
}

// identifier picks one identifier of a type per profile from the identity
// map, whose rows already carry first/last seen times and counts.
func (b *builder) identifier(t config.Trait) {
	var order []dialect.SortKey
	var why string
	switch t.Rule {
	case "most_frequent":
		order = []dialect.SortKey{{Expr: "seen_count", Desc: true}, {Expr: "last_seen_at", Desc: true}}
		why = "most frequent (seen_count, then last seen)"
	case "first_seen":
		order = []dialect.SortKey{{Expr: "first_seen_at"}}
		why = "first seen"
	default:
		order = []dialect.SortKey{{Expr: "last_seen_at", Desc: true}}
		why = "most recent (last seen)"
	}
	order = append(order, dialect.SortKey{Expr: "id_value"})
	b.ids = append(b.ids, column{
		comment: fmt.Sprintf("%s: identifier %s, %s", t.Name, t.Pick, why),
		expr:    b.d.FirstBy("id_value", "id_type = "+b.d.String(t.Pick), order),
		alias:   b.ident(col("identifiers", t.Name)),
	})
	if !slices.Contains(b.idTypes, t.Pick) {
		b.idTypes = append(b.idTypes, t.Pick)
	}
	b.base = append(b.base, column{expr: b.cast(t, b.joinCol("identifiers", t.Name)), alias: b.ident(t.Name)})
}

// recentOrder is the order of the most recent rows of a source, newest
// first; value breaks ties.
func (b *builder) recentOrder(src config.Source, value string, desc bool) []dialect.SortKey {
	if src.Timestamp == "" {
		return []dialect.SortKey{{Expr: value}}
	}
	ts := b.ident(src.Timestamp)
	if ts == value { // picking the timestamp itself
		return []dialect.SortKey{{Expr: ts, Desc: desc}}
	}
	return []dialect.SortKey{{Expr: ts, Desc: desc}, {Expr: value}}
}

func (b *builder) columnPick(t config.Trait) error {
	p, err := b.pass(t.From)
	if err != nil {
		return err
	}
	value := b.ident(t.Pick)
	filter := b.rowFilter(t, p.src)
	if t.Rule == "most_frequent" {
		b.mostFrequent(t, p.src, value, filter)
		return nil
	}
	desc, why := true, "most recent"
	if t.Rule == "first_seen" {
		desc, why = false, "first seen"
	}
	p.cols = append(p.cols, column{
		comment: fmt.Sprintf("%s: %s.%s, %s non-NULL value%s", t.Name, t.From, t.Pick, why, describeFilter(t)),
		expr:    b.d.FirstBy(value, filter, b.recentOrder(p.src, value, desc)),
		alias:   b.ident(col(traitsCTE(t.From), t.Name)),
	})
	b.base = append(b.base, column{expr: b.cast(t, b.joinCol(traitsCTE(t.From), t.Name)), alias: b.ident(t.Name)})
	return nil
}

// mostFrequent counts each value per profile, then keeps the commonest:
// this needs a grouping by value, so it gets CTEs of its own over the
// source's joined rows.
func (b *builder) mostFrequent(t config.Trait, src config.Source, value, filter string) {
	counts, pick := "counts_"+t.Name, "pick_"+t.Name
	lastSeen, ties := "", "ties: smallest value, the source has no timestamp"
	order := []dialect.SortKey{{Expr: "occurrences", Desc: true}}
	if src.Timestamp != "" {
		lastSeen = ",\n        max(" + b.ident(src.Timestamp) + ") AS last_seen_at"
		ties = "ties: most recent, then smallest value"
		order = append(order, dialect.SortKey{Expr: "last_seen_at", Desc: true})
	}
	order = append(order, dialect.SortKey{Expr: "value"})
	b.extra = append(b.extra, cte{
		name:    counts,
		comment: fmt.Sprintf("%s: how often each non-NULL value of %s.%s occurs per profile%s.", t.Name, src.Name, t.Pick, describeFilter(t)),
		body: fmt.Sprintf(`SELECT
        %[1]s,
        %[2]s AS value,
        count(*) AS occurrences%[3]s
    FROM %[4]s
    WHERE %[5]s
    GROUP BY %[1]s, %[2]s`, ProfileColumn, value, lastSeen, b.ref(rowsCTE(src.Name)), and(value+" IS NOT NULL", filter)),
	})
	b.extra = append(b.extra, cte{
		name:    pick,
		comment: fmt.Sprintf("%s: the most frequent value (%s).", t.Name, ties),
		body: fmt.Sprintf(`SELECT
        %[1]s AS profile_no,
        %[2]s AS %[3]s
    FROM %[4]s
    GROUP BY %[1]s`, ProfileColumn, b.d.FirstBy("value", "", order), b.ident(col(pick, t.Name)), b.ref(counts)),
	})
	b.base = append(b.base, column{expr: b.cast(t, b.joinCol(pick, t.Name)), alias: b.ident(t.Name)})
}

// sourcePriority computes the most recent value in each listed source (in
// that source's pass) and keeps the first non-NULL one in priority order.
func (b *builder) sourcePriority(t config.Trait) error {
	value := b.ident(t.Pick)
	var alts []string
	for i, name := range t.Priority {
		p, err := b.pass(name)
		if err != nil {
			return err
		}
		why := "most recent non-NULL value"
		if p.src.Timestamp == "" {
			why = "smallest non-NULL value (the source has no timestamp)"
		}
		p.cols = append(p.cols, column{
			comment: fmt.Sprintf("%s: priority %d of %d, %s.%s, %s%s", t.Name, i+1, len(t.Priority), name, t.Pick, why, describeFilter(t)),
			expr:    b.d.FirstBy(value, b.rowFilter(t, p.src), b.recentOrder(p.src, value, true)),
			alias:   b.ident(col(traitsCTE(name), t.Name)),
		})
		alts = append(alts, b.joinCol(traitsCTE(name), t.Name))
	}
	expr := alts[0]
	if len(alts) > 1 {
		expr = "COALESCE(" + strings.Join(alts, ", ") + ")"
	}
	b.base = append(b.base, column{
		comment: fmt.Sprintf("%s: first source with a value, in order: %s", t.Name, strings.Join(t.Priority, ", ")),
		expr:    b.cast(t, expr),
		alias:   b.ident(t.Name),
	})
	return nil
}

// aggregateExpr renders an aggregate restricted to the rows meeting filter,
// with CASE so that every dialect reads it.
func aggregateExpr(a config.AggregateSpec, filter string) string {
	distinct := ""
	if a.Distinct {
		distinct = "DISTINCT "
	}
	arg := a.Arg
	if filter != "" {
		if arg == "*" {
			arg = "1"
		}
		arg = "CASE WHEN " + filter + " THEN " + arg + " END"
	}
	return a.Func + "(" + distinct + arg + ")"
}

func (b *builder) aggregate(t config.Trait) error {
	p, err := b.pass(t.From)
	if err != nil {
		return err
	}
	a, ok := config.ParseAggregate(t.Aggregate)
	if !ok {
		return fmt.Errorf("invalid aggregate %q", t.Aggregate)
	}
	p.cols = append(p.cols, column{
		comment: fmt.Sprintf("%s: %s over %s%s", t.Name, oneLine(t.Aggregate), t.From, describeFilter(t)),
		expr:    aggregateExpr(a, b.rowFilter(t, p.src)),
		alias:   b.ident(col(traitsCTE(t.From), t.Name)),
	})
	expr := b.joinCol(traitsCTE(t.From), t.Name)
	var comment string
	if a.Func == "count" {
		expr = "COALESCE(" + expr + ", 0)"
		comment = t.Name + ": a profile without rows counts 0"
	}
	b.base = append(b.base, column{comment: comment, expr: b.cast(t, expr), alias: b.ident(t.Name)})
	return nil
}

// rfm adds the purchase inputs to the source's pass, then scores them in
// two CTEs: quintiles, then tied values sharing the lowest score.
func (b *builder) rfm(t config.Trait) error {
	r := t.RFM
	p, err := b.pass(r.From)
	if err != nil {
		return err
	}
	ts := r.Timestamp
	if ts == "" {
		ts = p.src.Timestamp
	}
	where := strings.TrimSpace(r.Where)
	only := func(v string) string {
		if where == "" {
			return v
		}
		return "CASE WHEN " + where + " THEN " + v + " END"
	}
	pass := traitsCTE(r.From)
	last, freq, money := b.ident(col(pass, t.Name+"__last_purchase")), b.ident(col(pass, t.Name+"__purchases")), b.ident(col(pass, t.Name+"__spend"))
	filter := ""
	if where != "" {
		filter = ", where " + oneLine(where)
	}
	p.cols = append(p.cols,
		column{comment: fmt.Sprintf("%s: purchases in %s%s: last time, count, total %s", t.Name, r.From, filter, r.Amount),
			expr: "max(" + only(b.ident(ts)) + ")", alias: last},
		column{expr: "count(" + only("1") + ")", alias: freq},
		column{expr: "sum(" + only(b.ident(r.Amount)) + ")", alias: money},
	)
	if b.inc != nil {
		b.rfmRaw(t, pass)
		return nil
	}
	purchasers := "purchasers_" + t.Name
	b.extra = append(b.extra, cte{
		name:    purchasers,
		comment: fmt.Sprintf("%s: the profiles with a purchase, with recency (days), frequency and monetary.", t.Name),
		body: fmt.Sprintf(`SELECT
        profile_no AS pid,
        %[1]s AS recency,
        %[2]s AS frequency,
        %[3]s AS monetary
    FROM %[4]s
    WHERE %[2]s > 0`, b.d.DaysBetween(last, b.now), freq, money, b.ref(traitsCTE(r.From))),
	})
	b.extra = append(b.extra, b.rfmTiles(t, purchasers)...)
	scores := "scores_" + t.Name
	c := func(suffix string) string { return b.ident(col(scores, t.Name+suffix)) }
	tiled := b.tileJoins("SELECT * FROM "+b.ref(purchasers), t, [3]string{"recency", "frequency", "monetary"}, "", [3]string{"r_score", "f_score", "m_score"})
	b.extra = append(b.extra, cte{
		name:    scores,
		comment: fmt.Sprintf("%s: quintiles over the profiles with a purchase; 5 = most recent, most frequent, highest spend.", t.Name),
		body: fmt.Sprintf(`SELECT
        pid AS profile_no,
        recency AS %[1]s,
        frequency AS %[2]s,
        monetary AS %[3]s,
        r_score AS %[4]s,
        f_score AS %[5]s,
        m_score AS %[6]s
    FROM (
%[7]s
    ) AS tiled`, c("_recency"), c("_frequency"), c("_monetary"), c("_r"), c("_f"), c("_m"), dialect.Indent(tiled, "        ")),
	})
	ref := func(suffix string) string { return b.joinCol(scores, t.Name+suffix) }
	code := b.d.Concat(b.d.CastText(ref("_r")), b.d.CastText(ref("_f")), b.d.CastText(ref("_m")))
	b.base = append(b.base,
		column{comment: fmt.Sprintf("%s: RFM code, e.g. 545; NULL without purchases", t.Name), expr: code, alias: b.ident(t.Name)},
		column{expr: ref("_recency"), alias: b.ident(t.Name + "_recency")},
		column{comment: t.Name + ": no purchase counts 0", expr: "COALESCE(" + ref("_frequency") + ", 0)", alias: b.ident(t.Name + "_frequency")},
		column{expr: ref("_monetary"), alias: b.ident(t.Name + "_monetary")},
		column{expr: ref("_r"), alias: b.ident(t.Name + "_r")},
		column{expr: ref("_f"), alias: b.ident(t.Name + "_f")},
		column{expr: ref("_m"), alias: b.ident(t.Name + "_m")},
	)
	return nil
}

// rfmDims are the three dimensions of an RFM score: the purchasers'
// column each ranks, and the order that ranks the best last (5 = best).
var rfmDims = []struct {
	name, value string
	order       dialect.SortKey
}{
	{"r", "recency", dialect.SortKey{Expr: "v", Desc: true, NullsFirst: true}},
	{"f", "frequency", dialect.SortKey{Expr: "v"}},
	{"m", "monetary", dialect.SortKey{Expr: "v", NullsFirst: true}},
}

// rfmTiles ranks the purchasers (pid, recency, frequency, monetary) of an
// rfm trait in two CTEs per dimension, the second of which,
// tiles_D_NAME (t_null, t_key, t_score), gives the score of each value
// (NULL grouped under t_null = 1). The scores are quintiles: NTILE(5)
// over the purchasers, written with row numbers (portable: ClickHouse
// 18.16 has no window functions). Tied values share the score of their
// group's first row, the lowest the group reaches, so the order among
// ties does not matter, and a score depends on the value alone: the
// profiles are given theirs by a join on the value (tileJoins), against
// a table of distinct values rather than of every purchaser.
func (b *builder) rfmTiles(t config.Trait, purchasers string) []cte {
	n := "(SELECT count(*) FROM " + b.ref(purchasers) + ")"
	var out []cte
	for _, dim := range rfmDims {
		ranked, tiles := "ranked_"+dim.name+"_"+t.Name, "tiles_"+dim.name+"_"+t.Name
		out = append(out,
			cte{
				name:    ranked,
				comment: fmt.Sprintf("%s: purchasers in order of %s (5 = best), NULLs grouped under a key.", t.Name, dim.value),
				body: b.d.NumberRows(fmt.Sprintf(`SELECT
    %[1]s AS v,
    CASE WHEN %[1]s IS NULL THEN 1 ELSE 0 END AS v_null,
    coalesce(%[1]s, 0) AS v_key
FROM %[2]s`, dim.value, b.ref(purchasers)), "rn", []dialect.SortKey{dim.order}),
			},
			cte{
				name: tiles,
				comment: "the score of each value: NTILE(5) of its group's first row; with q = n / 5 and r = n % 5,\n" +
					"the first r tiles hold q + 1 rows, the others q",
				body: fmt.Sprintf(`SELECT v_null AS t_null, v_key AS t_key, %s AS t_score
    FROM %s
    GROUP BY v_null, v_key`, ntile("min(rn)", n, b.d), b.ref(ranked)),
			},
		)
	}
	return out
}

// tileJoins adds to the rows of the query from the scores of rfm trait t
// (out, one column per dimension), read from the tiles of the values in
// from's columns vals (recency, frequency, monetary). Where purchaser is
// set, the rows it is false for are no purchasers and get no score. The
// join keys are columns of their own (ClickHouse 18.16 joins on columns,
// and not on NULL), left in the result under names starting sluice_.
func (b *builder) tileJoins(from string, t config.Trait, vals [3]string, purchaser string, out [3]string) string {
	var keys []string
	for i, dim := range rfmDims {
		isNull := "CASE WHEN " + vals[i] + " IS NULL THEN 1 ELSE 0 END"
		if purchaser != "" {
			// 2 matches no tile.
			isNull = "CASE WHEN " + purchaser + " THEN " + isNull + " ELSE 2 END"
		}
		keys = append(keys, isNull+" AS "+b.tileKey(t, dim.name, "null"), "coalesce("+vals[i]+", 0) AS "+b.tileKey(t, dim.name, "key"))
	}
	chain := "SELECT c.*, " + strings.Join(keys, ", ") + "\nFROM (\n" + dialect.Indent(from, "    ") + "\n) AS c"
	for i, dim := range rfmDims {
		chain = fmt.Sprintf("SELECT c.*, j.%[1]s\nFROM (\n%[2]s\n) AS c\nLEFT JOIN (SELECT t_null AS j_null, t_key AS j_key, t_score AS %[1]s FROM %[3]s) AS j ON j.j_null = c.%[4]s AND j.j_key = c.%[5]s",
			out[i], dialect.Indent(chain, "    "), b.ref("tiles_"+dim.name+"_"+t.Name), b.tileKey(t, dim.name, "null"), b.tileKey(t, dim.name, "key"))
	}
	return chain
}

// tileKey names a join key column of tileJoins.
func (b *builder) tileKey(t config.Trait, dim, part string) string {
	return b.ident("sluice_" + t.Name + "_" + dim + "_" + part)
}

// ntile is NTILE(5) of row number rn among n rows, without window
// functions: the first n % 5 tiles hold n / 5 + 1 rows, the others n / 5.
func ntile(rn, n string, d dialect.Dialect) string {
	q := "floor(" + n + " / 5)"
	r := "(" + n + " - 5 * " + q + ")"
	big := "(" + r + " * (" + q + " + 1))"
	return d.Cast(fmt.Sprintf("CASE WHEN %[1]s <= %[4]s THEN floor((%[1]s - 1) / (%[2]s + 1)) + 1 ELSE %[3]s + floor((%[1]s - 1 - %[4]s) / %[2]s) + 1 END",
		rn, q, r, big), "BIGINT")
}
