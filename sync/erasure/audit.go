package erasure

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"
)

// Request statuses, as the audit shows them.
const (
	StatusPending = "pending"               // some destination still to confirm
	StatusDone    = "done"                  // erased everywhere sluice sent the person
	StatusManual  = "manual_action_needed"  // a destination cannot erase: do it by hand
	StatusNoMatch = "no_match"              // nobody held the identifier; suppressed all the same
	StatusWaiting = "waiting_for_the_build" // everything sent; the next build drops the person
)

type eventRow struct {
	Request, Sync, Destination string
	At                         time.Time
	Seq                        int64
	Outcome                    string
	Keys                       int64
	Ref, Error                 *string
}

// events reads erasure_events rows matching a condition, in order.
func (s *Service) events(ctx context.Context, where string, fn func(eventRow)) error {
	q := "SELECT request_id, sync, destination, event_at, seq, outcome, key_count, ref, error FROM " + s.table("erasure_events")
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY seq"
	return s.each(ctx, q, func(scan func(...any) error) error {
		var e eventRow
		var sync, dest *string
		if err := scan(&e.Request, &sync, &dest, &e.At, &e.Seq, &e.Outcome, &e.Keys, &e.Ref, &e.Error); err != nil {
			return err
		}
		if sync != nil {
			e.Sync = *sync
		}
		if dest != nil {
			e.Destination = *dest
		}
		fn(e)
		return nil
	})
}

// Audit is one request as `sluice erasures` shows it.
type Audit struct {
	ID          string         `json:"request_id"`
	ReceivedAt  time.Time      `json:"received_at"`
	RequestedAt time.Time      `json:"requested_at"`
	Origin      string         `json:"origin"`
	IDType      string         `json:"id_type"`
	IDDigest    string         `json:"id_digest"`
	Reason      string         `json:"reason,omitempty"`
	Profiles    int64          `json:"profiles"`
	Identifiers int64          `json:"identifiers"`
	SourceRows  map[string]int `json:"source_rows"` // per source: rows the data team must delete
	Status      string         `json:"status"`
	CompletedAt *time.Time     `json:"completed_at,omitempty"`
	Overdue     bool           `json:"overdue"`
	Deadline    time.Time      `json:"deadline"`
	Syncs       []SyncAudit    `json:"destinations"`
}

// SyncAudit is a request's erasure at one sync's destination.
type SyncAudit struct {
	Sync        string     `json:"sync"`
	Destination string     `json:"destination"`
	Outcome     string     `json:"outcome"`
	Keys        int64      `json:"keys"`
	Attempts    int        `json:"attempts"`
	SentAt      *time.Time `json:"sent_at,omitempty"` // first attempt
	DoneAt      *time.Time `json:"done_at,omitempty"`
	Ref         string     `json:"vendor_ref,omitempty"`
	Error       string     `json:"error,omitempty"`
}

// List reads every request with its state, newest first.
func (s *Service) List(ctx context.Context) ([]Audit, error) {
	if err := s.Ensure(ctx); err != nil {
		return nil, err
	}
	byID := map[string]*Audit{}
	var order []string
	q := "SELECT request_id, received_at, requested_at, origin, id_type, id_digest, reason, profiles, identifiers, source_rows FROM " + s.table("erasure_requests")
	err := s.each(ctx, q, func(scan func(...any) error) error {
		var a Audit
		var reason, rows *string
		if err := scan(&a.ID, &a.ReceivedAt, &a.RequestedAt, &a.Origin, &a.IDType, &a.IDDigest, &reason, &a.Profiles, &a.Identifiers, &rows); err != nil {
			return err
		}
		if reason != nil {
			a.Reason = *reason
		}
		if rows != nil {
			_ = json.Unmarshal([]byte(*rows), &a.SourceRows)
		}
		a.Deadline = a.RequestedAt.Add(s.p.Erasure.ErasureDeadline())
		byID[a.ID] = &a
		order = append(order, a.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	syncs := map[string]map[string]*SyncAudit{}
	err = s.events(ctx, "", func(e eventRow) {
		a := byID[e.Request]
		if a == nil {
			return
		}
		if e.Outcome == Closed {
			at := e.At
			a.CompletedAt = &at
			return
		}
		if syncs[e.Request] == nil {
			syncs[e.Request] = map[string]*SyncAudit{}
		}
		sa := syncs[e.Request][e.Sync]
		if sa == nil {
			sa = &SyncAudit{Sync: e.Sync, Destination: e.Destination}
			syncs[e.Request][e.Sync] = sa
		}
		apply(sa, e)
	})
	if err != nil {
		return nil, err
	}
	now := s.Now()
	out := make([]Audit, 0, len(order))
	for _, id := range order {
		a := byID[id]
		a.Syncs = []SyncAudit{}
		for _, sa := range syncs[id] {
			a.Syncs = append(a.Syncs, *sa)
		}
		sort.Slice(a.Syncs, func(i, j int) bool { return a.Syncs[i].Sync < a.Syncs[j].Sync })
		a.Status = status(a)
		a.Overdue = a.CompletedAt == nil && now.After(a.Deadline)
		out = append(out, *a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ReceivedAt.After(out[j].ReceivedAt) })
	return out, nil
}

// apply folds one event into a sync's audit.
func apply(sa *SyncAudit, e eventRow) {
	sa.Outcome = e.Outcome
	if e.Keys > 0 || e.Outcome == Pending {
		sa.Keys = max(sa.Keys, e.Keys)
	}
	if e.Outcome == Failed || e.Outcome == Done || e.Outcome == Manual {
		sa.Attempts++
		if sa.SentAt == nil {
			at := e.At
			sa.SentAt = &at
		}
	}
	if terminal(e.Outcome) {
		at := e.At
		sa.DoneAt = &at
	}
	if e.Ref != nil {
		sa.Ref = *e.Ref
	}
	sa.Error = ""
	if e.Error != nil {
		sa.Error = *e.Error
	}
}

func status(a *Audit) string {
	open := a.CompletedAt == nil
	manual := slices.ContainsFunc(a.Syncs, func(sa SyncAudit) bool { return sa.Outcome == Manual })
	pending := slices.ContainsFunc(a.Syncs, func(sa SyncAudit) bool { return !terminal(sa.Outcome) })
	switch {
	case pending:
		return StatusPending
	case open:
		return StatusWaiting
	case a.Profiles == 0:
		return StatusNoMatch
	case manual:
		return StatusManual
	}
	return StatusDone
}

// Close completes the requests whose every sync is through. Call it after
// a build that applied the suppression list: by then the person is gone
// from the identity map, profiles and segments too. It returns the
// requests it completed.
func (s *Service) Close(ctx context.Context) ([]string, error) {
	list, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var closed []string
	var events [][]any
	for _, a := range list {
		if a.CompletedAt != nil || a.Status == StatusPending {
			continue
		}
		closed = append(closed, a.ID)
		events = append(events, s.event(a.ID, "", "", Closed, 0, "", ""))
	}
	return closed, s.insertEvents(ctx, events)
}

// Overdue counts the requests still open past their deadline.
func Overdue(list []Audit) int {
	n := 0
	for _, a := range list {
		if a.Overdue {
			n++
		}
	}
	return n
}
