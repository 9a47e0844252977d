package erasure

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/identity"
)

// Origins of a request.
const (
	FromForget   = "forget"   // sluice forget
	FromRequests = "requests" // the project's erasure requests table
)

// Request is an erasure request as received.
type Request struct {
	IDType, Value string
	Reason        string
	RequestedAt   time.Time // when the person asked; zero: now
	Origin        string
	// Intake identifies a row of the requests table (digest and time), so
	// that it is queued once.
	Intake string
}

// Queued is a request once recorded.
type Queued struct {
	ID     string
	Target *Target
}

// Queue resolves a request and records it: the request, the suppression
// list entries (every identifier of the person, or the named one when
// nobody holds it), and per sync the keys to erase. Nothing raw is written.
func (s *Service) Queue(ctx context.Context, r Request) (*Queued, error) {
	if s.p.Erasure.Secret == "" {
		return nil, ErrSecretUnset
	}
	if err := s.Ensure(ctx); err != nil {
		return nil, err
	}
	if err := s.checkKey(ctx); err != nil {
		return nil, err
	}
	t, err := s.Resolve(ctx, r.IDType, r.Value)
	if err != nil {
		return nil, err
	}
	return s.record(ctx, r, t)
}

func (s *Service) record(ctx context.Context, r Request, t *Target) (*Queued, error) {
	now := s.Now().UTC()
	if r.RequestedAt.IsZero() {
		r.RequestedAt = now
	}
	id := newRequestID(now)
	counts := map[string]int{}
	for _, row := range t.Rows {
		counts[row.Source]++
	}
	rows, _ := json.Marshal(counts)
	ids := t.Identifiers
	switch {
	case t.Blocked:
		// A junk value shared by many: on the suppression list it would
		// drop every row carrying it, other people's too.
		ids = nil
	case !t.Found:
		ids = []identity.Identifier{t.Named}
	}
	var reason any
	if r.Reason != "" {
		reason = r.Reason
	}
	err := s.insert(ctx, "erasure_requests",
		[]string{"request_id", "received_at", "requested_at", "origin", "intake", "id_type", "id_digest", "reason", "profiles", "identifiers", "source_rows", "key_check"},
		[][]any{{id, now, r.RequestedAt.UTC(), r.Origin, nullable(r.Intake), t.Named.Type, s.digest(t.Named.Type, t.Named.Value), reason, boolCount(t.Found), len(t.Identifiers), string(rows), s.keyCheck()}})
	if err != nil {
		return nil, err
	}
	var sup [][]any
	for _, i := range ids {
		sup = append(sup, []any{id, i.Type, s.digest(i.Type, i.Value), now})
	}
	if err := s.insert(ctx, models.SuppressionTableName, []string{"request_id", "id_type", "digest", "added_at"}, sup); err != nil {
		return nil, err
	}
	var keys, events [][]any
	for _, sk := range t.Syncs {
		for _, k := range sk.Keys {
			keys = append(keys, []any{id, sk.Sync, sk.Destination, s.keyDigest(k)})
		}
		events = append(events, s.event(id, sk.Sync, sk.Destination, Pending, len(sk.Keys), "", ""))
	}
	if err := s.insert(ctx, "erasure_keys", []string{"request_id", "sync", "destination", "key_digest"}, keys); err != nil {
		return nil, err
	}
	if !t.Found {
		// Nobody to erase anywhere: complete, and audited as such.
		events = append(events, s.event(id, "", "", Closed, 0, "", t.Note))
	}
	if err := s.insertEvents(ctx, events); err != nil {
		return nil, err
	}
	return &Queued{ID: id, Target: t}, nil
}

var eventCols = []string{"request_id", "sync", "destination", "event_at", "seq", "outcome", "key_count", "ref", "error"}

// event is one row of erasure_events; seq orders events of the same
// instant.
func (s *Service) event(id, sync, dest, outcome string, keys int, ref, msg string) []any {
	now := s.Now().UTC()
	var r, e any
	if ref != "" {
		r = ref
	}
	if msg != "" {
		e = msg
	}
	return []any{id, sync, dest, now, nextSeq(now), outcome, keys, r, e}
}

// lastSeq orders the events this process writes: the time in
// nanoseconds, or one more than the last when the clock did not move
// (a coarse or fake clock, several services at once).
var lastSeq atomic.Int64

