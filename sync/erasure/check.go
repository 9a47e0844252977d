package erasure

import (
	"context"
	"fmt"

	"github.com/sluicehq/sluice/models"
)

// CheckSecret is Prepare without writing anything (plan): it fails when
// the build could not keep erased people out, because the secret is unset
// or changed.
func (s *Service) CheckSecret(ctx context.Context) error {
	if s.p.Erasure.Secret == "" {
		n, err := s.erasedCount(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %d identifiers were erased, and the build needs the secret to keep them out of profiles", ErrSecretUnset, n)
		}
		return nil
	}
	ok, err := s.w.TableExists(ctx, s.p.StateSchema, "erasure_requests")
	if err != nil || !ok {
		return err
	}
	return s.checkKey(ctx)
}

// ErasedBy tells which request erased an identifier (normalised), if one
// did: identity explain says so rather than "not found".
func (s *Service) ErasedBy(ctx context.Context, idType, value string) (string, bool, error) {
	if s.p.Erasure.Secret == "" {
		return "", false, nil
	}
	ok, err := s.w.TableExists(ctx, s.p.StateSchema, models.SuppressionTableName)
	if err != nil || !ok {
		return "", false, err
	}
	var id string
	found := false
	q := "SELECT request_id FROM " + s.plan.SuppressionTable + " WHERE digest = " + s.f.String(s.digest(idType, value))
	err = s.each(ctx, q, func(scan func(...any) error) error {
		found = true
		return scan(&id)
	})
	return id, found, err
}
