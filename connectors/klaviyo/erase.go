package klaviyo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/internal/jsonenc"
)

// Erasure goes through Klaviyo's data privacy API
// (docs/destinations/klaviyo.md, Erasure): one deletion job per profile,
// named by e-mail, phone number or Klaviyo profile id, which Klaviyo runs
// asynchronously and which deletes every profile the identifier matches.
// The endpoint takes no batch, so a key costs one request (three a second
// and sixty a minute, Klaviyo's published limit, which the shared client
// paces).

var _ destination.Eraser = (*Klaviyo)(nil)

// Erase implements destination.Eraser. Keys that are e-mails or phone
// numbers are sent as they are; external ids are first resolved to
// Klaviyo profile ids (the deletion endpoint does not take them), and one
// Klaviyo does not know is not held. Any other key cannot name a profile
// to Klaviyo: the call returns ErrCannotErase.
func (k *Klaviyo) Erase(ctx context.Context, e *destination.Erasure) ([]destination.ErasureOutcome, error) {
	field := k.cfg.Sync.Key
	switch field {
	case "email", "phone_number", "external_id":
	default:
		return nil, k.cfg.Errorf("%w: sync %s keys profiles by %q, and Klaviyo finds a profile to delete by email, phone_number or external_id only: delete these people in Klaviyo by hand",
			destination.ErrCannotErase, e.Sync, field)
	}
	out := make([]destination.ErasureOutcome, len(e.Keys))
	var profileIDs map[int][]string
	var lookupErrs []error
	if field == "external_id" {
		var err error
		if profileIDs, lookupErrs, err = k.resolveExternalIDs(ctx, e.Keys); err != nil {
			return nil, fmt.Errorf("erasure %s: resolving external ids to klaviyo profiles: %w", e.RequestID, err)
		}
	}
	done := map[string]destination.ErasureOutcome{} // a key given twice is requested once
	for i, key := range e.Keys {
		if o, ok := done[key]; ok {
			out[i] = o
			continue
		}
		var o destination.ErasureOutcome
		var err error
		switch {
		case strings.TrimSpace(key) == "":
			o.Err = errors.New("the key is empty: there is no profile to name to Klaviyo")
		case field == "external_id" && lookupErrs[i] != nil:
			o.Err = lookupErrs[i]
		case field == "external_id":
			o, err = k.eraseProfiles(ctx, profileIDs[i])
		default:
			o, err = k.eraseBy(ctx, field, key)
		}
		if err != nil {
			return nil, redact(fmt.Errorf("erasure %s: requesting a klaviyo profile deletion (key %d of %d): %w", e.RequestID, i+1, len(e.Keys), err), key)
		}
		out[i], done[key] = o, o
	}
	k.logErasure(e, out)
	return out, nil
}

// logErasure sums up an erasure in counts: the keys are never logged.
func (k *Klaviyo) logErasure(e *destination.Erasure, out []destination.ErasureOutcome) {
	var requested, notHeld, failed int
	for _, o := range out {
		switch {
		case o.Err != nil:
			failed++
		case o.Ref == refNotHeld:
			notHeld++
		default:
			requested++
		}
	}
	k.log.Info("klaviyo profile deletions requested", "erasure", e.RequestID, "sync", e.Sync,
		"requested", requested, "not_held", notHeld, "failed", failed)
}

// resolveExternalIDs finds the Klaviyo profiles of external ids, 100 per
// lookup. A key whose lookup Klaviyo refused has an error of its own.
func (k *Klaviyo) resolveExternalIDs(ctx context.Context, keys []string) (map[int][]string, []error, error) {
	errs := make([]error, len(keys))
	rs := make([]removal, 0, len(keys))
	for i, key := range keys {
		if strings.TrimSpace(key) != "" {
			rs = append(rs, removal{idx: i, ids: identifiers{external: key}})
		}
	}
	ids, err := k.lookup(ctx, rs, errs)
	if err != nil {
		return nil, nil, redactAll(err, keys)
	}
	// A refused lookup's message may quote its filter: every key of it.
	for i, e := range errs {
		if e != nil {
			errs[i] = redactAll(e, keys)
		}
	}
	return ids, errs, nil
}

