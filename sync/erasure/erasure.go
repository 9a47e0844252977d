// Package erasure carries out the right to erasure (GDPR/RGPD article 17).
//
// A request (sluice forget TYPE:VALUE, or a row of the project's erasure
// requests table) names one identifier; it resolves through the identity
// map to the whole profile. sluice then keeps, in the state schema:
//
//	erasure_requests     one row per request: when, why, the named
//	                     identifier as a keyed digest, how many profiles,
//	                     identifiers and source rows it found
//	erasure_identifiers  every identifier of the person, as a keyed digest:
//	                     the suppression list the identity build reads, so
//	                     the person's lingering source rows link nothing
//	erasure_keys         per sync, the keys its destination holds for the
//	                     person, as keyed digests
//	erasure_events       the audit trail: per request and sync, each
//	                     attempt and its outcome (pending, done, not_held,
//	                     failed, manual), and the request's completion
//
// Nothing raw is kept: digests are SHA-256 over a key derived from the
// project's secret (models.ErasureKey), the identifier's type and value.
// Propagation (Propagate) runs within a sync's lock after a build that
// applied the suppression list: it finds the raw keys again in the sync's
// own state by digest, asks the destination to erase them
// (destination.Eraser), and once the destination confirmed, purges them
// from the snapshot, change log and rejections of that sync.
package erasure

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/dialect"
	"github.com/sluicehq/sluice/sync/internal/sqlfn"
	"github.com/sluicehq/sluice/sync/state"
)

// ErrNotConfigured is returned when the project has no erasure block.
var ErrNotConfigured = errors.New("the project has no erasure block: add one to sluice.yml with secret: ${SLUICE_ERASURE_SECRET} (see docs/privacy.md)")

// Outcomes of erasure_events.
const (
	Pending = "pending"  // queued for a sync's destination
	NotHeld = "not_held" // the sync never sent the person anything (still held)
	Done    = "done"     // the destination confirmed
	Failed  = "failed"   // an attempt failed; retried on the next run
	Manual  = "manual"   // the destination cannot erase: someone must, by hand
	Closed  = "closed"   // every sync is through and sluice's copies are purged
)

// terminal reports whether a sync's erasure needs no further attempt.
func terminal(outcome string) bool {
	return outcome == NotHeld || outcome == Done || outcome == Manual
}

// Service reads and writes erasure requests for one project.
type Service struct {
	p     *config.Project
	w     warehouse.Warehouse
	f     sqlfn.Funcs
	st    *state.Store
	plan  *models.Erasure
	c     *models.Compiler
	Now   func() time.Time
	ensed atomic.Bool // the tables exist; concurrent syncs share the service
}

// New returns the erasure service of a project; ErrNotConfigured without
// an erasure block.
func New(p *config.Project, w warehouse.Warehouse, st *state.Store) (*Service, error) {
	if p.Erasure == nil {
		return nil, ErrNotConfigured
	}
	f, err := sqlfn.For(w.Dialect())
	if err != nil {
		return nil, err
	}
	plan, err := models.Compile(p, w.Dialect())
	if err != nil {
		return nil, err
	}
	return &Service{
		p: p, w: w, f: f, st: st, plan: plan.Erasure, c: &models.Compiler{P: p, D: w.Dialect()},
		Now: time.Now,
	}, nil
}

// Key is the derived key digests are made with.
func (s *Service) Key() string { return s.plan.Key }

func (s *Service) table(name string) string { return s.f.Table(s.p.StateSchema, name) }

// Ensure creates the erasure tables.
func (s *Service) Ensure(ctx context.Context) error {
	if s.ensed.Load() {
		return nil
	}
	f := s.f
	txt, ts, big := dialect.TextType(f), dialect.TimestampType(f), f.BigInt()
	col := func(name, typ string) dialect.TableColumn { return dialect.TableColumn{Name: name, Type: typ} }
	stmts := append(models.SuppressionDDL(f, s.p.StateSchema),
		dialect.CreateTableIfMissing(f, s.table("erasure_requests"), []dialect.TableColumn{
			col("request_id", txt), col("received_at", ts), col("requested_at", ts), col("origin", txt), col("intake", txt),
			col("id_type", txt), col("id_digest", txt), col("reason", txt),
			col("profiles", big), col("identifiers", big), col("source_rows", txt), col("key_check", txt),
		}),
		dialect.CreateTableIfMissing(f, s.table("erasure_keys"), []dialect.TableColumn{
			col("request_id", txt), col("sync", txt), col("destination", txt), col("key_digest", txt),
		}),
		dialect.CreateTableIfMissing(f, s.table("erasure_events"), []dialect.TableColumn{
			col("request_id", txt), col("sync", txt), col("destination", txt), col("event_at", ts), col("seq", big),
			col("outcome", txt), col("key_count", big), col("ref", txt), col("error", txt),
		}),
	)
	for _, q := range stmts {
		if err := s.w.Exec(ctx, q); err != nil {
			return fmt.Errorf("creating the erasure tables in %s: %w", s.p.StateSchema, err)
		}
	}
	s.ensed.Store(true)
	return nil
}

