package erasure

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/models"
)

// ErrSecretUnset is returned when erasure.secret is empty (its variable
// unset) and sluice needs it.
var ErrSecretUnset = errors.New("erasure.secret is empty (its environment variable is not set)")

// keyCheck is the digest that tells whether the key changed since earlier
// requests: with another key their digests match nothing, and the people
// they erased would come back.
func (s *Service) keyCheck() string { return s.digest("check", "sluice") }

// Prepared says what Prepare did.
type Prepared struct {
	Queued   int     // requests taken from the requests table
	Problems []error // rows of the requests table that name no identifier
	// Skipped is set when the secret is unset and nothing was erased yet:
	// the build runs, the requests table is not read.
	Skipped bool
	// Cutoff is taken once the requests are queued: pass it to the syncs
	// that follow the build (see Cutoff).
	Cutoff int64
}

// Prepare runs before a build: it makes sure the suppression list is
// usable with the project's key (the secret is set and did not change) and
// queues the new rows of the requests table. A build that skipped it
// could re-create erased people.
func (s *Service) Prepare(ctx context.Context) (*Prepared, error) {
	out := &Prepared{}
	if s.p.Erasure.Secret == "" {
		n, err := s.erasedCount(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, fmt.Errorf("%w: %d identifiers were erased, and the build needs the secret to keep them out of profiles", ErrSecretUnset, n)
		}
		out.Skipped, out.Cutoff = true, Cutoff(s.Now())
		return out, nil
	}
	if err := s.Ensure(ctx); err != nil {
		return nil, err
	}
	if err := s.checkKey(ctx); err != nil {
		return nil, err
	}
	n, probs, err := s.Intake(ctx)
	out.Queued, out.Problems, out.Cutoff = n, probs, Cutoff(s.Now())
	return out, err
}

// erasedCount counts the suppression list, 0 when it does not exist.
func (s *Service) erasedCount(ctx context.Context) (int64, error) {
	ok, err := s.w.TableExists(ctx, s.p.StateSchema, models.SuppressionTableName)
	if err != nil || !ok {
		return 0, err
	}
	var n int64
	err = s.each(ctx, "SELECT count(*) FROM "+s.plan.SuppressionTable, func(scan func(...any) error) error { return scan(&n) })
	return n, err
}

// checkKey refuses a key other than the one earlier requests used.
func (s *Service) checkKey(ctx context.Context) error {
	want := s.keyCheck()
	var other bool
	q := "SELECT DISTINCT key_check FROM " + s.table("erasure_requests")
	err := s.each(ctx, q, func(scan func(...any) error) error {
		var k *string
		if err := scan(&k); err != nil {
			return err
		}
		other = other || (k != nil && *k != want)
		return nil
	})
	if err != nil {
		return err
	}
	if other {
		return errors.New("erasure.secret is not the secret earlier erasure requests were recorded with: with another one, the people they erased would come back. Restore the previous secret")
	}
	return nil
}
