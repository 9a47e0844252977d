package hubspot

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/redact"

	"github.com/sluicehq/sluice/connectors/destination"
)

const pathGDPRDelete = "/crm/v3/objects/contacts/gdpr-delete"

// RefGDPRDelete names HubSpot's GDPR deletion in the erasure audit.
const RefGDPRDelete = "hubspot gdpr-delete"

// Erase implements destination.Eraser with POST
// /crm/v3/objects/contacts/gdpr-delete, one request per person (HubSpot
// has no batch form). It deletes the contact for good and forbids its
// e-mail address from then on. Keys are e-mails when the sync keys by
// email (idProperty email: HubSpot matches the address, and block-lists
// it even when no contact has it); for a sync keyed by another unique
// property the record ids kept from sluice's upserts are used, the
// others looked up first, and a key with no contact is not held.
//
// 204 means erased; 404 means HubSpot has no such contact (not held);
// another 4xx is that key's error. Credentials refused, or a 429 or 5xx
// that outlasts the shared client's retries, fail the whole call: every
// key stays pending.
func (h *HubSpot) Erase(ctx context.Context, e *destination.Erasure) ([]destination.ErasureOutcome, error) {
	if e == nil || len(e.Keys) == 0 {
		return []destination.ErasureOutcome{}, nil
	}
	key := h.cfg.Sync.Key
	if key == "" {
		key = h.idProperty
	}
	// Keys are values of the sync's key field: e-mails only when that
	// field is email, whatever id_property says.
	byEmail := key == "email"
	if !byEmail && h.idProperty != key {
		return nil, h.cfg.Errorf("erasing for sync %s: the sync's key %s is not its id_property %s, so its keys name no HubSpot contact: %w",
			e.Sync, key, h.idProperty, destination.ErrCannotErase)
	}
	out := make([]destination.ErasureOutcome, len(e.Keys))
	ids := map[int]string{}
	if !byEmail {
		var err error
		if ids, err = h.erasureIDs(ctx, e); err != nil {
			return nil, err
		}
	}
	for i, key := range e.Keys {
		key = strings.TrimSpace(key)
		var req map[string]string
		switch {
		case key == "":
			out[i] = destination.ErasureOutcome{Err: errors.New("the key is empty: HubSpot holds no contact under it")}
			continue
		case byEmail:
			req = map[string]string{"objectId": key, "idProperty": "email"}
		case ids[i] == "":
			out[i] = destination.ErasureOutcome{Ref: RefGDPRDelete + ": no such contact"}
			continue
		default:
			req = map[string]string{"objectId": ids[i]}
		}
		o, err := h.eraseOne(ctx, req, key)
		if err != nil {
			return nil, h.cfg.Errorf("erasure %s (key %d of %d): %w", e.RequestID, i+1, len(e.Keys), err)
		}
		out[i] = o
	}
	return out, nil
}

// erasureIDs are the record ids of the keys of e, by key index: those
// sluice kept from its upserts, the others looked up by id_property.
func (h *HubSpot) erasureIDs(ctx context.Context, e *destination.Erasure) (map[int]string, error) {
	ids := map[int]string{}
	var values []string
	var at []int
	for i, k := range e.Keys {
		if i < len(e.RemoteIDs) && e.RemoteIDs[i] != "" {
			ids[i] = e.RemoteIDs[i]
			continue
		}
		values, at = append(values, strings.TrimSpace(k)), append(at, i)
	}
	if len(values) == 0 {
		return ids, nil
	}
	found, err := h.lookup(ctx, values)
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		if id, ok := found[k]; ok {
			ids[i] = id
		}
	}
	return ids, nil
}

// eraseOne sends one deletion; the error is for the whole call.
func (h *HubSpot) eraseOne(ctx context.Context, req map[string]string, key string) (destination.ErasureOutcome, error) {
	status, body, err := h.exchange(ctx, http.MethodPost, pathGDPRDelete, req)
	if err != nil {
		// The shared client's error may quote the request; mask the key.
		return destination.ErasureOutcome{}, errors.New(redact.Message(err.Error(), key))
	}
	switch {
	case status >= 200 && status <= 299:
		return destination.ErasureOutcome{Ref: RefGDPRDelete}, nil
	case status == http.StatusNotFound:
		return destination.ErasureOutcome{Ref: RefGDPRDelete + ": no such contact"}, nil
	}
	ae := apiError(status, body)
	ae.Message = redact.Message(ae.Message, key)
	if ae.fatal() || destination.Retryable(status) || status < 400 {
		return destination.ErasureOutcome{}, explain("deleting a contact (GDPR)", ae)
	}
	return destination.ErasureOutcome{Ref: RefGDPRDelete, Err: ae}, nil
}
