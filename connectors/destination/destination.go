// Package destination defines what sluice needs from a system that receives
// records (a CRM, an e-mail tool, a webhook, files), keeps the registry of
// destination types, and provides the middleware every destination shares:
// batching with bounded concurrency (Pipeline), and an HTTP client that
// paces requests and retries 429 and 5xx answers honouring Retry-After and
// vendor headers (NewHTTPClient).
//
// Adding a destination means one package under connectors/ that calls
// Register from its init function and passes the conformance suite in
// destinationtest; nothing in sync/ changes.
package destination

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Op is what a record asks of the destination.
type Op string

// Operations. Record syncs (profiles, sources) upsert and delete; segment
// syncs add members to, and remove them from, a list or audience.
const (
	OpUpsert Op = "upsert"
	OpDelete Op = "delete"
	OpAdd    Op = "add"
	OpRemove Op = "remove"
)

// IsRemoval reports whether the operation takes a record away.
func (o Op) IsRemoval() bool { return o == OpDelete || o == OpRemove }

// Record is one operation on one record.
type Record struct {
	Op  Op
	Key string // the value of the sync's key field
	// Fields are the mapped values; dotted mapping fields (properties.ltv)
	// are nested maps. Removals carry the key field and the sync's
	// removal_fields only.
	Fields map[string]any
	// Reason tells why a removal happens, for destinations where the two
	// differ (withdrawn consent unsubscribes; leaving the model may only
	// leave a list). Empty for upserts and adds.
	Reason Reason
	// Consent holds, for syncs with per-purpose consent (consent: {email:
	// TRAIT, ads_user_data: TRAIT}), each purpose's value in the model:
	// true, false, or nil for a purpose whose trait is NULL ("unspecified").
	// Every purpose of the sync is present. nil for syncs without
	// per-purpose consent, and for removals (a removal with ReasonConsent
	// means no purpose that gates sending is true any more).
	Consent map[string]*bool
	// RemoteID is the destination's own id for the record (a CRM's record
	// id), for destinations that address records by it. A destination that
	// assigns ids sets it on the records of b.Records it accepts (upserts
	// and adds); sluice keeps it in the sync's state with the key, and
	// hands it back on later removals of that key, so that an exit or a
	// delete needs no lookup. Empty when the destination never reported
	// one; it may be stale (the record merged or deleted at the
	// destination meanwhile), which a destination must survive.
	RemoteID string
}

// Reason is why a record is removed.
type Reason string

// Removal reasons.
const (
	ReasonGone    Reason = "gone"    // the record left the model, or the segment
	ReasonConsent Reason = "consent" // the sync's consent turned false
)

// Batch is the unit a destination writes in one call.
type Batch struct {
	Sync    string // sync name
	RunID   string
	Mode    string // upsert, update, insert or mirror
	List    string // the sync's list, for list destinations
	Records []Record
}

// Destination is one configured destination, opened for one sync.
type Destination interface {
	// Check verifies the configuration and credentials without changing
	// anything at the destination.
	Check(ctx context.Context) error
	// Limits tells how the destination wants to be fed.
	Limits() Limits
	// Write sends a batch. It returns one error per record, in order (nil
	// for accepted records), or a batch-level error: a *BatchRejected
	// applies to every record of the batch (for instance a 400 answer); any
	// other error means the outcome is unknown or the destination is not
	// usable (network down, credentials refused, retries exhausted), which
	// stops the run. The batch's records are the Write's: it may clear a
	// record's Fields once it has encoded them, so that a long Write (a
	// Bulk API job) holds its request rather than the mapped records.
	Write(ctx context.Context, b *Batch) ([]error, error)
	// Close releases connections and goroutines.
	Close() error
}

// Limits describe how many records a destination takes at once.
type Limits struct {
	BatchSize    int // records per Write by default
	MaxBatchSize int // hard limit per request (0: none)
	Concurrency  int // Writes in flight at once (0: 1)
}

// RunSizer is the optional capability of a destination that sends a run
// differently depending on its size (Salesforce's Bulk API above a
// threshold, its collections below): sluice calls SizeRun once per run
// that sends something, after planning, before it reads Limits and before
// the first Write.
type RunSizer interface {
	SizeRun(RunSize)
}

// RunSize is what a run is about to send.
type RunSize struct {
	Records  int64 // every record of the run
	Removals int64 // of which deletes and list exits
}

// BatchRejected is a batch-level answer that rejects every record of the
// batch for the same reason, without stopping the run: those records are
// stored with the error and retried on the next run.
type BatchRejected struct{ Err error }

func (e *BatchRejected) Error() string { return e.Err.Error() }
func (e *BatchRejected) Unwrap() error { return e.Err }

// RejectBatch wraps err as a BatchRejected.
func RejectBatch(err error) error { return &BatchRejected{Err: err} }

// Config is what a destination type needs to open.
type Config struct {
	Name       string // the destination's name in the project
	Type       string
	Options    Options
	ProjectDir string // relative paths in options are relative to it
	Sync       SyncInfo
	Logger     *slog.Logger
}

// SyncInfo tells a destination which sync it serves.
type SyncInfo struct {
	Name   string
	Mode   string
	Key    string   // destination field of the key
	List   string   // list or audience, for list destinations
	Fields []string // destination fields, in mapping order (top-level names first seen)
	// Overrides from the sync; zero means the destination's own setting.
	BatchSize int
	Rate      float64
}

// ErrNotFound is returned by Open for an unregistered type.
var ErrNotFound = errors.New("unknown destination type")

// Errorf formats an error that names the destination, as every message a
// user sees should.
func (c Config) Errorf(format string, args ...any) error {
	return fmt.Errorf("destination %s (%s): %w", c.Name, c.Type, fmt.Errorf(format, args...))
}