// eraseProfiles requests the deletion of profiles by their Klaviyo ids.
// No id (Klaviyo holds no profile with the external id) is not held.
func (k *Klaviyo) eraseProfiles(ctx context.Context, ids []string) (destination.ErasureOutcome, error) {
	var requested []string
	for _, id := range ids {
		o, err := k.eraseBy(ctx, "id", id)
		if err != nil {
			return o, err
		}
		if o.Err != nil {
			return o, nil
		}
		if o.Ref != refNotHeld {
			requested = append(requested, id)
		}
	}
	if len(requested) == 0 {
		return destination.ErasureOutcome{Ref: refNotHeld}, nil
	}
	return destination.ErasureOutcome{Ref: "klaviyo deletion job requested for profile " + strings.Join(requested, ", ")}, nil
}

// refNotHeld is the outcome of a key Klaviyo has no profile for.
const refNotHeld = "not held: klaviyo has no such profile"

// eraseBy sends one deletion request naming the profile by one identifier
// (email, phone_number or id). Accepted, the outcome's Ref says so without
// the identifier; a 404 is not held; another refusal is the key's error.
// The error is for the whole call: transport failure, a refused key or
// scope, retries spent.
func (k *Klaviyo) eraseBy(ctx context.Context, by, value string) (destination.ErasureOutcome, error) {
	ans, err := k.api.call(ctx, epDeleteProfile, "/api/data-privacy-deletion-jobs", nil, deletionBody(by, value))
	if err != nil {
		return destination.ErasureOutcome{}, err
	}
	switch {
	case ans.status >= 200 && ans.status < 300:
		if by == "id" {
			return destination.ErasureOutcome{Ref: "klaviyo deletion job requested for profile " + value}, nil
		}
		return destination.ErasureOutcome{Ref: "klaviyo deletion job requested (profile named by " + by + ")"}, nil
	case ans.status == http.StatusNotFound:
		return destination.ErasureOutcome{Ref: refNotHeld}, nil
	}
	return destination.ErasureOutcome{Err: redact(fmt.Errorf("klaviyo refused the deletion request: %s", ans.message()), value)}, nil
}

// deletionBody is a data-privacy-deletion-job naming the profile by one
// identifier: email or phone_number among its attributes, or its id
// (attributes are required, even empty).
func deletionBody(by, value string) []byte {
	b := make([]byte, 0, 160+len(value))
	b = append(b, `{"data":{"type":"data-privacy-deletion-job","attributes":{"profile":{"data":{"type":"profile",`...)
	if by == "id" {
		b = append(b, `"id":`...)
		b = jsonenc.AppendString(b, value)
		b = append(b, `,"attributes":{}`...)
	} else {
		b = append(b, `"attributes":{`...)
		b = jsonenc.AppendString(b, by)
		b = append(b, ':')
		b = jsonenc.AppendString(b, value)
		b = append(b, '}')
	}
	return append(b, "}}}}}"...)
}

// redact keeps a person's identifier out of an error Klaviyo's answer may
// have quoted it in: the error goes to the erasure audit and the log,
// which must not hold it. An error that does not quote it is returned as
// it is, still wrapping its cause.
func redact(err error, value string) error { return redactAll(err, []string{value}) }

// redactAll masks every one of values in err's message.
func redactAll(err error, values []string) error {
	msg := err.Error()
	lower := strings.ToLower(msg)
	var alts []string
	for _, v := range values {
		if v != "" && strings.Contains(lower, strings.ToLower(v)) {
			alts = append(alts, regexp.QuoteMeta(v))
		}
	}
	if len(alts) == 0 {
		return err
	}
	// Longest first, so that a value inside another is not masked first.
	slices.SortFunc(alts, func(a, b string) int { return len(b) - len(a) })
	re := regexp.MustCompile("(?i)" + strings.Join(alts, "|"))
	return errors.New(re.ReplaceAllLiteralString(msg, "[key]"))
}
