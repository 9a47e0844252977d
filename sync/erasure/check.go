package erasure

import (
	"context"
	"fmt"
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