// digest is the keyed digest of a value of a type.
func (s *Service) digest(idType, value string) string {
	return models.ErasureDigest(s.plan.Key, idType, value)
}

// keyDigest is the keyed digest of a sync key.
func (s *Service) keyDigest(key string) string { return s.digest("key", key) }

// keyDigestExpr is keyDigest in SQL, over an expression, with the key's
// placeholder: run it through queryBound.
func (s *Service) keyDigestExpr(expr string) string {
	return s.plan.DigestExpr(s.f, "'key'", expr)
}

// each runs a query, with the key substituted for its placeholder, and
// calls fn per row. Errors never show the key.
func (s *Service) each(ctx context.Context, q string, fn func(scan func(...any) error) error) error {
	rows, err := s.w.Query(ctx, strings.ReplaceAll(q, s.plan.KeyPlaceholder, s.plan.Key))
	if err != nil {
		return s.unbind(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return s.unbind(err)
		}
	}
	return s.unbind(rows.Err())
}

// unbind takes the key back out of an error's message.
func (s *Service) unbind(err error) error {
	if err == nil || !strings.Contains(err.Error(), s.plan.Key) {
		return err
	}
	return &keyedError{msg: strings.ReplaceAll(err.Error(), s.plan.Key, s.plan.KeyPlaceholder), err: err}
}

type keyedError struct {
	msg string
	err error
}

func (e *keyedError) Error() string { return e.msg }
func (e *keyedError) Unwrap() error { return e.err }

// insert appends rows of literal values: erasure tables take a handful
// of rows per request. Insert-only warehouses (ClickHouse) get one
// INSERT ... SELECT per row: over the native protocol an inline VALUES
// waits for data blocks that never come, and 18.16 cannot UNION rows
// whose literals differ in type (NULL beside a string).
func (s *Service) insert(ctx context.Context, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	idents := make([]string, len(cols))
	for i, c := range cols {
		idents[i] = s.f.Ident(c)
	}
	head := "INSERT INTO " + s.table(table) + " (" + strings.Join(idents, ", ") + ") "
	var stmts []string
	if _, ok := s.f.(sqlfn.InsertOnly); ok {
		for _, r := range rows {
			stmts = append(stmts, head+"SELECT "+strings.Join(s.literals(r), ", "))
		}
	} else {
		const chunk = 500
		for start := 0; start < len(rows); start += chunk {
			vals := make([]string, 0, min(chunk, len(rows)-start))
			for _, r := range rows[start:min(start+chunk, len(rows))] {
				vals = append(vals, "("+strings.Join(s.literals(r), ", ")+")")
			}
			stmts = append(stmts, head+"VALUES "+strings.Join(vals, ", "))
		}
	}
	for _, q := range stmts {
		if err := s.w.Exec(ctx, q); err != nil {
			return fmt.Errorf("writing %s: %w", table, err)
		}
	}
	return nil
}

func (s *Service) literals(r []any) []string {
	lits := make([]string, len(r))
	for i, v := range r {
		lits[i] = s.literal(v)
	}
	return lits
}

func (s *Service) literal(v any) string {
	switch x := v.(type) {
	case nil:
		// Every nullable column of the erasure tables is text.
		return s.f.CastText("NULL")
	case string:
		return s.f.String(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case time.Time:
		return s.f.TimestampLiteral(x.UTC())
	}
	panic(fmt.Sprintf("erasure: no literal for %T", v))
}

// inList renders strings as a SQL list: ('a', 'b').
func (s *Service) inList(vals []string) string {
	lits := make([]string, len(vals))
	for i, v := range vals {
		lits[i] = s.f.String(v)
	}
	return "(" + strings.Join(lits, ", ") + ")"
}