// Cutoff marks a moment in the order of erasure events: take it right
// before a build (after Prepare), and pass it to the syncs that follow
// (PropagateOptions.Cutoff), so that they leave the requests queued during
// the build for the next run.
func Cutoff(now time.Time) int64 { return nextSeq(now) }

func nextSeq(now time.Time) int64 {
	for {
		last := lastSeq.Load()
		next := max(now.UnixNano(), last+1)
		if lastSeq.CompareAndSwap(last, next) {
			return next
		}
	}
}

func (s *Service) insertEvents(ctx context.Context, rows [][]any) error {
	return s.insert(ctx, "erasure_events", eventCols, rows)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolCount(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newRequestID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "er_" + now.Format("20060102T150405") + "_" + hex.EncodeToString(b)
}

// Intake queues the rows of the project's erasure requests table that were
// not queued before (same identifier and requested_at), and returns how
// many it queued. A row whose value is not an identifier of its type is
// recorded too, as a request that found nobody, and reported in the
// returned problems.
func (s *Service) Intake(ctx context.Context) (int, []error, error) {
	if s.plan.Requests == "" {
		return 0, nil, nil
	}
	if err := s.Ensure(ctx); err != nil {
		return 0, nil, err
	}
	seen, err := s.knownRequests(ctx)
	if err != nil {
		return 0, nil, err
	}
	var todo []Request
	err = s.each(ctx, "SELECT "+s.f.CastText("id_type")+", "+s.f.CastText("id_value")+", requested_at FROM ("+s.plan.Requests+") AS r", func(scan func(...any) error) error {
		var typ, val *string
		var at *time.Time
		if err := scan(&typ, &val, &at); err != nil {
			return err
		}
		if typ == nil || val == nil {
			return nil
		}
		r := Request{IDType: *typ, Value: *val, Origin: FromRequests}
		if at != nil {
			r.RequestedAt = at.UTC()
		}
		todo = append(todo, r)
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("reading the erasure requests table: %w", err)
	}
	var problems []error
	n := 0
	for _, r := range todo {
		// Deduplicated on the raw value's digest: the normalised one needs
		// the warehouse, and the table names each request once anyway.
		sig := s.digest(r.IDType, r.Value) + "@" + r.RequestedAt.Format(time.RFC3339Nano)
		if seen[sig] {
			continue
		}
		seen[sig] = true
		t, err := s.Resolve(ctx, r.IDType, r.Value)
		if err != nil {
			if !errors.Is(err, identity.ErrRejected) && !errors.Is(err, identity.ErrUnknownType) {
				// A warehouse error may quote the statement, and so the
				// value: it never reaches a log as it is.
				return n, problems, fmt.Errorf("resolving an erasure request of type %s: %s", r.IDType, scrub(err.Error(), []string{r.Value}))
			}
			problems = append(problems, fmt.Errorf("erasure request %s (requested %s): %w", r.IDType, r.RequestedAt.Format(time.DateOnly), errors.New(describe(err))))
			t = &Target{Named: identity.Identifier{Type: r.IDType, Value: r.Value}, Note: "not an identifier of its type"}
		}
		r.Reason, r.Intake = "erasure requests table", sig
		if _, err := s.record(ctx, r, t); err != nil {
			return n, problems, err
		}
		n++
	}
	return n, problems, nil
}

// knownRequests are the signatures of the requests already taken from the
// requests table.
func (s *Service) knownRequests(ctx context.Context) (map[string]bool, error) {
	seen := map[string]bool{}
	q := "SELECT intake FROM " + s.table("erasure_requests") + " WHERE origin = " + s.f.String(FromRequests)
	err := s.each(ctx, q, func(scan func(...any) error) error {
		var r *string
		if err := scan(&r); err != nil {
			return err
		}
		if r != nil {
			seen[*r] = true
		}
		return nil
	})
	return seen, err
}

// describe is an error's message without the raw value it may quote.
func describe(err error) string {
	switch {
	case errors.Is(err, identity.ErrRejected):
		return "not a valid identifier of its type"
	case errors.Is(err, identity.ErrUnknownType):
		return "unknown id type"
	}
	return "could not be resolved"
}
