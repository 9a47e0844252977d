package erasure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/models/identity"
	"github.com/sluicehq/sluice/sync/planner"
	"github.com/sluicehq/sluice/sync/spec"
)

// Target is what a request erases, found through the identity map of the
// last build.
type Target struct {
	Input     string              // the value as given
	Named     identity.Identifier // normalised
	Found     bool                // a profile holds it
	ProfileID string
	// Identifiers are every identifier of the profile, the named one first.
	Identifiers []identity.Identifier
	// Rows are the source rows carrying them: the data team's to delete.
	Rows []identity.Row
	// Syncs are the syncs whose destination holds something of the person.
	Syncs []SyncKeys
	// Note says why nothing was found (blocklisted, unknown).
	Note string
	// Blocked is set when the value is blocklisted: it links nobody, and
	// rows of other people may carry it.
	Blocked bool
}

// SyncKeys are the keys one sync sent for the person.
type SyncKeys struct {
	Sync        string   `json:"sync"`
	Destination string   `json:"destination"`
	Type        string   `json:"destination_type"`
	Keys        []string `json:"-"` // raw: shown by forget --dry-run, never stored
	KeyCount    int      `json:"keys"`
}

// Resolve finds the person holding an identifier: their profile, every
// identifier and source row of it, and what each sync sent them. It writes
// nothing. An identifier nobody holds, or one the build skips (blocklisted,
// junk), is a Target with Found false; a value that is not an identifier
// of its type is an error.
func (s *Service) Resolve(ctx context.Context, idType, value string) (*Target, error) {
	t := &Target{Input: value}
	ex, err := identity.Explain(ctx, s.w, s.c, idType, value)
	var blocked *identity.BlockedError
	switch {
	case errors.As(err, &blocked):
		t.Named, t.Note, t.Blocked = blocked.ID, "blocklisted: the build never links it to anyone", true
		return t, nil
	case errors.Is(err, identity.ErrNotFound):
		norm, nerr := identity.Normalise(ctx, s.w, s.c, idType, value)
		if nerr != nil {
			return nil, nerr
		}
		t.Named, t.Note = norm, "no profile holds it"
		return t, nil
	case err != nil:
		return nil, err
	}
	t.Named, t.Found, t.ProfileID, t.Rows = ex.Identifier, true, ex.ProfileID, ex.Rows
	for _, pi := range ex.Identifiers {
		t.Identifiers = append(t.Identifiers, pi.Identifier)
	}
	for _, sc := range s.p.Syncs {
		keys, err := s.heldKeys(ctx, sc, t)
		if err != nil {
			return nil, fmt.Errorf("finding what sync %s sent: %w", sc.Name, err)
		}
		if len(keys) == 0 {
			continue
		}
		sk := SyncKeys{Sync: sc.Name, Destination: sc.To, Keys: keys, KeyCount: len(keys)}
		if d, ok := destinationNamed(s.p, sc.To); ok {
			sk.Type = d.Type
		}
		t.Syncs = append(t.Syncs, sk)
	}
	return t, nil
}

// heldKeys are the keys a sync sent for the person and that its
// destination may still hold: the keys of the person's rows in the sync's
// model, and any of the person's identifiers used as a key, found in the
// sync's snapshot or among the records it delivered (change log).
func (s *Service) heldKeys(ctx context.Context, sc config.Sync, t *Target) ([]string, error) {
	exists, err := s.st.SnapshotExists(ctx, sc.Name)
	if err != nil || !exists {
		return nil, err
	}
	sp, err := spec.Resolve(s.p, s.w.Dialect(), sc.Name)
	if err != nil {
		return nil, err
	}
	var candidates []string
	if model := s.modelKeys(ctx, sp, t); model != "" {
		candidates = append(candidates, model)
	}
	var vals []string
	for _, id := range t.Identifiers {
		vals = append(vals, id.Value)
	}
	candidates = append(candidates, "SELECT c FROM (SELECT "+strings.Join(quoteEach(s, vals), " AS c UNION ALL SELECT ")+" AS c) AS ids")
	key := s.f.Ident("key")
	q := "SELECT DISTINCT held.k FROM (SELECT " + key + " AS k FROM " + s.st.Snapshot(sc.Name, false) +
		" UNION ALL SELECT " + key + " AS k FROM " + s.st.Table("sync_changes") + " WHERE sync = " + s.f.String(sc.Name) + " AND status = 'accepted'" +
		") AS held WHERE held.k IN (" + strings.Join(candidates, " UNION ALL ") + ")"
	var keys []string
	err = s.each(ctx, q, func(scan func(...any) error) error {
		var k *string
		if err := scan(&k); err != nil {
			return err
		}
		if k != nil {
			keys = append(keys, *k)
		}
		return nil
	})
	// Deduplicated here too: ClickHouse 18.16's DISTINCT over a UNION ALL
	// subquery returns a key once per branch.
	slices.Sort(keys)
	return slices.Compact(keys), err
}

// modelKeys is a SELECT of the keys of the person's rows in a sync's
// model, or "" when the model cannot tell (it has no profile_id, and its
// source carries none of the person's rows).
func (s *Service) modelKeys(ctx context.Context, sp *spec.Spec, t *Target) string {
	pl, err := planner.New(ctx, s.w, s.st, sp)
	if err != nil {
		// The model is gone (not built, renamed): the identifiers alone
		// find the keys.
		return ""
	}
	key := pl.KeyExpr("src")
	switch sp.Kind {
	case spec.FromProfiles, spec.FromSegment:
		return "SELECT " + key + " FROM " + sp.Model + " AS src WHERE src.profile_id = " + s.f.String(t.ProfileID)
	case spec.FromSource:
		src, ok := s.c.Source(sp.Name)
		if !ok {
			return ""
		}
		var rowKeys []string
		for _, r := range t.Rows {
			if r.Source == sp.Name {
				rowKeys = append(rowKeys, r.Key)
			}
		}
		if len(rowKeys) == 0 {
			return ""
		}
		return "SELECT " + key + " FROM " + sp.Model + " AS src WHERE " + identity.RowKey(s.f, src, "src") + " IN " + s.inList(rowKeys)
	}
	return ""
}

func quoteEach(s *Service, vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = s.f.CastText(s.f.String(v))
	}
	return out
}

func destinationNamed(p *config.Project, name string) (config.Destination, bool) {
	for _, d := range p.Destinations {
		if d.Name == name {
			return d, true
		}
	}
	return config.Destination{}, false
}

// CanErase opens a sync's destination to see whether it can erase; err
// when it cannot be opened (credentials missing from the environment).
func CanErase(ctx context.Context, p *config.Project, sync string, open Opener) (bool, error) {
	d, err := open(ctx, sync)
	if err != nil {
		return false, err
	}
	defer d.Close()
	_, ok := destination.CanErase(d)
	return ok, nil
}

// Opener opens the destination of a sync, for erasure.
type Opener func(ctx context.Context, sync string) (destination.Destination, error)
