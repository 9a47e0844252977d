package destination

import (
	"context"
	"errors"
)

// Eraser is the optional capability of a destination that can erase a
// person (GDPR/RGPD article 17): sluice calls it with the keys the
// destination received from one sync for the people to forget (read from
// the sync's snapshot: which key was sent where). A destination that does
// not implement it, or returns ErrCannotErase, is listed in the erasure
// audit as "manual action needed".
type Eraser interface {
	// Erase erases the records of e.Keys, which are values of the sync's
	// key field (SyncInfo.Key) exactly as they were sent. It returns one
	// outcome per key, in order, or an error for the whole call: a
	// *BatchRejected or any other error leaves every key pending, to be
	// retried on the next run. Retries of 429 and 5xx happen inside, as for
	// Write (the shared HTTP client). A key the destination does not hold
	// is not an error: erasing is idempotent.
	Erase(ctx context.Context, e *Erasure) ([]ErasureOutcome, error)
}

// Erasure is one call of Eraser.Erase.
type Erasure struct {
	RequestID string // sluice's erasure request, for the vendor's audit trail where it takes one
	Sync      string
	Keys      []string
	// RemoteIDs holds, for each key, the destination's own id for it that
	// sluice kept (Record.RemoteID), or "" when none was kept; same
	// length as Keys.
	RemoteIDs []string
}

// ErasureOutcome is what became of one key.
type ErasureOutcome struct {
	// Ref names what the vendor gave back or what was changed, for the
	// audit: a deletion job id, a request id, the files rewritten. Never a
	// raw identifier.
	Ref string
	// Err is nil when the key is erased, or was not held.
	Err error
}

// ErrCannotErase is returned by Erase (or wrapped in it) when the
// destination, as configured, has no way to erase a person: the audit then
// lists the destination as needing manual action.
var ErrCannotErase = errors.New("this destination cannot erase people")

// CanErase tells whether d implements Eraser.
func CanErase(d Destination) (Eraser, bool) {
	e, ok := d.(Eraser)
	return e, ok
}
